"""One rendering process as the default build runs it, and its memory after N sheets.

usage: python benchmarks/worker_creep.py FOLDER N_SHEETS [MARK ...]

FOLDER is a copy of a project folder (data/, templates/; e.g. of 10,000 synthetic
projects -- the sheets are staged under FOLDER/out/.staging and deleted at the end).
As ``pipeline._Renderer._start`` does: the PDF renderer is warmed, one worker forked
(``_init_worker``) before the projects are checked; then the real jobs of
``pipeline._plan_jobs`` (pdf and docx alternating, both languages, in build order) are
sent to it with a real ``write.Staging`` (at most 4 in flight, as the build's window), so
each is rendered, staged and its staged Output pickled back (``_render_in_worker``).
After each MARK sheets (default 2,000 5,000 10,000 15,000 20,000, and 200, 1,000) the
worker reports its RSS, Python's arenas and allocated blocks, glibc's heap (mallinfo2),
the size of Python's table of interned strings, the rendering caches' sizes and any live
object of 256 KB or more.  Linux (fork, glibc), CPython 3.11 only.  A run of 20,000
sheets takes some 6 minutes of one core.
"""
import ctypes
import gc
import multiprocessing
import os
import re
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from nexusreports import pipeline
from nexusreports.pipeline import (BuildOptions, _Digests, _init_worker, _plan_jobs,
                                   _render_in_worker, _warm_pdf, check, tool_versions)
from nexusreports.theme import load_theme
from nexusreports.write import Staging

folder = Path(sys.argv[1])
total = int(sys.argv[2])
marks = sorted({int(a) for a in sys.argv[3:]} or {200, 1000, 2000, 5000, 10000, 15000,
                                                   20000})


class _MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks "
                "keepcost".split()]


def interned_table() -> str:
    """The size of Python's table of interned strings, found by its header (CPython 3.11's
    PyDictKeysObject, str keys, 2**16 places or more: the only dict that large in a worker,
    in a mapping of its own as glibc gives large blocks): places, free, entries made."""
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6 or not parts[1].startswith("rw"):
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        for p in range(lo, hi, 4096):
            h = ctypes.string_at(p + 16, 32)
            if (h[:8] == b"\1" + b"\0" * 7 and 16 <= h[8] <= 24 and h[9] == h[8] + 2
                    and h[10] == 1):
                return (f"interned 2^{h[8]} places, {int.from_bytes(h[16:24], 'little')} "
                        f"free, {int.from_bytes(h[24:32], 'little')} made")
    return "interned ?"


def probe(n: int) -> str:
    """In the worker: its memory, one line."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MI
    mi = libc.mallinfo2()
    with tempfile.TemporaryFile("w+") as tf:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tf.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tf.seek(0)
        txt = tf.read()

    def g(k):
        return int(re.search(re.escape(k) + r"\s*=\s*([\d,]+)", txt).group(1).replace(",", ""))

    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/smaps_rollup") as f:
        sm = f.read()
    anon = int(re.search(r"Anonymous:\s+(\d+)", sm).group(1))
    from nexusreports.render.pdf import archive, tagging
    from nexusreports.render.word import fit
    from nexusreports.render.word import sheet as ws
    def met(c):  # the hashes a Recurring remembers (a dict before, a count now)
        return getattr(c, "_met", None) if hasattr(c, "_met") else len(c._seen)

    caches = (f"PARSED {len(tagging._PARSED.kept)}/{met(tagging._PARSED)} "
              f"WIDTHS {len(fit._WIDTHS.kept)}/{met(fit._WIDTHS)} "
              f"HEIGHTS {sum(len(h.kept) for h in fit._HEIGHTS.values())}/"
              f"{sum(met(h) for h in fit._HEIGHTS.values())} "
              f"(XML {sum(h._kept_size for h in fit._HEIGHTS.values()) >> 10} KB) "
              f"DEFL {len(ws._DEFLATED)} ({ws._deflated_bytes >> 10} KB) CHKP {len(ws._CHECKED_PARTS)} "
              f"CHK {len(ws._CHECKED)} PKG {len(ws._PACKAGE_XML)}")
    big = []  # the live objects of 256 KB or more (containers and what they hold)
    for o in gc.get_objects():
        for x in (o, *(gc.get_referents(o) if isinstance(o, (dict, list, tuple)) else ())):
            size = sys.getsizeof(x)
            if size >= 256 << 10:
                big.append(f"{type(x).__name__} {size >> 10} KB")
    big = " big: " + ", ".join(sorted(set(big))) if big else ""
    return (f"after {n:6d} sheets: rss {rss / 2**20:6.1f} anon {anon / 1024:6.1f} MB | "
            f"arenas {g('# arenas allocated current')} "
            f"(hw {g('# arenas highwater mark')}) "
            f"blocks {g('# bytes in allocated blocks') / 2**20:5.1f} "
            f"avail {g('# bytes in available blocks') / 2**20:4.1f} MB "
            f"nblocks {sys.getallocatedblocks()} | malloc arena {mi.arena / 2**20:5.1f} "
            f"used {mi.uordblks / 2**20:5.1f} free {mi.fordblks / 2**20:4.1f} "
            f"top {mi.keepcost / 2**20:4.1f} mmap {mi.hblkhd / 2**20:4.1f} MB "
            f"gcobjs {len(gc.get_objects())} | {interned_table()} | {caches}{big}")


def main() -> None:
    options = BuildOptions(data_dir=folder / "data", templates_dir=folder / "templates",
                           out_dir=folder / "out", jobs=2, force=True)
    theme = load_theme(options.templates_dir)
    _warm_pdf(theme, {"nl-NL", "en-GB"})  # as _Renderer._start, before check (build())
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker, initargs=(theme, False))
    pool.submit(int).result()
    projects, theme, _ = check(options.data_dir, options.templates_dir, False, theme)
    t0 = time.perf_counter()
    with Staging(options.out_dir) as staging:
        inflight, n = set(), 0
        for job in _plan_jobs(projects, theme, options, tool_versions(), _Digests(options)):
            if n >= total:
                break
            while len(inflight) >= 4:
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
            inflight.add(pool.submit(_render_in_worker, job.view, job.fmt, {}, staging))
            n += 1
            if n in marks:
                wait(inflight)
                inflight = set()
                print(pool.submit(probe, n).result(),
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
        wait(inflight)
        if n not in marks:
            print(pool.submit(probe, n).result(), flush=True)
    pool.shutdown()


if __name__ == "__main__":
    main()
