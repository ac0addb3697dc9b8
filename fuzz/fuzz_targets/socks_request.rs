#![no_main]
//! `boxpy::fuzzing::socks_request` over any bytes: a SOCKS5 greeting and request as the
//! proxy reads them from the sandbox.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boxpy::fuzzing::socks_request(data);
});
