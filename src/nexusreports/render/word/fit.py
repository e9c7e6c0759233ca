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
from ..recurring import Recurring

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

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
"""The ``w:`` namespace in Clark notation: every name the layout reads is a constant
below (``qn`` per lookup cost more than the layout itself)."""
(_P, _R, _T, _BR, _CR, _TAB, _DRAWING, _TBL, _TR, _TC, _SDT, _SDT_CONTENT, _PPR, _RPR,
 _PSTYLE, _RSTYLE, _SPACING, _IND, _RFONTS, _SZ, _B, _CAPS, _VANISH, _TBL_PR, _TBL_GRID,
 _GRID_COL, _TBL_CELL_MAR, _TC_PR, _GRID_SPAN, _TC_W, _TC_MAR, _V_MERGE, _TR_PR,
 _TR_HEIGHT, _STYLE, _BASED_ON, _DOC_DEFAULTS, _PPR_DEFAULT, _RPR_DEFAULT) = (
    _W + name for name in (
        "p", "r", "t", "br", "cr", "tab", "drawing", "tbl", "tr", "tc", "sdt", "sdtContent",
        "pPr", "rPr", "pStyle", "rStyle", "spacing", "ind", "rFonts", "sz", "b", "caps",
        "vanish", "tblPr", "tblGrid", "gridCol", "tblCellMar", "tcPr", "gridSpan", "tcW",
        "tcMar", "vMerge", "trPr", "trHeight", "style", "basedOn", "docDefaults",
        "pPrDefault", "rPrDefault"))
(_VAL, _STYLE_ID, _TYPE, _DEFAULT, _ASCII_THEME, _ASCII, _H_ANSI, _BEFORE, _AFTER, _LINE,
 _LINE_RULE, _FIRST_LINE, _HANGING, _H_RULE) = (
    _W + name for name in (
        "val", "styleId", "type", "default", "asciiTheme", "ascii", "hAnsi", "before", "after",
        "line", "lineRule", "firstLine", "hanging", "hRule"))
_TBL_IND = _W + "tblInd"
_SIDES = {side: _W + side for side in ("left", "right", "top", "bottom")}
_ATTRS: dict[str, str] = {}
"""``w:`` attribute names in Clark notation, by local name (filled as they are asked for)."""
_INTEGER = re.compile(r"-?\d+")
_SPACE_SPLIT = re.compile(r"( )")
_WP_EXTENT = ".//{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent"


@lru_cache(maxsize=32)
def _face(path: str):
    """The TrueType font at ``path`` for its widths: the one the PDF sheets registered with
    ReportLab when they did (reading a font file costs some 50 ms), else read here."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in pdfmetrics.getRegisteredFontNames():
        font = pdfmetrics.getFont(name)
        if isinstance(font, TTFont) and getattr(font.face, "filename", None) == path:
            return font
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
    return el.get(_VAL, "true") not in ("false", "0", "off")


class _Styles:
    """The document's styles resolved along ``basedOn`` to the properties that matter.

    Each style's layers, and the properties they resolve to, are worked out once per
    document (a sheet has a few hundred paragraphs in a dozen styles)."""

    def __init__(self, styles_root: etree._Element):
        self.by_id = {s.get(_STYLE_ID): s for s in styles_root.iter(_STYLE)}
        defaults = styles_root.find(_DOC_DEFAULTS)
        self.default_ppr = defaults.find(f"{_PPR_DEFAULT}/{_PPR}") \
            if defaults is not None else None
        self.default_rpr = defaults.find(f"{_RPR_DEFAULT}/{_RPR}") \
            if defaults is not None else None
        self.default_para = next((s.get(_STYLE_ID) for s in self.by_id.values()
                                  if s.get(_TYPE) == "paragraph"
                                  and s.get(_DEFAULT) in ("1", "true")), None)
        self._cache: dict[tuple, Any] = {}

    def chain(self, style_id: str | None) -> list[etree._Element]:
        """The style and its ancestors, root first."""
        out: list[etree._Element] = []
        seen = set()
        while style_id and style_id in self.by_id and style_id not in seen:
            seen.add(style_id)
            style = self.by_id[style_id]
            out.append(style)
            based = style.find(_BASED_ON)
            style_id = based.get(_VAL) if based is not None else None
        return out[::-1]

    def ppr_layers(self, style_id: str | None) -> list[etree._Element]:
        key = ("ppr", style_id)
        layers = self._cache.get(key)
        if layers is None:
            layers = [self.default_ppr] if self.default_ppr is not None else []
            layers = self._cache[key] = layers + [
                p for s in self.chain(style_id) for p in [s.find(_PPR)] if p is not None]
        return list(layers)

    def rpr_layers(self, style_id: str | None) -> list[etree._Element]:
        key = ("rpr", style_id)
        layers = self._cache.get(key)
        if layers is None:
            layers = [self.default_rpr] if self.default_rpr is not None else []
            layers = self._cache[key] = layers + [
                r for s in self.chain(style_id) for r in [s.find(_RPR)] if r is not None]
        return list(layers)

    def para_state(self, style_id: str | None) -> tuple:
        """The paragraph properties (:func:`_fold_para`) the style's layers resolve to."""
        key = ("para", style_id)
        state = self._cache.get(key)
        if state is None:
            state = _PARA_START
            for layer in self.ppr_layers(style_id):
                state = _fold_para(state, layer)
            self._cache[key] = state
        return state

    def run_state(self, para_style: str | None, run_style: str | None) -> _Run:
        """The run properties of a run in style ``run_style`` (or None) in a paragraph of
        style ``para_style``: the paragraph style's layers, then the run style's without its
        first layer."""
        key = ("run", para_style, run_style)
        state = self._cache.get(key)
        if state is None:
            layers = self.rpr_layers(para_style)
            if run_style is not None:
                layers += self.rpr_layers(run_style)[1:]
            state = self._cache[key] = _run_props(layers)
        return state


@dataclasses.dataclass
class _Run:
    size_pt: float
    bold: bool
    caps: bool
    font: str | None = None
    """The Latin font name (``w:rFonts``; a theme font as ``+major``/``+minor``)."""


def _run_props(layers: Iterable[etree._Element], start: _Run | None = None) -> _Run:
    """The run properties ``layers`` (``w:rPr`` elements, lowest first) resolve to, on top of
    ``start`` (default: 10 pt, not bold, no capitals, no font)."""
    if start is None:
        size, bold, caps, font = 10.0, False, False, None
    else:
        size, bold, caps, font = start.size_pt, start.bold, start.caps, start.font
    for rpr in layers:
        if rpr is None:
            continue
        fonts = rpr.find(_RFONTS)
        if fonts is not None:
            theme = fonts.get(_ASCII_THEME)
            named = fonts.get(_ASCII) or fonts.get(_H_ANSI)
            if theme:
                font = "+major" if theme.startswith("major") else "+minor"
            elif named:
                font = named
        sz = rpr.find(_SZ)
        if sz is not None and (sz.get(_VAL) or "").isdigit():
            size = int(sz.get(_VAL)) / 2
        b = _on(rpr.find(_B))
        if b is not None:
            bold = b
        c = _on(rpr.find(_CAPS))
        if c is not None:
            caps = c
    return _Run(size, bold, caps, font)


def _twips_attr(el: etree._Element | None, *names: str) -> float | None:
    if el is None:
        return None
    for name in names:
        attr = _ATTRS.get(name)
        if attr is None:
            attr = _ATTRS[name] = _W + name
        value = el.get(attr)
        if value is not None and _INTEGER.fullmatch(value):
            return int(value) / _TWIPS_PER_PT
    return None


_PARA_START = (0.0, 0.0, 240.0, "auto", 0.0, 0.0, 0.0)
"""Paragraph properties before any layer: before, after, line, rule, left, right, first."""


def _fold_para(state: tuple, layer: etree._Element) -> tuple:
    """``state`` (see :data:`_PARA_START`) with the spacing and indents of ``layer`` (a
    ``w:pPr``) applied over it."""
    before, after, line, rule, left, right, first = state
    spacing = layer.find(_SPACING)
    if spacing is not None:
        before = _twips_attr(spacing, "before") if spacing.get(_BEFORE) else before
        after = _twips_attr(spacing, "after") if spacing.get(_AFTER) else after
        if spacing.get(_LINE):
            line = float(spacing.get(_LINE))
            rule = spacing.get(_LINE_RULE, "auto")
    ind = layer.find(_IND)
    if ind is not None:
        value = _twips_attr(ind, "left", "start")
        left = value if value is not None else left
        value = _twips_attr(ind, "right", "end")
        right = value if value is not None else right
        if ind.get(_FIRST_LINE) is not None:
            first = _twips_attr(ind, "firstLine") or 0.0
        if ind.get(_HANGING) is not None:
            first = -(_twips_attr(ind, "hanging") or 0.0)
    return before, after, line, rule, left, right, first


def _para_props(styles: _Styles, p: etree._Element) -> tuple[_Para, str | None, list]:
    ppr = p.find(_PPR)
    style_el = ppr.find(_PSTYLE) if ppr is not None else None
    style_id = style_el.get(_VAL) if style_el is not None else styles.default_para
    state = styles.para_state(style_id)
    if ppr is not None:
        state = _fold_para(state, ppr)
    before, after, line, rule, left, right, first = state
    mark = ppr.find(_RPR) if ppr is not None else None
    base = styles.run_state(style_id, None)
    size = _run_props([mark], base).size_pt if mark is not None else base.size_pt
    return (_Para(size, before or 0.0, after or 0.0, line, rule, left or 0.0, right or 0.0,
                  first), style_id, styles.rpr_layers(style_id))


class Layout:
    """Heights of a filled document's parts, by Word's rules as far as a sheet uses them."""

    def __init__(self, doc: Any, theme: Theme):
        self.doc = doc
        styles_root = doc.styles.element
        self.styles = _Styles(styles_root)
        self.regular = _face(str(theme.fonts.regular))
        self.bold = _face(str(theme.fonts.bold))
        self.theme_fonts = _theme_fonts(doc)
        self._faces: dict[tuple, Any] = {}
        self._heights = _heights_for(styles_root, self.theme_fonts, theme)

    # -- text ----------------------------------------------------------------------------
    def face(self, run: _Run):
        """The face a run is measured with: the template's font where this machine has it
        (or the font LibreOffice would put in its place), else the theme's font."""
        key = (run.font, run.bold)
        face = self._faces.get(key)
        if face is None:
            face = self._faces[key] = self._find_face(run)
        return face

    def _find_face(self, run: _Run):
        font = self.theme_fonts.get(run.font, run.font) if run.font else None
        if font and font.strip().lower() not in THEME_FONT_NAMES:
            face = system_face(font.strip(), run.bold)
            if face is not None:
                return face
        return self.bold if run.bold else self.regular

    def _width(self, text: str, run: _Run) -> float:
        return self.face(run).stringWidth(text.upper() if run.caps else text, run.size_pt)

    def _tokens(self, text: str, run: _Run) -> list[tuple[bool, float]]:
        """The pieces of a ``w:t``'s text as lines are broken there: (is a space, width)
        for each space and each word between spaces; each word's width is remembered per
        face and size (:data:`_WIDTHS`)."""
        face = self.face(run)
        size, caps = run.size_pt, run.caps
        kept = _WIDTHS.kept
        out = []
        for token in _SPACE_SPLIT.split(text):
            if not token:
                continue
            shown = token.upper() if caps else token
            key = (face, size, shown)
            width = kept.get(key)
            if width is None:
                width = _WIDTHS.get(key)  # this sheet's own words
                if width is None:
                    width = face.stringWidth(shown, size)
                    _WIDTHS.put(key, width)
            out.append((token == " ", width))
        return out

    def paragraph(self, p: etree._Element, width_pt: float) -> float:
        """The height of paragraph ``p`` set in a column ``width_pt`` wide."""
        xml = etree.tostring(p, with_tail=False)
        key = (xml, width_pt)
        height = self._heights.get(key)
        if height is None:
            height = self._paragraph(p, width_pt)
            self._heights.put(key, height, len(xml))
        return height

    def _paragraph(self, p: etree._Element, width_pt: float) -> float:
        styles = self.styles
        props, style_id, _ = _para_props(styles, p)
        room = max(1.0, width_pt - props.left_pt - props.right_pt)
        lines: list[float] = []  # the tallest font or picture of each line
        line_w, line_h, pending_space = max(0.0, props.first_pt), 0.0, 0.0
        words_on_line = 0

        for run in p.iter(_R):
            if run.getparent() is not p and next(run.iterancestors(_P)) is not p:
                continue  # a text box's paragraph
            rpr = run.find(_RPR)
            if rpr is not None:
                if _on(rpr.find(_VANISH)):
                    continue
                style = rpr.find(_RSTYLE)
                base = styles.run_state(style_id, style.get(_VAL) if style is not None
                                        else None)
                props_run = _run_props((rpr,), base)
            else:
                props_run = styles.run_state(style_id, None)
            size_pt = props_run.size_pt
            for child in run:
                tag = child.tag
                if tag == _T:
                    for space, w in self._tokens(child.text or "", props_run):
                        if space:
                            pending_space += w
                            continue
                        if words_on_line and line_w + pending_space + w > room:
                            lines.append(line_h)
                            line_w, line_h, pending_space, words_on_line = 0.0, 0.0, 0.0, 0
                        while w > room and words_on_line == 0:  # a word wider than the room
                            line_h = max(line_h, size_pt)
                            lines.append(line_h)
                            line_w, line_h, pending_space, words_on_line = 0.0, 0.0, 0.0, 0
                            w -= room
                        line_w += pending_space + w
                        pending_space = 0.0
                        words_on_line += 1
                        line_h = max(line_h, size_pt)
                elif tag == _BR or tag == _CR:
                    line_h = max(line_h, size_pt)
                    lines.append(line_h)
                    line_w, line_h, pending_space, words_on_line = 0.0, 0.0, 0.0, 0
                elif tag == _TAB:
                    pending_space += 36.0
                elif tag == _DRAWING:
                    extent = child.find(_WP_EXTENT)
                    if extent is not None:
                        w = int(extent.get("cx", "0")) / _EMU_PER_PT
                        h = int(extent.get("cy", "0")) / _EMU_PER_PT
                        if words_on_line and line_w + w > room:
                            lines.append(line_h)
                            line_w, line_h, pending_space, words_on_line = 0.0, 0.0, 0.0, 0
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
        xml = etree.tostring(parent, with_tail=False)
        key = (b"blocks", xml, width_pt)
        height = self._heights.get(key)
        if height is None:
            height = self._blocks(parent, width_pt)
            self._heights.put(key, height, len(xml))
        return height

    def _blocks(self, parent: etree._Element, width_pt: float) -> float:
        total = 0.0
        for child in parent:
            tag = child.tag
            if tag == _P:
                total += self.paragraph(child, width_pt)
            elif tag == _TBL:
                total += self.table(child)[0]
            elif tag == _SDT:
                content = child.find(_SDT_CONTENT)
                if content is not None:
                    total += self.blocks(content, width_pt)
        return total

    def table(self, tbl: etree._Element) -> tuple[float, list[list[tuple[float, etree._Element]]]]:
        """The height of ``tbl`` and, per row, each cell's content height with the cell."""
        grid = [(_twips_attr(c, "w") or 0.0) for c in tbl.findall(f"{_TBL_GRID}/{_GRID_COL}")]
        tbl_pr = tbl.find(_TBL_PR)
        default_mar = tbl_pr.find(_TBL_CELL_MAR) if tbl_pr is not None else None
        rows = tbl.findall(_TR)
        heights: list[float] = []
        cells_out: list[list[tuple[float, etree._Element]]] = []
        spans: list[tuple[int, int, float]] = []  # (first row, column, content height)
        open_merge: dict[int, int] = {}
        for r, tr in enumerate(rows):
            col = 0
            tallest = 0.0
            row_cells: list[tuple[float, etree._Element]] = []
            for tc in tr.findall(_TC):
                tc_pr = tc.find(_TC_PR)
                span_el = tc_pr.find(_GRID_SPAN) if tc_pr is not None else None
                span = int(span_el.get(_VAL, "1")) if span_el is not None else 1
                width = sum(grid[col:col + span]) if grid else 0.0
                if not width and tc_pr is not None:
                    width = _twips_attr(tc_pr.find(_TC_W), "w") or 0.0
                mar = tc_pr.find(_TC_MAR) if tc_pr is not None else None

                def pad(side: str, default: float) -> float:
                    tag = _SIDES[side]
                    for source in (mar, default_mar):
                        if source is not None:
                            found = source.find(tag)
                            if found is not None:
                                return _twips_attr(found, "w") or 0.0
                    return default

                left, right = pad("left", DEFAULT_CELL_PAD_PT), pad("right", DEFAULT_CELL_PAD_PT)
                top, bottom = pad("top", 0.0), pad("bottom", 0.0)
                content = top + self.blocks(tc, width - left - right) + bottom
                row_cells.append((content, tc))
                merge = tc_pr.find(_V_MERGE) if tc_pr is not None else None
                if merge is not None and merge.get(_VAL) == "restart":
                    open_merge[col] = len(spans)
                    spans.append((r, col, content))
                elif merge is not None and col in open_merge:
                    pass  # continues the merged cell above: its content counts there
                else:
                    open_merge.pop(col, None)
                    tallest = max(tallest, content)
                col += span
            tr_pr = tr.find(_TR_PR)
            h_el = tr_pr.find(_TR_HEIGHT) if tr_pr is not None else None
            if h_el is not None:
                value = (_twips_attr(h_el, "val") or 0.0)
                tallest = value if h_el.get(_H_RULE) == "exact" else max(value, tallest)
            heights.append(tallest)
            cells_out.append(row_cells)
        # a merged cell taller than the rows it spans makes its last row taller
        for first, col, content in spans:
            last = first
            for r in range(first + 1, len(rows)):
                tcs = rows[r].findall(_TC)
                c, hit = 0, None
                for tc in tcs:
                    if c == col:
                        hit = tc
                        break
                    span_el = tc.find(f"{_TC_PR}/{_GRID_SPAN}")
                    c += int(span_el.get(_VAL, "1")) if span_el is not None else 1
                merge = hit.find(f"{_TC_PR}/{_V_MERGE}") if hit is not None else None
                if merge is None or merge.get(_VAL) == "restart":
                    break
                last = r
            spanned = sum(heights[first:last + 1])
            if content > spanned:
                heights[last] += content - spanned
        return sum(heights), cells_out


_HEIGHTS: dict[tuple, Recurring] = {}
"""Heights of paragraphs and cell contents already measured, by their XML and width, for
each set of styles and fonts (:func:`_heights_for`): the labels, the scales and most cells
of a sheet are the same XML on every sheet made from one template, and are kept; a
project's own paragraphs are kept for its sheet only (see
:class:`~nexusreports.render.recurring.Recurring`)."""
_HEIGHTS_BUDGET = 2_000_000
"""How many bytes of XML (the keys) each set of :data:`_HEIGHTS` keeps for good at most
before it starts again (the XML every sheet of the shipped template has is some 100 KB)."""


def _heights_for(styles_root: etree._Element, theme_fonts: dict[str, str],
                 theme: Theme) -> Recurring:
    """The remembered heights (:data:`_HEIGHTS`) for documents with these styles, this
    document theme's fonts and the build theme's font files: what, besides its own XML and
    width, decides a paragraph's height."""
    key = (etree.tostring(styles_root), tuple(sorted(theme_fonts.items())),
           str(theme.fonts.regular), str(theme.fonts.bold))
    heights = _HEIGHTS.get(key)
    if heights is None:
        if len(_HEIGHTS) >= 8:
            _HEIGHTS.clear()
        heights = _HEIGHTS[key] = Recurring(kept_budget=_HEIGHTS_BUDGET)
    return heights


_WIDTHS = Recurring(kept_max=8192)
"""The width of each word (and of the space) already measured, by face, size and the word
as shown (in capitals where the run is): the words that recur from sheet to sheet are kept,
a project's own for its sheet only (see :class:`~nexusreports.render.recurring.Recurring`)."""


_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def _theme_fonts(doc: Any) -> dict[str, str]:
    """The Latin fonts of the document's theme: ``{"+major": ..., "+minor": ...}``."""
    try:
        part = next(rel.target_part for rel in doc.part.rels.values()
                    if rel.reltype.endswith("/theme"))
        blob = part.blob
    except (StopIteration, AttributeError, ValueError):
        return {}
    fonts = _THEME_FONTS.get(blob)
    if fonts is None:
        if len(_THEME_FONTS) >= 16:
            _THEME_FONTS.clear()
        fonts = _THEME_FONTS[blob] = _theme_fonts_of(blob)
    return dict(fonts)


_THEME_FONTS: dict[bytes, dict[str, str]] = {}
"""The Latin fonts of each theme part already read, by its bytes."""


def _theme_fonts_of(blob: bytes) -> dict[str, str]:
    try:
        root = etree.fromstring(blob)
    except (etree.XMLSyntaxError, ValueError):
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
    return "".join(t.text or "" for t in element.iter(_T))


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
        if child.tag == _P:
            blocks.append((layout.paragraph(child, text_w), child))
        elif child.tag == _TBL:
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
    for tbl in doc.element.body.iterchildren(_TBL):
        grid = [(_twips_attr(c, "w") or 0.0)
                for c in tbl.findall(f"{_TBL_GRID}/{_GRID_COL}")]
        tbl_pr = tbl.find(_TBL_PR)
        ind_el = tbl_pr.find(_TBL_IND) if tbl_pr is not None else None
        indent = (_twips_attr(ind_el, "w") or 0.0) if ind_el is not None and \
            ind_el.get(_TYPE, "dxa") == "dxa" else 0.0
        default_mar = tbl_pr.find(_TBL_CELL_MAR) if tbl_pr is not None else None
        worst = 0.0
        for tr in tbl.findall(_TR):
            col = 0
            for tc in tr.findall(_TC):
                tc_pr = tc.find(_TC_PR)
                span_el = tc_pr.find(_GRID_SPAN) if tc_pr is not None else None
                col += int(span_el.get(_VAL, "1")) if span_el is not None else 1
                if not _text_of(tc).strip():
                    continue
                pad = DEFAULT_CELL_PAD_PT
                for source in (tc_pr.find(_TC_MAR) if tc_pr is not None else None,
                               default_mar):
                    side = source.find(_SIDES["right"]) if source is not None else None
                    if side is not None:
                        pad = _twips_attr(side, "w") or 0.0
                        break
                right = left_margin + indent + sum(grid[:col]) - pad
                worst = max(worst, right - page_w)
        if worst > WIDTH_TOLERANCE_PT:
            text = " ".join(" ".join(_text_of(p) for p in tbl.iter(_P)).split())
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
