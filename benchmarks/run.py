"""Benchmark nexusreports against the common ways of making the same sheets (issue 5).

Run from the repository root (needs the ``bench`` extra: ``pip install -e '.[bench]'``, and
LibreOffice's ``soffice`` on PATH)::

    .venv/bin/python benchmarks/run.py            # everything (about 5 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --sizes 10,100 --repeat 3

Everything is measured in one run on one machine and printed side by side with ratios;
``--json FILE`` also writes the numbers.  Times are wall-clock medians over ``--repeat``
runs (seconds); "cold" means a new process.  This is a measurement, not a test: nothing
here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EPOCH = "1700000000"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(cmd: list[str], cwd: Path, **env: str) -> None:
    environ = {**os.environ, **env}
    done = subprocess.run(cmd, cwd=cwd, env=environ, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")


def nexus(cwd: Path, *args: str) -> list[str]:
    return [PY, "-m", "nexusreports", "-q", "build", *args]


def workdir(base: Path, name: str) -> Path:
    """A copy of data/ and templates/ to build in."""
    work = base / name
    shutil.copytree(ROOT / "data", work / "data")
    shutil.copytree(ROOT / "templates", work / "templates")
    return work


# --- 1. full cold build vs docxtpl + LibreOffice ------------------------------------------

COMMON_WAY = r'''
import io, sys, time
from pathlib import Path
from docxtpl import DocxTemplate
from nexusreports.pipeline import BuildOptions, check, views
from nexusreports.render.word import sheet_context
out = Path(sys.argv[1]); template = sys.argv[2]
projects, theme, _ = check(Path("data"), Path("templates"))
for view in views(projects, BuildOptions()):
    tpl = DocxTemplate(template)
    tpl.render(sheet_context(view, tpl), autoescape=True)
    tpl.save(out / f"{view.lang}-{view.slug}.docx")
'''


def bare_template(base: Path) -> Path:
    """templates/sheet.docx, or (before issue 3) a small docxtpl template made here."""
    shipped = ROOT / "templates" / "sheet.docx"
    if shipped.is_file():
        return shipped
    import docx

    doc = docx.Document()
    doc.add_heading("{{ title }}", 0)
    doc.add_paragraph("{{ project_name }} · {{ domain }} · {{ subdomain }}")
    doc.add_paragraph("{% for p in summary %}{{ p }} {% endfor %}")
    doc.add_paragraph("{% for p in relevance %}{{ p }} {% endfor %}")
    doc.add_paragraph("{{ size }} {{ period_start }}–{{ period_end }} {{ trl_range }} {{ mrl }}")
    path = base / "bare-sheet.docx"
    doc.save(path)
    return path


def full_build(base: Path, repeat: int) -> dict:
    work = workdir(base, "full")
    template = bare_template(base)
    profile = base / "lo-profile"
    soffice = shutil.which("soffice") or shutil.which("libreoffice")

    def ours(*extra: str):
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        run(nexus(work, "--out", "out", *extra), work, SOURCE_DATE_EPOCH=EPOCH)

    docx_dir = base / "common-docx"

    def common_docx():
        shutil.rmtree(docx_dir, ignore_errors=True)
        docx_dir.mkdir()
        run([PY, "-c", COMMON_WAY, str(docx_dir), str(template)], work)

    def common_pdf():
        run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", "pdf", "--outdir", str(docx_dir),
             *sorted(str(p) for p in docx_dir.glob("*.docx"))], work)

    result = {"ours_all": median_time(lambda: ours(), repeat),
              "ours_sheets": median_time(lambda: ours("--no-bundle"), repeat),
              "ours_pdf_sheets": median_time(lambda: ours("--no-bundle", "--format", "pdf"),
                                             repeat)}
    common_docx()
    if soffice:
        common_pdf()  # once untimed: LibreOffice makes its user profile on the first run
        docx_t = median_time(common_docx, repeat)
        pdf_t = median_time(lambda: (common_docx(), common_pdf()), repeat) - docx_t
        result.update(common_docx=docx_t, common_pdf=pdf_t, common_total=docx_t + pdf_t)
    return result


# --- 2./3. one warm sheet: PDF vs bare ReportLab vs Typst; DOCX vs bare docxtpl -------------

TYPST_SHEET = r'''
#let d = json("sheet.json")
#set page(paper: "a4", margin: (x: 14mm, top: 0mm, bottom: 12mm))
#set text(font: "Carlito", size: 9pt, lang: d.lang)
#set par(justify: false, leading: 0.5em)
#block(width: 100% + 28mm, inset: (x: 14mm, y: 8mm), fill: rgb("#12355B"), outset: (x: 0mm))[
  #text(fill: white, size: 20pt, weight: "bold")[#d.title] \
  #text(fill: rgb("#9FD3E6"), size: 11pt)[#d.domain]
]
#grid(columns: (1fr, 62mm), gutter: 6mm,
  [#for b in d.left [
     #text(weight: "bold", fill: rgb("#12355B"), size: 11pt)[#b.heading]
     #for p in b.paras [#p #parbreak()]
   ]],
  [#block(fill: rgb("#EEF3F7"), inset: 3mm, width: 100%)[
     #for p in d.right [#text(size: 8pt)[#p] \ ]
   ]])
#line(length: 100%, stroke: 0.5pt + gray)
#text(size: 7pt, fill: gray)[#d.footer]
'''


def warm_sheets(base: Path, repeat: int) -> dict:
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Frame, Paragraph

    from nexusreports.pipeline import BuildOptions, check, views
    from nexusreports.render.pdf import markup, register_fonts, render_pdf

    projects, theme, _ = check(ROOT / "data", ROOT / "templates")
    view = next(v for v in views(projects, BuildOptions(data_dir=ROOT / "data"))
                if v.slug == "atmp" and v.lang == "nl")
    texts = view.all_text
    result: dict = {}

    render_pdf(view, theme, invariant=True)
    result["ours_pdf"] = median_time(lambda: render_pdf(view, theme, invariant=True), repeat)

    font = register_fonts(theme)
    style = ParagraphStyle("b", fontName=font, fontSize=9, leading=11.5)

    def bare_reportlab():
        buf = io.BytesIO()
        c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
        w, h = A4
        frame = Frame(14 * mm, 12 * mm, w - 28 * mm, h - 24 * mm, showBoundary=0)
        frame.addFromList([Paragraph(markup(t), style) for t in texts], c)
        c.showPage()
        c.save()
        return buf.getvalue()

    bare_reportlab()
    result["bare_reportlab_pdf"] = median_time(bare_reportlab, repeat)

    try:
        import typst
    except ImportError:
        typst = None
    if typst is not None:
        tdir = base / "typst"
        tdir.mkdir()
        left = [{"heading": view.labels["relevance"], "paras": list(view.summary)},
                {"heading": view.labels["relevance"], "paras": list(view.relevance)},
                {"heading": view.national.heading, "paras": [e.text for e in view.national.entries]},
                {"heading": view.european.heading, "paras": [e.text for e in view.european.entries]}]
        right = [view.size, view.period_start, view.period_end, view.trl_range, view.mrl,
                 *[i.label for g in view.matrix for i in g.items],
                 " · ".join(o.name for o in view.organisations)]
        (tdir / "sheet.json").write_text(json.dumps(
            {"lang": view.lang, "title": view.title, "domain": view.domain, "left": left,
             "right": right, "footer": view.footer_left}, ensure_ascii=False), encoding="utf-8")
        (tdir / "sheet.typ").write_text(TYPST_SHEET, encoding="utf-8")
        fonts = [str(ROOT / "templates" / "fonts")]

        def typst_pdf():
            return typst.compile(str(tdir / "sheet.typ"), font_paths=fonts,
                                 ignore_system_fonts=True)

        typst_pdf()
        result["typst_pdf"] = median_time(typst_pdf, repeat)

    try:
        from docxtpl import DocxTemplate

        from nexusreports.render.word import render_docx, sheet_context
    except ImportError:
        return result
    template = str(bare_template(base))

    def bare_docxtpl():
        tpl = DocxTemplate(template)
        tpl.render(sheet_context(view, tpl), autoescape=True)
        buf = io.BytesIO()
        tpl.save(buf)
        return buf.getvalue()

    bare_docxtpl()
    render_docx(view, theme)
    result["ours_docx"] = median_time(lambda: render_docx(view, theme), repeat)
    result["bare_docxtpl_docx"] = median_time(bare_docxtpl, repeat)
    return result


# --- 4. incremental rebuilds -----------------------------------------------------------------

def incremental(base: Path, repeat: int) -> dict:
    work = workdir(base, "incremental")
    cmd = nexus(work, "--out", "out")

    def cold():
        shutil.rmtree(work / "out", ignore_errors=True)
        run(cmd, work)

    result = {"cold": median_time(cold, repeat)}
    result["no_change"] = median_time(lambda: run(cmd, work), repeat)
    source = work / "data" / "projects" / "infectieziekten.yaml"
    original = source.read_text(encoding="utf-8")
    counter = iter(range(10_000))

    def one_changed():
        source.write_text(original.replace("  nl: >-\n", f"  nl: >-\n    Versie {next(counter)}.\n",
                                           1), encoding="utf-8")
        run(cmd, work)

    result["one_project_changed"] = median_time(one_changed, repeat)
    return result


# --- 5. a synthetic set of many projects ------------------------------------------------------

def synthetic_data(target: Path, count: int) -> None:
    """``count`` projects: the four shipped ones, then copies of the three flagships made
    stand-alone programmes (same, realistic text lengths; the short name numbered)."""
    projects = target / "data" / "projects"
    projects.mkdir(parents=True)
    shipped = sorted((ROOT / "data" / "projects").glob("*.yaml"))
    for f in shipped:
        shutil.copy(f, projects / f.name)
    flagships = [f for f in shipped if "\nkind: flagship" in f.read_text(encoding="utf-8")]
    for i in range(count - len(shipped)):
        src = flagships[i % len(flagships)]
        text = src.read_text(encoding="utf-8")
        text = text.replace("kind: flagship", "kind: programme")
        text = re.sub(r"(?m)^parent: .*\n", "", text)
        text = re.sub(r"(?m)^(short_name: .*?)\s*$", lambda mt: f"{mt.group(1)} {i + 1}", text,
                      count=1)
        (projects / f"{src.stem}-{i + 1:04d}.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "templates", target / "templates")


MEASURE = r'''
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t
if rc.returncode:
    sys.stderr.write(rc.stderr[-3000:]); sys.exit(rc.returncode)
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
'''


def synthetic(base: Path, sizes: list[int], jobs: list[int], formats: str) -> list[dict]:
    rows = []
    for size in sizes:
        work = base / f"synthetic-{size}"
        synthetic_data(work, size)
        for n in jobs:
            shutil.rmtree(work / "out", ignore_errors=True)
            cmd = nexus(work, "--out", "out", "--no-bundle", "--format", formats, "--jobs",
                        str(n))
            done = subprocess.run([PY, "-c", MEASURE, *cmd], cwd=work, capture_output=True,
                                  text=True, env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH})
            if done.returncode:
                raise SystemExit(f"synthetic build of {size} failed:\n{done.stderr}")
            seconds, maxrss_kb = done.stdout.split()
            sheets = size * 2 * len(formats.split(","))
            rows.append({"projects": size, "jobs": n, "sheets": sheets,
                         "seconds": float(seconds), "sheets_per_s": sheets / float(seconds),
                         "peak_mb": int(maxrss_kb) / 1024})
            print(f"  {size:>5} projects, --jobs {n}: {sheets} sheets in {float(seconds):.1f} s"
                  f" = {sheets / float(seconds):.1f} sheets/s, peak {int(maxrss_kb) / 1024:.0f} MB",
                  flush=True)
        shutil.rmtree(work)
    return rows


# --- report ------------------------------------------------------------------------------------

def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--synthetic-formats", default="pdf",
                        help="formats of the synthetic builds (pdf,docx doubles the sheets)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import platform

    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}", flush=True)
    out: dict = {"cpus": os.cpu_count(), "platform": platform.platform()}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        base = Path(tmp)
        print("1. full cold build ...", flush=True)
        full = out["full"] = full_build(base, args.repeat)
        print("2./3. warm sheets ...", flush=True)
        warm = out["warm"] = warm_sheets(base, max(args.repeat, 10))
        print("4. incremental rebuilds ...", flush=True)
        inc = out["incremental"] = incremental(base, args.repeat)
        print("5. synthetic projects ...", flush=True)
        rows = out["synthetic"] = synthetic(base, [int(s) for s in args.sizes.split(",")],
                                            [int(j) for j in args.jobs.split(",")],
                                            args.synthetic_formats)

    g = lambda d, k: d.get(k)  # noqa: E731
    lines = [
        "",
        "| measurement | ours | other | ratio (other / ours) | target |",
        "|---|---|---|---|---|",
        f"| full cold build, 8 PDF + 8 DOCX sheets (no bundle) vs docxtpl + soffice | "
        f"{full['ours_sheets']:.2f} s | {g(full, 'common_total') or 0:.2f} s | "
        f"{ratio(g(full, 'common_total'), full['ours_sheets'])} | >= 3x |",
        f"| full cold build incl. both bundles vs docxtpl + soffice (sheets only) | "
        f"{full['ours_all']:.2f} s | {g(full, 'common_total') or 0:.2f} s | "
        f"{ratio(g(full, 'common_total'), full['ours_all'])} | >= 3x |",
        f"| cold build, 8 PDF sheets only vs soffice conversion alone | "
        f"{full['ours_pdf_sheets']:.2f} s | {g(full, 'common_pdf') or 0:.2f} s | "
        f"{ratio(g(full, 'common_pdf'), full['ours_pdf_sheets'])} | |",
        f"| warm PDF sheet vs bare ReportLab page | {warm['ours_pdf'] * 1000:.0f} ms | "
        f"{warm['bare_reportlab_pdf'] * 1000:.0f} ms | "
        f"{ratio(warm['bare_reportlab_pdf'], warm['ours_pdf'])} | ours <= 1.5x bare (ratio >= 0.67x) |",
        f"| warm PDF sheet vs Typst | {warm['ours_pdf'] * 1000:.0f} ms | "
        f"{(g(warm, 'typst_pdf') or 0) * 1000:.0f} ms | "
        f"{ratio(g(warm, 'typst_pdf'), warm['ours_pdf'])} | >= 1x |",
        f"| warm DOCX sheet vs bare docxtpl | {(g(warm, 'ours_docx') or 0) * 1000:.0f} ms | "
        f"{(g(warm, 'bare_docxtpl_docx') or 0) * 1000:.0f} ms | "
        f"{ratio(g(warm, 'bare_docxtpl_docx'), g(warm, 'ours_docx'))} | >= 1x |",
        f"| no-change rebuild vs cold build | {inc['no_change']:.2f} s | {inc['cold']:.2f} s | "
        f"{ratio(inc['cold'], inc['no_change'])} | >= 4x |",
        f"| one-project-changed rebuild vs cold build | {inc['one_project_changed']:.2f} s | "
        f"{inc['cold']:.2f} s | {ratio(inc['cold'], inc['one_project_changed'])} | |",
        "",
        "| projects | --jobs | sheets | seconds | sheets/s | peak memory (MB) |",
        "|---|---|---|---|---|---|",
        *[f"| {r['projects']} | {r['jobs']} | {r['sheets']} | {r['seconds']:.1f} | "
          f"{r['sheets_per_s']:.1f} | {r['peak_mb']:.0f} |" for r in rows],
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
