"""Validation: every rule of the data format, each with its exact `path:line: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusreports.errors import DataErrors
from nexusreports.validate import load_projects


def edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` once in ``path``; return the 1-based line of the change."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def problems(data: Path) -> list[str]:
    with pytest.raises(DataErrors) as info:
        load_projects(data)
    return [str(p) for p in info.value.problems]


def rel(data: Path, slug: str) -> str:
    return str(data / "projects" / f"{slug}.yaml")


def test_the_shipped_data_is_valid(projects):
    assert [p.slug for p in projects.projects] == [
        "biotech-nexus", "atmp", "infectieziekten", "precision-diagnostics"]


def test_a_share_above_100_is_out_of_range(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "public_pct: 33", "public_pct: 133")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: shares.public_pct: 133 is out of range: it must be "
        "at most 100"]


def test_a_negative_share_is_out_of_range(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "capital_pct: 35", "capital_pct: -5")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: shares.capital_pct: -5 is out of range: it must be "
        "at least 0"]


def test_trl_min_above_max_is_refused(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "trl: {min: 5, max: 9}",
                "trl: {min: 9, max: 5}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: trl.min: TRL min (9) is above TRL max (5): min must "
        "be <= max"]


def test_trl_outside_1_to_9_is_refused(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "trl: {min: 5, max: 9}",
                "trl: {min: 0, max: 10}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: trl.max: 10 is out of range: it must be at most 9",
        f"{rel(data_copy, 'atmp')}:{line}: trl.min: 0 is out of range: it must be at least 1"]


def test_an_end_before_the_start_is_refused(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "period: {start: 2025, end: 2035}",
                "period: {start: 2025, end: 2020}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: period.end: the end year (2020) is before the start "
        "year (2025)"]


def test_a_flagship_parent_must_exist_and_no_total_is_blamed_for_it(data_copy):
    # while atmp's parent names no project, whose flagship it is is not known: the
    # programme's total (which no longer counts atmp) is not reported as wrong
    line = edit(data_copy / "projects" / "atmp.yaml", "parent: biotech-nexus",
                "parent: biotech-nexsu")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: parent: no project 'biotech-nexsu' in the data: "
        "did you mean 'biotech-nexus'?"]


def test_a_flagship_parent_must_be_a_programme(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "parent: biotech-nexus",
                "parent: infectieziekten")
    assert problems(data_copy)[0] == (
        f"{rel(data_copy, 'atmp')}:{line}: parent: the parent 'infectieziekten' is a flagship, "
        "not a programme")


def test_the_flagship_total_must_equal_the_sum_of_the_flagships(data_copy):
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "flagship_total_eur_m: 3910",
                "flagship_total_eur_m: 3900")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: flagship_total_eur_m: the stated flagship "
        "total 3900 does not match the flagships' sizes: 2250 (atmp) + 1200 (infectieziekten) "
        "+ 460 (precision-diagnostics) = 3910; correct the total or the flagships' sizes"]


def test_an_english_text_needs_its_dutch_counterpart(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml",
                "domain: {nl: Life sciences en Biotech, en: Life sciences and biotech}",
                "domain: {en: Life sciences and biotech}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: domain.nl: the Dutch text is missing: add 'nl:' "
        "with the text in that language"]


def test_a_missing_english_text_is_named(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml",
                "domain: {nl: Life sciences en Biotech, en: Life sciences and biotech}",
                "domain: {nl: Life sciences en Biotech}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: domain.en: the English text is missing: add 'en:' "
        "with the text in that language"]


def test_a_placeholder_must_name_a_figure(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "(CfA {biotech_act_call})",
                "(CfA {biotech_act_cal})")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{_line(data_copy, 'atmp', 'relevance:') + 1}: relevance.nl: "
        "the placeholder {biotech_act_cal} names no figure of this project: did you mean "
        "{biotech_act_call}?"]
    assert line > 0


def test_slugs_must_be_unique_ignoring_case(data_copy):
    src = data_copy / "projects" / "atmp.yaml"
    (data_copy / "projects" / "ATMP.yaml").write_text(src.read_text(encoding="utf-8"),
                                                      encoding="utf-8")
    found = problems(data_copy)
    assert f"{rel(data_copy, 'atmp')}: the slug 'atmp' is already used by ATMP.yaml (slugs " \
        "must differ in more than case): rename one of the files" in found
    assert f"{rel(data_copy, 'ATMP')}: 'ATMP' is not a valid slug (the file name): use " \
        "lowercase letters, digits and single hyphens, e.g. precision-diagnostics.yaml" in found


def test_an_unknown_field_gets_a_did_you_mean_hint(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "short_name:", "shortname:")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: shortname: unknown field: did you mean 'short_name'?"]


def test_every_problem_is_reported_in_one_run(data_copy):
    edit(data_copy / "projects" / "atmp.yaml", "public_pct: 33", "public_pct: 133")
    edit(data_copy / "projects" / "precision-diagnostics.yaml", "trl: {min: 4, max: 8}",
         "trl: {min: 8, max: 4}")
    found = problems(data_copy)
    assert len(found) == 2
    assert "atmp.yaml" in found[0] and "precision-diagnostics.yaml" in found[1]


def test_yaml_1_1_words_stay_text(data_copy):
    edit(data_copy / "projects" / "atmp.yaml", "text: INSERM", "text: NO")
    projects = load_projects(data_copy)
    european = projects.by_slug("atmp").collaborations.european
    assert european[-1].text == "NO"


def _line(data: Path, slug: str, needle: str) -> int:
    text = (data / "projects" / f"{slug}.yaml").read_text(encoding="utf-8")
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize("value", ["1e27", "1e400", "10000000000000000000000000000000"])
def test_a_huge_percent_figure_is_refused_not_a_crash(data_copy, value):
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "{kind: percent, value: 1.2}",
                f"{{kind: percent, value: {value}}}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: figures.gdp_share_2035.value: {value} is out "
        "of range: it must be at most 1000"]


def test_a_project_size_beyond_10_trillion_euros_is_refused(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "size_eur_m: 2250", "size_eur_m: 1e30")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: size_eur_m: 1e30 is out of range: it must be at most "
        "10000000 (EUR millions: EUR 10 trillion)"]


def test_every_figure_kind_has_an_upper_bound(data_copy):
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "figures:\n", "figures:\n"
                "  a: {kind: count, value: 1000000000001}\n"
                "  b: {kind: number, value: -1e13}\n"
                "  c: {kind: multiplier, value: 1000.5}\n"
                "  d: {kind: amount, value_eur_m: 10000001}\n")
    path = rel(data_copy, 'biotech-nexus')
    assert problems(data_copy) == [
        f"{path}:{line + 1}: figures.a.value: 1000000000001 is out of range: it must be at most "
        "1000000000000",
        f"{path}:{line + 2}: figures.b.value: -1e13 is out of range: it must be at least "
        "-1000000000000",
        f"{path}:{line + 3}: figures.c.value: 1000.5 is out of range: it must be at most 1000",
        f"{path}:{line + 4}: figures.d.value_eur_m: 10000001 is out of range: it must be at "
        "most 10000000 (EUR millions: EUR 10 trillion)"]


def test_minus_zero_is_read_as_zero(data_copy):
    edit(data_copy / "projects" / "biotech-nexus.yaml", "{kind: percent, value: 1.2}",
         "{kind: percent, value: -0.0}")
    edit(data_copy / "projects" / "atmp.yaml", "capital_pct: 35", "capital_pct: -0")
    projects = load_projects(data_copy)
    share = projects.by_slug("biotech-nexus").figures["gdp_share_2035"].value
    capital = projects.by_slug("atmp").shares.capital_pct
    assert (share, share.is_signed(), capital.is_signed()) == (0, False, False)


def test_invisible_characters_pasted_from_word_are_dropped_and_hyphens_made_plain(data_copy):
    # soft hyphen, zero-width space, word joiner and non-breaking hyphen: the sheet font has
    # none of them but U+200B, so they were refused as unprintable
    from nexusreports.theme import load_theme

    edit(data_copy / "projects" / "atmp.yaml", "text: INSERM",
         "text: IN\u00adSERM\u200b, COVID\u201119 en\u2060 T\u2010cel")
    charset = load_theme(Path(__file__).resolve().parent.parent / "templates").charset
    projects = load_projects(data_copy, charset)
    assert projects.by_slug("atmp").collaborations.european[-1].text == \
        "INSERM, COVID-19 en T-cel"


@pytest.mark.parametrize("typed, why", [
    ("{EXTRA_JOBS}", "a figure name is in lowercase"),
    ("{ extra_jobs }", "no spaces inside the braces"),
    ("{extra_jobs:,}", "nothing after the name: each language formats the figure itself"),
    ("{extra_jobs!r}", "nothing after the name: each language formats the figure itself"),
    ("{extra_jobs[0]}", "nothing after the name: each language formats the figure itself"),
    ("{extra-jobs}", "a figure name joins words with '_', not '-'"),
    ("{extra jobs}", "a figure name is one word in lowercase, joined by '_'"),
    ("{Extra Jobs}", "a figure name is one word in lowercase, joined by '_'"),
    ("{ Extra - Jobs }", "a figure name is one word in lowercase, joined by '_'"),
])
def test_a_mistyped_placeholder_is_an_error_saying_how_to_write_it(data_copy, typed, why):
    # these used to pass validation (and build --strict) and print literally
    edit(data_copy / "projects" / "biotech-nexus.yaml", "{extra_jobs} extra hoogwaardige",
         f"{typed} extra hoogwaardige")
    line = _line(data_copy, "biotech-nexus", "relevance:") + 1
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: relevance.nl: the placeholder {typed} is "
        f"mistyped ({why}): write it as {{extra_jobs}}"]


def test_a_mistyped_placeholder_of_no_figure_also_says_which_figures_there_are(data_copy):
    edit(data_copy / "projects" / "atmp.yaml", "(CfA {biotech_act_call})", "(CfA {Jobs})")
    line = _line(data_copy, "atmp", "relevance:") + 1
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: relevance.nl: the placeholder {{Jobs}} is mistyped "
        "(a figure name is in lowercase): write it as {jobs} (no figure of this project is "
        "called 'jobs': known figures: biotech_act_call)"]


def test_a_hyphenated_name_in_braces_is_a_mistyped_placeholder_even_of_no_figure(data_copy):
    edit(data_copy / "projects" / "atmp.yaml", "(CfA {biotech_act_call})",
         "(CfA {biotech_act_call}, {new-jobs})")
    line = _line(data_copy, "atmp", "relevance:") + 1
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: relevance.nl: the placeholder {{new-jobs}} is "
        "mistyped (a figure name joins words with '_', not '-'): write it as {new_jobs} (no "
        "figure of this project is called 'new_jobs': known figures: biotech_act_call)"]


def test_braces_around_anything_but_a_name_are_literal_text(data_copy):
    literal = "{{ 7*7 }} {% if x %}ja{% endif %} {0} {} ${ x } {{ extra_jobs }} {a b} {1,2}"
    edit(data_copy / "projects" / "biotech-nexus.yaml", "(Doorrekening KPMG)",
         f"(Doorrekening KPMG) {literal}")
    text = load_projects(data_copy).by_slug("biotech-nexus").relevance.nl
    assert text.endswith(f"(Doorrekening KPMG) {literal}")


def test_a_file_with_type_errors_still_gets_every_cross_check_that_can_run(data_copy):
    # before: only the type error; the rest appeared one run later
    atmp = data_copy / "projects" / "atmp.yaml"
    shares = edit(atmp, "public_pct: 33", "public_pct: 133")
    period = edit(atmp, "period: {start: 2025, end: 2035}", "period: {start: 2025, end: 2020}")
    trl = edit(atmp, "trl: {min: 5, max: 9}", "trl: {min: 9, max: 5}")
    edit(atmp, "(CfA {biotech_act_call})", "(CfA {biotech_act_cal})")
    edit(atmp, "size_eur_m: 2250", "size_eur_m: 2251")
    text = _line(data_copy, "atmp", "relevance:") + 1
    path = rel(data_copy, "atmp")
    assert problems(data_copy) == [
        f"{path}:{text}: relevance.nl: the placeholder {{biotech_act_cal}} names no figure of "
        "this project: did you mean {biotech_act_call}?",
        f"{path}:{period}: period.end: the end year (2020) is before the start year (2025)",
        f"{path}:{shares}: shares.public_pct: 133 is out of range: it must be at most 100",
        f"{path}:{trl}: trl.min: TRL min (9) is above TRL max (5): min must be <= max",
        f"{rel(data_copy, 'biotech-nexus')}:{_line(data_copy, 'biotech-nexus', 'flagship_total')}"
        ": flagship_total_eur_m: the stated flagship total 3910 does not match the flagships' "
        "sizes: 2251 (atmp) + 1200 (infectieziekten) + 460 (precision-diagnostics) = 3911; "
        "correct the total or the flagships' sizes"]


def test_a_value_that_does_not_parse_is_not_cross_checked_again(data_copy):
    atmp = data_copy / "projects" / "atmp.yaml"
    size = edit(atmp, "size_eur_m: 2250", "size_eur_m: veel")  # the total cannot be summed
    trl = edit(atmp, "trl: {min: 5, max: 9}", "trl: {min: 12, max: 5}")  # no min > max
    parent = edit(atmp, "parent: biotech-nexus", "parnet: biotech-nexus")  # no 'needs parent'
    path = rel(data_copy, "atmp")
    assert problems(data_copy) == [
        f"{path}:{parent}: parnet: unknown field: did you mean 'parent'?",
        f"{path}:{size}: size_eur_m: expected a number, got 'veel'; write it in digits, in EUR "
        "millions (e.g. 1200 for 1.2 billion euros)",
        f"{path}:{trl}: trl.min: 12 is out of range: it must be at most 9"]


def test_a_list_as_the_whole_file_is_explained_as_such(data_copy):
    path = data_copy / "projects" / "extra.yaml"
    path.write_text("# a list by mistake\n- kind: programme\n- name: Test\n", encoding="utf-8")
    assert problems(data_copy) == [
        f"{path}:2: a project file must be a mapping of fields such as 'name: ...', not a "
        "list: write one 'field: value' per line, without '- ' in front; see "
        "'nexusreports docs'"]


def test_a_yml_file_is_named_not_silently_read_or_skipped(data_copy):
    folder = data_copy / "projects"
    (folder / "atmp.yaml").rename(folder / "atmp.yml")
    (folder / "biotech-nexus.yaml").rename(folder / "biotech-nexus.yml")
    (folder / "biotech-nexus.yaml").write_text("kind: programme\n", encoding="utf-8")
    found = problems(data_copy)
    assert f"{folder / 'atmp.yml'}: project files end in .yaml and this one is not read: " \
        "rename it to atmp.yaml" in found
    assert f"{folder / 'biotech-nexus.yml'}: project files end in .yaml and this one is not " \
        "read: biotech-nexus.yaml exists too: keep one of them, as biotech-nexus.yaml" in found


def test_a_folder_of_only_yml_files_names_each_of_them(data_copy):
    folder = data_copy / "projects"
    for path in folder.glob("*.yaml"):
        path.rename(path.with_suffix(".yml"))
    assert len(problems(data_copy)) == 4


@pytest.mark.parametrize("old, new, field, message", [
    ("gdp_share_2035: {kind: percent, value: 1.2}", "gdp_share_2035: {kind: percent, value: 1e-30}",
     "gdp_share_2035.value", "1e-30 would print as 0%: write 0, or a value of at least 0.05 "
     "(or at most -0.05)"),
    ("gdp_share_2035: {kind: percent, value: 1.2}", "gdp_share_2035: {kind: number, value: -0.04}",
     "gdp_share_2035.value", "-0.04 would print as 0: write 0, or a value of at least 0.05 "
     "(or at most -0.05)"),
    ("private_multiplier: {kind: multiplier, value: 2.5}",
     "private_multiplier: {kind: multiplier, value: 1e-300}",
     "private_multiplier.value", "1e-300 would print as 0x: a multiplier must be at least 0.05"),
    ("value_eur_m: 12600, scale: billion", "value_eur_m: 0.00001, scale: billion",
     "gdp_impact_2035.value_eur_m", "0.00001 (EUR millions) is less than 0.05 billion, so it "
     "would print as EUR 0 billion: write 0 if it is nothing"),
    ("value_eur_m: 12600, scale: billion", "value_eur_m: 49, scale: billion",
     "gdp_impact_2035.value_eur_m", "49 (EUR millions) is less than 0.05 billion, so it would "
     "print as EUR 0 billion: write 0 if it is nothing, or scale: million"),
])
def test_a_figure_that_is_not_zero_but_prints_as_zero_is_refused(data_copy, old, new, field,
                                                                  message):
    # before: "0%", "€ 0 miljard", "0x" on the sheet with no warning
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", old, new)
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: figures.{field}: too small to print with "
        f"one decimal: {message}"]


@pytest.mark.parametrize("new", ["{kind: percent, value: 0}", "{kind: percent, value: 0.05}",
                                 "{kind: number, value: -0.05}", "{kind: amount, value_eur_m: 0}",
                                 "{kind: amount, value_eur_m: 50, scale: billion}"])
def test_a_figure_of_zero_or_that_prints_as_at_least_0_1_is_accepted(data_copy, new):
    edit(data_copy / "projects" / "biotech-nexus.yaml", "{kind: percent, value: 1.2}", new)
    assert load_projects(data_copy).by_slug("biotech-nexus")


@pytest.mark.parametrize("typed, message", [
    ("2025-02-30", "'2025-02-30' is not a real date: February 2025 has 28 days; correct the "
                   "day or the month"),
    ("2025-13-01", "'2025-13-01' is not a real date: there is no month 13 (months run from 01 "
                   "to 12); correct the day or the month"),
    ("30-09-2025", "expected a date written as YYYY-MM-DD (e.g. 2025-09-30), got '30-09-2025'"),
])
def test_a_bundle_date_that_does_not_exist_is_called_not_a_real_date(data_copy, projects,
                                                                      typed, message):
    # before: "expected a date written as YYYY-MM-DD", though 2025-02-30 is written so
    from nexusreports.validate import load_bundle

    line = edit(data_copy / "bundle.yaml", "date: 2025-09-30", f"date: {typed}")
    with pytest.raises(DataErrors) as info:
        load_bundle(data_copy, projects)
    assert [str(p) for p in info.value.problems] == [
        f"{data_copy / 'bundle.yaml'}:{line}: date: {message}"]


def test_a_huge_jpeg_logo_is_refused_with_its_size_read_from_the_header(data_copy):
    # before: "has more than 178,956,970 pixels" (Pillow's limit, not the logo's size)
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "JPEG")
    jpeg = bytearray(buffer.getvalue())
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: ..., height, width (big-endian)
    jpeg[sof + 5:sof + 9] = (30000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    (data_copy / "logos").mkdir()
    (data_copy / "logos" / "huge.jpg").write_bytes(bytes(jpeg))
    line = edit(data_copy / "projects" / "atmp.yaml", "organisations: []",
                "organisations:\n  - name: Acme\n    logo: logos/huge.jpg") + 2
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: organisations.0.logo: logos/huge.jpg is 20000 x "
        "30000 pixels; a logo may have at most 25,000,000 pixels: scale it down"]


def test_a_project_size_that_would_print_as_zero_is_refused(data_copy):
    line = edit(data_copy / "projects" / "atmp.yaml", "size_eur_m: 2250", "size_eur_m: 0.01")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: size_eur_m: 0.01 is out of range: it must be at least "
        "0.05 (EUR millions: EUR 50,000; a smaller size would print as 0)"]


def test_a_new_flagship_gets_the_total_and_the_bundle_order_problems_in_one_run(data_copy):
    from nexusreports.pipeline import check

    from conftest import TEMPLATES

    (data_copy / "projects" / "atmp-two.yaml").write_text(
        (data_copy / "projects" / "atmp.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DataErrors) as info:
        check(data_copy, TEMPLATES)
    found = [str(p) for p in info.value.problems]
    assert any("biotech-nexus.yaml" in p and "flagship_total_eur_m" in p for p in found)
    assert any("bundle.yaml" in p and "add '- atmp-two' to the order" in p for p in found)


def test_a_bundle_date_typo_does_not_hide_the_order_mistakes(data_copy, projects):
    # before: the date alone, and the order's mistakes only in a second round
    from nexusreports.validate import load_bundle

    date = edit(data_copy / "bundle.yaml", "date: 2025-09-30", "date: 2025-09-31")
    typo = edit(data_copy / "bundle.yaml", "  - atmp\n", "  - atmpp\n")
    with pytest.raises(DataErrors) as info:
        load_bundle(data_copy, projects)
    bundle = data_copy / "bundle.yaml"
    assert [str(p) for p in info.value.problems] == [
        f"{bundle}:{date}: date: '2025-09-31' is not a real date: September 2025 has 30 days; "
        "correct the day or the month",
        # no "add '- atmp'" as well: retyping the entry as the message says adds it
        f"{bundle}:{typo}: order.1: no project 'atmpp' in the data: did you mean 'atmp'?"]


def test_an_empty_bundle_order_entry_does_not_hide_the_other_entries_mistakes(data_copy,
                                                                             projects):
    # before: an entry that was empty or a list, and the order's other entries went unchecked
    from nexusreports.validate import load_bundle

    bundle = data_copy / "bundle.yaml"
    empty = edit(bundle, "  - atmp\n", "  -\n  - atmpp\n")
    twice = edit(bundle, "  - precision-diagnostics\n",
                 "  - precision-diagnostics\n  - precision-diagnostics\n")
    with pytest.raises(DataErrors) as info:
        load_bundle(data_copy, projects)
    assert [str(p) for p in info.value.problems] == [
        f"{bundle}:{empty}: order.1: is empty: fill it in",
        f"{bundle}:{empty + 1}: order.2: no project 'atmpp' in the data: did you mean 'atmp'?",
        f"{bundle}:{twice + 1}: order.5: 'precision-diagnostics' is listed twice: list each "
        "project once"]


def test_an_invisible_character_in_a_bundle_order_entry_is_named(data_copy, projects):
    # before: "no project 'atmp‌' in the data: did you mean 'atmp'?" and "add '- atmp'"
    from nexusreports.validate import load_bundle

    bundle = data_copy / "bundle.yaml"
    line = edit(bundle, "  - atmp\n", '  - "atmp\\u200c"\n')
    with pytest.raises(DataErrors) as info:
        load_bundle(data_copy, projects)
    assert [str(p) for p in info.value.problems] == [
        f"{bundle}:{line}: order.1: the entry 'atmp\\u200c' holds the invisible character "
        "U+200C (zero width non-joiner), which often comes with copied text: retype the entry "
        "as atmp"]


def test_a_size_with_a_thousands_separator_is_ambiguous_and_says_both_ways(data_copy):
    # before: read as 21.2, printed as "€ 21,2 miljoen", even under --strict
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "size_eur_m: 21200",
                "size_eur_m: 21.200")
    figure = edit(data_copy / "projects" / "biotech-nexus.yaml", "value_eur_m: 12600",
                  "value_eur_m: 12.600")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{figure}: figures.gdp_impact_2035.value_eur_m: "
        "12.600 is ambiguous: the point may separate thousands or decimals; write 12600 for "
        "EUR 12,600 million, or 12.6 for EUR 12.6 million (EUR millions are written with no "
        "thousands separator and a point for decimals)",
        f"{rel(data_copy, 'biotech-nexus')}:{line}: size_eur_m: 21.200 is ambiguous: the point "
        "may separate thousands or decimals; write 21200 for EUR 21,200 million, or 21.2 for "
        "EUR 21.2 million (EUR millions are written with no thousands separator and a point "
        "for decimals)"]


def test_a_count_with_a_thousands_separator_is_ambiguous_too(data_copy):
    # before: "21.000" extra jobs printed as "21"
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "{kind: count, value: 21000}",
                "{kind: count, value: 21.000}")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: figures.extra_jobs.value: 21.000 is "
        "ambiguous: a count is a whole number, so write 21000 for 21,000 (no thousands "
        "separator), or 21"]


@pytest.mark.parametrize("typed", ["21.2", "21.20", "0.500", "3.9101"])
def test_a_point_not_before_exactly_three_digits_is_a_decimal_point(data_copy, typed):
    from decimal import Decimal

    from nexusreports.validate import is_ambiguous_money

    assert not is_ambiguous_money(typed)
    edit(data_copy / "projects" / "atmp.yaml", "size_eur_m: 2250", f"size_eur_m: {typed}")
    edit(data_copy / "projects" / "biotech-nexus.yaml", "flagship_total_eur_m: 3910",
         f"flagship_total_eur_m: {Decimal(typed) + 1660}")
    edit(data_copy / "projects" / "biotech-nexus.yaml", "size_eur_m: 21200", "size_eur_m: 1800")
    assert load_projects(data_copy).by_slug("atmp").size_eur_m == Decimal(typed)


def test_a_programme_smaller_than_its_flagships_total_is_refused(data_copy):
    line = edit(data_copy / "projects" / "biotech-nexus.yaml", "size_eur_m: 21200",
                "size_eur_m: 21.2")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'biotech-nexus')}:{line}: size_eur_m: the programme's size 21.2 is "
        "smaller than its flagships' total, which it includes: 2250 (atmp) + 1200 "
        "(infectieziekten) + 460 (precision-diagnostics) = 3910; correct the size (in EUR "
        "millions) or the flagships' sizes"]


def test_a_zero_width_space_in_a_parent_is_named_and_no_total_is_blamed(data_copy):
    # before: "no project ''biotech-nexus\u200b''" and a wrong flagship total of 1660
    line = edit(data_copy / "projects" / "atmp.yaml", "parent: biotech-nexus",
                "parent: biotech-nexus\u200b")
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: parent: the parent 'biotech-nexus\\u200b' holds the "
        "invisible character U+200B (zero width space), which often comes with copied text: "
        "retype the value as biotech-nexus"]


def test_a_logo_cut_off_in_copying_names_the_project_file_line_and_field(data_copy):
    # before: "data/logos/acme.png: the logo cannot be read", from the renderer
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").save(buffer, "PNG")
    (data_copy / "logos").mkdir()
    (data_copy / "logos" / "acme.png").write_bytes(buffer.getvalue()[:200])
    line = edit(data_copy / "projects" / "atmp.yaml", "organisations: []",
                "organisations:\n  - name: Acme\n    logo: logos/acme.png") + 2
    assert problems(data_copy) == [
        f"{rel(data_copy, 'atmp')}:{line}: organisations.0.logo: logos/acme.png cannot be read "
        "to the end: the PNG file is damaged or cut off; copy it again, or export the logo "
        "again as PNG"]
