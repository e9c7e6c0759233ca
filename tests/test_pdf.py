"""The PDF sheets: one A4 page each, embedded fonts only, metadata, exact localised figures."""

from __future__ import annotations

import re
from pathlib import Path

import pyphen
import pytest
from pypdf import PdfReader

from conftest import LANGS, SLUGS, TEMPLATES
from nexusreports.errors import ContentOverflow, ErrorGroup
from nexusreports.pipeline import BuildOptions, build

STANDARD_14 = {"Courier", "Helvetica", "Times", "Symbol", "ZapfDingbats"}

# What each sheet must print, exactly (the seed's Dutch figures, and their English forms).
FIGURES = {
    ("biotech-nexus", "nl"): ["€ 21.200 miljoen", "21.000", "1,2%", "2,5x", "€ 12,6 miljard",
                              "(inclusief de 3 flagships voor totaal € 3.910 miljoen)",
                              "2025", "2035", "3–8", "Verkenning", "Kapitaal 35%", "65% R&D",
                              "Publiek 35%", "65% Privaat", "Quantum Delta NL"],
    ("biotech-nexus", "en"): ["€21,200 million", "21,000", "1.2%", "2.5x", "€12.6 billion",
                              "(including the 3 flagships, together €3,910 million)",
                              "3–8", "Exploration", "Capital 35%", "65% R&D"],
    ("atmp", "nl"): ["€ 2.250 miljoen", "(CfA 30-09-2025)", "5–9", "Deels operationeel",
                     "Publiek 33%", "67% Privaat", "Flagship Biotech Nexus: ATMP I&II"],
    ("atmp", "en"): ["€2,250 million", "(CfA 30/09/2025)", "Partly operational",
                     "Biotech Nexus flagship: ATMP I&II"],
    ("infectieziekten", "nl"): ["€ 1.200 miljoen", "8,6%", "2026", "2030", "6–7",
                                "Operationeel", "Kapitaal 0%", "100% R&D", "Publiek 30%"],
    ("infectieziekten", "en"): ["€1,200 million", "8.6%", "Operational", "Capital 0%"],
    ("precision-diagnostics", "nl"): ["€ 460 miljoen", "20.000 fte", "€ 100 miljoen/jaar",
                                      "€ 1 miljard", "4–8", "Kapitaal 20%", "80% R&D",
                                      "Publiek 50%", "50% Privaat"],
    ("precision-diagnostics", "en"): ["€460 million", "20,000 FTE", "€100 million a year",
                                      "€1 billion"],
}


def flat(text: str) -> str:
    """Text with runs of white space made one space (the PDF text layer keeps no-break
    spaces as spaces, and puts line ends where lines wrapped)."""
    return " ".join(text.replace("\xa0", " ").split())


def sheet(out: Path, slug: str, lang: str) -> PdfReader:
    return PdfReader(out / lang / f"{slug}.pdf")


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_sheet_is_one_a4_page(pdf_build, slug, lang):
    reader = sheet(pdf_build, slug, lang)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


@pytest.mark.parametrize("slug, lang", sorted(FIGURES))
def test_every_sheet_prints_its_exact_localised_figures(pdf_build, slug, lang):
    text = flat(sheet(pdf_build, slug, lang).pages[0].extract_text())
    missing = [f for f in FIGURES[(slug, lang)] if flat(f) not in text]
    assert missing == []


@pytest.mark.parametrize("slug", SLUGS)
def test_a_dutch_sheet_prints_no_english_figure_format(pdf_build, slug):
    text = flat(sheet(pdf_build, slug, "nl").pages[0].extract_text())
    assert "million" not in text and not re.search(r"€\d", text)


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_font_is_embedded_and_none_is_a_standard_14_font(pdf_build, slug, lang):
    reader = sheet(pdf_build, slug, lang)
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        base = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
        assert base.split("-")[0] not in STANDARD_14
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor
    raw = (pdf_build / lang / f"{slug}.pdf").read_bytes()
    assert not any(name.encode() in raw for name in STANDARD_14 - {"Symbol"})


def test_the_metadata_names_title_author_subject_and_language(pdf_build):
    nl, en = sheet(pdf_build, "atmp", "nl"), sheet(pdf_build, "atmp", "en")
    assert nl.metadata.title == "Flagship Biotech Nexus: ATMP I&II – Projectblad"
    assert en.metadata.title == "Biotech Nexus flagship: ATMP I&II – Project sheet"
    assert nl.metadata.author == en.metadata.author == "Biotech Nexus"
    assert nl.metadata.subject == "ATMP (Advanced Therapy Medicinal Products) I&II"
    assert nl.trailer["/Root"]["/Lang"] == "nl-NL"
    assert en.trailer["/Root"]["/Lang"] == "en-GB"


def test_an_amount_never_splits_across_lines(pdf_build):
    lines = sheet(pdf_build, "biotech-nexus", "nl").pages[0].extract_text().splitlines()
    assert any(line.replace("\xa0", " ").startswith("€ 3.910 miljoen") for line in lines)
    assert not any(line.rstrip().endswith("€") for line in lines)


@pytest.mark.parametrize("lang, hyphenation", [("nl", "nl_NL"), ("en", "en_GB")])
def test_words_break_only_at_the_locales_hyphenation_points(pdf_build, lang, hyphenation):
    dictionary = pyphen.Pyphen(lang=hyphenation)
    breaks = []
    for slug in SLUGS:
        lines = sheet(pdf_build, slug, lang).pages[0].extract_text().splitlines()
        for line, following in zip(lines, lines[1:]):
            head = re.search(r"(\w+)-$", line)
            tail = re.match(r"(\w+)", following)
            if head and tail and not line.endswith(" -"):
                breaks.append((head.group(1), tail.group(1)))
    assert len(breaks) >= 5  # long texts in narrow columns: hyphenation is on
    for head, tail in breaks:
        word = head + tail
        # a break either follows a hyphen typed in the data ("wet- en") or is a pyphen point
        assert len(head) in dictionary.positions(word), (head, tail)


def test_a_long_dutch_compound_is_split_where_dutch_allows(pdf_build):
    text = sheet(pdf_build, "atmp", "nl").pages[0].extract_text()
    assert "gezondheidszorgsysteem" in text.replace("-\n", "")
    assert "gezond-\nheidszorgsysteem" in text


def _build(data: Path, out: Path, **kw) -> None:
    build(BuildOptions(data_dir=data, templates_dir=TEMPLATES, out_dir=out, formats=("pdf",),
                       **kw))


def _line_of(path: Path, parent: str, key: str) -> int:
    """1-based line of the first line starting with ``key`` after the line ``parent``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(parent)
    return next(i for i, ln in enumerate(lines[start:], start + 1) if ln.startswith(key))


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_markup_and_template_syntax_in_data_print_literally(data_copy, tmp_path):
    _replace(data_copy / "projects" / "atmp.yaml", "Dit flagship is een voorbeeld",
             "{{ 7*7 }} <b>vet</b> & {% if x %} Dit flagship is een voorbeeld")
    out = tmp_path / "out"
    _build(data_copy, out, only=("atmp",), langs=("nl",))
    text = flat(sheet(out, "atmp", "nl").pages[0].extract_text())
    assert "{{ 7*7 }} <b>vet</b> & {% if x %} Dit flagship" in text


def test_content_that_does_not_fit_is_an_error_naming_fields_and_mm(data_copy, tmp_path):
    path = data_copy / "projects" / "atmp.yaml"
    _replace(path, "    patiënten te brengen.", "    patiënten te brengen." + " Veel meer tekst." * 180)
    out = tmp_path / "out"
    with pytest.raises(ErrorGroup) as info:
        _build(data_copy, out, only=("atmp",))
    (error,) = info.value.errors
    assert isinstance(error, ContentOverflow)
    assert re.fullmatch(
        rf".*atmp\.yaml:{_line_of(path, 'summary:', '  nl:')}: summary\.nl, relevance\.nl, "
        r"collaborations\.national, "
        r"collaborations\.european: the nl-NL sheet does not fit on one page: the text column "
        r"is \d+\.\d mm too tall; shorten these texts by about \d+ lines", str(error))
    assert not out.exists()


def test_a_word_too_wide_for_its_column_is_an_error_naming_the_word(data_copy, tmp_path):
    _replace(data_copy / "projects" / "atmp.yaml", "Dit flagship is een voorbeeld",
             "Dit " + "x" * 120 + " flagship is een voorbeeld")
    with pytest.raises(ErrorGroup) as info:
        _build(data_copy, tmp_path / "out", only=("atmp",), langs=("nl",))
    line = _line_of(data_copy / "projects" / "atmp.yaml", "summary:", "  nl:")
    assert re.fullmatch(rf".*atmp\.yaml:{line}: summary\.nl: in the nl-NL sheet the word "
                        r"'x{120}' is "
                        r"\d+\.\d mm wider than the text column: break it with a space or a "
                        r"hyphen, or shorten it", str(info.value.errors[0]))
