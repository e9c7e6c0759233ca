"""Stage 6, write: put outputs in place atomically and record them in a manifest.

In: :class:`Output` records (relative path, bytes, the inputs they were built from).  Out:
files under the output folder and ``manifest.json``.

Every file is written to a temporary file beside its target (``.<name>.<random>.tmp``),
flushed to disk and renamed over the target, so a reader sees the old file or the new one,
never half of one; a failed or interrupted write removes its temporary file.  A file whose
bytes are unchanged is not rewritten, so its modification time stays.

``manifest.json`` (UTF-8 JSON, keys sorted, so equal builds give equal bytes)::

    {"tool": {"nexusreports": "0.1.0", "reportlab": "...", ...},
     "outputs": [{"path": "nl/atmp.pdf", "format": "pdf", "language": "nl-NL", "pages": 1,
                  "sha256": "...", "size": 40264, "slug": "atmp",
                  "inputs": {"data/projects/atmp.yaml": "<sha256>", ...},
                  "key": "<sha256 of what the bytes depend on>",
                  "source_date_epoch": "1700000000" or null}, ...]}

``key`` is what the pipeline compares to decide that an output need not be rendered again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import OutputError

log = logging.getLogger("nexusreports")

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Output:
    """One built file: ``path`` relative to the output folder, its format and language.

    ``pages`` is the page count for PDFs (None for DOCX); ``inputs`` maps each input file
    (relative to the working folder) to its sha256.  ``slug`` names the project of a sheet
    (None for the bundle); ``key`` is the build key (see :mod:`nexusreports.pipeline`) and
    ``source_date_epoch`` the ``SOURCE_DATE_EPOCH`` it was built with (None: real time).
    ``reused`` says the bytes were read back from the output folder, not rendered.
    """

    path: str
    format: str
    lang: str | None
    data: bytes = field(repr=False)
    pages: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    slug: str | None = None
    key: str = ""
    source_date_epoch: str | None = None
    reused: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_atomic(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` atomically; return False if it already held these bytes.

    Raises :class:`OutputError` when the folder cannot be created or written.
    """
    target = Path(target)
    try:
        if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc}): check that the "
                          "output folder is writable and the disk is not full") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc}): the previous "
                              "file, if any, is unchanged") from exc
        raise
    return True


def write_outputs(out_dir: Path, outputs: list[Output], tool: dict[str, str]) -> list[bool]:
    """Write every output and then ``manifest.json``; return, per output, whether it changed.

    The manifest lists each output's path, sha256, size, pages, language, format, inputs and
    build key, plus the tool and library versions in ``tool``.  A reused output (bytes read
    back from ``out_dir``) is not written again.  Outputs of earlier builds that this build
    did not make (another ``--only`` or ``--lang``) keep their manifest entries while their
    files exist.  Raises :class:`OutputError`.
    """
    out_dir = Path(out_dir)
    changed = []
    for output in outputs:
        did = False if output.reused else write_atomic(out_dir / output.path, output.data)
        log.debug("%s %s", "written" if did else "unchanged", out_dir / output.path)
        changed.append(did)
    entries = {path: e for path, e in read_manifest(out_dir).items()
               if (out_dir / path).is_file()}
    for output in outputs:
        entries[output.path] = manifest_entry(output)
    manifest = {"tool": tool, "outputs": [entries[k] for k in sorted(entries)]}
    write_atomic(out_dir / MANIFEST,
                 (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                 .encode("utf-8"))
    return changed


def manifest_entry(output: Output) -> dict:
    """The manifest record of ``output`` (everything but its bytes)."""
    entry = asdict(output)
    for name in ("data", "reused", "lang"):
        del entry[name]
    entry.update(language=output.lang, sha256=output.sha256, size=len(output.data))
    return entry


def read_manifest(out_dir: Path) -> dict[str, dict]:
    """The entries of ``out_dir/manifest.json`` by output path; empty when there is none or
    it cannot be read (a build then renders everything)."""
    try:
        old = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
        entries = {e["path"]: dict(e) for e in old.get("outputs", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    for e in entries.values():
        if "language" not in e and "lang" in e:  # manifests of 0.1.0 builds
            e["language"] = e.pop("lang")
    return entries


def read_manifest_tool(out_dir: Path) -> dict[str, str]:
    """The ``tool`` versions recorded in ``out_dir/manifest.json`` (empty when unreadable)."""
    try:
        tool = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8")).get("tool")
        return {str(k): str(v) for k, v in tool.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}
