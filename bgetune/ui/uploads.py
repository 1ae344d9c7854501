"""Uploaded files go into ``<workspace>/uploads/`` only: names sanitised, sizes limited, sources checked.

The browser hands Gradio a file; Gradio stores it in its upload cache and gives the app a path. We copy it from
there into the workspace. A path outside the allowed roots (Gradio's cache, by default), a symlink, a folder or
an oversized file is refused, so an upload can never make the app read anything else.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bgetune.core.errors import BgetuneError
from bgetune.core.files import file_sha256

UPLOAD_DIR = "uploads"
DEFAULT_MAX_FILE_MB = 200.0
DEFAULT_MAX_TOTAL_MB = 1024.0
MAX_NAME_CHARS = 120
DOCUMENT_SUFFIXES = frozenset(
    {".pdf", ".docx", ".md", ".markdown", ".txt", ".text", ".html", ".htm", ".jsonl"}
)
# question history / golden questions / question-answer pairs: read by tools/history.py and tools/golden.py
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".xlsx"})
ALLOWED_SUFFIXES = DOCUMENT_SUFFIXES | TABLE_SUFFIXES
QUESTION_SUFFIXES = frozenset({".txt", ".md", ".jsonl"}) | TABLE_SUFFIXES
HISTORY_SUFFIXES = frozenset({".jsonl"}) | TABLE_SUFFIXES
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class UploadError(BgetuneError, ValueError):
    """An upload that was refused: which file, why, what to do."""


@dataclass
class UploadResult:
    """What happened to one batch of uploads."""

    stored: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.stored:
            parts.append(f"stored {len(self.stored)} file(s) in uploads/")
        if self.refused:
            parts.append("refused: " + "; ".join(self.refused))
        return ", ".join(parts) or "no files"


def sanitize_filename(name: str) -> str:
    """A safe file name: base name only, no path parts, control characters, leading dots or reserved chars."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # base name, whatever the client's OS
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # control/format chars
    name = _UNSAFE.sub("_", name).strip().strip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name or set(name) <= {"_", " ", "."}:
        name = "upload"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    budget = MAX_NAME_CHARS - (len(suffix) + 1 if suffix else 0)
    stem = stem[:budget].rstrip(" .") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def default_allowed_roots() -> list[Path]:
    """Where Gradio keeps uploads: ``GRADIO_TEMP_DIR`` or ``<tmp>/gradio``."""
    try:
        from gradio.utils import get_upload_folder

        root = str(get_upload_folder())
    except ImportError:  # gradio is optional for this module
        root = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return [Path(root).resolve()]


def kinds(suffixes: frozenset[str]) -> str:
    """The accepted types in words: ``PDF, DOCX, ... or XLSX``."""
    order = [".pdf", ".docx", ".md", ".txt", ".html", ".jsonl", ".csv", ".tsv", ".xlsx"]
    names = [s[1:].upper() if s != ".md" else "Markdown" for s in order if s in suffixes]
    names += sorted(s[1:].upper() for s in suffixes - set(order) if s not in (".markdown", ".text", ".htm"))
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else "nothing"


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _unique(dest_dir: Path, name: str, source: Path) -> Path:
    """``name`` in ``dest_dir``; an existing identical file is reused, a different one gets ``-1``, ``-2``..."""
    candidate = dest_dir / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 0
    while candidate.exists():
        if (
            candidate.is_file()
            and candidate.stat().st_size == source.stat().st_size
            and file_sha256(candidate) == file_sha256(source)
        ):
            return candidate
        n += 1
        candidate = dest_dir / f"{stem}-{n}{suffix}"
    return candidate


def store_uploads(
    workspace: str | os.PathLike[str],
    files: Iterable[str | os.PathLike[str] | dict],
    *,
    allowed_roots: Sequence[str | os.PathLike[str]] | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    max_total_mb: float = DEFAULT_MAX_TOTAL_MB,
    suffixes: frozenset[str] = ALLOWED_SUFFIXES,
) -> UploadResult:
    """Copy uploaded files into ``<workspace>/uploads/``. Refused files are listed with the reason, never read.

    ``files``: paths (or Gradio file dicts with ``path`` and optional ``orig_name``)."""
    roots = [
        Path(r).resolve() for r in (allowed_roots if allowed_roots is not None else default_allowed_roots())
    ]
    dest_dir = Path(workspace).expanduser().resolve() / UPLOAD_DIR
    result = UploadResult()
    total = 0
    for item in files:
        if isinstance(item, dict):
            raw, orig = item.get("path"), item.get("orig_name")
        else:
            raw, orig = item, None
        if not raw:
            continue
        src_raw = Path(os.fspath(raw))
        display = sanitize_filename(orig or src_raw.name)
        if src_raw.is_symlink():
            result.refused.append(f"{display}: a link, not a file")
            continue
        src = src_raw.resolve()
        if not _inside(src, roots):
            result.refused.append(f"{display}: not an uploaded file")
            continue
        if not src.is_file():
            result.refused.append(f"{display}: not a file")
            continue
        suffix = Path(display).suffix.lower()
        if suffix not in suffixes:
            result.refused.append(
                f"{display}: unsupported type {suffix or '(none)'} — upload {kinds(suffixes)}"
            )
            continue
        size = src.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            result.refused.append(f"{display}: {size / 1048576:.1f} MB is over the {max_file_mb:g} MB limit")
            continue
        if total + size > max_total_mb * 1024 * 1024:
            result.refused.append(f"{display}: the upload is over the {max_total_mb:g} MB total limit")
            continue
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = _unique(dest_dir, display, src)
        if not dest.exists():
            tmp = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        total += size
        result.stored.append(dest)
    return result
