"""``nexusreports new SLUG``: write a new project file for people to fill in.

In: a slug and the parent programme's slug (None for a new programme).  Out: the text of
``data/projects/<slug>.yaml`` with every field of the project format present, each with a
comment saying what it is, its unit and its allowed values; texts have a Dutch (``nl``) and
an English (``en``) line, each commented.

Every value to fill in holds the placeholder ``TODO`` (see
:data:`nexusreports.validate.TODO`), which the validate stage rejects as "not filled in
yet", naming field and line.  A half-filled file therefore cannot be built or slip into a
release; ``nexusreports validate`` lists what is left, one line per field.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path

from . import model as m
from .errors import OutputError
from .validate import PROJECTS_DIR, TODO

__all__ = ["scaffold_text", "slug_problem", "write_scaffold"]


_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l",
                          "þ": "th", "ð": "d", "ı": "i"})
"""Letters that Unicode does not decompose into a plain letter and an accent."""


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a project file, or None when it can.

    A slug is lowercase letters and digits in words joined by single hyphens
    (:data:`nexusreports.model.SLUG_RE`), at most 60 characters.  The hint drops accents
    (``new café`` suggests ``'new-cafe'``).
    """
    if not m.SLUG_RE.match(slug):
        plain = unicodedata.normalize("NFKD", slug.lower().translate(_LETTERS))  # 'café' -> 'cafe' + accent
        suggestion = "-".join("".join(ch if ch.isascii() and ch.isalnum() else
                                      "" if unicodedata.combining(ch) else " "
                                      for ch in plain).split())
        hint = f" (e.g. '{suggestion}')" if suggestion and m.SLUG_RE.match(suggestion) else ""
        return (f"'{slug}' is not a valid slug: use lowercase letters, digits and single "
                f"hyphens{hint}")
    if len(slug) > 60:
        return f"'{slug}' is {len(slug)} characters long: use at most 60"
    return None


def scaffold_text(slug: str, parent: str | None) -> str:
    """The new project file of ``slug``: a flagship of ``parent``, or a programme if None."""
    kind = m.Kind.flagship if parent else m.Kind.programme
    mrl = ", ".join(s.value for s in m.MrlStage)
    rel = ", ".join(r.value for r in m.Relevance)
    parent_lines = (
        f"parent: {parent}                # the programme this flagship belongs to (its file "
        "name without .yaml)\n" if parent else "")
    total_lines = "" if parent else (
        "# Programmes only: the stated total of the flagships, in EUR millions; it must equal\n"
        "# the sum of their size_eur_m. Delete this line while the programme has no flagships.\n"
        f"flagship_total_eur_m: {TODO}\n")
    groups = []
    for group_name, group_field in m.Preconditions.model_fields.items():
        items = "".join(f"    {item + ':':<28}{TODO}    # {rel}\n"
                        for item in group_field.annotation.model_fields)  # type: ignore[union-attr]
        groups.append(f"  {group_name}:{' ' * (30 - len(group_name))}# group of preconditions\n"
                      f"{items}")

    return f"""\
# Project sheet '{slug}', created by 'nexusreports new'.
# Replace every {TODO} with the real value; 'nexusreports validate' lists what is left, with
# the line of each.  Text in "double quotes" may contain ':' and '#'.  Units are in the
# field names: _eur_m is EUR millions (2250 means EUR 2.25 billion), _pct is percent.
# Full format: docs/data-format.md.  When it is valid: nexusreports build --only {slug}
{"" if parent else "# A programme groups flagships; it has no parent."}
kind: {kind.value}               # allowed: programme, flagship
{parent_lines}
# Name of the project: one text for both languages (as here), or a Dutch 'nl:' and an
# English 'en:' line like the fields below.
name: "{TODO}: project name"
# Optional shorter name for the header and footer, e.g. ATMP I&II (delete the line if there
# is none). For a flagship the sheet adds its programme itself: "Flagship Biotech Nexus: ATMP
# I&II" in Dutch, "Biotech Nexus flagship: ATMP I&II" in English; do not type that part.
short_name: "{TODO}: short name"

domain:                            # the domain, e.g. Life sciences en Biotech
  nl: "{TODO}: domein (Nederlands)"          # Dutch text
  en: "{TODO}: domain (English)"             # English text
subdomain:                         # the sub-domain, e.g. Diagnostiek / Diagnostics
  nl: "{TODO}: subdomein (Nederlands)"       # Dutch text
  en: "{TODO}: sub-domain (English)"         # English text

# Figures that the texts mention, written as {{name}} in the texts so each language prints
# the number in its own format.  Kinds: count (whole number), number, percent (1.2 means
# 1,2%), multiplier (2.5 means 2,5x), amount (value_eur_m in EUR millions, scale million or
# billion), date (value YYYY-MM-DD, style short or long).  Example:
#   extra_jobs: {{kind: count, value: 21000}}    -> "21.000" (nl), "21,000" (en)
figures: {{}}

summary:                           # the lead paragraph, 3-6 sentences; a blank line = new paragraph
  nl: "{TODO}: samenvatting (Nederlands)"    # Dutch text
  en: "{TODO}: summary (English)"            # English text
relevance:                         # strategic relevance and societal benefits
  nl: "{TODO}: relevantie (Nederlands)"      # Dutch text
  en: "{TODO}: relevance (English)"          # English text

collaborations:                    # links to other collaborations, two lists
  national:                        # links to Dutch collaborations: one or more entries
    - label:                       # optional group label (delete both lines if none)
        nl: "{TODO}: label (Nederlands)"     # Dutch text, e.g. NGF projecten
        en: "{TODO}: label (English)"        # English text, e.g. NGF projects
      text: "{TODO}: partners"     # one text for both languages, or nl:/en: lines
  european:                        # links to European collaborations: one or more entries
    - label:                       # optional group label (delete both lines if none)
        nl: "{TODO}: label (Nederlands)"     # Dutch text, e.g. EU regulatie
        en: "{TODO}: label (English)"        # English text, e.g. EU regulation
      text:                        # one text for both languages, or nl:/en: lines as here
        nl: "{TODO}: Europese samenwerking (Nederlands)"   # Dutch text
        en: "{TODO}: European collaboration (English)"     # English text

period:                            # the project's timeline: calendar years, inclusive; end >= start
  start: {TODO}                    # e.g. 2025
  end: {TODO}                      # e.g. 2035
size_eur_m: {TODO}                 # project size in EUR millions, {m.MIN_SIZE_EUR_M} to {m.MAX_EUR_M}:
                                   # 460 means EUR 460 million, 0.05 EUR 50,000; digits only, no
                                   # thousands separators (21200, not 21.200)
{total_lines}
shares:                            # how the size splits, in percent, 0-100
  capital_pct: {TODO}              # capital share; R&D is 100 minus this
  public_pct: {TODO}               # public share; private is 100 minus this

trl:                               # Technology Readiness Level, whole numbers 1-9, min <= max
  min: {TODO}                      # lowest TRL, 1-9
  max: {TODO}                      # highest TRL, min-9
mrl: {TODO}                        # Market Readiness Level, one of: {mrl}

# Preconditions matrix: each item one of: {rel}
# (not-assessed when nobody has judged it yet).
preconditions:                     # relevance of each precondition to the project
{"".join(groups)}
# Involved companies and institutions.  logo is optional: a PNG or JPEG inside the data
# folder, written relative to it (e.g. logos/acme.png); delete the logo line if none.
# Delete both lines of an entry you do not need; 'organisations: []' for none.
organisations:                     # a list: one '- name:' entry per organisation
  - name: "{TODO}: organisation"   # its name, printed under the logo
    logo: "{TODO}: logos/<file>.png"   # optional: PNG or JPEG, relative to the data folder
"""


def write_scaffold(data_dir: Path, slug: str, parent: str | None) -> Path:
    """Write the new project file of ``slug`` into ``data_dir/projects``; return its path.

    Never overwrites: raises :class:`OutputError` when the file (or one whose name differs
    only in case, or the same slug as ``.yml``) exists, or it cannot be written.  The file
    appears whole or not at all (written beside it, then linked into place).
    """
    folder = Path(data_dir) / PROJECTS_DIR
    target = folder / f"{slug}.yaml"
    if folder.is_dir():
        for existing in folder.iterdir():
            if existing.suffix in (".yaml", ".yml") and existing.stem.casefold() == slug.casefold():
                raise OutputError(f"{existing}: already exists; nothing was written. Edit that "
                                  "file, or choose another slug")
    text = scaffold_text(slug, parent).encode("utf-8")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.link(tmp, target)  # fails if the target exists: never overwrites
    except FileExistsError as exc:
        raise OutputError(f"{target}: already exists; nothing was written. Edit that file, "
                          "or choose another slug") from exc
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return target
