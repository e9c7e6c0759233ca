"""A real `python -m nexusreports build`, interrupted (SIGINT, SIGTERM) while it renders or
while it writes, leaves every previous output whole and no temporary file behind.

To interrupt at a known point without timing, the child process loads a ``sitecustomize``
(from a folder put on PYTHONPATH by the test, never shipped) that stops at that point --
in ReportLab's ``Canvas.save`` (rendering) or in the N-th ``os.fsync`` (writing: the
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

    if _mode == "render":
        from reportlab.pdfgen import canvas as _canvas
        _save = _canvas.Canvas.save

        def save(self):
            _pause()
            return _save(self)

        _canvas.Canvas.save = save
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
