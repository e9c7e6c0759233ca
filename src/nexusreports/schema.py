"""The data format for editors and readers: JSON Schemas and the field table of the docs.

In: the typed model (:mod:`nexusreports.model`), whose field descriptions are the one source
of what every field means.  Out: :func:`project_schema` and :func:`bundle_schema`
(``nexusreports schema``; JSON Schema 2020-12 with ``$schema`` and ``$id``, numbers typed as
numbers with their real ranges, every field described), :func:`describe` (the comment
``nexusreports new`` writes on a field) and :func:`fields_table` (the generated part of
docs/data-format.md, between :data:`DOC_BEGIN` and :data:`DOC_END`; ``python
tools/update_docs.py`` writes it and a test holds the document to it).

The schemas check types and ranges, as an editor can while someone types; the validate
stage checks those too and everything a schema cannot say (TODOs, placeholders, the
programmes' totals, one-page fit), with file and line.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from . import model as m

__all__ = ["BUNDLE_SCHEMA_ID", "DOC_BEGIN", "DOC_END", "PROJECT_SCHEMA_ID", "SCHEMA_DIALECT",
           "SCHEMA_FILES", "bundle_schema", "describe", "fields_table", "project_schema",
           "schema_for"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
PROJECT_SCHEMA_ID = "urn:nexusreports:schema:project"
BUNDLE_SCHEMA_ID = "urn:nexusreports:schema:bundle"

SCHEMA_FILES = {"project": "project.schema.json", "bundle": "bundle.schema.json"}
"""The file names of the schemas in a project's ``schemas/`` folder (see
``nexusreports init``), which the ``# yaml-language-server: $schema=`` line of a data file
points at."""

DOC_BEGIN = "<!-- fields: generated from the model by tools/update_docs.py; do not edit -->"
DOC_END = "<!-- end of the generated fields -->"


class _Generator(GenerateJsonSchema):
    """Pydantic's generator with decimals as JSON numbers (our YAML numbers), with standard
    ``minimum``/``maximum``/``exclusiveMinimum`` instead of pydantic's string-or-number with
    ``ge``/``le``, and no titles made up from field names."""

    def decimal_schema(self, schema: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        self.update_with_validations(out, schema, self.ValidationsMapping.numeric)
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key in out:
                out[key] = _number(out[key])
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
"""Pydantic's bound names and their JSON Schema keywords: a bound on a decimal that has
its own validator (no ``-0``) is put into the schema under pydantic's name, as text."""


def _tidy(node: Any, names: bool = False) -> Any:
    """Docstring markup out of descriptions; a figure name's pattern also checks the names
    (``propertyNames``), not only the values of matching names; class titles dropped."""
    if isinstance(node, dict):
        # ``names``: the keys are field names (of "properties", "$defs"), not keywords
        out = {k: _tidy(v, k in ("properties", "$defs", "patternProperties") and not names)
               for k, v in node.items() if names or k != "title"}
        for short, standard in _BOUNDS.items():  # what pydantic left unmapped (see above)
            if short in out and out.get("type") in ("number", "integer"):
                out[standard] = _number(out.pop(short))
        if names:
            return out
        if isinstance(out.get("description"), str):
            out["description"] = re.sub(r"\s+", " ", out["description"].replace("``", "")
                                        .replace(":class:", "").replace(":data:", "")).strip()
        patterns = out.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            out["propertyNames"] = {"pattern": next(iter(patterns))}
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def _schema(model: type[BaseModel], schema_id: str, title: str) -> dict[str, Any]:
    body = _tidy(model.model_json_schema(schema_generator=_Generator, mode="validation"))
    return {"$schema": SCHEMA_DIALECT, "$id": schema_id, "title": title, **body}


def project_schema() -> dict[str, Any]:
    """JSON Schema of a project file (``data/projects/<slug>.yaml``); the slug is the file
    name, so it is no field."""
    schema = _schema(m.Project, PROJECT_SCHEMA_ID,
                     "nexusreports project file (data/projects/<slug>.yaml)")
    schema["properties"].pop("slug", None)
    schema["required"] = [r for r in schema.get("required", []) if r != "slug"]
    schema["description"] = ("One project sheet: a programme or one of its flagships. The "
                             "full format: 'nexusreports docs' prints it.")
    return schema


def bundle_schema() -> dict[str, Any]:
    """JSON Schema of the bundle configuration (``data/bundle.yaml``)."""
    schema = _schema(m.BundleConfig, BUNDLE_SCHEMA_ID,
                     "nexusreports bundle configuration (data/bundle.yaml)")
    schema["description"] = ("The briefing bundle: cover texts, date, order and arrangement. "
                             "The full format: 'nexusreports docs' prints it.")
    return schema


def schema_for(which: str) -> dict[str, Any]:
    """:func:`project_schema` or :func:`bundle_schema` by the names of :data:`SCHEMA_FILES`."""
    return {"project": project_schema, "bundle": bundle_schema}[which]()


def describe(model: type[BaseModel], *path: str) -> str:
    """The description of the field at ``path`` in ``model`` (nested models followed, lists
    and optional values looked into), as ``nexusreports new`` writes it in a comment.

    >>> describe(m.Project, "trl", "min")
    'lowest TRL, a whole number 1-9'
    """
    current: type[BaseModel] = model
    info = None
    for i, name in enumerate(path):
        info = current.model_fields[name]
        if i < len(path) - 1:
            inner = _models_in(info.annotation)
            if not inner:
                raise KeyError(".".join(path))
            current = inner[0]
    if info is None or not info.description:
        raise KeyError(".".join(path))
    return info.description


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found += _models_in(meta)
    return found


_FIGURES = (m.CountFigure, m.NumberFigure, m.PercentFigure, m.MultiplierFigure, m.AmountFigure,
            m.DateFigure)


def _rows(model: type[BaseModel], prefix: str, skip: frozenset[str] = frozenset()
          ) -> list[tuple[str, str]]:
    rows = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        path = f"{prefix}{name}"
        inner = [c for c in _models_in(info.annotation) if c is not m.LocalText]
        if model is m.Preconditions and inner:
            items = ", ".join(f"`{item}`" for item in inner[0].model_fields)
            rows.append((path, f"{info.description}: {items}; each "
                               f"{next(iter(inner[0].model_fields.values())).description}"))
            continue
        rows.append((path, info.description or ""))
        if inner and name != "figures":
            rows += _rows(inner[0], f"{path}.")
    return rows


def fields_table() -> str:
    """The field tables of docs/data-format.md: a project file's fields, the figures'
    fields by kind and the bundle's fields, each described as the schema and ``new`` do."""
    def table(rows: list[tuple[str, str]], head: str) -> list[str]:
        return [f"| {head} | description |", "| --- | --- |",
                *(f"| `{path}` | {_md(text)} |" for path, text in rows)]

    lines = ["### Project files", "",
             *table(_rows(m.Project, "", frozenset({"slug"})), "field"), "",
             "### Figures, by kind", "",
             "Each figure is `name: {kind: ..., ...}` under `figures:`.", ""]
    figure_rows = []
    for figure in _FIGURES:
        kind = figure.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
        figure_rows += [(f"{kind}: {name}", info.description or "")
                        for name, info in figure.model_fields.items() if name != "kind"]
    lines += table(figure_rows, "kind: field")
    lines += ["", "### data/bundle.yaml", "", *table(_rows(m.BundleConfig, ""), "field")]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """``text`` in a Markdown table cell: pipes escaped."""
    return text.replace("|", "\\|")
