"""The briefing bundle as one PDF: :func:`write_bundle_pdf` (and :func:`render_bundle_pdf`,
the same into memory).

The sheet pages *are* the single-sheet PDFs (the files :func:`.sheet.render_pdf` produced),
each with its structure tree; only the cover, each language's contents and summary pages and
the closing page are drawn here, with ReportLab in the theme's fonts, tagged as they are
drawn (:mod:`.tagging`; what is drawn outside marked content an artifact as on the sheets).

The bundle is written as a stream (:mod:`.incremental`), so its memory does not grow with
the sheets: each sheet is opened from its file when its turn comes, its objects copied
renumbered (streams as stored), its ParentTree keys moved past the ones used so far, its
top structure element made a ``Part`` carrying its ``/Lang``, and it is closed again; only
the numbers of its pages and its element are kept.  The pages drawn here follow the sheets
in the file (the page tree gives the order), so the contents' links (printable, over
``Link`` elements) point at sheet pages already written; their structure elements are
written straight from the recorded tree.  A language's contents and summary are laid out
page by page first (only the range of entries or rows on each page is kept; the summary is
one table a page, its column headers repeated) and drawn and written a few pages at a time,
so neither the drawing nor the file's tables of object offsets grow with the projects.  A
sheet is known by its index in the view's sequence (its page count, first page and element
in arrays).  Then the page tree (balanced, :data:`_PAGE_FAN` kids a node at most), the
structure tree (``Document`` > parts), the ParentTree, the outline (language > Contents,
Summary, projects, grouped past :data:`_OUTLINE_FAN`), page labels (cover unlabelled, then 1, 2, ...), ``/PageMode /UseOutlines``, and
the document level of :mod:`.archive` (XMP declaring PDF/A-2u and PDF/UA-1, OutputIntent,
MarkInfo, ``/Lang``, DisplayDocTitle), a classic cross-reference table and an ``/ID`` that is
the digest of the bytes.  The page numbers are stamped onto every page but the cover as
form XObjects drawn in ``Pagination`` artifacts, so the sheets keep their layout.  (pypdf's
page merging would drop the sheets' trees; qpdf merging every sheet in memory held 400 MB
at 2,000 sheets.)

Page sequence, arrangement ``by-language``: cover; per language: contents, summary, that
language's sheets; closing.  Arrangement ``by-project``: cover; contents and summary of each
language; each project's Dutch sheet followed by its English one; closing.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import io
import itertools
import logging
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, String
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate, Spacer,
                                Table, TableStyle)

from ...theme import Theme
from ...view import BundlePart, BundleView
from .. import SUMMARY_COLUMNS_MM
from .archive import (PRODUCER, Metadata, attributes, creation_stamp, deflate, fix_to_unicode,
                      xmp)
from .. import heap
from .incremental import Copy, Writer, ref, stream_data
from .sheet import CREATOR, icc_profile, markup, metadata, new_canvas, register_fonts
from .tagging import (Element, LinkRef, MarkedRef, Step, Tagger, artifact, artifact_unmarked,
                      attach, marked, tagger_of, within)
from .tagging import TaggedParagraph as Paragraph

log = logging.getLogger("nexusreports")

# --- PDF: front pages drawn with ReportLab --------------------------------------------------

@dataclass
class _Kit:
    font: str
    bold: str
    colours: dict[str, object]
    type: dict[str, float]
    page: dict[str, float]

    def style(self, name: str, **kw: object) -> ParagraphStyle:
        if "parent" in kw:
            return ParagraphStyle(name, **kw)
        base = dict(fontName=self.font, fontSize=self.type["body_pt"],
                    leading=self.type["body_leading_pt"], textColor=self.colours["text"],
                    bulletFontName=self.font)
        base.update(kw)
        return ParagraphStyle(name, **base)


def _kit(theme: Theme) -> _Kit:
    from reportlab.lib.colors import HexColor

    font = register_fonts(theme)
    return _Kit(font=font, bold=f"{font}-Bold",
                colours={k: HexColor(v) for k, v in theme.colours.items()},
                type=dict(theme.type), page=dict(theme.page))


def _canvas(buf: io.BytesIO, kit: _Kit, invariant: bool, lang: str) -> Canvas:
    return new_canvas(buf, kit.font, kit.type["body_pt"], invariant=invariant, lang=lang)


@dataclass
class _Drawn:
    """A piece of the bundle drawn here: its PDF bytes, page count and structure tree."""

    data: bytes
    pages: int
    tree: Tagger


def _cover_pdf(bundle: BundleView, kit: _Kit, invariant: bool) -> _Drawn:
    """The bilingual cover: the first language on the primary band, the second below it."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, bundle.info.language)
    tagger = attach(c, Tagger(Step("Part")))
    w, h = A4
    ml = kit.page["margin_left_mm"] * mm * 2
    text_w = w - 2 * ml
    band_h = h * 0.52
    c.setFillColor(kit.colours["primary"])
    c.rect(0, h - band_h, w, band_h, stroke=0, fill=1)
    c.setFillColor(kit.colours["accent"])
    c.rect(ml, h - band_h - 1.2 * mm, 40 * mm, 2.4 * mm, stroke=0, fill=1)
    colours = [(kit.colours["on_primary"], kit.colours["accent_light"]),
               (kit.colours["primary"], kit.colours["accent"])]
    tops = [h - band_h + 18 * mm, h - band_h - 30 * mm]
    for cover, (main, second), top in zip(bundle.covers, colours, tops):
        title = Paragraph(markup(cover.title), kit.style("ct", fontName=kit.bold, fontSize=30,
                                                      leading=34, textColor=main)).tagged("H1")
        sub = Paragraph(markup(cover.subtitle), kit.style("cs", fontSize=15, leading=19,
                                                       textColor=second))
        date = Paragraph(markup(cover.date), kit.style("cd", fontSize=12, leading=15,
                                                    textColor=main))
        # The first language sits on the band's lower edge; the second hangs below it.
        blocks = [title, Spacer(1, 3 * mm), sub, Spacer(1, 5 * mm), date]
        heights = [b.wrap(text_w, h)[1] for b in blocks]
        y = top + sum(heights) if top is tops[0] else top
        with within(c, (Step("Sect", key=cover.lang, lang=cover.locale_id),)):
            for block, bh in zip(blocks, heights):
                y -= bh
                block.drawOn(c, ml, y)
    c.setTitle(bundle.info.title)
    artifact_unmarked(c)
    c.showPage()
    c.save()
    return _Drawn(buf.getvalue(), 1, tagger)


def _closing_pdf(bundle: BundleView, kit: _Kit, invariant: bool) -> _Drawn:
    """The closing page: the closing line in every language, centred."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, bundle.info.language)
    tagger = attach(c, Tagger(Step("Part")))
    w, h = A4
    text_w = w - 4 * kit.page["margin_left_mm"] * mm
    colours = [kit.colours["primary"], kit.colours["accent"]]
    y = h * 0.58
    for i, (line, part) in enumerate(zip(bundle.closing, bundle.parts)):
        para = Paragraph(markup(line), kit.style("cl", fontName=kit.bold if i == 0 else kit.font,
                                              fontSize=22 if i == 0 else 16,
                                              leading=27 if i == 0 else 20,
                                              alignment=TA_CENTER,
                                              textColor=colours[i % len(colours)]))
        para.tagged(None, Step("P", lang=part.locale_id))
        _, ph = para.wrap(text_w, h)
        para.drawOn(c, (w - text_w) / 2, y - ph)
        y -= ph + 8 * mm
    c.setFillColor(kit.colours["accent"])
    c.rect(w / 2 - 20 * mm, y - 4 * mm, 40 * mm, 1.6 * mm, stroke=0, fill=1)
    artifact_unmarked(c)
    c.showPage()
    c.save()
    return _Drawn(buf.getvalue(), 1, tagger)


@dataclass
class _Record:
    """What drawing a run of contents pages found: where each entry was drawn (page within
    the run, rectangle in pt, entry index, its text)."""

    links: list[tuple[int, tuple[float, float, float, float], int, str]] = field(
        default_factory=list)
    on_page: dict[int, int] = field(default_factory=dict)  # page -> links drawn on it


_TOC_LEADING = 1.25
"""A contents entry's leading, times its font size."""

_TOC_SPACE = 3.2 * mm
"""Space a contents entry takes below its text."""

_TOC_SPARE = 0.01
"""Points to spare on a line before :meth:`_TocEntry.height_of` takes it as fitting without
wrapping it (a sum of glyph widths against ReportLab's own, word by word)."""


def _toc_size(kit: _Kit) -> float:
    """A contents entry's font size, pt."""
    return kit.type["body_pt"] + 2


def _toc_widths(number: str, kit: _Kit, aw: float) -> tuple[float, float]:
    """A contents entry's page number's width and what is left for its text, pt."""
    num_w = pdfmetrics.stringWidth(number, kit.font, _toc_size(kit))
    return num_w, aw - num_w - 14 * mm


class _TocEntry(Flowable):
    """One contents line: text, a dotted leader, the page number; records its rectangle.

    Tagged as a ``TOCI`` holding a ``Link`` over the text, the number and the link
    annotation the bundle puts on the rectangle."""

    def __init__(self, key: int, text: str, number: str, kit: _Kit, record: _Record):
        super().__init__()
        self.key, self.text, self.number, self.kit, self.record = key, text, number, kit, record
        self.size = _toc_size(kit)
        self.para = Paragraph(markup(text), kit.style("toc", fontSize=self.size,
                                                  leading=self.size * _TOC_LEADING)
                              ).tagged(None)

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.num_w, self.text_w = _toc_widths(self.number, self.kit, aw)
        _, ph = self.para.wrap(self.text_w, ah)
        self.width, self.height = aw, ph + _TOC_SPACE
        return self.width, self.height

    @staticmethod
    def height_of(key: int, text: str, number: str, kit: _Kit, aw: float, ah: float) -> float:
        """The height :meth:`wrap` gives the entry, found without parsing ``text`` when it
        is plain text that fits on one line with room to spare (the contents of a
        20,000-sheet bundle are laid out twice, and parsing each entry each time was most
        of it); else by wrapping it."""
        size, (_, text_w) = _toc_size(kit), _toc_widths(number, kit, aw)
        if (text and text.isprintable()  # (not a soft hyphen, a tab or a line break)
                and " ".join(text.split()) == text
                and pdfmetrics.stringWidth(text, kit.font, size) < text_w - _TOC_SPARE):
            return size * _TOC_LEADING + _TOC_SPACE  # one line
        return _TocEntry(key, text, number, kit, _Record()).wrap(aw, ah)[1]

    def draw(self) -> None:
        c, k = self.canv, self.kit
        page = c.getPageNumber() - 1
        with within(c, (Step("TOC", key="contents"), Step("TOCI"), Step("Link"))) as link:
            y = self.height - self.para.height
            self.para.drawOn(c, 0, y)
            base = y + self.size * 0.3  # baseline of the last line
            last = self.para.blPara.lines[-1]
            extra = last[0] if isinstance(last, tuple) else last.extraSpace
            c.setFillColor(k.colours["primary"])
            c.setFont(k.font, self.size)
            with marked(c):
                c.drawRightString(self.width, base, f" {self.number}")  # ends at the edge
            c.setStrokeColor(k.colours["rule"])
            c.setDash(0.6, 2.4)
            c.setLineWidth(0.8)
            c.line(self.text_w - extra + 2 * mm, base + 0.5, self.width - self.num_w - 2 * mm,
                   base + 0.5)
            c.setDash()
            index = self.record.on_page.get(page, 0)
            self.record.on_page[page] = index + 1
            if link is not None:
                link.kids.append(LinkRef(page, index))
        x0, y0 = c.absolutePosition(0, 0)
        x1, y1 = c.absolutePosition(self.width, self.height)
        self.record.links.append((page, (x0, y0, x1, y1), self.key, self.text))


def _front_doc(bundle: BundleView, part: BundlePart, kit: _Kit, tagger: Tagger, buf: io.BytesIO,
               invariant: bool, *, first: bool) -> tuple[BaseDocTemplate, Frame]:
    """A document of front pages of ``part`` with the band (the language as ``H1`` on the
    part's first page when ``first``, else a ``Pagination`` artifact) and the running
    header, tagged by ``tagger``."""
    w, h = A4
    ml, mr = kit.page["margin_left_mm"] * mm, kit.page["margin_right_mm"] * mm
    band_h = kit.page["header_height_mm"] * mm
    top = h - band_h - kit.page["gap_below_header_mm"] * mm
    bottom = (kit.page["margin_bottom_mm"] + kit.page["footer_height_mm"]) * mm
    title = next(c.title for c in bundle.covers if c.lang == part.lang)

    def band(canvas: Canvas, doc: BaseDocTemplate) -> None:
        attach(canvas, tagger)
        canvas.saveState()
        canvas.setFillColor(kit.colours["primary"])
        canvas.rect(0, h - band_h, w, band_h, stroke=0, fill=1)
        with artifact(canvas, "Pagination"):  # the running header
            canvas.setFillColor(kit.colours["accent_light"])
            canvas.setFont(kit.font, kit.type["subtitle_pt"])
            canvas.drawString(ml, h - 12 * mm, title)
        canvas.setFillColor(kit.colours["on_primary"])
        canvas.setFont(kit.bold, kit.type["title_pt"])
        heading = first and tagger_of(canvas).page == 0
        with within(canvas, (Step("H1"),)) if heading else artifact(canvas, "Pagination"):
            with marked(canvas):
                canvas.drawString(ml, h - band_h + 8 * mm, part.language)
        canvas.restoreState()

    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=ml, rightMargin=mr, topMargin=h - top,
                          bottomMargin=bottom, initialFontName=kit.font,
                          initialFontSize=kit.type["body_pt"], invariant=1 if invariant else 0,
                          pageCompression=1, lang=part.locale_id, title=bundle.info.title,
                          creator=CREATOR)
    frame = Frame(ml, bottom, w - ml - mr, top - bottom, leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate("front", frames=[frame], onPage=band,
                                       onPageEnd=lambda canvas, _: artifact_unmarked(canvas))])
    return doc, frame


def _heading(kit: _Kit) -> ParagraphStyle:
    return kit.style("h", fontName=kit.bold, fontSize=kit.type["title_pt"] - 4,
                     leading=(kit.type["title_pt"] - 4) * 1.2,
                     textColor=kit.colours["primary"], spaceAfter=6 * mm)


_CHUNK_PAGES = 8
"""Front pages drawn per ReportLab document: a language's contents and summary are laid out
page by page here (only the ranges of entries and rows each page holds are kept) and drawn
and written into the bundle this many pages at a time, so memory does not grow with the
number of projects."""


def _frame_size(kit: _Kit) -> tuple[float, float]:
    """Width and height of the frame of a front page (:func:`_front_doc`), pt."""
    w, h = A4
    ml, mr = kit.page["margin_left_mm"] * mm, kit.page["margin_right_mm"] * mm
    top = h - kit.page["header_height_mm"] * mm - kit.page["gap_below_header_mm"] * mm
    bottom = (kit.page["margin_bottom_mm"] + kit.page["footer_height_mm"]) * mm
    return w - ml - mr, top - bottom


def _paginate(heights: Iterable[float], first: float, room: float) -> list[tuple[int, int]]:
    """Items of ``heights`` stacked on pages of ``room`` pt (the first page ``first``): the
    range of items on each page (an item taller than a page alone on its page)."""
    pages, start, used, space, i = [], 0, 0.0, first, -1
    for i, height in enumerate(heights):
        if used + height > space and i > start:
            pages.append((start, i))
            start, used, space = i, 0.0, room
        used += height
    pages.append((start, i + 1))
    return pages


def _heading_height(text: str, kit: _Kit, width: float, height: float) -> float:
    style = _heading(kit)
    return Paragraph(markup(text), style).wrap(width, height)[1] + style.spaceAfter


def _entry(part: BundlePart, i: int) -> str:
    """The text of contents entry ``i`` of ``part``: entry 0 the summary, then the sheets."""
    return part.summary if i == 0 else part.sheets[i - 1].project_name


def _printed(part: BundlePart, numbers: array | None, i: int) -> str:
    """The page number contents entry ``i`` prints (``numbers``: the page of every entry;
    ``None``: not known yet)."""
    return part.page_number(numbers[i]) if numbers is not None else ""


def _contents_layout(part: BundlePart, kit: _Kit, numbers: array | None
                     ) -> list[tuple[int, int]]:
    """The entries on each contents page of ``part`` printing ``numbers``."""
    width, height = _frame_size(kit)

    def heights() -> Iterator[float]:
        for i in range(len(part.sheets) + 1):
            yield _TocEntry.height_of(i, _entry(part, i), _printed(part, numbers, i), kit,
                                      width, height)

    return _paginate(heights(), height - _heading_height(part.contents, kit, width, height),
                     height)


def _summary_layout(part: BundlePart, kit: _Kit) -> list[tuple[int, int]]:
    """The rows (0-based over the rows, then the totals) on each summary page of ``part``;
    each page repeats the column headers."""
    width, height = _frame_size(kit)
    header = _summary_table(part, kit, width, [0]).wrap(width, height)[1]
    count = len(part.rows) + len(part.totals)
    cells = _SummaryCells(part, kit, width)
    heights = (cells.height(r) for r in range(1, count + 1))
    room = height - header
    return _paginate(heights, room - _heading_height(part.summary, kit, width, height), room)


def _draw(bundle: BundleView, part: BundlePart, kit: _Kit, invariant: bool,
          pages: list[list[Flowable]], *, first: bool) -> tuple[bytes, Element]:
    """Front pages of ``part``, each page's flowables (laid out to fit) on a page of its own:
    the PDF and its structure (a ``Part``, recorded on pages 0...)."""
    tagger = Tagger(Step("Part", lang=part.locale_id))
    buf = io.BytesIO()
    doc, _ = _front_doc(bundle, part, kit, tagger, buf, invariant, first=first)
    story: list[Flowable] = []
    for page in pages:
        if story:
            story.append(PageBreak())
        story += page
    doc.build(story)
    # (ReportLab's flowables and documents are cycles: the collector's own passes free
    # them; a full collection here walked the whole heap for every few pages)
    return buf.getvalue(), tagger.finished()


def _contents_chunks(bundle: BundleView, front: _Front, kit: _Kit, invariant: bool
                     ) -> Iterator[tuple[int, bytes, Element, _Record]]:
    """The contents of ``front`` drawn :data:`_CHUNK_PAGES` pages at a time: (first page
    within the front, PDF, structure, where the entries were drawn)."""
    part = front.part
    for at, batch in _batches(front.contents, part.contents, kit):
        record = _Record()
        for _, a, b, page in batch:
            page.extend(_TocEntry(i, _entry(part, i), _printed(part, front.numbers, i), kit,
                                  record) for i in range(a, b))
        data, tree = _draw(bundle, part, kit, invariant, [page for *_, page in batch],
                           first=at == 0)
        yield at, data, tree, record


def _summary_chunks(bundle: BundleView, front: _Front, kit: _Kit, invariant: bool
                    ) -> Iterator[tuple[int, bytes, Element]]:
    """The summary of ``front`` drawn :data:`_CHUNK_PAGES` pages at a time, one table a page
    (its column headers repeated): (first page within the front, PDF, structure)."""
    part = front.part
    width, _ = _frame_size(kit)
    offset = len(front.contents)
    for at, batch in _batches(front.summary, part.summary, kit):
        for n, a, b, page in batch:
            page.append(_summary_table(part, kit, width, [0, *range(a + 1, b + 1)],
                                       key="summary" if n == 0 else f"summary-{n}"))
        data, tree = _draw(bundle, part, kit, invariant, [page for *_, page in batch],
                           first=False)
        yield offset + at, data, tree


def _batches(ranges: Sequence[tuple[int, int]], heading: str, kit: _Kit
             ) -> Iterator[tuple[int, list[tuple[int, int, int, list[Flowable]]]]]:
    """The pages of a paginated front section (``ranges``: the items of each page, from
    ``a`` to ``b``) :data:`_CHUNK_PAGES` at a time: (first page, [(page, a, b, its
    flowables so far)]); the section's first page starts with its ``heading``."""
    for at in range(0, len(ranges), _CHUNK_PAGES):
        yield at, [(n, *ranges[n], [Paragraph(markup(heading), _heading(kit)).tagged("H2")]
                    if n == 0 else []) for n in range(at, min(at + _CHUNK_PAGES, len(ranges)))]


_SUMMARY_PAD_MM = (1.6, 1.4)
"""A summary cell's padding above and below, and left and right, mm."""


class _SummaryCells:
    """The cells of ``part``'s summary table (its styles made once), each row's paragraphs,
    and a row's height alone in a table, measured as ReportLab's ``Table`` measures it
    without making one (a table a row cost more than its paragraphs, for every project):
    each cell's paragraph wrapped in the column's width less the side paddings, plus the
    top and bottom padding, the tallest cell's."""

    def __init__(self, part: BundlePart, kit: _Kit, width: float):
        size = kit.type["small_pt"] + 0.9
        cell = kit.style("cell", fontSize=size, leading=size * 1.25)
        num = kit.style("num", parent=cell, alignment=TA_RIGHT)
        head = kit.style("head", parent=cell, fontName=kit.bold,
                         textColor=kit.colours["on_primary"])
        head_num = kit.style("head_num", parent=head, alignment=TA_RIGHT)
        bold = kit.style("bold", parent=cell, fontName=kit.bold)
        bold_num = kit.style("bold_num", parent=bold, alignment=TA_RIGHT)
        self.styles = ((head, head_num), (cell, num), (bold, bold_num))
        self.part = part
        widths = [w * mm for w in SUMMARY_COLUMNS_MM]
        scale = width / sum(widths)
        self.widths = [w * scale for w in widths]

    def row(self, r: int, table_step: Step | None) -> list:
        """Row ``r``'s paragraphs (0 the column headers, 1... the rows, then the totals),
        tagged as cells of ``table_step`` (``None``: to be measured only)."""
        part, n_rows = self.part, len(self.part.rows)
        if r == 0:
            cells, styles = part.columns, self.styles[0]
        elif r <= n_rows:
            cells, styles = part.rows[r - 1].cells, self.styles[1]
        else:
            cells, styles = part.totals[r - 1 - n_rows].cells, self.styles[2]
        out = []
        for c, (text, is_num) in enumerate(zip(cells, _NUMERIC)):
            para = Paragraph(markup(text), styles[1] if is_num else styles[0])
            if table_step is not None:
                if r == 0:
                    cell_step = Step("TH", key=str(c), attrs=(("Scope", "Column"),))
                elif c == 0:
                    cell_step = Step("TH", key=str(c), attrs=(("Scope", "Row"),))
                else:
                    cell_step = Step("TD", key=str(c))
                para.tagged(None, table_step, Step("TR", key=str(r)), cell_step)
            out.append(para)
        return out

    def height(self, r: int) -> float:
        """What ``_summary_table(part, kit, width, [r], header=False).wrap(...)[1]`` gives
        (ReportLab's ``Table._calc_height`` and ``_listCellGeom`` for a row of one
        paragraph a cell, done in the same order; no space before or after a cell's
        paragraph)."""
        v_pad, h_pad = (p * mm for p in _SUMMARY_PAD_MM)
        tallest = 0
        for para, w in zip(self.row(r, None), self.widths):
            assert not para.getSpaceBefore() and not para.getSpaceAfter()
            _, t = para.wrap(w - h_pad - h_pad, 72000 - v_pad - v_pad)
            t += v_pad + v_pad
            if t > tallest:
                tallest = t
        return tallest


_NUMERIC = (False, False, True, True, True, False, False)
"""Which of the summary's columns hold amounts (right-aligned)."""


def _summary_table(part: BundlePart, kit: _Kit, width: float, rows: list[int], *,
                   header: bool = True, key: str = "summary",
                   cells: _SummaryCells | None = None) -> Table:
    """The summary table of ``part`` with ``rows`` (0 the column headers, 1... the rows,
    then the totals); ``header``: whether row 0's style (the band) applies."""
    cells = cells or _SummaryCells(part, kit, width)
    table_step = Step("Table", key=key)
    n_rows = len(part.rows)
    table = Table([cells.row(r, table_step) for r in rows], colWidths=cells.widths)
    data_rows = sum(1 for r in rows if 0 < r <= n_rows)
    totals = sum(1 for r in rows if r > n_rows)
    first_data = 1 if rows and rows[0] == 0 else 0
    v_pad, h_pad = (p * mm for p in _SUMMARY_PAD_MM)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), kit.font),  # else Table selects Helvetica
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), v_pad),
        ("BOTTOMPADDING", (0, 0), (-1, -1), v_pad),
        ("LEFTPADDING", (0, 0), (-1, -1), h_pad),
        ("RIGHTPADDING", (0, 0), (-1, -1), h_pad),
    ]
    if header and first_data:
        style.append(("BACKGROUND", (0, 0), (-1, 0), kit.colours["primary"]))
    if data_rows:
        style.append(("LINEBELOW", (0, first_data), (-1, first_data + data_rows - 1), 0.5,
                      kit.colours["rule"]))
    if totals:
        t = first_data + data_rows
        style += [("BACKGROUND", (0, t), (-1, -1), kit.colours["panel"]),
                  ("LINEABOVE", (0, t), (-1, t), 1.2, kit.colours["accent"])]
    table.setStyle(TableStyle(style))
    return table


_OVERLAY_PAGES = 256
"""Page numbers drawn per overlay document (:func:`_overlay_pdf`): one document for every
page would hold them all (and a ReportLab document of thousands of pages) at once."""


def _overlay_pdf(footers: list[str], kit: _Kit, invariant: bool) -> bytes:
    """One page per string: the string centred in the bottom margin (page numbers), a
    ``Pagination`` artifact."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, "")
    w, _ = A4
    size = kit.type["small_pt"]
    for text in footers:
        with artifact(c, "Pagination"):
            c.setFillColor(kit.colours["muted"])
            c.setFont(kit.font, size)
            c.drawCentredString(w / 2, kit.page["margin_bottom_mm"] * mm / 2, text)
        c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class _Front:
    """A language's front pages as laid out: the entries on each contents page (entry 0 the
    summary, then the sheets), the rows on each summary page (0-based over the rows and the
    totals), the pages the contents entries point at (``None``: not known yet) and the
    front's first page."""

    part: BundlePart
    contents: list[tuple[int, int]]
    summary: list[tuple[int, int]]
    numbers: array | None = None
    start: int = 0

    @property
    def pages(self) -> int:
        return len(self.contents) + len(self.summary)


def _open(source: Path | bytes) -> Pdf:
    """A sheet PDF opened (for the file: :class:`TemplateError` naming it when it is
    missing or no PDF)."""
    if isinstance(source, bytes):
        return Pdf.open(io.BytesIO(source))
    try:
        return Pdf.open(source)
    except (OSError, pikepdf.PdfError) as exc:
        from ...errors import TemplateError

        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise TemplateError(Path(source), f"the PDF sheet cannot be read for the briefing "
                            f"bundle ({why}): build again to write it anew") from exc


class _Plan:
    """The bundle's pages in order, kept as numbers: the sheets are the view's ``sequence``
    in page order (by language, each language's front pages before its sheets; by project,
    both fronts first), so a sheet is known by its index in the sequence, and what is kept
    of it is its page count and first page (arrays: a few bytes a sheet).

    ``segments`` are the runs of pages in order: ``("cover",)``, ``("front", part index)``,
    ``("sheets", first, end)`` (sequence indexes), ``("closing",)``."""

    def __init__(self, bundle: BundleView, counts: array):
        self.bundle, self.counts = bundle, counts
        parts = bundle.parts
        sizes = [len(p.sheets) for p in parts]
        if sum(sizes) != len(bundle.sequence) or len(counts) != len(bundle.sequence):
            raise ValueError("the bundle's sequence is not its parts' sheets")
        self.by_project = bundle.arrangement == "by-project"
        self.offsets = list(itertools.accumulate([0, *sizes]))
        if self.by_project:
            self.segments: list[tuple[str, ...]] = [
                ("cover",), *(("front", p) for p in range(len(parts))),
                ("sheets", 0, len(counts)), ("closing",)]
        else:
            self.segments = [("cover",)]
            for p in range(len(parts)):
                self.segments += [("front", p), ("sheets", self.offsets[p],
                                                 self.offsets[p + 1])]
            self.segments.append(("closing",))
        self.starts = array("Q", bytes(8 * len(counts)))  # sequence index -> first page
        self.fronts: list[_Front] = []
        self.closing = 0

    def index(self, part: int, k: int) -> int:
        """The sequence index of sheet ``k`` of part ``part``."""
        if self.by_project:
            return k * len(self.bundle.parts) + part
        return self.offsets[part] + k

    def check(self) -> None:
        """That the sequence holds each part's sheets where :meth:`index` says (one pass
        over the spills, keeping nothing)."""
        parts = self.bundle.parts
        each = [iter(p.sheets) for p in parts]
        for i, s in enumerate(self.bundle.sequence):
            p = i % len(parts) if self.by_project else \
                next(q for q in range(len(parts)) if i < self.offsets[q + 1])
            t = next(each[p])
            if (s.slug, s.lang) != (t.slug, t.lang):
                raise ValueError(f"the bundle's sequence has sheet {s.slug} ({s.lang}) where "
                                 f"its arrangement puts {t.slug} ({t.lang})")

    def place(self) -> int:
        """Give every run its first page; return the page count."""
        page = 0
        for seg in self.segments:
            if seg[0] == "front":
                self.fronts[seg[1]].start = page
                page += self.fronts[seg[1]].pages
            elif seg[0] == "sheets":
                for i in range(seg[1], seg[2]):
                    self.starts[i] = page
                    page += self.counts[i]
            else:
                if seg[0] == "closing":
                    self.closing = page
                page += 1
        return page

    def targets(self, p: int) -> array:
        """The page each contents entry of part ``p`` points at (entry 0 its summary)."""
        front = self.fronts[p]
        out = array("Q", [front.start + len(front.contents)])
        out.extend(self.starts[self.index(p, k)] for k in range(len(front.part.sheets)))
        return out

    def drawn_pages(self) -> Iterator[int]:
        """The pages drawn here (cover, fronts, closing)."""
        for seg in self.segments:
            if seg[0] == "front":
                front = self.fronts[seg[1]]
                yield from range(front.start, front.start + front.pages)
        yield 0
        yield self.closing

    def footers(self) -> Iterator[str]:
        """The page number printed on every page but the cover, in page order."""
        bundle = self.bundle
        by_lang = {p.lang: p for p in bundle.parts}
        sheets = iter(bundle.sequence)  # the runs of sheets come in sequence order
        for seg in self.segments[1:]:
            if seg[0] == "front":
                front = self.fronts[seg[1]]
                for n in range(front.start, front.start + front.pages):
                    yield front.part.page_footer(n)
            elif seg[0] == "sheets":
                for i in range(seg[1], seg[2]):
                    part = by_lang[next(sheets).lang]
                    for n in range(self.starts[i], self.starts[i] + self.counts[i]):
                        yield part.page_footer(n)
            else:
                yield bundle.parts[0].page_number(self.closing)


def _arrange(bundle: BundleView, kit: _Kit, counts: array) -> tuple[_Plan, int]:
    """The plan of the bundle with its fronts laid out with the page numbers they print,
    and the page count.

    The summaries print no page number: each is laid out once.  The contents are laid out
    with the numbers found the last time (none the first time), until the numbers stop
    changing (in practice twice)."""
    plan = _Plan(bundle, counts)
    plan.check()
    plan.fronts = [_Front(p, [], _summary_layout(p, kit)) for p in bundle.parts]
    total = 0
    for _ in range(3):
        for front in plan.fronts:
            front.contents = _contents_layout(front.part, kit, front.numbers)
        total = plan.place()
        wanted = [plan.targets(p) for p in range(len(plan.fronts))]
        if all(w == f.numbers for w, f in zip(wanted, plan.fronts)):
            break
        for w, front in zip(wanted, plan.fronts):
            front.numbers = w
    return plan, total


def render_bundle_pdf(bundle: BundleView, sheet_pdfs: Mapping[tuple[str, str], Path | bytes],
                      theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle PDF as bytes (:func:`write_bundle_pdf` into memory): for tests and
    callers that hold the sheets' bytes."""
    out = io.BytesIO()
    write_bundle_pdf(bundle, sheet_pdfs, theme, out, invariant=invariant)
    return out.getvalue()


def write_bundle_pdf(bundle: BundleView, sheet_pdfs: Mapping[tuple[str, str], Path | bytes],
                     theme: Theme, target: BinaryIO, *, invariant: bool = False) -> int:
    """Write the bundle PDF to ``target``: front pages drawn here, sheet pages (with their
    trees) from ``sheet_pdfs``; return its page count.

    ``sheet_pdfs`` maps ``(slug, lang)`` to the single-sheet PDF (its file, or its bytes) of
    every sheet in ``bundle.sequence``; if it has a ``page_count(key)`` method giving each
    sheet's page count (or None: not known), the sheets are not opened to count them.  The file is written as a stream
    (:mod:`.incremental`): each sheet is opened when its turn comes, its objects written
    renumbered (streams as stored) and the sheet closed, keeping only the numbers of its
    pages and its structure element and its ParentTree entries; then the pages drawn here,
    laid out page by page first and drawn and written :data:`_CHUNK_PAGES` at a time (one
    summary table a page, its column headers repeated); then the page tree, the structure
    tree, the outline and the document level.  Memory does not grow with the sheets' size
    nor (but for a few numbers a sheet, in arrays) with their number.

    ``invariant`` fixes dates and ids (``SOURCE_DATE_EPOCH``) so equal input gives equal
    bytes.  Raises :class:`~nexusreports.errors.TemplateError` for an unusable theme font or
    a sheet file that is missing or no PDF, and ``KeyError`` for a sheet not in
    ``sheet_pdfs``.
    """
    kit = _kit(theme)
    counts = array("I")
    # (a mapping that knows the sheets' page counts saves opening each sheet twice)
    known = getattr(sheet_pdfs, "page_count", None)
    for s in bundle.sequence:
        count = known((s.slug, s.lang)) if known is not None else None
        if count is None:
            with _open(sheet_pdfs[(s.slug, s.lang)]) as pdf:
                count = len(pdf.pages)
        counts.append(count)
    plan, total = _arrange(bundle, kit, counts)

    out = _Out(Writer(target), total)
    for n in sorted(plan.drawn_pages()):  # the pages drawn here: numbered now, written last
        out.page_nums[n] = out.w.reserve()
    # Page numbers, stamped over every page but the cover; the sheets keep their layout.
    footers = plan.footers()
    while chunk := list(itertools.islice(footers, _OVERLAY_PAGES)):  # memory flat over pages
        out.stamps(_overlay_pdf(chunk, kit, invariant))
        heap.give_back()
    elements = array("Q", bytes(8 * len(counts)))  # sequence index -> its Part element
    for i, s in enumerate(bundle.sequence):
        elements[i] = out.sheet(sheet_pdfs[(s.slug, s.lang)], plan.starts[i], s.locale_id)
        if i % heap.EVERY == heap.EVERY - 1:
            heap.give_back()  # (what qpdf freed of the sheets so far: see ..heap)
    stamp = None
    drawn: dict[tuple[str, int], int] = {}  # (kind, part index) -> its structure element
    for seg in plan.segments:  # the pages drawn here, in page order
        if seg[0] in ("cover", "closing"):
            piece = (_cover_pdf if seg[0] == "cover" else _closing_pdf)(bundle, kit, invariant)
            if seg[0] == "cover":
                with Pdf.open(io.BytesIO(piece.data)) as first:
                    # dated as ReportLab dated the pages drawn here (SOURCE_DATE_EPOCH when
                    # invariant)
                    stamp = creation_stamp(first)
            root = piece.tree.finished()
            num = out.w.reserve()
            page = 0 if seg[0] == "cover" else plan.closing
            out.part(num, root, out.drawn(piece.data, root, page, num))
            drawn[(seg[0], 0)] = num
        elif seg[0] == "front":
            drawn[("front", seg[1])] = _write_front(out, bundle, plan.fronts[seg[1]],
                                                    plan.targets(seg[1]), kit, invariant)

    def parts() -> Iterator[int]:  # the structure elements in page order
        for seg in plan.segments:
            if seg[0] == "sheets":
                yield from elements[seg[1]:seg[2]]
            else:
                yield drawn[(seg[0], seg[1] if seg[0] == "front" else 0)]

    out.finish(parts(), _outline(out, bundle, plan), metadata(bundle.info, stamp),
               icc_profile(theme))
    return total


def _write_front(out: _Out, bundle: BundleView, front: _Front, targets: array, kit: _Kit,
                 invariant: bool) -> int:
    """Draw and write a language's contents and summary, chunk by chunk, the contents' links
    pointing at the pages they name; return its ``Part`` element's number."""
    num = out.w.reserve()
    kids: list[int] = []
    step = None  # the Part's (not a chunk's whole tree: it is written already)
    for at, data, tree, record in _contents_chunks(bundle, front, kit, invariant):
        links = [(page, rect, targets[key], text) for page, rect, key, text in record.links]
        kids += out.drawn(data, tree, front.start + at, num, links)
        step = step or tree.step
        heap.give_back()
    for at, data, tree in _summary_chunks(bundle, front, kit, invariant):
        kids += out.drawn(data, tree, front.start + at, num)
        step = step or tree.step
        heap.give_back()
    assert step is not None
    out.part(num, Element(step), kids)
    return num


class _Out:
    """The bundle file under construction: the :class:`.incremental.Writer` and what the
    parts written so far left behind (page object numbers, ParentTree entries)."""

    def __init__(self, writer: Writer, pages: int):
        self.w = writer
        self.catalog, self.page_tree, self.tree_root, self.document = (
            writer.reserve() for _ in range(4))
        self.page_nums = array("Q", bytes(8 * pages))  # page index -> its page object
        # the page tree, balanced: levels of nodes of at most _PAGE_FAN kids, numbered now
        # (a page names its node as it is written), the top one the root
        self.levels: list[array] = []
        count = pages
        while count > _PAGE_FAN:
            count = -(-count // _PAGE_FAN)
            self.levels.append(array("Q", (writer.reserve() for _ in range(count))))
        self.forms = array("Q")  # page index - 1 -> the form drawing its page number
        # ParentTree entries (key, value as text) not written yet, in key order, and the
        # leaves written (first key, last key, number): at most 256 entries are held
        self.nums: list[tuple[int, bytes]] = []
        self.leaves: list[tuple[int, int, int]] = []
        self.next_key = 0
        # what every stamped page's contents begin and end with
        self.begin = writer.new_stream(b"<< >>", b"q")
        self.end = writer.new_stream(b"<< >>", b"Q q /Artifact BMC /NxPageNumber Do EMC Q")

    def stamps(self, overlay: bytes) -> None:
        """Each page of ``overlay`` as a form XObject (its content as stored)."""
        with Pdf.open(io.BytesIO(overlay)) as pdf:
            fix_to_unicode(pdf)
            copy = Copy(self.w, pdf)
            for page in pdf.pages:
                contents = page.obj.Contents
                if isinstance(contents, Array):  # (ReportLab writes one stream a page)
                    data, head = b"".join(c.read_bytes() for c in contents), Dictionary()
                else:
                    head, data = stream_data(contents)
                head.Type, head.Subtype = Name.XObject, Name.Form
                head.BBox = page.obj.MediaBox
                head.Resources = page.obj.Resources
                self.forms.append(self.w.new_stream(copy.text(head), data))
            copy.drain()

    def _stamp(self, page: pikepdf.Object, index: int) -> None:
        """Draw the page number of page ``index`` over ``page`` as a form XObject under a
        fixed name, the page's own contents in ``q``/``Q``."""
        if index == 0:
            return  # the cover
        res = page.get("/Resources")
        res = Dictionary(dict(res.items())) if res is not None else Dictionary()
        xobjects = res.get("/XObject")
        xobjects = Dictionary(dict(xobjects.items())) if xobjects is not None else Dictionary()
        xobjects.NxPageNumber = ref(self.forms[index - 1])
        res.XObject = xobjects
        page.Resources = res
        contents = page.get("/Contents")
        old = list(contents) if isinstance(contents, Array) else [contents]
        page.Contents = Array([ref(self.begin), *old, ref(self.end)])

    def sheet(self, source: Path | bytes, start: int, locale_id: str) -> int:
        """Copy a sheet: its pages (stamped, ``/StructParents`` and annotations'
        ``/StructParent`` moved past the keys used so far) and its structure tree (its top
        element as a ``Part`` in the sheet's language); return that element's number."""
        with _open(source) as pdf:
            tree = pdf.Root.StructTreeRoot
            copy = Copy(self.w, pdf, {pdf.Root.Pages.objgen: self.page_tree,
                                      tree.objgen: self.document})
            offset = self.next_key
            entries = _number_tree(tree.get("/ParentTree"))
            for key, value in entries:
                self._num(offset + key, copy.text(value))
            self.next_key = offset + int(tree.get("/ParentTreeNextKey",
                                                  max((k for k, _ in entries), default=-1) + 1))
            for i, page in enumerate(pdf.pages):
                obj = page.obj
                if "/StructParents" in obj:
                    obj.StructParents = offset + int(obj.StructParents)
                for annot in obj.get("/Annots", ()):
                    if "/StructParent" in annot:
                        annot.StructParent = offset + int(annot.StructParent)
                self._stamp(obj, start + i)
                obj.Parent = ref(self._node(start + i))
                self.page_nums[start + i] = copy.number(obj)
            kids = tree.K
            part = kids[0] if isinstance(kids, Array) else kids
            part.S = Name.Part
            part.Lang = String(locale_id or "")
            number = copy.number(part)
            copy.drain()
        return number

    def drawn(self, data: bytes, tree: Element, start: int, parent: int,
              links: list[tuple[int, tuple[float, float, float, float], int, str]] = ()
              ) -> list[int]:
        """Copy pages drawn here (``data``, their page objects numbered already: the bundle's
        pages ``start``...), stamped, with link annotations ``links`` (page within
        ``data``, rectangle, bundle page it points at, text), and write the structure
        elements under ``tree`` (recorded on ``data``'s pages) as kids of ``parent``;
        return their numbers."""
        with Pdf.open(io.BytesIO(data)) as pdf:
            copy = Copy(self.w, pdf, {pdf.Root.Pages.objgen: self.page_tree})
            pages = []
            for j, page in enumerate(pdf.pages):
                num = self.page_nums[start + j]
                copy.numbers[page.obj.objgen] = num
                copy.queue.append(page.obj.objgen)
                pages.append(num)
            # printable, with the entry as /Contents, in the order they were drawn (the
            # order their Link elements refer to them by)
            for page, rect, target, text in links:
                annot = pdf.make_indirect(Dictionary(
                    Type=Name.Annot, Subtype=Name.Link, Rect=Array(list(rect)), F=4,
                    Border=Array([0, 0, 0]), Contents=String(text),
                    Dest=Array([ref(self.page_nums[target]), Name.Fit])))
                holder = pdf.pages[page].obj
                if "/Annots" not in holder:
                    holder.Annots = Array()
                holder.Annots.append(annot)
            found = {}  # (page, index among its links) -> annotation number
            for j, page in enumerate(pdf.pages):
                annots = [a for a in page.obj.get("/Annots", ()) if a.get("/Subtype") ==
                          Name.Link]
                found.update({(j, k): copy.number(a) for k, a in enumerate(annots)})
            text = _TreeText(self.w, pages, found)
            kids = [n for kid in tree.kids if isinstance(kid, Element)
                    for n in [text.write(kid, parent)] if n is not None]
            fix_to_unicode(pdf)
            self._parent_tree(pdf, copy, text)
            for j, page in enumerate(pdf.pages):
                self._stamp(page.obj, start + j)
                page.obj.Parent = ref(self._node(start + j))
            copy.drain()
        return kids

    def part(self, num: int, root: Element, kids: list[int]) -> None:
        """The ``Part`` element ``num`` (``root``'s step) holding ``kids``, in the document
        element."""
        refs = [b"%d 0 R" % k for k in kids]
        body = [b"<< /K " + (refs[0] if len(refs) == 1 else b"[ %s ]" % b" ".join(refs))]
        if root.step.lang:
            body.append(b"/Lang " + _string(root.step.lang))
        body.append(b"/P %d 0 R /S /Part /Type /StructElem >>" % self.document)
        self.w.object(num, b" ".join(body))

    def _parent_tree(self, pdf: Pdf, copy: Copy, tree: _TreeText) -> None:
        """ParentTree entries for the pages drawn here (as :func:`.archive.link_parent_tree`
        makes them), keyed after the sheets'."""
        for i, page in enumerate(pdf.pages):
            if i in tree.marks:
                by_mcid = tree.marks[i]
                if sorted(by_mcid) != list(range(len(by_mcid))):
                    raise ValueError(f"page {i + 1}: MCIDs {sorted(by_mcid)} are not 0..n-1")
                page.obj.StructParents = self.next_key
                refs = b" ".join(b"%d 0 R" % by_mcid[n] for n in range(len(by_mcid)))
                self._num(self.next_key, b"[ %s ]" % refs)
                self.next_key += 1
            if "/Annots" in page.obj and len(page.obj.Annots):
                page.obj.Tabs = Name.S
        annots = {copy.number(a): a for page in pdf.pages for a in page.obj.get("/Annots", ())}
        for annot, elem in tree.objrs:
            annots[annot].StructParent = self.next_key
            self._num(self.next_key, b"%d 0 R" % elem)
            self.next_key += 1

    def finish(self, parts: list[int], outline: int, meta: Metadata, icc: bytes) -> None:
        """Page tree, structure tree, document level, cross-reference table."""
        w = self.w
        self._page_tree()
        w.object_of(self.document, itertools.chain(  # (every sheet's element: 4,096 a piece)
            [b"<< /K [ "], _joined_refs(parts),
            [b" ] /P %d 0 R /S /Document /Type /StructElem >>" % self.tree_root]))
        w.object(self.tree_root, b"<< /K [ %d 0 R ] /ParentTree %d 0 R /ParentTreeNextKey %d "
                 b"/Type /StructTreeRoot >>" % (self.document, self._write_nums(),
                                               self.next_key))
        profile = w.new_stream(b"<< /Filter /FlateDecode /N 3 >>", deflate(icc))
        assert meta.stamp is not None
        xml = w.new_stream(b"<< /Subtype /XML /Type /Metadata >>", xmp(meta))
        s = _string
        info = w.new(b"<< /Author %s /CreationDate %s /Creator %s /Keywords %s /ModDate %s "
                     b"/Producer %s /Subject %s /Title %s >>" % (
                         s(meta.author), s(meta.stamp), s(meta.creator), s(meta.keywords),
                         s(meta.stamp), s(PRODUCER), s(meta.subject), s(meta.title)))
        w.object(self.catalog, b"<< /Lang %s /MarkInfo << /Marked true >> /Metadata %d 0 R "
                 b"/Outlines %d 0 R /OutputIntents [ << /DestOutputProfile %d 0 R /Info %s "
                 b"/OutputConditionIdentifier %s /S /GTS_PDFA1 /Type /OutputIntent >> ] "
                 b"/PageLabels << /Nums [ 0 << /P () >> 1 << /S /D /St 1 >> ] >> "
                 b"/PageMode /UseOutlines /Pages %d 0 R /StructTreeRoot %d 0 R /Type /Catalog "
                 b"/ViewerPreferences << /DisplayDocTitle true >> >>" % (
                     s(meta.language), xml, outline, profile, s("sRGB IEC61966-2.1"),
                     s("sRGB IEC61966-2.1"), self.page_tree, self.tree_root))
        w.finish(self.catalog, info)

    def _node(self, page: int) -> int:
        """The page tree node holding page ``page``."""
        return self.levels[0][page // _PAGE_FAN] if self.levels else self.page_tree

    def _page_tree(self) -> None:
        """The page tree: each level's nodes over the one below (the pages first), the root
        over the top level."""
        below, size = self.page_nums, 1  # the nodes of the level below, pages under each
        pages = len(self.page_nums)
        for level, nodes in enumerate([*self.levels, array("Q", [self.page_tree])]):
            up = self.levels[level + 1] if level + 1 < len(self.levels) else None
            for n, num in enumerate(nodes):
                kids = below[n * _PAGE_FAN:(n + 1) * _PAGE_FAN]
                first = n * _PAGE_FAN * size
                count = min(pages, first + _PAGE_FAN * size) - first
                parent = b"" if num == self.page_tree else b" /Parent %d 0 R" % (
                    up[n // _PAGE_FAN] if up is not None else self.page_tree)
                self.w.object(num, b"<< /Count %d /Kids [ %s ]%s /Type /Pages >>" % (
                    count, b" ".join(b"%d 0 R" % k for k in kids), parent))
            below, size = nodes, size * _PAGE_FAN

    def _num(self, key: int, value: bytes) -> None:
        """A ParentTree entry (keys come in increasing order): written out in leaves of
        256 entries as they fill."""
        if self.nums and key <= self.nums[-1][0] or self.leaves and key <= self.leaves[-1][1]:
            raise ValueError(f"ParentTree key {key} out of order")
        if len(self.nums) == _LEAF:
            self._leaf()
        self.nums.append((key, value))

    def _leaf(self) -> None:
        nums, self.nums = self.nums, []
        self.leaves.append((nums[0][0], nums[-1][0], self.w.new(
            b"<< /Limits [ %d %d ] /Nums [ %s ] >>" % (nums[0][0], nums[-1][0], _entries(nums)))))

    def _write_nums(self) -> int:
        """The ParentTree (a number tree, in leaves of at most 256 entries)."""
        if not self.leaves:
            return self.w.new(b"<< /Nums [ %s ] >>" % _entries(self.nums))
        if self.nums:
            self._leaf()
        return self.w.new(b"<< /Kids [ %s ] >>" % b" ".join(b"%d 0 R" % n
                                                          for *_, n in self.leaves))


_LEAF = 256

_PAGE_FAN = 64
"""Most kids of a page tree node: the page tree is balanced, not one array of every page."""


def _entries(leaf: list[tuple[int, bytes]]) -> bytes:
    return b" ".join(b"%d %s" % kv for kv in leaf)


class _TreeText:
    """Structure elements recorded while drawing (:class:`.tagging.Element`) written straight
    into the file, as :func:`.archive.write_tree` writes them into a pikepdf document (the
    same elements and keys), keeping only numbers: what each page's MCIDs belong to
    (``marks``) and each link annotation's element (``objrs``).  ``pages`` maps the pages
    the elements were recorded on to their objects, ``links`` (page, index among its
    links) to the link annotations."""

    def __init__(self, writer: Writer, pages: list[int], links: Mapping[tuple[int, int], int]):
        self.w, self.pages, self.links = writer, pages, links
        self.marks: dict[int, dict[int, int]] = {}
        self.objrs: list[tuple[int, int]] = []

    @staticmethod
    def _kept(elem: Element) -> bool:
        """Whether writing ``elem`` gives an element (:func:`.archive.write_tree` drops one
        with no content at all, but an empty table cell)."""
        step = elem.step
        return bool(step.actual or step.alt or step.role in ("TD", "TH") or any(
            not isinstance(kid, Element) or _TreeText._kept(kid) for kid in elem.kids))

    def write(self, elem: Element, parent: int, page_offset: int = 0) -> int | None:
        """Write ``elem`` (recorded on pages ``page_offset``...) and its descendants under
        ``parent``; its number (``None``: nothing written, as for no content at all)."""
        if not self._kept(elem):
            return None
        step = elem.step
        num = self.w.reserve()
        kids: list[bytes] = []
        first = next((k.page for k in elem.kids if isinstance(k, MarkedRef)), None)
        for kid in elem.kids:
            if isinstance(kid, Element):
                written = self.write(kid, num, page_offset)
                if written is not None:
                    kids.append(b"%d 0 R" % written)
            elif isinstance(kid, MarkedRef):
                page = page_offset + kid.page
                self.marks.setdefault(page, {})[kid.mcid] = num
                kids.append(b"%d" % kid.mcid if kid.page == first else
                            b"<< /MCID %d /Pg %d 0 R /Type /MCR >>" % (kid.mcid,
                                                                        self.pages[page]))
            else:
                page = page_offset + kid.page
                annot = self.links[(page, kid.index)]
                kids.append(b"<< /Obj %d 0 R /Pg %d 0 R /Type /OBJR >>" % (annot,
                                                                          self.pages[page]))
                self.objrs.append((annot, num))
        single = len(kids) == 1 and not kids[0].startswith(b"<<")
        body = [b"<<"]
        a = attributes(step)
        if a is not None:
            body.append(b"/A " + a.unparse())
        if step.actual is not None:
            body.append(b"/ActualText " + _string(step.actual))
        if step.alt is not None:
            body.append(b"/Alt " + _string(step.alt))
        body.append(b"/K " + (kids[0] if single else b"[ %s ]" % b" ".join(kids)))
        if step.lang:
            body.append(b"/Lang " + _string(step.lang))
        body.append(b"/P %d 0 R" % parent)
        if first is not None:
            body.append(b"/Pg %d 0 R" % self.pages[page_offset + first])
        body.append(b"/S " + Name("/" + step.role).unparse() + b" /Type /StructElem >>")
        self.w.object(num, b" ".join(body))
        return num


def _joined_refs(nums: Iterable[int], per: int = 4096) -> Iterator[bytes]:
    """``b" ".join(b"%d 0 R" % n for n in nums)`` in pieces of ``per`` references."""
    it = iter(nums)
    sep = b""
    while chunk := list(itertools.islice(it, per)):
        yield sep + b" ".join(b"%d 0 R" % n for n in chunk)
        sep = b" "


def _string(text: str) -> bytes:
    return String(text).unparse()


def _number_tree(node: pikepdf.Object | None) -> list[tuple[int, pikepdf.Object]]:
    """The entries of a number tree, in order."""
    if node is None:
        return []
    out = []
    nums = node.get("/Nums")
    if nums is not None:
        out += [(int(nums[i]), nums[i + 1]) for i in range(0, len(nums), 2)]
    for kid in node.get("/Kids", ()):
        out += _number_tree(kid)
    return out


_OUTLINE_FAN = 50
"""Most outline items under one item.  Readers walk an outline's ``/Next`` chains as
nested references (page-validation stops at 256 deep): a language's projects beyond this
many are grouped (closed items spanning first to last, nested as deep as needed, each
holding at most this many), so no chain is longer and the outline opens on a short list."""


def _outline(out: _Out, bundle: BundleView, plan: _Plan) -> int:
    """Language > Contents, Summary, projects (every item open, as pikepdf writes them;
    the projects grouped when there are more than :data:`_OUTLINE_FAN`); returns the
    outline dictionary's number."""
    w = out.w
    root = w.reserve()
    tops = [(part, plan.fronts[p].start, plan.targets(p)) for p, part in enumerate(bundle.parts)]
    top_nums = [w.reserve() for _ in tops]
    visible = len(tops)

    def items(num: int, part: BundlePart, targets: array, children: list[tuple]) -> tuple:
        """Write ``children`` under item ``num``: (text, target) items, or (lo, hi) groups
        of the sheets' entries lo...hi-1; return the first and last kid's numbers."""
        kids = array("Q", (w.reserve() for _ in children))
        for c, (child, kid) in enumerate(zip(children, kids)):
            links = b"".join([b" /Next %d 0 R" % kids[c + 1] if c + 1 < len(kids) else b"",
                              b" /Prev %d 0 R" % kids[c - 1] if c else b""])
            if isinstance(child[0], str):
                text, target = child
                w.object(kid, b"<< /Count 0 /Dest [ %d 0 R /Fit ]%s /Parent %d 0 R /Title %s >>"
                         % (out.page_nums[target], links, num, _string(text)))
                continue
            lo, hi = child
            inner = _groups(part, targets, lo, hi)
            first, last = items(kid, part, targets, inner)
            text = part.range_word.format(low=_entry(part, lo), high=_entry(part, hi - 1))
            w.object(kid, b"<< /Count -%d /Dest [ %d 0 R /Fit ] /First %d 0 R /Last %d 0 R%s "
                     b"/Parent %d 0 R /Title %s >>" % (len(inner), out.page_nums[targets[lo]],
                                                      first, last, links, num, _string(text)))
        return kids[0], kids[-1]

    for t, ((part, page, targets), num) in enumerate(zip(tops, top_nums)):
        title = part.language
        # Contents, then every entry of the contents (the summary, the sheets)
        children = [(part.contents, page), (part.summary, targets[0]),
                    *_groups(part, targets, 1, len(targets))]
        first, last = items(num, part, targets, children)
        visible += len(children)
        links = b"".join([b" /Next %d 0 R" % top_nums[t + 1] if t + 1 < len(tops) else b"",
                          b" /Prev %d 0 R" % top_nums[t - 1] if t else b""])
        w.object(num, b"<< /Count %d /Dest [ %d 0 R /Fit ] /First %d 0 R /Last %d 0 R%s "
                 b"/Parent %d 0 R /Title %s >>" % (len(children), out.page_nums[page], first,
                                                   last, links, root, _string(title)))
    first = b" /First %d 0 R /Last %d 0 R" % (top_nums[0], top_nums[-1]) if tops else b""
    w.object(root, b"<< /Count %d%s /Type /Outlines >>" % (visible, first))
    return root


def _groups(part: BundlePart, targets: array, lo: int, hi: int) -> list[tuple]:
    """The outline items for the sheets' contents entries ``lo...hi-1``: each entry, or
    when there are more than :data:`_OUTLINE_FAN` at most that many groups (lo, hi) of
    equal size, each a power of the same fan-out (a balanced tree)."""
    n = hi - lo
    if n <= _OUTLINE_FAN:
        return [(_entry(part, i), targets[i]) for i in range(lo, hi)]
    levels = 1
    while _OUTLINE_FAN ** levels < n:
        levels += 1
    fan = 2
    while fan ** levels < n:
        fan += 1
    step = fan ** (levels - 1)
    return [(a, min(a + step, hi)) for a in range(lo, hi, step)]


def page_count(pdf: bytes) -> int:
    """Number of pages of PDF bytes."""
    with Pdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


__all__ = ["page_count", "render_bundle_pdf", "write_bundle_pdf"]
