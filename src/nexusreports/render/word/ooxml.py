"""OOXML helpers in schema order: every child element the Word renderers and the template
tool add goes through :func:`set_child`, never ``append``.

WordprocessingML fixes the order of the children of most property elements (``w:tcPr``,
``w:tblPr``, ``w:rPr`` ...).  Desktop Word repairs a file whose children are out of order
silently; Word for the web opens it read-only as damaged, and openxml-audit (the Open XML
SDK's validator) reports it.  The sequences below are the schema's (ECMA-376 Part 1, §17),
the same that python-docx declares for its ``oxml`` classes (``_tag_seq`` with
``ZeroOrOne(..., successors=...)``); :func:`set_child` inserts with python-docx's
``insert_element_before`` before the first successor present.

Nothing here chooses a word or formats a number.  Lengths are twips (``*_tw``, 1/20 pt) or
millimetres (``*_mm``).
"""

from __future__ import annotations

from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn

_SEQUENCES: dict[str, str] = {
    "w:tcPr": "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection "
              "tcFitText vAlign hideMark headers cellIns cellDel cellMerge tcPrChange",
    "w:tblPr": "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize "
               "tblStyleColBandSize tblW jc tblCellSpacing tblInd tblBorders shd tblLayout "
               "tblCellMar tblLook tblCaption tblDescription tblPrChange",
    "w:trPr": "cnfStyle divId gridBefore gridAfter wBefore wAfter cantSplit trHeight "
              "tblHeader tblCellSpacing jc hidden ins del trPrChange",
    "w:pPr": "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr "
             "suppressLineNumbers pBdr shd tabs suppressAutoHyphens kinsoku wordWrap "
             "overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
             "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc "
             "textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr "
             "sectPr pPrChange",
    "w:rPr": "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss "
             "imprint noProof snapToGrid vanish webHidden color spacing w kern position sz "
             "szCs highlight u effect bdr shd fitText vertAlign rtl cs em lang "
             "eastAsianLayout specVanish oMath rPrChange",
    "w:sectPr": "headerReference footerReference footnotePr endnotePr type pgSz pgMar "
                "paperSrc pgBorders lnNumType pgNumType cols formProt vAlign noEndnote "
                "titlePg textDirection bidi rtlGutter docGrid printerSettings sectPrChange",
    "w:tcBorders": "top start left bottom end right insideH insideV tl2br tr2bl",
    "w:tblBorders": "top start left bottom end right insideH insideV",
    "w:tblCellMar": "top start left bottom end right",
    "w:tcMar": "top start left bottom end right",
    "w:pBdr": "top left bottom right between bar",
    "w:settings": "writeProtection view zoom removePersonalInformation removeDateAndTime "
                  "doNotDisplayPageBoundaries displayBackgroundShape printPostScriptOverText "
                  "printFractionalCharacterWidth printFormsData embedTrueTypeFonts "
                  "embedSystemFonts saveSubsetFonts saveFormsData mirrorMargins "
                  "alignBordersAndEdges bordersDoNotSurroundHeader bordersDoNotSurroundFooter "
                  "gutterAtTop hideSpellingErrors hideGrammaticalErrors activeWritingStyle "
                  "proofState formsDesign attachedTemplate linkStyles stylePaneFormatFilter "
                  "stylePaneSortMethod documentType mailMerge revisionView trackRevisions "
                  "doNotTrackMoves doNotTrackFormatting documentProtection autoFormatOverride "
                  "styleLockTheme styleLockQFSet defaultTabStop autoHyphenation "
                  "consecutiveHyphenLimit hyphenationZone doNotHyphenateCaps showEnvelope "
                  "summaryLength clickAndTypeStyle defaultTableStyle evenAndOddHeaders "
                  "bookFoldRevPrinting bookFoldPrinting bookFoldPrintingSheets "
                  "drawingGridHorizontalSpacing drawingGridVerticalSpacing "
                  "displayHorizontalDrawingGridEvery displayVerticalDrawingGridEvery "
                  "doNotUseMarginsForDrawingGridOrigin drawingGridHorizontalOrigin "
                  "drawingGridVerticalOrigin doNotShadeFormData noPunctuationKerning "
                  "characterSpacingControl printTwoOnOne strictFirstAndLastChars "
                  "noLineBreaksAfter noLineBreaksBefore savePreviewPicture "
                  "doNotValidateAgainstSchema saveInvalidXml ignoreMixedContent "
                  "alwaysShowPlaceholderText doNotDemarcateInvalidXml saveXmlDataOnly "
                  "useXSLTWhenSaving saveThroughXslt showXMLTags alwaysMergeEmptyNamespace "
                  "updateFields hdrShapeDefaults footnotePr endnotePr compat docVars rsids "
                  "attachedSchema themeFontLang clrSchemeMapping doNotIncludeSubdocsInStats "
                  "doNotAutoCompressPictures forceUpgrade captions readModeInkLockDown "
                  "smartTagType shapeDefaults doNotEmbedSmartTags decimalSymbol listSeparator",
}
SEQUENCES: dict[str, tuple[str, ...]] = {
    parent: tuple(f"w:{name}" for name in names.split()) for parent, names in _SEQUENCES.items()}
"""The schema's child order of each property element, by its ``w:`` name."""

_PREFIX = {qn("w:x")[:-1]: "w:"}


def _short(tag: str) -> str:
    for ns, prefix in _PREFIX.items():
        if tag.startswith(ns):
            return prefix + tag[len(ns):]
    return tag


def el(tag: str, **attrs: Any):
    """A new ``w:`` element; attribute names without prefix get ``w:``."""
    element = OxmlElement(tag)
    for key, value in attrs.items():
        element.set(qn(key if ":" in key else f"w:{key}"), str(value))
    return element


def successors(parent_tag: str, child_tag: str) -> tuple[str, ...]:
    """The children that must follow ``child_tag`` inside ``parent_tag`` (``w:`` names)."""
    order = SEQUENCES.get(parent_tag, ())
    if child_tag not in order:
        return ()  # an element the schema order does not know (an extension): goes last
    return order[order.index(child_tag) + 1:]


def set_child(parent, child, *, replace: bool = True):
    """Put ``child`` into ``parent`` where the schema wants it and return it; with
    ``replace`` (the default) the children of the same name go first (most property
    children occur at most once)."""
    parent_tag, child_tag = _short(parent.tag), _short(child.tag)
    if replace:
        for old in parent.findall(child.tag):
            parent.remove(old)
    later = successors(parent_tag, child_tag)
    successor = next((c for c in parent if _short(c.tag) in later), None)
    if successor is not None:
        successor.addprevious(child)
    else:
        parent.append(child)
    return child


def get_or_add(parent, tag: str, **attrs: Any):
    """The ``tag`` child of ``parent``, added in schema order (with ``attrs``) if missing."""
    found = parent.find(qn(tag))
    if found is not None:
        return found
    return set_child(parent, el(tag, **attrs))


def side_elements(container_tag: str, values: dict[str, dict[str, Any]]):
    """A ``w:tcBorders``/``w:tcMar``/... element with one child per side, in schema order."""
    container = el(container_tag)
    for side in SEQUENCES[container_tag]:
        name = side[2:]
        if name in values:
            container.append(el(side, **values[name]))
    return container


def twips(mm: float) -> int:
    """Millimetres as twips (1/1440 inch)."""
    return round(mm / 25.4 * 1440)


def shade(tc, fill_hex: str) -> None:
    """Solid background ``fill_hex`` (``RRGGBB`` or ``#RRGGBB``) on a ``w:tc``."""
    tc_pr = tc.get_or_add_tcPr()
    set_child(tc_pr, el("w:shd", val="clear", color="auto", fill=fill_hex.lstrip("#").upper()))


def cell_margins(tc, **sides_mm: float) -> None:
    """Cell padding of a ``w:tc``, in mm per side (``top``, ``left``, ``bottom``, ``right``)."""
    mar = side_elements("w:tcMar", {side: {"w": twips(mm), "type": "dxa"}
                                    for side, mm in sides_mm.items()})
    set_child(tc.get_or_add_tcPr(), mar)


def cell_borders(tc, sides: dict[str, dict[str, Any] | None]) -> None:
    """Borders of a ``w:tc``: per side the attributes of a line, or None for no border."""
    borders = side_elements("w:tcBorders", {side: (attrs or {"val": "nil"})
                                            for side, attrs in sides.items()})
    set_child(tc.get_or_add_tcPr(), borders)


def table_cell_margins(tbl_pr, **sides_tw: int) -> None:
    """Default cell padding of a table (``w:tblCellMar``), in twips per side."""
    mar = side_elements("w:tblCellMar", {side: {"w": tw, "type": "dxa"}
                                         for side, tw in sides_tw.items()})
    set_child(tbl_pr, mar)


def set_lang(rpr, locale_id: str) -> None:
    """``w:lang`` = ``locale_id`` in a ``w:rPr`` (kept in schema order)."""
    get_or_add(rpr, "w:lang").set(qn("w:val"), locale_id)


def run_lang(run, locale_id: str) -> None:
    """``w:lang`` = ``locale_id`` on a ``w:r``, adding its ``w:rPr`` first if missing."""
    rpr = run.find(qn("w:rPr"))
    if rpr is None:
        rpr = el("w:rPr")
        run.insert(0, rpr)
    set_lang(rpr, locale_id)


def set_auto_hyphenation(settings) -> None:
    """Switch on ``w:autoHyphenation`` in a ``w:settings`` element, in schema order."""
    set_child(settings, el("w:autoHyphenation", val="true"))


STYLES_WITH_EFFECTS = ("http://schemas.microsoft.com/office/2007/relationships/"
                       "stylesWithEffects")


def drop_styles_with_effects(doc) -> None:
    """Drop ``word/stylesWithEffects.xml`` (Word 2010's copy of the styles): it no longer
    matches ``styles.xml`` once a style or the language changes, which Word may treat as
    unreadable content; Word 2013 and later neither write nor need it."""
    part = doc.part
    for rid, rel in list(part.rels.items()):
        if rel.reltype == STYLES_WITH_EFFECTS:
            part.rels.pop(rid)


__all__ = ["SEQUENCES", "cell_borders", "cell_margins", "drop_styles_with_effects", "el",
           "get_or_add", "run_lang", "set_auto_hyphenation", "set_child", "set_lang", "shade",
           "successors", "table_cell_margins", "twips"]
