"""Shell completion, as the README documents it: click's completion protocol, run as the
shell would run the installed program; `--only` completes the project slugs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = shutil.which("nexusreports", path=str(Path(sys.executable).parent))


def complete(words: str, cwd: Path, shell: str = "bash") -> list[str]:
    """What the shell gets for ``words`` (the cursor after the last word)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "_NEXUSREPORTS_COMPLETE": f"{shell}_complete",
           "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run([PROGRAM], env=env, cwd=cwd, capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


@pytest.mark.skipif(PROGRAM is None, reason="the nexusreports program is not installed")
def test_only_completes_the_project_slugs(tmp_path):
    assert complete("nexusreports build --only ", ROOT) == [
        "plain,atmp", "plain,biotech-nexus", "plain,infectieziekten",
        "plain,precision-diagnostics"]
    assert complete("nexusreports build --only in", ROOT) == ["plain,infectieziekten"]
    # from a folder below the project, and from elsewhere with --data
    assert "plain,atmp" in complete("nexusreports build --only a", ROOT / "data" / "projects")
    assert complete(f"nexusreports build --data {ROOT / 'data'} --only p", tmp_path) == [
        "plain,precision-diagnostics"]


@pytest.mark.skipif(PROGRAM is None, reason="the nexusreports program is not installed")
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_of_each_shell_is_printed(shell, tmp_path):
    env = {**os.environ, "_NEXUSREPORTS_COMPLETE": f"{shell}_source"}
    done = subprocess.run([PROGRAM], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    assert "_NEXUSREPORTS_COMPLETE" in done.stdout
