"""The briefing bundle as one PDF: :func:`render_bundle_pdf`.

The sheet pages *are* the single-sheet PDFs (the bytes :func:`.sheet.render_pdf` produced),
each with its structure tree; only the cover, each language's contents and summary pages and
the closing page are drawn here, with ReportLab in the theme's fonts, tagged as they are
drawn (:mod:`.tagging`).  pikepdf (qpdf) assembles the bundle: the pages of every piece, each
sheet's tree as a ``Part`` of the bundle's ``Document`` carrying its ``/Lang``, the front
pages' trees (contents entries are ``Link`` elements over their link annotations), the
outline (language > Contents, Summary, projects), page labels (cover unlabelled, then 1,
2, ...), the page numbers (stamped onto every page but the cover as ``Pagination``
artifacts, so the sheets keep their layout), ``/PageMode /UseOutlines``; then
:func:`.archive.tag_pdf` makes the whole PDF/UA-1 and PDF/A-2 as the sheets are.  (pypdf's
page merging would drop the sheets' trees.)

Page sequence, arrangement ``by-language``: cover; per language: contents, summary, that
language's sheets; closing.  Arrangement ``by-project``: cover; contents and summary of each
language; each project's Dutch sheet followed by its English one; closing.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, String
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate,
                                Spacer, Table, TableStyle)

from ...theme import Theme
from ...view import BundlePart, BundleView
from .. import SUMMARY_COLUMNS_MM
from .archive import creation_stamp, link_parent_tree, new_tree_root, save, tag_pdf, write_tree
from .sheet import CREATOR, icc_profile, markup, metadata, new_canvas, register_fonts
from .tagging import LinkRef, Step, Tagger, artifact, attach, marked, tagger_of, within
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
    c.showPage()
    c.save()
    return _Drawn(buf.getvalue(), 1, tagger)


@dataclass
class _Record:
    """What drawing the front matter of one language found: where each contents entry
    was drawn (page within the part, rectangle in pt, entry key, its text) and on which page
    the summary starts."""

    links: list[tuple[int, tuple[float, float, float, float], str, str]] = field(
        default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)


class _TocEntry(Flowable):
    """One contents line: text, a dotted leader, the page number; records its rectangle.

    Tagged as a ``TOCI`` holding a ``Link`` over the text, the number and the link
    annotation the bundle puts on the rectangle."""

    def __init__(self, key: str, text: str, number: str, kit: _Kit, record: _Record):
        super().__init__()
        self.key, self.text, self.number, self.kit, self.record = key, text, number, kit, record
        self.size = kit.type["body_pt"] + 2
        self.para = Paragraph(markup(text), kit.style("toc", fontSize=self.size,
                                                  leading=self.size * 1.25)).tagged(None)

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.num_w = pdfmetrics.stringWidth(self.number, self.kit.font, self.size)
        self.text_w = aw - self.num_w - 14 * mm
        _, ph = self.para.wrap(self.text_w, ah)
        self.width, self.height = aw, ph + 3.2 * mm
        return self.width, self.height

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
            index = sum(1 for p, *_ in self.record.links if p == page)
            if link is not None:
                link.kids.append(LinkRef(page, index))
        x0, y0 = c.absolutePosition(0, 0)
        x1, y1 = c.absolutePosition(self.width, self.height)
        self.record.links.append((page, (x0, y0, x1, y1), self.key, self.text))


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
               invariant: bool) -> tuple[_Drawn, _Record]:
    """Contents and summary of ``part``; ``numbers`` maps entry keys ("summary" or a
    sheet slug) to the page numbers printed.  Returns what was drawn and what was recorded
    while drawing."""
    record = _Record()
    tagger = Tagger(Step("Part", lang=part.locale_id))
    buf = io.BytesIO()
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
        first = tagger_of(canvas).page == 0
        with within(canvas, (Step("H1"),)) if first else artifact(canvas, "Pagination"):
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
    doc.addPageTemplates([PageTemplate("front", frames=[frame], onPage=band)])
    heading = kit.style("h", fontName=kit.bold, fontSize=kit.type["title_pt"] - 4,
                        leading=(kit.type["title_pt"] - 4) * 1.2,
                        textColor=kit.colours["primary"], spaceAfter=6 * mm)
    story: list[Flowable] = [Paragraph(markup(part.contents), heading).tagged("H2")]
    story.append(_TocEntry("summary", part.summary, numbers.get("summary", ""), kit, record))
    for sheet in part.sheets:
        story.append(_TocEntry(sheet.slug, sheet.project_name, numbers.get(sheet.slug, ""),
                               kit, record))
    story += [PageBreak(), _Mark("summary", record),
              Paragraph(markup(part.summary), heading).tagged("H2"),
              _summary_table(part, kit, w - ml - mr)]
    doc.build(story)
    data = buf.getvalue()
    return _Drawn(data, len(Pdf.open(io.BytesIO(data)).pages), tagger), record


def _summary_table(part: BundlePart, kit: _Kit, width: float) -> Table:
    size = kit.type["small_pt"] + 0.9
    cell = kit.style("cell", fontSize=size, leading=size * 1.25)
    num = kit.style("num", parent=cell, alignment=TA_RIGHT)
    head = kit.style("head", parent=cell, fontName=kit.bold, textColor=kit.colours["on_primary"])
    head_num = kit.style("head_num", parent=head, alignment=TA_RIGHT)
    bold = kit.style("bold", parent=cell, fontName=kit.bold)
    bold_num = kit.style("bold_num", parent=bold, alignment=TA_RIGHT)
    numeric = (False, False, True, True, True, False, False)
    table_step = Step("Table", key="summary")

    def row(r: int, cells: tuple[str, ...], styles: tuple[ParagraphStyle, ParagraphStyle]
            ) -> list:
        out = []
        for c, (text, is_num) in enumerate(zip(cells, numeric)):
            if r == 0:
                cell_step = Step("TH", key=str(c), attrs=(("Scope", "Column"),))
            elif c == 0:
                cell_step = Step("TH", key=str(c), attrs=(("Scope", "Row"),))
            else:
                cell_step = Step("TD", key=str(c))
            para = Paragraph(markup(text), styles[1] if is_num else styles[0])
            out.append(para.tagged(None, table_step, Step("TR", key=str(r)), cell_step))
        return out

    data = [row(0, part.columns, (head, head_num))]
    data += [row(i, r.cells, (cell, num)) for i, r in enumerate(part.rows, start=1)]
    data += [row(i, r.cells, (bold, bold_num))
             for i, r in enumerate(part.totals, start=len(part.rows) + 1)]
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
class _Piece:
    """A run of pages in the bundle: ``kind`` cover, front, sheet or closing."""

    kind: str
    data: bytes
    pages: int
    lang: str | None = None
    slug: str | None = None
    record: _Record | None = None
    start: int = 0
    tree: Tagger | None = None
    locale_id: str | None = None


def render_bundle_pdf(bundle: BundleView, sheet_pdfs: Mapping[tuple[str, str], bytes],
                      theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle PDF: front pages drawn here, sheet pages (with their trees) from
    ``sheet_pdfs``.

    ``sheet_pdfs`` maps ``(slug, lang)`` to the single-sheet PDF bytes of every sheet in
    ``bundle.sequence``.  ``invariant`` fixes dates and ids (``SOURCE_DATE_EPOCH``) so equal
    input gives equal bytes.  Raises :class:`~nexusreports.errors.TemplateError` for an
    unusable theme font and ``KeyError`` for a missing sheet.
    """
    kit = _kit(theme)
    cover = _cover_pdf(bundle, kit, invariant)
    closing = _closing_pdf(bundle, kit, invariant)
    locales = {s.lang: s.locale_id for s in bundle.sequence}
    sheets = {key: _Piece("sheet", data, len(Pdf.open(io.BytesIO(data)).pages), lang=key[1],
                          slug=key[0], locale_id=locales.get(key[1]))
              for key, data in sheet_pdfs.items()}
    numbers: dict[str, dict[str, str]] = {p.lang: {} for p in bundle.parts}
    pieces: list[_Piece] = []
    for _ in range(3):  # page numbers are known once the front pages have been laid out
        fronts = {}
        for part in bundle.parts:
            drawn, record = _front_pdf(bundle, part, kit, numbers[part.lang], invariant)
            fronts[part.lang] = _Piece("front", drawn.data, drawn.pages, lang=part.lang,
                                       record=record, tree=drawn.tree)
        pieces = [_Piece("cover", cover.data, 1, tree=cover.tree)]
        if bundle.arrangement == "by-project":
            pieces += [fronts[p.lang] for p in bundle.parts]
            pieces += [sheets[(s.slug, s.lang)] for s in bundle.sequence]
        else:
            for part in bundle.parts:
                pieces.append(fronts[part.lang])
                pieces += [sheets[(s.slug, s.lang)] for s in part.sheets]
        pieces.append(_Piece("closing", closing.data, 1, tree=closing.tree))
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

    with Pdf.new() as pdf:
        tree_root = new_tree_root(pdf)
        document = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document,
                                                P=tree_root, K=Array()))
        tree_root.K.append(document)
        sources = [Pdf.open(io.BytesIO(piece.data)) for piece in pieces]
        for source in sources:
            pdf.pages.extend(source.pages)
        _link_contents(pdf, bundle, pieces, sheets)
        for piece, source in zip(pieces, sources):
            if piece.kind == "sheet":
                part = pdf.copy_foreign(source.Root.StructTreeRoot.K[0])
                part.S, part.P = Name.Part, document
                part.Lang = String(piece.locale_id or "")
                document.K.append(part)
            else:
                assert piece.tree is not None
                elem = write_tree(pdf, piece.tree.finished(), document, piece.start)
                if elem is not None:
                    document.K.append(elem)
        link_parent_tree(pdf)  # drops the sheets' own numbering before the stamps go on

        # Page numbers, stamped over every page but the cover; the sheets keep their layout.
        by_page: list[str] = []
        for piece in pieces[1:]:
            for i in range(piece.pages):
                n = piece.start + i
                by_page.append(bundle.part(piece.lang).page_footer(n) if piece.lang
                               else bundle.parts[0].page_number(n))
        with Pdf.open(io.BytesIO(_overlay_pdf(by_page, kit, invariant))) as overlay:
            for i, stamp in enumerate(overlay.pages, start=1):
                _stamp(pdf, pdf.pages[i], stamp)
        _outline(pdf, bundle, pieces, sheets)
        pdf.Root.PageLabels = Dictionary(Nums=Array([
            0, Dictionary(P=String("")), 1, Dictionary(S=Name.D, St=1)]))
        pdf.Root.PageMode = Name.UseOutlines
        # dated as ReportLab dated the pages drawn here (SOURCE_DATE_EPOCH when invariant)
        tag_pdf(pdf, metadata(bundle.info, creation_stamp(sources[0])), icc_profile(theme))
        data = save(pdf)
        for source in sources:
            source.close()
    return data


def _stamp(pdf: Pdf, page: pikepdf.Page, stamp: pikepdf.Page) -> None:
    """Draw ``stamp`` (a page of another PDF) over ``page`` as a form XObject under a fixed
    name (pikepdf's ``add_overlay`` picks a random one: the bytes would differ per run)."""
    form = pdf.copy_foreign(stamp.as_form_xobject())
    page.add_resource(form, Name.XObject, name=Name("/NxPageNumber"))
    page.contents_add(pdf.make_stream(b"q"), prepend=True)
    page.contents_add(pdf.make_stream(b"Q q /NxPageNumber Do Q"))


def _targets(part: BundlePart, pieces: list[_Piece], sheets: Mapping[tuple[str, str], _Piece]
             ) -> tuple[_Piece, dict[str, int]]:
    front = next(p for p in pieces if p.kind == "front" and p.lang == part.lang)
    assert front.record is not None
    targets = {"summary": front.start + front.record.marks["summary"]}
    targets.update({s.slug: sheets[(s.slug, s.lang)].start for s in part.sheets})
    return front, targets


def _link_contents(pdf: Pdf, bundle: BundleView, pieces: list[_Piece],
                   sheets: Mapping[tuple[str, str], _Piece]) -> None:
    """Link annotations on the contents entries, in the order they were drawn (the order
    their ``Link`` elements refer to them by): printable, with the entry as ``/Contents``."""
    for part in bundle.parts:
        front, targets = _targets(part, pieces, sheets)
        assert front.record is not None
        for page, rect, key, text in front.record.links:
            target = pdf.pages[targets[key]].obj
            annot = pdf.make_indirect(Dictionary(
                Type=Name.Annot, Subtype=Name.Link, Rect=Array(list(rect)), F=4,
                Border=Array([0, 0, 0]), Contents=String(text),
                Dest=Array([target, Name.Fit])))
            holder = pdf.pages[front.start + page].obj
            if "/Annots" not in holder:
                holder.Annots = Array()
            holder.Annots.append(annot)


def _outline(pdf: Pdf, bundle: BundleView, pieces: list[_Piece],
             sheets: Mapping[tuple[str, str], _Piece]) -> None:
    """Language > Contents, Summary, projects."""
    with pdf.open_outline() as outline:
        for part in bundle.parts:
            front, targets = _targets(part, pieces, sheets)
            top = pikepdf.OutlineItem(part.language, front.start)
            top.children.append(pikepdf.OutlineItem(part.contents, front.start))
            top.children.append(pikepdf.OutlineItem(part.summary, targets["summary"]))
            for s in part.sheets:
                top.children.append(pikepdf.OutlineItem(s.project_name, targets[s.slug]))
            outline.root.append(top)


def page_count(pdf: bytes) -> int:
    """Number of pages of PDF bytes."""
    with Pdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


__all__ = ["page_count", "render_bundle_pdf"]
