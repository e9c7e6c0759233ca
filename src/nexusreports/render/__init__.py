"""Stage 4, render: views -> file bytes.  Every byte of a format is drawn in its own room.

``render.pdf`` draws with ReportLab: the one-page PDF sheet (``render.pdf.sheet``) and the
briefing bundle's PDF (``render.pdf.bundle``).  ``render.word`` fills the Word template: the
Word sheet (``render.word.sheet``) and the Word bundle (``render.word.bundle``).  Renderers
place the view's strings; they never format numbers or choose words.  Each format is imported
only when it is built, so a PDF-only run never loads the Word stack.
"""

from __future__ import annotations

import datetime as dt
import os

SUMMARY_COLUMNS_MM = (44.0, 19.0, 26.0, 26.0, 26.0, 11.0, 34.0)
"""Widths of the summary table's columns (project, period, size, public, private, TRL, MRL),
in mm: together the width between the theme's margins (186 mm on A4); the Word bundle scales
them to its own text width."""



def stamp_time(invariant: bool) -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` (UTC) when ``invariant`` and set, else now; whole seconds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH") if invariant else None
    moment = (dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch and epoch.isdigit()
              else dt.datetime.now(dt.timezone.utc))
    return moment.replace(microsecond=0)
