"""What tagging (PDF/UA-1 + PDF/A-2) costs per PDF sheet (issue 9; target: under +20 %).

Run from the repository root::

    .venv/bin/python benchmarks/tagging.py            # 8 sheets x 15 rounds
    .venv/bin/python benchmarks/tagging.py --repeat 30

Renders every shipped sheet (both languages) in one warm process, tagged as the build does
and untagged (the tagger not attached and the structure tree, XMP and OutputIntent not
written, patched here only), and prints the median time per sheet of each, the difference
and the tagging-and-saving step alone (ReportLab's save included); also
the bundle's assembly.  A measurement, not a test: nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from nexusreports import bundle as bundle_files  # noqa: E402
from nexusreports.pipeline import BuildOptions, check, views  # noqa: E402
from nexusreports.render.pdf import archive, sheet  # noqa: E402
from nexusreports.validate import load_bundle  # noqa: E402
from nexusreports.view import build_bundle_view  # noqa: E402


def one_round(all_views, theme) -> float:
    """The mean time to render one sheet, in seconds, over one round of every view."""
    t = time.perf_counter()
    for view in all_views:
        sheet.render_pdf(view, theme, invariant=True)
    return (time.perf_counter() - t) / len(all_views)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    projects, theme, _ = check(ROOT / "data", ROOT / "templates")
    all_views = views(projects, BuildOptions(data_dir=ROOT / "data"))
    one_round(all_views, theme)  # warm up: fonts, hyphenation dictionaries, imports

    real_publishable, real_attach = sheet.publish_canvas, sheet.attach
    spent: list[float] = []

    def timed(*a, **k):
        t = time.perf_counter()
        out = real_publishable(*a, **k)
        spent.append(time.perf_counter() - t)
        return out

    tagged, untagged = [], []
    for _ in range(args.repeat):  # interleaved, so a busy moment hits both alike
        sheet.publish_canvas, sheet.attach = timed, real_attach
        tagged.append(one_round(all_views, theme))
        sheet.publish_canvas = lambda canvas, buf, *a, **k: (canvas.save(), buf.getvalue())[1]
        sheet.attach = lambda canvas, tagger: tagger
        untagged.append(one_round(all_views, theme))
    sheet.publish_canvas, sheet.attach = real_publishable, real_attach
    tagged_ms, untagged_ms = statistics.median(tagged), statistics.median(untagged)

    by_key = {(v.slug, v.lang): v for v in all_views}
    pdfs = {key: sheet.render_pdf(v, theme, invariant=True) for key, v in by_key.items()}
    bundle_view = build_bundle_view(load_bundle(ROOT / "data", projects), projects, by_key)
    rounds = []
    for _ in range(max(3, args.repeat // 3)):
        t = time.perf_counter()
        bundle_files.render_pdf(bundle_view, pdfs, theme, invariant=True)
        rounds.append(time.perf_counter() - t)

    ms = 1000
    print(f"sheets: {len(all_views)}, rounds: {args.repeat} (medians)")
    print(f"untagged sheet      {untagged_ms * ms:7.1f} ms")
    extra = tagged_ms - untagged_ms
    print(f"tagged sheet        {tagged_ms * ms:7.1f} ms   "
          f"(+{extra * ms:.1f} ms, +{extra / untagged_ms * 100:.0f} %)")
    print(f"  of it tag+save pass {statistics.median(spent) * ms:5.1f} ms "
          f"({archive.__name__})")
    print(f"bundle (tagged, {len(pdfs)} sheets) {statistics.median(rounds) * ms:7.1f} ms")


if __name__ == "__main__":
    main()
