"""Tagged PDF, the file side: what makes ReportLab's output PDF/UA-1 and PDF/A-2 at once.

A sheet is made so by ReportLab itself, before it saves (:func:`publish_canvas`: the
structure tree, ParentTree and document level written into its own document, its streams
and ToUnicode maps written as PDF/A wants them), so the file is written once.  The bundle,
assembled from the sheets' files, goes through a pikepdf (qpdf) pass:

:func:`publishable` takes the bytes ReportLab saved and the tree a
:class:`~.tagging.Tagger` recorded while drawing, and

* writes the structure tree (``StructTreeRoot``, every element with its ``/Pg``, ``/Alt``,
  ``/ActualText``, ``/Lang``, table attributes) and rebuilds the ``ParentTree`` from it
  (:func:`link_parent_tree`: MCID -> element for every page, ``StructParent`` -> element for
  every annotation, ``/StructParents`` and ``/Tabs /S`` on the pages);
* (for the bundle, assembled from pieces) makes every drawing operator outside marked
  content an ``/Artifact`` (:func:`artifact_rest`; a sheet has had that done on its canvas);
* replaces ReportLab's ToUnicode entries for unused codes (mapped to U+0000);
* adds ``/MarkInfo``, ``/Lang``, ``/ViewerPreferences /DisplayDocTitle``, an sRGB
  OutputIntent (the theme's ICC profile) and XMP metadata declaring PDF/A-2 and PDF/UA-1
  (with the PDF/A extension schema for ``pdfuaid``), equal to the document info;
* saves as PDF 1.7 through qpdf, which also writes the end-of-line before ``endstream``
  that ReportLab leaves out; the ``/ID`` follows the content (dates included), so equal
  input under ``SOURCE_DATE_EPOCH`` gives equal bytes.

The bundle (:mod:`.bundle`) uses the same pieces on a document assembled from tagged parts.
Both ways give the same structure tree (the goldens in ``tests/golden`` did not change).
"""

from __future__ import annotations

import io
import re
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfdoc

from ..recurring import Recurring
from .tagging import Element, LinkRef, MarkedRef, Step

if TYPE_CHECKING:  # pikepdf is imported where it is used: a sheet never needs it
    import pikepdf
    from pikepdf import Pdf

PDFA_PART, PDFA_CONFORMANCE = 2, "U"
"""PDF/A-2 level u (Unicode text) is what every PDF declares; PDF/UA-1 declares the tagging.
The files also meet every rule of level a (tagged) but its declaration: a file declares one
level, and the level-u profile of page-validation refuses a file that declares level a."""
PDFUA_PART = 1
PRODUCER = "nexusreports (ReportLab, pikepdf)"
SHEET_PRODUCER = "nexusreports (ReportLab)"
"""A sheet is written by ReportLab alone (:func:`publish_canvas`); the bundle through pikepdf."""

_TABLE_ATTRS = {"Scope", "ColSpan", "RowSpan", "Headers", "Summary"}


@dataclass(frozen=True)
class Metadata:
    """The document information of a PDF, written to the info dictionary and to XMP alike.

    ``stamp`` is the creation (and modification) moment as ``D:YYYYMMDDHHMMSS+00'00'``,
    ``None`` for the one ReportLab wrote (see :func:`creation_stamp`).
    """

    title: str
    author: str
    subject: str
    keywords: str
    language: str
    creator: str
    stamp: str | None = None
    producer: str = PRODUCER


def creation_stamp(pdf: Pdf) -> str:
    """The creation date ReportLab wrote into ``pdf``'s info (``SOURCE_DATE_EPOCH`` in
    invariant mode, its fixed date when that is unset, else the time of drawing)."""
    return str(pdf.trailer.Info.CreationDate)


# --- the structure tree ------------------------------------------------------------------------

@dataclass
class Found:
    """What writing a tree found: page index -> MCID -> element, and (annotation,
    element) per OBJR; what :func:`link_parent_tree` would find walking the tree."""

    marks: dict[int, dict[int, pikepdf.Object]]
    objrs: list[tuple[pikepdf.Object, pikepdf.Object]]


def write_tree(pdf: Pdf, root: Element, parent: pikepdf.Object, page_offset: int = 0,
               found: Found | None = None) -> pikepdf.Object | None:
    """Write ``root`` (recorded on pages ``page_offset``...) as a structure element under
    ``parent``; return it (``None`` for an element with no content at all).  ``found``
    collects its marked content and annotations."""
    from pikepdf import Array, Dictionary, Name, String
    if found is None:
        found = Found({}, [])
    pages = pdf.pages
    step = root.step
    elem = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name("/" + step.role),
                                        P=parent))
    kids = Array()
    first_page = next((k.page for k in root.kids if isinstance(k, MarkedRef)), None)
    if first_page is not None:
        elem.Pg = pages[page_offset + first_page].obj
    for kid in root.kids:
        if isinstance(kid, Element):
            written = write_tree(pdf, kid, elem, page_offset, found)
            if written is not None:
                kids.append(written)
        elif isinstance(kid, MarkedRef):
            found.marks.setdefault(page_offset + kid.page, {})[kid.mcid] = elem
            if kid.page == first_page:
                kids.append(kid.mcid)
            else:
                kids.append(Dictionary(Type=Name.MCR, Pg=pages[page_offset + kid.page].obj,
                                       MCID=kid.mcid))
        elif isinstance(kid, LinkRef):
            page = pages[page_offset + kid.page]
            links = [a for a in page.obj.get("/Annots", []) if a.get("/Subtype") == Name.Link]
            kids.append(Dictionary(Type=Name.OBJR, Pg=page.obj, Obj=links[kid.index]))
            found.objrs.append((links[kid.index], elem))
    if not len(kids) and not step.actual and not step.alt and step.role not in ("TD", "TH"):
        return None  # (an empty table cell stays: every row keeps its columns)
    elem.K = kids[0] if len(kids) == 1 and not isinstance(kids[0], Dictionary) else kids
    if step.alt is not None:
        elem.Alt = String(step.alt)
    if step.actual is not None:
        elem.ActualText = String(step.actual)
    if step.lang:
        elem.Lang = String(step.lang)
    a = attributes(step)
    if a is not None:
        elem.A = a
    return elem


def attributes(step: Step) -> pikepdf.Dictionary | None:
    """The attribute dictionary (``/A``) of a structure element, owned by ``Table`` when
    every attribute is a table one, else by ``Layout``; None without attributes."""
    from pikepdf import Dictionary, Name
    attrs = dict(step.attrs)
    if not attrs:
        return None
    owner = "Table" if set(attrs) <= _TABLE_ATTRS else "Layout"
    a = Dictionary(O=Name("/" + owner))
    for key, value in attrs.items():
        a[Name("/" + key)] = Name("/" + value) if isinstance(value, str) else value
    return a


def new_tree_root(pdf: Pdf) -> pikepdf.Object:
    """An empty ``StructTreeRoot`` on ``pdf``'s catalog."""
    from pikepdf import Array, Dictionary, Name
    root = pdf.make_indirect(Dictionary(Type=Name.StructTreeRoot, K=Array()))
    pdf.Root.StructTreeRoot = root
    return root


def _elements(node: pikepdf.Object) -> Iterable[pikepdf.Object]:
    """Every structure element under ``node`` (a StructTreeRoot or element), pre-order."""
    from pikepdf import Array, Dictionary, Name
    kids = node.get("/K")
    if kids is None:
        return
    for kid in kids if isinstance(kids, Array) else [kids]:
        if isinstance(kid, Dictionary) and kid.get("/Type") in (None, Name.StructElem) \
                and "/S" in kid:
            yield kid
            yield from _elements(kid)


def _walk(pdf: Pdf) -> Found:
    """The marked content and OBJRs of every element of ``pdf``'s structure tree."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name
    page_index = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
    found = Found({}, [])
    for elem in _elements(pdf.Root.StructTreeRoot):
        kids = elem.get("/K")
        for kid in kids if isinstance(kids, Array) else [kids]:
            if isinstance(kid, int) or (isinstance(kid, pikepdf.Object)
                                        and kid._type_code == pikepdf.ObjectType.integer):
                found.marks.setdefault(page_index[elem.Pg.objgen], {})[int(kid)] = elem
            elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.MCR:
                found.marks.setdefault(page_index[kid.Pg.objgen], {})[int(kid.MCID)] = elem
            elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.OBJR:
                found.objrs.append((kid.Obj, elem))
    return found


def link_parent_tree(pdf: Pdf, found: Found | None = None) -> None:
    """Rebuild the ``ParentTree`` from the structure tree (or from what writing it
    ``found``): each page's ``/StructParents`` indexes an array MCID -> element, each
    annotation in an OBJR gets a ``/StructParent`` pointing at its element; pages with
    annotations get ``/Tabs /S``."""
    from pikepdf import Array, Dictionary, Name
    if found is None:
        found = _walk(pdf)
    nums = Array()
    key = 0
    for i, page in enumerate(pdf.pages):
        if "/StructParents" in page.obj:
            del page.obj["/StructParents"]
        if i in found.marks:
            by_mcid = found.marks[i]
            if sorted(by_mcid) != list(range(len(by_mcid))):
                raise ValueError(f"page {i + 1}: MCIDs {sorted(by_mcid)} are not 0..n-1")
            page.obj.StructParents = key
            nums.append(key)
            nums.append(pdf.make_indirect(Array([by_mcid[n] for n in range(len(by_mcid))])))
            key += 1
        if "/Annots" in page.obj and len(page.obj.Annots):
            page.obj.Tabs = Name.S
    for annot, elem in found.objrs:
        annot.StructParent = key
        nums.append(key)
        nums.append(elem)
        key += 1
    root = pdf.Root.StructTreeRoot
    root.ParentTree = pdf.make_indirect(Dictionary(Nums=nums))
    root.ParentTreeNextKey = key


# --- content ---------------------------------------------------------------------------------

_PATH = {"m", "l", "c", "v", "y", "h", "re"}
_PAINT = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*"}
_CLIP = {"W", "W*"}
_SHOW = {"Tj", "TJ", "'", '"', "Do", "sh"}


def artifact_rest(pdf: Pdf) -> None:
    """Wrap every painting operator drawn outside marked content in ``/Artifact BMC ... EMC``
    (bands, bars, rules, boxes, table backgrounds and lines: whatever was not tagged)."""
    import pikepdf
    from pikepdf import Name
    begin = pikepdf.ContentStreamInstruction([Name.Artifact], pikepdf.Operator("BMC"))
    end = pikepdf.ContentStreamInstruction([], pikepdf.Operator("EMC"))
    for page in pdf.pages:
        out: list = []
        depth = 0
        path: list = []
        for instr in pikepdf.parse_content_stream(page):
            if isinstance(instr, pikepdf.ContentStreamInlineImage):
                out += [begin, instr, end] if depth == 0 else [instr]
                continue
            op = str(instr.operator)
            if op in ("BMC", "BDC"):
                depth += 1
            elif op == "EMC":
                depth -= 1
            if depth > 0 and not path:
                out.append(instr)
                continue
            if op in _PATH or (path and op in _CLIP):
                path.append(instr)
            elif path:
                path.append(instr)
                if op in _PAINT and not any(str(i.operator) in _CLIP for i in path):
                    out += [begin, *path, end]
                else:
                    out += path
                path = []
            elif op in _SHOW and depth == 0:
                out += [begin, instr, end]
            else:
                out.append(instr)
        out += path
        page.obj.Contents = flate_stream(pdf, pikepdf.unparse_content_stream(out))


_UNUSED = re.compile(rb"<[0-9A-Fa-f]{2}> <0000>\r?\n")
_BFCHAR = re.compile(rb"(\d+) beginbfchar\r?\n(.*?)endbfchar", re.S)


def fix_to_unicode(pdf: Pdf) -> None:
    """Drop ToUnicode entries that map a font code to U+0000 (codes ReportLab's subsets do
    not use): PDF/A and PDF/UA forbid mapping to U+0000."""
    from pikepdf import Dictionary, Name
    seen: set[tuple[int, int]] = set()
    for font in list(pdf.objects):
        if not isinstance(font, Dictionary) or font.get("/Type") != Name.Font:
            continue
        tu = font.get("/ToUnicode")
        if tu is not None and tu.objgen not in seen:
            seen.add(tu.objgen)
            data = tu.read_bytes()

            tu.write(deflate(_BFCHAR.sub(_used_only, data)), filter=Name.FlateDecode)


def _used_only(match: re.Match) -> bytes:
    body = _UNUSED.sub(b"", match.group(2))
    count = len(re.findall(rb"^<", body, re.M))
    return b"%d beginbfchar\n%sendbfchar" % (count, body)


# --- document level ----------------------------------------------------------------------------

def _xmp_date(stamp: str) -> str:
    d = stamp[2:]
    return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}+00:00"


def xmp(meta: Metadata) -> bytes:
    """XMP declaring PDF/A-2 and PDF/UA-1, with the document info's values."""
    e = escape
    date = _xmp_date(meta.stamp)
    text = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
   <pdfaid:part>{PDFA_PART}</pdfaid:part>
   <pdfaid:conformance>{PDFA_CONFORMANCE}</pdfaid:conformance>
   <pdfuaid:part>{PDFUA_PART}</pdfuaid:part>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(meta.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{e(meta.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(meta.subject)}</rdf:li></rdf:Alt></dc:description>
   <dc:language><rdf:Bag><rdf:li>{e(meta.language)}</rdf:li></rdf:Bag></dc:language>
   <pdf:Keywords>{e(meta.keywords)}</pdf:Keywords>
   <pdf:Producer>{e(meta.producer)}</pdf:Producer>
   <xmp:CreatorTool>{e(meta.creator)}</xmp:CreatorTool>
   <xmp:CreateDate>{date}</xmp:CreateDate>
   <xmp:ModifyDate>{date}</xmp:ModifyDate>
   <xmp:MetadataDate>{date}</xmp:MetadataDate>
   <pdfaExtension:schemas>
    <rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
      <pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
      <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
      <pdfaSchema:property>
       <rdf:Seq>
        <rdf:li rdf:parseType="Resource">
         <pdfaProperty:name>part</pdfaProperty:name>
         <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
         <pdfaProperty:category>internal</pdfaProperty:category>
         <pdfaProperty:description>Indicates, which part of ISO 14289 standard is followed</pdfaProperty:description>
        </rdf:li>
       </rdf:Seq>
      </pdfaSchema:property>
     </rdf:li>
    </rdf:Bag>
   </pdfaExtension:schemas>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return text.encode("utf-8")


def document_level(pdf: Pdf, meta: Metadata, icc: bytes) -> None:
    """Catalog and info of a publishable PDF: MarkInfo, Lang, DisplayDocTitle, the sRGB
    OutputIntent, XMP and the info dictionary with the same values."""
    from pikepdf import Array, Dictionary, Name, String
    root = pdf.Root
    root.MarkInfo = Dictionary(Marked=True)
    root.Lang = String(meta.language)
    root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    profile = flate_stream(pdf, icc)
    profile.N = 3
    root.OutputIntents = Array([Dictionary(
        Type=Name.OutputIntent, S=Name.GTS_PDFA1,
        OutputConditionIdentifier=String("sRGB IEC61966-2.1"),
        Info=String("sRGB IEC61966-2.1"), DestOutputProfile=profile)])
    assert meta.stamp is not None
    stream = pdf.make_stream(xmp(meta))
    stream.Type, stream.Subtype = Name.Metadata, Name.XML
    root.Metadata = stream
    info = pdf.make_indirect(Dictionary(
        Title=String(meta.title), Author=String(meta.author), Subject=String(meta.subject),
        Keywords=String(meta.keywords), Creator=String(meta.creator),
        Producer=String(meta.producer), CreationDate=String(meta.stamp),
        ModDate=String(meta.stamp)))
    pdf.trailer.Info = info


def deflate(data: bytes) -> bytes:
    """``data`` compressed (Flate)."""
    return zlib.compress(data, 6)


def flate_stream(pdf: Pdf, data: bytes) -> pikepdf.Stream:
    """A new stream of ``data``, compressed by :func:`deflate`."""
    from pikepdf import Name
    stream = pdf.make_stream(deflate(data))
    stream.Filter = Name.FlateDecode
    return stream


def _no_trailing_cr(pdf: Pdf) -> None:
    """Store uncompressed every compressed stream whose bytes end with a carriage return.

    Before the end-of-line qpdf writes ahead of ``endstream`` such a CR reads as one CR LF
    marker, and the stream as a byte short of its ``/Length`` (PDF/A checks it).  A Flate
    stream ends with the checksum of its data, so no compression setting avoids it (about
    one stream in 256)."""
    import pikepdf
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and "/Filter" in obj \
                and obj.read_raw_bytes().endswith(b"\r"):
            try:
                data = obj.read_bytes()  # (Flate, also after ASCII85 or as [/FlateDecode])
            except pikepdf.PdfError:  # a filter qpdf does not undo (DCT): left as it is
                continue
            if not data.endswith(b"\r"):
                obj.write(data)


def save(pdf: Pdf) -> bytes:
    """``pdf`` as PDF 1.7 bytes; the ID is a digest of the content (dates included).

    Streams are written as they are (ReportLab's and ours compressed by then, the XMP left
    readable), none ending with a CR; no object streams, whose compressed bytes qpdf would
    make at writing time."""
    import pikepdf
    out = io.BytesIO()
    if "/ID" in pdf.trailer:  # else qpdf keeps ReportLab's first half: both halves the digest
        del pdf.trailer["/ID"]
    _no_trailing_cr(pdf)
    pdf.save(out, force_version="1.7", deterministic_id=True, compress_streams=False,
             stream_decode_level=pikepdf.StreamDecodeLevel.none,
             object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return out.getvalue()


def publishable(data: bytes, tree: Element, meta: Metadata, icc: bytes) -> bytes:
    """ReportLab's ``data`` with the recorded ``tree`` made PDF/UA-1 and PDF/A-2 (see the
    module docstring); what was drawn outside marked content is an artifact already
    (:func:`.tagging.artifact_unmarked`)."""
    from pikepdf import Pdf
    with Pdf.open(io.BytesIO(data)) as pdf:
        if meta.stamp is None:
            meta = replace(meta, stamp=creation_stamp(pdf))
        root = new_tree_root(pdf)
        found = Found({}, [])
        elem = write_tree(pdf, tree, root, found=found)
        if elem is not None:
            root.K.append(elem)
        fix_to_unicode(pdf)
        link_parent_tree(pdf, found)
        document_level(pdf, meta, icc)
        return save(pdf)


# --- a sheet: the same, written by ReportLab itself -------------------------------------------

def publish_canvas(canvas: Any, buf: io.BytesIO, tree: Element, meta: Metadata,
                   icc: bytes) -> bytes:
    """The PDF bytes of ``canvas`` (writing to ``buf``; its last page shown) with the
    recorded ``tree``, made PDF/UA-1 and PDF/A-2 by ReportLab itself
    (:func:`finish_canvas`), then saved (:func:`save_canvas`)."""
    finish_canvas(canvas, tree, meta, icc)
    return save_canvas(canvas, buf)


def save_canvas(canvas: Any, buf: io.BytesIO) -> bytes:
    """Save ``canvas`` (writing to ``buf``) and return its bytes."""
    canvas.save()
    return buf.getvalue()


def finish_canvas(canvas: Any, tree: Element, meta: Metadata, icc: bytes) -> None:
    """What :func:`publishable` does, done in ReportLab's own document before it is saved
    (call after the last ``showPage``, before ``save``): no second parse and save.

    The structure tree and ParentTree, ``/StructParents`` on the pages, ``/MarkInfo``,
    ``/Lang``, ``/ViewerPreferences``, the OutputIntent, XMP and the info dictionary's
    producer; PDF 1.7.  ReportLab's streams get the end-of-line before ``endstream`` and
    its ToUnicode maps only the codes a subset uses (:func:`_archival_reportlab`), so the
    bytes it writes are PDF/A-2 and PDF/UA-1 as they are.  Links are not supported here
    (a sheet has none; the bundle, which has, goes through pikepdf)."""
    _archival_reportlab()
    meta = replace(meta, producer=SHEET_PRODUCER)
    doc = canvas._doc
    doc._nexus_archival = True
    doc._pdfVersion = (1, 7)
    if meta.stamp is None:
        stamp = pdfdoc.PDFDate(ts=doc._timeStamp, dateFormatter=doc.info._dateFormatter)
        meta = replace(meta, stamp=stamp.format(doc).decode("latin-1").strip("()"))
    pages = doc.Pages.pages
    page_names = [doc.Reference(page).name for page in pages]
    marks: dict[int, dict[int, str]] = {}
    top = _rl_element(doc, tree, "StructTreeRoot", page_names, marks, [0])
    nums: list[bytes | str] = [b"<< /Nums ["]
    key = 0
    for i, page in enumerate(pages):
        if i in marks:
            by_mcid = marks[i]
            if sorted(by_mcid) != list(range(len(by_mcid))):
                raise ValueError(f"page {i + 1}: MCIDs {sorted(by_mcid)} are not 0..n-1")
            page.StructParents = key
            page.__NoDefault__ = [*pdfdoc.PDFPage.__NoDefault__, "StructParents"]
            array: list[bytes | str] = [b"["]
            for n in range(len(by_mcid)):
                array += [by_mcid[n], b" "]
            array.append(b"]")
            nums += [b"%d " % key, doc.Reference(_Raw(array)).name, b" "]
            key += 1
    nums.append(b"] >>")
    parent_tree = doc.Reference(_Raw(nums)).name
    doc.Reference(_Raw([b"<< /Type /StructTreeRoot /K [", *([top] if top else []),
                        b"] /ParentTree ", parent_tree, b" /ParentTreeNextKey %d >>" % key]),
                  "StructTreeRoot")
    root_ref = pdfdoc.PDFObjectReference("StructTreeRoot")
    cat = doc.Catalog
    cat.StructTreeRoot = root_ref
    cat.MarkInfo = pdfdoc.PDFDictionary({"Marked": b"true"})
    cat.Lang = pdfdoc.PDFString(meta.language)
    cat.ViewerPreferences = pdfdoc.PDFDictionary({"DisplayDocTitle": b"true"})
    packed = _deflated(icc)
    if packed.endswith(b"\r"):  # (see _no_trailing_cr)
        profile = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"N": 3}), icc, filters=[])
    else:
        profile = pdfdoc.PDFStream(pdfdoc.PDFDictionary(
            {"N": 3, "Filter": pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])}), packed)
    cat.OutputIntents = pdfdoc.PDFArray([pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("OutputIntent"), "S": pdfdoc.PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": pdfdoc.PDFString("sRGB IEC61966-2.1"),
        "Info": pdfdoc.PDFString("sRGB IEC61966-2.1"),
        "DestOutputProfile": doc.Reference(profile)})])
    cat.__NoDefault__ = [*pdfdoc.PDFCatalog.__NoDefault__, "OutputIntents"]
    cat.Metadata = pdfdoc.PDFStream(pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("Metadata"), "Subtype": pdfdoc.PDFName("XML")}),
        xmp(meta), filters=[])
    doc.info.producer = meta.producer


@lru_cache(maxsize=4)
def _deflated(data: bytes) -> bytes:
    """``data`` compressed as ReportLab compresses a stream, once per process (the colour
    profile is the same in every sheet)."""
    return pdfdoc.PDFZCompress.encode(data)


class _Raw(pdfdoc.PDFObject):
    """A PDF object written as it is: bytes, with the references among ``parts`` (names
    of ReportLab objects) resolved to their numbers when the file is written (ReportLab's
    own formatting of a dictionary costs more than the rest of the tree)."""

    def __init__(self, parts: list[bytes | str]):
        self.parts = parts

    def format(self, document: Any) -> bytes:
        numbers = document.idToObjectNumberAndVersion
        return b"".join([p if p.__class__ is bytes else b"%d 0 R" % numbers[p][0]
                         for p in self.parts])


def _text(doc: Any, value: str) -> bytes:
    return pdfdoc.PDFString(value).format(doc)


_HEADS: dict[str, bytes] = {}
"""The opening of a structure element's dictionary, by role."""


def _rl_element(doc: Any, node: Element, parent: str, page_names: list[str], marks: dict,
                counter: list[int]) -> str | None:
    """:func:`write_tree` for ReportLab's document: ``node`` as a structure element under
    ``parent`` (an object's name); its object's name, ``None`` for an element with no
    content.  (Most of a sheet's objects are these, about 130: written with as few steps
    as the bytes allow.)"""
    step = node.step
    counter[0] += 1
    name = f"StructElem{counter[0]}"
    first_page = None  # the page of its first marked content
    kids: list[bytes | str] = []
    for kid in node.kids:
        if kid.__class__ is MarkedRef:
            page = kid.page
            if first_page is None:
                first_page = page
            by_mcid = marks.get(page)
            if by_mcid is None:
                by_mcid = marks[page] = {}
            by_mcid[kid.mcid] = name
            if page == first_page:
                kids.append(b"%d" % kid.mcid)
            else:
                kids += [b"<< /Type /MCR /Pg ", page_names[page], b" /MCID %d >>" % kid.mcid]
        elif isinstance(kid, Element):
            written = _rl_element(doc, kid, name, page_names, marks, counter)
            if written is not None:
                kids.append(written)
        else:
            raise ValueError("a link on a sheet: tag it through pikepdf (publishable)")
    if not kids and not step.actual and not step.alt and step.role not in ("TD", "TH"):
        return None  # (an empty table cell stays: every row keeps its columns)
    head = _HEADS.get(step.role)
    if head is None:
        head = _HEADS[step.role] = b"<< /Type /StructElem /S /%s /P " % step.role.encode()
    parts: list[bytes | str] = [head, parent]
    if first_page is not None:
        parts += [b" /Pg ", page_names[first_page]]
    if len(kids) == 1 and kids[0].__class__ is bytes:
        tail = b" /K " + kids[0]
    else:
        parts.append(b" /K [")
        for kid in kids:
            parts += [kid, b" "]
        tail = b"]"
    if step.alt is not None or step.actual is not None or step.lang or step.attrs:
        parts.append(tail)
        tail = b""
        if step.alt is not None:
            parts += [b" /Alt ", _text(doc, step.alt)]
        if step.actual is not None:
            parts += [b" /ActualText ", _text(doc, step.actual)]
        if step.lang:
            parts += [b" /Lang ", _text(doc, step.lang)]
        attrs = dict(step.attrs)
        if attrs:
            owner = "Table" if set(attrs) <= _TABLE_ATTRS else "Layout"
            parts.append(b" /A << /O /%s" % owner.encode())
            for key, value in attrs.items():
                parts.append((b" /%s /%s" if isinstance(value, str) else b" /%s %d")
                             % (key.encode(), value.encode() if isinstance(value, str) else value))
            parts.append(b" >>")
    parts.append(tail + b" >>")
    doc.Reference(_Raw(parts), name)
    return name


_patched = False
_patching = threading.Lock()


def _archival_reportlab() -> None:
    """Make ReportLab write what PDF/A asks of every stream and ToUnicode map (once per
    process): an end-of-line before ``endstream`` in the documents :func:`finish_canvas`
    marks (a stream whose compressed bytes end with a CR stored uncompressed, see
    :func:`_no_trailing_cr`), and no ToUnicode entry for a code a subset does not use
    (ReportLab maps those to U+0000, which PDF/A and PDF/UA forbid)."""
    global _patched
    with _patching:  # (two threads rendering at once must not patch it twice)
        if not _patched:
            _patch_reportlab()
            _patched = True


def _patch_reportlab() -> None:
    from reportlab.pdfbase import ttfonts

    stream_format = pdfdoc.PDFStream.format
    to_unicode = ttfonts.makeToUnicodeCMap
    make_subset = ttfonts.TTFontFile.makeSubset

    def unfiltered(stream: Any, document: Any) -> bytes:
        saved = stream.filters, document.defaultStreamFilters
        stream.filters = document.defaultStreamFilters = None  # (``[]`` writes /Filter [])
        try:
            return stream_format(stream, document)
        finally:
            stream.filters, document.defaultStreamFilters = saved

    def format_stream(self: Any, document: Any) -> bytes:
        if not getattr(document, "_nexus_archival", False):
            return stream_format(self, document)
        if self.filters == [pdfdoc.PDFZCompress] and (
                "Length1" in self.dictionary.dict or _is_cmap(self.content)):
            self.filters = [_FONT_FLATE]  # a font program or its map (see _RememberedFlate)
        if self.filters == []:
            return unfiltered(self, document)[:-len(b"endstream\n")] + b"\nendstream\n"
        body = stream_format(self, document)[:-len(b"endstream\n")]
        if body.endswith(b"\r") and "Filter" not in self.dictionary.dict:
            plain = unfiltered(self, document)[:-len(b"endstream\n")]
            if not plain.endswith(b"\r"):
                body = plain
        return body + b"\nendstream\n"

    def used_only(fontname: str, subset: list[int]) -> str:
        key = (fontname, tuple(subset))
        made = _CMAPS.get(key)
        if made is None:
            cmap = to_unicode(fontname, subset).encode("latin-1")
            made = _BFCHAR.sub(_used_only, cmap).decode("latin-1")
            _CMAPS.put(key, made, len(made))
        return made

    def remembered_subset(face: Any, subset: list[int]) -> bytes:
        key = (face, tuple(subset))  # (a face is registered for good: kept alive anyway)
        made = _SUBSETS.get(key)
        if made is None:
            made = make_subset(face, subset)
            _SUBSETS.put(key, made, len(made))
        return made

    font_format = pdfdoc.PDFTrueTypeFont.format
    object_format = pdfdoc.PDFIndirectObject.format

    def format_font(self: Any, document: Any) -> bytes:
        widths = getattr(self, "Widths", None)
        if getattr(document, "_nexus_archival", False) and type(widths) is pdfdoc.PDFArray:
            key = tuple(widths.sequence)  # (a subset's advance widths: as its program)
            written = _WIDTHS.get(key)
            if written is None:
                written = _Raw([pdfdoc.format(widths, document)])
                _WIDTHS.put(key, written)
            self.Widths = written
        return font_format(self, document)

    def format_object(self: Any, document: Any) -> bytes:
        content = self.content
        if type(content) is not _Raw or type(document.encrypt) is not pdfdoc.NoEncryption:
            return object_format(self, document)
        # what PDFIndirectObject.format writes for a _Raw (a structure element, most of a
        # sheet's objects), without its steps for other objects
        body = content.format(document)
        return (b"%d %d obj\n" % document.idToObjectNumberAndVersion[self.name] + body
                + (b"endobj\n" if body.endswith(b"\n") else b"\nendobj\n"))

    split_string = ttfonts.TTFont.splitString

    def split_known(font: Any, text: Any, doc: Any, encoding: str = "utf-8") -> list:
        # ReportLab's splitString looks each character up in Python; a text whose every
        # character already has its code in the first subset (nearly every text drawn, once
        # the sheet's first lines have assigned them) is one translate instead
        state = font.state.get(doc)
        if state is None or text.__class__ is not str:
            return split_string(font, text, doc, encoding)
        codes = state.__dict__.get("_nexus_codes")
        if codes is None or codes.known != len(state.assignments):
            codes = state._nexus_codes = _Codes(state.assignments)
        try:
            return [(0, text.translate(codes).encode("latin-1"))] if text else []
        except _NotKnown:  # a character new to this document, or in another subset
            return split_string(font, text, doc, encoding)

    pdfdoc.PDFStream.format = format_stream
    ttfonts.makeToUnicodeCMap = used_only
    ttfonts.TTFont.splitString = split_known
    ttfonts.TTFontFile.makeSubset = remembered_subset
    pdfdoc.PDFTrueTypeFont.format = format_font
    pdfdoc.PDFIndirectObject.format = format_object


_SUBSETS = Recurring(kept_max=64, kept_budget=2_000_000, fresh_max=16)
"""The font programs of the subsets a sheet embeds (ReportLab's ``makeSubset``), by face
and subset: a subset holds all of ASCII and the other characters in the order the sheet
first uses them, so the sheets of one language embed the same few subsets (3 distinct in
300 sheets of the synthetic data, 5 when every project's texts differ); making one took
about 0.4 ms."""
_CMAPS = Recurring(kept_max=64, kept_budget=500_000, fresh_max=16)
"""The ToUnicode maps of those subsets (what ``used_only`` makes of ReportLab's), by
font name and subset."""
_WIDTHS = Recurring(kept_max=64, fresh_max=16)
"""The ``/Widths`` arrays of those subsets as written (a number each of 128 or more
codes), by the widths."""


class _NotKnown(Exception):
    """A character :class:`_Codes` has no code for (not a LookupError: ``str.translate``
    stops at it instead of leaving the character as it is)."""


class _Codes(dict):
    """Character -> its code in the first subset of a TrueType font in one document, as a
    ``str.translate`` table (the code as a character): what ReportLab's ``splitString``
    assigned so far (``known`` of them), a no-break space coded as a space as it codes
    it.  Any other character raises :class:`_NotKnown`."""

    def __init__(self, assignments: dict[int, int]):
        super().__init__((char, chr(code)) for char, code in assignments.items() if code < 256)
        self.known = len(assignments)
        if 32 in assignments and assignments[32] < 256:
            self[0xA0] = chr(assignments[32])
        else:
            self.pop(0xA0, None)

    def __missing__(self, char: int) -> str:
        raise _NotKnown(char)


def _is_cmap(content: Any) -> bool:
    """Whether a stream's ``content`` is a ToUnicode map as ReportLab writes one."""
    head = "/CIDInit /ProcSet findresource begin"
    return (content.startswith(head) if isinstance(content, str)
            else isinstance(content, bytes) and content.startswith(head.encode()))


class _RememberedFlate(pdfdoc.PDFStreamFilterZCompress):
    """ReportLab's Flate filter (the same bytes), for font programs and their ToUnicode
    maps: the subset of a font
    a sheet uses is often the same bytes as on other sheets (the labels and figures use
    the same letters), and compressing the subsets was most of the compressing a sheet
    does; the compressed bytes of those met on many sheets are kept
    (:class:`~nexusreports.render.recurring.Recurring`)."""

    def __init__(self) -> None:
        self.kept = Recurring(kept_max=256, kept_budget=2_000_000, fresh_max=16)

    def encode(self, text: bytes | str) -> bytes:
        if isinstance(text, str):
            text = text.encode("utf8")
        compressed = self.kept.get(text)
        if compressed is None:
            compressed = super().encode(text)
            self.kept.put(text, compressed, len(text) + len(compressed))
        return compressed


_FONT_FLATE = _RememberedFlate()


def tag_pdf(pdf: Pdf, meta: Metadata, icc: bytes) -> None:
    """What :func:`publishable` does once the tree is in place, for a PDF assembled from
    pieces (the bundle): unmarked drawing made artifacts, the ParentTree from the tree."""
    artifact_rest(pdf)
    fix_to_unicode(pdf)
    link_parent_tree(pdf)
    document_level(pdf, meta, icc)


__all__ = ["Metadata", "PDFA_CONFORMANCE", "PDFA_PART", "PDFUA_PART", "artifact_rest",
           "document_level", "fix_to_unicode", "link_parent_tree", "new_tree_root",
           "publish_canvas", "publishable", "save", "save_canvas", "tag_pdf", "write_tree",
           "xmp"]
