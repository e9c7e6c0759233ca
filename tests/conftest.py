"""Shared fixtures: the shipped data and one build of it (PDF sheets) per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nexusreports.pipeline import BuildOptions, build, check, source_path
from nexusreports.theme import load_theme
from nexusreports.validate import load_projects
from nexusreports.view import SheetView, build_view

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TEMPLATES = ROOT / "templates"
SLUGS = ("biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics")
LANGS = ("nl", "en")


@pytest.fixture(scope="session")
def theme():
    return load_theme(TEMPLATES)


@pytest.fixture(scope="session")
def projects(theme):
    return load_projects(DATA, theme.charset)


@pytest.fixture(scope="session")
def shipped():
    """The shipped projects and the theme, validated: ``(ProjectSet, Theme)``."""
    projects, theme, _ = check(DATA, TEMPLATES)
    return projects, theme


def view_of(shipped, slug: str, lang: str) -> SheetView:
    """The sheet view of a shipped project, as the build makes it."""
    projects, _ = shipped
    return build_view(projects.by_slug(slug), projects, lang, DATA,
                      str(source_path(DATA, slug)))


@pytest.fixture(scope="session")
def pdf_build(tmp_path_factory) -> Path:
    """The shipped data built once as PDF sheets; returns the output folder."""
    out = tmp_path_factory.mktemp("out")
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=out, formats=("pdf",)))
    return out


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the shipped data folder."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


# --- every .docx the tests build is judged by openxml-audit ------------------------------

_AUDITED: dict[str, list[str]] = {}


def docx_errors(data: bytes) -> list[str]:
    """What openxml-audit (the Open XML SDK's validator, ported) finds wrong in a .docx:
    one ``part: description`` per error; the same bytes are judged once."""
    import hashlib
    import tempfile

    from openxml_audit import OpenXmlValidator

    key = hashlib.sha256(data).hexdigest()
    if key not in _AUDITED:
        with tempfile.NamedTemporaryFile(suffix=".docx") as handle:
            handle.write(data)
            handle.flush()
            result = OpenXmlValidator().validate(handle.name)
        _AUDITED[key] = [f"{getattr(e, 'part_uri', '')}: {e.description}"
                         for e in result.errors]
    return _AUDITED[key]


@pytest.fixture(scope="session", autouse=True)
def every_docx_is_schema_valid():
    """Wrap the two places that write a .docx (a Word sheet, the Word bundle) so that every
    document any test makes is checked by openxml-audit as it is made: an error fails the
    test that made it, with the validator's messages."""
    import nexusreports.render.word.bundle as word_bundle
    import nexusreports.render.word.sheet as word_sheet

    def audited(make):
        def wrapper(*args, **kwargs):
            data = make(*args, **kwargs)
            errors = docx_errors(data)
            assert not errors, "openxml-audit: " + "; ".join(errors[:10])
            return data
        return wrapper

    def audited_stream(write):  # the bundle is written to a file: read it back
        def wrapper(*args, **kwargs):
            target = kwargs["target"] if "target" in kwargs else args[3]
            start = target.tell()
            write(*args, **kwargs)
            end = target.tell()
            target.seek(start)
            errors = docx_errors(target.read(end - start))
            assert not errors, "openxml-audit: " + "; ".join(errors[:10])
        return wrapper

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(word_sheet, "_repack_parts", audited(word_sheet._repack_parts))
        patch.setattr(word_bundle, "write_bundle_docx",
                      audited_stream(word_bundle.write_bundle_docx))
        yield


@pytest.fixture(autouse=True)
def every_pdf_built_is_publishable(monkeypatch):
    """Every PDF a test renders in this process (sheet or bundle) is checked when the test
    ends: page-validation PDF/A-2u, PDF/UA-1 and PDF/A-2a (all but its declaration), and the ParentTree round trip
    (see tests/tagged.py).  Builds in other processes are checked by test_accessibility."""
    from nexusreports.render.pdf import archive, bundle
    from tagged import tree_problems, validation_problems

    made: list[bytes] = []
    real, real_canvas = archive.save, archive.save_canvas

    def save(pdf):
        data = real(pdf)
        made.append(data)
        return data

    def save_canvas(canvas, buf):  # a sheet, tagged by ReportLab itself
        data = real_canvas(canvas, buf)
        made.append(data)
        return data

    real_bundle = bundle.write_bundle_pdf

    def write_bundle(*args, **kwargs):  # the bundle is written as a stream, not saved
        pages = real_bundle(*args, **kwargs)
        target = kwargs["target"] if "target" in kwargs else args[3]
        target.seek(0)
        made.append(target.read())
        return pages

    monkeypatch.setattr(archive, "save", save)
    monkeypatch.setattr(archive, "save_canvas", save_canvas)
    monkeypatch.setattr(bundle, "write_bundle_pdf", write_bundle)
    yield made  # (a test that saves a PDF that is not meant to be one of ours clears it)
    for data in made:
        problems = validation_problems(data) + tree_problems(data)
        assert problems == [], problems[:10]
