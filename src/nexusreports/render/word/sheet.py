"""Render a :class:`~nexusreports.view.SheetView` as a Word document from ``templates/sheet.docx``.

The template is a real Word document with Jinja2 tags (docxtpl syntax; every name it may use
is listed in docs/template-reference.md).  Communications staff restyle it in Word: styles,
colours, cell shading and page geometry all live in the template.  This module only fills
in the tags from the view, which already holds every final string, and sizes the share bars
(tables whose alt-text title is ``shares[0]`` / ``shares[1]``) from the view's fractions.

Steps of :func:`render_docx`:

1. :func:`check_template`: before anything is rendered, every tag of the body, headers and
   footers is checked: a tag split over several runs (pieces of text), a tag opened but not
   closed in its paragraph, a block (``for``, ``if``) never closed or closed wrongly, a Jinja
   syntax error, an unknown name.  Each is a :class:`TemplateError`
   ``templates/sheet.docx: <tag or text around it>: message`` (several: an ErrorGroup).
2. Jinja2 renders with ``autoescape=True`` and ``StrictUndefined``.  Data text is never
   interpreted: ``&``, ``<``, ``>`` and quotes are escaped, ``{{ 7*7 }}`` prints as typed,
   ``\\n`` becomes a Word line break and a tab a Word tab (docxtpl's listing rules).
3. Word structure: the document language (``w:lang`` in the style defaults, nl-NL / en-GB),
   automatic hyphenation, core properties from the view's DocumentInfo and the build time.
4. After rendering no ``{{``, ``{%``, ``}}`` or ``%}`` may remain in any part (data text that
   contains them is guarded while this is checked), every XML part must be well formed, and
   the zip is written with entries in a fixed order and fixed timestamps, so that with
   ``SOURCE_DATE_EPOCH`` set the same input gives the same bytes.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
from docx.oxml.ns import qn
from docx.shared import Mm
import docxtpl
from docxtpl import DocxTemplate, InlineImage
from jinja2 import meta, nodes
from lxml import etree

from . import ooxml
from .fit import check_fit, check_width
from ...errors import ErrorGroup, TemplateError
from ...theme import Theme
from ...view import SheetView
from ..logos import load_logo
from ..recurring import sheet_renderer

log = logging.getLogger("nexusreports")

CREATOR = "nexusreports"
LOGO_HEIGHT_MM = 8.0
"""Height of an organisation logo in the Word sheet, in mm (at most; a wide logo is scaled
down to :data:`LOGO_MAX_WIDTH_MM`)."""
LOGO_MAX_WIDTH_MM = 26.0
"""Widest logo in the Word sheet, in mm: one cell of the organisations table (186 mm /
``ORGANISATIONS_PER_ROW``) less its padding."""
CORE_PROPERTY_MAX = 255
"""Longest string a core property may hold (python-docx and Word's limit), in characters."""

REFERENCE = "docs/template-reference.md"
_GUARD = "\ue000"
"""Private-use character put between the braces of tag delimiters in data text while the
output is checked for leftover tags; removed before the document is written.  The theme's
font has no glyph for it, so validation refuses it in data."""
_GUARD_BYTES = _GUARD.encode("utf-8")

_DELIMITERS = ("{{", "{%", "}}", "%}")
_DELIMITER_BYTES = tuple(d.encode() for d in _DELIMITERS)
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_OPENERS = re.compile(r"\{\{|\{%|\{#")
_CLOSERS = re.compile(r"\}\}|%\}|#\}")
_STATEMENT = re.compile(r"^\{%([-+]?)(?:(p|tr|tc|r)(?=\s))?\s*(.*?)\s*([-+]?)%\}$", re.S)
_EXPRESSION = re.compile(r"^\{\{([-+]?)(?:(p|tr|tc|r)(?=\s))?\s*(.*?)\s*([-+]?)\}\}$", re.S)
_BLOCKS = {"for", "if", "with", "macro", "call", "filter", "block", "autoescape", "raw"}
_TEXT_PARTS = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")


# --- the context --------------------------------------------------------------------------------

def _guard(text: str) -> str:
    """``text`` with the guard character after each ``{`` and before each ``}``."""
    return text.replace("{", "{" + _GUARD).replace("}", _GUARD + "}")


def _plain(value: Any) -> Any:
    """A view value as namespaces, dicts, lists and guarded strings (what Jinja sees).

    Dataclasses become namespaces, not dicts: Jinja looks up ``group.items`` as an
    attribute first, which on a dict would be its ``items`` method.
    """
    if isinstance(value, str):
        return _guard(value)
    names = _FIELD_NAMES.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return SimpleNamespace(**{name: _plain(getattr(value, name)) for name in names})
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""The field names of each dataclass :func:`_plain` has met."""


class _Template(DocxTemplate):
    """docxtpl's template, remembering what is the same for every sheet of one template.

    ``patch_xml`` (docxtpl's rewrite of a part's XML into Jinja source) depends only on its
    input, which is the same for every sheet made from one template, so it runs once per
    distinct part (at most :data:`_PATCHED_MAX` kept).  The template package is read and
    parsed once per template (``key``: the sha256 of ``data``); each sheet starts from a
    copy of its parsed parts (:func:`_open_document`), and the body's XML, which docxtpl
    serializes before every render (and then replaces the body with the rendered one), is
    the template's, serialized once.
    """

    _PATCHED: dict[str, str] = {}
    _PATCHED_MAX = 64

    def __init__(self, data: bytes, key: str) -> None:
        super().__init__(io.BytesIO(data))
        self._data, self._key = data, key
        self._body_xml: str | None = None

    def init_docx(self, reload: bool = True) -> None:
        if not self.docx or (self.is_rendered and reload):
            self.docx, self._body_xml = _open_document(self._data, self._key,
                                                       self.xml_to_string)
            self.is_rendered = False

    def get_xml(self) -> str:
        if self._body_xml is None:
            return super().get_xml()
        return self._body_xml

    def map_tree(self, tree: Any) -> None:
        self._body_xml = None  # the body is the rendered one from here on
        super().map_tree(tree)

    def fix_tables(self, xml: str) -> Any:
        # docxtpl 0.20's fix_tables, with each row's cells counted once: docxtpl counts the
        # rows of a nested table again for every table around it, twice.  Its changes to
        # the grids never change the rows, so the counts are the same.  Another docxtpl
        # version keeps its own.
        if not _DOCXTPL_0_20:
            return super().fix_tables(xml)
        parser = etree.XMLParser(recover=True)
        tree = etree.fromstring(xml, parser=parser)
        ns = "{" + tree.nsmap["w"] + "}"
        tc_tag, tc_pr_tag, span_tag = ns + "tc", ns + "tcPr", ns + "gridSpan"
        val = ns + "val"
        counts = {}  # each row: its cells, and the grid columns they span
        for r in tree.iter(ns + "tr"):
            cells = spans = 0
            for cell in r.iterchildren(tc_tag):
                cells += 1
                tc_pr = next(cell.iterchildren(tc_pr_tag), None)
                grid_span = None if tc_pr is None else next(tc_pr.iterchildren(span_tag), None)
                spans += int(grid_span.get(val)) if grid_span is not None else 1
            counts[r] = (cells, spans)
        for t in tree.iter(ns + "tbl"):
            tblGrid = t.find(ns + "tblGrid")
            columns = tblGrid.findall(ns + "gridCol")
            rows = [counts[r] for r in t.iter(ns + "tr")]
            to_add = max((n for n, _ in rows), default=0) - len(columns)
            if to_add > 0:
                width = 0.0
                new_average = None
                for c in columns:
                    if c.get(ns + "w") is not None:
                        width += float(c.get(ns + "w"))
                if width > 0:
                    old_average = width / len(columns)
                    new_average = width / (len(columns) + to_add)
                    for c in columns:
                        c.set(ns + "w",
                              str(int(float(c.get(ns + "w")) * new_average / old_average)))
                    for _ in range(to_add):
                        etree.SubElement(tblGrid, ns + "gridCol",
                                         {ns + "w": str(int(new_average))})
            columns = tblGrid.findall(ns + "gridCol")
            columns_len = len(columns)
            cells_len_max = max([0, *(spans for _, spans in rows)])
            to_remove = columns_len - cells_len_max
            if to_remove > 0:
                removed_width = 0.0
                for c in columns[-to_remove:]:
                    removed_width += float(c.get(ns + "w"))
                    tblGrid.remove(c)
                columns_left = tblGrid.findall(ns + "gridCol")
                extra_space = 0
                if len(columns_left) > 0:
                    extra_space = removed_width / len(columns_left)
                    extra_space = int(extra_space)
                for c in columns_left:
                    c.set(ns + "w", str(int(float(c.get(ns + "w")) + extra_space)))
        return tree

    def fix_docpr_ids(self, tree: Any) -> None:
        # docxtpl's renumbering of the pictures' ids (its XPath //wp:docPr from the root of
        # the rendered body), walking the tree in the same document order
        for elt in tree.iter(_DOC_PR):
            self.docx_ids_index += 1
            elt.attrib["id"] = str(self.docx_ids_index)

    def resolve_listing(self, xml: str) -> str:
        # docxtpl's listing rules only rewrite tabs, line and page breaks and "\a": a part
        # without any of them comes back unchanged, so it is not searched paragraph by
        # paragraph, run by run
        if "\t" not in xml and "\n" not in xml and "\a" not in xml and "\f" not in xml:
            return xml
        return super().resolve_listing(xml)

    def patch_xml(self, src_xml: str) -> str:
        patched = self._PATCHED.get(src_xml)
        if patched is None:
            if len(self._PATCHED) >= self._PATCHED_MAX:
                self._PATCHED.clear()
            patched = self._PATCHED[src_xml] = super().patch_xml(src_xml)
        return patched


_DOCXTPL_0_20 = str(getattr(docxtpl, "__version__", "")).startswith("0.20.")
_DOC_PR = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"
_OPENED: dict[str, tuple[Any, dict[Any, tuple[type, Any]], str]] = {}
"""Each template package read once (by sha256): python-docx's reader of it, a pristine copy
of each XML part's parsed tree with the part's class (the document's with an empty body),
and the body's XML as docxtpl serializes it."""


def _open_document(data: bytes, key: str,
                   serialize: Callable[[Any], str]) -> tuple[Any, str | None]:
    """``docx.Document`` of the template ``data`` (sha256 ``key``) and its body's XML (made
    by ``serialize``, docxtpl's ``xml_to_string``, as its ``get_xml`` does), reading and
    parsing the package only the first time: later each XML part is a copy of the tree
    parsed then (what ``XmlPart.load`` would parse again), except that the body is left
    empty (docxtpl replaces it with the one it renders from that XML); the other parts are
    loaded as python-docx loads them.  Falls back to ``docx.Document`` (and no XML) if
    python-docx is not as expected."""
    from docx import Document

    try:
        from docx.opc.package import Unmarshaller
        from docx.opc.part import PartFactory, XmlPart
        from docx.opc.pkgreader import PackageReader
        from docx.package import Package
    except ImportError:  # pragma: no cover - another python-docx
        return Document(io.BytesIO(data)), None
    opened = _OPENED.get(key)
    if opened is None:
        doc = Document(io.BytesIO(data))  # its checks and errors, the first time
        pristine = {part.partname: (type(part), copy.deepcopy(part._element))
                    for part in doc.part.package.iter_parts()
                    if isinstance(part, XmlPart) and type(part).load.__func__ is
                    XmlPart.load.__func__}
        main = pristine.get(doc.part.partname)
        body = main[1].find(qn("w:body")) if main is not None else None
        if body is None:
            return doc, None  # no body to render: docxtpl fails as it does
        for child in list(body):
            body.remove(child)
        body_xml = serialize(doc.element.body)
        if len(_OPENED) >= 16:
            _OPENED.clear()
        _OPENED[key] = (PackageReader.from_file(io.BytesIO(data)), pristine, body_xml)
        return doc, body_xml
    reader, pristine, body_xml = opened

    def part_factory(partname: Any, content_type: str, reltype: str, blob: bytes,
                     package: Any) -> Any:
        known = pristine.get(partname)
        if known is None:
            return PartFactory(partname, content_type, reltype, blob, package)
        cls, element = known
        return cls(partname, content_type, copy.deepcopy(element), package)

    package = Package()
    Unmarshaller.unmarshal(reader, package, part_factory)
    return package.main_document_part.document, body_xml


class _Logo(InlineImage):
    """An inline picture whose drawing carries alt text (``wp:docPr/@descr``)."""

    def __init__(self, tpl: DocxTemplate, path: str, alt: str):
        logo = load_logo(path)  # upright RGB(A) PNG: python-docx cannot read CMYK JPEGs
        if LOGO_HEIGHT_MM * logo.ratio > LOGO_MAX_WIDTH_MM:
            size = {"width": Mm(LOGO_MAX_WIDTH_MM)}
        else:
            size = {"height": Mm(LOGO_HEIGHT_MM)}
        super().__init__(tpl, io.BytesIO(logo.png), **size)
        self.alt = alt

    def _insert_image(self) -> str:
        inline = self.tpl.current_rendering_part.new_pic_inline(
            self.image_descriptor, self.width, self.height)
        for doc_pr in inline.xpath(".//wp:docPr"):
            doc_pr.set("descr", self.alt)
        return ('</w:t></w:r><w:r><w:drawing>%s</w:drawing></w:r><w:r>'
                '<w:t xml:space="preserve">' % inline.xml)


def sheet_context(view: SheetView, tpl: DocxTemplate | None = None) -> dict[str, Any]:
    """The names the template may use: every field of the view, as plain values.

    Each organisation also gets ``image``: its logo as an inline picture with alt text (None
    without a logo, or when ``tpl`` is None).
    """
    context = vars(_plain(view))
    _add_logos(context, view, tpl)
    return context


def _add_logos(context: dict[str, Any], view: SheetView, tpl: DocxTemplate | None) -> None:
    """Give each organisation of ``context`` its ``image`` (see :func:`sheet_context`)."""
    for org, source in zip(context["organisations"], view.organisations):
        org.image = (_Logo(tpl, source.logo, _guard(source.alt))
                     if tpl is not None and source.logo else None)


class _Environment(jinja2.Environment):
    """A Jinja2 environment that compiles each template source once.

    docxtpl compiles the whole document XML with ``from_string`` on every render; the XML
    it makes from one template file is the same for every sheet, so the compiled template
    is kept (at most :data:`_COMPILED_MAX` sources) and rendered again with each context.
    """

    _COMPILED_MAX = 64

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.StrictUndefined)
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(self, source: Any, globals: Any = None,
                    template_class: Any = None) -> jinja2.Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        template = self._compiled.get(source)
        if template is None:
            if len(self._compiled) >= self._COMPILED_MAX:
                self._compiled.clear()
            template = self._compiled[source] = super().from_string(source)
        return template


_ENV: _Environment | None = None


def _environment() -> jinja2.Environment:
    """The rendering environment (autoescape, StrictUndefined), made once per process."""
    global _ENV
    if _ENV is None:
        _ENV = _Environment()
    return _ENV


# --- markers and table descriptions --------------------------------------------------------------

MARKER_PREFIX = "nr_"
"""Prefix of the bookmarks that mark the template's tables (Insert → Bookmark in Word)."""


def marker_name(role: str) -> str:
    """The bookmark that marks the table of ``role``: ``nr_shares_0``."""
    return MARKER_PREFIX + role


TABLE_DESCRIPTIONS: dict[str, str] = {
    "header": "{{ labels.project_name }}: {{ project_name }}",
    "body": "{{ labels.project_sheet }}: {{ project_name }}",
    "key_figures": "{{ labels.project_size }} {{ size }}",
    "timeline": "{{ labels.timeline }}: {{ period_start }}"
                "{% if period_end %}–{{ period_end }}{% endif %}",
    "shares_0": "{{ labels.shares }}: {{ shares[0].left_label }} {{ shares[0].left_pct }}, "
                "{{ shares[0].right_label }} {{ shares[0].right_pct }}",
    "shares_0_labels": "{{ labels.shares }}: {{ shares[0].left_label }}, "
                       "{{ shares[0].right_label }}",
    "shares_1": "{{ labels.shares }}: {{ shares[1].left_label }} {{ shares[1].left_pct }}, "
                "{{ shares[1].right_label }} {{ shares[1].right_pct }}",
    "shares_1_labels": "{{ labels.shares }}: {{ shares[1].left_label }}, "
                       "{{ shares[1].right_label }}",
    "trl": "{{ labels.trl }} {{ trl_range }}",
    "mrl": "{{ labels.mrl }}: {{ mrl }}",
    "preconditions": "{{ labels.preconditions }}",
    "organisations": "{{ labels.organisations }}",
}
"""The description (Table Properties → Alt Text) of each marked table, as template text: the
template tool writes them, and the build puts one back where it is missing (LibreOffice drops
every table description when it saves a .docx), so every sheet's tables are described in the
sheet's own language."""

DATA_TABLES = frozenset({"preconditions"})
"""Marked tables that hold data (a header row, read as column headings); the others lay out
the page."""

_SHARE_MARKER = re.compile(r"nr_shares_(\d+)$")
_LO_ONOFF_ONLY = ("w:tblHeader", "w:cantSplit", "w:hidden")
"""Row properties whose ``w:val`` may only be ``on``/``off`` (LibreOffice writes ``true``)."""


def _marked_tables(root: etree._Element) -> dict[str, etree._Element]:
    """The marked tables of a part, by role (the first table that holds each marker)."""
    found: dict[str, etree._Element] = {}
    for mark in root.iter(qn("w:bookmarkStart")):
        name = mark.get(qn("w:name"), "")
        if not name.startswith(MARKER_PREFIX):
            continue
        tbl = next(mark.iterancestors(qn("w:tbl")), None)
        if tbl is not None:
            found.setdefault(name[len(MARKER_PREFIX):], tbl)
    return found


_PREPARED: dict[str, bytes] = {}


def prepare_template(data: bytes) -> bytes:
    """The template as the build uses it: every marked table without a description gets
    its description back (:data:`TABLE_DESCRIPTIONS`), and row flags LibreOffice writes as
    ``w:val="true"`` are written as the schema wants.  The template file is not changed."""
    key = hashlib.sha256(data).hexdigest()
    prepared = _PREPARED.get(key)
    if prepared is not None:
        return prepared
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        root = etree.fromstring(src.read("word/document.xml"))
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError):
        return data  # check_template reports it
    changed = False
    for role, tbl in _marked_tables(root).items():
        description = TABLE_DESCRIPTIONS.get(role)
        tbl_pr = tbl.find(qn("w:tblPr"))
        if description is None or tbl_pr is None or tbl_pr.find(qn("w:tblDescription")) is not None:
            continue
        ooxml.set_child(tbl_pr, ooxml.el("w:tblDescription", val=description))
        changed = True
    for tag in _LO_ONOFF_ONLY:
        for flag in root.iter(qn(tag)):
            value = flag.get(qn("w:val"))
            if value in ("true", "1", "on"):
                del flag.attrib[qn("w:val")]
                changed = True
            elif value in ("false", "0"):
                flag.set(qn("w:val"), "off")
                changed = True
    if changed:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                blob = src.read(info.filename)
                if info.filename == "word/document.xml":
                    blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                          standalone=True)
                dst.writestr(info, blob)
        prepared = out.getvalue()
    else:
        prepared = data
    if len(_PREPARED) >= 16:
        _PREPARED.clear()
    _PREPARED[key] = prepared
    return prepared


# --- checking the template ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Tag:
    part: str
    text: str
    where: str = ""
    """Where a template author finds the tag: the part and the paragraph's visible text."""


_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
"""The curly quotes Word's AutoFormat types, read inside a tag as straight quotes (the same
four docxtpl's ``patch_xml`` straightens before Jinja reads a tag)."""

_PART_NAMES = (("word/document.xml", "body"), ("word/header", "header"),
               ("word/footer", "footer"), ("word/footnotes", "footnotes"),
               ("word/endnotes", "endnotes"))

_IGNORABLE = {qn(f"w:{t}") for t in (
    "proofErr bookmarkStart bookmarkEnd lastRenderedPageBreak softHyphen rPr permStart "
    "permEnd").split()}
"""Markup Word puts between the pieces of a typed tag without meaning anything for it
(proofing marks, bookmarks, the run formatting); revision ids (``w:rsidR`` ...) are
attributes and never split a tag themselves."""

_SEPARATORS = {qn(f"w:{t}"): what for t, what in (
    ("tab", "a tab"), ("ptab", "a tab"), ("br", "a line break"), ("cr", "a line break"),
    ("drawing", "a picture"), ("pict", "a picture"), ("object", "an object"),
    ("fldChar", "a field"), ("instrText", "a field"), ("delText", "a tracked change"),
    ("sym", "a symbol"), ("footnoteReference", "a footnote"),
    ("endnoteReference", "an endnote"), ("commentReference", "a comment"),
    ("commentRangeStart", "a comment"), ("commentRangeEnd", "a comment"),
    ("noBreakHyphen", "a non-breaking hyphen"))}
"""Content that means something: a tag interrupted by one of these cannot be read."""

_CONTAINERS = {qn(f"w:{t}"): what for t, what in (
    ("ins", "a tracked change"), ("del", "a tracked change"), ("moveFrom", "a tracked change"),
    ("moveTo", "a tracked change"), ("hyperlink", "a hyperlink"),
    ("sdt", "a content control"), ("sdtContent", "a content control"),
    ("smartTag", "a smart tag"), ("fldSimple", "a field"), ("customXml", "custom XML"))}
"""Elements that wrap runs: a tag whose pieces lie in different ones cannot be joined."""

_SKIP_INSIDE = {qn("w:drawing"), qn("w:pict"), qn("w:object"), qn("w:rPr"), qn("w:pPr")}


def part_label(part: str) -> str:
    """A part as a template author knows it: ``body``, ``header``, ``footer`` ..."""
    return next((label for prefix, label in _PART_NAMES if part.startswith(prefix)), part)


def _visible(text: str, start: int, end: int, room: int = 30) -> str:
    """The paragraph text around ``text[start:end]`` as a template author sees it, quoted."""
    a, b = max(0, start - room), min(len(text), end + room)
    shown = text[a:b].strip()
    return f"“{'…' if a > 0 else ''}{shown}{'…' if b < len(text) else ''}”"


def _paragraph_items(p: etree._Element) -> tuple[str, list[tuple[int, int, tuple]], list]:
    """The visible text of ``p`` (its own runs, not those of nested text boxes), its
    ``w:t`` pieces as (start, end, containers) and its separators as (offset, what)."""
    text: list[str] = []
    pieces: list[tuple[int, int, tuple]] = []
    seps: list[tuple[int, str]] = []
    pos = 0

    def walk(node: etree._Element, containers: tuple) -> None:
        nonlocal pos
        for child in node:
            tag = child.tag
            if not isinstance(tag, str) or tag == qn("w:p"):
                continue
            if tag == qn("w:t"):
                piece = child.text or ""
                pieces.append((pos, pos + len(piece), containers))
                text.append(piece)
                pos += len(piece)
            elif tag in _SEPARATORS:
                seps.append((pos, _SEPARATORS[tag]))
            elif tag in _CONTAINERS:
                walk(child, containers + (id(child), _CONTAINERS[tag]))
            elif tag not in _SKIP_INSIDE:
                walk(child, containers)

    walk(p, ())
    return "".join(text), pieces, seps


def _spoilers(start: int, end: int, pieces: list, seps: list) -> list[str]:
    """What in a tag at ``[start, end)`` of its paragraph keeps it from being read: the
    separators inside it, and the wrappers its pieces do not share."""
    found = [what for at, what in seps if start < at < end]
    chains = {c for a, b, c in pieces if a < end and b > start and b > a}
    if len(chains) > 1:
        shared = set.intersection(*(set(zip(c[::2], c[1::2])) for c in chains))
        every = set().union(*(set(zip(c[::2], c[1::2])) for c in chains))
        found += [what for _, what in sorted(every - shared, key=lambda x: x[1])]
    return list(dict.fromkeys(found))


_ATTRIBUTE_TAGS = ((qn("w:tblDescription"), qn("w:val"), "table description"),
                   (qn("w:tblCaption"), qn("w:val"), "table title"))


def _scan(data: bytes, where: Path) -> tuple[list[_Tag], list[str]]:
    """Every tag of the template's text parts in document order, and the problems found."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = package.namelist()
    except zipfile.BadZipFile as exc:
        raise TemplateError(where, "not a Word document (.docx): save it from Word as "
                            "'Word Document (*.docx)'") from exc
    if "word/document.xml" not in names:
        raise TemplateError(where, "not a Word document (.docx): word/document.xml is missing")
    parts = sorted((n for n in names if _TEXT_PARTS.match(n)),
                   key=lambda n: (n != "word/document.xml", n))
    tags: list[_Tag] = []
    problems: list[str] = []
    for part in parts:
        label = part_label(part)
        try:
            root = etree.fromstring(package.read(part))
        except etree.XMLSyntaxError as exc:
            raise TemplateError(where, f"{label} ({part}): is not well-formed XML ({exc}); "
                                "open and save the template in Word again") from exc
        for element in root.iter(*(tag for tag, _, _ in _ATTRIBUTE_TAGS)):
            attr, what = next((a, w) for t, a, w in _ATTRIBUTE_TAGS if t == element.tag)
            value = (element.get(attr) or "").translate(_SMART_QUOTES)
            for match in _TAG.finditer(value):
                tags.append(_Tag(part, match.group(0), f"{label}, {what} “{value}”"))
        for p in root.iter(qn("w:p")):
            text, pieces, seps = _paragraph_items(p)
            if not any(ch in text for ch in "{}%#"):
                continue
            read = text.translate(_SMART_QUOTES)
            for match in _TAG.finditer(read):
                at = f"{label}, paragraph {_visible(text, match.start(), match.end())}"
                tags.append(_Tag(part, match.group(0), at))
                spoilers = _spoilers(match.start(), match.end(), pieces, seps)
                if spoilers:
                    problems.append(
                        f"{at}: the tag {match.group(0)} is interrupted by "
                        f"{' and '.join(spoilers)}, so it cannot be read; take "
                        f"{'them' if len(spoilers) > 1 else 'it'} out of the tag (or select "
                        "the whole tag, delete it and type it again)")
            rest = _TAG.sub(lambda mt: " " * len(mt.group(0)), read)
            for match in _OPENERS.finditer(rest):
                closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[match.group(0)]
                problems.append(
                    f"{label}, paragraph {_visible(text, match.start(), match.end())}: a tag "
                    f"is opened with '{match.group(0)}' but not closed with '{closer}' in the "
                    "same paragraph; a tag must stand within one paragraph")
            for match in _CLOSERS.finditer(rest):
                if not _OPENERS.search(rest[:match.start()]):
                    problems.append(
                        f"{label}, paragraph {_visible(text, match.start(), match.end())}: "
                        f"'{match.group(0)}' closes no tag; delete it or complete the tag")
    return tags, problems


def _jinja_source(tag: str) -> str | None:
    """The tag as plain Jinja2 (docxtpl's p/tr/tc/r letters and special tags undone)."""
    stmt = _STATEMENT.match(tag)
    if stmt:
        body = stmt.group(3)
        word = body.split(maxsplit=1)[0] if body else ""
        if word in ("vm", "hm"):
            return None
        if word in ("cellbg", "colspan"):
            return "{{ " + body[len(word):].strip() + " }}"
        return "{% " + body + " %}"
    expr = _EXPRESSION.match(tag)
    if expr:
        return "{{ " + expr.group(3) + " }}"
    return None  # a comment


def _letter(tag: str) -> str:
    """docxtpl's letter of a statement tag: ``p``, ``tr``, ``tc``, ``r`` or ``""``."""
    stmt = _STATEMENT.match(tag)
    return (stmt.group(2) or "") if stmt else ""


def _spelled(word: str, letter: str) -> str:
    """A statement as an author types it: ``{%p endif %}``, ``{% endfor %}``."""
    return "{%" + (letter + " " if letter else " ") + word + " %}"


def _blocks(tags: list[_Tag]) -> list[str]:
    """Problems with block structure: never closed, closed wrongly or with another p/tr/tc
    letter than it was opened with, else without if."""
    problems: list[str] = []
    stack: list[tuple[str, _Tag]] = []
    for tag in tags:
        source = _jinja_source(tag.text)
        if not source or not source.startswith("{%"):
            continue
        body = source[2:-2].strip()
        word = body.split(maxsplit=1)[0] if body else ""
        letter = _letter(tag.text)
        if word in _BLOCKS or (word == "set" and "=" not in body):
            stack.append((word, tag))
        elif word.startswith("end"):
            wanted = word[3:]
            if not stack:
                problems.append(f"{tag.where}: {tag.text} has no open block to close; "
                                "delete it or add the missing "
                                f"{{% {wanted} ... %}} before it")
            elif stack[-1][0] != wanted:
                kw, opener = stack.pop()
                problems.append(f"{tag.where}: the open block is {opener.text} ({opener.where}), "
                                "which must be closed with "
                                f"{_spelled('end' + kw, _letter(opener.text))} first")
            else:
                _, opener = stack.pop()
                opened = _letter(opener.text)
                if letter != opened:
                    problems.append(
                        f"{tag.where}: {tag.text} closes {opener.text} ({opener.where}), which "
                        f"was opened with {_kind(opened)}: close it with "
                        f"{_spelled(word, opened)} (the same p/tr/tc letter)")
        elif word in ("else", "elif") and (not stack or stack[-1][0] not in ("if", "for")):
            problems.append(f"{tag.where}: {tag.text} is in no open if or for block")
        elif word in ("else", "elif") and letter != _letter(stack[-1][1].text):
            opener = stack[-1][1]
            opened = _letter(opener.text)
            problems.append(
                f"{tag.where}: {tag.text} belongs to {opener.text} ({opener.where}), which was "
                f"opened with {_kind(opened)}: write it "
                f"{_spelled(word if word == 'else' else word + ' …', opened)} (the same p/tr/tc "
                "letter)")
    for word, opener in stack:
        problems.append(f"{opener.where}: the block {opener.text} is never closed: add "
                        f"{_spelled('end' + word, _letter(opener.text))} after the part it "
                        "repeats or shows")
    return problems


_KINDS = {"p": "{%p (a paragraph tag)", "tr": "{%tr (a table row tag)",
          "tc": "{%tc (a table cell tag)", "r": "{%r (a run tag)", "": "{% (an inline tag)"}


def _kind(letter: str) -> str:
    return _KINDS.get(letter, "{%" + letter)


def _names(tags: list[_Tag], context: Mapping[str, Any],
           env: jinja2.Environment) -> list[str]:
    """Syntax errors and unknown names (top-level, and keys of top-level mappings)."""
    sources = [(tag, _jinja_source(tag.text)) for tag in tags]
    sources = [(tag, src) for tag, src in sources if src]
    text = "\n".join(src for _, src in sources)
    try:
        tree = env.parse(text)
        env.compile(tree, raw=True)  # an unknown filter or test is found as the code is made
    except jinja2.TemplateSyntaxError as exc:  # also TemplateAssertionError
        line = min(max((exc.lineno or 1) - 1, 0), len(sources) - 1)
        # Jinja counts characters into the text it was given: meaningless to an author
        message = re.sub(r"\s+at \d+$", "", (exc.message or "").rstrip("."))
        return [f"{sources[line][0].where}: {message}; the filters and names a template may "
                f"use are listed in {REFERENCE}"]
    problems: list[str] = []

    def tag_using(pattern: str) -> str:
        regex = re.compile(pattern)
        return next((t.where for t, src in sources if regex.search(src)), "?")

    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        word = {nodes.Include: "include", nodes.Import: "import",
                nodes.FromImport: "from", nodes.Extends: "extends"}[type(node)]
        pattern = r"^\{%\s*" + word + r"\b"
        problems.append(f"{tag_using(pattern)}: a Word template cannot "
                        f"{'use' if word == 'from' else word} other files ({{% {word} … %}}); "
                        f"put the part in this template; see {REFERENCE}")
    known = set(context) | set(env.globals)
    for name in sorted(meta.find_undeclared_variables(tree) - known):
        pattern = r"\b" + re.escape(name) + r"\b"
        problems.append(f"{tag_using(pattern)}: unknown name {name!r}; the names a template "
                        f"may use are listed in {REFERENCE}")
    for node in tree.find_all(nodes.Getattr):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in context:
            continue
        value = context[target.name]
        fields = (value if isinstance(value, Mapping)
                  else vars(value) if isinstance(value, SimpleNamespace) else None)
        if fields is not None and node.attr not in fields:
            pattern = rf"\b{re.escape(target.name)}\s*\.\s*{re.escape(node.attr)}\b"
            problems.append(f"{tag_using(pattern)}: unknown name "
                            f"'{target.name}.{node.attr}'; the names a template may use are "
                            f"listed in {REFERENCE}")
    return problems


_SHARES_TAG = re.compile(r"\bshares\s*\[\s*(\d+)\s*\]")
_SHARES_CAPTION = re.compile(r"shares\[(\d+)\]")


def share_bar_tables(root: etree._Element) -> dict[int, etree._Element]:
    """The share bars of a document body by index: the table holding the bookmark
    ``nr_shares_<i>`` (what the template marks them with, kept by Word and LibreOffice), or
    one with the alt-text title ``shares[i]`` (older templates)."""
    bars: dict[int, etree._Element] = {}
    for role, tbl in _marked_tables(root).items():
        match = _SHARE_MARKER.fullmatch(MARKER_PREFIX + role)
        if match:
            bars.setdefault(int(match.group(1)), tbl)
    for caption in root.iter(qn("w:tblCaption")):
        match = _SHARES_CAPTION.fullmatch(caption.get(qn("w:val"), "").strip())
        tbl = caption.getparent().getparent() if caption.getparent() is not None else None
        if match and tbl is not None and tbl.tag == qn("w:tbl"):
            bars.setdefault(int(match.group(1)), tbl)
    return bars


def _share_bars(data: bytes, tags: list[_Tag], count: int = 2) -> list[str]:
    """Share bars the build cannot size: for each ``shares[i]`` a tag of the body uses, one
    table of the body must hold the bookmark ``nr_shares_<i>`` and be one row of two cells.
    A ``shares[i]`` past the ``count`` share bars there are is reported where it stands."""
    problems = []
    for tag in tags:
        for m in _SHARES_TAG.finditer(tag.text):
            if int(m.group(1)) >= count:
                problems.append(
                    f"{tag.where}: there is no {m.group(0).replace(' ', '')}: the share bars "
                    f"are {', '.join(f'shares[{i}]' for i in range(count))}; see {REFERENCE}")
    if problems:
        return list(dict.fromkeys(problems))
    used = sorted({int(m.group(1)) for tag in tags if tag.part == "word/document.xml"
                   for m in _SHARES_TAG.finditer(tag.text)})
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    bars = share_bar_tables(root)
    for index in used:
        name, mark = f"shares[{index}]", marker_name(f"shares_{index}")
        tbl = bars.get(index)
        if tbl is None:
            problems.append(
                f"body, share bar {name}: no table holds the bookmark '{mark}', so the build "
                "cannot find this share bar to size it (deleting the bar's first cell or its "
                "text deletes the bookmark); in Word, click in the bar's first cell, Insert → "
                f"Bookmark, and add '{mark}'; see {REFERENCE}")
            continue
        rows = tbl.findall(qn("w:tr"))
        grid = tbl.find(qn("w:tblGrid"))
        cols = grid.findall(qn("w:gridCol")) if grid is not None else []
        if len(rows) != 1 or len(rows[0].findall(qn("w:tc"))) != 2 or len(cols) != 2:
            problems.append(
                f"body, share bar {name}: the table with the bookmark '{mark}' is a share bar "
                "and must be one row of two cells (no merged or split cells), whose widths "
                f"the build sets; give it back its two cells; see {REFERENCE}")
    return problems


_CHECKED: dict[tuple, list[str]] = {}
"""Problems found in a template, by (template sha256, path, names the context offers)."""


def _context_shape(context: Mapping[str, Any]) -> tuple:
    """What :func:`_names` looks at in a context: its names, and the field names of each
    value that is a mapping or a namespace."""
    shape = []
    for name, value in context.items():
        fields = (value if isinstance(value, Mapping)
                  else vars(value) if isinstance(value, SimpleNamespace) else None)
        shape.append((name, None if fields is None else tuple(sorted(map(str, fields)))))
    return tuple(sorted(shape, key=lambda item: item[0]))


def check_template(data: bytes, where: Path, context: Mapping[str, Any]) -> None:
    """Check the template's tags before rendering (see the module docstring).

    ``data`` are the .docx bytes, ``where`` its path (for messages), ``context`` the names
    it may use.  Raises :class:`TemplateError` (one problem) or :class:`ErrorGroup` of them.
    The problems depend only on the template's bytes and on the names the context offers,
    so they are found once per template and set of names and remembered.
    """
    key = (hashlib.sha256(data).hexdigest(), str(where), _context_shape(context))
    errors = _CHECKED.get(key)
    if errors is None:
        tags, problems = _scan(data, where)
        if not problems:
            problems = _blocks(tags)
        if not problems:
            problems = _names(tags, context, _environment())
        if not problems:
            shares = context.get("shares")
            problems = _share_bars(data, tags,
                                   len(shares) if isinstance(shares, (list, tuple)) else 2)
        errors = list(dict.fromkeys(problems))
        if len(_CHECKED) >= 32:
            _CHECKED.clear()
        _CHECKED[key] = errors
    if len(errors) == 1:
        raise TemplateError(where, errors[0])
    if errors:
        raise ErrorGroup([TemplateError(where, e) for e in errors])


# --- rendering ----------------------------------------------------------------------------------

def build_time() -> datetime:
    """The time a build stamps on documents: ``SOURCE_DATE_EPOCH`` when set, else now (UTC).

    Raises ``ValueError`` for a SOURCE_DATE_EPOCH that is not a whole number of seconds.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


@sheet_renderer
def render_docx(view: SheetView, theme: Theme, *, now: datetime | None = None) -> bytes:
    """Fill ``theme.sheet_docx`` with ``view`` and return the .docx bytes.

    ``now`` stamps the core properties created/modified (default :func:`build_time`).
    Raises :class:`TemplateError` (or :class:`ErrorGroup`) for a missing or broken template,
    :class:`~nexusreports.errors.ContentOverflow` for a sheet taller than its page.
    """
    doc, where = _filled_and_checked(view, theme)
    ooxml.drop_styles_with_effects(doc)
    set_language(doc, view.locale_id)
    stamp = (now or build_time()).astimezone(timezone.utc).replace(microsecond=0, tzinfo=None)
    props = doc.core_properties
    info = view.info
    props.title = core_property(info.title)
    props.subject = core_property(info.subject)
    props.author = core_property(info.author)
    props.last_modified_by = CREATOR
    props.keywords = core_property(info.keywords)
    props.language = info.language
    props.comments = ""
    props.category = ""
    props.content_status = ""
    props.identifier = ""
    props.version = ""
    props.revision = 1
    props.created = stamp
    props.modified = stamp
    parts, trees = _package_parts(doc)
    return _repack_parts(parts, where, trees)


def check_sheet_fit(view: SheetView, theme: Theme) -> None:
    """Everything :func:`render_docx` checks, without writing the document: the template,
    the rendering, the width of the tables and the one-page fit (:func:`.fit.check_fit`).

    Raises what :func:`render_docx` raises; the core properties, the language and the zip,
    which cannot fail for a sheet that got this far, are left out (for ``validate``)."""
    _filled_and_checked(view, theme)


def _filled_and_checked(view: SheetView, theme: Theme) -> tuple[Any, Path]:
    """The filled sheet (python-docx document) and the template's path, checked to fit."""
    where = theme.sheet_docx
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise TemplateError(where, f"the Word template is missing ({exc.strerror}): put the "
                            "Word template (sheet.docx) in this folder, for example a copy of "
                            "the shipped one") from exc
    data = prepare_template(data)
    context = sheet_context(view)  # the logos are added once there is a document for them
    check_template(data, where, context)
    tpl = _Template(data, hashlib.sha256(data).hexdigest())
    tpl.init_docx()
    _add_logos(context, view, tpl)
    try:
        tpl.render(context, _environment(), autoescape=True)
    except jinja2.TemplateError as exc:
        near = " ".join(getattr(exc, "docx_context", []) or [])
        found = _TAG.search(near.translate(_SMART_QUOTES))
        tag = found.group(0) if found else near.strip()[:60] or "?"
        # where the author finds it: the part and paragraph of the first tag that reads so,
        # or that uses the attribute Jinja names (its runtime errors carry no line)
        scanned = _scan(data, where)[0]
        attr = re.search(r"has no attribute '([^']+)'", str(exc.message or exc))
        at = next((t.where for t in scanned if t.text == tag), None) or next(
            (t.where for t in scanned if attr and re.search(
                rf"\.\s*{re.escape(attr.group(1))}\b", t.text)), tag)
        message = re.sub(r"'types\.SimpleNamespace object'", "this item",
                         str(exc.message or exc).rstrip("."))
        raise TemplateError(where, f"{at}: {message}; the names a template may use are listed "
                            f"in {REFERENCE}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # a filter or operator given a value of another kind ({{ size | round }}: every
        # number comes formatted, as text); Jinja names no tag, so find the one that fails
        at = _failing_tag(_scan(data, where)[0], context, type(exc)) or "body"
        raise TemplateError(where, f"{at}: this tag cannot be rendered ({exc}); every value "
                            "comes as text, already formatted for the language, so filters "
                            "and arithmetic for numbers (round, int, float, format, sum, +, -) "
                            f"do not apply; see {REFERENCE}") from exc
    doc = tpl.docx
    if doc.element.body.find(qn("w:sectPr")) is None:
        # a block whose tags the checks could pair removed the end of the body with it
        raise TemplateError(where, "body: rendering removed the page settings at the end of "
                            "the document; a {% if %} or {% for %} and its end enclose more "
                            f"than the part they should show or repeat; see {REFERENCE}")
    _fit_grids(doc)
    _size_share_bars(doc, view)
    _one_year_timeline(doc, view)
    _drop_markers(doc)
    check_width(doc, where)
    check_fit(doc, view, theme, where)
    return doc, where


_EXPRESSION_OF = re.compile(r"^\{%\s*(?:if|elif)\s+(.*?)\s*%\}$"
                            r"|^\{%\s*for\s+.+?\s+in\s+(.*?)\s*%\}$", re.S)


def _failing_tag(tags: list[_Tag], context: Mapping[str, Any], kind: type) -> str | None:
    """Where the first tag stands whose expression, evaluated alone, raises ``kind``
    (tags that use a loop's variable cannot be evaluated alone and are passed over)."""
    env = _environment()
    for tag in tags:
        source = _jinja_source(tag.text)
        if not source:
            continue
        if source.startswith("{{"):
            expression = source[2:-2].strip()
        else:
            found = _EXPRESSION_OF.match(source)
            expression = next((g for g in found.groups() if g), None) if found else None
        if not expression:
            continue
        try:
            env.from_string("{{ " + expression + " }}").render(context)
        except kind:
            return tag.where
        except Exception:  # noqa: BLE001 - a loop variable, or another problem
            continue
    numeric = re.compile(r"\|\s*(round|int|float|format|sum|abs|max|min)\b|\s[-+*/]\s")
    return next((tag.where for tag in tags if tag.text.startswith(("{{", "{%"))
                 and numeric.search(tag.text[2:-2])), None)


def core_property(text: str) -> str:
    """``text`` cut to :data:`CORE_PROPERTY_MAX` characters (ending in "…" when cut): a
    core property may hold no more.  Only the document properties are cut; the sheet itself
    prints the whole text.

    >>> core_property("x" * 300)[-3:], len(core_property("x" * 300))
    ('xx…', 255)
    """
    if len(text) <= CORE_PROPERTY_MAX:
        return text
    return text[:CORE_PROPERTY_MAX - 1].rstrip() + "…"


class _PartCollector:
    """Stands in for python-docx's zip writer: keeps each part's bytes by member name."""

    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}

    def write(self, pack_uri: Any, blob: bytes) -> None:
        self.parts[pack_uri.membername] = blob

    def close(self) -> None:
        pass


def _package_parts(doc: Any) -> tuple[dict[str, bytes], frozenset[str]]:
    """The parts ``doc.save`` would zip, by member name, without zipping them (they are
    zipped once, by :func:`_repack_parts`), and the names of those python-docx serialized
    from a parsed element tree (XML parts, relationships, content types).  Falls back to
    saving and reading the zip back (naming no part as serialized) if python-docx's package
    writer is not as expected."""
    try:
        from docx.opc.packuri import CONTENT_TYPES_URI, PACKAGE_URI
        from docx.opc.part import XmlPart
        from docx.opc.pkgwriter import _ContentTypesItem

        package = doc.part.package
        parts = list(package.parts)
        for part in parts:
            part.before_marshal()
        collector = _PartCollector()
        # what PackageWriter.write writes, with the content types and relationships (the
        # same for every sheet) serialized once per distinct content
        types = ("types", *((part.partname, part.content_type) for part in parts))
        blob = _PACKAGE_XML.get(types)
        if blob is None:
            blob = _keep(_PACKAGE_XML, types, _ContentTypesItem.from_parts(parts).blob)
        collector.write(CONTENT_TYPES_URI, blob)
        collector.write(PACKAGE_URI.rels_uri, _rels_xml(package.rels))
        for part in parts:
            collector.write(part.partname, part.blob)
            if len(part.rels):
                collector.write(part.partname.rels_uri, _rels_xml(part.rels))
        trees = {part.partname.membername for part in package.parts
                 if isinstance(part, XmlPart)}
        trees.update(name for name in collector.parts
                     if name == "[Content_Types].xml" or name.endswith(".rels"))
        return collector.parts, frozenset(trees)
    except (AttributeError, ImportError):  # pragma: no cover - another python-docx
        buf = io.BytesIO()
        doc.save(buf)
        src = zipfile.ZipFile(buf)
        return {name: src.read(name) for name in src.namelist()}, frozenset()


_PACKAGE_XML: dict[tuple, Any] = {}
"""The content types and relationship items already serialized, by what they list."""


def _keep(cache: dict, key: Any, value: Any) -> Any:
    if len(cache) >= 64:
        cache.clear()
    cache[key] = value
    return value


def _rels_xml(rels: Any) -> Any:
    """``rels.xml`` (a part's relationships as a .rels item), made once per distinct list."""
    key = ("rels", *((rel.rId, rel.reltype, rel.target_ref, rel.is_external)
                     for rel in rels.values()))
    xml = _PACKAGE_XML.get(key)
    if xml is None:
        xml = _keep(_PACKAGE_XML, key, rels.xml)
    return xml


_QN = {name: qn(f"w:{name}") for name in (
    "tbl", "tr", "tblGrid", "tc", "gridSpan", "tcPr", "tcW", "type", "w", "gridCol", "tblPr",
    "tblW", "bookmarkStart", "bookmarkEnd", "name", "id")}
"""``w:`` names in Clark notation for the steps after rendering (they run on every sheet)."""


def _fit_grids(doc: Any) -> None:
    """Make each table's grid match its cells after ``{%tc %}`` loops changed their number.

    A table whose rows all have the same number of cells, none spanning, each with a width
    in twips, gets one grid column per cell with the first row's widths (docxtpl only adds
    or drops columns at the end, which skews a fixed-layout table).
    """
    q = _QN
    for tbl in doc.element.body.iter(q["tbl"]):
        # (children found with iterchildren, which lxml does without parsing a path as
        # find and findall do: this runs on every table of every sheet)
        rows = list(tbl.iterchildren(q["tr"]))
        grid = next(tbl.iterchildren(q["tblGrid"]), None)
        if not rows or grid is None:
            continue
        counts = {sum(1 for _ in r.iterchildren(q["tc"])) for r in rows}
        if len(counts) != 1 or next(tbl.iter(q["gridSpan"]), None) is not None:
            continue
        widths = []
        for tc in rows[0].iterchildren(q["tc"]):
            tc_w = _grandchild(tc, q["tcPr"], q["tcW"])
            if tc_w is None or tc_w.get(q["type"]) != "dxa":
                break
            widths.append(tc_w.get(q["w"]))
        else:
            if not _is_grid(grid, widths):
                for col in list(grid.iterchildren(q["gridCol"])):
                    grid.remove(col)
                for width in widths:
                    etree.SubElement(grid, q["gridCol"]).set(q["w"], width)
            tbl_w = _grandchild(tbl, q["tblPr"], q["tblW"])
            if tbl_w is not None and tbl_w.get(q["type"]) == "dxa":
                tbl_w.set(q["w"], str(sum(int(w) for w in widths)))


def _grandchild(element: etree._Element, child: str, grandchild: str) -> etree._Element | None:
    """``element.find("child/grandchild")``: the first ``grandchild`` of a ``child``."""
    for kid in element.iterchildren(child):
        for found in kid.iterchildren(grandchild):
            return found
    return None


def _is_grid(grid: etree._Element, widths: list[str | None]) -> bool:
    """Whether ``grid`` is already what :func:`_fit_grids` would make of it: nothing but one
    bare ``w:gridCol`` per width, with that width (most tables, whose cells no loop made)."""
    cols = list(grid)
    return len(cols) == len(widths) and all(
        width is not None and col.tag == _QN["gridCol"] and col.get(_QN["w"]) == width
        and len(col.attrib) == 1
        and len(col) == 0 and col.text is None and col.tail is None
        for col, width in zip(cols, widths))


def _size_share_bars(doc: Any, view: SheetView) -> None:
    """Give the cells of each share bar widths in proportion to the shares."""
    for index, tbl in share_bar_tables(doc.element.body).items():
        if index >= len(view.shares):
            continue
        for caption in tbl.findall(f"{qn('w:tblPr')}/{qn('w:tblCaption')}"):
            caption.getparent().remove(caption)  # an older template's finding aid, no title
        fraction = view.shares[index].left_fraction
        grid = tbl.find(qn("w:tblGrid"))
        cols = grid.findall(qn("w:gridCol"))
        row = tbl.find(qn("w:tr"))
        cells = row.findall(qn("w:tc")) if row is not None else []
        if len(cols) != 2 or len(cells) != 2:
            continue
        total = sum(int(c.get(qn("w:w"), "0")) for c in cols)
        left = round(total * fraction)
        widths = [left, total - left]
        for col, cell, width in zip(cols, cells, widths):
            if width <= 0:
                grid.remove(col)
                row.remove(cell)
                continue
            col.set(qn("w:w"), str(width))
            tc_w = cell.find(f"{qn('w:tcPr')}/{qn('w:tcW')}")
            if tc_w is not None:
                tc_w.set(qn("w:w"), str(width))
                tc_w.set(qn("w:type"), "dxa")


def _one_year_timeline(doc: Any, view: SheetView) -> None:
    """For a period of one year (``period_end`` is ``""``) the timeline table shows that year
    alone: its row of start and end labels is removed, and the line towards the end."""
    if view.period_end:
        return
    tbl = _marked_tables(doc.element.body).get("timeline")
    rows = tbl.findall(qn("w:tr")) if tbl is not None else []
    if len(rows) != 2:
        return
    tbl.remove(rows[0])
    for border in rows[1].iter(qn("w:pBdr")):
        border.getparent().remove(border)


def _drop_markers(doc: Any) -> None:
    """Remove the marker bookmarks (``nr_...``) from the filled sheet: they only guide the
    build, and in the bundle the same names would repeat on every sheet.  A bookmark end
    whose start is gone goes too (LibreOffice writes some starts twice)."""
    body = doc.element.body
    gone = set()
    for mark in list(body.iter(_QN["bookmarkStart"])):
        if (mark.get(_QN["name"]) or "").startswith(MARKER_PREFIX):
            gone.add(mark.get(_QN["id"]))
            mark.getparent().remove(mark)
    starts = {m.get(_QN["id"]) for m in body.iter(_QN["bookmarkStart"])}
    for end in list(body.iter(_QN["bookmarkEnd"])):
        if end.get(_QN["id"]) in gone or end.get(_QN["id"]) not in starts:
            end.getparent().remove(end)


def set_auto_hyphenation(settings: etree._Element) -> None:
    """Switch on ``w:autoHyphenation`` in a ``w:settings`` element, in schema order."""
    ooxml.set_auto_hyphenation(settings)


def set_language(doc: Any, locale_id: str) -> None:
    """Set the document language (style defaults and every style that names one) and
    automatic hyphenation."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = ooxml.el("w:docDefaults")
        styles.insert(0, defaults)
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        rpr_default = ooxml.el("w:rPrDefault")
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = ooxml.el("w:rPr")
        rpr_default.append(rpr)
    ooxml.set_lang(rpr, locale_id)
    for style_lang in styles.iterfind(f".//{qn('w:style')}//{qn('w:lang')}"):
        style_lang.set(qn("w:val"), locale_id)
    settings = doc.settings.element
    theme_lang = settings.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:val"), locale_id)
    set_auto_hyphenation(settings)


_APP_XML = (b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
            b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            b'extended-properties"><Application>' + CREATOR.encode() +
            b"</Application></Properties>")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


_CHECKED_PARTS: dict[tuple[str, bytes], bytes] = {}
"""Parts that passed :func:`_check_part` with a parse, by (name, bytes): the parts python-docx
keeps as bytes (fonts table, theme ...) are the same bytes for every sheet and are checked
once.  The parts it serializes from trees are new bytes on every sheet and need no parse, so
they are checked each time and not kept (memory does not grow with the sheets)."""


def _repack_parts(parts: Mapping[str, bytes], where: Path,
                  trees: frozenset[str] = frozenset()) -> bytes:
    """Check and rewrite a rendered .docx given as its parts by member name (in the
    package's order): well-formed parts, no leftover tags, the guard characters removed,
    ``docProps/app.xml`` naming this tool, entries in a fixed order with fixed timestamps.

    Parts named in ``trees`` were serialized by lxml from an element tree: lxml writes
    well-formed XML only (it refuses text and names XML cannot hold when they are set, and
    removing the guard characters from text keeps it so), so they are not parsed again.

    Raises :class:`TemplateError` naming the part when a tag survived rendering or a part is
    not well-formed XML.
    """
    names = list(parts)
    first = [n for n in ("[Content_Types].xml", "_rels/.rels") if n in names]
    order = first + sorted(n for n in names if n not in first)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in order:
            blob = parts[name]
            if name in trees:  # quick to check, and new bytes on every sheet
                blob = _check_part(name, blob, where, parse=False)
            elif name.endswith((".xml", ".rels")):
                checked = _CHECKED_PARTS.get((name, blob))
                if checked is None:
                    checked = _check_part(name, blob, where)
                    if len(_CHECKED_PARTS) >= 256:
                        _CHECKED_PARTS.clear()
                    _CHECKED_PARTS[(name, blob)] = checked
                blob = checked
            if name == "docProps/app.xml":
                blob = _APP_XML
            _write_entry(dst, _entry_info(name), blob)
    return out.getvalue()


def _entry_info(name: str) -> zipfile.ZipInfo:
    """A zip entry of a sheet: deflated, fixed time, mode 644, made on Unix."""
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    return info


_DEFLATED: dict[bytes, tuple[int, bytes]] = {}
"""The CRC and deflated bytes of part contents met more than once, by content: most parts
(styles, theme, settings in each language ...) are the same bytes on every sheet, and
deflating them is most of writing the zip."""
_MET: set[tuple[int, int]] = set()
"""The length and hash of each part content met once (not the content: the document part
is new bytes on every sheet); one met again is deflated into :data:`_DEFLATED`."""
_MET_MAX = 1024
_DEFLATED_BUDGET = 256_000
"""How many bytes (contents and their deflated bytes) :data:`_DEFLATED` holds before it is
emptied and fills again.  What every sheet of the shipped template shares is some 90 KB;
with 4 MB it also kept, for good, parts that a few sheets share and no later one does (the
core properties and document parts of projects with the same texts): over the last 7,000
sheets of the 10,000 synthetic projects it grew by some 90 KB every 1,000 sheets, and a
rendering process with it (benchmarks/worker_creep.py: from sheet 13,000 on, 5,000 sheets
+0.2 MB with 512 KB, flat with 256 KB).  Only time depends on what is kept."""
_deflated_bytes = 0
_RAW_WRITES: list[bool] = []
"""Whether writing a deflated entry as below gives the bytes ``ZipFile.writestr`` gives
(found out once per process)."""


def _write_entry(dst: zipfile.ZipFile, info: zipfile.ZipInfo, blob: bytes) -> None:
    """``dst.writestr(info, blob)``, with the deflated bytes of a content met before taken
    from :data:`_DEFLATED` instead of deflated again."""
    global _deflated_bytes
    known = _DEFLATED.get(blob)
    if known is None:
        met = (len(blob), hash(blob))
        if met not in _MET or not _raw_writes():
            if len(_MET) >= _MET_MAX:
                _MET.clear()
            _MET.add(met)
            dst.writestr(info, blob)
            return
        _MET.discard(met)
        if _deflated_bytes + 2 * len(blob) > _DEFLATED_BUDGET:
            _DEFLATED.clear()
            _deflated_bytes = 0
        known = _DEFLATED[blob] = (zlib.crc32(blob), _deflate(blob))
        _deflated_bytes += len(blob) + len(known[1])
    _write_deflated(dst, info, blob, *known)


def _deflate(blob: bytes) -> bytes:
    """``blob`` deflated as ``ZipFile`` deflates an entry (default level, raw stream)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(blob) + compressor.flush()


def _write_deflated(dst: zipfile.ZipFile, info: zipfile.ZipInfo, blob: bytes, crc: int,
                    data: bytes) -> None:
    """What ``dst.writestr(info, blob)`` writes to a seekable file, given ``blob``'s CRC and
    deflated bytes ``data``: the local header with the final sizes and CRC, the data, the
    entry remembered for the central directory."""
    info.file_size = len(blob)
    info.compress_size = len(data)
    info.CRC = crc
    info.flag_bits = 0
    dst.fp.seek(dst.start_dir)
    info.header_offset = dst.fp.tell()
    dst._writecheck(info)
    dst._didModify = True
    dst.fp.write(info.FileHeader(False))
    dst.fp.write(data)
    dst.start_dir = dst.fp.tell()
    dst.filelist.append(info)
    dst.NameToInfo[info.filename] = info


def _raw_writes() -> bool:
    """Whether :func:`_write_deflated` writes what ``writestr`` writes (with this Python's
    zipfile), tried once on two small entries."""
    if not _RAW_WRITES:
        sample = [("a.xml", b"<a>" + b"x" * 300 + b"</a>"), ("b/c.xml", b"<c/>")]
        try:
            made = []
            for raw in (False, True):
                out = io.BytesIO()
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                    for name, blob in sample:
                        if raw:
                            _write_deflated(dst, _entry_info(name), blob, zlib.crc32(blob),
                                            _deflate(blob))
                        else:
                            dst.writestr(_entry_info(name), blob)
                made.append(out.getvalue())
            _RAW_WRITES.append(made[0] == made[1])
        except (AttributeError, TypeError, ValueError):  # another zipfile
            _RAW_WRITES.append(False)
    return _RAW_WRITES[0]


def _check_part(name: str, blob: bytes, where: Path, *, parse: bool = True) -> bytes:
    if not parse and not any(d in blob for d in _DELIMITER_BYTES):
        # serialized by lxml as UTF-8, where these ASCII bytes are those characters: the
        # same check and result as on the decoded text, without decoding it
        return blob.replace(_GUARD_BYTES, b"")
    text = blob.decode("utf-8")
    for delimiter in _DELIMITERS:
        at = text.find(delimiter)
        if at >= 0:
            near = re.sub(r"<[^>]+>", "", text[max(0, at - 200):at + 200])
            found = _TAG.search(near)
            raise TemplateError(where, f"{found.group(0) if found else near.strip()[:60]}: "
                                f"a tag was left unrendered in {name}; retype it as described "
                                f"in {REFERENCE}")
    blob = text.replace(_GUARD, "").encode("utf-8")
    if not parse:
        return blob
    try:
        etree.fromstring(blob)
    except etree.XMLSyntaxError as exc:
        raise TemplateError(where, f"{name}: rendering made invalid XML ({exc}); check the "
                            f"tags of this part against {REFERENCE}") from exc
    return blob
