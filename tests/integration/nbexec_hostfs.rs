//! What `boxpy nbexec` itself reads and writes on the host, against what a repository or
//! an earlier run planted: a link as `--cwd` or as the notebook (followed from the workdir
//! or a place `-w` names), a device, FIFO or system directory as `-o`, and the output's
//! mode (the umask for a new file, the mode before the run for an existing one).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use crate::harness::{assert_exit, is_root, require_venv, Runner, Venv, Workspace};
use crate::nbexec::{nbexec, notebook, printed, read};

const SECRET: &str = "host secret outside the workdir";

/// `--cwd data` where `data -> ../private` lies in the workdir (shipped by a repository,
/// or planted by a run) is refused as `--ro data` is: the kernel never reads the target.
/// The same notebook runs with a `--cwd` that is a real directory.
#[test]
fn cwd_through_a_planted_link_is_refused() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write("private/secret.txt", SECRET);
    ws.write("work/real/secret.txt", "the project's own data");
    std::os::unix::fs::symlink("../private", ws.work().join("data")).unwrap();
    ws.write(
        "work/read.ipynb",
        notebook(&[("code", "print(open('secret.txt').read())\n", &[])]),
    );
    let output = nbexec(&ws, &venv)
        .args(["read.ipynb", "--cwd", "real", "-o", "ok.ipynb"])
        .run();
    assert_exit(&output, 0);
    let text = printed(&read(&ws.work().join("ok.ipynb")));
    assert!(text.contains("the project's own data"), "{text}\n{output}");
    let output = nbexec(&ws, &venv)
        .args([
            "read.ipynb",
            "--cwd",
            "data",
            "-o",
            "out.ipynb",
            "--log-output",
        ])
        .run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(stderr.contains("symbolic link"), "{output}");
    assert!(
        !stderr.contains(SECRET) && !output.stdout_text().contains(SECRET),
        "{output}"
    );
    assert!(!ws.work().join("out.ipynb").exists(), "nothing ran");
    // Nor around the check: `data2/..` through a link `data2 -> ../private/deep` (the `..`
    // folded as text would hide the link), nor a link a repository ships one directory up,
    // outside every writable place (`--cwd ../shipped`, `shipped -> private`).
    ws.write("private/deep/x", "");
    std::os::unix::fs::symlink("../private/deep", ws.work().join("data2")).unwrap();
    std::os::unix::fs::symlink("private", ws.root().join("shipped")).unwrap();
    for cwd in ["data2/..", "../shipped"] {
        let output = nbexec(&ws, &venv)
            .args([
                "read.ipynb",
                "--cwd",
                cwd,
                "-o",
                "out.ipynb",
                "--log-output",
            ])
            .run();
        assert_exit(&output, 125);
        assert!(
            output.stderr_text().contains("symbolic link"),
            "{cwd}: {output}"
        );
        assert!(
            !output.stderr_text().contains(SECRET) && !output.stdout_text().contains(SECRET),
            "{cwd}: {output}"
        );
        assert!(!ws.work().join("out.ipynb").exists(), "{cwd}: nothing ran");
    }
}

/// The notebook named through a link planted in the workdir is refused also when nbexec
/// starts elsewhere and `-w` names the workdir: no host notebook is copied in and run.
#[test]
fn notebook_link_in_the_workdir_is_refused_from_elsewhere() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    let elsewhere = ws.dir("elsewhere");
    ws.write(
        "private/secret.ipynb",
        notebook(&[("code", &format!("print({SECRET:?})\n"), &[])]),
    );
    ws.write(
        "work/own.ipynb",
        notebook(&[("code", "print('own notebook ran')\n", &[])]),
    );
    std::os::unix::fs::symlink("../private/secret.ipynb", ws.work().join("nb.ipynb")).unwrap();
    let output = nbexec(&ws, &venv)
        .cwd(&elsewhere)
        .arg("-w")
        .arg(ws.work())
        .arg(ws.work().join("own.ipynb"))
        .arg("--log-output")
        .run();
    assert_exit(&output, 0);
    assert!(
        output.stderr_text().contains("own notebook ran"),
        "{output}"
    );
    let output = nbexec(&ws, &venv)
        .cwd(&elsewhere)
        .arg("-w")
        .arg(ws.work())
        .arg(ws.work().join("nb.ipynb"))
        .arg("--log-output")
        .run();
    assert_exit(&output, 125);
    assert!(output.stderr_text().contains("symbolic link"), "{output}");
    assert!(!output.stderr_text().contains(SECRET), "{output}");
}

/// `-o` naming a FIFO, a device node (as root: one made in the workspace, never a host
/// device) or a path in /dev, /proc or /etc is refused before anything runs, and the node
/// is still what it was.
#[test]
fn an_output_that_is_not_a_regular_file_is_refused() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/nb.ipynb",
        notebook(&[("code", "print('ran')\n", &[])]),
    );
    let output = nbexec(&ws, &venv)
        .args(["nb.ipynb", "-o", "ok.ipynb"])
        .run();
    assert_exit(&output, 0);
    assert!(printed(&read(&ws.work().join("ok.ipynb"))).contains("ran"));
    let fifo = ws.work().join("out.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let mut nodes = vec![(fifo, "a FIFO")];
    if is_root() {
        let device = ws.work().join("nulldev");
        nix::sys::stat::mknod(
            &device,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        nodes.push((device, "a character device"));
    }
    for (node, what) in &nodes {
        let output = nbexec(&ws, &venv)
            .arg("nb.ipynb")
            .arg("--prepare-only")
            .arg("-o")
            .arg(node)
            .run();
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains(what), "{output}");
        let kind = std::fs::symlink_metadata(node).unwrap().file_type();
        assert!(
            kind.is_fifo() || kind.is_char_device(),
            "{} kept",
            node.display()
        );
    }
    for system in [
        "/dev/boxpy-test.ipynb",
        "/proc/boxpy-test.ipynb",
        "/etc/boxpy-test.ipynb",
    ] {
        let output = nbexec(&ws, &venv)
            .args(["nb.ipynb", "--prepare-only", "-o", system])
            .run();
        assert_exit(&output, 125);
        assert!(
            output.stderr_text().contains("system directory"),
            "{output}"
        );
        assert!(!Path::new(system).exists());
    }
}

/// A new `-o` file gets 0666 less the umask; an existing one keeps the mode it had before
/// the run, not the mode of a file the notebook put at its name (here 0777).
#[test]
fn the_output_mode_is_the_umasks_or_the_one_before_the_run() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/nb.ipynb", notebook(&[("code", "print(1)\n", &[])]));
    let output = nbexec(&ws, &venv)
        .through(["sh", "-c", "umask 077; exec \"$@\"", "sh"])
        .args(["nb.ipynb", "-o", "new.ipynb"])
        .run();
    assert_exit(&output, 0);
    let mode = |name: &str| {
        std::fs::metadata(ws.work().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("new.ipynb"), 0o600, "{output}");
    ws.write(
        "work/plant.ipynb",
        notebook(&[(
            "code",
            "import os\nopen('out.ipynb', 'w').close()\nos.chmod('out.ipynb', 0o777)\nprint('planted', oct(os.stat('out.ipynb').st_mode))\n",
            &[],
        )]),
    );
    let existing = ws.write("work/out.ipynb", "{}");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    let output = nbexec(&ws, &venv)
        .args(["plant.ipynb", "-o", "out.ipynb"])
        .run();
    assert_exit(&output, 0);
    assert!(
        printed(&read(&existing)).contains("planted 0o100777"),
        "{output}"
    );
    assert_eq!(mode("out.ipynb"), 0o640);
}
