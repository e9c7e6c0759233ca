"""The visual identity, read from ``templates/theme.yaml``: fonts, colours, page geometry.

Lengths are millimetres (``*_mm``), type sizes points (``*_pt``).  The theme and the fonts
are trusted input (they ship with the tool); a missing or broken one is a
:class:`~nexusreports.errors.TemplateError` naming the file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from .errors import TemplateError

THEME_FILE = "theme.yaml"
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


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


@dataclass(frozen=True)
class Theme:
    """Everything visual the renderers need; ``folder`` is the templates folder."""

    folder: Path
    fonts: Fonts
    colours: dict[str, str]
    page: dict[str, Any]
    type: dict[str, float]

    @property
    def sheet_docx(self) -> Path:
        """The Word template of a sheet."""
        return self.folder / "sheet.docx"

    @cached_property
    def charset(self) -> frozenset[int]:
        """Code points that every face of the font can print (for validation).

        Raises :class:`TemplateError` when a font file is not a TrueType font, or is cut off
        (ReportLab's parser then fails with ``struct.error``).
        """
        from reportlab.pdfbase.ttfonts import TTFError, TTFontFile

        points: set[int] | None = None
        for path in self.fonts.files():
            try:
                face = set(TTFontFile(str(path)).charToGlyph)
            except (TTFError, OSError) as exc:
                raise TemplateError(path, f"not a usable TrueType font ({exc})") from exc
            except (struct.error, IndexError, KeyError, ValueError) as exc:  # cut off
                raise TemplateError(path, "not a usable TrueType font: the file is damaged "
                                    f"or cut off ({exc}); restore it from git") from exc
            points = face if points is None else points & face
        return frozenset(points or ())


def load_theme(folder: Path) -> Theme:
    """Read ``folder/theme.yaml`` and check that every font file exists.

    Raises :class:`TemplateError` for a missing folder, file or font, or a bad value.
    """
    folder = Path(folder)
    path = folder / THEME_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(path, "the theme is missing: give the templates folder with "
                            "--templates (it must contain theme.yaml, sheet.docx and fonts/)") from exc
    except yaml.YAMLError as exc:  # one line: where, what, how to fix
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        what = getattr(exc, "problem", None) or "invalid"
        raise TemplateError(where, f"the theme is not valid YAML ({what}): fix this line or "
                            "restore templates/theme.yaml from git") from exc
    try:
        f = data["fonts"]
        fonts = Fonts(family=str(f["family"]), **{k: folder / f[k] for k in
                                                 ("regular", "bold", "italic", "bold_italic")})
        colours = {str(k): str(v) for k, v in data["colours"].items()}
        page = dict(data["page"])
        type_ = {str(k): float(v) for k, v in data["type"].items()}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise TemplateError(path, f"the theme lacks or mistypes {exc}: compare with the shipped "
                            "templates/theme.yaml") from exc
    for name, value in colours.items():
        if not _COLOUR.match(value):
            raise TemplateError(path, f"colours.{name}: {value!r} is not a colour like #12355B")
    for font in fonts.files():
        if not font.is_file():
            raise TemplateError(font, "the font file is missing: restore it from git, or point "
                                "fonts: in theme.yaml at an existing .ttf")
    return Theme(folder=folder, fonts=fonts, colours=colours, page=page, type=type_)
