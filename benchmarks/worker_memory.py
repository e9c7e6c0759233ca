"""One rendering process's memory over many sheets, as the build's pool runs it: this process
loads the projects, warms the PDF renderer and forks one worker (_init_worker), which renders
the PDF and Word sheets of distinct views (_render_in_worker) and reports its RSS, Python's
arenas and allocated blocks, malloc's heap and the rendering caches' sizes after 50, 100,
500, 1,000, 2,000, 5,000, 10,000, 15,000 and 20,000 sheets.

usage: python benchmarks/worker_memory.py FOLDER N_SHEETS [--trace] [--fmt=pdf,docx]
FOLDER holds data/ and templates/ (e.g. a copy of 5,000 synthetic projects; env NOCACHE=1
shrinks the caches of the code before render/recurring.py to nothing, for comparison;
FREEZE=1 calls gc.freeze() in the worker); at the end the worker's cyclic-GC collections
and their CPU time, per generation.  Linux only.
"""
import sys, os, time, gc, resource
from pathlib import Path
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
import psutil
from nexusreports import pipeline
from nexusreports.pipeline import check, _init_worker, _render_in_worker, _warm_pdf
from nexusreports.view import build_view

data = Path(sys.argv[1]); total = int(sys.argv[2]); trace = "--trace" in sys.argv
fmts = ["pdf", "docx"]
for a in sys.argv:
    if a.startswith("--fmt="): fmts = a[6:].split(",")
MARKS = [0, 100, 500, 1000, 2000, 5000, 10000, 15000, 20000]
projects, theme, _ = check(data / "data", data / "templates")

_BASE = []
_GC = {}  # generation -> [collections, CPU seconds] in the worker (gc.callbacks)
def _gc_timer(phase, info, _start=[0.0]):
    if phase == "start":
        _start[0] = time.process_time()
    else:
        entry = _GC.setdefault(info["generation"], [0, 0.0])
        entry[0] += 1
        entry[1] += time.process_time() - _start[0]
def gc_spent():
    return {g: (n, round(s * 1000, 1)) for g, (n, s) in sorted(_GC.items())}
def init(theme, invariant):
    _init_worker(theme, invariant)
    gc.callbacks.append(_gc_timer)
    if os.environ.get("FREEZE"):
        gc.freeze()
    if os.environ.get("NOCACHE"):
        from nexusreports.render.pdf import tagging
        from nexusreports.render.word import fit
        tagging._PARSED_MAX = 1; fit._HEIGHTS_BUDGET = 0
    if trace:
        import tracemalloc; tracemalloc.start(1)
import ctypes, collections
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
_libc = ctypes.CDLL(None); _libc.mallinfo2.restype = MI
_TYPES = []
def probe():
    from nexusreports.render.pdf import tagging
    from nexusreports.render.word import fit, sheet as ws
    import pyphen
    mi = _libc.mallinfo2()
    import tempfile
    with tempfile.TemporaryFile("w+") as tf:
        sys.stderr.flush(); saved = os.dup(2); os.dup2(tf.fileno(), 2)
        try: sys._debugmallocstats()
        finally: os.dup2(saved, 2); os.close(saved)
        tf.seek(0); txt = tf.read()
    import re
    g = lambda k: int(re.search(re.escape(k) + r"\s*=\s*([\d,]+)", txt).group(1).replace(",", ""))
    up = re.search(r"unused pools [*] [0-9]+ bytes +=  *([0-9,]+)", txt).group(1).replace(",", "")
    arena_info = f"arenas {g('# arenas allocated current')} inuse {g('# bytes in allocated blocks')>>20}MB avail {g('# bytes in available blocks')>>20}MB unusedpools {int(up)>>20}MB"
    try:
        smaps = open("/proc/self/smaps_rollup").read()
        anon = int(re.search(r"Anonymous:\s+(\d+)", smaps).group(1)) >> 10
        arena_info += f" anon {anon}MB"
    except Exception: pass
    out = arena_info + f" blocks {sys.getallocatedblocks()} heap-used {mi.uordblks>>20} free {mi.fordblks>>20} mmap {mi.hblkhd>>20} MB"
    P = tagging._PARSED; H = fit._HEIGHTS; W = fit._WIDTHS
    kept = lambda c: len(c.kept) if hasattr(c, "kept") else "-"
    out += f" | PARSED {len(P)} kept {kept(P)} HEIGHTS {sum(len(h) for h in H.values())} kept {sum(len(getattr(h, 'kept', ())) for h in H.values())} WIDTHS {len(W)} kept {kept(W)} DEFL {len(ws._DEFLATED)} met {len(getattr(ws, '_MET', ()))}"
    out += " pyphen " + ",".join(str(len(h.cache)) for h in pyphen.hdcache.values())
    for name in dir(ws):
        o = getattr(ws, name)
        if isinstance(o, dict) and name.startswith("_") and name.isupper() is False and len(o) > 50: out += f" ws.{name} {len(o)}"
    c = collections.Counter(type(o).__name__ for o in gc.get_objects())
    if not _TYPES: _TYPES.append(c)
    else:
        d = c.copy(); d.subtract(_TYPES[0])
        out += "\n    types+: " + " ".join(f"{k} {v}" for k, v in d.most_common(8))
    return out
def job(view, fmt, mark):
    t = time.process_time()
    out = _render_in_worker(view, fmt, {})
    dt = time.process_time() - t
    if not mark: return dt, None
    info0 = " gc " + " ".join(f"{d['collections']}" for d in gc.get_stats()) + f" frozen {gc.get_freeze_count()}"
    rss = psutil.Process().memory_info().rss
    info = f"rss {rss/2**20:.1f} MB" + info0
    info += " " + probe()
    if trace:
        import tracemalloc
        snap = tracemalloc.take_snapshot()
        cur = tracemalloc.get_traced_memory()[0]
        info += f" traced {cur/2**20:.1f} MB"
        if not _BASE: _BASE.append(snap)
        else:
            stats = snap.compare_to(_BASE[0], "lineno")[:12]
            info += "\n    " + "\n    ".join(f"{s.size_diff/1024:8.0f} KB {s.count_diff:7d} {s.traceback[0].filename.split('site-packages/')[-1].split('src/')[-1]}:{s.traceback[0].lineno}" for s in stats)
    return dt, info

def views():
    for slug in projects.slugs:
        p = projects.by_slug(slug)
        for lang in ("nl", "en"):
            v = build_view(p, projects, lang, data / "data", str(data / "data/projects" / f"{slug}.yaml"))
            for fmt in fmts:
                yield v, fmt

_warm_pdf(theme, {"nl-NL", "en-GB"})
gc.collect()
pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=init, initargs=(theme, False))
pool.submit(int).result()
pid = list(pool._processes)[0]
print("forked worker rss", psutil.Process(pid).memory_info().rss/2**20, flush=True)
n = 0; cpu = {f: [] for f in fmts}; futs = []
for v, fmt in views():
    if n >= total: break
    n += 1
    mark = n in MARKS or n == 50
    futs.append((fmt, pool.submit(job, v, fmt, mark), n, mark))
    while len(futs) > 8 or (futs and futs[0][1].done()):
        f, fut, k, mk = futs.pop(0); dt, info = fut.result(); cpu[f].append(dt)
        if mk:
            w = {ff: sum(c[-500:])/len(c[-500:])*1000 for ff, c in cpu.items() if c}
            print(f"after {k:6d} sheets: {info}  cpu/sheet(last500) " + " ".join(f"{ff} {ms:.1f} ms" for ff, ms in w.items()), flush=True)
for f, fut, k, mk in futs:
    dt, info = fut.result(); cpu[f].append(dt)
    if mk: print(f"after {k:6d} sheets: {info}", flush=True)
print("worker final rss", psutil.Process(pid).memory_info().rss/2**20, "MB")
print("cyclic GC in the worker, per generation (collections, ms CPU):", pool.submit(gc_spent).result())
for f, c in cpu.items():
    w = c[200:]
    print(f"{f}: {len(c)} sheets, mean warm cpu {sum(w)/max(1,len(w))*1000:.2f} ms")
pool.shutdown()
