"""Gettext catalogs for the fixed labels (English msgids, Dutch translations).

The ``.po`` files under ``locale/<lang>/LC_MESSAGES/`` are the source; they are compiled in
memory with Babel when first used, so there is no build step and no stale ``.mo``.  English
is the msgid language and needs no catalog.  Fuzzy entries are not used.

Regenerate the template after changing a label (see docs/data-format.md)::

    pybabel extract -k _ -k t --no-location -o src/nexusreports/localise/nexusreports.pot src/nexusreports
    pybabel update -i src/nexusreports/localise/nexusreports.pot -d src/nexusreports/localise/locale -D nexusreports
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import NullTranslations, Translations

from ..errors import TemplateError

DOMAIN = "nexusreports"

__all__ = ["DOMAIN", "Translations", "catalog_path", "load_translations"]


def catalog_path(lang: str) -> resources.abc.Traversable:
    """The ``.po`` file of ``lang`` inside the package."""
    return resources.files(__package__) / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def load_translations(lang: str) -> NullTranslations:
    """Translations for ``lang``; English (the msgid language) is the identity.

    Raises :class:`TemplateError` when the catalog is missing or cannot be parsed.
    """
    if lang == "en":
        return NullTranslations()
    path = catalog_path(lang)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(str(path), "the label catalog is missing: reinstall nexusreports "
                            "or restore the file from git") from exc
    try:
        catalog = read_po(io.BytesIO(data), locale=lang, domain=DOMAIN, abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        raise _broken(path, exc) from exc
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def _broken(path: resources.abc.Traversable, exc: Exception) -> TemplateError:
    """``path:LINE: the label catalog is broken (... on line LINE): ...``; Babel's own message
    says only "on 225" (and counts from 0)."""
    found = getattr(exc, "lineno", None)  # Babel counts lines from 0
    what = str(exc)
    if not isinstance(found, int):
        return TemplateError(str(path), f"the label catalog is broken ({what}): restore it "
                             "from git or fix the line named")
    what, lineno = re.sub(rf"\s+on {found}$", "", what), found + 1
    line = getattr(exc, "line", "")
    shown = f" {str(line).strip()!r}" if str(line).strip() else ""
    return TemplateError(f"{path}:{lineno}", f"the label catalog is broken ({what}{shown} on "
                         f"line {lineno}): restore it from git or fix that line")
