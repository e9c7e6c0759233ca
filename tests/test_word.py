"""Word sheets (issue 3): templates/sheet.docx filled from the SheetView.

Every shipped sheet is rendered in both languages and read back with python-docx and as raw
XML; broken copies of the template are made in a scratch folder to check the messages; a
last test has LibreOffice convert every sheet to PDF and counts the pages.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import docx
import pytest
from lxml import etree
from PIL import Image
from pypdf import PdfReader

from conftest import docx_errors, view_of
from nexusreports.cli import main
from nexusreports.errors import ErrorGroup, TemplateError
from nexusreports.pipeline import check
from nexusreports.render.word import render_docx
from nexusreports.view import OrganisationView, SheetView

ROOT = Path(__file__).resolve().parent.parent
DATA, TEMPLATES = ROOT / "data", ROOT / "templates"
SLUGS = ("biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics")
LANGS = ("nl", "en")
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W, "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"}
EPOCH = 1700000000  # 2023-11-14 22:13:20 UTC
STAMP = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sheets(shipped) -> dict[tuple[str, str], bytes]:
    """Every shipped sheet in both languages, rendered with a fixed build time."""
    _, theme = shipped
    return {(slug, lang): render_docx(view_of(shipped, slug, lang), theme, now=STAMP)
            for slug in SLUGS for lang in LANGS}


def parts(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {name: z.read(name) for name in z.namelist()}


def xml(data: bytes, part: str) -> etree._Element:
    return etree.fromstring(parts(data)[part])


def paragraphs(data: bytes) -> list[tuple[str, str]]:
    """(style name, text) of every paragraph of the body, tables included, in order."""
    document = docx.Document(io.BytesIO(data))
    styles = {s.style_id: s.name for s in document.styles}
    out = []
    for p in document.element.body.iter(f"{{{W}}}p"):
        style = p.find("w:pPr/w:pStyle", NS)
        name = styles.get(style.get(f"{{{W}}}val")) if style is not None else "Normal"
        out.append((name, "".join(t.text or "" for t in p.iter(f"{{{W}}}t"))))
    return out


def texts(data: bytes) -> list[str]:
    return [text for _, text in paragraphs(data)]


def footer_text(data: bytes) -> str:
    return " ".join("".join(t.itertext()) for name, blob in parts(data).items()
                    if name.startswith("word/footer") for t in [etree.fromstring(blob)])


# --- content --------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, figures", [
    ("nl", ["€\xa021.200\xa0miljoen", "21.000", "1,2%", "2,5x", "35%", "65%", "2025", "2035",
            "(inclusief de 3 flagships voor totaal €\xa03.910\xa0miljoen)"]),
    ("en", ["€21,200\xa0million", "21,000", "1.2%", "2.5x", "35%", "65%", "2025", "2035",
            "(including the 3 flagships, together €3,910\xa0million)"]),
])
def test_the_programme_sheet_shows_the_exact_localised_figures(sheets, shipped, lang, figures):
    all_text = "\n".join(texts(sheets["biotech-nexus", lang]))
    for figure in figures:
        assert figure in all_text, figure
    view = view_of(shipped, "biotech-nexus", lang)
    assert view.size in texts(sheets["biotech-nexus", lang])


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_string_of_the_view_is_in_the_word_sheet(sheets, shipped, slug, lang):
    view = view_of(shipped, slug, lang)
    data = sheets[slug, lang]
    body = "\n".join(texts(data)).replace("\n", " ")
    expected = [view.title, view.project_name, view.size, view.trl_range, view.mrl,
                *view.summary, *view.relevance, view.period_start, view.period_end,
                view.organisations_empty,
                *(e.text for b in (view.national, view.european) for e in b.entries),
                *(i.label for g in view.matrix for i in g.items), *(g.heading for g in view.matrix),
                *(item.label for item in view.legend),
                *(x for bar in view.shares for x in (bar.left_label, bar.left_pct,
                                                     bar.right_label, bar.right_pct))]
    for text in expected:
        assert text.replace("\n", " ") in body, text
    assert view.footer_left in footer_text(data) and view.footer_right in footer_text(data)


def test_the_dutch_atmp_sheet_reads_as_the_pdf_does(sheets):
    body = texts(sheets["atmp", "nl"])
    assert "€\xa02.250\xa0miljoen" in body
    assert "Flagship Biotech Nexus: ATMP I&II" in body
    assert "Domein: Life sciences en Biotech" in body
    assert "Kapitaal 35%" in body and "65% R&D" in body
    assert "Publiek 33%" in body and "67% Privaat" in body
    assert "NGF projecten: Biotech Booster, Oncode accelerator, RegmedXB" in body
    assert "Niet opgegeven" in body  # no organisations in the shipped data
    assert "Deels operationeel" in body


@pytest.mark.parametrize("lang", LANGS)
def test_headings_use_the_built_in_heading_styles(sheets, shipped, lang):
    view = view_of(shipped, "atmp", lang)
    styled = paragraphs(sheets["atmp", lang])
    assert [t for s, t in styled if s == "Heading 1"] == [view.title]
    lab = view.labels
    assert [t for s, t in styled if s == "Heading 2"] == [
        lab["relevance"], lab["national"], lab["european"], lab["preconditions"],
        lab["organisations"]]
    assert [t for s, t in styled if s == "Heading 3"][:4] == [
        lab["project_size"], lab["timeline"], lab["shares"], f"{lab['trl']}\u2003{view.trl_range}"]


@pytest.mark.parametrize("lang, locale_id", [("nl", "nl-NL"), ("en", "en-GB")])
def test_the_document_language_is_set_and_hyphenation_is_on(sheets, lang, locale_id):
    data = sheets["atmp", lang]
    styles = xml(data, "word/styles.xml")
    default = styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:lang", NS)
    assert default.get(f"{{{W}}}val") == locale_id
    assert {el.get(f"{{{W}}}val") for el in styles.iterfind(".//w:lang", NS)} == {locale_id}
    settings = xml(data, "word/settings.xml")
    hyphenation = settings.find("w:autoHyphenation", NS)
    assert hyphenation is not None and hyphenation.get(f"{{{W}}}val") == "true"
    tags = [el.tag.split("}")[1] for el in settings]
    assert tags.index("autoHyphenation") == tags.index("defaultTabStop") + 1  # schema order


def test_the_preconditions_table_has_a_marked_header_row(sheets):
    body = xml(sheets["atmp", "nl"], "word/document.xml")
    header_rows = body.xpath(".//w:tr[w:trPr/w:tblHeader]", namespaces=NS)
    assert len(header_rows) == 1
    cells = ["".join(tc.itertext()) for tc in header_rows[0].findall("w:tc", NS)]
    assert cells == ["Thema", "Randvoorwaarde", "Beoordeling"]
    table = header_rows[0].getparent()
    rows = table.findall("w:tr", NS)
    assert len(rows) == 1 + 16  # one row per precondition
    # the shipped data is all not assessed: every marker is the open circle
    markers = ["".join(r.findall("w:tc", NS)[2].itertext()) for r in rows[1:]]
    assert markers == ["○"] * 16


def test_the_trl_scale_shades_the_project_range_and_the_mrl_its_stage(sheets, shipped):
    view = view_of(shipped, "atmp", "en")  # TRL 5-9, partly operational
    body = xml(sheets["atmp", "en"], "word/document.xml")

    def row_with(labels: list[str]):
        for tr in body.iterfind(".//w:tr", NS):
            cells = tr.findall("w:tc", NS)
            if ["".join(tc.itertext()) for tc in cells] == labels:
                return cells
        raise AssertionError(f"no row {labels}")

    def shaded(cells):
        return [tc.find("w:tcPr/w:shd", NS).get(f"{{{W}}}fill") for tc in cells]

    trl = row_with([str(n) for n in range(1, 10)])
    assert shaded(trl) == ["FFFFFF"] * 4 + ["0E9384"] * 5
    mrl = row_with([s.label for s in view.mrl_steps])
    assert shaded(mrl) == ["FFFFFF", "12355B", "FFFFFF"]
    # the grid follows the cells after the {%tc %} loop: 9 equal columns
    grid = trl[0].getparent().getparent().findall("w:tblGrid/w:gridCol", NS)
    widths = {int(c.get(f"{{{W}}}w")) for c in grid}
    assert len(grid) == 9 and max(widths) - min(widths) <= 1


def description(tbl: etree._Element) -> str:
    """A table's description (Table Properties → Alt Text), '' without one."""
    found = tbl.find("w:tblPr/w:tblDescription", NS)
    return "" if found is None else found.get(f"{{{W}}}val")


def share_bars(data: bytes) -> list[list[int]]:
    """The grid widths of the share bars, found by their descriptions ("Aandeel %: Kapitaal
    35%, R&D 65%"), which the build writes in the sheet's language."""
    body = xml(data, "word/document.xml")
    bars = [t for t in body.iterfind(".//w:tbl", NS)
            if re.fullmatch(r".+: .+ \d+%, .+ \d+%", description(t))]
    return [[int(c.get(f"{{{W}}}w")) for c in t.findall("w:tblGrid/w:gridCol", NS)]
            for t in bars]


def test_share_bars_are_cells_as_wide_as_the_shares(sheets):
    (capital, rnd), (public, private) = share_bars(sheets["atmp", "nl"])  # 35/65 and 33/67
    assert capital / (capital + rnd) == pytest.approx(0.35, abs=0.001)
    assert public / (public + private) == pytest.approx(0.33, abs=0.001)


def test_a_share_of_zero_leaves_one_cell(shipped):
    _, theme = shipped
    view = view_of(shipped, "atmp", "en")
    bar = dataclasses.replace(view.shares[0], left_fraction=0.0)
    data = render_docx(dataclasses.replace(view, shares=(bar, view.shares[1])), theme, now=STAMP)
    assert len(share_bars(data)[0]) == 1


# --- accessibility (the rules of Word's accessibility checker we meet; docs list them) ------

@pytest.mark.parametrize("lang", LANGS)
def test_every_table_is_described_in_the_sheets_language(sheets, shipped, lang):
    view = view_of(shipped, "atmp", lang)
    lab = view.labels
    tables = list(xml(sheets["atmp", lang], "word/document.xml").iterfind(".//w:tbl", NS))
    described = [description(t) for t in tables]
    assert all(described) and not any("{" in d for d in described), described
    assert f"{lab['preconditions']}" in described
    assert f"{lab['shares']}: {lab['capital']} 35%, {lab['rnd']} 65%" in described
    assert f"{lab['trl']} {view.trl_range}" in described


def test_the_data_table_has_a_header_row_and_the_layout_tables_none(sheets, shipped):
    lab = view_of(shipped, "atmp", "nl").labels
    for table in xml(sheets["atmp", "nl"], "word/document.xml").iterfind(".//w:tbl", NS):
        look = table.find("w:tblPr/w:tblLook", NS).get(f"{{{W}}}firstRow")
        header = table.findall("w:tr/w:trPr/w:tblHeader", NS)
        if description(table) == lab["preconditions"]:
            assert (look, len(header)) == ("1", 1)
        else:  # a layout table: no header row, no heading cells
            assert (look, len(header)) == ("0", 0), description(table)


@pytest.mark.parametrize("slug", SLUGS)
def test_headings_never_skip_a_level_and_nothing_repeats_blanks(sheets, slug):
    levels = [int(style[-1]) for style, _ in paragraphs(sheets[slug, "en"])
              if style.startswith("Heading ")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    for text in texts(sheets[slug, "en"]):
        assert "  " not in text, text


def test_the_text_and_key_figure_columns_have_no_empty_cell_between_them(sheets):
    body = xml(sheets["atmp", "nl"], "word/document.xml").find("w:body", NS)
    top_tables = body.findall("w:tbl", NS)
    assert [len(t.find("w:tr", NS).findall("w:tc", NS)) for t in top_tables][:2] == [2, 2]


# --- Word text from any data text -----------------------------------------------------------

def test_data_text_is_printed_literally_never_interpreted(shipped):
    _, theme = shipped
    view = view_of(shipped, "atmp", "en")
    tricky = "{{ 7*7 }} {% if x %} <b>bold</b> & \"quoted\" 'single'\tafter a tab\nnext line"
    odd = dataclasses.replace(view, summary=(tricky,), domain="R&D <i>",
                              organisations_empty="{%p endif %} }} %}")
    data = render_docx(odd, theme, now=STAMP)
    body = texts(data)
    assert "{{ 7*7 }} {% if x %} <b>bold</b> & \"quoted\" 'single'after a tabnext line" in body
    assert "R&D <i>" in body and "{%p endif %} }} %}" in body
    paragraph = next(p for p in xml(data, "word/document.xml").iter(f"{{{W}}}p")
                     if "7*7" in "".join(p.itertext()))
    assert len(paragraph.findall(".//w:tab", NS)) == 1
    assert len(paragraph.findall(".//w:br", NS)) == 1
    for name, blob in parts(data).items():
        if name.endswith((".xml", ".rels")):
            assert "\ue000" not in blob.decode("utf-8"), name


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_part_is_well_formed_and_no_tag_is_left(sheets, slug, lang):
    for name, blob in parts(sheets[slug, lang]).items():
        if name.endswith((".xml", ".rels")):
            text = etree.tostring(etree.fromstring(blob), encoding="unicode")
            for delimiter in ("{{", "{%", "}}", "%}"):
                assert delimiter not in text, (name, delimiter)


# --- document properties and bytes ----------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_core_properties_come_from_the_view_and_the_build(sheets, shipped, lang):
    view = view_of(shipped, "atmp", lang)
    props = docx.Document(io.BytesIO(sheets["atmp", lang])).core_properties
    assert props.title == view.info.title
    assert props.subject == view.info.subject
    assert props.author == view.info.author == "Biotech Nexus"
    assert props.language == view.locale_id
    assert props.keywords == view.info.keywords
    assert props.created == props.modified == STAMP
    assert props.comments == "" and props.last_modified_by == "nexusreports"
    meta = b"".join(blob for name, blob in parts(sheets["atmp", lang]).items()
                    if name.startswith("docProps/"))
    assert b"python-docx" not in meta and b"2013" not in meta and b"Microsoft" not in meta


def test_the_same_input_gives_the_same_bytes_with_source_date_epoch(shipped, monkeypatch):
    _, theme = shipped
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    view = view_of(shipped, "infectieziekten", "nl")
    first, second = render_docx(view, theme), render_docx(view, theme)
    assert first == second
    assert docx.Document(io.BytesIO(first)).core_properties.created == STAMP
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [i.filename for i in infos][:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def logo_files(tmp_path: Path) -> dict[str, str]:
    """A wide RGB PNG, a square CMYK JPEG and a tall RGBA PNG."""
    files = {"wide.png": ("RGB", (300, 100), "#0E9384"), "cmyk.jpg": ("CMYK", (80, 80), None),
             "tall.png": ("RGBA", (40, 120), (200, 30, 30, 128))}
    out = {}
    for name, (mode, size, colour) in files.items():
        Image.new(mode, size, colour or (0, 200, 200, 0)).save(tmp_path / name)
        out[name] = str(tmp_path / name)
    return out


def with_organisations(view: SheetView, orgs) -> SheetView:
    return dataclasses.replace(view, organisations=tuple(orgs), organisations_empty=None)


def org_table(data: bytes) -> etree._Element:
    tables = xml(data, "word/document.xml").xpath(
        ".//w:tbl[w:tblPr/w:tblDescription[@w:val = 'Betrokken bedrijven en instellingen']]",
        namespaces=NS)
    assert len(tables) == 1
    return tables[0]


def test_logos_are_pictures_with_alt_text_in_a_grid_of_equal_cells(shipped, tmp_path):
    _, theme = shipped
    logos = logo_files(tmp_path)
    view = view_of(shipped, "atmp", "nl")
    orgs = [OrganisationView("Galapagos & Co", logos["wide.png"], "Logo van Galapagos & Co"),
            OrganisationView("NecstGen", None, "Logo van NecstGen")]
    orgs += [OrganisationView(f"Partner {i}", logos["tall.png"], f"Logo van Partner {i}")
             for i in range(1, 7)]
    data = render_docx(with_organisations(view, orgs), theme, now=STAMP)
    doc_prs = xml(data, "word/document.xml").findall(".//wp:docPr", NS)
    assert [d.get("descr") for d in doc_prs] == [
        "Logo van Galapagos & Co", *(f"Logo van Partner {i}" for i in range(1, 7))]
    rows = org_table(data).findall("w:tr", NS)
    cells = [["".join(tc.xpath(".//w:t/text()", namespaces=NS)) for tc in row.findall("w:tc", NS)]
             for row in rows]
    assert cells == [["Galapagos & Co", "NecstGen", "Partner 1", "Partner 2", "Partner 3",
                      "Partner 4"], ["Partner 5", "Partner 6", "", "", "", ""]]
    widths = {tc.find("w:tcPr/w:tcW", NS).get(f"{{{W}}}w")
              for row in rows for tc in row.findall("w:tc", NS)}
    grid = [c.get(f"{{{W}}}w") for c in org_table(data).findall("w:tblGrid/w:gridCol", NS)]
    assert len(widths) == 1 and grid == [widths.pop()] * 6
    table_w = org_table(data).find("w:tblPr/w:tblW", NS).get(f"{{{W}}}w")
    assert int(table_w) == sum(map(int, grid))  # as wide as its cells, not its template
    assert "Niet opgegeven" not in texts(data)


def test_without_logos_the_names_share_one_line(shipped):
    _, theme = shipped
    view = view_of(shipped, "atmp", "nl")
    orgs = [OrganisationView("Galapagos & Co", None, "-"), OrganisationView("NecstGen", None, "-")]
    data = render_docx(with_organisations(view, orgs), theme, now=STAMP)
    assert "Galapagos & Co\u2003·\u2003NecstGen" in "\n".join(texts(data))
    assert not xml(data, "word/document.xml").xpath(
        ".//w:tblDescription[@w:val = 'Betrokken bedrijven en instellingen']", namespaces=NS)


def test_a_cmyk_jpeg_logo_becomes_an_rgb_png_with_the_same_bytes_each_time(shipped, tmp_path):
    _, theme = shipped
    logos = logo_files(tmp_path)
    view = with_organisations(view_of(shipped, "atmp", "en"), [
        OrganisationView("Acme", logos["cmyk.jpg"], "Logo of Acme"),
        OrganisationView("Beta", logos["tall.png"], "Logo of Beta")])
    first, second = (render_docx(view, theme, now=STAMP) for _ in range(2))
    assert first == second
    media = {name: blob for name, blob in parts(first).items() if name.startswith("word/media/")}
    assert len(media) == 2 and all(name.endswith(".png") for name in media)
    modes = sorted(Image.open(io.BytesIO(blob)).mode for blob in media.values())
    assert modes == ["RGB", "RGBA"]  # the tall logo keeps its transparency


def test_a_name_longer_than_a_core_property_is_cut_there_but_printed_whole(shipped):
    _, theme = shipped
    view = view_of(shipped, "atmp", "nl")
    long_name = "Biotech " * 35 + "Nexus"  # 285 characters
    info = dataclasses.replace(view.info, title=long_name, subject=long_name)
    # the long title takes five lines of the header: the preconditions make room for them
    data = render_docx(dataclasses.replace(view, title=long_name, info=info, matrix=()), theme,
                       now=STAMP)
    props = docx.Document(io.BytesIO(data)).core_properties
    assert props.title == props.subject == long_name[:254] + "…"  # 255 characters
    assert any(long_name in text for text in texts(data))


def test_each_precondition_group_spans_the_rows_of_its_items(sheets):
    """So a heading on two lines ("Wet- en regelgeving") leaves no gap under its first item."""
    body = xml(sheets["atmp", "nl"], "word/document.xml")
    table = body.xpath(".//w:tr[w:trPr/w:tblHeader]", namespaces=NS)[0].getparent()
    merges = []
    for row in table.findall("w:tr", NS)[1:]:
        merge = row.find("w:tc/w:tcPr/w:vMerge", NS)
        merges.append(None if merge is None else merge.get(f"{{{W}}}val", "continue"))
    assert merges == ["restart", *["continue"] * 3, "restart", "continue", "restart",
                      "continue", "restart", *["continue"] * 2, "restart", *["continue"] * 4]


# --- a template as Word and LibreOffice leave it -------------------------------------------

@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a copy of templates/, as the current folder."""
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    shutil.copytree(DATA, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit_document(path: Path, edit) -> None:
    """Rewrite the template at ``path`` with ``edit(document_xml) -> document_xml``."""
    entries = parts(path.read_bytes())
    entries["word/document.xml"] = edit(entries["word/document.xml"].decode("utf-8")).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in entries.items():
            z.writestr(name, blob)
    path.write_bytes(buf.getvalue())


def break_template(folder: Path, old: str, new: str, after: str = "") -> None:
    """Replace ``old`` by ``new`` in the template's word/document.xml: its only occurrence,
    or with ``after`` its first occurrence after that text."""
    def edit(document: str) -> str:
        if after:
            start = document.index(old, document.index(after))
        else:
            assert document.count(old) == 1, old
            start = document.index(old)
        return document[:start] + new + document[start + len(old):]

    edit_document(folder / "templates" / "sheet.docx", edit)


def render_error(shipped, folder: Path) -> str:
    _, theme, _ = check(folder / "data", Path("templates"))
    with pytest.raises((TemplateError, ErrorGroup)) as info:
        render_docx(view_of(shipped, "atmp", "nl"), theme, now=STAMP)
    return "\n".join(info.value.lines())


def rendered_texts(shipped, folder: Path, slug: str = "atmp", lang: str = "nl") -> list[str]:
    _, theme, _ = check(folder / "data", Path("templates"))
    return texts(render_docx(view_of(shipped, slug, lang), theme, now=STAMP))


def test_the_template_itself_has_no_schema_errors():
    assert docx_errors((TEMPLATES / "sheet.docx").read_bytes()) == []


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_word_sheet_has_no_schema_errors(sheets, slug, lang):
    assert docx_errors(sheets[slug, lang]) == []


def test_smart_quotes_typed_inside_a_tag_are_read_as_straight_quotes(shipped, sheets,
                                                                      scratch):
    # Word's AutoFormat: {% if item.state == "relevant" %} becomes “relevant”
    edit_document(scratch / "templates" / "sheet.docx",
                  lambda d: d.replace('== "relevant"', "== “relevant”")
                  .replace('== "less-relevant"', "== ‘less-relevant’"))
    assert "“relevant”" in parts((scratch / "templates" / "sheet.docx").read_bytes())[
        "word/document.xml"].decode()
    assert rendered_texts(shipped, scratch) == texts(sheets["atmp", "nl"])


SPLITS = {
    "proofing marks and revision ids": (
        '<w:t>{{ si</w:t></w:r><w:proofErr w:type="spellStart"/>'
        '<w:r w:rsidR="00A1B2C3" w:rsidRPr="00D4E5F6"><w:t>ze</w:t></w:r>'
        '<w:proofErr w:type="spellEnd"/><w:r w:rsidR="00F00F00"><w:t> }}</w:t>'),
    "a formatting change": (
        '<w:t>{{ si</w:t></w:r><w:r><w:rPr><w:b/><w:i/></w:rPr><w:t>ze }}</w:t>'),
    "a split delimiter and a bookmark": (
        '<w:t>{</w:t></w:r><w:bookmarkStart w:id="90" w:name="_GoBack"/>'
        '<w:bookmarkEnd w:id="90"/><w:r w:rsidRPr="00112233"><w:t xml:space="preserve">'
        '{ size }}</w:t>'),
}


@pytest.mark.parametrize("how", SPLITS)
def test_a_tag_word_split_with_markup_that_means_nothing_is_joined(shipped, sheets, scratch,
                                                                   how):
    # the key figure {{ size }} typed, corrected and spell-checked in Word
    break_template(scratch, "<w:t>{{ size }}</w:t>", SPLITS[how])
    assert rendered_texts(shipped, scratch) == texts(sheets["atmp", "nl"])


def test_a_tag_interrupted_by_a_tab_cannot_be_read_and_says_where(shipped, scratch):
    break_template(scratch, "<w:t>{{ size }}</w:t>",
                   "<w:t>{{ si</w:t></w:r><w:r><w:tab/></w:r><w:r><w:t>ze }}</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ size }}”: the tag {{ size }} is interrupted "
        "by a tab, so it cannot be read; take it out of the tag (or select the whole tag, "
        "delete it and type it again)")


def test_a_tag_half_inside_a_tracked_change_cannot_be_read(shipped, scratch):
    break_template(scratch, "<w:r><w:t>{{ size }}</w:t></w:r>",
                   '<w:r><w:t>{{ si</w:t></w:r><w:ins w:id="7" w:author="A" '
                   'w:date="2025-01-01T00:00:00Z"><w:r><w:t>ze }}</w:t></w:r></w:ins>')
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ size }}”: the tag {{ size }} is interrupted "
        "by a tracked change, so it cannot be read; take it out of the tag (or select the "
        "whole tag, delete it and type it again)")


def test_an_unclosed_block_is_reported(shipped, scratch):
    break_template(scratch, "<w:t>{%p endif %}</w:t>", "<w:t>-</w:t>", after="size_note")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{%p if size_note %}”: the block "
        "{%p if size_note %} is never closed: add {%p endif %} after the part it repeats or "
        "shows")


def test_an_unknown_name_is_reported_with_the_text_around_it(shipped, scratch):
    break_template(scratch, "<w:t>{{ labels.domain }}: {{ domain }}</w:t>",
                   "<w:t>{{ labels.domain }}: {{ domein }}</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ labels.domain }}: {{ domein }}”: unknown "
        "name 'domein'; the names a template may use are listed in docs/template-reference.md")


def test_an_unknown_name_in_the_footer_names_the_footer(shipped, scratch):
    path = scratch / "templates" / "sheet.docx"
    entries = parts(path.read_bytes())
    name = next(n for n in entries if n.startswith("word/footer"))
    entries[name] = entries[name].replace(b"{{ footer_right }}", b"{{ footer_rigth }}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part, blob in entries.items():
            z.writestr(part, blob)
    path.write_bytes(buf.getvalue())
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: footer, paragraph “{{ footer_left }}{{ footer_rigth }}”: unknown "
        "name 'footer_rigth'; the names a template may use are listed in "
        "docs/template-reference.md")


def test_an_unknown_field_of_a_loop_item_is_reported_where_it_stands(shipped, scratch):
    break_template(scratch, "<w:t>{{ item.label }}</w:t>", "<w:t>{{ item.lable }}</w:t>",
                   after="{%tr else %}")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ item.lable }}”: this item has no attribute "
        "'lable'; the names a template may use are listed in docs/template-reference.md")


def test_an_unknown_label_is_reported(shipped, scratch):
    break_template(scratch, "<w:t>{{ labels.timeline }}</w:t>",
                   "<w:t>{{ labels.tijdlijn }}</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ labels.tijdlijn }}”: unknown name "
        "'labels.tijdlijn'; the names a template may use are listed in "
        "docs/template-reference.md")


def test_a_tag_left_open_in_its_paragraph_is_reported(shipped, scratch):
    break_template(scratch, "<w:t>{{ size }}</w:t>", "<w:t>{{ size</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ size”: a tag is opened with '{{' but not "
        "closed with '}}' in the same paragraph; a tag must stand within one paragraph")


def test_a_close_without_an_open_block_is_reported(shipped, scratch):
    break_template(scratch, "<w:t>{%p if size_note %}</w:t>", "<w:t>-</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{%p endif %}”: {%p endif %} has no open block "
        "to close; delete it or add the missing {% if ... %} before it")


def test_an_unknown_filter_is_reported_before_rendering(shipped, scratch):
    break_template(scratch, "<w:t>{{ size }}</w:t>", "<w:t>{{ size | nosuchfilter }}</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ size | nosuchfilter }}”: No filter named "
        "'nosuchfilter'; the filters and names a template may use are listed in "
        "docs/template-reference.md")


def test_a_syntax_error_names_the_paragraph_never_a_character_offset(shipped, scratch):
    break_template(scratch, "<w:t>{%p if size_note %}</w:t>", "<w:t>{%p if size_note == %}</w:t>")
    message = render_error(shipped, scratch)
    assert message.startswith("templates/sheet.docx: body, paragraph “{%p if size_note == %}”: ")
    assert not re.search(r"\bat \d+", message), message


def missing_bar(index: int) -> str:
    return (f"templates/sheet.docx: body, share bar shares[{index}]: no table holds the "
            f"bookmark 'nr_shares_{index}', so the build cannot find this share bar to size it "
            "(deleting the bar's first cell or its text deletes the bookmark); in Word, click "
            "in the bar's first cell, Insert → Bookmark, and add "
            f"'nr_shares_{index}'; see docs/template-reference.md")


def test_a_share_bar_whose_bookmark_was_deleted_is_reported(shipped, scratch):
    edit_document(scratch / "templates" / "sheet.docx",
                  lambda d: re.sub(r'<w:bookmarkStart w:id="(\d+)" w:name="nr_shares_1"/>'
                                   r'<w:bookmarkEnd w:id="\1"/>', "", d))
    assert render_error(shipped, scratch) == missing_bar(1)


def test_a_share_bar_table_that_is_not_two_cells_is_reported(shipped, scratch):
    break_template(scratch, "</w:tc></w:tr>", "</w:tc><w:tc><w:p/></w:tc></w:tr>",
                   after='w:name="nr_shares_0"')
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, share bar shares[0]: the table with the bookmark "
        "'nr_shares_0' is a share bar and must be one row of two cells (no merged or split "
        "cells), whose widths the build sets; give it back its two cells; see "
        "docs/template-reference.md")


def test_a_template_from_elsewhere_is_named_and_never_told_to_restore_from_git(scratch,
                                                                              capsys):
    (scratch / "templates").rename(scratch / "brand")
    edit_document(scratch / "brand" / "sheet.docx",
                  lambda d: re.sub(r'<w:bookmarkStart w:id="(\d+)" w:name="nr_shares_0"/>', "", d))
    build = ["build", "--templates", "brand", "--format", "docx", "--out", "out", "--no-bundle"]
    assert main(build) == 1
    (scratch / "brand" / "sheet.docx").write_bytes(b"not a zip")
    assert main(build) == 1
    (scratch / "brand" / "sheet.docx").unlink()
    assert main(build) == 1
    err = capsys.readouterr().err
    assert err.count("brand/sheet.docx: ") == 3, err
    assert "git" not in err and "templates/sheet.docx" not in err


def soffice_or_skip() -> str:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not on PATH: this test needs it (.ci/run "
                    "installs it)")
    return soffice


def libreoffice(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    """Run LibreOffice headless with a private profile (parallel runs do not collide)."""
    return subprocess.run([soffice_or_skip(), f"-env:UserInstallation={profile.as_uri()}",
                           "--headless", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def libreoffice_template(tmp_path_factory) -> Path:
    """A templates folder whose sheet.docx LibreOffice Writer opened and saved (once)."""
    folder = tmp_path_factory.mktemp("lo-template")
    shutil.copytree(TEMPLATES, folder / "templates")
    done = libreoffice(["--convert-to", "docx:MS Word 2007 XML", "--outdir",
                        str(folder / "saved"), str(TEMPLATES / "sheet.docx")],
                       folder / "profile")
    saved = folder / "saved" / "sheet.docx"
    assert saved.is_file(), done.stderr
    shutil.copy(saved, folder / "templates" / "sheet.docx")
    return folder / "templates"


@pytest.fixture(scope="module")
def libreoffice_sheets(libreoffice_template, shipped) -> dict[tuple[str, str], bytes]:
    _, theme, _ = check(DATA, libreoffice_template)
    return {(slug, lang): render_docx(view_of(shipped, slug, lang), theme, now=STAMP)
            for slug in ("atmp", "biotech-nexus") for lang in LANGS}


def test_libreoffice_drops_the_table_titles_and_descriptions_but_keeps_the_markers(
        libreoffice_template):
    body = parts((libreoffice_template / "sheet.docx").read_bytes())["word/document.xml"]
    assert b"tblDescription" not in body and b"tblCaption" not in body
    assert b'w:name="nr_shares_0"' in body and b'w:name="nr_preconditions"' in body


def test_a_template_saved_by_libreoffice_builds_the_same_sheets(libreoffice_sheets, sheets):
    for key, data in libreoffice_sheets.items():
        assert texts(data) == texts(sheets[key]), key
        # LibreOffice may round a column by a twip (1/1440 inch)
        assert [left / (left + right) for left, right in share_bars(data)] == pytest.approx(
            [left / (left + right) for left, right in share_bars(sheets[key])], abs=0.001)
        assert docx_errors(data) == []
        # the descriptions LibreOffice dropped are back, in the sheet's language
        tables = xml(data, "word/document.xml").iterfind(".//w:tbl", NS)
        assert [description(t) for t in tables] == [
            description(t) for t in xml(sheets[key], "word/document.xml").iterfind(
                ".//w:tbl", NS)]


def test_a_sheet_from_a_libreoffice_template_is_one_page_in_libreoffice(libreoffice_sheets,
                                                                        tmp_path):
    assert pages_in_libreoffice(libreoffice_sheets, tmp_path) == {
        f"{slug}-{lang}": 1 for slug, lang in libreoffice_sheets}


# --- the one-page promise -------------------------------------------------------------------

def restyled(folder: Path, normal_pt: float) -> None:
    """The template in ``folder`` with Normal set to ``normal_pt``, as Word saves it."""
    path = folder / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    document.styles["Normal"].font.size = docx.shared.Pt(normal_pt)
    document.save(str(path))


def test_a_restyle_that_no_longer_fits_is_refused_naming_the_word_sheet(scratch, capsys):
    restyled(scratch, 30)
    code = main(["build", "--strict", "--format", "pdf,docx", "--out", "out"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "Word sheet does not fit" in line]
    assert len(lines) == 8, err  # every sheet in both languages
    assert lines[2].startswith(
        "data/projects/atmp.yaml:16: summary.nl, relevance.nl, collaborations.national, "
        "collaborations.european: the nl-NL Word sheet does not fit on one page: the left "
        "column is ")
    assert lines[2].endswith("; or, if the Word template (sheet.docx) was restyled, make its "
                             "text smaller or its spacing tighter")
    assert not (scratch / "out").exists() or not any((scratch / "out").rglob("*.docx"))
    assert main(["validate"]) == 1
    assert "nl-NL Word sheet does not fit" in capsys.readouterr().err


def _has_dejavu_sans() -> bool:
    if shutil.which("fc-match") is None:
        return False
    found = subprocess.run(["fc-match", "-f", "%{family}", "DejaVu Sans"],
                           capture_output=True, text=True, check=False).stdout
    return "DejaVu Sans" in found


@pytest.mark.skipif(not _has_dejavu_sans(), reason="needs fontconfig and DejaVu Sans")
def test_a_restyle_in_a_wider_font_is_measured_in_that_font(scratch, capsys):
    """Every style set in DejaVu Sans (about 15 % wider than Calibri) at Normal 12 pt: before,
    the estimate measured every font with Carlito's widths and passed it, and LibreOffice ran
    the Precision Diagnostics sheets onto two pages (and the Word bundle to 16)."""
    path = scratch / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    for style in document.styles:
        if style.type in (1, 2):  # paragraph and character styles
            style.font.name = "DejaVu Sans"
    for name, size in (("Normal", 12), ("Lead", 12.6), ("List Bullet", 12)):
        document.styles[name].font.size = docx.shared.Pt(size)
    document.save(str(path))
    assert main(["validate"]) == 1
    err = capsys.readouterr().err
    assert ("data/projects/precision-diagnostics.yaml:19: summary.nl, relevance.nl, "
            "collaborations.national, collaborations.european: the nl-NL Word sheet does not "
            "fit on one page: the left column is ") in err
    assert "the en-GB Word sheet does not fit" in err


def test_a_font_that_is_the_themes_is_measured_with_the_themes_widths(sheets):
    from nexusreports.render.word.fit import Layout, _Run
    from nexusreports.theme import load_theme

    layout = Layout(docx.Document(io.BytesIO(sheets["atmp", "nl"])), load_theme(TEMPLATES))
    for font in (None, "Calibri", "Carlito", "+major"):  # the theme's major font is Calibri
        assert layout.face(_Run(10, False, False, font)) is layout.regular
        assert layout.face(_Run(10, True, False, font)) is layout.bold


def test_the_shipped_word_sheets_fit_with_room_to_spare(sheets, shipped):
    from nexusreports.render.word.fit import measure

    _, theme = shipped
    for key, data in sheets.items():
        used, room, _ = measure(docx.Document(io.BytesIO(data)), theme)
        assert 0.7 * room < used < 0.9 * room, key  # room for a longer text, not empty


def test_the_cli_reports_a_broken_template_with_exit_1_and_writes_nothing(scratch, capsys):
    break_template(scratch, "<w:t>{{ size }}</w:t>", "<w:t>{{ sise }}</w:t>")
    code = main(["build", "--format", "pdf,docx", "--out", "out", "--no-bundle"])
    err = capsys.readouterr().err
    assert code == 1
    assert ("templates/sheet.docx: body, paragraph “{{ sise }}”: unknown name 'sise'; the "
            "names a template may use are listed in docs/template-reference.md") in err
    assert not (scratch / "out" / "nl" / "atmp.docx").exists()
    assert not (scratch / "out" / "nl" / "atmp.pdf").exists()


def test_a_pdf_only_build_never_imports_the_word_stack(scratch):
    code = ("import sys; from nexusreports.cli import main; "
            "rc = main(['-q', 'build', '--format', 'pdf', '--no-bundle', '--out', 'out']); "
            "print(rc, 'docxtpl' in sys.modules, 'nexusreports.render.word' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=scratch, check=True)
    assert result.stdout.split() == ["0", "False", "False"]


# --- one page, checked by LibreOffice -------------------------------------------------------

def pages_in_libreoffice(documents: dict[tuple[str, str], bytes], tmp_path: Path
                         ) -> dict[str, int]:
    """Convert each .docx with LibreOffice in one run; the page count of each, by
    ``slug-lang``."""
    src = tmp_path / "in"
    src.mkdir()
    for (slug, lang), data in documents.items():
        (src / f"{slug}-{lang}.docx").write_bytes(data)
    result = libreoffice(["--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"),
                          *sorted(str(p) for p in src.iterdir())], tmp_path / "profile")
    pages = {}
    for slug, lang in documents:
        pdf = tmp_path / "pdf" / f"{slug}-{lang}.pdf"
        assert pdf.is_file(), f"LibreOffice did not convert {pdf.name}: {result.stderr}"
        pages[f"{slug}-{lang}"] = len(PdfReader(pdf).pages)
    return pages


def test_every_sheet_is_one_page_in_libreoffice(sheets, tmp_path):
    pages = pages_in_libreoffice(sheets, tmp_path)
    assert pages == {name: 1 for name in pages}
    text = PdfReader(tmp_path / "pdf" / "atmp-nl.pdf").pages[0].extract_text()
    assert "2.250" in text and "Randvoorwaarden" in text and "Niet opgegeven" in text


@pytest.mark.parametrize("opener, closer, message", [
    ("{%p if size_note %}", "{% endif %}",
     "templates/sheet.docx: body, paragraph “{% endif %}”: {% endif %} closes "
     "{%p if size_note %} (body, paragraph “{%p if size_note %}”), which was opened with {%p "
     "(a paragraph tag): close it with {%p endif %} (the same p/tr/tc letter)"),
    ("{% if size_note %}", "{%p endif %}",
     "templates/sheet.docx: body, paragraph “{%p endif %}”: {%p endif %} closes "
     "{% if size_note %} (body, paragraph “{% if size_note %}”), which was opened with {% "
     "(an inline tag): close it with {% endif %} (the same p/tr/tc letter)"),
])
def test_a_block_closed_with_another_letter_is_reported_before_rendering(
        shipped, scratch, opener, closer, message):
    """docxtpl removes the paragraph around a {%p %} tag only: a block opened with one letter
    and closed with another would swallow the rest of the document (before: an internal
    error, IndexError, naming no tag)."""
    break_template(scratch, "<w:t>{%p if size_note %}</w:t>", f"<w:t>{opener}</w:t>")
    break_template(scratch, "<w:t>{%p endif %}</w:t>", f"<w:t>{closer}</w:t>",
                   after="size_note")
    assert render_error(shipped, scratch) == message


def test_an_else_with_another_letter_than_its_if_is_reported(shipped, scratch):
    break_template(scratch, "<w:t>{%p else %}</w:t>", "<w:t>{% else %}</w:t>",
                   after="block.bullets")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{% else %}”: {% else %} belongs to "
        "{%p if block.bullets %} (body, paragraph “{%p if block.bullets %}”), which was opened "
        "with {%p (a paragraph tag): write it {%p else %} (the same p/tr/tc letter)")


def test_margins_that_push_a_table_off_the_page_are_refused_naming_the_table(scratch, capsys):
    """Page margins of 30 mm: the tables keep their fixed widths, and before, the build
    passed sheets whose right column LibreOffice cut off at the edge of the paper."""
    path = scratch / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    section = document.sections[0]
    section.left_margin = section.right_margin = docx.shared.Mm(30)
    document.save(str(path))
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "templates/sheet.docx: body, table “Biotech Nexus Life sciences en Biotech P"
        "…”: its text runs 6.0 mm off the right edge of the page (the page is 210 mm wide, its "
        "margins left 30 mm, right 30 mm, and the table keeps its width); make the page "
        "margins narrower again (Layout → Margins) or the table narrower (Table Properties → "
        "Table → Preferred width)")


def test_margins_a_little_wider_still_build(scratch):
    """20 mm margins: the header band's shading runs off the page, its text does not."""
    path = scratch / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    section = document.sections[0]
    section.left_margin = section.right_margin = docx.shared.Mm(20)
    document.save(str(path))
    assert main(["validate"]) == 0


def test_a_key_figures_column_too_tall_names_its_fields_and_line(scratch, capsys):
    """Small and Scale text made bigger: the right column overflows on the programme sheet.
    Before, the message named no field ("right column: …") and no line."""
    path = scratch / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    for name, size in (("Small", 10), ("Small Muted", 10), ("Scale", 12), ("Scale Active", 12)):
        document.styles[name].font.size = docx.shared.Pt(size)
    document.save(str(path))
    assert main(["validate"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(
        "data/projects/biotech-nexus.yaml:85: size_eur_m, flagship_total_eur_m, period, "
        "shares.capital_pct, shares.public_pct, trl, mrl, preconditions: the nl-NL Word sheet "
        "does not fit on one page: the right column is "), first


@pytest.mark.parametrize("old, new, where", [
    ("<w:t>{{ size }}</w:t>", "<w:t>{{ size | round }}</w:t>", "“{{ size | round }}”"),
    ("<w:t>{{ item.label }}</w:t>", "<w:t>{{ item.label + 1 }}</w:t>",
     "“{{ item.label + 1 }}”"),
])
def test_a_number_filter_on_formatted_text_names_its_tag(shipped, scratch, old, new, where):
    """Before: `internal error: TypeError: type str doesn't define __round__ method`."""
    break_template(scratch, old, new, after="nr_")
    message = render_error(shipped, scratch)
    assert message.startswith(f"templates/sheet.docx: body, paragraph {where}: this tag cannot "
                              "be rendered ("), message
    assert message.endswith("every value comes as text, already formatted for the language, "
                            "so filters and arithmetic for numbers (round, int, float, format, "
                            "sum, +, -) do not apply; see docs/template-reference.md")


def test_a_share_bar_that_does_not_exist_is_named_where_it_is_used(shipped, scratch):
    """Before: 'no table holds the bookmark nr_shares_2 … add nr_shares_2', as if a third
    bar could be made."""
    break_template(scratch, "<w:t>{{ size }}</w:t>", "<w:t>{{ shares[2].left_pct }}</w:t>")
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{{ shares[2].left_pct }}”: there is no "
        "shares[2]: the share bars are shares[0], shares[1]; see docs/template-reference.md")


def test_including_another_file_is_refused_before_rendering(shipped, scratch):
    """Before: 'body: … no loader for this environment specified', naming no paragraph."""
    break_template(scratch, "<w:t>{{ size }}</w:t>", '<w:t>{% include "parts.docx" %}</w:t>')
    assert render_error(shipped, scratch) == (
        "templates/sheet.docx: body, paragraph “{% include \"parts.docx\" %}”: a Word template "
        "cannot include other files ({% include … %}); put the part in this template; see "
        "docs/template-reference.md")


def with_header(folder: Path, lines: int) -> None:
    """The template in ``folder`` with a page header of ``lines`` paragraphs (python-docx, as
    a script would add one) and Normal at 11 pt."""
    path = folder / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    header = document.sections[0].header
    header.is_linked_to_previous = False
    header.paragraphs[0].text = "{{ project_name }}"
    for _ in range(lines - 1):
        header.add_paragraph("{{ labels.project_sheet }} – {{ domain }}")
    document.styles["Normal"].font.size = docx.shared.Pt(11)
    document.save(str(path))


def test_a_page_header_added_to_the_template_takes_its_room(scratch, capsys):
    """Eight header lines push the body down 50 mm: before, the estimate left the header out
    (43-53 mm to spare) and LibreOffice put three sheets on two pages."""
    with_header(scratch, 8)
    assert main(["validate"]) == 1
    assert ("data/projects/precision-diagnostics.yaml:19: summary.nl, relevance.nl, "
            "collaborations.national, collaborations.european: the nl-NL Word sheet does not "
            "fit on one page: the left column is ") in capsys.readouterr().err


def test_a_page_header_added_to_the_template_has_its_style(shipped, scratch):
    """python-docx and Word give a new header the style "Header": the template keeps it, so
    the sheets stay valid (before: "Style 'Header' referenced but not defined")."""
    with_header(scratch, 2)
    _, theme, _ = check(scratch / "data", Path("templates"))
    data = render_docx(view_of(shipped, "atmp", "nl"), theme, now=STAMP)
    assert docx_errors(data) == []
    assert "Flagship Biotech Nexus: ATMP I&II" in " ".join(
        t.text or "" for t in xml(data, "word/header1.xml").iter(f"{{{W}}}t"))


def test_bigger_key_figure_text_is_refused_for_the_sheets_libreoffice_runs_over(scratch,
                                                                                   capsys):
    """Small and Scale text at 10 and 12 pt: LibreOffice runs five sheets onto a second page
    (biotech-nexus in both languages, the three flagships in Dutch). The estimate alone put
    the flagships 2.1 mm inside their page; the 4 mm the page must leave catches them."""
    path = scratch / "templates" / "sheet.docx"
    document = docx.Document(str(path))
    for name, size in (("Small", 10), ("Small Muted", 10), ("Scale", 12), ("Scale Active", 12)):
        document.styles[name].font.size = docx.shared.Pt(size)
    document.save(str(path))
    assert main(["validate"]) == 1
    refused = sorted(re.findall(r"data/projects/([\w-]+)\.yaml:\d+: .*? the (\w\w)-\w\w Word "
                                r"sheet does not fit", capsys.readouterr().err))
    assert refused == [("atmp", "nl"), ("biotech-nexus", "en"), ("biotech-nexus", "nl"),
                       ("infectieziekten", "nl"), ("precision-diagnostics", "nl")]


# --- what is remembered between sheets (render/word: parsed template, measured heights) ---------

def test_the_fit_check_alone_refuses_what_the_build_refuses(scratch, shipped):
    """check_sheet_fit (for validate) runs every check render_docx runs, without the zip: a
    shipped sheet passes both; with Normal at 30 pt both refuse it with the same message."""
    from nexusreports.errors import ContentOverflow
    from nexusreports.render.word import check_sheet_fit
    from nexusreports.theme import load_theme

    view = view_of(shipped, "atmp", "nl")
    assert check_sheet_fit(view, shipped[1]) is None
    restyled(scratch, 30)
    theme = load_theme(scratch / "templates")
    with pytest.raises(ContentOverflow) as by_build:
        render_docx(view, theme, now=STAMP)
    with pytest.raises(ContentOverflow) as by_check:
        check_sheet_fit(view, theme)
    assert str(by_check.value) == str(by_build.value)
    assert "the nl-NL Word sheet does not fit on one page: the left column is" in str(
        by_check.value)


def test_a_changed_template_is_read_again_and_the_first_gives_its_bytes_again(scratch, shipped,
                                                                             sheets):
    """The template is parsed once per content (sha256), never per path: a restyle saved
    over the same file in the same process is used at once, and the shipped bytes return
    with the shipped template."""
    from nexusreports.theme import load_theme

    view = view_of(shipped, "atmp", "nl")
    restyled(scratch, 10.5)
    smaller = render_docx(view, load_theme(scratch / "templates"), now=STAMP)
    sizes = {s.get(f"{{{W}}}val") for s in xml(smaller, "word/styles.xml").iterfind(
        f".//{{{W}}}style[@{{{W}}}styleId='Normal']//{{{W}}}sz")}
    assert sizes == {"21"}  # 10.5 pt in half points
    assert smaller != sheets["atmp", "nl"]
    assert render_docx(view, shipped[1], now=STAMP) == sheets["atmp", "nl"]


def test_remembered_heights_are_the_heights_measured_afresh(shipped, sheets):
    """The fit estimate remembers each paragraph's and cell's height by its XML and width,
    per set of styles: after the same XML has been measured under other styles (Normal at
    12.5 pt), every shipped sheet measures exactly as with nothing remembered."""
    from nexusreports.render.word import fit

    _, theme = shipped
    restyled_docs = [docx.Document(io.BytesIO(data)) for data in sheets.values()]
    for document in restyled_docs:  # the shipped sheets' XML, under the restyled styles
        document.styles["Normal"].font.size = docx.shared.Pt(12.5)
    warm = [fit.measure(d, theme)[:2] for d in restyled_docs]
    shipped_docs = [docx.Document(io.BytesIO(data)) for data in sheets.values()]
    remembered = [fit.measure(d, theme)[:2] for d in shipped_docs]
    fit._HEIGHTS.clear()
    fit._WIDTHS.clear()
    afresh = [fit.measure(d, theme)[:2] for d in shipped_docs]
    assert remembered == afresh
    assert all(w[0] > a[0] for w, a in zip(warm, afresh))  # the restyle measured taller


def test_parts_deflated_once_are_zipped_as_zipfile_zips_them(shipped, sheets):
    """A part met again (styles, theme ... on every sheet) is written with the deflated
    bytes kept from before; the sheet is byte for byte what zipfile's writestr made when
    nothing was kept, and openxml-audit reads it (conftest)."""
    from nexusreports.render.word import sheet

    view = view_of(shipped, "precision-diagnostics", "en")
    sheet._DEFLATED.clear()
    sheet._MET.clear()
    written = render_docx(view, shipped[1], now=STAMP)
    assert not sheet._DEFLATED and sheet._MET  # met once: their hashes only
    again = render_docx(view, shipped[1], now=STAMP)
    assert sheet._DEFLATED
    assert again == written == sheets["precision-diagnostics", "en"]


def test_the_deflated_parts_kept_stay_within_their_budget_however_many_parts_recur(
        monkeypatch):
    """Parts each met on two sheets (projects with the same texts), thousands of them: what
    is kept stays within the budget, and every entry reads back as it was written."""
    from nexusreports.render.word import sheet

    sheet._DEFLATED.clear()
    monkeypatch.setattr(sheet, "_deflated_bytes", 0)
    sheet._MET.clear()
    blobs = [f"<w:document>{n} {'text ' * (n % 500)}</w:document>".encode() * 4
             for n in range(2000)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for n, blob in enumerate(blobs):
            for copy in (0, 1):  # met twice: the second is kept
                sheet._write_entry(dst, sheet._entry_info(f"p{n}-{copy}.xml"), blob)
            assert sheet._deflated_bytes <= sheet._DEFLATED_BUDGET
            assert sum(len(k) + len(v[1]) for k, v in sheet._DEFLATED.items()) \
                == sheet._deflated_bytes
    assert sheet._DEFLATED  # (some kept)
    with zipfile.ZipFile(buf) as zf:
        assert all(zf.read(f"p{n}-{c}.xml") == blob
                   for n, blob in enumerate(blobs) for c in (0, 1))
