"""Does a filled Word sheet fit on its page?  :func:`check_fit` lays it out and says.

Word lays a .docx out only when it opens it, so the build measures the filled sheet itself,
with the template's own styles (font sizes, bold, capitals, line spacing, space before and
after, indents), page size, margins, header and footer, table grid, cell padding and row
heights, and the widths of each run's font: Calibri (the template's font) with the theme's
Carlito, which has its widths; another font with the file fontconfig finds for it (the font
itself, or the one LibreOffice puts in its place where it is not installed); without
fontconfig (Windows, macOS) every font is measured as Carlito.  Lines are broken at spaces
as Word does; Word's automatic hyphenation can only make a paragraph shorter, so the
estimate errs on the long side, and a sheet must leave :data:`SAFETY_PT` free.  A sheet
taller than that is a :class:`~nexusreports.errors.ContentOverflow` naming the Word sheet,
the column that overflows, the fields shown in it and by how much.

What is guaranteed where (docs/template-reference.md says the same): this estimate runs in
every ``validate`` and ``build``; the test suite also converts every Word sheet and the
bundle with LibreOffice and counts the pages (that is the real layout, where LibreOffice is
installed, as in CI).  Microsoft Word itself is not run anywhere.

Lengths are in points (``*_pt``) unless named ``*_mm``; OOXML's own units (twips, half
points, EMU) are converted where they are read.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx.oxml.ns import qn
from lxml import etree

from ...errors import ContentOverflow, TemplateError
from ...theme import Theme
from ...view import SheetView

LINE_FACTOR = 1.2207
"""Single line spacing of Calibri/Carlito as a multiple of the font size ((winAscent +
winDescent) / unitsPerEm = 2500 / 2048): Word's "single" line for these fonts."""
DEFAULT_CELL_PAD_PT = 5.4
"""Word's default left and right cell padding (0.19 cm) where a table sets none."""
TOLERANCE_PT = 0.5
SAFETY_PT = 4 / 25.4 * 72
"""Room (4 mm) a sheet must leave at the foot of its page: LibreOffice laid sheets out up
to about 3 mm taller than the estimate where a restyle made the key-figures column or a page
header the tallest part (cell borders, the heading lines LibreOffice sets taller); the
shipped sheets leave some 50 mm."""
"""Rounding the estimate may be off by without calling a sheet too tall."""

_EMU_PER_PT = 12700
_TWIPS_PER_PT = 20


@lru_cache(maxsize=32)
def _face(path: str):
    from reportlab.pdfbase.ttfonts import TTFont

    return TTFont(f"nexusreports-word-{abs(hash(path))}", path)


THEME_FONT_NAMES = frozenset({"calibri", "calibri light", "carlito"})
"""Font names measured with the theme's font (Carlito has Calibri's widths)."""


@lru_cache(maxsize=32)
def system_face(family: str, bold: bool):
    """The face LibreOffice would set ``family`` in on this machine, or None.

    fontconfig (``fc-match``, where installed, as on Linux and in CI) names the font file
    for the family, or the font it substitutes when the family is not installed, as
    LibreOffice does.  None without fontconfig, or when the file is no TrueType font
    ReportLab can read: the run is then measured with the theme's font.
    """
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    pattern = family.replace("-", r"\-").replace(":", r"\:") + (":weight=bold" if bold else "")
    try:
        found = subprocess.run([fc_match, "-f", "%{file}", pattern], capture_output=True,
                               text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not found.lower().endswith(".ttf"):
        return None
    try:
        return _face(found)
    except Exception:  # noqa: BLE001 - any font ReportLab cannot read: use the theme's
        return None


@dataclasses.dataclass(frozen=True)
class _Para:
    """The resolved paragraph properties that decide its height."""

    size_pt: float
    before_pt: float
    after_pt: float
    line: float  # twips (exact/atLeast) or 240ths (auto)
    rule: str  # auto, exact, atLeast
    left_pt: float
    right_pt: float
    first_pt: float


def _on(el: etree._Element | None) -> bool | None:
    if el is None:
        return None
    return el.get(qn("w:val"), "true") not in ("false", "0", "off")


class _Styles:
    """The document's styles resolved along ``basedOn`` to the properties that matter."""

    def __init__(self, styles_root: etree._Element):
        self.by_id = {s.get(qn("w:styleId")): s for s in styles_root.iter(qn("w:style"))}
        defaults = styles_root.find(qn("w:docDefaults"))
        self.default_ppr = defaults.find(f"{qn('w:pPrDefault')}/{qn('w:pPr')}") \
            if defaults is not None else None
        self.default_rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}") \
            if defaults is not None else None
        self.default_para = next((s.get(qn("w:styleId")) for s in self.by_id.values()
                                  if s.get(qn("w:type")) == "paragraph"
                                  and s.get(qn("w:default")) in ("1", "true")), None)
        self._cache: dict[tuple, Any] = {}

    def chain(self, style_id: str | None) -> list[etree._Element]:
        """The style and its ancestors, root first."""
        out: list[etree._Element] = []
        seen = set()
        while style_id and style_id in self.by_id and style_id not in seen:
            seen.add(style_id)
            style = self.by_id[style_id]
            out.append(style)
            based = style.find(qn("w:basedOn"))
            style_id = based.get(qn("w:val")) if based is not None else None
        return out[::-1]

    def ppr_layers(self, style_id: str | None) -> list[etree._Element]:
        layers = [self.default_ppr] if self.default_ppr is not None else []
        return layers + [p for s in self.chain(style_id) for p in [s.find(qn("w:pPr"))]
                         if p is not None]

    def rpr_layers(self, style_id: str | None) -> list[etree._Element]:
        layers = [self.default_rpr] if self.default_rpr is not None else []
        return layers + [r for s in self.chain(style_id) for r in [s.find(qn("w:rPr"))]
                         if r is not None]


@dataclasses.dataclass
class _Run:
    size_pt: float
    bold: bool
    caps: bool
    font: str | None = None
    """The Latin font name (``w:rFonts``; a theme font as ``+major``/``+minor``)."""


def _run_props(layers: Iterable[etree._Element]) -> _Run:
    size, bold, caps, font = 10.0, False, False, None
    for rpr in layers:
        if rpr is None:
            continue
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is not None:
            theme = fonts.get(qn("w:asciiTheme"))
            named = fonts.get(qn("w:ascii")) or fonts.get(qn("w:hAnsi"))
            if theme:
                font = "+major" if theme.startswith("major") else "+minor"
            elif named:
                font = named
        sz = rpr.find(qn("w:sz"))
        if sz is not None and (sz.get(qn("w:val")) or "").isdigit():
            size = int(sz.get(qn("w:val"))) / 2
        b = _on(rpr.find(qn("w:b")))
        if b is not None:
            bold = b
        c = _on(rpr.find(qn("w:caps")))
        if c is not None:
            caps = c
    return _Run(size, bold, caps, font)


def _twips_attr(el: etree._Element | None, *names: str) -> float | None:
    if el is None:
        return None
    for name in names:
        value = el.get(qn(f"w:{name}"))
        if value is not None and re.fullmatch(r"-?\d+", value):
            return int(value) / _TWIPS_PER_PT
    return None


def _para_props(styles: _Styles, p: etree._Element) -> tuple[_Para, str | None, list]:
    ppr = p.find(qn("w:pPr"))
    style_el = ppr.find(qn("w:pStyle")) if ppr is not None else None
    style_id = style_el.get(qn("w:val")) if style_el is not None else styles.default_para
    layers = styles.ppr_layers(style_id) + ([ppr] if ppr is not None else [])
    before = after = 0.0
    line, rule = 240.0, "auto"
    left = right = first = 0.0
    for layer in layers:
        spacing = layer.find(qn("w:spacing"))
        if spacing is not None:
            before = _twips_attr(spacing, "before") if spacing.get(qn("w:before")) else before
            after = _twips_attr(spacing, "after") if spacing.get(qn("w:after")) else after
            if spacing.get(qn("w:line")):
                line = float(spacing.get(qn("w:line")))
                rule = spacing.get(qn("w:lineRule"), "auto")
        ind = layer.find(qn("w:ind"))
        if ind is not None:
            left = _twips_attr(ind, "left", "start") if _twips_attr(ind, "left", "start") \
                is not None else left
            right = _twips_attr(ind, "right", "end") if _twips_attr(ind, "right", "end") \
                is not None else right
            if ind.get(qn("w:firstLine")) is not None:
                first = _twips_attr(ind, "firstLine") or 0.0
            if ind.get(qn("w:hanging")) is not None:
                first = -(_twips_attr(ind, "hanging") or 0.0)
    rpr_layers = styles.rpr_layers(style_id)
    mark = ppr.find(qn("w:rPr")) if ppr is not None else None
    size = _run_props(rpr_layers + ([mark] if mark is not None else [])).size_pt
    return (_Para(size, before or 0.0, after or 0.0, line, rule, left or 0.0, right or 0.0,
                  first), style_id, rpr_layers)


class Layout:
    """Heights of a filled document's parts, by Word's rules as far as a sheet uses them."""

    def __init__(self, doc: Any, theme: Theme):
        self.doc = doc
        self.styles = _Styles(doc.styles.element)
        self.regular = _face(str(theme.fonts.regular))
        self.bold = _face(str(theme.fonts.bold))
        self.theme_fonts = _theme_fonts(doc)

    # -- text ----------------------------------------------------------------------------
    def face(self, run: _Run):
        """The face a run is measured with: the template's font where this machine has it
        (or the font LibreOffice would put in its place), else the theme's font."""
        font = self.theme_fonts.get(run.font, run.font) if run.font else None
        if font and font.strip().lower() not in THEME_FONT_NAMES:
            face = system_face(font.strip(), run.bold)
            if face is not None:
                return face
        return self.bold if run.bold else self.regular

    def _width(self, text: str, run: _Run) -> float:
        return self.face(run).stringWidth(text.upper() if run.caps else text, run.size_pt)

    def paragraph(self, p: etree._Element, width_pt: float) -> float:
        """The height of paragraph ``p`` set in a column ``width_pt`` wide."""
        props, style_id, rpr_layers = _para_props(self.styles, p)
        room = max(1.0, width_pt - props.left_pt - props.right_pt)
        lines: list[float] = []  # the tallest font or picture of each line
        line_w, line_h, pending_space = max(0.0, props.first_pt), 0.0, 0.0
        words_on_line = 0

        def new_line() -> None:
            nonlocal line_w, line_h, pending_space, words_on_line
            lines.append(line_h)
            line_w, line_h, pending_space, words_on_line = 0.0, 0.0, 0.0, 0

        for run in p.iter(qn("w:r")):
            if next(run.iterancestors(qn("w:p"))) is not p:
                continue  # a text box's paragraph
            rpr = run.find(qn("w:rPr"))
            style = rpr.find(qn("w:rStyle")) if rpr is not None else None
            layers = list(rpr_layers)
            if style is not None:
                layers += self.styles.rpr_layers(style.get(qn("w:val")))[1:]
            if rpr is not None:
                if _on(rpr.find(qn("w:vanish"))):
                    continue
                layers.append(rpr)
            props_run = _run_props(layers)
            for child in run:
                if child.tag == qn("w:t"):
                    for token in re.split(r"( )", child.text or ""):
                        if token == " ":
                            pending_space += self._width(" ", props_run)
                            continue
                        if not token:
                            continue
                        w = self._width(token, props_run)
                        if words_on_line and line_w + pending_space + w > room:
                            new_line()
                        while w > room and words_on_line == 0:  # a word wider than the room
                            line_h = max(line_h, props_run.size_pt)
                            new_line()
                            w -= room
                        line_w += pending_space + w
                        pending_space = 0.0
                        words_on_line += 1
                        line_h = max(line_h, props_run.size_pt)
                elif child.tag in (qn("w:br"), qn("w:cr")):
                    line_h = max(line_h, props_run.size_pt)
                    new_line()
                elif child.tag == qn("w:tab"):
                    pending_space += 36.0
                elif child.tag == qn("w:drawing"):
                    extent = child.find(".//{http://schemas.openxmlformats.org/drawingml/2006/"
                                        "wordprocessingDrawing}extent")
                    if extent is not None:
                        w = int(extent.get("cx", "0")) / _EMU_PER_PT
                        h = int(extent.get("cy", "0")) / _EMU_PER_PT
                        if words_on_line and line_w + w > room:
                            new_line()
                        line_w += w
                        words_on_line += 1
                        line_h = max(line_h, h / LINE_FACTOR)
        lines.append(line_h)
        height = 0.0
        for tallest in lines:
            natural = max(tallest, props.size_pt) * LINE_FACTOR
            if props.rule == "exact":
                height += props.line / _TWIPS_PER_PT
            elif props.rule == "atLeast":
                height += max(props.line / _TWIPS_PER_PT, natural)
            else:
                height += natural * props.line / 240
        return props.before_pt + height + props.after_pt

    # -- blocks and tables ---------------------------------------------------------------
    def blocks(self, parent: etree._Element, width_pt: float) -> float:
        """The height of the paragraphs and tables directly in ``parent``."""
        total = 0.0
        for child in parent:
            if child.tag == qn("w:p"):
                total += self.paragraph(child, width_pt)
            elif child.tag == qn("w:tbl"):
                total += self.table(child)[0]
            elif child.tag == qn("w:sdt"):
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    total += self.blocks(content, width_pt)
        return total

    def table(self, tbl: etree._Element) -> tuple[float, list[list[tuple[float, etree._Element]]]]:
        """The height of ``tbl`` and, per row, each cell's content height with the cell."""
        grid = [(_twips_attr(c, "w") or 0.0) for c in tbl.findall(f"{qn('w:tblGrid')}/"
                                                                   f"{qn('w:gridCol')}")]
        tbl_pr = tbl.find(qn("w:tblPr"))
        default_mar = tbl_pr.find(qn("w:tblCellMar")) if tbl_pr is not None else None
        rows = tbl.findall(qn("w:tr"))
        heights: list[float] = []
        cells_out: list[list[tuple[float, etree._Element]]] = []
        spans: list[tuple[int, int, float]] = []  # (first row, column, content height)
        open_merge: dict[int, int] = {}
        for r, tr in enumerate(rows):
            col = 0
            tallest = 0.0
            row_cells: list[tuple[float, etree._Element]] = []
            for tc in tr.findall(qn("w:tc")):
                tc_pr = tc.find(qn("w:tcPr"))
                span_el = tc_pr.find(qn("w:gridSpan")) if tc_pr is not None else None
                span = int(span_el.get(qn("w:val"), "1")) if span_el is not None else 1
                width = sum(grid[col:col + span]) if grid else 0.0
                if not width and tc_pr is not None:
                    width = _twips_attr(tc_pr.find(qn("w:tcW")), "w") or 0.0
                mar = tc_pr.find(qn("w:tcMar")) if tc_pr is not None else None

                def pad(side: str, default: float) -> float:
                    for source in (mar, default_mar):
                        if source is not None and source.find(qn(f"w:{side}")) is not None:
                            return _twips_attr(source.find(qn(f"w:{side}")), "w") or 0.0
                    return default

                left, right = pad("left", DEFAULT_CELL_PAD_PT), pad("right", DEFAULT_CELL_PAD_PT)
                top, bottom = pad("top", 0.0), pad("bottom", 0.0)
                content = top + self.blocks(tc, width - left - right) + bottom
                row_cells.append((content, tc))
                merge = tc_pr.find(qn("w:vMerge")) if tc_pr is not None else None
                if merge is not None and merge.get(qn("w:val")) == "restart":
                    open_merge[col] = len(spans)
                    spans.append((r, col, content))
                elif merge is not None and col in open_merge:
                    pass  # continues the merged cell above: its content counts there
                else:
                    open_merge.pop(col, None)
                    tallest = max(tallest, content)
                col += span
            tr_pr = tr.find(qn("w:trPr"))
            h_el = tr_pr.find(qn("w:trHeight")) if tr_pr is not None else None
            if h_el is not None:
                value = (_twips_attr(h_el, "val") or 0.0)
                tallest = value if h_el.get(qn("w:hRule")) == "exact" else max(value, tallest)
            heights.append(tallest)
            cells_out.append(row_cells)
        # a merged cell taller than the rows it spans makes its last row taller
        for first, col, content in spans:
            last = first
            for r in range(first + 1, len(rows)):
                tcs = rows[r].findall(qn("w:tc"))
                c, hit = 0, None
                for tc in tcs:
                    if c == col:
                        hit = tc
                        break
                    span_el = tc.find(f"{qn('w:tcPr')}/{qn('w:gridSpan')}")
                    c += int(span_el.get(qn("w:val"), "1")) if span_el is not None else 1
                merge = hit.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}") if hit is not None else None
                if merge is None or merge.get(qn("w:val")) == "restart":
                    break
                last = r
            spanned = sum(heights[first:last + 1])
            if content > spanned:
                heights[last] += content - spanned
        return sum(heights), cells_out


_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def _theme_fonts(doc: Any) -> dict[str, str]:
    """The Latin fonts of the document's theme: ``{"+major": ..., "+minor": ...}``."""
    try:
        part = next(rel.target_part for rel in doc.part.rels.values()
                    if rel.reltype.endswith("/theme"))
        root = etree.fromstring(part.blob)
    except (StopIteration, etree.XMLSyntaxError, AttributeError, ValueError):
        return {}
    fonts = {}
    for key, kind in (("+major", "majorFont"), ("+minor", "minorFont")):
        latin = root.find(f".//{_A}{kind}/{_A}latin")
        if latin is not None and latin.get("typeface"):
            fonts[key] = latin.get("typeface")
    return fonts


def _section_geometry(doc: Any) -> tuple[float, float, float, float]:
    """Page height, top margin, bottom margin and footer distance of the first section, pt."""
    section = doc.sections[0]
    return (section.page_height.pt, section.top_margin.pt, section.bottom_margin.pt,
            section.footer_distance.pt)


def _growth(layout: Layout, tbl: etree._Element) -> list[tuple[float, list]]:
    """For each row of ``tbl`` with an at-least height: how far its content goes past it
    (pt), with the row's cells."""
    _, rows = layout.table(tbl)
    out = []
    for tr, cells in zip(tbl.findall(qn("w:tr")), rows):
        h_el = tr.find(f"{qn('w:trPr')}/{qn('w:trHeight')}")
        if h_el is None or h_el.get(qn("w:hRule")) == "exact" or not cells:
            continue
        minimum = _twips_attr(h_el, "val") or 0.0
        out.append((max(h for h, _ in cells) - minimum, cells))
    return out


def _view_fields(view: SheetView, region: str = "") -> list[tuple[str, list[str]]]:
    """The data fields a Word sheet shows in ``region``, each with the view texts that show
    it: the name and domain in the header band, the texts in the left column, the key
    figures and preconditions (named as the PDF sheet names them) in the right column;
    elsewhere both columns' fields."""
    lang = view.lang
    if region.startswith("header"):
        return [("name", [view.title]), (f"domain.{lang}", [view.domain])]
    text = [
        (f"summary.{lang}", list(view.summary)),
        (f"relevance.{lang}", list(view.relevance)),
        (view.national.field, [e.text for e in view.national.entries]),
        (view.european.field, [e.text for e in view.european.entries]),
        ("organisations", [o.name for o in view.organisations]),
    ]
    figures = [
        ("size_eur_m", [view.size]),
        ("flagship_total_eur_m", [view.size_note or ""]),
        ("period", [view.period_start]),
        ("shares.capital_pct", [view.shares[0].left_pct] if view.shares else []),
        ("shares.public_pct", [view.shares[1].left_pct] if len(view.shares) > 1 else []),
        ("trl", [view.trl_range]),
        ("mrl", [view.mrl]),
        ("preconditions", [item.label for group in view.matrix for item in group.items]),
    ]
    if region == "left column":
        return text
    if region == "right column":
        return figures
    return text + figures


def _text_of(element: etree._Element) -> str:
    return "".join(t.text or "" for t in element.iter(qn("w:t")))


_POSITIONS = {0: "left column", -1: "right column"}


def measure(doc: Any, theme: Theme) -> tuple[float, float, list[tuple[float, etree._Element]]]:
    """The body height of a filled sheet, the room its page has (both pt), and the height
    of each top-level block with the block."""
    layout = Layout(doc, theme)
    page_h, top, bottom, footer_distance = _section_geometry(doc)
    section = doc.sections[0]
    text_w = (section.page_width - section.left_margin - section.right_margin) / _EMU_PER_PT
    first = section.different_first_page_header_footer  # the one page is the first
    footer = section.first_page_footer if first else section.footer
    if not footer.is_linked_to_previous:
        footer_h = layout.blocks(footer._element, text_w)
        bottom = max(bottom, footer_distance + footer_h)
    header = section.first_page_header if first else section.header
    if not header.is_linked_to_previous:
        header_h = layout.blocks(header._element, text_w)
        if header_h > 0:
            top = max(top, section.header_distance.pt + header_h)
    room = page_h - top - bottom
    blocks = []
    for child in doc.element.body:
        if child.tag == qn("w:p"):
            blocks.append((layout.paragraph(child, text_w), child))
        elif child.tag == qn("w:tbl"):
            blocks.append((layout.table(child)[0], child))
    return sum(h for h, _ in blocks), room, blocks


def check_fit(doc: Any, view: SheetView, theme: Theme, template: Path) -> None:
    """Raise :class:`ContentOverflow` when the filled sheet ``doc`` is taller than its page.

    The error names the Word sheet, the column that is too tall (the tallest cell of the
    tallest table, when that is what overflows), the fields whose text stands in it and the
    overflow in mm, with the lines to cut at the template's Normal line.
    """
    used, room, blocks = measure(doc, theme)
    room -= SAFETY_PT
    if used <= room + TOLERANCE_PT:
        return
    over_pt = used - room
    layout = Layout(doc, theme)
    region, where = "page", doc.element.body
    tables = [b for _, b in blocks if b.tag == qn("w:tbl")]
    # a band with a minimum height (the header) that grew past it is what overflows; else
    # the tallest column of the tallest table
    grown = [(growth, tbl, row) for tbl in tables for growth, row in _growth(layout, tbl)
             if growth > TOLERANCE_PT]
    if grown:
        _, tallest, row = max(grown, key=lambda g: g[0])
    else:
        tallest = max(blocks, key=lambda b: b[0])[1] if blocks else None
        row = []
        if tallest is not None and tallest.tag == qn("w:tbl"):
            _, rows = layout.table(tallest)
            row = max(rows, key=lambda cells: max((h for h, _ in cells), default=0.0),
                      default=[])
    if row:
        index = max(range(len(row)), key=lambda i: row[i][0])
        where = row[index][1]
        region = (_POSITIONS.get(index if index == 0 else index - len(row), "middle column")
                  if len(row) > 1 else "table")
        if tables and tallest is tables[0] and doc.element.body.index(tallest) == 0:
            region = f"header band ({region})"
    shown = _text_of(where)
    fields = [name for name, texts in _view_fields(view, region)
              if any(t and t.split("\n")[0][:40] in shown for t in texts)]
    normal = _para_props(layout.styles, etree.Element(qn("w:p")))[0]
    line_pt = max(normal.size_pt * LINE_FACTOR * (normal.line / 240 if normal.rule == "auto"
                                                  else 1.0),
                  normal.line / _TWIPS_PER_PT if normal.rule != "auto" else 0.0)
    lines = max(1, int(-(-over_pt // max(line_pt, 1.0))))
    raise ContentOverflow(view.source, f"{view.locale_id} Word", region, fields or [region],
                          round(over_pt / 72 * 25.4, 1), lines,
                          note=f"or, if the Word template ({template.name}) was restyled, make "
                          "its text smaller or its spacing tighter")


WIDTH_TOLERANCE_PT = 1.0
"""How far past the page's edge a table's text may reach before it counts as cut off."""


def check_width(doc: Any, template: Path) -> None:
    """Raise :class:`TemplateError` when the text of a table of the body runs off the right
    edge of the page (wider page margins push fixed-width tables sideways: Word and
    LibreOffice then cut the text off at the edge of the paper).

    A table may reach into the margin, and a band's shading may run off the page (the
    header band is meant to reach the edge); only the text area of its rightmost cells, the
    cell less its right padding, counts.
    """
    section = doc.sections[0]
    page_w = section.page_width / _EMU_PER_PT
    left_margin = section.left_margin / _EMU_PER_PT
    for tbl in doc.element.body.iterchildren(qn("w:tbl")):
        grid = [(_twips_attr(c, "w") or 0.0)
                for c in tbl.findall(f"{qn('w:tblGrid')}/{qn('w:gridCol')}")]
        tbl_pr = tbl.find(qn("w:tblPr"))
        ind_el = tbl_pr.find(qn("w:tblInd")) if tbl_pr is not None else None
        indent = (_twips_attr(ind_el, "w") or 0.0) if ind_el is not None and \
            ind_el.get(qn("w:type"), "dxa") == "dxa" else 0.0
        default_mar = tbl_pr.find(qn("w:tblCellMar")) if tbl_pr is not None else None
        worst = 0.0
        for tr in tbl.findall(qn("w:tr")):
            col = 0
            for tc in tr.findall(qn("w:tc")):
                tc_pr = tc.find(qn("w:tcPr"))
                span_el = tc_pr.find(qn("w:gridSpan")) if tc_pr is not None else None
                col += int(span_el.get(qn("w:val"), "1")) if span_el is not None else 1
                if not _text_of(tc).strip():
                    continue
                pad = DEFAULT_CELL_PAD_PT
                for source in (tc_pr.find(qn("w:tcMar")) if tc_pr is not None else None,
                               default_mar):
                    side = source.find(qn("w:right")) if source is not None else None
                    if side is not None:
                        pad = _twips_attr(side, "w") or 0.0
                        break
                right = left_margin + indent + sum(grid[:col]) - pad
                worst = max(worst, right - page_w)
        if worst > WIDTH_TOLERANCE_PT:
            text = " ".join(" ".join(_text_of(p) for p in tbl.iter(qn("w:p"))).split())
            shown = text[:40] + ("…" if len(text) > 40 else "")
            mm = lambda pt: round(pt / 72 * 25.4, 1)  # noqa: E731
            raise TemplateError(
                template, f"body, table “{shown}”: its text runs {mm(worst):.1f} mm off the "
                f"right edge of the page (the page is {mm(page_w):g} mm wide, its margins "
                f"left {mm(left_margin):g} mm, right {mm(section.right_margin / _EMU_PER_PT):g}"
                " mm, and the table keeps its width); make the page margins narrower again "
                "(Layout → Margins) or the table narrower (Table Properties → Table → "
                "Preferred width)")


__all__ = ["Layout", "check_fit", "check_width", "measure"]
