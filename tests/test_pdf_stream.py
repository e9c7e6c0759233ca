"""The PDF file writer the bundle streams through (render/pdf/incremental.py): objects copied
from another PDF come out as they went in, renumbered, and the file is one qpdf, pypdf
and poppler read without complaint."""

from __future__ import annotations

import io
import re
import subprocess

from pikepdf import Array, Dictionary, Name, Pdf, String
from pypdf import PdfReader

from nexusreports.render.pdf.incremental import Copy, Writer, ref


# What a text-level renumbering could get wrong: a reference's look-alike inside strings
# (literal, with parentheses and backslashes, and binary ones that qpdf writes in hex),
# names needing # escapes, reals, nested arrays and dictionaries, streams.
def tricky() -> dict:
    return {
        "/Lit": String("see 12 0 R (or (3 0 R)) \\ back"),
        "/Bin": String(b"\x00\xff 4 0 R \r\n"),
        "/Uni": String("Flagship – ATMP I&II · 5 0 R"),
        "/Odd": Name("/a b#c(d)"),
        "/Real": Array([0.5, -1.25, 595.2756, 100000]),
    }


def _source() -> Pdf:
    pdf = Pdf.new()
    pdf.add_blank_page(page_size=(200, 100))
    page = pdf.pages[0].obj
    shared = pdf.make_indirect(Dictionary(Kind=Name.Shared, Back=String("9 0 R")))
    page.Contents = pdf.make_stream(b"0 0 1 rg 10 10 50 50 re f\r")  # ends with a CR
    page.Tricky = pdf.make_indirect(Dictionary({
        **tricky(), "/Twice": Array([shared, shared]),
        "/Nested": Dictionary(Deep=Array([Array([shared])]))}))
    return pdf


def _write(pdf: Pdf, keep: int = 1 << 16) -> bytes:
    out = io.BytesIO()
    w = Writer(out, keep=keep)
    catalog, pages = w.reserve(), w.reserve()
    w.new(b"<< /Spacer true >>")  # so the numbers change on the way
    pdf.pages[0].obj.Tricky.Out = ref(catalog)  # a stand-in for an object of the output
    copy = Copy(w, pdf, {pdf.Root.Pages.objgen: pages})
    page = copy.number(pdf.pages[0].obj)
    copy.drain()
    w.object(pages, b"<< /Count 1 /Kids [ %d 0 R ] /Type /Pages >>" % page)
    info = w.new(b"<< /Title (x) >>")
    w.object(catalog, b"<< /Pages %d 0 R /Type /Catalog >>" % pages)
    w.finish(catalog, info)
    return out.getvalue()


def test_copied_objects_read_back_equal_to_the_source_renumbered():
    source = _source()
    data = _write(source)
    with Pdf.open(io.BytesIO(data)) as back:
        got = back.pages[0].obj.Tricky
        for key, value in tricky().items():
            assert got[key] == value, key
        assert got.Twice[0].objgen == got.Twice[1].objgen == \
            got.Nested.Deep[0][0].objgen  # one object, written once
        assert str(got.Twice[0].Back) == "9 0 R"
        assert back.pages[0].obj.Contents.read_bytes() == b"0 0 1 rg 10 10 50 50 re f\r"
        assert tricky_out_is_root(back)
        assert back.pages[0].obj.Tricky.objgen != source.pages[0].obj.Tricky.objgen


def tricky_out_is_root(pdf: Pdf) -> bool:
    return pdf.pages[0].obj.Tricky.Out.objgen == pdf.Root.objgen


def test_the_file_has_an_exact_xref_and_an_id_that_is_its_digest():
    data = _write(_source())
    assert data == _write(_source())  # equal input, equal bytes
    assert PdfReader(io.BytesIO(data), strict=True).pages[0].mediabox.width == 200
    with Pdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.check_pdf_syntax()  # qpdf: no xref or stream-length problems
        ids = pdf.trailer.ID
        assert bytes(ids[0]) == bytes(ids[1]) and len(bytes(ids[0])) == 16
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=False)
    assert info.returncode == 0 and re.search(rb"Pages: +1\n", info.stdout), info.stderr
    assert b"Syntax Error" not in info.stderr


def test_a_cross_reference_table_spilled_to_disk_is_the_same_table():
    # a bundle of 10,000 projects has millions of objects: the writer keeps the offsets of
    # the newest only and spills the others, the reserved-but-unwritten ones patched at the end
    assert _write(_source(), keep=2) == _write(_source())
    with Pdf.open(io.BytesIO(_write(_source(), keep=2))) as pdf:
        assert not pdf.check_pdf_syntax()


def test_an_object_written_in_pieces_is_the_object_written_whole():
    # the bundle's Document element lists every sheet's element: written as it is made
    from nexusreports.render.pdf.bundle import _joined_refs

    def file(whole: bool) -> bytes:
        out = io.BytesIO()
        w = Writer(out)
        num = w.reserve()
        refs = range(1, 10_000)
        if whole:
            w.object(num, b"<< /K [ %s ] >>" % b" ".join(b"%d 0 R" % n for n in refs))
        else:
            w.object_of(num, [b"<< /K [ ", *_joined_refs(refs, per=333), b" ] >>"])
        w.finish(num, num)
        return out.getvalue()

    assert file(whole=False) == file(whole=True)
