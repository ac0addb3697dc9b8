#![no_main]
//! `boxpy::fuzzing::nbexec_events` over any text (bytes read as boxpy reads them: lossy UTF-8).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::nbexec_events(&String::from_utf8_lossy(data));
});
