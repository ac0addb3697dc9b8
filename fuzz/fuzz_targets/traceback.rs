#![no_main]
//! `boxpy::fuzzing::traceback` over any text (bytes read as boxpy reads them: lossy UTF-8).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::traceback(&String::from_utf8_lossy(data));
});
