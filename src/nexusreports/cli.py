"""The command line: parse, call the library, print, map errors to exit codes.

Exit codes: 0 done; 1 a problem in the data, a template or an output (every problem is
printed as ``path:line: field: message``); 2 a usage error (unknown option or value).
No traceback is ever printed, unless ``-v -v`` asks for it on an internal error.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click

from .errors import NexusError
from .uptodate import FORMATS, LANGS, PROJECTS_DIR

# Nothing heavy is imported here: --help, completion and a build that changes nothing
# (decided by uptodate.py from the manifest) never load pydantic, ReportLab, python-docx,
# pikepdf or Babel; each command imports the pipeline when it needs it.

log = logging.getLogger("nexusreports")


def _langs(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    langs = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    bad = [lang for lang in langs if lang not in LANGS]
    if bad or not langs:
        raise click.BadParameter(f"{', '.join(bad) or value!r}: use one or more of "
                                 f"{', '.join(LANGS)}, separated by commas (e.g. nl,en)")
    return langs


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise click.BadParameter(f"{', '.join(bad) or value!r}: use one or more of "
                                 f"{', '.join(FORMATS)}, separated by commas")
    return formats


data_option = click.option("--data", "data_dir", type=click.Path(path_type=Path),
                           default=None, show_default="<project>/data",
                           help="Folder with projects/<slug>.yaml and bundle.yaml.")
templates_option = click.option(
    "--templates", "templates_dir", type=click.Path(path_type=Path), default=None,
    show_default="<project>/templates, else the defaults shipped with nexusreports",
    help="Folder with theme.yaml, fonts/ and sheet.docx.")
out_option = click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
                          show_default="<project>/out", help="Folder the outputs are written to.")


def _data(data_dir: Path | None) -> Path:
    """``--data``, or the project's ``data/`` (the project: the nearest folder at or above
    the working folder with nexusreports.toml, else the working folder)."""
    from .paths import project_root

    return data_dir if data_dir is not None else project_root() / "data"


def _templates(templates_dir: Path | None) -> Path:
    """``--templates``, or the project's ``templates/``, or the defaults in the package."""
    from .paths import default_templates, project_root

    if templates_dir is not None:
        return templates_dir
    own = project_root() / "templates"
    return own if own.is_dir() else default_templates()


def _out(out_dir: Path | None) -> Path:
    from .paths import project_root

    return out_dir if out_dir is not None else project_root() / "out"


def _project_slugs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of ``--only``: the project slugs of the data folder (``--data`` if it
    is already on the command line)."""
    from click.shell_completion import CompletionItem

    folder = _data(ctx.params.get("data_dir")) / PROJECTS_DIR
    try:
        slugs = sorted(p.stem for p in folder.glob("*.yaml"))
    except OSError:
        return []
    return [CompletionItem(s) for s in slugs if s.startswith(incomplete)]
strict_option = click.option("--strict", is_flag=True, help="Treat warnings as errors (CI).")


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("nexusreports")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    """-v/-q given after the command (``nexusreports build -q``): add them to those given
    before it (``nexusreports -q build``)."""
    if not value:
        return
    obj = ctx.ensure_object(dict)
    if param.name == "verbose":
        obj["verbose"] = obj.get("verbose", 0) + int(value)
    else:
        obj["quiet"] = True
    _configure_logging(obj.get("verbose", 0), obj.get("quiet", False))


def verbosity_options(command: Callable) -> Callable:
    """``-v/--verbose`` and ``-q/--quiet`` on a command too, so they work on either side of
    its name."""
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                           callback=_more_verbose, help="Only errors.")(command)
    return click.option("-v", "--verbose", count=True, expose_value=False,
                        callback=_more_verbose, help="More output (-vv: debug).")(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More output (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="nexusreports")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Build project sheets and the briefing bundle from YAML project data.

    -v/--verbose and -q/--quiet may come before or after the command's name."""
    _configure_logging(verbose, quiet)
    ctx.obj = {"verbose": verbose, "quiet": quiet}


@cli.command()
@data_option
@templates_option
@out_option
@click.option("--lang", "langs", default=",".join(LANGS), show_default=True, callback=_langs,
              help="Languages to build, comma-separated.")
@click.option("--only", "only", multiple=True, metavar="SLUG", shell_complete=_project_slugs,
              help="Build only this project: its file name in <data>/projects without .yaml "
                   "(repeatable). An unknown or empty SLUG is a usage error (exit 2).")
@click.option("--format", "formats", default="pdf,docx", show_default=True, callback=_formats,
              help="Formats to build, comma-separated.")
@strict_option
@click.option("--check", "check_only", is_flag=True,
              help="Build nothing; exit 1 naming every output that is missing, stale or "
                   "modified after the build (SOURCE_DATE_EPOCH included). With --only, only "
                   "the sheets of those projects are checked (not the bundle). Waits for a "
                   "build running into the same folder. Not with --force (exit 2).")
@click.option("--force", is_flag=True,
              help="Render every output, even those up to date (not with --check).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Rendering processes [default: the number of CPUs, or none (render "
                   "in this process) for a build of fewer than 32 sheets].")
@click.option("--no-bundle", "no_bundle", is_flag=True,
              help="Do not make the briefing bundle (briefing-nl-en.pdf/.docx); it is not "
                   "made anyway when --only or --lang builds part of the sheets.")
@verbosity_options
@click.pass_context
def build(ctx: click.Context, data_dir: Path | None, templates_dir: Path | None,
          out_dir: Path | None,
          langs: tuple[str, ...], only: tuple[str, ...], formats: tuple[str, ...], strict: bool,
          check_only: bool, force: bool, jobs: int | None, no_bundle: bool = False) -> None:
    """Validate the data and write the sheets to the output folder.

    Only outputs whose inputs changed are rendered again (see out/manifest.json).  Set
    SOURCE_DATE_EPOCH for byte-identical (reproducible) builds.

    Exit 0 done; 1 a problem in the data, a template or an output (nothing is written);
    2 a usage error (an unknown option or value, an unknown --only SLUG, --check with
    --force); 130/143 interrupted by Ctrl-C/SIGTERM before every output was written (one
    line says so). Once they are all written, Ctrl-C and SIGTERM are ignored: the build
    finishes, prints its summary and exits 0.
    """
    if check_only and force:
        raise click.UsageError("--check builds nothing and --force renders everything: use "
                               "one or the other")
    data_dir, templates_dir, out_dir = _data(data_dir), _templates(templates_dir), _out(out_dir)
    _check_slugs(data_dir, only)
    started = time.monotonic()
    quiet, verbose = ctx.obj["quiet"], ctx.obj["verbose"]
    choice = dict(langs=langs, only=only, formats=formats, bundle=not no_bundle)
    from . import uptodate

    found = uptodate.unchanged(data_dir, templates_dir, out_dir, strict=strict, force=force,
                               check=check_only, **choice)
    if found is not None:  # nothing to do: say so as the build would, load nothing
        if check_only:
            if not quiet:
                click.echo(f"{len(found.outputs)} outputs in {out_dir} match their inputs",
                           err=True)
        else:
            _report_unchanged(found, out_dir, quiet, verbose, started)
        return
    snapshot = None if check_only else uptodate.Snapshot(data_dir, templates_dir)

    from .pipeline import BuildOptions

    options = BuildOptions(data_dir=data_dir, templates_dir=templates_dir, out_dir=out_dir,
                           langs=langs, only=only, formats=formats, strict=strict, force=force,
                           jobs=jobs or 0, bundle=not no_bundle)
    if check_only:
        _check_outputs(options, quiet)
    else:
        result = _build_outputs(options, quiet, verbose, started)
        uptodate.record(snapshot, out_dir, outputs=result.outputs, warnings=result.warnings,
                        **choice)


def _report_unchanged(found: object, out_dir: Path, quiet: bool, verbose: int,
                      started: float) -> None:
    """Print what :func:`_build_outputs` prints for a build that changes nothing."""
    _ignore_stop_signals()  # nothing is being written: a Ctrl-C now changes nothing
    for level, text in found.messages:  # type: ignore[attr-defined]
        log.log(level, text)
    for warning in found.warnings:  # type: ignore[attr-defined]
        click.echo(f"warning: {warning}", err=True)
    outputs = found.outputs  # type: ignore[attr-defined]
    bar = not quiet and sys.stderr.isatty()
    if not quiet and (not bar or verbose):
        for path in outputs:
            click.echo(f"unchanged {out_dir / path}", err=True)
    if not quiet:
        click.echo(f"{len(outputs)} outputs in {out_dir}: 0 built, {len(outputs)} unchanged, "
                   f"0 failed ({time.monotonic() - started:.1f} s)", err=True)


def _check_slugs(data_dir: Path, only: tuple[str, ...]) -> None:
    """Raise :class:`click.BadParameter` (exit 2) for an empty ``--only`` SLUG, or one that
    names no file in ``data_dir/projects`` (with a "did you mean").  A missing projects
    folder is left to the build, which names it (exit 1)."""
    import difflib

    if any(not slug.strip() for slug in only):
        raise click.BadParameter("an empty SLUG: give a project's file name without .yaml "
                                 "(e.g. --only atmp)", param_hint="'--only'")
    folder = data_dir / PROJECTS_DIR
    if not folder.is_dir():
        return
    known = sorted(p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    unknown = [slug for slug in only if slug not in known]
    if unknown:
        slug = unknown[0]
        close = difflib.get_close_matches(slug, known, n=1)
        hint = (f"did you mean '{close[0]}'?" if close
                else f"use one of {', '.join(known) or '(none yet)'}")
        raise click.BadParameter(f"'{slug}': no project file {folder / (slug + '.yaml')}: "
                                 f"{hint} (a SLUG is the file name without .yaml)",
                                 param_hint="'--only'")


def _check_outputs(options: object, quiet: bool) -> None:
    from .pipeline import verify

    problems, checked = verify(options)  # type: ignore[arg-type]
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} of {checked} outputs in {options.out_dir} are not up to "
                   "date", err=True)  # type: ignore[attr-defined]
        raise click.exceptions.Exit(1)
    if not quiet:
        click.echo(f"{checked} outputs in {options.out_dir} match their inputs",  # type: ignore[attr-defined]
                   err=True)


def _build_outputs(options: object, quiet: bool, verbose: int, started: float) -> object:
    from .errors import ErrorGroup
    from .pipeline import build as run_build

    bar = None
    progress = None
    if not quiet and sys.stderr.isatty():
        bar = _ProgressBar()
        progress = bar.update
    try:
        result = run_build(options, progress)  # type: ignore[arg-type]
        _ignore_stop_signals()  # every output is written: a Ctrl-C now changes nothing
    except ErrorGroup as exc:
        if bar:
            bar.close()
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(f"0 built, 0 unchanged, {len(exc.errors)} failed "
                   f"({time.monotonic() - started:.1f} s); nothing was written", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        if bar:
            bar.close()
    _print_warnings(result.warnings)
    out_dir = options.out_dir  # type: ignore[attr-defined]
    if not quiet and (bar is None or verbose):
        for output, changed in zip(result.outputs, result.changed):
            click.echo(f"{'built' if changed else 'unchanged'} {out_dir / output.path}",
                       err=True)
    built = sum(result.changed)
    if not quiet:
        click.echo(f"{len(result.outputs)} outputs in {out_dir}: {built} built, "
                   f"{len(result.outputs) - built} unchanged, 0 failed "
                   f"({time.monotonic() - started:.1f} s)", err=True)
    return result


class _ProgressBar:
    """A rich progress bar on stderr over the outputs being rendered (terminals only)."""

    def __init__(self) -> None:
        self._progress = None
        self._task = None
        self._ended = False

    def update(self, done: int, total: int, path: str) -> None:
        if self._progress is None:
            if total == 0 or self._ended:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(TextColumn("rendering"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn("{task.description}"),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=total)
        self._progress.update(self._task, completed=done, description=path)
        if done >= total:  # every sheet: the bundles follow, in a process of their own
            self._ended = True
            self.close()

    def close(self) -> None:
        """Take the bar away, and wait for its refresh thread to end: the build forks its
        bundle process only when no other thread runs (a fork copies no thread, but every
        lock held by one, such as stderr's)."""
        if self._progress is not None:
            live = self._progress.live
            thread = getattr(live, "_refresh_thread", None)  # rich does not join it
            self._progress.stop()
            self._progress = None
            if thread is not None:
                thread.join(timeout=2)


@cli.command()
@data_option
@templates_option
@strict_option
@verbosity_options
def validate(data_dir: Path | None, templates_dir: Path | None, strict: bool) -> None:
    """Check every project file and report every problem at once.

    The sheets are also laid out in memory (nothing is written), so text that does not fit
    its page is reported here too."""
    from .pipeline import BuildOptions, check, check_layout

    data_dir, templates_dir = _data(data_dir), _templates(templates_dir)

    try:
        projects, theme, warnings = check(data_dir, templates_dir, strict)
        check_layout(projects, theme, BuildOptions(data_dir=data_dir,
                                                   templates_dir=templates_dir))
    except NexusError as exc:  # validate never writes: no "nothing was written" here
        lines = exc.lines()
        for line in lines:
            click.echo(line, err=True)
        if len(lines) > 1:
            click.echo(f"{exc}.", err=True)
        raise click.exceptions.Exit(exc.exit_code) from None
    _print_warnings(warnings)
    count = len(projects.slugs)
    click.echo(f"{count} project{' is' if count == 1 else 's are'} valid.", err=True)


@cli.command()
@click.argument("slug")
@click.option("--parent", metavar="SLUG", default=None,
              help="The programme of the new flagship (default: the only programme in the "
                   "data).")
@click.option("--programme", "is_programme", is_flag=True,
              help="Make a programme (no parent) instead of a flagship.")
@data_option
@verbosity_options
def new(slug: str, parent: str | None, is_programme: bool, data_dir: Path | None) -> None:
    """Write data/projects/SLUG.yaml to fill in: every field, commented, with TODO values.

    Its first line names the project's schemas/project.schema.json for editors (written
    there too when missing or out of date).  Exit 2 for an invalid SLUG or --parent (usage);
    exit 1 when the file already exists (it is never overwritten).  Then: nexusreports
    validate, and nexusreports build --only SLUG.
    """
    from .paths import project_root
    from .scaffold import slug_problem, write_schemas, write_scaffold
    from .validate import PROJECTS_DIR

    problem = slug_problem(slug)
    if problem:
        raise click.BadParameter(problem, param_hint="SLUG")
    data_dir = _data(data_dir)
    folder = data_dir / PROJECTS_DIR
    if is_programme and parent:
        raise click.UsageError("--programme and --parent exclude each other: a programme has "
                               "no parent")
    if not is_programme:
        programmes = _programmes(folder)
        if parent is None:
            if len(programmes) != 1:
                raise click.UsageError(
                    "name the programme of the new flagship with --parent "
                    f"({', '.join(programmes) or f'no programme found in {folder}'}), or "
                    "make a programme with --programme")
            parent = programmes[0]
        elif parent not in programmes:
            raise click.BadParameter(
                f"'{parent}' is not a programme in {folder}: use one of "
                f"{', '.join(programmes) or '(none yet: create one with --programme)'}",
                param_hint="--parent")
    schemas = project_root() / "schemas"
    path = write_scaffold(data_dir, slug, None if is_programme else parent, schemas)
    click.echo(f"wrote {path}: replace every TODO, then run 'nexusreports validate' and "
               f"'nexusreports build --only {slug}'", err=True)
    for written in write_schemas(schemas):
        click.echo(f"wrote {written} (the format, for editors)", err=True)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("."))
@click.option("--slug", default=None, metavar="SLUG",
              help="The programme's slug (its file name) [default: the folder's name as a "
                   "slug].")
@verbosity_options
def init(folder: Path, slug: str | None) -> None:
    """Make a new programme folder FOLDER (default: this folder), ready to build.

    It gets nexusreports.toml (the marker: the commands find the project by walking up to
    it, so they work in any folder below), a commented programme file with example values,
    data/bundle.yaml, a copy of the default templates to restyle, the JSON Schemas for
    editors, a README of the commands and a .gitignore for out/.  Exit 1, writing nothing,
    when FOLDER already holds any of them; exit 2 for an invalid --slug.
    """
    import datetime as dt

    from .scaffold import init_project, slug_problem

    if slug is None:
        from .scaffold import suggest_slug

        slug = suggest_slug(folder.resolve().name) or "programme"
    else:
        problem = slug_problem(slug)
        if problem:
            raise click.BadParameter(problem, param_hint="'--slug'")
    made = init_project(folder, slug, dt.date.today().isoformat())
    for path in made:
        log.info("made %s", path)
    import shlex

    # a command to copy: a folder with spaces or quotes is quoted for the shell
    where = ("" if folder.resolve() == Path.cwd().resolve()
             else f"cd {shlex.quote(str(folder))} && ")
    click.echo(f"made the project {folder} (programme '{slug}'); next: {where}nexusreports "
               "validate && nexusreports build, or nexusreports preview while you edit "
               f"data/projects/{slug}.yaml", err=True)


@cli.command()
@click.argument("name", type=click.Choice(["data-format", "template-reference"]),
                default="data-format")
def docs(name: str) -> None:
    """Print a reference: the data format (default) or the Word template's names (Markdown).

    They ship with nexusreports; in the source they are docs/data-format.md and
    docs/template-reference.md."""
    from .paths import reference_doc

    click.echo(reference_doc(f"{name}.md").read_text(encoding="utf-8"), nl=False)


def _programmes(folder: Path) -> list[str]:
    """Slugs of the files in ``folder`` whose ``kind:`` line says programme (a cheap read:
    the scaffold must work even when other files are invalid)."""
    import re

    found = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            try:
                head = path.read_text(encoding="utf-8", errors="replace")[:20000]
            except OSError:
                continue
            if re.search(r"^kind:\s*programme\b", head, re.MULTILINE):
                found.append(path.stem)
    return found


@cli.command()
@data_option
@templates_option
@out_option
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="any free port",
              help="The port on 127.0.0.1 to serve the page on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the browser.")
@verbosity_options
def preview(data_dir: Path | None, templates_dir: Path | None, out_dir: Path | None, port: int,
            open_browser: bool) -> None:
    """Show the sheets and the bundle in the browser, updated each time a file is saved.

    Serves a page on 127.0.0.1 only (the link is printed) with each sheet in Dutch and
    English side by side and the bundle's pages, each PDF and Word file a click away.
    Saving a project file, bundle.yaml, the theme or the Word template rebuilds what changed
    (into the output folder, as 'build' does) and the page follows within about a second;
    while a file has problems the page lists them, as 'validate' does, over the last good
    pages.  Ctrl-C stops it (exit 0)."""
    # uvicorn handles Ctrl-C/SIGTERM itself while it serves, then raises the signal again
    # for the handler it found: that must not be the build's "Interrupted" (exit 130).  A
    # stop signal before the server runs (while the libraries load, say: about a second)
    # ends the preview at once.
    serving = threading.Event()

    def stop_signal(signum: int, frame: object) -> None:
        if not serving.is_set():
            raise _PreviewStopped(signum)

    previous = {stop: signal.signal(stop, stop_signal) for stop in _STOP_SIGNALS}
    try:
        from .pipeline import BuildOptions
        from .preview import serve

        options = BuildOptions(data_dir=_data(data_dir),
                               templates_dir=_templates(templates_dir), out_dir=_out(out_dir),
                               jobs=1)

        def ready(url: str) -> None:
            click.echo(f"Preview of {options.data_dir} at {url} (Ctrl-C to stop)", err=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

        serve(options, port, ready, on_start=serving.set)
    except _PreviewStopped:
        pass
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    click.echo("Preview stopped.", err=True)


class _PreviewStopped(BaseException):
    """A stop signal before the preview's server took over the signals."""


@cli.command()
@click.argument("which", type=click.Choice(["project", "bundle"]), default="project")
def schema(which: str) -> None:
    """Print the format of a project file (default) or of bundle.yaml as JSON Schema.

    Every field is described, numbers are typed as numbers with their ranges.  'nexusreports
    init' and 'nexusreports new' keep a copy in the project's schemas/ folder, which the
    first line of each data file names for editors (VS Code's YAML extension: completion,
    descriptions and checks while you type)."""
    from .schema import schema_for

    click.echo(json.dumps(schema_for(which), indent=2, ensure_ascii=False))


def _print_warnings(warnings: list) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


class Interrupted(BaseException):
    """A stop signal (SIGINT: Ctrl-C, or SIGTERM) arrived.  Raised in the main thread, so the
    build unwinds (stopping its rendering processes, removing temporary files); :func:`main`
    then prints one line and returns ``128 + signum`` (130, 143).  A BaseException, so no
    ``except Exception`` swallows it and click does not turn it into "Aborted!"."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_RECEIVED: list[int] = []
"""The stop signal this run received, if any.  A library may catch :class:`Interrupted` and
raise something else in its place (ReportLab re-raises it with a text message from its
paragraph parser, and turns it into a "corrupt font" error while it reads a font file): once
a stop signal has arrived, whatever ends the run is that interruption."""


def _interrupt(signum: int, frame: object) -> None:
    # the first stop signal unwinds the build; later ones (Ctrl-C pressed twice, a SIGTERM
    # after the SIGINT) are ignored, so the clean-up cannot itself be cut short
    for stop in _STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    _RECEIVED.append(signum)
    raise Interrupted(signum)


def _ignore_stop_signals() -> None:
    """Ignore SIGINT and SIGTERM from now on (the work is done; outside the main thread,
    where handlers cannot be set, nothing changes).  :func:`main` puts the previous handlers
    back when it was called with ``argv``."""
    try:
        for stop in _STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
    except ValueError:
        pass


def _catch_stop_signals() -> dict:
    """Handle SIGINT and SIGTERM with :func:`_interrupt`; return the previous handlers
    (empty when not in the main thread, where handlers cannot be set)."""
    try:
        return {stop: signal.signal(stop, _interrupt) for stop in _STOP_SIGNALS}
    except ValueError:
        return {}


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and return its exit code (never a traceback).

    Ctrl-C (SIGINT) and SIGTERM stop a build promptly: its rendering processes are ended,
    no temporary file is left, each output is the previous build's or this one's, whole;
    one line is printed and the exit code is 130 (SIGINT) or 143 (SIGTERM).  Once a build
    has written its outputs, and once any command has finished, the stop signals are
    ignored: the command ends as it would have (exit 0 for a finished build).  Called with
    ``argv`` (in-process use), the previous signal handlers are put back on return; called
    without (the ``nexusreports`` program), the process exits next, so they are not."""
    _RECEIVED.clear()
    previous = _catch_stop_signals()
    if argv is None:
        previous = {}
    try:
        code = _run(argv)
        if argv is None:
            _ignore_stop_signals()  # exiting: a late Ctrl-C must not turn into a traceback
        return code
    except Interrupted as exc:
        previous = {}  # exiting: further signals stay ignored
        signum = _RECEIVED[0] if _RECEIVED else exc.signum
        click.echo(f"Interrupted ({signal.Signals(signum).name}): the build stopped; no "
                   "file is half-written and no temporary file is left. Run it again to "
                   "finish.", err=True)
        return 128 + signum
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def _run(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="nexusreports", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's click.exceptions.Exit(code)
            return code
    except NexusError as exc:
        if _RECEIVED:  # a library turned the interruption into this error
            raise Interrupted(_RECEIVED[0]) from exc
        for line in exc.lines():
            click.echo(line, err=True)
        if len(exc.lines()) > 1:
            click.echo(f"{exc}; nothing was written.", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:  # only when the handler could not be set (not the main thread)
        click.echo("Interrupted (SIGINT): the build stopped.", err=True)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # noqa: BLE001 - the one place that must never show a traceback
        if _RECEIVED:  # a library turned the interruption into this error
            raise Interrupted(_RECEIVED[0]) from exc
        log.debug("internal error", exc_info=True)
        click.echo(f"internal error: {exc.__class__.__name__}: {exc}. This is a bug in "
                   "nexusreports; run again with -vv and report the output.", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
