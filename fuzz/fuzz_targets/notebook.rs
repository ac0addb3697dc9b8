#![no_main]
//! `boxpy::fuzzing::notebook` over any bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::notebook(data);
});
