"""The command line: exit codes 0/1/2, messages a user can act on, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_an_unknown_project_in_only_is_a_usage_error_naming_it(data_copy, tmp_path, capsys):
    # like every other wrong option value (--lang de, new --parent nope): exit 2
    code = main(["build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(tmp_path / "out"), "--only", "atmpp"])
    assert code == 2
    assert (f"Error: Invalid value for '--only': 'atmpp': no project file "
            f"{data_copy / 'projects' / 'atmpp.yaml'}: did you mean 'atmp'? (a SLUG is the "
            "file name without .yaml)") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_empty_slug_in_only_is_a_usage_error(data_copy, tmp_path, capsys):
    code = main(["build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(tmp_path / "out"), "--only", ""])
    assert code == 2
    err = capsys.readouterr().err
    assert ("Error: Invalid value for '--only': an empty SLUG: give a project's file name "
            "without .yaml (e.g. --only atmp)") in err
    assert ".yaml: no such project" not in err


def test_the_help_of_build_says_what_an_unknown_slug_and_check_with_force_give(capsys):
    assert main(["build", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "An unknown or empty SLUG is a usage error (exit 2)." in text
    assert "Not with --force (exit 2)." in text
    assert "2 a usage error (an unknown option or value, an unknown --only SLUG, --check with --force)" in text


def test_check_with_force_is_refused_as_a_usage_error(data_copy, tmp_path, capsys):
    code = main(["build", "--data", str(data_copy), "--templates", str(TEMPLATES),
                 "--out", str(tmp_path / "out"), "--check", "--force"])
    assert code == 2
    assert ("--check builds nothing and --force renders everything: use one or the other"
            in capsys.readouterr().err)


def test_check_with_only_checks_only_the_sheets_of_that_project(data_copy, tmp_path, capsys):
    out = tmp_path / "out"
    common = ["--data", str(data_copy), "--templates", str(TEMPLATES), "--out", str(out),
              "--format", "pdf", "--no-bundle"]
    assert main(["build", *common]) == 0
    (out / "nl" / "infectieziekten.pdf").write_bytes(b"edited")
    capsys.readouterr()
    assert main(["build", *common, "--check", "--only", "atmp"]) == 0
    assert "2 outputs in" in capsys.readouterr().err  # nl/atmp.pdf and en/atmp.pdf
    (out / "en" / "atmp.pdf").unlink()
    assert main(["build", *common, "--check", "--only", "atmp"]) == 1
    err = capsys.readouterr().err
    assert "en/atmp.pdf: missing" in err
    assert "infectieziekten" not in err
    assert main(["build", *common, "--check"]) == 1
    assert "nl/infectieziekten.pdf: modified after the build" in capsys.readouterr().err


def test_a_project_file_linked_to_a_file_outside_the_data_folder_is_refused(
        data_copy, tmp_path, capsys):
    outside = tmp_path / "elsewhere" / "secret.yaml"
    outside.parent.mkdir()
    outside.write_text((data_copy / "projects" / "atmp.yaml").read_text(encoding="utf-8"),
                       encoding="utf-8")
    link = data_copy / "projects" / "extra.yaml"
    link.symlink_to(outside)
    assert main(["validate", "--data", str(data_copy), "--templates", str(TEMPLATES)]) == 1
    err = capsys.readouterr().err
    assert (f"extra.yaml: this file is a link to {outside.resolve()}, outside the data folder: "
            "copy that file here instead of linking it") in err
    assert "Traceback" not in err


def test_a_project_file_linked_within_the_data_folder_is_read(data_copy, capsys):
    archive = data_copy / "archive"
    archive.mkdir()
    (data_copy / "projects" / "atmp.yaml").rename(archive / "atmp.yaml")
    (data_copy / "projects" / "atmp.yaml").symlink_to(archive / "atmp.yaml")
    assert main(["validate", "--data", str(data_copy), "--templates", str(TEMPLATES)]) == 0
    assert "4 projects are valid." in capsys.readouterr().err


def test_a_missing_data_folder_is_explained(tmp_path, capsys):
    assert main(["validate", "--data", str(tmp_path / "nope"), "--templates", str(TEMPLATES)]) == 1
    err = capsys.readouterr().err
    assert "no such folder: give the data folder with --data" in err
    assert "or start a new programme folder with 'nexusreports init FOLDER'" in err


def test_schema_prints_the_project_format_as_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "slug" not in schema["properties"]
    assert {"summary", "size_eur_m", "trl", "mrl", "preconditions"} <= set(schema["properties"])


def test_validate_on_the_shipped_data_passes_strict(capsys):
    assert main(["validate", "--strict", "--templates", str(TEMPLATES),
                 "--data", str(Path(TEMPLATES).parent / "data")]) == 0
    assert "4 projects are valid." in capsys.readouterr().err


def test_quiet_and_verbose_work_after_the_command_name_too(data_copy, tmp_path):
    args = ["--data", str(data_copy), "--templates", str(TEMPLATES), "--format", "pdf",
            "--only", "atmp"]
    quiet = run("build", "-q", *args, "--out", str(tmp_path / "q"))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    before = run("-q", "build", *args, "--out", str(tmp_path / "q2"))
    assert before.returncode == 0 and before.stderr == ""
    loud = run("build", *args, "--out", str(tmp_path / "v"), "--verbose", "-v")
    assert loud.returncode == 0, loud.stderr
    assert "render nl/atmp.pdf: not built before" in loud.stderr  # a debug line (-vv)
    assert run("validate", "--quiet", "--data", str(data_copy), "--templates",
               str(TEMPLATES)).returncode == 0


def test_validate_never_says_nothing_was_written(data_copy):
    path = data_copy / "projects" / "atmp.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("size_eur_m: 2250", "size_eur_m: veel")
                    .replace("mrl: partly-operational", "mrl: half", 1), "utf-8")
    result = run("validate", "--data", str(data_copy), "--templates", str(TEMPLATES))
    assert result.returncode == 1
    assert "written" not in result.stderr
    assert result.stderr.splitlines()[-1] == "2 problems in the data."


HOOK = '''\
import os
import click

_echo = click.echo


def echo(message=None, *args, **kwargs):
    _echo(message, *args, **kwargs)
    if message and " built, " in str(message):  # the build's summary: every output written
        os.write(int(os.environ["NEXUS_TEST_READY_FD"]), b"done\\n")
        os.read(int(os.environ["NEXUS_TEST_GO_FD"]), 8)  # until the test has sent its signal


click.echo = echo
'''


def test_a_ctrl_c_after_the_outputs_are_written_changes_nothing_and_exits_0(data_copy,
                                                                              tmp_path):
    import os
    import select
    import signal

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get(
        "PYTHONPATH", "")]), "NEXUS_TEST_READY_FD": str(ready_w), "NEXUS_TEST_GO_FD": str(go_r)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexusreports", "build", "--data", str(data_copy), "--templates",
         str(TEMPLATES), "--out", str(tmp_path / "out"), "--format", "pdf", "--jobs", "1"],
        env=env, pass_fds=(ready_w, go_r), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    os.close(ready_w)
    os.close(go_r)
    try:
        ready, _, _ = select.select([ready_r], [], [], 300)  # a safety net, not a timing
        assert ready and os.read(ready_r, 16) == b"done\n", "the build never finished"
        proc.send_signal(signal.SIGINT)
        os.write(go_w, b"go\n")
        _, err = proc.communicate(timeout=300)
    finally:
        os.close(ready_r)
        os.close(go_w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Interrupted" not in err and "Traceback" not in err
    assert "9 outputs in" in err and "9 built, 0 unchanged, 0 failed" in err


def test_the_readme_everyday_commands_run_in_the_activated_environment_or_by_its_path():
    # README "Everyday use": ". .venv/bin/activate" first, or .venv/bin/nexusreports
    import os

    venv = Path(sys.prefix)
    if sys.prefix == sys.base_prefix or not (venv / "bin" / "activate").is_file():
        pytest.skip("the tests do not run from a virtual environment")
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"  # a fresh shell: no nexusreports on the PATH yet
    for command in (f". {venv}/bin/activate && nexusreports validate",
                    f"{venv}/bin/nexusreports validate"):
        result = subprocess.run(["sh", "-c", command], cwd=root, env=env, capture_output=True,
                                text=True, timeout=120, check=False)
        assert result.returncode == 0, (command, result.stderr)
    bare = subprocess.run(["sh", "-c", "nexusreports validate"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert bare.returncode == 127  # not activated: the shell does not know the command


def test_the_progress_bar_goes_with_its_thread_once_every_sheet_is_rendered():
    """The bundles come after the last sheet, made in a process forked only when no other
    thread runs (pipeline._Renderer._start): the bar's refresh thread must be gone by then."""
    import threading

    from nexusreports import cli as cli_module

    before = threading.active_count()
    bar = cli_module._ProgressBar()
    bar.update(0, 2, "")
    assert threading.active_count() == before + 1  # rich refreshes the bar from a thread
    bar.update(1, 2, "nl/atmp.pdf")
    assert threading.active_count() == before + 1
    bar.update(2, 2, "nl/atmp.docx")
    assert threading.active_count() == before and bar._progress is None
    bar.update(2, 2, "")  # a late call does not bring it back
    assert bar._progress is None
    bar.close()
