"""One exception tree for everything a user can get wrong.

Every error names where the problem is (file, line, field) and what to do about it, so the
CLI can print ``path:line: field: message`` and exit 1 without a traceback.  Third-party
exceptions are wrapped at the boundary where they happen, with ``raise ... from``.

Tree::

    NexusError                 root; never raised directly
    ├── DataError              one problem in a data file (YAML syntax, type, range, cross-check)
    │   └── (collected in) DataErrors   every problem found in one run, reported at once
    ├── TemplateError          a template, font, theme or catalog is missing or broken
    ├── ContentOverflow        content does not fit its page
    └── OutputError            an output could not be written
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class NexusError(Exception):
    """Root of every error the tool reports to a user (exit code 1)."""

    exit_code = 1

    def lines(self) -> list[str]:
        """The message as the CLI prints it: one line per problem."""
        return [str(self)]


def _display_path(path: Path | str | None) -> str:
    if path is None:
        return "<input>"
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


@dataclass(frozen=True)
class Problem:
    """One problem at one place in a data file.

    ``line`` is 1-based (0 when unknown); ``field`` is a dotted path such as
    ``summary.en`` or ``preconditions.energy.grid_congestion`` ('' for the whole file).
    """

    path: Path | str | None
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = _display_path(self.path)
        if self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class DataError(NexusError):
    """A single problem in a data file; carries a :class:`Problem`."""

    def __init__(self, path: Path | str | None, line: int, field: str, message: str):
        self.problem = Problem(path, line, field, message)
        super().__init__(str(self.problem))


class DataErrors(NexusError):
    """Every problem found in one validation run; ``problems`` is sorted by file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (str(p.path), p.line, p.field, p.message))
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the data")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class TemplateError(NexusError):
    """A template, theme, font or catalog cannot be used: ``where`` names the file."""

    def __init__(self, where: Path | str, message: str):
        self.where = where
        super().__init__(f"{_display_path(where)}: {message}")


class ContentOverflow(NexusError):
    """The content of a sheet does not fit on one page.

    ``fields`` are the data fields in the region that overflows, ``overflow_mm`` how much too
    tall the region is, in millimetres.  With ``word``, a single word is wider than its
    column by ``overflow_mm``.  ``line`` is the 1-based line of the first field in the data
    file (0: unknown; the renderer does not know it, the pipeline adds it with
    :meth:`at_line`), printed as ``path:line: fields: message``; ``note`` is a further way
    out, appended to the message (the Word sheet's: restyle the template smaller).
    """

    def __init__(self, path: Path | str | None, locale_id: str, region: str,
                 fields: list[str], overflow_mm: float, lines_to_cut: int, word: str = "",
                 line: int = 0, note: str = "", rows: bool = False):
        self.path = path
        self.rows = rows  # lines_to_cut counts rows of organisations with logos
        self.fields = fields
        self.overflow_mm = overflow_mm
        self.line = line
        self.note = note
        self._args = (path, locale_id, region, list(fields), overflow_mm, lines_to_cut, word)
        where = _display_path(path) + (f":{line}" if line else "")
        named = ", ".join(fields)
        if word:
            super().__init__(
                f"{where}: {named}: in the {locale_id} sheet the word {word!r} is "
                f"{overflow_mm:.1f} mm wider than the {region}: break it with a space or a "
                "hyphen, or shorten it")
            return
        plural = "s" if lines_to_cut != 1 else ""
        fix = (f"leave out about {lines_to_cut} row{plural} of organisations, or their logos "
               "(names alone take less room)" if rows else
               f"shorten these texts by about {lines_to_cut} line{plural}")
        super().__init__(
            f"{where}: {named}: the {locale_id} sheet does not fit on one page: "
            f"the {region} is {overflow_mm:.1f} mm too tall; {fix}"
            + (f"; {note}" if note else "")
        )

    def at_line(self, line: int) -> "ContentOverflow":
        """The same error, located at ``line`` (1-based) of its data file."""
        return ContentOverflow(*self._args, line=line, note=self.note, rows=self.rows)


class OutputError(NexusError):
    """An output file could not be written (permissions, disk full, ...)."""


class ErrorGroup(NexusError):
    """Several independent errors found in one run (e.g. two sheets that overflow)."""

    def __init__(self, errors: list[NexusError]):
        self.errors = errors
        super().__init__(f"{len(errors)} error{'s' if len(errors) != 1 else ''}")

    def lines(self) -> list[str]:
        return [line for err in self.errors for line in err.lines()]
