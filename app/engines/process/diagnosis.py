"""Why the engine child died, in one line, from its exit status and what it printed.

llama.cpp reports a failed ``GGML_ASSERT`` (and ``GGML_ABORT``) as ``file:line: message``
on stderr just before it aborts; a C++ exception ends with ``what(): ...``; a bug in
Python before the request loop leaves a traceback. A signal with no such line is
described by what usually sends it.
"""

from __future__ import annotations

import re
import signal

_NATIVE = re.compile(r"(?P<file>[\w.\-/\\]+\.(?:c|cc|cpp|cu|m|h)):(?P<line>\d+): (?P<message>.+)")
_WHAT = re.compile(r"what\(\):\s*(?P<message>.+)")
# POSIX signal numbers (a negative exit code); Windows reports no signals this way.
_SIGNALS = {
    9: "it was killed (SIGKILL): the system may have run out of memory, or another program ended it",
    11: "it crashed (segmentation fault)",
    6: "it aborted",
    15: "it was terminated (SIGTERM)",
}


def describe_exit(exitcode: int | None, output: str) -> str:
    """A short reason for the user, most telling first: the native message, else the signal."""
    return _native_message(output) or _python_error(output) or _status(exitcode)


def _native_message(output: str) -> str | None:
    for raw in reversed(output.splitlines()):
        line = raw.strip()
        match = _NATIVE.search(line)
        if match and ("GGML" in line or "error" in line.lower() or "failed" in line.lower()):
            name = re.split(r"[/\\]", match["file"])[-1]
            return f"{match['message'].strip()} ({name}:{match['line']})"
        what = _WHAT.search(line)
        if what:
            return f"llama.cpp raised an error: {what['message'].strip()}"
    return None


def _python_error(output: str) -> str | None:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if "Traceback (most recent call last):" not in lines:
        return None
    return lines[-1]


def _status(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        number = -exitcode
        if number in _SIGNALS:
            return _SIGNALS[number]
        try:
            return f"it was stopped by signal {signal.Signals(number).name}"
        except ValueError:
            return f"it was stopped by signal {number}"
    if exitcode == 0:
        return "it exited without saying why"
    return f"it exited with code {exitcode}"
