#![no_main]
//! `boxpy::fuzzing::init_report` over any text (bytes read as boxpy reads them: lossy UTF-8).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::init_report(&String::from_utf8_lossy(data));
});
