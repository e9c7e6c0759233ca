"""`nexusreports schema`: JSON Schemas an editor can use while people type the data.

The schema is checked with the `jsonschema` package, as an editor reads YAML (YAML 1.2:
`1e30` is a number, `2025-09-30` and `on` are text): the shipped data validates, and every
case of tests/data/invalid/ that is a type or range mistake fails it at the field its
expected message names.  The descriptions are the ones `new` writes and the docs print.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from invalid_cases import INVALID, read_case
from nexusreports.cli import main
from nexusreports.schema import (
    BUNDLE_SCHEMA_ID,
    DOC_BEGIN,
    DOC_END,
    PROJECT_SCHEMA_ID,
    SCHEMA_DIALECT,
    bundle_schema,
    fields_table,
    project_schema,
)

ROOT = Path(__file__).resolve().parent.parent


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML as a YAML 1.2 editor reads: dates and yes/no/on/off stay text, and numbers
    need no dot before an exponent (`1e30`)."""


Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers
          if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool",
                         "tag:yaml.org,2002:float")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                   re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def read_as_an_editor(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


PROJECT = validator(project_schema())
BUNDLE = validator(bundle_schema())


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "projects").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_project_file_is_valid_under_the_schema(path):
    assert [e.message for e in PROJECT.iter_errors(read_as_an_editor(path))] == []


def test_the_shipped_bundle_is_valid_under_the_bundle_schema():
    assert [e.message for e in BUNDLE.iter_errors(read_as_an_editor(
        ROOT / "data" / "bundle.yaml"))] == []


SCHEMA_CASES = [
    "amount-as-words", "amount-huge", "amount-negative", "amount-with-euro-sign", "amount-zero",
    "empty-file", "figure-amount-huge", "figure-amount-negative", "figure-bad-date",
    "figure-count-huge", "figure-multiplier-huge", "figure-not-finite", "figure-percent-huge",
    "figure-percent-overflow", "figure-unknown-kind", "missing-dutch", "missing-english",
    "missing-field", "mrl-unknown", "precondition-unknown-item", "precondition-unknown-value",
    "share-above-100", "share-negative", "share-with-percent-sign", "slug-field", "trl-ten",
    "trl-zero", "type-and-cross-check-errors", "unknown-field-typo", "yaml-top-level-list",
    "yaml11-date-is-text", "yaml11-on-is-text", "yaml11-yes-is-text",
]
"""The cases of tests/data/invalid/ that are a type or range mistake.  Not here: cases a
schema cannot see (cross-checks, TODOs, placeholders, logos, text the font lacks, layout,
YAML syntax, file names and encodings) and `amount-not-a-number`: `.nan` is a YAML number
and JSON has no NaN, so JSON Schema has no way to refuse it (validate does)."""


def test_the_list_of_schema_cases_names_real_cases():
    assert all((INVALID / f"{name}.yaml").is_file() for name in SCHEMA_CASES)


def _fields(case_name: str) -> set[str]:
    """The fields the case's expected messages name (`path:line: field: message`)."""
    fields = set()
    for line in read_case(INVALID / f"{case_name}.yaml").expect:
        parts = line.split(": ")
        fields.add(parts[1] if re.match(r"^[a-z_]+(\.[a-z_0-9]+)*$", parts[1]) else "")
    return fields


@pytest.mark.parametrize("name", SCHEMA_CASES)
def test_a_type_or_range_mistake_fails_the_schema_at_its_field(name):
    errors = list(PROJECT.iter_errors(read_as_an_editor(INVALID / f"{name}.yaml")))
    assert errors, f"{name} passes the schema"
    at = {".".join(str(p) for p in e.absolute_path) for e in errors}
    expected = _fields(name)
    # the schema stops one level up where it cannot tell the figure kinds apart (figures.x)
    # and reports a missing field at its parent (the file itself: "")
    assert any(e == a or e.startswith(f"{a}.") or (a == "" and "." not in e)
               for e in expected for a in at), (name, at, expected)


def test_text_for_a_number_and_a_number_out_of_range_fail_the_schema():
    good = read_as_an_editor(ROOT / "data" / "projects" / "atmp.yaml")
    for field, value in (("size_eur_m", "twelve"), ("size_eur_m", 0.01),
                         ("size_eur_m", 10_000_001)):
        errors = list(PROJECT.iter_errors({**good, field: value}))
        assert [list(e.absolute_path) for e in errors] == [[field]], (field, value)
    shares = {**good, "shares": {"capital_pct": 101, "public_pct": 50}}
    assert [list(e.absolute_path) for e in PROJECT.iter_errors(shares)] == [
        ["shares", "capital_pct"]]


def test_numbers_are_numbers_with_standard_ranges_and_every_field_is_described():
    schema = project_schema()
    size = schema["properties"]["size_eur_m"]
    assert (size["type"], size["minimum"], size["maximum"]) == ("number", 0.05, 10_000_000)
    assert schema["$schema"] == SCHEMA_DIALECT and schema["$id"] == PROJECT_SCHEMA_ID
    assert bundle_schema()["$id"] == BUNDLE_SCHEMA_ID

    def walk(node, where=""):
        if isinstance(node, dict):
            assert not {"ge", "le", "gt", "lt"} & set(node), where
            for name, prop in (node.get("properties") or {}).items():
                assert prop.get("description"), f"{where}.{name} has no description"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema)
    walk(bundle_schema())


def test_the_schema_command_prints_both_schemas(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == project_schema()
    assert main(["schema", "bundle"]) == 0
    assert json.loads(capsys.readouterr().out) == bundle_schema()


def test_the_schemas_folder_of_the_repository_is_up_to_date():
    """The data files of the repository may name schemas/ for editors: regenerate with
    `python tools/update_docs.py`."""
    for name, schema in (("project", project_schema()), ("bundle", bundle_schema())):
        path = ROOT / "schemas" / f"{name}.schema.json"
        assert json.loads(path.read_text(encoding="utf-8")) == schema


def test_the_field_tables_of_the_data_format_doc_are_the_models_descriptions():
    """docs/data-format.md's tables are generated: regenerate with
    `python tools/update_docs.py`."""
    text = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    section = text.split(DOC_BEGIN)[1].split(DOC_END)[0]
    assert section.strip() == fields_table().strip()
    assert "| `size_eur_m` | project size (Projectomvang) in EUR millions, a number from 0.05" \
        in section


def test_what_init_writes_is_valid_under_the_schemas(tmp_path, monkeypatch):
    from nexusreports.scaffold import init_project

    init_project(tmp_path / "p", "p", "2026-01-15")
    programme = read_as_an_editor(tmp_path / "p" / "data" / "projects" / "p.yaml")
    assert [e.message for e in PROJECT.iter_errors(programme)] == []
    bundle = read_as_an_editor(tmp_path / "p" / "data" / "bundle.yaml")
    assert [e.message for e in BUNDLE.iter_errors(bundle)] == []


def test_a_new_file_fails_the_schema_on_its_todos_as_an_editor_would_mark_them():
    from nexusreports.scaffold import scaffold_text

    doc = yaml.load(scaffold_text("x", "biotech-nexus"), Loader=Yaml12Loader)
    at = {".".join(str(p) for p in e.absolute_path) for e in PROJECT.iter_errors(doc)}
    assert {"size_eur_m", "shares.capital_pct", "trl.min", "mrl", "period.start"} <= at


@pytest.mark.parametrize("schema", [project_schema(), bundle_schema()],
                         ids=["project", "bundle"])
def test_the_editor_is_pointed_at_a_reference_every_installation_has(schema):
    """An editor shows these descriptions in a project made by 'init' anywhere, which has no
    docs/ folder: they point at 'nexusreports docs', which prints the reference."""
    text = json.dumps(schema)
    assert "docs/data-format.md" not in text
    assert "'nexusreports docs' prints it" in schema["description"]
