"""How well the Word sheet's one-page estimate (render/word/fit.py) agrees with LibreOffice.

Usage::

    .venv/bin/python benchmarks/word_fit.py 11 12 12.5 13 14

For each Normal size given (pt), the shipped template is restyled (Normal, Lead and List
Bullet), every shipped sheet is filled without the fit check, measured by the estimate, and
converted with LibreOffice; one line per sheet: estimated height / room (mm), LibreOffice's
page count, and whether the estimate lets it through.  A "false pass" (the estimate fits,
LibreOffice needs two pages) is what must never happen; docs/template-reference.md quotes
the last run.  Needs soffice on PATH.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docx
from docx.shared import Pt
from pypdf import PdfReader

from nexusreports.pipeline import check, source_path
from nexusreports.render.word import sheet
from nexusreports.render.word.fit import measure
from nexusreports.view import build_view

ROOT = Path(__file__).resolve().parent.parent


def main(sizes: list[float]) -> int:
    sheet.check_fit = lambda *args, **kwargs: None  # measure every sheet, also too tall ones
    false_passes = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for size in sizes:
            templates = base / f"templates-{size}"
            shutil.copytree(ROOT / "templates", templates)
            document = docx.Document(str(templates / "sheet.docx"))
            for name, delta in (("Normal", 0.0), ("Lead", 0.6), ("List Bullet", 0.0)):
                document.styles[name].font.size = Pt(size + delta)
            document.save(str(templates / "sheet.docx"))
            projects, theme, _ = check(ROOT / "data", templates)
            out = base / f"out-{size}"
            out.mkdir()
            estimates = {}
            for project in projects.projects:
                for lang in ("nl", "en"):
                    view = build_view(project, projects, lang, ROOT / "data",
                                      str(source_path(ROOT / "data", project.slug)))
                    data = sheet.render_docx(view, theme)
                    (out / f"{project.slug}-{lang}.docx").write_bytes(data)
                    used, room, _ = measure(docx.Document(io.BytesIO(data)), theme)
                    estimates[f"{project.slug}-{lang}"] = (used / 72 * 25.4, room / 72 * 25.4)
            subprocess.run(["soffice", f"-env:UserInstallation={(base / 'lo').as_uri()}",
                            "--headless", "--convert-to", "pdf", "--outdir", str(out),
                            *sorted(str(p) for p in out.glob("*.docx"))],
                           capture_output=True, check=True)
            for name, (used, room) in estimates.items():
                pages = len(PdfReader(out / f"{name}.pdf").pages)
                fits = used <= room
                false_passes += fits and pages > 1
                print(f"Normal {size:4} pt  {name:26} estimate {used:5.1f} of {room:5.1f} mm  "
                      f"LibreOffice {pages} page{'s' if pages > 1 else ''}  "
                      f"{'passes' if fits else 'refused'}")
    print(f"false passes: {false_passes}")
    return 1 if false_passes else 0


if __name__ == "__main__":
    sys.exit(main([float(a) for a in sys.argv[1:]] or [11, 12, 12.5, 13, 14]))
