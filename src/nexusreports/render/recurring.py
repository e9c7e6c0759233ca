"""A cache for a process that renders thousands of sheets: it keeps what recurs from sheet
to sheet (the labels, headings and the template's fixed paragraphs) and forgets what one
project's sheets alone have (its texts) once the next sheets start.

A cache that keeps everything it meets fills with each project's texts: a rendering
process of a 10,000-project build grew by some 35 MB over its 20,000 sheets, still growing
at the end, while what its sheets share is a few hundred entries.  :class:`Recurring`
keeps an entry for good only once it has been met on :data:`KEEP_AFTER` earlier sheets
(a project's texts are on two sheets per format, its two languages); until then it is
kept for the sheet being drawn only (a sheet measures and draws the same paragraph more
than once).  Of what it has not kept it remembers the hash only, a bounded number of them,
and how many sheets met it, in two flat arrays made with the cache (9 bytes a place, twice
as many places as hashes), not as Python objects: a dict of hash ints, emptied and filled
again, made its few thousand int objects among each sheet's transient ones, and they lived
on; as the dicts filled (over a rendering process's first 4,000 sheets) Python's heap grew
by some 4,000 blocks, 0.2 MB, and one arena (benchmarks/worker_creep.py; the process's
resident size hardly moved with it).  The arrays are as large on the first sheet as on the
last.

:func:`next_sheet` marks the start of a sheet (the renderers call it); every cache sees it.
Whatever is taken from the cache is what would have been made afresh: only memory and time
depend on what is kept, never an output's bytes.
"""

from __future__ import annotations

import functools
import gc
from array import array
from collections.abc import Callable
from typing import Any, TypeVar

KEEP_AFTER = 2
"""How many earlier sheets must have met a key before it is kept for good: a project's own
texts are on its two sheets of a format (nl and en) and are not kept; a label is on every
sheet of its language."""

_SHEET = [0]


def next_sheet() -> None:
    """A new sheet begins: what the sheets before it met and no other sheet did is
    forgotten by every :class:`Recurring` (its hash remembered, see :data:`KEEP_AFTER`)."""
    _SHEET[0] += 1


_Renderer = TypeVar("_Renderer", bound=Callable[..., Any])


def sheet_renderer(render: _Renderer) -> _Renderer:
    """Decorate a function that draws one sheet: it starts a sheet (:func:`next_sheet`),
    Python's cyclic garbage collector waits while it draws, and collects what it left
    once it is done.

    A sheet is a graph of some tens of thousands of objects in cycles (canvas and document,
    flowables and frames, trees of parts) that lives until the sheet is saved and then waits
    for the collector: run every 700 allocations, it went over the sheet's live objects
    again and again, and collected its garbage late (about 1 ms of a PDF sheet's 16-20 ms in
    a rendering process).  Collected once right after the sheet, the young objects are
    mostly that garbage (about 0.3 ms); every :data:`FULL_COLLECTION_EVERY` sheets the
    oldest generation is collected too, so what outlived its sheet and became garbage later
    is freed: memory does not grow.  A caller that had switched the collector off finds it
    off, and it is left to that caller."""

    @functools.wraps(render)
    def drawing(*args: Any, **kwargs: Any) -> Any:
        next_sheet()
        if not gc.isenabled():
            return render(*args, **kwargs)
        gc.disable()
        try:
            return render(*args, **kwargs)
        finally:
            gc.enable()
            gc.collect(2 if _SHEET[0] % FULL_COLLECTION_EVERY == 0 else 1)

    return drawing  # type: ignore[return-value]


FULL_COLLECTION_EVERY = 256
"""Every how many sheets :func:`sheet_renderer` collects all generations."""


class Recurring:
    """A mapping that keeps what recurs on many sheets (at most ``kept_max`` entries or
    ``kept_budget`` units, as counted by :meth:`put`'s ``size``: it is emptied when it
    would pass either and fills again), what the current sheet met (at most ``fresh_max``
    entries), and the hashes of the keys earlier sheets met (at most ``seen_max``)."""

    def __init__(self, kept_max: int = 4096, kept_budget: int | None = None,
                 fresh_max: int = 4096, seen_max: int = 4096):
        self.kept: dict[Any, Any] = {}
        self.fresh: dict[Any, Any] = {}
        # the hashes of keys met on earlier sheets (0: a free place; open addressing) and,
        # in the same place, on how many sheets (up to 255); _met: the places taken
        places = 2 * max(seen_max, fresh_max, 1)
        self._hashes = array("q", bytes(8 * places))
        self._seen = bytearray(places)
        self._met = 0
        self._sheet = _SHEET[0]
        self._kept_size = 0
        self.kept_max, self.kept_budget = kept_max, kept_budget
        self.fresh_max, self.seen_max = fresh_max, seen_max

    def get(self, key: Any) -> Any:
        """The value kept under ``key``, or None."""
        value = self.kept.get(key)
        if value is not None:
            return value
        if self._sheet != _SHEET[0]:
            self._next()
        return self.fresh.get(key)

    def put(self, key: Any, value: Any, size: int = 1) -> None:
        """Keep ``value`` under ``key`` (``size``: what it counts against the budget): for
        good when earlier sheets met ``key`` often enough, else for this sheet."""
        if self._sheet != _SHEET[0]:
            self._next()
        if self._seen[self._place(_hash(key))] >= KEEP_AFTER:
            if len(self.kept) >= self.kept_max or (
                    self.kept_budget is not None
                    and self._kept_size + size > self.kept_budget):
                self.kept.clear()
                self._kept_size = 0
            self.kept[key] = value
            self._kept_size += size
            return
        if len(self.fresh) >= self.fresh_max:
            self.fresh.clear()
        self.fresh[key] = value

    def clear(self) -> None:
        """Forget everything (kept, this sheet's and the hashes)."""
        self.kept.clear()
        self.fresh.clear()
        self._forget()
        self._kept_size = 0

    def __len__(self) -> int:
        return len(self.kept) + len(self.fresh)

    def _place(self, h: int) -> int:
        """Where the hash ``h`` is in :attr:`_hashes`, or the free place it would take (at
        most half of them are taken, see :meth:`_next`)."""
        hashes = self._hashes
        n = len(hashes)
        i = h % n
        while True:
            found = hashes[i]
            if found == h or found == 0:
                return i
            i = (i + 1) % n

    def _forget(self) -> None:
        """Forget every hash, in place (no table of zeros is made to copy from)."""
        _zero(self._hashes)
        _zero(self._seen)
        self._met = 0

    def _next(self) -> None:
        self._sheet = _SHEET[0]
        if self._met + len(self.fresh) > self.seen_max:
            self._forget()
        hashes, seen = self._hashes, self._seen
        for key in self.fresh:  # each once per sheet
            h = _hash(key)
            i = self._place(h)
            if not hashes[i]:
                hashes[i] = h
                self._met += 1
            if seen[i] < 255:
                seen[i] += 1
        self.fresh.clear()


def _zero(table: array | bytearray) -> None:
    """Set every byte of ``table`` to 0 where it is, with no table of zeros made to copy
    from (64 KB for the largest caches, every few thousand sheets).  Measured over a whole
    10,000-project build, the rendering processes' resident size did not change with it
    (their steps fall where the synthetic projects' kind of text changes, at a third and
    two thirds of the build)."""
    import ctypes

    view = memoryview(table)
    if view.nbytes:
        ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(table)), 0, view.nbytes)
    view.release()


def _hash(key: Any) -> int:
    """``key``'s hash as :class:`Recurring` keeps it: never 0 (a free place)."""
    return hash(key) or 1
