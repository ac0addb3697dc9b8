"""CPython's own view of the last exception it reports, for the differential test.

Loaded through PYTHONPATH inside the sandbox (boxpy run --env PYTHONPATH=...). Every time
the interpreter reports an exception on stderr (sys.excepthook for an uncaught one,
threading.excepthook for a thread's, traceback.print_exception for print_exc() and
logging.exception()), the record in $BOXPY_ORACLE_OUT is replaced by what
traceback.TracebackException knows about it:

  type      the class's name as the printer that printed it writes it (see type_name)
  message   str(exception) as TracebackException holds it (with 3.12+'s "Did you mean"),
            then the notes (3.11+), one per line, with lone surrogates escaped the way
            stderr's backslashreplace writes them
  site      the innermost place: the last frame, or a SyntaxError's own location
  user      the innermost place in a real file inside the working directory, relative
  cause     the earlier exception printed before it, if any: kind, type, message

Nothing here writes to stderr or changes what is printed.
"""

import json
import os
import sys
import threading
import traceback

_OUT = os.environ.pop("BOXPY_ORACLE_OUT", None)
_CWD = os.getcwd()
_V = sys.version_info


def _text(value):
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def type_name(cls, printer):
    """As printed: `module.qualname`. The C printer (uncaught exceptions and threads
    before 3.13) writes `__name__` instead on 3.8, and leaves out the module `builtins`,
    and `__main__` too since 3.11; the traceback module leaves out both."""
    module = getattr(cls, "__module__", None)
    name = cls.__name__ if printer == "c" and _V < (3, 9) else cls.__qualname__
    if printer == "c" and _V < (3, 11):
        plain = ("builtins",)
    else:
        plain = ("builtins", "__main__")
    if module in plain:
        return _text(name)
    return _text("%s.%s" % (module, name))


def _place(filename, line):
    return [_text(filename), line]


def _real_user_file(filename):
    if not filename or filename.startswith("<"):
        return None
    path = os.path.normpath(os.path.join(_CWD, filename))
    if not os.path.isfile(path):
        return None
    if os.path.commonpath([path, _CWD]) != _CWD:
        return None
    return os.path.relpath(path, _CWD)


def _message(te, exc, printer):
    message = te._str if te._str is not None else ""
    if printer == "c" and _V < (3, 13):
        # pythonrun.c's own words when str() raises (the traceback module's differ on 3.8).
        try:
            str(exc)
        except Exception:
            message = "<exception str() failed>"
    if issubclass(te.exc_type, SyntaxError):
        message = te.msg if te.msg is not None else "<no detail available>"
    notes = getattr(te, "__notes__", None)
    if notes:
        message += "".join("\n" + (note if isinstance(note, str) else repr(note)) for note in notes)
    return _text(message)


def _describe(te, exc, printer):
    sites = [(frame.filename, frame.lineno) for frame in te.stack]
    if issubclass(te.exc_type, SyntaxError) and te.filename is not None:
        filename = te.filename
        if printer == "py" or _V >= (3, 13):
            filename = filename or "<string>"  # the traceback module prints "" so
        sites.append((filename, int(te.lineno) if te.lineno else None))
    user = None
    for filename, line in reversed(sites):
        relative = _real_user_file(filename)
        if relative is not None:
            user = [_text(relative), line]
            break
    cause = None
    if te.__cause__ is not None:
        cause = ["direct", te.__cause__, exc.__cause__]
    elif te.__context__ is not None and not te.__suppress_context__:
        cause = ["during", te.__context__, exc.__context__]
    if cause is not None:
        kind, earlier, earlier_exc = cause
        cause = [kind, type_name(earlier.exc_type, printer), _message(earlier, earlier_exc, printer)]
    return {
        "type": type_name(te.exc_type, printer),
        "message": _message(te, exc, printer),
        "site": _place(*sites[-1]) if sites else None,
        "user": user,
        "cause": cause,
        "version": "%d.%d" % _V[:2],
    }


def _record(exc, printer):
    if _OUT is None:
        return
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
        view = _describe(te, exc, printer)
    except Exception as error:  # never change the program's fate
        view = {"oracle_error": repr(error)}
    with open(_OUT, "w", encoding="utf-8") as handle:
        json.dump(view, handle)


_previous_excepthook = sys.excepthook


def _excepthook(exc_type, exc, tb):
    if not issubclass(exc_type, SystemExit):
        _record(exc, "c")
    _previous_excepthook(exc_type, exc, tb)


_previous_threading_hook = threading.excepthook


def _threading_hook(args):
    if not issubclass(args.exc_type, SystemExit):
        _record(args.exc_value, "c")
    _previous_threading_hook(args)


_previous_print_exception = traceback.print_exception


def _print_exception(*args, **kwargs):
    exc = next((arg for arg in args[:2] if isinstance(arg, BaseException)), None)
    if exc is None:
        exc = kwargs.get("value")
    target = kwargs.get("file", args[4] if len(args) > 4 else None)
    # logging.exception() formats into a StringIO, then writes the record to stderr.
    from_logging = sys._getframe(1).f_globals.get("__name__") == "logging"
    if isinstance(exc, BaseException) and (target in (None, sys.stderr) or from_logging):
        _record(exc, "py")
    return _previous_print_exception(*args, **kwargs)


sys.excepthook = _excepthook
threading.excepthook = _threading_hook
traceback.print_exception = _print_exception
