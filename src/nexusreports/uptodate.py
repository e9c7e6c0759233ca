"""The no-change decision: is everything a ``build`` would make already in the output folder?

A rebuild with nothing changed must not cost what a build costs (loading pydantic,
ReportLab, python-docx, pikepdf and Babel, validating every project, planning every sheet),
so, as make and ninja do, the command line first asks :func:`unchanged` whether the
manifest proves the build would change nothing; only when it does not is the pipeline
loaded.  This module imports the standard library, :mod:`nexusreports.write` and
:mod:`nexusreports.spill` (both standard library only), nothing else of ours.

What a build recorded.  After every successful ``nexusreports build`` the command line
calls :func:`record`, which puts in the ``build`` list of ``manifest.json`` a record of it
(one per set of options, the four most recent, newest first; a record describing an
older manifest is dropped):

- ``options``: the languages, ``--only`` projects, formats and ``--no-bundle`` of that build
  (not ``--jobs``, ``-v``/``-q`` nor ``--strict``: they change no byte);
- ``source_date_epoch``: its ``SOURCE_DATE_EPOCH`` (None when unset);
- ``files``: per folder the build reads -- the data folder, the templates folder and this
  package (its code and catalogs) -- the sha256 of the list of every file in it, each with
  its own sha256 (so a file added, removed, renamed or changed anywhere in them counts, a
  new project file included, not only the inputs the manifest names);
- ``warnings``: the warnings that build printed (file, line, field, message), printed again
  by a no-change build, and the reason a ``--strict`` one goes on to the full build (which
  fails on them as before);
- ``outputs``: the paths of its outputs, in the order it listed them;
- ``manifest``: the sha256 of the rest of the manifest (tool versions, every entry), so a
  manifest changed since (by another build, by hand) does not match.

It is recorded only when every file of those folders was the same before and after the
build and matches the inputs its entries list, so a file saved while the build ran is never
taken for the one the build read.  (The snapshot after the build reads again only the files
whose size, modification time, change time or inode moved since the one before it, in the
same process: an edit always moves the change time, which no tool can set back.)

The decision.  :func:`unchanged` takes the output folder's lock as a build does (waiting for
a build running into it, completing or rolling back what an interrupted one left, see
:class:`~nexusreports.write.OutputLock`) and answers with what the build would print only
when all of these hold, and None (build as usual) at the first doubt: no ``--force``;
``SOURCE_DATE_EPOCH`` well-formed and equal to the recorded one; a manifest of this format
with a ``build`` record of the same options, whose ``manifest`` digest matches; the same
tool versions (computed as :func:`nexusreports.pipeline.tool_versions` does); every file of
the three folders hashed again and the same (no size-and-time shortcut: a file's content is
read every time, which costs milliseconds at the shipped data and keeps the manifest free of
times that differ between checkouts); every input outside them unchanged; no recorded
warning under ``--strict``; every output of the record and every file the manifest lists
present and holding the sha256 it lists.  Then the build would render nothing, remove
nothing and write the same manifest: the no-change build prints what it would have
printed and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import write as w
from .spill import Spill

log = logging.getLogger("nexusreports")

LANGS: tuple[str, ...] = ("nl", "en")
"""``model.LANGS`` (a test keeps them equal; model.py loads pydantic)."""
FORMATS: tuple[str, ...] = ("pdf", "docx")
"""``pipeline.FORMATS``."""
PROJECTS_DIR = "projects"
"""``validate.PROJECTS_DIR``."""
BUNDLE_FILE = "bundle.yaml"
"""``validate.BUNDLE_FILE``."""
PDF_BUNDLE = "briefing-nl-en.pdf"
"""``bundle.PDF_NAME``."""

_PACKAGE = Path(__file__).resolve().parent
_DISTS = ("nexusreports", "reportlab", "babel", "pypdf", "pikepdf", "python-docx", "docxtpl",
          "pyphen", "pydantic")
_RECORDS = 4
"""How many builds (of different options) the manifest keeps records of."""
_MAX_FILES = 200_000
"""More files than this in the data or templates folder: do not decide, build."""


@dataclass(frozen=True)
class Unchanged:
    """What a build that changes nothing reports: its outputs' paths (in its order), its
    warnings (as they print) and the messages it logs (level, text)."""

    outputs: list[str]
    warnings: list[str] = field(default_factory=list)
    messages: list[tuple[int, str]] = field(default_factory=list)


def tool_versions() -> dict[str, str]:
    """:func:`nexusreports.pipeline.tool_versions`, without importing the pipeline (a test
    keeps them equal)."""
    out = {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION,
           "nexusreports-code": _code_digest()}
    versions = _dist_info_versions(_DISTS)
    if versions is None:  # anything unusual: ask importlib.metadata (~20 ms more)
        from importlib.metadata import PackageNotFoundError, version

        versions = {}
        for dist in _DISTS:
            try:
                versions[dist] = version(dist)
            except PackageNotFoundError:
                versions[dist] = "not installed"
    out.update(versions)
    return out


def _normal(name: str) -> str:
    """A distribution name as importlib.metadata compares them (PEP 503, ``_`` for ``-``)."""
    import re

    return re.sub(r"[-_.]+", "_", name).lower()


def _dist_info_versions(dists: Iterable[str]) -> dict[str, str] | None:
    """The versions ``importlib.metadata.version`` gives, read the way it finds them (the
    first ``<name>-*.dist-info`` folder along ``sys.path``, its ``METADATA``'s ``Version``)
    without importing it (and email, zipfile, csv: about 20 ms).  None when anything is
    unusual -- a distribution not found, an ``.egg-info``, two candidates in one folder, a
    zip file on the path, another finder of distributions -- so the caller asks
    importlib.metadata itself."""
    import importlib.machinery
    import sys

    if any(hasattr(f, "find_distributions") and f is not importlib.machinery.PathFinder
           for f in sys.meta_path):
        return None
    wanted = {_normal(d): d for d in dists}
    found: dict[str, str] = {}
    for entry in sys.path:
        folder = Path(entry or ".")
        if not folder.is_dir():
            if folder.exists():
                return None  # a zip file: leave it to importlib.metadata
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        here: dict[str, list[str]] = {}
        for child in names:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                normal = _normal(low.rpartition(".")[0].partition("-")[0])
                if normal in wanted and wanted[normal] not in found:
                    here.setdefault(normal, []).append(child)
        for normal, children in here.items():
            if len(children) != 1 or not children[0].lower().endswith(".dist-info"):
                return None
            version = _metadata_version(folder / children[0] / "METADATA")
            if version is None:
                return None
            found[wanted[normal]] = version
        if len(found) == len(wanted):
            return found
    return None


def _metadata_version(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break  # the end of the headers
                if line.startswith("Version:"):
                    return line[len("Version:"):].strip()
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _code_digest() -> str:
    """``pipeline._code_digest``: sha256 over this package's Python sources."""
    h = hashlib.sha256()
    for f in sorted(_PACKAGE.rglob("*.py")):
        h.update(f.relative_to(_PACKAGE).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _options(langs: Iterable[str], only: Iterable[str], formats: Iterable[str],
             bundle: bool) -> dict:
    return {"langs": list(langs), "only": list(only), "formats": list(formats),
            "bundle": bool(bundle)}


def _source_date_epoch() -> tuple[bool, str | None]:
    """(well-formed, value) of ``SOURCE_DATE_EPOCH`` as ``pipeline.source_date_epoch``
    reads it; a malformed one is left to the build, which refuses it."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return True, None
    ok = value.isascii() and value.isdigit() and int(value) <= 4354819199
    return ok, value


class _Tree:
    """The files under a folder: relative posix names (sorted), each file's sha256 and its
    (size, mtime_ns, ctime_ns, inode), packed (some 110 bytes a file) and kept in a
    temporary file, not in memory, until they are looked at: a build keeps the snapshot of
    every data file to its end, and each rendering process it starts (a copy of it) would
    hold a copy too (some 1.5 MB each at 10,000 projects).  Read back whole the first time
    a name, digest or comparison is asked for (after the build)."""

    __slots__ = ("_count", "_loaded", "_sizes", "_spill")

    def __init__(self, found: list[tuple[str, tuple[int, int, int, int], bytes]]):
        found.sort(key=lambda item: item[0])
        names = "\0".join(name for name, _, _ in found).encode("utf-8", "surrogateescape")
        sha = b"".join(sha for _, _, sha in found)
        stat = array("q", [n for _, stat, _ in found for n in stat]).tobytes()
        self._count, self._sizes, self._loaded = len(found), (len(names), len(sha)), None
        self._spill: Spill[bytes] | None = None
        try:
            self._spill = Spill([names + sha + stat])  # one item: the packed bytes
        except OSError:  # no room in the temporary folder: kept in memory, as it is
            self._loaded = self._unpack(names + sha + stat)

    def _unpack(self, data: bytes) -> tuple[list[str], bytes, array]:
        a, b = self._sizes
        names = data[:a].decode("utf-8", "surrogateescape").split("\0") if self._count else []
        return names, data[a:a + b], array("q", data[a + b:])

    def _contents(self) -> tuple[list[str], bytes, array]:
        if self._loaded is None:
            self._loaded = self._unpack(self._spill[0])  # type: ignore[index]
        return self._loaded

    @property
    def names(self) -> list[str]:
        return self._contents()[0]

    def _at(self, name: str) -> int:
        names = self.names
        i = bisect_left(names, name)
        return i if i < len(names) and names[i] == name else -1

    def sha256(self, name: str) -> str | None:
        """The file's sha256 (hex), None when there is no such file."""
        i = self._at(name)
        return None if i < 0 else self._contents()[1][32 * i:32 * i + 32].hex()

    def stat(self, name: str) -> tuple[tuple[int, ...], bytes] | None:
        i = self._at(name)
        if i < 0:
            return None
        _, sha, stat = self._contents()
        return tuple(stat[4 * i:4 * i + 4]), sha[32 * i:32 * i + 32]

    def digest(self) -> str:
        """:func:`_digest` of the mapping name -> sha256 (hex), written as it goes."""
        names, sha, _ = self._contents()
        h = hashlib.sha256(b"{")
        for i, name in enumerate(names):
            h.update(("," if i else "").encode() + json.dumps(name, ensure_ascii=False)
                     .encode("utf-8") + b':"' + sha[32 * i:32 * i + 32].hex().encode()
                     + b'"')
        h.update(b"}")
        return h.hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Tree) and self._contents()[:2] == other._contents()[:2]

    __hash__ = None  # type: ignore[assignment]


def _tree(folder: Path, known: _Tree | None = None) -> _Tree | None:
    """Every file under ``folder``, ``__pycache__`` left out; None when there are too many
    or one cannot be read.  A file whose (size, mtime_ns, ctime_ns, inode) are those in
    ``known`` is not read again (used only within one process, for the snapshot after a
    build: no edit leaves the change time as it was)."""
    found: list[tuple[str, tuple[int, int, int, int], bytes]] = []
    root = os.fspath(folder)
    if not os.path.isdir(root):
        return _Tree([])
    seen: set[tuple[int, int]] = set()
    try:
        for here, dirs, names in os.walk(root, followlinks=True):
            st = os.stat(here)
            if (st.st_dev, st.st_ino) in seen:  # a link back up: once is enough
                return None
            seen.add((st.st_dev, st.st_ino))
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(here, root).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            for name in names:
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(here, name)
                key = prefix + name
                st = os.stat(path)
                stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                before = known.stat(key) if known is not None else None
                if before is not None and before[0] == stat:
                    sha = before[1]
                else:
                    with open(path, "rb") as fh:
                        sha = hashlib.file_digest(fh, "sha256").digest()
                found.append((key, stat, sha))
                if len(found) > _MAX_FILES:
                    return None
    except OSError:
        return None
    return _Tree(found)


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _roots(data_dir: Path, templates_dir: Path) -> dict[str, Path]:
    """The folders a build reads, by the names the manifest gives their files (see
    ``pipeline._roots``)."""
    return {"data": Path(data_dir), "templates": Path(templates_dir), "nexusreports": _PACKAGE}


class Snapshot:
    """The files of the folders a build reads, taken before it (see :func:`record`)."""

    def __init__(self, data_dir: Path, templates_dir: Path, *,
                 like: "Snapshot | None" = None):
        self.roots = _roots(data_dir, templates_dir)
        self.trees = {name: _tree(root, like.trees.get(name) if like is not None else None)
                      for name, root in self.roots.items()}

    def digests(self) -> dict[str, str] | None:
        if any(tree is None for tree in self.trees.values()):
            return None
        return {name: tree.digest() for name, tree in self.trees.items()}  # type: ignore[union-attr]

    def sha256(self, name: str) -> str | None:
        """The sha256 of the input named ``name`` (``data/...``) in this snapshot; None for
        a name outside the folders."""
        head, _, rest = name.partition("/")
        tree = self.trees.get(head)
        return None if tree is None or not rest else (tree.sha256(rest) or "")


def _manifest_digest(raw: Mapping) -> str:
    return _digest({k: v for k, v in raw.items() if k != "build"})


def _bundle_messages(data_dir: Path, langs: tuple[str, ...], only: tuple[str, ...],
                     formats: tuple[str, ...], bundle: bool) -> list[tuple[int, str]]:
    """What ``pipeline._bundle_wanted`` and ``_bundle_outputs`` log at INFO and above."""
    if not bundle:
        return []
    if only or set(langs) != set(LANGS):
        return [(logging.INFO, "bundle not made: --only/--lang builds part of the sheets, "
                               "the bundle holds them all")]
    if not (Path(data_dir) / BUNDLE_FILE).is_file():
        return [(logging.WARNING, f"bundle not made: {Path(data_dir) / BUNDLE_FILE} is "
                                  "missing (see 'nexusreports docs')")]
    if "pdf" not in formats:
        return [(logging.INFO, f"{PDF_BUNDLE} not made: it is made of the PDF sheets; add "
                               "pdf to --format")]
    return []


def _warning_text(data_dir: Path, record: list) -> str:
    """A recorded warning as ``Problem.__str__`` prints it."""
    from .errors import Problem

    name, line, fld, message = record
    head, _, rest = name.partition("/")
    path = Path(data_dir) / rest if head == "data" else Path(name)
    return str(Problem(path, int(line), fld, message))


def unchanged(data_dir: Path, templates_dir: Path, out_dir: Path, *,
              langs: tuple[str, ...], only: tuple[str, ...], formats: tuple[str, ...],
              bundle: bool, strict: bool, force: bool, check: bool = False
              ) -> Unchanged | None:
    """What a build with these options would report if it would change nothing in
    ``out_dir``, decided from the manifest (see the module docstring); None when that is
    not certain (then build as usual).  Holds the output folder's lock while it looks (as
    the build does: waiting for another build, then recovering what a killed one left).

    With ``check`` (``build --check``): whether ``--check`` would find every output up to
    date -- only when it would check nothing but the recorded build's outputs (no entry of
    another build in the manifest), and, as ``--check`` does, without recovering anything
    (a staging folder: None)."""
    if force:
        return None
    ok, sde = _source_date_epoch()
    if not ok or not (Path(out_dir) / w.MANIFEST).is_file():
        return None
    if check and (Path(out_dir) / w.STAGING_DIR).exists():
        return None  # --check names an unfinished commit; leave that to it
    try:
        lock = w.OutputLock(out_dir, create=not check).__enter__()
    except w.OutputError:  # the build reports it as it always has
        return None
    try:
        why = None
        try:
            found = _decide(Path(data_dir), Path(templates_dir), Path(out_dir), sde,
                            _options(langs, only, formats, bundle), strict)
            if check and not isinstance(found, str):
                found = _check_covers(found, Path(out_dir), only)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            found, why = None, f"{exc.__class__.__name__}: {exc}"
        if isinstance(found, str):
            found, why = None, found
    finally:
        lock.__exit__(None, None, None)
    if found is None:
        log.debug("building: the manifest does not show that nothing changed (%s)", why)
        return None
    outputs, warnings = found
    return Unchanged(outputs=outputs,
                     warnings=[_warning_text(data_dir, r) for r in warnings],
                     messages=_bundle_messages(data_dir, langs, only, formats, bundle))


def _inputs(entry: Mapping, shared: Mapping, checked: set[str]) -> list[tuple[str, str]]:
    """A stored manifest entry's inputs (name, sha256): its own, and those of each of its
    shared sets not in ``checked`` yet (each set is looked at once per decision, however
    many outputs name it)."""
    found = list((entry.get("inputs") or {}).items())
    for set_id in entry.get("shared") or ():
        if set_id not in checked:
            checked.add(set_id)
            found += list(shared[set_id].items())
    return found


def _check_covers(found: tuple[list[str], list], out_dir: Path, only: tuple[str, ...]
                  ) -> tuple[list[str], list] | str:
    """``found`` when ``pipeline.verify`` would check no output but the recorded ones (it
    checks every manifest entry, of those projects with ``--only``), else why not."""
    entries = w.read_manifest(out_dir)
    if only:
        entries = {p: e for p, e in entries.items() if e.get("slug") in only}
    if not set(entries) <= set(found[0]):
        return "the manifest lists outputs of other builds"
    if (out_dir / w.STAGING_DIR).exists():
        return "a staging folder"
    return found


def _decide(data_dir: Path, templates_dir: Path, out_dir: Path, sde: str | None,
            options: dict, strict: bool) -> tuple[list[str], list] | str:
    """(outputs, recorded warnings) when nothing changed, else why not (a short text).

    The manifest is read a line at a time, twice (as ``write_manifest`` lays it out; one
    laid out otherwise is "changed": the build reads it whole): its thousands of entries
    are never all in memory, only each output's sha256."""
    try:
        fh = (out_dir / w.MANIFEST).open("rb")
    except FileNotFoundError:
        return "no manifest"
    with fh:
        try:
            head, _, entries = _stream_manifest(fh)
            found = _decide_head(data_dir, templates_dir, head, sde, options, strict)
            if isinstance(found, str):
                return found
            snapshot, state = found
            outputs, warnings = list(state.get("outputs") or []), state.get("warnings") or []
            # 1. the manifest is the one recorded, and every file it lists is in out/
            digest, recorded = _Digest(head), {}
            for entry in entries:
                digest.entry(entry)
                recorded[entry["path"]] = bytes.fromhex(entry.get("sha256") or "")
            if state.get("manifest") != digest.hexdigest():
                return "the manifest changed since the record"
            if not set(outputs) <= set(recorded):
                return "an output is not in the manifest"
            for path in recorded:  # the commit drops the entries of missing files
                if not (out_dir / path).is_file():
                    return f"{path} is missing"
            # 2. each output as recorded, and each input it names
            fh.seek(0)
            _, _, entries = _stream_manifest(fh)
            why = _changed(entries, set(outputs), head.get("shared") or {}, snapshot,
                           recorded, out_dir)
        except _Layout as exc:
            return f"a manifest laid out otherwise ({exc})"
    return why or (outputs, warnings)


def _decide_head(data_dir: Path, templates_dir: Path, head: dict, sde: str | None,
                 options: dict, strict: bool) -> tuple[Snapshot, dict] | str:
    """What the manifest's header (every key but its outputs) says: the snapshot of the
    folders and the record of these options when it still holds for them; else why not
    (the record's manifest digest is checked against the entries afterwards)."""
    if head.get("manifest") != w.MANIFEST_FORMAT:
        return "a manifest of another version"
    states = head.get("build")
    if not isinstance(states, list):
        return "no build record"
    state = next((s for s in states if isinstance(s, dict) and s.get("options") == options),
                 None)
    if state is None:
        return "no build record for these options"
    if state.get("source_date_epoch") != sde:
        return "SOURCE_DATE_EPOCH differs"
    if strict and state.get("warnings"):
        return "--strict with warnings"
    if head.get("tool") != tool_versions():
        return "the tool versions changed"
    snapshot = Snapshot(data_dir, templates_dir)
    digests = snapshot.digests()
    if digests is None or state.get("files") != digests:
        return "a file of the data, templates or package changed"
    return snapshot, state


def _changed(entries: Iterator[dict], outputs: set[str], shared: Mapping,
             snapshot: Snapshot, recorded: Mapping[str, bytes], out_dir: Path) -> str | None:
    """Why one of ``outputs`` (their manifest ``entries``, in the manifest's order) is not as
    recorded -- its file, or an input it names -- or None.  ``recorded``: every entry's
    sha256 (a bundle names the sheets it is made of)."""
    checked: set[str] = set()
    for entry in entries:
        path = entry["path"]
        if path not in outputs:
            continue
        target = out_dir / path
        if target.stat().st_size != entry.get("size") or \
                w.sha256_file(target) != entry.get("sha256"):
            return f"{path} was modified"
        for name, digest in _inputs(entry, shared, checked):
            if snapshot.sha256(name) is not None:
                continue  # in the folders: the digests above cover it
            if name in recorded:  # a sheet the bundle is made of
                if recorded[name] != bytes.fromhex(digest):
                    return f"{name} changed"
            elif not Path(name).is_absolute() or not Path(name).is_file() or \
                    w.sha256_file(Path(name)) != digest:
                return f"{name} changed"
    return None


def record(snapshot: Snapshot, out_dir: Path, *, langs: tuple[str, ...],
           only: tuple[str, ...], formats: tuple[str, ...], bundle: bool,
           outputs: list, warnings: list) -> bool:
    """After a successful build: add its ``build`` record to ``out_dir/manifest.json`` (see
    the module docstring), unless a file changed while it ran or the manifest does not show
    its outputs (another build committed meanwhile).  ``snapshot`` was taken before the
    build; ``outputs`` are its :class:`~nexusreports.write.Output`\\ s, ``warnings`` its
    :class:`~nexusreports.errors.Problem`\\ s.  Returns whether the record was written (or
    was there already).  Never raises for what it cannot record: a later build just takes
    the long way."""
    ok, sde = _source_date_epoch()
    try:  # the snapshot is read back from its temporary file now
        digests = snapshot.digests()
        if not ok or digests is None:
            return False
        after = Snapshot(snapshot.roots["data"], snapshot.roots["templates"], like=snapshot)
        changed = after.trees != snapshot.trees
    except OSError:
        log.debug("not recording the build", exc_info=True)
        return False
    if changed:
        log.debug("not recording the build: a file changed while it ran")
        return False
    recorded = []
    for problem in warnings:
        name = _data_name(snapshot.roots["data"], problem.path)
        if name is None:
            return False
        recorded.append([name, problem.line, problem.field, problem.message])
    try:
        with w.OutputLock(out_dir, wait=False):  # never wait for the next build
            return _record_locked(snapshot, Path(out_dir), digests, sde,
                                  _options(langs, only, formats, bundle), outputs, recorded)
    except (OSError, w.OutputError, ValueError, KeyError, TypeError, AttributeError):
        log.debug("not recording the build", exc_info=True)
        return False


def _data_name(data_dir: Path, path: object) -> str | None:
    if path is None:
        return None
    try:
        rel = Path(str(path)).resolve().relative_to(Path(data_dir).resolve())
    except ValueError:
        return None
    return f"data/{rel.as_posix()}"


_OUTPUTS_LINE = b' "outputs": [\n'
_END_LINE = b"]}\n"


class _Layout(ValueError):
    """The manifest is not laid out as :func:`~nexusreports.write.write_manifest` lays it
    out (one line per output): it is read whole instead."""


def _stream_manifest(fh) -> tuple[dict, int, Iterator[dict]]:
    """The manifest open in ``fh`` (binary), as ``write_manifest`` writes it: its header
    (every key but ``outputs``), the byte offset of its ``"outputs"`` line and its output
    entries, parsed one line at a time (so its thousands of entries are never all in
    memory).  Raises :class:`_Layout` for a file laid out otherwise."""
    head_lines = []
    offset = 0
    for line in fh:
        if line == _OUTPUTS_LINE:
            break
        head_lines.append(line)
        offset += len(line)
    else:
        raise _Layout("no outputs line")
    head_text = b"".join(head_lines).decode("utf-8")
    if not head_text.endswith(",\n"):
        raise _Layout("header")
    head = json.loads(head_text[:-2] + "}")
    if not isinstance(head, dict) or "outputs" in head:
        raise _Layout("header")

    def entries() -> Iterator[dict]:
        last = None
        for line in fh:
            if line == _END_LINE:  # the last entry has no comma
                if last is not None:
                    if not last.endswith(b"\n") or last.endswith(b",\n"):
                        raise _Layout("entry")
                    yield json.loads(last[:-1])
                if fh.read(1):
                    raise _Layout("after the end")
                return
            if last is not None:
                if not last.endswith(b",\n"):
                    raise _Layout("entry")
                yield json.loads(last[:-2])
            last = line
        raise _Layout("no end")

    return head, offset, entries()


class _Digest:
    """:func:`_manifest_digest` computed as the entries go by: the same sha256 over the
    same JSON text (keys sorted, compact), written a piece at a time."""

    def __init__(self, head: Mapping):
        self._h = hashlib.sha256()
        self._keys = sorted([k for k in head if k != "build"] + ["outputs"])
        self._head = head
        self._first = True
        parts = []
        for k in self._keys:
            if k == "outputs":
                break
            parts.append(json.dumps(k) + ":" + self._dumps(head[k]))
        self._update("{" + ",".join(parts) + ("," if parts else "") + '"outputs":[')

    @staticmethod
    def _dumps(value: object) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def _update(self, text: str) -> None:
        self._h.update(text.encode("utf-8"))

    def entry(self, entry: Mapping) -> None:
        self._update(("" if self._first else ",") + self._dumps(entry))
        self._first = False

    def hexdigest(self) -> str:
        rest = self._keys[self._keys.index("outputs") + 1:]
        self._update("]" + "".join("," + json.dumps(k) + ":" + self._dumps(self._head[k])
                                   for k in rest) + "}")
        return self._h.hexdigest()


def _record_locked(snapshot: Snapshot, out_dir: Path, digests: dict, sde: str | None,
                   options: dict, outputs: Sequence, warnings: list) -> bool:
    """:func:`record` under the lock: the manifest is read one output line at a time (it is
    tens of MB at 10,000 projects), checked against the build's ``outputs`` and, when its
    ``build`` records change, written anew as its header and the very bytes of its lines."""
    path = out_dir / w.MANIFEST
    try:
        with open(path, "rb") as fh:
            return _record_streamed(snapshot, out_dir, fh, digests, sde, options, outputs,
                                    warnings)
    except _Layout:
        return _record_whole(snapshot, out_dir, digests, sde, options, outputs, warnings)


def _record_streamed(snapshot: Snapshot, out_dir: Path, fh, digests: dict, sde: str | None,
                     options: dict, outputs: Sequence, warnings: list) -> bool:
    head, offset, entries = _stream_manifest(fh)
    if head.get("manifest") != w.MANIFEST_FORMAT:
        return False
    expected = {o.path: o.sha256 for o in outputs}  # what this build wrote, by path
    shared, checked = head.get("shared") or {}, set()
    digest = _Digest(head)
    for entry in entries:
        digest.entry(entry)
        sha256 = expected.pop(entry.get("path"), None)
        if sha256 is None:
            continue  # another build's output
        if entry.get("sha256") != sha256:
            return False  # another build committed meanwhile
        for name, recorded in _inputs(entry, shared, checked):
            known = snapshot.sha256(name)
            if known is not None and known != recorded:
                return False  # the build read another version of this file
    if expected:
        return False  # an output is not in the manifest: another build committed meanwhile
    del expected
    manifest = digest.hexdigest()
    state = {"options": options, "source_date_epoch": sde, "files": digests,
             "warnings": warnings, "outputs": [o.path for o in outputs], "manifest": manifest}
    build = head.get("build") if isinstance(head.get("build"), list) else []
    older = [s for s in build if isinstance(s, dict) and s.get("options") != options
             and s.get("manifest") == manifest]
    states = [state, *older][:_RECORDS]
    if head.get("build") == states:
        return True
    head = {k: v for k, v in head.items()}
    head["build"] = states
    parts = [f"{w._dumps(k)}: {w._dumps(head[k])}" for k in sorted(head)]
    new_head = ("{" + ",\n ".join(parts) + ",\n").encode("utf-8")

    def write(tmp: Path) -> None:  # the header, then the lines as they are
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)
            out.write(new_head)
            fh.seek(offset)
            shutil.copyfileobj(fh, out)
            out.flush()
            os.fsync(out.fileno())

    _replace_manifest(out_dir, write)
    return True


def _replace_manifest(out_dir: Path, write) -> None:
    """Put a new manifest in place: ``write(tmp)`` makes it in the staging folder, then one
    rename."""
    folder = out_dir / w.STAGING_DIR / f"{os.getpid()}-record"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        tmp = folder / w.MANIFEST
        tmp.unlink(missing_ok=True)
        write(tmp)
        os.replace(tmp, out_dir / w.MANIFEST)
        w._fsync_dir(out_dir)
    finally:
        try:
            folder.rmdir()
            folder.parent.rmdir()
        except OSError:
            pass


def _record_whole(snapshot: Snapshot, out_dir: Path, digests: dict, sde: str | None,
                  options: dict, outputs: Sequence, warnings: list) -> bool:
    """:func:`_record_locked` for a manifest laid out otherwise (read whole)."""
    text = (out_dir / w.MANIFEST).read_bytes()
    raw = json.loads(text)
    if raw.get("manifest") != w.MANIFEST_FORMAT:
        return False
    entries = {e["path"]: e for e in raw.get("outputs", [])}
    shared, checked = raw.get("shared") or {}, set()
    for output in outputs:
        entry = entries.get(output.path)
        if entry is None or entry.get("sha256") != output.sha256:
            return False  # another build committed meanwhile
        for name, digest in _inputs(entry, shared, checked):
            known = snapshot.sha256(name)
            if known is not None and known != digest:
                return False  # the build read another version of this file
    digest = _manifest_digest(raw)
    state = {"options": options, "source_date_epoch": sde, "files": digests,
             "warnings": warnings, "outputs": [o.path for o in outputs], "manifest": digest}
    # the records of other options stay while they describe this manifest (the last
    # _RECORDS, newest first): `build --only atmp` and `build` in turn are both no-change
    older = [s for s in (raw.get("build") if isinstance(raw.get("build"), list) else [])
             if isinstance(s, dict) and s.get("options") != options
             and s.get("manifest") == digest]
    states = [state, *older][:_RECORDS]
    if raw.get("build") == states:
        return True
    new = _with_build(text.decode("utf-8"), raw, states)
    _replace_manifest(out_dir, lambda tmp: w._write_file(tmp, new))
    return True


def _with_build(text: str, raw: Mapping, states: list[dict]) -> bytes:
    """The manifest ``raw`` (read as ``text``) with ``states`` as its ``build`` records, as
    :func:`~nexusreports.write.manifest_bytes` writes it.  Right after a build the text is
    that function's (the commit writes it, or finds the same bytes there), so its outputs'
    lines are kept as they are (no second pass over thousands of entries); a text laid out
    otherwise is written anew."""
    marker = ',\n "outputs": [\n'
    at = text.find(marker)
    if at < 0 or not text.endswith("\n]}\n"):
        entries = w.expand_entries(raw)
        return w.manifest_bytes(raw.get("tool") or {}, [entries[e["path"]] for e in
                                                        raw.get("outputs", [])], states)
    head = {k: v for k, v in raw.items() if k != "outputs"}
    head["build"] = states
    parts = [f"{w._dumps(k)}: {w._dumps(head[k])}" for k in sorted(head)]
    return ("{" + ",\n ".join(parts) + text[at:]).encode("utf-8")
