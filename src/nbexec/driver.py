# boxpy's notebook driver. boxpy mounts this file read-only inside the sandbox and runs it
# with the venv's own interpreter; it executes the notebook with the venv's nbclient and
# ipykernel and reports to boxpy over file descriptor 6, one JSON object per line:
#   {"event": "start", "cells": M}                  code cells to run (injected cell excluded)
#   {"event": "cell_start", "index": N}             N counts the notebook's own code cells
#   {"event": "cell_end", "index": N, "status": "ok|failed|timeout|dead", "duration_ms": T,
#    "error": {...}, "execution_count": C}           error: ename, evalue, traceback, line
#   {"event": "notebook_begin", "bytes": B}         the executed notebook follows: B bytes
#   {"event": "notebook_part", "text": "..."}       of its text (Jupyter's own format), in
#   {"event": "notebook_end"}                        parts of at most PART characters
#   {"event": "notebook_too_large", "bytes": B}     instead, when B exceeds the budget
#   {"event": "missing", "module": "nbclient"}      the venv lacks nbclient/ipykernel/nbformat
#   {"event": "kernel_error", "kind": "not_installed|bad_kernelspec|died", "kernel": K,
#    "installed": [...], "message": "..."}          the kernel could not start (no cell ran)
#   {"event": "driver_error", "message": "..."}     anything unexpected, never a traceback
# Every line is short (boxpy refuses a line over 1 MiB): errors are cut to ERROR_TEXT
# characters, the notebook is sent in parts. Before anything else the driver makes itself
# not dumpable, so the kernel (its child, same user, no CAP_SYS_PTRACE) cannot open
# /proc/<driver>/fd/6 and write events of its own.
# It exits 0 whatever the cells did; boxpy decides the exit code. After a normal end it
# leaves with os._exit once everything is flushed: the kernel is already shut down.
import json
import os
import re
import sys
import time

CHANNEL_FD = 6
PART = 128 * 1024
ERROR_TEXT = 64 * 1024
PR_SET_DUMPABLE = 4
CONFIG = "/run/boxpy/nbexec/config.json"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def main(channel):
    def emit(**event):
        channel.write(json.dumps(event, ensure_ascii=False) + "\n")
        channel.flush()

    with open(CONFIG) as handle:
        config = json.load(handle)
    # Before the kernel exists: a non-dumpable process's /proc/PID/{fd,mem,environ} need
    # CAP_SYS_PTRACE, which nobody in the sandbox has. The kernel is exec'd, so it is
    # dumpable again and unaffected.
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")
    for variable, value in config["env"].items():
        os.environ[variable] = value
    # The policy's `MPLBACKEND = "Agg"` suits scripts; in a notebook it would keep plots
    # out of the outputs, so the kernel gets its inline backend instead.
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        del os.environ["MPLBACKEND"]
    for directory in config["private_dirs"]:
        os.makedirs(directory, exist_ok=True)

    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
        import ipykernel  # noqa: F401  (the kernel the client starts)
    except ImportError as error:
        emit(event="missing", module=(error.name or str(error)).split(".")[0])
        return

    import warnings

    # nbformat nags about missing cell ids; the output gets them from normalize().
    warnings.filterwarnings("ignore", module="nbformat")
    with open(config["input"], encoding="utf-8") as handle:
        notebook = nbformat.read(handle, as_version=4)
    try:
        from nbformat.validator import normalize

        _, notebook = normalize(notebook)
        notebook = nbformat.from_dict(notebook)
    except Exception:
        pass

    injected_at = inject_parameters(nbformat, notebook, config["parameters"])
    code_cells = [
        index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
    ]
    emit(event="start", cells=len(code_cells) - (1 if injected_at is not None else 0))

    kernel = config["kernel"] or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    problem = kernel_problem(kernel)
    if problem is not None:
        emit(event="kernel_error", kind=problem["kind"], kernel=kernel, installed=installed_kernels(), message=problem["message"])
        return
    KERNEL_STARTING.append(kernel)
    # TCP on the sandbox's private loopback (nothing outside can connect; with
    # network = "none" there is no other interface). The IPC transport would avoid TCP, but
    # nbclient's per-cell timeout does not fire over it. The kernel's warning about
    # unencrypted TCP is silenced: on a private loopback there is no one to eavesdrop.
    client = NotebookClient(
        notebook,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        timeout=config["cell_timeout"],
        kernel_name=kernel,
        allow_errors=False,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than --cell-timeout ({config['cell_timeout']}s)",
            "traceback": [],
        },
        resources={"metadata": {"path": config["cwd"]}},
    )
    failed = False
    number = 0
    with client.setup_kernel():
        KERNEL_STARTING.clear()
        for index in code_cells:
            cell = notebook.cells[index]
            injected = index == injected_at
            if not injected:
                number += 1
            label = "injected" if injected else number
            if failed:
                emit(event="cell_end", index=label, status="skipped", duration_ms=0)
                continue
            emit(event="cell_start", index=label)
            started = time.monotonic()
            status, error = "ok", None
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                status = "timeout"
                error = {"ename": "CellTimeoutError", "evalue": f"the cell ran longer than --cell-timeout ({config['cell_timeout']}s)"}
            except DeadKernelError as dead:
                status = "dead"
                error = {"ename": "DeadKernelError", "evalue": str(dead) or "the kernel died"}
            except CellExecutionError as failure:
                if getattr(failure, "ename", "") == "CellTimeoutError":
                    status = "timeout"
                    error = {"ename": failure.ename, "evalue": failure.evalue}
                else:
                    status = "failed"
                    error = cell_error(cell, failure)
            duration = int((time.monotonic() - started) * 1000)
            emit(event="cell_end", index=label, status=status, duration_ms=duration, error=cut(error), execution_count=cell.get("execution_count"))
            if status != "ok" and (status == "dead" or not config["allow_errors"]):
                failed = True
    send_notebook(emit, nbformat.writes(notebook) + "\n", config.get("notebook_budget"))


KERNEL_STARTING = []  # the kernel's name while it starts (its death then is a kernel_error)


def installed_kernels():
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return sorted(KernelSpecManager().find_kernel_specs())
    except Exception:
        return []


def kernel_problem(name):
    """Why the kernel `name` cannot start, before starting it: not installed, or a
    kernelspec whose program is missing. None when it looks startable."""
    import shutil

    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return {"kind": "not_installed", "message": f"no kernel named {name!r} is installed"}
    except Exception as error:
        return {"kind": "bad_kernelspec", "message": f"{type(error).__name__}: {error}"}
    program = (spec.argv or [""])[0]
    if program and "{" not in program and shutil.which(program) is None:
        return {"kind": "bad_kernelspec", "message": f"the kernel's program {program!r} does not exist"}
    return None


def send_notebook(emit, text, budget):
    """The executed notebook in Jupyter's own format, in parts; or, over the budget (the
    policy's `limits.output` plus the notebook's own size), only its size."""
    size = len(text.encode("utf-8", "replace"))
    if budget is not None and size > budget:
        emit(event="notebook_too_large", bytes=size)
        return
    emit(event="notebook_begin", bytes=size)
    for start in range(0, len(text), PART):
        emit(event="notebook_part", text=text[start : start + PART])
    emit(event="notebook_end")


def cut(error):
    """An error with its texts cut to ERROR_TEXT characters (a cell may raise with a huge
    message; the report needs its head)."""
    if error is None:
        return None
    return {
        key: value[:ERROR_TEXT] + "\n[cut]" if isinstance(value, str) and len(value) > ERROR_TEXT else value
        for key, value in error.items()
    }


def inject_parameters(nbformat, notebook, parameters):
    """papermill's rule: a new cell tagged `injected-parameters` after the cell tagged
    `parameters`, or first when there is none. Returns its index, or None."""
    if not parameters:
        return None
    import ast

    def resolve(kind, value):
        if kind == "json":  # YAML's values; a non-finite float is {"$float": ...}
            if isinstance(value, dict) and list(value) == ["$float"]:
                return float(value["$float"])
            if isinstance(value, dict):
                return {key: resolve("json", item) for key, item in value.items()}
            if isinstance(value, list):
                return [resolve("json", item) for item in value]
            return value
        if kind == "papermill":  # papermill's command line, then a Python literal
            if value in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[value]
            for number in (int, float):
                try:
                    return number(value)
                except (ValueError, OverflowError):
                    pass
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return value
        return value

    def source(value):  # repr, but a non-finite float as papermill writes it
        if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
            return f"float('{value}')"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{source(k)}: {source(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(source(item) for item in value) + "]"
        return repr(value)

    lines = ["# Parameters"]
    for name, kind, text in parameters:
        lines.append(f"{name} = {source(resolve(kind, text))}")
    cell = nbformat.v4.new_code_cell("\n".join(lines) + "\n")
    cell.metadata["tags"] = ["injected-parameters"]
    position = 0
    for index, existing in enumerate(notebook.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            position = index + 1
            break
    notebook.cells.insert(position, cell)
    return position


def cell_error(cell, failure):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            traceback = [ANSI.sub("", line) for line in output.get("traceback", [])]
            return {
                "ename": output.get("ename", "Error"),
                "evalue": output.get("evalue", ""),
                "traceback": "\n".join(traceback),
            }
    return {
        "ename": getattr(failure, "ename", "") or "Error",
        "evalue": getattr(failure, "evalue", "") or "the cell failed",
        "traceback": ANSI.sub("", getattr(failure, "traceback", "") or ""),
    }


if __name__ == "__main__":
    try:
        stream = os.fdopen(CHANNEL_FD, "w", encoding="utf-8", errors="replace", buffering=1)
        os.set_inheritable(CHANNEL_FD, False)
    except OSError:
        print("boxpy: the notebook driver must be started by `boxpy nbexec`", file=sys.stderr)
        sys.exit(125)
    try:
        main(stream)
        # The kernel has been shut down gracefully (its atexit handlers ran, its files are
        # flushed) and the notebook is sent: the driver's own interpreter teardown (the
        # ZeroMQ context, jupyter_client's threads) would only cost ~50 ms more.
        sys.stdout.flush()
        sys.stderr.flush()
        stream.flush()
        os._exit(0)
    except BaseException as error:  # boxpy reports it; never a traceback from the driver
        try:
            message = f"{type(error).__name__}: {error}"[:ERROR_TEXT]
            if KERNEL_STARTING:
                event = {"event": "kernel_error", "kind": "died", "kernel": KERNEL_STARTING[0], "installed": installed_kernels(), "message": message}
            else:
                event = {"event": "driver_error", "message": message}
            stream.write(json.dumps(event) + "\n")
            stream.flush()
        except Exception:
            pass
        sys.exit(0)
