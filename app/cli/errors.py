"""What every ``kestrel`` command shares: the user-facing error, the exit statuses, Ctrl+C.

A command raises :class:`CliError` for anything the user must fix; ``app.cli.main`` prints
it as one line on stderr and exits with :data:`EXIT_ERROR`. Tracebacks are for bugs only.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a missing or broken model, a failed download
EXIT_USAGE = 2  # argparse's own status for a malformed command line
EXIT_INTERRUPTED = 130  # stopped with Ctrl+C (128 + SIGINT, as shells report it)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def install_sigint(stop: threading.Event) -> Callable[[], None]:
    """First Ctrl+C sets ``stop`` (the work ends cleanly); a second one interrupts at once.

    Returns a function that puts the previous handler back. Off the main thread (a test
    driving a command from a worker) Python allows no signal handlers, so nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore
