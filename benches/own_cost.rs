//! boxpy's own start-up cost, measured inside the process: host probe, policy lookup and
//! parse, venv resolution, rendering the bwrap command, compiling the seccomp filter; and,
//! apart, the parse of a `boxpy run` command line (the fast path boxpy takes for it).
//! Run by `bench/run` (case 2) as `cargo bench --bench own_cost`; prints `name=microseconds`.

use std::ffi::OsString;
use std::time::Instant;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let venv = work.path().join(".venv");
    let status = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv");
    assert!(status.success());
    std::env::set_current_dir(work.path()).expect("cd");
    let (mut resolve, mut render, mut seccomp, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut parse = Vec::new();
    for _ in 0..300 {
        let start = Instant::now();
        let argv = ["boxpy", "run", "--venv", ".venv", "-c", "pass"].map(OsString::from);
        boxpy::benching::parse(argv.to_vec());
        parse.push(start.elapsed().as_secs_f64() * 1e6);
        let start = Instant::now();
        let resolved_run = boxpy::benching::resolve("pass");
        let resolved = Instant::now();
        boxpy::benching::render(&resolved_run);
        let rendered = Instant::now();
        boxpy::benching::seccomp();
        let done = Instant::now();
        resolve.push((resolved - start).as_secs_f64() * 1e6);
        render.push((rendered - resolved).as_secs_f64() * 1e6);
        seccomp.push((done - rendered).as_secs_f64() * 1e6);
        total.push((done - start).as_secs_f64() * 1e6);
    }
    println!(
        "parse_us={:.0} resolve_us={:.0} render_us={:.0} seccomp_us={:.0} total_us={:.0}",
        median(parse),
        median(resolve),
        median(render),
        median(seccomp),
        median(total)
    );
}
