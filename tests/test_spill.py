"""A Spill keeps its items in a file: read back equal, in order and by index, from this
process and from another one, and its file gone when it is closed."""

import multiprocessing
import os
import pickle
from pathlib import Path
from unittest import mock

import pytest

from nexusreports.spill import Spill


def test_items_read_back_equal_by_index_slice_and_in_order():
    items = [{"n": i, "text": "x" * (i % 700)} for i in range(5000)]
    spill = Spill(items)
    assert len(spill) == 5000
    assert spill[0] == items[0] and spill[-1] == items[-1] and spill[1234] == items[1234]
    assert spill[10:13] == items[10:13]
    assert list(spill) == items
    with pytest.raises(IndexError):
        spill[5000]


def test_memory_holds_the_same_few_offsets_for_a_thousand_items_as_for_a_hundred_thousand(
        tmp_path: Path):
    from nexusreports import spill as spilling

    small, large = Spill(range(1000), folder=tmp_path), Spill(folder=tmp_path)
    for i in range(100_000):
        large.append(i)
    assert list(tmp_path.iterdir()) == []  # the offsets' file is anonymous too
    for kept in (small, large):  # what stays in memory: at most two blocks of offsets
        assert len(kept._offsets._tail) <= 2 * spilling._BLOCK + 2
    assert large._offsets._cut > 90_000  # the rest wait in their file
    # read back across the offsets kept in the file and those in memory: by index (the
    # first, one either side of a block's edge, the last), in order, sliced, in blocks
    cut = large._offsets._cut
    for i in (0, spilling._BLOCK - 1, spilling._BLOCK, cut - 1, cut, 99_999):
        assert large[i] == i
    assert list(large) == list(range(100_000))
    assert large[cut - 2:cut + 2] == list(range(cut - 2, cut + 2))
    asked = []  # each block of offsets is read once, however small the reads
    run = spilling._Offsets.run
    with mock.patch.object(spilling._Offsets, "run",
                           lambda self, start, stop: asked.append(start) or run(self, start, stop)):
        assert list(large.read(1)) == list(range(100_000))  # an item a read
    assert len(asked) == -(-100_000 // spilling._BLOCK)
    # a bundle's sorted run (2,048 pairs) keeps its offsets in memory: no second file
    assert Spill(range(2048), folder=tmp_path)._offsets._fd == -1
    shared = Spill(range(5000), folder=tmp_path, shared=True)
    assert list(pickle.loads(pickle.dumps(shared))) == list(range(5000))  # offsets sent whole
    shared.close()


def test_an_item_larger_than_a_read_block_is_read_whole():
    big = b"y" * (3 << 20)
    spill = Spill([b"a", big, b"b"])
    assert list(spill) == [b"a", big, b"b"]


def test_appending_after_reading_is_seen():
    spill = Spill()
    spill.append(1)
    assert list(spill) == [1]
    spill.append(2)
    assert list(spill) == [1, 2] and spill[1] == 2


def test_anonymous_spill_leaves_no_file_and_refuses_to_be_sent(tmp_path: Path):
    spill = Spill([1, 2], folder=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):
        pickle.dumps(spill)


def _sum_in_child(spill: Spill) -> int:
    return sum(spill)


def test_shared_spill_is_read_in_another_process_and_removed_on_close(tmp_path: Path):
    spill = Spill(range(1000), folder=tmp_path, shared=True)
    (name,) = list(tmp_path.iterdir())
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_sum_in_child, (spill,)) == sum(range(1000))
    received = pickle.loads(pickle.dumps(spill))
    with pytest.raises(TypeError):
        received.append(5)
    received.close()
    assert name.exists()  # a received copy does not remove its owner's file
    spill.close()
    assert not name.exists()


def test_a_forked_copy_does_not_remove_the_file(tmp_path: Path):
    spill = Spill([1], folder=tmp_path, shared=True)
    pid = os.fork()
    if pid == 0:  # the child collects its copy, then leaves at once
        del spill
        import gc

        gc.collect()
        os._exit(0)
    os.waitpid(pid, 0)
    assert len(list(tmp_path.iterdir())) == 1 and list(spill) == [1]


def test_output_records_kept_in_a_file_read_back_equal_their_shared_inputs_kept_once():
    from nexusreports.write import Inputs, Output, Outputs

    theme = {"templates/theme.yaml": "a" * 64}
    records = [Output(path=f"nl/p{i}.pdf", format="pdf", lang="nl-NL", pages=1,
                      inputs=Inputs({f"data/projects/p{i}.yaml": "b" * 64}, theme),
                      slug=f"p{i}", key="k", sha256="c" * 64, size=10 + i,
                      file=Path(f"/x/nl/p{i}.pdf")) for i in range(300)]
    kept = Outputs(records)
    assert len(kept) == 300 and kept[7] == records[7] and kept[-1] == records[-1]
    assert list(kept) == records
    assert dict(kept[5].inputs) == {"data/projects/p5.yaml": "b" * 64, **theme}
    assert len(kept._shared) == 1  # the theme's mapping once, not per output
    with pytest.raises(ValueError):
        kept.append(Output(path="nl/x.pdf", format="pdf", lang="nl-NL", data=b"%PDF"))


def _sorted_map(pairs):
    from nexusreports.spill import SortedMapMaker

    maker = SortedMapMaker()
    maker.update(pairs)
    return maker.finish()


def test_a_sorted_map_holds_the_last_value_of_each_key_in_key_order_as_dict_update_does():
    # 10,000 pairs over 3,000 keys: several runs sorted in memory and merged from files
    pairs = [(f"data/projects/p{(i * 7919) % 3000:05}.yaml", f"{i:064}") for i in range(10_000)]
    expected: dict[str, str] = {}
    expected.update(pairs)
    kept = _sorted_map(pairs)
    assert len(kept) == 3000 and kept == expected
    assert list(kept.items()) == sorted(expected.items()) and list(kept) == sorted(expected)
    assert kept["data/projects/p00007.yaml"] == expected["data/projects/p00007.yaml"]
    with pytest.raises(KeyError):
        kept["data/projects/nope.yaml"]
    assert _sorted_map([]) == {}


def test_a_bundles_key_hashed_as_a_stream_is_the_key_of_the_same_inputs_as_a_dict():
    from nexusreports.pipeline import _derived_key, _digest

    inputs = {f"{lang}/p{i}.pdf": f"{i:064x}" for i in range(3000) for lang in ("nl", "en")}
    inputs.update({"data/bundle.yaml": "a" * 64, "data/projects/ünïcode €.yaml": "b" * 64,
                   "templates/theme.yaml": "c" * 64})
    tool = {"nexusreports": "0.1.0", "reportlab": "5.1.0"}
    assert (_derived_key("briefing-nl-en.pdf", _sorted_map(reversed(inputs.items())), tool)
            == _digest({"path": "briefing-nl-en.pdf", "inputs": inputs, "tool": tool}))


def test_an_output_whose_inputs_are_in_a_file_gets_the_same_manifest_line_as_with_a_dict():
    from nexusreports.write import Output, Outputs, manifest_bytes, manifest_entry

    inputs = {f"nl/p{i}.pdf": f"{i:064x}" for i in range(3000)}
    inputs.update({"data/bundle.yaml": "a" * 64, "data/projects/ünï.yaml": "b" * 64,
                   "templates/theme.yaml": "c" * 64, "nexusreports/localise/nl.po": "d" * 64})
    fields = dict(path="briefing-nl-en.pdf", format="pdf", lang="nl-NL,en-GB", pages=9,
                  key="k" * 64, source_date_epoch="1700000000", sha256="e" * 64, size=99)
    as_dict = Output(inputs=inputs, **fields)
    kept = Outputs([Output(inputs=_sorted_map(inputs.items()), **fields)])  # not copied
    assert kept[0].inputs == inputs
    tool = {"nexusreports": "0.1.0"}
    assert (manifest_bytes(tool, [manifest_entry(kept[0])])
            == manifest_bytes(tool, [manifest_entry(as_dict)]))
    # with no shared inputs at all, too
    own = {k: v for k, v in inputs.items() if k.startswith(("nl/", "data/"))}
    assert (manifest_bytes(tool, [manifest_entry(Output(inputs=_sorted_map(own.items()),
                                                        **fields))])
            == manifest_bytes(tool, [manifest_entry(Output(inputs=own, **fields))]))


def test_a_spill_and_the_build_outputs_compare_like_the_lists_they_stand_for():
    from nexusreports.write import Output, Outputs

    spill = Spill([1, "two", (3,)])
    assert spill == [1, "two", (3,)] and spill == (1, "two", (3,)) and spill == Spill(spill)
    assert spill != [1, "two"] and spill != [1, "two", (4,)]
    outputs = Outputs()
    made = [Output(path=f"nl/p{i}.pdf", format="pdf", lang="nl", sha256="0" * 64, size=i)
            for i in range(3)]
    for output in made:
        outputs.append(output)
    assert outputs == made and outputs == tuple(made) and outputs != made[:2]
    with pytest.raises(TypeError):
        hash(outputs)


def test_texts_reads_as_the_tuple_of_strings_it_keeps_in_a_file():
    """Texts (the projects' slugs): kept in a file a group at a time, read as the tuple."""
    from nexusreports.spill import Texts

    slugs = ("atmp", "", "infectieziekten", "précision-ü", "biotech-nexus")
    texts = Texts(slugs)
    assert len(texts) == 5 and texts == slugs and texts == list(slugs)
    assert list(texts) == list(slugs) and texts[2] == "infectieziekten"
    assert texts[-1] == "biotech-nexus" and texts[1:3] == ["", "infectieziekten"]
    assert "précision-ü" in texts and "atm" not in texts
    with pytest.raises(IndexError):
        texts[5]
    assert pickle.loads(pickle.dumps(texts)) == slugs
    assert Texts() == () and list(Texts()) == [] and Texts([""]) == ("",)
    with pytest.raises(ValueError):
        Texts(["a\0b"])
    with pytest.raises(TypeError):
        hash(texts)


def test_texts_of_many_groups_keep_a_string_a_group_in_memory_and_find_as_bisect_does():
    """10,000 slugs in two sorted runs (programmes, then flagships, as validation gives
    them): read back by index, in order and sent to another process; found in each run as
    bisect finds them in a list, at group edges too; in memory, a string a group."""
    import bisect

    from nexusreports import spill as spilling
    from nexusreports.spill import Texts

    runs = (sorted(f"programme-{i:05d}" for i in range(3001)),
            sorted(f"flagship-{i * 7 % 7000:05d}-{'x' * (i % 9)}" for i in range(7000)))
    slugs = runs[0] + runs[1]
    texts = Texts(iter(slugs))
    assert len(texts) == len(slugs) and texts == slugs and list(texts) == slugs
    assert [texts[i] for i in (0, 63, 64, 65, 3000, 3001, -1)] == \
        [slugs[i] for i in (0, 63, 64, 65, 3000, 3001, -1)]
    assert len(texts._firsts) == -(-len(slugs) // spilling._GROUP)  # a string a group
    assert pickle.loads(pickle.dumps(texts)) == slugs
    edges = [0, 1, 62, 63, 64, 65, 127, 128, 3000]
    for lo, hi in ((0, 3001), (3001, len(slugs)), (5, 70), (64, 128), (63, 65), (10, 10)):
        probes = {slugs[i] for i in range(lo, hi) if i - lo in edges or hi - 1 - i in edges}
        probes |= {"", "programme-", "programme-00064x", "zzz", "flagship-03500"}
        for probe in sorted(probes):
            assert texts.bisect_left(probe, lo, hi) == bisect.bisect_left(slugs, probe, lo, hi)


def test_texts_read_in_order_hold_a_few_groups_at_a_time_however_many_strings():
    """A build reads its slugs in order while all its sheets render: what is read at a time
    (and alive meanwhile) must not be all the slugs of a large build."""
    from nexusreports import spill as spilling
    from nexusreports.spill import Texts

    slugs = [f"precision-diagnostics-{i:05d}" for i in range(20_000)]  # 560 KB
    texts = Texts(iter(slugs))
    reads = []
    real = spilling._pread_all

    def noting(fd, size, *args):
        reads.append(size)
        return real(fd, size, *args)

    with mock.patch.object(spilling, "_pread_all", noting):
        assert list(texts) == slugs
    group = len("\0".join(slugs[:spilling._GROUP])) + 64  # a group, pickled
    assert sum(reads) >= 560_000 and max(reads) <= spilling._TEXTS_READ + group


def test_a_project_set_written_to_a_file_reads_back_the_same_without_expanding(shipped):
    """How validation's child process hands the projects to the build (ProjectSet.write,
    ProjectSet.read): the same slugs, kinds, parents and packed bytes."""
    import tempfile

    from nexusreports.model import ProjectSet

    projects, _ = shipped
    with tempfile.TemporaryFile() as fh:
        projects.write(fh)
        fh.write(b"after")
        fh.seek(0)
        again = ProjectSet.read(fh)
        assert fh.read() == b"after"  # it reads its own records, no more
    assert again == projects and again.slugs == projects.slugs
    assert again.kinds == projects.kinds and again.parents == projects.parents
    assert again.by_slug("atmp") == projects.by_slug("atmp")
    assert [p.slug for p in again.flagships_of("biotech-nexus")] == \
        [p.slug for p in projects.flagships_of("biotech-nexus")]


def test_a_project_set_finds_each_programmes_flagships_in_order_whatever_order_it_is_given(
        shipped):
    """Programmes and flagships given in runs sorted by slug (as validation gives them) or
    in any order, with a parent that is not in the set: each flagship under its programme,
    in the order given, and each parent by its slug."""
    from nexusreports.model import Kind, ProjectSet, pack_project

    projects, _ = shipped
    programme = projects.by_slug("biotech-nexus")
    flagship = projects.by_slug("atmp")
    blob_p, blob_f = pack_project(programme), pack_project(flagship)
    given = [("p-b", Kind.programme, None, blob_p), ("p-a", Kind.programme, None, blob_p),
             ("f-3", Kind.flagship, "p-a", blob_f), ("f-1", Kind.flagship, "p-b", blob_f),
             ("f-2", Kind.flagship, "p-a", blob_f), ("f-0", Kind.flagship, "gone", blob_f)]
    for packed in (given, sorted(given[:2]) + sorted(given[2:])):
        kept = ProjectSet(packed=packed)
        assert list(kept.slugs) == [slug for slug, *_ in packed]
        assert kept.parents == tuple(parent for _, _, parent, _ in packed)
        assert kept.kinds == tuple(kind for _, kind, _, _ in packed)
        for programme_slug in ("p-a", "p-b", "gone", "f-1"):
            expected = [i for i, (_, _, parent, _) in enumerate(packed)
                        if parent == programme_slug and parent in kept.slugs]
            assert kept.flagships_of_count(programme_slug) == len(expected)
            assert [kept._flagship_index[k] for k in kept._flagship_indexes(programme_slug)
                    ] == expected
        assert [kept.index(slug) for slug, *_ in packed] == list(range(len(packed)))
        with pytest.raises(KeyError):
            kept.index("nope")
    # as validation gives them (programmes first), nothing is kept per programme: their
    # kinds are where they are, and parents are kept from the first project with one on
    many = ProjectSet(packed=[(f"p-{i:05d}", Kind.programme, None, blob_p)
                              for i in range(10_000)] + sorted(given[2:]))
    assert many._kinds is None and len(many._parent) == 4
    assert many.kinds == (Kind.programme,) * 10_000 + (Kind.flagship,) * 4
    assert many.parents[-5:] == (None, "gone", "p-b", "p-a", "p-a")
