"""The command line: exit codes 0/1/2, messages a user can act on, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATES
from nexusreports.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nexusreports", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_build_writes_every_sheet_in_both_languages_and_exits_0(data_copy, tmp_path):
    out = tmp_path / "out"
    result = run("build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(out), "--format", "pdf")
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.pdf")) == [
        f"{lang}/{slug}.pdf" for lang in ("en", "nl")
        for slug in ("atmp", "biotech-nexus", "infectieziekten", "precision-diagnostics")]
    assert "built" in result.stderr


def test_bad_data_exits_1_with_file_line_field_and_no_traceback(data_copy, tmp_path):
    path = data_copy / "projects" / "atmp.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("size_eur_m: 2250",
                                                             "size_eur_m: veel"), "utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index("size_eur_m: veel") + 1
    result = run("validate", "--data", str(data_copy), "--templates", str(TEMPLATES))
    assert result.returncode == 1
    assert f"atmp.yaml:{line}: size_eur_m: expected a number, got 'veel'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data_builds_nothing(data_copy, tmp_path):
    out = tmp_path / "out"
    path = data_copy / "projects" / "atmp.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("trl: {min: 5, max: 9}",
                                                             "trl: {min: 5, max: 19}"), "utf-8")
    result = run("build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(out))
    assert result.returncode == 1
    assert "trl.max: 19 is out of range: it must be at most 9" in result.stderr
    assert not out.exists()


def test_a_usage_error_exits_2(capsys):
    assert main(["build", "--lang", "de"]) == 2
    assert "Invalid value for '--lang': 'de': use one or more of nl, en" in capsys.readouterr().err


def test_an_unknown_project_in_only_is_named(data_copy, tmp_path, capsys):
    code = main(["build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(tmp_path / "out"), "--only", "atmpp"])
    assert code == 1
    assert "atmpp.yaml: no such project" in capsys.readouterr().err


def test_a_missing_data_folder_is_explained(tmp_path, capsys):
    assert main(["validate", "--data", str(tmp_path / "nope"), "--templates", str(TEMPLATES)]) == 1
    assert "no such folder: give the data folder with --data" in capsys.readouterr().err


def test_schema_prints_the_project_format_as_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "slug" not in schema["properties"]
    assert {"summary", "size_eur_m", "trl", "mrl", "preconditions"} <= set(schema["properties"])


def test_validate_on_the_shipped_data_passes_strict(capsys):
    assert main(["validate", "--strict", "--templates", str(TEMPLATES),
                 "--data", str(Path(TEMPLATES).parent / "data")]) == 0
    assert "4 projects are valid." in capsys.readouterr().err
