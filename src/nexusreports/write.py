"""Stage 6, write: put outputs in place atomically and record them in a manifest.

In: ``(relative path, bytes)`` pairs and the inputs they were built from.  Out: files under
the output folder and ``manifest.json``.

Every file is written to a temporary file beside its target (``.<name>.<random>.tmp``),
flushed to disk and renamed over the target, so a reader sees the old file or the new one,
never half of one; a failed or interrupted write removes its temporary file.  A file whose
bytes are unchanged is not rewritten, so its modification time stays.
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
    (relative to the working folder) to its sha256.
    """

    path: str
    format: str
    lang: str | None
    data: bytes = field(repr=False)
    pages: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)

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

    The manifest lists each output's path, sha256, size, pages, language, format and inputs,
    plus the tool and library versions in ``tool``.  Outputs of earlier builds that this
    build did not make (another ``--only`` or ``--lang``) keep their manifest entries.
    """
    out_dir = Path(out_dir)
    changed = []
    for output in outputs:
        did = write_atomic(out_dir / output.path, output.data)
        log.info("%s %s", "built" if did else "unchanged", out_dir / output.path)
        changed.append(did)
    entries = _previous_entries(out_dir)
    for output in outputs:
        entry = asdict(output)
        del entry["data"]
        entry.update(sha256=output.sha256, size=len(output.data))
        entries[output.path] = entry
    manifest = {"tool": tool, "outputs": [entries[k] for k in sorted(entries)]}
    write_atomic(out_dir / MANIFEST,
                 (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                 .encode("utf-8"))
    return changed


def _previous_entries(out_dir: Path) -> dict[str, dict]:
    try:
        old = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        return {e["path"]: e for e in old.get("outputs", []) if (out_dir / e["path"]).is_file()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
