"""The briefing bundle as one Word document: :func:`render_bundle_docx`.

Built in one pass on the Word sheet template: the document starts as the designed sheet
(:func:`.sheet.render_docx`), emptied, so styles, numbering, theme and settings are the
template's; each sheet section is that template filled for its view (body, footer, page setup,
pictures), with the page number added to its footer.  Before them: a cover section, per
language a section with the contents and the summary table; a closing section ends it.  Page
numbers run on from 1 after the cover (never restarted), as the PDF's page labels.  The
contents are static entries whose page numbers follow from the layout
(:func:`docx_page_plan`), each a hyperlink to a bookmark on its sheet, inside a ``TOC \\f``
field over ``TC`` entries, so Word can refresh it without the two languages' contents mixing.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Mapping

from ...theme import Theme
from ...view import BundlePart, BundleView, SheetView
from .. import SUMMARY_COLUMNS_MM, stamp_time
from . import ooxml

log = logging.getLogger("nexusreports")

WORD_FONT = "Calibri"
"""Font of the Word bundle: Word has Calibri; LibreOffice substitutes the metric-compatible
Carlito, the theme's PDF font."""

WORD_MARGIN_MM = 15.0
"""Page margins of the Word bundle (A4), in mm: 180 mm of text width."""


TOC_ENTRIES_PER_PAGE = 20
"""Contents entries on one page of the Word bundle: a longer contents continues on a new page
(an explicit break), so the page of every entry is known without a field update."""

SUMMARY_ROWS_PER_PAGE = 12
"""Summary rows (projects and totals) on one page of the Word bundle; more rows continue in a
second table, with the column headings again, on a new page."""

_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_HDRFTR = {"header": ("default", "first", "even"), "footer": ("default", "first", "even")}
_HDRFTR_ATTR = {("header", "default"): "header", ("header", "first"): "first_page_header",
                ("header", "even"): "even_page_header", ("footer", "default"): "footer",
                ("footer", "first"): "first_page_footer", ("footer", "even"): "even_page_footer"}


def heading_style(lang: str) -> str:
    """Name of the Word paragraph style of ``lang``'s front-matter headings."""
    return f"Bundle Heading {lang}"


def bookmark_name(view: SheetView) -> str:
    """Name of the bookmark on ``view``'s sheet in the Word bundle (the contents link to it):
    ``sheet_nl_precision_diagnostics``."""
    return f"sheet_{view.lang}_{view.slug}".replace("-", "_")[:40]


def docx_page_plan(bundle: BundleView) -> dict[str, int]:
    """The page each part of the Word bundle starts on, as printed (the cover is unnumbered,
    the page after it is 1): keys ``contents:<lang>``, ``summary:<lang>``, ``<lang>:<slug>``
    and ``closing``.

    It follows from the layout: contents and summary take a fixed number of entries or rows
    per page (:data:`TOC_ENTRIES_PER_PAGE`, :data:`SUMMARY_ROWS_PER_PAGE`), with explicit
    breaks, and each sheet is exactly one page (the one-page tests of the Word sheets guard
    that).
    """
    plan: dict[str, int] = {}
    page = 1
    for i, part in enumerate(bundle.parts):
        plan[f"contents:{part.lang}"] = page
        page += _chunks(1 + len(part.sheets), TOC_ENTRIES_PER_PAGE)
        plan[f"summary:{part.lang}"] = page
        page += _chunks(len(part.rows) + len(part.totals), SUMMARY_ROWS_PER_PAGE)
        if bundle.arrangement != "by-project":
            for view in part.sheets:
                plan[f"{view.lang}:{view.slug}"] = page
                page += 1
    if bundle.arrangement == "by-project":
        for view in bundle.sequence:
            plan[f"{view.lang}:{view.slug}"] = page
            page += 1
    plan["closing"] = page
    return plan


def _chunks(n: int, size: int) -> int:
    return max(1, -(-n // size))


def render_bundle_docx(bundle: BundleView, theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle as one Word document (A4), built in one pass on the sheet template.

    The document starts from the designed Word sheet (:func:`render.word.render_docx` of the
    first sheet, emptied), so its styles, numbering, theme and settings are the template's;
    every sheet is then that template filled for its view, and its body, header/footer and
    page setup are carried over into a section of its own (pictures re-related, drawing and
    bookmark ids renumbered, runs marked with the sheet's language).  Before the sheets come
    the cover, and per language the contents and the summary; a closing page ends it.

    Page numbers run on from 1 after the (unnumbered) cover and are never restarted; every
    sheet's footer adds them to its own footer line.  The contents are static entries whose
    page numbers come from :func:`docx_page_plan`, each a hyperlink to its sheet's bookmark,
    wrapped in a ``TOC \\f`` field over ``TC`` entries so Word can refresh it (it is not
    refreshed on open: it is right as it is).

    ``invariant`` takes the dates from ``SOURCE_DATE_EPOCH``, so equal input gives equal
    bytes.  Raises :class:`~nexusreports.errors.TemplateError` when the sheet template is
    missing or broken, or relates a part the bundle cannot carry over.
    """
    from docx import Document
    from docx.enum.section import WD_SECTION

    from .sheet import CREATOR, core_property, render_docx, set_language

    moment = stamp_time(invariant)
    now = moment.astimezone(dt.timezone.utc)
    sheets = {(v.lang, v.slug): Document(io.BytesIO(render_docx(v, theme, now=now)))
              for v in bundle.sequence}
    doc = Document(io.BytesIO(render_docx(bundle.sequence[0], theme, now=now)))
    set_language(doc, bundle.info.language)
    body = doc.element.body
    for child in list(body):
        if child.tag != _qn("w:sectPr"):
            body.remove(child)
    cover = doc.sections[0]
    for kind, types in _HDRFTR.items():
        for t in types:
            getattr(cover, _HDRFTR_ATTR[(kind, t)]).is_linked_to_previous = True
    _front_page_setup(cover)
    front_pr = _copy(cover._sectPr)
    ooxml.drop_styles_with_effects(doc)

    ids = _Ids()
    kit = _DocxKit(doc, theme, bundle, ids)
    plan = docx_page_plan(bundle)
    kit.cover()

    def new_section(template, footer_of=None):
        section = doc.add_section(WD_SECTION.NEW_PAGE)
        _apply_page_setup(section, template)
        if footer_of is not None:
            kit.page_footer(section, footer_of)
        return section

    def front(index: int, part: BundlePart) -> None:
        new_section(front_pr, part)
        kit.language_band(part)
        kit.contents(part, index, plan)
        new_section(front_pr, part)
        kit.language_band(part)
        kit.summary(part, index)

    def sheet(view: SheetView) -> None:
        src = sheets[(view.lang, view.slug)]
        section = new_section(src.element.body.sectPr)
        _carry_over_hdrftr(src, section, view, bundle.part(view.lang), theme, ids)
        elements = [_copy(child) for child in src.element.body
                    if child.tag != _qn("w:sectPr")]
        for element in elements:
            body.sectPr.addprevious(element)
        _relate(elements, src.part, doc.part, theme)
        _renumber(elements, ids)
        if view.locale_id != bundle.info.language:
            _mark_language(elements, view.locale_id)
        kit.anchor(elements, view, bundle.parts.index(bundle.part(view.lang)))

    if bundle.arrangement == "by-project":
        for i, part in enumerate(bundle.parts):
            front(i, part)
        for view in bundle.sequence:
            sheet(view)
    else:
        for i, part in enumerate(bundle.parts):
            front(i, part)
            for view in part.sheets:
                sheet(view)

    closing = new_section(front_pr)
    closing.footer.is_linked_to_previous = False  # an empty footer, not the last sheet's
    kit.closing()
    _continuous_numbering(doc)
    _drop_update_fields(doc)

    props = doc.core_properties
    info = bundle.info
    # A core property holds at most 255 characters: cut as the Word sheets' are.
    props.title, props.author = core_property(info.title), core_property(info.author)
    props.subject, props.keywords = core_property(info.subject), core_property(info.keywords)
    props.language = info.language
    props.comments = ""
    props.created = props.modified = moment.replace(tzinfo=None)
    props.last_modified_by = CREATOR
    props.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    return _zip_with_time(buf.getvalue(), moment)


class _Ids:
    """Fresh ids for drawings (``wp:docPr``) and bookmarks across the whole bundle: one
    counter each, so the sheets' renumbered bookmarks and the contents' anchors never share
    an id, whatever the number of sheets."""

    def __init__(self) -> None:
        self.drawing = 0
        self.bookmark = 0

    def next_drawing(self) -> str:
        self.drawing += 1
        return str(self.drawing)

    def next_bookmark(self) -> str:
        self.bookmark += 1
        return str(self.bookmark)


TEXT_STYLE = "Bundle Text"
"""The Word bundle's own paragraph style for its own pages (cover, contents, summary,
closing): based on no template style, with its font, size and spacing set, so a restyled
template (Normal at 30 pt) changes the sheets only, never how many pages the front matter
takes (the contents' page numbers count on that)."""
FOOTER_STYLE = "Bundle Footer"
TABLE_STYLE = "Bundle Table Text"


class _DocxKit:
    """Writes the bundle's own pages (cover, contents, summary, closing) into ``doc`` with
    styles of its own (:data:`TEXT_STYLE` ...), so the template's styles (and with them the
    designed sheets) stay as they are and do not change these pages."""

    def __init__(self, doc, theme: Theme, bundle: BundleView, ids: _Ids):
        from docx.enum.style import WD_STYLE_TYPE
        from docx.shared import Pt, RGBColor

        self.doc, self.bundle, self.theme, self.ids = doc, bundle, theme, ids
        self.colours = {k: RGBColor.from_string(v.lstrip("#").upper())
                        for k, v in theme.colours.items()}
        styles = doc.styles

        def style(name: str, base, size: float, *, bold: bool = False, colour: str = "text",
                  after: float = 0.0, keep: bool = False):
            new = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            new.base_style = base
            new.font.name = WORD_FONT
            new.font.size = Pt(size)
            new.font.bold = bold
            new.font.italic = False
            new.font.all_caps = False
            new.font.color.rgb = self.colours[colour]
            fmt = new.paragraph_format
            fmt.space_before, fmt.space_after = Pt(0), Pt(after)
            fmt.line_spacing = 1.0
            fmt.left_indent = fmt.right_indent = fmt.first_line_indent = Pt(0)
            fmt.keep_with_next = keep
            fmt.widow_control = True
            new.quick_style = False
            return new

        text = style(TEXT_STYLE, None, 11)
        style(FOOTER_STYLE, text, 8, colour="muted")
        style(TABLE_STYLE, text, 8)
        for part in bundle.parts:
            heading = style(heading_style(part.lang), text, 20, bold=True, colour="primary",
                            after=14, keep=True)
            heading.next_paragraph_style = text
            ooxml.set_lang(heading.element.get_or_add_rPr(), part.locale_id)
            # a real heading: the navigation pane and screen readers list it
            ooxml.set_child(heading.element.get_or_add_pPr(), ooxml.el("w:outlineLvl", val=0))

    def para(self, text: str = "", *, size: float | None = None, bold: bool = False,
             colour: str | None = None, style: str | None = None, align=None,
             before: float | None = None, after: float | None = None, lang: str = "",
             container=None):
        from docx.shared import Pt

        para = (container or self.doc).add_paragraph(style=style or TEXT_STYLE)
        if align is not None:
            para.alignment = align
        if before is not None:
            para.paragraph_format.space_before = Pt(before)
        if after is not None:
            para.paragraph_format.space_after = Pt(after)
        if text:
            run = para.add_run(text)
            if size:
                run.font.size = Pt(size)
            run.bold = bold or None
            if colour:
                run.font.color.rgb = self.colours[colour]
            if lang:
                ooxml.run_lang(run._r, lang)
        return para

    def _band(self, height_mm: float, fill: str, description: str, lang: str,
              valign: str = "bottom", inset_mm: float = WORD_MARGIN_MM):
        """A full-bleed shaded band (a one-cell layout table from edge to edge, exactly
        ``height_mm`` tall) at the top of the page; returns its cell."""
        from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE
        from docx.shared import Mm

        table = self.doc.add_table(rows=1, cols=1)
        tbl_pr = table._tbl.tblPr
        for child in list(tbl_pr):
            if child.tag in (_qn("w:tblStyle"), _qn("w:tblW"), _qn("w:tblLook")):
                tbl_pr.remove(child)
        ooxml.set_child(tbl_pr, ooxml.el("w:tblW", w=ooxml.twips(210), type="dxa"))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblInd", w=-ooxml.twips(WORD_MARGIN_MM),
                                         type="dxa"))
        ooxml.set_child(tbl_pr, ooxml.side_elements("w:tblBorders", {
            side: {"val": "nil"} for side in ("top", "left", "bottom", "right", "insideH",
                                              "insideV")}))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblLayout", type="fixed"))
        # no default cell padding: Word and LibreOffice place a table's edge by its indent
        # less that padding; the cell's own padding holds the text in from the edge
        ooxml.table_cell_margins(tbl_pr, top=0, left=0, bottom=0, right=0)
        ooxml.set_child(tbl_pr, ooxml.el("w:tblLook", val="0000", firstRow=0, lastRow=0,
                                         firstColumn=0, lastColumn=0, noHBand=1, noVBand=1))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblDescription", val=description))
        table._tbl.tblGrid.findall(_qn("w:gridCol"))[0].set(_qn("w:w"), str(ooxml.twips(210)))
        row = table.rows[0]
        row.height = Mm(height_mm)
        row.height_rule = WD_ROW_HEIGHT_RULE.EXACTLY
        cell = row.cells[0]
        cell.width = Mm(210)
        ooxml.shade(cell._tc, str(self.colours[fill]))
        ooxml.cell_margins(cell._tc, top=0, left=inset_mm, bottom=10, right=inset_mm)
        cell.vertical_alignment = (WD_CELL_VERTICAL_ALIGNMENT.BOTTOM if valign == "bottom"
                                   else WD_CELL_VERTICAL_ALIGNMENT.TOP)
        first = cell.paragraphs[0]
        first.style = self.doc.styles[TEXT_STYLE]
        return cell

    def cover(self) -> None:
        """The bilingual cover, as the PDF's: the first language on a primary band over the
        upper half of the page, an accent bar on its edge, the second language below."""
        from docx.shared import Mm

        covers = self.bundle.covers
        first_lang = self.bundle.part(covers[0].lang).locale_id
        cell = self._band(297 * 0.52, "primary", covers[0].title, first_lang,
                          inset_mm=2 * WORD_MARGIN_MM)
        colours = [("on_primary", "accent_light"), ("primary", "accent")]
        for i, cover in enumerate(covers):
            lang = self.bundle.part(cover.lang).locale_id
            main, second = colours[min(i, 1)]
            where = cell if i == 0 else None
            title = self.para(cover.title, size=30, bold=True, colour=main, lang=lang,
                              after=6, container=where, before=30 if i else None)
            if i == 0:
                # the band's first paragraph becomes the title
                cell._tc.remove(cell.paragraphs[0]._p)
            subtitle = self.para(cover.subtitle, size=15, colour=second, lang=lang, after=10,
                                 container=where)
            date = self.para(cover.date, size=12, colour=main, lang=lang,
                             after=0 if i else 24, container=where)
            if i:  # below the band: in line with the band's text, as on the PDF's cover
                for para in (title, subtitle, date):
                    para.paragraph_format.left_indent = Mm(WORD_MARGIN_MM)
            if i == 0:
                bar = self.para(after=0)
                bar.paragraph_format.line_spacing = Mm(2.4)
                bar_ppr = bar._p.get_or_add_pPr()  # an accent bar on the band's edge
                ooxml.set_child(bar_ppr, ooxml.side_elements("w:pBdr", {"top": {
                    "val": "single", "sz": 48, "space": 0,
                    "color": str(self.colours["accent"])}}))
                ooxml.set_child(bar_ppr, ooxml.el("w:ind", left=ooxml.twips(WORD_MARGIN_MM),
                                                  right=ooxml.twips(210 - 3 * WORD_MARGIN_MM
                                                                    - 40)))

    def language_band(self, part: BundlePart) -> None:
        """The band at the top of each page of a language's front matter (its divider, as in
        the PDF): the bundle's title in that language over the language's name."""
        from docx.shared import Pt

        title = next(c.title for c in self.bundle.covers if c.lang == part.lang)
        page = self.theme.page
        cell = self._band(page["header_height_mm"], "primary", f"{title}: {part.language}",
                          part.locale_id, valign="top")
        first = cell.paragraphs[0]
        run = first.add_run(title)
        run.font.size = Pt(self.theme.type["subtitle_pt"])
        run.font.color.rgb = self.colours["accent_light"]
        ooxml.run_lang(run._r, part.locale_id)
        first.paragraph_format.space_before = Pt(28)
        self.para(part.language, size=self.theme.type["title_pt"], bold=True,
                  colour="on_primary", lang=part.locale_id, container=cell, before=2)
        gap = self.para(after=0)
        gap.paragraph_format.line_spacing = Pt(page["gap_below_header_mm"] / 25.4 * 72)

    def page_footer(self, section, part: BundlePart, prefix: str = "") -> None:
        """A centred footer "Pagina N" in ``part``'s language (N a PAGE field)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        section.footer.is_linked_to_previous = False
        para = section.footer.paragraphs[0]
        para.style = self.doc.styles[FOOTER_STYLE]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        before, _, after = part.page_word.partition("{number}")
        for text, is_field in ((prefix + before, False), ("1", True), (after, False)):
            if is_field:
                _add_field(para, "PAGE", text)
            elif text:
                para.add_run(text)
        for r in para._p.iter(_qn("w:r")):
            ooxml.run_lang(r, part.locale_id)

    def contents(self, part: BundlePart, index: int, plan: Mapping[str, int]) -> None:
        """The contents of ``part``: static entries (text, dotted leader, page number), each a
        hyperlink to its target's bookmark, inside a TOC field over this part's TC entries."""
        from docx.enum.text import WD_TAB_ALIGNMENT, WD_TAB_LEADER
        from docx.shared import Mm

        lang = part.locale_id
        self.para(part.contents, style=heading_style(part.lang))
        entries = [(part.summary, plan[f"summary:{part.lang}"], _summary_mark(part))]
        entries += [(v.project_name, plan[f"{v.lang}:{v.slug}"], bookmark_name(v))
                    for v in part.sheets]
        paras = []
        for n, (text, page, anchor) in enumerate(entries):
            para = self.para(after=5)
            if n and n % TOC_ENTRIES_PER_PAGE == 0:
                para.paragraph_format.page_break_before = True
            para.paragraph_format.tab_stops.add_tab_stop(
                Mm(210 - 2 * WORD_MARGIN_MM), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
            link = _el("w:hyperlink", **{"w:anchor": anchor, "w:history": "1"})
            for piece in (text, "\t", part.page_number(page)):
                run = _text_run(piece) if piece != "\t" else _tab_run()
                ooxml.run_lang(run, lang)
                link.append(run)
            para._p.append(link)
            paras.append(para)
        first, last = paras[0]._p, paras[-1]._p
        ppr = first.find(_qn("w:pPr"))
        at = list(first).index(ppr) + 1 if ppr is not None else 0
        for offset, run in enumerate([_field_run("begin"),
                                      _field_run("", f" TOC \\f {_toc_id(index)} \\h \\z "),
                                      _field_run("separate")]):
            first.insert(at + offset, run)
        last.append(_field_run("end"))

    def summary(self, part: BundlePart, index: int) -> None:
        heading = self.para(part.summary, style=heading_style(part.lang))
        _bookmark_and_tc(heading._p, _summary_mark(part), part.summary, index,
                         self.ids.next_bookmark())
        rows = [*(r.cells for r in part.rows), *(r.cells for r in part.totals)]
        n_plain = len(part.rows)
        for start in range(0, len(rows), SUMMARY_ROWS_PER_PAGE):
            if start:
                self.para(after=0).paragraph_format.page_break_before = True
            chunk = rows[start:start + SUMMARY_ROWS_PER_PAGE]
            totals = [start + i >= n_plain for i in range(len(chunk))]
            _summary_table_docx(self.doc, part, chunk, totals, self.colours)

    def anchor(self, elements: list, view: SheetView, index: int) -> None:
        """The bookmark the contents link to and the TC entry a refreshed TOC lists, in the
        sheet's first paragraph that holds its project name (else its first paragraph)."""
        paras = [p for e in elements for p in e.iter(_qn("w:p"))]  # iter includes e
        target = next((p for p in paras
                       if "".join(t.text or "" for t in p.iter(_qn("w:t"))).strip()
                       == view.project_name), paras[0] if paras else None)
        if target is None:
            target = _el("w:p")
            elements[0].addprevious(target)
        _bookmark_and_tc(target, bookmark_name(view), view.project_name, index,
                         self.ids.next_bookmark())

    def closing(self) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        for i, line in enumerate(self.bundle.closing):
            part = self.bundle.parts[min(i, len(self.bundle.parts) - 1)]
            self.para(line, size=22 if i == 0 else 16, bold=i == 0,
                      colour="primary" if i == 0 else "accent",
                      align=WD_ALIGN_PARAGRAPH.CENTER, before=260 if i == 0 else 12,
                      lang=part.locale_id)


def _toc_id(index: int) -> str:
    """The TOC/TC entry identifier of the ``index``-th language: a single letter."""
    return "abcdefghijklmnopqrstuvwxyz"[index]


def _summary_mark(part: BundlePart) -> str:
    return f"summary_{part.lang}"


def _bookmark_and_tc(p, name: str, text: str, index: int, bookmark_id: str) -> None:
    """Bookmark ``name`` and a hidden ``TC "text" \\f X \\l 1`` entry at the start of ``p``."""
    ppr = p.find(_qn("w:pPr"))
    at = list(p).index(ppr) + 1 if ppr is not None else 0
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    runs = [_field_run("begin"), _field_run("", f' TC "{quoted}" \\f {_toc_id(index)} \\l 1 '),
            _field_run("end")]
    for run in runs:
        rpr = _el("w:rPr")
        ooxml.set_child(rpr, _el("w:vanish"))
        run.insert(0, rpr)
    items = [_el("w:bookmarkStart", **{"w:id": bookmark_id, "w:name": name}),
             _el("w:bookmarkEnd", **{"w:id": bookmark_id}), *runs]
    for offset, item in enumerate(items):
        p.insert(at + offset, item)


def _copy(element):
    import copy

    return copy.deepcopy(element)


def _front_page_setup(section) -> None:
    """A4 portrait, :data:`WORD_MARGIN_MM` margins but none at the top (the bands run from
    the top edge), footer 8 mm from the edge."""
    from docx.shared import Mm

    sect = section._sectPr
    keep = {_qn("w:headerReference"), _qn("w:footerReference"), _qn("w:pgSz"), _qn("w:pgMar")}
    for child in list(sect):
        if child.tag not in keep:
            sect.remove(child)
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(WORD_MARGIN_MM)
    section.top_margin, section.bottom_margin = Mm(0), Mm(WORD_MARGIN_MM)
    section.header_distance, section.footer_distance = Mm(0), Mm(8)
    section.gutter = Mm(0)


def _apply_page_setup(section, template) -> None:
    """Give ``section`` the page setup of the ``w:sectPr`` ``template`` (size, margins,
    columns, grid ...), keeping its own header/footer references; never a page numbering
    restart (see :func:`_continuous_numbering`)."""
    from docx.enum.section import WD_SECTION

    sect = section._sectPr
    refs = {_qn("w:headerReference"), _qn("w:footerReference")}
    for child in list(sect):
        if child.tag not in refs:
            sect.remove(child)
    for child in template:
        if child.tag not in refs and child.tag != _qn("w:pgNumType"):
            ooxml.set_child(sect, _copy(child), replace=False)
    for key, value in template.attrib.items():
        if not key.startswith("{" + _W_NS):
            continue
        sect.set(key, value)
    section.start_type = WD_SECTION.NEW_PAGE


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _carry_over_hdrftr(src, section, view: SheetView, part: BundlePart, theme: Theme,
                       ids: _Ids) -> None:
    """Copy the sheet's headers and footers into ``section``; the default footer's first
    paragraph gets " · Pagina N" (a PAGE field) after its left-hand text."""
    src_section = src.sections[0]
    for (kind, t), attr in _HDRFTR_ATTR.items():
        src_hf = getattr(src_section, attr)
        if src_hf.is_linked_to_previous:  # the sheet has none of this kind
            continue
        dst_hf = getattr(section, attr)
        dst_hf.is_linked_to_previous = False
        dst = dst_hf._element
        for child in list(dst):
            dst.remove(child)
        elements = [_copy(child) for child in src_hf._element]
        for element in elements:
            dst.append(element)
        _relate(elements, src_hf.part, dst_hf.part, theme)
        _renumber(elements, ids)
        _mark_language(elements, view.locale_id)
        if (kind, t) == ("footer", "default"):
            _add_page_number(dst, part)


def _add_page_number(footer, part: BundlePart) -> None:
    """" · Pagina N" (N a PAGE field) after the left-hand text of the footer's first
    paragraph, before its first tab, in that text's run formatting."""
    first = footer.find(_qn("w:p"))
    if first is None:
        return
    runs = first.findall(_qn("w:r"))
    tab_run = next((r for r in runs if r.find(_qn("w:tab")) is not None), None)
    before_tab = runs[:runs.index(tab_run)] if tab_run is not None else runs
    model = before_tab[-1].find(_qn("w:rPr")) if before_tab else None
    before, _, after = part.page_word.partition("{number}")
    new = [_text_run(" · " + before), *_field_runs("PAGE", "1")]
    if after:
        new.append(_text_run(after))
    for run in new:
        if model is not None:
            run.insert(0, _copy(model))
        _set_lang(run, part.locale_id)
        if tab_run is not None:
            tab_run.addprevious(run)
        else:
            first.append(run)


def _relate(elements: list, src_part, dst_part, theme: Theme) -> None:
    """Re-point every relationship id (``r:id``, ``r:embed`` ...) in ``elements`` from
    ``src_part``'s relationships to equal ones of ``dst_part``: pictures are added to the
    package once (python-docx deduplicates them by hash), hyperlinks stay external."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    from ...errors import TemplateError

    done: dict[str, str] = {}
    for element in elements:
        for node in element.iter():
            for key, value in list(node.attrib.items()):
                if not key.startswith("{" + _R + "}"):
                    continue
                if value not in done:
                    rel = src_part.rels.get(value)
                    if rel is None:
                        raise TemplateError(theme.sheet_docx, f"{key}={value!r} names no "
                                            "relationship of the filled sheet")
                    if rel.is_external:
                        done[value] = dst_part.relate_to(rel.target_ref, rel.reltype,
                                                         is_external=True)
                    elif rel.reltype == RT.IMAGE:
                        done[value], _ = dst_part.get_or_add_image(
                            io.BytesIO(rel.target_part.blob))
                    else:
                        raise TemplateError(
                            theme.sheet_docx, f"the sheet relates a {rel.reltype.rsplit('/')[-1]}"
                            " part, which the briefing bundle cannot carry over: use pictures "
                            "and external links only")
                node.set(key, done[value])


def _renumber(elements: list, ids: _Ids) -> None:
    """Fresh ``wp:docPr`` ids and bookmark ids (ids must be unique in the document)."""
    wp = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
    marks: dict[str, str] = {}
    for element in elements:
        for node in element.iter(f"{{{wp}}}docPr"):
            node.set("id", ids.next_drawing())
        for node in element.iter(_qn("w:bookmarkStart"), _qn("w:bookmarkEnd")):
            old = node.get(_qn("w:id"))
            if old not in marks:
                marks[old] = ids.next_bookmark()
            node.set(_qn("w:id"), marks[old])


def _set_lang(run, locale_id: str) -> None:
    """``w:lang`` = ``locale_id`` in the run's properties (schema order kept)."""
    ooxml.run_lang(run, locale_id)


def _mark_language(elements: list, locale_id: str) -> None:
    for element in elements:
        for run in element.iter(_qn("w:r")):
            _set_lang(run, locale_id)


def _continuous_numbering(doc) -> None:
    """Page numbers count on through the whole document: the first section after the cover
    starts at 1, no other section restarts."""
    for i, section in enumerate(doc.sections):
        sect = section._sectPr
        for old in sect.findall(_qn("w:pgNumType")):
            sect.remove(old)
        if i == 1:
            ooxml.set_child(sect, _el("w:pgNumType", **{"w:start": "1"}))


def _drop_update_fields(doc) -> None:
    """No ``w:updateFields``: the contents are right as written (Word would ask first)."""
    settings = doc.settings.element
    for flag in settings.findall(_qn("w:updateFields")):
        settings.remove(flag)


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
    for run in _field_runs(instr, result):
        p.append(run)


def _field_runs(instr: str, result: str) -> list:
    return [_field_run("begin"), _field_run("", f" {instr} "), _field_run("separate"),
            _text_run(result), _field_run("end")]


def _text_run(text: str):
    run = _el("w:r")
    t = _el("w:t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    run.append(t)
    return run


def _tab_run():
    run = _el("w:r")
    run.append(_el("w:tab"))
    return run


def _shade(cell, hex_colour: str) -> None:
    ooxml.shade(cell._tc, hex_colour)


def _summary_table_docx(doc, part: BundlePart, rows: list[tuple[str, ...]],
                        totals: list[bool], colours) -> None:
    """One summary table: the column headings (repeated on a new page), then ``rows``,
    those flagged in ``totals`` bold on the panel colour."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    all_rows = [part.columns, *rows]
    table = doc.add_table(rows=len(all_rows), cols=len(part.columns))
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    for old in tbl_pr.findall(_qn("w:tblStyle")):
        tbl_pr.remove(old)  # the template need not have "Table Grid": borders of its own
    line = {"val": "single", "sz": 4, "space": 0, "color": str(colours["rule"])}
    ooxml.set_child(tbl_pr, ooxml.side_elements("w:tblBorders", {
        side: line for side in ("top", "left", "bottom", "right", "insideH", "insideV")}))
    ooxml.table_cell_margins(tbl_pr, top=28, left=57, bottom=28, right=57)  # 0.5 mm, 1 mm
    # a data table: its first row holds the column headings (Word's "Header Row")
    ooxml.set_child(tbl_pr, ooxml.el("w:tblLook", val="0020", firstRow=1, lastRow=0,
                                     firstColumn=0, lastColumn=0, noHBand=1, noVBand=1))
    ooxml.set_child(tbl_pr, ooxml.el("w:tblDescription", val=part.summary))
    numeric = (False, False, True, True, True, False, False)
    scale = (210 - 2 * WORD_MARGIN_MM) / sum(SUMMARY_COLUMNS_MM)
    widths = [Mm(w * scale) for w in SUMMARY_COLUMNS_MM]
    for column, width in zip(table.columns, widths):
        column.width = width
    for r, cells in enumerate(all_rows):
        row_pr = table.rows[r]._tr.get_or_add_trPr()
        ooxml.set_child(row_pr, _el("w:cantSplit"))
        if r == 0:
            ooxml.set_child(row_pr, _el("w:tblHeader"))
        for c, text in enumerate(cells):
            cell = table.cell(r, c)
            cell.width = widths[c]
            para = cell.paragraphs[0]
            para.style = doc.styles[TABLE_STYLE]
            if numeric[c]:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = para.add_run(text)
            ooxml.run_lang(run._r, part.locale_id)
            if r == 0:
                run.bold = True
                run.font.color.rgb = colours["on_primary"]
                _shade(cell, "#" + str(colours["primary"]))
            elif totals[r - 1]:
                run.bold = True
                _shade(cell, "#" + str(colours["panel"]))


__all__ = ["bookmark_name", "docx_page_plan", "heading_style", "render_bundle_docx"]
