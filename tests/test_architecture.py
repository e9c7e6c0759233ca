"""The pipeline flows one way: each stage imports only the stages before it.

The layers are declared in pyproject.toml ([tool.importlinter]); the model and the error
tree import nothing above them, renderers never import the loader, the CLI or the pipeline.
"""

from __future__ import annotations

import os

from importlinter.cli import lint_imports

from conftest import ROOT


def test_the_import_layers_of_the_pipeline_are_kept(capsys):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:
        os.chdir(cwd)
    assert code == 0, capsys.readouterr().out
