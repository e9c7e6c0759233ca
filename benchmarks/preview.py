"""How long the live preview takes from a save to the new page (issue 13).

Run from the repository root::

    .venv/bin/python benchmarks/preview.py            # 5 edits of one figure
    .venv/bin/python benchmarks/preview.py --repeat 10

Starts ``nexusreports preview`` on a copy of the shipped data, edits a figure of one
flagship ``--repeat`` times, and measures, by asking ``/state`` every 20 ms as the page
does (every 300 ms), the time from each save until the page's Dutch sheet image is the new
one.  A measurement, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def state(url: str) -> dict:
    with urllib.request.urlopen(url + "state") as response:
        return json.load(response)


def image_text(s: dict, slug: str) -> str:
    for sheet in s["sheets"]:
        if sheet["slug"] == slug:
            return sheet["langs"][0].get("image", {}).get("text", "")
    return ""


def measure(process: subprocess.Popen, work: Path, repeat: int) -> list[float]:
    url = process.stderr.readline().split(" at ")[1].split()[0]
    while not image_text(state(url), "atmp"):
        time.sleep(0.05)
    path = work / "data" / "projects" / "atmp.yaml"
    text = path.read_text(encoding="utf-8")
    times = []
    for day in range(1, repeat + 1):
        path.write_text(text.replace("value: 2025-09-30", f"value: 2025-10-{day:02d}"),
                        encoding="utf-8")
        saved = time.monotonic()
        while f"{day:02d}-10-2025" not in image_text(state(url), "atmp"):
            time.sleep(0.02)
        times.append(time.monotonic() - saved)
        time.sleep(1.5)  # let the bundle's pages follow before the next save
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "nexusreports.toml").write_text("")
        shutil.copytree(ROOT / "data", work / "data")
        process = subprocess.Popen([sys.executable, "-m", "nexusreports", "preview"],
                                   cwd=work, stderr=subprocess.PIPE, text=True)
        try:
            times = measure(process, work, args.repeat)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            process.stderr.close()
    print(f"save -> new sheet image on the page: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} saves "
          "(plus up to 0.3 s until the page asks)")


if __name__ == "__main__":
    main()
