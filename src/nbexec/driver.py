# boxpy's notebook driver. boxpy mounts this file read-only inside the sandbox and runs it
# with the venv's own interpreter; it executes the notebook with the venv's nbclient and
# ipykernel and reports to boxpy over file descriptor 6, one JSON object per line:
#   {"event": "start", "cells": M}                  code cells to run (injected cell excluded)
#   {"event": "cell_start", "index": N}             N counts the notebook's own code cells
#   {"event": "cell_end", "index": N, "status": "ok|failed|timeout|dead|skipped|interrupted",
#    "duration_ms": T, "error": {...}, "execution_count": C}  error: ename, evalue,
#                                                    traceback, line
#   {"event": "notebook_begin", "bytes": B}         the executed notebook follows: B bytes
#   {"event": "notebook_part", "text": "..."}       of its text (Jupyter's own format), in
#   {"event": "notebook_end"}                        parts of at most PART characters
#   {"event": "notebook_begin", "bytes": B, "snapshot": true}  a snapshot of the notebook
#                                                    (progressive saving), then its parts and
#                                                    notebook_end; cells go on after it
#   {"event": "notebook_too_large", "bytes": B}     instead, when B exceeds the budget (a
#                                                    snapshot over it is not sent at all)
#   {"event": "missing", "module": "nbclient"}      the venv lacks nbclient/ipykernel/nbformat
#   {"event": "kernel_error", "kind": "not_installed|bad_kernelspec|died", "kernel": K,
#    "installed": [...], "message": "..."}          the kernel could not start (no cell ran)
#   {"event": "driver_error", "message": "..."}     anything unexpected, never a traceback
# Every line is short (boxpy refuses a line over 1 MiB): errors are cut to ERROR_TEXT
# characters, the notebook is sent in parts. Before anything else the driver makes itself
# not dumpable, so the kernel (its child, same user, no CAP_SYS_PTRACE) cannot open
# /proc/<driver>/fd/6 and write events of its own.
# The notebook it sends is papermill's: parameters injected by papermill's rules and
# translator, every output of an earlier run cleared, `metadata.papermill` per notebook and
# per cell, papermill's error markers after a failure, `language_info` and widget state.
# The configuration (config.json): parameters as [name, kind, value] with kind "papermill"
# (or its old name "literal"), "raw" or "json"; prepare_only (no kernel), log_output,
# save_snapshots and autosave_every (progressive saving), input_path/output_path (for the
# metadata), the kernel, its cwd and timeouts.
# It exits 0 whatever the cells did; boxpy decides the exit code. After a normal end it
# leaves with os._exit once everything is flushed: the kernel is already shut down. On
# SIGINT or SIGTERM (boxpy forwards both) it interrupts the kernel, marks the running cell
# "interrupted", skips the rest, sends the notebook and then dies of the same signal.
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
# papermill's error markers (its execute.py): a banner on top of a notebook that failed and
# an anchor before the failed cell, both tagged so a later run removes them.
ERROR_MARKER_TAG = "papermill-error-cell-tag"
ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"'
ERROR_MESSAGE = f"<span {ERROR_STYLE}>An Exception was encountered at '<a href=\"#papermill-error-cell\">In [%s]</a>'.</span>"
ERROR_ANCHOR = f'<span id="papermill-error-cell" {ERROR_STYLE}>Execution using papermill encountered an exception here and stopped:</span>'
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
    # SIGINT and SIGTERM (boxpy forwards Ctrl-C and its own SIGTERM to the driver) interrupt
    # the running cell; the driver then saves what it has and ends by the same signal.
    interruption = Interruption()
    interruption.install()
    for variable, value in config["env"].items():
        os.environ[variable] = value
    # The policy's `MPLBACKEND = "Agg"` suits scripts; in a notebook it would keep plots
    # out of the outputs, so the kernel gets its inline backend instead.
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        del os.environ["MPLBACKEND"]
    for directory in config["private_dirs"]:
        os.makedirs(directory, exist_ok=True)
    # jupyter_client writes the kernel's connection file with tempfile: into Jupyter's
    # private runtime directory, not /tmp, where a killed run would leave it for the
    # discarded-files notice to name. Only the driver's own temporary files move.
    import tempfile

    tempfile.tempdir = config["env"].get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()

    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        if not config.get("prepare_only"):
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

    parameters = [(name, resolve(kind, value)) for name, kind, value in config["parameters"]]
    injected = inject_parameters(nbformat, notebook, parameters)
    budget = config.get("notebook_budget")
    record = Record(notebook, config, parameters)
    # The code cells as the channel numbers them (the injected cell is not counted).
    labels = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell is not injected:
            labels[id(cell)] = len(labels) + 1
    emit(event="start", cells=len(labels))

    def label(cell):
        return "injected" if cell is injected else labels[id(cell)]

    if config.get("prepare_only"):
        send_notebook(emit, nbformat.writes(notebook) + "\n", budget)
        interruption.end()
        return

    snapshots = config.get("save_snapshots", False)
    autosave_every = config.get("autosave_every") or 0
    last_save = [time.monotonic()]

    def snapshot():
        if snapshots:
            send_notebook(emit, nbformat.writes(notebook) + "\n", budget, snapshot=True)
            last_save[0] = time.monotonic()

    class Client(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            output = super().process_message(msg, cell, cell_index)
            if output is not None and config.get("log_output"):
                log_output(output)
            if snapshots and autosave_every and time.monotonic() - last_save[0] >= autosave_every:
                snapshot()
            return output

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
    client = Client(
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
    interruption.client = client
    stopped = False
    record.notebook_start()
    snapshot()
    with client.setup_kernel():
        KERNEL_STARTING.clear()
        # As NotebookClient.execute() does: the kernel's own language_info.
        try:
            reply = client.wait_for_reply(client.kc.kernel_info())
            if reply is not None and "language_info" in reply.get("content", {}):
                notebook.metadata["language_info"] = reply["content"]["language_info"]
        except Exception:
            pass
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                if not stopped:
                    record.cell_start(cell)
                    record.cell_complete(cell)
                continue
            if stopped or interruption.signal is not None:
                stopped = True
                emit(event="cell_end", index=label(cell), status="skipped", duration_ms=0)
                continue
            emit(event="cell_start", index=label(cell))
            record.cell_start(cell)
            snapshot()
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
                if interruption.signal is not None and getattr(failure, "ename", "") == "KeyboardInterrupt":
                    status = "interrupted"
                    error = None
                elif getattr(failure, "ename", "") == "CellTimeoutError":
                    status = "timeout"
                    error = {"ename": failure.ename, "evalue": failure.evalue}
                else:
                    status = "failed"
                    error = cell_error(cell, failure)
            duration = int((time.monotonic() - started) * 1000)
            if status != "ok":
                record.cell_exception(cell)
            record.cell_complete(cell)
            emit(event="cell_end", index=label(cell), status=status, duration_ms=duration, error=cut(error), execution_count=cell.get("execution_count"))
            if status == "interrupted" or interruption.signal is not None:
                stopped = True
            elif status != "ok" and (status == "dead" or not config["allow_errors"]):
                stopped = True
            if not stopped:
                snapshot()
        try:
            client.set_widgets_metadata()
        except Exception:
            pass
    record.notebook_complete()
    send_notebook(emit, nbformat.writes(notebook) + "\n", budget)
    interruption.end()


class Interruption:
    """SIGINT and SIGTERM while the notebook runs: the first interrupts the kernel (SIGINT
    to its process group: the running cell raises KeyboardInterrupt) and stops the run after
    that cell; a second one ends the driver at once. The kernel runs in a session of its
    own, so a SIGINT to the driver's process group does not reach it."""

    def __init__(self):
        self.signal = None
        self.client = None

    def install(self):
        import signal

        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, self.handle)

    def handle(self, number, frame):
        import signal

        if self.signal is not None:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        self.signal = number
        provisioner = getattr(getattr(self.client, "km", None), "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if pid:
            try:
                os.killpg(os.getpgid(pid), signal.SIGINT)
            except OSError:
                pass

    def end(self):
        """After an interruption, the driver ends by the same signal (boxpy exits 130/143,
        as `boxpy run` does)."""
        if self.signal is None:
            return
        import signal

        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(self.signal, signal.SIG_DFL)
        os.kill(os.getpid(), self.signal)


class Record:
    """papermill's metadata (`metadata.papermill`, per notebook and per cell), kept as
    papermill's NotebookExecutionManager keeps it, and its error marker cells."""

    PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"

    def __init__(self, notebook, config, parameters):
        self.notebook = notebook
        self.started = None
        # Each running cell's start (monotonic), by id: a NotebookNode's attributes are
        # its keys, which would be saved.
        self.clocks = {}
        # papermill's own markers from an earlier run go first.
        notebook.cells = [
            cell for cell in notebook.cells if ERROR_MARKER_TAG not in cell.get("metadata", {}).get("tags", [])
        ]
        metadata = dict(notebook.metadata.get("papermill", {}))
        for key in ("default_parameters", "parameters", "environment_variables"):
            metadata.setdefault(key, {})
        if parameters:
            metadata["parameters"] = {name: recorded(value) for name, value in parameters}
        metadata["input_path"] = config.get("input_path")
        metadata["output_path"] = config.get("output_path")
        metadata.update(start_time=None, end_time=None, duration=None, exception=None)
        notebook.metadata["papermill"] = metadata
        # Nothing of an earlier run stays: no output, no count, every cell pending.
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.execution_count = None
                cell.outputs = []
                cell.metadata.pop("execution", None)
            cell.metadata["papermill"] = self.pending()

    def pending(self):
        return {"exception": None, "start_time": None, "end_time": None, "duration": None, "status": self.PENDING}

    @staticmethod
    def now():
        import datetime

        return datetime.datetime.now(datetime.timezone.utc)

    def notebook_start(self):
        self.started = self.now()
        self.notebook.metadata.papermill["start_time"] = self.started.isoformat()

    def cell_start(self, cell):
        cell.metadata.papermill["start_time"] = self.now().isoformat()
        cell.metadata.papermill["status"] = self.RUNNING
        cell.metadata.papermill["exception"] = False
        self.clocks[id(cell)] = time.monotonic()

    def cell_exception(self, cell):
        cell.metadata.papermill["exception"] = True
        cell.metadata.papermill["status"] = self.FAILED
        self.notebook.metadata.papermill["exception"] = True

    def cell_complete(self, cell):
        cell.metadata.papermill["end_time"] = self.now().isoformat()
        started = self.clocks.pop(id(cell), None)
        if started is not None:
            cell.metadata.papermill["duration"] = round(time.monotonic() - started, 6)
        if cell.metadata.papermill["status"] != self.FAILED:
            cell.metadata.papermill["status"] = self.COMPLETED

    def notebook_complete(self):
        import nbformat

        ended = self.now()
        metadata = self.notebook.metadata.papermill
        metadata["end_time"] = ended.isoformat()
        if self.started is not None:
            metadata["duration"] = (ended - self.started).total_seconds()
        # papermill's error markers: a banner on top naming the failed cell's count, an
        # anchor just before it.
        for index, cell in enumerate(self.notebook.cells):
            if cell.metadata.papermill.get("status") != self.FAILED:
                continue
            banner = nbformat.v4.new_markdown_cell(ERROR_MESSAGE % cell.get("execution_count"))
            anchor = nbformat.v4.new_markdown_cell(ERROR_ANCHOR)
            for marker in (banner, anchor):
                marker.metadata["tags"] = [ERROR_MARKER_TAG]
            self.notebook.cells.insert(index, anchor)
            self.notebook.cells.insert(0, banner)
            break


def log_output(output):
    """--log-output: what a cell prints (and its text results) to stderr as it arrives."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif "text/plain" in output.get("data", {}):
        text = output["data"]["text/plain"]
        text = "".join(text) if isinstance(text, list) else text
        text += "\n"
    else:
        return
    sys.stderr.write("".join(text) if isinstance(text, list) else text)
    sys.stderr.flush()


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


def send_notebook(emit, text, budget, snapshot=False):
    """The executed notebook in Jupyter's own format, in parts; or, over the budget (the
    policy's `limits.output` plus the notebook's own size), only its size. A snapshot
    (progressive saving) over the budget is not sent at all."""
    size = len(text.encode("utf-8", "replace"))
    if budget is not None and size > budget:
        if not snapshot:
            emit(event="notebook_too_large", bytes=size)
        return
    if snapshot:
        emit(event="notebook_begin", bytes=size, snapshot=True)
    else:
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


def resolve(kind, value):
    """A parameter's value from the configuration (see the header): "papermill" (and its
    old name "literal") resolves the -p text as papermill's command line does, then as a
    Python literal; "raw" is the string itself; "json" is a value from YAML, where a
    non-finite float is {"$float": "nan" | "inf" | "-inf"}."""
    if kind == "raw":
        return value
    if kind == "json":
        return from_json(value)
    if value == "True":
        return True
    if value == "False":
        return False
    if value == "None":
        return None
    for number in (int, float):
        try:
            return number(value)
        except (ValueError, OverflowError):
            pass
    import ast

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def from_json(value):
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value and value["$float"] in ("nan", "inf", "-inf"):
            return float(value["$float"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def recorded(value):
    """A value as `metadata.papermill.parameters` records it: as papermill does, except
    that a non-finite float is its name ("nan", "inf", "-inf"): NaN and Infinity are not
    JSON, and boxpy (and other strict readers) would refuse the saved notebook."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): recorded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [recorded(item) for item in value]
    if isinstance(value, (set, frozenset, complex, bytes)):
        return repr(value)
    return value


def translate_str(value):
    """papermill's string escaping (`translate_escaped_str`)."""
    if isinstance(value, str):
        value = value.encode("unicode_escape").decode("utf-8").replace('"', r"\"")
    return f'"{value}"'


def translate(value):
    """A value as Python source, as papermill's PythonTranslator writes it (a float that is
    not finite is `float('nan')`, `float('inf')`, `float('-inf')`); the literals papermill's
    command line never produces (tuples, sets, complex numbers, bytes) as Python writes them."""
    import math

    if value is None:
        return "None"
    if isinstance(value, str):
        return translate_str(value)
    if isinstance(value, (bool, int)):
        return f"{value}"
    if isinstance(value, float):
        if math.isfinite(value):
            return f"{value}"
        if math.isnan(value):
            return "float('nan')"
        return "float('-inf')" if value < 0 else "float('inf')"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{translate_str(key)}: {translate(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(translate(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(translate(item) + ", " for item in value).rstrip(" ") + ")"
    if isinstance(value, (set, frozenset)) and value:
        return "{" + ", ".join(translate(item) for item in value) + "}"
    if isinstance(value, (set, frozenset, complex, bytes)):
        return repr(value)
    return translate_str(value)


def inject_parameters(nbformat, notebook, parameters):
    """papermill's `parameterize_notebook`: a new cell tagged `injected-parameters` replaces
    the first cell so tagged (an earlier run's), else follows the first cell tagged
    `parameters`, else goes first. Returns the new cell, or None."""
    if not parameters:
        return None
    source = "# Parameters\n" + "".join(f"{name} = {translate(value)}\n" for name, value in parameters)
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]

    def first(tag):
        for index, existing in enumerate(notebook.cells):
            if tag in existing.get("metadata", {}).get("tags", []):
                return index
        return None

    injected, tagged = first("injected-parameters"), first("parameters")
    if injected is not None:
        # The earlier cell's id stays: a rerun's diff shows the new values, not a new id.
        if "id" in notebook.cells[injected]:
            cell["id"] = notebook.cells[injected]["id"]
        notebook.cells[injected] = cell
    else:
        notebook.cells.insert(0 if tagged is None else tagged + 1, cell)
    return cell


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
