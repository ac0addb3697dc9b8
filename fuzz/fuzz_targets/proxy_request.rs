#![no_main]
//! `boxpy::fuzzing::proxy_request` over any bytes: an HTTP request head as the proxy reads
//! it from the sandbox, decided and rewritten.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::proxy_request(data);
});
