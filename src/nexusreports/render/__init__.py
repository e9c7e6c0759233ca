"""Stage 4, render: a :class:`~nexusreports.view.SheetView` -> file bytes.

``render.pdf`` draws the one-page PDF sheet with ReportLab; ``render.word`` fills the Word
template.  Renderers place the view's strings; they never format numbers or choose words.
Each is imported only when its format is built, so a PDF-only run never loads the Word stack.
"""
