"""The Word bundle alone (render/word/bundle.py), in-process, at a given number of projects:
its CPU time and the memory it adds while it writes.

Usage::

    .venv/bin/python benchmarks/word_bundle.py 1000 OUT_OF_A_BUILD [--trace] [--out F.docx]

``OUT_OF_A_BUILD`` is the out/ folder of a build that wrote the Word sheets
(``<out>/nl/*.docx``, ``<out>/en/*.docx``) of at least that many projects (for example a
10,000-project build of synthetic data).  The bundle's view is made of the shipped data's
(its labels, cover and summary rows, repeated) over the first N projects' sheet files, so
only the bundle itself is measured.  One line: sheets, CPU and wall seconds of
``write_bundle_docx``, the RSS it added (sampled every 50 ms) and, with ``--trace``, the
tracemalloc peak of what it allocated (tracing makes it about 3 times slower).  Compare
runs at N and 10 N: time should grow 10 times, memory not at all.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from bundle_common import ROOT, Measured, Ref, first_slugs, shipped_view

from nexusreports.render.word.bundle import write_bundle_docx
from nexusreports.theme import load_theme


def bundle_of(n: int, sheets: Path):
    """A bundle view over the first ``n`` projects' Word sheets in ``sheets``, and its files."""
    small = shipped_view()
    slugs = first_slugs(sheets, "docx", n)
    parts = tuple(dataclasses.replace(
        part, rows=tuple(part.rows[i % len(part.rows)] for i in range(n)),
        sheets=tuple(Ref(s, part.lang, part.locale_id, s) for s in slugs))
        for part in small.parts)
    if small.arrangement == "by-project":
        sequence = tuple(p.sheets[i] for i in range(n) for p in parts)
    else:
        sequence = tuple(s for p in parts for s in p.sheets)
    bundle = dataclasses.replace(small, parts=parts, sequence=sequence)
    files = {(v.slug, v.lang): sheets / v.lang / f"{v.slug}.docx" for v in sequence}
    return bundle, files


def main(argv: list[str]) -> None:
    n, sheets = int(argv[0]), Path(argv[1])
    out = argv[argv.index("--out") + 1] if "--out" in argv else os.devnull
    trace = "--trace" in argv
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    bundle, files = bundle_of(n, sheets)
    theme = load_theme(ROOT / "templates")
    for path in files.values():  # a Path keeps its str once made: the caller's memory
        os.fspath(path)
    with Measured(trace) as measured, open(out, "wb") as target:
        write_bundle_docx(bundle, files, theme, target, invariant=True)
    print(f"{len(bundle.sequence)} sheets: {measured.line()}")


if __name__ == "__main__":
    main(sys.argv[1:])
