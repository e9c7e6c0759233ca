"""`nexusreports new SLUG`: a commented file with every field, which fails validation until
every TODO is filled in; following the messages leads to a one-page sheet."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel
from pypdf import PdfReader

from nexusreports import model as m
from nexusreports.cli import main
from nexusreports.load import parse_yaml
from nexusreports.scaffold import scaffold_text
from nexusreports.schema import project_schema

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """A working folder holding a copy of the shipped data as data/."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def validate(capsys) -> tuple[int, list[str]]:
    code, lines = cli(capsys, "validate", "--data", "data", "--templates", str(TEMPLATES))
    return code, [line for line in lines if line.startswith("data/")]


def model_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every field path of ``model``, descending into nested models (not into figures)."""
    out = set()
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        out.add(path)
        for inner in _models_in(info.annotation):
            out |= model_paths(inner, path)
    return out


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found += _models_in(meta)
    return found


def doc_paths(data, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a loaded document; list items and per-language texts are folded
    into their field (``collaborations.national.label``, ``summary.nl``)."""
    out = set()
    if isinstance(data, dict):
        for key, value in data.items():
            out.add((*prefix, key))
            out |= doc_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for item in data:
            out |= doc_paths(item, prefix)
    return out


def test_the_new_file_has_every_field_of_the_format():
    doc = parse_yaml(scaffold_text("new-flagship", "biotech-nexus"), Path("new-flagship.yaml"))
    present = doc_paths(doc.data)
    wanted = {p for p in model_paths(m.Project) if p[0] not in ("slug", "flagship_total_eur_m")}
    # a flagship states no flagship total; figures are a mapping of the user's own names
    wanted = {p for p in wanted if p[0] != "figures" or len(p) == 1}
    # texts given per language have nl and en; Text fields may be one text for both
    missing = {p for p in wanted if p not in present and p[-1] not in m.LANGS}
    assert not missing
    for text in (("summary",), ("relevance",), ("domain",), ("subdomain",)):
        assert (*text, "nl") in present and (*text, "en") in present


def test_a_new_programme_has_the_flagship_total():
    doc = parse_yaml(scaffold_text("new-programme", None), Path("new-programme.yaml"))
    assert doc.data["kind"] == "programme"
    assert "parent" not in doc.data
    assert doc.data["flagship_total_eur_m"] == "TODO"


def test_every_field_line_has_a_comment_saying_what_it_is():
    lines = scaffold_text("new-flagship", "biotech-nexus").splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"^\s*-?\s*[a-z_]+:", line):
            continue
        previous = lines[i - 1].strip() if i else ""
        assert "#" in line or previous.startswith("#"), f"line {i + 1} has no comment: {line}"


def test_comments_name_units_and_allowed_values():
    text = scaffold_text("new-flagship", "biotech-nexus")
    for needed in ("EUR millions", "percent", "1-9", "exploration, partly-operational, "
                   "operational", "relevant, less-relevant, not-assessed", "Dutch text",
                   "English text", "YYYY-MM-DD", "logos/"):
        assert needed in text


def test_the_size_comment_states_the_range_validate_checks():
    # before: "> 0", while validate refuses anything under 0.05 (EUR 50,000)
    text = scaffold_text("new-flagship", "biotech-nexus")
    lines = text.splitlines()
    at = next(i for i, li in enumerate(lines) if li.startswith("size_eur_m:"))
    comment = " ".join(li.lstrip("# ") for li in lines[:at][::-1][:4][::-1])  # just above it
    assert f"{m.MIN_SIZE_EUR_M} (EUR 50,000) to {m.MAX_EUR_M}" in comment
    assert "> 0" not in text
    assert "thousands separators (21200, not 21.200)" in comment


def test_new_writes_the_file_and_it_fails_validation_on_every_todo(work, capsys):
    code, lines = cli(capsys, "new", "new-flagship", "--data", "data")
    assert code == 0
    path = work / "data" / "projects" / "new-flagship.yaml"
    assert lines == [f"wrote {Path('data/projects/new-flagship.yaml')}: replace every TODO, "
                     "then run 'nexusreports validate' and 'nexusreports build --only "
                     "new-flagship'",
                     f"wrote {Path('schemas/project.schema.json')} (the format, for editors)",
                     f"wrote {Path('schemas/bundle.schema.json')} (the format, for editors)"]
    text = path.read_text(encoding="utf-8")
    # editors (VS Code's YAML extension) find the schema from the first line
    assert text.splitlines()[0] == ("# yaml-language-server: "
                                    "$schema=../../schemas/project.schema.json")
    assert json.loads((path.parent / "../../schemas/project.schema.json").read_text(
        encoding="utf-8")) == project_schema()
    assert "parent: biotech-nexus" in text
    code, problems = validate(capsys)
    assert code == 1
    todo_lines = [i + 1 for i, line in enumerate(text.splitlines())
                  if "TODO" in line.split("#")[0]]
    # every TODO, and in the same run the bundle's order, which must name the new flagship
    assert problems[0] == ("data/bundle.yaml:17: order: the bundle holds every project: add "
                           "'- new-flagship' to the order")
    problems = problems[1:]
    assert len(problems) == len(todo_lines) == 43
    for problem, line in zip(problems, todo_lines):
        assert problem.startswith(f"data/projects/new-flagship.yaml:{line}: ")
        assert ": not filled in yet (" in problem
    mrl = next(i + 1 for i, line in enumerate(text.splitlines()) if line.startswith("mrl:"))
    assert (f"data/projects/new-flagship.yaml:{mrl}: mrl: not filled in yet ('TODO'): replace it "
            "with one of 'exploration', 'partly-operational' or 'operational' (see the comment "
            "on this line)") in problems


def fill_in(text: str) -> str:
    """What a careful user types: every TODO replaced, the logo line deleted."""
    values = {"start": "2026", "end": "2031", "size_eur_m": "100", "capital_pct": "40",
              "public_pct": "60", "min": "4", "max": "7", "mrl": "operational"}
    out = []
    for line in text.splitlines():
        if line.strip().startswith("logo:"):
            continue
        key = line.split(":")[0].strip()
        if re.search(r":\s+TODO\b(?!:)", line):
            line = line.replace("TODO", values.get(key, "relevant"), 1)
        out.append(line.replace('"TODO: ', '"'))
    return "\n".join(out) + "\n"


def test_following_the_messages_leads_to_a_one_page_sheet(work, capsys):
    assert cli(capsys, "new", "new-flagship", "--data", "data")[0] == 0
    path = work / "data" / "projects" / "new-flagship.yaml"
    path.write_text(fill_in(path.read_text(encoding="utf-8")), encoding="utf-8")

    # 1. one run says both what else must change: the programme's stated flagship total (with
    #    the sum) and the bundle's order
    code, problems = validate(capsys)
    assert code == 1
    assert len(problems) == 2
    assert problems[0] == ("data/bundle.yaml:17: order: the bundle holds every project: add "
                           "'- new-flagship' to the order")
    assert problems[1].startswith("data/projects/biotech-nexus.yaml:")
    assert "flagship_total_eur_m: the stated flagship total 3910 does not match" in problems[1]
    assert "100 (new-flagship)" in problems[1] and problems[1].count("= 4010;") == 1

    # 2. do as told
    programme = work / "data" / "projects" / "biotech-nexus.yaml"
    programme.write_text(programme.read_text(encoding="utf-8").replace(
        "flagship_total_eur_m: 3910", "flagship_total_eur_m: 4010"), encoding="utf-8")
    bundle = work / "data" / "bundle.yaml"
    bundle.write_text(bundle.read_text(encoding="utf-8").rstrip("\n") + "\n  - new-flagship\n",
                      encoding="utf-8")
    code, problems = validate(capsys)
    assert (code, problems) == (0, [])

    # 3. build only the new project
    code, _ = cli(capsys, "build", "--only", "new-flagship", "--data", "data", "--out", "out",
                  "--templates", str(TEMPLATES), "--jobs", "1")
    assert code == 0
    pdfs = sorted(p.relative_to(work / "out").as_posix() for p in (work / "out").rglob("*.pdf"))
    assert pdfs == ["en/new-flagship.pdf", "nl/new-flagship.pdf"]
    reader = PdfReader(work / "out" / "en" / "new-flagship.pdf")
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "project name" in text and "TODO" not in text


def test_new_never_overwrites(work, capsys):
    path = work / "data" / "projects" / "atmp.yaml"
    before = path.read_bytes()
    code, lines = cli(capsys, "new", "atmp", "--data", "data")
    assert code == 1
    assert lines == [f"{Path('data/projects/atmp.yaml')}: already exists; nothing was written. "
                     "Edit that file, or choose another slug"]
    assert path.read_bytes() == before


def test_new_refuses_a_slug_that_differs_only_in_case_from_a_file(work, capsys):
    (work / "data" / "projects" / "Extra.yaml").write_text("kind: flagship\n", encoding="utf-8")
    code, lines = cli(capsys, "new", "extra", "--data", "data")
    assert code == 1
    assert "already exists" in lines[0] and "Extra.yaml" in lines[0]
    assert not (work / "data" / "projects" / "extra.yaml").exists()


@pytest.mark.parametrize("slug, hint", [
    ("Nieuw Flagship", " (e.g. 'nieuw-flagship')"),
    ("atmp_2", " (e.g. 'atmp-2')"),
    ("a--b", " (e.g. 'a-b')"),
    ("../evil", " (e.g. 'evil')"),
    ("-", ""),
    ("new café", " (e.g. 'new-cafe')"),  # accents dropped, not the letter ('caf')
    ("Crème Brûlée", " (e.g. 'creme-brulee')"),
    ("Ærø", " (e.g. 'aero')"),
])
def test_new_rejects_an_invalid_slug_as_a_usage_error(slug, hint, work, capsys):
    before = sorted((work / "data").rglob("*"))
    code, lines = cli(capsys, "new", slug, "--data", "data")
    assert code == 2
    assert lines[-1] == (f"Error: Invalid value for SLUG: '{slug}' is not a valid slug: use "
                         f"lowercase letters, digits and single hyphens{hint}")
    assert sorted((work / "data").rglob("*")) == before


def test_new_rejects_a_parent_that_is_not_a_programme(work, capsys):
    code, lines = cli(capsys, "new", "x", "--parent", "atmp", "--data", "data")
    assert code == 2
    assert lines[-1] == (f"Error: Invalid value for --parent: 'atmp' is not a programme in "
                         f"{Path('data/projects')}: use one of biotech-nexus")
    assert not (work / "data" / "projects" / "x.yaml").exists()


def test_new_programme_writes_a_programme(work, capsys):
    code, _ = cli(capsys, "new", "second-programme", "--programme", "--data", "data")
    assert code == 0
    text = (work / "data" / "projects" / "second-programme.yaml").read_text(encoding="utf-8")
    assert "kind: programme" in text and "\nparent:" not in text
    assert not list((work / "data" / "projects").glob("*.tmp"))


def test_a_second_new_file_leaves_the_schemas_alone_when_they_are_up_to_date(work, capsys):
    assert cli(capsys, "new", "one", "--data", "data")[0] == 0
    code, lines = cli(capsys, "new", "two", "--data", "data")
    assert code == 0
    assert len(lines) == 1 and lines[0].startswith("wrote ")
    assert "schema" not in lines[0]


def test_the_size_comment_gives_the_real_minimum(work):
    """Issue 12: the comment said '> 0'; the model's minimum is 0.05 (EUR 50,000)."""
    text = scaffold_text("x", "biotech-nexus")
    i = text.splitlines().index("size_eur_m: TODO")
    comment = " ".join(line.lstrip("# ") for line in text.splitlines()[i - 2:i])
    assert f"from {m.MIN_SIZE_EUR_M} (EUR 50,000) to {m.MAX_EUR_M}" in comment
    assert "> 0" not in text
