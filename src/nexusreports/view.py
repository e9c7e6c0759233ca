"""Stage 3b, view: (project, locale) -> a frozen :class:`SheetView` of final strings.

Every decision about words and numbers is made here, once, for both renderers: which label,
which figure in which format, whether a block is a bullet list, which TRL steps are marked.
The PDF and Word renderers only place these strings; they never format a number.

Figures in prose: ``{name}`` is replaced by the project's figure ``name`` formatted for the
locale (see :meth:`nexusreports.localise.Localiser`).  Nothing else in the text is
interpreted: ``{{ 7*7 }}``, ``<b>`` and ``&`` print as typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import model as m
from .localise import Localiser
from .spill import Spill


def _(message: str) -> str:
    """Marks a label for extraction; the view translates it through its :class:`Localiser`."""
    return message


# Fixed labels: key -> English msgid (Dutch in the gettext catalog).
LABEL_MSGIDS: dict[str, str] = {
    "project_name": _("Project name"),
    "domain": _("Domain"),
    "subdomain": _("Sub-domain"),
    "relevance": _("Strategic relevance and societal benefits"),
    "national": _("Links to Dutch collaborations"),
    "european": _("Links to European collaborations"),
    "timeline": _("Timeline"),
    "start": _("Start"),
    "end": _("End"),
    "project_size": _("Project size"),
    "shares": _("Share %"),
    "capital": _("Capital"),
    "rnd": _("R&D"),
    "public": _("Public"),
    "private": _("Private"),
    "trl": _("Technology Readiness Level"),
    "mrl": _("Market Readiness Level"),
    "preconditions": _("Preconditions"),
    "relevant": _("Relevant"),
    "less_relevant": _("Less relevant"),
    "not_assessed": _("Not assessed"),
    "organisations": _("Involved companies and institutions"),
    "no_organisations": _("Not provided"),
    "project_sheet": _("Project sheet"),
    # column headings of the preconditions table in the Word sheet
    "matrix_group": _("Theme"),
    "matrix_item": _("Precondition"),
    "matrix_state": _("Assessment"),
}

GROUP_MSGIDS: dict[str, str] = {
    "infrastructure": _("Infrastructure"),
    "energy": _("Energy"),
    "talent": _("Talent"),
    "regulation": _("Laws and regulations"),
    "other": _("Other"),
}

ITEM_MSGIDS: dict[str, str] = {
    "digital_infrastructure": _("Digital infrastructure"),
    "spatial_constraints": _("Spatial constraints"),
    "nitrogen_space": _("Nitrogen capacity"),
    "test_capacity": _("Test capacity"),
    "grid_congestion": _("Grid congestion"),
    "energy_costs": _("Energy costs"),
    "labour_shortage": _("Labour shortage"),
    "talent": _("Talent"),
    "permits": _("Permits"),
    "regulation": _("Regulation"),
    "regulatory_burden": _("Regulatory burden"),
    "taxation": _("Taxation"),
    "financing": _("Financing"),
    "launching_customer": _("Launching customer"),
    "certification": _("Certification"),
    "other": _("Miscellaneous"),
}

MRL_MSGIDS: dict[m.MrlStage, str] = {
    m.MrlStage.exploration: _("Exploration"),
    m.MrlStage.partly_operational: _("Partly operational"),
    m.MrlStage.operational: _("Operational"),
}


@dataclass(frozen=True)
class Entry:
    """One collaborations entry: an optional bold ``label`` (with its colon) and its text."""

    label: str | None
    text: str


@dataclass(frozen=True)
class Block:
    """A headed block of entries; ``bullets`` says whether the entries are a bullet list.

    ``field`` is the data field it comes from (for overflow messages).
    """

    field: str
    heading: str
    entries: tuple[Entry, ...]
    bullets: bool


@dataclass(frozen=True)
class ShareBar:
    """A share split in two: ``left_fraction`` (0-1) sets the bar geometry, the rest is text."""

    left_label: str
    right_label: str
    left_pct: str
    right_pct: str
    left_fraction: float


@dataclass(frozen=True)
class Step:
    """One step of a scale (TRL 1-9, MRL stages); ``active`` steps are highlighted."""

    label: str
    active: bool


@dataclass(frozen=True)
class MatrixItem:
    """A precondition: its label, its state (``relevant``, ``less-relevant``,
    ``not-assessed``) and that state in words (for alt text and the Word sheet)."""

    label: str
    state: str
    state_label: str


@dataclass(frozen=True)
class MatrixGroup:
    heading: str
    items: tuple[MatrixItem, ...]


@dataclass(frozen=True)
class OrganisationView:
    """An organisation: ``logo`` is an absolute path or None; ``alt`` its alt text."""

    name: str
    logo: str | None
    alt: str


@dataclass(frozen=True)
class Spoken:
    """The key figures as a reader hears them (alternative text of the drawn figures):
    ``timeline`` nl ``2025–2035`` (one year: ``2027``); ``shares`` one per share bar,
    nl ``Kapitaal 35%, R&D 65%``;
    ``trl`` nl ``TRL 5–9 van 9``; ``mrl`` the stage, nl ``Verkenning``."""

    timeline: str
    shares: tuple[str, str]
    trl: str
    mrl: str


@dataclass(frozen=True)
class DocumentInfo:
    """Document metadata for both formats (PDF info, DOCX core properties)."""

    title: str
    author: str
    subject: str
    keywords: str
    language: str


@dataclass(frozen=True)
class SheetView:
    """One project sheet in one locale, every string final.

    ``summary`` and ``relevance`` are paragraphs (a ``\\n`` inside one is a line break).
    ``period_end`` is ``""`` for a period of one year (2027-2027): the timeline then shows
    one year, not two equal ends.  ``names`` are the texts that are proper names (the
    project's and its programme's names, the organisations'): a sheet never hyphenates
    them.
    """

    slug: str
    source: str
    lang: str
    locale_id: str
    labels: dict[str, str]
    title: str
    project_name: str
    domain: str
    subdomain: str
    summary: tuple[str, ...]
    relevance: tuple[str, ...]
    national: Block
    european: Block
    period_start: str
    period_end: str
    names: tuple[str, ...]
    size: str
    size_note: str | None
    shares: tuple[ShareBar, ShareBar]
    trl_range: str
    trl_steps: tuple[Step, ...]
    mrl: str
    mrl_steps: tuple[Step, ...]
    matrix: tuple[MatrixGroup, ...]
    legend: tuple[MatrixItem, ...]
    organisations: tuple[OrganisationView, ...]
    organisations_empty: str | None
    footer_left: str
    footer_right: str
    info: DocumentInfo
    spoken: Spoken

    @property
    def all_text(self) -> list[str]:
        """Every string the sheet prints (for tests and glyph checks)."""
        out = [self.title, self.project_name, self.domain, self.subdomain, *self.summary,
               *self.relevance, self.size, self.period_start, self.period_end, self.trl_range,
               self.mrl, self.footer_left, self.footer_right, *self.labels.values(),
               self.spoken.timeline, *self.spoken.shares, self.spoken.trl]
        for block in (self.national, self.european):
            out += [block.heading] + [e.text for e in block.entries]
            out += [e.label for e in block.entries if e.label]
        out += [o.name for o in self.organisations]
        return out


def format_figure(figure: m.Figure, loc: Localiser) -> str:
    """One figure in the locale of ``loc`` (see the figure kinds in the model)."""
    if isinstance(figure, m.CountFigure):
        return loc.count(figure.value)
    if isinstance(figure, m.NumberFigure):
        return loc.number(figure.value)
    if isinstance(figure, m.PercentFigure):
        return loc.percent(figure.value)
    if isinstance(figure, m.MultiplierFigure):
        return loc.multiplier(figure.value)
    if isinstance(figure, m.AmountFigure):
        return loc.amount_eur_m(figure.value_eur_m, figure.scale)
    if isinstance(figure, m.DateFigure):
        return loc.date(figure.value, figure.style)
    raise TypeError(f"unknown figure {figure!r}")  # pragma: no cover - the model is closed


def fill(text: str, figures: dict[str, str]) -> str:
    """Replace each ``{name}`` in ``text`` with ``figures[name]``; leave all else as typed.

    >>> fill("{{ 7*7 }} and {jobs} jobs & <b>", {"jobs": "21.000"})
    '{{ 7*7 }} and 21.000 jobs & <b>'
    """
    return m.PLACEHOLDER_RE.sub(lambda mt: figures[mt.group(1)], text)


def paragraphs(text: str) -> tuple[str, ...]:
    """Split text on blank lines into paragraphs, dropping empty ones."""
    return tuple(p.strip() for p in text.split("\n\n") if p.strip())


def build_view(project: m.Project, projects: m.ProjectSet, lang: str,
               data_dir: str | Path | None = None, source: str = "") -> SheetView:
    """The sheet of ``project`` in ``lang`` (``nl`` or ``en``).

    ``projects`` supplies the parent programme (for a flagship's project name) and the
    flagships (for a programme's note on its flagship total).  ``data_dir`` makes logo paths
    absolute; ``source`` is the data file's path, for messages.  Raises ``KeyError`` for an
    unknown ``lang``.
    """
    loc = Localiser(lang)
    t = loc.gettext
    labels = {key: t(msgid) for key, msgid in LABEL_MSGIDS.items()}
    figures = {name: format_figure(fig, loc) for name, fig in project.figures.items()}

    def text(value: m.Text) -> str:
        return fill(m.text_in(value, lang), figures)

    programme = project
    if project.kind == m.Kind.flagship and project.parent:
        programme = projects.by_slug(project.parent)
        project_name = t("{programme} flagship: {name}").format(
            programme=programme.display_short_name(lang), name=project.display_short_name(lang))
    else:
        project_name = project.display_short_name(lang)

    size_note = None
    if project.flagship_total_eur_m is not None:
        count = projects.flagships_of_count(project.slug)
        size_note = loc.ngettext("(including its {count} flagship, {amount})",
                                 "(including the {count} flagships, together {amount})",
                                 count).format(
            count=loc.count(count), amount=loc.amount_eur_m(project.flagship_total_eur_m))

    shares = project.shares
    share_bars = (
        _bar(labels["capital"], labels["rnd"], shares.capital_pct, loc),
        _bar(labels["public"], labels["private"], shares.public_pct, loc),
    )

    states = {
        m.Relevance.relevant.value: labels["relevant"],
        m.Relevance.less_relevant.value: labels["less_relevant"],
        m.Relevance.not_assessed.value: labels["not_assessed"],
    }
    matrix = tuple(
        MatrixGroup(
            heading=t(GROUP_MSGIDS[group_name]),
            items=tuple(MatrixItem(t(ITEM_MSGIDS[item]), state.value, states[state.value])
                        for item, state in getattr(project.preconditions, group_name)),
        )
        for group_name in m.Preconditions.model_fields
    )
    legend = tuple(MatrixItem(label, state, label) for state, label in states.items())

    organisations = tuple(
        OrganisationView(
            name=org.name,
            logo=(str((_abs(data_dir) / org.logo)) if org.logo and data_dir else None),
            alt=t("Logo of {name}").format(name=org.name),
        )
        for org in project.organisations
    )

    title = text(project.name)
    programme_name = programme.display_short_name(lang)
    return SheetView(
        slug=project.slug,
        source=source,
        lang=lang,
        locale_id=loc.locale_id,
        labels=labels,
        title=title,
        project_name=project_name,
        domain=text(project.domain),
        subdomain=text(project.subdomain),
        summary=paragraphs(text(project.summary)),
        relevance=paragraphs(text(project.relevance)),
        national=_block("collaborations.national", labels["national"],
                        project.collaborations.national, text, t),
        european=_block("collaborations.european", labels["european"],
                        project.collaborations.european, text, t),
        period_start=loc.year(project.period.start),
        period_end=("" if project.period.end == project.period.start
                    else loc.year(project.period.end)),
        names=tuple(dict.fromkeys([title, project_name, programme_name,
                                   project.display_short_name(lang),
                                   *(org.name for org in organisations)])),
        size=loc.amount_eur_m(project.size_eur_m),
        size_note=size_note,
        shares=share_bars,
        trl_range=loc.range(loc.count(project.trl.min), loc.count(project.trl.max)),
        trl_steps=tuple(Step(loc.count(n), project.trl.min <= n <= project.trl.max)
                        for n in range(1, 10)),
        mrl=t(MRL_MSGIDS[project.mrl]),
        mrl_steps=tuple(Step(t(msgid), stage == project.mrl) for stage, msgid in MRL_MSGIDS.items()),
        matrix=matrix,
        legend=legend,
        organisations=organisations,
        organisations_empty=None if organisations else labels["no_organisations"],
        footer_left=f"{programme_name} · {labels['project_sheet']}",
        footer_right=project_name,
        info=DocumentInfo(
            title=f"{project_name} – {labels['project_sheet']}",
            author=programme_name,
            subject=title,
            keywords=", ".join(dict.fromkeys([programme_name, text(project.domain),
                                              text(project.subdomain)])),
            language=loc.locale_id,
        ),
        spoken=_spoken(project, share_bars, loc),
    )


def _spoken(project: m.Project, bars: tuple[ShareBar, ShareBar], loc: Localiser) -> Spoken:
    """The key figures in words (see :class:`Spoken`)."""
    t = loc.gettext
    return Spoken(
        timeline=(loc.year(project.period.start) if project.period.end == project.period.start
                  else loc.range(loc.year(project.period.start), loc.year(project.period.end))),
        shares=tuple(t("{left} {left_pct}, {right} {right_pct}").format(
            left=b.left_label, left_pct=b.left_pct, right=b.right_label, right_pct=b.right_pct)
            for b in bars),
        trl=t("TRL {range} of {top}").format(
            range=loc.range(loc.count(project.trl.min), loc.count(project.trl.max)),
            top=loc.count(9)),
        mrl=t(MRL_MSGIDS[project.mrl]),
    )


def _abs(path: str | Path | None) -> Path:
    return Path(path or ".").resolve()


def _bar(left: str, right: str, left_pct: Decimal, loc: Localiser) -> ShareBar:
    right_pct = 100 - left_pct
    return ShareBar(left_label=left, right_label=right, left_pct=loc.percent(left_pct),
                    right_pct=loc.percent(right_pct), left_fraction=float(left_pct / 100))


def _block(field: str, heading: str, entries: list[m.Collaboration],
           text: Callable[[m.Text], str], t: Callable[[str], str]) -> Block:
    items = tuple(Entry(t("{label}:").format(label=text(e.label)) if e.label else None,
                        text(e.text)) for e in entries)
    return Block(field=field, heading=heading, entries=items, bullets=len(items) > 1)


# --- the briefing bundle --------------------------------------------------------------------

@dataclass(frozen=True)
class CoverText:
    """The cover in one language: title, subtitle and the briefing date (long form)."""

    lang: str
    locale_id: str
    title: str
    subtitle: str
    date: str


@dataclass(frozen=True)
class SummaryRow:
    """One row of a bundle's summary table; ``slug`` is None for a totals row.

    Amounts are EUR millions formatted with at most one decimal (half up); ``public`` and
    ``private`` are size x share.  A totals row leaves ``trl`` and ``mrl`` empty.  In the
    amounts the space before the unit is an ordinary space (the one after "€" stays a
    no-break space): nl ``€\xa09.999.999,9 miljoen``.  A table column too narrow for the
    whole amount then puts the unit on the next line instead of cutting a word.
    """

    slug: str | None
    name: str
    period: str
    size: str
    public: str
    private: str
    trl: str
    mrl: str

    @property
    def cells(self) -> tuple[str, ...]:
        """The row in column order (see :attr:`BundlePart.columns`)."""
        return (self.name, self.period, self.size, self.public, self.private, self.trl,
                self.mrl)


@dataclass(frozen=True)
class BundlePart:
    """One language of the bundle: its front matter labels, summary table and sheets.

    ``language`` is the language's own name (``Nederlands``, ``English``), used as the
    outline heading; ``sheets`` are that language's sheets in bundle order.  ``rows`` and
    ``sheets`` hold an item per project: :func:`build_bundle_view` keeps them in
    :class:`~nexusreports.spill.Spill` files (read by index or in order), not in memory.
    ``range_word`` joins two texts into a range (``{low}–{high}``).
    """

    lang: str
    locale_id: str
    language: str
    contents: str
    summary: str
    columns: tuple[str, ...]
    rows: Sequence[SummaryRow]
    totals: tuple[SummaryRow, ...]
    sheets: Sequence[SheetView]
    page_word: str
    range_word: str = "{low}–{high}"

    def page_number(self, number: int) -> str:
        """A page number in this language's digits (a plain count): ``12``."""
        return Localiser(self.lang).count(number)

    def page_footer(self, number: int) -> str:
        """The footer of a page of this part: nl ``Pagina 3``, en ``Page 3``."""
        return self.page_word.format(number=self.page_number(number))


@dataclass(frozen=True)
class BundleView:
    """The bilingual briefing bundle, every string final.

    ``parts`` are the languages in :data:`~nexusreports.model.LANGS` order; ``sequence``
    is the order of the sheets in the bundle (by language, or by project: each project's
    Dutch sheet followed by its English one; a spill, as the parts' sheets).  ``closing``
    is the closing line per part.
    """

    arrangement: str
    covers: tuple[CoverText, ...]
    parts: tuple[BundlePart, ...]
    sequence: Sequence[SheetView]
    closing: tuple[str, ...]
    info: DocumentInfo

    def part(self, lang: str) -> BundlePart:
        """The part of ``lang``; ``KeyError`` when there is none."""
        for part in self.parts:
            if part.lang == lang:
                return part
        raise KeyError(lang)


def build_bundle_view(config: m.BundleConfig, projects: m.ProjectSet,
                      sheets: Mapping[tuple[str, str], SheetView],
                      folder: Path | str | None = None) -> BundleView:
    """The bundle of ``config`` (validated against ``projects``) over the sheet views.

    ``sheets`` maps ``(slug, lang)`` to the sheet view of every project in ``config.order``
    and every language.  What the bundle holds per project (the parts' rows and sheets, the
    sequence) is kept in shared :class:`~nexusreports.spill.Spill` files in ``folder`` (the
    system's temporary folder by default; made if missing), so the view's memory does not grow with the
    projects and it is sent to a rendering process as paths and offsets; the files go when
    the view does.  Public and private amounts are ``size_eur_m x share / 100`` in EUR
    millions; a programme's flagship totals row sums its flagships (validation has held the
    sum against ``flagship_total_eur_m``).  Raises ``KeyError`` for a missing sheet view.
    """
    # one pass over the projects, each expanded once (they are kept compressed, see
    # ProjectSet), keeping what the bundle prints of it
    locs = {lang: Localiser(lang) for lang in m.LANGS}
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)

    def spill(items: Iterable = ()) -> Spill:
        return Spill(items, folder=folder, shared=True)

    rows_of: dict[str, Spill[SummaryRow]] = {lang: spill() for lang in m.LANGS}
    author_names = []
    # each language's project names, each once, in order (not every project's: memory)
    keyword_names: list[dict[str, None]] = [{} for _ in m.LANGS]
    for slug in config.order:
        p = projects.by_slug(slug)
        for lang in m.LANGS:
            rows_of[lang].append(_summary_row(p, p.slug, p.display_short_name(lang), [p],
                                              locs[lang]))
        if p.kind == m.Kind.programme:
            author_names += [p.display_short_name(lang) for lang in m.LANGS]
        for names, lang in zip(keyword_names, m.LANGS):
            names.setdefault(m.text_in(p.name, lang))
    # (the programmes with flagships: few, expanded per language)
    with_flagships = [slug for slug in config.order if projects.flagships_of_count(slug)]
    covers, parts, closing = [], [], []
    for lang in m.LANGS:
        loc = locs[lang]
        t = loc.gettext
        covers.append(CoverText(lang=lang, locale_id=loc.locale_id,
                                title=config.title.get(lang), subtitle=config.subtitle.get(lang),
                                date=loc.date(config.date, "long")))
        programmes = [p for p in (projects.by_slug(s) for s in with_flagships)
                      if p.kind == m.Kind.programme]
        totals = []
        for programme in programmes:
            flagships = projects.flagships_of(programme.slug)
            name = t("Total flagships")
            if len(programmes) > 1:
                name = f"{name} {programme.display_short_name(lang)}"
            row = _summary_row(programme, None, name, flagships, loc)
            totals.append(row)
        parts.append(BundlePart(
            lang=lang, locale_id=loc.locale_id,
            language=loc.locale.get_language_name().capitalize(),
            contents=t("Contents"), summary=t("Summary"),
            columns=(t("Project"), t("Period"), t(LABEL_MSGIDS["project_size"]),
                     t(LABEL_MSGIDS["public"]), t(LABEL_MSGIDS["private"]), t("TRL"), t("MRL")),
            rows=rows_of[lang], totals=tuple(totals),
            sheets=spill(sheets[(slug, lang)] for slug in config.order),
            page_word=t("Page {number}"), range_word=t("{low}–{high}"),
        ))
        closing.append(t("Together... for the future of health."))
    if config.arrangement == m.Arrangement.by_project:
        sequence = spill(sheets[(slug, lang)] for slug in config.order for lang in m.LANGS)
    else:
        sequence = spill(s for part in parts for s in part.sheets)
    titles = list(dict.fromkeys(c.title for c in covers))
    authors = list(dict.fromkeys(author_names))
    keywords = dict.fromkeys(name for names in keyword_names for name in names)
    return BundleView(
        arrangement=config.arrangement.value,
        covers=tuple(covers),
        parts=tuple(parts),
        sequence=sequence,
        closing=tuple(closing),
        info=DocumentInfo(
            title=" / ".join(titles),
            author=", ".join(authors) or " / ".join(titles),
            subject=" / ".join(c.subtitle for c in covers),
            keywords=", ".join(keywords),
            language=covers[0].locale_id,
        ),
    )


def _summary_row(project: m.Project, slug: str | None, name: str, members: list[m.Project],
                 loc: Localiser) -> SummaryRow:
    """A summary row over ``members`` (one project, or a programme's flagships)."""
    size = sum((p.size_eur_m for p in members), Decimal(0))
    public = sum((p.size_eur_m * p.shares.public_pct / 100 for p in members), Decimal(0))
    private = sum((p.size_eur_m * p.shares.private_pct / 100 for p in members), Decimal(0))
    if slug is None and project.flagship_total_eur_m is not None \
            and size != project.flagship_total_eur_m:  # pragma: no cover - validate checks
        raise ValueError(f"{project.slug}: flagship total {project.flagship_total_eur_m} "
                         f"is not the flagships' sum {size}")
    start = min(p.period.start for p in members)
    end = max(p.period.end for p in members)
    single = slug is not None
    return SummaryRow(
        slug=slug, name=name,
        period=loc.year(start) if start == end else loc.range(loc.year(start), loc.year(end)),
        size=_table_amount(size, loc), public=_table_amount(public, loc),
        private=_table_amount(private, loc),
        trl=loc.range(loc.count(project.trl.min), loc.count(project.trl.max)) if single else "",
        mrl=loc.gettext(MRL_MSGIDS[project.mrl]) if single else "",
    )


def _table_amount(value_eur_m: Decimal, loc: Localiser) -> str:
    """An amount in EUR millions for the summary table: the Localiser's amount with the
    no-break space before the unit made an ordinary space, so that a line may break
    between number and unit (never inside either): en ``€9,999,999.9 million``."""
    amount = loc.amount_eur_m(value_eur_m)
    number, _, unit = amount.rpartition("\xa0")
    return f"{number} {unit}" if number and unit == loc.gettext("million") else amount
