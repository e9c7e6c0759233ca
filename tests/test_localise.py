"""Numbers, money, percentages and dates read as the original sheets print them."""

from __future__ import annotations

import datetime as dt
import doctest
from decimal import Decimal

import pytest

import nexusreports.localise as localise
from nexusreports.localise import Localiser

NL, EN = Localiser("nl"), Localiser("en")
NB = "\xa0"


def test_the_doctests_of_the_localiser_hold():
    assert doctest.testmod(localise).failed == 0


@pytest.mark.parametrize("value, nl, en", [
    (Decimal(21200), f"€{NB}21.200{NB}miljoen", f"€21,200{NB}million"),
    (Decimal(3910), f"€{NB}3.910{NB}miljoen", f"€3,910{NB}million"),
    (Decimal(460), f"€{NB}460{NB}miljoen", f"€460{NB}million"),
    (Decimal("742.5"), f"€{NB}742,5{NB}miljoen", f"€742.5{NB}million"),
])
def test_it_prints_amounts_in_eur_millions_as_the_seed_does(value, nl, en):
    assert NL.amount_eur_m(value) == nl
    assert EN.amount_eur_m(value) == en


def test_it_prints_billions_with_one_decimal():
    assert NL.amount_eur_m(Decimal(12600), "billion") == f"€{NB}12,6{NB}miljard"
    assert EN.amount_eur_m(Decimal(1000), "billion") == f"€1{NB}billion"


def test_it_rounds_half_up_not_half_even():
    # Babel alone would give 742,4 (half-even); finance readers expect 742,5.
    assert NL.amount_eur_m(Decimal("742.45")) == f"€{NB}742,5{NB}miljoen"
    assert EN.number(Decimal("0.25")) == "0.3"
    assert EN.percent(Decimal("8.65")) == "8.7%"


def test_it_prints_counts_percentages_and_multipliers_per_locale():
    assert (NL.count(21000), EN.count(21000)) == ("21.000", "21,000")
    assert (NL.percent(Decimal("1.2")), EN.percent(Decimal("1.2"))) == ("1,2%", "1.2%")
    assert (NL.percent(Decimal(35)), EN.percent(Decimal(35))) == ("35%", "35%")
    assert (NL.multiplier(Decimal("2.5")), EN.multiplier(Decimal("2.5"))) == ("2,5x", "2.5x")


def test_years_are_never_grouped():
    assert NL.year(2035) == "2035"
    assert EN.year(2035) == "2035"


def test_it_prints_dates_short_and_long_per_locale():
    day = dt.date(2025, 9, 30)
    assert NL.date(day) == "30-09-2025"
    assert EN.date(day) == "30/09/2025"
    assert NL.date(day, "long") == "30 september 2025"
    assert EN.date(day, "long") == "30 September 2025"


def test_it_uses_cldr_locale_ids():
    assert (NL.locale_id, EN.locale_id) == ("nl-NL", "en-GB")


def test_an_unknown_language_is_refused():
    with pytest.raises(KeyError):
        Localiser("de").count(1)


def test_it_translates_fixed_labels_through_the_catalog():
    assert NL.gettext("Preconditions") == "Randvoorwaarden"
    assert EN.gettext("Preconditions") == "Preconditions"


@pytest.mark.parametrize("value", [Decimal("-0"), Decimal("-0.0"), Decimal("-0.04"),
                                   Decimal("-1e-999999")])
def test_a_value_that_rounds_to_zero_prints_without_a_minus_sign(value):
    assert (NL.percent(value), EN.percent(value)) == ("0%", "0%")
    assert (NL.number(value), EN.multiplier(value), NL.count(value)) == ("0", "0x", "0")
    assert NL.amount_eur_m(value) == f"€{NB}0{NB}miljoen"
    assert EN.amount_eur_m(value, "billion") == f"€0{NB}billion"


def test_a_small_negative_value_keeps_its_sign():
    assert (NL.percent(Decimal("-0.05")), EN.number(Decimal("-2.25"))) == ("-0,1%", "-2.3")


EXTREMES = [Decimal("1e-999999"), Decimal("0." + "0" * 3000 + "1"),
            Decimal("9999999." + "9" * 60), Decimal("123456789012.34567890123456789012345")]


@pytest.mark.parametrize("loc", [NL, EN])
def test_it_formats_every_value_the_model_allows(loc):
    # the model's bounds (docs/data-format.md): without them Babel raised InvalidOperation
    from nexusreports import model as m

    assert loc.amount_eur_m(m.MAX_EUR_M) in (f"€{NB}10.000.000{NB}miljoen",
                                             f"€10,000,000{NB}million")
    assert loc.amount_eur_m(m.MAX_EUR_M, "billion") in (f"€{NB}10.000{NB}miljard",
                                                        f"€10,000{NB}billion")
    assert loc.percent(-m.MAX_FIGURE_PCT) in ("-1.000%", "-1,000%")
    assert loc.multiplier(m.MAX_MULTIPLIER) in ("1.000x", "1,000x")
    assert loc.count(m.MAX_COUNT) in ("1.000.000.000.000", "1,000,000,000,000")
    assert loc.number(-m.MAX_NUMBER) in ("-1.000.000.000.000", "-1,000,000,000,000")
    for value in EXTREMES:
        for fmt in (loc.number, loc.percent, loc.multiplier, loc.amount_eur_m, loc.count):
            assert fmt(value)
        assert loc.amount_eur_m(value, "billion")


@pytest.mark.parametrize("lang, note", [
    ("nl", "(inclusief de 1 flagship van € 460 miljoen)"),
    ("en", "(including its 1 flagship, €460 million)")])
def test_a_programme_with_one_flagship_says_flagship_not_flagships(data_copy, lang, note):
    # before: "(inclusief de 1 flagships voor totaal € 460 miljoen)"
    from nexusreports.validate import load_projects
    from nexusreports.view import build_view

    for slug in ("atmp", "infectieziekten"):
        (data_copy / "projects" / f"{slug}.yaml").unlink()
    programme = data_copy / "projects" / "biotech-nexus.yaml"
    programme.write_text(programme.read_text(encoding="utf-8").replace(
        "flagship_total_eur_m: 3910", "flagship_total_eur_m: 460"), encoding="utf-8")
    projects = load_projects(data_copy)
    view = build_view(projects.by_slug("biotech-nexus"), projects, lang, data_copy)
    assert view.size_note.replace("\xa0", " ") == note.replace("\xa0", " ")
