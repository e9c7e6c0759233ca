"""The bundles' inputs as the build collects them, in-process: the dicts issue 11's fourth
session held (``before``: every data file, every PDF sheet's digest, every sheet's inputs,
copied here from pipeline._bundle_outputs of b70618e) against the sorted spills it keeps now
(``after``: spill.SortedMapMaker, as _bundle_outputs feeds them), over synthetic sheet
outputs of N projects (4 sheets each, their inputs as the plan gives them).

Usage::

    .venv/bin/python benchmarks/bundle_inputs.py 10000 after

One line: the inputs of each bundle, what stays held (tracemalloc) and the traced peak
while they are collected.  Compare N and 10 N.
"""
import sys, tracemalloc, gc
from nexusreports.write import Inputs, Output, Outputs
from nexusreports.spill import SortedMapMaker

n, how = int(sys.argv[1]), sys.argv[2]
theme = {f"templates/fonts/f{i}.ttf": "a" * 64 for i in range(6)}
shared = {(lang, fmt): {**theme, f"nexusreports/localise/{lang}.po": "c" * 64}
          for lang in ("nl", "en") for fmt in ("pdf", "docx")}
outs = Outputs()
for i in range(n):
    data = {f"data/projects/project-{i:05}.yaml": f"{i:064x}"}
    for lang in ("nl", "en"):
        for fmt in ("pdf", "docx"):
            outs.append(Output(path=f"{lang}/project-{i:05}.{fmt}", format=fmt, lang=lang,
                               pages=1, inputs=Inputs(data, shared[(lang, fmt)]),
                               slug=f"project-{i:05}", key="k" * 64, sha256=f"{i:063x}1",
                               size=1000, file=None))
gc.collect()
tracemalloc.start()

if how == "before":
    inputs = {"data/bundle.yaml": "b" * 64,
              **{f"data/projects/project-{i:05}.yaml": f"{i:064x}" for i in range(n)}, **theme}
    pdf_digests, sheet_inputs = {}, {}
    for sheet in outs:
        if sheet.format == "pdf":
            pdf_digests[sheet.path] = sheet.sha256
        sheet_inputs.update(sheet.inputs)
    pdf_inputs = pdf_digests
    pdf_inputs.update(inputs)
    docx_inputs = inputs
    docx_inputs.update(sheet_inputs)
    held = (pdf_inputs, docx_inputs)
else:
    pdf, docx = SortedMapMaker(), SortedMapMaker()
    for m in (pdf, docx):
        m.add("data/bundle.yaml", "b" * 64)
    for i in range(n):
        for m in (pdf, docx):
            m.add(f"data/projects/project-{i:05}.yaml", f"{i:064x}")
    for k, v in theme.items():
        for m in (pdf, docx):
            m.add(k, v)
    seen, last = set(), None
    for sheet in outs:
        if sheet.format == "pdf":
            pdf.add(sheet.path, sheet.sha256)
        own, common = sheet.inputs._own, sheet.inputs._shared
        if own != last:
            docx.update(own.items()); last = own
        if id(common) not in seen:
            seen.add(id(common)); docx.update((a, b) for a, b in common.items() if a not in own)
    held = (pdf.finish(), docx.finish())
now, peak = tracemalloc.get_traced_memory()
print(f"{how} {n} projects: {len(held[0])} + {len(held[1])} inputs; held {now/1e6:.2f} MB, peak {peak/1e6:.2f} MB")
