"""Render a :class:`~nexusreports.view.SheetView` as a one-page A4 PDF with ReportLab.

Layout (all geometry from ``templates/theme.yaml``, in mm)::

    +--------------------------------------------------------------+
    | header band: title, domain      | project name, (sub)domain  |
    +--------------------------------------+-----------------------+
    | summary                              | key figures panel:    |
    | strategic relevance                  |  size, timeline,      |
    | Dutch collaborations                 |  shares, TRL, MRL     |
    | European collaborations              | preconditions matrix  |
    +--------------------------------------+-----------------------+
    | involved companies and institutions                          |
    | footer                                                       |
    +--------------------------------------------------------------+

The two columns and the organisations band share the page between header and footer: the
band is ``page.organisations_height_mm`` high when the columns leave that much, as high as
its content otherwise (more when it needs it and the columns leave it room, less when a
column needs the room); the columns take the rest.

Type never shrinks to make content fit.  Before anything is drawn each region is measured
(laid out once: the measured flowables are then drawn where ``Frame.addFromList`` would
put them, without a second layout);
content taller than its region raises :class:`~nexusreports.errors.ContentOverflow` naming
the fields in it and the overflow in mm, and a word wider than its column raises it too.

Fonts are the theme's TrueType files, embedded (subset); no standard-14 font is referenced
(the canvas' initial font is the theme font, bullets use it too).  Hyphenation: pyphen,
through ReportLab's ``hyphenationLang``, for the view's locale, at least :data:`HYPHEN_MIN`
letters from either end, never in a name (:func:`hyphenatable`, the view's ``names``).
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from reportlab.lib.colors import HexColor
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Spacer, Table, TableStyle
from reportlab.platypus.frames import _FUZZ

from ...errors import ContentOverflow, TemplateError
from ...theme import MIN_FONT_PT, RESTORE, Theme, read_font
from ...view import Block, SheetView, ShareBar, Step
from ..logos import ORGANISATIONS_PER_ROW, load_logo
from ..recurring import sheet_renderer
from . import structure
from .archive import Metadata, publish_canvas
from .tagging import Tag, Tagger, Wrapper, artifact, artifact_unmarked, attach, marked
from .tagging import TaggedParagraph as Paragraph

if TYPE_CHECKING:
    import pyphen

CREATOR = "nexusreports"
LOGO_BOX_MM = 6.0
"""Height of the box a logo is scaled into on the PDF sheet, in mm (width: its cell)."""

_HYPHENATION = {"nl": "nl_NL", "en": "en_GB"}


# --- fonts and styles ----------------------------------------------------------------------

def register_fonts(theme: Theme) -> str:
    """Register the theme's four faces with ReportLab (once) and return the family name.

    Raises :class:`TemplateError` when a font file cannot be read as TrueType (also when
    it is cut off: ReportLab's parser then fails with ``struct.error``).
    """
    family = theme.fonts.family
    faces = theme.fonts.faces()
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, path in faces.items():
        if name in registered:
            continue
        try:
            pdfmetrics.registerFont(read_font(name, path))  # (read for the charset already)
        except (TTFError, OSError) as exc:
            raise TemplateError(path, f"cannot use this font file ({exc}): {RESTORE}, or "
                                "point theme.yaml at another .ttf") from exc
        except (struct.error, IndexError, KeyError, ValueError) as exc:  # a cut-off file
            raise TemplateError(path, f"cannot use this font file: it is damaged or cut off "
                                f"({exc}): {RESTORE}, or point theme.yaml at another "
                                ".ttf") from exc
    pdfmetrics.registerFontFamily(family, normal=family, bold=f"{family}-Bold",
                                  italic=f"{family}-Italic", boldItalic=f"{family}-BoldItalic")
    return family


@dataclass(frozen=True)
class _Kit:
    """Fonts, colours and paragraph styles for one sheet."""

    font: str
    bold: str
    hex: dict[str, str]
    colours: dict[str, HexColor]
    styles: dict[str, ParagraphStyle]
    type: dict[str, float]


def _kit(theme: Theme, lang: str, names: tuple[str, ...] = ()) -> _Kit:
    font = register_fonts(theme)
    bold = f"{font}-Bold"
    c = {k: HexColor(v) for k, v in theme.colours.items()}
    ty = theme.type
    if ty["small_pt"] < MIN_FONT_PT:
        raise TemplateError(theme.folder / "theme.yaml", f"type.small_pt is {ty['small_pt']}; "
                            f"the smallest allowed is {MIN_FONT_PT} pt")
    common = dict(fontName=font, textColor=c["text"],
                  hyphenationLang=hyphenator(_HYPHENATION[lang], name_words(names)),
                  # a typed hyphen is a break only where hyphenator() says (not in a name)
                  embeddedHyphenation=0, uriWasteReduce=0.3, splitLongWords=0,
                  bulletFontName=font)
    body = ParagraphStyle("body", fontSize=ty["body_pt"], leading=ty["body_leading_pt"],
                          spaceAfter=ty["body_pt"] * 0.45, **common)
    styles = {
        "body": body,
        "lead": ParagraphStyle("lead", parent=body, fontSize=ty["body_pt"] + 0.6,
                               leading=ty["body_leading_pt"] + 0.7, textColor=c["primary"]),
        "bullet": ParagraphStyle("bullet", parent=body, leftIndent=3.6 * mm,
                                 bulletIndent=0.6 * mm, spaceAfter=ty["body_pt"] * 0.25,
                                 bulletColor=c["accent"]),
        "heading": ParagraphStyle("heading", parent=body, fontName=bold,
                                  fontSize=ty["heading_pt"], leading=ty["heading_pt"] * 1.2,
                                  textColor=c["primary"], spaceBefore=0, spaceAfter=0),
        "label": ParagraphStyle("label", parent=body, fontName=bold, fontSize=ty["small_pt"],
                                leading=ty["small_pt"] * 1.25, textColor=c["muted"],
                                spaceAfter=1.2 * mm),
        "small": ParagraphStyle("small", parent=body, fontSize=ty["small_pt"],
                                leading=ty["small_pt"] * 1.25, spaceAfter=0),
        "small_muted": ParagraphStyle("small_muted", parent=body, fontSize=ty["small_pt"],
                                      leading=ty["small_pt"] * 1.25, textColor=c["muted"],
                                      spaceAfter=0),
        "chip": ParagraphStyle("chip", parent=body, fontSize=ty["small_pt"],
                               leading=ty["small_pt"] * 1.15, alignment=TA_CENTER,
                               spaceAfter=0),
        "figure": ParagraphStyle("figure", parent=body, fontName=bold,
                                 fontSize=ty["key_figure_pt"], leading=ty["key_figure_pt"] * 1.15,
                                 textColor=c["primary"], spaceAfter=0.8 * mm),
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=ty["title_pt"],
                                leading=ty["title_pt"] * 1.08, textColor=c["on_primary"],
                                spaceAfter=0),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=ty["subtitle_pt"],
                                   leading=ty["subtitle_pt"] * 1.25, textColor=c["accent_light"],
                                   spaceAfter=0),
        "header_small": ParagraphStyle("header_small", parent=body, fontSize=ty["small_pt"] + 0.6,
                                       leading=(ty["small_pt"] + 0.6) * 1.3,
                                       textColor=c["on_primary"], spaceAfter=0),
        "header_name": ParagraphStyle("header_name", parent=body, fontName=bold,
                                      fontSize=ty["subtitle_pt"], leading=ty["subtitle_pt"] * 1.2,
                                      textColor=c["on_primary"], spaceAfter=1 * mm),
        "footer": ParagraphStyle("footer", parent=body, fontSize=ty["small_pt"],
                                 leading=ty["small_pt"] * 1.2, textColor=c["muted"], spaceAfter=0),
    }
    styles["footer_right"] = ParagraphStyle("footer_right", parent=styles["footer"],
                                            alignment=TA_RIGHT)
    for name, style in styles.items():
        if name not in ("body", "lead", "bullet"):
            # names and labels are never hyphenated: they break at spaces, and (a name
            # under its logo, in a narrow cell) at a typed hyphen: "Max-Planck-|Gesellschaft"
            style.hyphenationLang = typed_hyphen_breaks
    return _Kit(font=font, bold=bold, hex=dict(theme.colours), colours=c, styles=styles, type=ty)


def new_canvas(buf: io.BytesIO, font: str, size_pt: float, *, invariant: bool,
               lang: str) -> Canvas:
    """An A4 canvas for our pages (sheets and the bundle's own pages) writing to ``buf``.

    Its initial font is ``font`` (a registered theme font), so ReportLab never references a
    standard-14 font in the page preamble; ``invariant`` fixes dates and document ID
    (from ``SOURCE_DATE_EPOCH`` when set); ``lang`` is the document language (``nl-NL``).
    """
    return Canvas(buf, pagesize=A4, invariant=1 if invariant else 0, pageCompression=1,
                  initialFontName=font, initialFontSize=size_pt, lang=lang)


def markup(text: str) -> str:
    """Data text as ReportLab paragraph markup: escaped, line breaks kept.

    >>> markup("R&D <b> {{ 7*7 }}\\nnext")
    'R&amp;D &lt;b&gt; {{ 7*7 }}<br/>next'
    """
    return escape(text).replace("\n", "<br/>")


# --- flowables -----------------------------------------------------------------------------

class _Field(Wrapper):
    """Wraps a flowable to remember which data field it shows (for overflow messages)."""

    def __init__(self, inner: Flowable, field: str):
        super().__init__(inner)
        self.field = field

    def draw(self) -> None:
        self.inner.drawOn(self.canv, 0, 0)


class _Heading(Flowable):
    """A section heading with a short accent bar in front of it."""

    def __init__(self, text: str, kit: _Kit, space_before: float = 3.2 * mm):
        super().__init__()
        self.para = Paragraph(markup(text), kit.styles["heading"]).tagged("H2")
        self.kit, self.space_before = kit, space_before
        self.indent = 3 * mm

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        _, h = self.para.wrap(aw - self.indent, ah)
        self.width, self.height = aw, h + 1.4 * mm
        return self.width, self.height

    def getSpaceBefore(self) -> float:
        return self.space_before

    def draw(self) -> None:
        c = self.canv
        c.setFillColor(self.kit.colours["accent"])
        top = self.height
        c.rect(0, top - self.kit.type["heading_pt"] * 1.05, 1.4 * mm,
               self.kit.type["heading_pt"] * 0.9, stroke=0, fill=1)
        self.para.drawOn(c, self.indent, 1.4 * mm)


class _ShareBar(Flowable):
    """A bar split in two parts, with the two labels and percentages under it."""

    BAR = 3.6 * mm

    def __init__(self, bar: ShareBar, kit: _Kit):
        super().__init__()
        self.bar, self.kit = bar, kit

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.width, self.height = aw, self.BAR + self.kit.type["small_pt"] * 1.5 + 1.2 * mm
        return self.width, self.height

    def too_wide(self) -> tuple[float, str]:
        """How far (pt) the two labels overrun the bar's width (with a 2 mm gap), and the
        longer label."""
        k, b, size = self.kit, self.bar, self.kit.type["small_pt"]
        left = (pdfmetrics.stringWidth(f"{b.left_label} ", k.font, size)
                + pdfmetrics.stringWidth(b.left_pct, k.bold, size))
        right = (pdfmetrics.stringWidth(b.right_pct, k.bold, size)
                 + pdfmetrics.stringWidth(f" {b.right_label}", k.font, size))
        text = (f"{b.left_label} {b.left_pct}" if left >= right
                else f"{b.right_pct} {b.right_label}")
        return left + right + 2 * mm - self.width, text

    def draw(self) -> None:
        c, k, b = self.canv, self.kit, self.bar
        y = self.height - self.BAR
        left_w = self.width * b.left_fraction
        c.setFillColor(k.colours["accent_light"])
        c.rect(0, y, self.width, self.BAR, stroke=0, fill=1)
        c.setFillColor(k.colours["accent"])
        if left_w > 0:
            c.rect(0, y, left_w, self.BAR, stroke=0, fill=1)
        size = k.type["small_pt"]
        base = y - size * 1.25
        c.setFillColor(k.colours["text"])
        left = f"{b.left_label} "
        right = f" {b.right_label}"
        with marked(c):
            c.setFont(k.font, size)
            c.drawString(0, base, left)
            c.setFont(k.bold, size)
            c.drawString(pdfmetrics.stringWidth(left, k.font, size), base, b.left_pct)
            c.setFont(k.bold, size)  # percentage first, so the text layer reads "65% R&D"
            c.drawRightString(self.width - pdfmetrics.stringWidth(right, k.font, size), base,
                              b.right_pct)
            c.setFont(k.font, size)
            c.drawRightString(self.width, base, right)


class _Timeline(Flowable):
    """Start and end year joined by a line with a dot at each end; a period of one year
    (``end`` is ``""``) is that year alone with one dot, without the start and end labels."""

    def __init__(self, start_label: str, start: str, end_label: str, end: str, kit: _Kit):
        super().__init__()
        self.texts = (start_label, start, end_label, end)
        self.kit = kit

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        labels = self.kit.type["small_pt"] if not self.texts[3] else 0  # one year: none
        self.width, self.height = aw, 9.5 * mm - labels
        return self.width, self.height

    def too_wide(self) -> tuple[float, str]:
        """How far (pt) the labels or the years overrun the width: the two labels need a
        2 mm gap, the two years room for the line between them (at least 8 mm)."""
        k = self.kit
        start_label, start, end_label, end = self.texts
        size, big = k.type["small_pt"], k.type["heading_pt"] + 1.5
        if not end:  # one year: the year and its dot
            return pdfmetrics.stringWidth(start, k.bold, big) + 3.5 * mm - self.width, start
        labels = (pdfmetrics.stringWidth(start_label, k.font, size)
                  + pdfmetrics.stringWidth(end_label, k.font, size) + 2 * mm)
        years = (pdfmetrics.stringWidth(start, k.bold, big)
                 + pdfmetrics.stringWidth(end, k.bold, big) + 2 * 2.5 * mm + 8 * mm)
        if labels - self.width >= years - self.width:
            return labels - self.width, f"{start_label} {end_label}"
        return years - self.width, f"{start} {end}"

    def draw(self) -> None:
        c, k = self.canv, self.kit
        start_label, start, end_label, end = self.texts
        if not end:
            self._draw_one_year()
            return
        size = k.type["small_pt"]
        big = k.type["heading_pt"] + 1.5
        c.setFillColor(k.colours["muted"])
        c.setFont(k.font, size)
        c.drawString(0, self.height - size, start_label)
        c.drawRightString(self.width, self.height - size, end_label)
        c.setFillColor(k.colours["primary"])
        c.setFont(k.bold, big)
        y = self.height - size - big * 1.05
        with marked(c):  # the years; the labels and the line are artifacts
            c.drawString(0, y, start)
            c.drawRightString(self.width, y, end)
        x0 = pdfmetrics.stringWidth(start, k.bold, big) + 2.5 * mm
        x1 = self.width - pdfmetrics.stringWidth(end, k.bold, big) - 2.5 * mm
        ly = y + big * 0.33
        c.setStrokeColor(k.colours["accent"])
        c.setLineWidth(1.4)
        c.line(x0, ly, x1, ly)
        c.setFillColor(k.colours["accent"])
        c.circle(x0, ly, 1.0 * mm, stroke=0, fill=1)
        c.circle(x1, ly, 1.0 * mm, stroke=0, fill=1)

    def _draw_one_year(self) -> None:
        """The one year of a one-year period, where the start year goes, and one dot."""
        c, k, year = self.canv, self.kit, self.texts[1]
        big = k.type["heading_pt"] + 1.5
        y = self.height - big * 1.05  # where the years go, with no labels above
        c.setFillColor(k.colours["primary"])
        c.setFont(k.bold, big)
        with marked(c):
            c.drawString(0, y, year)
        c.setFillColor(k.colours["accent"])
        c.circle(pdfmetrics.stringWidth(year, k.bold, big) + 2.5 * mm, y + big * 0.33, 1.0 * mm,
                 stroke=0, fill=1)


class _Scale(Flowable):
    """A row of equal boxes (TRL 1-9); active boxes are filled."""

    def __init__(self, steps: tuple[Step, ...], kit: _Kit):
        super().__init__()
        self.steps, self.kit = steps, kit

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.width, self.height = aw, 5.2 * mm
        return self.width, self.height

    def too_wide(self) -> tuple[float, str]:
        """How far (pt) the widest step label (bold, as when active) overruns its box, less
        0.5 mm on each side."""
        k, gap = self.kit, 0.8 * mm
        n = len(self.steps)
        w = (self.width - gap * (n - 1)) / n - 1.0 * mm
        size = k.type["small_pt"] + 0.8
        widest = max(self.steps, key=lambda s: pdfmetrics.stringWidth(s.label, k.bold, size))
        return pdfmetrics.stringWidth(widest.label, k.bold, size) - w, widest.label

    def draw(self) -> None:
        c, k = self.canv, self.kit
        gap = 0.8 * mm
        n = len(self.steps)
        w = (self.width - gap * (n - 1)) / n
        size = k.type["small_pt"] + 0.8
        for i, step in enumerate(self.steps):
            x = i * (w + gap)
            if step.active:
                c.setFillColor(k.colours["accent"])
                c.rect(x, 0, w, self.height, stroke=0, fill=1)
                c.setFillColor(k.colours["on_primary"])
                c.setFont(k.bold, size)
            else:
                c.setStrokeColor(k.colours["rule"])
                c.setLineWidth(0.6)
                c.setFillColor(k.colours["on_primary"])
                c.rect(x, 0, w, self.height, stroke=1, fill=1)
                c.setFillColor(k.colours["muted"])
                c.setFont(k.font, size)
            with marked(c):
                c.drawCentredString(x + w / 2, self.height / 2 - size * 0.35, step.label)


class _Stages(Flowable):
    """Stages side by side (MRL); the active one is filled, its label wraps if needed."""

    PAD = 1.0 * mm

    def __init__(self, steps: tuple[Step, ...], kit: _Kit):
        super().__init__()
        self.kit = kit
        self.steps = steps
        on = ParagraphStyle("chip_on", parent=kit.styles["chip"], fontName=kit.bold,
                            textColor=kit.colours["on_primary"])
        self.paras = [Paragraph(markup(s.label), on if s.active else kit.styles["chip"])
                      .tagged(None) for s in steps]

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        gap = 0.8 * mm
        self.cell = (aw - gap * (len(self.steps) - 1)) / len(self.steps)
        self.gap = gap
        heights = [p.wrap(self.cell - 2 * self.PAD, ah)[1] for p in self.paras]
        self.width, self.height = aw, max(heights) + 2 * self.PAD
        return self.width, self.height

    def fitted_texts(self) -> list[tuple[Paragraph, float]]:
        """Each stage label with the width it must fit (for :func:`_check_widths`)."""
        return [(p, self.cell - 2 * self.PAD) for p in self.paras]

    def draw(self) -> None:
        c, k = self.canv, self.kit
        for i, (step, para) in enumerate(zip(self.steps, self.paras)):
            x = i * (self.cell + self.gap)
            if step.active:
                c.setFillColor(k.colours["primary"])
                c.rect(x, 0, self.cell, self.height, stroke=0, fill=1)
            else:
                c.setStrokeColor(k.colours["rule"])
                c.setFillColor(k.colours["on_primary"])
                c.setLineWidth(0.6)
                c.rect(x, 0, self.cell, self.height, stroke=1, fill=1)
            _, h = para.wrap(self.cell - 2 * self.PAD, self.height)
            para.drawOn(c, x + self.PAD, (self.height - h) / 2)


class _Marker(Flowable):
    """The relevance marker of a precondition: filled, light, or an open dash."""

    SIZE = 2.6 * mm

    def __init__(self, state: str, kit: _Kit):
        super().__init__()
        self.state, self.kit = state, kit

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.width = self.height = self.SIZE
        return self.width, self.height

    def draw(self) -> None:
        c, k, r = self.canv, self.kit, self.SIZE / 2
        if self.state == "relevant":
            c.setFillColor(k.colours["accent"])
            c.circle(r, r, r * 0.9, stroke=0, fill=1)
        elif self.state == "less-relevant":
            c.setFillColor(k.colours["accent_light"])
            c.setStrokeColor(k.colours["accent"])
            c.setLineWidth(0.7)
            c.circle(r, r, r * 0.8, stroke=1, fill=1)
        else:
            c.setStrokeColor(k.colours["rule"])
            c.setLineWidth(0.7)
            c.circle(r, r, r * 0.8, stroke=1, fill=0)
            c.line(r * 0.45, r, r * 1.55, r)


class _Logos(Flowable):
    """The organisations as an orderly grid: :data:`ORGANISATIONS_PER_ROW` equal cells a row,
    each a logo (scaled into a :data:`LOGO_BOX_MM` box, centred) with the name centred under
    it; an organisation without a logo shows its name alone, on the names' line.

    Names wrap within their cell (at spaces only).  Rows stack downwards; the band's height is
    checked by :func:`_measure` like any other region, so too many organisations are a
    :class:`ContentOverflow` naming ``organisations``, never a dropped or clipped entry.
    """

    GAP = 2.0 * mm  # between cells, and between rows

    def __init__(self, view: SheetView, kit: _Kit):
        super().__init__()
        self.kit = kit
        self.orgs = view.organisations
        self.logos = [load_logo(o.logo) if o.logo else None for o in self.orgs]
        self.paras = [Paragraph(markup(o.name), kit.styles["chip"])
                      .tagged("LBody", *structure.organisation()) for o in self.orgs]
        self.logo_h = LOGO_BOX_MM * mm

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        n = ORGANISATIONS_PER_ROW
        self.cell = (aw - self.GAP * (n - 1)) / n
        self.rows: list[tuple[float, float]] = []  # (row height, name height) per row
        for first in range(0, len(self.orgs), n):
            heights = [p.wrap(self.cell, ah)[1] for p in self.paras[first:first + n]]
            name_h = max(heights)
            self.rows.append((self.logo_h + 0.8 * mm + name_h, name_h))
        self.width = aw
        self.height = sum(h for h, _ in self.rows) + self.GAP * (len(self.rows) - 1)
        return self.width, self.height

    def lines_to_cut(self, over: float) -> int:
        """How many rows of organisations (from the last) to drop to save ``over`` pt."""
        cut, saved = 0, 0.0
        for h, _ in reversed(self.rows):
            if saved >= over - 0.01:
                break
            cut, saved = cut + 1, saved + h + self.GAP
        return max(cut, 1)

    def draw(self) -> None:
        c, n = self.canv, ORGANISATIONS_PER_ROW
        top = self.height
        for r, (row_h, name_h) in enumerate(self.rows):
            for i in range(r * n, min((r + 1) * n, len(self.orgs))):
                x = (i - r * n) * (self.cell + self.GAP)
                logo, para = self.logos[i], self.paras[i]
                if logo is not None:
                    w = min(self.cell, self.logo_h * logo.ratio)
                    h = w / logo.ratio
                    c.drawImage(_image_reader(logo.png), x + (self.cell - w) / 2,
                                top - self.logo_h + (self.logo_h - h) / 2, w, h, mask="auto")
                _, ph = para.wrap(self.cell, name_h)
                para.drawOn(c, x, top - row_h + (name_h - ph))
            top -= row_h + self.GAP

    def fitted_texts(self) -> list[tuple[Paragraph, float]]:
        """Each name with the width it must fit (for :func:`_check_widths`)."""
        return [(p, self.cell) for p in self.paras]


def _image_reader(png: bytes):
    from reportlab.lib.utils import ImageReader

    return ImageReader(io.BytesIO(png))


# --- the sheet ------------------------------------------------------------------------------

@dataclass
class _Region:
    name: str
    x: float
    y: float
    w: float
    h: float
    flowables: list[Flowable]
    frame: Frame | None = None
    sizes: list[tuple[float, float]] = field(default_factory=list)
    used: float = 0.0  # the height the flowables need, in pt (set by _lay_out)
    fields: list[str] = field(default_factory=list)
    note: str = ""  # said after the region's name in an overflow message

    def __post_init__(self) -> None:
        self.place(self.y, self.h)

    def place(self, y: float, h: float) -> None:
        """Put the region at ``y`` (its bottom, pt), ``h`` pt high: a new frame, which is
        what it is drawn in (its available width is what Frame.add wraps with)."""
        self.y, self.h = y, h
        self.frame = Frame(self.x, self.y, self.w, self.h, leftPadding=0, rightPadding=0,
                           topPadding=0, bottomPadding=0, showBoundary=0)


def _block(block: Block, kit: _Kit) -> list[Flowable]:
    out: list[Flowable] = [_Heading(block.heading, kit)]
    for entry in block.entries:
        text = markup(entry.text)
        if entry.label:
            text = f"<b>{markup(entry.label)}</b> {text}"
        if block.bullets:
            para = Paragraph(text, kit.styles["bullet"], bulletText="•").tagged(
                "LBody", *structure.list_item(block.field))
        else:
            para = Paragraph(text, kit.styles["body"])
        out.append(_Field(para, block.field))
    return out


def _left_column(view: SheetView, kit: _Kit) -> list[Flowable]:
    lang = view.lang
    out: list[Flowable] = [_Field(Paragraph(markup(p), kit.styles["lead"]), f"summary.{lang}")
                           for p in view.summary]
    out.append(_Heading(view.labels["relevance"], kit))
    out += [_Field(Paragraph(markup(p), kit.styles["body"]), f"relevance.{lang}")
            for p in view.relevance]
    out += _block(view.national, kit)
    out += _block(view.european, kit)
    return out


def _panel(view: SheetView, kit: _Kit, width: float) -> Table:
    s = kit.styles
    lab = view.labels
    sp, th, td = view.spoken, structure.panel_label, structure.panel_figure
    rows: list[Flowable] = [
        Paragraph(markup(lab["project_size"].upper()), s["label"]).tagged(
            None, *th("size", lab["project_size"])),
        Tag(_Field(Paragraph(markup(view.size), s["figure"]), "size_eur_m"), *td("size")),
    ]
    if view.size_note:
        rows.append(Tag(_Field(Paragraph(markup(view.size_note), s["small"]),
                               "flagship_total_eur_m"), *td("size")))
    rows += [
        Spacer(1, 3 * mm),
        Paragraph(markup(lab["timeline"].upper()), s["label"]).tagged(
            None, *th("timeline", lab["timeline"])),
        Tag(_Field(_Timeline(lab["start"], view.period_start, lab["end"], view.period_end, kit),
                   "period"), *td("timeline", sp.timeline)),
        Spacer(1, 3 * mm),
        Paragraph(markup(lab["shares"].upper()), s["label"]).tagged(
            None, *th("shares", lab["shares"])),
        Tag(_Field(_ShareBar(view.shares[0], kit), "shares.capital_pct"),
            *td("shares"), *structure.spoken(sp.shares[0])),
        Spacer(1, 1.5 * mm),
        Tag(_Field(_ShareBar(view.shares[1], kit), "shares.public_pct"),
            *td("shares"), *structure.spoken(sp.shares[1])),
        Spacer(1, 3 * mm),
        Paragraph(f"{markup(lab['trl'].upper())}&nbsp;&nbsp;<font color='{kit.hex['primary']}'>"
                  f"{markup(view.trl_range)}</font>", s["label"]).tagged(
            None, *th("trl", lab["trl"])),
        Tag(_Field(_Scale(view.trl_steps, kit), "trl"), *td("trl", sp.trl)),
        Spacer(1, 3 * mm),
        Paragraph(markup(lab["mrl"].upper()), s["label"]).tagged(None, *th("mrl", lab["mrl"])),
        Tag(_Field(_Stages(view.mrl_steps, kit), "mrl"), *td("mrl", sp.mrl)),
    ]
    pad = 3.2 * mm
    table = Table([[rows]], colWidths=[width])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), kit.font),
        ("BACKGROUND", (0, 0), (-1, -1), kit.colours["panel"]),
        ("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        ("TOPPADDING", (0, 0), (-1, -1), pad), ("BOTTOMPADDING", (0, 0), (-1, -1), pad),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _matrix(view: SheetView, kit: _Kit, width: float) -> list[Flowable]:
    s = kit.styles
    marker_w = _Marker.SIZE + 1.4 * mm
    # the legend in two columns: it must fit the column in every language
    cells = [[_Marker(item.state, kit), Paragraph(markup(item.label), s["small_muted"])
              .tagged("LBody", *structure.legend_item())] for item in view.legend]
    pairs = [cells[i] + (cells[i + 1] if i + 1 < len(cells) else ["", ""])
             for i in range(0, len(cells), 2)]
    half = (width - 2 * marker_w) / 2
    legend = Table(pairs, colWidths=[marker_w, half, marker_w, half], hAlign="LEFT")
    legend.setStyle(_tight(kit.font, valign="MIDDLE"))
    group_style = ParagraphStyle("group", parent=s["small"], fontName=kit.bold,
                                 textColor=kit.colours["primary"])
    rows: list[list[Flowable | str]] = []
    style = _tight(kit.font, valign="MIDDLE")
    for g, group in enumerate(view.matrix):
        # the group's name on its own row, its items under it: every item row is one line
        style.add("SPAN", (0, len(rows)), (-1, len(rows)))
        style.add("TOPPADDING", (0, len(rows)), (-1, len(rows)), 1.5 * mm)
        rows.append([Paragraph(markup(group.heading), group_style).tagged("H3"), ""])
        for i, item in enumerate(group.items):
            rows.append([Tag(_Marker(item.state, kit), *structure.matrix_state(g, i, item),
                             mark=True),
                         Paragraph(markup(item.label), s["small"]).tagged(
                             None, *structure.matrix_item(g, i))])
    table = Table(rows, colWidths=[marker_w, width - marker_w], hAlign="LEFT")
    table.setStyle(style)
    return [_Heading(view.labels["preconditions"], kit, space_before=4.5 * mm),
            Spacer(1, 0.8 * mm), legend, Spacer(1, 0.6 * mm), _Field(table, "preconditions")]


def _tight(font: str, valign: str = "TOP") -> TableStyle:
    return TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),  # never the Helvetica default, even for ""
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 1.5 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 0.45 * mm), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.45 * mm),
        ("VALIGN", (0, 0), (-1, -1), valign),
    ])


def _measure(region: _Region, view: SheetView, kit: _Kit) -> None:
    """Raise ContentOverflow if the region's flowables do not fit, or a text is too wide."""
    _lay_out(region, view)
    _check_height(region, view, kit)


def _lay_out(region: _Region, view: SheetView) -> None:
    """Wrap the region's flowables to its width (once: the sizes are kept for drawing),
    note the height they need in ``region.used`` and the fields they show; raise
    ContentOverflow when a text is wider than its room."""
    used = 0.0
    width = region.frame._getAvailableWidth()
    region.sizes, region.fields = [], []
    for i, f in enumerate(region.flowables):
        w, h = f.wrap(width, region.h)
        region.sizes.append((w, h))
        used += h + (f.getSpaceBefore() if i else 0) + f.getSpaceAfter()
        field = getattr(f, "field", None)
        if field and field not in region.fields:
            region.fields.append(field)
        _check_widths(f, region, view, field or region.name)
    region.used = used


def _check_height(region: _Region, view: SheetView, kit: _Kit) -> None:
    """Raise ContentOverflow when the flowables laid out by :func:`_lay_out` are taller
    than the region, naming its fields and about how many lines (or rows) to cut."""
    used, fields = region.used, region.fields
    if used > region.h + 0.01:
        over = used - region.h
        lines = int(-(-over // kit.type["body_leading_pt"]))
        name = region.name
        last = getattr(region.flowables[-1], "inner", None)
        rows = isinstance(last, _Logos)
        if rows:  # rows of organisations, not lines of text
            lines = last.lines_to_cut(over)
            name = f"{name} ({ORGANISATIONS_PER_ROW} logos a row{region.note})"
        elif region.note:
            name = f"{name} ({region.note.lstrip('; ')})"
        raise ContentOverflow(view.source, view.locale_id, name, fields or [region.name],
                              round(over / mm, 1), max(1, lines), rows=rows)


def _draw(region: _Region, canvas: Canvas) -> None:
    """Draw the region's flowables, measured by :func:`_measure`, where ``Frame.addFromList``
    would put them (same spacing rules: no space before the first, a space after overlaps
    the next one's space before), without laying them out a second time."""
    frame = region.frame
    p = frame._y1p
    for f, (w, h) in zip(region.flowables, region.sizes):
        y = frame._y
        s = 0
        zero = getattr(f, "_ZEROSIZE", False)
        if not frame._atTop:
            s = f.getSpaceBefore()
            if frame._oASpace:
                if getattr(f, "_SPACETRANSFER", False) or zero:
                    s = frame._prevASpace
                s = max(s - frame._prevASpace, 0)
        if not (y - p - s > 0 or zero):
            return
        h += s
        y -= h
        if y < p - _FUZZ:
            return  # measured to fit, so never reached; Frame would stop here too
        aw = frame._getAvailableWidth()
        f._frame, f.canv = frame, canvas
        try:
            sa = f.getSpaceAfter()
            f.drawOn(canvas, frame._x + frame._leftExtraIndent, y, _sW=aw - w)
            y -= sa
            if frame._oASpace:
                if getattr(f, "_SPACETRANSFER", False):
                    sa = frame._prevASpace
                frame._prevASpace = sa
            if y != frame._y:
                frame._atTop = 0
            frame._y = y
        finally:
            for attr in ("canv", "_frame"):
                if hasattr(f, attr):
                    delattr(f, attr)


_NO_BREAK = "\xa0\u202f\u2007\u2060"
"""Spaces (and the word joiner) a line never breaks at: Babel puts them between an amount
and its unit, so "€ 21.200 miljoen" is one word to the line breaker."""


def _words(text: str) -> list[str]:
    """``text`` split where a line may break: at whitespace other than :data:`_NO_BREAK`.

    >>> _words("€\xa021.200\xa0miljoen en meer")
    ['€\xa021.200\xa0miljoen', 'en', 'meer']
    """
    return _BREAKS.split(text)


_BREAKS = re.compile(f"[^\\S{_NO_BREAK}]")
"""Whitespace a line may break at (``\\s`` is :meth:`str.isspace`)."""


@lru_cache(maxsize=64)
def _widest_glyph(font: str) -> float | None:
    """The widest advance (per 1000 of the size) of any glyph of TrueType ``font``, the
    missing-glyph one included (``None`` for another kind of font): a word of ``n``
    characters is never wider than ``n`` times it."""
    face = getattr(pdfmetrics.getFont(font), "face", None)
    widths = getattr(face, "charWidths", None)
    if widths is None:
        return None
    return max([*widths.values(), face.defaultWidth])


def _check_widths(f: Flowable, region: _Region, view: SheetView, field: str) -> None:
    """Raise ContentOverflow when some text of ``f`` (wrapped already) is wider than its room.

    Walks into fields, tables (each cell's width less its padding) and the panel's drawn
    figures: a paragraph's words (see :func:`_check_paragraph`), and every string drawn at a
    fixed place (timeline years, share labels, TRL steps) against the room it has.
    """
    field = getattr(f, "field", None) or field
    if isinstance(f, Wrapper):
        _check_widths(f.inner, region, view, field)
    elif isinstance(f, Paragraph):
        _check_paragraph(f, getattr(f, "width", region.w), region, view, field)
    elif isinstance(f, Table):
        for r, row in enumerate(f._cellvalues):
            for c, value in enumerate(row):
                cell = f._cellStyles[r][c]
                room = f._colWidths[c] - cell.leftPadding - cell.rightPadding
                for inner in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(inner, Flowable):
                        if isinstance(inner, Paragraph) and not hasattr(inner, "width"):
                            inner.width = room
                        _check_widths(inner, region, view, field)
    elif hasattr(f, "fitted_texts"):
        for para, room in f.fitted_texts():
            _check_paragraph(para, room, region, view, field)
    if hasattr(f, "too_wide"):
        excess, text = f.too_wide()
        if excess > 0.01:
            raise ContentOverflow(view.source, view.locale_id, region.name, [field],
                                  round(excess / mm, 1) or 0.1, 0, word=_shown(text))


def _shown(text: str) -> str:
    """``text`` for a message: no-break spaces shown as spaces."""
    return "".join(" " if ch in _NO_BREAK else ch for ch in text)


def _check_paragraph(para: Paragraph, width: float, region: _Region, view: SheetView,
                     field: str) -> None:
    """Raise ContentOverflow when a word cannot be broken to fit the paragraph's width.

    A word may break at a slash or where :func:`hyphenator` allows (pyphen's points, and
    a typed hyphen between pieces of three letters or more); the widest piece between such
    points must fit.  Words are what the line breaker sees: an
    amount with its unit ("€ 21.200 miljoen", joined by no-break spaces) is one word.
    """
    style = para.style
    avail = width - style.leftIndent - style.rightIndent
    split = style.hyphenationLang if callable(style.hyphenationLang) else None
    widest_glyph = _widest_glyph(style.fontName)
    # words this short fit whatever their letters (most words: no width to measure)
    short = (avail - 0.01) * 1000 / (style.fontSize * widest_glyph) if widest_glyph else 0
    for word in _words(para.getPlainText()):
        if not word or len(word) < short \
                or pdfmetrics.stringWidth(word, style.fontName, style.fontSize) <= avail:
            continue
        cuts = {i + 1 for i, ch in enumerate(word) if ch in "/–"}  # a hyphen: split() says
        if split is not None:
            cuts.update(len(head) for head, _ in split(word))
        bounds = [0, *sorted(cuts), len(word)]
        widest = max((word[a:b] for a, b in zip(bounds, bounds[1:])),
                     key=lambda piece: pdfmetrics.stringWidth(piece, style.fontName,
                                                              style.fontSize))
        width_ = pdfmetrics.stringWidth(widest + "-", style.fontName, style.fontSize)
        if width_ > avail:
            raise ContentOverflow(view.source, view.locale_id, region.name, [field],
                                  round((width_ - avail) / mm, 1) or 0.1, 0, word=_shown(word))


_PUNCTUATION = ".,;:!?()[]“”‘’\"'"


def hyphenatable(word: str) -> bool:
    """Whether ``word`` may be hyphenated: all lowercase letters, no digit.

    Proper names ("Boskalis", "Basic Pharma", "Europese") and acronyms ("Health-RI",
    "NEXTGEN", "IP-posities") keep their shape: in Dutch and English a capital marks a
    name (or a sentence's first word, which then simply does not break); Dutch patterns
    would otherwise split an English name ("Heal-th").

    >>> hyphenatable("gezondheidszorgsysteem"), hyphenatable("Health-RI")
    (True, False)
    >>> hyphenatable("Boskalis"), hyphenatable("(bestaande")
    (False, True)
    """
    core = word.strip(_PUNCTUATION)
    return bool(core) and not any(ch.isdigit() for ch in core) and core == core.lower()


def name_words(names: tuple[str, ...]) -> frozenset[str]:
    """The words of ``names`` (the view's proper names), for :func:`hyphenator`: a name
    in lowercase ("hollandbio") is kept whole too.

    >>> sorted(name_words(("hollandbio", "Van Dijk & Zn.")))
    ['&', 'dijk', 'hollandbio', 'van', 'zn']
    """
    return frozenset(w.strip(_PUNCTUATION).casefold() for name in names for w in _words(name)
                     if w.strip(_PUNCTUATION))


HYPHEN_MIN = 3
"""The fewest letters a hyphenation leaves before or after the break ("bestaan-de", never
"be-staande"; pyphen's ``left`` and ``right``)."""


@lru_cache(maxsize=32)
def hyphenator(lang: str, names: frozenset[str] = frozenset()
               ) -> Callable[[str], list[tuple[str, str]]]:
    """ReportLab's hyphenation callable for ``lang`` (``nl_NL``, ``en_GB``): the (head, tail)
    splits pyphen allows, at least :data:`HYPHEN_MIN` letters from either end of each part
    between typed hyphens, and the break after a typed hyphen that leaves as many letters
    on either side ("rode-|biotechsector", never "e-|mail" or "co-fi|nanciering"), for the
    words :func:`hyphenatable` accepts that are not words of ``names``; else none (so a name
    such as "Health-RI" does not break at its hyphen either: ReportLab's own break there,
    ``embeddedHyphenation``, is off)."""
    dictionary = _pyphen(lang)

    def split(word: str) -> list[tuple[str, str]]:
        core = word.strip(_PUNCTUATION)
        if not hyphenatable(word) or core.casefold() in names:
            return []
        # punctuation is no letter: "(bestaande" has no 3-letter head "(be"
        lead, trail = word[:word.index(core)], word[word.index(core) + len(core):]
        pairs, start = [], 0
        parts = core.split("-")
        for i, part in enumerate(parts):
            end = start + len(part)
            if part.casefold() not in names:  # each part of "co-financiering" on its own
                pairs += [(core[:start] + head, tail + core[end:])
                          for head, tail in dictionary.iterate(part)]
            if i < len(parts) - 1 and min(_letters(core[:end]), _letters(core[end + 1:])) \
                    >= HYPHEN_MIN:  # after a typed hyphen: "rode-|biotech", never "e-|mail"
                pairs.append((core[:end + 1], core[end + 1:]))
            start = end + 1
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)  # ReportLab takes the first fit
        return [(lead + head, tail + trail) for head, tail in pairs]

    return split


def typed_hyphen_breaks(word: str) -> list[tuple[str, str]]:
    """The breaks after the hyphens typed in ``word`` that leave :data:`HYPHEN_MIN` letters
    or more on either side, longest head first: for a name, which is never hyphenated but
    may have to break in a narrow logo cell.

    >>> typed_hyphen_breaks("Max-Planck-Gesellschaft"), typed_hyphen_breaks("Health-RI")
    ([('Max-Planck-', 'Gesellschaft'), ('Max-', 'Planck-Gesellschaft')], [])
    """
    cuts = [i + 1 for i, ch in enumerate(word) if ch == "-"]
    return [(word[:i], word[i:]) for i in reversed(cuts)
            if min(_letters(word[:i]), _letters(word[i:])) >= HYPHEN_MIN]


@lru_cache(maxsize=8)
def _pyphen(lang: str) -> pyphen.Pyphen:
    """The hyphenation dictionary of ``lang`` (e.g. ``nl_NL``), made once per process,
    breaking no closer than :data:`HYPHEN_MIN` letters to either end of a word."""
    import pyphen

    return pyphen.Pyphen(lang=lang, left=HYPHEN_MIN, right=HYPHEN_MIN)


def _letters(text: str) -> int:
    """How many letters ``text`` has ("co-fi": 4)."""
    return sum(ch.isalpha() for ch in text)


@dataclass
class _Page:
    """A sheet laid out (every region measured and placed), ready to be drawn."""

    kit: _Kit
    header: list[_Region]
    regions: list[_Region]
    orgs: _Region
    page_w: float
    page_h: float
    header_h: float
    ml: float
    mr: float
    mb: float
    footer_h: float


def layout_pdf(view: SheetView, theme: Theme) -> None:
    """Lay out the sheet of ``view`` as :func:`render_pdf` does, drawing and saving
    nothing (``nexusreports validate``): raises the same :class:`ContentOverflow` (and
    :class:`TemplateError` for an unusable font or a missing colour profile)."""
    _lay_out_page(view, theme)
    icc_profile(theme)


def _lay_out_page(view: SheetView, theme: Theme) -> _Page:
    """Build and measure every region of the sheet; raise :class:`ContentOverflow` when
    one does not fit."""
    kit = _kit(theme, view.lang, view.names)
    g = theme.page
    page_w, page_h = A4
    ml, mr, mb = g["margin_left_mm"] * mm, g["margin_right_mm"] * mm, g["margin_bottom_mm"] * mm
    header_h = g["header_height_mm"] * mm
    body_top = page_h - header_h - g["gap_below_header_mm"] * mm
    footer_h = g["footer_height_mm"] * mm
    left_w = g["left_column_mm"] * mm
    gap = g["column_gap_mm"] * mm
    right_x = ml + left_w + gap
    right_w = page_w - mr - right_x

    band_y = mb + footer_h
    room = body_top - band_y - _BAND_GAP  # the columns and the organisations band share it
    regions = [
        _Region("text column", ml, band_y, left_w, room, _left_column(view, kit)),
        _Region("key-figures column", right_x, band_y, right_w, room,
                [_panel(view, kit, right_w), *_matrix(view, kit, right_w)]),
    ]
    header = _header_regions(view, kit, page_w, page_h, ml, mr, header_h)
    orgs = _Region("organisations band", ml, band_y, page_w - ml - mr, room,
                   _organisations(view, kit, page_w - ml - mr))
    for region in header:
        _measure(region, view, kit)
    _share_the_body(regions, orgs, room, g["organisations_height_mm"] * mm, view, kit)
    return _Page(kit, header, regions, orgs, page_w, page_h, header_h, ml, mr, mb, footer_h)


@sheet_renderer
def render_pdf(view: SheetView, theme: Theme, *, invariant: bool = False) -> bytes:
    """Draw the sheet of ``view`` and return the PDF bytes (one A4 page).

    ``invariant`` fixes the creation date and document ID (ReportLab's invariant mode; the
    date comes from ``SOURCE_DATE_EPOCH`` when set) so identical input gives identical bytes.

    Raises :class:`ContentOverflow` when content does not fit its region, and
    :class:`TemplateError` when a theme font is unusable.
    """
    laid = _lay_out_page(view, theme)
    kit, header, regions, orgs = laid.kit, laid.header, laid.regions, laid.orgs
    page_w, page_h, header_h = laid.page_w, laid.page_h, laid.header_h
    ml, mr, mb, footer_h = laid.ml, laid.mr, laid.mb, laid.footer_h

    buf = io.BytesIO()
    canvas = new_canvas(buf, kit.font, kit.type["body_pt"], invariant=invariant,
                        lang=view.locale_id)
    tagger = attach(canvas, Tagger())
    info = view.info
    canvas.setTitle(info.title)
    canvas.setAuthor(info.author)
    canvas.setSubject(info.subject)
    canvas.setKeywords(info.keywords)
    canvas.setCreator(CREATOR)
    canvas.setFillColor(kit.colours["primary"])
    canvas.rect(0, page_h - header_h, page_w, header_h, stroke=0, fill=1)
    for region in [*header, *regions, orgs]:
        _draw(region, canvas)
    with artifact(canvas, "Pagination"):
        _footer(canvas, view, kit, ml, mb, page_w - ml - mr, footer_h)
    artifact_unmarked(canvas)
    canvas.showPage()
    return publish_canvas(canvas, buf, tagger.finished(), metadata(info), icc_profile(theme))


def metadata(info, stamp: str | None = None) -> Metadata:
    """The document information of a PDF from the view's ``info``; ``stamp`` its date
    (``None``: the one ReportLab wrote)."""
    return Metadata(title=info.title, author=info.author, subject=info.subject,
                    keywords=info.keywords, language=info.language, creator=CREATOR,
                    stamp=stamp)


def icc_profile(theme: Theme) -> bytes:
    """The theme's sRGB profile (the PDFs' OutputIntent); :class:`TemplateError` if missing."""
    path = theme.icc_profile
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TemplateError(path, f"cannot read the colour profile ({exc.strerror}): "
                            f"{RESTORE} (PDF/A needs it)") from exc


_BAND_GAP = 2 * mm
"""Space between the columns and the organisations band below them."""


def _share_the_body(columns: list[_Region], band: _Region, room: float, band_least: float,
                    view: SheetView, kit: _Kit) -> None:
    """Give the two columns and the organisations band below them their heights: together
    they have ``room`` pt (the page between the header and the footer, less the gap between
    columns and band).

    The band is ``band_least`` pt high (the theme's ``page.organisations_height_mm``) when
    the columns leave that much, else only as high as its content; it grows past it when its
    content needs more and the columns leave it the room.  The columns take the rest, their
    content at the top, so the page's free space is shared where the content is.  When the
    content does not fit, the taller column is blamed if it does not fit above the band at
    its least height (or its content, when that is less); otherwise the band, saying how
    much the columns leave it; when neither fits its share, both at once (or the band first
    when it does not fit under the shorter column either: that cut is needed in any case).
    """
    for region in (*columns, band):
        _lay_out(region, view)
    columns_need = max(c.used for c in columns)
    band_h = max(band.used, min(band_least, room - columns_need))
    if columns_need + band_h > room + 0.01:  # it does not fit: who is over their share?
        band_h = min(band.used, band_least)
        if columns_need + band_h <= room + 0.01:  # the columns fit: the band is too tall
            band_h = max(room - columns_need, 0.0)
            taller = max(columns, key=lambda c: c.used)
            band.note = f"; the {taller.name} above leaves it {band_h / mm:.1f} mm"
        elif band.used > band_h + 0.01:  # the column and the band are both over their share
            taller = max(columns, key=lambda c: c.used)
            other = min(columns, key=lambda c: c.used)
            if other.used + band.used > room + 0.01:  # the band must lose that much anyway
                band_h = max(room - other.used, 0.0)
                band.note = f"; the {other.name} above leaves it {band_h / mm:.1f} mm"
                band.place(band.y, band_h)
                _check_height(band, view, kit)
            # else cutting either is enough: one message, so that one round of cuts fits
            _both_overflow(taller, band, columns_need + band.used - room, view, kit)
    band.place(band.y, band_h)
    for column in columns:
        column.place(band.y + band_h + _BAND_GAP, room - band_h)
    for region in (*columns, band):
        _check_height(region, view, kit)


def _both_overflow(column: _Region, band: _Region, over: float, view: SheetView,
                   kit: _Kit) -> None:
    """Raise the ContentOverflow of a column and the organisations band that are both over
    their share of the page, by ``over`` pt together, naming the fields of both: blamed one
    at a time, cutting what the first message says would only lead to the second."""
    fields = [*column.fields, *(f for f in band.fields if f not in column.fields)]
    raise ContentOverflow(view.source, view.locale_id,
                          f"{column.name} with the organisations band below it",
                          fields or [column.name], round(over / mm, 1),
                          max(1, int(-(-over // kit.type["body_leading_pt"]))))


def _header_regions(view: SheetView, kit: _Kit, page_w: float, page_h: float, ml: float,
                    mr: float, header_h: float) -> list[_Region]:
    s = kit.styles
    box_w = 66 * mm
    top_pad, bottom_pad = 5.5 * mm, 4 * mm
    y, h = page_h - header_h + bottom_pad, header_h - top_pad - bottom_pad
    title = [_Field(Paragraph(markup(view.title), s["title"]).tagged("H1"), "name"),
             Spacer(1, 1.2 * mm),
             _Field(Paragraph(markup(view.domain), s["subtitle"]), "domain")]
    lab = view.labels
    box = [
        Paragraph(markup(lab["project_name"].upper()), ParagraphStyle(
            "hl", parent=s["header_small"], fontName=kit.bold, textColor=kit.colours["accent_light"]))
        .tagged("P", actual=lab["project_name"]),
        _Field(Paragraph(markup(view.project_name), s["header_name"]), "short_name"),
        _Field(Paragraph(f"{markup(lab['domain'])}: {markup(view.domain)}", s["header_small"]),
               "domain"),
        _Field(Paragraph(f"{markup(lab['subdomain'])}: {markup(view.subdomain)}",
                         s["header_small"]), "subdomain"),
    ]
    # the header's height is the theme's: an overflow names it next to the data fields
    name = f"header ({header_h / mm:g} mm high: page.header_height_mm in theme.yaml)"
    return [
        _Region(name, ml, y, page_w - ml - mr - box_w - 6 * mm, h, title),
        _Region(name, page_w - mr - box_w, y, box_w, h, box),
    ]


def _organisations(view: SheetView, kit: _Kit, width: float) -> list[Flowable]:
    out: list[Flowable] = [_Heading(view.labels["organisations"], kit, space_before=0)]
    if view.organisations_empty:
        out.append(Paragraph(markup(view.organisations_empty), kit.styles["small_muted"]))
    elif any(o.logo for o in view.organisations):
        out.append(_Field(_Logos(view, kit), "organisations"))
    else:
        # a line breaks between names, never inside one ("Van Dijk & | Zn."), nor hyphenates
        style = ParagraphStyle("names", parent=kit.styles["body"], hyphenationLang="")
        names = " · ".join(markup(_unbroken(o.name, style, width)) for o in view.organisations)
        out.append(_Field(Paragraph(names, style), "organisations"))
    return out


def _unbroken(name: str, style: ParagraphStyle, width: float) -> str:
    """``name`` with its spaces made no-break spaces, so a line never breaks inside it;
    a name longer than a line (``width`` pt in ``style``) keeps its spaces, to break at.

    >>> from reportlab.lib.styles import ParagraphStyle
    >>> _unbroken("Van Dijk & Zn.", ParagraphStyle("x", fontName="Helvetica"), 200)
    'Van\xa0Dijk\xa0&\xa0Zn.'
    """
    joined = "\xa0".join(name.split())
    fits = pdfmetrics.stringWidth(joined + " ·", style.fontName, style.fontSize) <= width
    return joined if fits else name


def _footer(canvas: Canvas, view: SheetView, kit: _Kit, x: float, y: float, w: float,
            h: float) -> None:
    canvas.setStrokeColor(kit.colours["rule"])
    canvas.setLineWidth(0.5)
    canvas.line(x, y + h, x + w, y + h)
    left = Paragraph(markup(view.footer_left), kit.styles["footer"])
    right = Paragraph(markup(view.footer_right), kit.styles["footer_right"])
    for para, px in ((left, x), (right, x + w / 2)):
        _, ph = para.wrap(w / 2, h)
        para.drawOn(canvas, px, y + h - ph - 1.6 * mm)
