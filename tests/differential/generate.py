#!/usr/bin/env python3
"""Generate the differential corpus: failing Python programs, from a fixed seed.

Each case is a directory holding `main.py` (the program boxpy runs), perhaps helper
modules, and `case.json`:

  {"name": "0042-chain", "class": "chain", "env": {...}, "ambiguous": null | "reason"}

`ambiguous` names why stderr alone cannot tell what CPython knows (text written after the
report, a message line shaped like what Python prints after a report, a forged report):
there boxpy's answer is allowed to differ only in the way the reason says (see `run`).

The programs cover the traceback grammar of CPython 3.8-3.13: chained and suppressed
context, causes never raised, exception groups (nested, wide, with chains and notes),
notes, SyntaxError / IndentationError / TabError in the script, in an imported module
and from compile()/exec()/eval() (real, made-up, empty and newline file names), frames
without source (a deleted module, code compiled under the script's name over blank
lines), recursion, exceptions in threads, traceback.print_exc() and logging.exception()
before the real failure, SystemExit with odd values, KeyboardInterrupt, invalid UTF-8
and lone surrogates in messages, classes defined in functions, custom __qualname__ and
__module__, messages with blank lines, leading newlines, trailing spaces and lines shaped
like frames. Programs that need 3.11+ (add_note, ExceptionGroup) fail differently on
older interpreters, which is a case too.

Usage: generate.py OUTDIR [--seed N] [--count N]
"""

import json
import os
import random
import sys

DEFAULT_SEED = 20251203
DEFAULT_COUNT = 490


def q(text):
    """A Python string literal for text."""
    return repr(text)


class Gen:
    def __init__(self, rng):
        self.r = rng

    def choice(self, items):
        return self.r.choice(items)

    # ---- pieces -------------------------------------------------------------------

    def message(self, plain_only=False):
        """A message text, as an expression (some are not plain literals)."""
        r = self.r
        word = self.choice(["bad port", "disk full", "no such column 'id'", "x", "Ünïcode ✓",
                            "value: 3", "ValueError: nested", "a=1, b=2", "tab\there", "  indented",
                            "trailing spaces   ", "", "42", "'quoted'", "path /tmp/x.csv"])
        if plain_only:
            return q(word)
        kind = r.randrange(12)
        if kind == 0:
            return q(word + "\n\n\n" + self.choice(["b", "second part", "  deep"]))
        if kind == 1:
            return q("first\n  File \"e.py\", line 9, in f\n" + self.choice(["last", "    source()", ""]))
        if kind == 2:
            return q("\n" + word + "\nafter")
        if kind == 3:
            return q("line one\nline two   \n\nline four")
        if kind == 4:
            return "b'\\xff\\xfe'.decode('utf-8', 'surrogateescape') + " + q(word)
        if kind == 5:
            return q(word * r.randrange(1, 40))
        if kind == 6:
            return q("Traceback-ish: (most recent call last)\n" + word)
        return q(word)

    def exc_class(self):
        return self.choice(["ValueError", "RuntimeError", "KeyError", "TypeError", "OSError",
                            "LookupError", "AssertionError", "NotImplementedError", "TimeoutError",
                            "PermissionError", "UnicodeError", "ZeroDivisionError", "Exception"])

    def raise_stmt(self, plain_only=False):
        return "raise %s(%s)" % (self.exc_class(), self.message(plain_only))

    def runtime_error_stmt(self):
        return self.choice([
            "1 / 0",
            "{}['missing']",
            "[][3]",
            "None.attribute",
            "int('x')",
            "undefined_nam",
            "len(5)",
            "import no_such_module_xyz",
            "from os import no_such_name",
            "open('no-such-file.txt')",
            "'a' + 1",
            "import os; os.no_such_attr",
            "[1, 2].appendd(3)",
            "assert 1 == 2, 'numbers differ'",
            "assert False",
            "raise KeyError",
            "raise ValueError()",
            "b'\\xff'.decode('utf-8')",
            "import json; json.loads('{bad')",
            "import math; math.sqrt(-1)",
            "raise StopIteration",
            "next(iter([]))",
            "import collections; collections.OrderedDict().popitem()",
        ])

    def call_chain(self, body, depth, lines):
        """Nest `body` depth functions deep; return the call expression."""
        names = ["f%d" % i for i in range(depth)]
        for index, name in enumerate(names):
            lines.append("def %s():" % name)
            if index + 1 < len(names):
                lines.append("    return %s()" % names[index + 1])
            else:
                for stmt in body.split("\n"):
                    lines.append("    " + stmt)
            lines.append("")
        return names[0] + "()"

    # ---- classes of programs ------------------------------------------------------------

    def simple(self):
        lines = []
        body = self.raise_stmt() if self.r.random() < 0.5 else self.runtime_error_stmt()
        call = self.call_chain(body, self.r.randrange(1, 5), lines)
        lines.append(call)
        return {"main.py": "\n".join(lines) + "\n"}, {}

    def helper_module(self):
        files = {}
        lines = ["import helpers.deep as deep", ""]
        body = self.raise_stmt() if self.r.random() < 0.5 else self.runtime_error_stmt()
        helper = []
        call = self.call_chain(body, self.r.randrange(1, 4), helper)
        helper.append("def entry():\n    return %s\n" % call)
        files["helpers/__init__.py"] = ""
        files["helpers/deep.py"] = "\n".join(helper) + "\n"
        lines.append("deep.entry()")
        files["main.py"] = "\n".join(lines) + "\n"
        return files, {}

    def stdlib_raise(self):
        stmt = self.choice([
            "import json; json.loads('[1, 2')",
            "import shutil; shutil.copy('missing-a', 'missing-b')",
            "import subprocess; subprocess.run(['no-such-program-xyz'])",
            "import base64; base64.b64decode('abc')",
            "import fractions; fractions.Fraction(1, 0)",
            "import ipaddress; ipaddress.ip_address('999.1.1.1')",
            "import datetime; datetime.date(2020, 13, 1)",
            "import csv, io; list(csv.reader(io.StringIO('a,\"b')), strict=True)",
            "import urllib.parse; urllib.parse.urlsplit('http://[::1')",
            "import tomllib; tomllib.loads('a = ')",
        ])
        lines = []
        call = self.call_chain(stmt, self.r.randrange(1, 3), lines)
        lines.append(call)
        return {"main.py": "\n".join(lines) + "\n"}, {}

    def custom_class(self):
        kind = self.r.randrange(8)
        msg = self.message()
        if kind == 0:
            code = "def f():\n    class E(Exception):\n        pass\n    raise E(%s)\n\nf()\n" % msg
        elif kind == 1:
            code = ("class Service:\n    def run(self):\n        class Failure(RuntimeError):\n            pass\n"
                    "        raise Failure(%s)\n\nService().run()\n" % msg)
        elif kind == 2:
            code = ("class E(Exception):\n    pass\n\nE.__qualname__ = %s\nraise E(%s)\n"
                    % (q(self.choice(["E[int]", "Generic[T]", "name with spaces", "Outer.Inner"])), msg))
        elif kind == 3:
            code = ("class E(Exception):\n    pass\n\nE.__module__ = %s\nraise E(%s)\n"
                    % (q(self.choice(["my mod", "pkg.sub", "builtins", "app.errors"])), msg))
        elif kind == 4:
            code = "class Outer:\n    class Inner(ValueError):\n        pass\n\nraise Outer.Inner(%s)\n" % msg
        elif kind == 5:
            code = ("class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no str')\n\n"
                    "raise E()\n")
        elif kind == 6:
            code = ("class E(Exception):\n    def __str__(self):\n        return %s\n\nraise E('ignored')\n" % msg)
        else:
            code = ("import socket\nraise socket.gaierror(-2, 'Name or service not known')\n")
        return {"main.py": code}, {}

    def chain(self):
        r = self.r
        length = r.randrange(2, 5)
        lines = []
        indent = ""
        # Build nested try/excepts: the innermost raises first.
        for level in range(length - 1):
            lines.append(indent + "try:")
            indent += "    "
        first = self.raise_stmt() if r.random() < 0.6 else self.runtime_error_stmt()
        lines.append(indent + first)
        for level in range(length - 1):
            indent = indent[:-4]
            lines.append(indent + "except BaseException as error%d:" % level)
            how = r.randrange(5)
            stmt = self.raise_stmt(plain_only=r.random() < 0.5)
            if how == 0:
                lines.append(indent + "    " + stmt + " from error%d" % level)
            elif how == 1:
                lines.append(indent + "    " + stmt + " from None")
            elif how == 2:
                lines.append(indent + "    " + stmt + " from %s(%s)" % (self.exc_class(), self.message(True)))
            elif how == 3:
                lines.append(indent + "    " + self.runtime_error_stmt())
            else:
                lines.append(indent + "    " + stmt)
        body = "\n".join(lines)
        out = []
        call = self.call_chain(body, r.randrange(1, 3), out)
        out.append(call)
        return {"main.py": "\n".join(out) + "\n"}, {}

    def blank_source(self):
        """Code compiled under the script's own name: its lines are the script's, blank."""
        r = self.r
        pad = "\n" * r.randrange(1, 4)
        inner = self.choice(["1/0", "{}['k']", "raise ValueError('v')", "x = undefined"])
        code = ("code = compile(%s, __file__, 'exec')\n\n\n\n\n\n" % q(pad + inner + "\n"))
        if r.random() < 0.6:
            code += ("try:\n    exec(code, {})\nexcept BaseException:\n    %s\n" % self.choice(
                ["{}['second']", "raise KeyError('k')", "raise RuntimeError('during')"]))
        else:
            code += "exec(code, {})\n"
        return {"main.py": code}, {}

    def notes(self):
        r = self.r
        note_exprs = [self.message() for _ in range(r.randrange(1, 4))]
        adds = "\n".join("    error.add_note(%s)" % note for note in note_exprs)
        code = ("def work():\n    %s\n\ntry:\n    work()\nexcept Exception as error:\n%s\n    raise\n"
                % (self.raise_stmt(), adds))
        return {"main.py": code}, {}

    def group(self, depth=0):
        r = self.r
        width = r.choice([1, 2, 3, 2, 17]) if depth == 0 else r.randrange(1, 4)
        members = []
        for _ in range(width):
            kind = r.randrange(6)
            if kind == 0 and depth < 3:
                members.append(self.group(depth + 1))
            elif kind == 1:
                members.append("raised(%s(%s))" % (self.exc_class(), self.message(True)))
            elif kind == 2:
                members.append("noted(%s(%s), %s)" % (self.exc_class(), self.message(True), self.message()))
            elif kind == 3:
                members.append("chained(%s(%s))" % (self.exc_class(), self.message(True)))
            else:
                members.append("%s(%s)" % (self.exc_class(), self.message()))
        cls = "BaseExceptionGroup" if r.random() < 0.2 else "ExceptionGroup"
        if cls == "BaseExceptionGroup" and r.random() < 0.5:
            members.append("KeyboardInterrupt()")
        return "%s(%s, [%s])" % (cls, self.message(True), ", ".join(members))

    def exception_group(self):
        prelude = (
            "def raised(error):\n    try:\n        raise error\n    except BaseException as caught:\n        return caught\n\n"
            "def noted(error, note):\n    error.add_note(note)\n    return error\n\n"
            "def chained(error):\n    try:\n        try:\n            1 / 0\n        except ZeroDivisionError as inner:\n"
            "            raise error from inner\n    except BaseException as caught:\n        return caught\n\n"
        )
        tail = "def run():\n    raise %s\n\nrun()\n" % self.group()
        if self.r.random() < 0.3:
            tail = ("def run():\n    try:\n        1 / 0\n    except ZeroDivisionError:\n        raise %s\n\nrun()\n"
                    % self.group())
        return {"main.py": prelude + tail}, {}

    def syntax(self):
        r = self.r
        bad = self.choice([
            ("SyntaxError", "x = (1,\n"),
            ("SyntaxError", "def f(:\n    pass\n"),
            ("SyntaxError", "print 'hello'\n"),
            ("SyntaxError", "a = 1 +\n"),
            ("SyntaxError", "x = [1, 2\ny = 3\n"),
            ("SyntaxError", "f(**)\n"),
            ("SyntaxError", "x = 'unterminated\n"),
            ("SyntaxError", "return 5\n"),
            ("SyntaxError", "for x in range(3):\nbreak\n"),
            ("SyntaxError", "class:\n"),
            ("SyntaxError", "x = 1\n\n\n  \n    y = (\n"),
            ("IndentationError", "def f():\nreturn 1\n"),
            ("IndentationError", "if True:\n    x = 1\n      y = 2\n"),
            ("IndentationError", "x = 1\n    y = 2\n"),
            ("TabError", "if True:\n\tx = 1\n        y = 2\n"),
            ("SyntaxError", "x = 0o8\n"),
            ("SyntaxError", "\u00e9t\u00e9 = 'ok'\nx = \u00e9t\u00e9 +\n"),
        ])[1]
        where = r.randrange(6)
        if where == 0:
            return {"main.py": "# a script that does not compile\n" + bad}, {}
        if where == 1:
            return {"main.py": "import broken\n", "broken.py": bad}, {}
        if where == 2:
            filename = self.choice(["config.py", "<string>", "", "a\nb.py", "gen/\u00fcnicode.py", "main.py"])
            return {"main.py": "source = %s\ncompile(source, %s, 'exec')\n" % (q(bad), q(filename))}, {}
        if where == 3:
            return {"main.py": "exec(%s)\n" % q(bad)}, {}
        if where == 4:
            return {"main.py": "eval(%s)\n" % q(self.choice(["1 +", "(", "x y", "lambda: (yield)", "f'{'"]))}, {}
        return {"main.py": "def load():\n    import pkg.broken\n\nload()\n", "pkg/__init__.py": "",
                "pkg/broken.py": bad}, {}

    def exec_runtime(self):
        filename = self.choice(["<string>", "gen.py", "", "a\nb.py", "main.py", "<template>", "helper.py"])
        inner = self.choice(["1/0", "raise ValueError('in exec')", "{}['k']", "def g():\n    raise KeyError('g')\ng()"])
        code = "code = compile(%s, %s, 'exec')\nexec(code, {})\n" % (q(inner + "\n"), q(filename))
        files = {"main.py": code}
        if filename == "helper.py":
            files["helper.py"] = "# a real file with other lines\n\n\n\n"
        return files, {}

    def no_source(self):
        code = ("import os, sys\nsys.dont_write_bytecode = True\nimport vanishing\n"
                "os.remove(vanishing.__file__)\nvanishing.boom()\n")
        helper = "def boom():\n    %s\n" % self.raise_stmt(plain_only=True)
        return {"main.py": code, "vanishing.py": helper}, {}

    def recursion(self):
        kind = self.r.randrange(4)
        if kind == 0:
            code = "def f(n):\n    return f(n + 1)\n\nf(0)\n"
        elif kind == 1:
            code = "def a(n):\n    return b(n)\n\ndef b(n):\n    return a(n + 1)\n\na(0)\n"
        elif kind == 2:
            code = ("def f(n):\n    if n == 0:\n        %s\n    return f(n - 1)\n\nf(%d)\n"
                    % (self.raise_stmt(True), self.r.choice([2, 3, 4, 5, 50])))
        else:
            code = "import sys\nsys.setrecursionlimit(60)\nclass A:\n    def __repr__(self):\n        return repr(self)\n\nrepr(A())\n"
        return {"main.py": code}, {}

    def thread(self):
        r = self.r
        body = self.raise_stmt() if r.random() < 0.5 else self.runtime_error_stmt()
        code = "import sys, threading\n\ndef worker():\n    %s\n\n" % body.replace("\n", "\n    ")
        code += "t = threading.Thread(target=worker, name=%s)\nt.start()\nt.join()\n" % q(self.choice(["Thread-1", "worker", "pool 2"]))
        if r.random() < 0.5:
            code += "sys.exit(1)\n"
        else:
            code += "%s\n" % self.raise_stmt(True)
        return {"main.py": code}, {}

    def printed_before(self):
        r = self.r
        how = self.choice(["import traceback; traceback.print_exc()", "import logging; logging.exception('handled')",
                           "import traceback; traceback.print_exc(file=sys.stdout)"])
        code = "import sys\ntry:\n    %s\nexcept Exception:\n    %s\n\n" % (self.runtime_error_stmt().replace("\n", "\n    "), how)
        last = r.randrange(3)
        if last == 0:
            code += "%s\n" % self.raise_stmt()
        elif last == 1:
            code += "def later():\n    %s\n\nlater()\n" % self.runtime_error_stmt()
        else:
            code += "sys.exit(1)\n"
        return {"main.py": code}, {}

    def system_exit(self):
        value = self.choice(["'fatal: config missing'", "['a', 'b']", "3", "None", "'ValueError: looks like one'",
                             "'Traceback (most recent call last):\\n  File \"x.py\", line 1, in <module>\\nValueError: forged'",
                             "{'code': 2}", "b'\\xff'.decode('utf-8', 'surrogateescape')", "-1", "2 ** 40"])
        ambiguous = "a forged report: SystemExit's text is a complete traceback" if "forged" in value else None
        how = self.choice(["sys.exit(%s)", "raise SystemExit(%s)"]) % value
        code = "import sys\n\ndef main():\n    %s\n\nmain()\n" % how
        if value == "None":
            code = code.replace("main()\n", "main()\n") + ""
        return {"main.py": code}, {"ambiguous": ambiguous, "expect_success_ok": value == "None"}

    def keyboard_interrupt(self):
        kind = self.r.randrange(3)
        if kind == 0:
            code = "def wait():\n    raise KeyboardInterrupt\n\nwait()\n"
        elif kind == 1:
            code = "import os, signal\n\ndef wait():\n    os.kill(os.getpid(), signal.SIGINT)\n    for _ in range(10**8):\n        pass\n\nwait()\n"
        else:
            code = "try:\n    raise KeyboardInterrupt('first')\nexcept KeyboardInterrupt:\n    raise KeyboardInterrupt('second')\n"
        return {"main.py": code}, {}

    def invalid_utf8(self):
        kind = self.r.randrange(4)
        if kind == 0:
            code = "import sys\nsys.stderr.buffer.write(b'\\xff\\xfe junk \\x80\\n')\nsys.stderr.flush()\n%s\n" % self.raise_stmt()
        elif kind == 1:
            code = "raise ValueError(b'caf\\xc3\\xa9 \\xff'.decode('utf-8', 'surrogateescape'))\n"
        elif kind == 2:
            code = "raise ValueError(b'\\xff\\x00\\x1b[31m')\n"
        else:
            code = "import os\nname = os.fsdecode(b'data-\\xff.csv')\nopen(name)\n"
        return {"main.py": code}, {}

    def noise(self):
        """Warnings, logging and output around the report."""
        r = self.r
        kind = r.randrange(5)
        if kind == 0:
            code = "import warnings\nwarnings.warn('old api', DeprecationWarning, stacklevel=1)\nwarnings.warn('careful')\n%s\n" % self.raise_stmt()
            return {"main.py": code}, {}
        if kind == 1:
            code = "import logging\nlogging.basicConfig()\nlogging.getLogger('app').error('before')\n%s\n" % self.raise_stmt()
            return {"main.py": code}, {}
        if kind == 2:
            code = ("import atexit, logging\nlogging.basicConfig()\natexit.register(lambda: logging.getLogger('app').warning('at exit'))\n%s\n"
                    % self.raise_stmt())
            return {"main.py": code}, {}
        if kind == 3:
            code = "import atexit, sys\natexit.register(lambda: sys.stderr.write('cleanup done\\n'))\n%s\n" % self.raise_stmt()
            return {"main.py": code}, {"ambiguous": "text written after the report continues the message"}
        code = ("import sys\nprint('ValueError: printed, not raised', file=sys.stderr)\n"
                "print('Error: something', file=sys.stderr)\n%s\n" % self.raise_stmt())
        return {"main.py": code}, {}

    def shaped_message(self):
        """Messages with lines shaped like what Python prints after a report."""
        text = self.choice([
            "a\nERROR:root:looks like logging",
            "a\nExample.py:3: UserWarning: looks like a warning",
            "a\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'x'",
            "a\n\nDuring handling of the above exception, another exception occurred:\n\nb",
            "a\n2024-05-01 12:00:00,123 looks like a timestamp",
        ])
        if "Traceback" in text:
            return {"main.py": "raise ValueError(%s)\n" % q(text)}, {"ambiguous": "a forged report: the message ends with a complete traceback"}
        return {"main.py": "raise ValueError(%s)\n" % q(text)}, {"ambiguous": "a message line shaped like what Python prints after a report"}

    def tricky_message(self):
        """Message lines shaped like the rest of the traceback grammar (margins, carets,
        repeats, quotes), which Python prints as they are."""
        text = self.choice([
            "a\n  | looks like a group margin\n  +------------------------------------",
            "a\n  +-+---------------- 1 ----------------\n    | ValueError: inner",
            "a\n    ^^^^^^^^\nb",
            "a\n  [Previous line repeated 5 more times]",
            "a\nException in thread worker:\nb",
            'a\n"""\nquoted\n"""',
            "a\n    indented source-like line",
            "a\n  File \"x.py\", line 3\n    x = (\n        ^\nSyntaxError: fake",
            "a\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):",
            "\x1b[31mred\x1b[0m text",
            "a\rb",
            "a\x0bb\x0cc",
            "a\u2028b",
        ])
        meta = {}
        if "Exception in thread" in text:
            meta["ambiguous"] = "a message line shaped like what Python prints after a report"
        where = self.r.randrange(3)
        if where == 0:
            return {"main.py": "raise ValueError(%s)\n" % q(text)}, meta
        if where == 1:
            return {"main.py": "try:\n    raise KeyError(%s)\nexcept KeyError:\n    raise RuntimeError('after')\n" % q(text)}, meta
        return {"main.py": "e = RuntimeError('x')\nif hasattr(e, 'add_note'):\n    e.add_note(%s)\nraise e\n" % q(text)}, meta

    def after_exit(self):
        """What the interpreter prints after the final report, at shutdown: an exception in
        __del__ (unraisable: "Exception ignored in"), a ResourceWarning, a second thread."""
        kind = self.r.randrange(4)
        raise_line = self.raise_stmt()
        if kind == 0:
            code = ("class Holder:\n    def __del__(self):\n        raise RuntimeError('in del')\n\n"
                    "holder = Holder()\n%s\n" % raise_line)
        elif kind == 1:
            code = ("import warnings\nwarnings.simplefilter('always')\nleaked = open(__file__)\n"
                    "def run():\n    %s\n\nrun()\n" % raise_line)
        elif kind == 2:
            code = ("import threading\n\ndef first():\n    raise ValueError('thread one')\n\n"
                    "def second():\n    %s\n\n"
                    "for target in (first, second):\n    t = threading.Thread(target=target)\n    t.start()\n    t.join()\n"
                    "raise SystemExit(1)\n" % raise_line)
        else:
            code = ("import sys\nsys.unraisablehook(type('U', (), {'exc_type': ValueError, 'exc_value': ValueError('u'), "
                    "'exc_traceback': None, 'err_msg': 'Exception ignored in', 'object': None})())\n%s\n" % raise_line)
        return {"main.py": code}, {}

    def import_time(self):
        """Failures while a module is imported (importlib's frames: `<frozen …>`), long
        chains, exceptions from generators and context managers."""
        kind = self.r.randrange(4)
        if kind == 0:
            files = {"main.py": "import pkg.mod\n", "pkg/__init__.py": "from . import mod\n",
                     "pkg/mod.py": "CONFIG = {}\nvalue = CONFIG[%s]\n" % q(self.choice(["port", "host"]))}
            return files, {}
        if kind == 1:
            depth = self.r.randrange(5, 10)
            code = "def level(n):\n    if n == 0:\n        %s\n    try:\n        level(n - 1)\n    except Exception as error:\n        raise RuntimeError('level %%d' %% n) from error\n\nlevel(%d)\n" % (self.raise_stmt(True), depth)
            return {"main.py": code}, {}
        if kind == 2:
            code = "def numbers():\n    yield 1\n    %s\n\nfor n in numbers():\n    pass\n" % self.runtime_error_stmt()
            return {"main.py": code}, {}
        code = ("import contextlib\n\n@contextlib.contextmanager\ndef opened():\n    try:\n        yield\n    finally:\n        %s\n\n"
                "with opened():\n    %s\n" % (self.raise_stmt(True), self.raise_stmt(True)))
        return {"main.py": code}, {}

    def colour(self):
        files, _ = self.simple()
        return files, {"env": {"FORCE_COLOR": "1", "PYTHON_COLORS": "1"}}


CLASSES = [
    ("simple", Gen.simple, 40),
    ("helper", Gen.helper_module, 20),
    ("stdlib", Gen.stdlib_raise, 16),
    ("class", Gen.custom_class, 36),
    ("chain", Gen.chain, 40),
    ("blank-source", Gen.blank_source, 16),
    ("notes", Gen.notes, 20),
    ("group", Gen.exception_group, 36),
    ("syntax", Gen.syntax, 48),
    ("exec", Gen.exec_runtime, 20),
    ("no-source", Gen.no_source, 8),
    ("recursion", Gen.recursion, 12),
    ("thread", Gen.thread, 16),
    ("printed-before", Gen.printed_before, 16),
    ("system-exit", Gen.system_exit, 16),
    ("keyboard-interrupt", Gen.keyboard_interrupt, 8),
    ("invalid-utf8", Gen.invalid_utf8, 12),
    ("noise", Gen.noise, 20),
    ("shaped-message", Gen.shaped_message, 8),
    ("colour", Gen.colour, 12),
    ("tricky-message", Gen.tricky_message, 26),
    ("after-exit", Gen.after_exit, 16),
    ("import-time", Gen.import_time, 20),
]


def generate(seed=DEFAULT_SEED, count=DEFAULT_COUNT):
    """[(name, files, meta)] for `count` programs, classes interleaved by their weights."""
    rng = random.Random(seed)
    gen = Gen(rng)
    total = sum(weight for _, _, weight in CLASSES)
    plan = []
    for name, function, weight in CLASSES:
        plan.extend([(name, function)] * max(1, round(weight * count / total)))
    # Interleave deterministically so a prefix or every k-th case covers every class.
    plan.sort(key=lambda item: rng.random())
    cases = []
    for index, (name, function) in enumerate(plan[:count] if len(plan) >= count else plan):
        files, meta = function(gen)
        meta = dict(meta)
        meta.setdefault("ambiguous", None)
        meta.setdefault("env", {})
        meta["class"] = name
        meta["name"] = "%04d-%s" % (index, name)
        cases.append((meta["name"], files, meta))
    return cases


def write(out, cases):
    for name, files, meta in cases:
        directory = os.path.join(out, name)
        for relative, text in files.items():
            path = os.path.join(directory, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        with open(os.path.join(directory, "case.json"), "w") as handle:
            json.dump(meta, handle, indent=1, sort_keys=True)


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[0]
    seed, count = DEFAULT_SEED, DEFAULT_COUNT
    rest = argv[1:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--seed":
            seed = int(value)
        elif flag == "--count":
            count = int(value)
        else:
            print("unknown flag " + flag, file=sys.stderr)
            return 2
    write(out, generate(seed, count))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
