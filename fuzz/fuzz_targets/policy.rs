#![no_main]
//! The policy loader over any bytes: the input is `boxpy.toml`, up to a line `#---`
//! after which it is `base.toml`, which the first can `extends = "base.toml"`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let separator = b"\n#---\n";
    let (text, base) = match data
        .windows(separator.len())
        .position(|window| window == separator)
    {
        Some(at) => (&data[..at], &data[at + separator.len()..]),
        None => (data, &b""[..]),
    };
    boxpy::fuzzing::policy(text, base);
});
