#![no_main]
//! `boxpy::fuzzing::host_rule` over any text: a host rule parses and prints back to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::host_rule(&String::from_utf8_lossy(data));
});
