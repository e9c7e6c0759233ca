"""Where a project's folders are, and the defaults that ship inside the package.

A *project* is a folder with the marker file :data:`MARKER` (``nexusreports.toml``, made by
``nexusreports init``; the repository has one too).  The commands find it by walking up from
the working folder, as mkdocs finds ``mkdocs.yml``, so they work from any folder below it;
every default path is relative to it: ``data/``, ``templates/``, ``out/`` and
``schemas/``.  Without a marker anywhere above, the working folder is the project.

A project without a ``templates/`` folder of its own uses the defaults in the package
(theme, Word template, fonts with their licence: :func:`default_templates`); its own
``templates/`` (``nexusreports init`` copies the defaults there to restyle) replaces them
as a whole.  The data-format reference ships in the package too (:func:`reference_doc`).

This module imports nothing of ours.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MARKER", "default_templates", "find_root", "project_root", "reference_doc",
           "shown"]

MARKER = "nexusreports.toml"
"""The file that marks a project's root folder."""

_PACKAGE = Path(__file__).resolve().parent
_DEFAULTS = _PACKAGE / "defaults"
"""Where the wheel puts the repository's ``templates/`` and reference docs (see
``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml)."""

_CHECKOUT = _PACKAGE.parent.parent
"""The repository, when the package runs from its source tree (an editable install)."""


def find_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working folder) that holds
    :data:`MARKER`, or None."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    return None


def project_root(start: Path | None = None) -> Path:
    """The project's root as a path to show: ``.`` when it is the working folder, else
    relative to it where that reads well (``..``, ``../..``), else absolute.  Without a
    marker above ``start``, the working folder (``.``)."""
    root = find_root(start)
    return Path(".") if root is None else shown(root)


def shown(path: Path) -> Path:
    """``path`` relative to the working folder when it is at or above it, or below it
    (``data``, ``../data``); absolute otherwise."""
    path, cwd = Path(path).resolve(), Path.cwd().resolve()
    if path == cwd:
        return Path(".")
    if path.is_relative_to(cwd) or cwd.is_relative_to(path):
        return Path(os.path.relpath(path, cwd))
    return path


def default_templates() -> Path:
    """The templates folder that ships with the package (theme.yaml, sheet.docx, fonts/),
    or, running from the source tree, the repository's ``templates/``."""
    packaged = _DEFAULTS / "templates"
    if packaged.is_dir():
        return packaged
    return _CHECKOUT / "templates"


def reference_doc(name: str = "data-format.md") -> Path:
    """A reference document that ships with the package (``docs/<name>`` in the source)."""
    packaged = _DEFAULTS / "docs" / name
    if packaged.is_file():
        return packaged
    return _CHECKOUT / "docs" / name
