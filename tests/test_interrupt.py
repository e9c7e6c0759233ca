"""A real `python -m nexusreports build`, interrupted (SIGINT, SIGTERM) while it renders, while
it stages its outputs or in the middle of its commit, leaves the previous outputs exactly as
they were (bytes and modification times) and nothing of its own behind; killed (SIGKILL, which
no program can catch) at any of those points, the next build completes or rolls back what it
left, and ``build --check`` passes.  With ``--jobs 2`` a Ctrl-C to the whole process group
(what a terminal sends) also stops the rendering processes: one line, exit 130, no traceback,
no process left behind.  A second build (or ``build --check``) into a folder that a build is
writing waits for it, naming its process.

To interrupt at a known point without timing, the child process loads a ``sitecustomize``
(from a folder put on PYTHONPATH by the test, never shipped) that stops at that point --
in ReportLab's N-th ``Canvas.save`` (rendering; in each rendering process), in the
first ``registerFont`` (before the process pool starts), after the N-th ``os.fsync``
(staging: the N-th output is in the staging folder, nothing in place yet) or after the N-th
``os.replace`` (the commit: the 1st puts the journal in place, each further one an output,
``manifest.json`` last) -- tells the test through a pipe, and sleeps until the signal
arrives (or, given ``NEXUS_TEST_RESUME_FD``, until the test writes to that pipe).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"

SITECUSTOMIZE = textwrap.dedent("""\
    import os, time

    _mode = os.environ.get("NEXUS_TEST_PAUSE", "")
    _fd = int(os.environ.get("NEXUS_TEST_PAUSE_FD", "-1"))

    _resume = int(os.environ.get("NEXUS_TEST_RESUME_FD", "-1"))

    def _pause():
        os.write(_fd, b"paused\\n")
        if _resume >= 0:
            os.read(_resume, 1)  # the test lets the build go on
        else:
            time.sleep(300)  # the test's signal ends this

    if _mode == "render" or _mode.startswith("render:"):
        from reportlab.pdfgen import canvas as _canvas
        _save = _canvas.Canvas.save
        _at = int(_mode.split(":")[1]) if ":" in _mode else 1
        _saves = [0]

        def save(self):
            _saves[0] += 1  # per process: with --jobs 2, in each rendering process
            if _saves[0] == _at:
                _pause()
            return _save(self)

        _canvas.Canvas.save = save
    elif _mode == "fonts":  # before the process pool starts: the parent loads the fonts
        from reportlab.pdfbase import pdfmetrics as _metrics
        _register = _metrics.registerFont
        _calls = [0]

        def registerFont(font):
            _calls[0] += 1
            if _calls[0] == 1:
                _pause()
            return _register(font)

        _metrics.registerFont = registerFont
    elif _mode.startswith("paragraph:"):  # inside ReportLab's paragraph parser
        from reportlab.platypus import paraparser as _paraparser
        _feed = _paraparser.ParaParser.feed
        _at = int(_mode.split(":")[1])
        _feeds = [0]

        def feed(self, data):
            _feeds[0] += 1
            if _feeds[0] == _at:
                _pause()
            return _feed(self, data)

        _paraparser.ParaParser.feed = feed
    elif _mode == "font-file":  # inside ReportLab's reading of a font file (a bare except)
        from reportlab.pdfbase import ttfonts as _ttfonts
        _read = _ttfonts.TTFontFile.read_ushort  # first called inside its table directory
        _reads = [0]

        def read_ushort(self):
            _reads[0] += 1
            if _reads[0] == 1:
                _pause()
            return _read(self)

        _ttfonts.TTFontFile.read_ushort = read_ushort
    elif _mode.startswith("write:"):
        _at = int(_mode.split(":")[1])
        _fsync = os.fsync
        _calls = [0]

        def fsync(fd):
            _fsync(fd)
            _calls[0] += 1
            if _calls[0] == _at:
                _pause()

        os.fsync = fsync
    elif _mode.startswith("replace:"):
        _at = int(_mode.split(":")[1])
        _replace = os.replace
        _calls = [0]

        def replace(*args, **kwargs):
            _replace(*args, **kwargs)
            _calls[0] += 1
            if _calls[0] == _at:
                _pause()

        os.replace = replace
""")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def build_command(work: Path) -> list[str]:
    return [sys.executable, "-m", "nexusreports", "build", "--data", "data", "--out", "out",
            "--templates", str(TEMPLATES), "--jobs", "1", "--format", "pdf"]


@pytest.fixture
def work(tmp_path) -> Path:
    """data/ and a good build of it in out/ (dated 1 January 2025 via SOURCE_DATE_EPOCH)."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735689600"}
    subprocess.run(build_command(tmp_path), cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return tmp_path


NEW_EPOCH = "1767225600"  # 1 January 2026: a build with it must rewrite every output
OUTPUTS = 10  # a PDF build: 8 sheets, the bundle and manifest.json


def paused_build(work: Path, pause: str, *, resume: bool = False, args: tuple[str, ...] = ()
                 ) -> tuple[subprocess.Popen, int | None]:
    """Start a build with NEW_EPOCH that stops at ``pause`` (see the module docstring) and
    return it once it has stopped there, with the write end of its resume pipe (``resume``;
    write a byte to let it go on) or None."""
    read_end, write_end = os.pipe()
    fds = [write_end]
    env = {**os.environ, "SOURCE_DATE_EPOCH": NEW_EPOCH,
           "PYTHONPATH": os.pathsep.join([str(work / "hook"), os.environ.get("PYTHONPATH", "")]),
           "NEXUS_TEST_PAUSE": pause, "NEXUS_TEST_PAUSE_FD": str(write_end)}
    go = None
    if resume:
        resume_read, go = os.pipe()
        fds.append(resume_read)
        env["NEXUS_TEST_RESUME_FD"] = str(resume_read)
    proc = subprocess.Popen([*build_command(work), *args], cwd=work, env=env, pass_fds=fds,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for fd in fds:
        os.close(fd)
    try:
        ready, _, _ = select.select([read_end], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(read_end, 64) == b"paused\n", "the build never paused"
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        os.close(read_end)
    return proc, go


def interrupted_build(work: Path, pause: str, signum: int) -> subprocess.CompletedProcess:
    """Run a build that must rewrite every output (another SOURCE_DATE_EPOCH), stop it at
    ``pause`` and send ``signum``; return the finished process."""
    proc, _ = paused_build(work, pause)
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def leftovers(work: Path) -> list[str]:
    """What a build may leave only while it runs: temporary files, the staging folder, the
    lock file."""
    out = work / "out"
    return sorted([p.relative_to(work).as_posix() for p in work.rglob("*.tmp")]
                  + [name for name in (".nexusreports-staging", ".nexusreports.lock")
                     if (out / name).exists()])


def check(work: Path, epoch: str) -> subprocess.CompletedProcess:
    return subprocess.run([*build_command(work), "--check"], cwd=work,
                          env={**os.environ, "SOURCE_DATE_EPOCH": epoch},
                          capture_output=True, text=True, timeout=300)


def assert_consistent(work: Path) -> None:
    """Every output is whole and listed in manifest.json with its sha256, and nothing else
    is in the folder."""
    out = work / "out"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {e["path"]: e["sha256"] for e in manifest["outputs"]}
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {*listed, "manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest, path
        PdfReader(out / path).pages[0]


SIGNALS = [pytest.param(signal.SIGINT, 130, id="SIGINT"),
           pytest.param(signal.SIGTERM, 128 + signal.SIGTERM, id="SIGTERM")]


@pytest.mark.parametrize("pause", ["paragraph:5", "font-file"])
@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_signal_inside_reportlab_is_still_an_interruption(work, pause, signum, code):
    # before: ReportLab's paragraph parser re-raised the interruption with a text message (a
    # traceback, exit 1), and its font reader turned it into "cannot use this font file
    # (Corrupt TTF ...): restore it" (exit 1)
    before = snapshot(work / "out")
    done = interrupted_build(work, pause, signum)
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Interrupted ({signal.Signals(signum).name}): the build stopped; no file is "
        "half-written and no temporary file is left. Run it again to finish."]
    assert snapshot(work / "out") == before
    assert leftovers(work) == []


@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_build_interrupted_while_rendering_changes_nothing(work, signum, code):
    before = snapshot(work / "out")
    result = interrupted_build(work, "render", signum)
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    assert snapshot(work / "out") == before
    assert leftovers(work) == []


WRITING = [pytest.param("write:3", id="while-staging-the-third-output"),
           pytest.param("replace:1", id="with-the-journal-in-place"),
           pytest.param("replace:4", id="with-three-outputs-renamed"),
           pytest.param(f"replace:{OUTPUTS}", id="with-all-but-the-manifest-renamed")]


@pytest.mark.parametrize("pause", WRITING)
@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_build_interrupted_while_writing_leaves_the_previous_outputs_exactly(
        work, signum, code, pause):
    before = snapshot(work / "out")
    result = interrupted_build(work, pause, signum)
    assert result.returncode == code
    assert result.stderr.splitlines() == [
        f"Interrupted ({signal.Signals(signum).name}): the build stopped; no file is "
        "half-written and no temporary file is left. Run it again to finish."]
    assert snapshot(work / "out") == before  # renamed outputs were renamed back
    assert leftovers(work) == []
    assert check(work, "1735689600").returncode == 0


KILLED = [pytest.param("render", id="while-rendering"), *WRITING,
          pytest.param(f"replace:{OUTPUTS + 1}", id="after-the-manifest")]


@pytest.mark.parametrize("pause", KILLED)
def test_the_build_after_a_killed_one_completes_or_undoes_what_it_left(work, pause):
    before = snapshot(work / "out")
    proc, _ = paused_build(work, pause)
    proc.kill()  # SIGKILL: the build runs no code of its own any more
    proc.communicate(timeout=300)
    after = snapshot(work / "out")
    for path, (data, _) in after.items():  # every file is whole, old or new
        if path.endswith(".pdf") and not path.startswith("."):
            PdfReader(work / "out" / path).pages[0]
    committed = pause.startswith("replace:")
    if not committed:  # stopped before its commit point: the outputs are untouched
        assert {p: v for p, v in after.items() if not p.startswith(".")} == before
    else:  # the commit is unfinished: --check says so, and changes nothing
        done = check(work, NEW_EPOCH)
        assert done.returncode == 1
        assert "an interrupted build left its commit unfinished: run nexusreports build" \
            in done.stderr
        lock = ".nexusreports.lock"  # the killed build's, free; --check took it and let go
        assert snapshot(work / "out") == {p: v for p, v in after.items() if p != lock}
    result = subprocess.run(build_command(work), cwd=work, capture_output=True, text=True,
                            env={**os.environ, "SOURCE_DATE_EPOCH": NEW_EPOCH}, timeout=300)
    assert result.returncode == 0, result.stderr
    if committed:
        assert "completed the commit of an interrupted build" in result.stderr
        assert f"0 built, {OUTPUTS - 1} unchanged" in result.stderr  # nothing to render
    assert leftovers(work) == []
    assert_consistent(work)
    assert check(work, NEW_EPOCH).returncode == 0


def test_the_next_build_removes_temporary_files_of_older_versions(work):
    stale = work / "out/nl/.atmp.pdf.k3x_9q2a.tmp"  # what 0.1.0 left when it was killed
    stale.write_bytes(b"%PDF-1.4 half")
    result = subprocess.run(build_command(work), cwd=work, capture_output=True, text=True,
                            env={**os.environ, "SOURCE_DATE_EPOCH": "1735689600"}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert leftovers(work) == []


# --- two at once: the lock ------------------------------------------------------------------

@pytest.mark.parametrize("second", [pytest.param((), id="a-build"),
                                    pytest.param(("--check",), id="build-check")])
def test_a_second_build_waits_for_the_first_naming_it(work, second):
    before = snapshot(work / "out")
    first, go = paused_build(work, "render", resume=True)  # holds the lock, renders
    try:
        other = subprocess.Popen([*build_command(work), *second], cwd=work,
                                 env={**os.environ, "SOURCE_DATE_EPOCH": NEW_EPOCH},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([other.stderr], [], [], 300)  # a safety net
            assert ready
            line = other.stderr.readline()
            assert line == (f"out: another build (process {first.pid}) is writing to this "
                            "folder; waiting for it to finish\n")
            assert other.poll() is None  # it waits
            outputs = {p: v for p, v in snapshot(work / "out").items() if p[0] != "."}
            assert outputs == before  # the lock file and the staging folder aside
            os.write(go, b"x")  # the first build goes on and finishes
            assert first.wait(timeout=300) == 0
            _, err = other.communicate(timeout=300)
        finally:
            if other.poll() is None:
                other.kill()
                other.wait()
    finally:
        os.close(go)
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert other.returncode == 0, err
    if second:  # what the first build made, checked after it was done
        assert f"{OUTPUTS - 1} outputs in out match their inputs" in err
    else:  # made after the first build: it finds everything up to date
        assert f"0 built, {OUTPUTS - 1} unchanged" in err
    assert leftovers(work) == []
    assert_consistent(work)


def test_ctrl_c_stops_a_build_that_waits_for_another(work):
    first, go = paused_build(work, "render", resume=True)
    try:
        other = subprocess.Popen(build_command(work), cwd=work,
                                 env={**os.environ, "SOURCE_DATE_EPOCH": NEW_EPOCH},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([other.stderr], [], [], 300)  # a safety net
            assert ready and "waiting for it to finish" in other.stderr.readline()
            other.send_signal(signal.SIGINT)
            _, err = other.communicate(timeout=300)
        finally:
            if other.poll() is None:
                other.kill()
                other.wait()
        assert other.returncode == 130
        assert err.splitlines() == [
            "Interrupted (SIGINT): the build stopped; no file is half-written and no "
            "temporary file is left. Run it again to finish."]
        assert first.poll() is None  # the first build still holds the folder
        os.write(go, b"x")
        assert first.wait(timeout=300) == 0
    finally:
        os.close(go)
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert leftovers(work) == []
    assert_consistent(work)


# --- a parallel build (--jobs 2) and Ctrl-C to the whole process group ----------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """data/, a good build of it in out/ and the pause hook, made once for the tests below."""
    folder = tmp_path_factory.mktemp("built")
    shutil.copytree(ROOT / "data", folder / "data")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735689600"}
    subprocess.run(build_command(folder), cwd=folder, env=env, check=True,
                   capture_output=True, timeout=300)
    (folder / "hook").mkdir()
    (folder / "hook" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder


@pytest.fixture
def pool_work(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path / "w")
    return tmp_path / "w"


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


PROMPT = 20
"""Seconds a stopped build may take to exit: a hang detector (the builds stop in well under a
second), not a timing."""


def interrupted_pool_build(work: Path, pause: str, signals: list[int], group: bool = True
                           ) -> tuple[subprocess.CompletedProcess, list[int]]:
    """Run ``build --jobs 2 --force`` in a new session, stop it at ``pause``, send ``signals``
    one after the other (to the whole process group, like a terminal's Ctrl-C, or with
    ``group=False`` to the main process only); return the finished process and the
    processes of its group still alive after it exited."""
    read_end, write_end = os.pipe()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600",  # every output must be rewritten
           "PYTHONPATH": os.pathsep.join([str(work / "hook"), os.environ.get("PYTHONPATH", "")]),
           "NEXUS_TEST_PAUSE": pause, "NEXUS_TEST_PAUSE_FD": str(write_end)}
    command = [*build_command(work), "--jobs", "2", "--force"]  # the last --jobs counts
    proc = subprocess.Popen(command, cwd=work, env=env, pass_fds=(write_end,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(read_end, 64).startswith(b"paused\n"), "it never paused"
        for signum in signals:
            if group:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)
        try:
            out, err = proc.communicate(timeout=PROMPT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the build did not stop within {PROMPT} s of the signal")
        left = group_members(proc.pid)
    finally:
        os.close(read_end)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left, so nothing outlives a test
        except ProcessLookupError:
            pass
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), left


def assert_outputs_whole(work: Path, before: dict[str, tuple[bytes, int]]) -> None:
    after = snapshot(work / "out")
    assert sorted(after) == sorted(before)
    assert after["manifest.json"] == before["manifest.json"]  # written last: the old one
    assert not list(work.rglob("*.tmp"))
    for path in after:
        if path.endswith(".pdf"):
            PdfReader(work / "out" / path).pages[0]


MOMENTS = [pytest.param("fonts", id="before-the-pool-starts"),
           pytest.param("render:1", id="as-the-workers-start"),
           pytest.param("render:3", id="with-sheets-rendered-and-more-running"),
           pytest.param("write:2", id="while-writing-after-the-pool")]


@pytest.mark.parametrize("pause", MOMENTS)
def test_ctrl_c_stops_a_parallel_build_at_once_with_one_line_and_no_process_left(
        pool_work, pause):
    before = snapshot(pool_work / "out")
    result, left = interrupted_pool_build(pool_work, pause, [signal.SIGINT])
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines() == [
        "Interrupted (SIGINT): the build stopped; no file is half-written and no temporary "
        "file is left. Run it again to finish."]
    assert left == []
    assert_outputs_whole(pool_work, before)
    if not pause.startswith("write"):
        assert snapshot(pool_work / "out") == before  # nothing was written yet


def test_ctrl_c_pressed_twice_still_stops_cleanly(pool_work):
    before = snapshot(pool_work / "out")
    result, left = interrupted_pool_build(pool_work, "render:2",
                                          [signal.SIGINT, signal.SIGINT])
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert left == []
    assert snapshot(pool_work / "out") == before


@pytest.mark.parametrize("group", [pytest.param(True, id="to-the-group"),
                                   pytest.param(False, id="to-the-main-process-only")])
def test_sigterm_stops_a_parallel_build_and_its_workers(pool_work, group):
    before = snapshot(pool_work / "out")
    result, left = interrupted_pool_build(pool_work, "render:2", [signal.SIGTERM], group=group)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stderr.splitlines() == [
        "Interrupted (SIGTERM): the build stopped; no file is half-written and no temporary "
        "file is left. Run it again to finish."]
    assert left == []  # the workers, which ignore nothing but SIGINT, were ended by the build
    assert snapshot(pool_work / "out") == before


def open_files(pid: int) -> list[str]:
    """What the open descriptors of process ``pid`` point to."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.append(os.readlink(fd))
        except OSError:
            pass
    return found


def test_a_killed_parallel_build_leaves_no_worker_and_no_locked_folder(pool_work):
    """``kill -9`` (or the OOM killer) to the main process of a ``--jobs 2`` build: its
    rendering processes, which never held the folder's lock, end with it, and the next
    build neither waits nor finds anything left."""
    read_end, write_end = os.pipe()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600",
           "PYTHONPATH": os.pathsep.join([str(pool_work / "hook"),
                                          os.environ.get("PYTHONPATH", "")]),
           "NEXUS_TEST_PAUSE": "render:2", "NEXUS_TEST_PAUSE_FD": str(write_end)}
    proc = subprocess.Popen([*build_command(pool_work), "--jobs", "2", "--force"],
                            cwd=pool_work, env=env, pass_fds=(write_end,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    os.close(write_end)
    lock = str(pool_work / "out" / ".nexusreports.lock")
    try:
        ready, _, _ = select.select([read_end], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(read_end, 64).startswith(b"paused\n"), "it never paused"
        workers = [pid for pid in group_members(proc.pid) if pid != proc.pid]
        assert workers
        assert lock in open_files(proc.pid)
        assert all(lock not in open_files(pid) for pid in workers)
        proc.kill()
        proc.communicate(timeout=PROMPT)
        for _ in range(PROMPT * 10):  # a hang detector: the system ends them at once
            if not group_members(proc.pid):
                break
            select.select([], [], [], 0.1)
        assert group_members(proc.pid) == []
    finally:
        os.close(read_end)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    again = subprocess.run(build_command(pool_work), cwd=pool_work, capture_output=True,
                           text=True, timeout=300,
                           env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"})
    assert again.returncode == 0, again.stderr
    assert "waiting" not in again.stderr
    assert leftovers(pool_work) == []
    assert check(pool_work, "1767225600").returncode == 0
    assert_consistent(pool_work)


def test_a_rendering_process_killed_from_outside_is_one_line_and_changes_nothing(pool_work):
    """The OOM killer (or ``kill -9``) ends one rendering process of a ``--jobs 2`` build:
    one line says so and what to do, exit 1, the previous outputs are as they were; before,
    "internal error: BrokenProcessPool ... This is a bug"."""
    before = snapshot(pool_work / "out")
    read_end, write_end = os.pipe()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600",
           "PYTHONPATH": os.pathsep.join([str(pool_work / "hook"),
                                          os.environ.get("PYTHONPATH", "")]),
           "NEXUS_TEST_PAUSE": "render:2", "NEXUS_TEST_PAUSE_FD": str(write_end)}
    proc = subprocess.Popen([*build_command(pool_work), "--jobs", "2", "--force"],
                            cwd=pool_work, env=env, pass_fds=(write_end,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(read_end, 64).startswith(b"paused\n"), "it never paused"
        workers = [pid for pid in group_members(proc.pid) if pid != proc.pid]
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=PROMPT)
        left = group_members(proc.pid)
    finally:
        os.close(read_end)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 1, err
    assert err.splitlines() == [
        "a rendering process was ended from outside (killed; out of memory?): nothing was "
        "changed, the previous outputs are as they were; build again, with --jobs 1 if "
        "memory is short"]
    assert left == []
    assert snapshot(pool_work / "out") == before
    assert leftovers(pool_work) == []
