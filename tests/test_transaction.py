"""A build is all or nothing (issue 12): every output is staged and flushed before the first
one replaces a file, and a full disk, a write error or a second build at the same time never
leaves the output folder mixing two builds.

The disk-full tests mount a small tmpfs (we run as root, here and in CI; where mounting is
not permitted they are skipped, saying so) and fill it, so the rebuild meets a real ENOSPC.
The other write errors are raised by a patched ``os`` call in an in-process build (the only
way to make a rename or an fsync fail on purpose); everything else is a real
``python -m nexusreports`` process.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from nexusreports.errors import OutputError
from nexusreports.pipeline import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
DATA, TEMPLATES = ROOT / "data", ROOT / "templates"
OLD_EPOCH = "1735689600"  # 1 January 2025: the last good build
NEW_EPOCH = "1767225600"  # 1 January 2026: a rebuild that must rewrite every output
OUTPUTS = 18  # a full build: 16 sheets, the two bundle files; and manifest.json


def nexus(work: Path, out: Path, *args: str, epoch: str | None = None
          ) -> subprocess.CompletedProcess:
    """``nexusreports build --out OUT ARGS`` in ``work`` (SOURCE_DATE_EPOCH ``epoch``)."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch:
        env["SOURCE_DATE_EPOCH"] = epoch
    return subprocess.run([sys.executable, "-m", "nexusreports", "build", "--data", "data",
                           "--templates", str(TEMPLATES), "--out", str(out), "--jobs", "1",
                           *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """What only a running build may have in the output folder."""
    return sorted([p.name for p in out.rglob("*.tmp")]
                  + [n for n in (".nexusreports-staging", ".nexusreports.lock")
                     if (out / n).exists()])


def assert_consistent(out: Path) -> None:
    """manifest.json lists exactly the files in ``out``, each with its sha256."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {e["path"]: e["sha256"] for e in manifest["outputs"]}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == \
        {*listed, "manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest, path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path / "data")
    return tmp_path


# --- a full disk ----------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path):
    """A fresh 8 MB tmpfs, unmounted afterwards."""
    point = tmp_path / "disk"
    point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a small file system to fill")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Take all the free space of ``disk`` but ``leave`` bytes (rounded down to a block)."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    block = stat.f_frsize
    size = free - (leave // block) * block
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, size)
    return filler


NO_SPACE = re.compile(r"^(?P<path>\S+): cannot write \(No space left on device\): free some "
                      r"space on that disk and build again; nothing was changed, the previous "
                      r"outputs are as they were$")


@pytest.mark.parametrize("share, jobs", [
    pytest.param(0.0, "1", id="no-space-at-all"),
    pytest.param(0.3, "1", id="space-for-a-few-outputs"),
    pytest.param(0.97, "1", id="space-for-almost-all"),
    # the rendering processes stage the sheets they render: a full disk met there
    pytest.param(0.3, "2", id="space-for-a-few-outputs-two-rendering-processes")])
def test_a_rebuild_that_runs_out_of_space_leaves_the_last_good_set_byte_identical(
        work, small_disk, share, jobs):
    out = small_disk / "out"
    assert nexus(work, out, epoch=OLD_EPOCH).returncode == 0
    before = snapshot(out)
    assert len(before) == OUTPUTS + 1
    size = sum(len(data) for data, _ in before.values())
    filler = fill(small_disk, int(share * size))

    done = nexus(work, out, "--jobs", jobs, epoch=NEW_EPOCH)  # would rewrite every output
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line, = done.stderr.splitlines()  # one plain line, naming the output it could not write
    match = NO_SPACE.match(line)
    assert match, line
    assert match["path"].startswith(f"{out}/")
    assert snapshot(out) == before
    assert leftovers(out) == []
    assert nexus(work, out, "--check", epoch=OLD_EPOCH).returncode == 0

    filler.unlink()  # space again: the rebuild goes through
    done = nexus(work, out, epoch=NEW_EPOCH)
    assert done.returncode == 0, done.stderr
    assert f"{OUTPUTS} built, 0 unchanged" in done.stderr
    assert nexus(work, out, "--check", epoch=NEW_EPOCH).returncode == 0


def test_a_first_build_that_runs_out_of_space_leaves_no_output_folder(work, small_disk):
    fill(small_disk, 64 * 1024)
    out = small_disk / "out"
    done = nexus(work, out, epoch=NEW_EPOCH)
    assert done.returncode == 1
    assert NO_SPACE.match(done.stderr.strip()), done.stderr
    assert not out.exists()


def test_a_language_folder_linked_to_another_disk_is_named_and_nothing_changes(
        work, small_disk):
    """``out/nl`` a link to another file system: a rename cannot cross it.  Before, every
    build said "check that the output folder is writable", which it was."""
    out = work / "out"
    assert nexus(work, out, "--format", "pdf", epoch=OLD_EPOCH).returncode == 0
    before = snapshot(out)
    shutil.move(out / "nl", small_disk / "nl")
    (out / "nl").symlink_to(small_disk / "nl")
    moved = snapshot(small_disk / "nl")
    done = nexus(work, out, "--format", "pdf", epoch=NEW_EPOCH)
    assert done.returncode == 1
    line, = done.stderr.splitlines()
    assert re.fullmatch(
        rf"{re.escape(str(out))}/nl/\S+\.pdf: cannot write \(Invalid cross-device link\): "
        rf"{re.escape(str(out))}/nl is on another disk than the output folder \(a link\?\), "
        r"and outputs are moved into place from inside the output folder: make it a plain "
        r"folder, or point --out at that disk, and build again; nothing was changed, the "
        r"previous outputs are as they were", line), line
    assert snapshot(small_disk / "nl") == moved
    assert {k: v for k, v in snapshot(out).items() if not k.startswith("nl/")} == \
        {k: v for k, v in before.items() if not k.startswith("nl/")}
    assert leftovers(out) == []


# --- any other write error, at each step ------------------------------------------------------

def failing(monkeypatch, name: str, at: int, code: int = errno.EIO) -> list[int]:
    """Make the ``at``-th call of ``os.<name>`` (from now on) fail with ``code``; return
    the count of calls (one number in a list).  Calls on the build's own temporary spill
    files (``nexusreports-*.spill``, see nexusreports.spill) are not counted: they are not
    outputs, and when they are removed depends on when the objects holding them go."""
    real = getattr(os, name)
    calls = [0]

    def call(*args, **kwargs):
        if args and str(args[0]).endswith(".spill"):
            return real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == at:
            raise OSError(code, os.strerror(code), str(args[-1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, call)
    return calls


def options(out: Path, data: Path) -> BuildOptions:
    return BuildOptions(data_dir=data, templates_dir=TEMPLATES, out_dir=out, formats=("pdf",))


# a PDF build: 8 sheets and the bundle; renames: the journal, then 9 outputs, the manifest
# (a failed hard link is copied instead, unless the disk is full: ENOSPC for that step)
STEPS = [pytest.param("fsync", 2, errno.EIO, id="flushing-the-second-staged-output"),
         pytest.param("link", 3, errno.ENOSPC, id="keeping-the-third-old-file"),
         pytest.param("replace", 1, errno.EIO, id="putting-the-journal-in-place"),
         pytest.param("replace", 4, errno.EIO, id="renaming-the-third-output"),
         pytest.param("replace", 11, errno.EIO, id="renaming-the-manifest")]


@pytest.mark.parametrize("name, at, code", STEPS)
def test_a_write_error_at_any_step_leaves_the_last_good_set_byte_identical(
        work, monkeypatch, name, at, code):
    out = work / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", OLD_EPOCH)
    build(options(out, work / "data"))
    before = snapshot(out)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", NEW_EPOCH)
    failing(monkeypatch, name, at, code)
    with pytest.raises(OutputError) as caught:
        build(options(out, work / "data"))
    # the output it could not write, or the folder (for the journal of the commit)
    assert re.match(rf"^{re.escape(str(out))}(/\S+)?: cannot write \({os.strerror(code)}\): "
                    "(check that the output folder is writable|free some space on that disk) "
                    "and build again; nothing was changed, the previous outputs are as they "
                    "were$", str(caught.value)), str(caught.value)
    assert snapshot(out) == before
    assert leftovers(out) == []


@pytest.mark.parametrize("name, at, code", STEPS[:1] + STEPS[3:4])
def test_a_first_build_that_fails_to_write_leaves_no_output_folder(work, monkeypatch,
                                                                   name, at, code):
    failing(monkeypatch, name, at, code)
    with pytest.raises(OutputError):
        build(options(work / "out", work / "data"))
    assert not (work / "out").exists()


def test_without_hard_links_the_old_files_are_copied_for_the_rollback(work, monkeypatch):
    out = work / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", OLD_EPOCH)
    build(options(out, work / "data"))
    before = snapshot(out)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", NEW_EPOCH)
    links = []

    def no_link(src, dst, **kwargs):  # a file system without hard links
        links.append(dst)
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(src))

    monkeypatch.setattr(os, "link", no_link)
    failing(monkeypatch, "replace", 4)
    with pytest.raises(OutputError):
        build(options(out, work / "data"))
    assert len(links) == 10  # the 9 outputs and the manifest, each copied instead
    assert snapshot(out) == before  # put back from the copies
    assert leftovers(out) == []
    monkeypatch.undo()
    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", NEW_EPOCH)
    build(options(out, work / "data"))
    assert leftovers(out) == []
    assert_consistent(out)


def test_an_output_folder_that_cannot_be_locked_is_refused_saying_why(work, monkeypatch):
    import fcntl

    def no_locks(fd, operation):  # what flock says on a network file system without locks
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(OutputError) as caught:
        build(options(work / "out", work / "data"))
    assert str(caught.value) == (f"{work}/out/.nexusreports.lock: cannot lock the output "
                                 "folder (No locks available): use a local folder for --out")
    assert not (work / "out").exists()


# --- two builds at once ------------------------------------------------------------------------

def test_two_builds_into_one_folder_at_once_take_turns_and_check_passes_after(work):
    """Dated by the clock and forced, each build makes files the other did not; had they
    interleaved, the manifest would not match the files."""
    out = work / "out"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    command = [sys.executable, "-m", "nexusreports", "build", "--data", "data", "--templates",
               str(TEMPLATES), "--out", "out", "--jobs", "1", "--force"]
    for _ in range(3):
        builds = [subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(b.communicate(timeout=300)[1], b.returncode)[::-1] for b in builds]
        for code, err in results:
            assert code == 0, err
            # each build makes every output; one that comes out byte for byte as the other
            # build left it (the same second on the clock: a zip's date counts in 2 s) is
            # left in place and counted unchanged
            made = re.search(rf"{OUTPUTS} outputs in out: (\d+) built, (\d+) unchanged, "
                             r"0 failed", err)
            assert made and int(made[1]) + int(made[2]) == OUTPUTS and int(made[1]) > 0, err
        assert leftovers(out) == []
        assert_consistent(out)
        done = nexus(work, out, "--check")
        assert done.returncode == 0, done.stderr
        assert len(PdfReader(out / "briefing-nl-en.pdf").pages) > 8


@pytest.mark.parametrize("args", [(), ("--check",)])
def test_an_out_that_is_a_file_is_refused_naming_it(work, args):
    (work / "notes.txt").write_text("mine\n", encoding="utf-8")
    done = nexus(work, work / "notes.txt", *args)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{work}/notes.txt: is a file, not a folder: give --out a folder (it is created if "
        "need be)"]
    assert (work / "notes.txt").read_text(encoding="utf-8") == "mine\n"


# --- outputs that no build makes any more -----------------------------------------------------

GONE = "precision-diagnostics"  # a flagship of 460 (EUR million) in the shipped data


def delete_project(data: Path) -> None:
    """Delete a flagship as a user would: its file, its place in the bundle's order and its
    share of the programme's flagship total."""
    (data / "projects" / f"{GONE}.yaml").unlink()
    for name, old, new in [("bundle.yaml", f"  - {GONE}\n", ""),
                           ("projects/biotech-nexus.yaml", "flagship_total_eur_m: 3910",
                            "flagship_total_eur_m: 3450")]:
        text = (data / name).read_text(encoding="utf-8")
        assert old in text
        (data / name).write_text(text.replace(old, new), encoding="utf-8")


GONE_SHEETS = [f"{lang}/{GONE}.{fmt}" for lang in ("en", "nl") for fmt in ("docx", "pdf")]


def test_the_sheets_of_a_deleted_project_are_removed_by_the_next_build(work):
    """Before, they stayed in out/ and in the manifest, and ``build --check`` failed for
    ever with "run nexusreports build", which changed nothing."""
    out = work / "out"
    assert nexus(work, out).returncode == 0
    delete_project(work / "data")
    done = nexus(work, out, "--check")
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.split(":")[0].endswith(
        tuple(GONE_SHEETS))] == [
        f"out/{path}: no build of this data makes it any more (its project or "
        "data/bundle.yaml is gone): run nexusreports build to remove it"
        for path in GONE_SHEETS]
    done = nexus(work, out)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("removed")] == [
        f"removed {out}/{path}: no build of this data makes it any more"
        for path in GONE_SHEETS]
    assert not any((out / path).exists() for path in GONE_SHEETS)
    assert nexus(work, out, "--check").returncode == 0
    assert_consistent(out)
    assert leftovers(out) == []


def test_the_bundle_is_removed_once_its_data_file_is_deleted(work):
    out = work / "out"
    assert nexus(work, out, "--format", "pdf").returncode == 0
    (work / "data" / "bundle.yaml").unlink()
    assert nexus(work, out, "--check", "--format", "pdf").returncode == 1
    assert nexus(work, out, "--format", "pdf").returncode == 0
    assert not (out / "briefing-nl-en.pdf").exists()
    assert nexus(work, out, "--check", "--format", "pdf").returncode == 0
    assert_consistent(out)


def test_a_write_error_while_removing_puts_the_removed_files_back(work, monkeypatch):
    out = work / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", OLD_EPOCH)
    build(options(out, work / "data"))
    before = snapshot(out)
    delete_project(work / "data")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", NEW_EPOCH)  # every output is rewritten too
    failing(monkeypatch, "unlink", 2)  # the second sheet it removes
    with pytest.raises(OutputError):
        build(options(out, work / "data"))
    assert snapshot(out) == before
    assert leftovers(out) == []
    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", NEW_EPOCH)
    build(options(out, work / "data"))
    assert not any((out / p).exists() for p in GONE_SHEETS)
    assert_consistent(out)
