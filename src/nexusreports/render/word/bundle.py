"""The briefing bundle as one Word document: :func:`write_bundle_docx` (and
:func:`render_bundle_docx`, its bytes for callers without the sheet files).

Made of the Word sheets' files, never rendering a sheet again: the document starts as the
first sheet's file, emptied, so styles, numbering, theme and settings are the template's;
``word/document.xml`` is then written as a stream, each sheet's file opened in its turn and
its body, footer, page setup and pictures carried into a section of its own, with the page
number added to its footer, then dropped (memory does not grow with the sheets).  Before
them: a cover section, per language a section with the contents and the summary table; a
closing section ends it.  Page numbers run on from 1 after the cover (never restarted), as
the PDF's page labels.  The contents are static entries whose page numbers follow from the
layout (:func:`docx_page_plan`), each a hyperlink to a bookmark on its sheet, inside a
``TOC \\f`` field over ``TC`` entries, so Word can refresh it without the two languages'
contents mixing.

Nothing here formats a number or chooses a word: every string comes from the view.
Lengths are in mm (``*_mm``) or points (pt).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import posixpath
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Self

from ...theme import Theme
from ...view import BundlePart, BundleView, SheetView
from .. import SUMMARY_COLUMNS_MM, stamp_time
from . import ooxml

log = logging.getLogger("nexusreports")

WORD_FONT = "Calibri"
"""Font of the Word bundle: Word has Calibri; LibreOffice substitutes the metric-compatible
Carlito, the theme's PDF font."""

WORD_MARGIN_MM = 15.0
"""Page margins of the Word bundle (A4), in mm: 180 mm of text width."""


TOC_ENTRIES_PER_PAGE = 20
"""Contents entries on one page of the Word bundle: a longer contents continues on a new page
(an explicit break), so the page of every entry is known without a field update."""

SUMMARY_ROWS_PER_PAGE = 12
"""Summary rows (projects and totals) on one page of the Word bundle; more rows continue in a
second table, with the column headings again, on a new page."""

_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_HDRFTR = {"header": ("default", "first", "even"), "footer": ("default", "first", "even")}
_HDRFTR_ATTR = {("header", "default"): "header", ("header", "first"): "first_page_header",
                ("header", "even"): "even_page_header", ("footer", "default"): "footer",
                ("footer", "first"): "first_page_footer", ("footer", "even"): "even_page_footer"}


def heading_style(lang: str) -> str:
    """Name of the Word paragraph style of ``lang``'s front-matter headings."""
    return f"Bundle Heading {lang}"


def bookmark_name(view: SheetView) -> str:
    """Name of the bookmark on ``view``'s sheet in the Word bundle (the contents link to it):
    ``sheet_nl_precision_diagnostics``."""
    return f"sheet_{view.lang}_{view.slug}".replace("-", "_")[:40]


def docx_page_plan(bundle: BundleView) -> dict[str, int]:
    """The page each part of the Word bundle starts on, as printed (the cover is unnumbered,
    the page after it is 1): keys ``contents:<lang>``, ``summary:<lang>``, ``<lang>:<slug>``
    and ``closing``.

    It follows from the layout: contents and summary take a fixed number of entries or rows
    per page (:data:`TOC_ENTRIES_PER_PAGE`, :data:`SUMMARY_ROWS_PER_PAGE`), with explicit
    breaks, and each sheet is exactly one page (the one-page tests of the Word sheets guard
    that).
    """
    plan: dict[str, int] = {}
    page = 1
    for i, part in enumerate(bundle.parts):
        plan[f"contents:{part.lang}"] = page
        page += _chunks(1 + len(part.sheets), TOC_ENTRIES_PER_PAGE)
        plan[f"summary:{part.lang}"] = page
        page += _chunks(len(part.rows) + len(part.totals), SUMMARY_ROWS_PER_PAGE)
        if bundle.arrangement != "by-project":
            for view in part.sheets:
                plan[f"{view.lang}:{view.slug}"] = page
                page += 1
    if bundle.arrangement == "by-project":
        for view in bundle.sequence:
            plan[f"{view.lang}:{view.slug}"] = page
            page += 1
    plan["closing"] = page
    return plan


def _chunks(n: int, size: int) -> int:
    return max(1, -(-n // size))


class _Pages:
    """The pages of :func:`docx_page_plan`, worked out when asked for instead of kept as an
    entry per sheet: the first page of each part's contents, summary and sheets (a few
    numbers per language), from which a sheet's page follows from its place."""

    def __init__(self, bundle: BundleView):
        self.by_project = bundle.arrangement == "by-project"
        self.parts = len(bundle.parts)
        self.summary: dict[str, int] = {}
        self.sheets: dict[str, int] = {}  # lang -> page of its first sheet (by language)
        self.order: dict[str, int] = {}  # lang -> its place among the parts
        page = 1
        for i, part in enumerate(bundle.parts):
            n = len(part.sheets)
            page += _chunks(1 + n, TOC_ENTRIES_PER_PAGE)
            self.summary[part.lang] = page
            page += _chunks(len(part.rows) + len(part.totals), SUMMARY_ROWS_PER_PAGE)
            self.order[part.lang] = i
            if not self.by_project:
                self.sheets[part.lang] = page
                page += n
        self.first_sheet = page  # by project: each project's sheets, one per part, in turn

    def sheet(self, lang: str, index: int) -> int:
        """The page of the ``index``-th sheet of part ``lang``."""
        if self.by_project:
            return self.first_sheet + index * self.parts + self.order[lang]
        return self.sheets[lang] + index


def render_bundle_docx(bundle: BundleView, theme: Theme, *, invariant: bool = False) -> bytes:
    """The bundle as one Word document (A4), as bytes: each sheet is rendered once
    (:func:`.sheet.render_docx`) into a temporary folder, one at a time, and the bundle is
    made of those files by :func:`write_bundle_docx`.

    For tests and callers that hold views, not sheet files; a build passes the Word sheets
    it wrote to :func:`write_bundle_docx` instead, so no sheet is rendered twice.
    """
    import tempfile

    from .sheet import render_docx

    now = stamp_time(invariant).astimezone(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="nexusreports-bundle-") as folder:
        files: dict[tuple[str, str], Path] = {}
        for view in bundle.sequence:
            path = Path(folder) / f"{view.lang}-{view.slug}.docx"
            path.write_bytes(render_docx(view, theme, now=now))
            files[(view.slug, view.lang)] = path
        out = io.BytesIO()
        write_bundle_docx(bundle, files, theme, out, invariant=invariant)
        return out.getvalue()


def write_bundle_docx(bundle: BundleView, sheet_files: Mapping[tuple[str, str], Path],
                      theme: Theme, target: BinaryIO, *, invariant: bool = False) -> None:
    """Write the bundle as one Word document (A4) to ``target`` (a writable, seekable binary
    file), made of the Word sheets already written at ``sheet_files[(slug, lang)]``: no
    sheet is rendered again, and memory does not grow with the number of sheets.

    The document starts from the first sheet's file, emptied, so its styles, numbering, theme
    and settings are the template's.  ``word/document.xml`` is written as a stream: the
    cover, per language the contents and the summary, the sheets, a closing page.  Each
    sheet's file is opened in its turn and its body, header/footer and page setup are carried
    over into a section of its own (pictures re-related and stored once by content, drawing
    and bookmark ids renumbered from one counter, runs marked with the sheet's language),
    written out and dropped; its header and footer parts and pictures go into the package as
    they come, the relationships and content types, which only need their names and ids,
    at the end.

    Page numbers run on from 1 after the (unnumbered) cover and are never restarted; every
    sheet's footer adds them to its own footer line.  The contents are static entries whose
    page numbers come from :func:`docx_page_plan`, each a hyperlink to its sheet's bookmark,
    wrapped in a ``TOC \\f`` field over ``TC`` entries so Word can refresh it (it is not
    refreshed on open: it is right as it is).

    ``invariant`` takes the dates from ``SOURCE_DATE_EPOCH``, so equal input gives equal
    bytes (entries in a fixed order, each stamped with that date).  Raises
    :class:`~nexusreports.errors.TemplateError` when a sheet file is missing or broken, or
    relates a part the bundle cannot carry over.
    """
    from docx.section import Section

    from .sheet import CREATOR, core_property, set_language

    moment = stamp_time(invariant)
    first = bundle.sequence[0]
    doc = _open_sheet_document(sheet_files[(first.slug, first.lang)])
    set_language(doc, bundle.info.language)
    body = doc.element.body
    sentinel = body.sectPr
    for child in list(body):
        body.remove(child)  # the workbench: each stretch of front matter is written from it
    cover = Section(sentinel, doc.part)
    for kind, types in _HDRFTR.items():
        for t in types:
            getattr(cover, _HDRFTR_ATTR[(kind, t)]).is_linked_to_previous = True
    _front_page_setup(cover)
    front_pr = _copy(sentinel)
    ooxml.drop_styles_with_effects(doc)
    _drop_body_relationships(doc)

    ids = _Ids()
    kit = _DocxKit(doc, theme, bundle, ids)
    pages = _Pages(bundle)

    def front_section(part: BundlePart | None):
        pr = _section_pr(front_pr)
        section = Section(pr, doc.part)
        if part is not None:
            kit.page_footer(section, part)
        else:  # the closing: an empty footer, not the last sheet's
            section.footer.is_linked_to_previous = False
        return pr

    # every part python-docx adds (the front pages' footers) exists before the sheets' parts
    # are named, so the names and relationship ids of both never meet
    fronts = {part.lang: (front_section(part), front_section(part)) for part in bundle.parts}
    closing_pr = front_section(None)
    _drop_update_fields(doc)
    props = doc.core_properties
    info = bundle.info
    # A core property holds at most 255 characters: cut as the Word sheets' are.
    props.title, props.author = core_property(info.title), core_property(info.author)
    props.subject, props.keywords = core_property(info.subject), core_property(info.keywords)
    props.language = info.language
    props.comments = ""
    props.created = props.modified = moment.replace(tzinfo=None)
    props.last_modified_by = CREATOR
    props.revision = 1

    stamp = max(moment, dt.datetime(1980, 1, 1, tzinfo=dt.UTC)).timetuple()[:6]
    places = {part.lang: (part, i) for i, part in enumerate(bundle.parts)}
    with _Zip(target) as package, \
            _Package(package, doc, stamp) as pkg:
        with pkg.open("word/document.xml", zip64=_needs_zip64(sheet_files)) as raw:
            stream = _BodyStream(raw, doc, front_pr)
            kit.flush = stream.flush
            stream.begin(sentinel)
            kit.cover()

            def front(part: BundlePart, index: int) -> None:
                contents_pr, summary_pr = fronts[part.lang]
                stream.begin(contents_pr)
                kit.language_band(part)
                kit.contents(part, index, pages)
                stream.begin(summary_pr)
                kit.language_band(part)
                kit.summary(part, index)

            def sheet(view: SheetView) -> None:
                part, index = places[view.lang]  # (never parts.index: it compares parts)
                _SheetCopy(pkg, sheet_files[(view.slug, view.lang)], theme).write(
                    stream, view, part, index, kit, ids,
                    mark=view.locale_id != bundle.info.language)

            if bundle.arrangement == "by-project":
                for i, part in enumerate(bundle.parts):
                    front(part, i)
                for view in bundle.sequence:
                    sheet(view)
            else:
                for i, part in enumerate(bundle.parts):
                    front(part, i)
                    for view in part.sheets:
                        sheet(view)
            stream.begin(closing_pr)
            kit.closing()
            stream.finish()
        pkg.finish()


def _open_sheet_document(path: Path):
    """The python-docx Document of the Word sheet at ``path``."""
    from docx import Document

    try:
        return Document(str(path))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: Exception):
    """The error for a Word sheet file the bundle cannot read."""
    from ...errors import TemplateError

    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return TemplateError(path, f"the Word sheet cannot be read for the briefing bundle "
                         f"({why}): build again to write it anew")


def _drop_body_relationships(doc) -> None:
    """Drop the emptied sheet's relationships to pictures, links, headers and footers: its
    body and sections are gone, and the bundle relates what it carries over itself."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    dropped = {RT.IMAGE, RT.HYPERLINK, RT.HEADER, RT.FOOTER}
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype in dropped:
            doc.part.rels.pop(rid)


def _section_pr(template):
    """A new ``w:sectPr`` with the page setup of ``template`` (size, margins, columns,
    grid ...), without its header/footer references and never a page numbering restart
    (see :meth:`_BodyStream.begin`); it starts on a new page."""
    sect = _el("w:sectPr")
    # no w:type: a new page is the default (python-docx's start_type NEW_PAGE drops it)
    left_out = {_qn("w:headerReference"), _qn("w:footerReference"), _qn("w:pgNumType"),
                _qn("w:type")}
    for child in template:
        if child.tag not in left_out:
            ooxml.set_child(sect, _copy(child), replace=False)
    for key, value in template.attrib.items():
        if key.startswith("{" + _W_NS):
            sect.set(key, value)
    return sect


_ZIP64_AT = (1 << 31) - (1 << 28)
"""Above this many bytes (2 GiB less a margin for what the bundle adds) ``document.xml`` is
written as a Zip64 entry; below it a plain one, as Word itself writes."""


_RATIO = 64
"""How many times its file's size a Word sheet's XML is taken to be at most unpacked: the
shipped sheets' is about 3 (their document.xml 49 KB in a 15 KB file); a sheet would have to
be packed better than 64 to 1 (deflate's limit is 1032 to 1) to be misjudged."""


def _needs_zip64(sheet_files: Mapping[tuple[str, str], Path]) -> bool:
    """Whether ``document.xml`` may grow past :data:`_ZIP64_AT`: decided from the sheets'
    file sizes (see :data:`_RATIO`) and, only when those cannot rule it out (some ten
    thousand sheets), from the size of each sheet's own parts."""
    size = 0
    for path in sheet_files.values():
        try:
            size += path.stat().st_size
        except OSError as exc:
            raise _unreadable(path, exc) from exc
    if size * _RATIO < _ZIP64_AT:
        return False
    total = 0
    for path in sheet_files.values():
        with zipfile.ZipFile(path) as src:
            total += sum(i.file_size for i in src.infolist()
                         if i.filename.startswith("word/") and i.filename.endswith(".xml"))
    return total * 5 // 4 > _ZIP64_AT


class _Tape:
    """Records (picklable) written one after another into a temporary file and read back in
    that order: nothing per record stays in memory (the bundle's parts, relationships and
    zip directory entries, some ten thousand of each, wait there until the end)."""

    def __init__(self) -> None:
        import tempfile

        self.file = tempfile.TemporaryFile(prefix="nexusreports-bundle-")  # noqa: SIM115 (see close)
        self.count = 0

    def append(self, record: object) -> None:
        import pickle

        pickle.dump(record, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        import pickle

        self.file.seek(0)
        try:
            for _ in range(self.count):
                yield pickle.load(self.file)  # a new unpickler each: the memo is per record
        finally:
            self.file.seek(0, io.SEEK_END)  # appends go on at the end

    def close(self) -> None:
        self.file.close()


class _Unkept(dict):
    """A mapping that keeps nothing: :class:`_Zip`'s names (its members' names are unique
    by construction)."""

    def __setitem__(self, key, value) -> None:
        pass


class _Zip(zipfile.ZipFile):
    """A zip being written (deflated) whose directory entries wait in a :class:`_Tape`, not
    in a list of ``ZipInfo`` (some 20,000 of them in a bundle of 10,000 projects), until
    :mod:`zipfile` writes the central directory at close (Zip64 where it needs it)."""

    def __init__(self, target: BinaryIO):
        super().__init__(target, "w", zipfile.ZIP_DEFLATED)
        self.filelist = _Tape()  # type: ignore[assignment]  # appended and iterated only
        self.NameToInfo = _Unkept()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.filelist.close()  # type: ignore[attr-defined]


def _attribute(value: str) -> str:
    """``value`` as a double-quoted XML attribute value, escaped as lxml writes it."""
    from xml.sax.saxutils import escape

    return '"' + escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                                "\t": "&#9;"}) + '"'


def _open_end(xml: bytes) -> tuple[bytes, bytes]:
    """Part ``xml`` (a root element with an end tag, or empty) cut before the root's end
    tag, so that children can be written between the two."""
    if xml.endswith(b"/>"):  # an empty root: <Types .../>
        start = xml.rindex(b"<")
        name = xml[start + 1:].split(None, 1)[0].rstrip(b"/>")
        return xml[:-2] + b">", b"</" + name + b">"
    at = xml.rindex(b"</")
    return xml[:at], xml[at:]


class _Package:
    """The bundle's zip as it is written: ``word/document.xml`` streamed into it, the sheets'
    header/footer parts and pictures kept in a temporary file meanwhile (the zip takes one
    entry at a time) and added after it, with python-docx's parts (styles, settings, the
    front pages' footers ...), the document's relationships and the content types last.
    What grows with the sheets -- the kept parts, their content-type overrides, the
    document's relationships -- waits in temporary files and is streamed into the zip;
    only counters, the pictures' content hashes and python-docx's part names are in
    memory."""

    def __init__(self, package: zipfile.ZipFile, doc, stamp: tuple):
        import tempfile

        self.zip, self.doc, self.stamp = package, doc, stamp
        self.spooled = _Tape()  # (name, bytes) of each kept part
        # the content types' Override elements, as written
        self.overrides = tempfile.TemporaryFile(prefix="nexusreports-bundle-")  # noqa: SIM115 (closed by __exit__)
        # python-docx's parts; the bundle's own are numbered on past them (see name)
        self.used = {str(p.partname).lstrip("/") for p in doc.part.package.iter_parts()}
        self.counters: dict[str, int] = {}
        self.defaults: dict[str, str] = {}
        self.media: dict[str, str] = {}  # sha1 of the bytes -> part name
        numbers = [int(rid[3:]) for rid in doc.part.rels if rid[3:].isdigit()]
        self.rels = _Rels(max(numbers, default=0) + 1, spooled=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.spooled.close()
        self.overrides.close()
        self.rels.close()

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def open(self, name: str, *, zip64: bool = False):
        return self.zip.open(self._info(name), "w", force_zip64=zip64)

    def name(self, stem: str, ext: str) -> str:
        """A free part name ``word/<stem><n>.<ext>``, n counting from 1 (past python-docx's
        parts; the bundle's own names only count up, so they are never kept)."""
        n = self.counters.get(stem, 0)
        while True:
            n += 1
            name = f"word/{stem}{n}.{ext}"
            if name not in self.used:
                break
        self.counters[stem] = n
        return name

    def add(self, name: str, data: bytes, content_type: str | None = None) -> None:
        """Keep part ``name`` for the zip (``content_type`` an override, if given)."""
        self.spooled.append((name, data))
        if content_type:
            self._override(name, content_type)

    def _override(self, name: str, content_type: str) -> None:
        self.overrides.write(f"<Override PartName={_attribute('/' + name)} "
                             f"ContentType={_attribute(content_type)}/>".encode())

    def picture(self, blob: bytes, ext: str, content_type: str) -> str:
        """The part name of picture ``blob``, added once whatever the number of sheets that
        show it."""
        import hashlib

        key = hashlib.sha1(blob).hexdigest()
        name = self.media.get(key)
        if name is None:
            name = self.name("media/image", ext.lower())
            self.media[key] = name
            ext = ext.lower()
            if self.defaults.setdefault(ext, content_type) != content_type:
                self._override(name, content_type)
            self.add(name, blob)
        return name

    def finish(self) -> None:
        """Write the kept parts, python-docx's parts, the relationships and content types."""
        import shutil

        from lxml import etree

        from .sheet import _package_parts

        for name, data in self.spooled:
            self.zip.writestr(self._info(name), data)
        parts, _ = _package_parts(self.doc)
        for name, blob in parts.items():
            if name in ("[Content_Types].xml", "word/document.xml"):
                continue
            if name == "word/_rels/document.xml.rels":
                with self.open(name) as out:
                    self.rels.write_merged(blob, out)
                continue
            if name == "docProps/app.xml":
                from .sheet import _APP_XML

                blob = _APP_XML
            self.zip.writestr(self._info(name), blob)
        types = etree.fromstring(parts["[Content_Types].xml"])
        ns = types.nsmap[None]
        have = {d.get("Extension").lower() for d in types.iter(f"{{{ns}}}Default")}
        at = next((i for i, c in enumerate(types) if c.tag == f"{{{ns}}}Override"), len(types))
        for ext, content_type in sorted(self.defaults.items()):
            if ext not in have:
                types.insert(at, etree.Element(f"{{{ns}}}Default", Extension=ext,
                                               ContentType=content_type))
                at += 1
        head, tail = _open_end(etree.tostring(types, xml_declaration=True, encoding="UTF-8",
                                              standalone=True))
        with self.open("[Content_Types].xml") as out:
            out.write(head)
            self.overrides.seek(0)
            shutil.copyfileobj(self.overrides, out)
            out.write(tail)


class _Rels:
    """The relationships of one part being written: ids counted from ``start``, a target
    related once.  ``spooled``: each relationship is written out at once (into a temporary
    file, see :meth:`write_merged`), and only targets that can come again (pictures,
    external links) are remembered, not each sheet's own header and footer."""

    def __init__(self, start: int = 1, *, spooled: bool = False):
        import tempfile

        self.next = start
        self.count = 0
        self.items: list[tuple[str, str, str, bool]] = []
        self.known: dict[tuple[str, str, bool], str] = {}
        self.spool = (tempfile.TemporaryFile(prefix="nexusreports-bundle-")  # noqa: SIM115 (see close)
                      if spooled else None)

    def relate(self, reltype: str, target: str, *, external: bool = False,
               once: bool = False) -> str:
        """The id of the relationship to ``target``; ``once``: a target no other
        relationship will name (a new part), so it is not remembered."""
        key = (reltype, target, external)
        rid = None if once else self.known.get(key)
        if rid is None:
            rid = f"rId{self.next}"
            self.next += 1
            self.count += 1
            if not once:
                self.known[key] = rid
            if self.spool is not None:
                self.spool.write(_relationship_xml(rid, reltype, target, external))
            else:
                self.items.append((rid, reltype, target, external))
        return rid

    def merged(self, xml: bytes = b"") -> bytes:
        """``xml`` (a relationships part, or none) with these relationships added."""
        out = io.BytesIO()
        self.write_merged(xml, out)
        return out.getvalue()

    def write_merged(self, xml: bytes, out: BinaryIO) -> None:
        """Write ``xml`` (a relationships part, or none) with these relationships added."""
        import shutil

        from lxml import etree

        ns = "http://schemas.openxmlformats.org/package/2006/relationships"
        root = etree.fromstring(xml) if xml else etree.Element(f"{{{ns}}}Relationships",
                                                               nsmap={None: ns})
        head, tail = _open_end(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                              standalone=True))
        out.write(head)
        if self.spool is not None:
            self.spool.seek(0)
            shutil.copyfileobj(self.spool, out)
            self.spool.seek(0, io.SEEK_END)
        out.writelines(_relationship_xml(*item) for item in self.items)
        out.write(tail)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def _relationship_xml(rid: str, reltype: str, target: str, external: bool) -> bytes:
    """A ``Relationship`` element as lxml writes it in its part."""
    mode = ' TargetMode="External"' if external else ""
    return (f"<Relationship Id={_attribute(rid)} Type={_attribute(reltype)} "
            f"Target={_attribute(target)}{mode}/>").encode()


class _BodyStream:
    """``word/document.xml`` written as it is made: the root element of the workbench
    document ``doc`` (the bundle's namespaces), then each stretch of body content (from
    the workbench's body, which is emptied each time, or a sheet's own body), each section
    closed by a paragraph holding its ``w:sectPr`` (the last one ends the body)."""

    def __init__(self, raw: BinaryIO, doc, page_setup):
        from lxml import etree

        self.raw, self.doc, self.root = raw, doc, doc.element
        self.body = self.root.body
        # python-docx sizes new tables by the body's last section: the front pages' setup
        self.keep = _copy(page_setup)
        self.nsmap = dict(self.root.nsmap)
        self.pending = None
        self.sections = 0
        head = etree.tostring(self.root, encoding="UTF-8", xml_declaration=False)
        self.open_tag, self.close_tag = _body_tags(self.body)
        raw.write(b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n")
        raw.write(head[:head.index(self.open_tag[:-1])] + self.open_tag)
        self.body.append(self.keep)

    def write_body_of(self, root, body) -> None:
        """The children of ``body`` (in a document whose root is ``root``), as they are."""
        from lxml import etree

        if len(body) == 0:
            return
        if self.nsmap.items() >= root.nsmap.items() and _body_tags(body) == (
                self.open_tag, self.close_tag) and not body.attrib:
            data = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
            start = data.index(self.open_tag) + len(self.open_tag)
            self.raw.write(memoryview(data)[start:data.rindex(self.close_tag)])
        else:  # other namespaces: the workbench declares what it can, the rest in place
            for child in list(body):
                self.keep.addprevious(child)
            self.flush()

    def flush(self) -> None:
        """Write what the workbench's body holds and empty it."""
        if len(self.body) > 1:
            self._write_workbench()

    def _write_workbench(self) -> None:
        from lxml import etree

        self.body.remove(self.keep)
        data = etree.tostring(self.root, encoding="UTF-8", xml_declaration=False)
        start = data.index(self.open_tag) + len(self.open_tag)
        self.raw.write(memoryview(data)[start:data.rindex(self.close_tag)])
        for child in list(self.body):
            self.body.remove(child)
        self.body.append(self.keep)

    def _numbered(self, pr):
        """``pr`` with no page numbering restart, but for the first section after the cover,
        which starts at 1: page numbers count on through the whole document."""
        for old in pr.findall(_qn("w:pgNumType")):
            pr.remove(old)
        if self.sections == 1:
            ooxml.set_child(pr, _el("w:pgNumType", **{"w:start": "1"}))
        return pr

    def begin(self, pr, body=None) -> None:
        """End the open section (if any) and open one with section properties ``pr``; the
        paragraph that ends the open one goes first into ``body`` (a sheet's, written
        next), else it is written now."""
        self.flush()
        if self.pending is not None:
            p = _el("w:p")
            p.append(_el("w:pPr"))
            p[0].append(self.pending)
            if body is not None:
                body.insert(0, p)
            else:
                self.keep.addprevious(p)
                self._write_workbench()
        self.pending = self._numbered(pr)
        self.sections += 1

    def finish(self) -> None:
        """End the last section (its ``w:sectPr`` ends the body) and the document."""
        self.flush()
        self.keep.addprevious(self.pending)
        self._write_workbench()
        self.body.remove(self.keep)
        name = f"{self.root.prefix}:document" if self.root.prefix else "document"
        self.raw.write(self.close_tag + f"</{name}>".encode())


def _body_tags(body) -> tuple[bytes, bytes]:
    """How ``w:body`` opens and closes when serialised: ``<w:body>``, ``</w:body>``."""
    name = f"{body.prefix}:body" if body.prefix else "body"
    return f"<{name}>".encode(), f"</{name}>".encode()


class _SheetCopy:
    """One Word sheet carried over into the bundle from its file: body, headers and footers,
    page setup, pictures and links."""

    def __init__(self, pkg: _Package, path: Path, theme: Theme):
        self.pkg, self.path, self.theme = pkg, path, theme
        self.types: dict[str, str] | None = None

    def write(self, stream: _BodyStream, view: SheetView, part: BundlePart, index: int,
              kit: _DocxKit, ids: _Ids, *, mark: bool) -> None:
        from ...errors import TemplateError

        try:
            src = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise _unreadable(self.path, exc) from exc
        with src:
            self.src = src
            root = self._xml("word/document.xml")
            raw = self.raw
            rels = self._rels("word/document.xml")
            body = root.find(_qn("w:body"))
            sect = body.find(_qn("w:sectPr")) if body is not None else None
            if sect is None:
                raise TemplateError(self.path, "the Word sheet has no page settings at the "
                                    "end of its body: build again to write it anew")
            body.remove(sect)
            related = _related(root, raw, sum(1 for node in sect.iter() for key in node.attrib
                                        if key.startswith("{" + _R + "}")))
            pr = _section_pr(sect)
            refs = {(_local(r.tag), r.get(_qn("w:type")) or "default"): r.get(_qn("r:id"))
                    for r in sect if _local(r.tag) in ("headerReference", "footerReference")}
            for kind, t in _HDRFTR_ATTR:
                rid = refs.get((kind + "Reference", t))
                if rid is not None:
                    name = self._hdrftr(kind, t, rels, rid, view, part, ids)
                    new_rid = self.pkg.rels.relate(_HDRFTR_TYPE[kind], name[len("word/"):],
                                                   once=True)
                    ooxml.set_child(pr, _el(f"w:{kind}Reference",
                                            **{"w:type": t, "r:id": new_rid}), replace=False)
            elements = list(body)
            if related:
                self._relate(body, rels, self.pkg.rels)
            _renumber(elements, ids)
            if mark:
                _mark_language(elements, view.locale_id)
            kit.anchor(elements, view, index)
            stream.begin(pr, body)
            stream.write_body_of(root, body)

    def _xml(self, name: str):
        from lxml import etree

        from ...errors import TemplateError

        try:
            self.raw = self.src.read(name)
            return etree.fromstring(self.raw, _parser())
        except (KeyError, etree.XMLSyntaxError, zipfile.BadZipFile) as exc:
            raise TemplateError(self.path, f"{name} of the Word sheet cannot be read for the "
                                f"briefing bundle ({exc}): build again to write it anew"
                                ) from exc

    def _rels(self, part: str) -> dict[str, tuple[str, str, bool]]:
        """The relationships of ``part``: id -> (type, target part or address, external)."""
        folder, _, base = part.rpartition("/")
        name = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
        if name not in self.src.NameToInfo:
            return {}
        rels = {}
        for rel in self._xml(name):
            external = rel.get("TargetMode") == "External"
            target = rel.get("Target", "")
            if not external:
                target = (target.lstrip("/") if target.startswith("/")
                          else posixpath.normpath(posixpath.join(folder, target)))
            rels[rel.get("Id")] = (rel.get("Type"), target, external)
        return rels

    def _content_type(self, name: str) -> str:
        from lxml import etree

        if self.types is None:
            self.types = {}
            root = self._xml("[Content_Types].xml")
            for child in root:
                tag = etree.QName(child).localname
                if tag == "Default":
                    self.types["." + child.get("Extension", "").lower()] = child.get(
                        "ContentType")
                elif tag == "Override":
                    self.types[child.get("PartName", "").lstrip("/")] = child.get(
                        "ContentType")
        ext = posixpath.splitext(name)[1].lower()
        return self.types.get(name) or self.types.get(ext) or "application/octet-stream"

    def _hdrftr(self, kind: str, t: str, rels, rid: str, view: SheetView, part: BundlePart,
                ids: _Ids) -> str:
        """Carry the sheet's header or footer ``rid`` over into a new part and return its
        name; the default footer's first paragraph gets " · Pagina N" (a PAGE field) after
        its left-hand text."""
        from lxml import etree

        from ...errors import TemplateError

        rel = rels.get(rid)
        if rel is None or rel[2]:
            raise TemplateError(self.path, f"the sheet's {kind} {rid!r} names no part of the "
                                "sheet: build again to write it anew")
        root = self._xml(rel[1])
        own = _Rels()
        elements = list(root)
        if _related(root, self.raw, 0):
            self._relate(root, self._rels(rel[1]), own)
        _renumber(elements, ids)
        _mark_language(elements, view.locale_id)
        if (kind, t) == ("footer", "default"):
            _add_page_number(root, part)
        name = self.pkg.name(kind, "xml")
        self.pkg.add(name, etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                          standalone=True), _HDRFTR_CONTENT_TYPE[kind])
        if own.count:
            folder, _, base = name.rpartition("/")
            self.pkg.add(f"{folder}/_rels/{base}.rels", own.merged())
        return name

    def _relate(self, root, rels, dst: _Rels) -> None:
        """Re-point every relationship id (``r:id``, ``r:embed`` ...) under ``root`` from
        the sheet part's relationships ``rels`` to equal ones in ``dst``: pictures are added
        to the package once (by their content), hyperlinks stay external."""
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        from ...errors import TemplateError

        done: dict[str, str] = {}
        for attribute in _RELATED(root):
            node, key, value = attribute.getparent(), attribute.attrname, str(attribute)
            if value not in done:
                rel = rels.get(value)
                if rel is None:
                    raise TemplateError(self.theme.sheet_docx, f"{key}={value!r} names "
                                        "no relationship of the filled sheet")
                reltype, target, external = rel
                if external:
                    done[value] = dst.relate(reltype, target, external=True)
                elif reltype == RT.IMAGE:
                    try:
                        blob = self.src.read(target)
                    except KeyError as exc:
                        raise TemplateError(self.path, f"the picture {target} is "
                                            "missing from the Word sheet: build again "
                                            "to write it anew") from exc
                    name = self.pkg.picture(blob, posixpath.splitext(target)[1][1:],
                                            self._content_type(target))
                    done[value] = dst.relate(reltype, name[len("word/"):])
                else:
                    raise TemplateError(
                        self.theme.sheet_docx, f"the sheet relates a "
                        f"{reltype.rsplit('/')[-1]} part, which the briefing bundle "
                        "cannot carry over: use pictures and external links only")
            node.set(key, done[value])


class _Related:
    """Every attribute in the relationships namespace (``r:id``, ``r:embed`` ...) under an
    element (itself included), found by one compiled XPath."""

    def __call__(self, element) -> list:
        from lxml import etree

        if not hasattr(self, "xpath"):
            self.xpath = etree.XPath("descendant-or-self::*/@*[namespace-uri() = $ns]")
        return self.xpath(element, ns=_R)


_RELATED = _Related()


def _related(root, raw: bytes, known: int) -> bool:
    """Whether the part ``root``, read from ``raw``, may hold relationship ids besides the
    ``known`` ones: with the namespace declared once, on the root, ``raw`` is searched for
    its prefix and colon (text or a longer prefix that reads so only makes this say yes);
    else yes, if the namespace is there at all."""
    uri = _R.encode()
    prefixes = [p for p, ns in root.nsmap.items() if ns == _R]
    declared = raw.count(uri)
    if declared != 1 or len(prefixes) != 1 or not prefixes[0]:
        return declared > 0
    return raw.count(prefixes[0].encode() + b":") > known


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


@functools.lru_cache(maxsize=1)
def _parser():
    """The parser of the sheets' parts: no entities resolved, any size."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, huge_tree=True)


_HDRFTR_TYPE = {
    "header": "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header",
    "footer": "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"}
_HDRFTR_CONTENT_TYPE = {
    "header": "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml",
    "footer": "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"}


class _Ids:
    """Fresh ids for drawings (``wp:docPr``) and bookmarks across the whole bundle: one
    counter each, so the sheets' renumbered bookmarks and the contents' anchors never share
    an id, whatever the number of sheets."""

    def __init__(self) -> None:
        self.drawing = 0
        self.bookmark = 0

    def next_drawing(self) -> str:
        self.drawing += 1
        return str(self.drawing)

    def next_bookmark(self) -> str:
        self.bookmark += 1
        return str(self.bookmark)


TEXT_STYLE = "Bundle Text"
"""The Word bundle's own paragraph style for its own pages (cover, contents, summary,
closing): based on no template style, with its font, size and spacing set, so a restyled
template (Normal at 30 pt) changes the sheets only, never how many pages the front matter
takes (the contents' page numbers count on that)."""
FOOTER_STYLE = "Bundle Footer"
TABLE_STYLE = "Bundle Table Text"


class _DocxKit:
    """Writes the bundle's own pages (cover, contents, summary, closing) into ``doc`` with
    styles of its own (:data:`TEXT_STYLE` ...), so the template's styles (and with them the
    designed sheets) stay as they are and do not change these pages."""

    def __init__(self, doc, theme: Theme, bundle: BundleView, ids: _Ids):
        from docx.enum.style import WD_STYLE_TYPE
        from docx.shared import Pt, RGBColor

        self.doc, self.bundle, self.theme, self.ids = doc, bundle, theme, ids
        self.flush = lambda: None  # writes out what the pages so far hold (see _BodyStream)
        self.colours = {k: RGBColor.from_string(v.lstrip("#").upper())
                        for k, v in theme.colours.items()}
        styles = doc.styles

        def style(name: str, base, size: float, *, bold: bool = False, colour: str = "text",
                  after: float = 0.0, keep: bool = False):
            new = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            new.base_style = base
            new.font.name = WORD_FONT
            new.font.size = Pt(size)
            new.font.bold = bold
            new.font.italic = False
            new.font.all_caps = False
            new.font.color.rgb = self.colours[colour]
            fmt = new.paragraph_format
            fmt.space_before, fmt.space_after = Pt(0), Pt(after)
            fmt.line_spacing = 1.0
            fmt.left_indent = fmt.right_indent = fmt.first_line_indent = Pt(0)
            fmt.keep_with_next = keep
            fmt.widow_control = True
            new.quick_style = False
            return new

        text = style(TEXT_STYLE, None, 11)
        style(FOOTER_STYLE, text, 8, colour="muted")
        style(TABLE_STYLE, text, 8)
        for part in bundle.parts:
            heading = style(heading_style(part.lang), text, 20, bold=True, colour="primary",
                            after=14, keep=True)
            heading.next_paragraph_style = text
            ooxml.set_lang(heading.element.get_or_add_rPr(), part.locale_id)
            # a real heading: the navigation pane and screen readers list it
            ooxml.set_child(heading.element.get_or_add_pPr(), ooxml.el("w:outlineLvl", val=0))

    def para(self, text: str = "", *, size: float | None = None, bold: bool = False,
             colour: str | None = None, style: str | None = None, align=None,
             before: float | None = None, after: float | None = None, lang: str = "",
             container=None):
        from docx.shared import Pt

        para = (container or self.doc).add_paragraph(style=style or TEXT_STYLE)
        if align is not None:
            para.alignment = align
        if before is not None:
            para.paragraph_format.space_before = Pt(before)
        if after is not None:
            para.paragraph_format.space_after = Pt(after)
        if text:
            run = para.add_run(text)
            if size:
                run.font.size = Pt(size)
            run.bold = bold or None
            if colour:
                run.font.color.rgb = self.colours[colour]
            if lang:
                ooxml.run_lang(run._r, lang)
        return para

    def _band(self, height_mm: float, fill: str, description: str, lang: str,
              valign: str = "bottom", inset_mm: float = WORD_MARGIN_MM):
        """A full-bleed shaded band (a one-cell layout table from edge to edge, exactly
        ``height_mm`` tall) at the top of the page; returns its cell."""
        from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE
        from docx.shared import Mm

        table = self.doc.add_table(rows=1, cols=1)
        tbl_pr = table._tbl.tblPr
        for child in list(tbl_pr):
            if child.tag in (_qn("w:tblStyle"), _qn("w:tblW"), _qn("w:tblLook")):
                tbl_pr.remove(child)
        ooxml.set_child(tbl_pr, ooxml.el("w:tblW", w=ooxml.twips(210), type="dxa"))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblInd", w=-ooxml.twips(WORD_MARGIN_MM),
                                         type="dxa"))
        ooxml.set_child(tbl_pr, ooxml.side_elements("w:tblBorders", {
            side: {"val": "nil"} for side in ("top", "left", "bottom", "right", "insideH",
                                              "insideV")}))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblLayout", type="fixed"))
        # no default cell padding: Word and LibreOffice place a table's edge by its indent
        # less that padding; the cell's own padding holds the text in from the edge
        ooxml.table_cell_margins(tbl_pr, top=0, left=0, bottom=0, right=0)
        ooxml.set_child(tbl_pr, ooxml.el("w:tblLook", val="0000", firstRow=0, lastRow=0,
                                         firstColumn=0, lastColumn=0, noHBand=1, noVBand=1))
        ooxml.set_child(tbl_pr, ooxml.el("w:tblDescription", val=description))
        table._tbl.tblGrid.findall(_qn("w:gridCol"))[0].set(_qn("w:w"), str(ooxml.twips(210)))
        row = table.rows[0]
        row.height = Mm(height_mm)
        row.height_rule = WD_ROW_HEIGHT_RULE.EXACTLY
        cell = row.cells[0]
        cell.width = Mm(210)
        ooxml.shade(cell._tc, str(self.colours[fill]))
        ooxml.cell_margins(cell._tc, top=0, left=inset_mm, bottom=10, right=inset_mm)
        cell.vertical_alignment = (WD_CELL_VERTICAL_ALIGNMENT.BOTTOM if valign == "bottom"
                                   else WD_CELL_VERTICAL_ALIGNMENT.TOP)
        first = cell.paragraphs[0]
        first.style = self.doc.styles[TEXT_STYLE]
        return cell

    def cover(self) -> None:
        """The bilingual cover, as the PDF's: the first language on a primary band over the
        upper half of the page, an accent bar on its edge, the second language below."""
        from docx.shared import Mm

        covers = self.bundle.covers
        first_lang = self.bundle.part(covers[0].lang).locale_id
        cell = self._band(297 * 0.52, "primary", covers[0].title, first_lang,
                          inset_mm=2 * WORD_MARGIN_MM)
        colours = [("on_primary", "accent_light"), ("primary", "accent")]
        for i, cover in enumerate(covers):
            lang = self.bundle.part(cover.lang).locale_id
            main, second = colours[min(i, 1)]
            where = cell if i == 0 else None
            title = self.para(cover.title, size=30, bold=True, colour=main, lang=lang,
                              after=6, container=where, before=30 if i else None)
            if i == 0:
                # the band's first paragraph becomes the title
                cell._tc.remove(cell.paragraphs[0]._p)
            subtitle = self.para(cover.subtitle, size=15, colour=second, lang=lang, after=10,
                                 container=where)
            date = self.para(cover.date, size=12, colour=main, lang=lang,
                             after=0 if i else 24, container=where)
            if i:  # below the band: in line with the band's text, as on the PDF's cover
                for para in (title, subtitle, date):
                    para.paragraph_format.left_indent = Mm(WORD_MARGIN_MM)
            if i == 0:
                bar = self.para(after=0)
                bar.paragraph_format.line_spacing = Mm(2.4)
                bar_ppr = bar._p.get_or_add_pPr()  # an accent bar on the band's edge
                ooxml.set_child(bar_ppr, ooxml.side_elements("w:pBdr", {"top": {
                    "val": "single", "sz": 48, "space": 0,
                    "color": str(self.colours["accent"])}}))
                ooxml.set_child(bar_ppr, ooxml.el("w:ind", left=ooxml.twips(WORD_MARGIN_MM),
                                                  right=ooxml.twips(210 - 3 * WORD_MARGIN_MM
                                                                    - 40)))

    def language_band(self, part: BundlePart) -> None:
        """The band at the top of each page of a language's front matter (its divider, as in
        the PDF): the bundle's title in that language over the language's name."""
        from docx.shared import Pt

        title = next(c.title for c in self.bundle.covers if c.lang == part.lang)
        page = self.theme.page
        cell = self._band(page["header_height_mm"], "primary", f"{title}: {part.language}",
                          part.locale_id, valign="top")
        first = cell.paragraphs[0]
        run = first.add_run(title)
        run.font.size = Pt(self.theme.type["subtitle_pt"])
        run.font.color.rgb = self.colours["accent_light"]
        ooxml.run_lang(run._r, part.locale_id)
        first.paragraph_format.space_before = Pt(28)
        self.para(part.language, size=self.theme.type["title_pt"], bold=True,
                  colour="on_primary", lang=part.locale_id, container=cell, before=2)
        gap = self.para(after=0)
        gap.paragraph_format.line_spacing = Pt(page["gap_below_header_mm"] / 25.4 * 72)

    def page_footer(self, section, part: BundlePart, prefix: str = "") -> None:
        """A centred footer "Pagina N" in ``part``'s language (N a PAGE field)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        section.footer.is_linked_to_previous = False
        para = section.footer.paragraphs[0]
        para.style = self.doc.styles[FOOTER_STYLE]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        before, _, after = part.page_word.partition("{number}")
        for text, is_field in ((prefix + before, False), ("1", True), (after, False)):
            if is_field:
                _add_field(para, "PAGE", text)
            elif text:
                para.add_run(text)
        for r in para._p.iter(_qn("w:r")):
            ooxml.run_lang(r, part.locale_id)

    def contents(self, part: BundlePart, index: int, pages: _Pages) -> None:
        """The contents of ``part``: static entries (text, dotted leader, page number), each a
        hyperlink to its target's bookmark, inside a TOC field over this part's TC entries;
        made a page at a time as the sheets come (never a list of them all)."""
        import itertools

        from docx.shared import Mm, Pt

        lang = part.locale_id
        self.para(part.contents, style=heading_style(part.lang))
        entries = itertools.chain(
            [(part.summary, pages.summary[part.lang], _summary_mark(part))],
            ((v.project_name, pages.sheet(part.lang, i), bookmark_name(v))
             for i, v in enumerate(part.sheets)))
        # written as the markup python-docx's paragraph API makes, a page at a time: that
        # API looks the style up by name for every paragraph
        style_id = _attr(self.doc.styles[TEXT_STYLE].style_id)
        tab = Mm(210 - 2 * WORD_MARGIN_MM).twips
        after = Pt(5).twips
        r_pr = f"<w:rPr><w:lang w:val={_attr(lang)}/></w:rPr>"
        toc = _field_runs_xml(f" TOC \\f {_toc_id(index)} \\h \\z ")
        last = len(part.sheets)  # the summary's entry, then one per sheet
        for start in range(0, last + 1, TOC_ENTRIES_PER_PAGE):
            page = [f"<w:body {_W_DECL}>"]
            for n, (text, number, anchor) in zip(
                    range(start, start + TOC_ENTRIES_PER_PAGE), entries):
                page.append(
                    f"<w:p><w:pPr><w:pStyle w:val={style_id}/>"
                    + ("<w:pageBreakBefore/>" if n and n % TOC_ENTRIES_PER_PAGE == 0 else "")
                    + f'<w:tabs><w:tab w:val="right" w:leader="dot" w:pos="{tab}"/></w:tabs>'
                    f'<w:spacing w:after="{after}"/></w:pPr>'
                    + (toc if n == 0 else "")
                    + f'<w:hyperlink w:anchor={_attr(anchor)} w:history="1">'
                    f'<w:r>{r_pr}<w:t xml:space="preserve">{_escape(text)}</w:t></w:r>'
                    f"<w:r>{r_pr}<w:tab/></w:r>"
                    f'<w:r>{r_pr}<w:t xml:space="preserve">'
                    f"{_escape(part.page_number(number))}</w:t></w:r></w:hyperlink>"
                    + ('<w:r><w:fldChar w:fldCharType="end"/></w:r>' if n == last else "")
                    + "</w:p>")
            page.append("</w:body>")
            for p in list(_parse("".join(page))):
                _add_block(self.doc, p)
            self.flush()

    def summary(self, part: BundlePart, index: int) -> None:
        heading = self.para(part.summary, style=heading_style(part.lang))
        _bookmark_and_tc(heading._p, _summary_mark(part), part.summary, index,
                         self.ids.next_bookmark())
        import itertools

        # a page of rows at a time, as they come (never a list of them all)
        rows = itertools.chain(((r.cells, False) for r in part.rows),
                               ((r.cells, True) for r in part.totals))
        start = 0
        while chunk := list(itertools.islice(rows, SUMMARY_ROWS_PER_PAGE)):
            if start:
                self.para(after=0).paragraph_format.page_break_before = True
            _summary_table_docx(self.doc, part, [c for c, _ in chunk], [t for _, t in chunk],
                                self.colours)
            self.flush()
            start += len(chunk)

    def anchor(self, elements: list, view: SheetView, index: int) -> None:
        """The bookmark the contents link to and the TC entry a refreshed TOC lists, in the
        sheet's first paragraph that holds its project name (else its first paragraph)."""
        paras = [p for e in elements for p in e.iter(_qn("w:p"))]  # iter includes e
        target = next((p for p in paras
                       if "".join(t.text or "" for t in p.iter(_qn("w:t"))).strip()
                       == view.project_name), paras[0] if paras else None)
        if target is None:
            target = _el("w:p")
            elements[0].addprevious(target)
        _bookmark_and_tc(target, bookmark_name(view), view.project_name, index,
                         self.ids.next_bookmark())

    def closing(self) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        for i, line in enumerate(self.bundle.closing):
            part = self.bundle.parts[min(i, len(self.bundle.parts) - 1)]
            self.para(line, size=22 if i == 0 else 16, bold=i == 0,
                      colour="primary" if i == 0 else "accent",
                      align=WD_ALIGN_PARAGRAPH.CENTER, before=260 if i == 0 else 12,
                      lang=part.locale_id)


def _toc_id(index: int) -> str:
    """The TOC/TC entry identifier of the ``index``-th language: a single letter."""
    return "abcdefghijklmnopqrstuvwxyz"[index]


def _summary_mark(part: BundlePart) -> str:
    return f"summary_{part.lang}"


def _bookmark_and_tc(p, name: str, text: str, index: int, bookmark_id: str) -> None:
    """Bookmark ``name`` and a hidden ``TC "text" \\f X \\l 1`` entry at the start of ``p``."""
    ppr = p.find(_qn("w:pPr"))
    at = list(p).index(ppr) + 1 if ppr is not None else 0
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    runs = [_field_run("begin"), _field_run("", f' TC "{quoted}" \\f {_toc_id(index)} \\l 1 '),
            _field_run("end")]
    for run in runs:
        rpr = _el("w:rPr")
        ooxml.set_child(rpr, _el("w:vanish"))
        run.insert(0, rpr)
    items = [_el("w:bookmarkStart", **{"w:id": bookmark_id, "w:name": name}),
             _el("w:bookmarkEnd", **{"w:id": bookmark_id}), *runs]
    for offset, item in enumerate(items):
        p.insert(at + offset, item)


def _copy(element):
    import copy

    return copy.deepcopy(element)


def _front_page_setup(section) -> None:
    """A4 portrait, :data:`WORD_MARGIN_MM` margins but none at the top (the bands run from
    the top edge), footer 8 mm from the edge."""
    from docx.shared import Mm

    sect = section._sectPr
    keep = {_qn("w:headerReference"), _qn("w:footerReference"), _qn("w:pgSz"), _qn("w:pgMar")}
    for child in list(sect):
        if child.tag not in keep:
            sect.remove(child)
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(WORD_MARGIN_MM)
    section.top_margin, section.bottom_margin = Mm(0), Mm(WORD_MARGIN_MM)
    section.header_distance, section.footer_distance = Mm(0), Mm(8)
    section.gutter = Mm(0)


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _add_page_number(footer, part: BundlePart) -> None:
    """" · Pagina N" (N a PAGE field) after the left-hand text of the footer's first
    paragraph, before its first tab, in that text's run formatting."""
    first = footer.find(_qn("w:p"))
    if first is None:
        return
    runs = first.findall(_qn("w:r"))
    tab_run = next((r for r in runs if r.find(_qn("w:tab")) is not None), None)
    before_tab = runs[:runs.index(tab_run)] if tab_run is not None else runs
    model = before_tab[-1].find(_qn("w:rPr")) if before_tab else None
    before, _, after = part.page_word.partition("{number}")
    new = [_text_run(" · " + before), *_field_runs("PAGE", "1")]
    if after:
        new.append(_text_run(after))
    for run in new:
        if model is not None:
            run.insert(0, _copy(model))
        _set_lang(run, part.locale_id)
        if tab_run is not None:
            tab_run.addprevious(run)
        else:
            first.append(run)


def _renumber(elements: list, ids: _Ids) -> None:
    """Fresh ``wp:docPr`` ids and bookmark ids (ids must be unique in the document)."""
    drawing = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"
    w_id = _qn("w:id")
    marks: dict[str, str] = {}
    for element in elements:  # one pass: the two counters are apart, so the order holds
        for node in element.iter(drawing, _qn("w:bookmarkStart"), _qn("w:bookmarkEnd")):
            if node.tag == drawing:
                node.set("id", ids.next_drawing())
                continue
            old = node.get(w_id)
            if old not in marks:
                marks[old] = ids.next_bookmark()
            node.set(w_id, marks[old])


def _set_lang(run, locale_id: str) -> None:
    """``w:lang`` = ``locale_id`` in the run's properties (schema order kept)."""
    ooxml.run_lang(run, locale_id)


def _mark_language(elements: list, locale_id: str) -> None:
    """``w:lang`` = ``locale_id`` on every run in ``elements`` (as :func:`ooxml.run_lang`,
    in schema order; the common cases without its general search)."""
    from lxml import etree

    r_pr, lang, val = _qn("w:rPr"), _qn("w:lang"), _qn("w:val")
    later = {_qn(t) for t in ooxml.successors("w:rPr", "w:lang")}
    for element in elements:
        for run in element.iter(_qn("w:r")):
            props = run.find(r_pr)
            if props is None:
                props = etree.SubElement(run, r_pr)
                run.insert(0, props)
            found = props.find(lang)
            if found is None:
                found = etree.SubElement(props, lang)
                successor = next((c for c in props if c.tag in later), None)
                if successor is not None:
                    successor.addprevious(found)
            found.set(val, locale_id)


def _drop_update_fields(doc) -> None:
    """No ``w:updateFields``: the contents are right as written (Word would ask first)."""
    settings = doc.settings.element
    for flag in settings.findall(_qn("w:updateFields")):
        settings.remove(flag)


@functools.cache
def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return tag if tag.startswith("{") else qn(tag)


@functools.cache
def _tag(tag: str) -> tuple[str, dict[str, str]]:
    from docx.oxml.ns import NamespacePrefixedTag

    name = NamespacePrefixedTag(tag)
    return name.clark_name, name.nsmap


_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _el(tag: str, **attrs: str):
    """A new element ``tag`` (``w:p``), of python-docx's class for it, as ``OxmlElement``
    makes it, without its parsing of the names for every element."""
    from docx.oxml.parser import oxml_parser

    clark, nsmap = _tag(tag)
    return oxml_parser.makeelement(clark, attrib={_qn(k): v for k, v in attrs.items()},
                                   nsmap=nsmap)


def _sub(parent, tag: str, **attrs: str):
    """A new element ``tag`` appended to ``parent`` (whose children are in schema order
    when added in that order)."""
    child = _el(tag, **attrs)
    parent.append(child)
    return child


def _field_run(kind: str, instr: str | None = None):
    run = _el("w:r")
    if instr is not None:
        text = _el("w:instrText")
        text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        text.text = instr
        run.append(text)
    else:
        run.append(_el("w:fldChar", **{"w:fldCharType": kind}))
    return run


def _add_field(paragraph, instr: str, result: str) -> None:
    """A complex field ``instr`` with cached ``result`` at the end of ``paragraph``."""
    p = paragraph._p
    for run in _field_runs(instr, result):
        p.append(run)


def _field_runs(instr: str, result: str) -> list:
    return [_field_run("begin"), _field_run("", f" {instr} "), _field_run("separate"),
            _text_run(result), _field_run("end")]


def _text_run(text: str):
    run = _el("w:r")
    t = _el("w:t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    run.append(t)
    return run


def _summary_table_docx(doc, part: BundlePart, rows: list[tuple[str, ...]],
                        totals: list[bool], colours) -> None:
    """One summary table, added to ``doc``'s body: the column headings (repeated on a new
    page), then ``rows``, those flagged in ``totals`` bold on the panel colour.

    Written as the markup python-docx's table API makes, and parsed at once: that API's
    ``table.cell()`` makes the list of all cells again on every call, and an element made
    one at a time costs more than the whole table parsed."""
    from docx.shared import Mm

    line = (f'w:val="single" w:sz="4" w:space="0" w:color="{colours["rule"]}"')
    sides = "".join(f"<w:{side} {line}/>" for side in ("top", "left", "bottom", "right",
                                                       "insideH", "insideV"))
    numeric = (False, False, True, True, True, False, False)
    scale = (210 - 2 * WORD_MARGIN_MM) / sum(SUMMARY_COLUMNS_MM)
    widths = [Mm(w * scale).twips for w in SUMMARY_COLUMNS_MM][:len(part.columns)]
    style_id = _attr(doc.styles[TABLE_STYLE].style_id)
    lang = f'<w:lang w:val={_attr(part.locale_id)}/>'
    fills = (str(colours["primary"]).upper(), str(colours["panel"]).upper())
    out = [f'<w:tbl {_W_DECL}><w:tblPr><w:tblW w:type="auto" w:w="0"/>',
           # the template need not have "Table Grid": borders of its own, and no style
           f"<w:tblBorders>{sides}</w:tblBorders>", '<w:tblLayout w:type="fixed"/>',
           ('<w:tblCellMar><w:top w:w="28" w:type="dxa"/><w:left w:w="57" w:type="dxa"/>'
           '<w:bottom w:w="28" w:type="dxa"/><w:right w:w="57" w:type="dxa"/></w:tblCellMar>'),
           # a data table: its first row holds the column headings (Word's "Header Row")
           ('<w:tblLook w:val="0020" w:firstRow="1" w:lastRow="0" w:firstColumn="0" '
           'w:lastColumn="0" w:noHBand="1" w:noVBand="1"/>'),
           f"<w:tblDescription w:val={_attr(part.summary)}/></w:tblPr><w:tblGrid>",
           *(f'<w:gridCol w:w="{w}"/>' for w in widths), "</w:tblGrid>"]
    for r, cells in enumerate([part.columns, *rows]):
        out.append("<w:tr><w:trPr><w:cantSplit/>" + ("<w:tblHeader/>" if r == 0 else "")
                   + "</w:trPr>")
        bold = r == 0 or totals[r - 1]
        shade = "" if not bold else (f'<w:shd w:val="clear" w:color="auto" '
                                     f'w:fill="{fills[0] if r == 0 else fills[1]}"/>')
        r_pr = ("<w:b/>" if bold else "") + (
            f'<w:color w:val="{colours["on_primary"]}"/>' if r == 0 else "") + lang
        for c, text in enumerate(cells):
            out.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{widths[c]}"/>{shade}'
                       f"</w:tcPr><w:p><w:pPr><w:pStyle w:val={style_id}/>"
                       + ('<w:jc w:val="right"/>' if numeric[c] else "")
                       + f"</w:pPr><w:r><w:rPr>{r_pr}</w:rPr>{_run_content(text)}</w:r>"
                       "</w:p></w:tc>")
        out.append("</w:tr>")
    out.append("</w:tbl>")
    _add_block(doc, _parse("".join(out)))


_W_DECL = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _escape(text: str) -> str:
    """``text`` as XML character data."""
    from xml.sax.saxutils import escape

    return escape(text)


def _field_runs_xml(instr: str) -> str:
    """The runs that open a complex field ``instr`` (begin, instruction, separate)."""
    return ('<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText '
            f'xml:space="preserve">{_escape(instr)}</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>')


def _attr(value: str) -> str:
    """``value`` as a quoted XML attribute value."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(value)


def _run_content(text: str) -> str:
    """The markup of a run's text as python-docx's ``run.text`` writes it: ``w:t`` (space
    preserved where it leads or trails), a tab as ``w:tab``, a line break as ``w:br``."""
    from xml.sax.saxutils import escape

    out, piece = [], []

    def flush() -> None:
        if piece:
            text = "".join(piece)
            space = ' xml:space="preserve"' if text.strip() != text else ""
            out.append(f"<w:t{space}>{escape(text)}</w:t>")
            piece.clear()

    for char in text:
        if char in "\t\n\r":
            flush()
            out.append("<w:tab/>" if char == "\t" else "<w:br/>")
        else:
            piece.append(char)
    flush()
    return "".join(out)


def _parse(xml: str):
    """The element of markup ``xml``, of python-docx's classes."""
    from docx.oxml.parser import parse_xml

    return parse_xml(xml)


def _add_block(doc, element) -> None:
    """``element`` at the end of ``doc``'s body, before its section properties if any."""
    body = doc.element.body
    sect = body.find(_qn("w:sectPr"))
    if sect is not None:
        sect.addprevious(element)
    else:
        body.append(element)


__all__ = ["bookmark_name", "docx_page_plan", "heading_style", "render_bundle_docx",
           "write_bundle_docx"]
