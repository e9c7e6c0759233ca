"""The typed project model: what one project file means, with no I/O and no formatting.

Units are in the names: money is ``Decimal`` in EUR millions (``size_eur_m``), shares are
percentages 0-100 (``capital_pct``), years are calendar years.  Free text is either
language-neutral (a plain string: names of organisations and programmes) or given per
language (:class:`LocalText`, Dutch ``nl`` and English ``en``, both required).

Text fields hold the text exactly as typed after :func:`clean_text`: line endings made
``\\n``, a vertical tab (Word's manual line break), form feed and U+2028 made ``\\n``,
U+2029 made a paragraph break ``\\n\\n``, a tab made a space, the
invisible formatting characters Word and e-mail paste (soft hyphen, zero-width space, word
joiner) dropped, Unicode hyphens made ``-``; every other control character and U+FFFD (the
mark of text damaged in copying) is refused.

Numbers are finite and bounded (see the ``MAX_*`` constants and docs/data-format.md), so
every value the model allows can be formatted; a negative zero (``-0``, ``-0.0``) is made 0,
so nothing prints as "-0%".

Every field's ``description`` is the one text that says what it is, its unit and its
allowed values: ``nexusreports schema`` puts it in the JSON Schema (an editor shows it),
``nexusreports new`` writes it as the field's comment and docs/data-format.md's field table
is generated from it (a test holds the document to it), so the three cannot drift.

This module imports nothing of ours (but :mod:`nexusreports.spill`, where a
:class:`ProjectSet` keeps its projects); the validate stage turns pydantic's errors into
messages with file and line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
import re
import unicodedata
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, BinaryIO, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

if TYPE_CHECKING:
    from .spill import Texts

LANGS: tuple[str, ...] = ("nl", "en")
"""The languages every text is given in, in bundle order."""

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""A project slug: lowercase letters and digits in words joined by single hyphens."""

PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
"""A figure placeholder in prose: ``{name}``."""

NEAR_PLACEHOLDER_RE = re.compile(
    r"(?<![{$])\{(?P<lead>\s*)(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-+[A-Za-z0-9_]+)*)"
    r"(?P<trail>\s*)(?P<rest>[:!\[.][^{}\n]*)?\}(?!\})")
"""Braces that look like a placeholder: one identifier-like name (perhaps in capitals or
with hyphens, ``{extra-jobs}``), with spaces, a format (``:,``), conversion (``!r``), index
(``[0]``) or attribute (``.x``).  When such a match is not exactly ``{name}`` it is a
mistyped placeholder (a validation error), never literal text.  Double braces and ``${...}``
belong to other template languages and braces around anything else (``{{ 7*7 }}``,
``${ x }``, ``{% if %}``, ``{0}``, ``{}``) are literal text, unless they hold a figure's name
written as words (:data:`BRACES_RE`, :func:`placeholder_key`)."""

BRACES_RE = re.compile(r"(?<![{$])\{(?P<inner>[^{}\n]*)\}(?!\})")
"""Single braces around anything on one line (not ``{{...}}``, not ``${...}``): literal
text, unless :func:`placeholder_key` of the inside names a figure (``{Extra Jobs}``)."""


def placeholder_key(inner: str) -> str:
    """What the inside of braces would be as a figure name: lowercase, trimmed, every run
    of spaces and hyphens one ``_``.

    >>> placeholder_key(" Extra Jobs "), placeholder_key("extra-jobs"), placeholder_key("7*7")
    ('extra_jobs', 'extra_jobs', '7*7')
    """
    return re.sub(r"[\s-]+", "_", inner.strip().lower())

MAX_EUR_M = Decimal(10_000_000)
"""Largest amount, in EUR millions (EUR 10 trillion): sizes, totals, amount figures."""

MIN_SIZE_EUR_M = Decimal("0.05")
"""Smallest project size, in EUR millions (EUR 50,000): smaller prints as "€ 0 miljoen"."""

MAX_FIGURE_PCT = Decimal(1000)
"""Percent figures lie within -1000..1000 (shares are 0-100)."""

MAX_MULTIPLIER = Decimal(1000)
"""Largest multiplier figure (1000x)."""

MAX_COUNT = 10**12
"""Largest count figure (a million million)."""

MAX_NUMBER = Decimal(10**12)
"""Number figures lie within -10**12..10**12."""

MIN_YEAR, MAX_YEAR = 1900, 2200
"""Years of a project's period lie within these, inclusive."""

_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\v": "\n", "\u2028": "\n", "\u2029": "\n\n",
                "\x85": "\n", "\f": "\n"}

PASTED_CHARS: dict[str, str] = {
    "\u00ad": "",   # soft hyphen: the sheets hyphenate by themselves
    "\u200b": "",   # zero-width space
    "\u2060": "",   # word joiner
    "\ufeff": "",   # zero-width no-break space (a byte-order mark inside the text)
    "\u2010": "-",  # hyphen: the sheet font has only the plain hyphen-minus
    "\u2011": "-",  # non-breaking hyphen (Word's Ctrl+Shift+-)
}
"""Invisible or font-less characters that text pasted from Word or e-mail carries, and what
:func:`clean_text` makes of them (the same in the PDF and the Word sheet)."""

_PASTED = str.maketrans(PASTED_CHARS)


class TextProblem(ValueError):
    """A character that cannot be printed; ``char`` is the offending character."""

    def __init__(self, char: str, message: str):
        self.char = char
        super().__init__(message)


def clean_text(value: str) -> str:
    r"""Normalise typed text, or refuse it.

    >>> clean_text("Regel een\vRegel twee\tklaar")
    'Regel een\nRegel twee klaar'
    >>> clean_text("gezond\u00adheids\u200bzorg, COVID\u201119")
    'gezondheidszorg, COVID-19'

    Soft hyphens, zero-width spaces, word joiners and U+FEFF are dropped; U+2010 and the
    non-breaking hyphen U+2011 become ``-`` (:data:`PASTED_CHARS`); the ends are stripped.
    Raises :class:`TextProblem` for U+FFFD and for control characters other than line
    breaks and tabs (NUL, escape, ...), naming the character.  Text is NFC-normalised, so a
    letter typed as base + combining accent prints as one glyph.
    """
    for old, new in _LINE_BREAKS.items():
        value = value.replace(old, new)
    value = value.replace("\t", " ").translate(_PASTED).strip()
    for ch in value:
        if ch == "\ufffd":
            raise TextProblem(ch, "contains U+FFFD, the replacement character left by a broken "
                              "copy (often a lost bullet or euro sign): retype that character")
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            raise TextProblem(ch, f"contains the control character U+{ord(ch):04X}, which "
                              "cannot be printed: delete it (it often comes from copying out "
                              "of Word or e-mail)")
    return unicodedata.normalize("NFC", value)


CleanStr = Annotated[str, AfterValidator(clean_text)]
NonEmptyStr = Annotated[CleanStr, Field(min_length=1)]


def _no_minus_zero(value: Decimal) -> Decimal:
    """``-0`` and ``-0.0`` as ``0``/``0.0`` (pydantic has already refused NaN and infinity)."""
    return abs(value) if value.is_zero() else value


Dec = Annotated[Decimal, AfterValidator(_no_minus_zero)]
"""A finite decimal with no negative zero; bounds are added where it is used."""


class _Model(BaseModel):
    # cache_strings off: pydantic-core would otherwise keep up to 16,384 of the texts it
    # stripped (about 1 MB), which fills with the slugs and names of more projects, so
    # the memory of validation grew with them up to that bound
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              cache_strings=False)


class LocalText(_Model):
    """The same text in Dutch (``nl``) and English (``en``); both are required."""

    nl: Annotated[NonEmptyStr, Field(description="Dutch text")]
    en: Annotated[NonEmptyStr, Field(description="English text")]

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``"nl"`` or ``"en"``)."""
        return getattr(self, lang)


def _text_tag(value: object) -> str | None:
    if isinstance(value, str):
        return "plain"
    if isinstance(value, dict):
        return "local"
    return None


Text = Annotated[
    Union[Annotated[NonEmptyStr, Tag("plain")], Annotated[LocalText, Tag("local")]],
    Discriminator(_text_tag, custom_error_type="text_type",
                  custom_error_message="expected a text, or its nl: and en: texts"),
]
"""Language-neutral text (a plain string) or text per language."""

UNION_TAGS = frozenset({"plain", "local", "count", "number", "percent", "multiplier", "amount",
                        "date"})
"""Tags pydantic puts into error locations for the unions above (dropped from messages)."""


def text_in(text: Text, lang: str) -> str:
    """``text`` in ``lang``: a plain string is the same in every language."""
    return text if isinstance(text, str) else text.get(lang)


class Kind(StrEnum):
    """A programme groups flagships; a flagship belongs to one programme."""

    programme = "programme"
    flagship = "flagship"


class MrlStage(StrEnum):
    """Market Readiness Level stage, as the original sheets name it."""

    exploration = "exploration"  # nl: Verkenning
    partly_operational = "partly-operational"  # nl: Deels operationeel
    operational = "operational"  # nl: Operationeel


class Relevance(StrEnum):
    """How relevant a precondition is to a project; ``not-assessed`` when nobody said."""

    relevant = "relevant"
    less_relevant = "less-relevant"
    not_assessed = "not-assessed"


NA = Relevance.not_assessed

RELEVANCE_VALUES = ", ".join(r.value for r in Relevance)

_ITEM = f"one of: {RELEVANCE_VALUES} (not-assessed when nobody has judged it yet)"


def _item() -> Relevance:
    """A preconditions item: ``not-assessed`` when left out."""
    return Field(NA, description=_ITEM)  # type: ignore[return-value]


class Infrastructure(_Model):
    digital_infrastructure: Relevance = _item()
    spatial_constraints: Relevance = _item()
    nitrogen_space: Relevance = _item()
    test_capacity: Relevance = _item()


class Energy(_Model):
    grid_congestion: Relevance = _item()
    energy_costs: Relevance = _item()


class Talent(_Model):
    labour_shortage: Relevance = _item()
    talent: Relevance = _item()


class Regulation(_Model):
    permits: Relevance = _item()
    regulation: Relevance = _item()
    regulatory_burden: Relevance = _item()


class Other(_Model):
    taxation: Relevance = _item()
    financing: Relevance = _item()
    launching_customer: Relevance = _item()
    certification: Relevance = _item()
    other: Relevance = _item()


_GROUP = "group of preconditions"


class Preconditions(_Model):
    """The preconditions matrix (nl: Randvoorwaarden): five groups of items, each rated."""

    infrastructure: Infrastructure = Field(Infrastructure(), description=_GROUP)
    energy: Energy = Field(Energy(), description=_GROUP)
    talent: Talent = Field(Talent(), description=_GROUP)
    regulation: Regulation = Field(Regulation(), description=_GROUP)
    other: Other = Field(Other(), description=_GROUP)


class Period(_Model):
    """Start and end year of the project, inclusive (e.g. 2025-2035)."""

    start: Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, description=(
        f"first year, a whole number {MIN_YEAR}-{MAX_YEAR}, e.g. 2025"))]
    end: Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, description=(
        f"last year, a whole number {MIN_YEAR}-{MAX_YEAR}, at least start, e.g. 2035"))]


Pct = Annotated[Dec, Field(ge=0, le=100)]


class Shares(_Model):
    """How the project size splits, in percent of the total.

    ``capital_pct`` is the capital (investment) share; R&D is ``100 - capital_pct``.
    ``public_pct`` is the public share; private is ``100 - public_pct``.
    """

    capital_pct: Annotated[Pct, Field(description="capital share in percent, a number 0-100; "
                                      "R&D is 100 minus this")]
    public_pct: Annotated[Pct, Field(description="public share in percent, a number 0-100; "
                                     "private is 100 minus this")]

    @property
    def rnd_pct(self) -> Decimal:
        return 100 - self.capital_pct

    @property
    def private_pct(self) -> Decimal:
        return 100 - self.public_pct


class TrlRange(_Model):
    """Technology Readiness Level range, 1 <= min <= max <= 9."""

    min: Annotated[int, Field(ge=1, le=9, description="lowest TRL, a whole number 1-9")]
    max: Annotated[int, Field(ge=1, le=9, description="highest TRL, a whole number 1-9, at "
                                                      "least min")]


class Organisation(_Model):
    """An involved company or institution; ``logo`` is a path relative to the data folder."""

    name: NonEmptyStr = Field(description="its name, printed under the logo")
    logo: NonEmptyStr | None = Field(None, description=(
        "optional: a PNG or JPEG file inside the data folder, written relative to it (e.g. "
        "logos/acme.png); leave the line out if there is none"))


class Collaboration(_Model):
    """One entry of a collaborations block: an optional group label and its text.

    E.g. label "NGF projecten" / "NGF projects" and text "Biotech Booster, PharmaNL, ...".
    """

    label: Text | None = Field(None, description=(
        "optional group label, printed in bold before the text (e.g. NGF projecten / NGF "
        "projects): one text for both languages, or nl: and en: texts"))
    text: Text = Field(description="the collaborations: one text for both languages, or nl: "
                                   "and en: texts")


class Collaborations(_Model):
    """Links to Dutch (``national``) and European (``european``) collaborations."""

    national: Annotated[list[Collaboration], Field(min_length=1, description=(
        "links to Dutch collaborations: a list of one or more entries, each a text and an "
        "optional label; two or more print as a bullet list"))]
    european: Annotated[list[Collaboration], Field(min_length=1, description=(
        "links to European collaborations: a list of one or more entries, each a text and an "
        "optional label; two or more print as a bullet list"))]


Amount = Annotated[Dec, Field(ge=0, le=MAX_EUR_M)]
"""Money in EUR millions, 0 to :data:`MAX_EUR_M` (EUR 10 trillion)."""


class CountFigure(_Model):
    """A whole count such as jobs or fte, 0 to 10**12: nl "21.000", en "21,000"."""

    kind: Literal["count"] = Field(description="the kind of figure")
    value: Annotated[int, Field(ge=0, le=MAX_COUNT, description=(
        "a whole number, 0 to 10^12 (1000000000000)"))]


class NumberFigure(_Model):
    """A plain decimal number, -10**12 to 10**12: nl "12,6", en "12.6"."""

    kind: Literal["number"] = Field(description="the kind of figure")
    value: Annotated[Dec, Field(ge=-MAX_NUMBER, le=MAX_NUMBER, description=(
        "a number, -10^12 to 10^12"))]


class PercentFigure(_Model):
    """A percentage, given in percent (``1.2`` means 1,2%), -1000 to 1000."""

    kind: Literal["percent"] = Field(description="the kind of figure")
    value: Annotated[Dec, Field(ge=-MAX_FIGURE_PCT, le=MAX_FIGURE_PCT, description=(
        f"in percent (1.2 means 1,2%), a number -{MAX_FIGURE_PCT} to {MAX_FIGURE_PCT}"))]


class MultiplierFigure(_Model):
    """A multiplier such as 2,5x: more than 0, at most 1000."""

    kind: Literal["multiplier"] = Field(description="the kind of figure")
    value: Annotated[Dec, Field(gt=0, le=MAX_MULTIPLIER, description=(
        f"a number more than 0, at most {MAX_MULTIPLIER} (2.5 means 2,5x)"))]


class AmountFigure(_Model):
    """Money in EUR millions, printed in millions or billions (``scale``)."""

    kind: Literal["amount"] = Field(description="the kind of figure")
    value_eur_m: Amount = Field(description=(
        f"in EUR millions, a number 0 to {MAX_EUR_M} (EUR 10 trillion)"))
    scale: Literal["million", "billion"] = Field("million", description=(
        "printed in million (the default) or billion"))


class DateFigure(_Model):
    """A calendar date, printed short (nl "30-09-2025") or long (nl "30 september 2025")."""

    kind: Literal["date"] = Field(description="the kind of figure")
    value: dt.date = Field(description="a real date, written YYYY-MM-DD")
    style: Literal["short", "long"] = Field("short", description=(
        "printed short (the default; nl 30-09-2025) or long (nl 30 september 2025)"))


Figure = Annotated[
    Union[CountFigure, NumberFigure, PercentFigure, MultiplierFigure, AmountFigure, DateFigure],
    Field(discriminator="kind"),
]

FigureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Project(_Model):
    """One project sheet: a programme or one of its flagships.

    ``slug`` is the data file's stem; it is not written in the file.  Money is in EUR
    millions: ``size_eur_m`` the whole project, ``flagship_total_eur_m`` (programmes only)
    the stated total of its flagships, which must equal the sum of their sizes.
    """

    slug: str = Field(description="the data file's name without .yaml; not written in the "
                                  "file")
    kind: Kind = Field(description=(
        "programme or flagship: a programme groups flagships, a flagship belongs to one "
        "programme"))
    parent: str | None = Field(None, description=(
        "flagships only: the programme it belongs to, its file name without .yaml; it must "
        "exist and be a programme"))
    name: Text = Field(description=(
        "the project's full name, the sheet's title: one text for both languages, or nl: and "
        "en: texts"))
    short_name: Text | None = Field(None, description=(
        "optional shorter name for the header and footer, e.g. ATMP I&II (leave the line out "
        "if there is none: name is used). For a flagship the sheet adds its programme itself "
        "(\"Flagship Biotech Nexus: ATMP I&II\", \"Biotech Nexus flagship: ATMP I&II\"): do "
        "not type that part"))
    domain: Text = Field(description=(
        "the domain (Domein), e.g. Life sciences en Biotech: one text for both languages, or "
        "nl: and en: texts"))
    subdomain: Text = Field(description=(
        "the sub-domain (Sub-domein), e.g. Diagnostiek / Diagnostics: one text for both "
        "languages, or nl: and en: texts"))
    summary: LocalText = Field(description=(
        "the lead paragraph, 3-6 sentences, in nl: and en:; a blank line starts a new "
        "paragraph"))
    relevance: LocalText = Field(description=(
        "strategic relevance and societal benefits (Strategische relevantie en "
        "maatschappelijke baten), in nl: and en:"))
    collaborations: Collaborations = Field(description=(
        "links to other collaborations (Koppeling aan Nederlandse / Europese "
        "samenwerkingen): two lists, national and european"))
    period: Period = Field(description=(
        "the project's timeline (Tijdlijn): calendar years, inclusive; end >= start; a "
        "period of one year (start = end) prints as that year alone"))
    size_eur_m: Annotated[Dec, Field(ge=MIN_SIZE_EUR_M, le=MAX_EUR_M, description=(
        f"project size (Projectomvang) in EUR millions, a number from {MIN_SIZE_EUR_M} (EUR "
        f"50,000) to {MAX_EUR_M} (EUR 10 trillion): 460 means EUR 460 million; no thousands "
        "separators (21200, not 21.200)"))]
    flagship_total_eur_m: Amount | None = Field(None, description=(
        f"programmes only: the stated total of the flagships, in EUR millions, a number 0 to "
        f"{MAX_EUR_M}; it must equal the sum of their size_eur_m, and the programme's own "
        f"size_eur_m (which includes them) may not be smaller. Leave it out while the "
        f"programme has no flagships"))
    shares: Shares = Field(description="how the size splits, in percent")
    trl: TrlRange = Field(description=(
        "Technology Readiness Level range: whole numbers 1-9, min <= max"))
    mrl: MrlStage = Field(description=(
        f"Market Readiness Level stage, one of: {', '.join(s.value for s in MrlStage)} "
        "(Verkenning, Deels operationeel, Operationeel)"))
    preconditions: Preconditions = Field(Preconditions(), description=(
        "the preconditions matrix (Randvoorwaarden): five groups of items, each one of: "
        f"{RELEVANCE_VALUES}; items left out are not-assessed"))
    organisations: list[Organisation] = Field([], description=(
        "involved companies and institutions (Betrokken bedrijven en instellingen): a list "
        "of entries, each a name and an optional logo; [] for none"))
    figures: dict[FigureName, Figure] = Field({}, description=(
        "key figures the texts mention as {name}, so each language prints the number in its "
        "own format: a mapping of names (lowercase letters, digits and _, starting with a "
        "letter) to figures of kind count, number, percent, multiplier, amount or date"))

    def display_short_name(self, lang: str) -> str:
        """``short_name`` in ``lang``, or ``name`` when there is no short name."""
        return text_in(self.short_name or self.name, lang)


def pack_project(project: Project) -> bytes:
    """``project`` compressed (pickle + zlib, about 2 KB instead of about 18 KB as a model):
    a :class:`ProjectSet` of 10,000 projects then holds tens of MB, not hundreds."""
    return zlib.compress(pickle.dumps(project, protocol=5), 1)


def unpack_project(blob: bytes) -> Project:
    """The project :func:`pack_project` packed (a new, equal model)."""
    return pickle.loads(zlib.decompress(blob))


class _Packed(Sequence):
    """The projects of a :class:`ProjectSet`, each expanded when it is read."""

    def __init__(self, owner: ProjectSet):
        self._owner = owner

    def __len__(self) -> int:
        return len(self._owner)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._owner._get(i) for i in range(len(self))[index]]
        return self._owner._get(range(len(self))[index])

    def __iter__(self) -> Iterator[Project]:
        return (self._owner._get(i) for i in range(len(self)))


_KINDS: tuple[Kind, ...] = tuple(Kind)


def _grouped_by_parent(parents: array, base: int = 0, count: int | None = None
                       ) -> tuple[array, array]:
    """The flagships (``parents[i] >= 0``: the parent of project ``base + i``, of
    ``count`` projects) grouped by their parent's index in order, each group in index
    order: two arrays, each flagship's parent and its index (a counting sort: no (parent,
    index) pair per flagship)."""
    count = len(parents) + base if count is None else count
    start = array("i", bytes(4 * (count + 1)))  # where each parent's group starts
    for p in parents:
        if p >= 0:
            start[p + 1] += 1
    for i in range(1, len(start)):
        start[i] += start[i - 1]
    parent_of, index_of = array("i", bytes(4 * start[-1])), array("i", bytes(4 * start[-1]))
    for i, p in enumerate(parents):
        if p >= 0:
            parent_of[start[p]], index_of[start[p]] = p, base + i
            start[p] += 1
    return parent_of, index_of


class ProjectSet:
    """Every project of one data folder, programmes first, then flagships, each by slug.

    The projects are kept compressed (see :func:`pack_project`) in a file (a
    :class:`~nexusreports.spill.Spill`) and expanded when they are read (a few recently
    read ones are kept expanded), so the memory of a build does not grow by a model per
    project: what stays in memory per project is its kind (a byte; none when the set comes
    as validation gives it, programmes first) and, from the first project with a parent
    on, its parent (an index, 4 bytes); the slugs are in a file too
    (:class:`~nexusreports.spill.Texts`: one slug in 64 in memory), as is where each
    project starts in the spill.  :attr:`slugs`,
    :attr:`kinds` and :attr:`parents` need no expanding.  ``projects`` are given as
    models, or ``packed`` as (slug, kind, parent, :func:`pack_project` bytes)."""

    _CACHE = 8
    """Expanded projects kept (a flagship's sheet reads its programme, a programme's its
    flagships' count): a few models, whatever the number of projects."""

    def __init__(self, projects: Iterable[Project] = (), *,
                 packed: Iterable[tuple[str, Kind, str | None, bytes]] = ()):
        from .spill import Spill, TextsMaker  # storage helpers: no I/O of data, no model

        # one project at a time, and no object per project kept even while they are read
        # (10,000 slugs as strings, freed together, leave the heap some 2 MB larger)
        self._blobs: Spill[bytes] = Spill()
        slugs, parent_slugs = TextsMaker(), TextsMaker()  # parents: until every slug is known
        kinds, orphan = bytearray(), bytearray()  # orphan: 1 where the parent is None
        for slug, kind, parent, blob in itertools.chain(
                ((p.slug, p.kind, p.parent, pack_project(p)) for p in projects), packed):
            slugs.add(slug)
            kinds.append(_KINDS.index(kind))
            parent_slugs.add(parent or "")
            orphan.append(parent is None)
            self._blobs.append(blob)
        # in a file, not a string object per project (some 0.5 MB at 10,000 projects)
        self.slugs: Texts = slugs.finish()
        # a slug is found by bisecting (a lookup per sheet must not scan every project:
        # 10,000 projects): the programmes and then the flagships, each run sorted by
        # slug, as validation gives them, need no mapping of every slug; a set in another
        # order gets one
        flagship = _KINDS.index(Kind.flagship)
        first = kinds.find(flagship)
        self._programmes = len(self.slugs) if first < 0 else first
        in_runs = (all(k == flagship for k in kinds[self._programmes:])
                   and all(a < b for i, (a, b) in enumerate(itertools.pairwise(self.slugs))
                           if i + 1 != self._programmes))
        # in runs, a project's kind is where it is: no byte a project is kept
        self._kinds: bytes | None = None if in_runs else bytes(kinds)
        del kinds
        self._by_slug: dict[str, int] | None = None
        if not in_runs:
            self._by_slug = {}
            for i, slug in enumerate(self.slugs):
                self._by_slug.setdefault(slug, i)
        # each project's parent as the index of its slug (-1: none), from the first project
        # that has one on (the programmes before it have none: nothing kept for them); a
        # parent that is not a project of the set (only a set made without validation has
        # one) by name
        has_parent = orphan.find(0)
        self._parents_from = len(orphan) if has_parent < 0 else has_parent
        self._parent = array("i")  # (4 bytes a project: -2 to 2**31 - 1)
        self._unknown_parents: dict[int, str] = {}
        for i, parent in enumerate(parent_slugs.finish()):
            if i < self._parents_from:
                continue
            found = -1 if orphan[i] else self._find(parent, -2)
            if found == -2:
                self._unknown_parents[i] = parent
            self._parent.append(found)
        del orphan
        self._flagship_parent, self._flagship_index = _grouped_by_parent(
            self._parent, self._parents_from, len(self.slugs))
        self._recent: OrderedDict[int, Project] = OrderedDict()

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Each project's kind, in order."""
        return tuple(self._kind(i) for i in range(len(self)))

    def _kind(self, index: int) -> Kind:
        if self._kinds is not None:
            return _KINDS[self._kinds[index]]
        return Kind.programme if index < self._programmes else Kind.flagship

    @property
    def parents(self) -> tuple[str | None, ...]:
        """Each project's parent slug (None for a programme), in order."""
        return tuple(self._parent_of(i) for i in range(len(self)))

    def _parent_of(self, index: int) -> str | None:
        if index < self._parents_from:
            return None
        p = self._parent[index - self._parents_from]
        if p >= 0:
            return self.slugs[p]
        return self._unknown_parents.get(index)

    @property
    def projects(self) -> Sequence[Project]:
        """The projects in order (each expanded as it is read)."""
        return _Packed(self)

    def _get(self, index: int) -> Project:
        found = self._recent.get(index)
        if found is None:
            found = self._recent[index] = unpack_project(self._blobs[index])
            if len(self._recent) > self._CACHE:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(index)
        return found

    def by_slug(self, slug: str) -> Project:
        """The project with ``slug``; raises ``KeyError`` when there is none."""
        return self._get(self.index(slug))

    def index(self, slug: str) -> int:
        """Where the project with ``slug`` is in :attr:`slugs`; raises ``KeyError``."""
        found = self._find(slug)
        if found < 0:
            raise KeyError(slug)
        return found

    def place(self, slug: str) -> int | None:
        """Where the project with ``slug`` is in :attr:`slugs`; None when there is none."""
        found = self._find(slug)
        return None if found < 0 else found

    def _find(self, slug: str, missing: int = -1) -> int:
        if self._by_slug is not None:
            return self._by_slug.get(slug, missing)
        for lo, hi in ((0, self._programmes), (self._programmes, len(self.slugs))):
            i = self.slugs.bisect_left(slug, lo, hi)
            if i < hi and self.slugs[i] == slug:
                return i
        return missing

    def _flagship_indexes(self, slug: str) -> range:
        """Where the flagships of ``slug`` are in :attr:`_flagship_index`."""
        index = self.place(slug)
        if index is None:
            return range(0)
        return range(bisect_left(self._flagship_parent, index),
                     bisect_right(self._flagship_parent, index))

    def flagships_of(self, slug: str) -> list[Project]:
        """The flagships whose parent is ``slug``, in slug order."""
        return [self._get(self._flagship_index[k]) for k in self._flagship_indexes(slug)]

    def flagships_of_count(self, slug: str) -> int:
        """How many flagships ``slug`` has (none expanded)."""
        return len(self._flagship_indexes(slug))

    def __len__(self) -> int:
        return len(self.slugs)

    def write(self, fh: BinaryIO) -> None:
        """This set into the binary file ``fh``, for :meth:`read` (in another process):
        each project's slug, kind, parent and packed bytes, a record at a time (nothing
        expanded, never all in memory)."""
        pickle.dump(len(self), fh, protocol=pickle.HIGHEST_PROTOCOL)
        for i, (slug, blob) in enumerate(zip(self.slugs, self._blobs)):
            pickle.dump((slug, self._kind(i), self._parent_of(i), blob), fh,
                        protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def read(cls, fh: BinaryIO) -> ProjectSet:
        """The set :meth:`write` wrote into ``fh`` (read from its current position)."""
        count = pickle.load(fh)
        return cls(packed=(pickle.load(fh) for _ in range(count)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProjectSet) and self._blobs == other._blobs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProjectSet({len(self)} projects)"


class Arrangement(StrEnum):
    """How the bundle orders its sheets: the Dutch part then the English part, or each
    project's Dutch sheet followed by its English one."""

    by_language = "by-language"
    by_project = "by-project"


class BundleConfig(_Model):
    """The briefing bundle (``data/bundle.yaml``): cover texts, date, order, arrangement.

    ``order`` lists every project slug exactly once, in bundle order (checked against the
    data by the validate stage).  ``date`` is the briefing date, printed long on the cover.
    """

    title: LocalText = Field(description="the cover's title, in nl: and en:")
    subtitle: LocalText = Field(description="the cover's subtitle, in nl: and en:")
    date: dt.date = Field(description=(
        "the briefing date, written YYYY-MM-DD, printed long on the cover (nl \"30 september "
        "2025\", en \"30 September 2025\")"))
    order: Annotated[list[NonEmptyStr], Field(min_length=1, description=(
        "every project exactly once, in bundle order: a list of file names without .yaml"))]
    arrangement: Arrangement = Field(Arrangement.by_language, description=(
        "by-language (the Dutch part, then the English part; the default) or by-project "
        "(each project's Dutch sheet followed by its English one)"))
