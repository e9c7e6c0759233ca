"""Stage 6, write: a build's outputs replace the previous ones all at once, or not at all.

In: :class:`Output` records (relative path, bytes, the inputs they were built from), one at
a time as they are rendered.  Out: files under the output folder and ``manifest.json``.

A build is a transaction, as far as a file system allows:

1. **Lock.**  :class:`OutputLock` holds an exclusive ``flock`` on ``<out>/.nexusreports.lock``
   (which names the holder's pid) from before the previous manifest is read until the
   commit is done; a forked process (a rendering worker) closes its copy of the lock's
   descriptor at once, so only the build itself holds the lock.  A second build into the same folder waits for it, saying for which
   process; builds never interleave.  Taking the lock first :func:`recover`\\ s what an
   interrupted build left.  The lock file is removed when the lock is released.
2. **Stage.**  :meth:`Staging.stage` writes each output, as soon as it is rendered, to
   ``<out>/.nexusreports-staging/<id>/new/<path>`` and flushes it to disk (``fsync``); the
   output keeps only its sha256 and the path of that file, not its bytes.  An output too
   large to hold (the bundles) is written straight into its staging file
   (:meth:`Staging.stage_stream`, or :meth:`Staging.reserve` and
   :meth:`Staging.stage_written` when another process writes it) and hashed from there.  An
   output whose file already holds these bytes is not staged: it is not rewritten, so its
   modification time stays.
3. **Prepare.**  :meth:`Staging.commit` stages the new ``manifest.json``, hard-links every
   file about to be replaced to ``old/<path>`` (a second name for its bytes, for a
   rollback; no copy), creates the folders the outputs go to, and then puts the *journal*
   (``journal.json``: every planned rename with the new file's sha256) in place with one
   rename.  That is the commit point: until then nothing in the output folder has changed,
   so a full disk, a write error or a stop signal only removes the staging folder.
4. **Commit.**  Each staged file is renamed over its target (and each output no build makes
   any more, see :meth:`Staging.commit`, is deleted), ``manifest.json`` last, and the
   folders are flushed; then the journal and the staging folder are deleted.  An error or
   a stop signal during these renames rolls them back (the old files are renamed back from
   ``old/``), so the previous set is left as it was, byte for byte.
5. **Recover.**  Only a process that cannot run code (SIGKILL, a power cut) can leave a
   commit half done.  The next build (under the lock) then completes it from the journal
   (every staged file is whole and on disk), or, when that is impossible, rolls it back from
   ``old/``; a staging folder without a journal is deleted (its build never reached the
   commit point), and so are the ``.<name>.<random>.tmp`` files of builds before 0.2.
   ``build --check`` reports an unfinished commit instead of touching it.

Renames within one file system are atomic; the staging folder lives inside the output
folder so that it is on the same one.

``manifest.json`` (UTF-8 JSON, keys sorted, one line per output, so equal builds give
equal bytes; format 2, see :func:`manifest_bytes`)::

    {"manifest": 2,
     "tool": {"nexusreports": "0.1.0", "reportlab": "...", ...},
     "shared": {"<id>": {"templates/theme.yaml": "<sha256>", "templates/fonts/...": ...}},
     "outputs": [
    {"path": "nl/atmp.pdf", "format": "pdf", "language": "nl-NL", "pages": 1,
     "sha256": "...", "size": 40264, "slug": "atmp",
     "inputs": {"data/projects/atmp.yaml": "<sha256>", ...}, "shared": ["<id>"],
     "key": "<sha256 of what the bytes depend on>", "source_date_epoch": "1700000000" or null},
    ...],
     "build": [{...}, ...]}

An output's inputs are its ``inputs`` plus every set named in its ``shared``: the files of
the templates folder and of the package (theme, fonts, colour profile, Word template,
catalogs), the same for hundreds of outputs, are listed once in the top-level ``shared``
(each set named by a digest of its content).  :func:`read_manifest` gives every entry its
inputs in full.  ``build`` is what the last builds (``nexusreports build``) recorded for deciding,
without loading the data, that nothing changed (see :mod:`nexusreports.uptodate`).  A
manifest of another format (0.1's) reads as empty: everything is built again.

``key`` and ``source_date_epoch`` are what the pipeline compares to decide that an output
need not be rendered again (and what ``build --check`` compares).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError
from .spill import ListLike, SortedMap

log = logging.getLogger("nexusreports")

MANIFEST = "manifest.json"
LOCK_NAME = ".nexusreports.lock"
"""The lock file in the output folder (holds the pid of the build that holds the lock)."""
STAGING_DIR = ".nexusreports-staging"
"""The folder in the output folder where builds stage their outputs."""
JOURNAL = "journal.json"
_ROLLBACK = "rolling-back"
_OLD_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # write_atomic's files before 0.2


@dataclass(frozen=True)
class Output:
    """One built file: ``path`` relative to the output folder, its format and language.

    ``data`` holds its bytes from rendering until it is staged (then ``b""``: ``file`` says
    where the bytes are, see :meth:`read`); ``sha256`` and ``size`` describe them
    throughout.  ``pages`` is the page count for PDFs (None for DOCX); ``inputs`` maps each
    input file (relative to the working folder) to its sha256.  ``slug`` names the project
    of a sheet (None for the bundle); ``key`` is the build key (see
    :mod:`nexusreports.pipeline`) and ``source_date_epoch`` the ``SOURCE_DATE_EPOCH`` it
    was built with (None: real time).  ``reused`` says the file in the output folder is up
    to date and was not rendered again.
    """

    path: str
    format: str
    lang: str | None
    data: bytes = field(default=b"", repr=False)
    pages: int | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    slug: str | None = None
    key: str = ""
    source_date_epoch: str | None = None
    reused: bool = False
    sha256: str = ""
    size: int = 0
    file: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.data and not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())
            object.__setattr__(self, "size", len(self.data))

    def read(self) -> bytes:
        """The output's bytes: in memory, or read back from the file they were staged to
        (or, for a reused output, from the output folder)."""
        if self.data or self.file is None:
            return self.data
        return self.file.read_bytes()


class Inputs(Mapping):
    """An output's input files (name -> sha256) as two mappings read as one: its ``own``
    (a sheet's data files) and ``shared``, a mapping that many outputs share (the theme,
    fonts, catalog and template files of every sheet of one language and format), so a
    build of 10,000 projects does not hold 40,000 copies of the shared files' names.
    Read-only; equal to any mapping with the same items."""

    __slots__ = ("_own", "_shared")

    def __init__(self, own: Mapping[str, str], shared: Mapping[str, str]):
        self._own, self._shared = own, shared

    @property
    def own(self) -> Mapping[str, str]:
        """The output's own input files (a sheet's data files)."""
        return self._own

    @property
    def shared(self) -> Mapping[str, str]:
        """The mapping of input files this output shares with others (the same object for
        all of them); where a name is in both, its digest here is the one that counts."""
        return self._shared

    def __getitem__(self, name: str) -> str:
        if name in self._shared:
            return self._shared[name]
        return self._own[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        yield from (name for name in self._shared if name not in self._own)

    def __len__(self) -> int:
        return len(self._own) + sum(1 for name in self._shared if name not in self._own)

    def __repr__(self) -> str:
        return repr(dict(self))


class Outputs(ListLike):
    """:class:`Output` records kept in a file (a :class:`~nexusreports.spill.Spill`), not
    in memory: appended once staged (no bytes), read back by index or in order as new,
    equal records.  A shared mapping of an output's :class:`Inputs` is kept once, in memory
    (there are a few: one per language and format), so a record in the file holds only its
    own fields.  What a build of 10,000 projects (40,000 outputs) keeps of each output."""

    def __init__(self, outputs: Iterable[Output] = (), *, folder: Path | None = None):
        from .spill import Spill

        self._spill: Spill[tuple] = Spill(folder=folder)
        self._shared: list[Mapping[str, str]] = []
        self._shared_ids: dict[int, int] = {}  # id() of a shared mapping -> its index
        for output in outputs:
            self.append(output)

    def append(self, output: Output) -> None:
        if output.data:
            raise ValueError(f"{output.path}: stage an output before keeping it")
        inputs = output.inputs
        if isinstance(inputs, SortedMap):  # in a file already (a bundle's): kept as it is
            own, found = None, self._shared_ids.get(id(inputs))
            if found is None:
                found = self._shared_ids[id(inputs)] = len(self._shared)
                self._shared.append(inputs)
        elif isinstance(inputs, Inputs):
            own, shared = inputs._own, inputs._shared
            found = self._shared_ids.get(id(shared))
            if found is None:
                found = self._shared_ids[id(shared)] = len(self._shared)
                self._shared.append(shared)  # kept alive: its id() stays its own
        else:
            own, found = dict(inputs), -1
        self._spill.append((output.path, output.format, output.lang, output.pages, own,
                            found, output.slug, output.key, output.source_date_epoch,
                            output.reused, output.sha256, output.size,
                            None if output.file is None else os.fspath(output.file)))

    def _output(self, item: tuple) -> Output:
        (path, fmt, lang, pages, own, shared, slug, key, sde, reused, sha256, size,
         file) = item
        return Output(path=path, format=fmt, lang=lang, pages=pages,
                      inputs=self._shared[shared] if own is None else
                      own if shared < 0 else Inputs(own, self._shared[shared]),
                      slug=slug, key=key, source_date_epoch=sde, reused=reused,
                      sha256=sha256, size=size, file=None if file is None else Path(file))

    def __len__(self) -> int:
        return len(self._spill)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return self._output(self._spill[index])

    def __iter__(self) -> Iterator[Output]:
        return (self._output(item) for item in self._spill)

    def __repr__(self) -> str:
        return f"<{len(self)} outputs>"


class OutputBytes(Mapping):
    """A read-only mapping of keys to the bytes of :class:`Output`\\ s, each read when it is
    looked up, so a caller that takes one at a time holds one at a time."""

    def __init__(self, outputs: Mapping[object, Output]):
        self._outputs = dict(outputs)

    def __getitem__(self, key: object) -> bytes:
        return self._outputs[key].read()

    def __iter__(self) -> Iterator:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in blocks)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _shown(path: Path) -> str:
    return Path(path).as_posix()


def _cannot_write(target: Path, exc: OSError) -> OutputError:
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space on that disk"
    elif exc.errno == errno.EXDEV:  # e.g. out/nl, a link to another disk
        hint = (f"{_shown(target.parent)} is on another disk than the output folder (a link?), "
                "and outputs are moved into place from inside the output folder: make it a "
                "plain folder, or point --out at that disk,")
    else:
        hint = "check that the output folder is writable"
    return OutputError(f"{_shown(target)}: cannot write ({why}): {hint} and build again; "
                       "nothing was changed, the previous outputs are as they were")


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # not every file system can flush a folder
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    """Write a new file, flushed to disk.  Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o644)
    try:
        os.fchmod(fd, 0o644)  # whatever the umask, like the files of earlier versions
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _holds(target: Path, sha256: str, size: int) -> bool:
    """Whether ``target`` is a file with exactly these bytes."""
    try:
        return target.is_file() and target.stat().st_size == size and \
            sha256_file(target) == sha256
    except OSError:
        return False


def _makedirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first."""
    missing = []
    p = Path(folder)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
    return list(reversed(missing))


def _remove_dirs(created: list[Path]) -> None:
    """Remove the folders in ``created`` (outermost first) that are empty, innermost first."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


# --- the lock -----------------------------------------------------------------------------

_LOCK_FDS: set[int] = set()
"""The lock files this process has open.  A forked process (a rendering worker) closes its
copies at once: an ``flock`` lasts while any copy of its descriptor is open, so a worker
that outlived a killed build would otherwise keep the folder locked for ever."""


def _close_lock_fds_in_child() -> None:
    for fd in list(_LOCK_FDS):
        try:
            os.close(fd)  # only this process's copy: the parent keeps its lock
        except OSError:
            pass
    _LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_lock_fds_in_child)


def _close_lock_fd(fd: int) -> None:
    _LOCK_FDS.discard(fd)
    os.close(fd)


class OutputLock:
    """``with OutputLock(out_dir):`` -- hold the output folder's lock (see the module
    docstring), then :func:`recover` it.

    The lock is an exclusive ``flock`` on ``out_dir/.nexusreports.lock``, so it is released
    by the system when its holder dies, however it dies.  When another process holds it,
    a warning names that process and this one waits (a stop signal ends the wait).  With
    ``create`` (a build), ``out_dir`` is created if need be, and removed again on release
    when nothing was written to it; without (``build --check``), a missing or read-only
    output folder is not locked, and nothing is recovered.  With ``wait=False`` a lock held
    by another process is not waited for: :class:`LockBusy` is raised instead.  Raises
    :class:`OutputError`.
    """

    def __init__(self, out_dir: Path, *, create: bool = True, wait: bool = True):
        self.out_dir = Path(out_dir)
        self.create = create
        self.wait = wait
        self.path = self.out_dir / LOCK_NAME
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> "OutputLock":
        import fcntl

        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise OutputError(f"{_shown(self.out_dir)}: is a file, not a folder: give --out "
                              "a folder (it is created if need be)")
        if self.create:
            try:
                self._made = _makedirs(self.out_dir)
            except OSError as exc:
                raise OutputError(f"{_shown(self.out_dir)}: cannot create the output folder "
                                  f"({exc.strerror or exc}): check the --out path") from exc
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                             0o644)
            except OSError as exc:
                if not self.create:
                    return self  # nothing to lock: nothing a build could be writing
                if isinstance(exc, FileNotFoundError):  # removed meanwhile: make it again
                    self._made += _makedirs(self.out_dir)
                    continue
                self._release_dirs()
                raise OutputError(f"{_shown(self.path)}: cannot create the lock file "
                                  f"({exc.strerror or exc}): check that the output folder "
                                  "is writable") from exc
            _LOCK_FDS.add(fd)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not self.wait:
                        raise LockBusy(f"{_shown(self.out_dir)}: another build holds the "
                                       "lock") from None
                    log.warning("%s: another build (%s) is writing to this folder; waiting "
                                "for it to finish", _shown(self.out_dir), _holder(fd))
                    fcntl.flock(fd, fcntl.LOCK_EX)
                # the holder removes the file before it lets go: lock the file that is there
                same = os.path.samestat(os.stat(self.path), os.fstat(fd))
            except FileNotFoundError:
                same = False
            except OSError as exc:  # e.g. a network file system without locks
                _close_lock_fd(fd)
                if self._made:  # this folder is ours: leave nothing in it
                    try:
                        os.unlink(self.path)
                    except OSError:
                        pass
                self._release_dirs()
                raise OutputError(f"{_shown(self.path)}: cannot lock the output folder "
                                  f"({exc.strerror or exc}): use a local folder for --out"
                                  ) from exc
            except BaseException:
                _close_lock_fd(fd)
                self._release_dirs()
                raise
            if same:
                break
            _close_lock_fd(fd)
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:  # the pid is only for the message of a waiting build
            pass
        if self.create:
            try:
                recover(self.out_dir)
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self._release_dirs()
        _close_lock_fd(self._fd)  # lets go of the lock
        self._fd = None

    def _release_dirs(self) -> None:
        _remove_dirs(self._made)
        self._made = []


class LockBusy(OutputError):
    """Another process holds the output folder's lock (``OutputLock(wait=False)``)."""


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


# --- staging and commit ---------------------------------------------------------------------

class Staging:
    """``with Staging(out_dir) as staging:`` -- the staging area of one build, under
    :class:`OutputLock`.  :meth:`stage` each output as it is made, then :meth:`commit`
    them all; leaving the block without a commit (an error, a stop signal) deletes the
    staging area and leaves the output folder as it was."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.root = self.out_dir / STAGING_DIR / f"{os.getpid()}-{secrets.token_hex(4)}"

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        """Delete the staging area (a no-op once it is gone)."""
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            self.root.parent.rmdir()
        except OSError:
            pass

    def stage(self, output: Output) -> Output:
        """Write ``output``'s bytes to the staging area now, flushed to disk, and return it
        without them (``file`` names the staged file).  A reused output, or one whose file
        in the output folder already holds these bytes, is returned as it is (without its
        bytes), and will not be rewritten.  Raises :class:`OutputError` (naming the output's
        path) on a full disk or any other write error."""
        target = self.out_dir / output.path
        if output.reused:
            return replace(output, data=b"", file=output.file or target)
        if not output.data and output.file is not None:
            return output  # staged already
        if _holds(target, output.sha256, output.size):
            return replace(output, data=b"", file=target)
        staged = self.root / "new" / output.path
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            _write_file(staged, output.data)
        except OSError as exc:
            raise _cannot_write(target, exc) from exc
        return replace(output, data=b"", file=staged)

    def stage_stream(self, path: str, write: Callable[[BinaryIO], int | None], *,
                     format: str, lang: str | None) -> Output:
        """Stage the output at ``path`` by letting ``write`` write it: a staging file is
        opened ``'w+b'``, ``write(f)`` called, the file flushed to disk and hashed (read back
        in blocks), so its bytes are never all in memory.  Returns the :class:`Output`
        (``file``: the staged file; ``pages``: what ``write`` returned; no ``data``).  When
        the output folder's file already holds these bytes, the staged file is deleted and
        the output is treated as :meth:`stage` treats it (``file``: that file; not
        rewritten).  Raises :class:`OutputError` naming the output's path on a full disk or
        any other write error; anything ``write`` raises is raised as it is (the staged
        file is deleted in both cases)."""
        target = self.out_dir / path
        staged = self.root / "new" / path
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(staged, os.O_RDWR | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise _cannot_write(target, exc) from exc
        try:
            with os.fdopen(fd, "w+b") as fh:
                os.fchmod(fh.fileno(), 0o644)
                pages = write(fh)
                fh.flush()
                os.fsync(fh.fileno())
                size = os.fstat(fh.fileno()).st_size
                fh.seek(0)
                sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            _unlink(staged)
            raise _cannot_write(target, exc) from exc
        except BaseException:
            _unlink(staged)
            raise
        return self._staged_file(Output(path=path, format=format, lang=lang, pages=pages,
                                        sha256=sha256, size=size, file=staged), target)

    def _staged_file(self, out: Output, target: Path) -> Output:
        """``out``, whose bytes are in its staged ``file``: kept for the commit, or (when the
        output folder's ``target`` already holds these bytes) dropped and ``target`` named."""
        if _holds(target, out.sha256, out.size):
            _unlink(out.file)
            return replace(out, file=target)
        return out

    def reserve(self, path: str) -> Path:
        """The staging file for the output at ``path``, for another process to write (then
        :meth:`stage_written`); its folder is created.  Raises :class:`OutputError`."""
        staged = self.root / "new" / path
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(self.out_dir / path, exc) from exc
        return staged

    def stage_written(self, path: str, wait: Callable[[], int | None], *, format: str,
                      lang: str | None) -> Output:
        """Stage the file :meth:`reserve` gave for ``path`` once ``wait()`` (which waits for
        its writer and returns the page count) returns: flushed to disk and hashed as
        :meth:`stage_stream` does, with the same result and errors (an ``OSError`` raised
        by ``wait`` is the writer's: the output's path is named)."""
        target = self.out_dir / path
        staged = self.root / "new" / path
        try:
            pages = wait()
            with open(staged, "rb") as fh:
                os.fsync(fh.fileno())
                size = os.fstat(fh.fileno()).st_size
                sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            _unlink(staged)
            raise _cannot_write(target, exc) from exc
        except BaseException:
            _unlink(staged)
            raise
        return self._staged_file(Output(path=path, format=format, lang=lang, pages=pages,
                                        sha256=sha256, size=size, file=staged), target)

    def commit(self, outputs: Sequence[Output], tool: dict[str, str],
               remove: tuple[str, ...] | list[str] = ()) -> list[bool]:
        """Put every staged output in place, delete the files at the paths in ``remove``
        (outputs no build can make any more, e.g. of a deleted project) and then put
        ``manifest.json`` in place (see the module docstring), all in one commit; return,
        per output, whether its file was written.

        The manifest lists each output's path, sha256, size, pages, language, format,
        inputs and build key, plus the tool and library versions in ``tool``.  Outputs of
        earlier builds that this build did not make (another ``--only`` or ``--lang``)
        keep their manifest entries while their files exist.  Raises :class:`OutputError`;
        then, as after a stop signal, the output folder is as it was."""
        if not isinstance(outputs, Outputs):  # kept in a file: staged already
            outputs = [self.stage(o) for o in outputs]
        # memory: the outputs are read one at a time, in path order (the manifest's), by
        # their places; only their paths are held meanwhile
        paths = [o.path for o in outputs]
        places = {p: i for i, p in enumerate(paths)}  # the last output of a path
        made = sorted(places)
        remove = [p for p in dict.fromkeys(remove) if p not in places and p != MANIFEST]
        # the previous manifest's records stay as they were read (each expanded only when
        # it is written) and the new one is written entry by entry
        raw = _read_raw(self.out_dir)
        gone = set(remove)
        kept = {path: e for path, e in _raw_records(raw).items()
                if path not in places and path not in gone and (self.out_dir / path).is_file()}
        shared = raw.get("shared") or {}
        build = raw.get("build")

        def entries() -> Iterator[dict]:
            old = sorted(kept)
            i = j = 0
            while i < len(made) or j < len(old):  # the two sorted lists merged
                if j >= len(old) or (i < len(made) and made[i] < old[j]):
                    yield manifest_entry(outputs[places[made[i]]])
                    i += 1
                else:
                    yield _expand_record(kept[old[j]], shared, {})
                    j += 1

        manifest = self.stage_stream(MANIFEST, lambda fh: write_manifest(
            fh, tool, entries(), build if isinstance(build, list) else None, spool=self.root),
            format="json", lang=None)
        del paths, places, made, kept, raw, shared
        changed = [self._is_staged(o) for o in outputs]  # whether its file is written
        removals = [p for p in remove if (self.out_dir / p).is_file()]
        for path in removals:
            log.warning("removed %s: no build of this data makes it any more",
                        _shown(self.out_dir / path))

        def plan() -> Iterator[tuple[str, bool, str]]:  # (path, removed, sha256), manifest last
            for output, written in zip(outputs, changed):
                if written:
                    yield output.path, False, output.sha256
            for path in removals:
                yield path, True, ""
            if self._is_staged(manifest):
                yield MANIFEST, False, manifest.sha256

        if any(changed) or removals or self._is_staged(manifest):
            self._prepare_and_commit(plan())
        self.discard()
        return changed

    def _is_staged(self, output: Output) -> bool:
        """Whether ``output``'s bytes are in this staging area (to be put in place), not
        already in the output folder."""
        return (not output.reused and output.file is not None
                and output.file == self.root / "new" / output.path)

    def _prepare_and_commit(self, plan: Iterable[tuple[str, bool, str]]) -> None:
        """``plan``: (path, whether it is removed, the staged file's sha256) in commit
        order, the manifest last; read once.  The journal's items are kept in a file (a
        Spill) and the journal written an item at a time (40,000 at 10,000 projects)."""
        from .spill import Spill

        made: list[Path] = []
        renames: Spill[dict] = Spill()
        folders: set[Path] = set()
        target = self.out_dir
        try:  # 3. prepare: nothing in the output folder changes but new, empty folders
            for path, removed, sha256 in plan:
                target = self.out_dir / path
                if not removed:
                    made += _makedirs(target.parent)
                    folders.add((self.root / "new" / path).parent)
                old = None
                if target.is_file():
                    old = self.root / "old" / path
                    old.parent.mkdir(parents=True, exist_ok=True)
                    _keep(target, old)
                item = {"path": path, "old": old is not None,
                        "sha256": "" if removed else sha256}
                if removed:
                    item["remove"] = True
                renames.append(item)
            for folder in [*sorted(folders), self.root / "new", self.root / "old"]:
                _fsync_dir(folder)
            target = self.out_dir
            tmp = self.root / (JOURNAL + ".new")
            _write_journal(tmp, os.getpid(), renames)
            os.replace(tmp, self.root / JOURNAL)  # the commit point
            _fsync_dir(self.root)
        except OSError as exc:
            _remove_dirs(made)
            raise _cannot_write(target, exc) from exc
        except BaseException:
            _remove_dirs(made)
            raise
        try:
            _apply(self.out_dir, self.root, {"pid": os.getpid(), "renames": renames})
        except BaseException:  # rolled back: the new folders are empty again
            _remove_dirs(made)
            raise


def _write_journal(path: Path, pid: int, renames: Iterable[dict]) -> None:
    """Write the journal (``{"pid": ..., "renames": [...]}``, one rename a line) to a new
    file, flushed to disk, an item at a time.  Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o644)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)
        fh.write(f'{{"pid": {pid},\n "renames": [\n'.encode())
        sep = b""
        for item in renames:
            fh.write(sep + json.dumps(item, sort_keys=True).encode("utf-8"))
            sep = b",\n"
        fh.write(b"\n]}\n")
        fh.flush()
        os.fsync(fh.fileno())


def _keep(target: Path, old: Path) -> None:
    """Give ``target``'s bytes a second name, ``old``: a hard link, or a copy where the file
    system has no links."""
    try:
        os.link(target, old)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        shutil.copy2(target, old)


def _apply(out_dir: Path, root: Path, journal: dict) -> None:
    """4. commit: rename every staged file into place (the manifest last); on an error or a
    stop signal, roll back.  Then delete the journal."""
    folders = set()
    target = out_dir
    try:
        for item in journal["renames"]:
            target = out_dir / item["path"]
            if item.get("remove"):
                _unlink(target)
            else:
                os.replace(root / "new" / item["path"], target)
            folders.add(target.parent)
        for folder in sorted(folders):
            _fsync_dir(folder)
    except BaseException as exc:
        _roll_back(out_dir, root, journal)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise
    _finish(root)


def _unlink(target: Path) -> None:
    try:
        target.unlink()
    except FileNotFoundError:
        pass


def _finish(root: Path) -> None:
    try:
        (root / JOURNAL).unlink()
    except FileNotFoundError:
        pass
    _fsync_dir(root)
    shutil.rmtree(root, ignore_errors=True)


def _roll_back(out_dir: Path, root: Path, journal: dict) -> None:
    """Give every target of ``journal`` its previous file back (a new output that had none
    is removed).  Marks the staging folder first, so that if this is cut short the next
    run rolls back too."""
    try:
        _write_file(root / _ROLLBACK, b"")
    except OSError:
        pass
    for item in reversed(journal["renames"]):
        target = out_dir / item["path"]
        old = root / "old" / item["path"]
        try:
            if item["old"]:
                if old.exists():
                    os.replace(old, target)
            elif not item.get("remove") and _holds(target, item["sha256"],
                                                   target.stat().st_size):
                target.unlink()
        except OSError:
            log.debug("rollback of %s", target, exc_info=True)
    for folder in {(out_dir / item["path"]).parent for item in journal["renames"]}:
        _fsync_dir(folder)
    _finish(root)


def pending_commits(out_dir: Path) -> list[Path]:
    """The journals of commits an interrupted build left unfinished in ``out_dir``."""
    staging = Path(out_dir) / STAGING_DIR
    if not staging.is_dir():
        return []
    return sorted(d / JOURNAL for d in staging.iterdir() if (d / JOURNAL).is_file())


def recover(out_dir: Path) -> None:
    """Finish what interrupted builds left in ``out_dir`` (call it under the lock): complete
    or roll back an unfinished commit, delete staging folders and old temporary files."""
    out_dir = Path(out_dir)
    staging = out_dir / STAGING_DIR
    if staging.is_dir():
        for root in sorted(staging.iterdir()):
            _recover_one(out_dir, root)
        try:
            staging.rmdir()
        except OSError:
            pass
    for tmp in _old_temporary_files(out_dir):
        log.info("removed %s, left by an interrupted build", _shown(tmp))
        try:
            tmp.unlink()
        except OSError:
            pass


def _recover_one(out_dir: Path, root: Path) -> None:
    try:
        journal = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
        renames = journal["renames"]
    except FileNotFoundError:
        log.debug("removed %s: a build stopped before its commit", root)
        shutil.rmtree(root, ignore_errors=True)
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"{_shown(root / JOURNAL)}: an interrupted build left this journal "
                          f"and it cannot be read ({exc}): delete {_shown(root)} and run "
                          "nexusreports build --force") from exc
    if (root / _ROLLBACK).exists():
        _roll_back(out_dir, root, journal)
        log.warning("%s: rolled back the unfinished commit of an interrupted build",
                    _shown(out_dir))
        return
    try:
        for item in renames:
            new, target = root / "new" / item["path"], out_dir / item["path"]
            if item.get("remove"):
                _unlink(target)
            elif new.exists():
                os.replace(new, target)
            elif not _holds(target, item["sha256"], target.stat().st_size):
                raise FileNotFoundError(new)
    except OSError:
        _roll_back(out_dir, root, journal)
        log.warning("%s: rolled back the unfinished commit of an interrupted build",
                    _shown(out_dir))
        return
    for folder in {(out_dir / item["path"]).parent for item in renames}:
        _fsync_dir(folder)
    _finish(root)
    log.warning("%s: completed the commit of an interrupted build (%d files)",
                _shown(out_dir), len(renames))


def _old_temporary_files(out_dir: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(out_dir):
        dirs[:] = [d for d in dirs if d != STAGING_DIR]
        found += [Path(folder) / n for n in names if _OLD_TMP.match(n)]
    return sorted(found)


# --- the manifest ---------------------------------------------------------------------------

MANIFEST_FORMAT = 2
"""The format of ``manifest.json`` this version writes and reads (see the module docstring);
0.1's manifests (no ``manifest`` key: every input of every output inline) read as empty."""

_SHARED_HEADS = ("templates", "nexusreports")
"""Inputs named under these (see ``pipeline._rel``) go to the shared sets."""


def manifest_entry(output: Output) -> dict:
    """The manifest record of ``output`` (everything but its bytes)."""
    # asdict's fields, without copying the inputs (their mapping may be shared, see Inputs)
    entry = {f.name: getattr(output, f.name) for f in fields(output)
             if f.name not in ("data", "reused", "lang", "file")}
    inputs = output.inputs  # (a SortedMap stays in its file: written as a stream)
    entry["inputs"] = inputs if isinstance(inputs, SortedMap) else dict(inputs)
    entry.update(language=output.lang)
    return entry


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def manifest_bytes(tool: Mapping[str, str], entries: list[dict],
                   build: list[dict] | None = None) -> bytes:
    """``manifest.json``'s bytes for ``entries`` (as :func:`manifest_entry` makes them, each
    with its inputs in full), in this order: each entry's inputs named under ``templates/``
    or ``nexusreports/`` become one shared set, listed once at the top and named by the
    first 16 hex digits of its sha256; the rest stay in the entry.  Equal arguments give
    equal bytes (those :func:`write_manifest` writes)."""
    out = io.BytesIO()
    write_manifest(out, tool, entries, build)
    return out.getvalue()


def write_manifest(fh: BinaryIO, tool: Mapping[str, str], entries: Iterable[dict],
                   build: list[dict] | None = None, *, spool: Path | None = None) -> None:
    """Write :func:`manifest_bytes`' bytes to ``fh``, taking ``entries`` one at a time: the
    outputs' lines go to a temporary file (in ``spool``) while the shared sets, which come
    first, are collected, so no more than one entry is in memory at a time."""
    shared: dict[str, dict[str, str]] = {}
    ids: dict[tuple, str] = {}  # the same set for thousands of entries: hashed once
    with tempfile.TemporaryFile(dir=spool) as lines:
        sep = ""
        for entry in entries:
            if isinstance(entry.get("inputs"), SortedMap):
                _write_streamed(lines, sep, entry, shared, ids)
                sep = ",\n"
                continue
            own, common = {}, {}
            for name, digest in (entry.get("inputs") or {}).items():
                (common if name.split("/", 1)[0] in _SHARED_HEADS else own)[name] = digest
            record = {k: v for k, v in entry.items() if k != "shared"}
            record["inputs"] = own
            record["shared"] = []
            if common:
                record["shared"] = [_shared_set(common, shared, ids)]
            lines.write((sep + _dumps(record)).encode("utf-8"))
            sep = ",\n"
        head = {"manifest": MANIFEST_FORMAT, "tool": dict(tool), "shared": shared}
        if build:
            head["build"] = build
        # one line per output (after the header's keys, each on its own line): a diff of two
        # manifests shows which outputs changed
        parts = [f"{_dumps(k)}: {_dumps(head[k])}" for k in sorted(head)]
        fh.write(("{" + ",\n ".join(parts) + ',\n "outputs": [\n').encode("utf-8"))
        lines.seek(0)
        shutil.copyfileobj(lines, fh)
        fh.write(b"\n]}\n")


def _shared_set(common: dict[str, str], shared: dict[str, dict[str, str]],
                ids: dict[tuple, str]) -> str:
    """The id of the shared set of ``common`` (added to ``shared`` if new)."""
    items = tuple(sorted(common.items()))
    set_id = ids.get(items)
    if set_id is None:
        text = _dumps(dict(items))
        set_id = ids[items] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    shared.setdefault(set_id, common)
    return set_id


def _write_streamed(lines: BinaryIO, sep: str, entry: dict, shared: dict[str, dict[str, str]],
                    ids: dict[tuple, str]) -> None:
    """Write the line of ``entry`` whose inputs are a :class:`SortedMap` (thousands of them:
    a bundle's) as :func:`write_manifest` writes any other (the same bytes: ``_dumps`` of
    the record), its own inputs streamed in their order (the keys' order) and never held."""
    record = {k: v for k, v in entry.items() if k not in ("inputs", "shared")}
    common: dict[str, str] = {}
    keys = sorted({*record, "inputs", "shared"})
    assert keys.index("inputs") < keys.index("shared")  # the shared set is known by then
    out = [sep + "{"]
    for n, k in enumerate(keys):
        out.append((", " if n else "") + _dumps(k) + ": ")
        if k == "inputs":
            out.append("{")
            first = True
            for name, digest in entry["inputs"].items():
                if name.split("/", 1)[0] in _SHARED_HEADS:
                    common[name] = digest
                    continue
                out.append(("" if first else ", ") + _dumps(name) + ": " + _dumps(digest))
                first = False
                if len(out) >= 1024:
                    lines.write("".join(out).encode("utf-8"))
                    out = []
            out.append("}")
        elif k == "shared":
            out.append(_dumps([_shared_set(common, shared, ids)] if common else []))
        else:
            out.append(_dumps(record[k]))
    out.append("}")
    lines.write("".join(out).encode("utf-8"))


def _read_raw(out_dir: Path) -> dict:
    """``out_dir/manifest.json`` parsed, if it is of this format; else (none, unreadable, of
    another version) empty."""
    try:
        raw = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("manifest") != MANIFEST_FORMAT:
        return {}
    return raw


def _raw_records(raw: Mapping) -> dict[str, dict]:
    """The output records of a parsed manifest by path, as they are (own inputs and shared
    set names, see :func:`_expand_record`); empty when any cannot be read (as
    :func:`expand_entries`)."""
    try:
        shared = raw.get("shared") or {}
        records = {}
        for e in raw.get("outputs", []):
            _expand_record(e, shared, {})  # raises what expand_entries would fail on
            records[e["path"]] = e
        return records
    except (KeyError, TypeError, AttributeError, ValueError):
        return {}


def _expand_record(e: Mapping, shared: Mapping, same: dict[str, str]) -> dict:
    """One output record of a parsed manifest with its inputs in full (its own and those
    of its shared sets); ``same`` maps each name and digest to one ``str`` object."""
    entry = dict(e)
    inputs: dict[str, str] = {}
    for set_id in entry.pop("shared", None) or ():
        inputs.update(shared[set_id])
    inputs.update((same.setdefault(k, k), same.setdefault(v, v))
                  for k, v in (entry.get("inputs") or {}).items())
    entry["inputs"] = dict(sorted(inputs.items()))
    if "path" not in entry:  # a record without its path cannot be read
        raise KeyError("path")
    return entry


def expand_entries(raw: Mapping) -> dict[str, dict]:
    """The entries of a parsed manifest by output path, each with its inputs in full (its
    own and those of its shared sets); empty when they cannot be read."""
    try:
        shared = raw.get("shared") or {}
        entries = {}
        same: dict[str, str] = {}  # one str object for each name and digest, however often
        for e in raw.get("outputs", []):
            entry = _expand_record(e, shared, same)
            entries[entry["path"]] = entry
        return entries
    except (KeyError, TypeError, AttributeError, ValueError):
        return {}


def read_manifest(out_dir: Path) -> dict[str, dict]:
    """The entries of ``out_dir/manifest.json`` by output path, each with its ``inputs`` in
    full (input name -> sha256); empty when there is none, it cannot be read or it is of
    another format (a build then renders everything)."""
    return expand_entries(_read_raw(out_dir))


def read_manifest_index(out_dir: Path) -> dict[str, dict]:
    """The entries of ``out_dir/manifest.json`` by output path without their inputs (what
    deciding whether an output is up to date reads: key, sha256, size, ...), so a build of
    thousands of outputs does not hold every entry's inputs; empty as :func:`read_manifest`
    is."""
    return {path: {k: v for k, v in e.items() if k not in ("inputs", "shared")}
            for path, e in _raw_records(_read_raw(out_dir)).items()}


def read_manifest_tool(out_dir: Path) -> dict[str, str]:
    """The ``tool`` versions recorded in ``out_dir/manifest.json`` (empty when unreadable)."""
    try:
        tool = _read_raw(out_dir).get("tool") or {}
        return {str(k): str(v) for k, v in tool.items()}
    except (TypeError, AttributeError):
        return {}


def read_manifest_build(out_dir: Path) -> list[dict] | None:
    """The ``build`` records of ``out_dir/manifest.json`` (see :mod:`nexusreports.uptodate`),
    or None."""
    build = _read_raw(out_dir).get("build")
    return build if isinstance(build, list) else None
