"""A project folder: `nexusreports init DIR`, the root found by walking up to
nexusreports.toml, default paths relative to it, the packaged templates as the fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from nexusreports.cli import main
from nexusreports.paths import MARKER, default_templates, find_root
from nexusreports.scaffold import _MARKER_TEXT
from nexusreports.schema import bundle_schema, project_schema

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


@pytest.fixture
def project(tmp_path, monkeypatch, capsys) -> Path:
    """A project made by `nexusreports init new-programme` in an empty folder."""
    monkeypatch.chdir(tmp_path)
    code, lines = run(capsys, "init", "new-programme")
    assert code == 0, lines
    return tmp_path / "new-programme"


def test_init_makes_every_part_of_a_project(project):
    names = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    assert {".gitignore", "README.md", MARKER, "data/bundle.yaml",
            "data/projects/new-programme.yaml", "schemas/project.schema.json",
            "schemas/bundle.schema.json", "templates/theme.yaml", "templates/sheet.docx",
            "templates/fonts/OFL.txt", "templates/fonts/Carlito-Regular.ttf"} <= set(names)
    # the whole default templates folder, whatever it holds
    shipped = sorted(p.relative_to(default_templates()).as_posix()
                     for p in default_templates().rglob("*") if p.is_file())
    copied = sorted(p.relative_to(project / "templates").as_posix()
                    for p in (project / "templates").rglob("*") if p.is_file())
    assert copied == shipped
    assert (project / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "/out/"
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "nexusreports validate" in readme and "nexusreports build" in readme
    programme = (project / "data" / "projects" / "new-programme.yaml").read_text(
        encoding="utf-8")
    assert programme.splitlines()[0] == ("# yaml-language-server: "
                                         "$schema=../../schemas/project.schema.json")
    assert "kind: programme" in programme and "TODO" not in programme
    bundle = (project / "data" / "bundle.yaml").read_text(encoding="utf-8")
    assert bundle.splitlines()[0] == "# yaml-language-server: $schema=../schemas/bundle.schema.json"
    assert json.loads((project / "schemas" / "project.schema.json").read_text()) == \
        project_schema()
    assert json.loads((project / "schemas" / "bundle.schema.json").read_text()) == \
        bundle_schema()


def test_the_repository_is_a_project_with_the_same_marker():
    assert find_root(ROOT / "src" / "nexusreports") == ROOT
    assert (ROOT / MARKER).read_text(encoding="utf-8") == _MARKER_TEXT


def test_a_new_project_validates_and_builds_from_any_folder_below_it(project, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(project / "data" / "projects")
    code, lines = run(capsys, "validate")
    assert (code, lines[-1]) == (0, "1 project is valid.")
    code, lines = run(capsys, "build", "--jobs", "1")
    assert code == 0, lines
    assert lines[-1].startswith(f"6 outputs in {Path('../../out')}: 6 built")
    text = PdfReader(project / "out" / "en" / "new-programme.pdf").pages[0].extract_text()
    assert "New programme" in text and "works with 12 partners" in text
    assert (project / "out" / "briefing-nl-en.pdf").is_file()
    assert not (project / "data" / "projects" / "out").exists()


def test_a_problem_is_named_relative_to_the_working_folder(project, monkeypatch, capsys):
    path = project / "data" / "projects" / "new-programme.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("size_eur_m: 100",
                                                             'size_eur_m: "twelve"'))
    line = path.read_text(encoding="utf-8").splitlines().index('size_eur_m: "twelve"') + 1
    monkeypatch.chdir(project)
    code, lines = run(capsys, "validate")
    assert code == 1
    assert lines[0] == (f"data/projects/new-programme.yaml:{line}: size_eur_m: expected a "
                        "number, got 'twelve'; write it in digits, in EUR millions (e.g. 1200 "
                        "for 1.2 billion euros)")


def test_init_never_overwrites_a_project(project, capsys):
    before = (project / "data" / "bundle.yaml").read_bytes()
    code, lines = run(capsys, "init", str(project))
    assert code == 1
    assert lines == [f"{project / MARKER}: already exists; nothing was written. Give a new or "
                     "empty folder"]
    assert (project / "data" / "bundle.yaml").read_bytes() == before
    assert not [p for p in project.parent.iterdir() if ".init-" in p.name]


def test_init_in_an_existing_folder_keeps_what_is_there(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    code, lines = run(capsys, "init", "--slug", "health")
    assert code == 0, lines
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "data" / "projects" / "health.yaml").is_file()
    assert oct((tmp_path / "data").stat().st_mode & 0o777) != "0o700"


def test_init_rejects_an_invalid_slug_as_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, lines = run(capsys, "init", "x", "--slug", "Mijn Programma")
    assert code == 2
    assert lines[-1] == ("Error: Invalid value for '--slug': 'Mijn Programma' is not a valid "
                         "slug: use lowercase letters, digits and single hyphens (e.g. "
                         "'mijn-programma')")
    assert not (tmp_path / "x").exists()


def test_without_templates_of_its_own_a_project_uses_the_packaged_defaults(tmp_path,
                                                                           monkeypatch, capsys):
    """The issue's first report: a folder with only data/ failed with 'the theme is
    missing'."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    code, lines = run(capsys, "build", "--only", "atmp", "--format", "pdf", "--jobs", "1")
    assert code == 0, lines
    assert (tmp_path / "out" / "nl" / "atmp.pdf").is_file()


def test_a_projects_own_templates_replace_the_defaults(project, monkeypatch, capsys):
    theme = project / "templates" / "theme.yaml"
    theme.write_text(theme.read_text(encoding="utf-8").replace("fonts:", "fontz:", 1))
    monkeypatch.chdir(project)
    code, lines = run(capsys, "validate")
    assert code == 1
    assert any(line.startswith(f"{Path('templates/theme.yaml')}:") for line in lines), lines
    shutil.rmtree(project / "templates")  # delete it: the defaults again
    assert run(capsys, "validate")[0] == 0


def test_docs_prints_the_data_format_reference(capsys):
    assert main(["docs"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "data-format.md").read_text(
        encoding="utf-8")


def test_init_says_the_next_commands_as_a_shell_can_run_them(tmp_path, monkeypatch, capsys):
    """The folder in 'next: cd ... && nexusreports validate' is quoted when it needs it, so
    the line can be copied into a shell as it is."""
    import shlex

    monkeypatch.chdir(tmp_path)
    code, lines = run(capsys, "init", "My Programme 2026")
    assert code == 0, lines
    assert lines[-1].startswith("made the project My Programme 2026 (programme "
                                "'my-programme-2026'); next: cd 'My Programme 2026' && "
                                "nexusreports validate && nexusreports build")
    command = lines[-1].split("next: ", 1)[1].split(", or ", 1)[0]
    assert shlex.split(command)[:2] == ["cd", "My Programme 2026"]
