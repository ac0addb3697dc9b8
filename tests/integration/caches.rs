//! Library caches (`boxpy cache`, issue 26): primed once per venv in a sandbox of their
//! own, shown read-only to every later run, primed again when their key changes; a run
//! cannot change what the next one reads.
//!
//! Most tests use a venv with a stand-in `matplotlib` package (its `font_manager` writes
//! `fontlist-v1.json` where `MPLCONFIGDIR` points, as matplotlib does), so priming is fast
//! and each test owns its venv; one test uses the real matplotlib ([`Venv::Matplotlib`]).
//! Each workspace has its own `XDG_CACHE_HOME` (the harness sets it), so the store is the
//! test's own.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// The stand-in's `font_manager`: records where it ran into the font list it writes.
const FAKE_FONT_MANAGER: &str = r#"
import json, os
target = os.path.join(os.environ["MPLCONFIGDIR"], "fontlist-v1.json")
probe = os.environ.get("BOXPY_TEST_PROBE", "")
with open(target, "w") as handle:
    json.dump({
        "primed": True,
        "cwd": os.getcwd(),
        "home": os.path.expanduser("~"),
        "probe_visible": bool(probe) and os.path.exists(probe),
    }, handle)
# What a library must not leave in the store: a link, a lock file, a FIFO.
os.symlink("/etc/passwd", os.path.join(os.environ["MPLCONFIGDIR"], "fontlist-v2.json"))
open(os.path.join(os.environ["MPLCONFIGDIR"], "fontlist-v1.json.lock"), "w").close()
"#;

/// A venv (`python3 -m venv --without-pip`) with the stand-in matplotlib, owned by the
/// runner; `work_probe` is a path the priming sandbox must not see.
fn fake_matplotlib_venv(workspace: &Workspace, work_probe: &Path) -> PathBuf {
    let venv = workspace.make_venv("venv");
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir())
        .expect("site-packages");
    let relative = |path: &Path| {
        path.strip_prefix(workspace.root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    workspace.write(&relative(&site.join("matplotlib/__init__.py")), "");
    workspace.write(
        &relative(&site.join("matplotlib/_version.py")),
        "version = '1.0'\n",
    );
    workspace.write(
        &relative(&site.join("matplotlib/font_manager.py")),
        FAKE_FONT_MANAGER.replace(
            "os.environ.get(\"BOXPY_TEST_PROBE\", \"\")",
            &py_path(work_probe),
        ),
    );
    workspace.dir(&relative(&site.join("matplotlib-1.0.dist-info")));
    venv
}

fn site_packages(venv: &Path) -> PathBuf {
    std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir())
        .expect("site-packages")
}

const PRIMING: &str = "priming matplotlib's cache for this venv";

/// The host's font directories are part of every key here: the test that adds one holds
/// this for writing, the tests that count primes hold it for reading.
static FONTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn fonts_unchanged() -> std::sync::RwLockReadGuard<'static, ()> {
    FONTS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Python that prints the bound font list (or that there is none).
const READ_FONT_LIST: &str = r#"
import os
path = os.path.expanduser("~/.cache/matplotlib/fontlist-v1.json")
print("fontlist:", open(path).read() if os.path.exists(path) else "absent")
print("neighbours:", sorted(os.listdir(os.path.dirname(path))) if os.path.exists(path) else [])
"#;

fn cache_show(workspace: &Workspace) -> serde_json::Value {
    let output = boxpy(workspace).args(["cache", "show", "--json"]).run();
    assert_exit(&output, 0);
    output.json()
}

runner_tests! {
    fn a_cache_is_primed_once_in_its_own_sandbox_and_read_by_later_runs(runner) {
        let _fonts = fonts_unchanged();
        let workspace = Workspace::new(&runner);
        let probe = workspace.write("work/visible-to-runs.txt", "x");
        let venv = fake_matplotlib_venv(&workspace, &probe);
        let first = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(READ_FONT_LIST)
            .run();
        assert_exit(&first, 0);
        assert_started(&first);
        assert_eq!(first.stderr_text().matches(PRIMING).count(), 1, "{first}");
        let font_list = first.line_after("fontlist: ");
        let recorded: serde_json::Value = serde_json::from_str(&font_list)
            .unwrap_or_else(|_| panic!("the run reads the primed font list: {first}"));
        assert_eq!(recorded["primed"], true);
        // The priming sandbox ran in a private staging directory, not the workdir, and
        // the workdir was not mounted.
        assert_ne!(recorded["cwd"].as_str(), Some(workspace.work().to_str().unwrap()));
        assert_eq!(recorded["probe_visible"], false, "{first}");
        // Only the font list was kept: not the link, not the lock file.
        assert_eq!(first.line_after("neighbours: "), "['fontlist-v1.json']");

        let second = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(READ_FONT_LIST)
            .run();
        assert_exit(&second, 0);
        assert!(!second.stderr_text().contains(PRIMING), "primed twice: {second}");
        assert_eq!(second.line_after("fontlist: "), font_list);

        let shown = cache_show(&workspace);
        let entries = shown["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{shown}");
        assert_eq!(entries[0]["library"], "matplotlib");
        assert_eq!(entries[0]["venv"], venv.canonicalize().unwrap().to_str().unwrap());
        assert_eq!(entries[0]["version"], "1.0");
        assert_eq!(entries[0]["stale"], false);
        assert_eq!(entries[0]["files"], serde_json::json!(["fontlist-v1.json"]));
        // The store is private to the user.
        let root = PathBuf::from(shown["root"].as_str().unwrap());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(root.metadata().unwrap().mode() & 0o777, 0o700);
    }

    fn a_new_version_or_a_reinstall_primes_again(runner) {
        let _fonts = fonts_unchanged();
        let workspace = Workspace::new(&runner);
        let probe = workspace.root().join("nothing");
        let venv = fake_matplotlib_venv(&workspace, &probe);
        let run = || {
            boxpy(&workspace)
                .args(["run", "--venv"])
                .arg(&venv)
                .code("print('ok')")
                .run()
        };
        let primes = |output: &Output| output.stderr_text().matches(PRIMING).count();
        assert_eq!(primes(&run()), 1);
        assert_eq!(primes(&run()), 0);
        let site = site_packages(&venv);
        // A changed version file.
        std::fs::write(site.join("matplotlib/_version.py"), "version = '1.1'\n").unwrap();
        let shown = cache_show(&workspace);
        assert_eq!(shown["entries"][0]["stale"], true, "{shown}");
        assert_eq!(primes(&run()), 1);
        assert_eq!(primes(&run()), 0);
        // A new distribution (an upgrade).
        std::fs::rename(
            site.join("matplotlib-1.0.dist-info"),
            site.join("matplotlib-2.0.dist-info"),
        )
        .unwrap();
        assert_eq!(primes(&run()), 1);
        let shown = cache_show(&workspace);
        let entries = shown["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "the stale entry is removed: {shown}");
        assert_eq!(entries[0]["version"], "2.0");
        assert_eq!(entries[0]["stale"], false);
    }

    fn a_run_cannot_write_the_cache(runner) {
        let workspace = Workspace::new(&runner);
        let probe = workspace.root().join("nothing");
        let venv = fake_matplotlib_venv(&workspace, &probe);
        let prime = boxpy(&workspace)
            .args(["cache", "prime", "--json", "--venv"])
            .arg(&venv)
            .run();
        assert_exit(&prime, 0);
        let shown = cache_show(&workspace);
        let entry = PathBuf::from(shown["entries"][0]["path"].as_str().unwrap());
        let host_file = entry.join("fontlist-v1.json");
        let before = std::fs::read(&host_file).unwrap();
        let bound = runner.home().join(".cache/matplotlib/fontlist-v1.json");
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(&probe_then(&format!(
                r#"
                import os
                bound = {bound}
                print("bound exists:", os.path.exists(bound))
                attempt_write(bound)
                try:
                    os.unlink(bound)
                    print("unlink: DONE")
                except OSError as error:
                    print("unlink: refused", error.errno)
                attempt_write({entry_file})
                attempt_write({sibling})
                "#,
                bound = py_path(&bound),
                entry_file = py_path(&host_file),
                sibling = py_path(&bound.with_file_name("fontlist-v9.json")),
            )))
            .run();
        assert_exit(&output, 0);
        assert_started(&output);
        assert_eq!(output.line_after("bound exists: "), "True", "{output}");
        assert_write_refused(&output, &bound, &["EROFS", "EACCES", "EPERM"]);
        assert!(output.line_after("unlink: ").starts_with("refused"), "{output}");
        // The store itself is not in the sandbox at all.
        assert_write_refused(&output, &host_file, &["ENOENT", "EROFS", "EACCES"]);
        // Beside the bound file the private HOME stays writable (the library may write).
        assert_written(&output, &bound.with_file_name("fontlist-v9.json"));
        assert_eq!(std::fs::read(&host_file).unwrap(), before, "the host file changed");
        assert!(!entry.join("fontlist-v9.json").exists());
    }

    fn a_writable_mount_holding_the_store_is_refused(runner) {
        let workspace = Workspace::new(&runner);
        let probe = workspace.root().join("nothing");
        let venv = fake_matplotlib_venv(&workspace, &probe);
        let prime = boxpy(&workspace)
            .args(["cache", "prime", "--venv"])
            .arg(&venv)
            .run();
        assert_exit(&prime, 0);
        let store = workspace.root().join("xdg-cache");
        let output = boxpy(&workspace)
            .args(["run", "--rw"])
            .arg(&store)
            .code(&probe_then(&format!("attempt_write({})", py_path(&store.join("boxpy/x")))))
            .run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("library caches"), "{output}");
        assert_absent_on_host(&store.join("boxpy/x"));
    }

    fn a_symlink_planted_in_the_store_is_not_followed(runner) {
        let workspace = Workspace::new(&runner);
        let probe = workspace.root().join("nothing");
        let venv = fake_matplotlib_venv(&workspace, &probe);
        let prime = boxpy(&workspace)
            .args(["cache", "prime", "--venv"])
            .arg(&venv)
            .run();
        assert_exit(&prime, 0);
        let shown = cache_show(&workspace);
        let entry = PathBuf::from(shown["entries"][0]["path"].as_str().unwrap());
        // The entry's file becomes a link to a secret of the user's.
        let secret = workspace.write("secret.txt", "the user's secret");
        std::fs::remove_file(entry.join("fontlist-v1.json")).unwrap();
        std::os::unix::fs::symlink(&secret, entry.join("fontlist-v1.json")).unwrap();
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(READ_FONT_LIST)
            .run();
        assert_exit(&output, 0);
        assert_started(&output);
        assert_eq!(output.line_after("fontlist: "), "absent", "{output}");
        assert!(output.stderr_text().contains("is not used"), "{output}");
        assert!(!output.stdout_text().contains("the user's secret"));

        // The venv's directory in the store becomes a link elsewhere: not followed,
        // nothing written at its target.
        let elsewhere = workspace.dir("elsewhere");
        let venv_directory = entry.parent().unwrap().to_path_buf();
        std::fs::remove_dir_all(&venv_directory).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &venv_directory).unwrap();
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(READ_FONT_LIST)
            .run();
        assert_exit(&output, 0);
        assert_eq!(output.line_after("fontlist: "), "absent", "{output}");
        assert!(output.stderr_text().contains("is a symlink"), "{output}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

        let cleared = boxpy(&workspace).args(["cache", "clear", "--json"]).run();
        assert_exit(&cleared, 0);
        assert_eq!(cleared.json()["removed"].as_array().unwrap().len(), 1);
        assert!(secret.exists() && elsewhere.exists(), "clear follows no link");
    }
}

#[test]
fn cache_commands_report_as_json() {
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let empty = cache_show(&workspace);
    assert_eq!(empty["entries"], serde_json::json!([]));
    let prime = || {
        let output = boxpy(&workspace)
            .args(["cache", "prime", "--json", "--venv"])
            .arg(&venv)
            .run();
        assert_exit(&output, 0);
        output.json()
    };
    let first = prime();
    assert_eq!(first["libraries"][0]["status"], "primed", "{first}");
    assert_eq!(first["libraries"][0]["library"], "matplotlib");
    assert_eq!(prime()["libraries"][0]["status"], "fresh");
    let shown = cache_show(&workspace);
    let entry = &shown["entries"][0];
    for field in [
        "library", "venv", "version", "key", "files", "size", "path", "stale",
    ] {
        assert!(entry.get(field).is_some(), "`{field}` missing: {shown}");
    }
    assert!(entry["size"].as_u64().unwrap() > 0);
    let other = workspace.make_venv("other");
    let cleared = boxpy(&workspace)
        .args(["cache", "clear", "--json", "--venv"])
        .arg(&other)
        .run();
    assert_eq!(cleared.json()["removed"], serde_json::json!([]));
    let cleared = boxpy(&workspace)
        .args(["cache", "clear", "--json", "--venv"])
        .arg(&venv)
        .run();
    assert_exit(&cleared, 0);
    assert_eq!(cleared.json()["removed"].as_array().unwrap().len(), 1);
    assert_eq!(cache_show(&workspace)["entries"], serde_json::json!([]));
    // A venv without any library boxpy caches: nothing to prime, nothing shown.
    let nothing = boxpy(&workspace)
        .args(["cache", "prime", "--json", "--venv"])
        .arg(&other)
        .run();
    assert_exit(&nothing, 0);
    assert_eq!(nothing.json()["libraries"], serde_json::json!([]));
}

#[test]
fn the_users_mplconfigdir_wins_over_the_cache() {
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let output = boxpy(&workspace)
        .args(["run", "--env", "MPLCONFIGDIR=/tmp/mine", "--venv"])
        .arg(&venv)
        .code(READ_FONT_LIST)
        .run();
    assert_exit(&output, 0);
    assert_eq!(output.line_after("fontlist: "), "absent", "{output}");
    assert!(!output.stderr_text().contains(PRIMING), "{output}");
}

#[test]
fn a_venv_without_a_cached_library_costs_nothing() {
    let workspace = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&workspace).code("print('ok')").run();
    assert_exit(&output, 0);
    assert!(!output.stderr_text().contains("priming"), "{output}");
    assert!(
        !workspace.root().join("xdg-cache/boxpy").exists(),
        "no store is created for a venv without a cached library"
    );
}

#[test]
fn system_caches_are_shown_read_only() {
    let fontconfig = Path::new("/var/cache/fontconfig");
    if !fontconfig.is_dir() {
        return;
    }
    let workspace = Workspace::new(&Runner::Caller);
    let target = fontconfig.join("boxpy-test-write");
    // Shown to a venv with a font library (a package boxpy knows uses fontconfig).
    let venv = workspace.make_venv("venv");
    let marker = site_packages(&venv).join("graphviz/__init__.py");
    workspace.write(
        marker
            .strip_prefix(workspace.root())
            .unwrap()
            .to_str()
            .unwrap(),
        "",
    );
    let output = boxpy(&workspace)
        .args(["run", "--venv"])
        .arg(&venv)
        .code(&probe_then(&format!(
            "import os\nprint('listed:', len(os.listdir('/var/cache/fontconfig')))\nattempt_write({})",
            py_path(&target)
        )))
        .run();
    assert_write_refused(&output, &target, &["EROFS", "EACCES"]);
    let on_host = std::fs::read_dir(fontconfig).unwrap().count();
    assert_eq!(
        output.line_after("listed: "),
        on_host.to_string(),
        "{output}"
    );
    assert_absent_on_host(&target);
    let shown = boxpy(&workspace).args(["policy", "show"]).run();
    assert!(shown
        .stdout_text()
        .contains("a venv with a font library, or when boxpy cannot tell): /var/cache/fontconfig"));
}

runner_tests! {
    fn real_matplotlib_builds_its_font_list_once(runner) {
        let _fonts = fonts_unchanged();
        let venv = venv(Venv::Matplotlib).unwrap_or_else(|error| panic!("{error}"));
        let workspace = Workspace::new(&runner);
        let snippet = r#"
            import logging
            logging.basicConfig(level=logging.INFO)
            import matplotlib.pyplot
            print("imported")
        "#;
        let run = || {
            boxpy(&workspace)
                .args(["run", "--venv"])
                .arg(&venv)
                .code(snippet)
                .run()
        };
        let first = run();
        assert_exit(&first, 0);
        assert_started(&first);
        assert!(first.stderr_text().contains(PRIMING), "{first}");
        assert!(
            !first.stderr_text().contains("generated new fontManager"),
            "the first run already reads the primed list: {first}"
        );
        let second = run();
        assert_exit(&second, 0);
        assert!(!second.stderr_text().contains(PRIMING), "{second}");
        assert!(!second.stderr_text().contains("generated new fontManager"), "{second}");
        let shown = cache_show(&workspace);
        assert_eq!(shown["entries"].as_array().unwrap().len(), 1, "{shown}");
        assert_eq!(shown["entries"][0]["stale"], false);
    }
}

/// Restores a font directory's state when the test ends, however it ends.
struct NewFontDirectory {
    path: PathBuf,
    parent_times: (std::time::SystemTime, std::time::SystemTime),
}

impl Drop for NewFontDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
        let parent = self.path.parent().expect("a parent");
        let times = std::fs::FileTimes::new()
            .set_accessed(self.parent_times.0)
            .set_modified(self.parent_times.1);
        if let Ok(directory) = std::fs::File::open(parent) {
            let _ = directory.set_times(times);
        }
    }
}

#[test]
fn a_new_font_directory_primes_again() {
    // Adding a font directory on the host needs root; the directory and the parent's
    // times are restored when the test ends.
    let fonts = Path::new("/usr/local/share/fonts");
    if !is_root() || !fonts.is_dir() {
        return;
    }
    let _fonts = FONTS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let run = || {
        boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code("print('ok')")
            .run()
    };
    let primes = |output: &Output| output.stderr_text().matches(PRIMING).count();
    assert_eq!(primes(&run()), 1);
    assert_eq!(primes(&run()), 0);
    let metadata = fonts.metadata().unwrap();
    let added = NewFontDirectory {
        path: fonts.join(unique("boxpy-test-font-")),
        parent_times: (metadata.accessed().unwrap(), metadata.modified().unwrap()),
    };
    std::fs::create_dir(&added.path).unwrap();
    assert_eq!(cache_show(&workspace)["entries"][0]["stale"], true);
    assert_eq!(primes(&run()), 1, "a new font directory primes again");
    drop(added);
    assert_eq!(primes(&run()), 1, "and so does its removal");
    assert_eq!(primes(&run()), 0);
}

#[test]
fn concurrent_primes_leave_one_entry() {
    let _fonts = fonts_unchanged();
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let primes: Vec<Running> = (0..3)
        .map(|_| {
            boxpy(&workspace)
                .args(["cache", "prime", "--json", "--venv"])
                .arg(&venv)
                .spawn()
        })
        .collect();
    for running in primes {
        let output = running.finish();
        assert_exit(&output, 0);
        let status = output.json()["libraries"][0]["status"].clone();
        assert!(status == "primed" || status == "fresh", "{output}");
    }
    let shown = cache_show(&workspace);
    assert_eq!(shown["entries"].as_array().unwrap().len(), 1, "{shown}");
    let root = PathBuf::from(shown["root"].as_str().unwrap());
    let venv_directory = PathBuf::from(shown["entries"][0]["path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let left: Vec<_> = std::fs::read_dir(&venv_directory)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "no temporary directory is left: {left:?} in {}",
        root.display()
    );
}

#[test]
fn a_run_that_could_write_a_store_not_made_yet_primes_none() {
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let store = workspace.root().join("xdg-cache");
    let output = boxpy(&workspace)
        .args(["run", "--rw"])
        .arg(&store)
        .args(["--venv"])
        .arg(&venv)
        .code(READ_FONT_LIST)
        .run();
    assert_exit(&output, 0);
    assert_started(&output);
    assert_eq!(output.line_after("fontlist: "), "absent", "{output}");
    assert!(!output.stderr_text().contains(PRIMING), "{output}");
    assert_absent_on_host(&store.join("boxpy"));
}

#[test]
fn doctor_and_render_tell_the_cache_state() {
    let _fonts = fonts_unchanged();
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let cache_check = || {
        let output = boxpy(&workspace)
            .args(["doctor", "--json", "--venv"])
            .arg(&venv)
            .run();
        let json = output.json();
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["topic"] == "cache")
            .cloned()
            .unwrap_or_else(|| panic!("no cache check: {output}"))
    };
    let render = || {
        let output = boxpy(&workspace)
            .args(["render", "--venv"])
            .arg(&venv)
            .run();
        assert_exit(&output, 0);
        output.stdout_text()
    };
    let not_primed = cache_check();
    assert!(
        not_primed["what"]
            .as_str()
            .unwrap()
            .contains("not primed yet"),
        "{not_primed}"
    );
    assert!(
        !render().contains("fontlist-v1.json"),
        "render primes nothing"
    );
    assert!(!workspace.root().join("xdg-cache/boxpy").exists());

    let prime = boxpy(&workspace)
        .args(["cache", "prime", "--venv"])
        .arg(&venv)
        .run();
    assert_exit(&prime, 0);
    let fresh = cache_check();
    assert_eq!(fresh["level"], "ok", "{fresh}");
    assert!(
        fresh["what"].as_str().unwrap().contains("is primed"),
        "{fresh}"
    );
    let rendered = render();
    assert!(
        rendered.contains(".cache/matplotlib/fontlist-v1.json"),
        "render shows the bind a run gets: {rendered}"
    );

    std::fs::write(
        site_packages(&venv).join("matplotlib/_version.py"),
        "version = '1.1'\n",
    )
    .unwrap();
    let stale = cache_check();
    assert_eq!(stale["level"], "warning", "{stale}");
    assert!(stale["what"].as_str().unwrap().contains("stale"), "{stale}");
}

runner_tests! {
    fn a_plotting_notebook_reads_the_font_list_primed_once(runner) {
        let _fonts = fonts_unchanged();
        let venv = venv(Venv::Papermill).unwrap_or_else(|error| panic!("{error}"));
        let workspace = Workspace::new(&runner);
        let cell = r#"
import os, errno
import matplotlib
import matplotlib.pyplot as plt
plt.plot([1, 3, 2])
plt.show()
cache = matplotlib.get_cachedir()
lists = sorted(name for name in os.listdir(cache) if name.startswith("fontlist-"))
try:
    open(os.path.join(cache, lists[0]), "a").close()
    state = "writable"
except OSError as error:
    state = errno.errorcode[error.errno]
print("cache", cache, lists, state)
"#;
        let notebook = serde_json::json!({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "id": "plot", "metadata": {}, "outputs": [],
                       "execution_count": null, "source": cell}],
        });
        workspace.write("work/plot.ipynb", notebook.to_string());
        let run = || {
            let output = boxpy(&workspace)
                .args(["nbexec", "--venv"])
                .arg(&venv)
                .args(["plot.ipynb", "-o", "out.ipynb"])
                .run();
            assert_exit(&output, 0);
            let saved: serde_json::Value = serde_json::from_slice(
                &std::fs::read(workspace.work().join("out.ipynb")).unwrap(),
            )
            .unwrap();
            let printed: String = saved["cells"][0]["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|output| output["text"].as_str().map(str::to_owned).or_else(|| {
                    output["text"].as_array().map(|lines| {
                        lines.iter().filter_map(|line| line.as_str()).collect::<String>()
                    })
                }))
                .collect();
            (output, printed)
        };
        let (first, printed) = run();
        assert!(first.stderr_text().contains(PRIMING), "{first}");
        let home = runner.home();
        let expected = format!(
            "cache {}/.cache/matplotlib ['fontlist-v",
            home.display()
        );
        assert!(printed.contains(&expected), "{printed}");
        assert!(printed.trim_end().ends_with("EROFS"), "the list is read-only: {printed}");
        let (second, printed_again) = run();
        assert!(!second.stderr_text().contains(PRIMING), "{second}");
        assert_eq!(printed_again, printed);
    }
}

/// A venv with the stand-in matplotlib whose `font_manager` is `code` instead.
fn venv_priming_with(workspace: &Workspace, code: &str) -> PathBuf {
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(workspace, &probe);
    std::fs::write(
        site_packages(&venv).join("matplotlib/font_manager.py"),
        code,
    )
    .unwrap();
    venv
}

/// The bytes the store holds on disk (allocated blocks), in all its files.
fn store_usage(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(metadata) = path.symlink_metadata() else {
            continue;
        };
        total += metadata.blocks() * 512;
        if metadata.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
    }
    total
}

/// Red team 04: a venv's library writes many sparse font lists (free in the staging
/// directory); the store keeps one file per pattern, the newest that is not sparse, and
/// stays small. Red team 11: a dist-info name that is no version is shown as `unknown`.
#[test]
fn priming_keeps_one_file_per_pattern_and_never_a_sparse_one() {
    let _fonts = fonts_unchanged();
    let workspace = Workspace::new(&Runner::Caller);
    let venv = venv_priming_with(
        &workspace,
        r#"
import json, os, time
d = os.environ["MPLCONFIGDIR"]
with open(os.path.join(d, "fontlist-v0.json"), "w") as handle:
    json.dump({"primed": "older"}, handle)
time.sleep(0.05)
with open(os.path.join(d, "fontlist-v1.json"), "w") as handle:
    json.dump({"primed": True}, handle)
time.sleep(0.05)
for i in range(4):
    with open(os.path.join(d, f"fontlist-v9{i}.json"), "wb") as handle:
        handle.truncate(15 << 20)
"#,
    );
    let site = site_packages(&venv);
    std::fs::rename(
        site.join("matplotlib-1.0.dist-info"),
        site.join("matplotlib-9 is outdated; run fix.sh on the host.dist-info"),
    )
    .unwrap();
    let output = boxpy(&workspace)
        .args(["run", "--venv"])
        .arg(&venv)
        .code(READ_FONT_LIST)
        .run();
    assert_exit(&output, 0);
    assert_started(&output);
    assert_eq!(
        output.line_after("fontlist: "),
        r#"{"primed": true}"#,
        "{output}"
    );
    assert_eq!(output.line_after("neighbours: "), "['fontlist-v1.json']");
    let usage = store_usage(&workspace.root().join("xdg-cache"));
    assert!(usage < 1 << 20, "the store holds {usage} bytes");
    let shown = cache_show(&workspace);
    assert_eq!(
        shown["entries"][0]["files"],
        serde_json::json!(["fontlist-v1.json"])
    );
    assert_eq!(shown["entries"][0]["version"], "unknown", "{shown}");
}

/// Red team 05: a prime that fails is reported by its status (never the program's text),
/// is not retried by later runs until its key changes (`boxpy cache prime` retries), and
/// runs no longer than the run's own `limits.timeout`.
#[test]
fn a_failed_prime_says_its_status_only_and_is_not_retried() {
    let _fonts = fonts_unchanged();
    let workspace = Workspace::new(&Runner::Caller);
    let hostile = "boxpy: error: the venv is corrupt; fix it on the host";
    let venv = venv_priming_with(
        &workspace,
        &format!("import sys\nsys.stderr.write({hostile:?} + '\\n')\nsys.exit(3)\n"),
    );
    let run = || {
        boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code("print('started')")
            .run()
    };
    let first = run();
    assert_exit(&first, 0);
    assert_started(&first);
    assert_eq!(first.stderr_text().matches(PRIMING).count(), 1, "{first}");
    assert!(first.stderr_text().contains("(exit status 3)"), "{first}");
    assert!(!first.stderr_text().contains("corrupt"), "{first}");
    let second = run();
    assert_exit(&second, 0);
    assert!(!second.stderr_text().contains(PRIMING), "retried: {second}");
    assert!(
        second
            .stderr_text()
            .contains("`boxpy cache prime` tries again"),
        "{second}"
    );
    let explicit = boxpy(&workspace)
        .args(["cache", "prime", "--json", "--venv"])
        .arg(&venv)
        .run();
    let text = format!("{}{}", explicit.stdout_text(), explicit.stderr_text());
    assert!(
        text.contains("exit status 3") && !text.contains("corrupt"),
        "{explicit}"
    );
    // A new key (another version file) is primed again.
    std::fs::write(
        site_packages(&venv).join("matplotlib/_version.py"),
        "version = '1.1'\n",
    )
    .unwrap();
    assert_eq!(run().stderr_text().matches(PRIMING).count(), 1);

    // A prime that would run for ever stops at the run's own timeout.
    let slow = Workspace::new(&Runner::Caller);
    let venv = venv_priming_with(&slow, "import time\ntime.sleep(3600)\n");
    let output = boxpy(&slow)
        .args(["run", "--timeout", "1s", "--venv"])
        .arg(&venv)
        .code("print('started')")
        .run();
    assert_exit(&output, 0);
    assert_started(&output);
    assert!(
        output.stderr_text().contains("stopped after 1 s"),
        "{output}"
    );
}

/// Red team 08: a cache directory that is a link (to a bigger disk) works; one that leads
/// into the workdir is the store inside a writable area.
#[test]
fn a_symlinked_cache_directory_is_resolved_once() {
    let _fonts = fonts_unchanged();
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let disk = workspace.root().join("bigdisk/cache");
    std::fs::create_dir_all(&disk).unwrap();
    let link = workspace.root().join("cache-link");
    std::os::unix::fs::symlink(&disk, &link).unwrap();
    for round in 0..2 {
        let output = boxpy(&workspace)
            .env("XDG_CACHE_HOME", &link)
            .args(["run", "--venv"])
            .arg(&venv)
            .code(READ_FONT_LIST)
            .run();
        assert_exit(&output, 0);
        assert_started(&output);
        assert!(
            output.line_after("fontlist: ").contains("primed"),
            "round {round}: {output}"
        );
    }
    assert!(disk.join("boxpy/venvs").is_dir());

    // A link into the workdir: no store yet, none is made; once one is, runs are refused.
    let into_work = workspace.root().join("cache-into-work");
    std::fs::create_dir_all(workspace.work().join(".cache")).unwrap();
    std::os::unix::fs::symlink(workspace.work().join(".cache"), &into_work).unwrap();
    let output = boxpy(&workspace)
        .env("XDG_CACHE_HOME", &into_work)
        .args(["run", "--venv"])
        .arg(&venv)
        .code(READ_FONT_LIST)
        .run();
    assert_exit(&output, 0);
    assert_eq!(output.line_after("fontlist: "), "absent", "{output}");
    assert_absent_on_host(&workspace.work().join(".cache/boxpy"));
    let prime = boxpy(&workspace)
        .env("XDG_CACHE_HOME", &into_work)
        .args(["cache", "prime", "--venv"])
        .arg(&venv)
        .run();
    assert_exit(&prime, 0);
    let output = boxpy(&workspace)
        .env("XDG_CACHE_HOME", &into_work)
        .args(["run", "--venv"])
        .arg(&venv)
        .code("print('started')")
        .run();
    assert_not_started(&output);
    assert_exit(&output, 125);
    assert!(output.stderr_text().contains("library caches"), "{output}");
}

/// Red team 10: a venv file boxpy reads (`_version.py` for the cache key, `pyvenv.cfg`)
/// that is a link to a FIFO or a device is refused without being opened (inotify sees no
/// open); a FIFO with no writer does not hang the run.
#[test]
fn a_fifo_or_device_linked_from_a_venv_is_never_opened() {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let workspace = Workspace::new(&Runner::Caller);
    let probe = workspace.root().join("nothing");
    let venv = fake_matplotlib_venv(&workspace, &probe);
    let fifo = workspace.root().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut targets = vec![fifo];
    if is_root() {
        // A null device of the test's own, in the workspace (never the host's /dev).
        let device = workspace.root().join("null");
        nix::sys::stat::mknod(
            &device,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        targets.push(device);
    }
    let version_file = site_packages(&venv).join("matplotlib/_version.py");
    let config = venv.join("pyvenv.cfg");
    let original_config = std::fs::read(&config).unwrap();
    for target in &targets {
        let watch = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).unwrap();
        watch
            .add_watch(
                target,
                AddWatchFlags::IN_OPEN | AddWatchFlags::IN_DONT_FOLLOW,
            )
            .unwrap();
        let opens = || watch.read_events().map(|events| events.len()).unwrap_or(0);
        std::fs::remove_file(&version_file).unwrap();
        std::os::unix::fs::symlink(target, &version_file).unwrap();
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code("print('started')")
            .run();
        assert_exit(&output, 0);
        assert_started(&output);
        assert_eq!(opens(), 0, "{} was opened: {output}", target.display());

        std::fs::remove_file(&config).unwrap();
        std::os::unix::fs::symlink(target, &config).unwrap();
        let output = boxpy(&workspace)
            .args(["run", "--venv"])
            .arg(&venv)
            .code("print('started')")
            .run();
        assert_not_started(&output);
        assert!(output.stderr_text().contains("pyvenv.cfg"), "{output}");
        assert_eq!(opens(), 0, "{} was opened: {output}", target.display());
        std::fs::remove_file(&config).unwrap();
        std::fs::write(&config, &original_config).unwrap();
    }
}
