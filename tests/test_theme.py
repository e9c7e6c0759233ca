"""templates/theme.yaml is typed by people: every mistake is reported at once, as
``templates/theme.yaml:line: key: message``, never as an internal error, and a value that
would make a broken or illegible sheet (negative margins, 0 pt type, a text column that
leaves no room for the key figures, another page size than A4) is refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, TEMPLATES
from nexusreports.errors import TemplateError
from nexusreports.theme import MIN_FONT_PT, ThemeErrors, load_theme


@pytest.fixture
def templates(tmp_path) -> Path:
    """A copy of the shipped templates folder, to break."""
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    return tmp_path / "templates"


def edit(templates: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in theme.yaml; return the 1-based line it is on."""
    path = templates / "theme.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def problems(templates: Path) -> list[str]:
    """The theme's problems as printed, with the path as ``templates/theme.yaml``."""
    with pytest.raises(ThemeErrors) as info:
        load_theme(templates)
    assert isinstance(info.value, TemplateError)  # exit 1 like every template problem
    prefix = str(templates / "theme.yaml")
    return [line.replace(prefix, "templates/theme.yaml", 1) for line in info.value.lines()]


def test_the_shipped_theme_is_valid_and_gives_numbers():
    theme = load_theme(TEMPLATES)
    assert theme.page["size"] == "A4"
    assert theme.page["left_column_mm"] == 118.0
    assert theme.type["body_pt"] == 9.8
    assert theme.colours["primary"] == "#12355B"


def test_it_names_a_misspelt_key_and_the_missing_one(templates):
    line = edit(templates, "  body_pt: 9.8", "  bodyy_pt: 9.8")
    found = problems(templates)
    assert f"templates/theme.yaml:{line}: type.bodyy_pt: not a theme setting: did you mean " \
           "'body_pt'?" in found
    assert any(p.startswith("templates/theme.yaml:") and ": type.body_pt: missing: add "
               f"'body_pt:'" in p and f"'bodyy_pt' (line {line}) a misspelling" in p
               for p in found), found


@pytest.mark.parametrize("old, new, key, message", [
    ("body_pt: 9.8", "body_pt: 0", "type.body_pt",
     f"0 is out of range: it must be at least {MIN_FONT_PT:g} pt"),
    ("small_pt: 7.6", "small_pt: 6.5", "type.small_pt",
     f"6.5 is out of range: it must be at least {MIN_FONT_PT:g} pt"),
    ("margin_left_mm: 12", "margin_left_mm: -5", "page.margin_left_mm",
     "-5 is out of range: it must be more than 0 mm"),
    ("size: A4 ", "size: A3 ", "page.size", "'A3': only A4 is supported"),
    ("header_height_mm: 35", "header_height_mm: 3", "page.header_height_mm",
     "3 is out of range: it must be at least 20 mm"),
    ("left_column_mm: 118", "left_column_mm: 250", "page.left_column_mm",
     "250 is out of range: it must be at most 210 mm"),
    ("left_column_mm: 118", "left_column_mm: 140", "page.left_column_mm",
     "140 mm leaves 40 mm for the key-figures column"),
    ("body_leading_pt: 13.2", "body_leading_pt: 8", "type.body_leading_pt",
     "8 pt is less than body_pt (9.8 pt): lines would overlap"),
    ("body_pt: 9.8", "body_pt: ten", "type.body_pt", "expected a number in pt, got 'ten'"),
    ('primary: "#12355B"', 'primary: "12355B"', "colours.primary", "'12355B' is not a colour"),
    ("regular: fonts/Carlito-Regular.ttf", "regular: fonts/Nope.ttf", "fonts.regular",
     "the font file"),
], ids=["zero-type", "tiny-type", "negative-margin", "A3", "tiny-header", "wide-column",
        "no-room-for-key-figures", "tight-leading", "not-a-number", "colour", "font"])
def test_it_refuses_a_bad_value_with_its_line_and_key(templates, old, new, key, message):
    line = edit(templates, old, new)
    found = problems(templates)
    assert len(found) == 1, found
    assert found[0].startswith(f"templates/theme.yaml:{line}: {key}: {message}"), found


def test_a_page_with_no_room_for_the_columns_names_every_setting_that_takes_it(templates):
    line = edit(templates, "header_height_mm: 35", "header_height_mm: 100")
    edit(templates, "organisations_height_mm: 19", "organisations_height_mm: 80")
    assert problems(templates) == [
        f"templates/theme.yaml:{line}: page.header_height_mm: header_height_mm (100), "
        "gap_below_header_mm (6), organisations_height_mm (80), footer_height_mm (7) and "
        "margin_bottom_mm (9), with the 2 mm above the organisations band, leave 93 mm of the "
        "A4 height (297 mm) for the columns; they need at least 120 mm: make some of these "
        "smaller"]


def test_it_reports_every_problem_at_once(templates):
    edit(templates, "body_pt: 9.8", "body_pt: 0")
    edit(templates, "margin_left_mm: 12", "margin_left_mm: -5")
    edit(templates, "size: A4 ", "size: A3 ")
    assert [p.split(": ")[1] for p in problems(templates)] == [
        "page.size", "page.margin_left_mm", "type.body_pt"]


def test_a_yaml_error_in_the_theme_names_its_line(templates):
    line = edit(templates, "  body_pt: 9.8", "  body_pt: [9.8")
    found = problems(templates)
    assert len(found) == 1 and found[0].startswith("templates/theme.yaml:"), found
    assert "YAML syntax error" in found[0]
    assert int(found[0].split(":")[1]) >= line


def test_the_command_prints_the_theme_problem_and_exits_1(templates, tmp_path):
    line = edit(templates, "  body_pt: 9.8", "  bodyy_pt: 9.8")
    shutil.copytree(DATA, tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "nexusreports", "validate"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"templates/theme.yaml:{line}: type.bodyy_pt: not a theme setting" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_header_too_low_for_its_text_names_the_theme_setting_as_well(templates, tmp_path):
    edit(templates, "header_height_mm: 35", "header_height_mm: 22")
    shutil.copytree(DATA, tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "nexusreports", "validate"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert ("name, domain: the nl-NL sheet does not fit on one page: the header (22 mm high: "
            "page.header_height_mm in theme.yaml) is") in result.stderr
