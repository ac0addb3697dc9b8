#![no_main]
//! `boxpy::fuzzing::nbexec_parameters` over any text.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        boxpy::fuzzing::nbexec_parameters(text);
    }
});
