"""The label catalog is complete: every label in the code is translated, none is fuzzy."""

from __future__ import annotations

import io

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from nexusreports.localise.catalog import catalog_path

from conftest import ROOT


def _dutch():
    return read_po(io.BytesIO(catalog_path("nl").read_bytes()), locale="nl")


def _extracted() -> set[str]:
    """The msgids pybabel extract finds in the package (keywords ``_``, ``t``, ``gettext``;
    ``ngettext`` gives a (singular, plural) pair)."""
    found = extract_from_dir(str(ROOT / "src" / "nexusreports"), [("**.py", "python")],
                             keywords={"_": None, "t": None, "gettext": None,
                                       "ngettext": (1, 2)})
    return {message for _, _, message, _, _ in found
            if (isinstance(message, str) and message)
            or (isinstance(message, tuple) and all(isinstance(x, str) for x in message))}


def test_no_dutch_entry_is_untranslated_or_fuzzy():
    bad = [m.id for m in _dutch() if m.id and (m.fuzzy or not m.string
                                              or (isinstance(m.string, tuple)
                                                  and not all(m.string)))]
    assert bad == []


def test_every_label_in_the_code_is_in_the_dutch_catalog():
    in_catalog = {m.id for m in _dutch() if m.id}
    assert _extracted() - in_catalog == set()


def test_the_dutch_catalog_holds_no_label_the_code_no_longer_uses():
    in_catalog = {m.id for m in _dutch() if m.id}
    assert in_catalog - _extracted() == set()


def test_the_template_lists_the_same_labels_as_the_code():
    pot = ROOT / "src" / "nexusreports" / "localise" / "nexusreports.pot"
    listed = {m.id for m in read_po(io.BytesIO(pot.read_bytes())) if m.id}
    assert listed == _extracted()
