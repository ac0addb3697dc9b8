#![no_main]
//! `boxpy::fuzzing::pyvenv_cfg` over any text (bytes read as boxpy reads them: lossy UTF-8).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::pyvenv_cfg(&String::from_utf8_lossy(data));
});
