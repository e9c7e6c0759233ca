"""The examples in the docstrings are true (they document the formats by example)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["nexusreports.model", "nexusreports.view",
                                    "nexusreports.localise", "nexusreports.render.pdf.sheet",
                                    "nexusreports.render.pdf.tagging"])
def test_the_docstring_examples_hold(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
