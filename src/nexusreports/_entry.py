"""The ``nexusreports`` program's entry point.

It installs a quiet Ctrl-C / SIGTERM handler *before* importing the command line, so an
interrupt during start-up prints one line and exits 130/143 instead of a traceback;
:func:`nexusreports.cli.main` then installs its own handlers.  The command line itself is
light (click and the no-change decision, :mod:`nexusreports.uptodate`); the libraries that
validate and render (about 0.3 s) load only in the commands that need them, under the
command line's handlers.
"""

from __future__ import annotations

import os
import signal
import sys


def _stopped_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write(f"Interrupted ({signal.Signals(signum).name}) while starting; nothing "
                     "was built or changed.\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def main() -> int:
    """Run the command line with the start-up interrupt guard; returns the exit code."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stopped_while_starting)
    from .cli import main as cli_main

    return cli_main()
