"""What ``pdf_bundle.py`` and ``word_bundle.py`` share: the shipped data's bundle view to
repeat over N projects' sheet files, and the measurement of one bundle being written (CPU
and wall seconds, the RSS it adds sampled every 50 ms, tracemalloc's peak on request)."""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

from nexusreports.validate import load_bundle, load_projects
from nexusreports.view import build_bundle_view

ROOT = Path(__file__).resolve().parent.parent
LOCALES = {"nl": "nl-NL", "en": "en-GB"}


@dataclasses.dataclass(frozen=True)
class Ref:
    """What the bundle reads of a sheet's view."""

    slug: str
    lang: str
    locale_id: str
    project_name: str


def shipped_view():
    """The bundle view of the shipped data (its labels, cover and summary rows)."""
    data = ROOT / "data"
    projects = load_projects(data)
    return build_bundle_view(load_bundle(data, projects), projects, {
        (s, lang): Ref(s, lang, LOCALES[lang], projects.by_slug(s).display_short_name(lang))
        for s in projects.slugs for lang in LOCALES})


def first_slugs(sheets: Path, fmt: str, n: int) -> list[str]:
    """The first ``n`` projects with a Dutch ``fmt`` sheet in the out/ folder ``sheets``."""
    slugs = sorted(p.stem for p in (sheets / "nl").glob(f"*.{fmt}"))[:n]
    if len(slugs) < n:
        sys.exit(f"{sheets} holds the {fmt} sheets of {len(slugs)} projects, not {n}")
    return slugs


class Measured:
    """``with Measured(trace) as m:`` around writing a bundle; then ``m.cpu``, ``m.wall``,
    ``m.added`` (bytes of RSS over the start), ``m.end`` (RSS at the end) and ``m.traced``
    (tracemalloc's peak, with ``trace``), and ``m.line()`` for the figures as text."""

    def __init__(self, trace: bool = False):
        self.trace = trace
        self.process = psutil.Process()
        self.traced: int | None = None

    def __enter__(self) -> Measured:
        gc.collect()
        self.rss0 = self.peak = self.process.memory_info().rss
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        if self.trace and not tracemalloc.is_tracing():
            tracemalloc.start(1)
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall
        if self.trace:
            self.traced = tracemalloc.get_traced_memory()[1]
        self._done.set()
        self._sampler.join()
        self.end = self.process.memory_info().rss
        self.added = max(self.peak, self.end) - self.rss0

    def line(self) -> str:
        return (f"CPU {self.cpu:.1f} s, wall {self.wall:.1f} s, RSS added {self.added / 1e6:.1f}"
                f" MB (end {self.end / 1e6:.1f} MB)"
                + (f", tracemalloc peak {self.traced / 1e6:.1f} MB" if self.traced else ""))
