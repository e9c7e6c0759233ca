"""Every PDF byte: the one-page sheet (:mod:`.sheet`) and the briefing bundle (:mod:`.bundle`)."""

from .sheet import CREATOR, layout_pdf, markup, new_canvas, register_fonts, render_pdf

__all__ = ["CREATOR", "layout_pdf", "markup", "new_canvas", "register_fonts", "render_pdf"]
