#!/usr/bin/env python3
"""Start-up cost of boxpy, measured side by side (interleaved rounds, medians, ratios).

    python3 bench/startup.py [--rounds N] [--boxpy PATH] [--venv DIR]

Each round runs every variant once, in a shuffled order, so a noisy neighbour slows all of
them alike; the report is the median per variant and its ratio to plain Python and to a
plain bwrap sandbox. Variants:

  python            the venv's python -c pass, no sandbox
  bwrap             a minimal bwrap sandbox (namespaces, /usr, /proc, /dev, /tmp) + python
  bwrap+seccomp     the same with boxpy's seccomp filter (`boxpy render --seccomp-out`)
  boxpy unlimited   boxpy run -c pass with every limit "unlimited" (seccomp, init, no limits)
  boxpy default     boxpy run -c pass, default policy (rlimits, cgroups where possible)
  boxpy strict      boxpy run -P strict -c pass

Nothing here is a test: timings on a shared machine are noisy, so only ratios measured in
one run are quoted (README "Performance").
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def minimal_bwrap(venv, python, extra=()):
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))
    for path in sorted({venv, prefix}):
        if not path.startswith("/usr/"):
            args += ["--ro-bind", path, path]
    return args + list(extra) + [python, "-c", "pass"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--boxpy", default=os.path.join(ROOT, "target", "release", "boxpy"))
    parser.add_argument("--venv", default=None)
    options = parser.parse_args()
    if not os.path.exists(options.boxpy):
        sys.exit(f"no boxpy at {options.boxpy}: run `cargo build --release` first, or pass --boxpy \"$(scripts/build-release)\"")

    work = tempfile.mkdtemp(prefix="boxpy-bench-")
    venv = os.path.abspath(options.venv) if options.venv else os.path.join(work, "venv")
    if not options.venv:
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    unlimited = os.path.join(work, "unlimited.toml")
    with open(unlimited, "w") as handle:
        handle.write(
            "[limits]\n"
            + "".join(
                f'{key} = "unlimited"\n'
                for key in ("timeout", "cpu", "memory", "processes", "file_size", "open_files", "output")
            )
            + '[filesystem]\ntmp_size = "unlimited"\n'
        )
    with open(os.path.join(work, "strict-venv.toml"), "w") as handle:
        handle.write('extends = "strict"\n')
    filter_path = os.path.join(work, "seccomp.bpf")
    subprocess.run(
        [options.boxpy, "render", "--venv", venv, "--seccomp-out", filter_path],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=work,
    )
    filter_fd = os.open(filter_path, os.O_RDONLY)

    def with_filter():
        os.lseek(filter_fd, 0, os.SEEK_SET)

    boxpy = [options.boxpy, "run", "--venv", venv]
    variants = {
        "python": ([python, "-c", "pass"], None, ()),
        "bwrap": (minimal_bwrap(venv, python), None, ()),
        "bwrap+seccomp": (
            minimal_bwrap(venv, python, ["--seccomp", str(filter_fd)]),
            with_filter,
            (filter_fd,),
        ),
        "boxpy unlimited": (boxpy + ["-P", unlimited, "-c", "pass"], None, ()),
        "boxpy default": (boxpy + ["-c", "pass"], None, ()),
        "boxpy strict": (boxpy + ["-P", "strict", "-c", "pass"], None, ()),
    }
    timings = {name: [] for name in variants}
    names = list(variants)
    for _ in range(3):  # warm caches
        for name in names:
            command, prepare, fds = variants[name]
            if prepare:
                prepare()
            subprocess.run(command, check=True, cwd=work, pass_fds=fds)
    for _ in range(options.rounds):
        random.shuffle(names)
        for name in names:
            command, prepare, fds = variants[name]
            if prepare:
                prepare()
            start = time.perf_counter()
            subprocess.run(command, check=True, cwd=work, pass_fds=fds)
            timings[name].append(time.perf_counter() - start)

    base = statistics.median(timings["python"])
    sandbox = statistics.median(timings["bwrap"])
    print(f"{options.rounds} interleaved rounds on {os.cpu_count()} cores; medians")
    print(f"{'variant':<18}{'median ms':>10}{'x python':>10}{'x bwrap':>10}")
    for name in variants:
        median = statistics.median(timings[name])
        print(f"{name:<18}{median * 1000:>10.1f}{median / base:>10.2f}{median / sandbox:>10.2f}")


if __name__ == "__main__":
    main()
