"""Memory that a long stream of documents frees, given back to the system as it goes.

The PDF bundle opens thousands of sheets one after another (qpdf's objects for each) and
draws its front pages a few at a time.  Freed, that memory returns to the C allocator,
which keeps most of it for later: glibc gives back only what lies at the top of its heap,
so the pieces left between live allocations make a process's resident size creep up with
the number of sheets, though nothing it holds does (measured: the PDF bundle of 6,000
sheets +2.1 MB over that of 2,000; -0.8 MB with this).  :func:`give_back` asks glibc to
return every free page (``malloc_trim``); elsewhere it does nothing.  Only memory depends
on it, never an output's bytes.  (The Word bundle, measured the same way, gained nothing.)
The build's process asks once too, after validation (which reads and frees every project
file's YAML and model: -1.8 MB at 10,000 projects, nothing measurable at 1,000), and every
:data:`EVERY` sheets it plans (each sheet's view, key and pickle are made and freed there:
measured asking every 500 sheets, the process ended a 10,000-project build's sheets 0.2 MB smaller,
its anonymous memory 0.1 MB above a 1,000-project build's instead of 0.14-0.21;
benchmarks/build_process_memory.py, two runs of each).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

EVERY = 256
"""Documents copied (the PDF bundle) or sheets planned (the build) between two calls of
:func:`give_back` in a long stream of them."""

_MALLOC_TRIM: list[Callable[[int], int] | None] = []  # found on the first call


def give_back() -> None:
    """Return the C heap's free pages to the system (glibc), or nothing."""
    _trim()


def _trim() -> None:
    if not _MALLOC_TRIM:
        try:
            import ctypes

            _MALLOC_TRIM.append(ctypes.CDLL("libc.so.6").malloc_trim)
        except (ImportError, OSError, AttributeError):  # not glibc: nothing to ask
            _MALLOC_TRIM.append(None)
    trim = _MALLOC_TRIM[0]
    if trim is not None:
        trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)

MMAP_THRESHOLD = TRIM_THRESHOLD = 128 * 1024
"""Allocations from this size up get pages of their own; free memory at the top of the
heap past this much goes back to the system (glibc's starting values)."""

_FIXED: list[bool] = []


def fix_mmap_threshold() -> None:
    """Keep glibc's thresholds for giving an allocation pages of its own and for giving
    back the top of the heap where they start (:data:`MMAP_THRESHOLD`,
    :data:`TRIM_THRESHOLD`), for this process and those it forks from now on; elsewhere
    nothing, and nothing where the environment sets them (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``): that is the user's choice.  glibc
    raises both each time a piece larger than the threshold (up to 32 MB) that had pages
    of its own is freed, to its size (and twice that), so where later large pieces go, and
    how much free memory the heap keeps, depends on what the process did before.  In the
    build's process of a 10,000-project build glibc's heap held 17 MB from the system
    against 13 MB at 1,000 projects (fonts, profiles and buffers went into the heap there,
    between small pieces, instead of pages of their own), and the process was 0.35-0.5 MB
    larger at the end of its sheets; with the thresholds fixed both heaps hold 12 MB and the
    processes were 0.25-0.3 MB smaller at 1,000 projects and 0.5-0.65 MB at 10,000
    (benchmarks/build_process_memory.py, two runs of each, the thresholds set from the
    start).  Only memory depends on it, never an output's bytes.  Once a process (tests
    build again and again in one)."""
    if _FIXED:
        return
    _FIXED.append(True)
    import os

    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if (os.environ.keys() & {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
            or "mmap_threshold" in tunables or "trim_threshold" in tunables):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (ImportError, OSError, AttributeError):  # not glibc: nothing to fix
        return
    _trim()  # the top of the heap kept free under the raised thresholds


class _SysWithoutIntern:
    """What pathlib sees as ``sys`` after :func:`stop_interning_path_parts`: ``sys`` itself,
    but ``intern`` gives its string back."""

    def __getattr__(self, name: str) -> object:
        import sys

        return getattr(sys, name)

    @staticmethod
    def intern(string: str) -> str:
        return string


def _pathlib_modules() -> list:
    """The modules whose code interns path parts through their ``sys``: Python 3.11's and
    3.12's ``pathlib``, 3.13's ``pathlib._local`` (3.14 no longer interns: CPython
    gh-119518)."""
    import importlib
    import sys

    found = []
    for name in ("pathlib", "pathlib._local"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "sys", None) is sys:
            found.append(module)
    return found


def stop_interning_path_parts() -> None:
    """Let pathlib stop interning the parts of every path this process makes, for good
    (see :func:`_pathlib_modules` for where; elsewhere nothing changes).  For a process that
    renders thousands of sheets: each sheet's paths (the one it stages, the staging area
    sent with it) put a few new names into Python's table of interned strings, and take them
    out when the paths go; the table never gets smaller, and the names come and go until it
    is full: at about 2,500 sheets (4 names a sheet) it doubled, +0.94 MB resident that
    stayed (65,536 to 131,072 places; measured with benchmarks/worker_creep.py).  Interning
    only spares memory for names many paths share; the paths, their strings and what they
    compare equal to are the same."""
    for module in _pathlib_modules():
        module.sys = _SysWithoutIntern()


_NOT_INTERNED: list = []  # the modules path_parts_not_interned patched, while blocks run
_BLOCKS = [0, threading.Lock()]  # how many such blocks run; the lock around both


@contextlib.contextmanager
def path_parts_not_interned() -> Iterator[None]:
    """:func:`stop_interning_path_parts` for the time of a block, then pathlib as it was
    once the last such block ends (blocks may overlap: builds in two threads): for the
    build's process, which makes a path or two of every project and sheet (its data file,
    its staged output) and whose table doubled the same way at 10,000 projects (+1.9 MB,
    not at 1,000); processes it forks meanwhile keep the change."""
    import sys

    with _BLOCKS[1]:
        if not _BLOCKS[0]:
            _NOT_INTERNED[:] = _pathlib_modules()
            for module in _NOT_INTERNED:
                module.sys = _SysWithoutIntern()
        _BLOCKS[0] += 1
    try:
        yield
    finally:
        with _BLOCKS[1]:
            _BLOCKS[0] -= 1
            if not _BLOCKS[0]:
                for module in _NOT_INTERNED:
                    module.sys = sys
                _NOT_INTERNED.clear()
