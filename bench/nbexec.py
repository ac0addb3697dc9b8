#!/usr/bin/env python3
"""`boxpy nbexec` against unsandboxed `jupyter execute` on the same venv and notebook.

    python3 bench/nbexec.py [--rounds N] [--boxpy PATH] [--venv DIR]

The venv needs nbclient and ipykernel (created under target/bench-venvs/jupyter when
--venv is not given). Rounds are interleaved and shuffled; the report is medians and the
ratio. A benchmark, not a test: quote ratios measured in one run.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def notebook():
    cells = [
        "import math, json\nvalues = [math.sqrt(n) for n in range(10000)]",
        "total = sum(values)\nprint(round(total, 3))",
        "data = {'n': len(values), 'total': total}\nprint(json.dumps(data))",
        "for i in range(3):\n    print('line', i)",
    ]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
            for i, source in enumerate(cells)
        ],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--boxpy", default=os.path.join(ROOT, "target", "release", "boxpy"))
    parser.add_argument("--venv", default=os.path.join(ROOT, "target", "bench-venvs", "jupyter"))
    options = parser.parse_args()
    if not os.path.exists(options.boxpy):
        sys.exit(f"no boxpy at {options.boxpy}: run `cargo build --release` first")
    if not os.path.exists(os.path.join(options.venv, "bin", "jupyter-execute")):
        subprocess.run(["/usr/bin/python3", "-m", "venv", options.venv], check=True)
        subprocess.run([os.path.join(options.venv, "bin", "python"), "-m", "pip", "install", "-q", "nbclient", "ipykernel"], check=True)

    work = tempfile.mkdtemp(prefix="boxpy-nbbench-")
    path = os.path.join(work, "bench.ipynb")
    with open(path, "w") as handle:
        json.dump(notebook(), handle)
    variants = {
        "jupyter execute": [os.path.join(options.venv, "bin", "jupyter-execute"), path],
        "boxpy nbexec": [options.boxpy, "nbexec", "--venv", options.venv, "-q", path],
    }
    timings = {name: [] for name in variants}
    names = list(variants)
    for name in names:  # warm caches
        subprocess.run(variants[name], check=True, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(options.rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            subprocess.run(variants[name], check=True, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["jupyter execute"])
    print(f"{options.rounds} interleaved rounds, a 4-cell notebook; medians")
    for name in variants:
        median = statistics.median(timings[name])
        print(f"{name:<18}{median * 1000:>9.0f} ms{median / base:>8.2f}x")


if __name__ == "__main__":
    main()
