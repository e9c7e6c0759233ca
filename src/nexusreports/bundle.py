"""Stage 5, bundle: which view goes where in the briefing bundle, and the bundle's files.

The bundle's content is decided by the view (:func:`nexusreports.view.build_bundle_view`:
order, parts per language, contents, summary rows); this module names its outputs and hands
the view to the renderer of each format, which draws it:

* ``briefing-nl-en.pdf``: :func:`nexusreports.render.pdf.bundle.write_bundle_pdf`, streamed
  from the PDF sheets' files (one open at a time);
* ``briefing-nl-en.docx``: :func:`nexusreports.render.word.bundle.write_bundle_docx`, from the
  Word sheets' files, streamed.

Nothing here draws, formats a number or chooses a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from .theme import Theme
    from .view import BundleView

PDF_NAME = "briefing-nl-en.pdf"
DOCX_NAME = "briefing-nl-en.docx"


def write_pdf(bundle: BundleView, sheet_files: Mapping[tuple[str, str], Path], theme: Theme,
              target: BinaryIO, *, invariant: bool = False) -> int:
    """Write ``briefing-nl-en.pdf`` of ``bundle`` to ``target`` (a writable binary file),
    reading each sheet's PDF from ``sheet_files[(slug, lang)]`` one at a time; return its
    page count.  Memory does not grow with the number of sheets."""
    from .render.pdf.bundle import write_bundle_pdf
    return write_bundle_pdf(bundle, sheet_files, theme, target, invariant=invariant)


def render_pdf(bundle: BundleView, sheet_pdfs: Mapping[tuple[str, str], bytes], theme: Theme,
               *, invariant: bool = False) -> bytes:
    """``briefing-nl-en.pdf`` of ``bundle`` from the PDF sheets' bytes, keyed (slug, lang)
    (:func:`write_pdf` into memory)."""
    from .render.pdf.bundle import render_bundle_pdf
    return render_bundle_pdf(bundle, sheet_pdfs, theme, invariant=invariant)


def write_docx(bundle: BundleView, sheet_files: Mapping[tuple[str, str], Path], theme: Theme,
               target: BinaryIO, *, invariant: bool = False) -> None:
    """Write ``briefing-nl-en.docx`` of ``bundle`` to ``target`` (a writable, seekable binary
    file), from the Word sheets already written at ``sheet_files[(slug, lang)]`` (never
    rendering a sheet again), one at a time: memory does not grow with the number of
    sheets."""
    from .render.word.bundle import write_bundle_docx
    write_bundle_docx(bundle, sheet_files, theme, target, invariant=invariant)


def render_docx(bundle: BundleView, theme: Theme, *, invariant: bool = False) -> bytes:
    """``briefing-nl-en.docx`` of ``bundle`` as bytes, for callers without the sheet files:
    each Word sheet is rendered once into a temporary folder, then :func:`write_docx`."""
    from .render.word.bundle import render_bundle_docx  # only a Word build loads docxtpl
    return render_bundle_docx(bundle, theme, invariant=invariant)




def page_count(pdf: bytes) -> int:
    """Number of pages of PDF bytes."""
    from .render.pdf.bundle import page_count as count
    return count(pdf)


__all__ = ["DOCX_NAME", "PDF_NAME", "page_count", "render_docx", "render_pdf", "write_docx",
           "write_pdf"]
