"""Tagged PDF, the drawing side: marked content and the structure tree as it is drawn.

A :class:`Tagger` is attached to a ReportLab canvas (:func:`attach`) before anything is drawn.
While the page is drawn, the flowables say where in the logical structure they sit and the
tagger writes the marked-content operators into the content stream and records the tree:

* :class:`Tag` wraps a flowable with its place in the tree, a path of :class:`Step` s from
  the document element (``Step("Table", "panel"), Step("TR", "size"), Step("TH")``); steps
  with a key are found again, so the label and the figure of one row meet in one ``TR``
  however far apart they are drawn;
* :class:`TaggedParagraph` (a ReportLab ``Paragraph``) marks its own text inside its text
  object: each wrapped line ends with the word space ReportLab leaves out (so extracted
  text reads "safer and costs less", not "safer andcosts less"), a hyphen added by
  hyphenation is an ``/Artifact`` (so the word reads whole), and a bullet is the ``Lbl`` of
  its list item, the text its ``LBody``;
* :func:`marked` marks what a custom flowable draws (a year, a percentage) as content of the
  element it is in; :func:`artifact` marks what is not content (``Pagination`` for page
  numbers and footers).

Whatever is drawn outside any marked content (bands, bars, rules, boxes, table backgrounds)
is made an ``/Artifact`` on the canvas before the page is shown (:func:`artifact_unmarked`);
:mod:`.archive` turns the recorded tree into the file's ``StructTreeRoot`` and ``ParentTree``.

Words: every alternative text and ActualText a :class:`Step` carries comes from the view;
nothing here chooses a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.pdfbase.ttfonts import ShapedStr
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Flowable, Paragraph
from reportlab.platypus.flowables import _FUZZ
from reportlab.platypus.paragraph import (_SplitWord, _SplitWordHY, cleanBlockQuotedText,
                                          textTransformFrags)
from reportlab.platypus.paraparser import ParaParser

from ..recurring import Recurring

ARTIFACT = "Artifact"
_HYPHEN = "\x00"
"""Stands in, while a paragraph is drawn, for a hyphen that hyphenation added (no data text
holds a control character: :mod:`nexusreports.load` refuses them)."""


@dataclass(frozen=True)
class Step:
    """One element on a path from the document element.

    ``key`` makes the element findable again under the same parent (``None``: a new element
    each time); ``order`` sorts it among its siblings (a row's header before its data cell,
    whatever is drawn first).  ``alt`` (a Figure's alternative text), ``actual`` (its
    ActualText: what a reader says instead of the drawn content), ``lang`` and ``attrs``
    (e.g. ``{"Scope": "Row"}``, owner Table) go into the element's dictionary.
    """

    role: str
    key: str | None = None
    alt: str | None = None
    actual: str | None = None
    lang: str | None = None
    attrs: tuple[tuple[str, Any], ...] = ()
    order: int = 0


@dataclass(frozen=True)
class MarkedRef:
    """A marked-content sequence: page index and MCID."""

    page: int
    mcid: int


@dataclass(frozen=True)
class LinkRef:
    """A link annotation, by page index and its index among the page's links."""

    page: int
    index: int


@dataclass
class Element:
    """A structure element being recorded."""

    step: Step
    kids: list[Element | MarkedRef | LinkRef] = field(default_factory=list)
    drawn: bool = False

    @property
    def role(self) -> str:
        return self.step.role

    def child(self, step: Step) -> Element:
        if step.key is not None:  # (a dict: a table's rows are looked up for every cell)
            keyed = self.__dict__.setdefault("_keyed", {})
            kid = keyed.get((step.key, step.role))
            if kid is None:
                kid = keyed[(step.key, step.role)] = Element(step)
                self.kids.append(kid)
            return kid
        kid = Element(step)
        self.kids.append(kid)
        return kid

    def sorted(self) -> None:
        """Sort every element's children by their steps' ``order`` (stable)."""
        self.kids.sort(key=lambda k: k.step.order if isinstance(k, Element) else 0)
        for kid in self.kids:
            if isinstance(kid, Element):
                kid.sorted()


class Tagger:
    """The structure of one PDF being drawn (see the module docstring).

    ``root`` is the document element (``Document``, or ``Part`` for a part of a bundle);
    ``current`` the element drawn content goes into (``None``: a new ``P`` under the root
    for each paragraph; :data:`ARTIFACT`: nothing is marked).
    """

    def __init__(self, root: Step = Step("Document")):
        self.root = Element(root)
        self.current: Element | str | None = None
        self._next: dict[int, int] = {}
        self.page = 0

    def enter(self, path: tuple[Step, ...]) -> Element:
        node = self.root
        for step in path:
            node = node.child(step)
        return node

    def mcid(self, element: Element) -> int:
        """A new MCID on the current page, recorded as content of ``element``."""
        n = self._next.get(self.page, 0)
        self._next[self.page] = n + 1
        element.kids.append(MarkedRef(self.page, n))
        return n

    def target(self, role: str = "P") -> Element | None:
        """The element drawn content goes into now (``None`` inside an artifact)."""
        if self.current == ARTIFACT:
            return None
        if self.current is None:
            return self.root.child(Step(role))
        assert isinstance(self.current, Element)
        return self.current

    def finished(self) -> Element:
        self.root.sorted()
        return self.root


def attach(canvas: Any, tagger: Tagger) -> Tagger:
    """Let everything drawn on ``canvas`` be tagged by ``tagger``."""
    canvas._nexus_tagger = tagger
    return tagger


def tagger_of(canvas: Any) -> Tagger | None:
    tagger = getattr(canvas, "_nexus_tagger", None)
    if tagger is not None:
        tagger.page = canvas.getPageNumber() - 1
    return tagger


def _bdc(role: str, mcid: int) -> str:
    return f"/{role} <</MCID {mcid}>> BDC"


class marked:
    """Mark what is drawn inside as content of the current element (or of a new ``P``)::

        with marked(canvas):
            canvas.drawString(...)

    (A class, not a generator: entered some 60 times a sheet.)"""

    __slots__ = ("canvas", "open")

    def __init__(self, canvas: Any):
        self.canvas, self.open = canvas, False

    def __enter__(self) -> None:
        tagger = tagger_of(self.canvas)
        element = tagger.target() if tagger else None
        if element is not None:
            self.canvas.addLiteral(_bdc(element.role, tagger.mcid(element)))
            self.open = True

    def __exit__(self, *exc: object) -> None:
        if self.open:
            self.canvas.addLiteral("EMC")


class artifact:
    """Mark what is drawn inside as an artifact (``kind``: ``Pagination``, ``Layout``...);
    nothing inside is tagged::

        with artifact(canvas, "Pagination"):
            ..."""

    __slots__ = ("canvas", "kind", "tagger", "before")

    def __init__(self, canvas: Any, kind: str | None = None):
        self.canvas, self.kind = canvas, kind

    def __enter__(self) -> None:
        canvas = self.canvas
        tagger = self.tagger = tagger_of(canvas)
        if self.kind:
            canvas.addLiteral(f"/Artifact <</Type /{self.kind}>> BDC")
        else:
            canvas.addLiteral("/Artifact BMC")
        self.before = tagger.current if tagger else None
        if tagger:
            tagger.current = ARTIFACT

    def __exit__(self, *exc: object) -> None:
        if self.tagger:
            self.tagger.current = self.before
        self.canvas.addLiteral("EMC")


class within:
    """Draw inside the element at ``path`` (created on first use); ``as`` gives it::

        with within(canvas, (Step("L", key="x"), Step("LI"))) as item:
            ..."""

    __slots__ = ("canvas", "path", "tagger", "before")

    def __init__(self, canvas: Any, path: tuple[Step, ...]):
        self.canvas, self.path, self.tagger = canvas, path, None

    def __enter__(self) -> Element | None:
        tagger = tagger_of(self.canvas)
        if tagger is None or tagger.current == ARTIFACT or not self.path:
            return tagger.current if tagger and isinstance(tagger.current, Element) else None
        before = self.before = tagger.current
        node = before if isinstance(before, Element) else tagger.root
        for step in self.path:
            node = node.child(step)
        self.tagger = tagger
        tagger.current = node
        return node

    def __exit__(self, *exc: object) -> None:
        if self.tagger is not None:
            self.tagger.current = self.before


class Wrapper(Flowable):
    """A flowable around ``inner`` whose layout is the inner one's (size and spacing pass
    through); subclasses add what they remember or how they draw it."""

    def __init__(self, inner: Flowable):
        super().__init__()
        self.inner = inner

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        self.width, self.height = self.inner.wrap(aw, ah)
        return self.width, self.height

    def getSpaceBefore(self) -> float:
        return self.inner.getSpaceBefore()

    def getSpaceAfter(self) -> float:
        return self.inner.getSpaceAfter()


class Tag(Wrapper):
    """``inner`` drawn inside the element at ``path`` (relative to the element it is drawn
    in); ``mark`` marks all it draws as one piece of content (shapes of a Figure).

    Layout is the inner flowable's: sizes, spacing and splitting pass through.  Drawn a
    second time (a table header repeated on a new page), it is an artifact.
    """

    def __init__(self, inner: Flowable, *path: Step, mark: bool = False):
        super().__init__(inner)
        self.path, self.mark = path, mark
        self.field = getattr(inner, "field", None)
        self._drawn = False

    def split(self, aw: float, ah: float) -> list[Flowable]:
        return [Tag(part, *self.path, mark=self.mark) for part in self.inner.split(aw, ah)]

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        if self._drawn:
            with artifact(canvas):
                self.inner.drawOn(canvas, x, y, _sW)
            return
        self._drawn = True
        with within(canvas, self.path):
            if self.mark:
                with marked(canvas):
                    self.inner.drawOn(canvas, x, y, _sW)
            else:
                self.inner.drawOn(canvas, x, y, _sW)


# --- what is left: artifacts -------------------------------------------------------------------

_PAINT = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*"}
_PATH = {"m", "l", "c", "v", "y", "h", "re", "n"}
_SHOW = re.compile(r"(?:Tj|TJ|'|\")(?:\s+T\*)?\s+ET$")


def artifact_unmarked(canvas: Any) -> None:
    """Make whatever the current page drew outside marked content an ``/Artifact`` (bands,
    bars, rules, boxes, table backgrounds and lines): call before ``showPage``.

    Works on the canvas' operator list, where each ReportLab drawing call is one entry (a
    path may span several, up to its painting operator); the same as
    :func:`.archive.artifact_rest` does on a saved file, without parsing it again.
    """
    out: list[str] = []
    depth = 0
    path: list[str] = []
    for item in canvas._code:
        if depth > 0 or item.endswith(("BDC", "BMC")) or item == "EMC":
            if item.endswith(("BDC", "BMC")) and not item.startswith("BT"):
                depth += 1
            elif item == "EMC":
                depth -= 1
            out.append(item)
            continue
        last = item.rsplit(None, 1)[-1] if item.strip() else ""
        if path or (last in _PATH and not item.startswith("BT")):
            path.append(item)
            if last in _PAINT:
                out += ["/Artifact BMC", *path, "EMC"]
                path = []
            elif last == "n" and len(path) > 1:  # a clipping path (W n) or an empty one
                out += path
                path = []
        elif last in _PAINT or last in ("Do", "sh"):
            out += ["/Artifact BMC", item, "EMC"]
        elif item.startswith("BT") and "BDC" not in item and _SHOW.search(item):
            out += ["/Artifact BMC", item, "EMC"]
        else:
            out.append(item)
    out += path
    canvas._code[:] = out


# --- paragraphs ------------------------------------------------------------------------------

class _MarkedText(PDFTextObject):
    """A text object whose text is one marked-content sequence (or several, around the
    artifact hyphens)."""

    def __init__(self, canvas: Any, x: float, y: float, tagger: Tagger | None,
                 element: Element | None):
        super().__init__(canvas, x, y)
        self._tagger, self._element = tagger, element
        self._open = False
        self._begin()

    def _begin(self) -> None:
        if self._tagger is not None and self._element is not None:
            self._code.append(_bdc(self._element.role, self._tagger.mcid(self._element)))
            self._open = True

    def _textOut(self, text: str, TStar: int = 0) -> None:
        if _HYPHEN not in text or not self._open:
            super()._textOut(text.replace(_HYPHEN, "-"), TStar)
            return
        head, _, tail = text.partition(_HYPHEN)
        super()._textOut(head, 0)
        self._code.append("EMC /Artifact BMC")
        super()._textOut("-", 0)
        self._code.append("EMC")
        self._begin()
        self._textOut(tail, TStar)

    def _formatText(self, text: str) -> str:
        # ReportLab's, for a TrueType font and unshaped text (every text of a sheet), less
        # its steps for other fonts: the same operators
        font = getFont(self._fontname)
        if not font._dynamicFont or (font.shapable and isinstance(text, ShapedStr)):
            return super()._formatText(text)
        canvas = self._canvas
        doc = canvas._doc
        out = []
        for subset, chunk in font.splitString(text, doc):
            if subset != self._curSubset:
                out.append(f"{font.getSubsetInternalName(subset, doc)} "
                           f"{fp_str(self._fontsize)} Tf {fp_str(self._leading)} TL")
                self._curSubset = subset
            out.append(f"({canvas._escape(chunk)}) Tj")
        return " ".join(out)

    def getCode(self) -> str:
        if self._open:
            self._code.append("EMC")
            self._open = False
        return super().getCode()


_WS = re.compile(r"[ \t\r\n]+")


def _line_ends(lines: list[str], expected: str) -> list[str]:
    """What each line but the last ends with in the source text: ``space`` (a word space
    ReportLab dropped), ``hyphen`` (the hyphen at its end was added) or ``join`` (the word
    goes on: a break after a hyphen or slash in the text itself).

    >>> _line_ends(["safer and", "costs less"], "safer and costs less")
    ['space']
    >>> _line_ends(["curat-", "ive, COVID-", "19"], "curative, COVID-19")
    ['hyphen', 'join']
    """
    text = _WS.sub(" ", expected)
    pos, out = 0, []
    for line in lines[:-1]:
        line = _WS.sub(" ", line).rstrip(" ")
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if text.startswith(line, pos):
            pos += len(line)
            end = "join"
        elif line.endswith("-") and text.startswith(line[:-1], pos):
            pos += len(line) - 1
            end = "hyphen"
        else:  # not found as drawn (should not happen): a word space is the safer guess
            end = "space"
            out.append(end)
            continue
        if end == "join" and pos < len(text) and text[pos] == " ":
            end = "space"
        out.append(end)
    return out


@lru_cache(maxsize=256)
def _step(role: str, actual: str | None) -> Step:
    """``Step(role, actual=actual)``, made once per distinct pair (steps are immutable:
    the paragraphs of every sheet share them)."""
    return Step(role, actual=actual)


class TaggedParagraph(Paragraph):
    """A ReportLab ``Paragraph`` that tags its text (see the module docstring).

    ``role`` is the element its text is, created under the element it is drawn in
    (``None``: its text is content of that element itself); with a bullet, the bullet is a
    ``label_role`` element and the text a ``role`` element (``Lbl`` and ``LBody``).
    ``actual`` is the element's ActualText (e.g. the label a panel prints in capitals).
    """

    role: str | None = "P"
    label_role: str = "Lbl"
    actual: str | None = None
    path: tuple[Step, ...] = ()

    def tagged(self, role: str | None, *path: Step, actual: str | None = None
               ) -> TaggedParagraph:
        """Tag this paragraph as ``role`` inside the element at ``path`` (relative to where
        it is drawn), with ``actual`` as its ActualText; returns the paragraph."""
        self.role, self.path, self.actual = role, path, actual
        return self

    def _element(self, tagger: Tagger, role: str | None) -> Element | None:
        if tagger.current == ARTIFACT:
            return None
        base = tagger.current if isinstance(tagger.current, Element) else None
        if role is None:
            return base if base is not None else tagger.root.child(_step("P", self.actual))
        return (base or tagger.root).child(_step(role, self.actual))

    def beginText(self, x: float, y: float) -> PDFTextObject:
        tagger = tagger_of(self.canv)
        element = self._text_element if tagger else None
        return _MarkedText(self.canv, x, y, tagger, element)

    def draw(self) -> None:
        tagger = tagger_of(self.canv)
        self._text_element = None
        if tagger is None:
            return super().draw()
        with within(self.canv, self.path):
            self._draw_tagged(tagger)

    def _draw_tagged(self, tagger: Tagger) -> None:
        bullet = getattr(self, "bulletText", None) or getattr(self.style, "bulletText", None)
        if bullet and tagger.current != ARTIFACT:
            label = self._element(tagger, self.label_role)
            canvas = self.canv
            canvas.beginText = lambda x=0, y=0: _MarkedText(canvas, x, y, tagger, label)
        self._text_element = self._element(tagger, self.role)
        saved = self.blPara
        self.blPara = _with_line_ends(saved, self._source_text())
        try:
            super().draw()
        finally:
            self.blPara = saved
            self.canv.__dict__.pop("beginText", None)

    def __init__(self, text: str, style: Any = None, bulletText: str | None = None,
                 **kwargs: Any):
        cleaned = frags = None
        if style is not None and not kwargs:
            cleaned, frags = _parsed(text, style)
        super().__init__(text, style, bulletText, frags=frags, **kwargs)
        if cleaned is not None:
            self.text = cleaned  # (what ReportLab keeps when it parses the text itself)
        # the text as parsed, before line breaking consumes the fragments
        self._source = "".join("\n" if getattr(f, "lineBreak", False)
                               else getattr(f, "text", "") for f in self.frags)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        """ReportLab's wrap, once per width: its lines depend on the width alone, so a
        table drawing its cells (which wraps them again) or a flowable measuring its
        paragraph before drawing it reuses the lines already broken."""
        memo = self.__dict__.get("_wrapped")
        if memo is not None and memo[0] == availWidth and memo[1] is self.blPara:
            return memo[2]
        size = super().wrap(availWidth, availHeight)
        if availWidth >= _FUZZ:
            self._wrapped = (availWidth, self.blPara, size)
        return size

    def _source_text(self) -> str:
        return self._source


_PARSED = Recurring(kept_max=2048)
"""The parsed texts (:func:`_parsed`): those of every sheet kept, a project's own for its
sheet only (see :class:`~nexusreports.render.recurring.Recurring`)."""


def _parse_key(style: Any) -> tuple:
    """What ReportLab's paragraph parser takes from ``style`` (the first fragment's font,
    size and colour, the bullet's, the text transform and the underline and strike
    settings)."""
    g = style.__dict__.get
    return (g("fontName"), g("fontSize"), g("textColor"), g("bulletFontName"),
            g("bulletFontSize"), g("bulletColor"), g("textTransform"), g("linkUnderline"),
            g("underlineWidth"), g("underlineColor"), g("underlineOffset"), g("underlineGap"),
            g("strikeWidth"), g("strikeColor"), g("strikeOffset"), g("strikeGap"))


def _parsed(text: str, style: Any) -> tuple[str | None, list | None]:
    """``text`` (paragraph markup) parsed in ``style`` by ReportLab's parser, once per
    sheet for each text and what the parser takes from the style (once per process for the
    texts many sheets have): the cleaned text and
    a fresh copy of its fragments (``None, None``: let ReportLab parse it, e.g. markup
    that sets its own style or a bullet)."""
    key = (text, _parse_key(style))
    hit = _PARSED.get(key)
    if hit is None:
        cleaned = cleanBlockQuotedText(text)
        parser = ParaParser()
        parser.caseSensitive = 1
        parsed_style, frags, bullet_frags = parser.parse(cleaned, style)
        if frags is None or bullet_frags or parsed_style is not style:
            return None, None
        textTransformFrags(frags, style)
        hit = (cleaned, frags)
        _PARSED.put(key, hit)
    cleaned, frags = hit
    return cleaned, [f.clone() for f in frags]


def _with_line_ends(blPara: Any, source: str) -> Any:
    """A copy of ReportLab's laid-out lines with each wrapped line's dropped word space put
    back and each added hyphen replaced by :data:`_HYPHEN`."""
    import copy

    lines = blPara.lines
    if len(lines) < 2:
        return blPara
    out = copy.copy(blPara)
    if blPara.kind == 0:
        texts = [" ".join(words) for _, words in lines]
        ends = _line_ends(texts, source)
        new = []
        for (extra, words), end in zip(lines, ends):
            words = list(words)
            last = words[-1] if words else ""
            if end == "hyphen" and isinstance(last, _SplitWordHY):
                words[-1] = str(last)[:-1] + _HYPHEN
            elif end == "space" and not isinstance(last, _SplitWord):
                words.append("")
            new.append((extra, words))
        out.lines = new + list(lines[len(new):])
        return out
    texts = ["".join(getattr(f, "text", "") for f in line.words) for line in lines]
    ends = _line_ends(texts, source)
    new = []
    for line, end in zip(lines, ends):
        frags = [copy.copy(f) for f in line.words]
        text_frags = [f for f in frags if getattr(f, "text", "") and not hasattr(f, "cbDefn")]
        if text_frags:
            last = text_frags[-1]
            if end == "hyphen" and last.text.endswith("-"):
                last.text = last.text[:-1] + _HYPHEN
            elif end == "space" and not last.text.endswith(" "):
                last.text += " "
        line = copy.copy(line)
        line.words = frags
        new.append(line)
    out.lines = new + list(lines[len(new):])
    return out


__all__ = ["ARTIFACT", "Element", "LinkRef", "MarkedRef", "Step", "Tag", "TaggedParagraph",
           "Tagger", "artifact", "artifact_unmarked", "attach", "marked", "tagger_of", "within"]
