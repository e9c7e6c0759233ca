"""A PDF file written object by object, and objects copied into it from other PDFs.

:class:`Writer` writes a PDF 1.7 file front to back into a binary file: the header, each
object as soon as it is ready (recording only its offset), then a classic cross-reference
table and a trailer whose ``/ID`` is the MD5 digest of every byte before it (so equal
content gives equal bytes, as qpdf's deterministic id does).  Object numbers can be reserved
before the object is written (the page tree, the structure tree root: objects that the pages
written first refer to).

:class:`Copy` carries objects of one source PDF (opened with pikepdf) into the writer: every
object reachable from the ones asked for, renumbered, text as qpdf unparses it (strings,
names with ``#`` escapes, reals) with its references rewritten, streams with their raw,
still-encoded data.  ``alias`` maps source objects to objects of the output (the source's
page tree to the output's, a placeholder to a page written from another source), so a
source need not be open when another is copied.  Once :meth:`Copy.drain` returns, the
source can be closed: nothing of it is kept but the numbers handed out.

PDF/A's stream rules are kept as :func:`.archive.save` keeps them: an end-of-line after
``stream`` and before ``endstream``, ``/Length`` the exact count of the bytes between, and a
compressed stream whose bytes end with a carriage return (which would read as part of the
end-of-line) stored decoded.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from array import array
from collections import deque
from collections.abc import Iterable
from typing import BinaryIO

import pikepdf
from pikepdf import Dictionary, Name, Pdf

# A literal string (qpdf escapes every parenthesis inside one), a hex string, a reference,
# or a name standing for an object of the output (:func:`ref`).
_TOKEN = re.compile(rb"\((?:[^\\)]|\\.)*\)|<[0-9A-Fa-f\s]*>|(?<![\w.#/])(\d+) (\d+) R"
                    rb"|/NxOut(\d+)(?![\w#])")


def ref(num: int) -> Name:
    """A stand-in for output object ``num`` to put into a source's objects: written as a
    reference to it (cheaper than a new indirect object of the source)."""
    return Name(f"/NxOut{num}")


class Writer:
    """A PDF file under construction in ``target`` (binary, positioned at its start)."""

    def __init__(self, target: BinaryIO, keep: int = 1 << 16):
        self.target = target
        self.digest = hashlib.md5()
        self.pos = 0
        # object number - base -> byte offset (0: not written yet); once more than ``keep``
        # are held, the oldest go to ``spilled`` as their cross-reference lines (20 bytes
        # each, a line of zeros for one not written yet: ``late`` holds its offset once it
        # is), so the table's memory does not grow with the objects
        self.offsets = array("Q", [0])
        self.base = 0
        self.keep = keep
        self.spilled: BinaryIO | None = None
        self.holes: set[int] = set()
        self.late: dict[int, int] = {}
        self.write(b"%PDF-1.7\n%\xbf\xf7\xa2\xfe\n")

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.digest.update(data)
        self.pos += len(data)

    def reserve(self) -> int:
        """A new object number, for an object written later."""
        if len(self.offsets) > self.keep:
            self._spill(len(self.offsets) // 2)
        self.offsets.append(0)
        return self.base + len(self.offsets) - 1

    def _spill(self, count: int) -> None:
        if self.spilled is None:
            self.spilled = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish)
        offsets = self.offsets
        for start in range(0, count, 4096):  # (lines made a block at a time: memory)
            lines = []
            for i in range(start, min(start + 4096, count)):
                offset = offsets[i]
                if offset:
                    lines.append(b"%010d 00000 n \n" % offset)
                else:
                    num = self.base + i
                    lines.append(_HOLE if num else b"0000000000 65535 f \n")
                    if num:
                        self.holes.add(num)
            self.spilled.write(b"".join(lines))
        del self.offsets[:count]
        self.base += count

    def _at(self, num: int) -> None:
        if num >= self.base:
            self.offsets[num - self.base] = self.pos
        elif num in self.holes:
            self.holes.discard(num)
            self.late[num] = self.pos
        else:
            raise ValueError(f"object {num} written twice")

    def object(self, num: int, body: bytes) -> None:
        """Object ``num`` (reserved) with ``body`` (its unparsed text)."""
        self._at(num)
        self.write(b"%d 0 obj\n%s\nendobj\n" % (num, body))

    def object_of(self, num: int, pieces: Iterable[bytes]) -> None:
        """Object ``num`` (reserved) whose body is the bytes of ``pieces`` one after another
        (an object as long as the projects are many, e.g. an array of every sheet's
        element, written as it is made, never whole): the bytes :meth:`object` writes."""
        self._at(num)
        self.write(b"%d 0 obj\n" % num)
        for piece in pieces:
            self.write(piece)
        self.write(b"\nendobj\n")

    def stream(self, num: int, head: bytes, data: bytes) -> None:
        """Stream object ``num``: ``head`` is its dictionary without ``/Length`` (``<< ... >>``),
        ``data`` its bytes as stored."""
        self._at(num)
        self.write(b"%d 0 obj\n%s/Length %d >>\nstream\n" % (num, head[:-2], len(data)))
        self.write(data)
        self.write(b"\nendstream\nendobj\n")

    def new(self, body: bytes) -> int:
        """A new object with ``body``; returns its number."""
        num = self.reserve()
        self.object(num, body)
        return num

    def new_stream(self, head: bytes, data: bytes) -> int:
        num = self.reserve()
        self.stream(num, head, data)
        return num

    def finish(self, root: int, info: int) -> None:
        """Cross-reference table and trailer; every reserved object must have been written."""
        missing = sorted(self.holes) + [self.base + n for n in range(len(self.offsets))
                                        if not self.offsets[n] and self.base + n]
        if missing:
            raise ValueError(f"objects reserved but never written: {missing[:10]}")
        xref = self.pos
        ident = self.digest.hexdigest().encode()
        size = self.base + len(self.offsets)
        self.write(b"xref\n0 %d\n" % size)
        if self.spilled is not None:
            for num, offset in self.late.items():
                self.spilled.seek(20 * num)
                self.spilled.write(b"%010d 00000 n \n" % offset)
            self.spilled.seek(0)
            while block := self.spilled.read(1 << 16):
                self.write(block)
            self.spilled.close()
        chunk = [b"0000000000 65535 f \n"] if not self.base else []
        for n in range(1 if not self.base else 0, len(self.offsets)):
            chunk.append(b"%010d 00000 n \n" % self.offsets[n])
            if len(chunk) >= 4096:
                self.write(b"".join(chunk))
                chunk = []
        self.write(b"".join(chunk))
        self.write(b"trailer\n<< /ID [ <%s> <%s> ] /Info %d 0 R /Root %d 0 R /Size %d >>\n"
                   b"startxref\n%d\n%%%%EOF\n" % (ident, ident, info, root, size, xref))


_HOLE = b"0000000000 00000 n \n"  # (overwritten once the object is written)


def unparse(obj: object) -> bytes:
    """A direct pikepdf object (or Python value pikepdf takes) as PDF text."""
    if isinstance(obj, pikepdf.Object):
        return obj.unparse()
    return pikepdf.Array([obj]).unparse()[2:-2]


def stream_data(stream: pikepdf.Stream) -> tuple[Dictionary, bytes]:
    """A stream's dictionary (a copy, without ``/Length``) and its bytes as stored: raw,
    unless they are compressed and end with a carriage return (then decoded)."""
    head = Dictionary({k: v for k, v in stream.stream_dict.items() if k != "/Length"})
    data = stream.read_raw_bytes()
    if data.endswith(b"\r") and "/Filter" in head:
        try:
            decoded = stream.read_bytes()
        except pikepdf.PdfError:  # a filter qpdf does not undo (DCT): left as it is
            return head, data
        if not decoded.endswith(b"\r"):
            for key in ("/Filter", "/DecodeParms"):
                if key in head:
                    del head[key]
            return head, decoded
    return head, data


class Copy:
    """Objects of ``source`` copied into ``writer`` (see the module docstring)."""

    def __init__(self, writer: Writer, source: Pdf,
                 alias: dict[tuple[int, int], int] | None = None):
        self.writer, self.source = writer, source
        self.numbers: dict[tuple[int, int], int] = dict(alias or {})
        self.queue: deque[tuple[int, int]] = deque()

    def number(self, obj: pikepdf.Object) -> int:
        """The output number of the indirect object ``obj`` (written by :meth:`drain`)."""
        return self._number(obj.objgen)

    def _number(self, objgen: tuple[int, int]) -> int:
        num = self.numbers.get(objgen)
        if num is None:
            num = self.numbers[objgen] = self.writer.reserve()
            self.queue.append(objgen)
        return num

    def alias(self, obj: pikepdf.Object, num: int) -> None:
        """Write ``num`` wherever the source refers to ``obj``."""
        self.numbers[obj.objgen] = num

    def _sub(self, match: re.Match) -> bytes:
        found = match.group(1)
        if found is not None:
            objgen = (int(found), int(match.group(2)))
            num = self.numbers.get(objgen)
            return b"%d 0 R" % (num if num is not None else self._number(objgen))
        found = match.group(3)
        if found is not None:
            return found + b" 0 R"
        return match.group(0)

    def _rewritten(self, text: bytes) -> bytes:
        """``text`` with its references renumbered (see :data:`_TOKEN`): as it is when it
        holds none (a reference and a stand-in both hold these bytes)."""
        if b" R" not in text and b"/NxOut" not in text:
            return text
        return _TOKEN.sub(self._sub, text)

    def text(self, obj: object) -> bytes:
        """``obj`` as PDF text in the output: a reference for an indirect object (copied),
        else its text with its references rewritten."""
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            return b"%d 0 R" % self.number(obj)
        return self._rewritten(unparse(obj))

    def drain(self) -> None:
        """Write every object handed a number and not written yet (and what they refer to)."""
        writer, source = self.writer, self.source
        while self.queue:
            objgen = self.queue.popleft()
            num = self.numbers[objgen]
            obj = source.get_object(objgen)
            if isinstance(obj, pikepdf.Stream):
                head, data = stream_data(obj)
                writer.stream(num, self._rewritten(head.unparse()), data)
            else:
                writer.object(num, self._rewritten(obj.unparse(resolved=True)))


def name(text: str) -> bytes:
    """A PDF name, escaped."""
    return Name("/" + text).unparse()


__all__ = ["Copy", "Writer", "name", "ref", "stream_data", "unparse"]
