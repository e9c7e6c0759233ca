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
it from there) and not rewritten.  ``build --check`` compares exactly these, so it
never approves an output that ``build`` would render again.  The data file is
recorded as an input but only its effect on the view counts for the key, so a comment-only
edit refreshes the manifest without re-rendering.  Rendering runs in a process pool when
``jobs`` > 1 (or is 0 and there are enough sheets); the bytes do not depend on it.

Memory is kept from growing with the number of projects (docs/benchmarks.md measures the
little that still does): what the build keeps per project (the
validated projects, compressed, see :class:`~nexusreports.model.ProjectSet`) and per output
(its :class:`~nexusreports.write.Output` record, the bundle's reference to its view) lives
in a file (:class:`~nexusreports.spill.Spill`), a few bytes each in memory.  Each sheet is
planned, rendered and staged (written to the staging area) in turn, with a bounded number
in flight; the rendering processes end with the last sheet; the bundles are streamed from
the sheets' files (the PDF bundle in a fresh process); the commit writes the manifest entry
by entry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import pickle
import platform
import sys
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, is_dataclass, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import BinaryIO, NoReturn

from . import model as m
from .errors import (ContentOverflow, DataError, DataErrors, ErrorGroup, NexusError,
                     OutputError, Problem)
from .load import load_yaml
from .render import heap
from .theme import Theme, load_theme
from .validate import PROJECTS_DIR, bundle_path, load_bundle, load_projects, project_files
from .view import SheetView, build_bundle_view, build_view
from .spill import SortedMap, SortedMapMaker, Spill, Texts
from .write import (Inputs, Output, OutputLock, Outputs, Staging, pending_commits,
                    read_manifest, read_manifest_index, read_manifest_tool, sha256_file)

log = logging.getLogger("nexusreports")

FORMATS: tuple[str, ...] = ("pdf", "docx")
"""Output formats this version can build."""


@dataclass(frozen=True)
class BuildOptions:
    """What to build.  Folders are paths; ``langs`` data language codes (``nl``, ``en``);
    ``only`` slugs (empty: all); ``strict`` makes warnings errors; ``force`` renders every
    output even when ``out/`` is up to date; ``jobs`` is the number of rendering processes
    (1: render in this process; 0: one per CPU, but in this process when fewer than
    :data:`POOL_MIN_SHEETS` sheets are asked for); ``bundle`` makes the briefing bundle
    (see :func:`build`)."""

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
    """What a build did: the outputs (in build order; a read-only sequence kept in a file,
    see :class:`~nexusreports.write.Outputs`), per output whether its file was
    written (``changed``) and whether it was rendered this run (``rendered``; False: reused
    from ``out/``), and the warnings."""

    outputs: Sequence[Output] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rendered: list[bool] = field(default_factory=list)


Progress = Callable[[int, int, str], None]
"""``progress(done, total, path)``: called with ``(0, total, "")`` once the build knows how
many outputs it will render, then after each one is rendered."""


def check(data_dir: Path, templates_dir: Path, strict: bool = False,
          theme: Theme | None = None) -> tuple[m.ProjectSet, Theme, list[Problem]]:
    """Load the theme (unless it is given) and validate every project; return them with
    the warnings.

    Raises :class:`DataErrors` (every problem at once; with ``strict`` warnings count as
    problems) or :class:`TemplateError`.
    """
    if theme is None:
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
        slugs = (list(projects.slugs) if projects is not None
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
    wanted = [projects.by_slug(s) for s in projects.slugs if not options.only or s in options.only]
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
    heap.fix_mmap_threshold()  # memory: see render/heap.py
    with heap.path_parts_not_interned():
        return _build(options, progress)


def _build(options: BuildOptions, progress: Progress | None) -> BuildResult:
    sde = source_date_epoch()  # a malformed one is refused before anything is done
    _resolved_roots.cache_clear()  # the folders as they are now (see _rel)
    theme = load_theme(options.templates_dir)
    renderer = _Renderer(theme, sde is not None, options, progress, _requested_files(options))
    try:
        # a build with rendering processes validates in a process of its own (see
        # _check_apart), then starts them, then reads what it found: each rendering
        # process starts as a copy of this process, before it holds the projects, and this
        # process never holds what validation left behind (validating here, when it must,
        # comes after they start, as it always did)
        outcome = _check_apart(options, theme) if renderer.workers > 1 else None
        try:
            renderer.start()
        except BaseException:
            if outcome is not None:
                outcome.close()
            raise
        found = _checked(outcome, theme) if outcome is not None else None
        projects, theme, warnings = found or check(options.data_dir, options.templates_dir,
                                                   options.strict, theme)
        # validation has freed what it read and made of every project file; the C heap
        # keeps those pieces unless asked (-1.8 MB of this process at 10,000 projects)
        heap.give_back()
        unknown = [s for s in options.only if projects.place(s) is None]
        if unknown:
            raise DataErrors([Problem(source_path(options.data_dir, s), 0, "",
                                      "no such project (use the file name without .yaml)")
                              for s in unknown])
        # the lock is held from reading the previous manifest until the commit (write.py)
        with OutputLock(options.out_dir), Staging(options.out_dir) as staging:
            renderer.stage, renderer.staging = staging.stage, staging
            try:
                result = _build_locked(projects, theme, warnings, options, staging, renderer)
            except BaseException:  # the rendering processes stage sheets: stopped before
                renderer.close()  # the staging area is deleted, so none writes into it after
                raise
        renderer.shutdown()
        return result
    finally:
        renderer.close()


def _check_apart(options: BuildOptions, theme: Theme) -> BinaryIO | None:
    """:func:`check` in a child process forked now; returns, once it is done, the file it
    wrote its outcome to, for :func:`_checked` to read (after the rendering processes have
    started: they never hold the projects, see _build).  Validation reads every project
    file and frees what it made; done in this process, the pieces freed between what it
    keeps stayed with it to the end of the build (pymalloc's arenas, the C heap: some 2 MB
    at 10,000 projects).  None -- validate here instead -- where a process cannot be forked
    safely (no ``fork``; another thread running) or the child did not finish (any other
    error: this process then meets it again, and reports it)."""
    import multiprocessing
    import signal
    import tempfile
    import threading

    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() != 1:
        return None
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - handed to _checked, which closes it
    pid, parent = 0, os.getpid()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        with _signals_blocked():  # the child sets its own handlers first
            try:
                pid = os.fork()
            except OSError:  # no process to be had (EAGAIN, ENOMEM): validate here
                fh.close()
                return None
            if pid == 0:
                _check_in_child(fh, options, theme, parent)  # never returns
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C, SIGTERM (also as the signals are unblocked): the
        if pid:  # child goes too, and is waited for
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        fh.close()
        raise
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fh.close()
        return None
    return fh


def _checked(fh: BinaryIO, theme: Theme) -> tuple[m.ProjectSet, Theme, list[Problem]] | None:
    """What :func:`_check_apart`'s child found: the projects (packed, as validation keeps
    them) and the warnings, or its problems raised as :class:`DataErrors` (the same
    lines); None when its file is not whole (cannot happen when it exits 0: validate
    here).  Closes ``fh``."""
    with fh:
        fh.seek(0)
        try:
            outcome, found = pickle.load(fh)
            projects = m.ProjectSet.read(fh) if outcome == "valid" else None
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError):
            return None
    if projects is None:
        raise DataErrors(found)
    return projects, theme, found


def _check_in_child(fh: BinaryIO, options: BuildOptions, theme: Theme, parent: int
                    ) -> NoReturn:
    """The child of :func:`_check_apart` (``parent``: the build's process): validate, write
    the outcome to ``fh``, exit at once (no exit handler of the build's process runs)."""
    import signal

    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the build's process handles Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _stop_signals())
        _end_with_parent(parent)
        try:
            projects, _, warnings = check(options.data_dir, options.templates_dir,
                                          options.strict, theme)
        except DataErrors as exc:
            pickle.dump(("problems", exc.problems), fh, protocol=pickle.HIGHEST_PROTOCOL)
        else:
            pickle.dump(("valid", warnings), fh, protocol=pickle.HIGHEST_PROTOCOL)
            projects.write(fh)
        fh.flush()
        code = 0
    except BaseException:  # noqa: BLE001 - the build's process validates again and reports it
        code = 1
    finally:
        os._exit(code)


def _requested_files(options: BuildOptions) -> int:
    """How many sheets the build will ask for, from the project files alone (before they
    are read): decides whether a process pool pays."""
    try:
        count = len(options.only) or sum(1 for f in (Path(options.data_dir) / PROJECTS_DIR)
                                         .iterdir() if f.suffix == ".yaml")
    except OSError:
        count = 0
    return count * len(options.langs) * len(options.formats)


def _build_locked(projects: m.ProjectSet, theme: Theme, warnings: list[Problem],
                  options: BuildOptions, staging: Staging, renderer: _Renderer
                  ) -> BuildResult:
    sde = source_date_epoch()
    tool = tool_versions()
    previous = read_manifest_index(options.out_dir)  # without the inputs (memory)
    bundle_wanted = _bundle_wanted(options)

    # 1. plan each sheet (its view, inputs and build key) and reuse what is up to date;
    # 2. render the others as they are planned (in a process pool when it pays, see
    # _Renderer), each staged (written to the staging area, see write.py) as soon as it is
    # rendered.  What later stages need of each sheet -- its Output (no bytes) and, for the
    # bundle, a small reference to its view (_SheetRef) -- is kept in a file (a Spill), in
    # build order: an output that comes back before those planned earlier waits in
    # ``ahead`` (a few: the sheets in flight bound it).
    outputs = Outputs()
    refs = _SheetRefs(projects, options) if bundle_wanted else None
    ahead: dict[int, Output] = {}
    planned = kept = 0  # sheets planned; of those, kept in ``outputs`` or failed

    def settle(ready: list[tuple[int, Output]]) -> None:
        nonlocal kept
        for i, out in ready:
            ahead[i] = replace(out, source_date_epoch=sde) if not out.reused else out
        while kept < planned:
            out = ahead.pop(kept, None)
            if out is not None:
                outputs.append(out)
            elif not renderer.failed(kept):
                break
            kept += 1

    renderer.begin(_requested(projects, options))
    for job in _plan_jobs(projects, theme, options, tool, _Digests(options)):
        if refs is not None:
            refs.add(job.view)
        index = planned
        planned += 1
        reason = _freshness(job.path, job.key, previous, options, sde)
        if reason is None:
            renderer.skip(job.path)
            settle([(index, _reused(job.path, previous[job.path], options,
                                    inputs=job.inputs, slug=job.view.slug, key=job.key))])
        else:
            log.debug("render %s: %s", job.path, reason)
            renderer.submit(index, job)
        settle(renderer.done())
        while len(ahead) > _AHEAD and renderer.wait():  # reused sheets behind a slow one
            settle(renderer.done())
        if planned % heap.EVERY == 0:  # what planning and sending the sheets so far freed
            heap.give_back()
    settle(renderer.finish())
    if renderer.errors:
        raise ErrorGroup(renderer.errors)
    assert kept == planned and not ahead  # every sheet kept, in order
    # the rendering processes are done: what they hold goes now, not at the end of the
    # bundles (the PDF bundle gets a fresh process of its own, see _Renderer.call)
    renderer.shutdown()

    # 3. the bundle, streamed from the sheets' files (staged now or reused from out/);
    # derived_output keeps a no-change rebuild from rewriting it
    if refs is not None:
        for bundle in _bundle_outputs(projects, theme, options, refs, outputs, staging,
                                      renderer, previous):
            outputs.append(bundle)
    renderer.shutdown()  # the PDF bundle's process, if any, before the commit

    # 4. commit: every output in place at once, the manifest last (see write.py)
    changed = staging.commit(outputs, tool, remove=_unmakeable(previous, projects, options))
    return BuildResult(outputs=outputs, changed=changed, warnings=warnings,
                       rendered=[not o.reused for o in outputs])


_AHEAD = 256
"""Outputs kept in memory while they wait for one planned before them (see _build_locked)."""


def _requested(projects: m.ProjectSet, options: BuildOptions) -> int:
    """How many sheets the build asks for (rendered or reused)."""
    count = len(options.only) if options.only else len(projects.slugs)
    return count * len(options.langs) * len(options.formats)


@dataclass(frozen=True)
class _SheetRef:
    """What the bundle needs of a sheet's view -- its slug, language, locale and project
    name -- without holding the view (a few hundred bytes, not a few kilobytes, per sheet:
    the parent's memory must not grow with the projects).  Any other attribute builds the
    view (once) and reads it there, so a renderer may use it as the :class:`SheetView`."""

    slug: str
    lang: str
    locale_id: str
    project_name: str
    projects: m.ProjectSet = field(repr=False, compare=False)
    data_dir: Path = field(repr=False, compare=False)

    @classmethod
    def of(cls, view: SheetView, projects: m.ProjectSet, options: BuildOptions) -> "_SheetRef":
        return cls(view.slug, view.lang, view.locale_id, view.project_name, projects,
                   options.data_dir)

    @property
    def view(self) -> SheetView:
        """The sheet's view, built again (not kept)."""
        return build_view(self.projects.by_slug(self.slug), self.projects, self.lang,
                          self.data_dir, str(source_path(self.data_dir, self.slug)))

    def __reduce__(self) -> tuple:  # to a rendering process: without the projects
        return (_SheetRef, (self.slug, self.lang, self.locale_id, self.project_name, None,
                            self.data_dir))

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name == "projects" or self.projects is None:
            raise AttributeError(name)
        view = self.__dict__.get("_view")
        if view is None:
            view = self.view
            object.__setattr__(self, "_view", view)
        return getattr(view, name)


class _SheetRefs(Mapping):
    """``(slug, lang)`` -> the :class:`_SheetRef` of every sheet of a full build (what the
    bundle reads), kept in a file (a Spill) in build order: project (data order), then
    language; a key's place is computed from its project's place and its language."""

    def __init__(self, projects: m.ProjectSet, options: BuildOptions):
        self._projects, self._data_dir = projects, options.data_dir
        self.langs = tuple(options.langs)
        self._items: Spill[tuple[str, str, str, str]] = Spill()

    def add(self, view: SheetView) -> None:
        """Keep the reference of ``view`` (each sheet's first format adds it)."""
        place = self.place((view.slug, view.lang))
        if place == len(self._items):
            self._items.append((view.slug, view.lang, view.locale_id, view.project_name))
        elif place > len(self._items):  # pragma: no cover - the plan's order
            raise ValueError(f"{view.lang}/{view.slug}: planned out of order")

    def place(self, key: tuple[str, str]) -> int:
        slug, lang = key
        return self._projects.index(slug) * len(self.langs) + self.langs.index(lang)

    def __getitem__(self, key: tuple[str, str]) -> _SheetRef:
        try:
            place = self.place(key)
        except ValueError:
            raise KeyError(key) from None
        if place >= len(self._items):
            raise KeyError(key)
        return _SheetRef(*self._items[place], self._projects, self._data_dir)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((slug, lang) for slug, lang, _, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)


class _SheetFiles(Mapping):
    """``(slug, lang)`` -> the file of each sheet of one format (as :class:`_SheetRefs`
    orders them), kept in a shared Spill, so that it can be sent to a rendering process
    (pickled as the projects' slugs and the spill's path and offsets)."""

    def __init__(self, slugs: Sequence[str], langs: tuple[str, ...], files: Spill[str],
                 pages: array | None = None):
        self._slugs, self._langs, self._files = slugs, langs, files
        self._pages = pages  # each sheet's page count as recorded (0: not known), or None
        # the slugs in order (a Texts: a lookup reads one group of them) and each one's
        # place in ``slugs`` (4 bytes a project), made at the first lookup
        self._sorted: tuple[Texts, array] | None = None

    def _place(self, key: tuple[str, str]) -> int:
        if self._sorted is None:
            ordered = sorted(zip(self._slugs, itertools.count()))  # (read in order, once)
            self._sorted = (Texts(slug for slug, _ in ordered),
                            array("I", (i for _, i in ordered)))
            del ordered
        (slug, lang), (known, place) = key, self._sorted
        at = known.bisect_left(slug)
        if at == len(known) or known[at] != slug or lang not in self._langs:
            raise KeyError(key)
        return place[at] * len(self._langs) + self._langs.index(lang)

    def __getitem__(self, key: tuple[str, str]) -> Path:
        return Path(self._files[self._place(key)])

    def page_count(self, key: tuple[str, str]) -> int | None:
        """The page count the sheet's output records (its file need not be opened to count
        them: the PDF bundle lays out its contents before it copies the sheets), or None."""
        return (self._pages[self._place(key)] or None) if self._pages is not None else None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((slug, lang) for slug in self._slugs for lang in self._langs)

    def __len__(self) -> int:
        return len(self._files)

    def values(self):  # type: ignore[override]  # in order, read a block at a time
        return (Path(f) for f in self._files)

    def __reduce__(self) -> tuple:
        return (_SheetFiles, (self._slugs, self._langs, self._files, self._pages))


def _unmakeable(previous: dict[str, dict], projects: m.ProjectSet, options: BuildOptions
                ) -> list[str]:
    """The outputs of earlier builds that no build of this data can make any more: the
    sheets of a project whose file was deleted or renamed, the bundle once
    ``data/bundle.yaml`` is gone.  The commit removes them with their manifest entries, so
    ``build --check`` can pass again.  (Outputs of another ``--only``, ``--lang`` or
    ``--format`` are kept: a build with those options makes them.)"""
    from . import bundle as files

    no_bundle = not bundle_path(options.data_dir).is_file()
    return sorted(path for path, entry in previous.items()  # (no set of every slug)
                  if (entry.get("slug") and projects.place(entry["slug"]) is None)
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
                    refs: _SheetRefs, sheets: Sequence[Output], staging: Staging,
                    renderer: _Renderer, previous: dict[str, dict]) -> list[Output]:
    """``briefing-nl-en.pdf`` (from the PDF sheets' files; only when ``pdf`` is among the
    formats) and ``briefing-nl-en.docx`` (from the Word sheets' files), each streamed into
    the staging area; with a process pool, the PDF in a process of its own (see
    :meth:`_Renderer.call`) while this one makes the Word bundle.  ``sheets`` are every sheet's outputs, in build order (see
    :class:`_SheetRefs`).  Raises :class:`DataErrors` for an invalid ``data/bundle.yaml``."""
    from . import bundle as files

    config = load_bundle(options.data_dir, projects)
    bundle = build_bundle_view(config, projects, refs, staging.root)  # type: ignore[arg-type]
    invariant = bool(os.environ.get("SOURCE_DATE_EPOCH"))
    langs = ",".join(c.locale_id for c in bundle.covers)
    formats = tuple(options.formats)
    # Each bundle's inputs (name -> sha256: every data file, and the PDF bundle's every PDF
    # sheet, the Word bundle's every sheet's inputs) are sorted into a file as they are
    # found (a SortedMap: as dict.update, the last of a name wins), not kept as dicts:
    # their key is hashed and their manifest entry written from it as a stream (memory)
    pdf_inputs: SortedMapMaker[str, str] = SortedMapMaker()
    docx_inputs: SortedMapMaker[str, str] = SortedMapMaker()
    makers = (pdf_inputs, docx_inputs)

    def both(name: str, digest: str) -> None:
        for maker in makers:
            maker.add(name, digest)

    both(_rel(bundle_path(options.data_dir), options), sha256_file(bundle_path(options.data_dir)))
    for slug in projects.slugs:
        both(_rel(source_path(options.data_dir, slug), options),
             sha256_file(source_path(options.data_dir, slug)))
    for name, digest in _theme_inputs(theme, options).items():
        both(name, digest)
    from .localise.catalog import catalog_path

    for lang in m.LANGS:  # the bundle's own labels (Contents, Summary, ...)
        po = Path(str(catalog_path(lang)))
        if po.is_file():
            both(_rel(po, options), sha256_file(po))
    # one pass over the sheets (build order: project, language, format): each format's
    # files (in the refs' order) and digests, and every sheet's inputs (the Word bundle's)
    # (a PDF bundle made in another process reads its sheets' files there: shared, and
    # named in the staging area, which a killed build's recovery removes)
    sheet_files = {fmt: Spill(shared=True, folder=staging.root)
                   if renderer.pooled and fmt == "pdf" else Spill() for fmt in formats}
    pdf_pages = array("I")  # each PDF sheet's page count (4 bytes a sheet)
    count = len(refs) * len(formats)
    seen: set[int] = set()  # the shared mappings of the sheets' inputs (a few) added
    last_own: Mapping[str, str] | None = None  # a project's sheets have the same own inputs
    for k, (key, sheet) in enumerate(zip(((key, fmt) for key in refs for fmt in formats),
                                         sheets)):
        (slug, lang), fmt = key
        if sheet.path != f"{lang}/{slug}.{fmt}":  # pragma: no cover - the plan's order
            raise ValueError(f"{sheet.path}: not the sheet planned at {k}")
        sheet_files[fmt].append(os.fspath(sheet.file) if sheet.file else "")
        if fmt == "pdf":  # (sheet paths and file names never meet: no name comes twice)
            pdf_inputs.add(sheet.path, sheet.sha256)
            pdf_pages.append(sheet.pages or 0)
        # the same names with the same digests again change nothing: each shared mapping
        # and each project's own files are added once
        if isinstance(sheet.inputs, Inputs):
            own, common = sheet.inputs.own, sheet.inputs.shared
            if own != last_own:  # (valued as the Inputs values them: the shared first)
                docx_inputs.update((n, sheet.inputs[n]) for n in own)
                last_own = own
            if id(common) not in seen:
                seen.add(id(common))
                docx_inputs.update((n, d) for n, d in common.items() if n not in own)
        else:
            docx_inputs.update(sheet.inputs.items())
    if len(sheets) < count:  # pragma: no cover - every sheet is kept
        raise ValueError("sheets missing")
    out = []
    pending: list = []  # the PDF bundle being written in another process

    if "pdf" in formats:
        pdf_inputs = pdf_inputs.finish()
        pdf_files = _SheetFiles(projects.slugs, refs.langs, sheet_files["pdf"], pdf_pages)

        def make_pdf() -> Output:
            if renderer.pooled:  # started now, staged once the Word bundle is made
                pending.append(renderer.call(_bundle_in_worker, "pdf", bundle, pdf_files,
                                             staging.reserve(files.PDF_NAME)))
                return Output(path=files.PDF_NAME, format="pdf", lang=langs)
            return staging.stage_stream(
                files.PDF_NAME, lambda f: files.write_pdf(bundle, pdf_files, theme, f,
                                                          invariant=invariant),
                format="pdf", lang=langs)

        # (its inputs, every sheet and data file, wait in their file)
        out.append(derived_output(options, files.PDF_NAME, pdf_inputs, make_pdf, previous))
    else:
        log.info("%s not made: it is made of the PDF sheets; add pdf to --format", files.PDF_NAME)
    if "docx" not in options.formats:  # like the PDF bundle: only with its own format
        log.debug("%s not made: add docx to --format", files.DOCX_NAME)
    else:
        # the Word bundle is made of the filled sheet template: its inputs are the sheets'
        if theme.sheet_docx.is_file():
            docx_inputs.add(_rel(theme.sheet_docx, options), sha256_file(theme.sheet_docx))
        docx_inputs = docx_inputs.finish()
        docx_files = _SheetFiles(projects.slugs, refs.langs, sheet_files["docx"])
        out.append(derived_output(options, files.DOCX_NAME, docx_inputs, lambda: (
            staging.stage_stream(files.DOCX_NAME, lambda f: files.write_docx(
                bundle, docx_files, theme, f, invariant=invariant), format="docx",
                lang=langs)), previous))
        del docx_inputs
    if pending:
        made = staging.stage_written(files.PDF_NAME, lambda: renderer.result(pending[0]),
                                     format="pdf", lang=langs)
        out[0] = replace(made, key=out[0].key, source_date_epoch=out[0].source_date_epoch,
                         inputs=out[0].inputs)
    for spill in sheet_files.values():
        spill.close()
    return out


def _bundle_in_worker(fmt: str, bundle: object, sheet_files: dict, path: Path
                      ) -> int | None | "_RemoteError":
    """Write a bundle (``fmt``: pdf or docx) to the staging file ``path``, in the process
    :meth:`_Renderer.call` starts once every sheet is rendered; return its page count."""
    from . import bundle as files

    write = files.write_pdf if fmt == "pdf" else files.write_docx
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        with os.fdopen(fd, "w+b") as fh:
            os.fchmod(fh.fileno(), 0o644)
            return write(bundle, sheet_files, _WORKER["theme"], fh,  # type: ignore[arg-type]
                         invariant=bool(_WORKER["invariant"]))
    except NexusError as exc:
        return _RemoteError(str(exc), exc.lines(), isinstance(exc, ContentOverflow))


@dataclass(frozen=True)
class SheetJob:
    """One sheet to build: its view, format, planned output path (relative to the output
    folder), input files (path -> sha256) and build key."""

    view: SheetView
    fmt: str
    path: str
    inputs: Mapping[str, str]
    key: str


def output_path(view: SheetView, fmt: str) -> str:
    """Where the sheet of ``view`` in format ``fmt`` goes, relative to the output folder:
    ``<lang>/<slug>.<fmt>`` (e.g. ``nl/atmp.pdf``)."""
    return f"{view.lang}/{view.slug}.{fmt}"


def plan(projects: m.ProjectSet, theme: Theme, options: BuildOptions,
         tool: dict[str, str]) -> list[SheetJob]:
    """Every requested sheet, by project (data order), language, then format, with the
    input files it is built from and its build key (see the module docstring)."""
    return list(_plan_jobs(projects, theme, options, tool, _Digests(options)))


class _Digests:
    """The recorded name (see :func:`_rel`) and sha256 of each input file, each file read
    once per build (the theme, fonts, catalogs and template are inputs of every sheet),
    and the same ``str`` objects shared by every sheet's inputs.  A data file asked for
    with ``keep=False`` (a project's own file, but a programme's with flagships: they read
    it too) is not kept: the memory of a build does not grow per project."""

    def __init__(self, options: BuildOptions):
        self.options = options
        self._known: dict[Path, tuple[str, str]] = {}

    def __call__(self, path: Path | str, keep: bool = True) -> tuple[str, str]:
        key = Path(path)
        found = self._known.get(key)
        if found is None:
            if not keep:
                return _rel(key, self.options), sha256_file(key)
            found = self._known[key] = (sys.intern(_rel(key, self.options)),
                                        sys.intern(sha256_file(key)))
        return found


def _plan_jobs(projects: m.ProjectSet, theme: Theme, options: BuildOptions,
               tool: dict[str, str], digests: _Digests) -> Iterator[SheetJob]:
    """:func:`plan`, one sheet at a time (its view built when it is reached)."""
    theme_inputs = dict(digests(f) for f in _theme_files(theme))
    tool_json = _json(tool)
    # the files every sheet of a language and format depends on: one mapping for all of
    # them (memory: see Inputs)
    same_assets: dict[tuple, dict[str, str]] = {}
    from .localise.catalog import catalog_path

    wanted = (slug for slug in projects.slugs if not options.only or slug in options.only)
    for slug in wanted:  # one at a time: each slug read is a new string (see ProjectSet)
        project = projects.by_slug(slug)  # expanded (see ProjectSet), one at a time
        source = source_path(options.data_dir, project.slug)
        data_files = [source]
        if project.kind == m.Kind.flagship and project.parent:
            data_files.append(source_path(options.data_dir, project.parent))
        # (a programme's file is kept for its flagships' sheets; no other data file)
        keep = [bool(projects.flagships_of_count(slug)), True]
        data = dict(digests(f, keep=k) for f, k in zip(data_files, keep) if f.is_file())
        for lang in options.langs:
            view = build_view(project, projects, lang, options.data_dir, str(source))
            assets = dict(theme_inputs)
            if view.lang != "en":
                po = Path(str(catalog_path(view.lang)))
                if po.is_file():
                    assets.update((digests(po),))
            for org in view.organisations:
                if org.logo and Path(org.logo).is_file():
                    assets.update((digests(org.logo),))
            view_json = _json(_view_record(view, options)).encode("utf-8")  # once per view
            for fmt in options.formats:
                fmt_assets = dict(assets)
                if fmt == "docx" and theme.sheet_docx.is_file():
                    fmt_assets.update((digests(theme.sheet_docx),))
                # _digest({"format": fmt, "view": record, "assets": fmt_assets, "tool":
                # tool}), the view's JSON made once for both formats: the same text, as
                # json.dumps writes it with sorted keys
                h = hashlib.sha256(f'{{"assets":{_json(fmt_assets)},"format":{_json(fmt)},'
                                   f'"tool":{tool_json},"view":'.encode("utf-8"))
                h.update(view_json)
                h.update(b"}")
                key = h.hexdigest()
                fmt_assets = same_assets.setdefault(tuple(fmt_assets.items()), fmt_assets)
                yield SheetJob(view=view, fmt=fmt, path=output_path(view, fmt),
                               inputs=Inputs(data, fmt_assets), key=key)


def derived_output(options: BuildOptions, path: str, inputs: dict[str, str],
                   make: Callable[[], Output], previous: dict[str, dict] | None = None
                   ) -> Output:
    """An output made from other files (the bundle from the sheets), reused from the output
    folder when up to date.

    ``path`` is the output's path relative to the output folder; ``inputs`` maps every file
    it is made from (sheets by their path relative to the output folder, other files named
    as :func:`_rel` names them, e.g. the bundle's data file) to its sha256 -- for sheets
    made this run, their ``Output.sha256``.  When the key (path, inputs, tool versions),
    ``SOURCE_DATE_EPOCH`` and the file match the manifest, the file in the output folder is
    returned as a reused output; otherwise ``make()`` is called and its output returned
    with these inputs and the key recorded.  ``previous``: the output folder's manifest
    entries, when the caller has read them already.
    """
    sde = source_date_epoch()
    key = _derived_key(path, inputs, tool_versions())
    if previous is None:
        previous = read_manifest_index(options.out_dir)
    reason = _freshness(path, key, previous, options, sde)
    if reason is None:
        return _reused(path, previous[path], options, inputs=inputs, key=key)
    log.debug("make %s: %s", path, reason)
    out = make()
    return replace(out, inputs={**inputs, **out.inputs} if out.inputs else inputs, key=key,
                   source_date_epoch=sde)


def _derived_key(path: str, inputs: Mapping[str, str], tool: dict[str, str]) -> str:
    """``_digest({"path": path, "inputs": inputs, "tool": tool})``, the same digest, for
    ``inputs`` kept in a file (a :class:`SortedMap`, in key order: what ``sort_keys`` gives)
    hashed as a stream, its JSON never made as one string."""
    if not isinstance(inputs, SortedMap):
        return _digest({"path": path, "inputs": inputs, "tool": tool})

    def text(value: object) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_plain,
                          separators=(",", ":"))

    h = hashlib.sha256(b'{"inputs":{')
    part: list[str] = []
    for n, (name, digest) in enumerate(inputs.items()):
        part.append(("," if n else "") + text(name) + ":" + text(digest))
        if len(part) >= 1024:
            h.update("".join(part).encode("utf-8"))
            part = []
    part.append('},"path":' + text(path) + ',"tool":' + text(tool) + "}")
    h.update("".join(part).encode("utf-8"))
    return h.hexdigest()


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
    record = dict(vars(view))  # the nested dataclasses as they are: see _plain
    del record["source"]
    record["organisations"] = [{**vars(org), "logo": _rel(org.logo, options)} if org.logo
                               else org for org in view.organisations]
    return record


def _plain(value: object) -> object:
    """JSON for what :func:`json.dumps` cannot write: a dataclass as its fields (what
    :func:`dataclasses.asdict` gives, without copying it first), anything else as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    return str(value)


def _json(value: object) -> str:
    """``value`` as the text a build key hashes: JSON, keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_plain,
                      separators=(",", ":"))


def _digest(value: object) -> str:
    return hashlib.sha256(_json(value).encode("utf-8")).hexdigest()


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
    # what this process starts with (a copy of the build's process) is not its garbage: the
    # cyclic collector leaves it alone from now on (its full collections went over those
    # ~55,000 objects again, some 0.3 ms a sheet), and their pages stay shared
    import gc

    gc.freeze()
    # its paths' names no longer go through Python's interned strings (they filled its
    # table and doubled it, see heap.stop_interning_path_parts): a forked process has it
    # from build() already, a spawned one needs it
    heap.stop_interning_path_parts()


def _end_with_parent(parent_pid: int | None = None) -> None:
    """Let the system end this process -- a rendering process, or validation's child
    (``parent_pid``: the build's process) -- when the build that started it dies (SIGKILL,
    the OOM killer): a worker would otherwise wait for work for ever.  Linux only
    (``prctl``); elsewhere nothing changes."""
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
    if parent_pid is None:  # a rendering process: its parent as multiprocessing knows it
        parent = multiprocessing.parent_process()
        parent_pid = parent.pid if parent is not None else None
    if parent_pid is not None and parent_pid != os.getppid():  # it died before prctl
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


def _render_sent(view: bytes, fmt: str, staging: Staging | None) -> Output | _RemoteError:
    """:func:`_render_in_worker` for a view pickled by the build's process (see
    :meth:`_Renderer.submit`)."""
    return _render_in_worker(pickle.loads(view), fmt, {}, staging)


def _render_in_worker(view: SheetView, fmt: str, inputs: dict[str, str],
                      staging: Staging | None = None) -> Output | "_RemoteError":
    """Render one sheet in a rendering process and, with ``staging``, stage it there too
    (written and flushed to disk here, not sent back: the build's process receives the
    staged output without its bytes, and does not write them)."""
    try:
        output = _render(view, fmt, _WORKER["theme"], bool(_WORKER["invariant"]), inputs)
        return output if staging is None else staging.stage(output)
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


POOL_MIN_SHEETS = 32
"""With ``jobs=0`` (the CLI's default: one rendering process per CPU), a build asking for
fewer sheets than this renders them in this process: starting the pool (forking, each
process loading the renderers) costs more than it saves below a few dozen sheets.  Measured
on 2 cores (shared, so by CPU time): at 24 sheets the pool cost 0.3-0.6 s more CPU than it
spread (2.3-2.5 s against 2.0 s), at 48 it was even, at 96 faster; faster sheets move the
break-even up.  An explicit ``jobs`` > 1 always uses a pool."""

_WINDOW = 4
"""Sheets in flight per rendering process: enough to keep each busy, few enough that the
views sent and the bytes coming back do not pile up in this process."""


@dataclass(frozen=True)
class _Pending:
    """What is kept of a sheet sent to a rendering process (not its view)."""

    path: str
    inputs: Mapping[str, str]
    slug: str
    key: str


class _Renderer:
    """Renders sheets as they are submitted: in this process, or in a pool of ``workers``
    processes with at most :data:`_WINDOW` sheets in flight per process (the pool starts
    with the first sheet to render, so a build that renders nothing starts none).  Each
    output is passed to ``stage`` as soon as it is rendered; :meth:`done` and
    :meth:`finish` give ``(index, staged output)`` pairs; overflow errors are collected in
    :attr:`errors` (in submission order), other errors raised at once.  :meth:`close`
    stops the pool when the build ends early (an error, Ctrl-C, SIGTERM)."""

    staging: Staging | None = None
    """Where a rendering process stages each sheet it renders (the build's, once known)."""

    def __init__(self, theme: Theme, invariant: bool, options: BuildOptions,
                 progress: Progress | None, expected: int,
                 stage: Callable[[Output], Output] = lambda output: output):
        self.theme, self.invariant, self.options = theme, invariant, options
        self.progress, self.stage, self.total = progress, stage, expected
        jobs = options.jobs
        if jobs <= 0:  # automatic: the pool only where it pays
            jobs = (os.cpu_count() or 1) if expected >= POOL_MIN_SHEETS else 1
        self.workers = max(1, min(jobs, expected))
        self.errors: list[NexusError] = []
        self._failures: dict[int, NexusError] = {}
        self._ready: list[tuple[int, Output]] = []
        self._inflight: dict[object, tuple[int, _Pending]] = {}
        self._pool: object | None = None
        self._count = 0

    def begin(self, total: int) -> None:
        """The build asks for ``total`` sheets (for the progress count)."""
        self.total = total
        if self.progress:
            self.progress(0, total, "")

    def start(self) -> None:
        """Start the pool's processes now (when there will be a pool): a no-op is sent,
        which makes the pool start every process at once."""
        if self.workers > 1 and self._pool is None:
            from concurrent.futures.process import BrokenProcessPool

            self._start()
            try:
                with _signals_blocked():
                    self._pool.submit(int)  # type: ignore[attr-defined]
            except BrokenProcessPool:
                raise self._broken() from None

    def _tick(self, path: str) -> None:
        self._count += 1
        if self.progress:
            self.progress(self._count, self.total, path)

    def skip(self, path: str) -> None:
        """A sheet reused from the output folder (for the progress count)."""
        self._tick(path)

    def _finished(self, index: int, output: Output, job: _Pending) -> None:
        staged = self.stage(output)
        self._ready.append((index, replace(staged, inputs=job.inputs, slug=job.slug,
                                           key=job.key)))
        self._tick(job.path)

    def submit(self, index: int, job: SheetJob) -> None:
        pending = _Pending(job.path, job.inputs, job.view.slug, job.key)
        if self.workers == 1:
            try:
                output = _render(job.view, job.fmt, self.theme, self.invariant, {})
            except ContentOverflow as exc:
                self._failures[index] = exc
                self._tick(job.path)
                return
            self._finished(index, output, pending)
            return
        from concurrent.futures.process import BrokenProcessPool

        try:
            if self._pool is None:
                self._start()
            while len(self._inflight) >= _WINDOW * self.workers:
                self._collect()
            # the view pickled here, in this thread, not by the pool's thread that sends
            # the call (which then copies bytes): pickling a view makes and frees buffers
            # and memo tables of ever other sizes, and glibc keeps some freed pieces of
            # each size for the thread that freed them; the sending thread's heap grew so
            # by ~0.3 MB over a 10,000-project build (benchmarks/build_process_memory.py
            # --smaps), this thread's already holds such pieces (it pickles every output
            # record)
            view = pickle.dumps(job.view, protocol=pickle.HIGHEST_PROTOCOL)
            with _signals_blocked():  # a spawned pool may start a process here
                future = self._pool.submit(  # type: ignore[attr-defined]
                    _render_sent, view, job.fmt, self.staging)
            self._inflight[future] = (index, pending)
        except BrokenProcessPool:
            raise self._broken() from None

    def _start(self, workers: int = 0) -> None:
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor

        method = ("fork" if "fork" in multiprocessing.get_all_start_methods()
                  and threading.active_count() == 1 else "spawn")
        if method == "fork" and "pdf" in self.options.formats:
            from .localise import locale_id

            _warm_pdf(self.theme, {locale_id(lang) for lang in self.options.langs})
        self._pool = ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker, initargs=(self.theme, self.invariant))

    def _collect(self, wait_all: bool = False) -> None:
        """Take the results of the sheets rendered so far (waiting for one at least)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        finished, _ = wait(list(self._inflight), return_when=FIRST_COMPLETED)
        for future in finished:
            index, job = self._inflight.pop(future)
            result = future.result()
            if isinstance(result, _RemoteError):
                if not result.overflow:
                    raise result
                self._failures[index] = result
                self._tick(job.path)
            else:
                self._finished(index, result, job)

    def failed(self, index: int) -> bool:
        """Whether the sheet submitted as ``index`` did not fit its page (see :attr:`errors`)."""
        return index in self._failures

    def wait(self) -> bool:
        """Wait for a sheet in flight to be rendered (then see :meth:`done`); False when
        none is in flight."""
        from concurrent.futures.process import BrokenProcessPool

        if not self._inflight:
            return False
        try:
            self._collect()
        except BrokenProcessPool:
            raise self._broken() from None
        return True

    def done(self) -> list[tuple[int, Output]]:
        """The outputs staged since the last call, with their indexes."""
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[tuple[int, Output]]:
        """Wait for every sheet in flight; return what :meth:`done` returns."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            while self._inflight:
                self._collect()
        except BrokenProcessPool:
            raise self._broken() from None
        self.errors = [self._failures[i] for i in sorted(self._failures)]
        return self.done()

    @property
    def pooled(self) -> bool:
        """Whether this build renders in other processes (then :meth:`call` runs there)."""
        return self.workers > 1

    def call(self, fn: Callable, *args: object) -> object:
        """Run ``fn(*args)`` in another process; returns its future.  Once the pool is
        shut down (every sheet rendered, see :meth:`shutdown`), the first call starts one
        fresh process, a copy of this one as it is now: the rendering processes' caches and
        the idle one do not last through the bundles."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            if self._pool is None:
                self._start(workers=1)
            with _signals_blocked():
                return self._pool.submit(fn, *args)  # type: ignore[attr-defined]
        except BrokenProcessPool:
            raise self._broken() from None

    def result(self, future: object) -> object:
        """The result of a :meth:`call` (a :class:`_RemoteError` raised)."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            value = future.result()  # type: ignore[attr-defined]
        except BrokenProcessPool:
            raise self._broken() from None
        if isinstance(value, _RemoteError):
            raise value
        return value

    def shutdown(self) -> None:
        """The sheets (or the bundles) are done: let the pool's processes end."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown()  # type: ignore[attr-defined]

    def _broken(self) -> OutputError:  # a worker was killed (kill -9, the OOM killer)
        self.close()
        return OutputError("a rendering process was ended from outside (killed; out of "
                           "memory?): nothing was changed, the previous outputs are as they "
                           "were; build again, with --jobs 1 if memory is short")

    def close(self) -> None:
        """Stop the pool if it still runs (the build ended early)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            self._inflight.clear()
            _stop_pool(pool)


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
    _resolved_roots.cache_clear()  # the folders as they are now (see _rel)
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
    jobs = {job.path: _Pending(job.path, job.inputs, job.view.slug, job.key)  # no views
            for job in _plan_jobs(projects, theme, options, tool, _Digests(options))}
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


def _theme_files(theme: Theme) -> list[Path]:
    files = [theme.folder / "theme.yaml", *theme.fonts.files()]
    if theme.icc_profile.is_file():  # the PDFs' OutputIntent (a missing one: render says so)
        files.append(theme.icc_profile)
    return files


def _theme_inputs(theme: Theme, options: BuildOptions) -> dict[str, str]:
    return {_rel(f, options): sha256_file(f) for f in _theme_files(theme)}


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
    for name, root in _resolved_roots(str(options.data_dir), str(options.templates_dir),
                                      os.getcwd()):
        if p.is_relative_to(root):
            return f"{name}/{p.relative_to(root).as_posix()}"
    return p.as_posix()


@lru_cache(maxsize=4)
def _resolved_roots(data_dir: str, templates_dir: str, cwd: str) -> list[tuple[str, Path]]:
    """:func:`_roots`, each resolved (links followed): once per build, not once per input
    file named (the folders' links are read again by each build: :func:`build` and
    :func:`verify` forget these first)."""
    options = BuildOptions(data_dir=Path(data_dir), templates_dir=Path(templates_dir))
    return [(name, root.resolve()) for name, root in _roots(options)]


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
