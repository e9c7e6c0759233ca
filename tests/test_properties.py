"""Property-based: generated project files, valid and invalid, with arbitrary Unicode.

A valid file builds, or reports a clean :class:`ContentOverflow`; an invalid one raises
:class:`DataErrors` whose every line is ``path:line: ...``; and the CLI exits 1 printing only
such lines.  Nothing ever raises anything else.  Examples are kept few so the suite stays
fast; Hypothesis keeps failures in its database and replays them first.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusreports import model as m
from nexusreports.cli import main
from nexusreports.errors import ContentOverflow, DataErrors, ErrorGroup
from nexusreports.pipeline import BuildOptions, build
from nexusreports.theme import load_theme
from nexusreports.validate import load_projects

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CHARSET = load_theme(TEMPLATES).charset  # what `check` uses, read once for speed

# Text the sheet font can print: Latin letters with accents, digits, punctuation, € and
# typographic quotes, and markup-like characters that must print literally.
PRINTABLE = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789 .,;:!?'\"()-–/&<>{}[]%€éëïöüçñÉ’“”\n")),
    min_size=1, max_size=120,
).filter(lambda s: s.strip() and not re.search(r"\{[a-z][a-z0-9_]*\}", s)
         and not m.NEAR_PLACEHOLDER_RE.search(s)  # '{A}', '{ a }': a mistyped placeholder
         and "TODO" not in s)
# Anything at all, except what cannot be in a UTF-8 file (lone surrogates).
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), ANY_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(ANY_TEXT, inner, max_size=3)),
    max_leaves=6,
)


def local(text=PRINTABLE):
    return st.fixed_dictionaries({"nl": text, "en": text})


def text_field(text=PRINTABLE):
    return st.one_of(text, local(text))


@st.composite
def valid_projects(draw, text=PRINTABLE):
    """A valid programme (no flagships), as plain Python data."""
    start = draw(st.integers(1990, 2100))
    trl_min = draw(st.integers(1, 9))
    preconditions = {
        group: {item: draw(st.sampled_from([r.value for r in m.Relevance]))
                for item in field.annotation.model_fields}
        for group, field in m.Preconditions.model_fields.items()
    }
    collaboration = st.fixed_dictionaries({"text": text_field(text)},
                                          optional={"label": text_field(text)})
    return {
        "kind": "programme",
        "name": draw(text_field(text)),
        "domain": draw(text_field(text)),
        "subdomain": draw(text_field(text)),
        "summary": draw(local(text)),
        "relevance": draw(local(text)),
        "collaborations": {"national": draw(st.lists(collaboration, min_size=1, max_size=3)),
                           "european": draw(st.lists(collaboration, min_size=1, max_size=3))},
        "period": {"start": start, "end": draw(st.integers(start, 2150))},
        "size_eur_m": str(draw(st.decimals("0.1", "100000", places=1))),
        "shares": {"capital_pct": draw(st.integers(0, 100)),
                   "public_pct": str(draw(st.decimals(0, 100, places=2)))},
        "trl": {"min": trl_min, "max": draw(st.integers(trl_min, 9))},
        "mrl": draw(st.sampled_from([s.value for s in m.MrlStage])),
        "preconditions": preconditions,
        "organisations": draw(st.lists(st.fixed_dictionaries({"name": text}), max_size=3)),
    }


def paths_into(data, prefix=()):
    """Every location in ``data`` (mapping keys and list indices)."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths_into(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from paths_into(value, (*prefix, i))


@st.composite
def invalid_projects(draw):
    """A valid programme with one place replaced by junk, or a junk field added."""
    data = draw(valid_projects())
    locations = [p for p in paths_into(data) if p]
    where = draw(st.sampled_from(locations))
    junk = draw(JUNK)
    target = data
    for part in where[:-1]:
        target = target[part]
    if draw(st.booleans()):
        target[where[-1]] = junk
    else:
        data[draw(ANY_TEXT.filter(lambda k: k not in data))] = junk
    return data


def write(folder: Path, data) -> Path:
    path = folder / "projects" / "generated.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def assert_clean_problems(exc: DataErrors, path: Path) -> None:
    for line in exc.lines():
        assert line.startswith(f"{path}:") or line.startswith(f"{path.resolve()}:")
        assert re.match(r"^.+?:\d+: ", line), line
        assert "\n" not in line and "\r" not in line


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(valid_projects())
def test_a_valid_file_builds_or_reports_a_clean_overflow(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        write(folder, data)
        try:
            result = build(BuildOptions(data_dir=folder, templates_dir=TEMPLATES,
                                        out_dir=Path(tmp) / "out", formats=("pdf",),
                                        bundle=False, jobs=1))
        except ErrorGroup as exc:
            assert all(isinstance(e, ContentOverflow) for e in exc.errors), exc.lines()
            assert all(" mm " in line for line in exc.lines())
            return
        assert sorted(o.path for o in result.outputs) == ["en/generated.pdf",
                                                          "nl/generated.pdf"]


@SETTINGS
@given(invalid_projects())
def test_an_invalid_file_gives_path_line_problems_and_nothing_else(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        path = write(folder, data)
        try:
            load_projects(folder, CHARSET)
        except DataErrors as exc:
            assert_clean_problems(exc, path)
        # (junk can happen to be valid, e.g. an optional label replaced by a text)


@SETTINGS
@given(valid_projects(text=ANY_TEXT.filter(lambda s: s.strip())))
def test_arbitrary_unicode_text_is_accepted_or_named_never_a_crash(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        path = write(folder, data)
        try:
            load_projects(folder, CHARSET)
        except DataErrors as exc:
            assert_clean_problems(exc, path)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=400))
def test_any_file_content_is_refused_with_a_line_or_accepted(text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        path = folder / "projects" / "generated.yaml"
        path.parent.mkdir(parents=True)
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["validate", "--data", str(folder), "--templates", str(TEMPLATES)])
        assert code == 1
        lines = err.getvalue().splitlines()
        assert lines
        for line in lines:
            assert (re.match(rf"^{re.escape(str(path))}:\d+: ", line)
                    or re.match(r"^\d+ problems in the data\.$", line)), line
