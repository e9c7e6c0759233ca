"""Sequences kept in a file instead of in memory, so that what a build holds per project
or per output does not grow its memory (10,000 projects: 40,000 outputs).

A :class:`Spill` is appended to, then read by index or in order; each item is pickled
into the file, and where each starts goes into a second file (:class:`_Offsets`: the last
one or two blocks of :data:`_BLOCK` stay in memory), so what its owner keeps in memory is
the same for a spill of a thousand items as for one of a million (a copy received by another
process keeps every offset: 8 bytes an item).  Items are read back as new,
equal objects.  The file is removed when the spill is closed or collected, and at once
(an anonymous file, gone even after ``kill -9``) when no other process needs it.  A spill
made ``shared`` keeps its name until it is closed, so that it can be sent to another
process (pickled as its path and offsets: a few bytes per item) and read there.

Only the building stages use it (projects, output records, the bundle's rows); it knows
nothing of what it holds.
"""

from __future__ import annotations

import bisect
import heapq
import os
import pickle
import tempfile
import weakref
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_FLUSH = 1 << 16
"""Appended bytes kept before they are written (64 KB: a build has a few spills open)."""

_READ = 1 << 18
"""Bytes read at a time when a spill is read in order."""


def _anonymous(folder: str) -> int:
    """A file without a name in ``folder`` (Linux's ``O_TMPFILE``: it never has one, so
    nothing is unlinked), or -1 where the system cannot make one."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return -1
    try:
        return os.open(folder, os.O_RDWR | flag | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        return -1


def _remove(fds: list[int], path: str | None, pid: int) -> None:
    if os.getpid() != pid:  # a forked copy: the files are its parent's
        return
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


class ListLike(Sequence[T], Generic[T]):
    """A sequence kept elsewhere (a file) that compares equal, item by item, to a list or
    tuple or another of its kind, as the list it stands for would; unhashable, like a
    list."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (type(self), list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class Texts(ListLike[str]):
    """A read-only sequence of strings kept in a file, :data:`_GROUP` of them to an item of
    a :class:`Spill` (joined by NUL); in memory only the first string of each group and the
    few groups last read (some 1-2 bytes a string, where a tuple of strings takes 60-70).  Each
    string read is made afresh; :meth:`bisect_left` finds a string in a sorted stretch with
    one read.  Hashable never, comparable to a list or tuple of the same strings; pickled
    (sent to another process) as its groups."""

    __slots__ = ("_count", "_firsts", "_groups", "_read")

    def __init__(self, items: Iterable[str] = ()):
        maker = TextsMaker()
        for item in items:
            maker.add(item)
        self._keep(*maker._finished())

    def _keep(self, groups: Spill[str], firsts: list[str], count: int) -> None:
        groups._flush()  # (its pending bytes are not kept)
        self._groups, self._firsts, self._count = groups, firsts, count
        self._read: dict[int, list[str]] = {}  # the groups last read

    @classmethod
    def _of(cls, groups: Spill[str], firsts: list[str], count: int) -> Texts:
        found = cls.__new__(cls)
        found._keep(groups, firsts, count)
        return found

    def __len__(self) -> int:
        return self._count

    def _group(self, g: int) -> list[str]:
        found = self._read.get(g)
        if found is None:  # (a lookup reads one group a stretch: a few stretches kept)
            if len(self._read) >= _GROUPS_KEPT:
                del self._read[next(iter(self._read))]
            found = self._read[g] = self._groups[g].split("\0")
        return found

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        i = range(self._count)[index]  # IndexError for an index out of range
        return self._group(i // _GROUP)[i % _GROUP]

    def __iter__(self) -> Iterator[str]:
        for group in self._groups.read(_TEXTS_READ):  # a few groups a read
            yield from group.split("\0")

    def bisect_left(self, value: str, lo: int = 0, hi: int | None = None) -> int:
        """As :func:`bisect.bisect_left` over strings ``lo`` to ``hi``, which must be in
        order: the groups' first strings (in memory) narrow it to one group, read once."""
        hi = self._count if hi is None else hi
        # the groups that start inside (lo, hi): their first strings are in order too
        first, last = lo // _GROUP + 1, (hi - 1) // _GROUP
        if lo < hi and first <= last:
            g = bisect.bisect_left(self._firsts, value, first, last + 1)
            # the place is at or after the start of group g - 1 (or lo), before group g's
            lo, hi = (max(lo, (g - 1) * _GROUP), min(hi, g * _GROUP) if g <= last else hi)
        return bisect.bisect_left(self, value, lo, hi)

    def __repr__(self) -> str:
        return f"<Texts of {len(self)} strings>"

    def __reduce__(self) -> tuple:
        return (_texts, (list(self._groups), self._count))


_GROUP = 64
"""Strings of a :class:`Texts` kept together (one read)."""

_TEXTS_READ = 1 << 14
"""Bytes of a :class:`Texts` read at a time when it is read in order: a build reads its
slugs in order while every sheet renders, and the block read is alive all that time; with
a spill's usual :data:`_READ` it was all the slugs of 10,000 projects (200 KB) but only
25 KB of 1,000 projects' (benchmarks/build_process_memory.py, tracemalloc)."""

_GROUPS_KEPT = 4
"""Groups a :class:`Texts` keeps as read (a project's lookup bisects two sorted stretches,
the programmes and the flagships, and reads its parent)."""


class TextsMaker:
    """Makes a :class:`Texts` a string at a time (a group of :data:`_GROUP` joined and
    written at a time), so that no string object of those added stays alive until
    :meth:`finish` (10,000 of them, freed at once, leave Python's heap larger than it
    was)."""

    def __init__(self) -> None:
        self._groups: Spill[str] | None = None  # made with the first string
        self._firsts: list[str] = []
        self._parts: list[str] = []
        self._count = 0

    def add(self, item: str) -> None:
        if "\0" in item:
            raise ValueError("a string of Texts may not hold NUL")
        if not self._parts:
            if self._groups is None:
                self._groups = Spill()
            self._firsts.append(item)
        self._parts.append(item)
        self._count += 1
        if len(self._parts) == _GROUP:
            self._groups.append("\0".join(self._parts))
            self._parts = []

    def _finished(self) -> tuple[Spill[str], list[str], int]:
        groups = Spill() if self._groups is None else self._groups
        if self._parts:
            groups.append("\0".join(self._parts))
        found = groups, self._firsts, self._count
        self._groups, self._firsts, self._parts, self._count = None, [], [], 0
        return found

    def finish(self) -> Texts:
        """The :class:`Texts` of every string added (the maker starts again empty)."""
        return Texts._of(*self._finished())


def _texts(groups: list[str], count: int) -> Texts:
    """A :class:`Texts` received from another process (see ``Texts.__reduce__``)."""
    return Texts._of(Spill(groups), [group.split("\0", 1)[0] for group in groups], count)


def _made(folder: str, shared: bool) -> tuple[int, str | None]:
    """A new file in ``folder`` and its name: anonymous (no name: None) unless ``shared``."""
    fd = _anonymous(folder) if not shared else -1
    if fd >= 0:
        return fd, None
    fd, path = tempfile.mkstemp(prefix="nexusreports-", suffix=".spill", dir=folder)
    if not shared:
        os.unlink(path)
        return fd, None
    return fd, path


def _pwrite_all(fd: int, data, at: int) -> int:
    """Write all of ``data`` at offset ``at`` of ``fd``; the offset after it."""
    view = memoryview(data).cast("B")
    while view:
        done = os.pwrite(fd, view, at)
        at += done
        view = view[done:]
    return at


def _pread_all(fd: int, size: int, at: int, what: str) -> bytes:
    data = os.pread(fd, size, at)
    if len(data) != size:
        raise OSError(f"spill file {what} was cut short")
    return data


_BLOCK = 1024
"""Offsets a :class:`Spill` writes to its offsets' file at a time: it keeps between one and
two such blocks in memory (8-16 KB), whatever its length; the earlier ones wait in the file."""


class _Offsets:
    """A growing sequence of offsets (unsigned 64-bit) of which only the last one or two
    blocks of :data:`_BLOCK` are in memory: the earlier ones are written to a second file (one
    for all blocks, anonymous, in ``folder``, made with the first block; closed with the
    spill, which holds ``fds``) and read back when asked for (``pread``: safe in a forked
    copy)."""

    __slots__ = ("_cut", "_fd", "_fds", "_folder", "_tail")

    def __init__(self, folder: str, fds: list[int], first: Iterable[int] = (0,)):
        self._folder, self._fds = folder, fds  # fds: the spill's, closed with it
        self._fd = -1
        self._cut = 0  # offsets before this are in the file
        self._tail = array("Q", first)

    def __len__(self) -> int:
        return self._cut + len(self._tail)

    def append(self, value: int) -> None:
        self._tail.append(value)
        if len(self._tail) > 2 * _BLOCK + 1:  # (2,048 items, a bundle's sorted run, fit)
            if self._fd < 0:
                self._fd, _ = _made(self._folder, False)
                self._fds.append(self._fd)
            block = self._tail[:_BLOCK]
            _pwrite_all(self._fd, block, self._cut * block.itemsize)
            self._cut += _BLOCK
            del self._tail[:_BLOCK]

    @property
    def last(self) -> int:
        return self._tail[-1]

    def run(self, start: int, stop: int) -> array:
        """Offsets ``start`` to ``stop`` (excluded), ``0 <= start <= stop <= len(self)``."""
        found = array("Q")
        if start < self._cut:
            upto = min(stop, self._cut)
            found.frombytes(_pread_all(self._fd, (upto - start) * found.itemsize,
                                       start * found.itemsize, "(offsets)"))
            start = upto
        if start < stop:
            found.extend(self._tail[start - self._cut:stop - self._cut])
        return found


class Spill(ListLike[T]):
    """A list that lives in a file: :meth:`append` and :meth:`extend`, then ``len``,
    indexes, slices and iteration (safe to read from a process forked after the items
    were appended: reads never move a shared file offset).

    ``folder`` is where the file is made (the system's temporary folder by default);
    ``shared`` keeps its name so that the spill can be pickled to another process.
    """

    def __init__(self, items: Iterable[T] = (), *, folder: Path | str | None = None,
                 shared: bool = False):
        where = tempfile.gettempdir() if folder is None else str(folder)
        fd, path = _made(where, shared)
        self._fd = fd
        self.path: str | None = path
        self._fds = [fd]  # this file's and the offsets' (see _Offsets), closed with it
        self._offsets = _Offsets(where, self._fds)
        self._pending = bytearray()
        self._written = 0  # bytes in the file (the rest are pending)
        self._owner = True
        self._finalizer = weakref.finalize(self, _remove, self._fds, self.path, os.getpid())
        self.extend(items)

    # --- writing -----------------------------------------------------------------------

    def append(self, item: T) -> None:
        """Add ``item`` (pickled now: later changes to it are not seen)."""
        if not self._owner:
            raise TypeError("a spill received from another process is read-only")
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        self._pending += data
        self._offsets.append(self._offsets.last + len(data))
        if len(self._pending) >= _FLUSH:
            self._flush()

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def _flush(self) -> None:
        if self._pending:
            self._written = _pwrite_all(self._fd, self._pending, self._written)
            self._pending = bytearray()

    # --- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _bytes(self, start: int, end: int) -> bytes:
        """Bytes ``start:end`` of the file, pending ones included."""
        if end > self._written:
            self._flush()
        return _pread_all(self._fd, end - start, start, self.path or "(anonymous)")

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        i = range(len(self))[index]  # IndexError for an index out of range
        start, end = self._offsets.run(i, i + 2)
        return pickle.loads(self._bytes(start, end))

    def __iter__(self) -> Iterator[T]:
        """The items in order, read a block at a time."""
        return self.read(_READ)

    def read(self, size: int) -> Iterator[T]:
        """The items in order, read ``size`` bytes at a time (or one item, if larger)."""
        n = len(self)
        i, base, offsets = 0, 0, array("Q")  # offsets[k]: where item base + k starts
        while i < n:
            if i - base + 1 >= len(offsets):  # the next block of offsets (each read once)
                base, offsets = i, self._offsets.run(i, min(n, i + _BLOCK) + 1)
            first = i - base
            start = offsets[first]
            last = first + 1  # at least one item, however large
            while last < len(offsets) - 1 and offsets[last + 1] - start <= size:
                last += 1
            block = self._bytes(start, offsets[last])
            for k in range(first, last):
                yield pickle.loads(block[offsets[k] - start:offsets[k + 1] - start])
            i = base + last

    def __repr__(self) -> str:
        return f"<Spill of {len(self)} items>"

    # --- between processes ---------------------------------------------------------------

    def __reduce__(self) -> tuple:
        if self.path is None:
            raise TypeError("an anonymous spill cannot be sent to another process "
                            "(make it with shared=True)")
        self._flush()  # (sent whole: 8 bytes an item, while it is pickled)
        return (_received, (self.path, self._offsets.run(0, len(self._offsets)).tobytes()))

    def close(self) -> None:
        """Remove the file (by its owner: a received copy only closes it)."""
        self._finalizer()


def _received(path: str, offsets: bytes) -> Spill:
    """A read-only spill opened by path in another process (every offset in memory: a
    rendering process reads a few of them, e.g. the PDF bundle's sheet files)."""
    spill = Spill.__new__(Spill)
    spill._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    spill.path = path
    spill._fds = [spill._fd]
    first = array("Q")
    first.frombytes(offsets)
    spill._offsets = _Offsets(os.path.dirname(path), spill._fds, first)
    spill._pending = bytearray()
    spill._written = spill._offsets.last
    spill._owner = False
    spill._finalizer = weakref.finalize(spill, _remove, spill._fds, None, os.getpid())
    return spill


class SortedMap(Mapping[K, V], Generic[K, V]):
    """A read-only mapping kept in a file, its items in key order: made of ``(key, value)``
    pairs added one at a time (:class:`SortedMapMaker`; of equal keys the last added wins, as
    in ``dict.update``), then iterated in order (a block at a time) or looked up (a binary
    search, a read per step).  What stays in memory does not grow with its items (see
    :class:`Spill`): for a mapping of thousands of file names, e.g. a bundle's inputs."""

    def __init__(self, items: Spill[tuple[K, V]]):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return (key for key, _ in self._items.read(_MERGE_READ))

    def items(self):  # type: ignore[override]  # in key order, read a block at a time
        return self._items.read(_MERGE_READ)

    def __getitem__(self, key: K) -> V:
        lo, hi = 0, len(self._items)
        while lo < hi:
            mid = (lo + hi) // 2
            found, value = self._items[mid]
            if found == key:
                return value
            if found < key:  # type: ignore[operator]
                lo = mid + 1
            else:
                hi = mid
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"<SortedMap of {len(self)} items>"

    def close(self) -> None:
        self._items.close()


class SortedMapMaker(Generic[K, V]):
    """Makes a :class:`SortedMap`: :meth:`add` pairs (a run of :data:`_RUN` is sorted in
    memory and spilled), then :meth:`finish` merges the runs (a small block of each read at
    a time), so neither grows memory with the number of items."""

    def __init__(self, *, folder: Path | str | None = None):
        self._folder = folder
        self._run: list[tuple[K, V]] = []
        self._runs: list[Spill[tuple[K, V]]] = []

    def add(self, key: K, value: V) -> None:
        self._run.append((key, value))
        if len(self._run) >= _RUN:
            self._spill_run()

    def update(self, pairs: Iterable[tuple[K, V]]) -> None:
        for key, value in pairs:
            self.add(key, value)

    def _spill_run(self) -> None:
        self._run.sort(key=_KEY)  # stable: equal keys stay in the order they came
        run = Spill(self._run, folder=self._folder)
        run._flush()  # (in the file now: a run's pending bytes are not kept per run)
        self._runs.append(run)
        self._run = []

    def finish(self) -> SortedMap[K, V]:
        """The mapping of every pair added (of equal keys, the last)."""
        if self._run or not self._runs:
            self._spill_run()
        runs, self._runs = self._runs, []
        out: Spill[tuple[K, V]] = Spill(folder=self._folder)
        # heapq.merge is stable: of equal keys, those of earlier runs come first
        last: tuple[K, V] | None = None
        for item in heapq.merge(*(run.read(_MERGE_READ) for run in runs), key=_KEY):
            if last is not None and last[0] != item[0]:
                out.append(last)
            last = item
        if last is not None:
            out.append(last)
        for run in runs:
            run.close()
        return SortedMap(out)


_KEY = itemgetter(0)
_RUN = 2048
"""Pairs sorted in memory at a time by :class:`SortedMapMaker`."""
_MERGE_READ = 1 << 13
"""Bytes read at a time from each run while merging, and from a :class:`SortedMap`."""
