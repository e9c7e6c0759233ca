"""The PDF bundle alone (render/pdf/bundle.py), in-process, at a given number of projects:
its CPU time and the memory it adds while it writes.

Usage::

    .venv/bin/python benchmarks/pdf_bundle.py 1000 OUT_OF_A_BUILD [--pages] [--trace] [--out F.pdf]

As ``benchmarks/word_bundle.py``, over the PDF sheets (``<out>/nl/*.pdf``, ``<out>/en/*.pdf``)
of the first N projects of a build: the bundle's view is the shipped data's (labels, cover,
summary rows repeated) with its per-project parts in spills, as the build keeps them, and
its keywords as long as N projects' names make them.  One line: sheets, CPU and wall
seconds of ``write_bundle_pdf``, the RSS it added (sampled every 50 ms) and, with
``--trace``, the tracemalloc peak (``--where``: and what is held when the document level is
written).  ``--pages``: the sheets' page counts are given, as a build gives them (each sheet
is then opened once, not twice).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tracemalloc
from pathlib import Path

from bundle_common import LOCALES, ROOT, Measured, Ref, first_slugs, shipped_view

from nexusreports.render.pdf.bundle import write_bundle_pdf
from nexusreports.spill import Spill
from nexusreports.theme import load_theme


class _Files:
    """(slug, lang) -> the sheet's file, computed (the build's is a spill)."""

    def __init__(self, folder: Path, fmt: str):
        self.folder, self.fmt = folder, fmt

    def __getitem__(self, key: tuple[str, str]) -> Path:
        return self.folder / key[1] / f"{key[0]}.{self.fmt}"


class _Counted(_Files):
    """As the build hands them over: with each sheet's page count as its output records it
    (a sheet is one page: the build refuses one that does not fit)."""

    def page_count(self, key: tuple[str, str]) -> int:
        return 1


def bundle_of(n: int, sheets: Path, fmt: str = "pdf"):
    """A bundle view over the first ``n`` projects' sheets in ``sheets``, and its files."""
    small = shipped_view()
    slugs = first_slugs(sheets, fmt, n)
    parts = tuple(dataclasses.replace(
        part, rows=Spill((part.rows[i % len(part.rows)] for i in range(n)), shared=True),
        sheets=Spill((Ref(s, part.lang, part.locale_id, s) for s in slugs), shared=True))
        for part in small.parts)
    if small.arrangement == "by-project":
        sequence = Spill((p.sheets[i] for i in range(n) for p in parts), shared=True)
    else:
        sequence = Spill((s for p in parts for s in p.sheets), shared=True)
    info = dataclasses.replace(small.info, keywords=", ".join(
        f"{s} {lang} project name" for s in slugs for lang in LOCALES))
    bundle = dataclasses.replace(small, parts=parts, sequence=sequence, info=info)
    return bundle, (_Counted if "--pages" in sys.argv else _Files)(sheets, fmt)


def main(argv: list[str]) -> None:
    n, sheets = int(argv[0]), Path(argv[1])
    out = argv[argv.index("--out") + 1] if "--out" in argv else os.devnull
    trace = "--trace" in argv
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    bundle, files = bundle_of(n, sheets)
    theme = load_theme(ROOT / "templates")
    if trace:
        tracemalloc.start(1)
        if "--where" in argv:  # what is held when the document level is written
            import nexusreports.render.pdf.bundle as pb

            finish = pb._Out.finish

            def noted(self, *args):
                top = tracemalloc.take_snapshot().statistics("lineno")[:12]
                print("held before finish():", *top, sep="\n  ")
                return finish(self, *args)

            pb._Out.finish = noted
    with Measured(trace) as measured, open(out, "wb") as target:
        pages = write_bundle_pdf(bundle, files, theme, target, invariant=True)
    print(f"{len(bundle.sequence)} sheets, {pages} pages: {measured.line()}")


if __name__ == "__main__":
    main(sys.argv[1:])
