"""A real `python -m nexusreports build`, interrupted (SIGINT, SIGTERM) while it renders or
while it writes, leaves every previous output whole and no temporary file behind; with
``--jobs 2`` a Ctrl-C to the whole process group (what a terminal sends) also stops the
rendering processes: one line, exit 130, no traceback, no process left behind.

To interrupt at a known point without timing, the child process loads a ``sitecustomize``
(from a folder put on PYTHONPATH by the test, never shipped) that stops at that point --
in ReportLab's N-th ``Canvas.save`` (rendering; in each rendering process), in the
first ``registerFont`` (before the process pool starts) or in the N-th ``os.fsync`` (writing: the
temporary file is complete, not yet renamed) -- tells the test through a pipe, and sleeps
until the signal arrives.
"""

from __future__ import annotations

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

    def _pause():
        os.write(_fd, b"paused\\n")
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


def interrupted_build(work: Path, pause: str, signum: int) -> subprocess.CompletedProcess:
    """Run a build that must rewrite every output (another SOURCE_DATE_EPOCH), stop it at
    ``pause`` and send ``signum``; return the finished process."""
    read_end, write_end = os.pipe()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600",
           "PYTHONPATH": os.pathsep.join([str(work / "hook"), os.environ.get("PYTHONPATH", "")]),
           "NEXUS_TEST_PAUSE": pause, "NEXUS_TEST_PAUSE_FD": str(write_end)}
    proc = subprocess.Popen(build_command(work), cwd=work, env=env, pass_fds=(write_end,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(read_end, 64) == b"paused\n", "the build never paused"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(read_end)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


SIGNALS = [pytest.param(signal.SIGINT, 130, id="SIGINT"),
           pytest.param(signal.SIGTERM, 128 + signal.SIGTERM, id="SIGTERM")]


@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_build_interrupted_while_rendering_changes_nothing(work, signum, code):
    before = snapshot(work / "out")
    result = interrupted_build(work, "render", signum)
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    assert snapshot(work / "out") == before
    assert not list(work.rglob("*.tmp"))


@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_build_interrupted_while_writing_leaves_whole_files_and_no_temporary_file(
        work, signum, code):
    before = snapshot(work / "out")
    result = interrupted_build(work, "write:3", signum)  # two outputs replaced, third pending
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    after = snapshot(work / "out")
    assert sorted(after) == sorted(before)  # nothing lost, nothing half-written added
    assert not list(work.rglob("*.tmp"))
    replaced = [path for path in after if after[path][0] != before[path][0]]
    assert len(replaced) == 2  # exactly the two whose rename completed
    assert "manifest.json" not in replaced  # written last: still the previous build's
    for path in after:
        if path.endswith(".pdf"):
            PdfReader(work / "out" / path).pages[0]  # every PDF is whole and readable


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
