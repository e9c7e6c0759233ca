"""The briefing bundle as one PDF: :func:`render_bundle_pdf`.

The sheet pages *are* the single-sheet PDFs (the bytes :func:`.sheet.render_pdf` produced),
merged with pypdf; only the cover, each language's contents and summary pages and the closing
page are drawn here, with ReportLab in the theme's fonts.  pypdf then adds the outline
(language > Contents, Summary, projects), link annotations on the contents entries, page
labels (cover unlabelled, then 1, 2, ...), the page numbers (stamped onto every page but the
cover as an overlay, so the sheets keep their layout), ``/PageMode /UseOutlines`` and the
document info.

Page sequence, arrangement ``by-language``: cover; per language: contents, summary, that
language's sheets; closing.  Arrangement ``by-project``: cover; contents and summary of each
language; each project's Dutch sheet followed by its English one; closing.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from pypdf.generic import NameObject, TextStringObject
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate,
                                Paragraph, Spacer, Table, TableStyle)

from ...theme import Theme
from ...view import BundlePart, BundleView
from .. import SUMMARY_COLUMNS_MM, stamp_time
from .sheet import CREATOR, markup, new_canvas, register_fonts

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


def _cover_pdf(bundle: BundleView, kit: _Kit, invariant: bool) -> bytes:
    """The bilingual cover: the first language on the primary band, the second below it."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, bundle.info.language)
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
                                                      leading=34, textColor=main))
        sub = Paragraph(markup(cover.subtitle), kit.style("cs", fontSize=15, leading=19,
                                                       textColor=second))
        date = Paragraph(markup(cover.date), kit.style("cd", fontSize=12, leading=15,
                                                    textColor=main))
        # The first language sits on the band's lower edge; the second hangs below it.
        blocks = [title, Spacer(1, 3 * mm), sub, Spacer(1, 5 * mm), date]
        heights = [b.wrap(text_w, h)[1] for b in blocks]
        y = top + sum(heights) if top is tops[0] else top
        for block, bh in zip(blocks, heights):
            y -= bh
            block.drawOn(c, ml, y)
    c.setTitle(bundle.info.title)
    c.showPage()
    c.save()
    return buf.getvalue()


def _closing_pdf(bundle: BundleView, kit: _Kit, invariant: bool) -> bytes:
    """The closing page: the closing line in every language, centred."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, bundle.info.language)
    w, h = A4
    text_w = w - 4 * kit.page["margin_left_mm"] * mm
    colours = [kit.colours["primary"], kit.colours["accent"]]
    y = h * 0.58
    for i, line in enumerate(bundle.closing):
        para = Paragraph(markup(line), kit.style("cl", fontName=kit.bold if i == 0 else kit.font,
                                              fontSize=22 if i == 0 else 16,
                                              leading=27 if i == 0 else 20,
                                              alignment=TA_CENTER,
                                              textColor=colours[i % len(colours)]))
        _, ph = para.wrap(text_w, h)
        para.drawOn(c, (w - text_w) / 2, y - ph)
        y -= ph + 8 * mm
    c.setFillColor(kit.colours["accent"])
    c.rect(w / 2 - 20 * mm, y - 4 * mm, 40 * mm, 1.6 * mm, stroke=0, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class _Record:
    """What drawing the front matter of one language found: where each contents entry
    was drawn (page within the part, rectangle in pt) and on which page the summary starts."""

    links: list[tuple[int, tuple[float, float, float, float], str]] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)


class _TocEntry(Flowable):
    """One contents line: text, a dotted leader, the page number; records its rectangle."""

    def __init__(self, key: str, text: str, number: str, kit: _Kit, record: _Record):
        super().__init__()
        self.key, self.number, self.kit, self.record = key, number, kit, record
        self.size = kit.type["body_pt"] + 2
        self.para = Paragraph(markup(text), kit.style("toc", fontSize=self.size,
                                                  leading=self.size * 1.25))

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.num_w = pdfmetrics.stringWidth(self.number, self.kit.font, self.size)
        self.text_w = aw - self.num_w - 14 * mm
        _, ph = self.para.wrap(self.text_w, ah)
        self.width, self.height = aw, ph + 3.2 * mm
        return self.width, self.height

    def draw(self) -> None:
        c, k = self.canv, self.kit
        y = self.height - self.para.height
        self.para.drawOn(c, 0, y)
        base = y + self.size * 0.3  # baseline of the last line
        last = self.para.blPara.lines[-1]
        extra = last[0] if isinstance(last, tuple) else last.extraSpace
        c.setFillColor(k.colours["primary"])
        c.setFont(k.font, self.size)
        c.drawRightString(self.width, base, self.number)
        c.setStrokeColor(k.colours["rule"])
        c.setDash(0.6, 2.4)
        c.setLineWidth(0.8)
        c.line(self.text_w - extra + 2 * mm, base + 0.5, self.width - self.num_w - 2 * mm,
               base + 0.5)
        c.setDash()
        x0, y0 = c.absolutePosition(0, 0)
        x1, y1 = c.absolutePosition(self.width, self.height)
        self.record.links.append((c.getPageNumber() - 1, (x0, y0, x1, y1), self.key))


class _Mark(Flowable):
    """Zero-size flowable that records the (0-based) page it lands on under ``key``."""

    def __init__(self, key: str, record: _Record):
        super().__init__()
        self.key, self.record = key, record

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.record.marks[self.key] = self.canv.getPageNumber() - 1


def _front_pdf(bundle: BundleView, part: BundlePart, kit: _Kit, numbers: Mapping[str, str],
               invariant: bool) -> tuple[bytes, int, _Record]:
    """Contents and summary of ``part``; ``numbers`` maps entry keys ("summary" or a
    sheet slug) to the page numbers printed.  Returns the bytes, the page count and what
    was recorded while drawing."""
    record = _Record()
    buf = io.BytesIO()
    w, h = A4
    ml, mr = kit.page["margin_left_mm"] * mm, kit.page["margin_right_mm"] * mm
    band_h = kit.page["header_height_mm"] * mm
    top = h - band_h - kit.page["gap_below_header_mm"] * mm
    bottom = (kit.page["margin_bottom_mm"] + kit.page["footer_height_mm"]) * mm
    title = next(c.title for c in bundle.covers if c.lang == part.lang)

    def band(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFillColor(kit.colours["primary"])
        canvas.rect(0, h - band_h, w, band_h, stroke=0, fill=1)
        canvas.setFillColor(kit.colours["accent_light"])
        canvas.setFont(kit.font, kit.type["subtitle_pt"])
        canvas.drawString(ml, h - 12 * mm, title)
        canvas.setFillColor(kit.colours["on_primary"])
        canvas.setFont(kit.bold, kit.type["title_pt"])
        canvas.drawString(ml, h - band_h + 8 * mm, part.language)
        canvas.restoreState()

    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=ml, rightMargin=mr, topMargin=h - top,
                          bottomMargin=bottom, initialFontName=kit.font,
                          initialFontSize=kit.type["body_pt"], invariant=1 if invariant else 0,
                          pageCompression=1, lang=part.locale_id, title=bundle.info.title,
                          creator=CREATOR)
    frame = Frame(ml, bottom, w - ml - mr, top - bottom, leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate("front", frames=[frame], onPage=band)])
    heading = kit.style("h", fontName=kit.bold, fontSize=kit.type["title_pt"] - 4,
                        leading=(kit.type["title_pt"] - 4) * 1.2,
                        textColor=kit.colours["primary"], spaceAfter=6 * mm)
    story: list[Flowable] = [Paragraph(markup(part.contents), heading)]
    story.append(_TocEntry("summary", part.summary, numbers.get("summary", ""), kit, record))
    for sheet in part.sheets:
        story.append(_TocEntry(sheet.slug, sheet.project_name, numbers.get(sheet.slug, ""),
                               kit, record))
    story += [PageBreak(), _Mark("summary", record), Paragraph(markup(part.summary), heading),
              _summary_table(part, kit, w - ml - mr)]
    doc.build(story)
    data = buf.getvalue()
    return data, len(PdfReader(io.BytesIO(data)).pages), record


def _summary_table(part: BundlePart, kit: _Kit, width: float) -> Table:
    size = kit.type["small_pt"] + 0.9
    cell = kit.style("cell", fontSize=size, leading=size * 1.25)
    num = kit.style("num", parent=cell, alignment=TA_RIGHT)
    head = kit.style("head", parent=cell, fontName=kit.bold, textColor=kit.colours["on_primary"])
    head_num = kit.style("head_num", parent=head, alignment=TA_RIGHT)
    bold = kit.style("bold", parent=cell, fontName=kit.bold)
    bold_num = kit.style("bold_num", parent=bold, alignment=TA_RIGHT)
    numeric = (False, False, True, True, True, False, False)

    def row(cells: tuple[str, ...], styles: tuple[ParagraphStyle, ParagraphStyle]) -> list:
        return [Paragraph(markup(text), styles[1] if is_num else styles[0])
                for text, is_num in zip(cells, numeric)]

    data = [row(part.columns, (head, head_num))]
    data += [row(r.cells, (cell, num)) for r in part.rows]
    data += [row(r.cells, (bold, bold_num)) for r in part.totals]
    widths = [w * mm for w in SUMMARY_COLUMNS_MM]
    scale = width / sum(widths)
    table = Table(data, colWidths=[w * scale for w in widths], repeatRows=1)
    n_rows, n_totals = len(part.rows), len(part.totals)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), kit.font),  # else Table selects Helvetica
        ("BACKGROUND", (0, 0), (-1, 0), kit.colours["primary"]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6 * mm),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6 * mm),
        ("LEFTPADDING", (0, 0), (-1, -1), 1.4 * mm),
        ("RIGHTPADDING", (0, 0), (-1, -1), 1.4 * mm),
        ("LINEBELOW", (0, 1), (-1, n_rows), 0.5, kit.colours["rule"]),
    ]
    if n_totals:
        style += [("BACKGROUND", (0, n_rows + 1), (-1, -1), kit.colours["panel"]),
                  ("LINEABOVE", (0, n_rows + 1), (-1, n_rows + 1), 1.2, kit.colours["accent"])]
    table.setStyle(TableStyle(style))
    return table


def _overlay_pdf(footers: list[str], kit: _Kit, invariant: bool) -> bytes:
    """One page per string: the string centred in the bottom margin (page numbers)."""
    buf = io.BytesIO()
    c = _canvas(buf, kit, invariant, "")
    w, _ = A4
    size = kit.type["small_pt"]
    for text in footers:
        c.setFillColor(kit.colours["muted"])
        c.setFont(kit.font, size)
        c.drawCentredString(w / 2, kit.page["margin_bottom_mm"] * mm / 2, text)
        c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class _Piece:
    """A run of pages in the bundle: ``kind`` cover, front, sheet or closing."""

    kind: str
    data: bytes
    pages: int
    lang: str | None = None
    slug: str | None = None
    record: _Record | None = None
    start: int = 0


def render_bundle_pdf(bundle: BundleView, sheet_pdfs: Mapping[tuple[str, str], bytes],
                      theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle PDF: front pages drawn here, sheet pages merged from ``sheet_pdfs``.

    ``sheet_pdfs`` maps ``(slug, lang)`` to the single-sheet PDF bytes of every sheet in
    ``bundle.sequence``.  ``invariant`` fixes dates and ids (``SOURCE_DATE_EPOCH``) so equal
    input gives equal bytes.  Raises :class:`~nexusreports.errors.TemplateError` for an
    unusable theme font and ``KeyError`` for a missing sheet.
    """
    kit = _kit(theme)
    cover = _cover_pdf(bundle, kit, invariant)
    closing = _closing_pdf(bundle, kit, invariant)
    sheets = {key: _Piece("sheet", data, len(PdfReader(io.BytesIO(data)).pages), lang=key[1],
                          slug=key[0]) for key, data in sheet_pdfs.items()}
    numbers: dict[str, dict[str, str]] = {p.lang: {} for p in bundle.parts}
    pieces: list[_Piece] = []
    for _ in range(3):  # page numbers are known once the front pages have been laid out
        fronts = {}
        for part in bundle.parts:
            data, pages, record = _front_pdf(bundle, part, kit, numbers[part.lang], invariant)
            fronts[part.lang] = _Piece("front", data, pages, lang=part.lang, record=record)
        pieces = [_Piece("cover", cover, 1)]
        if bundle.arrangement == "by-project":
            pieces += [fronts[p.lang] for p in bundle.parts]
            pieces += [sheets[(s.slug, s.lang)] for s in bundle.sequence]
        else:
            for part in bundle.parts:
                pieces.append(fronts[part.lang])
                pieces += [sheets[(s.slug, s.lang)] for s in part.sheets]
        pieces.append(_Piece("closing", closing, 1))
        start = 0
        for piece in pieces:
            piece.start, start = start, start + piece.pages
        # page index i (0 = cover) carries page label and number i
        wanted = {}
        for part in bundle.parts:
            front = fronts[part.lang]
            assert front.record is not None
            found = {"summary": part.page_number(front.start + front.record.marks["summary"])}
            for s in part.sheets:
                found[s.slug] = part.page_number(sheets[(s.slug, s.lang)].start)
            wanted[part.lang] = found
        if wanted == numbers:
            break
        numbers = wanted

    writer = PdfWriter()
    for piece in pieces:
        for page in PdfReader(io.BytesIO(piece.data)).pages:
            writer.add_page(page)
    total = len(writer.pages)

    # Page numbers, stamped over every page but the cover; the sheets keep their layout.
    by_page: list[str] = []
    for piece in pieces[1:]:
        for i in range(piece.pages):
            n = piece.start + i
            by_page.append(bundle.part(piece.lang).page_footer(n) if piece.lang
                           else bundle.parts[0].page_number(n))
    overlay = PdfReader(io.BytesIO(_overlay_pdf(by_page, kit, invariant)))
    for i, stamp in enumerate(overlay.pages, start=1):
        writer.pages[i].merge_page(stamp)

    # Outline: language > Contents, Summary, projects; contents entries are links.
    for part in bundle.parts:
        front = next(p for p in pieces if p.kind == "front" and p.lang == part.lang)
        record = front.record
        assert record is not None
        targets = {"summary": front.start + record.marks["summary"]}
        targets.update({s.slug: sheets[(s.slug, s.lang)].start for s in part.sheets})
        top = writer.add_outline_item(title=part.language, page_number=front.start)
        writer.add_outline_item(title=part.contents, page_number=front.start, parent=top)
        writer.add_outline_item(title=part.summary, page_number=targets["summary"], parent=top)
        for s in part.sheets:
            writer.add_outline_item(title=s.project_name, page_number=targets[s.slug],
                                    parent=top)
        for page, rect, key in record.links:
            writer.add_annotation(page_number=front.start + page,
                                  annotation=Link(rect=rect, target_page_index=targets[key]))

    writer.set_page_label(0, 0, prefix="")
    writer.set_page_label(1, total - 1, style="/D", start=1)
    writer.page_mode = "/UseOutlines"
    writer._root_object[NameObject("/Lang")] = TextStringObject(bundle.info.language)
    info = bundle.info
    meta = {"/Title": info.title, "/Author": info.author, "/Subject": info.subject,
            "/Keywords": info.keywords, "/Creator": CREATOR, "/Producer": "ReportLab and pypdf"}
    moment = stamp_time(invariant)
    stamp = moment.strftime("D:%Y%m%d%H%M%S+00'00'")
    meta.update({"/CreationDate": stamp, "/ModDate": stamp})
    writer.add_metadata(meta)
    if invariant:  # the ID follows the content and the date, as in the sheets
        from pypdf.generic import ArrayObject, ByteStringObject

        digest = hashlib.md5(usedforsecurity=False)
        for piece in pieces:
            digest.update(piece.data)
        digest.update(stamp.encode())
        ident = ByteStringObject(digest.digest())
        writer._ID = ArrayObject([ident, ident])
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_count(pdf: bytes) -> int:
    """Number of pages of PDF bytes."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


__all__ = ["page_count", "render_bundle_pdf"]
