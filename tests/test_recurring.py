"""The rendering caches keep what recurs from sheet to sheet and forget each project's own
texts, so a rendering process's memory stops growing after its first sheets."""

from nexusreports.render.recurring import KEEP_AFTER, Recurring, next_sheet


def test_a_label_on_every_sheet_is_kept_and_a_projects_text_only_for_its_sheet():
    cache = Recurring()
    for sheet in range(10):
        next_sheet()
        if cache.get("label") is None:
            cache.put("label", "Label")
        own = f"project {sheet // 2} text"  # on two sheets (its nl and en)
        if cache.get(own) is None:
            cache.put(own, "text")
        assert cache.get(own) == "text"  # kept while its sheet is drawn
    assert set(cache.kept) == {"label"}
    next_sheet()
    assert cache.get("project 4 text") is None
    assert cache.get("label") == "Label"


def test_a_key_is_kept_from_the_sheet_after_it_was_met_on_keep_after_sheets():
    cache = Recurring()
    for _ in range(KEEP_AFTER):
        next_sheet()
        cache.put("k", 1)
        assert "k" not in cache.kept
    next_sheet()
    cache.put("k", 1)
    assert "k" in cache.kept


def test_memory_is_bounded_however_many_sheets_and_texts():
    cache = Recurring(kept_max=8, kept_budget=100, fresh_max=16, seen_max=64)
    for sheet in range(1000):
        next_sheet()
        for n in range(40):
            key = ("text", sheet, n) if n else ("label", sheet % 20)
            if cache.get(key) is None:
                cache.put(key, n, size=30)
        assert len(cache.kept) <= 8 and cache._kept_size <= 100
        assert len(cache.fresh) <= 16 and cache._met <= 64
    assert len(cache._seen) == len(cache._hashes) == 2 * 64  # as large as it was made


def test_what_earlier_sheets_met_is_remembered_without_an_object_per_key():
    import gc
    import sys

    cache = Recurring(seen_max=4096)

    def sheets(first, count):
        for sheet in range(first, first + count):
            next_sheet()
            for n in range(100):
                key = f"project {sheet} text {n}"
                if cache.get(key) is None:
                    cache.put(key, n)
        next_sheet()
        cache.get("x")  # the last sheet's keys are counted now
        gc.collect()
        return sys.getallocatedblocks()

    before = sheets(0, 1)
    after = sheets(1, 39)
    assert cache._met == 4000  # the hashes of 40 sheets' 100 keys each
    assert after - before < 100  # not a block for each of the 3,900 more (a dict: 2 each)
    sheets(40, 10)
    assert cache._met == 1000  # 4,000 + 100 would pass seen_max: emptied, then 10 sheets


def test_hashes_are_forgotten_once_seen_max_are_remembered():
    cache = Recurring(seen_max=8)
    next_sheet()
    cache.put("once", 1)
    for sheet in range(3):  # 3 sheets of 3 other keys: 9 > 8, so the sketch starts again
        next_sheet()
        for n in range(3):
            cache.put(("other", sheet, n), n)
    next_sheet()
    cache.put("once", 1)  # met on one earlier sheet only, as far as the cache remembers
    next_sheet()
    cache.put("once", 1)
    assert "once" not in cache.kept
    next_sheet()
    cache.put("once", 1)  # met on two earlier sheets since it forgot
    assert "once" in cache.kept


def test_forgetting_the_hashes_zeroes_the_tables_where_they_are_allocating_nothing():
    """A cache forgets its hashes every few thousand sheets: a table of zeros made to copy
    from (then freed) left the C heap larger each time; zeroed in place, nothing is made."""
    import ctypes  # noqa: F401  (imported before, as a rendering process has it)
    import tracemalloc

    cache = Recurring(seen_max=4096)
    for sheet in range(3):
        next_sheet()
        for n in range(500):
            cache.put(("text", sheet, n), n)
    next_sheet()
    cache.get("x")
    hashes, seen = cache._hashes, cache._seen
    assert any(hashes) and any(seen) and cache._met == 1500
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        cache._forget()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before < 2048  # (the tables are 64 KB and 8 KB)
    assert cache._hashes is hashes and cache._seen is seen and len(hashes) == 2 * 4096
    assert not any(hashes) and not any(seen) and cache._met == 0
    hashes.append(1)  # not held locked by the zeroing
    hashes.pop()


def test_keys_whose_hashes_collide_in_its_places_are_counted_apart():
    class Hashed:
        def __init__(self, h):
            self.h = h

        def __hash__(self):
            return self.h

    cache = Recurring(seen_max=4)  # 8 places: hashes 3, 11 and 19 all start at place 3
    keys = [Hashed(3), Hashed(11), Hashed(19), Hashed(0)]
    for _ in range(KEEP_AFTER):
        next_sheet()
        cache.put(keys[0], "a")
    next_sheet()
    for key in keys[1:]:
        cache.put(key, "b")
    cache.put(keys[0], "a")
    assert list(cache.kept.values()) == ["a"]


def test_a_sheet_is_drawn_with_the_collector_waiting_and_its_cycles_collected_after():
    import gc
    import weakref

    from nexusreports.render.recurring import sheet_renderer

    class Node:
        pass

    seen = {}

    @sheet_renderer
    def draw(n):
        seen["enabled"] = gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        seen["ref"] = weakref.ref(a)
        return n * 2

    assert gc.isenabled()
    assert draw(21) == 42
    assert seen["enabled"] is False  # waiting while the sheet is drawn
    assert gc.isenabled()
    assert seen["ref"]() is None  # the sheet's cycle is gone once it is drawn
    gc.disable()  # a caller that switched it off keeps it off
    try:
        draw(1)
        assert not gc.isenabled()
    finally:
        gc.enable()


_PATH_NAME_INTERNED = """
import sys
from pathlib import Path
{setup}
name = "".join(["sheet-", str(12345), ".pdf"])  # made now: not interned by the compiler
part = (Path("/tmp/out") / name).name
print(sys.intern("".join(["sheet-", "12345", ".pdf"])) is part)
"""


def test_a_rendering_process_does_not_intern_the_names_of_its_paths():
    """(Interned, each sheet's new file names filled Python's table of interned strings,
    which doubled after some 2,500 sheets and never shrank: render/heap.py.)"""
    import subprocess
    import sys

    def interned(setup):
        code = _PATH_NAME_INTERNED.format(setup=setup)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert interned("") == ("True" if sys.version_info < (3, 14) else "False")
    assert interned("from nexusreports.render.heap import stop_interning_path_parts\n"
                    "stop_interning_path_parts()\n"
                    "assert Path('a/b') / 'c' == Path('a/b/c')") == "False"


def test_the_build_interns_no_path_part_while_it_runs_and_pathlib_is_as_it_was_after(
        tmp_path, monkeypatch):
    """The build's process makes a path or two of every project and sheet; while it runs,
    pathlib interns no part (render/heap.py), and afterwards pathlib interns as before."""
    import pathlib
    import sys
    from pathlib import Path

    from nexusreports import pipeline
    from nexusreports.pipeline import BuildOptions, build

    seen = []
    real_check = pipeline.check
    monkeypatch.setattr(pipeline, "check", lambda *a: seen.append(pathlib.sys is sys)
                        or real_check(*a))
    root = Path(__file__).resolve().parent.parent
    build(BuildOptions(data_dir=root / "data", templates_dir=root / "templates",
                       out_dir=tmp_path, formats=("docx",), bundle=False, jobs=1))
    assert seen == [False] and pathlib.sys is sys


def test_overlapping_blocks_leave_pathlib_interning_until_the_last_ends():
    """Two builds in two threads: pathlib is as it was only once both have ended."""
    import pathlib
    import sys

    from nexusreports.render import heap

    first, second = heap.path_parts_not_interned(), heap.path_parts_not_interned()
    first.__enter__()
    second.__enter__()
    assert pathlib.sys is not sys and pathlib.sys.intern("x") == "x"
    first.__exit__(None, None, None)
    assert pathlib.sys is not sys
    second.__exit__(None, None, None)
    assert pathlib.sys is sys
