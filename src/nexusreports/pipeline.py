"""The orchestrator: load -> validate -> localise/view -> render -> write, in that order.

:func:`check` runs the first stages (what ``nexusreports validate`` does); :func:`build`
runs them all.  Nothing is written until every requested output has rendered, so a build
that fails on any sheet leaves the previous outputs as they were.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import model as m
from .errors import ContentOverflow, DataErrors, ErrorGroup, NexusError, Problem
from .theme import Theme, load_theme
from .validate import PROJECTS_DIR, load_projects
from .view import SheetView, build_view
from .write import Output, sha256_file, write_outputs

log = logging.getLogger("nexusreports")

FORMATS: tuple[str, ...] = ("pdf",)
"""Output formats this version can build."""


@dataclass(frozen=True)
class BuildOptions:
    """What to build.  Folders are paths; ``langs`` data language codes (``nl``, ``en``);
    ``only`` slugs (empty: all); ``strict`` makes warnings errors."""

    data_dir: Path = Path("data")
    templates_dir: Path = Path("templates")
    out_dir: Path = Path("out")
    langs: tuple[str, ...] = m.LANGS
    only: tuple[str, ...] = ()
    formats: tuple[str, ...] = FORMATS
    strict: bool = False


@dataclass
class BuildResult:
    """What a build did: the outputs, whether each changed on disk, and the warnings."""

    outputs: list[Output] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def check(data_dir: Path, templates_dir: Path, strict: bool = False
          ) -> tuple[m.ProjectSet, Theme, list[Problem]]:
    """Load the theme and validate every project; return them with the warnings.

    Raises :class:`DataErrors` (every problem at once; with ``strict`` warnings count as
    problems) or :class:`TemplateError`.
    """
    theme = load_theme(templates_dir)
    warnings: list[Problem] = []
    projects = load_projects(data_dir, theme.charset, warnings)
    if strict and warnings:
        raise DataErrors(warnings)
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


def build(options: BuildOptions) -> BuildResult:
    """Validate, render every requested sheet, then write them all and the manifest.

    Raises :class:`DataErrors` for invalid data, :class:`ErrorGroup` when sheets do not fit
    their page (each named), :class:`TemplateError` or :class:`OutputError`; in every case
    nothing has been written.
    """
    projects, theme, warnings = check(options.data_dir, options.templates_dir, options.strict)
    unknown = [s for s in options.only if s not in {p.slug for p in projects.projects}]
    if unknown:
        raise DataErrors([Problem(source_path(options.data_dir, s), 0, "",
                                  "no such project (use the file name without .yaml)")
                          for s in unknown])
    invariant = bool(os.environ.get("SOURCE_DATE_EPOCH"))
    theme_inputs = _theme_inputs(theme)
    outputs: list[Output] = []
    errors: list[NexusError] = []
    for view in views(projects, options):
        inputs = {_rel(view.source): sha256_file(Path(view.source)), **theme_inputs}
        for fmt in options.formats:
            try:
                outputs.append(_render(view, fmt, theme, invariant, inputs))
            except ContentOverflow as exc:
                errors.append(exc)
    if errors:
        raise ErrorGroup(errors)
    changed = write_outputs(options.out_dir, outputs, tool_versions())
    return BuildResult(outputs=outputs, changed=changed, warnings=warnings)


def _render(view: SheetView, fmt: str, theme: Theme, invariant: bool,
            inputs: dict[str, str]) -> Output:
    if fmt == "pdf":
        from .render.pdf import render_pdf

        data = render_pdf(view, theme, invariant=invariant)
        return Output(path=f"{view.lang}/{view.slug}.pdf", format="pdf", lang=view.locale_id,
                      data=data, pages=1, inputs=inputs)
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


def _theme_inputs(theme: Theme) -> dict[str, str]:
    files = [theme.folder / "theme.yaml", *theme.fonts.files()]
    return {_rel(f): sha256_file(f) for f in files}


def _rel(path: Path | str) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def tool_versions() -> dict[str, str]:
    """Versions of this tool and of the libraries that shape its output."""
    out = {}
    for dist in ("nexusreports", "reportlab", "babel", "pypdf", "python-docx", "docxtpl",
                 "pyphen", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


__all__ = ["BuildOptions", "BuildResult", "FORMATS", "build", "check", "tool_versions",
           "NexusError"]
