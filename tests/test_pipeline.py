"""The pipeline scales: outputs are staged as they are made (their bytes not kept), a
bounded number of sheets is in flight, a small build renders in this process, and what
the parallel build writes is what the serial one writes."""

from __future__ import annotations

import concurrent.futures
import os
import platform
import sys
from pathlib import Path

import pytest

from nexusreports import pipeline
from nexusreports.errors import DataErrors, OutputError
from nexusreports.pipeline import POOL_MIN_SHEETS, BuildOptions, build
from nexusreports.write import Staging

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TEMPLATES = ROOT / "templates"


# --- Staging.stage_stream -------------------------------------------------------------------

def test_a_streamed_output_is_staged_flushed_and_described_without_its_bytes(tmp_path):
    with Staging(tmp_path) as staging:
        def write(f):
            f.write(b"%PDF-1.7 first part ")
            f.write(b"second part")
            return 3

        out = staging.stage_stream("briefing.pdf", write, format="pdf", lang="nl-NL,en-GB")
        assert out.data == b""
        assert out.file.parent.parent == staging.root and out.file.name == "briefing.pdf"
        assert out.file.read_bytes() == b"%PDF-1.7 first part second part"
        assert (out.pages, out.size, out.format, out.lang) == (3, 31, "pdf", "nl-NL,en-GB")
        import hashlib
        assert out.sha256 == hashlib.sha256(b"%PDF-1.7 first part second part").hexdigest()
        assert staging.commit([out], {"tool": "x"}) == [True]
    assert (tmp_path / "briefing.pdf").read_bytes() == b"%PDF-1.7 first part second part"


def test_a_streamed_output_equal_to_the_file_in_place_is_not_rewritten(tmp_path):
    (tmp_path / "a.docx").write_bytes(b"same bytes")
    os.utime(tmp_path / "a.docx", (1_000_000_000, 1_000_000_000))
    with Staging(tmp_path) as staging:
        out = staging.stage_stream("a.docx", lambda f: f.write(b"same bytes") and None,
                                   format="docx", lang=None)
        assert out.file == tmp_path / "a.docx" and out.pages is None
        assert not (staging.root / "new" / "a.docx").exists()
        assert staging.commit([out], {}) == [False]
    assert (tmp_path / "a.docx").stat().st_mtime == 1_000_000_000


def test_a_failing_stream_leaves_no_staged_file_and_its_error_stands(tmp_path):
    with Staging(tmp_path) as staging:
        def broken(f):
            f.write(b"half")
            raise ValueError("the renderer failed")

        with pytest.raises(ValueError, match="the renderer failed"):
            staging.stage_stream("x.pdf", broken, format="pdf", lang=None)
        assert not (staging.root / "new" / "x.pdf").exists()

        def full_disk(f):
            raise OSError(28, "No space left on device")

        with pytest.raises(OutputError, match=r"x\.pdf: cannot write \(No space left on "
                                              r"device\): free some space"):
            staging.stage_stream("x.pdf", full_disk, format="pdf", lang=None)
        assert not (staging.root / "new" / "x.pdf").exists()


def test_a_file_written_by_another_process_is_staged_once_it_is_done(tmp_path):
    with Staging(tmp_path) as staging:
        path = staging.reserve("briefing-nl-en.pdf")
        assert path.parent.is_dir() and not path.exists()

        def done() -> int:  # what waiting for the rendering process returns
            path.write_bytes(b"%PDF the bundle")
            return 7

        out = staging.stage_written("briefing-nl-en.pdf", done, format="pdf", lang=None)
        assert (out.file, out.pages, out.size) == (path, 7, 15)

        def lost() -> int:
            raise OSError(28, "No space left on device")

        staging.reserve("b.docx").write_bytes(b"half")
        with pytest.raises(OutputError, match=r"b\.docx: cannot write"):
            staging.stage_written("b.docx", lost, format="docx", lang=None)
        assert not (staging.root / "new" / "b.docx").exists()
        assert staging.commit([out], {}) == [True]
    assert (tmp_path / "briefing-nl-en.pdf").read_bytes() == b"%PDF the bundle"


# --- rendering: in this process for a small build, a bounded pool for a large one ----------

def test_a_build_of_fewer_sheets_than_the_threshold_starts_no_process_pool(tmp_path,
                                                                        monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    assert 8 < POOL_MIN_SHEETS  # the 4 shipped projects in 2 languages, Word only
    result = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path,
                                formats=("docx",), bundle=False, jobs=0))
    assert len(result.outputs) == 8 and all(result.rendered)
    assert all(o.data == b"" for o in result.outputs)  # staged, not kept


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_build_keeps_glibcs_thresholds_where_they_start_whatever_came_before(
        tmp_path, monkeypatch):
    """glibc raises the size from which an allocation gets pages of its own each time such
    a piece is freed; a build fixes it where it starts (render/heap.py), so that where its
    large pieces go does not depend on what the process did before.  Run in a process of
    its own (the setting is the process's): a 300 KB piece after a 1 MB one was freed goes
    into the heap before the fix and gets pages of its own after it."""
    import subprocess

    from nexusreports.render import heap

    probe = """if True:
        import ctypes
        from nexusreports.render import heap
        class Info(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks",
                        "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                        "keepcost")]
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = Info
        def apart(size):
            before = libc.mallinfo2().hblkhd
            piece = bytearray(size)
            return libc.mallinfo2().hblkhd - before >= size
        big = bytearray(1 << 20)  # a 1 MB piece has pages of its own, and is freed
        del big
        print(apart(300_000), end=" ")
        heap.fix_mmap_threshold()
        print(apart(300_000))
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    assert out == ["False", "True"]
    # the user's own setting is left alone
    env["MALLOC_MMAP_THRESHOLD_"] = str(4 << 20)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    assert out == ["False", "False"]
    # and a build fixes them
    fixed = []
    monkeypatch.setattr(heap, "fix_mmap_threshold", lambda: fixed.append(True))
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path,
                       langs=("nl",), only=("atmp",), formats=("pdf",)))
    assert fixed == [True]


def test_the_build_gives_the_c_heap_back_as_it_plans_its_sheets(tmp_path, monkeypatch):
    """Every heap.EVERY sheets planned (views, keys and pickles made and freed in this
    process), as after validation."""
    from nexusreports.render import heap

    given = []
    monkeypatch.setattr(heap, "EVERY", 3)
    monkeypatch.setattr(heap, "give_back", lambda: given.append(len(planned)))
    planned: list[str] = []
    real = pipeline._Renderer.submit
    monkeypatch.setattr(pipeline._Renderer, "submit",
                        lambda self, i, job: planned.append(job.path) or real(self, i, job))
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path,
                       formats=("docx",), bundle=False, jobs=1))
    assert len(planned) == 8 and given == [0, 3, 6]  # after validation, then every 3


def test_the_build_gives_the_c_heap_back_once_validation_is_done(tmp_path, monkeypatch):
    """Validation reads and frees every project file's YAML and model; glibc keeps those
    pieces unless asked, so the build asks (render/heap.py) before the first sheet."""
    from nexusreports.render import heap

    events = []
    real_check = pipeline.check
    monkeypatch.setattr(pipeline, "check", lambda *a: events.append("validated")
                        or real_check(*a))
    monkeypatch.setattr(heap, "give_back", lambda: events.append("given back"))

    class FirstSheet(Exception):
        pass

    def first_sheet(*args):
        events.append("sheet")
        raise FirstSheet

    monkeypatch.setattr(pipeline, "_render", first_sheet)
    with pytest.raises(FirstSheet):
        build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path,
                           formats=("docx",), bundle=False, jobs=1))
    assert events == ["validated", "given back", "sheet"]


def _pids_of_check(monkeypatch, tmp_path, fail_in_child=False):
    """Record in a file the process each call of pipeline.check runs in (a child's
    calls too: the wrapper is inherited by fork); optionally fail in a child."""
    calls = tmp_path / "check-pids"
    real_check, parent = pipeline.check, os.getpid()

    def recording(*args):
        with open(calls, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        if fail_in_child and os.getpid() != parent:
            raise RuntimeError("an internal error in the child")
        return real_check(*args)

    monkeypatch.setattr(pipeline, "check", recording)
    return lambda: [int(p) for p in calls.read_text(encoding="utf-8").split()]


def test_a_build_with_rendering_processes_validates_in_a_process_of_its_own(
        tmp_path, monkeypatch):
    """Validation reads every project file and frees what it made; the pieces it leaves
    between what it keeps (pymalloc's arenas, the C heap, the table of interned strings)
    would stay with the build's process to its end.  With a pool, a child validates, and
    the build's process gets the packed projects back, the same sheets from them."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # comparable bytes
    pids = _pids_of_check(monkeypatch, tmp_path)
    result = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "a",
                                formats=("pdf",), bundle=False, jobs=2))
    (child,) = pids()
    assert child != os.getpid()
    alone = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "b",
                               formats=("pdf",), bundle=False, jobs=1))
    assert pids()[1:] == [os.getpid()]  # one process: validated in it, as before
    assert [(o.path, o.sha256) for o in result.outputs] == \
        [(o.path, o.sha256) for o in alone.outputs]


def test_the_childs_problems_and_warnings_are_those_this_process_would_report(
        tmp_path, monkeypatch, data_copy):
    atmp = data_copy / "projects/atmp.yaml"
    text = atmp.read_text(encoding="utf-8")
    unused = "figures:\n  unused: {kind: percent, value: 1.5}\n"
    atmp.write_text(text.replace("figures:\n", unused), encoding="utf-8")
    options = {"data_dir": data_copy, "templates_dir": TEMPLATES, "formats": ("pdf",),
               "bundle": False}
    pooled = build(BuildOptions(out_dir=tmp_path / "a", jobs=2, **options))
    alone = build(BuildOptions(out_dir=tmp_path / "b", jobs=1, **options))
    assert [str(w) for w in pooled.warnings] == [str(w) for w in alone.warnings] and \
        "this figure is not used by any text" in str(pooled.warnings[0])
    atmp.write_text(text.replace("size_eur_m: 2250", "size_eur_m: twee miljard"),
                    encoding="utf-8")
    (data_copy / "projects/biotech-nexus.yaml").write_text("kind: [", encoding="utf-8")
    errors = []
    for jobs in (2, 1):
        with pytest.raises(DataErrors) as caught:
            build(BuildOptions(out_dir=tmp_path / "c", jobs=jobs, **options))
        errors.append(caught.value.lines())
    assert errors[0] == errors[1] and len(errors[0]) >= 2
    assert any("atmp.yaml:64: size_eur_m" in line for line in errors[0])


def _build_in_a_process(out: Path, pids: Path) -> None:
    real_check = pipeline.check

    def recording(*args):
        with open(pids, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {os.getppid()}\n")
        return real_check(*args)

    pipeline.check = recording
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=out, formats=("pdf",),
                       bundle=False, jobs=2))


def test_a_build_run_in_a_multiprocessing_process_still_validates_in_its_child(tmp_path):
    """The child compares its parent with the build's process, not with the parent that
    multiprocessing knows (the build's own parent there): it validates, once."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(
        target=_build_in_a_process, args=(tmp_path / "out", tmp_path / "pids"))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    (line,) = (tmp_path / "pids").read_text(encoding="utf-8").splitlines()
    child, its_parent = map(int, line.split())
    assert its_parent == proc.pid and child != proc.pid


def test_a_child_that_cannot_validate_leaves_validation_to_the_build(tmp_path, monkeypatch):
    """Anything but valid data or data problems (an internal error, a killed child): the
    build's process validates itself, and reports what it meets."""
    pids = _pids_of_check(monkeypatch, tmp_path, fail_in_child=True)
    result = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "a",
                                formats=("pdf",), bundle=False, jobs=2))
    child, here = pids()
    assert child != os.getpid() and here == os.getpid() and len(result.outputs) == 8


def test_the_automatic_number_of_processes_uses_the_pool_from_the_threshold_on():
    def workers(total: int, jobs: int) -> int:
        return pipeline._Renderer(None, False, BuildOptions(jobs=jobs), None, total).workers

    cpus = os.cpu_count() or 1
    assert workers(POOL_MIN_SHEETS - 1, 0) == 1
    assert workers(POOL_MIN_SHEETS, 0) == min(cpus, POOL_MIN_SHEETS)
    assert workers(4, 2) == 2  # an explicit --jobs is obeyed
    assert workers(1, 2) == 1  # no more processes than sheets
    assert workers(100, 1) == 1


def test_a_parallel_build_keeps_a_bounded_number_of_sheets_in_flight(tmp_path, monkeypatch):
    seen: list[int] = []
    submit = pipeline._Renderer.submit

    def counting(self, index, job):
        submit(self, index, job)
        seen.append(len(self._inflight))

    monkeypatch.setattr(pipeline._Renderer, "submit", counting)
    monkeypatch.setattr(pipeline, "_WINDOW", 1)
    result = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path,
                                formats=("docx",), bundle=False, jobs=2))
    assert len(seen) == 8 and max(seen) <= 2  # 1 per process, 2 processes
    assert all(o.data == b"" and o.file is not None for o in result.outputs)


def test_the_pool_and_this_process_write_the_same_bytes(tmp_path, monkeypatch):
    """--jobs 1 and --jobs 2 (with the bundle) are compared in test_release; here the
    automatic choice (in this process) against an explicit pool, file by file."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    options = dict(data_dir=DATA, templates_dir=TEMPLATES, formats=("docx",))
    build(BuildOptions(out_dir=tmp_path / "auto", jobs=0, **options))
    build(BuildOptions(out_dir=tmp_path / "pool", jobs=2, **options))
    files = sorted(p.relative_to(tmp_path / "auto") for p in (tmp_path / "auto").rglob("*")
                   if p.is_file())
    assert len(files) == 10  # 8 sheets, the Word bundle, the manifest
    for name in files:
        assert (tmp_path / "auto" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes(), name


def test_the_rendering_processes_end_before_the_bundles_and_the_pdf_bundle_has_a_fresh_one(
        tmp_path, monkeypatch):
    """The bundles are made once every sheet is rendered: the rendering processes (their
    caches, and the one that would wait idle) are gone by then, and the PDF bundle is written
    in one new process while this one writes the Word bundle."""
    from nexusreports import bundle as files

    seen = tmp_path / "seen"
    write_pdf = files.write_pdf
    rendering: set[int] = set()
    render = pipeline._render

    def noting(*args, **kwargs):  # runs in the bundle's process (forked: patched there too)
        children = Path(f"/proc/{os.getppid()}/task/{os.getppid()}/children").read_text()
        seen.write_text(f"{os.getpid()} {os.getppid()} {children}")
        return write_pdf(*args, **kwargs)

    def rendered_by(*args, **kwargs):  # runs in the rendering processes
        with open(tmp_path / "renderers", "a") as f:
            f.write(f"{os.getpid()}\n")
        return render(*args, **kwargs)

    monkeypatch.setattr(files, "write_pdf", noting)
    monkeypatch.setattr(pipeline, "_render", rendered_by)
    result = build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "out",
                                jobs=2))
    assert {o.path for o in result.outputs} >= {files.PDF_NAME, files.DOCX_NAME}
    pid, parent, *children = seen.read_text().split()
    rendering = set((tmp_path / "renderers").read_text().split())
    assert int(parent) == os.getpid() != int(pid)  # not this process
    assert len(rendering) == 2 and pid not in rendering  # not a rendering process
    # this process's children then: the bundle's process, and no rendering one (ended); a
    # helper multiprocessing may keep (its resource tracker) is neither
    assert pid in children and not rendering & set(children)


# --- what the parent keeps per sheet --------------------------------------------------------

def test_the_bundle_holds_small_references_to_the_sheets_not_their_views(shipped):
    projects, _ = shipped
    options = BuildOptions(data_dir=DATA)
    job = next(pipeline._plan_jobs(projects, shipped[1], options, {},
                                   pipeline._Digests(options)))
    ref = pipeline._SheetRef.of(job.view, projects, options)
    assert (ref.slug, ref.lang, ref.locale_id, ref.project_name) == (
        job.view.slug, job.view.lang, job.view.locale_id, job.view.project_name)
    assert "_view" not in ref.__dict__
    assert ref.view == job.view  # built again when a renderer needs all of it
    assert ref.summary == job.view.summary


def test_a_sheet_goes_to_its_rendering_process_as_a_view_pickled_by_the_building_thread(
        shipped):
    """The pool's own thread that sends each call copies bytes, it does not pickle views
    (memory: see _Renderer.submit)."""
    import pickle
    import threading

    projects, theme = shipped
    options = BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, jobs=2)
    job = next(pipeline._plan_jobs(projects, theme, options, {}, pipeline._Digests(options)))
    sent, pickled_in = [], []
    real = pipeline.pickle.dumps

    def noting(obj, *args, **kwargs):
        pickled_in.append((type(obj).__name__, threading.current_thread().name))
        return real(obj, *args, **kwargs)

    class Pool:
        def submit(self, fn, *args):
            sent.append((fn, args))
            return object()

    renderer = pipeline._Renderer(theme, True, options, None, 16)
    renderer._pool = Pool()
    pipeline.pickle.dumps = noting
    try:
        renderer.submit(0, job)
    finally:
        pipeline.pickle.dumps = real
    (fn, (view, fmt, staging)), = sent
    assert fn is pipeline._render_sent and isinstance(view, bytes) and fmt == job.fmt
    assert pickle.loads(view) == job.view and staging is None
    assert pickled_in == [("SheetView", threading.current_thread().name)]


def test_each_input_file_is_hashed_once_per_build(tmp_path, monkeypatch, shipped):
    projects, theme = shipped
    read: list[Path] = []
    real = pipeline.sha256_file

    def counting(path):
        read.append(Path(path))
        return real(path)

    monkeypatch.setattr(pipeline, "sha256_file", counting)
    jobs = pipeline.plan(projects, theme, BuildOptions(data_dir=DATA, templates_dir=TEMPLATES),
                         pipeline.tool_versions())
    assert len(jobs) == 16
    assert len(read) == len(set(read))
    assert theme.sheet_docx in read and TEMPLATES / "theme.yaml" in read
