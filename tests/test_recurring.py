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
        assert len(cache.fresh) <= 16 and len(cache._seen) <= 64 + 16


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
