"""Stage 1, load: YAML files -> raw mappings that remember their file and line.

In: a path to a UTF-8 YAML file.  Out: a :class:`RawDocument` whose ``data`` is made of
``dict``, ``list``, ``str`` and ``None`` only, and whose ``lines`` maps every location
(a tuple of keys and list indices, as pydantic reports them) to its 1-based line.

Why not ``yaml.safe_load``: it resolves scalars by YAML 1.1 rules, so a partner called ``NO``
becomes ``False`` and ``2025-09-30`` in a text field becomes a date.  Here the YAML is only
*composed* (no object construction at all) and every scalar stays the text that was typed;
the validate stage gives it a type from the field it is in.  A plain ``~``, ``null`` or an
empty value is ``None``.

Speed: the file is composed with libyaml (``yaml.CSafeLoader``, about 40 times faster than
the pure-Python composer; it keeps the marks, hence the line numbers) when PyYAML was built
with it.  Every message stays the one the pure-Python ``yaml.SafeLoader`` gives: a file that
libyaml refuses, or that holds a character the pure reader refuses, is composed again with
``SafeLoader``, which then raises the error that is reported.

Pasted characters: a vertical tab, form feed, NEL, U+2028 or U+2029 typed raw into a value
(YAML refuses the first two in the stream and reads the others as a line break of the file)
stays in the value, as do other control characters, so that the model makes the first ones
line breaks and refuses the others naming the field (:func:`_stand_ins`); a tab after a
line's indentation is read as a space.  A refused character outside every value (in a
comment) is an error naming its line.

Guards: files over :data:`MAX_FILE_BYTES` are refused before parsing; anchors/aliases are
refused (they allow exponential expansion, and project files never need them); nesting
deeper than :data:`MAX_DEPTH` is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .errors import DataError

MAX_FILE_BYTES = 512 * 1024
"""Largest data file accepted, in bytes; a real project sheet is under 20 KiB."""

MAX_DEPTH = 24
"""Deepest nesting of mappings and lists accepted."""

_NULLS = {"", "~", "null", "Null", "NULL"}

_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
"""libyaml's composer when PyYAML has it (``None`` otherwise)."""

_PLAIN_STYLES = (None, "")
"""A plain scalar's ``style``: ``None`` from the pure composer, ``""`` from libyaml."""

Loc = tuple[str | int, ...]


@dataclass
class RawDocument:
    """One loaded data file.

    ``data`` is the document (a mapping for every file this tool reads); ``lines`` maps a
    location tuple such as ``("summary", "en")`` or ``("organisations", 0, "name")`` to the
    1-based line where its value starts.
    """

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of ``loc`` or of its nearest enclosing location that is known (0 if none)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line:
                return line
        return 0


def load_yaml(path: Path) -> RawDocument:
    """Read and compose one YAML file.

    Raises :class:`DataError` naming the file and line for: an unreadable or non-UTF-8 file,
    a file over :data:`MAX_FILE_BYTES`, an empty file, a YAML syntax error (tab indentation
    has its own message), a duplicate key, an anchor or alias, or nesting deeper than
    :data:`MAX_DEPTH`.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            with path.open("rb") as file:  # never more than the limit is read
                line = file.read(MAX_FILE_BYTES).count(b"\n") + 1
            raise DataError(path, line, "", f"the file is {size // 1024} KiB and passes the "
                            f"limit on this line; a data file may be at most "
                            f"{MAX_FILE_BYTES // 1024} KiB: is this the right file?")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, 0, "", f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(path, line, "", "the file is not UTF-8 text: save it as UTF-8 "
                        "(in most editors: Save As, encoding UTF-8)") from exc
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> RawDocument:
    """Compose YAML ``text`` (already decoded) into a :class:`RawDocument` for ``path``."""
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise DataError(path, 1, "", "the file is empty: fill it in, or create it with "
                        "'nexusreports new SLUG'")
    prepared, back = _stand_ins(text)
    if not back and _FAST_LOADER is not None and _fast_loader_agrees(prepared):
        doc = _from_events(prepared, path)
        if doc is not None:
            return doc
    try:
        _check_depth(path, prepared)
        node = _compose(prepared)
    except yaml.MarkedYAMLError as exc:
        refused = [i for i, ch in enumerate(text) if ch in back.values()
                   and ch not in _KEPT_BREAKS]
        if refused:  # a control character where no value is (it may be the syntax error)
            raise _control_error(path, text, refused[0]) from exc
        raise _syntax_error(path, prepared, exc) from exc
    except yaml.reader.ReaderError as exc:  # pragma: no cover - every such character is stood in for
        raise _control_error(path, text, max(exc.position, 0)) from exc
    except yaml.YAMLError as exc:  # pragma: no cover - every parser error carries a mark
        raise DataError(path, 0, "", f"YAML error: {exc}") from exc
    doc = RawDocument(path=path, data=None)
    if node is None:
        raise DataError(path, 1, "", "the file is empty: fill it in, or create it with "
                        "'nexusreports new SLUG'")
    spans: list[tuple[int, int]] = []
    doc.data = _convert(node, (), doc, set(), 0, back, spans)
    if back:  # a stood-in character outside every value (in a comment, say): by its line
        _check_outside_values(path, text, back, spans)
    return doc


def _from_events(text: str, path: Path) -> RawDocument | None:
    """The document of ``text`` built from libyaml's events, one at a time, as
    :func:`_convert` builds it from the composed nodes (the same ``data`` and ``lines``),
    without holding a node and two marks per value: a bundle file that orders 10,000
    projects composed to 6 MB of nodes.  ``None`` -- then the nodes are composed, and
    report what is wrong -- for anything but a plain, valid document: a syntax error,
    an anchor, alias or tag, a key that is not text, a merge or repeated key, a mapping in
    ``{ }`` that may hold a number split at a comma, nesting deeper than
    :data:`MAX_DEPTH`, a surrogate, more than one document or none."""
    doc = RawDocument(path=path, data=None)
    lines = doc.lines
    # [container, its loc, the key waiting for its value, in { }, its last plain value
    # and the line it ends on (see _refuse_split_number)]
    stack: list[list[Any]] = []
    root: list[Any] = []
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            kind = type(event)
            if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent):
                continue
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    return None
                continue
            if kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                stack.pop()
                continue
            if kind is yaml.AliasEvent or event.anchor is not None or event.tag is not None:
                return None
            top = stack[-1] if stack else None
            if top is not None and isinstance(top[0], dict) and top[2] is None:  # a key
                if kind is not yaml.ScalarEvent:
                    return None
                key = event.value
                if key == "<<" or key in top[0] or _SURROGATE_RE.search(key):
                    return None
                if top[3] and top[4] is not None and key.isdigit() and \
                        event.start_mark.line == top[4][1] and _NUMBER_RE.fullmatch(top[4][0]):
                    return None  # perhaps 21,000 read as two fields: the nodes say
                lines[(*top[1], key)] = event.start_mark.line + 1
                top[2] = key
                continue
            if top is None:
                loc: Loc = ()
            elif isinstance(top[0], dict):
                loc = (*top[1], top[2])
            else:
                loc = (*top[1], len(top[0]))
            lines.setdefault(loc, event.start_mark.line + 1)
            if kind is yaml.ScalarEvent:
                if _SURROGATE_RE.search(event.value):
                    return None
                value: Any = (None if event.style in _PLAIN_STYLES and event.value in _NULLS
                              else event.value)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    return None
                value = {} if kind is yaml.MappingStartEvent else []
            else:  # pragma: no cover - every event is one of the above
                return None
            if top is None:
                root.append(value)
            elif isinstance(top[0], dict):
                top[0][top[2]] = value
                top[2] = None
                top[4] = ((event.value, event.end_mark.line) if kind is yaml.ScalarEvent
                          and event.style in _PLAIN_STYLES else None)
            else:
                top[0].append(value)
            if isinstance(value, (dict, list)):
                stack.append([value, loc, None, bool(getattr(event, "flow_style", False)),
                              None])
    except yaml.YAMLError:
        return None
    if documents != 1 or len(root) != 1:
        return None
    doc.data = root[0]
    return doc


_KEPT_BREAKS = "\v\f\x85\u2028\u2029"
"""Characters that YAML refuses in the stream (vertical tab, form feed) or reads as a line
break of the file (NEL, U+2028, U+2029) but that pasted text carries inside a value, where
:func:`~nexusreports.model.clean_text` makes them line (or paragraph) breaks."""

_INDENT_RE = re.compile(r"^[ \t]*(?:-[ \t]+)*")
"""The indentation of a line, with the ``- `` of list entries: a tab in it stays a tab
(and an error: YAML indents with spaces)."""


def _stand_ins(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with each character YAML would refuse or take as a line break, and each tab
    after a line's indentation, replaced one for one (lines and columns unchanged).

    A tab after the indentation becomes a space (what :func:`clean_text` makes of it in a
    value; elsewhere YAML reads a space as it reads a tab).  Every other such character
    becomes a private-use character not in ``text``; the returned mapping takes each
    stand-in back to its character, which :func:`_convert` does in every scalar, so the
    model's text rules apply to it and a refused one is reported with its field.
    """
    if "\t" in text:
        text = "\n".join(_detab(line) for line in text.split("\n"))
    odd = {ch for ch in text if ch in _KEPT_BREAKS} | set(
        yaml.reader.Reader.NON_PRINTABLE.findall(text))
    if not odd:
        return text, {}
    free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
    there = {ch: next(free) for ch in sorted(odd)}
    return text.translate(str.maketrans(there)), {new: old for old, new in there.items()}


def _detab(line: str) -> str:
    if "\t" not in line:
        return line
    indent = _INDENT_RE.match(line).end()  # type: ignore[union-attr] - always matches
    return line[:indent] + line[indent:].replace("\t", " ")


def _control_error(path: Path, text: str, position: int) -> DataError:
    line = text[:position].count("\n") + 1
    return DataError(path, line, "", f"contains the control character U+{ord(text[position]):04X}"
                     ", which cannot be printed: delete it (it often comes from copying out of "
                     "Word or e-mail)")


def _check_outside_values(path: Path, text: str, back: dict[str, str],
                          spans: list[tuple[int, int]]) -> None:
    """Raise the error for the first refused control character of ``text`` that is in no
    value (``spans``: start and end index of every scalar); a line or paragraph break there
    (in a comment) is harmless."""
    refused = {ch for ch in back.values() if ch not in _KEPT_BREAKS}
    spans.sort()
    for i, ch in enumerate(text):
        if ch in refused and not any(start <= i < end for start, end in spans):
            raise _control_error(path, text, i)


def _compose(text: str) -> yaml.Node | None:
    """Compose ``text`` with libyaml when it is there; otherwise, or when libyaml refuses the
    text or the pure reader would refuse a character in it, with the pure ``SafeLoader``, so
    errors (and their marks) are always the pure loader's."""
    if _FAST_LOADER is not None and _fast_loader_agrees(text):
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except Exception:  # noqa: BLE001 - composed again below, for the pure loader's message
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


_TOO_DEEP = (f"nested more than {MAX_DEPTH} levels deep (a project file needs 4): check the "
             "indentation and the brackets '[' and '{' from this line on")


def _check_depth(path: Path, text: str) -> None:
    """Refuse ``text`` when its mappings and lists nest deeper than :data:`MAX_DEPTH`, from
    the parser's event stream, before anything is composed.

    The composers (libyaml's and the pure one) recurse once per level, so a file nested a
    thousand levels deep would end in a ``RecursionError`` there; the event parsers keep an
    explicit stack and stop here at the first level too many, naming its line.  A syntax
    error is left to :func:`_compose`, which reports it: before that point the file nests
    no deeper than the limit.
    """
    loaders = [yaml.SafeLoader]
    if _FAST_LOADER is not None and _fast_loader_agrees(text):
        loaders.insert(0, _FAST_LOADER)  # the pure parser again only if libyaml stops early
    for loader in loaders:
        # one entry per open mapping or list: [field name or list index, a key is next]
        open_: list[list[Any]] = []
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.CollectionEndEvent):
                    open_.pop()
                    continue
                if not isinstance(event, yaml.NodeEvent) or not open_:
                    pass
                elif open_[-1][1] is None:  # a list: the next entry
                    open_[-1][0] += 1
                elif open_[-1][1]:  # a mapping's key (text, or a list/mapping as a key)
                    open_[-1][0] = getattr(event, "value", "[key]")
                    open_[-1][1] = False
                else:  # a mapping's value
                    open_[-1][1] = True
                if isinstance(event, yaml.CollectionStartEvent):
                    if len(open_) == MAX_DEPTH:
                        field = tuple(f for f, _ in open_[:4])  # where it starts
                        raise DataError(path, event.start_mark.line + 1, _dotted(field),
                                        _TOO_DEEP)
                    mapping = isinstance(event, yaml.MappingStartEvent)
                    open_.append(["", True] if mapping else [-1, None])
            return
        except yaml.YAMLError:
            continue


def _fast_loader_agrees(text: str) -> bool:
    """False for text where libyaml may accept what the pure loader refuses: a character
    the pure reader refuses, a tab or a byte-order mark anywhere (libyaml is more lenient
    with both), and ``?`` or ``!`` where there is a flow collection (libyaml reads them as
    part of a plain scalar or tag inside ``{...}`` / ``[...]``; the pure loader stops there)."""
    if "\t" in text or "\ufeff" in text or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return False
    return not (("?" in text or "!" in text) and ("{" in text or "[" in text))


def _syntax_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> DataError:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and "quoted scalar" in (exc.context or ""):
        mark = exc.context_mark  # the line where the quote was opened, not the end of the file
    line = mark.line + 1 if mark else 0
    problem = (exc.problem or "").strip()
    if "'\\t'" in problem or "\t" in _line(text, line)[: max(mark.column if mark else 0, 0) + 1]:
        return DataError(path, line, "", "a tab character is used for indentation; YAML needs "
                         "spaces: replace the tab with spaces")
    hint = "check the indentation and the quotes on this line and the one above"
    if "mapping values are not allowed" in problem:
        hint = ("a ':' followed by a space starts a new field; put the whole text in double "
                "quotes, or use '>-' and write the text on the next lines")
    elif "could not find expected ':'" in problem:
        hint = "a field name must be followed by ':'; check this line and the one above"
    elif "found unexpected end of stream" in problem or "while scanning a quoted" in str(exc):
        hint = "a quote is opened but not closed"
    return DataError(path, line, "", f"YAML syntax error ({problem or 'invalid'}): {hint}")


def _line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _convert(node: yaml.Node, loc: Loc, doc: RawDocument, seen: set[int], depth: int,
             back: dict[str, str], spans: list[tuple[int, int]]) -> Any:
    line = node.start_mark.line + 1
    doc.lines.setdefault(loc, line)
    if id(node) in seen:  # report the alias's field line, not the anchor's
        raise DataError(doc.path, doc.lines.get(loc) or line, _dotted(loc),
                        "anchors and aliases ('&name', '*name') "
                        "are not allowed in data files: write the value out")
    if depth > MAX_DEPTH:  # pragma: no cover - refused from the events (_check_depth)
        raise DataError(doc.path, line, _dotted(loc), _TOO_DEEP)
    seen.add(id(node))  # a node met twice was reached through an alias
    if isinstance(node, yaml.ScalarNode):
        if node.style in _PLAIN_STYLES and node.value in _NULLS:
            return None
        _refuse_surrogates(node, loc, doc)
        return _scalar(node, back, spans)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), doc, seen, depth + 1, back, spans)
                for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        previous: tuple[str, yaml.Node] | None = None
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if previous is not None:
                _refuse_split_number(node, previous, key_node, value_node, loc, doc)
            if not isinstance(key_node, yaml.ScalarNode):
                raise DataError(doc.path, key_line, _dotted(loc), "a field name must be plain "
                                "text, not a list or mapping")
            _refuse_surrogates(key_node, (*loc, "[key]"), doc, "in a field name, ")
            key = _scalar(key_node, back, spans)
            if key == "<<":
                raise DataError(doc.path, key_line, _dotted((*loc, key)), "merge keys ('<<') "
                                "are not allowed in data files: write the fields out")
            if key in out:
                raise DataError(doc.path, key_line, _dotted((*loc, key)),
                                f"this field appears twice (first on line {first_line[key]}): "
                                "keep one of them")
            first_line[key] = key_line
            doc.lines[(*loc, key)] = key_line
            out[key] = _convert(value_node, (*loc, key), doc, seen, depth + 1, back, spans)
            previous = (key, value_node)
            # the value's own line is the key's line for inline values, which is what people read
            doc.lines[(*loc, key)] = key_line
        return out
    raise DataError(doc.path, line, _dotted(loc), "unsupported YAML node")  # pragma: no cover


_NUMBER_RE = re.compile(r"[-+]?\d[\d.]*")


def _refuse_split_number(mapping: yaml.MappingNode, previous: tuple[str, yaml.Node],
                         key_node: yaml.Node, value_node: yaml.Node, loc: Loc,
                         doc: RawDocument) -> None:
    """Refuse a number written with a comma inside ``{ }`` (``{kind: count, value: 21,000}``):
    YAML splits it at the comma into ``value: 21`` and a field named ``000``.

    The message gives the number both ways the comma may be meant (a thousands separator,
    a decimal comma) in the form every number is written in, instead of an "unknown field
    000" and a value a thousand times too small.
    """
    name, before = previous
    if not (mapping.flow_style and isinstance(before, yaml.ScalarNode)
            and isinstance(key_node, yaml.ScalarNode) and isinstance(value_node, yaml.ScalarNode)
            and before.style in _PLAIN_STYLES and key_node.style in _PLAIN_STYLES
            and value_node.style in _PLAIN_STYLES and value_node.value in _NULLS
            and _NUMBER_RE.fullmatch(before.value) and key_node.value.isdigit()
            and before.end_mark.line == key_node.start_mark.line):
        return
    typed = f"{before.value},{key_node.value}"
    whole = before.value.replace(".", "")
    decimal = f"{Decimal(f'{whole}.{key_node.value}').normalize():f}"
    ways = (f"write {decimal} (a point for decimals, no thousands separator)"
            if "." in before.value or len(key_node.value) != 3 else
            f"write {whole}{key_node.value} if the comma separates thousands, or {decimal} if "
            "it is a decimal comma (no thousands separator, a point for decimals)")
    raise DataError(doc.path, before.start_mark.line + 1, _dotted((*loc, name)),
                    f"{typed} is read as two fields, because inside '{{ }}' a comma separates "
                    f"fields: {ways}")


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(node: yaml.ScalarNode, loc: Loc, doc: RawDocument,
                       where: str = "") -> None:
    """Refuse a scalar holding a code point U+D800..U+DFFF (a "surrogate").

    No file can hold one raw (it is not UTF-8); only an escape in double quotes makes one,
    most often a character beyond U+FFFF written JSON-style as a pair (``"\\ud83d\\ude00"``),
    which YAML does not join into one character.  Nothing can print or save such a half.
    """
    found = _SURROGATE_RE.search(node.value)
    if not found:
        return
    at = found.start()
    pair = node.value[at:at + 2]
    if len(pair) == 2 and "\ud800" <= pair[0] <= "\udbff" and "\udc00" <= pair[1] <= "\udfff":
        joined = 0x10000 + ((ord(pair[0]) - 0xD800) << 10) + (ord(pair[1]) - 0xDC00)
        message = (f"the escapes \\u{ord(pair[0]):04x}\\u{ord(pair[1]):04x} are one character "
                   "written as two halves, which YAML does not join: write it as "
                   f"\\U{joined:08X}, or type the character itself")
    else:
        message = (f"the escape \\u{ord(pair[0]):04x} is half of a character written as two "
                   "escapes, and cannot be printed alone: type the character itself, or "
                   "write it as \\U followed by its 8-digit code")
    raise DataError(doc.path, node.start_mark.line + 1, _dotted(loc), where + message)


def _scalar(node: yaml.ScalarNode, back: dict[str, str], spans: list[tuple[int, int]]) -> str:
    """The text of ``node`` with the characters of :func:`_stand_ins` put back."""
    if not back:
        return node.value
    spans.append((node.start_mark.index, node.end_mark.index))
    return node.value.translate(str.maketrans(back))


def dotted(loc: Loc) -> str:
    """``loc`` as a field name for messages: ``collaborations.national.0.text``.

    A key typed with a character that would break the one-line message (a line break, a
    control or direction character) shows it escaped, e.g. ``summ\\u000dary``.
    """
    return ".".join(_printable(str(p)) for p in loc)


def _printable(part: str) -> str:
    return "".join(ch if ch.isprintable() and ch != "\u2028" else f"\\u{ord(ch):04x}"
                   if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}" for ch in part)


_dotted = dotted
