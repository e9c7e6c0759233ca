"""The build's own process over a whole default build, its sheets rendered by a stub: its
memory every N sheets, without the minutes that real rendering takes.

usage: python benchmarks/build_process_memory.py LOG [--every N] [--trace A B] [--smaps A B]
           -- BUILD ARGS
e.g.   cd /tmp/perf/s10000 && rm -rf out && python benchmarks/build_process_memory.py \\
           /tmp/parent.log -- build --jobs 2

Runs ``nexusreports BUILD ARGS`` in this process with ``pipeline._render`` replaced by a
stub that makes a few bytes for each sheet (so the rendering processes, forked from this
one, stage tiny files), and everything else as a build runs it: validation's child, the
planner, the pool and its window, staging, the output records.  After every N sheets
(default 2,000) the build's process writes to LOG: its RSS, the anonymous and file-backed
parts of it, and glibc's heap (``mallinfo2``: bytes from the system, in use, free).  With
``--trace A B``, tracemalloc runs in the build's process from the start of rendering, and
LOG gets the 15 allocation sites that grew most from sheet A to sheet B (then it stops;
tracing makes it some 10 times slower).  With ``--smaps A B``, LOG gets the mappings of
the process whose resident size changed from sheet A to sheet B (``/proc/self/smaps``:
glibc's main heap, a thread's heap, Python's arenas), largest growth last.  It stops
before the bundles (the stub's sheets are
not PDFs).  A 10,000-project build (40,000 sheets) takes about 75 s on 2 cores.
Linux (glibc), CPython only.  A measurement, not a test: what it found is in
docs/benchmarks.md.
"""
import ctypes
import os
import sys
import time
import tracemalloc

args = sys.argv[1:]
split = args.index("--")
mine, build_args = args[:split], args[split + 1:]
LOG = open(mine[0], "w")
EVERY = int(mine[mine.index("--every") + 1]) if "--every" in mine else 2000
TRACE = (tuple(int(v) for v in mine[mine.index("--trace") + 1:mine.index("--trace") + 3])
         if "--trace" in mine else None)
SMAPS = (tuple(int(v) for v in mine[mine.index("--smaps") + 1:mine.index("--smaps") + 3])
         if "--smaps" in mine else None)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _MallInfo2


def _memory() -> str:
    status = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                status[key] = int(value.split()[0])
    heap = _libc.mallinfo2()
    return (f"rss {status['VmRSS']} KB (anon {status['RssAnon']}, file {status['RssFile']}); "
            f"C heap {heap.arena >> 10} KB from the system, {heap.uordblks >> 10} in use, "
            f"{heap.fordblks >> 10} free, {heap.hblkhd >> 10} mapped apart")


def _mappings() -> dict[tuple[str, str], int]:
    """(address range, name) -> resident KB, of every mapping of this process."""
    found, current = {}, None
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                current = (head[0], head[5] if len(head) > 5 else "[anonymous]")
            elif head[0] == "Rss:" and current is not None:
                found[current] = int(head[1])
    return found


def _print_grown(before: dict, after: dict) -> None:
    starts = {}  # a mapping that grew keeps its start address (its end moves)
    for key, kb in before.items():
        starts[(key[0].split("-")[0], key[1])] = kb
    rows = []
    for key, kb in after.items():
        was = starts.pop((key[0].split("-")[0], key[1]), 0)
        if kb != was:
            rows.append((kb - was, key, was, kb))
    rows += [(-kb, key, kb, 0) for key, kb in starts.items() if kb]
    for grown, (where, name), was, now in sorted(rows):
        print(f"{grown:+7d} KB  {where} {name}: {was} -> {now} KB resident", file=LOG)
    print(f"{sum(r[0] for r in rows):+7d} KB in all", file=LOG, flush=True)


_maps: dict[int, dict] = {}

from nexusreports import pipeline  # noqa: E402
from nexusreports.write import Output  # noqa: E402


def _stub(view, fmt, theme, invariant, inputs):
    data = (b"%PDF-stub " if fmt == "pdf" else b"PK stub ") + view.slug.encode()
    return Output(path=f"{view.lang}/{view.slug}.{fmt}", format=fmt, lang=view.lang,
                  data=data + view.lang.encode(), pages=1 if fmt == "pdf" else None,
                  inputs=inputs)


pipeline._render = _stub
_count = [0]
_snapshots = {}
_finished = pipeline._Renderer._finished


def _counted(self, *a):
    _finished(self, *a)
    _count[0] += 1
    n = _count[0]
    if n % EVERY == 0:
        traced = (f"; traced {tracemalloc.get_traced_memory()[0] >> 10} KB"
                  if tracemalloc.is_tracing() else "")
        print(f"{n} sheets {time.perf_counter():.1f} s: {_memory()}{traced}", file=LOG,
              flush=True)
    if SMAPS and n in SMAPS:
        _maps[n] = _mappings()
        if n == SMAPS[1]:
            _print_grown(_maps[SMAPS[0]], _maps[n])
    if TRACE and n in TRACE:
        _snapshots[n] = tracemalloc.take_snapshot()
        if n == TRACE[1]:
            grown = _snapshots[n].compare_to(_snapshots[TRACE[0]], "traceback")
            for stat in grown[:15]:
                where = " | ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}"
                                   for f in stat.traceback[-6:])
                print(f"{stat.size_diff / 1024:8.1f} KB {stat.count_diff:7d}  {where}",
                      file=LOG, flush=True)
            os._exit(0)


pipeline._Renderer._finished = _counted
_start = pipeline._Renderer.start


def _started(self):
    _start(self)
    if TRACE:
        tracemalloc.start(8)


pipeline._Renderer.start = _started


def _before_bundles(*a, **k):
    print(f"end: {_count[0]} sheets: {_memory()}", file=LOG, flush=True)
    os._exit(0)


pipeline._bundle_outputs = _before_bundles

from nexusreports._entry import main  # noqa: E402

sys.argv = ["nexusreports"] + build_args
sys.exit(main())
