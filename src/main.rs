//! The `boxpy` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    boxpy::main()
}
