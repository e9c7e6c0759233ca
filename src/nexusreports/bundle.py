"""Stage 5, bundle: a :class:`~nexusreports.view.BundleView` -> the bilingual briefing bundle.

Two outputs, both from the same view:

* :func:`render_bundle_pdf` -> ``briefing-nl-en.pdf``.  The sheet pages *are* the single-sheet
  PDFs (the bytes :func:`nexusreports.render.pdf.render_pdf` produced), merged with pypdf;
  only the cover, each language's contents and summary pages and the closing page are drawn
  here, with ReportLab in the theme's fonts.  pypdf then adds the outline (language >
  Contents, Summary, projects), link annotations on the contents entries, page labels
  (cover unlabelled, then 1, 2, ...), the page numbers (stamped onto every page but the
  cover as an overlay, so the sheets keep their layout), ``/PageMode /UseOutlines`` and the
  document info.

  Page sequence, arrangement ``by-language``: cover; per language: contents, summary, that
  language's sheets; closing.  Arrangement ``by-project``: cover; contents and summary of
  each language; each project's Dutch sheet followed by its English one; closing.

* :func:`render_bundle_docx` -> ``briefing-nl-en.docx``, built in one pass with python-docx
  (no stitching of generated files): a cover section, per language a section with a Word
  TOC field (``w:updateFields`` makes Word refresh it on open) and the summary table, a
  section per sheet (new page, its own footer in its language), and a closing section.
  Contents are collected per language with ``TOC \\t``: each language's headings use their
  own paragraph style (``Bundle Heading nl`` / ``Bundle Heading en``, based on the built-in
  Heading 1), so the two contents never mix, whatever the arrangement.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

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

from .render.pdf import CREATOR, register_fonts
from .theme import Theme
from .view import BundlePart, BundleView, SheetView

log = logging.getLogger("nexusreports")

PDF_NAME = "briefing-nl-en.pdf"
DOCX_NAME = "briefing-nl-en.docx"

WORD_FONT = "Calibri"
"""Font of the Word bundle: Word has Calibri; LibreOffice substitutes the metric-compatible
Carlito, the theme's PDF font."""

WORD_MARGIN_MM = 15.0
"""Page margins of the Word bundle (A4), in mm: 180 mm of text width."""

SUMMARY_COLUMNS_MM = (44.0, 19.0, 26.0, 26.0, 26.0, 11.0, 34.0)
"""Widths of the summary table's columns (project, period, size, public, private, TRL, MRL),
in mm; together the width between the theme's margins (186 mm on A4)."""


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
    return Canvas(buf, pagesize=A4, invariant=1 if invariant else 0, pageCompression=1,
                  initialFontName=kit.font, initialFontSize=kit.type["body_pt"], lang=lang)


def _p(text: str) -> str:
    return escape(text).replace("\n", "<br/>")


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
        title = Paragraph(_p(cover.title), kit.style("ct", fontName=kit.bold, fontSize=30,
                                                      leading=34, textColor=main))
        sub = Paragraph(_p(cover.subtitle), kit.style("cs", fontSize=15, leading=19,
                                                       textColor=second))
        date = Paragraph(_p(cover.date), kit.style("cd", fontSize=12, leading=15,
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
        para = Paragraph(_p(line), kit.style("cl", fontName=kit.bold if i == 0 else kit.font,
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
        self.para = Paragraph(_p(text), kit.style("toc", fontSize=self.size,
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
    story: list[Flowable] = [Paragraph(_p(part.contents), heading)]
    story.append(_TocEntry("summary", part.summary, numbers.get("summary", ""), kit, record))
    for sheet in part.sheets:
        story.append(_TocEntry(sheet.slug, sheet.project_name, numbers.get(sheet.slug, ""),
                               kit, record))
    story += [PageBreak(), _Mark("summary", record), Paragraph(_p(part.summary), heading),
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
        return [Paragraph(_p(text), styles[1] if is_num else styles[0])
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
    moment = _build_time(invariant)
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


def _build_time(invariant: bool) -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` (UTC) when ``invariant`` and set, else now; whole seconds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH") if invariant else None
    moment = (dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch and epoch.isdigit()
              else dt.datetime.now(dt.timezone.utc))
    return moment.replace(microsecond=0)


def page_count(pdf: bytes) -> int:
    """Number of pages of PDF bytes."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


# --- DOCX: one pass with python-docx --------------------------------------------------------

_SETTINGS_AFTER_UPDATE_FIELDS = (
    "hdrShapeDefaults", "footnotePr", "endnotePr", "compat", "docVars", "rsids", "mathPr",
    "attachedSchema", "themeFontLang", "clrSchemeMapping", "doNotIncludeSubdocsInStats",
    "doNotAutoCompressPictures", "forceUpgrade", "captions", "readModeInkLockDown",
    "smartTagType", "schemaLibrary", "shapeDefaults", "doNotEmbedSmartTags", "decimalSymbol",
    "listSeparator")


def heading_style(lang: str) -> str:
    """Name of the Word paragraph style of ``lang``'s headings (collected by its TOC)."""
    return f"Bundle Heading {lang}"


def render_bundle_docx(bundle: BundleView, theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle as one Word document, built in one pass (see the module docstring).

    Sections: cover; per language contents + summary (by-language: followed by that
    language's sheets); one section per sheet, each on a new page with its own footer;
    closing.  Page numbering restarts at 1 after the cover, as in the PDF.  ``invariant``
    takes the core properties' dates and the zip entries' times from ``SOURCE_DATE_EPOCH``,
    so equal input gives equal bytes.
    """
    from docx import Document
    from docx.enum.section import WD_SECTION
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt, RGBColor

    colours = {k: RGBColor.from_string(v.lstrip("#").upper()) for k, v in theme.colours.items()}
    doc = Document()
    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = WORD_FONT
    normal.font.size = Pt(9.5)
    normal.paragraph_format.space_after = Pt(4)
    for name in ("Heading 1", "Heading 2", "Title", "Subtitle"):
        styles[name].font.name = WORD_FONT
        styles[name].font.color.rgb = colours["primary"]
    styles["Heading 2"].font.size = Pt(11)
    for part in bundle.parts:
        style = styles.add_style(heading_style(part.lang), WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = styles["Heading 1"]
        style.next_paragraph_style = normal
        style.font.color.rgb = colours["primary"]

    # Cover; later sections copy its A4 page and margins
    first = doc.sections[0]
    first.page_width, first.page_height = Mm(210), Mm(297)
    first.left_margin = first.right_margin = Mm(WORD_MARGIN_MM)
    first.top_margin = first.bottom_margin = Mm(WORD_MARGIN_MM)
    for i, cover in enumerate(bundle.covers):
        if i:
            doc.add_paragraph()
        doc.add_paragraph(cover.title, style="Title")
        doc.add_paragraph(cover.subtitle, style="Subtitle")
        para = doc.add_paragraph(cover.date)
        para.runs[0].font.size = Pt(12)

    def new_section(footer: list[tuple[str, bool]] | None, restart: bool = False):
        section = doc.add_section(WD_SECTION.NEW_PAGE)
        section.header.is_linked_to_previous = False
        section.footer.is_linked_to_previous = False
        if footer:
            para = section.footer.paragraphs[0]
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for text, is_field in footer:
                if is_field:
                    _add_field(para, "PAGE", text)
                elif text:
                    run = para.add_run(text)
                    run.font.size = Pt(8)
                    run.font.color.rgb = colours["muted"]
        if restart:
            _restart_numbering(section)
        return section

    def page_footer(part: BundlePart, prefix: str = "") -> list[tuple[str, bool]]:
        before, _, after = part.page_word.partition("{number}")
        return [(prefix + before, False), ("1", True), (after, False)]

    def front(part: BundlePart, restart: bool) -> None:
        new_section(page_footer(part), restart)
        para = doc.add_paragraph(part.contents, style="TOC Heading")
        para.runs[0].font.color.rgb = colours["primary"]
        entries = [part.summary, *(s.project_name for s in part.sheets)]
        _add_toc(doc, heading_style(part.lang), entries)
        doc.add_page_break()
        doc.add_paragraph(part.summary, style=heading_style(part.lang))
        _summary_table_docx(doc, part, colours)

    def sheet(view: SheetView) -> None:
        part = bundle.part(view.lang)
        new_section(page_footer(part, f"{view.footer_left} · {view.footer_right} · "))
        _sheet_docx(doc, view, heading_style(view.lang), colours)

    if bundle.arrangement == "by-project":
        for i, part in enumerate(bundle.parts):
            front(part, restart=i == 0)
        for view in bundle.sequence:
            sheet(view)
    else:
        for i, part in enumerate(bundle.parts):
            front(part, restart=i == 0)
            for view in part.sheets:
                sheet(view)

    new_section([("", False)])
    doc.add_paragraph()
    for i, line in enumerate(bundle.closing):
        para = doc.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.paragraph_format.space_before = Pt(120 if i == 0 else 12)
        run = para.add_run(line)
        run.font.size = Pt(22 if i == 0 else 16)
        run.font.bold = i == 0
        run.font.color.rgb = colours["primary"] if i == 0 else colours["accent"]

    props = doc.core_properties
    info = bundle.info
    props.title, props.author, props.subject = info.title, info.author, info.subject
    props.keywords, props.language = info.keywords, info.language
    props.comments = ""
    moment = _build_time(invariant)
    props.created = props.modified = moment.replace(tzinfo=None)
    props.last_modified_by = CREATOR
    props.revision = 1
    _update_fields_on_open(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return _zip_with_time(buf.getvalue(), moment)


def _zip_with_time(data: bytes, moment: dt.datetime) -> bytes:
    """The zip ``data`` again, every entry stamped ``moment`` (python-docx uses the clock)."""
    import zipfile

    stamp = max(moment, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return qn(tag)


def _el(tag: str, **attrs: str):
    from docx.oxml import OxmlElement

    el = OxmlElement(tag)
    for key, value in attrs.items():
        el.set(_qn(key), value)
    return el


def _field_run(kind: str, instr: str | None = None):
    run = _el("w:r")
    if instr is not None:
        text = _el("w:instrText")
        text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        text.text = instr
        run.append(text)
    else:
        run.append(_el("w:fldChar", **{"w:fldCharType": kind}))
    return run


def _add_field(paragraph, instr: str, result: str) -> None:
    """A complex field ``instr`` with cached ``result`` at the end of ``paragraph``."""
    p = paragraph._p
    p.append(_field_run("begin"))
    p.append(_field_run("", f" {instr} "))
    p.append(_field_run("separate"))
    run = _el("w:r")
    text = _el("w:t")
    text.text = result
    run.append(text)
    p.append(run)
    p.append(_field_run("end"))


def _add_toc(doc, style: str, entries: list[str]) -> None:
    """A TOC field over the headings in ``style``; its cached result lists ``entries``
    (without page numbers) until Word updates it on open."""
    paras = [doc.add_paragraph() for _ in entries]
    for para, text in zip(paras, entries):
        para.paragraph_format.space_after = 0
        para._p.append(_text_run(text))
    first, last = paras[0]._p, paras[-1]._p
    runs = [_field_run("begin"), _field_run("", f' TOC \\h \\z \\t "{style},1" '),
            _field_run("separate")]
    for offset, run in enumerate(runs):
        first.insert(list(first).index(first.r_lst[0]) + offset if first.r_lst else len(first),
                     run)
    last.append(_field_run("end"))


def _text_run(text: str):
    run = _el("w:r")
    t = _el("w:t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    run.append(t)
    return run


def _restart_numbering(section) -> None:
    sect = section._sectPr
    for old in sect.findall(_qn("w:pgNumType")):
        sect.remove(old)
    num = _el("w:pgNumType", **{"w:start": "1"})
    follow = [sect.find(_qn(t)) for t in ("w:cols", "w:formProt", "w:vAlign", "w:noEndnote",
                                          "w:titlePg", "w:textDirection", "w:bidi",
                                          "w:rtlGutter", "w:docGrid")]
    follow = [f for f in follow if f is not None]
    if follow:
        follow[0].addprevious(num)
    else:
        sect.append(num)


def _update_fields_on_open(doc) -> None:
    settings = doc.settings.element
    if settings.find(_qn("w:updateFields")) is not None:
        return
    flag = _el("w:updateFields", **{"w:val": "true"})
    for child in settings:
        if child.tag.rsplit("}", 1)[-1] in _SETTINGS_AFTER_UPDATE_FIELDS:
            child.addprevious(flag)
            return
    settings.append(flag)


def _add_text(paragraph, text: str, bold: bool = False):
    """Text with ``\\n`` as line breaks."""
    from docx.enum.text import WD_BREAK

    for i, line in enumerate(text.split("\n")):
        if i:
            paragraph.runs[-1].add_break(WD_BREAK.LINE)
        run = paragraph.add_run(line)
        run.bold = bold or None
    return paragraph


def _shade(cell, hex_colour: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    tc_pr.append(_el("w:shd", **{"w:val": "clear", "w:color": "auto",
                                "w:fill": hex_colour.lstrip("#").upper()}))


def _summary_table_docx(doc, part: BundlePart, colours) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    rows = [part.columns, *(r.cells for r in part.rows), *(r.cells for r in part.totals)]
    table = doc.add_table(rows=len(rows), cols=len(part.columns))
    table.style = doc.styles["Table Grid"]
    table.autofit = False
    numeric = (False, False, True, True, True, False, False)
    n_rows = len(part.rows)
    scale = (210 - 2 * WORD_MARGIN_MM) / sum(SUMMARY_COLUMNS_MM)
    widths = [Mm(w * scale) for w in SUMMARY_COLUMNS_MM]
    for column, width in zip(table.columns, widths):
        column.width = width
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            cell = table.cell(r, c)
            cell.width = widths[c]
            para = cell.paragraphs[0]
            para.paragraph_format.space_after = 0
            if numeric[c]:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = para.add_run(text)
            run.font.size = Pt(8)
            if r == 0:
                run.bold = True
                run.font.color.rgb = colours["on_primary"]
                _shade(cell, "#" + str(colours["primary"]))
            elif r > n_rows:
                run.bold = True
                _shade(cell, "#" + str(colours["panel"]))


def _sheet_docx(doc, view: SheetView, style: str, colours) -> None:
    """One sheet as Word content: heading, key figures, texts, blocks, matrix, organisations."""
    from docx.shared import Pt

    lab = view.labels
    doc.add_paragraph(view.project_name, style=style)
    para = doc.add_paragraph()
    run = para.add_run(view.title)
    run.bold, run.font.size = True, Pt(12)
    doc.add_paragraph(f"{lab['domain']}: {view.domain} · {lab['subdomain']}: {view.subdomain}")

    figures = [
        (lab["timeline"], f"{lab['start']} {view.period_start} – {lab['end']} {view.period_end}"),
        (lab["project_size"], view.size + (f" {view.size_note}" if view.size_note else "")),
    ]
    for bar in view.shares:
        figures.append((lab["shares"], f"{bar.left_label} {bar.left_pct} · "
                                       f"{bar.right_label} {bar.right_pct}"))
    figures += [(lab["trl"], view.trl_range), (lab["mrl"], view.mrl)]
    table = doc.add_table(rows=len(figures), cols=2)
    table.style = doc.styles["Table Grid"]
    for r, (label, value) in enumerate(figures):
        for c, text in enumerate((label, value)):
            cell = table.cell(r, c)
            cell.paragraphs[0].paragraph_format.space_after = 0
            _add_text(cell.paragraphs[0], text, bold=c == 0)
            if c == 0:
                _shade(cell, "#" + str(colours["panel"]))
    doc.add_paragraph()
    for text in view.summary:
        _add_text(doc.add_paragraph(), text)
    doc.add_paragraph(lab["relevance"], style="Heading 2")
    for text in view.relevance:
        _add_text(doc.add_paragraph(), text)
    for block in (view.national, view.european):
        doc.add_paragraph(block.heading, style="Heading 2")
        for entry in block.entries:
            para = doc.add_paragraph(style="List Bullet" if block.bullets else None)
            if entry.label:
                _add_text(para, entry.label + " ", bold=True)
            _add_text(para, entry.text)
    doc.add_paragraph(lab["preconditions"], style="Heading 2")
    for group in view.matrix:
        para = doc.add_paragraph()
        _add_text(para, group.heading + ": ", bold=True)
        _add_text(para, "; ".join(f"{item.label} ({item.state_label})" for item in group.items))
    doc.add_paragraph(lab["organisations"], style="Heading 2")
    doc.add_paragraph(view.organisations_empty or " · ".join(o.name for o in view.organisations))


__all__ = ["DOCX_NAME", "PDF_NAME", "heading_style", "page_count",
           "render_bundle_docx", "render_bundle_pdf"]
