"""Installed anywhere: the wheel, installed into a fresh virtual environment, makes a project
with `init` and builds it in an empty folder, with nothing of this repository around.

Slow (about 15 s: a wheel build and a pip install), so it runs once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    (found,) = out.glob("nexusreports-*.whl")
    return found


def test_the_wheel_holds_the_defaults_the_licences_and_the_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {f"nexusreports/defaults/templates/{p.relative_to(ROOT / 'templates').as_posix()}"
               for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert shipped <= names  # the whole templates/ folder, whatever it holds
    assert {"nexusreports/defaults/docs/data-format.md",
            "nexusreports/localise/locale/nl/LC_MESSAGES/nexusreports.po"} <= names
    assert any(n.endswith(".dist-info/licenses/templates/fonts/OFL.txt") for n in names)
    assert "License-Expression: LicenseRef-Proprietary AND OFL-1.1" in metadata
    assert "Classifier: Programming Language :: Python :: 3.11" in metadata
    # a build locks its output folder with fcntl.flock: POSIX, not "OS Independent"
    assert "Classifier: Operating System :: POSIX" in metadata
    assert "OS Independent" not in metadata


@pytest.mark.slow
def test_installed_from_the_wheel_init_and_build_work_in_an_empty_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    tool = str(bindir / "nexusreports")

    def run(*argv: str, cwd: Path = work) -> subprocess.CompletedProcess:
        done = subprocess.run([tool, *argv], cwd=cwd, env=env, capture_output=True, text=True)
        assert "Traceback" not in done.stderr
        return done

    made = run("init", "zorg")
    assert made.returncode == 0, made.stderr
    project = work / "zorg"
    assert run("validate", cwd=project / "data").returncode == 0
    built = run("build", "--jobs", "1", cwd=project)
    assert built.returncode == 0, built.stderr
    outputs = sorted(p.relative_to(project / "out").as_posix()
                     for p in (project / "out").rglob("*") if p.is_file())
    assert outputs == ["briefing-nl-en.docx", "briefing-nl-en.pdf", "en/zorg.docx",
                       "en/zorg.pdf", "manifest.json", "nl/zorg.docx", "nl/zorg.pdf"]
    nl = PdfReader(project / "out" / "nl" / "zorg.pdf")
    assert len(nl.pages) == 1 and "werkt samen met 12 partners" in nl.pages[0].extract_text()
    manifest = json.loads((project / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert "templates/theme.yaml" in json.dumps(manifest)
    # the package is the installed one, not this repository
    where = subprocess.run([str(bindir / "python"), "-c",
                            "import nexusreports; print(nexusreports.__file__)"],
                           capture_output=True, text=True, env=env, cwd=work)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    # without templates/ of its own the project builds with the packaged defaults
    import shutil

    shutil.rmtree(project / "templates")
    assert run("build", "--jobs", "1", "--force", "-q", cwd=project).returncode == 0
    assert run("docs", cwd=project).stdout.startswith("# The project data format")
