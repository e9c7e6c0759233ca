"""The bilingual briefing bundle (issue 4): out/briefing-nl-en.pdf and .docx.

The shipped data is built once (sheets + bundle); the PDF is read back with pypdf (pages,
text, outline, links, page labels, fonts, metadata), the DOCX with python-docx and its raw
XML, and LibreOffice converts the DOCX when it is installed.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from nexusreports import model as m
from nexusreports.bundle import DOCX_NAME, PDF_NAME
from nexusreports.render.pdf.bundle import render_bundle_pdf
from nexusreports.render.word.bundle import bookmark_name, heading_style, render_bundle_docx
from nexusreports.cli import main
from nexusreports.errors import DataErrors
from nexusreports.pipeline import BuildOptions, build
from nexusreports.render.pdf import render_pdf
from nexusreports.validate import load_bundle, load_projects
from nexusreports.view import build_bundle_view, build_view

from conftest import DATA, LANGS, TEMPLATES, docx_errors

ORDER = ("biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics")

# Every summary row as it must print: project, period, size, public, private, TRL, MRL.
# Public/private = size x share: ATMP 2250 x 33% = 742.5 and 1507.5; the flagships total
# 3910 = the programme's stated flagship_total_eur_m, public 742.5 + 360 + 230 = 1332.5.
# The space before the unit is an ordinary one: a narrow column may break the line there.
SUMMARY = {
    "nl": [
        ("Biotech Nexus", "2025–2035", "€\xa021.200 miljoen", "€\xa07.420 miljoen",
         "€\xa013.780 miljoen", "3–8", "Verkenning"),
        ("ATMP I&II", "2025–2035", "€\xa02.250 miljoen", "€\xa0742,5 miljoen",
         "€\xa01.507,5 miljoen", "5–9", "Deels operationeel"),
        ("Infectieziekten", "2026–2030", "€\xa01.200 miljoen", "€\xa0360 miljoen",
         "€\xa0840 miljoen", "6–7", "Operationeel"),
        ("Precision Diagnostics", "2025–2035", "€\xa0460 miljoen", "€\xa0230 miljoen",
         "€\xa0230 miljoen", "4–8", "Verkenning"),
        ("Totaal flagships", "2025–2035", "€\xa03.910 miljoen", "€\xa01.332,5 miljoen",
         "€\xa02.577,5 miljoen", "", ""),
    ],
    "en": [
        ("Biotech Nexus", "2025–2035", "€21,200 million", "€7,420 million",
         "€13,780 million", "3–8", "Exploration"),
        ("ATMP I&II", "2025–2035", "€2,250 million", "€742.5 million",
         "€1,507.5 million", "5–9", "Partly operational"),
        ("Infectious diseases", "2026–2030", "€1,200 million", "€360 million",
         "€840 million", "6–7", "Operational"),
        ("Precision Diagnostics", "2025–2035", "€460 million", "€230 million",
         "€230 million", "4–8", "Exploration"),
        ("Total flagships", "2025–2035", "€3,910 million", "€1,332.5 million",
         "€2,577.5 million", "", ""),
    ],
}
COLUMNS = {"nl": ("Project", "Periode", "Projectomvang", "Publiek", "Privaat", "TRL", "MRL"),
           "en": ("Project", "Period", "Project size", "Public", "Private", "TRL", "MRL")}
LANGUAGE = {"nl": "Nederlands", "en": "English"}
CONTENTS = {"nl": ("Inhoud", "Samenvatting"), "en": ("Contents", "Summary")}
PAGE_WORD = {"nl": "Pagina", "en": "Page"}

# by-language: cover, then per language contents + summary + 4 sheets, then closing.
FRONT_PAGE = {"nl": 1, "en": 7}
SHEET_PAGE = {(slug, "nl"): 3 + i for i, slug in enumerate(ORDER)} | \
             {(slug, "en"): 9 + i for i, slug in enumerate(ORDER)}
PAGES = 14


def flat(text: str) -> str:
    """PDF text with no-break spaces as spaces and runs of white space as one space."""
    return " ".join(text.replace("\xa0", " ").split())


@pytest.fixture(scope="module")
def bundle_build(tmp_path_factory) -> Path:
    """The shipped data built once, sheets and bundle; returns the output folder."""
    out = tmp_path_factory.mktemp("bundle-out")
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=out,
                       formats=("pdf", "docx")))  # each bundle needs its own format
    return out


@pytest.fixture(scope="module")
def reader(bundle_build) -> PdfReader:
    return PdfReader(bundle_build / PDF_NAME)


@pytest.fixture(scope="module")
def sheet_views(projects):
    return {(p.slug, lang): build_view(p, projects, lang, DATA) for p in projects.projects
            for lang in LANGS}


@pytest.fixture(scope="module")
def bundle_view(projects, sheet_views):
    return build_bundle_view(load_bundle(DATA, projects), projects, sheet_views)


def page_of(reader: PdfReader, ref) -> int:
    return reader.get_page_number(ref.get_object()) if hasattr(ref, "get_object") else ref


# --- the view ----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_the_summary_rows_are_size_times_share_rounded_per_locale(bundle_view, lang):
    part = bundle_view.part(lang)
    assert part.columns == COLUMNS[lang]
    assert [r.cells for r in [*part.rows, *part.totals]] == SUMMARY[lang]


def test_the_cover_gives_the_briefing_date_long_in_each_locale(bundle_view):
    assert [c.date for c in bundle_view.covers] == ["30 september 2025", "30 September 2025"]


def test_the_closing_line_is_the_seeds_and_its_english_rendering(bundle_view):
    assert bundle_view.closing == ("Samen... voor de toekomst van gezondheid.",
                                   "Together... for the future of health.")


def test_the_bundle_view_keeps_its_rows_and_sheets_in_files_sent_by_name(projects, sheet_views,
                                                                         tmp_path):
    """What the view holds per project (issue 11) is in files in the folder it is given: a
    rendering process receives their names and offsets, not the rows and sheets; the files
    go when the view does."""
    import gc
    import pickle

    view = build_bundle_view(load_bundle(DATA, projects), projects, sheet_views, tmp_path)
    assert len(list(tmp_path.iterdir())) == 5  # per language rows and sheets; the sequence
    sent = pickle.dumps(view)
    assert view.sequence[0].summary[0].encode() not in sent
    received = pickle.loads(sent)
    assert received == view
    assert [s.project_name for s in received.part("en").sheets] == \
        [sheet_views[(slug, "en")].project_name for slug in ORDER]
    del view, received
    gc.collect()
    assert list(tmp_path.iterdir()) == []


# --- the PDF -----------------------------------------------------------------------------

def test_the_build_writes_both_bundle_files_and_lists_them_in_the_manifest(bundle_build):
    import json

    manifest = json.loads((bundle_build / "manifest.json").read_text(encoding="utf-8"))
    entries = {e["path"]: e for e in manifest["outputs"]}
    assert entries[PDF_NAME]["pages"] == PAGES
    assert entries[DOCX_NAME]["format"] == "docx"
    assert (bundle_build / DOCX_NAME).stat().st_size > 0


def test_the_pdf_has_a_cover_two_language_parts_and_a_closing_page(reader):
    assert len(reader.pages) == PAGES
    cover = flat(reader.pages[0].extract_text())
    assert "30 september 2025" in cover and "30 September 2025" in cover
    closing = flat(reader.pages[-1].extract_text())
    assert "Samen... voor de toekomst van gezondheid." in closing
    assert "Together... for the future of health." in closing


def test_the_sheet_pages_are_the_single_sheet_pdfs(reader, bundle_build):
    for (slug, lang), index in SHEET_PAGE.items():
        single = PdfReader(bundle_build / lang / f"{slug}.pdf").pages[0]
        page = reader.pages[index]
        assert page.mediabox == single.mediabox
        sheet_text = single.extract_text()
        merged = page.extract_text()
        assert merged.startswith(sheet_text), (slug, lang)
        # the only addition is the stamped page number
        assert flat(merged[len(sheet_text):]) == f"{PAGE_WORD[lang]} {index}"


@pytest.mark.parametrize("lang", LANGS)
def test_the_summary_page_prints_every_figure_and_the_flagship_totals(reader, lang):
    text = reader.pages[FRONT_PAGE[lang] + 1].extract_text()
    lines = [flat(line) for line in text.splitlines() if line.strip()]
    lines = lines[lines.index(CONTENTS[lang][1]) + 1:]  # below the band and the heading
    assert lines[:7] == list(COLUMNS[lang])
    for row in SUMMARY[lang]:
        cells = [flat(c) for c in row if c]
        start = lines.index(cells[0])
        assert lines[start:start + len(cells)] == cells, row


@pytest.mark.parametrize("lang", LANGS)
def test_the_largest_amounts_break_between_number_and_unit_never_inside_a_word(
        data_copy, theme, lang):
    # 9,999,999.9 EUR million is about the largest amount validation lets through.
    atmp, programme = data_copy / "projects" / "atmp.yaml", \
        data_copy / "projects" / "biotech-nexus.yaml"
    atmp.write_text(atmp.read_text(encoding="utf-8").replace(
        "size_eur_m: 2250", "size_eur_m: 9998339.9"), encoding="utf-8")
    programme.write_text(programme.read_text(encoding="utf-8").replace(
        "flagship_total_eur_m: 3910", "flagship_total_eur_m: 9999999.9").replace(
        "size_eur_m: 21200", "size_eur_m: 10000000"),  # a programme includes its flagships
        encoding="utf-8")
    projects = load_projects(data_copy, theme.charset)
    views = {(p.slug, lg): build_view(p, projects, lg, data_copy)
             for p in projects.projects for lg in LANGS}
    view = build_bundle_view(load_bundle(data_copy, projects), projects, views)
    part = view.part(lang)
    total = {"nl": "€\xa09.999.999,9 miljoen", "en": "€9,999,999.9 million"}[lang]
    assert part.totals[0].size == total
    pdfs = {key: render_pdf(v, theme) for key, v in views.items()}
    reader = PdfReader(io.BytesIO(render_bundle_pdf(view, pdfs, theme)))
    page = FRONT_PAGE[lang] + 1
    printed = flat(reader.pages[page].extract_text()).split()
    cells = [*part.columns, *(c for r in [*part.rows, *part.totals] for c in r.cells)]
    words = set(flat(" ".join([*cells, part.summary, part.language, view.covers[0].title,
                               part.page_footer(page)])).split())
    assert [w for w in printed if w not in words] == []
    assert printed.count(total.split()[-1]) == 3 * (len(part.rows) + len(part.totals))


def test_the_outline_is_nested_by_language_then_project(reader, sheet_views):
    outline = reader.outline
    tops = [item for item in outline if not isinstance(item, list)]
    assert [t.title for t in tops] == [LANGUAGE[lang] for lang in LANGS]
    for i, lang in enumerate(LANGS):
        children = outline[2 * i + 1]
        assert isinstance(children, list)
        titles = [c.title for c in children]
        names = [sheet_views[(slug, lang)].project_name for slug in ORDER]
        assert titles == [*CONTENTS[lang], *names]
        targets = [reader.get_destination_page_number(c) for c in children]
        assert targets == [FRONT_PAGE[lang], FRONT_PAGE[lang] + 1,
                           *(SHEET_PAGE[(slug, lang)] for slug in ORDER)]
        assert reader.get_destination_page_number(tops[i]) == FRONT_PAGE[lang]


@pytest.mark.slow
def test_a_bundle_of_hundreds_of_projects_is_publishable_with_a_short_outline(
        bundle_view, sheet_views, theme, every_pdf_built_is_publishable):
    """300 projects (600 sheets, one small sheet file for all): page-validation (PDF/A-2u,
    PDF/UA-1) reads the whole file (before: its outline, one /Next chain of 300 projects, stopped it at its
    reference depth of 256).  The projects are grouped in the outline, no list longer
    than 50 items, the groups named first–last and closed, every project in order under
    them pointing at its page."""
    import dataclasses

    import page

    from tagged import tree_problems

    copies = 75  # x 4 projects
    parts = tuple(dataclasses.replace(part, rows=tuple(part.rows) * copies,
                                      sheets=tuple(part.sheets) * copies)
                  for part in bundle_view.parts)
    view = dataclasses.replace(bundle_view, parts=parts,
                               sequence=tuple(s for part in parts for s in part.sheets))
    one = render_pdf(sheet_views[(ORDER[0], "nl")], theme, invariant=True)
    data = render_bundle_pdf(view, {(s.slug, s.lang): one for s in view.sequence}, theme,
                             invariant=True)
    every_pdf_built_is_publishable.clear()  # checked here: the declared profiles, once
    for profile in ("2u", "ua1"):
        report = page.validate_pdf_bytes(data, profile=profile)
        assert [f"{f.rule_id}: {f.message}" for f in report.failures] == [], profile
    assert tree_problems(data) == []

    reader = PdfReader(io.BytesIO(data))

    def longest(items: list) -> int:
        return max([len(items), *(longest(i) for i in items if isinstance(i, list))])

    def leaves(items: list) -> list:
        out = []
        for n, item in enumerate(items):
            nested = n + 1 < len(items) and isinstance(items[n + 1], list)
            if isinstance(item, list):
                out += leaves(item)
            elif not nested:
                out.append(item)
        return out

    assert longest(reader.outline) <= 52  # Contents, Summary and 50 groups
    for i, part in enumerate(parts):
        children = reader.outline[2 * i + 1]
        projects = []
        for group, under in zip(children[2::2], children[3::2]):
            mine = leaves(under)
            assert group.title == f"{mine[0].title}–{mine[-1].title}"
            assert group["/Count"] < 0  # closed
            projects += mine
        names = [s.project_name for s in part.sheets]
        assert [p.title for p in projects] == names
        pages = [reader.get_destination_page_number(p) for p in projects]
        first = reader.get_destination_page_number(children[1]) + 1  # past the summary
        assert pages == sorted(pages) and pages[0] >= first and len(set(pages)) == len(names)


@pytest.mark.parametrize("lang", LANGS)
def test_each_contents_entry_links_to_the_page_it_names(reader, sheet_views, lang):
    page = reader.pages[FRONT_PAGE[lang]]
    links = [a.get_object() for a in page["/Annots"]]
    assert [a["/Subtype"] for a in links] == ["/Link"] * 5
    links.sort(key=lambda a: -float(a["/Rect"][1]))  # top to bottom
    targets = [reader.get_page_number(a["/Dest"][0].get_object()) for a in links]
    assert targets == [FRONT_PAGE[lang] + 1, *(SHEET_PAGE[(s, lang)] for s in ORDER)]
    assert CONTENTS[lang][1] in reader.pages[targets[0]].extract_text()
    for slug, target in zip(ORDER, targets[1:]):
        name = sheet_views[(slug, lang)].project_name
        assert name in flat(reader.pages[target].extract_text()), (slug, lang)
    # the printed page numbers are those of the targets
    lines = [flat(line) for line in page.extract_text().splitlines()]
    lines = lines[lines.index(CONTENTS[lang][0]) + 1:]  # below the band and the heading
    assert lines[:2] == [CONTENTS[lang][1], str(FRONT_PAGE[lang] + 1)]
    for slug in ORDER:
        name = sheet_views[(slug, lang)].project_name
        assert lines[lines.index(name) + 1] == str(SHEET_PAGE[(slug, lang)])


def test_a_contents_entry_is_laid_out_as_tall_as_it_is_drawn(theme, sheet_views):
    """The contents are laid out without parsing an entry that fits on one line; every
    entry gets the height it is drawn with: one line, wrapped, at the edge of the line, with
    a long page number, empty, with a soft hyphen, doubled spaces or markup characters."""
    from nexusreports.render.pdf import bundle as pdf

    kit = pdf._kit(theme)
    width, height = pdf._frame_size(kit)
    names = {v.project_name for v in sheet_views.values()}
    long = "Precisie-diagnostiek & ATMP I&II <voor> iedereen, overal " * 4
    texts = names | {long[:n] for n in range(len(long) + 1)} | {
        "ATMP\xadI&II", "ATMP  I&II", " ATMP", "a\nb", "x" * 300}
    for text in texts:
        for number in ("", "7", "21326"):
            wrapped = pdf._TocEntry(0, text, number, kit, pdf._Record()).wrap(width, height)[1]
            assert pdf._TocEntry.height_of(0, text, number, kit, width, height) == wrapped, (
                text, number)


def test_page_labels_leave_the_cover_unnumbered_then_count_from_one(reader):
    assert reader.page_labels == ["", *(str(n) for n in range(1, PAGES))]


def test_page_numbers_are_stamped_in_the_pages_language_but_not_on_the_cover(reader):
    assert "Pagina" not in reader.pages[0].extract_text()
    assert flat(reader.pages[1].extract_text()).endswith("Pagina 1")
    assert flat(reader.pages[8].extract_text()).endswith("Page 8")
    assert flat(reader.pages[-1].extract_text()).endswith(str(PAGES - 1))


def test_every_font_is_embedded_and_none_is_a_standard_14_font(reader):
    seen = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            seen.add(str(font["/BaseFont"]))
            descriptor = font["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, font["/BaseFont"]
    assert seen and all("Carlito" in name for name in seen), seen


def test_the_pdf_opens_with_the_outline_and_has_its_document_info(reader):
    assert reader.trailer["/Root"]["/PageMode"] == "/UseOutlines"
    meta = reader.metadata
    assert meta.title == "Biotech Nexus"
    assert meta.author == "Biotech Nexus"
    assert meta.subject == ("Briefing – het programma en zijn flagships / "
                            "Briefing – the programme and its flagships")
    assert meta.creator == "nexusreports"


def test_by_project_puts_each_dutch_sheet_before_its_english_one(projects, sheet_views,
                                                                 theme):
    config = load_bundle(DATA, projects).model_copy(
        update={"arrangement": m.Arrangement.by_project})
    view = build_bundle_view(config, projects, sheet_views)
    pdfs = {key: render_pdf(v, theme) for key, v in sheet_views.items()}
    r = PdfReader(io.BytesIO(render_bundle_pdf(view, pdfs, theme)))
    assert len(r.pages) == PAGES
    # cover, nl contents + summary, en contents + summary, then nl/en pairs
    expected = {(slug, lang): 5 + 2 * i + j for i, slug in enumerate(ORDER)
                for j, lang in enumerate(LANGS)}
    for (slug, lang), index in expected.items():
        assert sheet_views[(slug, lang)].title in flat(r.pages[index].extract_text())
    nl = r.outline[1]
    assert [r.get_destination_page_number(c) for c in nl] == \
        [1, 2, *(expected[(s, "nl")] for s in ORDER)]


def test_the_pdf_bundle_is_written_from_the_sheet_files_holding_one_open_at_a_time(
        bundle_build, bundle_view, theme, tmp_path, monkeypatch):
    """The bundle is streamed (issue 11): each sheet's file is opened, read and closed before
    the next one is opened; the sheets' bytes are never all in memory.  The file written
    is the bundle the build made, page for page, and the same bytes as from the sheets'
    bytes."""
    import contextlib

    import nexusreports.render.pdf.bundle as pdf_bundle
    from nexusreports.bundle import write_pdf

    files = {key: bundle_build / key[1] / f"{key[0]}.pdf" for key in
             ((s.slug, s.lang) for s in bundle_view.sequence)}
    real, open_now, most, read = pdf_bundle._open, [], [0], []

    @contextlib.contextmanager
    def watched(source):
        assert isinstance(source, Path), "a sheet handed over as bytes, not as its file"
        with real(source) as pdf:
            open_now.append(source)
            most[0] = max(most[0], len(open_now))
            read.append(source)
            yield pdf
            open_now.remove(source)

    monkeypatch.setattr(pdf_bundle, "_open", watched)
    with (tmp_path / PDF_NAME).open("w+b") as target:
        pages = write_pdf(bundle_view, files, theme, target, invariant=True)
    assert most[0] == 1 and not open_now
    assert set(read) == set(files.values())
    assert pages == PAGES == len(PdfReader(tmp_path / PDF_NAME).pages)
    ours, built = PdfReader(tmp_path / PDF_NAME), PdfReader(bundle_build / PDF_NAME)
    assert [p.extract_text() for p in ours.pages] == [p.extract_text() for p in built.pages]
    monkeypatch.setattr(pdf_bundle, "_open", real)
    from_bytes = render_bundle_pdf(bundle_view, {k: f.read_bytes() for k, f in files.items()},
                                   theme, invariant=True)
    assert (tmp_path / PDF_NAME).read_bytes() == from_bytes


def test_sheet_files_that_know_their_page_counts_are_each_opened_once_for_the_same_bytes(
        bundle_build, bundle_view, theme, tmp_path, monkeypatch):
    """A build hands the PDF bundle its sheets with the page counts it recorded: the bundle
    lays out its contents from them and opens each sheet once, to copy it (not once more
    to count its pages); the file is byte for byte the one made by counting."""
    import collections

    import nexusreports.render.pdf.bundle as pdf_bundle
    from nexusreports.bundle import write_pdf

    files = {(s.slug, s.lang): bundle_build / s.lang / f"{s.slug}.pdf"
             for s in bundle_view.sequence}

    class Counted(dict):
        def page_count(self, key):
            return len(PdfReader(self[key]).pages)

    real, opened = pdf_bundle._open, collections.Counter()

    def watched(source):
        opened[source] += 1
        return real(source)

    monkeypatch.setattr(pdf_bundle, "_open", watched)
    with (tmp_path / "counted.pdf").open("w+b") as target:
        write_pdf(bundle_view, Counted(files), theme, target, invariant=True)
    assert set(opened) == set(files.values()) and set(opened.values()) == {1}
    opened.clear()
    with (tmp_path / "opened.pdf").open("w+b") as target:
        write_pdf(bundle_view, files, theme, target, invariant=True)
    assert set(opened.values()) == {2}  # counted, then copied
    assert (tmp_path / "counted.pdf").read_bytes() == (tmp_path / "opened.pdf").read_bytes()


def test_a_sheet_file_missing_or_no_pdf_is_named_with_what_to_do(bundle_build, bundle_view,
                                                                  theme, tmp_path):
    from nexusreports.bundle import write_pdf
    from nexusreports.errors import TemplateError

    files = {(s.slug, s.lang): bundle_build / s.lang / f"{s.slug}.pdf"
             for s in bundle_view.sequence}
    broken = tmp_path / "atmp.pdf"
    broken.write_bytes(b"not a PDF")
    for bad in (tmp_path / "gone.pdf", broken):
        with (tmp_path / PDF_NAME).open("w+b") as target, \
                pytest.raises(TemplateError) as caught:
            write_pdf(bundle_view, {**files, ("atmp", "en"): bad}, theme, target)
        assert bad.name in str(caught.value)
        assert "the PDF sheet cannot be read for the briefing bundle" in str(caught.value)
        assert "build again" in str(caught.value)


# --- when the bundle is (not) made --------------------------------------------------------

def test_a_build_narrowed_by_only_or_lang_makes_no_bundle(tmp_path):
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "a",
                       only=("atmp",)))
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=tmp_path / "b",
                       langs=("en",)))
    for out in ("a", "b"):
        assert not (tmp_path / out / PDF_NAME).exists()
        assert not (tmp_path / out / DOCX_NAME).exists()


def test_no_bundle_skips_the_bundle(tmp_path):
    code = main(["build", "--data", str(DATA), "--templates", str(TEMPLATES), "--out",
                 str(tmp_path), "--jobs", "1", "--no-bundle"])
    assert code == 0
    assert (tmp_path / "nl" / "atmp.pdf").is_file()
    assert not (tmp_path / PDF_NAME).exists()


def test_it_reports_every_problem_of_the_bundle_file_with_its_line(data_copy, projects):
    (data_copy / "bundle.yaml").write_text(
        "title: {nl: Titel, en: Title}\n"
        "subtitle: {nl: Ondertitel}\n"
        "date: 30-09-2025\n"
        "arrangement: by-sheet\n"
        "order: [biotech-nexus, atmp, infectieziekten, precision-diagnostics]\n",
        encoding="utf-8")
    with pytest.raises(DataErrors) as caught:
        load_bundle(data_copy, projects)
    lines = [line.split("bundle.yaml:", 1)[1] for line in caught.value.lines()]
    assert lines[0] == ("2: subtitle.en: the English text is missing: add 'en:' with the text "
                        "in that language")
    assert lines[1].startswith("3: date: expected a date written as YYYY-MM-DD")
    assert lines[2].startswith("4: arrangement: unknown value 'by-sheet': use one of")
    assert len(lines) == 3


def test_the_order_names_every_project_once(data_copy, projects):
    (data_copy / "bundle.yaml").write_text(
        "title: {nl: Titel, en: Title}\n"
        "subtitle: {nl: Ondertitel, en: Subtitle}\n"
        "date: 2025-09-30\n"
        "order:\n"
        "  - biotech-nexus\n"
        "  - atmpp\n"
        "  - infectieziekten\n"
        "  - infectieziekten\n", encoding="utf-8")
    with pytest.raises(DataErrors) as caught:
        load_bundle(data_copy, projects)
    lines = [line.split("bundle.yaml:", 1)[1] for line in caught.value.lines()]
    assert lines == [
        # not '- atmp' as well: retyping 'atmpp' as the next message says adds it
        "4: order: the bundle holds every project: add '- precision-diagnostics' to the order",
        "6: order.1: no project 'atmpp' in the data: did you mean 'atmp'?",
        "8: order.3: 'infectieziekten' is listed twice: list each project once",
    ]


# --- the DOCX ----------------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def docx_bytes(bundle_build) -> bytes:
    return (bundle_build / DOCX_NAME).read_bytes()


def docx_part(data: bytes, name: str = "word/document.xml") -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(name).decode("utf-8")


def toc_entries(data: bytes) -> list[tuple[str, str, str]]:
    """Every contents entry of a Word bundle: (bookmark it links to, text, page number)."""
    from lxml import etree

    root = etree.fromstring(docx_part(data).encode())
    entries = []
    for link in root.iter(f"{W}hyperlink"):
        runs = [r for r in link.iter(f"{W}r")]
        texts = ["\t" if r.find(f"{W}tab") is not None else
                 "".join(t.text or "" for t in r.iter(f"{W}t")) for r in runs]
        text, _, number = "".join(texts).partition("\t")
        entries.append((link.get(f"{W}anchor"), text, number))
    return entries


def test_the_docx_has_a_section_per_sheet_besides_cover_parts_and_closing(docx_bytes):
    doc = Document(io.BytesIO(docx_bytes))
    # cover, per language a contents section, a summary section and four sheets, closing
    assert len(doc.sections) == 1 + 2 * (2 + 4) + 1
    from docx.enum.section import WD_SECTION

    assert all(s.start_type == WD_SECTION.NEW_PAGE for s in doc.sections[1:])


def test_docx_page_numbers_start_at_1_after_the_cover_and_never_restart(docx_bytes):
    doc = Document(io.BytesIO(docx_bytes))
    starts = [[n.get(f"{W}start") for n in s._sectPr.iter(f"{W}pgNumType")]
              for s in doc.sections]
    assert starts == [[], ["1"], *([[]] * (len(doc.sections) - 2))]
    assert doc.sections[0].footer.is_linked_to_previous  # the cover has no footer
    assert "PAGE" not in "".join(p.text for p in doc.sections[0].footer.paragraphs)


@pytest.mark.parametrize("lang", LANGS)
def test_the_docx_contents_print_the_pages_of_the_pdf_bundle_and_link_to_bookmarks(
        docx_bytes, sheet_views, lang):
    entries = [e for e in toc_entries(docx_bytes) if e[0].endswith(f"_{lang}")
               or e[0].startswith(f"sheet_{lang}_")]
    names = [sheet_views[(slug, lang)].project_name for slug in ORDER]
    assert entries == [
        (f"summary_{lang}", CONTENTS[lang][1], str(FRONT_PAGE[lang] + 1)),
        *((bookmark_name(sheet_views[(slug, lang)]), name, str(SHEET_PAGE[(slug, lang)]))
          for slug, name in zip(ORDER, names))]
    xml = docx_part(docx_bytes)
    for anchor, _, _ in entries:
        assert xml.count(f'w:name="{anchor}"') == 1, anchor


def test_the_docx_contents_are_a_toc_field_over_tc_entries_and_not_refreshed_on_open(
        docx_bytes, sheet_views):
    xml = docx_part(docx_bytes)
    for letter, lang in zip("ab", LANGS):
        assert xml.count(f" TOC \\f {letter} \\h \\z ") == 1
        names = [CONTENTS[lang][1], *(sheet_views[(s, lang)].project_name for s in ORDER)]
        for name in names:
            quoted = name.replace("&", "&amp;")
            assert f' TC "{quoted}" \\f {letter} \\l 1 ' in xml, name
    assert "updateFields" not in docx_part(docx_bytes, "word/settings.xml")


def test_the_docx_front_headings_are_in_the_language_heading_styles(docx_bytes):
    doc = Document(io.BytesIO(docx_bytes))
    for lang in LANGS:
        headings = [p.text for p in doc.paragraphs if p.style.name == heading_style(lang)]
        assert headings == list(CONTENTS[lang])


def body_texts(element) -> list[str]:
    """The text of every paragraph under ``element``, TC/field instructions left out."""
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in element.iter(f"{W}p")]


def test_each_docx_sheet_section_is_the_designed_word_sheet(docx_bytes, sheet_views, theme):
    from nexusreports.render.word import render_docx

    doc = Document(io.BytesIO(docx_bytes))
    texts = body_texts(doc.element.body)
    style_ids = {s.style_id for s in doc.styles}
    sheets = doc.sections[3:7] + doc.sections[9:13]
    keys = [(s, "nl") for s in ORDER] + [(s, "en") for s in ORDER]
    cursor = 0
    for section, key in zip(sheets, keys):
        single = Document(io.BytesIO(render_docx(sheet_views[key], theme)))
        expected = body_texts(single.element.body)
        # the sheet's paragraphs, whole and in bundle order
        starts = [i for i in range(cursor, len(texts))
                  if texts[i:i + len(expected)] == expected]
        assert starts, key
        cursor = starts[0] + len(expected)
        used = {e.get(f"{W}val") for e in single.element.body.iter(f"{W}pStyle", f"{W}tblStyle")}
        assert used <= style_ids
        # the sheet's own page setup (its header band bleeds to the top edge)
        mine = single.sections[0]
        assert (section.top_margin, section.left_margin, section.bottom_margin) == \
            (mine.top_margin, mine.left_margin, mine.bottom_margin)
    english = docx_part(docx_bytes).split(f'w:name="{bookmark_name(sheet_views[keys[4]])}"')[1]
    assert '<w:lang w:val="en-GB"/>' in english


def test_each_docx_sheet_footer_is_the_sheets_own_with_the_page_number(docx_bytes,
                                                                       sheet_views):
    doc = Document(io.BytesIO(docx_bytes))
    sheets = doc.sections[3:7] + doc.sections[9:13]
    keys = [(s, "nl") for s in ORDER] + [(s, "en") for s in ORDER]
    for section, key in zip(sheets, keys):
        footer = section.footer
        assert not footer.is_linked_to_previous
        view = sheet_views[key]
        # the cached PAGE result is 1; Word and LibreOffice show the real number
        assert footer.paragraphs[0].text == \
            f"{view.footer_left} · {PAGE_WORD[key[1]]} 1\t{view.footer_right}"
        assert " PAGE " in footer._element.xml


@pytest.mark.parametrize("lang", LANGS)
def test_the_docx_summary_table_holds_the_exact_figures(docx_bytes, lang):
    doc = Document(io.BytesIO(docx_bytes))
    tables = [t for t in doc.tables if t.cell(0, 0).text == "Project"
              and t.cell(0, 1).text == COLUMNS[lang][1]]
    assert len(tables) == 1
    rows = [tuple(c.text for c in row.cells) for row in tables[0].rows]
    assert rows == [COLUMNS[lang], *SUMMARY[lang]]


def test_the_docx_core_properties_are_filled(docx_bytes):
    props = Document(io.BytesIO(docx_bytes)).core_properties
    assert props.title == "Biotech Nexus"
    assert props.language == "nl-NL"
    assert "ATMP (Advanced Therapy Medicinal Products) I&II" in props.keywords


def test_docx_core_properties_longer_than_255_characters_are_cut_as_the_sheets_are(
        bundle_view, theme):
    import dataclasses

    names = ", ".join(f"Uitgebreide naam extra flagship nummer {i} met woorden"
                      for i in range(1, 7))  # the keywords of a bundle with many flagships
    assert len(names) > 255
    info = dataclasses.replace(bundle_view.info, title=names, subject=names, author=names,
                               keywords=names)
    data = render_bundle_docx(dataclasses.replace(bundle_view, info=info), theme)
    props = Document(io.BytesIO(data)).core_properties
    cut = names[:254].rstrip() + "…"
    assert (props.title, props.subject, props.author, props.keywords) == (cut,) * 4
    assert len(cut) <= 255


def test_the_docx_by_project_contents_follow_the_pairs(bundle_view, projects, sheet_views,
                                                       theme):
    config = load_bundle(DATA, projects).model_copy(
        update={"arrangement": m.Arrangement.by_project})
    view = build_bundle_view(config, projects, sheet_views)
    entries = toc_entries(render_bundle_docx(view, theme))
    # cover, nl contents + summary, en contents + summary, then nl/en pairs
    pages = {f"sheet_{lang}_{slug}".replace("-", "_"): str(5 + 2 * i + j)
             for i, slug in enumerate(ORDER) for j, lang in enumerate(LANGS)}
    assert [(a, n) for a, _, n in entries] == [
        ("summary_nl", "2"), *((a, pages[a]) for a in pages if "_nl_" in a),
        ("summary_en", "4"), *((a, pages[a]) for a in pages if "_en_" in a)]


def convert_with_libreoffice(docx: bytes, tmp_path: Path) -> PdfReader:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: the DOCX conversion is not checked")
    source = tmp_path / DOCX_NAME
    source.write_bytes(docx)
    done = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=240)
    converted = tmp_path / "briefing-nl-en.pdf"
    assert done.returncode == 0 and converted.is_file(), done.stderr
    return PdfReader(converted)


@pytest.fixture(scope="module")
def converted(docx_bytes, tmp_path_factory) -> PdfReader:
    return convert_with_libreoffice(docx_bytes, tmp_path_factory.mktemp("docx-pdf"))


def test_libreoffice_converts_the_docx_to_one_page_per_sheet(converted):
    # cover + 2 x (contents, summary, 4 sheets) + closing: every sheet exactly one page
    assert len(converted.pages) == PAGES
    text = flat("".join(p.extract_text() for p in converted.pages))
    assert "€ 1.332,5 miljoen" in text and "€1,332.5 million" in text
    assert "Samen... voor de toekomst van gezondheid." in text


def test_the_converted_docx_numbers_its_pages_on_from_the_cover(converted):
    assert "Pagina" not in converted.pages[0].extract_text()
    for index, page in enumerate(converted.pages[1:-1], start=1):
        word = PAGE_WORD["nl" if index < FRONT_PAGE["en"] else "en"]
        assert f"{word} {index}" in flat(page.extract_text()), index


@pytest.mark.parametrize("lang", LANGS)
def test_each_converted_contents_entry_names_and_links_to_its_page(converted, docx_bytes,
                                                                   sheet_views, lang):
    contents = converted.pages[FRONT_PAGE[lang]]
    lines = [flat(line) for line in contents.extract_text().splitlines()]
    names = [sheet_views[(slug, lang)].project_name for slug in ORDER]
    for slug, name in zip(ORDER, names):
        # "name ........ 4": the printed number is the page that holds the name
        found = [re.fullmatch(re.escape(name) + r"[ .]*(\d+)", line) for line in lines]
        numbers = [int(f.group(1)) for f in found if f]
        assert len(numbers) == 1, (name, lines)
        number = numbers[0]
        assert number == SHEET_PAGE[(slug, lang)]
        assert name in flat(converted.pages[number].extract_text()), (slug, lang)
    targets = sorted(converted.get_page_number(a.get_object()["/Dest"][0].get_object())
                     for a in contents["/Annots"])
    assert targets == [FRONT_PAGE[lang] + 1, *(SHEET_PAGE[(s, lang)] for s in ORDER)]


def test_the_docx_bundle_has_no_schema_errors(docx_bytes):
    assert docx_errors(docx_bytes) == []


def docx_body(docx_bytes: bytes):
    from lxml import etree

    return etree.fromstring(docx_part(docx_bytes).encode()).find(f"{W}body")


def band_tables(body) -> list:
    """The bundle's full-bleed bands: tables as wide as the page, out over its margin."""
    return [t for t in body.findall(f"{W}tbl")
            if t.find(f"{W}tblPr/{W}tblW").get(f"{W}w") == "11906"
            and t.find(f"{W}tblPr/{W}tblInd").get(f"{W}w") == "-850"]


def test_the_docx_cover_is_a_primary_band_with_the_first_language_as_the_pdf(
        docx_bytes, bundle_view, theme):
    body = docx_body(docx_bytes)
    first = body[0]
    assert first in band_tables(body)
    fill = first.find(f".//{W}shd").get(f"{W}fill")
    assert fill == theme.colours["primary"].lstrip("#").upper()
    nl, en = bundle_view.covers
    band_text = ["".join(t.text for t in p.iter(f"{W}t")) for p in first.iter(f"{W}p")]
    assert band_text == [nl.title, nl.subtitle, nl.date]
    after = ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in body[1:6]]
    assert [en.title, en.subtitle, en.date] == [t for t in after if t][:3]


def test_each_language_front_page_opens_with_its_band_as_the_pdf(docx_bytes, bundle_view):
    bands = band_tables(docx_body(docx_bytes))[1:]  # contents and summary, per language
    texts = [["".join(t.text for t in p.iter(f"{W}t")) for p in band.iter(f"{W}p")]
             for band in bands]
    expected = []
    for part, cover in zip(bundle_view.parts, bundle_view.covers):
        expected += [[cover.title, part.language]] * 2
    assert texts == expected


def test_the_front_pages_use_styles_of_their_own_not_the_templates_normal(docx_bytes):
    doc = Document(io.BytesIO(docx_bytes))
    text_style = doc.styles["Bundle Text"]
    assert text_style.base_style is None  # a restyled Normal cannot move the contents
    assert text_style.font.size.pt == 11
    for lang in LANGS:
        assert doc.styles[heading_style(lang)].base_style.name == "Bundle Text"


@pytest.fixture(scope="module")
def restyled_bundle(tmp_path_factory, projects, bundle_view) -> bytes:
    """The Word bundle on a template whose Normal text is 12 pt (from 9.5 pt) with 8 pt
    after each paragraph: still one page per sheet, and front pages that would have grown
    had they followed the template's Normal."""
    from docx.shared import Pt

    from nexusreports.theme import load_theme

    folder = tmp_path_factory.mktemp("restyled") / "templates"
    shutil.copytree(TEMPLATES, folder)
    document = Document(str(folder / "sheet.docx"))
    document.styles["Normal"].font.size = Pt(12)
    document.styles["Normal"].paragraph_format.space_after = Pt(8)
    document.save(str(folder / "sheet.docx"))
    return render_bundle_docx(bundle_view, load_theme(folder))


@pytest.fixture(scope="module")
def converted_restyled(restyled_bundle, tmp_path_factory) -> PdfReader:
    return convert_with_libreoffice(restyled_bundle, tmp_path_factory.mktemp("restyled-pdf"))


@pytest.mark.parametrize("lang", LANGS)
def test_the_contents_are_right_whatever_the_template(converted_restyled, sheet_views, lang):
    assert len(converted_restyled.pages) == PAGES
    lines = [flat(line) for line in
             converted_restyled.pages[FRONT_PAGE[lang]].extract_text().splitlines()]
    for slug in ORDER:
        name = sheet_views[(slug, lang)].project_name
        found = [re.fullmatch(re.escape(name) + r"[ .]*(\d+)", line) for line in lines]
        (number,) = [int(f.group(1)) for f in found if f]
        assert name in flat(converted_restyled.pages[number].extract_text()), (slug, lang)


def sheet_files(folder: Path) -> dict[tuple[str, str], Path]:
    """The Word sheets a build wrote into ``folder``, keyed (slug, lang)."""
    return {(slug, lang): folder / lang / f"{slug}.docx" for slug in ORDER for lang in LANGS}


def rewrite_part(path: Path, name: str, change) -> None:
    """Rewrite part ``name`` of the .docx at ``path`` with ``change(root)``."""
    from lxml import etree

    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i.filename) for i in src.infolist()}
    root = etree.fromstring(parts[name])
    change(root)
    parts[name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for member, blob in parts.items():
            dst.writestr(member, blob)


def test_the_docx_bundle_is_made_of_the_word_sheet_files_never_rendering_one_again(
        bundle_build, bundle_view, theme, tmp_path, monkeypatch):
    import nexusreports.render.word as word
    import nexusreports.render.word.sheet as word_sheet
    from nexusreports.bundle import write_docx

    def no_rendering(*args, **kwargs):
        raise AssertionError("the Word bundle rendered a sheet again")

    monkeypatch.setattr(word_sheet, "render_docx", no_rendering)
    monkeypatch.setattr(word, "render_docx", no_rendering)
    files = {}
    for key, path in sheet_files(bundle_build).items():
        files[key] = tmp_path / f"{key[1]}-{key[0]}.docx"
        shutil.copy(path, files[key])
    # a sentence no view makes, in the Dutch ATMP sheet's file only
    marker = "Deze zin staat alleen in het bestand van het blad."

    def add_sentence(root) -> None:
        last = [t for t in root.iter(f"{W}t") if (t.text or "").strip()][-1]
        last.text = marker

    rewrite_part(files[("atmp", "nl")], "word/document.xml", add_sentence)
    target = tmp_path / DOCX_NAME
    with target.open("w+b") as handle:
        write_docx(bundle_view, files, theme, handle)
    doc = Document(str(target))
    assert [t for t in body_texts(doc.element.body) if marker in t] == [marker]
    # in the Dutch ATMP sheet's section: cover, contents, summary, Biotech Nexus, ATMP
    atmp = [body_texts(block._element) for block in doc.sections[4].iter_inner_content()]
    assert bundle_view.part("nl").sheets[1].project_name in sum(atmp, [])
    assert marker in sum(atmp, [])


@pytest.mark.parametrize("damage", ["missing", "not a zip"])
def test_a_word_sheet_file_the_bundle_cannot_read_is_named_with_what_to_do(
        bundle_build, bundle_view, theme, tmp_path, damage):
    from nexusreports.bundle import write_docx
    from nexusreports.errors import TemplateError

    files = {}
    for key, path in sheet_files(bundle_build).items():
        files[key] = tmp_path / f"{key[1]}-{key[0]}.docx"
        shutil.copy(path, files[key])
    broken = files[("atmp", "en")]
    if damage == "missing":
        broken.unlink()
    else:
        broken.write_text("not a zip")
    with pytest.raises(TemplateError) as caught:
        write_docx(bundle_view, files, theme, io.BytesIO())
    assert str(broken.name) in str(caught.value)
    assert "the Word sheet cannot be read for the briefing bundle" in str(caught.value)
    assert "build again to write it anew" in str(caught.value)


def test_the_docx_bundle_of_the_files_a_build_wrote_is_that_of_the_views_rendered_anew(
        bundle_view, theme, tmp_path, monkeypatch):
    from nexusreports.bundle import write_docx

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "out"
    build(BuildOptions(data_dir=DATA, templates_dir=TEMPLATES, out_dir=out,
                       formats=("docx",), bundle=False, jobs=2))
    target = io.BytesIO()
    write_docx(bundle_view, sheet_files(out), theme, target, invariant=True)
    assert target.getvalue() == render_bundle_docx(bundle_view, theme, invariant=True)


def test_the_docx_bundle_is_byte_identical_for_the_same_source_date_epoch(
        bundle_view, theme, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = render_bundle_docx(bundle_view, theme, invariant=True)
    b = render_bundle_docx(bundle_view, theme, invariant=True)
    assert a == b
    assert Document(io.BytesIO(a)).core_properties.created.year == 2023


def test_the_docx_pages_it_works_out_per_sheet_are_those_of_the_page_plan(bundle_view,
                                                                         projects,
                                                                         sheet_views):
    # the bundle keeps a few numbers per language, not an entry per sheet, and works a
    # sheet's page out from its place: it must agree with docx_page_plan in either order
    from nexusreports.render.word.bundle import _Pages, docx_page_plan

    by_project = build_bundle_view(load_bundle(DATA, projects).model_copy(
        update={"arrangement": m.Arrangement.by_project}), projects, sheet_views)
    for view in (bundle_view, by_project):
        plan, pages = docx_page_plan(view), _Pages(view)
        worked_out = {f"summary:{p.lang}": pages.summary[p.lang] for p in view.parts}
        worked_out.update({f"{v.lang}:{v.slug}": pages.sheet(p.lang, i)
                           for p in view.parts for i, v in enumerate(p.sheets)})
        assert worked_out == {k: n for k, n in plan.items()
                              if not k.startswith(("contents:", "closing"))}, view.arrangement


def test_the_docx_bundles_zip_holds_its_directory_in_a_file_and_goes_zip64_past_65535_parts():
    # 10,000 projects: 20,000 sheets, each with its own footer part; the zip's directory
    # entries wait in a temporary file, and past 65,535 members it needs Zip64 end records
    from nexusreports.render.word.bundle import _Zip

    target = io.BytesIO()
    with _Zip(target) as package:
        for i in range(70_000):
            package.writestr(zipfile.ZipInfo(f"word/footer{i}.xml", (2023, 11, 14, 22, 13, 20)),
                             f"<ftr n='{i}'/>".encode())
        assert not isinstance(package.filelist, list)
    data = target.getvalue()
    assert b"PK\x06\x06" in data[-200:]  # the Zip64 end of central directory record
    back = zipfile.ZipFile(io.BytesIO(data))
    infos = back.infolist()
    assert [i.filename for i in infos] == [f"word/footer{i}.xml" for i in range(70_000)]
    assert back.read("word/footer69999.xml") == b"<ftr n='69999'/>"
    assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}


def test_logos_on_the_sheets_come_along_once_with_unique_drawing_ids(projects, sheet_views,
                                                                     theme, tmp_path):
    import dataclasses

    from PIL import Image

    from nexusreports.view import OrganisationView

    Image.new("RGB", (300, 100), "#0E9384").save(tmp_path / "wide.png")
    Image.new("RGBA", (40, 120), (200, 30, 30, 128)).save(tmp_path / "tall.png")
    orgs = (OrganisationView("Galapagos & Co", str(tmp_path / "wide.png"), "Logo Galapagos"),
            OrganisationView("Partner", str(tmp_path / "tall.png"), "Logo Partner"))
    views = dict(sheet_views)
    with_logos = [("atmp", "nl"), ("atmp", "en"), ("infectieziekten", "en")]
    for key in with_logos:
        views[key] = dataclasses.replace(views[key], organisations=orgs,
                                         organisations_empty=None)
    view = build_bundle_view(load_bundle(DATA, projects), projects, views)
    data = render_bundle_docx(view, theme)
    package = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(n for n in package.namelist() if n.startswith("word/media/")) == [
        "word/media/image1.png", "word/media/image2.png"]  # each picture once
    xml = docx_part(data)
    ids = re.findall(r'<wp:docPr id="(\d+)"[^>]*descr="([^"]*)"', xml)
    assert [d for _, d in ids] == ["Logo Galapagos", "Logo Partner"] * len(with_logos)
    assert len({i for i, _ in ids}) == len(ids)
    rels = docx_part(data, "word/_rels/document.xml.rels")
    for rid in set(re.findall(r'r:embed="([^"]+)"', xml)):
        assert re.search(f'Id="{rid}" Type="[^"]*/image" Target="media/image[12].png"', rels)
    converted = convert_with_libreoffice(data, tmp_path)
    assert len(converted.pages) == PAGES
    for slug, lang in with_logos:
        assert len(converted.pages[SHEET_PAGE[(slug, lang)]].images) == 2, (slug, lang)


def test_a_one_year_period_prints_as_one_year_on_the_sheets_and_in_the_summary(tmp_path):
    # before: "2027–2027" in the summary and a timeline with two equal ends on the sheets
    from docx.oxml.ns import qn

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    atmp = data / "projects" / "atmp.yaml"
    text = atmp.read_text(encoding="utf-8")
    assert "period: {start: 2025, end: 2035}" in text
    atmp.write_text(text.replace("period: {start: 2025, end: 2035}",
                                 "period: {start: 2027, end: 2027}"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["-q", "build", "--data", str(data), "--templates", str(TEMPLATES), "--out",
                 str(out), "--jobs", "1"]) == 0
    bundle = " ".join(page.extract_text() for page in PdfReader(out / "briefing-nl-en.pdf").pages)
    assert "2027–2027" not in bundle
    assert re.search(r"ATMP I&II\s+2027\s", bundle)  # its summary row: one year
    sheet = PdfReader(out / "nl" / "atmp.pdf").pages[0].extract_text().split()
    assert sheet.count("2027") == 1 and "Start" not in sheet and "Eind" not in sheet
    body = Document(io.BytesIO((out / "nl" / "atmp.docx").read_bytes())).element.body
    described = {t.find(f"{qn('w:tblPr')}/{qn('w:tblDescription')}").get(qn("w:val")): t
                 for t in body.iter(qn("w:tbl"))
                 if t.find(f"{qn('w:tblPr')}/{qn('w:tblDescription')}") is not None}
    timeline = described["Tijdlijn: 2027"]  # its description says one year too
    assert ["".join(x.text or "" for x in row.iter(qn("w:t")))
            for row in timeline.iter(qn("w:tr"))] == ["2027"]  # no "Start", "Eind", no end
    assert not list(timeline.iter(qn("w:pBdr")))  # and no line towards an end


def test_a_summary_rows_height_measured_without_a_table_is_the_tables(bundle_view, theme):
    """The summary is paginated by each row's height, measured as ReportLab's Table measures
    a row (no table made per project): equal, float for float, for rows of one line to many."""
    import dataclasses

    import nexusreports.render.pdf.bundle as pdf_bundle

    kit = pdf_bundle._kit(theme)
    width, height = pdf_bundle._frame_size(kit)
    words = "Nationaal Groeifonds programma voor biotechnologie & gezondheid in Nederland"
    first = bundle_view.parts[0].rows[0]
    rows = [dataclasses.replace(first, name=" ".join(words.split()[:k % 9 + 1] * (k // 9 + 1)),
                                period=f"2024–20{k + 30}") for k in range(40)]
    part = dataclasses.replace(bundle_view.parts[0], rows=tuple(rows))
    cells = pdf_bundle._SummaryCells(part, kit, width)
    measured = [cells.height(r) for r in range(1, len(rows) + len(part.totals) + 1)]
    assert measured == [
        pdf_bundle._summary_table(part, kit, width, [r], header=False).wrap(width, height)[1]
        for r in range(1, len(rows) + len(part.totals) + 1)]
    assert len(set(measured)) > 3  # rows of one, two, three ... lines
