"""The orchestrator: load -> validate -> localise/view -> render -> bundle -> write.

:func:`check` runs the first stages (what ``nexusreports validate`` does); :func:`build`
runs them all; :func:`verify` (``build --check``) compares ``out/`` with the manifest and the
inputs without rendering anything.  Nothing is written until every requested output has
rendered and been staged, and then all at once (:mod:`nexusreports.write`), so a build that
fails on any sheet, runs out of disk space or is interrupted leaves the previous outputs as
they were.  Builds into one output folder take turns (a lock, see ``write.py``).

Incremental builds.  Every sheet gets a *build key*: the sha256 of its format, its view
(every final string it prints), the non-data files it depends on (theme, fonts, catalog,
Word template, logos) and :func:`tool_versions`.  A sheet is rendered again only when its
key differs from the one in ``out/manifest.json``, its file is missing or was modified
after the build, ``SOURCE_DATE_EPOCH`` is set and differs from the one it was built with,
or ``force`` is given.  Otherwise its file in ``out/`` is reused as it is (the bundle reads
its bytes from there) and not rewritten.  ``build --check`` compares exactly these, so it
never approves an output that ``build`` would render again.  The data file is
recorded as an input but only its effect on the view counts for the key, so a comment-only
edit refreshes the manifest without re-rendering.  Rendering runs in a process pool when
``jobs`` > 1; the bytes do not depend on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import model as m
from .errors import (ContentOverflow, DataError, DataErrors, ErrorGroup, NexusError,
                     OutputError, Problem)
from .load import load_yaml
from .theme import Theme, load_theme
from .validate import PROJECTS_DIR, bundle_path, load_bundle, load_projects, project_files
from .view import SheetView, build_bundle_view, build_view
from .write import (Output, OutputBytes, OutputLock, Staging, pending_commits, read_manifest,
                    read_manifest_tool, sha256_file)

log = logging.getLogger("nexusreports")

FORMATS: tuple[str, ...] = ("pdf", "docx")
"""Output formats this version can build."""


@dataclass(frozen=True)
class BuildOptions:
    """What to build.  Folders are paths; ``langs`` data language codes (``nl``, ``en``);
    ``only`` slugs (empty: all); ``strict`` makes warnings errors; ``force`` renders every
    output even when ``out/`` is up to date; ``jobs`` is the number of rendering processes
    (1: render in this process); ``bundle`` makes the briefing bundle (see :func:`build`)."""

    data_dir: Path = Path("data")
    templates_dir: Path = Path("templates")
    out_dir: Path = Path("out")
    langs: tuple[str, ...] = m.LANGS
    only: tuple[str, ...] = ()
    formats: tuple[str, ...] = FORMATS
    strict: bool = False
    force: bool = False
    jobs: int = 1
    bundle: bool = True


@dataclass
class BuildResult:
    """What a build did: the outputs (in build order), per output whether its file was
    written (``changed``) and whether it was rendered this run (``rendered``; False: reused
    from ``out/``), and the warnings."""

    outputs: list[Output] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rendered: list[bool] = field(default_factory=list)


Progress = Callable[[int, int, str], None]
"""``progress(done, total, path)``: called with ``(0, total, "")`` once the build knows how
many outputs it will render, then after each one is rendered."""


def check(data_dir: Path, templates_dir: Path, strict: bool = False
          ) -> tuple[m.ProjectSet, Theme, list[Problem]]:
    """Load the theme and validate every project; return them with the warnings.

    Raises :class:`DataErrors` (every problem at once; with ``strict`` warnings count as
    problems) or :class:`TemplateError`.
    """
    theme = load_theme(templates_dir)
    warnings: list[Problem] = []
    problems: list[Problem] = []
    projects: m.ProjectSet | None = None
    try:
        projects = load_projects(data_dir, theme.charset, warnings)
    except DataErrors as exc:
        problems += exc.problems
    if strict:
        problems += warnings
    if bundle_path(data_dir).is_file():
        # the bundle's problems in the same run, even when a project file has its own (a
        # new flagship needs both the programme's total and the bundle's order changed)
        slugs = ([p.slug for p in projects.projects] if projects is not None
                 else [f.stem for f in project_files(data_dir) if m.SLUG_RE.match(f.stem)])
        try:
            load_bundle(data_dir, projects if projects is not None else slugs)
        except DataErrors as exc:
            problems += exc.problems
        except DataError as exc:
            problems.append(exc.problem)
    if problems or projects is None:
        raise DataErrors(problems)
    return projects, theme, warnings


def source_path(data_dir: Path, slug: str) -> Path:
    """The data file of project ``slug``."""
    return Path(data_dir) / PROJECTS_DIR / f"{slug}.yaml"


def views(projects: m.ProjectSet, options: BuildOptions) -> list[SheetView]:
    """The sheet views to build, by project (in data order) then language."""
    wanted = [p for p in projects.projects if not options.only or p.slug in options.only]
    return [build_view(p, projects, lang, options.data_dir,
                       str(source_path(options.data_dir, p.slug)))
            for p in wanted for lang in options.langs]


def check_layout(projects: m.ProjectSet, theme: Theme, options: BuildOptions) -> None:
    """Lay out every requested sheet, draw and write nothing (``nexusreports validate``):
    a PDF sheet is measured region by region, a Word sheet filled and its fit to the page
    checked, neither saved.

    Raises :class:`ErrorGroup` of :class:`ContentOverflow` naming each sheet whose text does
    not fit (fields and mm to cut), so ``validate`` catches what ``build`` would refuse.
    """
    errors: list[NexusError] = []
    for view in views(projects, options):
        for fmt in options.formats:
            try:
                _check_fit(view, fmt, theme)
            except ContentOverflow as exc:
                errors.append(_located(exc))
    if errors:
        raise ErrorGroup(errors)


def _check_fit(view: SheetView, fmt: str, theme: Theme) -> None:
    """Raise what rendering ``view`` as ``fmt`` would raise, without making the file."""
    if fmt == "pdf":
        from .render.pdf import layout_pdf

        layout_pdf(view, theme)
    elif fmt == "docx":
        from .render.word import check_sheet_fit

        check_sheet_fit(view, theme)
    else:  # pragma: no cover - the CLI checks
        raise ValueError(f"unknown format {fmt!r}")


def build(options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Validate, render what is out of date, make the bundle, then write them all and the
    manifest.

    Raises :class:`DataErrors` for invalid data, :class:`ErrorGroup` when sheets do not fit
    their page (each named), :class:`TemplateError` or :class:`OutputError` (a full disk,
    a folder that cannot be written); in every case, and when interrupted, the output
    folder is left as it was.  Another build into the same output folder is waited for.
    Safe to call again and again from one long-running process (each call takes and
    releases the folder's lock).
    """
    source_date_epoch()  # a malformed one is refused before anything is done
    projects, theme, warnings = check(options.data_dir, options.templates_dir, options.strict)
    unknown = [s for s in options.only if s not in {p.slug for p in projects.projects}]
    if unknown:
        raise DataErrors([Problem(source_path(options.data_dir, s), 0, "",
                                  "no such project (use the file name without .yaml)")
                          for s in unknown])
    # the lock is held from reading the previous manifest until the commit (see write.py)
    with OutputLock(options.out_dir), Staging(options.out_dir) as staging:
        return _build_locked(projects, theme, warnings, options, staging, progress)


def _build_locked(projects: m.ProjectSet, theme: Theme, warnings: list[Problem],
                  options: BuildOptions, staging: Staging,
                  progress: Progress | None) -> BuildResult:
    sde = source_date_epoch()
    invariant = sde is not None
    tool = tool_versions()
    previous = read_manifest(options.out_dir)

    # 1. plan: every sheet with its inputs and build key; reuse what is up to date
    jobs = plan(projects, theme, options, tool)
    outputs: list[Output | None] = []
    todo: list[tuple[int, SheetJob]] = []
    for job in jobs:
        reason = _freshness(job.path, job.key, previous, options, sde)
        if reason is None:
            outputs.append(_reused(job.path, previous[job.path], options, inputs=job.inputs,
                                   slug=job.view.slug, key=job.key))
        else:
            log.debug("render %s: %s", job.path, reason)
            outputs.append(None)
            todo.append((len(outputs) - 1, job))

    # 2. render what is not up to date (in a process pool when jobs > 1), each output
    # staged (written to the staging area, see write.py) as soon as it is rendered
    rendered, errors = _render_jobs([job for _, job in todo], theme, invariant, options.jobs,
                                    progress, staging.stage)
    if errors:
        raise ErrorGroup(errors)
    for (i, job), out in zip(todo, rendered):
        outputs[i] = replace(out, inputs={**job.inputs, **out.inputs}, slug=job.view.slug,
                             key=job.key, source_date_epoch=sde)
    sheets: list[Output] = [o for o in outputs if o is not None]

    # 3. BUNDLE (issue 4) -------------------------------------------------------------------
    # Make the bundle here, from the in-memory sheet outputs in `sheets` (every requested
    # sheet is present: rendered now or read back from out/).  To keep no-change rebuilds
    # from rewriting it, wrap the making in ``derived_output(...)`` (see its docstring) and
    # append the result to ``bundles``.
    bundles: list[Output] = []
    if _bundle_wanted(options):
        bundles = _bundle_outputs(projects, theme, options, jobs, sheets)
    # --- end of the bundle step ---------------------------------------------------------

    # 4. commit: every output in place at once, the manifest last (see write.py)
    final = [*sheets, *bundles]
    changed = staging.commit(final, tool, remove=_unmakeable(previous, projects, options))
    return BuildResult(outputs=final, changed=changed, warnings=warnings,
                       rendered=[not o.reused for o in final])


def _unmakeable(previous: dict[str, dict], projects: m.ProjectSet, options: BuildOptions
                ) -> list[str]:
    """The outputs of earlier builds that no build of this data can make any more: the
    sheets of a project whose file was deleted or renamed, the bundle once
    ``data/bundle.yaml`` is gone.  The commit removes them with their manifest entries, so
    ``build --check`` can pass again.  (Outputs of another ``--only``, ``--lang`` or
    ``--format`` are kept: a build with those options makes them.)"""
    from . import bundle as files

    slugs = {p.slug for p in projects.projects}
    no_bundle = not bundle_path(options.data_dir).is_file()
    return sorted(path for path, entry in previous.items()
                  if (entry.get("slug") and entry["slug"] not in slugs)
                  or (no_bundle and entry.get("slug") is None
                      and path in (files.PDF_NAME, files.DOCX_NAME)))


def _bundle_wanted(options: BuildOptions) -> bool:
    """The bundle holds every sheet in both languages, so it is made only by a full build:
    not with ``--no-bundle``, ``--only`` or a ``--lang`` that leaves a language out, nor
    without ``data/bundle.yaml``."""
    if not options.bundle:
        return False
    if options.only or set(options.langs) != set(m.LANGS):
        log.info("bundle not made: --only/--lang builds part of the sheets, the bundle holds "
                 "them all")
        return False
    if not bundle_path(options.data_dir).is_file():
        log.warning("bundle not made: %s is missing (see 'nexusreports docs')",
                    bundle_path(options.data_dir))
        return False
    return True


def _bundle_outputs(projects: m.ProjectSet, theme: Theme, options: BuildOptions,
                    jobs: list[SheetJob], sheets: list[Output]) -> list[Output]:
    """``briefing-nl-en.pdf`` (from the in-memory PDF sheets; only when ``pdf`` is among the
    formats) and ``briefing-nl-en.docx`` (from the views).  Raises :class:`DataErrors` for
    an invalid ``data/bundle.yaml``."""
    from . import bundle as files

    config = load_bundle(options.data_dir, projects)
    sheet_views = {(job.view.slug, job.view.lang): job.view for job in jobs}
    bundle = build_bundle_view(config, projects, sheet_views)
    invariant = bool(os.environ.get("SOURCE_DATE_EPOCH"))
    langs = ",".join(c.locale_id for c in bundle.covers)
    inputs = {_rel(bundle_path(options.data_dir), options):
              sha256_file(bundle_path(options.data_dir)),
              **{_rel(source_path(options.data_dir, p.slug), options):
                 sha256_file(source_path(options.data_dir, p.slug)) for p in projects.projects},
              **_theme_inputs(theme, options)}
    from .localise.catalog import catalog_path

    for lang in m.LANGS:  # the bundle's own labels (Contents, Summary, ...)
        po = Path(str(catalog_path(lang)))
        if po.is_file():
            inputs[_rel(po, options)] = sha256_file(po)
    by_path = {o.path: o for o in sheets}
    pdfs = {key: by_path.get(output_path(view, "pdf")) for key, view in sheet_views.items()}
    out = []
    if all(pdfs.values()):
        pdf_inputs = {**inputs, **dict(sheet_input(options, o) for o in pdfs.values() if o)}

        def make_pdf() -> Output:
            data = files.render_pdf(bundle, OutputBytes({k: o for k, o in pdfs.items() if o}),
                                     theme, invariant=invariant)
            return Output(path=files.PDF_NAME, format="pdf", lang=langs, data=data,
                          pages=files.page_count(data))

        out.append(derived_output(options, files.PDF_NAME, pdf_inputs, make_pdf))
    else:
        log.info("%s not made: it is made of the PDF sheets; add pdf to --format", files.PDF_NAME)
    if "docx" not in options.formats:  # like the PDF bundle: only with its own format
        log.debug("%s not made: add docx to --format", files.DOCX_NAME)
        return out
    # the Word bundle is made of the filled sheet template: its inputs are the Word sheets'
    docx_inputs = dict(inputs)
    for job in jobs:
        docx_inputs.update(job.inputs)
    if theme.sheet_docx.is_file():
        docx_inputs[_rel(theme.sheet_docx, options)] = sha256_file(theme.sheet_docx)
    out.append(derived_output(options, files.DOCX_NAME, docx_inputs, lambda: Output(
        path=files.DOCX_NAME, format="docx", lang=langs,
        data=files.render_docx(bundle, theme, invariant=invariant))))
    return out


@dataclass(frozen=True)
class SheetJob:
    """One sheet to build: its view, format, planned output path (relative to the output
    folder), input files (path -> sha256) and build key."""

    view: SheetView
    fmt: str
    path: str
    inputs: dict[str, str]
    key: str


def output_path(view: SheetView, fmt: str) -> str:
    """Where the sheet of ``view`` in format ``fmt`` goes, relative to the output folder:
    ``<lang>/<slug>.<fmt>`` (e.g. ``nl/atmp.pdf``)."""
    return f"{view.lang}/{view.slug}.{fmt}"


def plan(projects: m.ProjectSet, theme: Theme, options: BuildOptions,
         tool: dict[str, str]) -> list[SheetJob]:
    """Every requested sheet, by project (data order), language, then format, with the
    input files it is built from and its build key (see the module docstring)."""
    theme_inputs = _theme_inputs(theme, options)
    jobs = []
    for view in views(projects, options):
        project = projects.by_slug(view.slug)
        data_files = [Path(view.source)]
        if project.kind == m.Kind.flagship and project.parent:
            data_files.append(source_path(options.data_dir, project.parent))
        data = {_rel(f, options): sha256_file(f) for f in data_files if f.is_file()}
        assets = dict(theme_inputs)
        if view.lang != "en":
            from .localise.catalog import catalog_path

            po = Path(str(catalog_path(view.lang)))
            if po.is_file():
                assets[_rel(po, options)] = sha256_file(po)
        for org in view.organisations:
            if org.logo and Path(org.logo).is_file():
                assets[_rel(org.logo, options)] = sha256_file(Path(org.logo))
        for fmt in options.formats:
            fmt_assets = dict(assets)
            if fmt == "docx" and theme.sheet_docx.is_file():
                fmt_assets[_rel(theme.sheet_docx, options)] = sha256_file(theme.sheet_docx)
            key = _digest({"format": fmt, "view": _view_record(view, options),
                           "assets": fmt_assets,
                           "tool": tool})
            jobs.append(SheetJob(view=view, fmt=fmt, path=output_path(view, fmt),
                                 inputs={**data, **fmt_assets}, key=key))
    return jobs


def derived_output(options: BuildOptions, path: str, inputs: dict[str, str],
                   make: Callable[[], Output]) -> Output:
    """An output made from other files (the bundle from the sheets), reused from the output
    folder when up to date.

    ``path`` is the output's path relative to the output folder; ``inputs`` maps every file
    it is made from (sheets by their path relative to the output folder, other files named
    as :func:`_rel` names them, e.g. the bundle's data file) to its sha256 -- for sheets
    made this run, their ``Output.sha256``.  When the key (path, inputs, tool versions),
    ``SOURCE_DATE_EPOCH`` and the file match the manifest, the file in the output folder is
    returned as a reused output; otherwise ``make()`` is called and its output returned
    with these inputs and the key recorded.
    """
    sde = source_date_epoch()
    key = _digest({"path": path, "inputs": inputs, "tool": tool_versions()})
    previous = read_manifest(options.out_dir)
    reason = _freshness(path, key, previous, options, sde)
    if reason is None:
        return _reused(path, previous[path], options, inputs=inputs, key=key)
    log.debug("make %s: %s", path, reason)
    out = make()
    return replace(out, inputs={**inputs, **out.inputs}, key=key, source_date_epoch=sde)


def sheet_input(options: BuildOptions, sheet: Output) -> tuple[str, str]:
    """``(path, sha256)`` of an in-memory sheet as an input of a derived output."""
    return sheet.path, sheet.sha256  # relative to the output folder, wherever that is


def _reused(path: str, entry: dict, options: BuildOptions, **fields: object) -> Output:
    """The up-to-date output at ``path`` of the output folder, as its manifest ``entry``
    describes it (its bytes stay in the file)."""
    return Output(path=path, format=entry.get("format", ""), lang=entry.get("language"),
                  pages=entry.get("pages"), source_date_epoch=entry.get("source_date_epoch"),
                  sha256=entry.get("sha256", ""), size=entry.get("size", 0),
                  file=Path(options.out_dir) / path, reused=True, **fields)


def _freshness(path: str, key: str, previous: dict[str, dict], options: BuildOptions,
               sde: str | None) -> str | None:
    """None when the output at ``path`` is up to date, else why it must be made."""
    if options.force:
        return "--force"
    entry = previous.get(path)
    if entry is None:
        return "not built before"
    if entry.get("key") != key:
        return "its content, inputs or the tool changed"
    if _epoch_differs(entry, sde):
        return "SOURCE_DATE_EPOCH changed"
    try:
        digest = sha256_file(Path(options.out_dir) / path)
    except OSError:
        return "missing"
    if digest != entry.get("sha256"):
        return "modified after the build"
    return None


def _epoch_differs(entry: dict, sde: str | None) -> bool:
    """Whether an output recorded as ``entry`` was dated otherwise than a build with
    ``SOURCE_DATE_EPOCH`` = ``sde`` would date it.  Without ``SOURCE_DATE_EPOCH`` a build
    is dated by the clock, which no output can match: the date alone does not make it
    stale then.  :func:`build` and :func:`verify` both decide by this."""
    return sde is not None and entry.get("source_date_epoch") != sde


_LAST_EPOCH = 4354819199
"""31 December 2107 23:59:59 UTC: the last second a Word file (a ZIP archive) can be dated."""


def source_date_epoch() -> str | None:
    """``SOURCE_DATE_EPOCH`` as builds record and compare it: None when it is unset or
    empty, else a whole number of seconds since 1 January 1970 UTC, digits only.

    Anything else (``+1700000000``, `` 1700000000``, ``1.7e9``, ``abc``) is refused: the
    renderers would read some of those differently (one dating its file by the clock), so
    ``--check`` could approve files a build does not reproduce.  Raises
    :class:`OutputError` naming the value and how to write it."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > _LAST_EPOCH:
        raise OutputError(f"SOURCE_DATE_EPOCH={value!r}: not a date the outputs can carry: "
                          "set it to a whole number of seconds since 1970-01-01 UTC, digits "
                          "only, before the year 2108 (e.g. SOURCE_DATE_EPOCH=$(git log -1 "
                          "--format=%ct)), or unset it; nothing was built")
    return value


def _view_record(view: SheetView, options: BuildOptions) -> dict:
    """The view as plain data for the build key: no source path, logos relative."""
    record = asdict(view)
    record.pop("source", None)
    for org in record.get("organisations", ()):
        if org.get("logo"):
            org["logo"] = _rel(org["logo"], options)
    return record


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- rendering, in this process or a pool ------------------------------------------------

_WORKER: dict[str, object] = {}


_STOP_SIGNALS = ("SIGINT", "SIGTERM")


def _stop_signals() -> set:
    import signal

    return {getattr(signal, name) for name in _STOP_SIGNALS if hasattr(signal, name)}


def _init_worker(theme: Theme, invariant: bool) -> None:
    """Set up a rendering process.  Ctrl-C reaches the whole process group, but only the
    parent handles it (it stops the pool, see :func:`_stop_pool`), so a worker ignores
    SIGINT; SIGTERM (what the parent stops it with) ends it at once.  The parent started it
    with both signals blocked (see :func:`_signals_blocked`); they are unblocked here."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _stop_signals())
    _end_with_parent()
    _WORKER.update(theme=theme, invariant=invariant)


def _end_with_parent() -> None:
    """Let the system end this rendering process when the build that started it dies
    (SIGKILL, the OOM killer): a worker would otherwise wait for work for ever.  Linux
    only (``prctl``); elsewhere nothing changes."""
    import ctypes
    import multiprocessing
    import signal

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid != os.getppid():  # it died before prctl
        os._exit(1)


class _signals_blocked:
    """Block SIGINT and SIGTERM in this thread while the pool starts its processes and
    threads (they inherit the mask, so none of them can be interrupted half set up); a
    signal that arrives meanwhile is delivered when the block ends."""

    def __enter__(self) -> None:
        import signal

        self._old = None
        if hasattr(signal, "pthread_sigmask"):
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, _stop_signals())

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def _stop_pool(pool: object) -> None:
    """Stop a process pool now (on an interrupt or an error): cancel what has not started,
    end the workers (SIGTERM, then SIGKILL after 5 s) and wait for them and the pool's
    thread, so no process is left behind and nothing waits at exit."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    thread = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[attr-defined]
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    if thread is not None:
        thread.join(timeout=5)


def _render_in_worker(view: SheetView, fmt: str, inputs: dict[str, str]
                      ) -> Output | "_RemoteError":
    try:
        return _render(view, fmt, _WORKER["theme"], bool(_WORKER["invariant"]), inputs)
    except NexusError as exc:  # their __init__ signatures do not survive pickling
        return _RemoteError(str(exc), exc.lines(), isinstance(exc, ContentOverflow))


class _RemoteError(NexusError):
    """A :class:`NexusError` raised in a worker process, carried back as its text."""

    def __init__(self, message: str, lines: list[str], overflow: bool):
        super().__init__(message, lines, overflow)
        self.message, self._lines, self.overflow = message, list(lines), overflow

    def __str__(self) -> str:
        return self.message

    def lines(self) -> list[str]:
        return list(self._lines)


def _render_jobs(jobs: list[SheetJob], theme: Theme, invariant: bool, n_jobs: int,
                 progress: Progress | None,
                 stage: Callable[[Output], Output] = lambda output: output
                 ) -> tuple[list[Output], list[NexusError]]:
    """Render ``jobs``; return the outputs (in job order) and the overflow errors.  Other
    errors are raised at once.  Each output is passed to ``stage`` as soon as it is
    rendered (in the order they finish) and what ``stage`` returns is kept (the staged
    output, without its bytes)."""
    total = len(jobs)
    if progress:
        progress(0, total, "")
    results: list[Output | None] = [None] * total
    errors: list[NexusError] = []
    workers = max(1, min(n_jobs, total))
    if workers == 1:
        for i, job in enumerate(jobs):
            try:
                results[i] = stage(_render(job.view, job.fmt, theme, invariant, job.inputs))
            except ContentOverflow as exc:
                errors.append(exc)
            if progress:
                progress(i + 1, total, job.path)
        return [r for r in results if r is not None], errors

    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    method = ("fork" if "fork" in multiprocessing.get_all_start_methods()
              and threading.active_count() == 1 else "spawn")
    if method == "fork" and any(job.fmt == "pdf" for job in jobs):
        _warm_pdf(theme, {job.view.locale_id for job in jobs})
    failures: dict[int, NexusError] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker, initargs=(theme, invariant))
    try:
        with _signals_blocked():
            futures = {pool.submit(_render_in_worker, job.view, job.fmt, job.inputs): i
                       for i, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            result = future.result()
            if isinstance(result, _RemoteError):
                if not result.overflow:
                    raise result
                failures[i] = result
            else:
                results[i] = stage(result)
            if progress:
                progress(done, total, jobs[i].path)
    except BrokenProcessPool:  # a worker was killed (kill -9, the OOM killer)
        _stop_pool(pool)
        raise OutputError("a rendering process was ended from outside (killed; out of memory?"
                          "): nothing was changed, the previous outputs are as they were; "
                          "build again, with --jobs 1 if memory is short") from None
    except BaseException:  # an error, Ctrl-C or SIGTERM: stop the workers, then go on
        _stop_pool(pool)
        raise
    pool.shutdown()
    errors = [failures[i] for i in sorted(failures)]
    return [r for r in results if r is not None], errors


def _warm_pdf(theme: Theme, locale_ids: set[str]) -> None:
    """Register the fonts and load the hyphenation dictionaries (pyphen caches them) once,
    before forking, so each worker does not load them again (~0.2 s per language)."""
    import pyphen

    from .render.pdf import register_fonts

    register_fonts(theme)
    for locale_id in sorted(locale_ids):
        pyphen.Pyphen(lang=locale_id.replace("-", "_"))


def _render(view: SheetView, fmt: str, theme: Theme, invariant: bool,
            inputs: dict[str, str]) -> Output:
    """Render one sheet.  Raises :class:`ContentOverflow` located at the line of its first
    field in the data file (see :func:`_located`)."""
    try:
        return _render_unlocated(view, fmt, theme, invariant, inputs)
    except ContentOverflow as exc:
        raise _located(exc) from None


def _located(exc: ContentOverflow) -> ContentOverflow:
    """``exc`` with the line of its first field (``summary.en`` -> ``summary: en:``) in its
    data file, so the message reads ``path:line: field: ...``; ``exc`` itself when the file
    or field cannot be found (the renderer knows fields, not lines: it never loads YAML)."""
    if exc.line or not exc.path or not exc.fields:
        return exc
    loc = tuple(int(k) if k.isdigit() else k for k in exc.fields[0].split("."))
    try:
        doc = load_yaml(Path(exc.path))
    except NexusError:
        return exc
    if not isinstance(doc.data, dict) or loc[0] not in doc.data:
        return exc
    line = doc.line_of(loc)
    return exc.at_line(line) if line else exc


def _render_unlocated(view: SheetView, fmt: str, theme: Theme, invariant: bool,
                      inputs: dict[str, str]) -> Output:
    if fmt == "pdf":
        from .render.pdf import render_pdf

        data = render_pdf(view, theme, invariant=invariant)
        return Output(path=output_path(view, fmt), format="pdf", lang=view.locale_id,
                      data=data, pages=1, inputs=inputs)
    if fmt == "docx":
        from .render.word import render_docx  # only a Word build loads docxtpl

        data = render_docx(view, theme)
        return Output(path=output_path(view, fmt), format="docx", lang=view.locale_id,
                      data=data, inputs=inputs)
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


# --- verifying out/ against the manifest (build --check) ---------------------------------

def verify(options: BuildOptions) -> tuple[list[Problem], int]:
    """Compare the output folder with its manifest and the current inputs; render nothing.

    Returns the problems (one per output that is missing, stale -- an input file's sha256,
    the sheet's content, the tool versions or ``SOURCE_DATE_EPOCH`` changed -- or modified
    after the build, each naming the output file and why) and the number of outputs
    checked.  Every requested sheet (``options``' languages, projects, formats) and every
    manifest entry is checked; with ``options.only``, only the manifest entries of those
    projects (not the bundle).  A commit that an interrupted build left unfinished is a
    problem too (the next build completes it).  A build running into the same folder is
    waited for (see :class:`~nexusreports.write.OutputLock`); nothing is written.
    Raises :class:`DataErrors` / :class:`TemplateError` like :func:`check`.
    """
    source_date_epoch()
    projects, theme, _ = check(options.data_dir, options.templates_dir, options.strict)
    with OutputLock(options.out_dir, create=False):
        return _verify_locked(projects, theme, options)


def _verify_locked(projects: m.ProjectSet, theme: Theme, options: BuildOptions
                   ) -> tuple[list[Problem], int]:
    out_dir = Path(options.out_dir)
    sde = source_date_epoch()
    pending = pending_commits(out_dir)
    tool = tool_versions()
    old_tool = read_manifest_tool(out_dir)
    entries = read_manifest(out_dir)
    if options.only:
        entries = {path: e for path, e in entries.items() if e.get("slug") in options.only}
    jobs = {job.path: job for job in plan(projects, theme, options, tool)}
    problems: dict[str, str] = {}

    def note(path: str, message: str) -> None:
        problems.setdefault(path, message)

    from . import bundle as files  # the bundle files this build would make (no rendering)

    bundles = set()
    if (options.bundle and not options.only and set(options.langs) == set(m.LANGS)
            and bundle_path(options.data_dir).is_file()):
        bundles = {name for fmt, name in (("pdf", files.PDF_NAME), ("docx", files.DOCX_NAME))
                   if fmt in options.formats}

    for path in _unmakeable(entries, projects, options):  # what build would remove
        note(path, "no build of this data makes it any more (its project or "
             f"{bundle_path(options.data_dir).as_posix()} is gone): run nexusreports build "
             "to remove it")

    for path in sorted({*entries, *jobs, *bundles}):
        entry, job = entries.get(path), jobs.get(path)
        target = out_dir / path
        if entry is None or not target.is_file():
            note(path, "missing: run nexusreports build" if not target.is_file() else
                 "missing from manifest.json: run nexusreports build")
            continue
        if sha256_file(target) != entry.get("sha256"):
            note(path, "modified after the build (its sha256 differs from manifest.json): "
                 "run nexusreports build to restore it")
            continue
        recorded = entry.get("inputs") or {}
        changed = [name for name, digest in sorted(recorded.items())
                   if not _input_file(name, options).is_file()
                   or sha256_file(_input_file(name, options)) != digest]
        if job is not None:
            changed += [name for name in sorted(job.inputs) if name not in recorded]
        if changed:  # named as the files are now, e.g. out/en/atmp.pdf, proj/data/...
            changed = [_input_file(name, options).as_posix() for name in changed]
            note(path, f"stale: {', '.join(changed)} changed since the build: "
                 "run nexusreports build")
        elif job is not None and entry.get("key") != job.key:
            moved = sorted(k for k in {*tool, *old_tool} if tool.get(k) != old_tool.get(k))
            why = (f"the tool versions changed ({', '.join(moved)})" if moved
                   else "its content changed (e.g. the programme it belongs to)")
            note(path, f"stale: {why}: run nexusreports build")
        elif job is None and tool != old_tool:  # a bundle: its key holds the tool versions
            moved = sorted(k for k in {*tool, *old_tool} if tool.get(k) != old_tool.get(k))
            note(path, f"stale: the tool versions changed ({', '.join(moved)}): "
                 "run nexusreports build")
        elif _epoch_differs(entry, sde):
            built = entry.get("source_date_epoch")
            note(path, "stale: built " + (f"with SOURCE_DATE_EPOCH={built}" if built else
                                          "without SOURCE_DATE_EPOCH (dated by the clock)")
                 + f", not {sde}: run SOURCE_DATE_EPOCH={sde} nexusreports build")
    for path, entry in entries.items():  # a bundle is stale when a sheet it holds is
        if path in problems:
            continue
        held = [p for p in problems
                if p in (entry.get("inputs") or {})]
        if held:
            note(path, f"stale: made from {', '.join(held)}, which "
                 f"{'is' if len(held) == 1 else 'are'} out of date: run nexusreports build")
    unfinished = [Problem(journal.parent, 0, "", "an interrupted build left its commit "
                          "unfinished: run nexusreports build to complete it")
                  for journal in pending]
    return (unfinished + [Problem(out_dir / p, 0, "", problems[p]) for p in sorted(problems)],
            len({*entries, *jobs, *bundles}))


def _theme_inputs(theme: Theme, options: BuildOptions) -> dict[str, str]:
    files = [theme.folder / "theme.yaml", *theme.fonts.files()]
    if theme.icc_profile.is_file():  # the PDFs' OutputIntent (a missing one: render says so)
        files.append(theme.icc_profile)
    return {_rel(f, options): sha256_file(f) for f in files}


def _roots(options: BuildOptions) -> list[tuple[str, Path]]:
    """The folders an input file is named relative to, each with the fixed name it is
    recorded under: the data folder as ``data``, the templates folder as ``templates``,
    this package (its catalogs) as ``nexusreports``."""
    return [("data", Path(options.data_dir)), ("templates", Path(options.templates_dir)),
            ("nexusreports", Path(__file__).resolve().parent)]


def _rel(path: Path | str, options: BuildOptions) -> str:
    """The name an input file is recorded under in the manifest, the same whatever the
    working folder and however --data/--templates were typed: ``data/projects/atmp.yaml``,
    ``templates/theme.yaml``, ``nexusreports/localise/...``; a file outside those folders
    by its absolute path.  (Sheets that are inputs of the bundle are named by their path
    relative to the output folder, see :func:`sheet_input`.)  :func:`_input_file` is the
    inverse."""
    p = Path(path).resolve()
    for name, root in _roots(options):
        if p.is_relative_to(root.resolve()):
            return f"{name}/{p.relative_to(root.resolve()).as_posix()}"
    return p.as_posix()


def _input_file(name: str, options: BuildOptions) -> Path:
    """The file a recorded input name (see :func:`_rel`) stands for now: under the data,
    templates or package folder, an absolute path, or else an output (a sheet of the
    bundle) relative to the output folder."""
    head, _, rest = name.partition("/")
    for root_name, root in _roots(options):
        if head == root_name and rest:
            return root / rest
    return Path(name) if Path(name).is_absolute() else Path(options.out_dir) / name


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """sha256 over this package's Python sources, so a changed renderer counts as a new
    tool version even before the version number moves."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def tool_versions() -> dict[str, str]:
    """Versions of this tool (and a digest of its code), of the libraries that shape its
    output, of Python and of zlib (which compresses the PDF streams and DOCX parts)."""
    out = {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION,
           "nexusreports-code": _code_digest()}
    for dist in ("nexusreports", "reportlab", "babel", "pypdf", "pikepdf", "python-docx",
                 "docxtpl", "pyphen", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


__all__ = ["BuildOptions", "BuildResult", "FORMATS", "Progress", "SheetJob", "build", "check",
           "derived_output", "output_path", "plan", "sheet_input", "tool_versions", "verify",
           "NexusError"]
