"""nexusreports: project sheets and a bilingual briefing bundle from YAML project data.

The pipeline, one module per stage, data flowing one way:

    load.py      YAML -> raw mappings with line numbers
    validate.py  raw -> typed model (model.py), every problem reported at once
    localise/    numbers, money, dates and labels for one locale (Babel, gettext)
    view.py      (project, locale) -> SheetView: every string final
    render/      SheetView -> PDF (ReportLab) / DOCX (Word template)
    write.py     atomic writes and the manifest
    pipeline.py  runs the stages in order;  cli.py  the command line
"""

__version__ = "0.1.0"
