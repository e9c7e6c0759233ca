"""The corpus of wrong input under ``tests/data/invalid/``: reading its directives.

Each ``tests/data/invalid/<case>.yaml`` is one project file with one thing wrong.  Its first
comment lines are directives (see tests/data/invalid/README.md):

``# expect: <line>``
    a line ``nexusreports validate`` and ``build`` must print, exactly (repeatable; the set
    of printed problem lines must equal the set of expected lines).
``# as: <file name>``
    install the case as ``data/projects/<file name>`` (default: ``<case>.yaml``).
``# copy: support/<file> -> <path in the data folder>``
    also copy a support file into the data folder (repeatable).
``# pad: <bytes>``
    pad the installed file with comment lines to this size (for the file-size limit).
``# bundle-order: <slug>``
    add ``<slug>`` to the order of ``data/bundle.yaml`` (a case that is valid as data and
    wrong only in layout must be in the bundle, or validation stops before the layout).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nexusreports.model import SLUG_RE

INVALID = Path(__file__).resolve().parent / "data" / "invalid"
_DIRECTIVE = re.compile(r"^# (expect|as|copy|pad|bundle-order): (.*)$")


@dataclass
class Case:
    """One corpus file and what it expects."""

    path: Path
    expect: list[str] = field(default_factory=list)
    install_as: str = ""
    copies: list[tuple[str, str]] = field(default_factory=list)
    pad: int = 0
    bundle_order: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem


def cases() -> list[Case]:
    """Every case of the corpus, by name."""
    return [read_case(p) for p in sorted(INVALID.glob("*.yaml"))]


def read_case(path: Path) -> Case:
    """The directives of one case file (read as bytes: some cases are not UTF-8)."""
    case = Case(path)
    for raw in path.read_bytes().splitlines():
        line = raw.decode("utf-8", errors="replace")
        if not line.startswith("#"):
            break
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        key, value = match.groups()
        if key == "expect":
            case.expect.append(value)
        elif key == "as":
            case.install_as = value.strip()
        elif key == "copy":
            src, dst = (s.strip() for s in value.split("->"))
            case.copies.append((src, dst))
        elif key == "pad":
            case.pad = int(value)
        elif key == "bundle-order":
            case.bundle_order.append(value.strip())
    return case


def install(case: Case, data_dir: Path) -> Path:
    """Put ``case`` (and its support files) into the data folder ``data_dir``; return its path."""
    target = data_dir / "projects" / (case.install_as or case.path.name)
    data = case.path.read_bytes()
    if case.pad:
        filler = b"# padding " + b"x" * 69 + b"\n"
        data += filler * ((case.pad - len(data)) // len(filler) + 1)
    target.write_bytes(data)
    for src, dst in case.copies:
        dest = data_dir / dst
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(INVALID / src, dest)
    bundle = data_dir / "bundle.yaml"
    # the case is in the bundle's order as a user would have put it, so the bundle's own
    # check (which runs in the same validation) reports nothing about it
    installed = [target, *(data_dir / dst for _, dst in case.copies)]
    projects = [p.stem for p in installed
                if p.parent == data_dir / "projects" and p.suffix == ".yaml"]
    order = list(dict.fromkeys([*case.bundle_order, *projects]))
    order = [slug for slug in order if SLUG_RE.match(slug)]
    if order and bundle.is_file():
        text = bundle.read_text(encoding="utf-8")
        listed = set(re.findall(r"(?m)^\s*-\s*(\S+)\s*$", text))
        new = [slug for slug in order if slug not in listed]
        bundle.write_text(text.rstrip("\n") + "\n" + "".join(f"  - {slug}\n" for slug in new),
                          encoding="utf-8")
    return target
