"""Release-grade builds (issue 5): reproducible, verifiable, incremental, parallel.

Builds run as real ``nexusreports`` processes in a scratch folder holding a copy of the
shipped data and templates, so input paths in the manifest are relative, the environment
(PYTHONHASHSEED, TZ, LC_ALL, SOURCE_DATE_EPOCH) is the process's own, and an input can be
changed without touching the repository.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from pypdf import PdfReader

from nexusreports.pipeline import FORMATS
from nexusreports.write import read_manifest

ROOT = Path(__file__).resolve().parent.parent
DATA, TEMPLATES = ROOT / "data", ROOT / "templates"
SLUGS = ("biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics")
LANGS = ("nl", "en")

EPOCH = "1700000000"  # 2023-11-14 22:13:20 UTC
OLD = 1_000_000_000  # a modification time long before any build (2001)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A scratch working folder with data/ and templates/ copied from the repository."""
    shutil.copytree(DATA, tmp_path / "data")
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    return tmp_path


def nexus(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``nexusreports ARGS`` in ``cwd`` with ``env`` added (SOURCE_DATE_EPOCH unset
    unless given); stderr is a pipe, so the CLI logs one plain line per output."""
    environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "nexusreports", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=300)


def build(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    done = nexus(cwd, "build", *args, **env)
    assert done.returncode == 0, done.stderr
    return done


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file()}


def age(out: Path) -> None:
    """Set every file's modification time to OLD, so a rewrite shows."""
    for p in out.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))


def rewritten(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.is_file() and p.stat().st_mtime != OLD}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SHEETS = {f"{lang}/{slug}.{fmt}" for slug in SLUGS for lang in LANGS for fmt in FORMATS}
BUNDLE = {"briefing-nl-en.pdf", "briefing-nl-en.docx"}
ALL = SHEETS | BUNDLE  # what a default build makes


# --- reproducible ------------------------------------------------------------------------

def cold_builds(work: Path, *runs: dict[str, str]) -> list[dict[str, bytes]]:
    """Build into a fresh ``out`` once per run (options ``args``, the rest environment); the
    files of each."""
    results = []
    for run in runs:
        env = dict(run)
        build(work, "--out", "out", *env.pop("args", "").split(), **env)
        results.append(files(work / "out"))
        shutil.rmtree(work / "out")
    return results


def test_two_builds_with_the_same_source_date_epoch_are_byte_identical(work):
    a, b = cold_builds(
        work,
        dict(args="--jobs 1", SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="1",
             TZ="Pacific/Auckland", LC_ALL="C"),
        dict(args="--jobs 2", SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="4242",
             TZ="America/Los_Angeles", LC_ALL="C.UTF-8"))
    assert set(a) == ALL | {"manifest.json"}
    assert a == b


def test_a_reproducible_pdf_takes_its_dates_and_id_from_source_date_epoch(work):
    build(work, "--out", "a", "--only", "atmp", "--lang", "nl", SOURCE_DATE_EPOCH=EPOCH)
    build(work, "--out", "b", "--only", "atmp", "--lang", "nl", SOURCE_DATE_EPOCH="1800000000")
    a = PdfReader(work / "a/nl/atmp.pdf")
    b = PdfReader(work / "b/nl/atmp.pdf")
    assert a.metadata["/CreationDate"] == "D:20231114221320+00'00'"
    assert a.metadata["/ModDate"] == "D:20231114221320+00'00'"
    assert b.metadata["/CreationDate"].startswith("D:20270115")
    assert a.trailer["/ID"][0] == a.trailer["/ID"][1]
    assert a.trailer["/ID"][0] != b.trailer["/ID"][0]  # the ID follows the content, date incl.


def test_without_source_date_epoch_the_real_build_time_is_used(work):
    build(work, "--out", "out", "--only", "atmp", "--lang", "en")
    stamp = PdfReader(work / "out/en/atmp.pdf").metadata["/CreationDate"]
    made = dt.datetime.strptime(stamp[2:16], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    assert abs(dt.datetime.now(dt.timezone.utc) - made) < dt.timedelta(hours=14)
    manifest = json.loads((work / "out/manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"][0]["source_date_epoch"] is None


def test_two_docx_builds_with_the_same_source_date_epoch_are_byte_identical(work):
    if "docx" not in FORMATS:
        pytest.skip("the docx format is not built yet (issue 3)")
    a, b = cold_builds(
        work,
        dict(args="--format docx --only atmp", SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="1",
             TZ="Asia/Tokyo"),
        dict(args="--format docx --only atmp", SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="2",
             TZ="UTC", LC_ALL="C"))
    assert set(a) == {"nl/atmp.docx", "en/atmp.docx", "manifest.json"}
    assert a == b


# --- verifiable --------------------------------------------------------------------------

def test_the_manifest_lists_every_output_with_its_inputs_and_versions(work):
    build(work, "--out", "out")
    out = work / "out"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {e["path"] for e in manifest["outputs"]} == ALL
    entries = read_manifest(out)  # inputs in full: the shared sets' and each entry's own
    assert set(entries) == ALL
    fonts = {f"templates/fonts/Carlito-{face}.ttf"
             for face in ("Regular", "Bold", "Italic", "BoldItalic")}
    catalog = "nexusreports/localise/locale/nl/LC_MESSAGES/nexusreports.po"
    for path, e in entries.items():
        assert e["sha256"] == sha(out / path)
        assert e["size"] == (out / path).stat().st_size
        assert e["format"] == path.rsplit(".", 1)[1]
        if e["format"] == "pdf":
            assert e["pages"] == len(PdfReader(out / path).pages)
        for name, digest in e["inputs"].items():
            assert digest == sha(input_file(work, name)), name
        assert {"templates/theme.yaml", *fonts} <= set(e["inputs"])
        if path in BUNDLE:
            continue
        lang, slug = path.rsplit(".", 1)[0].split("/")
        assert e["language"] == {"nl": "nl-NL", "en": "en-GB"}[lang]
        assert e["slug"] == slug
        assert f"data/projects/{slug}.yaml" in e["inputs"]
        assert (catalog in e["inputs"]) == (lang == "nl")
        assert ("templates/sheet.docx" in e["inputs"]) == (e["format"] == "docx")
    assert entries["nl/atmp.pdf"]["pages"] == 1
    # a flagship's sheet prints its programme's name, so the programme file is an input
    assert "data/projects/biotech-nexus.yaml" in entries["nl/atmp.pdf"]["inputs"]
    # the PDF bundle is made of the PDF sheets (named relative to the output folder)
    assert {p for p in SHEETS if p.endswith(".pdf")} <= set(
        entries["briefing-nl-en.pdf"]["inputs"])
    assert entries["briefing-nl-en.pdf"]["pages"] > len(SLUGS) * len(LANGS)
    tool = manifest["tool"]
    assert tool["reportlab"] == version("reportlab")
    assert tool["nexusreports"] == version("nexusreports")
    assert tool["babel"] == version("babel")
    assert tool["python"] == ".".join(map(str, sys.version_info[:3]))


def input_file(work: Path, name: str) -> Path:
    """The file a manifest input name stands for: ``data/...`` and ``templates/...`` in the
    working folder, ``nexusreports/...`` in the installed package, anything else an output
    relative to ``work/out``."""
    import nexusreports

    head = name.split("/", 1)[0]
    if head == "nexusreports":
        return Path(nexusreports.__file__).resolve().parent.parent / name
    return work / name if head in ("data", "templates") else work / "out" / name


def test_the_manifest_does_not_depend_on_the_working_folder_or_the_output_folder(work):
    project = work / "proj"
    project.mkdir()
    for name in ("data", "templates"):
        (work / name).rename(project / name)
    build(project, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    here = ("--data", "proj/data", "--templates", "proj/templates", "--out", "proj/out")
    done = nexus(work, "build", "--check", *here, SOURCE_DATE_EPOCH=EPOCH)
    assert done.returncode == 0, done.stderr
    assert f"{len(ALL)} outputs in proj/out match their inputs" in done.stderr
    age(project / "out")
    build(work, *here, SOURCE_DATE_EPOCH=EPOCH)
    assert rewritten(project / "out") == set()
    # built into another output folder, from yet another working folder: the same manifest
    build(project / "data", "--data", ".", "--templates", "../templates", "--out",
          str(work / "elsewhere"), SOURCE_DATE_EPOCH=EPOCH)
    assert (work / "elsewhere" / "manifest.json").read_bytes() == \
        (project / "out" / "manifest.json").read_bytes()


def test_a_pdf_only_build_makes_no_word_bundle_and_a_word_only_build_no_pdf_bundle(work):
    build(work, "--out", "pdf", "--format", "pdf")
    assert set(files(work / "pdf")) == {p for p in ALL if p.endswith(".pdf")} | {"manifest.json"}
    build(work, "--out", "docx", "--format", "docx")
    assert set(files(work / "docx")) == {p for p in ALL if p.endswith(".docx")} | {
        "manifest.json"}


def test_check_is_green_right_after_a_build(work):
    build(work, "--out", "out")
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 0, done.stderr
    assert f"{len(ALL)} outputs in out match their inputs" in done.stderr


def test_check_builds_nothing(work):
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    assert not (work / "out").exists()
    for path in ALL:  # the bundle files too: a full build makes them
        assert f"out/{path}: missing" in done.stderr


def test_check_names_an_output_modified_after_the_build(work):
    build(work, "--out", "out")
    with (work / "out/en/atmp.pdf").open("ab") as fh:
        fh.write(b"% edited\n")
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    assert "out/en/atmp.pdf: modified after the build" in done.stderr
    assert done.stderr.count(": modified") == 1
    # the PDF bundle holds that sheet, so it is named too; nothing else is
    assert "out/briefing-nl-en.pdf: stale: out/en/atmp.pdf changed" in done.stderr
    assert f"2 of {len(ALL)} outputs in out are not up to date" in done.stderr


def test_check_names_every_output_of_a_changed_input(work):
    build(work, "--out", "out")
    source = work / "data/projects/precision-diagnostics.yaml"
    source.write_text(source.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "stale" in line]
    assert sorted(line.split(":")[0] for line in lines) == sorted(
        [f"out/{lang}/precision-diagnostics.{fmt}" for lang in LANGS for fmt in FORMATS]
        + [f"out/{p}" for p in BUNDLE])
    assert all("data/projects/precision-diagnostics.yaml changed" in line for line in lines)


def test_check_names_the_bundle_files_when_the_manifest_is_gone(work):
    # before: "16 of 16 outputs" were named, the two bundle files left out
    build(work, "--out", "out")
    (work / "out/manifest.json").unlink()
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    for path in ALL:
        assert f"out/{path}: missing from manifest.json" in done.stderr
    assert f"{len(ALL)} of {len(ALL)} outputs in out are not up to date" in done.stderr


def test_check_names_a_deleted_output(work):
    build(work, "--out", "out")
    (work / "out/nl/biotech-nexus.pdf").unlink()
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    assert "out/nl/biotech-nexus.pdf: missing" in done.stderr


def test_check_names_outputs_made_by_another_tool_version(work):
    build(work, "--out", "out")
    manifest = work / "out/manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["tool"]["reportlab"] = "0.0.1"
    for e in data["outputs"]:
        e["key"] = "0" * 64  # what an older reportlab would have recorded
    manifest.write_text(json.dumps(data), encoding="utf-8")
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    # every sheet and both bundle files (before: the bundles' keys were never compared)
    assert done.stderr.count("stale: the tool versions changed (reportlab)") == len(ALL)


def test_check_compares_source_date_epoch_as_the_build_does(work):
    """``nexusreports build; SOURCE_DATE_EPOCH=1764633600 nexusreports build --check`` fails:
    a build with that epoch would render every output again (issue 12)."""
    build(work, "--out", "out")  # dated by the clock
    done = nexus(work, "build", "--out", "out", "--check", SOURCE_DATE_EPOCH="1764633600")
    assert done.returncode == 1
    assert sorted(done.stderr.splitlines()[:-1]) == sorted(
        f"out/{p}: stale: built without SOURCE_DATE_EPOCH (dated by the clock), not "
        "1764633600: run SOURCE_DATE_EPOCH=1764633600 nexusreports build" for p in ALL)
    assert done.stderr.splitlines()[-1] == f"{len(ALL)} of {len(ALL)} outputs in out are not " \
        "up to date"
    # what build does with that epoch: render them all again; then --check agrees
    assert f"{len(ALL)} built, 0 unchanged" in build(
        work, "--out", "out", SOURCE_DATE_EPOCH="1764633600").stderr
    assert nexus(work, "build", "--out", "out", "--check",
                 SOURCE_DATE_EPOCH="1764633600").returncode == 0
    # another epoch: stale again, naming the one it was built with
    done = nexus(work, "build", "--out", "out", "--check", SOURCE_DATE_EPOCH=EPOCH)
    assert done.returncode == 1
    assert done.stderr.count("stale: built with SOURCE_DATE_EPOCH=1764633600, not "
                             f"{EPOCH}") == len(ALL)
    # without an epoch a build is dated by the clock, which nothing can match: build reuses
    # every output then, and --check approves them
    assert nexus(work, "build", "--out", "out", "--check").returncode == 0
    assert f"0 built, {len(ALL)} unchanged" in build(work, "--out", "out").stderr


@pytest.mark.parametrize("epoch", ["abc", "+1700000000", " 1700000000", "1_700_000_000",
                                   "1.7e9", "-5", "4354819200"])
@pytest.mark.parametrize("command", [("build",), ("build", "--check")])
def test_a_source_date_epoch_that_is_not_digits_only_is_refused_before_anything(
        work, epoch, command):
    """``SOURCE_DATE_EPOCH=+1700000000``: the bundle would be dated by the clock (not
    reproducible) while the manifest records the epoch, so ``--check`` would approve it; a
    value no date can come from ended in "internal error".  Both are refused in one line
    naming the value, and nothing is built."""
    build(work, "--out", "out", "--format", "pdf", "--only", "atmp", "--lang", "nl",
          SOURCE_DATE_EPOCH=EPOCH)
    before = files(work / "out")
    done = nexus(work, *command, "--out", "out", "--format", "pdf", "--only", "atmp",
                 "--lang", "nl", SOURCE_DATE_EPOCH=epoch)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"SOURCE_DATE_EPOCH={epoch!r}: not a date the outputs can carry: set it to a whole "
        "number of seconds since 1970-01-01 UTC, digits only, before the year 2108 (e.g. "
        "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)), or unset it; nothing was built"]
    assert files(work / "out") == before


def test_the_last_second_a_word_file_can_carry_is_accepted(work):
    build(work, "--out", "out", "--format", "docx", "--only", "atmp", "--lang", "nl",
          SOURCE_DATE_EPOCH="4354819199")


def test_a_rebuild_after_check_fails_makes_check_green_again(work):
    build(work, "--out", "out")
    (work / "out/nl/atmp.pdf").write_bytes(b"not a pdf")
    build(work, "--out", "out")
    assert nexus(work, "build", "--out", "out", "--check").returncode == 0
    assert len(PdfReader(work / "out/nl/atmp.pdf").pages) == 1


# --- incremental -------------------------------------------------------------------------

def test_a_rebuild_with_no_change_rewrites_no_file(work):
    build(work, "--out", "out")  # no SOURCE_DATE_EPOCH: rendering again would differ
    age(work / "out")
    done = build(work, "--out", "out")
    assert rewritten(work / "out") == set()
    n = len(ALL)
    assert f"{n} outputs in out: 0 built, {n} unchanged, 0 failed" in done.stderr
    assert sorted(done.stderr.splitlines()[:n]) == sorted(f"unchanged out/{p}" for p in ALL)


def test_a_change_to_one_project_rebuilds_only_its_sheets(work):
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    age(work / "out")
    source = work / "data/projects/infectieziekten.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("  nl: >-\n", "  nl: >-\n    Nieuw.\n", 1),
                      encoding="utf-8")
    assert source.read_text(encoding="utf-8") != text
    done = build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    mine = {f"nl/infectieziekten.{fmt}" for fmt in FORMATS}
    assert rewritten(work / "out") == mine | BUNDLE | {"manifest.json"}
    assert "Nieuw." in PdfReader(work / "out/nl/infectieziekten.pdf").pages[0].extract_text()
    built = len(mine | BUNDLE)
    assert f"{built} built, {len(ALL) - built} unchanged" in done.stderr


def test_a_comment_only_edit_refreshes_the_manifest_without_rendering(work):
    # The first build is dated by SOURCE_DATE_EPOCH (2023), the second by the clock: whatever
    # is made again differs in its date, so a remade file is always rewritten (two builds by
    # the clock within one second would make the same bytes, and no rewrite would show).
    # Without SOURCE_DATE_EPOCH a different date alone does not make a sheet stale.
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    age(work / "out")
    source = work / "data/projects/atmp.yaml"
    source.write_text(source.read_text(encoding="utf-8") + "# checked\n", encoding="utf-8")
    build(work, "--out", "out")
    # no sheet is rendered again; the bundle is remade (it lists every data file as input)
    assert rewritten(work / "out") == {"manifest.json"} | BUNDLE
    for entry in read_manifest(work / "out").values():  # each records the file as it is now
        if entry["slug"] in ("atmp", None):
            assert entry["inputs"]["data/projects/atmp.yaml"] == sha(source), entry["path"]
    assert nexus(work, "build", "--out", "out", "--check").returncode == 0


def test_a_theme_change_rebuilds_every_sheet(work):
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    age(work / "out")
    theme = work / "templates/theme.yaml"
    text = theme.read_text(encoding="utf-8")
    assert "#12355B" in text or "#12355b" in text
    theme.write_text(text.replace("#12355B", "#12355C").replace("#12355b", "#12355C"),
                     encoding="utf-8")
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    # every sheet is rendered again; the Word sheets take no colour from theme.yaml, so
    # their bytes are the same and they are not rewritten
    pdfs = {p for p in ALL if p.endswith(".pdf")}
    assert pdfs | {"manifest.json"} <= rewritten(work / "out")
    assert not {p for p in SHEETS if p.endswith(".docx")} & rewritten(work / "out")


def test_a_word_template_change_makes_the_word_sheets_and_the_word_bundle_stale(work):
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    template = work / "templates/sheet.docx"
    template.write_bytes(template.read_bytes() + b"\0")  # any change to its bytes
    done = nexus(work, "build", "--out", "out", "--check")
    assert done.returncode == 1
    stale = {p for p in ALL if p.endswith(".docx")}
    for path in stale:
        assert path in done.stderr
    assert not any(p in done.stderr for p in ALL if p.endswith(".pdf"))


def test_a_new_source_date_epoch_rebuilds_every_sheet(work):
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    age(work / "out")
    build(work, "--out", "out", SOURCE_DATE_EPOCH="1800000000")
    assert rewritten(work / "out") == ALL | {"manifest.json"}


def test_force_renders_every_sheet_again(work):
    # dated 2023 first, then by the clock: every file rendered again differs, so it shows
    # (the date alone does not make a sheet stale when SOURCE_DATE_EPOCH is unset)
    build(work, "--out", "out", SOURCE_DATE_EPOCH=EPOCH)
    age(work / "out")
    assert build(work, "--out", "out").stderr.count("unchanged out/") == len(ALL)
    done = build(work, "--out", "out", "--force")
    assert rewritten(work / "out") == ALL | {"manifest.json"}
    assert f"{len(ALL)} built, 0 unchanged" in done.stderr


# --- parallel ----------------------------------------------------------------------------

def test_jobs_2_gives_the_same_bytes_as_jobs_1(work):
    one, two = cold_builds(work, dict(args="--jobs 1", SOURCE_DATE_EPOCH=EPOCH),
                           dict(args="--jobs 2", SOURCE_DATE_EPOCH=EPOCH))
    assert set(one) == ALL | {"manifest.json"}
    assert one == two


def test_an_overflowing_sheet_is_named_and_nothing_is_written_with_jobs_2(work):
    source = work / "data/projects/atmp.yaml"
    text = source.read_text(encoding="utf-8")
    long = "Een zin die de samenvatting veel te lang maakt. " * 80
    source.write_text(text.replace("\nsummary:\n  nl: >-\n", f"\nsummary:\n  nl: >-\n    {long}\n",
                                   1), encoding="utf-8")
    done = nexus(work, "build", "--out", "out", "--jobs", "2")
    assert done.returncode == 1
    line = text.splitlines().index("summary:") + 2  # the line of summary.nl, '  nl: >-'
    assert f"data/projects/atmp.yaml:{line}: summary.nl" in done.stderr
    assert "nl-NL sheet does not fit on one page" in done.stderr
    assert "nl-NL Word sheet does not fit on one page" in done.stderr
    assert "2 failed" in done.stderr  # the PDF sheet and the Word sheet
    assert not (work / "out").exists()


@pytest.mark.parametrize("args", [("--only", "atmp"), ("--no-bundle", "--jobs", "2")])
def test_a_pdf_only_build_does_not_import_the_word_stack(work, args):
    probe = ("import sys\n"
             "from nexusreports.cli import main\n"
             f"rc = main(['build', '--format', 'pdf', '--out', 'out', *{list(args)!r}])\n"
             "word = sorted(m for m in sys.modules if m.split('.')[0] in ('docx', 'docxtpl'))\n"
             "print(rc, word)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=work, capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.strip() == "0 []", done.stderr
    assert (work / "out/nl/atmp.pdf").is_file()
    assert not (work / "out/nl/atmp.docx").exists()
