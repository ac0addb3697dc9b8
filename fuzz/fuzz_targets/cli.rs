#![no_main]
//! `boxpy run ...` with the input's NUL-separated tokens (any bytes, so also text that is
//! not UTF-8): wherever the fast path answers, clap must agree.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let arguments: Vec<OsString> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|byte| *byte == 0)
            .map(|token| OsString::from_vec(token.to_vec()))
            .collect()
    };
    boxpy::fuzzing::cli(arguments);
});
