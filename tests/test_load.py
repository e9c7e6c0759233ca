"""Loading: characters pasted from Word into a data file, typed raw into the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusreports.errors import DataError, DataErrors
from nexusreports.load import parse_yaml
from nexusreports.validate import load_projects

CONTROL = ("contains the control character U+{code:04X}, which cannot be printed: delete it "
           "(it often comes from copying out of Word or e-mail)")


def load(text: str):
    return parse_yaml(text, Path("f.yaml"))


@pytest.mark.parametrize("raw, name", [("\v", "vertical tab"), ("\f", "form feed"),
                                       ("\u2028", "line separator"), ("\x85", "next line")])
def test_a_raw_line_break_character_inside_a_value_stays_in_the_value(raw, name):
    # before: VT and FF refused the whole file; U+2028 and NEL broke the YAML line in two
    doc = load(f"a: een{raw}twee\nb: |\n  drie{raw}vier\nc: x\n")
    assert doc.data == {"a": f"een{raw}twee", "b": f"drie{raw}vier\n", "c": "x"}
    assert doc.lines[("c",)] == 4


@pytest.mark.parametrize("raw, made", [("\v", "\n"), ("\f", "\n"), ("\u2028", "\n"),
                                       ("\u2029", "\n\n")])
def test_a_raw_break_pasted_from_word_becomes_a_line_or_paragraph_break(data_copy, raw, made):
    atmp = data_copy / "projects" / "atmp.yaml"
    text = atmp.read_text(encoding="utf-8")
    atmp.write_text(text.replace("short_name: ATMP I&II", f"short_name: ATMP{raw}I&II")
                    .replace("    existing ecosystem", f"    existing{raw}ecosystem"),
                    encoding="utf-8")
    project = load_projects(data_copy).by_slug("atmp")
    assert project.short_name == f"ATMP{made}I&II"
    assert f"existing{made}ecosystem for" in project.summary.en


def test_a_raw_tab_inside_a_text_becomes_a_space(data_copy):
    # before: "a tab character is used for indentation"
    atmp = data_copy / "projects" / "atmp.yaml"
    text = atmp.read_text(encoding="utf-8")
    atmp.write_text(text.replace("short_name: ATMP I&II", "short_name:\tATMP\tI&II\t# kort"),
                    encoding="utf-8")
    assert load_projects(data_copy).by_slug("atmp").short_name == "ATMP I&II"


@pytest.mark.parametrize("text, line", [("a:\n\tb: c\n", 2), ("l:\n  - x\n\t- y\n", 3),
                                        ("a:\n  \tb: c\n", 2)])
def test_a_tab_used_for_indentation_is_still_an_error(text, line):
    with pytest.raises(DataError) as info:
        load(text)
    assert str(info.value) == (f"f.yaml:{line}: a tab character is used for indentation; YAML "
                               "needs spaces: replace the tab with spaces")


def test_another_raw_control_character_is_an_error_naming_the_field(data_copy):
    atmp = data_copy / "projects" / "atmp.yaml"
    text = atmp.read_text(encoding="utf-8")
    atmp.write_text(text.replace("short_name: ATMP I&II", "short_name: ATMP\x07I&II"),
                    encoding="utf-8")
    line = text[: text.index("short_name:")].count("\n") + 1
    with pytest.raises(DataErrors) as info:
        load_projects(data_copy)
    assert [str(p) for p in info.value.problems] == [
        f"{atmp}:{line}: short_name: " + CONTROL.format(code=7)]


@pytest.mark.parametrize("text, line, code", [
    ("a: b  # een\x07twee\n", 1, 7),       # in a comment
    ("a: b\n\x00\nc: d\n", 2, 0),           # on a line of its own (a syntax error too)
])
def test_a_raw_control_character_outside_every_value_is_an_error_naming_the_line(text, line,
                                                                                code):
    with pytest.raises(DataError) as info:
        load(text)
    assert str(info.value) == f"f.yaml:{line}: " + CONTROL.format(code=code)


def test_a_raw_control_character_in_a_number_names_the_field():
    assert load("n: 1\x070\n").data == {"n": "1\x070"}  # the number field then refuses it


def test_a_syntax_error_next_to_a_text_tab_is_not_blamed_on_indentation():
    with pytest.raises(DataError) as info:
        load("name: a\tb: c\n")
    assert "mapping values are not allowed" in str(info.value)


# --- a plain document is read from the parser's events, not from composed nodes -----------

ROOT = Path(__file__).resolve().parent.parent

PLAIN_DOCUMENTS = [
    *sorted((ROOT / "data").rglob("*.yaml")),
    "name: x\nempty:\nnull_word: null\ntilde: ~\nquoted: '~'\nlist:\n  - a\n  -\n  - {k: v, n: 1}\n"
    "nested:\n  deeper: [1, 2, [3]]\n  text: >-\n    folded\n    text\n",
    "- one\n- two: 2\n  three: 3\n",
    "just a text\n",
]


@pytest.mark.parametrize("source", PLAIN_DOCUMENTS,
                         ids=lambda s: s.name if isinstance(s, Path) else s[:12])
def test_a_plain_document_is_read_with_the_same_values_and_lines_as_composed(source, monkeypatch):
    """Built from libyaml's events one at a time (a bundle of 10,000 projects held 6 MB of
    nodes), a document has the values and lines the composed nodes give it."""
    import nexusreports.load as load_module

    if load_module._FAST_LOADER is None:
        pytest.skip("PyYAML without libyaml: every document is composed")
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    from_events = load_module._from_events(text, Path("f.yaml"))
    assert from_events is not None  # read from the events, not left to the nodes
    monkeypatch.setattr(load_module, "_from_events", lambda text, path: None)
    composed = parse_yaml(text, Path("f.yaml"))
    assert from_events.data == composed.data
    assert from_events.lines == composed.lines


@pytest.mark.parametrize("text, line, message", [
    ("a: &x 1\nb: *x\n", 2, "anchors and aliases"),
    ("a: 1\na: 2\n", 2, "this field appears twice (first on line 1)"),
    ("figure: {kind: count, value: 21,000}\n", 1, "21,000 is read as two fields"),
    ("a: 1\n<<: {b: 2}\n", 2, "merge keys ('<<') are not allowed"),
    ("a: \"\\ud83d\\ude00\"\n", 1, "one character written as two halves"),
])
def test_what_the_events_do_not_read_is_reported_as_before(text, line, message):
    with pytest.raises(DataError) as caught:
        load(text)
    assert caught.value.problem.line == line
    assert message in caught.value.problem.message
