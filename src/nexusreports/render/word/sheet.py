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

import dataclasses
import hashlib
import io
import logging
import os
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
from docx.oxml.ns import qn
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import meta, nodes
from lxml import etree

from ...errors import ErrorGroup, TemplateError
from ...theme import Theme
from ...view import SheetView
from ..logos import load_logo

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

_DELIMITERS = ("{{", "{%", "}}", "%}")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_OPENERS = re.compile(r"\{\{|\{%|\{#")
_CLOSERS = re.compile(r"\}\}|%\}|#\}")
_STATEMENT = re.compile(r"^\{%([-+]?)(?:(p|tr|tc|r)(?=\s))?\s*(.*?)\s*([-+]?)%\}$", re.S)
_EXPRESSION = re.compile(r"^\{\{([-+]?)(?:(p|tr|tc|r)(?=\s))?\s*(.*?)\s*([-+]?)\}\}$", re.S)
_BLOCKS = {"for", "if", "with", "macro", "call", "filter", "block", "autoescape", "raw"}
_TEXT_PARTS = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {"w": _W}


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
    """docxtpl's template, remembering the Jinja source it makes of each XML part.

    ``patch_xml`` (docxtpl's rewrite of a part's XML into Jinja source) depends only on its
    input, which is the same for every sheet made from one template, so it runs once per
    distinct part (at most :data:`_PATCHED_MAX` kept).
    """

    _PATCHED: dict[str, str] = {}
    _PATCHED_MAX = 64

    def patch_xml(self, src_xml: str) -> str:
        patched = self._PATCHED.get(src_xml)
        if patched is None:
            if len(self._PATCHED) >= self._PATCHED_MAX:
                self._PATCHED.clear()
            patched = self._PATCHED[src_xml] = super().patch_xml(src_xml)
        return patched


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
    for org, source in zip(context["organisations"], view.organisations):
        org.image = (_Logo(tpl, source.logo, _guard(source.alt))
                     if tpl is not None and source.logo else None)
    return context


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


# --- checking the template ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Tag:
    part: str
    text: str


def _paragraph_texts(p: etree._Element) -> list[tuple[str, bytes]]:
    """The texts of ``p``'s own ``w:t`` runs (not those of nested text boxes), each with
    its run's formatting (the serialised ``w:rPr``, empty without one)."""
    out = []
    for t in p.iter(qn("w:t")):
        owner = next(t.iterancestors(qn("w:p")), None)
        if owner is p:
            run = t.getparent()
            rpr = run.find(qn("w:rPr")) if run is not None else None
            out.append((t.text or "", b"" if rpr is None else etree.tostring(rpr, method="c14n")))
    return out


def _around(text: str, start: int, end: int) -> str:
    return text[max(0, start - 20):end + 20].strip()


def _scan(data: bytes, where: Path) -> tuple[list[_Tag], list[str]]:
    """Every tag of the template's text parts in document order, and the problems found."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = package.namelist()
    except zipfile.BadZipFile as exc:
        raise TemplateError(where, "not a Word document (.docx): save it from Word as "
                            "'Word Document (*.docx)' or restore it from git") from exc
    if "word/document.xml" not in names:
        raise TemplateError(where, "not a Word document (.docx): word/document.xml is missing")
    parts = sorted((n for n in names if _TEXT_PARTS.match(n)),
                   key=lambda n: (n != "word/document.xml", n))
    tags: list[_Tag] = []
    problems: list[str] = []
    for part in parts:
        try:
            root = etree.fromstring(package.read(part))
        except etree.XMLSyntaxError as exc:
            raise TemplateError(where, f"{part}: is not well-formed XML ({exc}): restore the "
                                "template from git") from exc
        for p in root.iter(qn("w:p")):
            runs = _paragraph_texts(p)
            pieces = [piece for piece, _ in runs]
            text = "".join(pieces)
            if not any(ch in text for ch in "{}%#"):
                continue
            bounds, pos = [], 0
            for piece in pieces:
                bounds.append((pos, pos + len(piece)))
                pos += len(piece)
            for match in _TAG.finditer(text):
                tags.append(_Tag(part, match.group(0)))
                spans = [i for i, (a, b) in enumerate(bounds)
                         if a < match.end() and b > match.start()]
                if len(spans) > 1:
                    alike = len({runs[i][1] for i in spans}) == 1
                    how = ("pieces of text that Word keeps apart although they are formatted "
                           "alike" if alike else "differently formatted pieces of text")
                    problems.append(
                        f"{match.group(0)}: the tag is split over {len(spans)} {how} (Word "
                        "does this when part of a tag is edited or corrected); select the "
                        "whole tag, delete it and type it again in one go")
            rest = _TAG.sub(lambda mt: " " * len(mt.group(0)), text)
            for match in _OPENERS.finditer(rest):
                closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[match.group(0)]
                problems.append(
                    f"{_around(text, match.start(), match.end())}: a tag is opened with "
                    f"'{match.group(0)}' but not closed with '{closer}' in the same paragraph; "
                    "a tag must stand within one paragraph")
            for match in _CLOSERS.finditer(rest):
                if not _OPENERS.search(rest[:match.start()]):
                    problems.append(
                        f"{_around(text, match.start(), match.end())}: '{match.group(0)}' "
                        "closes no tag; delete it or complete the tag")
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


def _blocks(tags: list[_Tag]) -> list[str]:
    """Problems with block structure: never closed, closed wrongly, else without if."""
    problems: list[str] = []
    stack: list[tuple[str, str]] = []
    for tag in tags:
        source = _jinja_source(tag.text)
        if not source or not source.startswith("{%"):
            continue
        body = source[2:-2].strip()
        word = body.split(maxsplit=1)[0] if body else ""
        if word in _BLOCKS or (word == "set" and "=" not in body):
            stack.append((word, tag.text))
        elif word.startswith("end"):
            wanted = word[3:]
            if not stack:
                problems.append(f"{tag.text}: there is no open block for this tag to close; "
                                "delete it or add the missing "
                                f"{{% {wanted} ... %}} before it")
            elif stack[-1][0] != wanted:
                kw, opener = stack.pop()
                problems.append(f"{tag.text}: the open block is {opener}, which must be closed "
                                f"with {{% end{kw} %}} first")
            else:
                stack.pop()
        elif word in ("else", "elif") and (not stack or stack[-1][0] not in ("if", "for")):
            problems.append(f"{tag.text}: there is no open if or for block for this tag")
    for word, opener in stack:
        problems.append(f"{opener}: this block is never closed: add {{% end{word} %}} (with "
                        "the same p/tr/tc letter) after the part it repeats or shows")
    return problems


def _names(tags: list[_Tag], context: Mapping[str, Any],
           env: jinja2.Environment) -> list[str]:
    """Syntax errors and unknown names (top-level, and keys of top-level mappings)."""
    sources = [(tag, _jinja_source(tag.text)) for tag in tags]
    sources = [(tag, src) for tag, src in sources if src]
    text = "\n".join(src for _, src in sources)
    try:
        tree = env.parse(text)
        env.compile(tree)  # an unknown filter or test is found here, not by parse
    except jinja2.TemplateSyntaxError as exc:  # also TemplateAssertionError
        line = min(max((exc.lineno or 1) - 1, 0), len(sources) - 1)
        return [f"{sources[line][0].text}: {(exc.message or '').rstrip('.')}; the filters and names a template "
                f"may use are listed in {REFERENCE}"]
    problems: list[str] = []

    def tag_using(pattern: str) -> str:
        regex = re.compile(pattern)
        return next((t.text for t, src in sources if regex.search(src)), "?")

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


def _share_bars(data: bytes, tags: list[_Tag]) -> list[str]:
    """Share bars the build cannot size: for each ``shares[i]`` a tag of the body uses, one
    table of the body must have the alt-text title (``w:tblCaption``) ``shares[i]`` and be
    one row of two cells.  LibreOffice drops table titles when it saves a .docx."""
    used = sorted({int(m.group(1)) for tag in tags if tag.part == "word/document.xml"
                   for m in _SHARES_TAG.finditer(tag.text)})
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    bars: dict[int, etree._Element] = {}
    for caption in root.iter(qn("w:tblCaption")):
        match = _SHARES_CAPTION.fullmatch(caption.get(qn("w:val"), "").strip())
        tbl = caption.getparent().getparent() if caption.getparent() is not None else None
        if match and tbl is not None and tbl.tag == qn("w:tbl"):
            bars.setdefault(int(match.group(1)), tbl)
    problems = []
    for index in used:
        name = f"shares[{index}]"
        tbl = bars.get(index)
        if tbl is None:
            problems.append(
                f"{name}: no table has the alt-text title '{name}', so the build cannot find "
                "this share bar to size it (LibreOffice drops table titles when it saves a "
                "document, and so does clearing the title in Word); in Word, right-click the "
                "bar's table, Table Properties → Alt Text → Title, and type "
                f"'{name}', or restore templates/sheet.docx from git; see {REFERENCE}")
            continue
        rows = tbl.findall(qn("w:tr"))
        grid = tbl.find(qn("w:tblGrid"))
        cols = grid.findall(qn("w:gridCol")) if grid is not None else []
        if len(rows) != 1 or len(rows[0].findall(qn("w:tc"))) != 2 or len(cols) != 2:
            problems.append(
                f"{name}: the table titled '{name}' is a share bar and must be one row of "
                "two cells (no merged or split cells), whose widths the build sets; restore "
                f"its two cells or restore templates/sheet.docx from git; see {REFERENCE}")
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
            problems = _share_bars(data, tags)
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


def render_docx(view: SheetView, theme: Theme, *, now: datetime | None = None) -> bytes:
    """Fill ``theme.sheet_docx`` with ``view`` and return the .docx bytes.

    ``now`` stamps the core properties created/modified (default :func:`build_time`).
    Raises :class:`TemplateError` (or :class:`ErrorGroup`) for a missing or broken template.
    """
    where = theme.sheet_docx
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise TemplateError(where, f"the Word template is missing ({exc.strerror}): restore it "
                            "from git or run tools/make_sheet_template.py") from exc
    check_template(data, where, sheet_context(view))
    tpl = _Template(io.BytesIO(data))
    tpl.init_docx()
    context = sheet_context(view, tpl)
    try:
        tpl.render(context, _environment(), autoescape=True)
    except jinja2.TemplateError as exc:
        near = " ".join(getattr(exc, "docx_context", []) or [])
        found = _TAG.search(near)
        tag = found.group(0) if found else near.strip()[:60] or "?"
        raise TemplateError(where, f"{tag}: {str(exc.message or exc).rstrip('.')}; the names a template may "
                            f"use are listed in {REFERENCE}") from exc
    doc = tpl.docx
    _fit_grids(doc)
    _size_share_bars(doc, view)
    _one_year_timeline(doc, view)
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
    return _repack_parts(_package_parts(doc), where)


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


def _package_parts(doc: Any) -> dict[str, bytes]:
    """The parts ``doc.save`` would zip, by member name, without zipping them (they are
    zipped once, by :func:`repack`).  Falls back to saving and reading the zip back if
    python-docx's package writer is not as expected."""
    try:
        from docx.opc.pkgwriter import PackageWriter

        package = doc.part.package
        for part in package.parts:
            part.before_marshal()
        collector = _PartCollector()
        PackageWriter._write_content_types_stream(collector, package.parts)
        PackageWriter._write_pkg_rels(collector, package.rels)
        PackageWriter._write_parts(collector, package.parts)
        return collector.parts
    except AttributeError:  # pragma: no cover - another python-docx
        buf = io.BytesIO()
        doc.save(buf)
        src = zipfile.ZipFile(buf)
        return {name: src.read(name) for name in src.namelist()}


def _fit_grids(doc: Any) -> None:
    """Make each table's grid match its cells after ``{%tc %}`` loops changed their number.

    A table whose rows all have the same number of cells, none spanning, each with a width
    in twips, gets one grid column per cell with the first row's widths (docxtpl only adds
    or drops columns at the end, which skews a fixed-layout table).
    """
    for tbl in doc.element.body.iter(qn("w:tbl")):
        rows = tbl.findall(qn("w:tr"))
        grid = tbl.find(qn("w:tblGrid"))
        if not rows or grid is None:
            continue
        counts = {len(r.findall(qn("w:tc"))) for r in rows}
        if len(counts) != 1 or tbl.find(f".//{qn('w:gridSpan')}") is not None:
            continue
        widths = []
        for tc in rows[0].findall(qn("w:tc")):
            tc_w = tc.find(f"{qn('w:tcPr')}/{qn('w:tcW')}")
            if tc_w is None or tc_w.get(qn("w:type")) != "dxa":
                break
            widths.append(tc_w.get(qn("w:w")))
        else:
            for col in grid.findall(qn("w:gridCol")):
                grid.remove(col)
            for width in widths:
                etree.SubElement(grid, qn("w:gridCol")).set(qn("w:w"), width)
            tbl_w = tbl.find(f"{qn('w:tblPr')}/{qn('w:tblW')}")
            if tbl_w is not None and tbl_w.get(qn("w:type")) == "dxa":
                tbl_w.set(qn("w:w"), str(sum(int(w) for w in widths)))


def _size_share_bars(doc: Any, view: SheetView) -> None:
    """Give the cells of each ``shares[i]`` table widths in proportion to the shares."""
    body = doc.element.body
    for tbl in body.iter(qn("w:tbl")):
        caption = tbl.find(f"{qn('w:tblPr')}/{qn('w:tblCaption')}")
        if caption is None:
            continue
        match = re.fullmatch(r"shares\[(\d)\]", caption.get(qn("w:val"), ""))
        if not match or int(match.group(1)) >= len(view.shares):
            continue
        caption.getparent().remove(caption)
        fraction = view.shares[int(match.group(1))].left_fraction
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
    for tbl in doc.element.body.iter(qn("w:tbl")):
        description = tbl.find(f"{qn('w:tblPr')}/{qn('w:tblDescription')}")
        if description is None or not description.get(qn("w:val"), "").startswith("Timeline"):
            continue
        rows = tbl.findall(qn("w:tr"))
        if len(rows) != 2:
            continue
        tbl.remove(rows[0])
        for border in rows[1].iter(qn("w:pBdr")):
            border.getparent().remove(border)


_SETTINGS_BEFORE_HYPHENATION = (
    "writeProtection view zoom removePersonalInformation removeDateAndTime "
    "doNotDisplayPageBoundaries displayBackgroundShape printPostScriptOverText "
    "printFractionalCharacterWidth printFormsData embedTrueTypeFonts embedSystemFonts "
    "saveSubsetFonts saveFormsData mirrorMargins alignBordersAndEdges "
    "bordersDoNotSurroundHeader bordersDoNotSurroundFooter gutterAtTop hideSpellingErrors "
    "hideGrammaticalErrors activeWritingStyle proofState formsDesign attachedTemplate "
    "linkStyles stylePaneFormatFilter stylePaneSortMethod documentType mailMerge "
    "revisionView trackRevisions doNotTrackMoves doNotTrackFormatting documentProtection "
    "autoFormatOverride styleLockTheme styleLockQFSet defaultTabStop").split()


def set_auto_hyphenation(settings: etree._Element) -> None:
    """Switch on ``w:autoHyphenation`` in a ``w:settings`` element, in schema order."""
    for old in settings.findall(qn("w:autoHyphenation")):
        settings.remove(old)
    element = etree.SubElement(settings, qn("w:autoHyphenation"))
    settings.remove(element)
    element.set(qn("w:val"), "true")
    before = {qn(f"w:{name}") for name in _SETTINGS_BEFORE_HYPHENATION}
    index = 0
    for i, child in enumerate(settings):
        if child.tag in before:
            index = i + 1
    settings.insert(index, element)


def set_language(doc: Any, locale_id: str) -> None:
    """Set the document language (style defaults and styles) and automatic hyphenation."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = etree.SubElement(styles, qn("w:docDefaults"))
        styles.insert(0, defaults)
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        rpr_default = etree.SubElement(defaults, qn("w:rPrDefault"))
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = etree.SubElement(rpr_default, qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = etree.SubElement(rpr, qn("w:lang"))
    lang.set(qn("w:val"), locale_id)
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


def repack(data: bytes, where: Path) -> bytes:
    """Check and rewrite a rendered .docx: well-formed parts, no leftover tags, the guard
    characters removed, ``docProps/app.xml`` naming this tool, entries in a fixed order with
    fixed timestamps.

    Raises :class:`TemplateError` naming the part when a tag survived rendering or a part is
    not well-formed XML.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    return _repack_parts({name: src.read(name) for name in src.namelist()}, where)


_CHECKED_PARTS: dict[tuple[str, bytes], bytes] = {}
"""Parts that passed :func:`_check_part`, by (name, bytes): most parts of a sheet (fonts
table, theme, numbering ...) are the same bytes for every sheet and are checked once."""


def _repack_parts(parts: Mapping[str, bytes], where: Path) -> bytes:
    """:func:`repack` for parts given by member name (in the package's order)."""
    names = list(parts)
    first = [n for n in ("[Content_Types].xml", "_rels/.rels") if n in names]
    order = first + sorted(n for n in names if n not in first)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in order:
            blob = parts[name]
            if name.endswith((".xml", ".rels")):
                checked = _CHECKED_PARTS.get((name, blob))
                if checked is None:
                    checked = _check_part(name, blob, where)
                    if len(_CHECKED_PARTS) >= 256:
                        _CHECKED_PARTS.clear()
                    _CHECKED_PARTS[(name, blob)] = checked
                blob = checked
            if name == "docProps/app.xml":
                blob = _APP_XML
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            dst.writestr(info, blob)
    return out.getvalue()


def _check_part(name: str, blob: bytes, where: Path) -> bytes:
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
    try:
        etree.fromstring(blob)
    except etree.XMLSyntaxError as exc:
        raise TemplateError(where, f"{name}: rendering made invalid XML ({exc}); check the "
                            f"tags of this part against {REFERENCE}") from exc
    return blob
