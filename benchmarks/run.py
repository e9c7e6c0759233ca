"""Benchmark the default ``nexusreports build`` and compare it with other tools (issue 11).

Run from the repository root with the interpreter whose environment the build uses (the
``bench`` extra: Typst; LibreOffice's ``soffice`` on PATH; Linux, for /proc)::

    python benchmarks/run.py --markdown /tmp/bench.md --json /tmp/bench.json   # everything
    python benchmarks/run.py --quick                  # smoke test: sizes 10,20, 2 repeats
    python benchmarks/run.py --sizes 100 --skip full,adhoc,warm   # the scale builds only
    python benchmarks/run.py --from-json /tmp/bench.json   # the tables again, measuring nothing

In order: (a) the cold default build of the shipped data vs docxtpl + LibreOffice, each
followed by (d) a no-change rebuild, and (e) one project changed; (b) a cold ad-hoc
``--only`` sheet and a cold ``validate`` vs a cold Typst process; (c) a warm PDF sheet vs a
warm Typst sheet and (e) a warm Word sheet vs bare docxtpl, in this process; then the scale
builds (default sizes 100, 1000, 10000; ``--scale-repeat`` cold builds of each size up to
``--once-above``, larger sizes once) and the byte-identity check (``--jobs 1`` into another
folder vs the ``--jobs 2`` build, at 1,000 projects when that build took at most 90 s, else
at 100).  The tables are written after each part, so an interrupted run keeps what it has.

Every number comes from this one run on this machine.  Every row names its exact command
line (run in a fresh copy of the project in a temporary folder, with
``SOURCE_DATE_EPOCH``) and, where it is narrower than the default build, says so.  Whole
processes are timed wall-clock from start to exit; "cold" means a new process and an empty
``out/``.  Peers run interleaved with ours (ours, peer, ours, peer, ...), and each ratio is
taken pair by pair: the median of the per-pair ratios, with their min and max.

Memory is the peak of the whole process tree: the build process and every descendant
(rendering workers included), the sum of their resident sets (RSS, from /proc/PID/statm)
sampled every 20 ms (the process list rescanned every 100 ms).  Pages shared between a
parent and its forked workers count once per process, so this overstates; the sum of PSS
(shared pages divided among their sharers, /proc/PID/smaps_rollup, every 250 ms) is
printed beside it, and so is ``ru_maxrss`` of the build (the largest single process of the
tree, not the tree).  Targets are judged on the sum of RSS.

Targets (issue 11, on a 2-core machine) are printed with each row with "met: yes/no" and,
when missed, what would be needed.  A build that fails aborts the run with its stderr; one
that exceeds ``--mem-limit-mb`` or ``--timeout`` is killed and reported as such (so a build
that grows without bound does not take the shared machine down).  This is a measurement,
not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EPOCH = "1700000000"
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


# --- whole processes, their time and the memory of their process tree -----------------------

def _ppids() -> dict[int, int]:
    """Every process on the machine and its parent (from /proc/PID/stat)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
            found[int(name)] = int(data[data.rfind(b")") + 2:].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return found


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children = defaultdict(list)
    for pid, ppid in _ppids().items():
        children[ppid].append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the memory of a process tree until stopped; kills the tree (its process
    group) when it passes ``mem_limit`` bytes or runs longer than ``timeout`` seconds."""

    INTERVAL, RESCAN, PSS_EVERY = 0.02, 0.1, 0.25

    def __init__(self, pid: int, mem_limit: float, timeout: float):
        super().__init__(daemon=True)
        self.pid, self.mem_limit, self.timeout = pid, mem_limit, timeout
        self.done = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.processes = 1
        self.killed: str | None = None
        self.timeline: list[tuple[float, float]] = []  # (seconds, MB), about once a second

    def run(self) -> None:
        start = time.monotonic()
        pids, next_scan, next_pss, next_mark = [self.pid], 0.0, 0.0, 0.0
        while not self.done.is_set():
            now = time.monotonic()
            if now >= next_scan:
                pids = _tree(self.pid)
                self.processes = max(self.processes, len(pids))
                next_scan = now + self.RESCAN
            total = sum(_rss(p) for p in pids)
            self.peak_rss = max(self.peak_rss, total)
            if now >= next_pss:
                self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in pids))
                next_pss = now + self.PSS_EVERY
            if now >= next_mark:
                self.timeline.append((round(now - start, 2), round(total / MB, 1)))
                next_mark = now + 1.0
            if self.killed is None and (total > self.mem_limit or now - start > self.timeout):
                self.killed = (f"killed by the benchmark after {now - start:.0f} s at "
                               f"{total / MB:.0f} MB (limits: {self.mem_limit / MB:.0f} MB, "
                               f"{self.timeout:.0f} s)")
                _kill_group(self.pid, signal.SIGKILL)
            self.done.wait(self.INTERVAL)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Failed(SystemExit):
    """A command failed: the run stops with its stderr (temporary folders are removed)."""


@dataclasses.dataclass
class Limits:
    mem_limit_mb: float = 8000
    timeout: float = 1800


LIMITS = Limits()


def measure(cmd: list[str], cwd: Path, *, sample: bool = True, shown: str | None = None
            ) -> dict:
    """Run ``cmd`` as a whole process in ``cwd`` (SOURCE_DATE_EPOCH set); its wall time,
    CPU time and the peak memory of its process tree.  Exits the run if it fails."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)
        sampler = TreeSampler(proc.pid, LIMITS.mem_limit_mb * MB, LIMITS.timeout)
        if sample:
            sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _kill_group(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
        finally:
            sampler.done.set()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sample:
            sampler.join()
        _kill_group(proc.pid, signal.SIGKILL)  # a worker left behind by a killed build
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    result = {"command": shown or shlex.join(cmd), "seconds": seconds,
              "cpu_seconds": usage.ru_utime + usage.ru_stime,
              "largest_process_mb": usage.ru_maxrss / 1024, "stdout": stdout,
              "last_line": ((stderr.strip() or stdout.strip()).splitlines() or [""])[-1]}
    if sample:
        result.update(peak_rss_mb=sampler.peak_rss / MB, peak_pss_mb=sampler.peak_pss / MB,
                      processes=sampler.processes, timeline=sampler.timeline)
    if sampler.killed:
        result["killed"] = sampler.killed
        return result
    if proc.returncode:
        raise Failed(f"\nFAILED (exit {proc.returncode}) in {cwd}:\n  {shlex.join(cmd)}\n"
                     f"{stderr[-4000:]}{stdout[-2000:]}")
    return result


def stats(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "n": len(values)} if values else {}


# --- commands and project folders ---------------------------------------------------------

def nexus_program() -> list[str]:
    """The ``nexusreports`` console script of this interpreter's environment (what a user
    runs), else ``python -m nexusreports``."""
    script = Path(PY).parent / "nexusreports"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [PY, "-m", "nexusreports"]


NEXUS = nexus_program()


def nexus(*args: str) -> tuple[list[str], str]:
    """The command to run and the command line to show."""
    return [*NEXUS, *args], shlex.join(["nexusreports", *args])


def project_copy(base: Path, name: str) -> Path:
    """A fresh copy of the project: data/, templates/ and the marker file."""
    work = base / name
    shutil.copytree(ROOT / "data", work / "data")
    shutil.copytree(ROOT / "templates", work / "templates")
    marker = ROOT / "nexusreports.toml"
    (work / "nexusreports.toml").write_text(marker.read_text(encoding="utf-8")
                                            if marker.is_file() else "", encoding="utf-8")
    return work


KEEP = ("data", "templates", "nexusreports.toml")


def clean(work: Path) -> None:
    """Make ``work`` cold: remove everything but the project's inputs (out/, and whatever a
    build might keep beside it)."""
    for entry in work.iterdir():
        if entry.name not in KEEP:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def synthetic_data(target: Path, count: int) -> None:
    """``count`` projects: the four shipped ones, then copies of the three flagships made
    stand-alone programmes (same, realistic text lengths; the short name numbered), and a
    ``data/bundle.yaml`` that is the shipped one with every project in ``order:`` (so the
    default build makes both bundles of all of them)."""
    projects = target / "data" / "projects"
    projects.mkdir(parents=True)
    shipped = sorted((ROOT / "data" / "projects").glob("*.yaml"))
    for f in shipped:
        shutil.copy(f, projects / f.name)
    flagships = [f for f in shipped if "\nkind: flagship" in f.read_text(encoding="utf-8")]
    slugs = []
    for i in range(count - len(shipped)):
        src = flagships[i % len(flagships)]
        text = src.read_text(encoding="utf-8")
        text = text.replace("kind: flagship", "kind: programme")
        text = re.sub(r"(?m)^parent: .*\n", "", text)
        text = re.sub(r"(?m)^(short_name: .*?)\s*$", lambda mt, n=i + 1: f"{mt.group(1)} {n}", text,
                      count=1)
        slug = f"{src.stem}-{i + 1:05d}"
        (projects / f"{slug}.yaml").write_text(text, encoding="utf-8")
        slugs.append(slug)
    shutil.copytree(ROOT / "templates", target / "templates")
    (target / "nexusreports.toml").write_text("", encoding="utf-8")
    write_bundle(target / "data" / "bundle.yaml", slugs)


def write_bundle(path: Path, extra: list[str]) -> None:
    """The shipped bundle.yaml (its comments and every other field kept) with ``extra``
    slugs appended to ``order:``."""
    import yaml

    text = (ROOT / "data" / "bundle.yaml").read_text(encoding="utf-8")
    shipped = yaml.safe_load(text)
    match = re.search(r"(?m)^order:[ \t]*\n((?:[ \t]+-[^\n]*\n?|[ \t]*#[^\n]*\n?)+)", text)
    if match is None:
        raise Failed("benchmarks/run.py: data/bundle.yaml has no block list 'order:'")
    block = match.group(1).rstrip("\n") + "\n" + "".join(f"  - {s}\n" for s in extra)
    text = text[:match.start(1)] + block + text[match.end(1):]
    made = yaml.safe_load(text)
    if made["order"] != [*shipped["order"], *extra] or (
            {k: v for k, v in made.items() if k != "order"}
            != {k: v for k, v in shipped.items() if k != "order"}):
        raise Failed("benchmarks/run.py: could not add the projects to bundle.yaml's order")
    path.write_text(text, encoding="utf-8")


def outputs(out: Path) -> dict:
    files = [p for p in out.rglob("*") if p.is_file()] if out.is_dir() else []
    sheets = [p for p in files if p.suffix in (".pdf", ".docx")
              and not p.name.startswith("briefing-")]
    bundles = sorted(p.name for p in files if p.name.startswith("briefing-"))
    return {"files": len(files), "sheets": len(sheets), "bundles": bundles}


def hashes(out: Path) -> dict[str, str]:
    found = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            digest = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            found[str(p.relative_to(out))] = digest.hexdigest()
    return found


def compare(a: dict[str, str], b: dict[str, str]) -> dict:
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return {"files": len(a.keys() | b.keys()), "identical": not differ, "differ": differ}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- rows of the report -------------------------------------------------------------------

def row(section: str, label: str, ours: dict, other: dict | None, ratio: dict | None,
        ratio_name: str, target: str, met: bool | None, gap: str = "", unit: str = "s",
        note: str = "") -> dict:
    return {"section": section, "label": label, "ours": ours, "other": other or {},
            "ratio": ratio or {}, "ratio_name": ratio_name, "target": target, "met": met,
            "gap": gap, "unit": unit, "note": note}


def fmt_t(value: float, unit: str = "s") -> str:
    if unit == "ms":
        return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_stats(s: dict, unit: str = "s") -> str:
    if not s:
        return "–"
    if s["n"] == 1:
        return f"{fmt_t(s['median'], unit)} (1 run)"
    return (f"{fmt_t(s['min'], unit)} / **{fmt_t(s['median'], unit)}** / "
            f"{fmt_t(s['max'], unit)} ({s['n']} runs)")


def fmt_ratio(s: dict, percent: bool = False) -> str:
    if not s:
        return "–"
    if percent:
        return (f"**{s['median'] * 100:.1f} %** ({s['min'] * 100:.1f}–{s['max'] * 100:.1f} %)")
    return f"**{s['median']:.2f}x** ({s['min']:.2f}–{s['max']:.2f}x)"


def met_text(met: bool | None, gap: str) -> str:
    if met is None:
        return "–"
    return "yes" if met else f"**no**{': ' + gap if gap else ''}"


def needs(who: str, sign: str, bound: float, now: list[float], unit: str = "s") -> str:
    """The gap of a missed target: what the median would have to be, and what it is."""
    return (f"needs {who} {sign} {fmt_t(bound, unit)} (median now "
            f"{fmt_t(statistics.median(now), unit)})")


def pairwise(ours: list[float], other: list[float], *, other_over_ours: bool) -> dict:
    pairs = [(b / a if other_over_ours else a / b) for a, b in zip(ours, other)]
    return stats(pairs)


# --- 1. the default build at scale --------------------------------------------------------

def scale(base: Path, sizes: list[int], runs: int, once_above: int, identity_size: str,
          report: dict) -> None:
    """The default build (``--jobs 2``) of synthetic projects, cold, at each size."""
    results = report.setdefault("scale", [])
    kept: dict[int, Path] = {}
    for size in sorted(sizes):
        if size > 1000 and kept:
            identity(kept, results, identity_size, report)
            kept = {}
        work = base / f"scale-{size}"
        say(f"scale: making {size} projects ...")
        synthetic_data(work, size)
        cmd, shown = nexus("build", "--jobs", "2")
        n = 1 if size > once_above else runs
        first: dict[str, str] | None = None
        same_runs = True
        for i in range(n):
            clean(work)
            load = os.getloadavg()
            m = measure(cmd, work, shown=shown)
            m.update(outputs(work / "out"), projects=size, run=i + 1, load_before=load)
            m.pop("stdout")
            if "killed" not in m and n > 1:
                h = hashes(work / "out")
                if first is None:
                    first = h
                elif compare(first, h)["differ"]:
                    same_runs = False
            results.append(m)
            say(f"  {size:>6} projects, run {i + 1}/{n}: {m['seconds']:.1f} s, "
                f"{m['sheets']} sheets, bundles {m['bundles']}, tree peak "
                f"{m['peak_rss_mb']:.0f} MB (PSS {m['peak_pss_mb']:.0f}), largest process "
                f"{m['largest_process_mb']:.0f} MB{'; ' + m['killed'] if 'killed' in m else ''}")
            if "killed" in m:
                break
        report.setdefault("scale_same_across_runs", {})[str(size)] = (
            same_runs if first is not None else None)
        if size <= 1000:
            kept[size] = work
        else:
            shutil.rmtree(work, ignore_errors=True)
    if kept:
        identity(kept, results, identity_size, report)


def identity(kept: dict[int, Path], results: list[dict], identity_size: str,
             report: dict) -> None:
    """Build the data of one size again with ``--jobs 1`` into another folder and compare
    every file's sha256 with the last ``--jobs 2`` build."""
    if identity_size == "auto":
        t1000 = [r["seconds"] for r in results if r["projects"] == 1000 and "killed" not in r]
        if 1000 in kept and t1000 and statistics.median(t1000) <= 90:
            size = 1000
        else:
            size = 100 if 100 in kept else min(kept)
    else:
        size = int(identity_size)
    last = [r for r in results if r["projects"] == size][-1:]
    if size in kept and last and "killed" not in last[0]:
        work = kept[size]
        for entry in work.iterdir():  # cold, but keep the --jobs 2 build's out/
            if entry.name not in (*KEEP, "out"):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        cmd, shown = nexus("build", "--jobs", "1", "--out", "out-jobs1")
        say(f"identity: {size} projects with --jobs 1 ...")
        m = measure(cmd, work, shown=shown)
        m.pop("stdout")
        m.update(outputs(work / "out-jobs1"), projects=size, jobs1=True)
        if "killed" not in m:
            m["identity"] = compare(hashes(work / "out"), hashes(work / "out-jobs1"))
            say(f"  identical: {'yes' if m['identity']['identical'] else 'no'} "
                f"({m['identity']['files']} files; differ: {m['identity']['differ'][:5]})")
        report["identity"] = m
    else:
        say(f"identity: not checked ({size} projects: no finished --jobs 2 build here)")
    for work in kept.values():
        shutil.rmtree(work, ignore_errors=True)


def scale_rows(report: dict, rows: list[dict]) -> None:
    results = report.get("scale", [])
    sizes = sorted({r["projects"] for r in results})
    by_size = {s: [r for r in results if r["projects"] == s] for s in sizes}
    for size in sizes:
        done = [r for r in by_size[size] if "killed" not in r]
        killed = [r for r in by_size[size] if "killed" in r]
        r0 = by_size[size][0]
        label = (f"`{r0['command']}`: the default build (PDF + Word sheets, both bundles"
                 + ("; `--jobs 2` is the default on this 2-CPU machine" if os.cpu_count() == 2
                    else "") + f"), {size} synthetic projects, cold (empty out/)")
        ours = stats([r["seconds"] for r in done])
        rss = max((r["peak_rss_mb"] for r in by_size[size]), default=0)
        note = (f"{r0.get('sheets', 0)} sheets + {len(r0.get('bundles', []))} bundles; "
                f"CPU {statistics.median([r['cpu_seconds'] for r in done]):.0f} s (median); "
                if done else "")
        note += (f"peak of the whole tree (sum of RSS, max over runs) {rss:.0f} MB, sum of "
                 f"PSS {max(r['peak_pss_mb'] for r in by_size[size]):.0f} MB, largest single"
                 f" process (ru_maxrss) {max(r['largest_process_mb'] for r in by_size[size]):.0f}"
                 f" MB; up to {max(r.get('processes', 1) for r in by_size[size])} processes "
                 "in the tree")
        same = report.get("scale_same_across_runs", {}).get(str(size))
        if same is not None:
            note += f"; outputs byte-identical across the {len(done)} runs: " \
                    f"{'yes' if same else 'NO'}"
        if killed:
            note += "; " + killed[0]["killed"]
        if size == 1000:
            target = "median < 60 s and peak < 500 MB (whole tree)"
            gaps = []
            if not ours or ours["median"] >= 60:
                gaps.append(f"time needs < 60 s (median {fmt_t(ours['median'])})" if ours
                            else "time: not finished")
            if rss >= 500:
                gaps.append(f"memory needs < 500 MB ({rss:.0f} MB)")
            met, gap = not gaps, "; ".join(gaps)
        else:
            target, met, gap = "–", None, ""
        rows.append(row("scale", label, ours, None, None, "", target, met, gap, note=note))
        rows[-1]["peak_rss_mb"] = rss
    done_sizes = [s for s in sizes if any("killed" not in r for r in by_size[s])]
    if len(sizes) >= 2:
        small, big = sizes[-2], sizes[-1]
        k = big / small
        t_small = statistics.median([r["seconds"] for r in by_size[small] if "killed" not in r]
                                    or [float("nan")])
        big_done = [r["seconds"] for r in by_size[big] if "killed" not in r]
        big_runs = len(by_size[big])
        limit = 1.05 * k
        if big_done and small in done_sizes:
            r = statistics.median(big_done) / t_small
            met = r <= limit
            gap = "" if met else f"needs ≤ {fmt_t(limit * t_small)} at {big} projects"
            ratio = {"min": r, "median": r, "max": r, "n": 1}
        else:
            ratio, met, gap = {}, False, "a build did not finish"
        rows.append(row(
            "scale", f"time of the default build (`--jobs 2`), {big} vs {small} projects "
            f"({big} run {big_runs} time{'s' if big_runs > 1 else ''}; {small}: median)",
            stats(big_done), stats([x["seconds"] for x in by_size[small] if "killed" not in x]),
            ratio, f"{big} / {small}", f"≤ {limit:.1f}x", met, gap))
        m_small = max(x["peak_rss_mb"] for x in by_size[small])
        m_big = max(x["peak_rss_mb"] for x in by_size[big])
        met = m_big <= m_small and bool(big_done)
        rows.append(row(
            "scale", f"peak memory of the whole tree (sum of RSS), {big} vs {small} projects",
            {}, {}, {"min": m_big / m_small, "median": m_big / m_small,
                     "max": m_big / m_small, "n": 1}, f"{big} / {small}",
            "no higher (≤ 1.00x)", met,
            "" if met else f"{m_big:.0f} MB vs {m_small:.0f} MB (+{m_big - m_small:.0f} MB)"
            + ("" if big_done else "; the larger build did not finish"),
            note=f"{m_big:.0f} MB vs {m_small:.0f} MB"))
    ident = report.get("identity")
    if ident:
        if "identity" in ident:
            i = ident["identity"]
            met = i["identical"]
            gap = "" if met else f"{len(i['differ'])} files differ: " + ", ".join(
                i["differ"][:8]) + (" ..." if len(i["differ"]) > 8 else "")
            note = (f"identical: {'yes' if met else 'no'} ({i['files']} files compared by "
                    f"sha256); the `--jobs 1` build took {fmt_t(ident['seconds'])}, tree peak "
                    f"{ident['peak_rss_mb']:.0f} MB")
        else:
            met, gap, note = False, ident["killed"], ""
        rows.append(row(
            "scale", f"byte identity at {ident['projects']} projects: `{ident['command']}` vs "
            f"the last `nexusreports build --jobs 2` into out/", {}, {}, {}, "",
            "every file identical", met, gap, note=note))


# --- 2. cold builds of the shipped data vs docxtpl + LibreOffice; rebuilds ----------------

COMMON_WAY = r'''
# The common way: docxtpl fills the Word template for every sheet (the contexts come from
# nexusreports' own check() and views(), so the data and strings are the same); then
# LibreOffice converts the .docx files to PDF in a second process.
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from docxtpl import DocxTemplate
from nexusreports.pipeline import BuildOptions, check, views
from nexusreports.render.word import sheet_context
out = Path(sys.argv[1]); template = sys.argv[2]
projects, theme, _ = check(Path("data"), Path("templates"))
all_views = views(projects, BuildOptions())
t1 = time.perf_counter()
for view in all_views:
    tpl = DocxTemplate(template)
    tpl.render(sheet_context(view, tpl), autoescape=True)
    tpl.save(out / f"{view.lang}-{view.slug}.docx")
print(f"{t1 - t0:.4f} {time.perf_counter() - t1:.4f}")
'''


def soffice_program() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def full_builds(base: Path, repeat: int, report: dict) -> None:
    """(a) cold default build vs docxtpl + soffice, interleaved; (d) no-change rebuild
    right after each cold build; (e) one project changed, in its own copy."""
    work = project_copy(base, "shipped")
    soffice = soffice_program()
    template = work / "templates" / "sheet.docx"
    script = base / "common_way.py"
    script.write_text(COMMON_WAY, encoding="utf-8")
    docx_dir = base / "common-way"
    profile = (base / "lo-profile").as_uri()
    cmd, shown = nexus("build")
    expected = len(list((ROOT / "data" / "projects").glob("*.yaml"))) * 2

    def ours() -> dict:
        clean(work)
        m = measure(cmd, work, shown=shown)
        m.update(outputs(work / "out"))
        return m

    def peer() -> dict:
        shutil.rmtree(docx_dir, ignore_errors=True)
        docx_dir.mkdir()
        a = measure([PY, str(script), str(docx_dir), str(template)], work,
                    shown=f"python common_way.py (docxtpl, {expected} sheets)")
        if soffice is None:
            raise Failed("soffice (LibreOffice) is not on PATH")
        b = measure([soffice, f"-env:UserInstallation={profile}", "--headless",
                     "--convert-to", "pdf", "--outdir", str(docx_dir),
                     *sorted(str(p) for p in docx_dir.glob("*.docx"))], work,
                    shown="soffice --headless --convert-to pdf --outdir DIR *.docx")
        pdfs = len(list(docx_dir.glob("*.pdf")))
        if pdfs != expected:
            raise Failed(f"LibreOffice made {pdfs} PDFs of {expected}:\n{b['stdout']}")
        context_s, render_s = (float(x) for x in a["stdout"].split()[-2:])
        return {"seconds": a["seconds"] + b["seconds"], "docxtpl": a["seconds"],
                "cpu_seconds": a["cpu_seconds"] + b["cpu_seconds"],
                "soffice": b["seconds"], "docxtpl_contexts": context_s,
                "docxtpl_render": render_s}

    say("full: warming up (one untimed build of each; LibreOffice makes its profile) ...")
    ours()
    peer()
    cold, common, nochange = [], [], []
    for i in range(repeat):
        m = ours()
        if m["sheets"] != 2 * expected or len(m["bundles"]) != 2:
            raise Failed(f"the default build made {m['sheets']} sheets and bundles "
                         f"{m['bundles']}, expected {2 * expected} sheets and 2 bundles")
        cold.append(m)
        common.append(peer())
        before = hashes(work / "out")
        n = measure(cmd, work, shown=shown)
        n["summary"] = n["last_line"]
        n["outputs_unchanged"] = not compare(before, hashes(work / "out"))["differ"]
        nochange.append(n)
        say(f"  round {i + 1}/{repeat}: ours {cold[-1]['seconds']:.2f} s, docxtpl+soffice "
            f"{common[-1]['seconds']:.2f} s, no-change {n['seconds']:.2f} s")
    for m in cold + nochange:
        m.pop("stdout", None)
    report["full"] = {"cold": cold, "common": common, "nochange": nochange,
                      "command": shown}

    # (e) one project changed: its own copy, cold once, then a changed paragraph each time
    inc = project_copy(base, "incremental")
    measure(cmd, inc, shown=shown)  # cold, untimed
    source = inc / "data" / "projects" / "infectieziekten.yaml"
    original = source.read_text(encoding="utf-8")
    changed = []
    for i in range(repeat):
        edited = original.replace("  nl: >-\n", f"  nl: >-\n    Versie {i + 1}.\n", 1)
        if edited == original:
            raise Failed("benchmarks/run.py: no '  nl: >-' paragraph in infectieziekten.yaml")
        source.write_text(edited, encoding="utf-8")
        m = measure(cmd, inc, shown=shown)
        m.pop("stdout")
        m["summary"] = m["last_line"]
        changed.append(m)
    report["full"]["one_changed"] = changed
    shutil.rmtree(inc, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


def full_rows(report: dict, rows: list[dict]) -> None:
    full = report.get("full")
    if not full:
        return
    cold = [m["seconds"] for m in full["cold"]]
    common = [m["seconds"] for m in full["common"]]
    nochange = [m["seconds"] for m in full["nochange"]]
    r = pairwise(cold, common, other_over_ours=True)
    med_common = statistics.median(common)
    met = r["median"] >= 3
    ctx = statistics.median([m["docxtpl_contexts"] for m in full["common"]])
    rows.append(row(
        "peers", f"(a) cold `{full['command']}` of the shipped data (4 projects: 8 PDF + 8 Word"
        " sheets + both bundles, empty out/) vs docxtpl + LibreOffice making the same 8 Word "
        "sheets and 8 PDFs (`python common_way.py` then `soffice --headless --convert-to pdf`,"
        " timed as one unit)", stats(cold), stats(common), r, "docxtpl+LO / ours", "≥ 3x",
        met, needs("ours", "≤", med_common / 3, cold),
        note=f"the common way's parts (medians): docxtpl process "
             f"{fmt_t(statistics.median([m['docxtpl'] for m in full['common']]))} (of it "
             f"{fmt_t(ctx)} importing and nexusreports' check()+views() for the contexts), "
             f"soffice {fmt_t(statistics.median([m['soffice'] for m in full['common']]))}; "
             f"our tree peak {max(m['peak_rss_mb'] for m in full['cold']):.0f} MB; CPU time "
             f"(whole processes, medians): ours "
             f"{fmt_t(statistics.median([m['cpu_seconds'] for m in full['cold']]))}, the "
             f"common way {fmt_t(statistics.median([m['cpu_seconds'] for m in full['common']]))}"
             ))
    d = pairwise(cold, nochange, other_over_ours=True)  # no-change / cold
    med_cold = statistics.median(cold)
    met = d["median"] < 0.10
    rows.append(row(
        "rebuilds", f"(d) no-change rebuild: `{full['command']}` again right after each cold "
        "build above (same out/), vs that cold build", stats(nochange), stats(cold),
        d, "no-change / cold", "< 10 %",
        met, needs("it", "<", 0.10 * med_cold, nochange),
        note=(f"outputs untouched by every no-change rebuild: "
              f"{'yes' if all(n.get('outputs_unchanged') for n in full['nochange']) else 'NO'};"
              f" its last line: {full['nochange'][-1].get('summary', '')!r}")))
    rows[-1]["percent"] = True
    one = [m["seconds"] for m in full.get("one_changed", [])]
    if one:
        rows.append(row(
            "rebuilds", f"(e) one project changed: a Dutch paragraph of infectieziekten.yaml "
            f"edited, then `{full['command']}` (in its own copy, built once before), vs "
            "the median cold build of (a) (not paired)", stats(one), stats(cold),
            {"min": min(one) / med_cold, "median": statistics.median(one) / med_cold,
             "max": max(one) / med_cold, "n": len(one)}, "changed / cold", "–", None,
            note=f"its last line: {full['one_changed'][-1].get('summary', '')!r}"))
        rows[-1]["percent"] = True


# --- 3. an ad-hoc sheet, cold: --only and validate vs Typst ---------------------------------

TYPST_SHEET = r'''
#let d = json("sheet.json")
#set document(title: d.title)
#set page(paper: "a4", margin: (x: 14mm, top: 0mm, bottom: 12mm))
#set text(font: "Carlito", size: 9pt, lang: d.lang)
#set par(justify: false, leading: 0.5em)
#block(width: 100% + 28mm, inset: (x: 14mm, y: 8mm), fill: rgb("#12355B"), outset: (x: 0mm))[
  #text(fill: white, size: 20pt, weight: "bold")[#d.title] \
  #text(fill: rgb("#9FD3E6"), size: 11pt)[#d.domain]
]
#grid(columns: (1fr, 62mm), gutter: 6mm,
  [#for b in d.left [
     #heading(level: 1)[#text(weight: "bold", fill: rgb("#12355B"), size: 11pt)[#b.heading]]
     #for p in b.paras [#p #parbreak()]
   ]],
  [#block(fill: rgb("#EEF3F7"), inset: 3mm, width: 100%)[
     #for p in d.right [#text(size: 8pt)[#p] \ ]
   ]])
#line(length: 100%, stroke: 0.5pt + gray)
#text(size: 7pt, fill: gray)[#d.footer]
'''

TYPST_COLD = r'''
import sys, typst
standards = [s for s in sys.argv[3].split(",") if s]
typst.compile(sys.argv[1], output=sys.argv[2], font_paths=[sys.argv[4]],
              ignore_system_fonts=True, pdf_standards=standards)
'''


def shipped_views():
    """The shipped data's sheet views (by project, then language) and the theme, in this
    process (the nexusreports the builds use: installed or on PYTHONPATH)."""
    try:
        import nexusreports  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))
    from nexusreports.pipeline import BuildOptions, check, views

    projects, theme, _ = check(ROOT / "data", ROOT / "templates")
    return views(projects, BuildOptions(data_dir=ROOT / "data",
                                        templates_dir=ROOT / "templates")), theme


def atmp_nl(all_views):
    return next(v for v in all_views if v.slug == "atmp" and v.lang == "nl")


def typst_data(view) -> tuple[dict, str]:
    """The sheet's strings for the Typst template: its sections and key figures (what the
    view offers today), else every string of the view in one column."""
    try:
        left = [{"heading": view.labels["summary"] if "summary" in view.labels
                 else view.labels["relevance"], "paras": list(view.summary)},
                {"heading": view.labels["relevance"], "paras": list(view.relevance)},
                {"heading": view.national.heading,
                 "paras": [e.text for e in view.national.entries]},
                {"heading": view.european.heading,
                 "paras": [e.text for e in view.european.entries]}]
        right = [view.size, view.period_start, view.period_end, view.trl_range, view.mrl,
                 *[i.label for g in view.matrix for i in g.items],
                 " · ".join(o.name for o in view.organisations)]
        data = {"lang": view.lang, "title": view.title, "domain": view.domain, "left": left,
                "right": [str(x) for x in right], "footer": view.footer_left}
        return data, "the sheet's sections and key figures"
    except (AttributeError, KeyError, TypeError):
        texts = [str(t) for t in view.all_text]
        return ({"lang": view.lang, "title": texts[0], "domain": "", "footer": "",
                 "left": [{"heading": "", "paras": texts[1:]}], "right": []},
                "every string of the view in one column (the view's fields changed)")


def typst_prepare(base: Path, view) -> dict:
    """sheet.typ and sheet.json in a folder of their own; the PDF standards Typst can make
    of it (PDF/A-2u + PDF/UA-1 as ours, else fewer, said in the rows)."""
    import typst

    tdir = base / "typst"
    tdir.mkdir(exist_ok=True)
    data, content = typst_data(view)
    (tdir / "sheet.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tdir / "sheet.typ").write_text(TYPST_SHEET, encoding="utf-8")
    fonts = str(ROOT / "templates" / "fonts")
    for standards in (["a-2u", "ua-1"], ["a-2u"], []):
        try:
            typst.compile(str(tdir / "sheet.typ"), font_paths=[fonts], ignore_system_fonts=True,
                          pdf_standards=standards)
            break
        except Exception as exc:  # noqa: BLE001 - try fewer standards
            say(f"typst: {standards} refused: {str(exc)[:200]}")
    else:
        raise Failed("Typst cannot compile the benchmark's sheet")
    return {"dir": tdir, "fonts": fonts, "standards": standards, "content": content,
            "cli": shutil.which("typst")}


def adhoc(base: Path, repeat: int, typ: dict, report: dict) -> None:
    """(b) cold ``build --only atmp --lang nl --format pdf`` and cold ``validate`` vs a cold
    Typst process, interleaved."""
    work = project_copy(base, "adhoc")
    only, only_shown = nexus("build", "--only", "atmp", "--lang", "nl", "--format", "pdf")
    val, val_shown = nexus("validate")
    std = ",".join(typ["standards"])
    tcmd = [PY, "-c", TYPST_COLD, "sheet.typ", "sheet.pdf", std, typ["fonts"]]
    tshown = ("python -c \"import typst; typst.compile('sheet.typ', output='sheet.pdf', "
              f"pdf_standards={typ['standards']}, ...)\"")
    cli = typ["cli"]
    clicmd = ([cli, "compile", "--font-path", typ["fonts"], "--ignore-system-fonts",
               *(["--pdf-standard", std] if std else []), "sheet.typ", "sheet-cli.pdf"]
              if cli else None)
    runs: dict[str, list[float]] = {"only": [], "typst": [], "validate": [], "typst_cli": []}
    cpu: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, cmd: list[str], cwd: Path, **kw) -> float:
        m = measure(cmd, cwd, **kw)
        cpu[name].append(m["cpu_seconds"])
        return m["seconds"]

    def build_only() -> float:
        clean(work)
        seconds = timed("only", only, work, shown=only_shown)
        made = outputs(work / "out")
        if made["sheets"] != 1:
            raise Failed(f"`{only_shown}` made {made['sheets']} sheets, expected 1")
        return seconds

    say("adhoc: warming up (one untimed run of each) ...")
    build_only()
    measure(tcmd, typ["dir"], sample=False)
    measure(val, work, shown=val_shown)
    if clicmd:
        measure(clicmd, typ["dir"], sample=False)
    cpu.clear()
    for i in range(repeat):
        runs["only"].append(build_only())
        runs["typst"].append(timed("typst", tcmd, typ["dir"], sample=False))
        runs["validate"].append(timed("validate", val, work, shown=val_shown))
        if clicmd:
            runs["typst_cli"].append(timed("typst_cli", clicmd, typ["dir"], sample=False))
        say(f"  round {i + 1}/{repeat}: --only {runs['only'][-1]:.2f} s, Typst "
            f"{runs['typst'][-1]:.2f} s, validate {runs['validate'][-1]:.2f} s")
    report["adhoc"] = {**runs, "cpu": dict(cpu), "only_command": only_shown, "validate_command": val_shown,
                       "typst_command": tshown, "typst_cli_command":
                       shlex.join(["typst", *clicmd[1:]]) if clicmd else None,
                       "typst_standards": typ["standards"], "typst_content": typ["content"]}
    shutil.rmtree(work, ignore_errors=True)


def adhoc_rows(report: dict, rows: list[dict]) -> None:
    a = report.get("adhoc")
    if not a:
        return
    std = "+".join(a["typst_standards"]) or "no PDF standard"
    peer = (f"a cold Typst process making one equivalent sheet ({a['typst_content']} of atmp "
            f"nl, JSON made beforehand; {std}): `{a['typst_command']}`")
    typ_med = statistics.median(a["typst"])
    r = pairwise(a["only"], a["typst"], other_over_ours=False)
    met = r["median"] <= 2
    def cpu(name: str) -> str:
        values = a.get("cpu", {}).get(name)
        return fmt_t(statistics.median(values)) if values else "–"

    peer += (f" (CPU time of the whole processes, medians: --only {cpu('only')}, validate "
             f"{cpu('validate')}, Typst {cpu('typst')})")
    rows.append(row(
        "peers", f"(b) cold `{a['only_command']}` (one PDF sheet, empty out/) vs {peer}",
        stats(a["only"]), stats(a["typst"]), r, "ours / Typst", "≤ 2x", met,
        needs("ours", "≤", 2 * typ_med, a["only"])))
    r = pairwise(a["validate"], a["typst"], other_over_ours=False)
    met = r["median"] <= 2
    rows.append(row(
        "peers", f"(b) cold `{a['validate_command']}` (the shipped data) vs the same Typst run",
        stats(a["validate"]), stats(a["typst"]), r, "ours / Typst", "≤ 2x", met,
        needs("ours", "≤", 2 * typ_med, a["validate"])))
    r = pairwise(a["validate"], a["only"], other_over_ours=False)
    met = r["median"] <= 1
    rows.append(row(
        "peers", f"(b) cold `{a['validate_command']}` vs cold `{a['only_command']}` (same "
        "rounds)", stats(a["validate"]), stats(a["only"]), r, "validate / --only",
        "≤ 1x (no slower)", met,
        "" if met else f"needs validate ≤ {fmt_t(statistics.median(a['only']))}"))
    if a.get("typst_cli"):
        r = pairwise(a["only"], a["typst_cli"], other_over_ours=False)
        met = r["median"] <= 2
        rows.append(row(
            "peers", f"(b) cold `{a['only_command']}` vs the `typst` CLI: "
            f"`{a['typst_cli_command']}`", stats(a["only"]), stats(a["typst_cli"]), r,
            "ours / Typst CLI", "≤ 2x", met,
            "" if met else f"needs ours ≤ {fmt_t(2 * statistics.median(a['typst_cli']))}"))


# --- 4. one warm sheet, in this process ------------------------------------------------------

def warm(base: Path, pairs: int, all_views, theme, typ: dict, report: dict) -> None:
    """(c) render_pdf vs typst.compile, (e) render_docx vs bare docxtpl, interleaved, over
    the shipped sheets in rotation."""
    import io

    import typst
    from docxtpl import DocxTemplate

    from nexusreports.render.pdf import render_pdf
    from nexusreports.render.word import render_docx, sheet_context

    tdir = typ["dir"]
    (tdir / "warm.typ").write_text(TYPST_SHEET.replace('json("sheet.json")', 'json("warm.json")'),
                                   encoding="utf-8")
    sheets = [typst_data(v)[0] for v in all_views]

    def typst_input(k: int, i: int) -> None:
        """Sheet ``k`` of the rotation, every string numbered ``i`` (a number not used
        before): nothing of its text has been laid out before in this process (Typst
        memoises layout across compiles)."""
        data = json.loads(json.dumps(sheets[k % len(sheets)]))
        for block in data["left"]:
            block["paras"] = [f"{i} {p}" for p in block["paras"]]
        data["right"] = [f"{i} {p}" for p in data["right"]]
        data["footer"] = f"{i} {data['footer']}"
        (tdir / "warm.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    # a warm Typst: one Compiler (its fonts loaded once, as ours are registered once); also
    # typst.compile(), which makes a new world (and loads the fonts) on every call
    compiler = typst.Compiler(str(tdir / "warm.typ"), font_paths=[typ["fonts"]],
                              ignore_system_fonts=True)

    def typst_pdf() -> bytes:
        return compiler.compile(pdf_standards=typ["standards"])

    def typst_function() -> bytes:
        return typst.compile(str(tdir / "warm.typ"), pdf_standards=typ["standards"],
                             font_paths=[typ["fonts"]], ignore_system_fonts=True)

    template = str(ROOT / "templates" / "sheet.docx")

    cpu: dict[str, list[float]] = defaultdict(list)

    def timed(fn, name: str) -> float:
        """Wall time of one call; its CPU time (every thread of this process, Typst's too)
        goes to ``cpu[name]``."""
        c, t = time.process_time(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t
        cpu[name].append(time.process_time() - c)
        return wall

    def bare_docxtpl(view) -> bytes:
        tpl = DocxTemplate(template)
        tpl.render(sheet_context(view, tpl), autoescape=True)
        buf = io.BytesIO()
        tpl.save(buf)
        return buf.getvalue()

    say(f"warm: {pairs} interleaved pairs each (after one warm-up round of every sheet) ...")
    for i, view in enumerate(all_views):
        typst_input(i, 10_000 + i)
        render_pdf(view, theme, invariant=True), typst_pdf(), typst_function()
        render_docx(view, theme), bare_docxtpl(view)
    result: dict[str, list[float]] = {"pdf": [], "typst": [], "typst_function": [],
                                      "docx": [], "docxtpl": []}
    for i in range(pairs):
        view = all_views[i % len(all_views)]
        result["pdf"].append(timed(lambda v=view: render_pdf(v, theme, invariant=True), "pdf"))
        typst_input(i, i)
        result["typst"].append(timed(typst_pdf, "typst"))
        typst_input(i, pairs + i)
        result["typst_function"].append(timed(typst_function, "typst_function"))
    for i in range(pairs):
        view = all_views[i % len(all_views)]
        result["docx"].append(timed(lambda v=view: render_docx(v, theme), "docx"))
        result["docxtpl"].append(timed(lambda v=view: bare_docxtpl(v), "docxtpl"))
    pdf = render_pdf(all_views[0], theme, invariant=True)
    report["warm"] = {**result, "cpu": dict(cpu), "typst_standards": typ["standards"],
                      "typst_content": typ["content"], "sheets": len(all_views),
                      "tagged": b"StructTreeRoot" in pdf}


def cpu_note(w: dict, ours: str, other: str) -> str:
    """The median CPU time of each side of a warm comparison (all threads of the process;
    steadier than wall time on a loaded machine)."""
    cpu = w.get("cpu", {})
    if not cpu.get(ours) or not cpu.get(other):
        return "CPU time not recorded"
    return (f"CPU time per sheet, medians: ours {fmt_t(statistics.median(cpu[ours]), 'ms')}, "
            f"other {fmt_t(statistics.median(cpu[other]), 'ms')}")


def warm_rows(report: dict, rows: list[dict]) -> None:
    w = report.get("warm")
    if not w:
        return
    std = "+".join(w["typst_standards"]) or "no PDF standard"
    r = pairwise(w["pdf"], w["typst"], other_over_ours=False)
    met = r["median"] <= 1
    rows.append(row(
        "peers", f"(c) one warm PDF sheet, in-process, the {w['sheets']} shipped sheets in "
        "rotation: `render_pdf(view, theme, invariant=True)` (tagged, structure tree "
        f"present: {'yes' if w['tagged'] else 'NO'}) vs one `typst.Compiler('warm.typ', "
        "font_paths=[fonts])` kept warm, `.compile(pdf_standards="
        f"{w['typst_standards']})` each time ({w['typst_content']}, a simpler page than "
        "ours: no key-figure panel, scales or matrix markers; every string numbered per "
        f"compile so Typst lays out new text each time; {std}; {cpu_note(w, 'pdf', 'typst')})",
        stats(w["pdf"]), stats(w["typst"]), r,
        "ours / Typst", "≤ 1x (no slower)", met,
        "" if met else f"needs ours ≤ {fmt_t(statistics.median(w['typst']), 'ms')}",
        unit="ms"))
    if w.get("typst_function"):
        r = pairwise(w["pdf"], w["typst_function"], other_over_ours=False)
        met = r["median"] <= 1
        rows.append(row(
            "peers", "(c) the same warm PDF sheets vs `typst.compile('warm.typ', ...)` called "
            "each time (a new Typst world, its fonts loaded again, on every call; the same "
            f"rounds; {cpu_note(w, 'pdf', 'typst_function')})", stats(w["pdf"]),
            stats(w["typst_function"]), r, "ours / Typst",
            "– (the target is against the warm Compiler above)", None, unit="ms"))
    r = pairwise(w["docx"], w["docxtpl"], other_over_ours=False)
    met = r["median"] <= 1
    rows.append(row(
        "peers", f"(e) one warm Word sheet, in-process, the {w['sheets']} shipped sheets in "
        "rotation: `render_docx(view, theme)` (with the fit check and reproducible zip) vs "
        "bare docxtpl on the same template "
        f"(`DocxTemplate(...).render(sheet_context(view, tpl)); save`; "
        f"{cpu_note(w, 'docx', 'docxtpl')})", stats(w["docx"]),
        stats(w["docxtpl"]), r, "ours / docxtpl", "≤ 1x (no slower)", met,
        "" if met else f"needs ours ≤ {fmt_t(statistics.median(w['docxtpl']), 'ms')}",
        unit="ms"))


# --- the machine, and the report ------------------------------------------------------------

def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict:
    soffice = soffice_program()
    lo = "not found"
    if soffice:
        try:
            lo = subprocess.run([soffice, "--version"], capture_output=True, text=True,
                                timeout=60, check=False).stdout.strip() or "unknown"
        except (OSError, subprocess.TimeoutExpired):
            lo = "unknown"
    cli = shutil.which("typst")
    # What a user runs has its bytecode: pip compiles an installed wheel's modules, and
    # Python caches an editable install's on first import -- unless PYTHONDONTWRITEBYTECODE
    # is set (this machine sets it), when every cold process would compile our ~30 modules
    # from source (~0.4 s) while the peers' site-packages come compiled.  So compile once.
    subprocess.run([PY, "-c", ("import compileall, pathlib, nexusreports; compileall.compile_dir("
                               "str(pathlib.Path(nexusreports.__file__).parent), quiet=1)")],
                   capture_output=True, cwd="/", check=True)
    where = subprocess.run([PY, "-c", "import nexusreports; print(nexusreports.__file__)"],
                           capture_output=True, text=True, cwd="/", check=False).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True, check=False).stdout.strip()
    try:
        with open("/proc/meminfo") as f:
            mem = next(int(line.split()[1]) // 1024 for line in f
                       if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        mem = 0
    return {
        "cpus": os.cpu_count(), "memory_mb": mem, "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {d: version(d) for d in ("reportlab", "rl_accel", "pikepdf", "docxtpl",
                                             "python-docx", "typst")},
        "typst_cli": (subprocess.run([cli, "--version"], capture_output=True, text=True,
                                     check=False).stdout.strip() if cli else "not installed"),
        "libreoffice": lo, "nexusreports": where, "commit": head + (" (src/ modified)"
                                                                    if dirty else ""),
        "program": shlex.join(NEXUS),
        "bytecode": ("compiled beforehand (compileall), as pip does on install; "
                     f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def machine_line(m: dict, load_start, load_end) -> str:
    v = m["versions"]
    return (f"{m['cpus']} CPUs, {m['memory_mb']} MB RAM, {m['platform']}, Python {m['python']};"
            f" ReportLab {v['reportlab']} (rl_accel {v['rl_accel']}), pikepdf {v['pikepdf']}, "
            f"docxtpl {v['docxtpl']}, python-docx {v['python-docx']}, Typst (Python) "
            f"{v['typst']}, Typst CLI {m['typst_cli']}, {m['libreoffice']}. "
            f"Code: commit {m['commit']}, nexusreports imported from `{m['nexusreports']}`, "
            f"run as `{m['program']}`, its bytecode {m.get('bytecode', 'as found')}. "
            f"Started {m['date']}. Load average (1, 5, 15 min) at "
            f"the start {', '.join(f'{x:.2f}' for x in load_start)}, at the end "
            f"{', '.join(f'{x:.2f}' for x in load_end)} (above 0.5 means other jobs were "
            "running on this machine).")


def markdown(report: dict) -> str:
    rows: list[dict] = []
    scale_rows(report, rows)
    full_rows(report, rows)
    adhoc_rows(report, rows)
    warm_rows(report, rows)
    load_end = report.get("load_end") or os.getloadavg()
    lines = ["## benchmarks/run.py", "",
             f"Command: `{report['argv']}`", "",
             "Machine: " + machine_line(report["machine"], report["load_start"], load_end), "",
             (f"Every command ran in a fresh copy of the project (data/, templates/, "
              f"nexusreports.toml) in a temporary folder, with SOURCE_DATE_EPOCH={EPOCH}; "
              "times are wall-clock of whole processes (start to exit) unless a row says "
              "in-process. Bold is the median; ratios are taken pair by pair (median, "
              "min–max). Memory: the whole process tree (the build and all its workers), the "
              "sum of RSS sampled every 20 ms, unless a row says otherwise."), ""]
    scale = [r for r in rows if r["section"] == "scale"]
    if scale:
        lines += ["### The default build at scale", "",
                  ("Synthetic data: the 4 shipped projects plus copies of the 3 flagships made "
                   "stand-alone programmes (real text lengths), and the shipped bundle.yaml "
                   "with every project in `order:`. Sizes above "
                   f"{report['once_above']} projects are built once."), "",
                  ("| configuration (exact command) | seconds: min / median / max | peak memory "
                   "(whole tree, sum of RSS) | target | met? | details |"),
                  "|---|---|---|---|---|---|"]
        for r in scale:
            mem = f"{r['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in r else "–"
            if not r["ours"] and r["ratio"]:  # the ratio rows
                cell = fmt_ratio(r["ratio"]) + f" ({r['ratio_name']})"
                if r["other"]:
                    cell += (f": {fmt_t(r['ours']['median']) if r['ours'] else '–'} vs "
                             f"{fmt_t(r['other']['median'])}")
                lines.append(f"| {r['label']} | {cell} | – | {r['target']} | "
                             f"{met_text(r['met'], r['gap'])} | {r['note']} |")
            elif r["ours"] and r["ratio"]:
                lines.append(f"| {r['label']} | {fmt_ratio(r['ratio'])} ({r['ratio_name']}): "
                             f"{fmt_t(r['ours']['median'])} vs "
                             f"{fmt_t(r['other']['median']) if r['other'] else '–'} |"
                             f" – | {r['target']} | {met_text(r['met'], r['gap'])} | "
                             f"{r['note']} |")
            else:
                lines.append(f"| {r['label']} | {fmt_stats(r['ours'])} | {mem} | "
                             f"{r['target']} | {met_text(r['met'], r['gap'])} | {r['note']} |")
        lines.append("")
    other = ([r for r in rows if r["section"] == "peers"]
             + [r for r in rows if r["section"] == "rebuilds"])
    if other:
        lines += ["### Compared with other tools, and rebuilds", "",
                  ("| measurement (exact commands and configuration) | ours: min / median / "
                   "max | other: min / median / max | ratio per pair: median (min–max) | "
                   "target | met? |"), "|---|---|---|---|---|---|"]
        for r in other:
            ratio = fmt_ratio(r["ratio"], r.get("percent", False))
            label = r["label"] + (f" ({r['note']})" if r["note"] else "")
            lines.append(f"| {label} | {fmt_stats(r['ours'], r['unit'])} | "
                         f"{fmt_stats(r['other'], r['unit'])} | {ratio} {r['ratio_name']} | "
                         f"{r['target']} | {met_text(r['met'], r['gap'])} |")
        lines.append("")
    lines += [f"Sections skipped: {', '.join(report['skipped'])}." if report["skipped"]
              else "", f"Total run time {report.get('total_seconds', 0) / 60:.1f} min."]
    return "\n".join(lines).rstrip() + "\n"


def write_outputs(report: dict, args) -> str:
    text = markdown(report)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n",
                             encoding="utf-8")
    return text


SECTIONS = ("full", "adhoc", "warm", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="project counts of the scale builds (default 100,1000,10000)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds of each interleaved comparison (default 5)")
    parser.add_argument("--scale-repeat", type=int, default=3,
                        help="cold builds at each size up to --once-above (default 3)")
    parser.add_argument("--once-above", type=int, default=1000,
                        help="sizes above this are built once (default 1000)")
    parser.add_argument("--warm-pairs", type=int, default=50,
                        help="interleaved pairs of each warm comparison (default 50)")
    parser.add_argument("--identity-size", default="auto",
                        help="projects of the --jobs 1 vs --jobs 2 comparison (default: 1000 "
                             "if its build took ≤ 90 s, else 100)")
    parser.add_argument("--skip", default="", help=f"sections to leave out: {','.join(SECTIONS)}")
    parser.add_argument("--mem-limit-mb", type=float, default=8000,
                        help="kill a build whose process tree passes this (default 8000)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="kill a build that runs longer, seconds (default 1800)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: sizes 10,20, 2 repeats, 10 warm pairs")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--from-json", type=Path,
                        help="measure nothing: print (and --markdown) the tables of a --json")
    args = parser.parse_args(argv)
    if args.from_json:
        text = markdown(json.loads(args.from_json.read_text(encoding="utf-8")))
        if args.markdown:
            args.markdown.write_text(text, encoding="utf-8")
        print(text)
        return 0
    if args.quick:
        args.sizes, args.repeat, args.scale_repeat, args.warm_pairs = "10,20", 2, 2, 10
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if any(s < 4 for s in sizes):
        parser.error("--sizes: at least 4 projects (the shipped ones)")
    skipped = [s for s in args.skip.split(",") if s]
    if set(skipped) - set(SECTIONS):
        parser.error(f"--skip: one of {','.join(SECTIONS)}")
    LIMITS.mem_limit_mb, LIMITS.timeout = args.mem_limit_mb, args.timeout
    start = time.monotonic()
    report: dict = {"argv": shlex.join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
                    "load_start": os.getloadavg(), "machine": machine(),
                    "once_above": args.once_above, "skipped": skipped, "sizes": sizes}
    say("machine: " + machine_line(report["machine"], report["load_start"], os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        base = Path(tmp)
        try:
            if "full" not in skipped:
                full_builds(base, args.repeat, report)
                write_outputs(report, args)
            if "adhoc" not in skipped or "warm" not in skipped:
                all_views, theme = shipped_views()
                typ = typst_prepare(base, atmp_nl(all_views))
            if "adhoc" not in skipped:
                adhoc(base, args.repeat, typ, report)
                write_outputs(report, args)
            if "warm" not in skipped:
                warm(base, args.warm_pairs, all_views, theme, typ, report)
                write_outputs(report, args)
            if "scale" not in skipped:
                scale(base, sizes, args.scale_repeat, args.once_above, args.identity_size,
                      report)
        finally:
            report["load_end"] = os.getloadavg()
            report["total_seconds"] = time.monotonic() - start
            text = ""
            if any(k in report for k in ("full", "adhoc", "warm", "scale")):
                try:
                    text = write_outputs(report, args)
                except Exception as exc:  # noqa: BLE001 - never hide the run's own error
                    say(f"could not write the report of a partial run: {exc!r}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
