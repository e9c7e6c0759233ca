"""``nexusreports new SLUG`` and ``nexusreports init DIR``: new files for people to fill in.

``init`` (:func:`init_project`) makes a whole project folder: the marker file, a programme
filled with example values that validate, ``bundle.yaml``, the default templates, the JSON
Schemas and a README.  ``new`` writes one project file, as follows.

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
import textwrap
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from . import model as m
from .errors import OutputError
from .paths import MARKER, default_templates
from .schema import SCHEMA_FILES, describe, schema_for
from .validate import BUNDLE_FILE, PROJECTS_DIR, TODO

__all__ = [
    "bundle_text",
    "init_project",
    "scaffold_text",
    "slug_problem",
    "suggest_slug",
    "write_scaffold",
    "write_schemas",
]


_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l",
                          "þ": "th", "ð": "d", "ı": "i"})
"""Letters that Unicode does not decompose into a plain letter and an accent."""


def suggest_slug(text: str) -> str | None:
    """``text`` as a slug (accents dropped, words joined by hyphens), or None when nothing
    of it is left: ``'Mijn Programma'`` -> ``'mijn-programma'``."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_LETTERS))
    slug = "-".join("".join(ch if ch.isascii() and ch.isalnum() else
                            "" if unicodedata.combining(ch) else " " for ch in plain).split())
    return slug[:60].strip("-") if slug and m.SLUG_RE.match(slug) else None


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a project file, or None when it can.

    A slug is lowercase letters and digits in words joined by single hyphens
    (:data:`nexusreports.model.SLUG_RE`), at most 60 characters.  The hint drops accents
    (``new café`` suggests ``'new-cafe'``).
    """
    if not m.SLUG_RE.match(slug):
        suggestion = suggest_slug(slug)  # 'café' -> 'cafe' + accent -> 'cafe'
        hint = f" (e.g. '{suggestion}')" if suggestion else ""
        return (f"'{slug}' is not a valid slug: use lowercase letters, digits and single "
                f"hyphens{hint}")
    if len(slug) > 60:
        return f"'{slug}' is {len(slug)} characters long: use at most 60"
    return None


def _comment(text: str, indent: str = "") -> str:
    """``text`` as comment lines of at most 92 characters."""
    return "".join(f"{line}\n" for line in textwrap.wrap(
        text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."), 92,
        initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# ",
        break_on_hyphens=False))


def _about(*path: str, indent: str = "") -> str:
    """The comment above the field at ``path``: its description in the model."""
    return _comment(describe(m.Project, *path), indent)


_NEW_HEAD = (f"# Replace every {TODO} with the real value; 'nexusreports validate' lists what "
             "is left, with\n# the line of each.")
_INIT_HEAD = ("# An example programme that builds as it is: replace the example values with "
              "your own\n# ('nexusreports preview' shows the sheet as you save).")

_DUTCH = describe(m.LocalText, "nl")
_ENGLISH = describe(m.LocalText, "en")


def scaffold_text(slug: str, parent: str | None, *, schema: str | None = None,
                  values: Mapping[str, str] | None = None) -> str:
    """The new project file of ``slug``: a flagship of ``parent``, or a programme if None.

    Every field has its description from the model as a comment (the text ``nexusreports
    schema`` and docs/data-format.md give).  ``schema`` is the path of the project schema
    relative to the file, written as the ``# yaml-language-server: $schema=`` first line
    that editors read.  ``values`` fills in slots by name (YAML text, e.g. ``{"size_eur_m":
    "100"}``; ``nexusreports init`` fills them all); every other slot holds ``TODO``.
    """
    values = dict(values or {})

    def v(key: str, todo: str = "") -> str:
        """The value of slot ``key``: given, or ``TODO`` (``"TODO: todo"`` for texts)."""
        if key in values:
            return values[key]
        return f'"{TODO}: {todo}"' if todo else TODO

    def local(key: str, nl: str, en: str, indent: str = "  ") -> str:
        return (f"{indent}nl: {v(key + '.nl', nl)}    # {_DUTCH}\n"
                f"{indent}en: {v(key + '.en', en)}    # {_ENGLISH}\n")

    kind = m.Kind.flagship if parent else m.Kind.programme
    rel = m.RELEVANCE_VALUES
    head = f"# yaml-language-server: $schema={schema}\n" if schema else ""
    parent_lines = f"{_about('parent')}parent: {parent}\n" if parent else ""
    total_lines = "" if parent else (
        f"{_about('flagship_total_eur_m')}"
        + (f"flagship_total_eur_m: {values['flagship_total_eur_m']}\n"
           if "flagship_total_eur_m" in values else
           "# flagship_total_eur_m: 0\n" if values else f"flagship_total_eur_m: {TODO}\n"))
    groups = []
    for group_name, group_field in m.Preconditions.model_fields.items():
        items = "".join(f"    {item + ':':<28}{v(f'{group_name}.{item}')}    # {rel}\n"
                        for item in group_field.annotation.model_fields)  # type: ignore[union-attr]
        groups.append(f"  {group_name}:{' ' * (30 - len(group_name))}# {group_field.description}\n"
                      f"{items}")
    item = next(iter(m.Infrastructure.model_fields.values())).description or ""
    figures = values.get("figures", "{}")
    organisations = values.get("organisations", (
        f'\n  - name: {v("organisation.name", "organisation")}    '
        f'# {describe(m.Organisation, "name")}\n'
        f'    logo: {v("organisation.logo", "logos/<file>.png")}    # optional (see above)\n'))
    trl = describe(m.Project, "trl")

    return f"""\
{head}# Project sheet '{slug}', created by 'nexusreports {"init" if values else "new"}'.
{_INIT_HEAD if values else _NEW_HEAD}
# Text in "double quotes" may contain ':' and '#'.  Units are in the field names: _eur_m is
# EUR millions (2250 means EUR 2.25 billion), _pct is percent.
# Full format: docs/data-format.md (also printed by 'nexusreports docs').
# When it is valid: nexusreports build --only {slug}

{_about('kind')}kind: {kind.value}
{parent_lines}
{_about('name')}name: {v("name", "project name")}
{_about('short_name')}short_name: {v("short_name", "short name")}

{_about('domain')}domain:
{local("domain", "domein (Nederlands)", "domain (English)")}\
{_about('subdomain')}subdomain:
{local("subdomain", "subdomein (Nederlands)", "sub-domain (English)")}
{_about('figures')}\
# Kinds: count (whole number), number, percent (1.2 means 1,2%), multiplier (2.5 means
# 2,5x), amount (value_eur_m in EUR millions, scale million or billion), date (value
# YYYY-MM-DD, style short or long).  Example:
#   extra_jobs: {{kind: count, value: 21000}}    -> "21.000" (nl), "21,000" (en)
figures: {figures}

{_about('summary')}summary:
{local("summary", "samenvatting (Nederlands)", "summary (English)")}\
{_about('relevance')}relevance:
{local("relevance", "relevantie (Nederlands)", "relevance (English)")}
{_about('collaborations')}collaborations:
{_about('collaborations', 'national', indent='  ')}  national:
{_about('collaborations', 'national', 'label', indent='    ')}    - label:
{local("national.label", "label (Nederlands)", "label (English)", "        ")}\
{_about('collaborations', 'national', 'text', indent='      ')}      text: {v("national.text", "partners")}
{_about('collaborations', 'european', indent='  ')}  european:
{_about('collaborations', 'european', 'label', indent='    ')}    - label:
{local("european.label", "label (Nederlands)", "label (English)", "        ")}\
{_about('collaborations', 'european', 'text', indent='      ')}      text:
{local("european.text", "Europese samenwerking (Nederlands)", "European collaboration (English)", "        ")}
{_about('period')}period:
  start: {v("start")}    # {describe(m.Project, "period", "start")}
  end: {v("end")}    # {describe(m.Project, "period", "end")}
{_about('size_eur_m')}size_eur_m: {v("size_eur_m")}
{total_lines}
{_about('shares')}shares:
  capital_pct: {v("capital_pct")}    # {describe(m.Project, "shares", "capital_pct")}
  public_pct: {v("public_pct")}    # {describe(m.Project, "shares", "public_pct")}

{_comment(trl)}trl:
  min: {v("min")}    # {describe(m.Project, "trl", "min")}
  max: {v("max")}    # {describe(m.Project, "trl", "max")}
{_about('mrl')}mrl: {v("mrl")}

{_about('preconditions')}{_comment("each item is " + item)}preconditions:
{"".join(groups)}
{_about('organisations')}\
{_comment(describe(m.Organisation, "logo"))}\
organisations:{organisations}"""


def write_scaffold(data_dir: Path, slug: str, parent: str | None,
                   schemas: Path | None = None) -> Path:
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
    schema = (os.path.relpath(Path(schemas) / SCHEMA_FILES["project"], folder)
              if schemas is not None else None)
    text = scaffold_text(slug, parent, schema=_posix(schema)).encode("utf-8")
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


def _posix(path: str | None) -> str | None:
    return None if path is None else Path(path).as_posix()


def write_schemas(folder: Path) -> list[Path]:
    """Write the project and bundle JSON Schemas (:data:`SCHEMA_FILES`) into ``folder``
    where they are missing or differ from this version's; return the files written."""
    import json

    written = []
    folder = Path(folder)
    for which, name in SCHEMA_FILES.items():
        path = folder / name
        text = json.dumps(schema_for(which), indent=2, ensure_ascii=False) + "\n"
        try:
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        written.append(path)
    return written


def bundle_text(name: str, slugs: list[str], date: str, schema: str | None = None) -> str:
    """A commented ``data/bundle.yaml`` for the projects ``slugs`` (in order), titled
    ``name``, dated ``date`` (YYYY-MM-DD); comments are the model's field descriptions."""
    def about(field: str) -> str:
        return _comment(describe(m.BundleConfig, field))

    head = f"# yaml-language-server: $schema={schema}\n" if schema else ""
    order = "".join(f"  - {slug}\n" for slug in slugs)
    return f"""\
{head}# The bilingual briefing bundle (out/briefing-nl-en.pdf and out/briefing-nl-en.docx).
# Check with: nexusreports validate. Format: docs/data-format.md ('nexusreports docs').

{about("title")}title:
  nl: "{name}"    # {_DUTCH}
  en: "{name}"    # {_ENGLISH}
{about("subtitle")}subtitle:
  nl: "Briefing"    # {_DUTCH}
  en: "Briefing"    # {_ENGLISH}
{about("date")}date: {date}

{about("arrangement")}arrangement: by-language

{about("order")}order:
{order}"""


_GITIGNORE = """\
# nexusreports' outputs: made again by 'nexusreports build'
/out/
"""

_MARKER_TEXT = """\
# This folder is a nexusreports project. The commands find it by walking up from the
# working folder to this file (as mkdocs finds mkdocs.yml), so they work from any folder
# below it, and every default path is relative to this folder:
#   data/       the project files (data/projects/<slug>.yaml) and data/bundle.yaml
#   templates/  theme.yaml, sheet.docx and fonts/; without it, the defaults that ship
#               with nexusreports are used
#   out/        the outputs (not committed)
#   schemas/    the JSON Schemas the data files name for editors (nexusreports schema)
# Nothing in this file is read yet: keep it, even empty.
"""


def _readme(title: str, slug: str) -> str:
    return f"""\
# {title}

Project sheets (PDF and Word, Dutch and English) and the briefing bundle, made with
nexusreports from the files in `data/`.

```sh
nexusreports validate     # check every file; every problem as file:line: field: message
nexusreports build        # write the sheets and the bundle to out/
```

Both work from this folder or any folder below it. While you write, `nexusreports preview`
shows the pages in your browser and updates them each time you save.

- `data/projects/{slug}.yaml`: the programme, an example to replace with your own text;
  `nexusreports new <slug>` adds a flagship (then add it to `order` in `data/bundle.yaml`).
- `data/bundle.yaml`: the briefing bundle's cover, date and order.
- `templates/`: the look: `theme.yaml` (PDF), `sheet.docx` (Word, restyle it in Word),
  `fonts/`. Delete the folder to use the defaults that ship with nexusreports.
- `schemas/`: the format for editors (VS Code with the YAML extension completes and checks
  the fields); the data format in full: `nexusreports docs`.
"""


def _example_values(name: str) -> dict[str, str]:
    """What ``nexusreports init`` fills a new programme with: valid example values, so that
    ``validate`` and ``build`` work at once, each plainly a placeholder to replace."""
    texts = {
        "name": f'"{name}"', "short_name": f'"{name}"',
        "domain.nl": '"Domein van het programma"', "domain.en": '"Domain of the programme"',
        "subdomain.nl": '"Subdomein"', "subdomain.en": '"Sub-domain"',
        "summary.nl": ('"Vervang deze tekst door een samenvatting van het programma in drie '
                       'tot zes zinnen. Het programma werkt samen met {partners} partners."'),
        "summary.en": ('"Replace this text with a summary of the programme in three to six '
                       'sentences. The programme works with {partners} partners."'),
        "relevance.nl": '"Vervang deze tekst door de strategische relevantie van het programma."',
        "relevance.en": '"Replace this text with the strategic relevance of the programme."',
        "national.label.nl": '"Nationaal"', "national.label.en": '"National"',
        "national.text": '"Partners in Nederland"',
        "european.label.nl": '"Europees"', "european.label.en": '"European"',
        "european.text.nl": '"Europese partners"', "european.text.en": '"European partners"',
        "start": "2026", "end": "2030", "size_eur_m": "100", "capital_pct": "40",
        "public_pct": "50", "min": "3", "max": "6", "mrl": "exploration",
        "figures": "\n  partners: {kind: count, value: 12}    # used as {partners} in summary",
        "organisations": ('\n  - name: "Example organisation"    '
                          f'# {describe(m.Organisation, "name")}\n'),
    }
    for group_name, group_field in m.Preconditions.model_fields.items():
        for item in group_field.annotation.model_fields:  # type: ignore[union-attr]
            texts[f"{group_name}.{item}"] = m.Relevance.not_assessed.value
    return texts


def init_project(target: Path, slug: str, today: str) -> list[Path]:
    """Make a new project folder ``target`` (it may exist, but must not hold a project
    already): the marker file, a README of the commands, a ``.gitignore`` for ``out/``, the
    programme ``data/projects/<slug>.yaml`` (commented, filled with example values that
    validate), ``data/bundle.yaml`` dated ``today``, a copy of the default templates to
    restyle and the JSON Schemas.  Returns the files and folders made, in that order.

    Raises :class:`OutputError` (nothing written) when ``target`` already holds any of them
    or cannot be written.  Everything is made in a folder beside ``target`` and moved into
    place at the end, so a failure leaves nothing half-made.
    """
    import shutil

    target = Path(target)
    parts = [MARKER, "README.md", ".gitignore", "data", "templates", "schemas"]
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder; nothing was written")
    present = [name for name in parts if (target / name).exists()]
    if present:
        raise OutputError(f"{target / present[0]}: already exists; nothing was written. "
                          "Give a new or empty folder")
    name = " ".join(slug.split("-")).capitalize()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's 0700
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    try:
        (staging / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
        (staging / "README.md").write_text(_readme(name, slug), encoding="utf-8")
        (staging / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
        projects = staging / "data" / PROJECTS_DIR
        projects.mkdir(parents=True)
        schema_ref = f"../../schemas/{SCHEMA_FILES['project']}"
        (projects / f"{slug}.yaml").write_text(
            scaffold_text(slug, None, schema=schema_ref, values=_example_values(name)),
            encoding="utf-8")
        (staging / "data" / BUNDLE_FILE).write_text(
            bundle_text(name, [slug], today, schema=f"../schemas/{SCHEMA_FILES['bundle']}"),
            encoding="utf-8")
        shutil.copytree(default_templates(), staging / "templates",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        write_schemas(staging / "schemas")
        if target.exists():
            for part in parts:
                os.replace(staging / part, target / part)
            staging.rmdir()
        else:
            os.replace(staging, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc}); nothing was "
                          "written") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / part for part in parts]
