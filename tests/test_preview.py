"""`nexusreports preview`, in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) opens the page; an edited figure appears on the sheet,
a broken file shows its problems exactly as `validate` prints them over the last good
pages, fixing it brings the pages back, and Ctrl-C stops the preview cleanly.

The sheet images' text (``data-text``, read from the PDF the image was drawn from) is what
the test reads; that the image itself is there is checked by the browser having loaded and
decoded it."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from nexusreports.cli import main

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WAIT_S = 30  # the longest a step may take on a busy CI machine; no timing is asserted

HAVE_BROWSER = CHROMIUM.exists() and CHROMEDRIVER.exists()
if not HAVE_BROWSER and os.environ.get("CI"):  # CI installs them: never skip there
    raise RuntimeError("CI without /usr/bin/chromium and /usr/bin/chromedriver: .ci/run "
                       "installs Debian's chromium and chromium-driver")
pytestmark = pytest.mark.skipif(not HAVE_BROWSER,
                                reason="needs Debian's chromium and chromium-driver "
                                       "(.ci/run installs them)")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with a copy of the shipped data and templates."""
    (tmp_path / "nexusreports.toml").write_text("")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def preview(project):
    """`nexusreports preview` running in ``project``: yields ``(process, url, stderr lines)``;
    stopped with Ctrl-C (SIGINT) at the end if the test has not stopped it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "nexusreports", "preview"], cwd=project,
                               env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            seen.append(line.rstrip("\n"))
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=WAIT_S)
    except queue.Empty:
        process.kill()
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]
        pytest.fail("the preview printed no link")
    assert first.startswith("Preview of data at http://127.0.0.1:"), first
    url = first.split(" at ")[1].split()[0]
    try:
        yield process, url, seen
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=WAIT_S)
        process.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(
        lambda d: condition(d), message)


SHEET_JS = """
const img = document.querySelector('figure[data-sheet="' + arguments[0] + '"] img');
return img && img.complete && img.naturalWidth > 0
    ? {src: img.getAttribute('src'), text: img.dataset.text, width: img.naturalWidth}
    : null;"""

PROBLEMS_JS = """
const box = document.getElementById('problems');
return box.hidden ? [] : [...box.querySelectorAll('li')].map(li => li.textContent);"""


def sheet(driver, key: str) -> dict | None:
    return driver.execute_script(SHEET_JS, key)


def validate_lines(capsys) -> list[str]:
    """What `nexusreports validate` prints about the data in the working folder."""
    capsys.readouterr()
    assert main(["validate"]) == 1
    return [line for line in capsys.readouterr().err.splitlines()
            if line.startswith("data/")]


@pytest.mark.slow
def test_the_page_follows_every_save_in_a_real_browser(project, preview, browser, capsys):
    process, url, stderr = preview
    browser.get(url)

    # 1. the sheets, Dutch and English side by side, and the bundle's pages
    first = wait_for(browser, lambda d: sheet(d, "atmp/nl-NL"), "no Dutch ATMP sheet")
    assert "30-09-2025" in first["text"] and first["width"] > 500
    english = wait_for(browser, lambda d: sheet(d, "atmp/en-GB"), "no English ATMP sheet")
    assert "30/09/2025" in english["text"]
    figures = browser.find_elements("css selector", "#sheet-atmp figure")
    assert len(figures) == 2 and figures[0].location["y"] == figures[1].location["y"]
    assert figures[0].location["x"] < figures[1].location["x"]
    wait_for(browser, lambda d: len(d.find_elements("css selector", "#bundle img")) > 4,
             "no bundle pages")
    pdf_link = browser.find_element("css selector", '#sheet-atmp a[href$="/nl/atmp.pdf"]')
    with urllib.request.urlopen(pdf_link.get_attribute("href")) as response:
        assert response.read() == (project / "out" / "nl" / "atmp.pdf").read_bytes()

    # 2. edit a figure: the new figure is on the page
    path = project / "data" / "projects" / "atmp.yaml"
    good = path.read_text(encoding="utf-8")
    assert "biotech_act_call: {kind: date, value: 2025-09-30}" in good
    edited = good.replace("biotech_act_call: {kind: date, value: 2025-09-30}",
                          "biotech_act_call: {kind: date, value: 2025-10-17}")
    path.write_text(edited, encoding="utf-8")
    updated = wait_for(browser, lambda d: (s := sheet(d, "atmp/nl-NL")) and
                       "17-10-2025" in s["text"] and s, "the edited figure did not appear")
    assert updated["src"] != first["src"]  # a new image, drawn from the new PDF

    # 3. a file saved halfway through an edit: validate's problems over the last good pages
    half = edited[:edited.index("relevance:")] + 'relevance:\n  nl: "Halverwege'
    path.write_text(half, encoding="utf-8")
    expected = validate_lines(capsys)
    assert expected and expected[0].startswith("data/projects/atmp.yaml:")
    shown = wait_for(browser, lambda d: d.execute_script(PROBLEMS_JS), "no problems shown")
    assert shown == expected
    still = sheet(browser, "atmp/nl-NL")
    assert still and "17-10-2025" in still["text"]  # the last good page stays

    # 4. fixed: the problems go, the pages follow again
    path.write_text(edited.replace("2025-10-17", "2025-11-05"), encoding="utf-8")
    wait_for(browser, lambda d: (s := sheet(d, "atmp/nl-NL")) and "05-11-2025" in s["text"],
             "the pages did not come back")
    assert browser.execute_script(PROBLEMS_JS) == []

    # 5. Ctrl-C: a clean stop
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=WAIT_S) == 0
    assert not any("Traceback" in line for line in stderr)
    assert stderr[-1] == "Preview stopped."
