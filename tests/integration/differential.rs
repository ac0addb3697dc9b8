//! The differential test against CPython (issue 25): a sample of the generated corpus
//! (`tests/differential/generate.py`, fixed seed) runs under `boxpy run --json` with
//! Debian's interpreter, and boxpy's `error` must agree with what CPython's own
//! `traceback.TracebackException` recorded inside the sandbox: type, message with notes,
//! location, where it was raised, the chain. `tests/differential/run` with no arguments
//! runs the whole corpus against every interpreter on the machine.

use std::path::Path;
use std::process::Command;

use crate::harness::{venv, Venv, BOXPY};

#[test]
fn a_sample_of_the_corpus_agrees_with_cpython() {
    let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/run");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--sample", "40", "--jobs", "1", "--boxpy", BOXPY, "--venv"])
        .arg(&venv)
        .output()
        .expect("run tests/differential/run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the differential sample disagrees with CPython:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("40 programs x 1 interpreters = 40 runs, 40 agree"),
        "{stdout}"
    );
}
