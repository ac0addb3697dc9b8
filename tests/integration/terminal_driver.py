"""A user at an interactive shell, for boxpy's terminal tests.

Usage: python3 terminal_driver.py SCENARIO BOXPY [ARGS]...

The driver makes a pseudo-terminal and becomes the session leader that owns it (as a login
shell does), so job control is real: it starts boxpy in a process group of its own, either
in the terminal's foreground (`fg`) or in the background with the driver's own group in the
foreground (`bg`), types on the master side as a user would, and reads the terminal's
settings and window size before and after. boxpy's stdout and stderr are pipes the driver
reads. It prints one JSON object on its stdout.

Scenarios:
- `bg`: boxpy in the background; once the program prints READY the user types
  `secret\\n` and the shell (the driver, in the foreground) reads its next line; then the
  driver creates `go` in its working directory (the program's workdir) and waits.
- `fg-input`: boxpy in the foreground; the user answers `input()` (prompt READY?) with
  `alice`, then a `getpass` (typed once the terminal's echo is off, within a deadline).
- `fg-end`: boxpy in the foreground; once the program prints CHANGED the driver waits
  (within a deadline) for the terminal to show the program's mode, then creates `go`
  (or, with BOXPY_TEST_END=sigint, types Ctrl-C).
- `fg-suspend`: boxpy in the foreground, the program in `getpass` (after READY); the user
  types Ctrl-Z, the shell takes the terminal back with its own settings, then brings boxpy
  back (`fg`); the password is typed once echo is off again.
- `fg-pager`: boxpy in the foreground; once the program prints READY another process of
  the job (a pager) sets the terminal's modes; then `go`.
- `fg-plain`: boxpy in the foreground; nothing typed.
- `fg-pts`: boxpy in the foreground; once the program prints READY the driver lists the
  host's `/dev/pts` nodes that carry the program's marks (mode 0606 or mtime 12345) in
  `host_pts_marked`, then creates `go`.
"""

import fcntl
import json
import os
import select
import signal
import struct
import sys
import termios
import time

DEADLINE = 60.0


def settings(fd):
    attributes = termios.tcgetattr(fd)
    attributes[6] = [c if isinstance(c, int) else ord(c) for c in attributes[6]]
    return attributes


def window(fd):
    return list(struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)))


def main():
    scenario = sys.argv[1]
    command = sys.argv[2:]
    ending = os.environ.get("BOXPY_TEST_END", "")
    # A session of our own, with the pseudo-terminal as its controlling terminal.
    os.setsid()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    before = settings(slave)
    before_size = window(slave)

    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    foreground = scenario != "bg"
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        if foreground:
            os.tcsetpgrp(slave, os.getpid())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        signal.signal(signal.SIGTTIN, signal.SIG_DFL)
        os.dup2(slave, 0)
        os.dup2(out_write, 1)
        os.dup2(err_write, 2)
        for fd in (master, slave, out_read, out_write, err_read, err_write):
            os.close(fd)
        os.execv(command[0], command)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    if foreground:
        try:
            os.tcsetpgrp(slave, pid)
        except OSError:
            pass
    os.close(out_write)
    os.close(err_write)

    streams = {out_read: b"", err_read: b""}
    open_streams = {out_read, err_read}
    echoed = bytearray()
    started = time.monotonic()
    status = None
    stopped = False
    report = {"scenario": scenario}

    def pump(timeout):
        """Reads what is there (boxpy's output, the terminal's echo) for up to `timeout`."""
        readable, _, _ = select.select(sorted(open_streams) + [master], [], [], timeout)
        for fd in readable:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if fd == master:
                echoed.extend(data)
            elif data:
                streams[fd] += data
            else:
                open_streams.discard(fd)

    def stdout_text():
        return streams[out_read].decode(errors="replace")

    def stderr_text():
        return streams[err_read].decode(errors="replace")

    def wait_for(condition, what):
        while not condition():
            if time.monotonic() - started > DEADLINE:
                report.setdefault("missed", []).append(what)
                return False
            if not reap():
                pump(0.02)
            else:
                return condition()
        return True

    def reap():
        nonlocal status, stopped
        if status is not None:
            return True
        done, raw = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
        if done == 0:
            return False
        if os.WIFSTOPPED(raw):
            stopped = True
            os.killpg(pid, signal.SIGCONT)
            return False
        status = raw
        return True

    def touch_go():
        with open("go", "w"):
            pass

    if scenario == "bg":
        if wait_for(lambda: "READY" in stdout_text(), "READY"):
            os.write(master, b"secret\n")
            got = b""
            while b"\n" not in got and time.monotonic() - started < DEADLINE:
                readable, _, _ = select.select([slave], [], [], 10)
                if not readable:
                    break
                got += os.read(slave, 100)
                pump(0)
            report["shell_read"] = got.decode(errors="replace")
        touch_go()
    elif scenario == "fg-input":
        if wait_for(lambda: "READY?" in stdout_text(), "READY?"):
            os.write(master, b"alice\n")
        if wait_for(lambda: "GOT:" in stdout_text(), "GOT"):
            report["echo_off_seen"] = wait_for(
                lambda: not settings(slave)[3] & termios.ECHO, "echo off"
            )
            mark = len(echoed)
            os.write(master, b"hunter2\n")
            wait_for(lambda: "PASSWORD:" in stdout_text(), "PASSWORD")
            pump(0.1)
            report["echo_after_password"] = bytes(echoed[mark:]).decode(errors="replace")
    elif scenario == "fg-suspend":
        if wait_for(lambda: "READY" in stdout_text(), "READY"):
            report["echo_off_seen"] = wait_for(
                lambda: not settings(slave)[3] & termios.ECHO, "echo off"
            )
            os.write(master, b"\x1a")
            suspended = False
            while time.monotonic() - started < DEADLINE:
                done, raw = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
                if done and os.WIFSTOPPED(raw):
                    suspended = True
                    break
                if done:
                    status = raw
                    break
                pump(0.02)
            report["suspended"] = suspended
            # As bash does for a stopped job: take the terminal back with the shell's own
            # settings; then `fg`.
            os.tcsetpgrp(slave, os.getpgrp())
            termios.tcsetattr(slave, termios.TCSANOW, before)
            os.tcsetpgrp(slave, pid)
            os.killpg(pid, signal.SIGCONT)
            report["echo_off_again"] = wait_for(
                lambda: not settings(slave)[3] & termios.ECHO, "echo off again"
            )
            mark = len(echoed)
            os.write(master, b"hunter2\n")
            wait_for(lambda: "PASSWORD:" in stdout_text(), "PASSWORD")
            pump(0.1)
            report["echo_after_password"] = bytes(echoed[mark:]).decode(errors="replace")
    elif scenario == "fg-pager":
        if wait_for(lambda: "READY" in stdout_text(), "READY"):
            # Another process of the job (a pager) puts the terminal in its own mode.
            pager = settings(slave)
            pager[3] &= ~(termios.ECHO | termios.ICANON)
            pager[6][termios.VMIN] = 1
            pager[6][termios.VTIME] = 0
            termios.tcsetattr(slave, termios.TCSANOW, pager)
            report["pager_settings"] = settings(slave)
            touch_go()
    elif scenario == "fg-pts":
        if wait_for(lambda: "READY" in stdout_text(), "READY"):
            marked = []
            for name in sorted(os.listdir("/dev/pts")):
                try:
                    node = os.lstat(os.path.join("/dev/pts", name))
                except OSError:
                    continue
                if node.st_mode & 0o7777 == 0o606 or int(node.st_mtime) == 12345:
                    marked.append([name, oct(node.st_mode), int(node.st_mtime)])
            report["host_pts_marked"] = marked
            touch_go()
    elif scenario == "fg-end":
        if wait_for(lambda: "CHANGED" in stdout_text(), "CHANGED"):
            report["mode_seen"] = wait_for(
                lambda: not settings(slave)[3] & termios.ECHO, "mode on the terminal"
            )
            if ending == "sigint":
                os.write(master, b"\x03")
            else:
                touch_go()

    while not reap():
        if time.monotonic() - started > DEADLINE:
            report.setdefault("missed", []).append("exit")
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -1
            break
        pump(0.05)
    # The shell takes the terminal back, then looks at it.
    try:
        os.tcsetpgrp(slave, os.getpgrp())
    except OSError as error:
        report["tcsetpgrp"] = str(error)
    while open_streams:
        pump(0.2)
        if time.monotonic() - started > DEADLINE:
            break
    if status is not None and status >= 0:
        if os.WIFEXITED(status):
            report["exit_code"] = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            report["signal"] = os.WTERMSIG(status)
    report["stopped"] = stopped
    report["settings_before"] = before
    report["settings_after"] = settings(slave)
    report["size_before"] = before_size
    report["size_after"] = window(slave)
    report["stdout"] = stdout_text()
    report["stderr"] = stderr_text()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
