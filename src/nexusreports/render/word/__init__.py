"""Every Word byte: the Word sheet from the template (:mod:`.sheet`) and the Word bundle
(:mod:`.bundle`)."""

from .sheet import check_sheet_fit, core_property, render_docx, set_language, sheet_context

__all__ = ["check_sheet_fit", "core_property", "render_docx", "set_language", "sheet_context"]
