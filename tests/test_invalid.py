"""Wrong input: every case of tests/data/invalid/ gets its exact message, exit 1, no traceback,
and the outputs of the last good build stay as they were.

The corpus format is in tests/data/invalid/README.md (``# expect:`` lines in each file).
Besides the corpus: YAML 1.1 words and markup print literally, a rotated photo is drawn
upright, and broken templates (theme, font, catalog) are reported on one line.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from pypdf import PdfReader

from invalid_cases import INVALID, Case, cases, install
from nexusreports import uptodate
from nexusreports.cli import main
from nexusreports.localise import catalog
from nexusreports.theme import RESTORE

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TEMPLATES = ROOT / "templates"
CASES = cases()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time (ns)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    """Run the CLI in this process; return exit code, problem lines (those naming a file
    under data/ or templates/) and the whole stderr."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(("data/", "templates/"))]
    return code, lines, err


def assert_clean(err: str) -> None:
    assert "Traceback" not in err
    assert "internal error" not in err


@pytest.fixture(scope="module")
def good_out(tmp_path_factory) -> Path:
    """The shipped data built once (PDF sheets and manifest): the 'last good build'."""
    work = tmp_path_factory.mktemp("good")
    out = work / "out"
    code = main(["-q", "build", "--data", str(DATA), "--templates", str(TEMPLATES),
                 "--out", str(out), "--jobs", "1"])
    assert code == 0
    assert len(list(out.glob("*/*.pdf"))) == 8  # the sheets; a bundle may be there too
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch, good_out) -> Path:
    """A working folder with data/ (a copy of the shipped data) and out/ (a copy of the good
    build, modification times kept); the current folder during the test."""
    shutil.copytree(DATA, tmp_path / "data")
    shutil.copytree(good_out, tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_corpus_covers_the_cases_the_issue_lists():
    names = {c.name for c in CASES}
    for needed in ("yaml-colon-in-text", "yaml-tab-indentation", "yaml-duplicate-key",
                   "empty-file", "large-file", "yaml11-yes-is-text", "yaml11-date-is-text",
                   "amount-as-words", "amount-negative", "share-above-100", "share-negative",
                   "trl-zero", "trl-ten", "trl-min-above-max", "period-end-before-start",
                   "mrl-unknown", "precondition-unknown-value", "unknown-field-typo",
                   "missing-english", "missing-dutch", "placeholder-unknown",
                   "slug-duplicate-case", "parent-missing", "parent-is-flagship",
                   "parent-cycle", "flagship-total-mismatch", "text-control-character",
                   "text-replacement-character", "text-right-to-left", "text-emoji",
                   "text-long-word", "text-too-long", "logo-outside-data", "logo-missing",
                   "logo-not-an-image", "logo-huge-image",
                   # issue 12
                   "amount-thousands-separator", "programme-smaller-than-flagships",
                   "yaml-nested-too-deep", "logo-truncated", "parent-invisible-character",
                   "text-lone-surrogate", "text-surrogate-pair"):
        assert needed in names


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_states_where_what_and_how_to_fix(case: Case):
    assert case.expect, f"{case.path.name} has no '# expect:' line"
    for line in case.expect:
        path, _, message = line.partition(": ")
        assert path.startswith("data/projects/") and message


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_and_build_report_the_case_and_keep_the_last_good_build(
        case: Case, workdir: Path, capsys):
    install(case, workdir / "data")
    before = snapshot(workdir / "out")
    templates = ["--templates", str(TEMPLATES)]

    code, lines, err = run(["validate", "--data", "data", *templates], capsys)
    assert code == 1
    assert sorted(lines) == sorted(case.expect)
    assert_clean(err)

    code, lines, err = run(["build", "--data", "data", "--out", "out", "--jobs", "1",
                            *templates], capsys)
    assert code == 1
    assert sorted(lines) == sorted(case.expect)
    assert_clean(err)
    assert snapshot(workdir / "out") == before
    assert not list(workdir.rglob("*.tmp"))


@pytest.mark.parametrize("name", ["yaml-colon-in-text", "logo-huge-image", "text-too-long"])
def test_a_real_process_exits_1_with_the_message_and_no_traceback(name, tmp_path):
    case = next(c for c in CASES if c.name == name)
    shutil.copytree(DATA, tmp_path / "data")
    install(case, tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "nexusreports", "validate", "--data", "data",
                             "--templates", str(TEMPLATES)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    for line in case.expect:
        assert line in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


def test_a_file_over_512_kib_is_refused_before_it_is_parsed(workdir, capsys):
    target = workdir / "data" / "projects" / "huge.yaml"
    target.write_bytes(b"kind: [" * (600 * 1024 // 7 + 1))  # would nest far too deep if parsed
    code, lines, err = run(["validate", "--data", "data", "--templates", str(TEMPLATES)], capsys)
    assert code == 1
    assert "data/projects/huge.yaml:1: the file is 600 KiB and passes the limit on this line; " \
        "a data file may be at most 512 KiB: is this the right file?" in lines
    # and, in the same run, that the bundle's order does not name it (it is a new project)
    assert [line for line in lines if "huge.yaml" not in line] == [
        "data/bundle.yaml:17: order: the bundle holds every project: add '- huge' to the order"]


# --- input that is valid and must print as typed ----------------------------------------------

PROGRAMME = """\
kind: programme
name: Testprogramma
domain: {domain}
subdomain: {{nl: Diagnostiek, en: Diagnostics}}
summary:
  nl: "{summary}"
  en: "{summary}"
relevance: {{nl: Waarom dit ertoe doet., en: Why this matters.}}
collaborations:
  national: [{{text: Health-RI}}]
  european: [{{text: EATRIS}}]
period: {{start: 2025, end: 2030}}
size_eur_m: 100
shares: {{capital_pct: 40, public_pct: 50}}
trl: {{min: 3, max: 7}}
mrl: exploration
organisations:
{organisations}
"""


def only_programme(workdir: Path, text: str) -> None:
    """Replace the shipped projects by one programme ``test-programme``."""
    for path in (workdir / "data" / "projects").iterdir():
        path.unlink()
    (workdir / "data" / "bundle.yaml").unlink(missing_ok=True)  # it lists the shipped projects
    (workdir / "data" / "projects" / "test-programme.yaml").write_text(text, encoding="utf-8")


def build_text(workdir: Path, capsys) -> str:
    """Build the data of ``workdir`` and return the text of the English sheet."""
    code = main(["-q", "build", "--data", "data", "--out", "fresh", "--jobs", "1",
                 "--templates", str(TEMPLATES)])
    assert code == 0, capsys.readouterr().err
    return PdfReader(workdir / "fresh" / "en" / "test-programme.pdf").pages[0].extract_text()


def test_yaml_1_1_words_and_dates_stay_text(workdir, capsys):
    only_programme(workdir, PROGRAMME.format(
        domain="2025-09-30", summary="Partners NO, On and Yes.",
        organisations="  - name: NO\n  - name: On\n  - name: Yes\n  - name: off"))
    text = build_text(workdir, capsys)
    assert "2025-09-30" in text
    for name in ("NO", "On", "Yes", "off"):
        assert f"\n{name}" in text or f" {name} " in text or f"{name}\n" in text


@pytest.mark.parametrize("typed", [
    "<b>vet</b> & <font color=red>rood</font> <br/> &amp; <para>",
    "{{ 7*7 }} {% if x %}ja{% endif %} {# opmerking #} ${ x }",
])
def test_markup_and_template_syntax_print_literally(typed, workdir, capsys):
    only_programme(workdir, PROGRAMME.format(domain="Biotech", summary=typed,
                                             organisations="  - name: Acme"))
    text = build_text(workdir, capsys)
    assert typed in " ".join(text.split())


def exif_rotated_jpeg(path: Path) -> None:
    """A JPEG stored 60 x 20 (landscape) whose EXIF says 'rotate 90°': upright 20 x 60."""
    img = Image.new("RGB", (60, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    img.save(path, "JPEG", exif=exif.tobytes())


def test_a_logo_with_exif_rotation_is_drawn_upright(workdir, capsys):
    logos = workdir / "data" / "logos"
    logos.mkdir()
    exif_rotated_jpeg(logos / "rotated.jpg")
    with Image.open(logos / "rotated.jpg") as stored:
        assert stored.size == (60, 20)  # the file itself is landscape
    only_programme(workdir, PROGRAMME.format(
        domain="Biotech", summary="Logo.",
        organisations="  - name: Acme\n    logo: logos/rotated.jpg"))
    build_text(workdir, capsys)
    page = PdfReader(workdir / "fresh" / "en" / "test-programme.pdf").pages[0]
    images = list(page.images)
    assert len(images) == 1
    width, height = images[0].image.size
    assert (width, height) == (20, 60)  # portrait: turned upright before drawing


# --- templates: theme, fonts, catalog -----------------------------------------------------------

@pytest.fixture
def templates(workdir) -> Path:
    target = workdir / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def check_template_error(workdir: Path, capsys, expected: str) -> None:
    before = snapshot(workdir / "out")
    for argv in (["validate"], ["build", "--out", "out", "--jobs", "1"]):
        code, lines, err = run([*argv, "--data", "data", "--templates", "templates"], capsys)
        assert code == 1
        assert lines == [expected]
        assert_clean(err)
    assert snapshot(workdir / "out") == before


def test_a_missing_font_file_is_named(workdir, templates, capsys):
    (templates / "fonts" / "Carlito-Bold.ttf").unlink()
    check_template_error(workdir, capsys, "templates/theme.yaml:10: fonts.bold: the font file "
                         "templates/fonts/Carlito-Bold.ttf is missing: " + RESTORE + ", or "
                         "point this at an existing .ttf (relative to the templates folder)")


def test_a_font_file_that_is_not_a_font_is_named(workdir, templates, capsys):
    (templates / "fonts" / "Carlito-Bold.ttf").write_bytes(b"garbage\n")
    check_template_error(workdir, capsys, "templates/fonts/Carlito-Bold.ttf: not a usable "
                         "TrueType font (Not a recognized TrueType font: version=0x67617262)")


def test_a_broken_theme_is_named_with_its_line(workdir, templates, capsys):
    (templates / "theme.yaml").write_text("fonts: [\n", encoding="utf-8")
    check_template_error(workdir, capsys, "templates/theme.yaml:2: YAML syntax error (expected "
                         "the node content, but found '<stream end>'): check the indentation and "
                         "the quotes on this line and the one above, or " + RESTORE)


@pytest.fixture
def fake_catalog(workdir, monkeypatch):
    """Point the Dutch catalog at templates/nl.po in the working folder (not yet there)."""
    path = workdir / "templates" / "nl.po"
    path.parent.mkdir(exist_ok=True)
    shutil.copytree(TEMPLATES, workdir / "templates", dirs_exist_ok=True)
    monkeypatch.setattr(catalog, "catalog_path", lambda lang: path)
    # the no-change decision reads the package's own catalog files (unchanged here), not
    # this in-process redirection: let the build take the long way, where it is seen
    monkeypatch.setattr(uptodate, "unchanged", lambda *args, **kwargs: None)
    catalog.load_translations.cache_clear()
    yield path
    catalog.load_translations.cache_clear()


def test_a_missing_catalog_is_named(workdir, fake_catalog, capsys):
    check_template_error(workdir, capsys, "templates/nl.po: the label catalog is missing: "
                         "reinstall nexusreports or restore the file from git")


def test_a_broken_catalog_is_named(workdir, fake_catalog, capsys):
    fake_catalog.write_text('msgid "Domain"\nmsgstr "Domein"\nnot a keyword\n',
                            encoding="utf-8")
    check_template_error(workdir, capsys, "templates/nl.po:3: the label catalog is broken "
                         "(Unknown or misformatted keyword 'not a keyword' on line 3): restore "
                         "it from git or fix that line")


# --- the guards themselves ------------------------------------------------------------------------

def test_the_huge_png_support_file_is_tiny_but_claims_400_megapixels():
    data = (INVALID / "support" / "huge.png").read_bytes()
    assert len(data) < 100
    width, height = struct.unpack(">II", data[16:24])
    assert width * height == 400_000_000


def test_a_logo_is_refused_from_its_header_without_decoding(monkeypatch, workdir, capsys):
    case = next(c for c in CASES if c.name == "logo-huge-image")
    install(case, workdir / "data")

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    code, lines, err = run(["validate", "--data", "data", "--templates", str(TEMPLATES)], capsys)
    assert code == 1 and lines == case.expect
