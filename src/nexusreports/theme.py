"""The visual identity, read from ``templates/theme.yaml``: fonts, colours, page geometry.

Lengths are millimetres (``*_mm``), type sizes points (``*_pt``).  The theme and the fonts
ship with the tool, but people edit the theme by hand, so it is read like a data file: with
line numbers (:func:`~nexusreports.load.load_yaml`), checked by a pydantic model with ranges
(:class:`ThemeSpec`) and by cross-checks of the geometry, and every problem is reported at once
as ``templates/theme.yaml:line: key: message`` (:class:`ThemeErrors`, a
:class:`~nexusreports.errors.TemplateError`).  Only A4 pages are supported.
"""

from __future__ import annotations

import difflib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import DataError, Problem, TemplateError
from .load import RawDocument, dotted, load_yaml

THEME_FILE = "theme.yaml"
ICC_PROFILE = "colour/sRGB.icc"
"""The PDFs' colour profile, relative to the templates folder (licence beside it)."""

MIN_FONT_PT = 7.0
"""The smallest type size a theme may set, in points (legibility of the printed sheet)."""

PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210.0, 297.0
"""A4, the only page size: the sheets and the bundle are laid out for it."""

MIN_KEY_FIGURES_MM = 50.0
"""Narrowest key-figures column (what the page width leaves beside the text column), in mm."""

MIN_BODY_MM = 120.0
"""Least height left for the two columns between the header and the organisations band, mm."""

_SHIPPED = ("compare with the theme.yaml of a folder made by 'nexusreports init' (the "
            "defaults that ship with nexusreports)")

RESTORE = ("put back a good copy (from your version control, or the defaults in the "
           "templates of a folder made by 'nexusreports init')")
"""How to mend a damaged or missing file of a templates folder: wherever --templates points,
the packaged defaults are a good copy."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _mm(low: float, high: float, *, strict_low: bool = False) -> Any:
    bound = {"gt": low} if strict_low else {"ge": low}
    return Annotated[float, Field(le=high, allow_inf_nan=False, **bound)]


def _pt(high: float) -> Any:
    return Annotated[float, Field(ge=MIN_FONT_PT, le=high, allow_inf_nan=False)]


Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
FontFile = Annotated[str, StringConstraints(min_length=1)]


class FontsSpec(_Section):
    """``fonts:``: the family name and its four TrueType files, relative to the templates
    folder."""

    family: Annotated[str, StringConstraints(min_length=1)]
    regular: FontFile
    bold: FontFile
    italic: FontFile
    bold_italic: FontFile


class ColoursSpec(_Section):
    """``colours:``: every colour the renderers use, as ``#RRGGBB``."""

    primary: Colour
    accent: Colour
    accent_light: Colour
    panel: Colour
    text: Colour
    muted: Colour
    rule: Colour
    on_primary: Colour


class PageSpec(_Section):
    """``page:``: A4 only; lengths in mm (margins positive, gaps may be 0)."""

    size: Literal["A4"]
    margin_left_mm: _mm(0, 50, strict_low=True)
    margin_right_mm: _mm(0, 50, strict_low=True)
    margin_bottom_mm: _mm(0, 50, strict_low=True)
    header_height_mm: _mm(20, 100)
    gap_below_header_mm: _mm(0, 30)
    left_column_mm: _mm(80, PAGE_WIDTH_MM)
    column_gap_mm: _mm(0, 30)
    organisations_height_mm: _mm(10, 80)
    footer_height_mm: _mm(5, 30)


class TypeSpec(_Section):
    """``type:``: sizes and leading in points, each at least :data:`MIN_FONT_PT`."""

    title_pt: _pt(48)
    subtitle_pt: _pt(24)
    heading_pt: _pt(24)
    body_pt: _pt(24)
    body_leading_pt: _pt(48)
    small_pt: _pt(24)
    key_figure_pt: _pt(48)


class ThemeSpec(_Section):
    """The whole of ``theme.yaml``, before the font files are looked at."""

    fonts: FontsSpec
    colours: ColoursSpec
    page: PageSpec
    type: TypeSpec


class ThemeErrors(TemplateError):
    """Every problem in ``theme.yaml`` at once; ``problems`` are printed one a line as
    ``templates/theme.yaml:line: key: message``."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.line, p.field, p.message))
        count = len(self.problems)
        super().__init__(path, f"{count} problem{'s' if count != 1 else ''} in the theme")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True)
class Fonts:
    """Font family name and the four TrueType files (absolute paths)."""

    family: str
    regular: Path
    bold: Path
    italic: Path
    bold_italic: Path

    def files(self) -> list[Path]:
        return [self.regular, self.bold, self.italic, self.bold_italic]

    def faces(self) -> dict[str, Path]:
        """The files by the name each face is registered under (``Carlito-Bold``...)."""
        f = self.family
        return {f: self.regular, f"{f}-Bold": self.bold, f"{f}-Italic": self.italic,
                f"{f}-BoldItalic": self.bold_italic}


_READ: dict[tuple[str, str, int, int], Any] = {}
"""TrueType fonts read once per process, by (name, path, size, modification time)."""


def read_font(name: str, path: Path) -> Any:
    """ReportLab's ``TTFont`` of ``path`` named ``name``, read once per process while the
    file is unchanged: :attr:`Theme.charset` reads the faces, the PDF renderer registers
    the same objects instead of reading the files again.  Raises what ReportLab raises."""
    from reportlab.pdfbase.ttfonts import TTFont

    try:
        stat = path.stat()
    except OSError:
        return TTFont(name, str(path))  # (ReportLab's own message for a file it cannot open)
    key = (name, str(path), stat.st_size, stat.st_mtime_ns)
    font = _READ.get(key)
    if font is None:
        font = _READ[key] = TTFont(name, str(path))
    return font


@dataclass(frozen=True)
class Theme:
    """Everything visual the renderers need; ``folder`` is the templates folder.

    ``colours`` maps a :class:`ColoursSpec` name to ``#RRGGBB``; ``page`` holds
    :class:`PageSpec` (``size`` is ``"A4"``, the rest mm as floats); ``type`` holds
    :class:`TypeSpec` (pt as floats).
    """

    folder: Path
    fonts: Fonts
    colours: dict[str, str]
    page: dict[str, Any]
    type: dict[str, float]

    @property
    def sheet_docx(self) -> Path:
        """The Word template of a sheet."""
        return self.folder / "sheet.docx"

    @property
    def icc_profile(self) -> Path:
        """The sRGB ICC profile every PDF declares as its OutputIntent (PDF/A)."""
        return self.folder / ICC_PROFILE

    @cached_property
    def charset(self) -> frozenset[int]:
        """Code points that every face of the font can print (for validation).

        Raises :class:`TemplateError` when a font file is not a TrueType font, or is cut off
        (ReportLab's parser then fails with ``struct.error``).
        """
        from reportlab.pdfbase.ttfonts import TTFError

        points: set[int] | None = None
        for name, path in self.fonts.faces().items():
            try:
                face = set(read_font(name, path).face.charToGlyph)
            except (TTFError, OSError) as exc:
                raise TemplateError(path, f"not a usable TrueType font ({exc})") from exc
            except (struct.error, IndexError, KeyError, ValueError) as exc:  # cut off
                raise TemplateError(path, "not a usable TrueType font: the file is damaged "
                                    f"or cut off ({exc}); {RESTORE}") from exc
            points = face if points is None else points & face
        return frozenset(points or ())


def load_theme(folder: Path) -> Theme:
    """Read and check ``folder/theme.yaml`` and check that every font file exists.

    Raises :class:`TemplateError` for a missing folder or file, and :class:`ThemeErrors`
    (every problem, each with its line) for YAML errors, missing, unknown or mistyped keys,
    values out of range, a geometry that does not fit on A4, or a missing font file.
    """
    folder = Path(folder)
    path = folder / THEME_FILE
    if not path.is_file():
        raise TemplateError(path, "the theme is missing: give the templates folder with "
                            "--templates (it must contain theme.yaml, sheet.docx and fonts/)")
    try:
        doc = load_yaml(path)
    except DataError as exc:  # syntax, encoding, empty file, duplicate key, alias ...
        p = exc.problem
        message = p.message
        if "the file is empty" in message:
            message = f"the theme is empty: {_SHIPPED}"
        else:
            message += f", or {RESTORE}"
        raise ThemeErrors(path, [Problem(path, p.line, p.field, message)]) from exc
    if not isinstance(doc.data, dict):
        raise ThemeErrors(path, [Problem(path, 1, "", "expected the sections fonts:, colours:, "
                                         f"page: and type:; {_SHIPPED}")])
    try:
        spec = ThemeSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise ThemeErrors(path, _pydantic_problems(exc, doc)) from exc
    problems = _geometry_problems(spec, doc)
    fonts = Fonts(family=spec.fonts.family, **{k: folder / getattr(spec.fonts, k) for k in
                                               ("regular", "bold", "italic", "bold_italic")})
    for key, font in zip(("regular", "bold", "italic", "bold_italic"), fonts.files()):
        if not font.is_file():
            problems.append(_at(doc, ("fonts", key), f"the font file {font} is missing: "
                                f"{RESTORE}, "
                                "or point this at an existing .ttf (relative to the templates "
                                "folder)"))
    if problems:
        raise ThemeErrors(path, problems)
    return Theme(folder=folder, fonts=fonts, colours=spec.colours.model_dump(),
                 page=spec.page.model_dump(), type=spec.type.model_dump())


def _at(doc: RawDocument, loc: tuple[str | int, ...], message: str) -> Problem:
    return Problem(doc.path, doc.line_of(loc), dotted(loc), message)


def _geometry_problems(spec: ThemeSpec, doc: RawDocument) -> list[Problem]:
    """What the ranges of single keys cannot see: the columns and bands must fit on A4."""
    g, t = spec.page, spec.type
    out = []
    key_figures = PAGE_WIDTH_MM - g.margin_left_mm - g.margin_right_mm - g.left_column_mm \
        - g.column_gap_mm
    if key_figures < MIN_KEY_FIGURES_MM:
        most = key_figures + g.left_column_mm - MIN_KEY_FIGURES_MM
        out.append(_at(doc, ("page", "left_column_mm"), (
            f"{g.left_column_mm:g} mm leaves {key_figures:g} mm for the key-figures column "
            f"(the A4 width {PAGE_WIDTH_MM:g} mm less the margins, the text column and the "
            f"column gap); it needs at least {MIN_KEY_FIGURES_MM:g} mm: make the text column "
            f"at most {most:g} mm, or margin_left_mm, margin_right_mm or column_gap_mm "
            "smaller")))
    body = (PAGE_HEIGHT_MM - g.header_height_mm - g.gap_below_header_mm - g.margin_bottom_mm
            - g.footer_height_mm - g.organisations_height_mm - 2)
    if body < MIN_BODY_MM:
        out.append(_at(doc, ("page", "header_height_mm"), (
            f"header_height_mm ({g.header_height_mm:g}), gap_below_header_mm "
            f"({g.gap_below_header_mm:g}), organisations_height_mm "
            f"({g.organisations_height_mm:g}), footer_height_mm ({g.footer_height_mm:g}) and "
            f"margin_bottom_mm ({g.margin_bottom_mm:g}), with the 2 mm above the organisations "
            f"band, leave {body:g} mm of the A4 height ({PAGE_HEIGHT_MM:g} mm) for the "
            f"columns; they need at least {MIN_BODY_MM:g} mm: make some of these smaller")))
    if t.body_leading_pt < t.body_pt:
        out.append(_at(doc, ("type", "body_leading_pt"), (
            f"{t.body_leading_pt:g} pt is less than body_pt ({t.body_pt:g} pt): lines would "
            f"overlap; make it at least {t.body_pt:g} (about 1.35 x body_pt reads well)")))
    return out


def _pydantic_problems(exc: ValidationError, doc: RawDocument) -> list[Problem]:
    errors = exc.errors(include_url=False)
    unknown = {tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        message = _message(err, loc)
        if err["type"] == "missing" and loc:
            siblings = [str(u[-1]) for u in unknown if u[:-1] == loc[:-1]]
            close = difflib.get_close_matches(str(loc[-1]), siblings, n=1, cutoff=0.6)
            if close:
                line = doc.line_of((*loc[:-1], close[0]))
                message += f"; is '{close[0]}' (line {line}) a misspelling of it?"
        out.append(_at(doc, loc, message))
    return out


_SECTIONS: dict[str, type[BaseModel]] = {"fonts": FontsSpec, "colours": ColoursSpec,
                                         "page": PageSpec, "type": TypeSpec}


def _message(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    kind, given, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    last = str(loc[-1]) if loc else ""
    unit = " mm" if last.endswith("_mm") else " pt" if last.endswith("_pt") else ""
    if kind == "missing":
        return f"missing: add '{last}:' ({_SHIPPED})"
    if kind == "extra_forbidden":
        section = _SECTIONS.get(str(loc[0])) if len(loc) == 2 else ThemeSpec
        names = list(section.model_fields) if section else []
        close = difflib.get_close_matches(last, names, n=1, cutoff=0.6)
        if close:
            return f"not a theme setting: did you mean '{close[0]}'?"
        return f"not a theme setting: remove it (the settings here are {', '.join(names)})"
    if given is None:
        return "is empty: fill it in"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"expected a number{unit and ' in' + unit}, got {given!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        why = (f" ({MIN_FONT_PT:g} pt is the smallest legible size)"
               if kind == "greater_than_equal" and unit == " pt" else "")
        return f"{given} is out of range: it must be {words} {bound:g}{unit}{why}"
    if kind == "literal_error" and last == "size":
        return (f"{given!r}: only A4 is supported (the sheets and the bundle are laid out for "
                "210 x 297 mm): write 'size: A4'")
    if kind == "string_pattern_mismatch":
        return f"{given!r} is not a colour: write it as #RRGGBB, e.g. \"#12355B\" (quoted)"
    if kind == "string_too_short":
        return "is empty: fill it in"
    if kind == "string_type":
        return "expected a text, got a list or mapping"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected settings (lines 'key: value' indented below it), got {given!r}"
    return str(err["msg"])
