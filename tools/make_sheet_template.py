"""Build ``templates/sheet.docx``, the Word template of a project sheet, with python-docx.

Usage::

    .venv/bin/python tools/make_sheet_template.py [--out templates/sheet.docx]

The committed ``templates/sheet.docx`` is the template communications staff edit in Word;
this script is how the first one was made, so it can be made again (for example after the
names in the view change).  Running it overwrites the staff's edits: compare first.

The template holds Jinja2 tags (docxtpl syntax, see docs/template-reference.md) and every
visual decision: page geometry (A4, mm), styles (font Calibri, sizes in pt), colours from
``templates/theme.yaml``, cell shading of bars, scales and panels.  The renderer
(``nexusreports.render.word``) only fills in the tags and sets the share-bar widths.

Layout, matching the PDF sheet (geometry from theme.yaml, in mm)::

    header band (table, full bleed): title (Heading 1), domain | project name, (sub)domain
    body table: text column 118 | gap 6 | key-figures column 62
    organisations (Heading 2), footer (in the page footer)
"""

from __future__ import annotations

import argparse
import io
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import yaml
from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from nexusreports.render.word import ooxml, set_language
from nexusreports.render.word.sheet import DATA_TABLES, TABLE_DESCRIPTIONS, marker_name

ROOT = Path(__file__).resolve().parent.parent
FONT = "Calibri"  # LibreOffice substitutes the metric-compatible Carlito

PAGE_W, MARGIN_X = 210.0, 12.0
TEXT_W = PAGE_W - 2 * MARGIN_X  # 186 mm
LEFT_W, GAP_W = 118.0, 6.0
RIGHT_W = TEXT_W - LEFT_W - GAP_W  # 62 mm
PANEL_PAD = 3.2
PANEL_IN = RIGHT_W - 2 * PANEL_PAD  # inner width of the key-figures panel


# --- low-level OOXML helpers (schema order: nexusreports.render.word.ooxml) --------------------

def _el(tag: str, **attrs: str) -> OxmlElement:
    return ooxml.el(tag, **attrs)


_twips = ooxml.twips


def _hex(colour: str) -> str:
    return colour.lstrip("#").upper()


def paragraph_border(ppr, side: str, colour: str, size_eighths: int, space_pt: int) -> None:
    """A paragraph border on one side, inserted where the schema wants ``w:pBdr``."""
    bdr = ooxml.side_elements("w:pBdr", {side: {"val": "single", "sz": size_eighths,
                                                "space": space_pt, "color": _hex(colour)}})
    ooxml.set_child(ppr, bdr)


def shade(cell, colour: str) -> None:
    """Give a table cell a solid background colour (#RRGGBB)."""
    ooxml.shade(cell._tc, colour)


def cell_borders(cell, colour: str | None, size_eighths: int = 4, sides=("top", "left",
                                                                         "bottom", "right")):
    """Single-line borders on the given sides of a cell (``None`` colour: none)."""
    line = {"val": "single", "sz": size_eighths, "space": 0, "color": _hex(colour or "#000000")}
    ooxml.cell_borders(cell._tc, {side: (line if colour and side in sides else None)
                                  for side in ("top", "left", "bottom", "right")})


def vertical_merge(cell, restart: bool) -> None:
    """Start (``restart``) or continue a vertical merge of ``cell`` with the cells above."""
    merge = _el("w:vMerge", val="restart") if restart else _el("w:vMerge")
    ooxml.set_child(cell._tc.get_or_add_tcPr(), merge)


def cell_margins(cell, top=0.0, left=0.0, bottom=0.0, right=0.0) -> None:
    ooxml.cell_margins(cell._tc, top=top, left=left, bottom=bottom, right=right)


_MARKERS = iter(range(1, 1000))


def mark(table, role: str) -> None:
    """The bookmark ``nr_<role>`` at the start of the table's first cell: the marker the
    renderer finds the table by (LibreOffice keeps bookmarks, not table titles) and restores
    the table's description by (see ``TABLE_DESCRIPTIONS`` in render/word/sheet.py)."""
    p = table._tbl.find(qn("w:tr")).find(qn("w:tc")).find(qn("w:p"))
    ppr = p.find(qn("w:pPr"))
    at = 1 if ppr is not None else 0
    mark_id = str(next(_MARKERS))
    p.insert(at, _el("w:bookmarkStart", id=mark_id, name=marker_name(role)))
    p.insert(at + 1, _el("w:bookmarkEnd", id=mark_id))


def new_table(container, widths_mm: list[float], rows: int = 1, indent_mm: float = 0.0,
              role: str | None = None):
    """A fixed-layout borderless table with exact column widths (mm), no cell padding; with
    ``role`` it gets its marker bookmark and its description (``TABLE_DESCRIPTIONS``)."""
    table = container.add_table(rows=rows, cols=len(widths_mm))
    tbl_pr = table._tbl.tblPr
    for child in list(tbl_pr):
        if child.tag in (qn("w:tblStyle"), qn("w:tblW"), qn("w:tblLook")):
            tbl_pr.remove(child)
    ooxml.set_child(tbl_pr, _el("w:tblW", w=_twips(sum(widths_mm)), type="dxa"))
    if indent_mm:
        ooxml.set_child(tbl_pr, _el("w:tblInd", w=_twips(indent_mm), type="dxa"))
    ooxml.set_child(tbl_pr, ooxml.side_elements("w:tblBorders", {
        side: {"val": "nil"} for side in ("top", "left", "bottom", "right", "insideH",
                                          "insideV")}))
    ooxml.set_child(tbl_pr, _el("w:tblLayout", type="fixed"))
    ooxml.table_cell_margins(tbl_pr, top=0, left=0, bottom=0, right=0)
    data_table = role in DATA_TABLES
    # a layout table has no header row or column (Word's "Header Row" box off); a data
    # table's first row is its header row
    ooxml.set_child(tbl_pr, _el("w:tblLook", val="0020" if data_table else "0000",
                                firstRow=int(data_table), lastRow=0, firstColumn=0,
                                lastColumn=0, noHBand=1, noVBand=1))
    if role:
        ooxml.set_child(tbl_pr, _el("w:tblDescription", val=TABLE_DESCRIPTIONS[role]))
    grid = table._tbl.tblGrid
    for col, mm in zip(grid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(_twips(mm)))
    for row in table.rows:
        for cell, mm in zip(row.cells, widths_mm):
            cell.width = Mm(mm)
    if role:
        mark(table, role)
    if hasattr(container, "_tc"):
        # python-docx adds an empty paragraph after a table in a cell (a cell must end with
        # one); make it a hairline so it adds no visible space
        trailing = container.paragraphs[-1]
        trailing.style = "Bar"
        trailing.paragraph_format.line_spacing = Pt(1)
    return table


def header_row(row) -> None:
    """Mark a table row as a header row (repeats on a new page; read as column headings)."""
    ooxml.set_child(row._tr.get_or_add_trPr(), _el("w:tblHeader"))


def row_height(row, mm: float, exact: bool = False) -> None:
    row.height = Mm(mm)
    row.height_rule = WD_ROW_HEIGHT_RULE.EXACTLY if exact else WD_ROW_HEIGHT_RULE.AT_LEAST


def para(container, text: str = "", style: str | None = None, *, first: bool = False,
         align=None, runs: list[tuple[str, dict]] | None = None):
    """A paragraph (the cell's first one when ``first``) with text or formatted runs."""
    p = container.paragraphs[0] if first else container.add_paragraph()
    if style:
        p.style = style
    if align is not None:
        p.alignment = align
    for chunk, fmt in (runs or ([(text, {})] if text else [])):
        run = p.add_run(chunk)
        if fmt.get("bold"):
            run.bold = True
        if "colour" in fmt:
            run.font.color.rgb = RGBColor.from_string(_hex(fmt["colour"]))
        if "size" in fmt:
            run.font.size = Pt(fmt["size"])
    return p


def glyph_runs(var: str, colours: dict[str, str]) -> list[tuple[str, dict]]:
    """Runs printing the relevance marker of ``var.state``: a coloured circle per state."""
    return [
        (f'{{% if {var}.state == "relevant" %}}', {}),
        ("●", {"colour": colours["accent"]}),
        (f'{{% elif {var}.state == "less-relevant" %}}', {}),
        ("●", {"colour": colours["accent_light"]}),
        ("{% else %}", {}),
        ("○", {"colour": colours["muted"]}),
        ("{% endif %}", {}),
    ]


# --- styles -------------------------------------------------------------------------------------

def _fonts(rpr) -> None:
    ooxml.set_child(rpr, _el("w:rFonts", ascii=FONT, hAnsi=FONT, cs=FONT, eastAsia=FONT))


def define_styles(doc, c: dict[str, str], ty: dict[str, float]) -> None:
    """Paragraph styles, all on Calibri; built-in heading styles for the headings."""
    styles = doc.styles
    # document defaults: font, size, colour (the language is set per sheet by the renderer)
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    _fonts(rpr)
    for child in list(rpr):
        if child.tag in (qn("w:sz"), qn("w:szCs"), qn("w:lang")):
            rpr.remove(child)
    ooxml.set_child(rpr, _el("w:sz", val=round(ty["body_pt"] * 2)))
    ooxml.set_child(rpr, _el("w:szCs", val=round(ty["body_pt"] * 2)))
    ooxml.set_child(rpr, _el("w:lang", val="nl-NL", eastAsia="en-US", bidi="ar-SA"))
    ppr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:pPrDefault"))
    if ppr_default is not None:
        doc.styles.element.find(qn("w:docDefaults")).remove(ppr_default)

    def setup(name: str, *, size: float, colour: str, bold: bool = False, caps: bool = False,
              before: float = 0, after: float = 0, leading: float | None = None,
              base: str | None = "Normal", kind=WD_STYLE_TYPE.PARAGRAPH, italic: bool = False):
        try:
            style = styles[name]
        except KeyError:
            style = styles.add_style(name, kind)
        if base and name != "Normal":
            style.base_style = styles[base]
        style.hidden = False
        style.quick_style = True
        font = style.font
        font.name = FONT
        font.size = Pt(size)
        font.bold = bold
        font.italic = italic
        font.all_caps = caps
        font.color.rgb = RGBColor.from_string(_hex(colour))
        rpr = style.element.get_or_add_rPr()
        _fonts(rpr)
        for child in list(rpr):  # built-in extras: letter spacing, kerning, theme colours
            if child.tag in (qn("w:spacing"), qn("w:kern"), qn("w:i"), qn("w:iCs")):
                rpr.remove(child)
        ppr = style.element.get_or_add_pPr()
        for child in list(ppr):
            if child.tag in (qn("w:pBdr"), qn("w:tabs"), qn("w:numPr")) and name != "List Bullet":
                ppr.remove(child)
        pf = style.paragraph_format
        pf.space_before = Pt(before)
        pf.space_after = Pt(after)
        pf.left_indent = Mm(0)
        pf.first_line_indent = Mm(0)
        if leading:
            pf.line_spacing_rule = WD_LINE_SPACING.AT_LEAST
            pf.line_spacing = Pt(leading)
        else:
            pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        return style

    body, small = ty["body_pt"], ty["small_pt"]
    setup("Normal", size=body, colour=c["text"], after=body * 0.45,
          leading=ty["body_leading_pt"], base=None)
    h1 = setup("Heading 1", size=ty["title_pt"], colour=c["on_primary"], bold=True,
               leading=ty["title_pt"] * 1.08)
    h1.paragraph_format.keep_with_next = True
    h2 = setup("Heading 2", size=ty["heading_pt"], colour=c["primary"], bold=True, before=8,
               after=2.5, leading=ty["heading_pt"] * 1.2)
    h2.paragraph_format.keep_with_next = True
    paragraph_border(h2.element.get_or_add_pPr(), "left", c["accent"], 24, 4)
    h2.paragraph_format.left_indent = Mm(3.0)
    h3 = setup("Heading 3", size=small, colour=c["muted"], bold=True, caps=True, before=0,
               after=1.5, leading=small * 1.25)
    h3.paragraph_format.keep_with_next = True
    setup("Subtitle", size=ty["subtitle_pt"], colour=c["accent_light"], before=3,
          leading=ty["subtitle_pt"] * 1.25)
    setup("Lead", size=body + 0.6, colour=c["primary"], after=body * 0.45,
          leading=ty["body_leading_pt"] + 0.7)
    bullet = setup("List Bullet", size=body, colour=c["text"], after=body * 0.25,
                   leading=ty["body_leading_pt"])
    bullet.paragraph_format.left_indent = Mm(3.6)
    bullet.paragraph_format.first_line_indent = Mm(-3.0)
    setup("Header Label", size=small + 0.6, colour=c["accent_light"], bold=True, caps=True,
          leading=(small + 0.6) * 1.3)
    setup("Project Name", size=ty["subtitle_pt"], colour=c["on_primary"], bold=True, after=3,
          leading=ty["subtitle_pt"] * 1.2)
    setup("Header Text", size=small + 0.6, colour=c["on_primary"],
          leading=(small + 0.6) * 1.3)
    setup("Key Figure", size=ty["key_figure_pt"], colour=c["primary"], bold=True, after=1,
          leading=ty["key_figure_pt"] * 1.15)
    setup("Year", size=ty["heading_pt"] + 1.5, colour=c["primary"], bold=True,
          leading=(ty["heading_pt"] + 1.5) * 1.1)
    setup("Small", size=small, colour=c["text"], leading=small * 1.25)
    setup("Small Muted", size=small, colour=c["muted"], leading=small * 1.25)
    setup("Scale", size=small + 0.8, colour=c["muted"], leading=(small + 0.8) * 1.2)
    setup("Scale Active", size=small + 0.8, colour=c["on_primary"], bold=True,
          leading=(small + 0.8) * 1.2)
    setup("Bar", size=2, colour=c["text"])
    setup("Footer", size=small, colour=c["muted"], leading=small * 1.2)
    for name in ("Scale", "Scale Active"):
        styles[name].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    styles["Bar"].paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    styles["Bar"].paragraph_format.line_spacing = Pt(2)


# --- the sheet ----------------------------------------------------------------------------------

def header_band(doc, c: dict[str, str], page: dict) -> None:
    box_w = 66.0
    left_w = PAGE_W - box_w - MARGIN_X
    table = new_table(doc, [left_w, box_w + MARGIN_X], indent_mm=-MARGIN_X, role="header")
    row = table.rows[0]
    row_height(row, page["header_height_mm"])
    left, right = row.cells
    for cell in (left, right):
        shade(cell, c["primary"])
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    cell_margins(left, top=5.5, left=MARGIN_X, bottom=4, right=6)
    cell_margins(right, top=5.5, left=0, bottom=4, right=MARGIN_X)
    para(left, "{{ title }}", "Heading 1", first=True)
    para(left, "{{ domain }}", "Subtitle")
    para(right, "{{ labels.project_name }}", "Header Label", first=True)
    para(right, "{{ project_name }}", "Project Name")
    para(right, "{{ labels.domain }}: {{ domain }}", "Header Text")
    para(right, "{{ labels.subdomain }}: {{ subdomain }}", "Header Text")


def text_column(cell) -> None:
    para(cell, "{%p for paragraph in summary %}", first=True)
    para(cell, "{{ paragraph }}", "Lead")
    para(cell, "{%p endfor %}")
    para(cell, "{{ labels.relevance }}", "Heading 2")
    para(cell, "{%p for paragraph in relevance %}")
    para(cell, "{{ paragraph }}")
    para(cell, "{%p endfor %}")
    para(cell, "{%p for block in [national, european] %}")
    para(cell, "{{ block.heading }}", "Heading 2")
    para(cell, "{%p for entry in block.entries %}")
    para(cell, "{%p if block.bullets %}")
    entry_runs = [("{% if entry.label %}{{ entry.label }} {% endif %}", {"bold": True}),
                  ("{{ entry.text }}", {})]
    para(cell, style="List Bullet", runs=entry_runs)
    para(cell, "{%p else %}")
    para(cell, runs=entry_runs)
    para(cell, "{%p endif %}")
    para(cell, "{%p endfor %}")
    para(cell, "{%p endfor %}")


def scale_row(container, width: float, items: str, active_colour: str, rule: str,
              height: float, role: str) -> None:
    """A row of cells, one per step; ``{%tc %}`` tags pick the shaded or the open variant."""
    n = 9 if items == "trl_steps" else 3
    step = width / n
    tag_w = (width - 2 * step) / 5
    table = new_table(container, [tag_w, tag_w, step, tag_w, step, tag_w, tag_w], role=role)
    row = table.rows[0]
    row_height(row, height)
    cells = row.cells
    tags = {0: f"{{%tc for step in {items} %}}", 1: "{%tc if step.active %}",
            3: "{%tc else %}", 5: "{%tc endif %}", 6: "{%tc endfor %}"}
    for i, text in tags.items():
        para(cells[i], text, "Small Muted", first=True)
    for i, active in ((2, True), (4, False)):
        cell = cells[i]
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        cell_margins(cell, top=0.6, left=0.8, bottom=0.6, right=0.8)
        if active:
            shade(cell, active_colour)
            cell_borders(cell, "#FFFFFF", 8)
        else:
            shade(cell, "#FFFFFF")
            cell_borders(cell, rule, 4)
        para(cell, "{{ step.label }}", "Scale Active" if active else "Scale", first=True)


def share_bar(panel, index: int, c: dict[str, str]) -> None:
    """The bar of ``shares[index]``: two shaded cells; the renderer sets their widths."""
    name = f"shares[{index}]"
    bar = new_table(panel, [PANEL_IN / 2, PANEL_IN / 2], role=f"shares_{index}")
    row = bar.rows[0]
    row_height(row, 3.6, exact=True)
    for cell, colour in zip(row.cells, (c["accent"], c["accent_light"])):
        shade(cell, colour)
        para(cell, "", "Bar", first=True)
    labels = new_table(panel, [PANEL_IN / 2, PANEL_IN / 2], role=f"shares_{index}_labels")
    left, right = labels.rows[0].cells
    cell_margins(left, top=0.6)
    cell_margins(right, top=0.6)
    para(left, style="Small", first=True, runs=[
        (f"{{{{ {name}.left_label }}}} ", {}), (f"{{{{ {name}.left_pct }}}}", {"bold": True})])
    para(right, style="Small", first=True, align=WD_ALIGN_PARAGRAPH.RIGHT, runs=[
        (f"{{{{ {name}.right_pct }}}}", {"bold": True}), (f" {{{{ {name}.right_label }}}}", {})])


def spacer(container, pt: float = 5) -> None:
    p = para(container, "", "Bar")
    p.paragraph_format.line_spacing = Pt(pt)


def key_figures(cell, c: dict[str, str]) -> None:
    panel_table = new_table(cell, [RIGHT_W], role="key_figures")
    panel = panel_table.rows[0].cells[0]
    shade(panel, c["panel"])
    cell_margins(panel, PANEL_PAD, PANEL_PAD, PANEL_PAD, PANEL_PAD)
    para(panel, "{{ labels.project_size }}", "Heading 3", first=True)
    para(panel, "{{ size }}", "Key Figure")
    para(panel, "{%p if size_note %}")
    para(panel, "{{ size_note }}", "Small")
    para(panel, "{%p endif %}")
    spacer(panel)

    para(panel, "{{ labels.timeline }}", "Heading 3")
    years = new_table(panel, [14, PANEL_IN - 28, 14], rows=2, role="timeline")
    (s_lab, _, e_lab), (s_year, line, e_year) = years.rows[0].cells, years.rows[1].cells
    para(s_lab, "{{ labels.start }}", "Small Muted", first=True)
    para(e_lab, "{{ labels.end }}", "Small Muted", first=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    para(s_year, "{{ period_start }}", "Year", first=True)
    para(e_year, "{{ period_end }}", "Year", first=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    line.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    cell_margins(line, left=1.5, right=1.5, bottom=1.2)
    p = para(line, "", "Bar", first=True)
    paragraph_border(p._p.get_or_add_pPr(), "bottom", c["accent"], 12, 0)
    spacer(panel)

    para(panel, "{{ labels.shares }}", "Heading 3")
    share_bar(panel, 0, c)
    spacer(panel, 3)
    share_bar(panel, 1, c)
    spacer(panel)

    para(panel, style="Heading 3", runs=[("{{ labels.trl }}", {}), ("\u2003", {}),
                                         ("{{ trl_range }}", {"colour": c["primary"]})])
    scale_row(panel, PANEL_IN, "trl_steps", c["accent"], c["rule"], 5.2,
              "trl")
    spacer(panel)
    para(panel, "{{ labels.mrl }}", "Heading 3")
    scale_row(panel, PANEL_IN, "mrl_steps", c["primary"], c["rule"], 7.0,
              "mrl")
    # the panel cell ends with the paragraph python-docx adds after a nested table


def preconditions(cell, c: dict[str, str]) -> None:
    para(cell, "{{ labels.preconditions }}", "Heading 2")
    legend = [("{% for item in legend %}", {}), *glyph_runs("item", c),
              # an em space between entries: Word's accessibility checker flags repeated
              # blank characters used for spacing
              (" {{ item.label }}{% if not loop.last %}\u2003{% endif %}{% endfor %}", {})]
    para(cell, style="Small Muted", runs=legend)
    widths = [18.0, RIGHT_W - 18.0 - 16.0, 16.0]
    table = new_table(cell, widths, rows=10, role="preconditions")
    rows = table.rows
    head, first, other = rows[0], rows[4], rows[6]
    header_row(head)
    for i, name in enumerate(("matrix_group", "matrix_item", "matrix_state")):
        hc = head.cells[i]
        cell_borders(hc, c["rule"], 6, sides=("bottom",))
        cell_margins(hc, bottom=0.6, right=1.2)
        para(hc, style="Small Muted", first=True,
             align=WD_ALIGN_PARAGRAPH.CENTER if i == 2 else None,
             runs=[(f"{{{{ labels.{name} }}}}", {"bold": True})])
    # docxtpl: a {%tr %} tag takes its whole row, so each tag has a row of its own
    for index, tag in ((1, "{%tr for group in matrix %}"),
                       (2, "{%tr for item in group.items %}"),
                       (3, "{%tr if loop.first %}"), (5, "{%tr else %}"),
                       (7, "{%tr endif %}"), (8, "{%tr endfor %}"), (9, "{%tr endfor %}")):
        para(rows[index].cells[0], tag, "Small Muted", first=True)
    for row, heading in ((first, True), (other, False)):
        g, i, s = row.cells
        for x in (g, i, s):
            cell_margins(x, top=1.2 if heading else 0.3, bottom=0.3, right=1.2)
            if heading:
                cell_borders(x, c["rule"], 2, sides=("top",))
        # the group's cell spans its items' rows, so a heading on two lines ("Wet- en
        # regelgeving") runs on beside the next item instead of leaving a gap under the first
        vertical_merge(g, restart=heading)
        if heading:
            para(g, style="Small", first=True,
                 runs=[("{{ group.heading }}", {"bold": True, "colour": c["primary"]})])
        else:
            para(g, "", "Small", first=True)
        para(i, "{{ item.label }}", "Small", first=True)
        para(s, style="Small", first=True, align=WD_ALIGN_PARAGRAPH.CENTER,
             runs=glyph_runs("item", c))


ORGANISATIONS_PER_ROW = 6  # nexusreports.render.logos.ORGANISATIONS_PER_ROW (PDF alike)


def organisations(doc) -> None:
    """Names in one line when no organisation has a logo; else a grid of equal cells,
    ``ORGANISATIONS_PER_ROW`` a row, each a logo (centred) over its name."""
    para(doc, "{{ labels.organisations }}", "Heading 2")
    para(doc, "{%p if organisations_empty %}")
    para(doc, "{{ organisations_empty }}", "Small Muted")
    para(doc, '{%p elif not (organisations | selectattr("image") | list) %}')
    para(doc, "{% for org in organisations %}{{ org.name }}"
              "{% if not loop.last %}\u2003·\u2003{% endif %}{% endfor %}")
    para(doc, "{%p else %}")
    cell_w = TEXT_W / ORGANISATIONS_PER_ROW
    table = new_table(doc, [12.0, cell_w, 12.0], rows=3, role="organisations")
    rows = table.rows
    para(rows[0].cells[0], f"{{%tr for row in organisations | batch({ORGANISATIONS_PER_ROW}, "
         "'') %}", "Small Muted", first=True)
    para(rows[2].cells[0], "{%tr endfor %}", "Small Muted", first=True)
    tag, cell, end = rows[1].cells
    para(tag, "{%tc for org in row %}", "Small Muted", first=True)
    para(end, "{%tc endfor %}", "Small Muted", first=True)
    cell_margins(cell, top=0.8, left=1.5, bottom=0.8, right=1.5)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM  # after tcMar (schema order)
    para(cell, "{% if org and org.image %}{{ org.image }}{% endif %}", "Small",
         first=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    para(cell, "{% if org %}{{ org.name }}{% endif %}", "Small",
         align=WD_ALIGN_PARAGRAPH.CENTER)
    para(doc, "{%p endif %}")


def footer(section, c: dict[str, str]) -> None:
    section.footer.is_linked_to_previous = False
    p = section.footer.paragraphs[0]
    p.style = "Footer"
    paragraph_border(p._p.get_or_add_pPr(), "top", c["rule"], 4, 4)
    p.paragraph_format.tab_stops.add_tab_stop(Mm(TEXT_W), WD_TAB_ALIGNMENT.RIGHT)
    p.add_run("{{ footer_left }}")
    p.add_run().add_tab()
    p.add_run("{{ footer_right }}")


def build(theme_path: Path) -> bytes:
    theme = yaml.safe_load(theme_path.read_text(encoding="utf-8"))
    c, page, ty = theme["colours"], theme["page"], theme["type"]
    doc = Document()
    define_styles(doc, c, ty)
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(MARGIN_X)
    section.top_margin = Mm(0)
    section.header_distance = Mm(0)
    section.bottom_margin = Mm(page["margin_bottom_mm"] + page["footer_height_mm"] + 1)
    section.footer_distance = Mm(page["margin_bottom_mm"])

    body = doc.paragraphs[0] if doc.paragraphs else None
    header_band(doc, c, page)
    gap = para(doc, "", "Bar")
    gap.paragraph_format.line_spacing = Pt(page["gap_below_header_mm"] / 25.4 * 72)
    if body is not None:
        body._p.getparent().remove(body._p)

    # two columns; the gap between them is the text column's right padding, not an empty
    # cell (Word's accessibility checker flags blank cells used for layout)
    columns = new_table(doc, [LEFT_W + GAP_W, RIGHT_W], role="body")
    left, right = columns.rows[0].cells
    cell_margins(left, right=GAP_W)
    text_column(left)
    key_figures(right, c)
    preconditions(right, c)
    organisations(doc)
    footer(section, c)

    props = doc.core_properties
    stamp = datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or
                                   datetime.now(timezone.utc).timestamp(), timezone.utc)
    stamp = stamp.replace(microsecond=0)
    props.title = "Project sheet (template)"
    props.subject = "nexusreports Word template of a project sheet"
    props.author = props.last_modified_by = "nexusreports"
    props.comments = props.keywords = props.category = ""
    props.language = "nl-NL"
    props.revision = 1
    props.created = props.modified = stamp.replace(tzinfo=None)
    set_language(doc, "nl-NL")  # the renderer sets each sheet's own language
    ooxml.drop_styles_with_effects(doc)
    prune_styles(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return clean_package(buf.getvalue())


def prune_styles(doc) -> None:
    """Keep only the styles the template uses (and what they are based on, link to or are
    followed by) and the defaults: python-docx's starting document brings some 170, which
    make styles.xml ten times larger than the template needs and the style list long."""
    styles = doc.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in styles.iter(qn("w:style"))}
    parts = [doc.element] + [section.footer._element for section in doc.sections]
    wanted = {s.get(qn("w:styleId")) for s in by_id.values() if s.get(qn("w:default")) == "1"}
    for part in parts:
        for tag in ("w:pStyle", "w:rStyle", "w:tblStyle"):
            wanted |= {e.get(qn("w:val")) for e in part.iter(qn(tag))}
    # Header too: python-docx (and Word) give a header added later the style "Header", which
    # must then exist (openxml-audit: "Style 'Header' referenced but not defined")
    wanted |= {name for name in ("Normal", "Heading1", "Heading2", "Heading3", "ListBullet",
                                 "Subtitle", "Footer", "Header") if name in by_id}
    todo = list(wanted)
    while todo:
        style = by_id.get(todo.pop())
        if style is None:
            continue
        for tag in ("w:basedOn", "w:link", "w:next"):
            ref = style.find(qn(tag))
            if ref is not None and ref.get(qn("w:val")) not in wanted:
                wanted.add(ref.get(qn("w:val")))
                todo.append(ref.get(qn("w:val")))
    for style_id, style in by_id.items():
        if style_id not in wanted:
            styles.remove(style)


_APP_XML = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>nexusreports</Application></Properties>"
)


def clean_package(data: bytes) -> bytes:
    """Drop python-docx's sample thumbnail and customXml, and neutralise docProps/app.xml."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name = info.filename
            if name.startswith("customXml/") or name == "docProps/thumbnail.jpeg":
                continue
            blob = src.read(name)
            if name == "docProps/app.xml":
                blob = _APP_XML.encode()
            elif name == "_rels/.rels":
                blob = _drop_rel(blob, "thumbnail")
            elif name == "word/_rels/document.xml.rels":
                blob = _drop_rel(blob, "customXml")
            elif name == "[Content_Types].xml":
                blob = _drop_override(blob)
            dst.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), blob,
                         zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _drop_rel(blob: bytes, word: str) -> bytes:
    from lxml import etree

    root = etree.fromstring(blob)
    for rel in list(root):
        if word in rel.get("Target", ""):
            root.remove(rel)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _drop_override(blob: bytes) -> bytes:
    from lxml import etree

    root = etree.fromstring(blob)
    for el in list(root):
        target = el.get("PartName", "") + el.get("Extension", "")
        if "customXml" in target or target in ("jpeg", "/docProps/thumbnail.jpeg"):
            root.remove(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", type=Path, default=ROOT / "templates" / "theme.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "templates" / "sheet.docx")
    args = parser.parse_args()
    args.out.write_bytes(build(args.theme))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
