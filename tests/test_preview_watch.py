"""The preview's state without a browser: the watcher rebuilds on a change to the theme or
the Word template too, a broken template is a problem shown over the last good pages, and
the watcher stops when told."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from nexusreports.pipeline import BuildOptions
from nexusreports.preview import Preview, watch

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30


@pytest.fixture
def preview(tmp_path, monkeypatch) -> Preview:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    return Preview(BuildOptions(data_dir=Path("data"), templates_dir=Path("templates"),
                                out_dir=Path("out"), jobs=1))


def image_of(state: dict, slug: str, lang: str) -> str:
    sheet = next(s for s in state["sheets"] if s["slug"] == slug)
    return next(x for x in sheet["langs"] if x["lang"] == lang)["image"]["url"]


def wait_until(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(what)


def test_a_theme_change_redraws_every_sheet_and_the_watcher_stops_when_told(preview):
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(preview, stop))
    thread.start()
    try:
        first = wait_until(lambda: (s := preview.snapshot())["sheets"] and s, "no first build")
        assert len(first["sheets"]) == 4 and first["problems"] == []
        theme = Path("templates/theme.yaml")
        theme.write_text(theme.read_text(encoding="utf-8").replace('"#12355B"', '"#5B1235"'),
                         encoding="utf-8")
        later = wait_until(lambda: (s := preview.snapshot())["version"] > first["version"]
                           and not s["building"] and s["built_at"] != "" and
                           image_of(s, "atmp", "nl-NL") != image_of(first, "atmp", "nl-NL")
                           and s, "the theme change was not shown")
        assert {image_of(later, s["slug"], "en-GB") for s in later["sheets"]}.isdisjoint(
            {image_of(first, s["slug"], "en-GB") for s in first["sheets"]})
    finally:
        stop.set()
        thread.join(timeout=WAIT_S)
    assert not thread.is_alive()


def test_a_broken_word_template_is_a_problem_over_the_last_good_pages(preview):
    preview.rebuild()
    good = preview.snapshot()
    assert good["problems"] == [] and good["sheets"]
    Path("templates/sheet.docx").write_bytes(b"not a Word file")
    preview.rebuild()
    broken = preview.snapshot()
    assert broken["problems"] and all(p.startswith("templates/sheet.docx")
                                      for p in broken["problems"]), broken["problems"]
    assert broken["sheets"] == good["sheets"]
    assert preview.image(image_of(good, "atmp", "nl-NL")[5:-4]).startswith(b"\x89PNG")


def test_only_the_outputs_it_shows_are_served(preview):
    preview.rebuild()
    assert preview.output_file("nl/atmp.pdf") == Path("out/nl/atmp.pdf")
    assert preview.output_file("../data/projects/atmp.yaml") is None
    assert preview.output_file("manifest.json") is None


def test_a_port_in_use_is_said_with_what_to_do(tmp_path, monkeypatch, capsys):
    import socket

    from nexusreports.cli import main

    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["preview", "--port", str(port)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"127.0.0.1:{port}: cannot listen (Address already in use): give another --port, or "
        "0 for any free one"]


def asgi_get(app, path: str, host: str) -> tuple[int, bytes]:
    """GET ``path`` from the ASGI ``app`` with the ``Host`` header ``host``, as uvicorn would
    pass it on: the status and the body."""
    import asyncio

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", host.encode())],
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_only_a_browser_on_this_computer_is_answered(preview):
    """DNS rebinding: a web page on attacker.example that points its name at 127.0.0.1
    reaches the port, but its requests say 'Host: attacker.example' and get 400."""
    from nexusreports.preview import make_app

    preview.rebuild()
    app = make_app(preview, watcher=False)
    for host in ("127.0.0.1:8000", "localhost:8000", "127.0.0.1"):
        assert asgi_get(app, "/", host)[0] == 200
        status, body = asgi_get(app, "/out/nl/atmp.pdf", host)
        assert status == 200 and body.startswith(b"%PDF-"), host
    for host in ("attacker.example:8000", "attacker.example", "",
                 "127.0.0.1.attacker.example:8000"):
        for path in ("/", "/state", "/out/nl/atmp.pdf"):
            status, body = asgi_get(app, path, host)
            assert (status, b"%PDF" in body, b"atmp" in body) == (400, False, False), (
                host, path)


def test_ctrl_c_while_the_preview_starts_stops_it_with_its_own_line(tmp_path, monkeypatch,
                                                                      capsys):
    """A Ctrl-C before the server runs (here: while the folders are looked up, after the
    command line was read) stops the preview (exit 0), not "the build stopped" (130)."""
    import os
    import signal

    import nexusreports.cli as cli

    monkeypatch.chdir(tmp_path)
    real = cli._data

    def interrupted(data_dir):
        os.kill(os.getpid(), signal.SIGINT)
        return real(data_dir)

    monkeypatch.setattr(cli, "_data", interrupted)
    assert cli.main(["preview"]) == 0
    assert capsys.readouterr().err.splitlines() == ["Preview stopped."]
