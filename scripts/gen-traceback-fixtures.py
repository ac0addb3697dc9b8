#!/usr/bin/env python3
"""Regenerate the traceback parser's fixture corpus from real Python interpreters.

Every program in tests/fixtures/tracebacks/programs/NAME.py is run under each
interpreter, from inside the programs directory and by a relative path, so the
tracebacks never embed a temporary directory (3.9+ still prints the script's absolute
path; see PROJECT_PLACEHOLDER). Two files are written per run:

  NAME.TAG.stderr    the program's stderr, byte for byte (what boxpy's parser sees)
  NAME.TAG.expected  what the interpreter itself knew about the exception it
                     reported last, recorded in a second run from sys.excepthook,
                     threading.excepthook and traceback.print_exception (the
                     parser's oracle; see ORACLE_HOOK)

TAG is `pyXY` (for example `py311`), or what you give as `TAG=PATH`.

Usage:
  scripts/gen-traceback-fixtures.py [[TAG=]PYTHON ...]
  BOXPY_FIXTURE_PYTHONS="py311=/usr/bin/python3 ~/.pyenv/versions/3.12.1/bin/python3" \\
      scripts/gen-traceback-fixtures.py

With no interpreters given, it uses the newest patch release of every Python
3.8+ under $PYENV_ROOT (default ~/.pyenv) plus /usr/bin/python3 (tagged
`pyXY-system`). Missing interpreters are skipped with a note. Output is
deterministic, so rerunning it on the same interpreters changes nothing.

A program may start with a `# boxpy-fixture: MODE` line:
  -c         run as `python -c SOURCE` (tracebacks say File "<string>")
  -m         run as `python -m NAME` (runpy's frames, `<frozen runpy>` on 3.11+)
  stdin      run as `python -` with the source on stdin (File "<stdin>")
  read-only  run inside `bwrap --ro-bind / /` (skipped when bwrap is missing)
  no-network run inside `bwrap --ro-bind / / --unshare-net`, like `network = "none"`
  colour     run with PYTHON_COLORS=1 and FORCE_COLOR=1 (3.13 colours its tracebacks)
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "tracebacks")
PROGRAMS = os.path.join(FIXTURES, "programs")
TIMEOUT_SECONDS = 60
# Python 3.9+ makes the script's path absolute (bpo-20443; 3.8 prints it as given), so
# tracebacks would embed wherever this checkout lives. Each output has that one prefix
# replaced, mechanically, by a fixed project directory; nothing else is edited.
PROJECT_PLACEHOLDER = b"/home/user/project/"

# Installed as sitecustomize.py for the second (oracle) run only. It records, for
# the last exception the interpreter reports, what the parser should recover from
# the printed text, in a line format the Rust tests read without dependencies:
# one record per line, fields separated by tabs, `\` `\t` `\n` escaped.
ORACLE_HOOK = r'''
import os
import sys
import threading
import traceback

_FD = int(os.environ.pop("BOXPY_FIXTURE_ORACLE_FD"))
_RECURSIVE_CUTOFF = 3  # traceback.py and the C printer both collapse repeats after 3
_TRACEBACK_LIMIT = 1000  # the C printer (3.8-3.12) shows at most the last 1000 entries
_GROUP_WIDTH = 15
_GROUP_DEPTH = 10


def _escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _record(lines, depth, *fields):
    lines.append("\t".join([">" * depth + fields[0]] + [_escape(str(f)) for f in fields[1:]]))


# The C printer of 3.8-3.10 leaves out only `builtins.`; 3.11+ leaves out `__main__.` too.
_UNQUALIFIED_MODULES = ("builtins",) if sys.version_info < (3, 11) else ("builtins", "__main__")


def _type_name(exc_type):
    module = getattr(exc_type, "__module__", None)
    # The C printer writes __name__ on 3.8 (f.<locals>.E prints as E), __qualname__ since.
    if sys.version_info < (3, 9):
        name = exc_type.__name__
    else:
        name = getattr(exc_type, "__qualname__", exc_type.__name__)
    if module is None or module in _UNQUALIFIED_MODULES:
        return name
    return module + "." + name


def _message(exc):
    """The text after `Type: `, as Python prints it: with the "Did you mean" suggestions
    added at print time (3.10+) and the notes (3.11+), which str(exc) lacks."""
    if isinstance(exc, SyntaxError):
        return exc.msg if exc.msg is not None else "<no detail available>"
    text = "".join(traceback.format_exception_only(type(exc), exc))
    first, _, rest = text.partition("\n")
    message = first.partition(": ")[2]
    rest = rest.rstrip("\n")
    return message + "\n" + rest if rest else message


def _frames(tb):
    entries = []
    while tb is not None:
        code = tb.tb_frame.f_code
        entries.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    entries = entries[-_TRACEBACK_LIMIT:]
    shown = []
    previous, repeats = None, 0
    for entry in entries:
        repeats = repeats + 1 if entry == previous else 0
        previous = entry
        if repeats < _RECURSIVE_CUTOFF:
            shown.append(entry)
    return shown


def _describe(exc, lines, depth):
    _record(lines, depth, "type", _type_name(type(exc)))
    _record(lines, depth, "message", _message(exc))
    for file, line, function in _frames(exc.__traceback__):
        _record(lines, depth, "frame", file, line, function)
    if isinstance(exc, SyntaxError) and exc.filename is not None:
        _record(lines, depth, "syntax", exc.filename, exc.lineno or "")
    if exc.__cause__ is not None:
        previous, kind = exc.__cause__, "direct"
    elif exc.__context__ is not None and not exc.__suppress_context__:
        previous, kind = exc.__context__, "during"
    else:
        previous, kind = None, None
    if previous is not None:
        _record(lines, depth, "cause", kind, _type_name(type(previous)), _message(previous))
    # Groups show at most 15 members (then "and N more exceptions"), 10 levels deep.
    for sub in (getattr(exc, "exceptions", None) or ())[:_GROUP_WIDTH] if depth < _GROUP_DEPTH else ():
        if isinstance(sub, BaseException):
            _record(lines, depth, "group")
            _describe(sub, lines, depth + 1)


def _write(exc):
    lines = []
    try:
        _describe(exc, lines, 0)
    except Exception as error:  # never let the oracle change the program's fate
        lines = ["oracle-error\t" + _escape(repr(error))]
    data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
    os.lseek(_FD, 0, os.SEEK_SET)
    os.ftruncate(_FD, 0)
    os.write(_FD, data)


_previous_excepthook = sys.excepthook
_previous_threading_hook = threading.excepthook


def _excepthook(exc_type, exc, tb):
    if not issubclass(exc_type, SystemExit):
        _write(exc)
    _previous_excepthook(exc_type, exc, tb)


def _threading_hook(args):
    if not issubclass(args.exc_type, SystemExit):
        _write(args.exc_value)
    _previous_threading_hook(args)


_previous_print_exception = traceback.print_exception


def _print_exception(*args, **kwargs):
    """traceback.print_exc(), logging.exception() and friends: handled, but printed."""
    exc = next((arg for arg in args[:2] if isinstance(arg, BaseException)), None)
    if exc is None:
        exc = kwargs.get("value")
    if isinstance(exc, BaseException) and not isinstance(exc, SystemExit):
        _write(exc)
    return _previous_print_exception(*args, **kwargs)


sys.excepthook = _excepthook
threading.excepthook = _threading_hook
traceback.print_exception = _print_exception
'''


def fail(message):
    print("gen-traceback-fixtures: " + message, file=sys.stderr)
    sys.exit(1)


def default_interpreters():
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    newest = {}
    for path in glob.glob(os.path.join(pyenv_root, "versions", "*", "bin", "python3")):
        match = re.fullmatch(r"3\.(\d+)\.(\d+)", os.path.basename(os.path.dirname(os.path.dirname(path))))
        if match is None or int(match.group(1)) < 8:
            continue
        minor, patch = int(match.group(1)), int(match.group(2))
        if minor not in newest or newest[minor][0] < patch:
            newest[minor] = (patch, path)
    specs = [path for _, (_, path) in sorted(newest.items())]
    return specs + ["system=/usr/bin/python3"]


def interpreter_version(python):
    result = subprocess.run(
        [python, "-c", "import sys; print('%d%d' % sys.version_info[:2])"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip()


def resolve(specs):
    """[TAG=]PATH specs -> [(tag, path)], skipping interpreters that are missing."""
    resolved, tags = [], set()
    for spec in specs:
        tag, separator, path = spec.partition("=")
        if not separator:
            tag, path = "", spec
        path = os.path.expanduser(path)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print("skipping missing interpreter " + path, file=sys.stderr)
            continue
        version = interpreter_version(path)
        if version is None:
            print("skipping interpreter that does not start: " + path, file=sys.stderr)
            continue
        if tag == "system":
            tag = "py" + version + "-system"
        elif not tag:
            tag = "py" + version
        if not re.fullmatch(r"[A-Za-z0-9_-]+", tag):
            fail("tag %r for %s must be letters, digits, `-` or `_`" % (tag, path))
        if tag in tags:
            fail("two interpreters would both write *.%s.stderr; name one with TAG=PATH" % tag)
        tags.add(tag)
        resolved.append((tag, path))
    return resolved


def fixture_mode(source):
    first_line = source.split("\n", 1)[0]
    match = re.fullmatch(r"# boxpy-fixture: (\S+)\s*", first_line)
    return match.group(1) if match else "script"


def command_for(python, name, mode, source):
    """The argv and stdin that run program NAME the way its header asks, or None to skip."""
    if mode in ("script", "colour"):
        return [python, name + ".py"], None
    if mode == "-c":
        return [python, "-c", source], None
    if mode == "-m":
        return [python, "-m", name], None
    if mode == "stdin":
        return [python, "-"], source.encode()
    if mode in ("read-only", "no-network"):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            return None
        sandbox = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--chdir", PROGRAMS]
        if mode == "no-network":
            sandbox.append("--unshare-net")
        return sandbox + [python, name + ".py"], None
    fail("%s.py: unknown fixture mode %r" % (name, mode))
    return None


def mode_env(mode):
    """Environment changes for a fixture mode; None unsets a variable."""
    if mode == "colour":
        return {"PYTHON_COLORS": "1", "FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": None}
    return {}


def run(argv, stdin, extra_env):
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PYTHON_COLORS": "0",
    }
    for key, value in extra_env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    pass_fds = (int(extra_env["BOXPY_FIXTURE_ORACLE_FD"]),) if "BOXPY_FIXTURE_ORACLE_FD" in extra_env else ()
    try:
        result = subprocess.run(
            argv,
            cwd=PROGRAMS,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=pass_fds,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        fail("timed out: " + " ".join(argv))
    return result.stderr.replace(os.fsencode(PROGRAMS) + b"/", PROJECT_PLACEHOLDER)


def oracle(argv, stdin, hook_directory, extra_env):
    """Run again with the recording hook; return what it recorded ("none" if nothing) and stderr."""
    with tempfile.TemporaryFile() as record:
        descriptor = record.fileno()
        oracle_env = dict(extra_env, PYTHONPATH=hook_directory, BOXPY_FIXTURE_ORACLE_FD=str(descriptor))
        stderr = run(argv, stdin, oracle_env)
        record.seek(0)
        data = record.read().replace(os.fsencode(PROGRAMS).replace(b"\\", b"\\\\") + b"/", PROJECT_PLACEHOLDER)
    return (data if data else b"none\n"), stderr


def main(arguments):
    specs = arguments or os.environ.get("BOXPY_FIXTURE_PYTHONS", "").split() or default_interpreters()
    interpreters = resolve(specs)
    if not interpreters:
        fail("no interpreters found")
    programs = sorted(name[:-3] for name in os.listdir(PROGRAMS) if name.endswith(".py"))
    for name in os.listdir(FIXTURES):
        if name.endswith((".stderr", ".expected")) and name.split(".", 1)[0] not in programs:
            print("removing %s: its program is gone" % name, file=sys.stderr)
            os.remove(os.path.join(FIXTURES, name))
    with tempfile.TemporaryDirectory() as hook_directory:
        with open(os.path.join(hook_directory, "sitecustomize.py"), "w") as hook:
            hook.write(ORACLE_HOOK)
        for tag, python in interpreters:
            written = 0
            for name in programs:
                with open(os.path.join(PROGRAMS, name + ".py")) as handle:
                    source = handle.read()
                mode = fixture_mode(source)
                command = command_for(python, name, mode, source)
                if command is None:
                    print("skipping %s under %s: bwrap not found" % (name, tag), file=sys.stderr)
                    continue
                argv, stdin = command
                stderr = run(argv, stdin, mode_env(mode))
                expected, second_stderr = oracle(argv, stdin, hook_directory, mode_env(mode))
                if second_stderr != stderr:
                    fail("%s under %s: stderr differs between runs; the fixture would not be stable" % (name, tag))
                with open(os.path.join(FIXTURES, "%s.%s.stderr" % (name, tag)), "wb") as out:
                    out.write(stderr)
                with open(os.path.join(FIXTURES, "%s.%s.expected" % (name, tag)), "wb") as out:
                    out.write(expected)
                written += 1
            print("%s (%s): %d fixtures" % (tag, python, written), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
