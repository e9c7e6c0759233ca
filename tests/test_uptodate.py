"""A rebuild with nothing changed is decided from the manifest (uptodate.py), before the
heavy libraries are loaded, and says what the full build would say; any change to an input,
an option, SOURCE_DATE_EPOCH or an output takes the full build again.

Builds run as real processes (``python -X importtime -m nexusreports``) in a scratch folder
holding copies of the shipped data, templates and of the package itself (so a catalog of
the package can be edited without touching the repository).  Which way a build went shows
in the modules it imported (``-vv`` also says why it took the long way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nexusreports
from nexusreports import uptodate
from nexusreports.write import manifest_bytes, read_manifest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(nexusreports.__file__).resolve().parent
HEAVY = ("pydantic", "reportlab", "docx", "docxtpl", "pikepdf", "babel", "pypdf",
         "nexusreports.model", "nexusreports.pipeline", "nexusreports.validate")
ARGS = ("--only", "atmp", "--lang", "nl", "--no-bundle")  # two sheets: PDF and Word
EPOCH = "1700000000"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/, templates/ and src/nexusreports copied, built once with ARGS."""
    work = tmp_path_factory.mktemp("uptodate")
    shutil.copytree(ROOT / "data", work / "data")
    shutil.copytree(ROOT / "templates", work / "templates")
    shutil.copytree(PACKAGE, work / "src" / "nexusreports",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 0, done.stderr
    return work


@pytest.fixture
def work(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine build (the manifest names no folder, so it holds there too)."""
    shutil.copytree(pristine, tmp_path / "w")
    return tmp_path / "w"


def nexus(work: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    environ.update(env, PYTHONPATH=str(work / "src"))
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "nexusreports", *args],
                          cwd=work, env=environ, capture_output=True, text=True, timeout=300)


def imported(done: subprocess.CompletedProcess) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s+(\S+)$", done.stderr,
                                            re.MULTILINE)}


def heavy(done: subprocess.CompletedProcess) -> set[str]:
    return {m for m in imported(done) if m in HEAVY or m.split(".")[0] in HEAVY}


def said(done: subprocess.CompletedProcess) -> list[str]:
    """What the build printed (no import times or durations)."""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    return [re.sub(r"\(\d+\.\d s\)", "(_ s)", line) for line in lines]


def fast(done: subprocess.CompletedProcess) -> bool:
    """Whether the build was decided from the manifest (and loaded nothing heavy)."""
    assert done.returncode in (0, 1), done.stderr
    return not heavy(done)


def test_a_rebuild_with_nothing_changed_loads_no_heavy_library(work):
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 0, done.stderr
    assert heavy(done) == set()
    assert "nexusreports.uptodate" in imported(done)
    assert said(done)[-1] == "2 outputs in out: 0 built, 2 unchanged, 0 failed (_ s)"


@pytest.mark.parametrize("args", [ARGS, (), ("--format", "pdf")],
                         ids=["only-atmp-nl", "default", "pdf"])
def test_the_no_change_build_says_what_the_full_build_says(work, args):
    build = nexus(work, "build", *args)
    assert build.returncode == 0, build.stderr
    manifest = work / "out/manifest.json"
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    raw.pop("build")  # without a record the same no-change build takes the long way
    manifest.write_text(json.dumps(raw), encoding="utf-8")
    long_way = nexus(work, "build", *args)
    short_way = nexus(work, "build", *args)
    assert not fast(long_way) and fast(short_way)
    assert said(short_way) == said(long_way)
    assert "0 built" in said(short_way)[-1]
    quiet = nexus(work, "-q", "build", *args)
    assert fast(quiet) and said(quiet) == []


def test_alternating_options_each_stay_no_change_builds(work):
    for args in ((), ARGS):
        nexus(work, "build", *args)  # records the default build; ARGS was recorded already
    for args in (ARGS, (), ARGS):
        assert fast(nexus(work, "build", *args))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _recompress(docx: Path) -> None:
    """The same Word template, stored with other bytes."""
    with zipfile.ZipFile(docx) as z:
        parts = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(docx, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info, data in parts:
            z.writestr(info.filename, data)


def _logo(work: Path) -> None:
    from PIL import Image

    (work / "data/logos").mkdir()
    Image.new("RGB", (60, 30), "#12355B").save(work / "data/logos/acme.png")
    _edit(work / "data/projects/atmp.yaml", "organisations: []",
          "organisations:\n  - name: Acme\n    logo: logos/acme.png")


CHANGES = {
    "a data file": lambda w: _edit(w / "data/projects/atmp.yaml", "summary:", "# a note\nsummary:"),
    "the programme's data file": lambda w: _edit(w / "data/projects/biotech-nexus.yaml",
                                                 "summary:", "# a note\nsummary:"),
    "another project's data file": lambda w: _edit(
        w / "data/projects/infectieziekten.yaml", "summary:", "# a note\nsummary:"),
    "bundle.yaml": lambda w: (w / "data/bundle.yaml").write_text(
        (w / "data/bundle.yaml").read_text(encoding="utf-8") + "# a note\n", encoding="utf-8"),
    "the theme": lambda w: _edit(w / "templates/theme.yaml", "\n", "\n# a note\n"),
    "a font": lambda w: (w / "templates/fonts/Carlito-Regular.ttf").write_bytes(
        (w / "templates/fonts/Carlito-Regular.ttf").read_bytes() + b"\0\0\0\0"),
    "the Word template": lambda w: _recompress(w / "templates/sheet.docx"),
    "the Dutch catalog": lambda w: (
        w / "src/nexusreports/localise/locale/nl/LC_MESSAGES/nexusreports.po").write_text(
        (w / "src/nexusreports/localise/locale/nl/LC_MESSAGES/nexusreports.po").read_text(
            encoding="utf-8") + "\n# a note\n", encoding="utf-8"),
    "a logo": _logo,
    "the code": lambda w: (w / "src/nexusreports/uptodate.py").write_text(
        (w / "src/nexusreports/uptodate.py").read_text(encoding="utf-8") + "\n# a note\n",
        encoding="utf-8"),
    "an output deleted": lambda w: (w / "out/nl/atmp.pdf").unlink(),
    "an output modified": lambda w: (w / "out/nl/atmp.docx").write_bytes(b"not a sheet"),
    "an output appended to": lambda w: (w / "out/nl/atmp.pdf").write_bytes(
        (w / "out/nl/atmp.pdf").read_bytes() + b"\n"),
    "the manifest edited": lambda w: _edit(w / "out/manifest.json", '"pages": 1', '"pages": 2'),
    "the manifest laid out otherwise": lambda w: (w / "out/manifest.json").write_text(
        json.dumps(json.loads((w / "out/manifest.json").read_text(encoding="utf-8")),
                   indent=2), encoding="utf-8"),
    "an old manifest": lambda w: (w / "out/manifest.json").write_text(
        json.dumps({"tool": {}, "outputs": [{"path": "nl/atmp.pdf", "inputs": {}}]}),
        encoding="utf-8"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_takes_the_full_build(work, change):
    CHANGES[change](work)
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 0, done.stderr
    assert not fast(done)
    # and the full build put everything right: the next one is a no-change build again
    assert fast(nexus(work, "build", *ARGS))
    check = subprocess.run([sys.executable, "-m", "nexusreports", "build", "--check", *ARGS],
                           cwd=work, env={**os.environ, "PYTHONPATH": str(work / "src")},
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr


def test_a_new_project_file_is_noticed_though_only_another_is_built(work):
    """``--only atmp`` validates every project: a new one that breaks the data fails the
    build, as it always has; once it is gone, nothing changed."""
    shutil.copy(work / "data/projects/atmp.yaml", work / "data/projects/atmp-copy.yaml")
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 1 and not fast(done)
    assert "add '- atmp-copy' to the order" in done.stderr
    (work / "data/projects/atmp-copy.yaml").unlink()
    assert fast(nexus(work, "build", *ARGS))


@pytest.mark.parametrize("args, env", [
    (("--only", "atmp", "--lang", "nl"), {}),  # the bundle flag differs
    (("--only", "atmp", "--lang", "nl", "--no-bundle", "--format", "pdf"), {}),
    (("--only", "atmp", "--lang", "nl,en", "--no-bundle"), {}),
    (("--only", "atmp", "--only", "biotech-nexus", "--lang", "nl", "--no-bundle"), {}),
    (ARGS + ("--force",), {}),
    (ARGS, {"SOURCE_DATE_EPOCH": EPOCH}),
], ids=["bundle", "format", "lang", "only", "force", "source-date-epoch"])
def test_other_options_or_epoch_take_the_full_build(work, args, env):
    done = nexus(work, "build", *args, **env)
    assert done.returncode == 0, done.stderr
    assert not fast(done)


def test_a_new_source_date_epoch_takes_the_full_build_then_is_remembered(work):
    assert not fast(nexus(work, "build", *ARGS, SOURCE_DATE_EPOCH=EPOCH))
    assert fast(nexus(work, "build", *ARGS, SOURCE_DATE_EPOCH=EPOCH))
    assert not fast(nexus(work, "build", *ARGS, SOURCE_DATE_EPOCH="1700000001"))
    assert not fast(nexus(work, "build", *ARGS))  # unset: also a change of the record
    bad = nexus(work, "build", *ARGS, SOURCE_DATE_EPOCH="+1700000000")
    assert bad.returncode == 1 and "SOURCE_DATE_EPOCH='+1700000000'" in bad.stderr


def test_warnings_are_said_again_and_strict_still_fails_on_them(work):
    _edit(work / "data/projects/atmp.yaml", "figures:\n",
          "figures:\n  spare: {kind: date, value: 2025-01-01}\n")
    first = nexus(work, "build", *ARGS)
    assert first.returncode == 0 and not fast(first)
    warning = [line for line in said(first) if line.startswith("warning: ")]
    assert warning and "spare" in warning[0] and "data/projects/atmp.yaml:" in warning[0]
    again = nexus(work, "build", *ARGS)
    assert fast(again) and [line for line in said(again) if line.startswith("warning: ")] \
        == warning
    strict = nexus(work, "build", "--strict", *ARGS)
    assert strict.returncode == 1 and not fast(strict)
    assert "data/projects/atmp.yaml:13: figures.spare: this figure is not used" in strict.stderr


def test_a_commit_left_by_a_killed_build_is_completed_first(work):
    """An unfinished commit in the staging folder: the lock's recovery runs as it does for
    a full build (here: a staging folder without a journal is removed)."""
    leftover = work / "out/.nexusreports-staging/999-deadbeef/new/nl"
    leftover.mkdir(parents=True)
    (leftover / "atmp.pdf").write_bytes(b"half")
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 0 and fast(done)
    assert not (work / "out/.nexusreports-staging").exists()


def test_the_manifest_lists_shared_inputs_once(work):
    raw = json.loads((work / "out/manifest.json").read_text(encoding="utf-8"))
    assert raw["manifest"] == 2
    text = (work / "out/manifest.json").read_text(encoding="utf-8")
    assert text.count('"templates/fonts/Carlito-Regular.ttf"') == len(raw["shared"])
    entries = read_manifest(work / "out")  # every entry with its inputs in full
    assert all("templates/fonts/Carlito-Regular.ttf" in e["inputs"] for e in entries.values())
    assert "data/projects/atmp.yaml" in entries["nl/atmp.pdf"]["inputs"]
    # the build's record was added without rewriting the entries: the bytes are those the
    # commit would write for these entries and records
    assert manifest_bytes(raw["tool"], [entries[e["path"]] for e in raw["outputs"]],
                          raw["build"]).decode("utf-8") == text


def test_a_manifest_of_the_previous_version_means_build_everything(work):
    old = {"tool": {"nexusreports": "0.1.0"}, "outputs": [
        {"path": "nl/atmp.pdf", "lang": "nl-NL", "sha256": "0" * 64,
         "inputs": {"templates/theme.yaml": "0" * 64}}]}
    (work / "out/manifest.json").write_text(json.dumps(old), encoding="utf-8")
    assert read_manifest(work / "out") == {}
    done = nexus(work, "build", *ARGS)
    assert done.returncode == 0 and not fast(done)
    assert fast(nexus(work, "build", *ARGS))


def test_the_light_constants_match_the_pipeline():
    from nexusreports import bundle, model, pipeline, validate

    assert uptodate.LANGS == model.LANGS
    assert uptodate.FORMATS == pipeline.FORMATS
    assert uptodate.PROJECTS_DIR == validate.PROJECTS_DIR
    assert uptodate.BUNDLE_FILE == validate.BUNDLE_FILE
    assert uptodate.PDF_BUNDLE == bundle.PDF_NAME
    assert uptodate.tool_versions() == pipeline.tool_versions()


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("build", "--help")])
def test_help_and_version_load_no_heavy_library(args):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "nexusreports", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert heavy(done) == set()


def test_a_no_change_build_writes_nothing(work):
    out = work / "out"
    for p in out.rglob("*"):
        os.utime(p, (1_000_000_000, 1_000_000_000))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    done = nexus(work, "build", *ARGS)
    assert fast(done)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert all(p.stat().st_mtime == 1_000_000_000 for p in before)


def test_a_no_change_build_waits_for_a_build_running_into_the_folder(work):
    """The lock is taken as a build takes it: while another process holds it, the no-change
    build says so and waits; it decides once the lock is free."""
    import time

    from nexusreports.write import OutputLock

    with OutputLock(work / "out"):
        environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
        environ["PYTHONPATH"] = str(work / "src")
        waiting = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "nexusreports",
                                    "build", *ARGS], cwd=work, env=environ,
                                   stderr=subprocess.PIPE, text=True)
        seen = ""
        deadline = time.monotonic() + 60
        while "waiting for it to finish" not in seen and time.monotonic() < deadline:
            seen += waiting.stderr.readline()
        assert "another build" in seen and "waiting for it to finish" in seen
        assert waiting.poll() is None  # still waiting while the lock is held
    rest = waiting.stderr.read()
    waiting.stderr.close()
    assert waiting.wait(timeout=60) == 0
    done = subprocess.CompletedProcess(waiting.args, 0, "", seen + rest)
    assert fast(done) and "2 outputs in out: 0 built, 2 unchanged" in rest


def test_check_after_a_build_is_decided_from_the_manifest_too(work):
    quick = nexus(work, "build", "--check", *ARGS)
    assert quick.returncode == 0 and fast(quick)
    assert said(quick) == ["2 outputs in out match their inputs"]
    (work / "out/nl/atmp.pdf").write_bytes(b"edited")
    stale = nexus(work, "build", "--check", *ARGS)
    assert stale.returncode == 1 and not fast(stale)
    assert "out/nl/atmp.pdf: modified after the build" in stale.stderr


def test_check_takes_the_long_way_when_the_manifest_holds_other_builds_outputs(work):
    """``--check --only atmp`` checks every manifest entry of atmp, also those another
    build made (here the English sheets): more than the recorded build's outputs."""
    assert nexus(work, "build", "--only", "atmp", "--lang", "en", "--no-bundle").returncode == 0
    done = nexus(work, "build", "--check", *ARGS)
    assert done.returncode == 0 and not fast(done)
    assert said(done) == ["4 outputs in out match their inputs"]


def test_completing_a_slug_loads_no_heavy_library():
    env = {**os.environ, "_NEXUSREPORTS_COMPLETE": "bash_complete",
           "COMP_WORDS": "nexusreports build --only at", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "nexusreports"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "plain,atmp" in done.stdout
    assert heavy(done) == set()


def test_the_record_reads_the_manifest_a_line_at_a_time_and_keeps_its_lines_byte_for_byte(
        work, monkeypatch):
    """``record`` never parses the whole manifest (tens of MB at 10,000 projects): it reads
    the header and one output line at a time, its digest the one the decision computes from
    the whole file, and the new manifest is the old one's lines behind a new header."""
    assert nexus(work, "build").returncode == 0
    manifest = work / "out" / "manifest.json"
    text = manifest.read_bytes()
    with open(manifest, "rb") as fh:
        head, offset, entries = uptodate._stream_manifest(fh)
        digest = uptodate._Digest(head)
        paths = []
        for entry in entries:
            digest.entry(entry)
            paths.append(entry["path"])
    raw = json.loads(text)
    assert paths == [e["path"] for e in raw["outputs"]] and len(paths) > 10
    assert digest.hexdigest() == uptodate._manifest_digest(raw)
    assert text[offset:].startswith(b' "outputs": [\n')

    def whole(*args, **kwargs):
        raise AssertionError("the manifest was read whole")

    monkeypatch.setattr(uptodate, "_record_whole", whole)

    class Out:
        def __init__(self, path: str, sha256: str):
            self.path, self.sha256 = path, sha256

    outputs = [Out(e["path"], e["sha256"]) for e in raw["outputs"]]
    snapshot = uptodate.Snapshot(work / "data", work / "templates")
    assert uptodate.record(snapshot, work / "out", langs=("nl",), only=(), formats=("pdf",),
                           bundle=False, outputs=outputs, warnings=[])
    new = manifest.read_bytes()
    assert new != text and new.endswith(text[offset:])  # the lines as they were
    assert json.loads(new)["build"][0]["options"]["langs"] == ["nl"]


def test_the_decision_reads_the_manifest_a_line_at_a_time(work, monkeypatch):
    """Deciding that nothing changed never parses the whole manifest (tens of MB at 10,000
    projects, some 90 MB parsed): the header, then one output line at a time."""
    assert nexus(work, "build").returncode == 0
    manifest = work / "out" / "manifest.json"
    parsed: list[int] = []
    loads = json.loads

    def counting(text, *args, **kwargs):
        parsed.append(len(text))
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(uptodate.json, "loads", counting)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    found = uptodate.unchanged(work / "data", work / "templates", work / "out",
                               langs=("nl", "en"), only=(), formats=("pdf", "docx"),
                               bundle=True, strict=False, force=False)
    assert found is not None and len(found.outputs) == 18  # 16 sheets, 2 bundles
    entries = len(loads(manifest.read_text(encoding="utf-8"))["outputs"])
    assert len(parsed) == 2 * (1 + entries)  # two passes: the header, then each entry
    assert max(parsed) < manifest.stat().st_size / 3  # the header is the largest part


def test_a_folders_digest_is_that_of_its_files_names_and_sha256_as_json(work):
    """What the build record keeps of data/ (and templates/, the package): the sha256 of the
    JSON mapping of each file's posix name to its sha256, sorted and compact -- as earlier
    versions wrote it, so their records still hold."""
    import hashlib

    files = {p.relative_to(work / "data").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in (work / "data").rglob("*") if p.is_file()}
    text = json.dumps(files, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    snapshot = uptodate.Snapshot(work / "data", work / "templates")
    assert snapshot.digests()["data"] == hashlib.sha256(text.encode()).hexdigest()
    name = "data/projects/atmp.yaml"
    assert snapshot.sha256(name) == files["projects/atmp.yaml"]
    assert snapshot.sha256("data/projects/none.yaml") == ""  # in the folder: no such file
    assert snapshot.sha256("/elsewhere/file") is None
    again = uptodate.Snapshot(work / "data", work / "templates", like=snapshot)
    assert again.trees == snapshot.trees
    (work / "data/projects/atmp.yaml").write_text("changed", encoding="utf-8")
    assert uptodate.Snapshot(work / "data", work / "templates", like=snapshot).trees != \
        snapshot.trees


def test_a_snapshot_keeps_its_files_in_a_temporary_file_until_it_is_looked_at(work):
    """A build holds the snapshot of every data file to its end, and each rendering process
    it forks would hold a copy: taken, it keeps nothing per file in memory; the names and
    sha256 come back, the same, when the build's record asks for them."""
    import hashlib

    snapshot = uptodate.Snapshot(work / "data", work / "templates")
    data = snapshot.trees["data"]
    assert data._loaded is None  # parked: nothing per file in memory
    atmp = work / "data/projects/atmp.yaml"
    assert snapshot.sha256("data/projects/atmp.yaml") == \
        hashlib.sha256(atmp.read_bytes()).hexdigest()
    assert "projects/atmp.yaml" in data.names and data._loaded is not None
    assert data.stat("projects/atmp.yaml")[0][0] == atmp.stat().st_size


def test_a_snapshot_without_room_for_its_file_is_kept_in_memory(work, monkeypatch):
    """No room in the temporary folder: the snapshot is kept in memory as before (the
    build is not refused for it), and says the same."""
    parked = uptodate.Snapshot(work / "data", work / "templates")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(uptodate, "Spill", full)
    kept = uptodate.Snapshot(work / "data", work / "templates")
    assert kept.trees["data"]._loaded is not None
    assert kept.digests() == parked.digests() and kept.trees == parked.trees


def test_a_snapshot_that_cannot_be_read_back_records_nothing_and_raises_nothing(work):
    """The record reads the snapshot back from its temporary file; when that fails, the
    build is not recorded (the next one takes the long way), and nothing is raised."""
    class Unreadable:
        def __getitem__(self, index):
            raise OSError(5, "Input/output error")

    snapshot = uptodate.Snapshot(work / "data", work / "templates")
    snapshot.trees["data"]._spill = Unreadable()
    assert uptodate.record(snapshot, work / "out", langs=("nl", "en"), only=(),
                           formats=("pdf", "docx"), bundle=True, outputs=[],
                           warnings=[]) is False
