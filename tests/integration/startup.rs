//! What a run's sandbox mounts, and that the leaner start-up (issue 19) keeps Python
//! working: `/etc/python3` (read only by Debian's byte-compiling tools) is never shown,
//! `/etc/fonts` and fontconfig's cache only to a venv with a font library, `/etc/pythonX.Y`
//! only to the system's Python X.Y; `/dev` has the six device nodes and nothing else.
//! Each absence is checked inside (no path, no mount in `/proc/self/mountinfo`), and what
//! depends on the kept mounts is exercised: matplotlib's default fonts, numpy, ssl's
//! default certificates, locales and time zones, `sysconfig` and `site`.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// Python that prints, for each of `paths`, `PATH: exists|absent` and `PATH: mounted|not
/// mounted` (a mount point in `/proc/self/mountinfo`).
fn presence_probe(paths: &[&str]) -> String {
    let list = paths.iter().map(py).collect::<Vec<_>>().join(", ");
    format!(
        r#"
import os
points = set()
with open("/proc/self/mountinfo") as handle:
    for line in handle:
        points.add(line.split()[4].replace("\\040", " "))
for path in [{list}]:
    print(path + ":", "exists" if os.path.lexists(path) else "absent")
    print(path + ":", "mounted" if path in points else "not mounted")
"#
    )
}

/// Asserts what [`presence_probe`] printed for `path`.
#[track_caller]
fn assert_presence(output: &Output, path: &str, shown: bool) {
    let lines: Vec<String> = output
        .stdout_text()
        .lines()
        .filter_map(|line| line.strip_prefix(&format!("{path}: ")).map(str::to_owned))
        .collect();
    let expected = if shown { "exists" } else { "absent" };
    assert!(
        lines.iter().any(|line| line == expected),
        "{path} should be {expected}: {output}"
    );
    if !shown {
        assert!(
            lines.iter().any(|line| line == "not mounted"),
            "{path} should not be a mount point: {output}"
        );
    }
}

/// A venv of Debian's python3 (`--without-pip`) in the workspace, with an empty package
/// of each of `packages` in its site-packages (what boxpy looks for: nothing runs them).
fn venv_with_packages(workspace: &Workspace, packages: &[&str]) -> PathBuf {
    let venv = workspace.make_venv("venv");
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir())
        .expect("site-packages");
    for package in packages {
        let file = site.join(package).join("__init__.py");
        let relative = file.strip_prefix(workspace.root()).unwrap();
        workspace.write(relative.to_str().unwrap(), "");
    }
    venv
}

/// The `/etc/pythonX.Y` of Debian's python3 on this host, when it has one.
fn debian_python_etc() -> Option<String> {
    let output = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    let path = format!("/etc/python{}", version.trim());
    Path::new(&path).is_dir().then_some(path)
}

runner_tests! {
    /// A plain venv's run: no `/etc/python3`, no font configuration, no fontconfig cache;
    /// Debian's `/etc/python3.X` stays (its `sitecustomize` is imported as on the host),
    /// and `sysconfig` and `site` work without `/etc/python3`.
    fn unneeded_etc_mounts_are_absent_from_a_plain_venv_run(runner) {
        let workspace = Workspace::new(&runner);
        let venv = venv_with_packages(&workspace, &[]);
        let mut paths = vec!["/etc/python3", "/etc/fonts", "/var/cache/fontconfig"];
        let kept = debian_python_etc();
        if let Some(kept) = &kept {
            paths.push(kept);
        }
        let snippet = format!(
            "{}\n{}",
            presence_probe(&paths),
            r#"
import site, sys, sysconfig
print("purelib:", sysconfig.get_paths()["purelib"])
print("site-packages:", site.getsitepackages()[0])
print("sitecustomize:", getattr(sys.modules.get("sitecustomize"), "__file__", None))
"#
        );
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(&snippet)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for path in ["/etc/python3", "/etc/fonts", "/var/cache/fontconfig"] {
            assert_presence(&output, path, false);
        }
        let purelib = output.line_after("purelib: ");
        assert!(purelib.starts_with(venv.to_str().unwrap()), "{output}");
        assert!(output.line_after("site-packages: ").starts_with(venv.to_str().unwrap()), "{output}");
        if let Some(kept) = &kept {
            assert_presence(&output, kept, true);
            // Debian's stdlib links `sitecustomize.py` into `/etc/python3.X`.
            if Path::new(kept).join("sitecustomize.py").is_file() {
                assert_ne!(output.line_after("sitecustomize: "), "None", "{output}");
            }
        }
    }

    /// A venv with a library that uses fontconfig sees the host's font configuration and
    /// cache, and `fc-list` finds the fonts without complaint.
    fn a_venv_with_a_font_library_sees_the_font_configuration(runner) {
        let workspace = Workspace::new(&runner);
        let venv = venv_with_packages(&workspace, &["graphviz"]);
        let paths: Vec<&str> = ["/etc/fonts", "/var/cache/fontconfig"]
            .into_iter()
            .filter(|path| Path::new(path).is_dir())
            .collect();
        let fc_list = Path::new("/usr/bin/fc-list").is_file();
        let snippet = format!(
            "{}\n{}",
            presence_probe(&paths),
            if fc_list {
                r#"
import subprocess
listed = subprocess.run(["fc-list"], capture_output=True, text=True)
print("fonts:", len(listed.stdout.splitlines()))
print("fc-list stderr:", repr(listed.stderr))
"#
            } else {
                ""
            }
        );
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(&snippet)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for path in &paths {
            assert_presence(&output, path, true);
        }
        if fc_list {
            assert_eq!(output.line_after("fc-list stderr: "), "''", "{output}");
            let host = std::process::Command::new("fc-list").output().unwrap();
            let on_host = String::from_utf8_lossy(&host.stdout).lines().count();
            assert_eq!(output.line_after("fonts: "), on_host.to_string(), "{output}");
        }
    }

    /// Where boxpy cannot look through the packages (`exec` runs any program; a
    /// `PYTHONPATH` adds packages from elsewhere), the run sees the font configuration.
    fn runs_boxpy_cannot_look_through_see_the_font_configuration(runner) {
        if !Path::new("/etc/fonts").is_dir() {
            return;
        }
        let workspace = Workspace::new(&runner);
        let venv = venv_with_packages(&workspace, &[]);
        let probe = presence_probe(&["/etc/fonts"]);
        let code = python(&probe);
        let exec = boxpy(&workspace)
            .args(["exec", "--venv"])
            .arg(&venv)
            .args(["--", "python", "-c", &code])
            .run();
        assert_started(&exec);
        assert_presence(&exec, "/etc/fonts", true);
        let with_path = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .args(["--env", "PYTHONPATH=/usr/share/nothing-here"])
            .code(&probe)
            .run();
        assert_started(&with_path);
        assert_presence(&with_path, "/etc/fonts", true);
    }

    /// The sandbox's root (where bwrap made every mount point and copied `/etc`'s files)
    /// is read-only before the program starts: the init remounts it, one system call.
    fn the_root_and_copied_etc_files_are_read_only(runner) {
        let workspace = Workspace::new(&runner);
        let targets = ["/planted", "/etc/planted", "/etc/nsswitch.conf"];
        let writes: String = targets
            .iter()
            .map(|target| format!("attempt_write({})\n", py(target)))
            .collect();
        let output = run_in_venv(&workspace)
            .code(&probe_then(&format!(
                "{writes}\nwith open('/proc/self/mountinfo') as handle:\n    root = [line for line in handle if line.split()[4] == '/'][0]\nprint('root options:', root.split()[5])\n"
            )))
            .run();
        assert_started(&output);
        for target in targets {
            assert_write_refused(&output, Path::new(target), &["EROFS"]);
        }
        let options = output.line_after("root options: ");
        assert!(options.split(',').any(|option| option == "ro"), "{output}");
    }

    /// `/dev` holds the six device nodes bwrap's `--dev` makes (null, zero, full, random,
    /// urandom, tty), the pseudo-terminal multiplexer and nothing else of the host's.
    fn dev_has_only_the_six_device_nodes(runner) {
        let workspace = Workspace::new(&runner);
        let output = run_in_venv(&workspace)
            .code(
                r#"
import os, stat
nodes = sorted(name for name in os.listdir("/dev")
               if stat.S_ISCHR(os.lstat("/dev/" + name).st_mode) or stat.S_ISBLK(os.lstat("/dev/" + name).st_mode))
print("nodes:", " ".join(nodes))
mounts = set()
with open("/proc/self/mountinfo") as handle:
    for line in handle:
        point = line.split()[4]
        if point == "/dev" or point.startswith("/dev/"):
            mounts.add(point)
print("mounts:", " ".join(sorted(mounts)))
"#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("nodes: "), "full null random tty urandom zero", "{output}");
        assert_eq!(
            output.line_after("mounts: "),
            "/dev /dev/full /dev/null /dev/pts /dev/random /dev/shm /dev/tty /dev/urandom /dev/zero",
            "{output}"
        );
    }

    /// matplotlib saves a plot with its default fonts, and nothing on stderr speaks of
    /// fonts (no `findfont` fallback, no fontconfig error).
    fn matplotlib_saves_a_plot_with_its_default_fonts(runner) {
        let venv = require_venv!(Venv::Matplotlib);
        let workspace = Workspace::new(&runner);
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(
                r#"
import os
import matplotlib.pyplot as plt
from matplotlib import font_manager
figure, axes = plt.subplots()
axes.plot([1, 2, 3], [3, 1, 2], label="a line")
axes.set_title("A title")
axes.legend()
figure.savefig("plot.png")
print("png:", os.path.getsize("plot.png"))
font = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]), fallback_to_default=False)
print("font exists:", os.path.isfile(font))
print("font configuration:", os.path.isdir("/etc/fonts"))
"#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.line_after("png: ").parse::<u64>().unwrap() > 1000, "{output}");
        assert_eq!(output.line_after("font exists: "), "True", "{output}");
        // matplotlib is a font library: the run sees the host's font configuration.
        assert_eq!(
            output.line_after("font configuration: "),
            if Path::new("/etc/fonts").is_dir() { "True" } else { "False" },
            "{output}"
        );
        let stderr = output.stderr_text().to_lowercase();
        for word in ["findfont", "fontconfig", "font family", "warning"] {
            assert!(!stderr.contains(word), "stderr mentions {word:?}: {output}");
        }
    }

    /// numpy imports and computes.
    fn numpy_imports_and_computes(runner) {
        let venv = require_venv!(Venv::Numpy);
        let workspace = Workspace::new(&runner);
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code("import numpy\nprint('det:', round(numpy.linalg.det(numpy.array([[2.0, 1.0], [1.0, 3.0]])), 6))")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("det: "), "5.0", "{output}");
    }

    /// `ssl.create_default_context()` works in every mode; with the host's network the
    /// default certificates load (as many as on the host).
    fn ssl_loads_the_default_certificates(runner) {
        let workspace = Workspace::new(&runner);
        let snippet = r#"
import ssl
context = ssl.create_default_context()
print("authorities:", context.cert_store_stats()["x509_ca"])
"#;
        let plain = run_in_venv(&workspace).code(snippet).run();
        assert_started(&plain);
        assert_exit(&plain, 0);
        let full = run_in_venv(&workspace)
            .args(["--network", "full"])
            .code(snippet)
            .run();
        assert_started(&full);
        assert_exit(&full, 0);
        let host = std::process::Command::new("/usr/bin/python3")
            .args(["-I", "-c", "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"])
            .output()
            .unwrap();
        let on_host = String::from_utf8_lossy(&host.stdout).trim().to_owned();
        assert_eq!(full.line_after("authorities: "), on_host, "{full}");
        assert_ne!(on_host, "0", "the host has no CA certificates to compare with");
    }

    /// Locales and time zones: `C.UTF-8` can be set, the local zone's names are the
    /// host's, and `zoneinfo` finds a named zone.
    fn locale_and_time_zones_work(runner) {
        let workspace = Workspace::new(&runner);
        let snippet = r#"
import locale, time, zoneinfo, datetime
print("locale:", locale.setlocale(locale.LC_ALL, "C.UTF-8"))
print("tzname:", " ".join(time.tzname))
zone = zoneinfo.ZoneInfo("Europe/Paris")
print("paris:", datetime.datetime(2024, 7, 1, 12, tzinfo=zone).utcoffset())
"#;
        let output = run_in_venv(&workspace).code(snippet).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("locale: "), "C.UTF-8", "{output}");
        assert_eq!(output.line_after("paris: "), "2:00:00", "{output}");
        let host = std::process::Command::new("/usr/bin/python3")
            .args(["-I", "-c", "import time; print(' '.join(time.tzname))"])
            .env_remove("TZ")
            .output()
            .unwrap();
        assert_eq!(
            output.line_after("tzname: "),
            String::from_utf8_lossy(&host.stdout).trim(),
            "{output}"
        );
    }

    /// A venv whose packages live in `lib/pypyX.Y/site-packages` (PyPy 3.8+'s layout): its
    /// font library gets the font configuration too (only `lib/python*` was looked at).
    fn a_font_library_in_a_pypy_layout_sees_the_font_configuration(runner) {
        if !Path::new("/etc/fonts").is_dir() {
            return;
        }
        let workspace = Workspace::new(&runner);
        let venv = venv_with_packages(&workspace, &[]);
        let python_dir = std::fs::read_dir(venv.join("lib"))
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.join("site-packages").is_dir())
            .expect("lib/pythonX.Y");
        let version = python_dir.file_name().unwrap().to_str().unwrap()["python".len()..].to_owned();
        let marker = venv
            .join("lib")
            .join(format!("pypy{version}"))
            .join("site-packages/matplotlib/__init__.py");
        let relative = marker.strip_prefix(workspace.root()).unwrap();
        workspace.write(relative.to_str().unwrap(), "");
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(&presence_probe(&["/etc/fonts"]))
            .run();
        assert_started(&output);
        assert_presence(&output, "/etc/fonts", true);
    }
}
