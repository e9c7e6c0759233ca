"""PDF sheet layout limits: every drawn text is measured against its room.

The organisations band lays logos out in an orderly grid and refuses too many; the key
figure, timeline, share labels and TRL steps raise ContentOverflow naming their field rather
than overprint; logos of any colour mode are drawn; a cut-off font file is named.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
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
        r"organisations band \(6 logos a row\) is \d+\.\d mm too tall; shorten these texts by "
        rf"about {rows} lines?", str(info.value))


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
            "damaged or cut off (unpack requires a buffer of 2 bytes); restore it from git"
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
