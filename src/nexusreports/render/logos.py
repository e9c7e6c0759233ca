"""Organisation logos as the renderers use them: PNG bytes in memory, upright, RGB or RGBA.

Validation has already checked that a logo is a PNG or JPEG inside the data folder and not
too large (from its header).  Here the logo is decoded once, turned upright by its EXIF
orientation, and re-encoded as PNG, so ReportLab and python-docx never see a colour mode they
cannot draw (CMYK or YCCK JPEGs, 16-bit or palette PNGs, ...).  The same input file gives
the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import TemplateError

ORGANISATIONS_PER_ROW = 6
"""Organisations side by side in the organisations band, in the PDF and the Word sheet alike
(the Word template batches ``organisations`` by this number)."""


@dataclass(frozen=True)
class Logo:
    """A logo ready to draw: ``png`` bytes, ``width`` x ``height`` in pixels (upright)."""

    png: bytes
    width: int
    height: int

    @property
    def ratio(self) -> float:
        """Width divided by height."""
        return self.width / self.height


def load_logo(path: str | Path) -> Logo:
    """The logo at ``path`` as an upright RGB (or RGBA, when it has transparency) PNG.

    CMYK and other modes are converted to RGB with Pillow.  Raises :class:`TemplateError`
    naming the file when it cannot be decoded (it changed after validation, or is damaged
    beyond its header).
    """
    path = Path(path)
    try:
        stat = path.stat()
        return _load(str(path), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError, SyntaxError) as exc:
        raise TemplateError(path, f"the logo cannot be read ({exc}): export it again as PNG")


@lru_cache(maxsize=64)
def _load(path: str, size: int, mtime_ns: int) -> Logo:
    """:func:`load_logo` for one version of a file (``size`` and ``mtime_ns`` key the cache)."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        img.load()
        transparent = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        img = img.convert("RGBA" if transparent else "RGB")
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=False)  # no time stamp or text chunks: same bytes
        return Logo(buf.getvalue(), img.width, img.height)
