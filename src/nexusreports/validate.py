"""Stage 2, validate: raw documents -> typed :class:`~nexusreports.model.Project` objects.

In: the ``data/`` folder (``data/projects/<slug>.yaml``).  Out: a
:class:`~nexusreports.model.ProjectSet`, or :class:`~nexusreports.errors.DataErrors` with
*every* problem found in the run, each as ``path:line: field: message``.

Checks, beyond types and ranges: TRL min <= max; start <= end; a flagship's parent exists
and is a programme (no cycles); a programme's ``flagship_total_eur_m`` equals the sum of
its flagships' ``size_eur_m``; every ``{placeholder}`` in prose names a figure of that
project; slugs are valid and unique (also ignoring case); logos are images inside the data
folder; every character can be printed with the sheet's font.
"""

from __future__ import annotations

import calendar
import difflib
import functools
import os
import re
import unicodedata
import warnings as _warnings
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import model as m
from .errors import DataError, DataErrors, Problem
from .load import Loc, RawDocument, dotted, load_yaml
from .spill import Spill

PROJECTS_DIR = "projects"
"""Folder under the data folder that holds one ``<slug>.yaml`` per project."""

MAX_LOGO_BYTES = 5 * 1024 * 1024
"""Largest logo file accepted, in bytes."""

MAX_LOGO_PIXELS = 25_000_000
"""Largest logo accepted, in pixels (width x height), checked before decoding."""

_LANG_NAMES = {"nl": "Dutch", "en": "English"}

TODO = "TODO"
"""The placeholder ``nexusreports new`` writes into every field: a value holding it as a word
is an error ("not filled in"), so a half-filled project file cannot be built."""

_TODO_RE = re.compile(rf"\b{TODO}\b")

_UNITS = {"_eur_m": "in EUR millions", "_pct": "in percent"}


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for obj in vars(m).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            names.update(obj.model_fields)
    names.discard("slug")
    return names


FIELD_NAMES = frozenset(_all_field_names())


def project_files(data_dir: Path) -> list[Path]:
    """The project files of ``data_dir`` (``*.yaml``; never ``*.yml``), sorted by name.

    Raises :class:`DataError` when ``data_dir/projects`` is missing or holds no ``.yaml``
    and no ``.yml`` file, :class:`DataErrors` naming each ``.yml`` file when it holds only
    those.
    """
    folder = Path(data_dir) / PROJECTS_DIR
    return [folder / name for name in _project_names(folder)]


def _project_names(folder: Path) -> list[str]:
    """The names of :func:`project_files` (in ``folder``), as text: a build of 10,000
    projects does not hold a ``Path`` per file.  Sorted as the paths sort (by name)."""
    if not folder.is_dir():
        raise DataError(folder, 0, "", "no such folder: give the data folder with --data "
                        "(it must contain projects/<slug>.yaml), or start a new programme "
                        "folder with 'nexusreports init FOLDER'")
    with os.scandir(folder) as entries:  # Path.suffix == ".yaml": a name before it
        names = sorted(e.name for e in entries
                       if len(e.name) > 5 and e.name.endswith(".yaml") and e.is_file())
    if not names:
        wrong = _yml_problems(folder)
        if wrong:
            raise DataErrors(wrong)
        raise DataError(folder, 0, "", "no project files (*.yaml) here: create one with "
                        "'nexusreports new SLUG'")
    return names


def _yml_problems(folder: Path) -> list[Problem]:
    """A problem for each ``*.yml`` file in ``folder``: project files end in ``.yaml`` (one
    name per project: the build, ``--only`` and the manifest use ``<slug>.yaml``)."""
    out = []
    for path in sorted(p for p in folder.iterdir() if p.suffix == ".yml" and p.is_file()):
        twin = path.with_suffix(".yaml")
        fix = (f"{twin.name} exists too: keep one of them, as {twin.name}" if twin.exists()
               else f"rename it to {twin.name}")
        out.append(Problem(path, 0, "", f"project files end in .yaml and this one is not "
                           f"read: {fix}"))
    return out


def load_projects(data_dir: Path, charset: frozenset[int] | None = None,
                  warnings: list[Problem] | None = None) -> m.ProjectSet:
    """Load, validate and cross-check every project of ``data_dir``.

    ``charset``, when given, is the set of code points the sheet font can print; text with
    another character is an error naming field and character.  Warnings (for example a
    figure no text uses) are appended to ``warnings``.

    Raises :class:`DataErrors` listing every problem, sorted by file and line.
    """
    folder = Path(data_dir) / PROJECTS_DIR
    names = _project_names(folder)  # text, not a Path per file (memory)
    problems: list[Problem] = _yml_problems(folder)
    warnings = warnings if warnings is not None else []
    store: Spill[bytes] = Spill()  # the packed models (memory: not one per project)
    facts = _FactTable(folder, names)  # what the cross-checks need, in a file too
    unreadable: set[str] = set()  # files of which nothing can be read (YAML errors, a list)
    for i, name in enumerate(names):  # one file at a time: its own checks need its YAML
        doc, project = validate_file(folder / name, problems)
        if doc is None or not isinstance(doc.data, dict):
            unreadable.add(name[:-5])
            continue
        fact = _Facts(name[:-5], doc, project)
        _check_project(fact, problems, warnings)  # also files with type errors
        if project is not None:
            _check_logos(project, doc, Path(data_dir), problems)
            if charset is not None:
                _check_charset(project, doc, charset, problems)
            # memory: kept compressed (see ProjectSet), in a file; the cross-checks read
            # the few fields they need from the table (the YAML again if they fail)
            store.append(m.pack_project(project))
            facts.add(i, project=project)
            del project
        else:
            facts.add(i, fact=fact)
        del doc, fact
    _check_slugs(facts, problems)
    _check_relations(facts, problems, unreadable)
    if problems:
        raise DataErrors(list(dict.fromkeys(problems)))
    return m.ProjectSet(packed=facts.packed(store))


def validate_file(path: Path, problems: list[Problem]) -> tuple[RawDocument | None, m.Project | None]:
    """Load and type-check one project file, appending its problems to ``problems``.

    A file that is a link to a file outside its data folder (``path``'s grandparent) is not
    read: no path in the data may lead out of the data folder."""
    if path.is_symlink() and not path.resolve().is_relative_to(path.parent.parent.resolve()):
        problems.append(Problem(path, 0, "", f"this file is a link to {path.resolve()}, outside "
                                "the data folder: copy that file here instead of linking it"))
        return None, None
    try:
        doc = load_yaml(path)
    except DataError as exc:
        problems.append(exc.problem)
        return None, None
    if not isinstance(doc.data, dict):
        problems.append(Problem(path, doc.line_of(()) or 1, "", "a project file must be a "
                                f"mapping of fields such as 'name: ...', not {_shape(doc.data)}: "
                                "write one 'field: value' per line, without '- ' in front; see "
                                "'nexusreports docs'"))
        return doc, None
    data = dict(doc.data)
    if "slug" in data:
        problems.append(Problem(path, doc.line_of(("slug",)), "slug", "the slug is the file "
                                "name; remove this field (rename the file instead)"))
        return doc, None
    data["slug"] = path.stem
    found: list[Problem] = []
    project = None
    try:
        project = m.Project.model_validate(data)
    except ValidationError as exc:
        found = pydantic_problems(exc, doc)
    # every TODO left by 'nexusreports new' at once, also where the type alone is fine
    reported = {p.field for p in found}
    todos = [p for p in _todo_problems(doc.data, (), doc) if p.field not in reported]
    reported |= {p.field for p in todos}
    ambiguous = [p for p in _ambiguous_money(doc.data, (), doc) + _ambiguous_counts(doc.data, doc)
                 if p.field not in reported]
    problems.extend(found + todos + ambiguous)
    return doc, (None if todos or ambiguous else project)


_THOUSANDS_RE = re.compile(r"\+?[1-9]\d{0,2}\.\d{3}")
"""A number such as ``21.200``: a point before exactly three digits, which a Dutch writer
means as a thousands separator (21200) and YAML reads as a decimal point (21.2)."""


def is_ambiguous_money(value: Any) -> bool:
    """True for the text of an amount that reads two ways (``21.200``: 21200 or 21.2).

    >>> [is_ambiguous_money(v) for v in ("21.200", "21.2", "21200", "0.050", "3.910", "+2.250")]
    [True, False, False, False, True, True]
    """
    return isinstance(value, str) and bool(_THOUSANDS_RE.fullmatch(value.strip()))


def _ambiguous_money(value: Any, loc: Loc, doc: RawDocument) -> list[Problem]:
    """A problem for every amount in EUR millions (a field ending in ``_eur_m``) written
    as :func:`is_ambiguous_money`, saying both ways to write it."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _ambiguous_money(v, (*loc, k), doc)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _ambiguous_money(v, (*loc, i), doc)]
    if not (loc and str(loc[-1]).endswith("_eur_m") and is_ambiguous_money(value)):
        return []
    typed = value.strip()
    whole, point = typed.lstrip("+").replace(".", ""), f"{Decimal(typed).normalize():f}"
    return [_problem(doc, loc, f"{typed} is ambiguous: the point may separate thousands or "
                     f"decimals; write {whole} for EUR {int(whole):,} million, or {point} for "
                     f"EUR {point} million (EUR millions are written with no thousands "
                     "separator and a point for decimals)")]


def _ambiguous_counts(data: Any, doc: RawDocument) -> list[Problem]:
    """A problem for every count figure written as ``21.000``: a count has no decimals, so
    the point is a thousands separator, which YAML reads as a decimal point (21)."""
    figures = data.get("figures") if isinstance(data, dict) else None
    if not isinstance(figures, dict):
        return []
    out = []
    for name, figure in figures.items():
        if isinstance(figure, dict) and figure.get("kind") == "count" \
                and is_ambiguous_money(figure.get("value")):
            typed = figure["value"].strip()
            whole = typed.lstrip("+").replace(".", "")
            out.append(_problem(doc, ("figures", name, "value"), f"{typed} is ambiguous: a "
                                f"count is a whole number, so write {whole} for {int(whole):,} "
                                f"(no thousands separator), or {int(Decimal(typed))}"))
    return out


def _todo_problems(value: Any, loc: Loc, doc: RawDocument) -> list[Problem]:
    """A "not filled in yet" problem for every value of ``value`` that holds ``TODO``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _todo_problems(v, (*loc, k), doc)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _todo_problems(v, (*loc, i), doc)]
    if not (isinstance(value, str) and _TODO_RE.search(value)):
        return []
    last = str(loc[-1]) if loc else ""
    if last == "logo":
        how = ("write logos/<file>.png (relative to the data folder), or remove the logo "
               "line")
    elif last in _LANG_NAMES:
        how = f"replace it with the {_LANG_NAMES[last]} text (the comment above says what to write)"
    else:
        how = "replace it with the value the comment on this line describes"
    return [_problem(doc, loc, f"not filled in yet ({value[:40]!r}): {how}")]


def pydantic_problems(exc: ValidationError, doc: RawDocument) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` s with line, field and a fix."""
    out = []
    errors = exc.errors(include_url=False)
    unknown = {_clean_loc(e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    for err in errors:
        loc = _clean_loc(err["loc"])
        field = dotted(loc)
        message = _message(err, loc)
        if err["type"] == "missing" and loc:
            # a required field missing next to an unknown one: most likely a misspelling
            siblings = [u for u in unknown if u[:-1] == loc[:-1]]
            close = difflib.get_close_matches(str(loc[-1]), [str(u[-1]) for u in siblings],
                                              n=1, cutoff=0.6)
            if close:
                line = doc.line_of((*loc[:-1], close[0]))
                message += f"; is '{close[0]}' (line {line}) a misspelling of it?"
        out.append(Problem(doc.path, doc.line_of(loc), field, message))
    return out


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part in m.UNION_TAGS and i > 0 and loc[i - 1] != "figures":
            continue
        out.append(part)
    return tuple(out)


def _message(err: Mapping[str, Any], loc: Loc) -> str:
    kind = err["type"]
    given = err.get("input")
    ctx = err.get("ctx") or {}
    last = loc[-1] if loc else ""
    if kind == "missing":
        if last in _LANG_NAMES:
            return (f"the {_LANG_NAMES[str(last)]} text is missing: add '{last}:' with the "
                    "text in that language")
        return f"this field is required: add '{last}:' (see 'nexusreports docs')"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(last), FIELD_NAMES, n=1, cutoff=0.6)
        if hint:
            return f"unknown field: did you mean '{hint[0]}'?"
        return "unknown field: remove it, or run 'nexusreports docs' for the fields there are"
    if given is None and kind not in ("union_tag_not_found",):
        return "is empty: fill it in"
    if isinstance(given, str) and _TODO_RE.search(given) and kind not in ("union_tag_invalid",):
        return (f"not filled in yet ({given!r}): replace it with {_expected(err, loc)} (see "
                "the comment on this line)")
    if kind == "int_parsing_size":
        return f"{_short(given)} is out of range: it has far too many digits"
    if kind in ("int_parsing", "int_type", "decimal_parsing", "decimal_type", "float_parsing",
                "int_from_float", "decimal_max_places", "finite_number"):
        want = "a whole number" if kind.startswith("int") else "a number"
        return (f"expected {want}, got {_short(given)!r}{_number_hint(given, loc)}"
                f"{_invisible_hint(given)}")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = _bound(ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt")))))
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        upper = kind.startswith("less")
        in_eur_m = _unit(loc) == " (in EUR millions)"
        hint = (" (EUR millions: EUR 10 trillion)" if upper and in_eur_m else
                " (EUR millions: EUR 50,000; a smaller size would print as 0)"
                if in_eur_m and bound == _bound(m.MIN_SIZE_EUR_M) else "")
        return f"{_short(given)} is out of range: it must be {words} {bound}{hint}"
    if kind in ("enum", "literal_error"):
        expected = ctx.get("expected", "")
        return f"unknown value {given!r}: use one of {expected}{_invisible_hint(given)}"
    if kind == "union_tag_invalid":
        return (f"unknown figure kind {ctx.get('tag')!r}: use one of "
                f"{ctx.get('expected_tags')}{_invisible_hint(ctx.get('tag'))}")
    if kind == "union_tag_not_found":
        return "a figure needs 'kind:' (count, number, percent, multiplier, amount or date)"
    if kind == "string_too_short" or (kind == "too_short" and isinstance(given, str)):
        return "is empty: fill it in"
    if kind == "too_short":
        return "needs at least one entry"
    if kind == "string_pattern_mismatch":
        return ("a figure name is lowercase letters, digits and '_', starting with a letter "
                "(e.g. extra_jobs)")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "text_type":
        return ("expected a text, or the text per language as 'nl: ...' and 'en: ...' "
                f"(got {_shape(given)})")
    if kind in ("string_type",):
        return f"expected a text, got {_shape(given)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected fields (a mapping), got {_shape(given)}"
    if kind in ("list_type",):
        return f"expected a list (lines starting with '- '), got {_shape(given)}"
    if kind.startswith("date"):
        unreal = _unreal_date(given)
        if unreal:
            return unreal
        return f"expected a date written as YYYY-MM-DD (e.g. 2025-09-30), got {given!r}"
    return str(err["msg"])


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _unreal_date(given: Any) -> str:
    """The message for a date written as YYYY-MM-DD that does not exist (``2025-02-30``);
    ``""`` for anything else."""
    found = re.fullmatch(r"\s*(\d{4})-(\d{2})-(\d{2})\s*", given) if isinstance(given, str) \
        else None
    if not found:
        return ""
    year, month, day = map(int, found.groups())
    if year == 0:
        why = "there is no year 0000"
    elif not 1 <= month <= 12:
        why = f"there is no month {month:02d} (months run from 01 to 12)"
    else:
        days = calendar.monthrange(year, month)[1]
        if 1 <= day <= days:
            return ""
        why = f"{_MONTHS[month - 1]} {year} has {days} days"
    return f"{given.strip()!r} is not a real date: {why}; correct the day or the month"


def _bound(value: Any) -> str:
    """A range bound from pydantic's context as typed: ``Decimal('1000')`` -> ``1000``."""
    text = str(value)
    found = re.fullmatch(r"Decimal\('(.*)'\)", text)
    return found.group(1) if found else text


def _short(value: Any) -> Any:
    """``value``, or its first and last digits when it is too long to read in a message."""
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:16]}...{value[-8:]} ({len(value)} characters)"
    return value


def _unit(loc: Loc) -> str:
    name = str(loc[-1]) if loc else ""
    for suffix, words in _UNITS.items():
        if name.endswith(suffix):
            return f" ({words})"
    return ""


def _invisible_hint(given: Any) -> str:
    """For a value that holds characters that do not print (a zero-width space, a no-break
    space pasted with the text): which ones, and how to get rid of them."""
    if not isinstance(given, str) or given.isprintable():
        return ""
    return (f"; it holds the invisible {_invisible_names(given)}, which often comes with "
            "copied text: retype the value")


def _number_hint(given: Any, loc: Loc) -> str:
    if not isinstance(given, str):
        return ""
    hints = []
    words = re.findall(r"miljoen|million|mln|mio", given.casefold())
    bare = re.sub(r"€|eur|miljoen|million|mln|mio|\s", "", given.casefold())
    if "%" in given:
        hints.append("leave out the '%' sign: the value is already in percent")
    if "€" in given or "eur" in given.casefold():
        hints.append("leave out the '€' sign: the value is in EUR millions")
    if words and str(loc[-1]).endswith("_eur_m") and not any(ch.isalpha() for ch in bare):
        hints.append(f"leave out '{words[0]}': the value is in EUR millions")
    if "," in given:
        hints.append("write decimals with a point (1.2) and no thousands separators (21200)")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}", bare):
        hints.append(f"write it without thousands separators ({bare.replace('.', '')})")
    elif bare != given.strip() and str(loc[-1]).endswith("_eur_m") and is_ambiguous_money(bare):
        hints.append(f"and {bare} is ambiguous: write {bare.replace('.', '')} if the point "
                     f"separates thousands, or {Decimal(bare).normalize():f} if it is a "
                     "decimal point")
    if re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", given):
        hints.append("write the year only, e.g. 2025")
    elif any(ch.isalpha() for ch in re.sub(r"eur|miljoen|million|mln|mio", "",
                                             given.casefold())):
        hints.append("write it in digits" + (", in EUR millions (e.g. 1200 for 1.2 billion "
                                              "euros)" if str(loc[-1]).endswith("_eur_m") else ""))
    return "; " + "; ".join(hints) if hints else ""


def _expected(err: Mapping[str, Any], loc: Loc) -> str:
    """What a field expects, in words, for the 'not filled in' message."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        return f"one of {ctx.get('expected', '')}"
    if kind.startswith("int"):
        return f"a whole number{_unit(loc)}"
    if kind.startswith(("decimal", "float")):
        return f"a number{_unit(loc)}"
    if kind.startswith("date"):
        return "a date written as YYYY-MM-DD"
    return "the value the comment above it describes"


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping of fields"
    if isinstance(value, list):
        return "a list"
    return repr(value)


# --- cross-checks ---------------------------------------------------------------------------

def _problem(doc: RawDocument, loc: Loc, message: str) -> Problem:
    return Problem(doc.path, doc.line_of(loc), dotted(loc), message)


def iter_texts(project: m.Project) -> Iterator[tuple[Loc, str]]:
    """Every free text of ``project`` with its location, in both languages."""
    def walk(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
        if isinstance(value, str):
            yield loc, value
        elif isinstance(value, m.LocalText):
            for lang in m.LANGS:
                yield (*loc, lang), value.get(lang)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                if name in ("slug", "kind", "parent", "mrl", "logo"):
                    continue
                yield from walk(getattr(value, name), (*loc, name))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                yield from walk(item, (*loc, i))

    yield from walk(project, ())


_UNKNOWN: Any = type("_Unknown", (), {"__repr__": lambda self: "<unknown>"})()
"""A field of a file with problems whose value cannot be read (wrong type, missing, or maybe
misspelt): the cross-checks that need it are skipped, so nothing is reported twice."""

_TEXT_FIELDS = ("name", "short_name", "domain", "subdomain", "summary", "relevance",
                "collaborations", "organisations")
"""The top-level fields that hold prose (where placeholders are looked for)."""


@functools.cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    field = m.Project.model_fields[name]
    if not field.metadata:
        return TypeAdapter(field.annotation)
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)])  # type: ignore[misc]


class _Facts:
    """What one project file says, field by field, for the cross-checks.

    From the validated ``project`` when the file is valid; otherwise each field of the raw
    mapping is validated alone, and :data:`_UNKNOWN` where that fails (or where a missing
    optional field may be one of the file's unknown, perhaps misspelt, fields).  Once its
    own checks are done only the fields :data:`_KEPT` are kept (see :class:`_FactTable`).
    """

    _KEPT = ("kind", "parent", "size_eur_m", "flagship_total_eur_m")
    """What the cross-checks between files read of a file."""

    __slots__ = ("slug", "_project", "_doc", "_path", "_values")

    def __init__(self, slug: str, doc: RawDocument | None, project: m.Project | None, *,
                 path: Path | None = None, values: dict[str, Any] | None = None):
        self.slug = slug
        self._project = project
        self._doc: RawDocument | None = doc
        self._path = doc.path if doc is not None else path
        self._values: dict[str, Any] = {} if values is None else values

    @property
    def project(self) -> m.Project | None:
        """The validated model (None: the file has type errors, or only the kept fields
        are)."""
        return self._project

    @property
    def doc(self) -> RawDocument:
        """The file's document (read again once let go: a problem needs its lines)."""
        if self._doc is None:
            self._doc = load_yaml(self._path)
        return self._doc

    def kept(self) -> "_Facts":
        """This file's facts with only the fields :data:`_KEPT` (the document let go)."""
        values = {name: self.get(name) for name in self._KEPT}
        return _Facts(self.slug, None, None, path=self._path, values=values)

    def get(self, name: str) -> Any:
        """The value of the top-level field ``name``, or :data:`_UNKNOWN`."""
        if name in self._values:
            return self._values[name]
        if self.project is not None:
            return getattr(self.project, name)
        if name not in self._values:
            self._values[name] = self._read(name)
        return self._values[name]

    def _read(self, name: str) -> Any:
        data = self.doc.data
        if name not in data:
            field = m.Project.model_fields[name]
            misspelt = any(key not in m.Project.model_fields for key in data)
            return _UNKNOWN if field.is_required() or misspelt else field.get_default()
        if name.endswith("_eur_m") and is_ambiguous_money(data[name]):
            return _UNKNOWN  # reported as ambiguous; which value is meant is not known
        try:
            return _field_adapter(name).validate_python(data[name])
        except ValidationError:
            return _UNKNOWN

    def texts(self) -> Iterator[tuple[Loc, str]]:
        """Every prose text with its location (raw text when the file has problems)."""
        if self.project is not None:
            yield from iter_texts(self.project)
            return

        def walk(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
            if isinstance(value, str):
                yield loc, value
            elif isinstance(value, dict):
                for key, item in value.items():
                    if key != "logo":
                        yield from walk(item, (*loc, key))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    yield from walk(item, (*loc, i))

        for name in _TEXT_FIELDS:
            if name in self.doc.data:
                yield from walk(self.doc.data[name], (name,))

    def figure_names(self) -> set[str] | None:
        """The names under ``figures:`` (None when they cannot be read)."""
        if self.project is not None:
            return set(self.project.figures)
        figures = self.doc.data.get("figures", _UNKNOWN if "figures" in self.doc.data else {})
        if "figures" not in self.doc.data and any(
                key not in m.Project.model_fields for key in self.doc.data):
            return None  # perhaps a misspelt 'figures:'
        if not isinstance(figures, dict) or not all(
                isinstance(k, str) and _FIGURE_NAME_RE.match(k) for k in figures):
            return None
        return set(figures)


_FIGURE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class _FactTable(Mapping):
    """The cross-check facts (:data:`_Facts._KEPT`) of every readable project file, by
    slug, in file order, without a Python object per file: a valid file's in a file (a
    :class:`~nexusreports.spill.Spill`: nothing per file in memory), a file with problems'
    as its :class:`_Facts` (kept fields only).  A slug is found by bisecting the sorted
    file names, so no mapping of every slug is held; each fact is read back (as a new
    :class:`_Facts`) when a check needs it.  ``names``: the sorted names of the project
    files in ``folder``; a file never added (see :meth:`add`) has no facts (unreadable)."""

    def __init__(self, folder: Path, names: list[str]):
        self.folder, self.names = folder, names
        self._row = array("q", [-1]) * len(names)  # where its facts are; -1 none, -2 _odd
        self._values: Spill[tuple] = Spill()  # (kind, parent, size, total) of valid files
        self._odd: dict[int, _Facts] = {}  # the files with problems

    def add(self, index: int, *, project: m.Project | None = None,
            fact: _Facts | None = None) -> None:
        """The facts of file ``index`` (in :attr:`names`): of its valid ``project``, or
        the kept fields of the ``fact`` of a file with problems."""
        if project is not None:
            self._row[index] = len(self._values)
            self._values.append((project.kind.value, project.parent, project.size_eur_m,
                                 project.flagship_total_eur_m))
        else:
            self._row[index] = -2
            self._odd[index] = fact.kept()  # type: ignore[union-attr]

    def _fact(self, index: int, item: tuple | None = None) -> _Facts:
        row = self._row[index]
        if row == -2:
            return self._odd[index]
        kind, parent, size, total = self._values[row] if item is None else item
        return _Facts(self.names[index][:-5], None, None, path=self.folder / self.names[index],
                      values={"kind": m.Kind(kind), "parent": parent, "size_eur_m": size,
                              "flagship_total_eur_m": total})

    def index(self, slug: str) -> int:
        """The place of the file of ``slug`` in :attr:`names` (-1: none)."""
        name = f"{slug}.yaml"
        i = bisect_left(self.names, name)
        return i if i < len(self.names) and self.names[i] == name else -1

    def valid(self) -> Iterator[int]:
        """The places of the valid files, in order."""
        return (i for i, row in enumerate(self._row) if row >= 0)

    def indexed(self) -> Iterator[tuple[int, _Facts]]:
        """``(place, facts)`` of every readable file, in file order (read in blocks)."""
        values = iter(self._values)
        for i, row in enumerate(self._row):
            if row == -2:
                yield i, self._odd[i]
            elif row >= 0:
                yield i, self._fact(i, next(values))

    def facts(self) -> Iterator[_Facts]:
        """The facts of every readable file, in file order."""
        return (fact for _, fact in self.indexed())

    def at(self, index: int) -> _Facts:
        """The facts of the file at ``index`` (it has some)."""
        return self._fact(index)

    # the Mapping: slug -> facts
    def __getitem__(self, slug: str) -> _Facts:
        i = self.index(slug) if isinstance(slug, str) else -1
        if i < 0 or self._row[i] == -1:
            raise KeyError(slug)
        return self._fact(i)

    def __iter__(self) -> Iterator[str]:
        return (self.names[i][:-5] for i, row in enumerate(self._row) if row != -1)

    def __len__(self) -> int:
        return sum(1 for row in self._row if row != -1)

    def packed(self, store: Sequence[bytes]) -> Iterator[tuple[str, m.Kind, str | None, bytes]]:
        """The valid projects as :class:`~nexusreports.model.ProjectSet` takes them
        (``store``: their packed models, in file order), programmes first, then flagships,
        each by slug."""
        places = array("q", self.valid())
        flagship = m.Kind.flagship.value
        flagships = bytearray(kind == flagship for kind, _, _, _ in self._values)
        slugs = [self.names[i][:-5] for i in places]  # the ProjectSet keeps these
        for group in (0, 1):
            chosen = sorted((k for k in range(len(places))
                             if flagships[self._row[places[k]]] == group), key=slugs.__getitem__)
            for k in chosen:
                row = self._row[places[k]]
                kind, parent, _, _ = self._values[row]
                yield slugs[k], m.Kind(kind), parent, store[row]




def _known(value: Any) -> bool:
    return value is not _UNKNOWN


def _figure_hint(name: str, known: set[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    return (f"did you mean {{{close[0]}}}?" if close else
            f"known figures: {', '.join(names)}" if names else
            "this project defines no figures: add it under 'figures:'")


def _check_project(facts: _Facts, problems: list[Problem], warnings: list[Problem]) -> None:
    """The checks within one file; for a file with problems, those whose values can be read."""
    doc = facts.doc
    trl, period = facts.get("trl"), facts.get("period")
    if _known(trl) and trl.min > trl.max:
        problems.append(_problem(doc, ("trl", "min"), f"TRL min ({trl.min}) is above "
                                 f"TRL max ({trl.max}): min must be <= max"))
    if _known(period) and period.start > period.end:
        problems.append(_problem(doc, ("period", "end"), f"the end year ({period.end}) "
                                 f"is before the start year ({period.start})"))
    kind, parent = facts.get("kind"), facts.get("parent")
    if kind == m.Kind.programme and _known(parent) and parent:
        problems.append(_problem(doc, ("parent",), "a programme has no parent: remove 'parent:' "
                                 "or make this project 'kind: flagship'"))
    total = facts.get("flagship_total_eur_m")
    if kind == m.Kind.flagship and _known(total) and total is not None:
        problems.append(_problem(doc, ("flagship_total_eur_m",), "only a programme states a "
                                 "flagship total: remove this field"))
    figures = facts.get("figures")
    if _known(figures):
        for name, figure in figures.items():
            tiny = _prints_as_zero(figure)
            raw = doc.data.get("figures", {}).get(name, {}).get(tiny[0]) if tiny else None
            if tiny and not is_ambiguous_money(raw):  # an ambiguous amount is reported as such
                field, message = tiny
                shown = raw if isinstance(raw, str) else str(getattr(figure, field))
                problems.append(_problem(doc, ("figures", name, field), "too small to print "
                                         f"with one decimal: {shown} {message}"))
    names = facts.figure_names()
    used: set[str] = set()
    for loc, text in facts.texts():
        for match in m.PLACEHOLDER_RE.finditer(text):
            name = match.group(1)
            used.add(name)
            if names is not None and name not in names:
                problems.append(_problem(doc, loc, f"the placeholder {{{name}}} names no figure "
                                         f"of this project: {_figure_hint(name, names)}"))
        near = set()
        for match in m.NEAR_PLACEHOLDER_RE.finditer(text):
            near.add(match.start())
            if not m.PLACEHOLDER_RE.fullmatch(match.group(0)):
                problems.append(_problem(doc, loc, _mistyped_placeholder(match, names)))
        for match in m.BRACES_RE.finditer(text):  # a figure's name written as words
            key = m.placeholder_key(match["inner"])
            if match.start() not in near and names is not None and key in names:
                problems.append(_problem(doc, loc, f"the placeholder {_shown(match.group(0))} "
                                         "is mistyped (a figure name is one word in lowercase, "
                                         f"joined by '_'): write it as {{{key}}}"))
    if facts.project is not None:
        for name in sorted(set(facts.project.figures) - used):
            warnings.append(_problem(doc, ("figures", name), "this figure is not used by any "
                                     f"text: refer to it as {{{name}}} or remove it"))


_SMALLEST = Decimal("0.05")
"""The smallest size a number printed with one decimal (half up) does not print as 0."""


def _prints_as_zero(figure: m.Figure) -> tuple[str, str] | None:
    """``(field, rest of the message)`` for a figure that is not zero but would print as 0
    with the one decimal figures print with; ``None`` for every other figure."""
    if isinstance(figure, m.AmountFigure):
        billion = figure.scale == "billion"
        value, unit = figure.value_eur_m / (1000 if billion else 1), figure.scale
        if value.is_zero() or abs(value) >= _SMALLEST:
            return None
        fix = ("write 0 if it is nothing, or scale: million" if billion and
               figure.value_eur_m >= _SMALLEST else "write 0 if it is nothing")
        return "value_eur_m", (f"(EUR millions) is less than 0.05 {unit}, so it would print "
                               f"as EUR 0 {unit}: {fix}")
    if isinstance(figure, (m.NumberFigure, m.PercentFigure, m.MultiplierFigure)):
        value = figure.value
        if value.is_zero() or abs(value) >= _SMALLEST:
            return None
        shown = {m.PercentFigure: "0%", m.MultiplierFigure: "0x"}.get(type(figure), "0")
        fix = ("a multiplier must be at least 0.05" if isinstance(figure, m.MultiplierFigure)
               else "write 0, or a value of at least 0.05 (or at most -0.05)")
        return "value", f"would print as {shown}: {fix}"
    return None


def _mistyped_placeholder(match: re.Match[str], names: set[str] | None) -> str:
    """The message for braces that look like a placeholder but are not ``{name}``."""
    name = match["name"]
    reasons = []
    if name != name.lower():
        reasons.append("a figure name is in lowercase")
    if match["lead"] or match["trail"]:
        reasons.append("no spaces inside the braces")
    if "-" in name:
        reasons.append("a figure name joins words with '_', not '-'")
    if match["rest"]:
        reasons.append("nothing after the name: each language formats the figure itself")
    fixed = m.placeholder_key(name).strip("_")
    if fixed != m.placeholder_key(name):
        reasons.append("a figure name starts with a letter")
    message = (f"the placeholder {_shown(match.group(0))} is mistyped "
               f"({'; '.join(reasons)}): write it as {{{fixed or 'name'}}}")
    if names is not None and fixed not in names:
        message += f" (no figure of this project is called '{fixed}': " \
                   f"{_figure_hint(fixed, names)})"
    return message


def _check_slugs(facts: _FactTable, problems: list[Problem]) -> None:
    """Every slug (file name) is valid and differs from the others in more than case: the
    valid files' slugs, or every file's when none is valid."""
    names, folder, row = facts.names, facts.folder, facts._row
    valid = array("q", facts.valid())
    places: Sequence[int] = valid if len(valid) else range(len(names))
    # slugs that are not their own casefold (few: a valid slug is in lowercase), by it: two
    # slugs the same but for case are such a slug and another, or its casefold itself
    folded: dict[str, list[int]] = {}
    for i in places:
        slug = names[i][:-5]
        if not m.SLUG_RE.match(slug):
            problems.append(Problem(folder / names[i], 0, "", f"'{slug}' is not a valid slug "
                                    "(the file name): use lowercase letters, digits and "
                                    "single hyphens, e.g. precision-diagnostics.yaml"))
        key = slug.casefold()
        if key != slug:
            folded.setdefault(key, []).append(i)
    for key, group in folded.items():
        twin = facts.index(key)
        if twin >= 0 and (not len(valid) or row[twin] >= 0):
            group = sorted([*group, twin])
        for i in group[1:]:  # the first of them (in file order) keeps the slug
            problems.append(Problem(folder / names[i], 0, "", f"the slug '{names[i][:-5]}' "
                                    f"is already used by {names[group[0]]} (slugs must differ "
                                    "in more than case): rename one of the files"))


def _check_relations(facts: _FactTable, problems: list[Problem],
                     unreadable: set[str]) -> None:
    """Parent and flagship-total checks, also for files with problems of their own as long
    as the values needed can be read.  ``unreadable`` are slugs of files of which nothing
    can be read: they are not reported as missing parents, and while there are any (or a
    file's kind or parent cannot be read) no flagship total is checked."""
    by_slug = facts  # slug -> facts (read from the table's file)
    lost = False  # a flagship whose parent names no project: whose flagship it is is not known
    for fact in facts.facts():
        if fact.get("kind") != m.Kind.flagship or not _known(fact.get("parent")):
            continue
        parent_slug = fact.get("parent")  # (its document is read only for a problem)
        if not parent_slug:
            problems.append(_problem(fact.doc, ("kind",), "a flagship needs 'parent:' naming its "
                                     "programme (e.g. parent: biotech-nexus)"))
            continue
        if parent_slug == fact.slug:
            problems.append(_problem(fact.doc, ("parent",), "a project cannot be its own parent: "
                                     f"name its programme{_programmes_hint(by_slug)}"))
            continue
        parent = by_slug.get(parent_slug)
        lost = lost or parent is None
        if parent is None and parent_slug in unreadable:
            continue
        if parent is None:
            problems.append(_problem(fact.doc, ("parent",), _no_parent(parent_slug, by_slug)))
        elif _known(parent.get("kind")) and parent.get("kind") != m.Kind.programme:
            cycle = _cycle(fact.slug, by_slug)
            extra = f" (the parents form a cycle: {' -> '.join(cycle)})" if cycle else ""
            problems.append(_problem(fact.doc, ("parent",), f"the parent '{parent_slug}' is a "
                                     f"flagship, not a programme{extra}"))
    if lost or unreadable or any(not _known(f.get("kind")) or (
            f.get("kind") == m.Kind.flagship and not _known(f.get("parent")))
            for f in facts.facts()):
        return  # which projects are whose flagships is not known
    # each flagship under its programme: (programme's place << 32 | its place), sorted,
    # so a programme's flagships are a range in file order (no list per programme)
    links = array("q", sorted(facts.index(f.get("parent")) << 32 | i
                              for i, f in facts.indexed() if f.get("kind") == m.Kind.flagship
                              and isinstance(f.get("parent"), str) and f.get("parent")
                              and facts.index(f.get("parent")) >= 0))
    for i, fact in facts.indexed():
        if fact.get("kind") != m.Kind.programme:
            continue
        flagships = [facts.at(link & 0xFFFFFFFF) for link in
                     links[bisect_left(links, i << 32):bisect_left(links, (i + 1) << 32)]]
        sizes = [f.get("size_eur_m") for f in flagships]
        stated = fact.get("flagship_total_eur_m")
        if not all(map(_known, sizes)) or not _known(stated):
            continue
        total = sum(sizes, Decimal(0))
        if flagships and stated is None:
            problems.append(_problem(fact.doc, ("size_eur_m",), "this programme has flagships "
                                     f"({', '.join(f.slug for f in flagships)}): add "
                                     f"'flagship_total_eur_m: {total}'"))
        parts = " + ".join(f"{size} ({f.slug})" for f, size in zip(flagships, sizes)) \
            or "no flagships"
        if stated is not None and stated != total:
            problems.append(_problem(fact.doc, ("flagship_total_eur_m",), "the stated flagship "
                                     f"total {stated} does not match the flagships' sizes: "
                                     f"{parts} = {total}; correct the total or the flagships' "
                                     "sizes"))
        size = fact.get("size_eur_m")
        if _known(size) and size < total:
            problems.append(_problem(fact.doc, ("size_eur_m",), f"the programme's size {size} "
                                     "is smaller than its flagships' total, which it includes: "
                                     f"{parts if len(sizes) == 1 else f'{parts} = {total}'}; correct the size (in EUR millions) or "
                                     "the flagships' sizes"))


def _no_parent(parent_slug: str, by_slug: Mapping[str, _Facts]) -> str:
    """The message for a parent that names no project: an invisible character in it (a
    zero-width space that came with copied text, say) by name, else the nearest slug."""
    odd = [ch for ch in parent_slug if not ch.isprintable()]
    if odd:
        plain = "".join(ch for ch in parent_slug if ch not in odd)
        shown = list(dict.fromkeys(
            f"U+{ord(ch):04X} ({unicodedata.name(ch, 'no name').lower()})" for ch in odd))
        names = ("character " if len(shown) == 1 else "characters ") + ", ".join(shown)
        fix = (f"retype the value as {plain}" if plain in by_slug else "retype the value: "
               f"a parent is the slug (file name) of a programme{_programmes_hint(by_slug)}")
        return (f"the parent {_shown(parent_slug)} holds the invisible {names}, "
                f"which often comes with copied text: {fix}")
    close = difflib.get_close_matches(parent_slug, list(by_slug), n=1)
    hint = f"did you mean '{close[0]}'?" if close else \
        f"known projects: {', '.join(sorted(by_slug))}"
    return f"no project '{parent_slug}' in the data: {hint}"


def _shown(text: str) -> str:
    """``text`` as typed when it prints on one line, else quoted with escapes."""
    return text if text.isprintable() else repr(text)


def _programmes_hint(by_slug: Mapping[str, _Facts]) -> str:
    names = sorted(s for s, f in by_slug.items() if f.get("kind") == m.Kind.programme)
    return f" ({', '.join(names)})" if names else ""


def _cycle(start: str, by_slug: Mapping[str, _Facts]) -> list[str]:
    path, slug = [start], by_slug[start].get("parent")
    while _known(slug) and slug and slug in by_slug:
        if slug in path:
            return [*path[path.index(slug):], slug]
        path.append(slug)
        slug = by_slug[slug].get("parent")
    return []


def _check_logos(project: m.Project, doc: RawDocument, data_dir: Path,
                 problems: list[Problem]) -> None:
    from PIL import Image  # only when logos are checked

    root = data_dir.resolve()
    for i, org in enumerate(project.organisations):
        if org.logo is None:
            continue
        loc = ("organisations", i, "logo")
        target = (data_dir / org.logo).resolve()
        if Path(org.logo).is_absolute() or not target.is_relative_to(root):
            problems.append(_problem(doc, loc, f"the logo path {org.logo!r} points outside the "
                                     "data folder: put the logo in data/logos/ and write "
                                     "logos/<file>"))
            continue
        if not target.is_file():
            plain = _without_invisible(org.logo)
            hint = ("" if plain == org.logo else
                    f"; the path holds the invisible {_invisible_names(org.logo)}, which often "
                    f"comes with copied text: retype it" + (f" as {plain}" if (
                        data_dir / plain).is_file() else ""))
            problems.append(_problem(doc, loc, f"no such file: "
                                     f"{_shown(org.logo)} (relative to the data folder){hint}"))
            continue
        if target.stat().st_size > MAX_LOGO_BYTES:
            problems.append(_problem(doc, loc, f"the logo is larger than "
                                     f"{MAX_LOGO_BYTES // (1024 * 1024)} MB: save a smaller PNG"))
            continue
        try:
            with _warnings.catch_warnings():  # the pixel limit is checked below, with a fix
                _warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(target) as img:  # reads the header only, never decodes
                    width, height = img.size
                    fmt = img.format
        except Image.DecompressionBombError:
            size = _header_size(target)
            shown = f"is {size[0]} x {size[1]} pixels" if size else \
                f"has more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels"
            problems.append(_problem(doc, loc, f"{_shown(org.logo)} {shown}; a logo may "
                                     f"have at most {MAX_LOGO_PIXELS:,} pixels: scale it down"))
            continue
        except OSError:
            problems.append(_problem(doc, loc, f"{_shown(org.logo)} is not "
                                     "a PNG or JPEG image (or it is damaged): export the logo "
                                     "again as PNG"))
            continue
        if fmt not in ("PNG", "JPEG"):
            problems.append(_problem(doc, loc, f"{_shown(org.logo)} is a "
                                     f"{fmt} image: save it as PNG or JPEG"))
        elif width * height > MAX_LOGO_PIXELS:
            problems.append(_problem(doc, loc, f"{_shown(org.logo)} is "
                                     f"{width} x {height} pixels; a logo may have at most "
                                     f"{MAX_LOGO_PIXELS:,} pixels: scale it down"))
        elif not _decodes(target):
            problems.append(_problem(doc, loc, f"{_shown(org.logo)} cannot be read to the "
                                     f"end: the {fmt} file is damaged or cut off; copy it "
                                     "again, or export the logo again as PNG"))


def _decodes(path: Path) -> bool:
    """Whether the image at ``path`` decodes to the end (a file cut off in copying, or
    damaged, has a good header and fails only here).  Called once its header has passed
    the size checks, so a decompression bomb is never decoded."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    return True


def _header_size(path: Path) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG from its header, never decoded and without Pillow's
    decompression-bomb check (``Image.open`` refuses to report the size of a huge image);
    ``None`` for another format or a damaged file."""
    from PIL import JpegImagePlugin, PngImagePlugin

    for kind in (PngImagePlugin.PngImageFile, JpegImagePlugin.JpegImageFile):
        try:
            with kind(path) as img:
                return img.size
        except (OSError, SyntaxError, ValueError):
            continue
    return None


def _check_charset(project: m.Project, doc: RawDocument, charset: frozenset[int],
                   problems: list[Problem]) -> None:
    for loc, text in iter_texts(project):
        missing = sorted({ch for ch in text if ch != "\n" and ord(ch) not in charset})
        if missing:
            shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing[:5])
            problems.append(_problem(doc, loc, f"the sheet font cannot print {shown}: replace "
                                     "or remove the character"))


# --- the bundle configuration ---------------------------------------------------------------

BUNDLE_FILE = "bundle.yaml"
"""The bundle configuration, in the data folder."""


def bundle_path(data_dir: Path) -> Path:
    """``data_dir/bundle.yaml``."""
    return Path(data_dir) / BUNDLE_FILE


def load_bundle(data_dir: Path, projects: m.ProjectSet | list[str]) -> m.BundleConfig:
    """Load and check ``data_dir/bundle.yaml`` against ``projects`` (validated, or just their
    slugs when some project files have problems of their own).

    Besides types (title/subtitle per language, a YYYY-MM-DD date, ``arrangement``
    by-language or by-project) ``order`` must name every project exactly once.

    Raises :class:`DataError` when the file cannot be read or parsed, and
    :class:`DataErrors` with every problem as ``data/bundle.yaml:LINE: field: message``.
    """
    doc = load_yaml(bundle_path(data_dir))
    if not isinstance(doc.data, dict):
        raise DataErrors([Problem(doc.path, doc.line_of(()) or 1, "", "the bundle file must be "
                                  "a mapping of fields such as 'title: ...', not "
                                  f"{_shape(doc.data)}; see 'nexusreports docs'")])
    problems: list[Problem] = []
    config = None
    try:
        config = m.BundleConfig.model_validate(doc.data)
        order: Iterable[tuple[int, str]] = enumerate(config.order)  # (not a list of pairs)
    except ValidationError as exc:
        problems += pydantic_problems(exc, doc)
        # the order's own mistakes in the same run as (say) a mistyped date or an empty
        # entry: every entry that can be read is checked
        order = _readable_order(doc.data.get("order"), {p.field for p in problems})
    # each project's place (not a set of every slug, nor a scan of them per entry)
    known: Sequence[str]
    if isinstance(projects, list):
        known = projects
        place = {slug: k for k, slug in enumerate(known)}.get
    else:
        known, place = projects.slugs, projects.place
    listed = bytearray(len(known))  # whether each project is in the order yet
    others: set[str] = set()  # the entries that name no project
    meant: set[str] = set()  # projects an entry seems to misspell: "add" would list them twice
    entries = 0  # read (an order none of whose entries can be read asks for none to be added)
    for i, slug in order:
        entries += 1
        k = place(slug)
        if (slug in others) if k is None else listed[k]:
            problems.append(_problem(doc, ("order", i), f"'{slug}' is listed twice: list each "
                                     "project once"))
        elif k is None:
            plain = _without_invisible(slug)
            close = difflib.get_close_matches(plain, known, n=1)
            meant.update(close)
            if plain != slug:
                fix = (f"retype the entry as {plain}" if plain in known
                       else f"retype the entry: known projects: {', '.join(known)}")
                message = (f"the entry {_shown(slug)} holds the invisible "
                           f"{_invisible_names(slug)}, which often comes with copied text: {fix}")
            else:
                hint = (f"did you mean '{close[0]}'?" if close
                        else f"known projects: {', '.join(known)}")
                message = f"no project '{slug}' in the data: {hint}"
            problems.append(_problem(doc, ("order", i), message))
        if k is None:
            others.add(slug)
        else:
            listed[k] = 1
    missing = [slug for k, slug in enumerate(known) if not listed[k] and slug not in meant]
    if missing and entries:
        problems.append(_problem(doc, ("order",), "the bundle holds every project: add "
                                 + ", ".join(f"'- {s}'" for s in missing) + " to the order"))
    if problems or config is None:
        raise DataErrors(problems)
    return config


def _readable_order(raw: Any, reported: set[str]) -> list[tuple[int, str]]:
    """The entries of the bundle's ``order`` (index, slug) that are readable texts, when
    validation failed: none if the order itself is wrong (not a list, empty)."""
    if not isinstance(raw, list) or "order" in reported:
        return []
    out = []
    for i, entry in enumerate(raw):
        if f"order.{i}" in reported:
            continue
        try:
            out.append((i, _bundle_entry.validate_python(entry)))
        except ValidationError:  # pragma: no cover - reported by the model already
            continue
    return out


def _without_invisible(text: str) -> str:
    """``text`` without the characters that do not print (a zero-width joiner, say)."""
    return "".join(ch for ch in text if ch.isprintable())


def _invisible_names(text: str) -> str:
    """'character U+200C (zero width non-joiner)' for each character of ``text`` that does
    not print."""
    shown = list(dict.fromkeys(f"U+{ord(ch):04X} ({unicodedata.name(ch, 'no name').lower()})"
                               for ch in text if not ch.isprintable()))
    return ("character " if len(shown) == 1 else "characters ") + ", ".join(shown)


_bundle_entry: TypeAdapter[str] = TypeAdapter(m.NonEmptyStr)
"""The type of one entry of the bundle's ``order``."""
