"""Regenerate what the docs take from the code: the field tables of docs/data-format.md
(from the model's field descriptions) and the JSON Schemas in schemas/.

    .venv/bin/python tools/update_docs.py

tests/test_schema.py fails while either is out of date.
"""

from __future__ import annotations

from pathlib import Path

from nexusreports.scaffold import write_schemas
from nexusreports.schema import DOC_BEGIN, DOC_END, fields_table

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "data-format.md"


def updated(text: str) -> str:
    """``text`` (docs/data-format.md) with its generated section made anew."""
    head, begin, rest = text.partition(DOC_BEGIN)
    _, end, tail = rest.partition(DOC_END)
    if not begin or not end:
        raise SystemExit(f"{DOC}: the markers {DOC_BEGIN!r} and {DOC_END!r} are missing")
    return f"{head}{DOC_BEGIN}\n\n{fields_table()}\n{DOC_END}{tail}"


if __name__ == "__main__":
    DOC.write_text(updated(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    for path in write_schemas(ROOT / "schemas"):
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"wrote {DOC.relative_to(ROOT)}")
