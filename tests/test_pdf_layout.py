"""PDF sheet layout limits: every drawn text is measured against its room.

The organisations band lays logos out in an orderly grid and refuses too many; the key
figure, timeline, share labels and TRL steps raise ContentOverflow naming their field rather
than overprint; logos of any colour mode are drawn; a cut-off font file is named.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import shutil
from pathlib import Path

import pytest

from nexusreports.theme import RESTORE
from PIL import Image
from pypdf import PdfReader

from conftest import view_of
from nexusreports.cli import main
from nexusreports.errors import ContentOverflow, TemplateError
from nexusreports.render.pdf import register_fonts, render_pdf
from nexusreports.theme import load_theme
from nexusreports.view import OrganisationView, SheetView

ROOT = Path(__file__).resolve().parent.parent
DATA, TEMPLATES = ROOT / "data", ROOT / "templates"


def text_of(pdf: bytes) -> str:
    import io

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


@pytest.fixture
def logos(tmp_path: Path) -> dict[str, str]:
    """A wide RGB PNG, a CMYK JPEG, a tall RGBA PNG and a palette PNG."""
    made = {}
    for name, mode, size, colour in (("wide.png", "RGB", (400, 150), "#12355B"),
                                     ("cmyk.jpg", "CMYK", (120, 120), (0, 200, 200, 0)),
                                     ("tall.png", "RGBA", (40, 160), (200, 30, 30, 128)),
                                     ("palette.png", "P", (90, 60), 3)):
        Image.new(mode, size, colour).save(tmp_path / name)
        made[name] = str(tmp_path / name)
    return made


def with_orgs(view: SheetView, orgs: list[OrganisationView]) -> SheetView:
    return dataclasses.replace(view, organisations=tuple(orgs), organisations_empty=None)


def test_six_organisations_with_logos_of_any_colour_mode_all_print(shipped, logos):
    _, theme = shipped
    files = [logos["wide.png"], logos["cmyk.jpg"], logos["tall.png"], None,
             logos["palette.png"], logos["wide.png"]]
    orgs = [OrganisationView(f"Organisatie nummer {i}", f, f"Logo {i}")
            for i, f in enumerate(files, 1)]
    pdf = render_pdf(with_orgs(view_of(shipped, "atmp", "nl"), orgs), theme, invariant=True)
    text = text_of(pdf)
    for i in range(1, 7):
        assert f"Organisatie nummer {i}" in text
    assert render_pdf(with_orgs(view_of(shipped, "atmp", "nl"), orgs), theme,
                      invariant=True) == pdf  # the same logos give the same bytes


@pytest.mark.parametrize("count, rows", [(7, 1), (12, 1), (13, 2)])
def test_too_many_organisations_with_logos_is_an_overflow_naming_them(shipped, logos, count,
                                                                       rows):
    _, theme = shipped
    orgs = [OrganisationView(f"Organisatie {i}", logos["wide.png"], f"Logo {i}")
            for i in range(1, count + 1)]
    with pytest.raises(ContentOverflow) as info:
        render_pdf(with_orgs(view_of(shipped, "atmp", "en"), orgs), theme)
    assert info.value.fields == ["organisations"]
    assert re.fullmatch(
        r".*atmp\.yaml: organisations: the en-GB sheet does not fit on one page: the "
        r"organisations band \(6 logos a row; the key-figures column above leaves it "
        r"\d+\.\d mm\) is \d+\.\d mm too tall; leave out about "
        rf"{rows} rows? of organisations, or their logos \(names alone take less room\)",
        str(info.value))


def test_a_name_too_long_for_its_logo_cell_is_an_overflow_naming_organisations(shipped, logos):
    _, theme = shipped
    orgs = [OrganisationView("Supercalifragilisticexpialidociousinstituut", logos["wide.png"],
                             "Logo")]
    with pytest.raises(ContentOverflow) as info:
        render_pdf(with_orgs(view_of(shipped, "atmp", "en"), orgs), theme)
    assert "organisations: in the en-GB sheet the word " \
           "'Supercalifragilisticexpialidociousinstituut' is" in str(info.value)


def test_a_key_figure_wider_than_the_panel_is_an_overflow_naming_size_eur_m(shipped):
    _, theme = shipped
    view = dataclasses.replace(view_of(shipped, "atmp", "nl"),
                               size="€\xa0123.456.789.123,1\xa0miljoen")
    with pytest.raises(ContentOverflow) as info:
        render_pdf(view, theme)
    assert info.value.fields == ["size_eur_m"]
    assert re.fullmatch(r".*atmp\.yaml: size_eur_m: in the nl-NL sheet the word "
                        r"'€ 123\.456\.789\.123,1 miljoen' is \d+\.\d mm wider than the "
                        r"key-figures column: .*", str(info.value))


def test_the_widest_valid_key_figure_fits(shipped):
    _, theme = shipped
    for lang, size in (("nl", "€\xa010.000.000\xa0miljoen"), ("en", "€9,999,999.9\xa0million")):
        view = dataclasses.replace(view_of(shipped, "atmp", lang), size=size)
        assert size.replace("\xa0", " ") in " ".join(text_of(render_pdf(view, theme)).split())


@pytest.mark.parametrize("change, field", [
    (lambda v: {"period_start": "2025" * 4, "period_end": "2035" * 4}, "period"),
    (lambda v: {"labels": {**v.labels, "start": "Begin " * 12}}, "period"),
    (lambda v: {"shares": (dataclasses.replace(v.shares[0], left_label="Kapitaal" * 6),
                           v.shares[1])}, "shares.capital_pct"),
    (lambda v: {"shares": (v.shares[0],
                           dataclasses.replace(v.shares[1], right_label="Privaat" * 6))},
     "shares.public_pct"),
    (lambda v: {"trl_steps": tuple(dataclasses.replace(s, label=s.label * 4)
                                   for s in v.trl_steps)}, "trl"),
    (lambda v: {"mrl_steps": tuple(dataclasses.replace(s, label="Operationeel" * 3)
                                   for s in v.mrl_steps)}, "mrl"),
])
def test_a_drawn_label_that_does_not_fit_its_room_is_an_overflow_naming_its_field(
        shipped, change, field):
    _, theme = shipped
    view = view_of(shipped, "atmp", "nl")
    with pytest.raises(ContentOverflow) as info:
        render_pdf(dataclasses.replace(view, **change(view)), theme)
    assert info.value.fields == [field]
    assert " mm wider than the key-figures column" in str(info.value)


def test_a_cut_off_font_file_is_a_template_error_naming_it(tmp_path, monkeypatch, capsys):
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    shutil.copytree(DATA, tmp_path / "data")
    font = tmp_path / "templates" / "fonts" / "Carlito-Regular.ttf"
    font.write_bytes(font.read_bytes()[:5000])
    monkeypatch.chdir(tmp_path)
    code = main(["validate", "--data", "data", "--templates", "templates"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    assert ("templates/fonts/Carlito-Regular.ttf: not a usable TrueType font: the file is "
            "damaged or cut off (unpack requires a buffer of 2 bytes); " + RESTORE
            ) in err.splitlines()


def test_register_fonts_names_a_cut_off_font_file(tmp_path):
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    theme = load_theme(tmp_path / "templates")
    theme = dataclasses.replace(theme, fonts=dataclasses.replace(theme.fonts,
                                                                 family="CutOffCarlito"))
    theme.fonts.bold.write_bytes(theme.fonts.bold.read_bytes()[:5000])
    with pytest.raises(TemplateError) as info:
        register_fonts(theme)
    assert info.value.where == theme.fonts.bold
    assert "cannot use this font file: it is damaged or cut off" in str(info.value)


# --- the page is the limit: the columns and the organisations band share it ----------------

LONG_NAMES = ["Universitair Medisch Centrum Utrecht", "Leids Universitair Medisch Centrum",
              "Erasmus Medisch Centrum Rotterdam", "Bilthoven Biologicals B.V.",
              "Basic Pharma Manufacturing B.V.", "Batavia Biosciences B.V.", "Van Dijk & Zn.",
              "Koninklijke Boskalis N.V.", "Rijksinstituut voor Volksgezondheid en Milieu",
              "Stichting Leiden Bio Science Park",
              ("Nederlandse Organisatie voor Toegepast Natuurwetenschappelijk Onderzoek "
               "(TNO)")]


def lines_and_heights(pdf: bytes) -> list[tuple[str, float]]:
    """Each text line of the page with its baseline, in mm from the bottom of the page."""
    import io

    found: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.append((text, (cm[5] + tm[5] * cm[3]) / 72 * 25.4))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def test_eleven_long_organisation_names_fit_where_the_page_has_room(shipped):
    # before: the band was 19 mm: "shorten these texts by about 1 line", 80 mm free above
    _, theme = shipped
    view = with_orgs(view_of(shipped, "atmp", "nl"),
                     [OrganisationView(n, None, n) for n in LONG_NAMES])
    pdf = render_pdf(view, theme, invariant=True)
    text = " ".join(text_of(pdf).split())
    for name in LONG_NAMES:
        assert name in text  # every name whole: none dropped, hyphenated or broken
    heading = next(y for line, y in lines_and_heights(pdf)
                   if "Betrokken bedrijven en instellingen" in line)
    # the band's heading stands higher than a 19 mm band's would (9 + 7 + 19 mm)
    assert heading > 35


def test_a_name_is_never_broken_over_two_lines_in_the_band(shipped):
    _, theme = shipped
    names = [f"Organisatie {word} & Zn." for word in ("Een", "Twee", "Drie", "Vier", "Vijf",
                                                      "Zes", "Zeven", "Acht", "Negen", "Tien",
                                                      "Elf", "Twaalf", "Dertien", "Veertien")]
    view = with_orgs(view_of(shipped, "atmp", "nl"), [OrganisationView(n, None, n)
                                                       for n in names])
    lines = text_of(render_pdf(view, theme, invariant=True)).replace("\xa0", " ").splitlines()
    band = [line for line in lines if "Organisatie" in line]
    assert len(band) >= 2  # the names take more than one line ...
    for line in band:  # ... and each line holds whole names only
        assert re.fullmatch(r"Organisatie \w+ & Zn\.( · Organisatie \w+ & Zn\.)*( ·)?",
                            line.strip()), line


def test_the_text_column_uses_the_room_a_small_band_leaves(shipped):
    # one line of names: the band is as high as that, not 19 mm, so the text runs lower
    _, theme = shipped
    view = with_orgs(view_of(shipped, "atmp", "en"), [OrganisationView("Acme", None, "Acme")])
    sentence = "Every partner adds its own expertise to the shared programme."
    fitted = None
    for count in range(20, 200, 2):  # the most text that still fits the page
        grown = dataclasses.replace(view, relevance=(*view.relevance, " ".join(
            [sentence] * count)))
        try:
            fitted = render_pdf(grown, theme, invariant=True)
        except ContentOverflow:
            break
    assert fitted is not None

    def heading(pdf: bytes) -> float:
        return next(y for line, y in lines_and_heights(pdf)
                    if "Involved companies and institutions" in line)

    # with room to spare the band is the theme's 19 mm; the column that needs the room gets
    # it: the band is as high as its one line of names, its heading lower by 4 mm or more
    assert heading(fitted) < heading(render_pdf(view, theme, invariant=True)) - 4
    last_text = min(y for line, y in lines_and_heights(fitted) if "INSERM" in line)
    assert heading(fitted) < last_text  # the band still under the column


def test_content_that_does_not_fit_the_page_still_names_the_text_column(shipped):
    _, theme = shipped
    view = view_of(shipped, "atmp", "en")
    extra = " ".join(["Every partner adds its own expertise to the shared programme."] * 60)
    with pytest.raises(ContentOverflow) as info:
        render_pdf(dataclasses.replace(view, relevance=(*view.relevance, extra)), theme)
    assert re.fullmatch(r".*atmp\.yaml: summary\.en, relevance\.en, collaborations\.national, "
                        r"collaborations\.european: the en-GB sheet does not fit on one page: "
                        r"the text column is \d+\.\d mm too tall; shorten these texts by about "
                        r"\d+ lines", str(info.value))


# --- hyphenation: names never, and no fragment shorter than three letters ---------------------

def test_names_are_never_hyphenated_and_no_fragment_is_shorter_than_three_letters(
        pdf_build, shipped):
    breaks = []
    for slug in ("biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics"):
        for lang in ("nl", "en"):
            typed = " ".join(view_of(shipped, slug, lang).all_text)
            pdf = (pdf_build / lang / f"{slug}.pdf").read_bytes()
            lines = text_of(pdf).splitlines()
            for line, following in itertools.pairwise(lines):
                head, tail = re.search(r"(\w+)-$", line), re.match(r"(\w+)", following)
                if head and tail and f"{head[1]}-{tail[1]}" not in typed:  # not a typed hyphen
                    breaks.append((head[1], tail[1]))
    assert len(breaks) >= 10  # hyphenation is on
    for head, tail in breaks:
        assert len(head) >= 3 and len(tail) >= 3, (head, tail)  # never "be-staande"
        assert head[0].islower(), (head, tail)  # never "Boska-lis", "Ba-sic", "Eu-ropese"


@pytest.mark.parametrize("word", ["Boskalis", "Europese", "Basic", "hollandbio"])
def test_a_name_or_a_word_of_the_views_names_gets_no_hyphenation_point(word):
    from nexusreports.render.pdf.sheet import hyphenator, name_words

    split = hyphenator("nl_NL", name_words(("hollandbio", "Basic Pharma")))
    assert split(word) == []
    assert split("verantwoordelijk") == [("verantwoorde", "lijk"), ("verantwoor", "delijk"),
                                         ("verant", "woordelijk"), ("ver", "antwoordelijk")]
    assert split("bestaande,") == []  # "be-staande" and "bestaan-de" leave two letters


# --- a period of one year ----------------------------------------------------------------------

def test_a_one_year_period_prints_one_year_and_no_second_end(shipped):
    from nexusreports.model import Period

    projects, theme = shipped
    project = projects.by_slug("atmp").model_copy(update={"period": Period(start=2027,
                                                                           end=2027)})
    from nexusreports.view import build_view

    view = build_view(project, projects, "nl", DATA, "data/projects/atmp.yaml")
    assert (view.period_start, view.period_end) == ("2027", "")
    text = text_of(render_pdf(view, theme, invariant=True))
    assert "2027" in text.split()
    assert "2027–2027" not in text and "2027 2027" not in " ".join(text.split())
    assert "Start" not in text.split() and "Eind" not in text.split()  # no two ends


def test_a_typed_hyphen_breaks_a_line_only_between_two_pieces_of_three_letters(shipped):
    # ReportLab's own break after a typed hyphen left "e-" | "mail", "co-" | "financiering"
    # and broke names: "Health-" | "RI"
    _, theme = shipped
    view = view_of(shipped, "atmp", "nl")
    words = "e-mailadressen co-financiering Health-RI ex-werknemers rode-biotechsector"
    lines = []
    for width in range(0, 24, 2):  # the same words at many places in the line
        filler = " ".join(["de"] * width)
        grown = dataclasses.replace(view, relevance=(f"{filler} {words}",))
        lines += text_of(render_pdf(grown, theme, invariant=True)).splitlines()
    ends = {re.search(r"(\S+)-$", line)[1] for line in lines if re.search(r"\S-$", line)}
    assert "rode" in ends  # a typed hyphen between longer pieces is still a break
    for head in ("e", "co", "ex", "Health", "co-fi"):
        assert head not in ends
    assert not [e for e in ends if re.fullmatch(r"co-\w{1,2}|\w{1,2}", e)]


def test_an_organisation_name_longer_than_a_line_still_breaks_at_its_spaces(shipped):
    # made one unbreakable word, it was "wider than the organisations band: break it with a
    # space", though it has eighteen
    _, theme = shipped
    long = ("Koninklijke Nederlandse Akademie van Wetenschappen, Stichting voor Onderzoek en "
            "Ontwikkeling van Geavanceerde Therapieën en Vaccins")
    view = with_orgs(view_of(shipped, "atmp", "nl"), [OrganisationView(long, None, long),
                                                       OrganisationView("TNO", None, "TNO")])
    text = " ".join(text_of(render_pdf(view, theme, invariant=True)).split())
    assert f"{long} · TNO" in text


def test_a_column_and_the_band_both_over_their_share_are_named_in_one_message(shipped):
    # before: "the text column is 12.9 mm too tall"; once cut, "the organisations band is
    # ... too tall": two rounds for one page
    _, theme = shipped
    view = with_orgs(view_of(shipped, "atmp", "nl"),
                     [OrganisationView(n, None, n) for n in LONG_NAMES])
    extra = " ".join(["Dit is een extra zin over de samenwerking tussen partners."] * 30)
    with pytest.raises(ContentOverflow) as info:
        render_pdf(dataclasses.replace(view, relevance=(*view.relevance, extra)), theme)
    assert info.value.fields == ["summary.nl", "relevance.nl", "collaborations.national",
                                 "collaborations.european", "organisations"]
    assert re.fullmatch(r".*atmp\.yaml: summary\.nl, relevance\.nl, collaborations\.national, "
                        r"collaborations\.european, organisations: the nl-NL sheet does not fit "
                        r"on one page: the text column with the organisations band below it is "
                        r"\d+\.\d mm too tall; shorten these texts by about \d+ lines",
                        str(info.value))
    # cutting that much from either is enough: without the band's names the text fits less
    # the band's share, which is what the message counted
    over_mm = info.value.overflow_mm
    names_only = dataclasses.replace(view, relevance=(*view.relevance, extra))
    with pytest.raises(ContentOverflow) as alone:
        render_pdf(with_orgs(names_only, [OrganisationView("Acme", None, "Acme")]), theme)
    assert alone.value.overflow_mm < over_mm


def test_a_hyphenated_name_wider_than_its_logo_cell_breaks_at_a_typed_hyphen(shipped, logos):
    # names are never hyphenated, but one wider than its cell must break somewhere rather
    # than be refused: at a hyphen it has, between pieces of three letters or more
    _, theme = shipped
    name = "Max-Planck-Gesellschaft-Forschungszentrum"
    view = with_orgs(view_of(shipped, "atmp", "nl"),
                     [OrganisationView(name, logos["wide.png"], "Logo"),
                      OrganisationView("Health-RI", logos["wide.png"], "Logo")])
    lines = [line.strip() for line in text_of(render_pdf(view, theme, invariant=True))
             .splitlines()]
    broken = [line for line in lines if line.startswith("Max-")]
    assert broken and broken[0].endswith("-") and broken[0] != "Max-"
    assert any(line.endswith("Forschungszentrum") for line in lines)
    assert "Health-RI" in " ".join(lines)


def test_validate_lays_every_sheet_out_without_drawing_or_saving_one(shipped, monkeypatch):
    # validate refuses what build would refuse (tests/test_invalid.py: the same messages);
    # it gets there by measuring, so nothing is drawn, tagged, saved or zipped
    from nexusreports.pipeline import BuildOptions, check_layout
    from nexusreports.render.pdf import sheet as pdf_sheet
    from nexusreports.render.word import sheet as word_sheet

    made: list[str] = []
    monkeypatch.setattr(pdf_sheet, "_draw", lambda *a: made.append("PDF drawn"))
    monkeypatch.setattr(pdf_sheet, "publish_canvas", lambda *a: made.append("PDF saved"))
    monkeypatch.setattr(word_sheet, "_repack_parts", lambda *a: made.append("Word zipped"))
    projects, theme = shipped
    check_layout(projects, theme, BuildOptions(data_dir=DATA, templates_dir=TEMPLATES))
    assert made == []
    render_pdf(view_of(shipped, "atmp", "nl"), theme)  # (the patches do catch a render)
    assert "PDF drawn" in made and made[-1] == "PDF saved"
