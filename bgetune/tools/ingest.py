"""Ingestion: PDF, DOCX, Markdown, TXT, HTML and JSONL knowledge-base exports into documents and chunks.

Each file is parsed into structural blocks (paragraphs with page numbers and heading paths), chunked
token-aware, and written with its chunks in ONE transaction: a kill mid-run leaves every file either fully
in or not in, and a re-run skips unchanged files. A bad file gets its own clear error; the rest go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgetune.core.config import Settings
from bgetune.core.errors import BgetuneError
from bgetune.core.files import file_sha256
from bgetune.core.models import UNK_WARN
from bgetune.core.text import clean_text, join_lines
from bgetune.core.workspace import Workspace, now_iso

SUPPORTED = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}
MAX_DEPTH = 32
MAX_FILES = 100_000


class IngestError(BgetuneError):
    """A file that cannot be ingested: ``reason`` says what is wrong, ``hint`` what to do."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason + (f" — {hint}" if hint else ""))
        self.reason = reason
        self.hint = hint


@dataclass
class Block:
    """One structural unit of a document: a paragraph, list item, table row, or a heading."""

    text: str
    page: int | None = None
    heading: tuple[str, ...] = ()
    is_heading: bool = False


@dataclass
class ParsedDocument:
    path: Path
    type: str
    pages: int | None
    blocks: list[Block] = field(default_factory=list)
    records: list[dict[str, Any]] | None = None  # JSONL exports: [{"id", "text", "title"}], taken as chunks


@dataclass
class FileResult:
    path: str
    status: str  # added | replaced | unchanged | failed | duplicate
    chunks: int = 0
    pages: int | None = None
    language: str | None = None
    error: str | None = None


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    base_model: str | None = None
    note: str | None = None
    unknown_token_rate: dict[str, float] = field(default_factory=dict)  # per language, of the new chunks
    reading_warning: str | None = None
    reading_warning_zh: str | None = None

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, Any]:
        counts = Counter(f.status for f in self.files)
        return {
            "files": len(self.files),
            **{k: counts.get(k, 0) for k in ("added", "replaced", "unchanged", "duplicate", "failed")},
            "chunks_written": sum(f.chunks for f in self.files if f.status in ("added", "replaced")),
            "failures": [{"path": f.path, "error": f.error} for f in self.failed],
            "base_model": self.base_model,
            "note": self.note,
            "unknown_token_rate": self.unknown_token_rate,
            "reading_warning": self.reading_warning,
            "reading_warning_zh": self.reading_warning_zh,
        }


# ---------------------------------------------------------------------------------------------- discovery
def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[FileResult]]:
    """Files to ingest (folders walked recursively, symlink loops and deep nesting refused) and early failures."""
    found: list[Path] = []
    problems: list[FileResult] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(d: Path, depth: int) -> None:
        try:
            st = d.stat()
        except OSError as exc:
            problems.append(FileResult(str(d), "failed", error=f"cannot read folder: {exc.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            problems.append(
                FileResult(str(d), "failed", error="symlink loop: this folder was already visited — skipped")
            )
            return
        seen_dirs.add(key)
        if depth > MAX_DEPTH:
            problems.append(
                FileResult(str(d), "failed", error=f"folder nested deeper than {MAX_DEPTH} levels — skipped")
            )
            return
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            problems.append(FileResult(str(d), "failed", error=f"cannot list folder: {exc.strerror}"))
            return
        for e in entries:
            if e.name.startswith(".") or e.name.startswith("~$"):
                continue
            p = Path(e.path)
            try:
                if e.is_dir():
                    walk(p, depth + 1)
                elif e.is_file():
                    if p.suffix.lower() in SUPPORTED:
                        found.append(p)
            except OSError as exc:
                problems.append(FileResult(str(p), "failed", error=f"cannot read: {exc.strerror}"))
            if len(found) > MAX_FILES:
                raise IngestError(f"more than {MAX_FILES} files under {d}", "ingest a smaller folder")

    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            problems.append(FileResult(str(p), "failed", error="no such file or folder — check the path"))
        elif p.is_dir():
            walk(p.resolve(), 0)
        elif p.suffix.lower() not in SUPPORTED:
            problems.append(
                FileResult(
                    str(p),
                    "failed",
                    error=f"unsupported file type {p.suffix or '(none)'!r} — convert it to PDF, DOCX, Markdown, TXT, "
                    "HTML or JSONL",
                )
            )
        else:
            found.append(p.resolve())
    # de-duplicate, keep order
    uniq: dict[Path, None] = {}
    for f in found:
        uniq.setdefault(f, None)
    return list(uniq), problems


# ---------------------------------------------------------------------------------------------- decoding
def decode_text(data: bytes, path: Path | str = "") -> str:
    """Bytes to str: BOMs, UTF-8, UTF-16 without BOM, GB18030/GBK, then charset detection. Refuses binaries."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    head = data[:8192]
    if head and head.count(b"\x00") > len(head) * 0.2:
        # UTF-16 without a BOM: every other byte is NUL for ASCII text
        for enc in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if _printable_share(text[:4000]) > 0.95:
                return text
        raise IngestError("this looks like a binary file, not text", "pass the original document instead")
    control = sum(1 for b in head if b < 9 or 13 < b < 27 or 27 < b < 32)
    if head and control > len(head) * 0.05:
        raise IngestError("this looks like a binary file, not text", "pass the original document instead")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        try:
            text = data.decode("gb18030")
            if _printable_share(text[:4000]) < 0.95:
                text = None
        except UnicodeDecodeError:
            text = None
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            text = data.decode(best.encoding, errors="replace")
    if text is None:
        raise IngestError("cannot detect the text encoding", "save the file as UTF-8 and ingest it again")
    if _printable_share(text[:4000]) < 0.9:
        raise IngestError("this looks like a binary file, not text", "pass the original document instead")
    return text


def _printable_share(text: str) -> float:
    if not text:
        return 1.0
    ok = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return ok / len(text)


# ---------------------------------------------------------------------------------------------- parsers
_HEADING_NUM = re.compile(
    r"^(?:\d+(?:\.\d+)*\.?\s*\S|[A-Z](?:\.\d+)+\.?\s+\S|[A-Z]\s+[A-Z\u4e00-\u9fff]|第[一二三四五六七八九十百零\d]+[章节篇部分条])"
)
_TOC_LINE = re.compile(r"(?:\.\s*){4,}\s*[ivxlc\d]+\s*$", re.I)
_BULLET = re.compile(r"^\s*(?:[•●▪◦\-–*]|\(?\d{1,2}[.)）]|（[一二三四五六七八九十\d]+）)\s*")
_SENT_END = tuple('.!?:。！？；：”」"')


def parse_pdf(path: Path, *, max_pages: int = 5000) -> ParsedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise IngestError(
                "the PDF is encrypted (password protected)",
                "remove the password (e.g. `qpdf --decrypt in.pdf out.pdf`)",
            ) from exc
        raise IngestError(
            f"the PDF is corrupt or truncated ({msg.split('(', 1)[-1].rstrip(').') or msg})",
            "re-export or re-download the file",
        ) from exc
    try:
        n = len(pdf)
        if n == 0:
            raise IngestError("the PDF has no pages", "check the file")
        if n > max_pages:
            raise IngestError(
                f"the PDF has {n} pages, over the limit of {max_pages}",
                "split it, or raise BGETUNE_MAX_PAGES",
            )
        pages: list[list[str]] = []
        for i in range(n):
            page = pdf[i]
            try:
                tp = page.get_textpage()
                raw = tp.get_text_range()
                tp.close()
            finally:
                page.close()
            pages.append([ln.strip() for ln in clean_text(raw).split("\n")])
    finally:
        pdf.close()
    total_chars = sum(len("".join(p)) for p in pages)
    if total_chars < 20 * max(1, min(n, 3)) and total_chars < 200:
        raise IngestError(
            "the PDF has no text layer (it looks scanned: image-only pages)",
            "run OCR first, e.g. `ocrmypdf in.pdf out.pdf`, then ingest the result",
        )
    pages = _drop_running_lines(pages)
    blocks = _lines_to_blocks(pages)
    return ParsedDocument(path, "pdf", n, blocks)


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.lower()))


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page headers/footers: lines among a page's first/last 2 that repeat (digits ignored) on most pages,
    and table-of-contents lines with dot leaders."""
    n = len(pages)
    out = []
    drop: set[str] = set()
    if n >= 4:
        counts: Counter[str] = Counter()
        for lines in pages:
            nonempty = [ln for ln in lines if ln]
            edge = set(_running_key(ln) for ln in nonempty[:2] + nonempty[-2:])
            counts.update(edge)
        # a header repeats on at least 40% of pages (odd/even pages often alternate two headers)
        drop = {k for k, c in counts.items() if c >= max(3, 0.4 * n) and k not in ("", "#")}
        # page numbers alone
        drop.add("#")
    # running headers that carry the page number ("Chapter 2: R Basics 7"): the number minus the page index is
    # the same on many pages
    offsets: Counter[int] = Counter()
    if n >= 4:
        for idx, lines in enumerate(pages):
            nonempty = [ln for ln in lines if ln]
            for ln in set(nonempty[:1] + nonempty[-1:]):
                num = _edge_number(ln)
                if num is not None:
                    offsets[num - idx] += 1
    page_offset = None
    if offsets:
        off, cnt = offsets.most_common(1)[0]
        if cnt >= max(3, 0.4 * n):
            page_offset = off
    for idx, lines in enumerate(pages):
        nonempty = [ln for ln in lines if ln]
        edge_idx = set(range(min(2, len(nonempty)))) | set(range(max(0, len(nonempty) - 2), len(nonempty)))
        kept = []
        for i, ln in enumerate(nonempty):
            if i in edge_idx and _running_key(ln) in drop:
                continue
            if (
                page_offset is not None
                and i in (0, len(nonempty) - 1)
                and _edge_number(ln) == idx + page_offset
                and len(ln) < 80
            ):
                continue
            if re.fullmatch(r"[ivxlcdm\d]+", ln.strip(), re.I) and i in edge_idx:
                continue
            if _TOC_LINE.search(ln):
                continue
            kept.append(ln)
        out.append(kept)
    return out


def _edge_number(line: str) -> int | None:
    """A page number at the start or end of a header/footer line."""
    m = (
        re.match(r"^\s*(\d{1,4})\s+\S", line)
        or re.search(r"\S\s+(\d{1,4})\s*$", line)
        or re.fullmatch(r"\s*(\d{1,4})\s*", line)
    )
    return int(m.group(1)) if m else None


def _looks_like_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 90 or _TOC_LINE.search(s):
        return False
    if not _HEADING_NUM.match(s):
        return False
    if re.match(r"^\d+(\.\d+)*\.?\s*$", s):
        return False
    # numbered headings do not end like a sentence (questions are fine: FAQ headings)
    if s.endswith((".", "。", ",", "，", ";", "；", ":")):
        return False
    # after the number comes a capitalised word, CJK, or a path ("3.13. /opt"): not "3.5 million rows"
    m = re.match(r"^(?:\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)*\.?|第\S+?[章节篇部分条])\s*(\S)", s)
    return bool(m) and (
        m.group(1).isupper() or m.group(1) in '/`"“' or bool(re.match(r"[\u4e00-\u9fff]", m.group(1)))
    )


def _lines_to_blocks(pages: list[list[str]]) -> list[Block]:
    """Rebuild paragraphs from wrapped PDF lines; numbered short lines become headings."""
    blocks: list[Block] = []
    heading: tuple[str, ...] = ()
    widths = [len(ln) for lines in pages for ln in lines if ln]
    typical = sorted(widths)[int(len(widths) * 0.8)] if widths else 80
    cur = ""
    cur_page = None

    def flush() -> None:
        nonlocal cur
        if cur.strip():
            blocks.append(Block(cur.strip(), cur_page, heading))
        cur = ""

    for pno, lines in enumerate(pages, start=1):
        for ln in lines:
            if _looks_like_heading(ln):
                flush()
                level = _heading_level(ln)
                heading = tuple(list(heading[: level - 1]) + [ln.strip()])
                blocks.append(Block(ln.strip(), pno, heading, is_heading=True))
                cur_page = pno
                continue
            if _BULLET.match(ln) and cur:
                flush()
            if not cur:
                cur_page = pno
            cur = join_lines(cur, ln)
            if ln.endswith(_SENT_END) and len(ln) < 0.7 * typical:
                flush()
        # a paragraph may continue on the next page; keep `cur`
    flush()
    return blocks


def _heading_level(line: str) -> int:
    m = re.match(r"^(\d+(?:\.\d+)*)", line.strip())
    if m:
        return min(6, m.group(1).count(".") + 1)
    if re.match(r"^[A-Z](\.\d+)*\s", line.strip()):
        return min(6, line.strip().split()[0].count(".") + 1)
    if line.strip().startswith("第") and "章" in line[:8]:
        return 1
    return 2


def parse_markdown(path: Path, text: str) -> ParsedDocument:
    blocks: list[Block] = []
    heading: list[str] = []
    para: list[str] = []
    in_code = False

    def flush() -> None:
        if para:
            joined = ""
            for ln in para:
                joined = (
                    join_lines(joined, ln.strip()) if not in_code else (joined + "\n" + ln if joined else ln)
                )
            if joined.strip():
                blocks.append(Block(_strip_md_inline(joined.strip()), None, tuple(heading)))
            para.clear()

    for line in text.split("\n"):
        if line.strip().startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code:
            para.append(line)
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            flush()
            level = len(m.group(1))
            title = _strip_md_inline(m.group(2))
            heading[:] = heading[: level - 1] + [title]
            blocks.append(Block(title, None, tuple(heading), is_heading=True))
            continue
        if not line.strip() or re.match(r"^\s*([-*_])\s*\1\s*\1[\s\-*_]*$", line):
            flush()
            continue
        if _BULLET.match(line) and para:
            flush()
        para.append(line)
    flush()
    return ParsedDocument(path, "markdown", None, blocks)


def _strip_md_inline(s: str) -> str:
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"(\*\*|__)(.+?)\1", r"\2", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    return s


def parse_text(path: Path, text: str) -> ParsedDocument:
    blocks = []
    for para in re.split(r"\n\s*\n", text):
        joined = ""
        for ln in para.split("\n"):
            joined = join_lines(joined, ln.strip())
        if joined.strip():
            blocks.append(Block(joined.strip()))
    return ParsedDocument(path, "text", None, blocks)


_HTML_BLOCKS = {
    "p",
    "li",
    "pre",
    "blockquote",
    "td",
    "th",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "div",
    "section",
    "article",
    "caption",
    "figcaption",
}


def parse_html(path: Path, text: str) -> ParsedDocument:
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(text, "html.parser")
    for t in soup(["script", "style", "noscript", "nav", "header", "footer", "svg", "form"]):
        t.decompose()
    root = soup.body or soup
    blocks: list[Block] = []
    heading: list[str] = []
    for el in root.find_all(list(_HTML_BLOCKS)):
        if not isinstance(el, Tag):
            continue
        if el.find(list(_HTML_BLOCKS)) is not None:
            continue  # only leaf blocks; their parents would repeat the text
        content = el.get_text(" " if el.name != "pre" else "", strip=el.name != "pre")
        content = re.sub(r"[ \t]+", " ", content).strip()
        if not content:
            continue
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            level = int(el.name[1])
            heading[:] = heading[: level - 1] + [content]
            blocks.append(Block(content, None, tuple(heading), is_heading=True))
        else:
            blocks.append(Block(content, None, tuple(heading)))
    return ParsedDocument(path, "html", None, blocks)


def parse_docx(path: Path) -> ParsedDocument:
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover
        raise IngestError("python-docx is not installed", "pip install python-docx") from exc
    if not zipfile.is_zipfile(path):
        raise IngestError(
            "the DOCX file is corrupt (not a zip package)", "re-save it from Word or LibreOffice"
        )
    _check_zip_bomb(path)
    try:
        d = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise IngestError(f"the DOCX file is corrupt ({exc})", "re-save it from Word or LibreOffice") from exc
    blocks: list[Block] = []
    heading: list[str] = []
    body = d.element.body
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, d)
            t = p.text.strip()
            if not t:
                continue
            style = (p.style.name if p.style is not None else "") or ""
            m = re.match(r"(?:Heading|标题)\s*(\d)", style)
            if m or style == "Title":
                level = int(m.group(1)) if m else 1
                heading[:] = heading[: level - 1] + [t]
                blocks.append(Block(t, None, tuple(heading), is_heading=True))
            else:
                blocks.append(Block(t, None, tuple(heading)))
        elif tag == "tbl":
            for row in Table(child, d).rows:
                cells = []
                for c in row.cells:
                    ct = c.text.strip()
                    if ct and (not cells or cells[-1] != ct):
                        cells.append(ct)
                if cells:
                    blocks.append(Block(" | ".join(cells), None, tuple(heading)))
    return ParsedDocument(path, "docx", None, blocks)


def _check_zip_bomb(path: Path, *, max_ratio: int = 200, max_total: int = 1 << 30) -> None:
    with zipfile.ZipFile(path) as z:
        total = sum(i.file_size for i in z.infolist())
        packed = max(1, sum(i.compress_size for i in z.infolist()))
    if total > max_total or total / packed > max_ratio:
        raise IngestError(
            f"the archive expands to {total / 1e6:.0f} MB ({total / packed:.0f}x): refusing a possible zip bomb",
            "check where the file came from",
        )


def parse_jsonl(path: Path, text: str) -> ParsedDocument:
    records: list[dict[str, Any]] = []
    bad: list[int] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad.append(i)
            continue
        if not isinstance(obj, dict):
            bad.append(i)
            continue
        body = obj.get("text") or obj.get("content") or obj.get("page_content")
        if not isinstance(body, str) or not body.strip():
            bad.append(i)
            continue
        rid = obj.get("id", obj.get("_id", obj.get("segment_id")))
        title = obj.get("title") or obj.get("heading") or (obj.get("metadata") or {}).get("title")
        records.append(
            {
                "id": str(rid) if rid is not None else None,
                "text": clean_text(body).strip(),
                "title": title if isinstance(title, str) else None,
            }
        )
    if not records:
        raise IngestError(
            "no usable records: expected one JSON object per line with a 'text' field (and an 'id')",
            f"check the export format (bad lines: {bad[:5]})" if bad else "the file has no lines",
        )
    doc = ParsedDocument(path, "jsonl", None, [], records)
    doc.bad_lines = bad  # type: ignore[attr-defined]
    return doc


def parse_file(path: Path, *, max_bytes: float, max_pages: int) -> ParsedDocument:
    """Parse one file into blocks (or records), or raise IngestError with the reason and the fix."""
    try:
        st = path.stat()
    except OSError as exc:
        raise IngestError(
            f"cannot read the file ({exc.strerror})", "check the path and its permissions"
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise IngestError("not a regular file", "pass documents, not devices or pipes")
    if st.st_size == 0:
        raise IngestError("the file is empty (0 bytes)", "remove it or pass the real document")
    if st.st_size > max_bytes:
        raise IngestError(
            f"the file is {st.st_size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit",
            "split it or raise BGETUNE_MAX_FILE_MB",
        )
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise IngestError(
            f"unsupported file type {path.suffix!r}", "convert it to PDF, DOCX, Markdown, TXT, HTML or JSONL"
        )
    if kind == "pdf":
        with open(path, "rb") as fh:
            if not fh.read(1024).lstrip().startswith(b"%PDF"):
                raise IngestError(
                    "the file is not a PDF (no %PDF header)", "check the file; it may be misnamed"
                )
        return parse_pdf(path, max_pages=max_pages)
    if kind == "docx":
        return parse_docx(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read the file ({exc.strerror})", "check its permissions") from exc
    text = clean_text(decode_text(data, path))
    if not text.strip():
        raise IngestError("the file has no text", "remove it or pass the real document")
    if kind == "markdown":
        return parse_markdown(path, text)
    if kind == "html":
        return parse_html(path, text)
    if kind == "jsonl":
        return parse_jsonl(path, text)
    return parse_text(path, text)


# ---------------------------------------------------------------------------------------------- can the model read it
# the models that read a language the base tokenizer cannot, for the warning at ingest (issue 22 item 5)
READER_MODELS = {
    "zh": (
        ("BAAI/bge-small-zh-v1.5", "~100 MB", "Chinese only; fast on a CPU"),
        ("BAAI/bge-m3", "~2.3 GB", "Chinese, English and 100 more languages; about 10x slower, a GPU helps"),
    ),
}


def unknown_token_rate(tokenizer: Any, texts: list[str], *, max_texts: int = 200) -> float:
    """Share of the tokenizer's tokens that are its unknown token ([UNK]) over ``texts`` (at most ``max_texts``)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return 0.0
    enc = tokenizer(texts[:max_texts], add_special_tokens=False, truncation=False)["input_ids"]
    total = sum(len(ids) for ids in enc)
    return sum(ids.count(unk) for ids in enc) / total if total else 0.0


_ZH_COST = {
    "Chinese only; fast on a CPU": "只支持中文，CPU 上也快",
    "Chinese, English and 100 more languages; about 10x slower, a GPU helps": "中英文及 100 多种语言，约慢 10 倍，最好有 GPU",
}
_LANG_ZH = {"zh": "中文", "en": "英文"}


def _reading_warning(rates: dict[str, float], model: str, reply: str = "en") -> str | None:
    """What to say when the base model cannot read a language of the documents (None when it can)."""
    bad = {lang: r for lang, r in rates.items() if r >= UNK_WARN}
    if not bad:
        return None
    parts = []
    for lang, r in sorted(bad.items()):
        models = READER_MODELS.get(lang, (("BAAI/bge-m3", "~2.3 GB", "100+ languages; slower, a GPU helps"),))
        if reply == "zh":
            alts = "；".join(f"{m}（{size}，{_ZH_COST.get(cost, cost)}）" for m, size, cost in models)
            parts.append(
                f"基础模型 {model} 不认识{_LANG_ZH.get(lang, lang)}文本中 {r:.0%} 的词元（[UNK]）：它读不懂这些文字，"
                f"检索和训练效果都会很差。能读懂的模型：{alts}。用 base_model 设置它（需要已下载或在本地缓存中），"
                "然后重新导入。"
            )
            continue
        alts = "; ".join(f"{m} ({size}: {cost})" for m, size, cost in models)
        parts.append(
            f"{r:.0%} of the {lang} tokens are unknown ([UNK]) to the base model {model}: it cannot read this text, "
            f"so retrieval and training on it will be poor. A model that reads it: {alts}. Set it with "
            f"`base_model` (it must be downloaded or in the local cache) and ingest again."
        )
    return " ".join(parts)


def chunk_id(doc_sha: str, text: str, dup: int, ext_id: str | None = None) -> str:
    raw = f"{doc_sha}\0{ext_id or ''}\0{text}\0{dup}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def ingest(
    ws: Workspace,
    paths: Iterable[str | os.PathLike[str]],
    *,
    settings: Settings | None = None,
    base_model: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into the workspace. Unchanged files are skipped; changed ones replaced."""
    from bgetune.tools.chunking import Chunker

    settings = settings or Settings()
    files, problems = discover(paths)
    report = IngestReport(files=list(problems))
    chunker = Chunker.for_model(
        base_model or settings.base_model or ws.get_setting("base_model"),
        max_tokens=settings.chunk_tokens or 256,
        overlap=settings.chunk_overlap or 32,
    )
    report.base_model = chunker.model_name
    report.note = chunker.note
    max_bytes = (settings.max_file_mb or 200) * 1e6
    for i, path in enumerate(files):
        if progress:
            progress(i, len(files), path.name)
        report.files.append(_ingest_one(ws, path, chunker, max_bytes, settings.max_pages or 5000))
    if progress:
        progress(len(files), len(files), "")
    new_docs = [f.path for f in report.files if f.status in ("added", "replaced")]
    if new_docs:
        by_lang: dict[str, list[str]] = {}
        marks = ",".join("?" * len(new_docs))
        for r in ws.query(
            f"SELECT c.text, c.language FROM chunks c JOIN documents d ON d.id=c.document_id WHERE d.path IN ({marks})",
            new_docs,
        ):
            if r["language"] in ("zh", "en"):
                by_lang.setdefault(r["language"], []).append(r["text"])
        report.unknown_token_rate = {
            lang: round(unknown_token_rate(chunker.tokenizer, texts[:: max(1, len(texts) // 50)]), 3)
            for lang, texts in by_lang.items()
        }
        report.reading_warning = _reading_warning(report.unknown_token_rate, chunker.model_name)
        report.reading_warning_zh = _reading_warning(report.unknown_token_rate, chunker.model_name, "zh")
    return report


def _ingest_one(ws: Workspace, path: Path, chunker: Any, max_bytes: float, max_pages: int) -> FileResult:
    spath = str(path)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return _record_failure(ws, path, None, f"cannot read the file ({exc.strerror})")
    existing = ws.conn.execute("SELECT id, sha256, status FROM documents WHERE path=?", (spath,)).fetchone()
    if existing and existing["sha256"] == sha and existing["status"] == "ok":
        n = ws.scalar("SELECT count(*) FROM chunks WHERE document_id=?", (existing["id"],))
        return FileResult(spath, "unchanged", chunks=n)
    dup = ws.conn.execute(
        "SELECT path FROM documents WHERE sha256=? AND status='ok' AND path<>?", (sha, spath)
    ).fetchone()
    if dup:
        return FileResult(spath, "duplicate", error=f"same content as {dup['path']} — skipped")
    try:
        parsed = parse_file(path, max_bytes=max_bytes, max_pages=max_pages)
        chunks = chunker.chunk_document(parsed)
        if not chunks:
            raise IngestError("no text could be extracted", "check that the document has selectable text")
    except IngestError as exc:
        return _record_failure(ws, path, sha, str(exc))
    except MemoryError:
        return _record_failure(
            ws, path, sha, "ran out of memory reading the file — split it into smaller files"
        )
    except Exception as exc:  # a parser bug must not stop the other files
        return _record_failure(ws, path, sha, f"could not parse the file ({type(exc).__name__}: {exc})")
    lang_counts = Counter(c.language for c in chunks)
    doc_lang = lang_counts.most_common(1)[0][0] if lang_counts else "unknown"
    if len(lang_counts) > 1 and lang_counts.get("zh", 0) and lang_counts.get("en", 0):
        total = sum(lang_counts.values())
        if max(lang_counts["zh"], lang_counts["en"]) / total < 0.8:
            doc_lang = "mixed"
    with ws.tx() as c:
        meta = (path.name, sha, parsed.type, path.stat().st_size, parsed.pages, doc_lang)
        if existing:
            c.execute("DELETE FROM chunks WHERE document_id=?", (existing["id"],))
            c.execute(
                "UPDATE documents SET name=?, sha256=?, type=?, size=?, pages=?, language=?, status='ok', error=NULL, "
                "n_chunks=?, ingested_at=? WHERE id=?",
                (*meta, len(chunks), now_iso(), existing["id"]),
            )
            doc_id = existing["id"]
        else:
            cur = c.execute(
                "INSERT INTO documents(path, name, sha256, type, size, pages, language, status, n_chunks, ingested_at) "
                "VALUES(?,?,?,?,?,?,?,?,?,?)",
                (spath, *meta, "ok", len(chunks), now_iso()),
            )
            doc_id = cur.lastrowid
        seen: Counter[str] = Counter()
        rows = []
        for ordinal, ch in enumerate(chunks):
            key = (ch.ext_id or "") + "\0" + ch.text
            cid = chunk_id(sha, ch.text, seen[key], ch.ext_id)
            seen[key] += 1
            rows.append(
                (
                    cid,
                    doc_id,
                    ordinal,
                    ch.ext_id,
                    ch.page_start,
                    ch.page_end,
                    ch.heading,
                    ch.text,
                    ch.n_tokens,
                    ch.language,
                )
            )
        c.executemany(
            "INSERT INTO chunks(id, document_id, ord, ext_id, page_start, page_end, heading, text, n_tokens, language) "
            "VALUES(?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    return FileResult(
        spath, "replaced" if existing else "added", chunks=len(chunks), pages=parsed.pages, language=doc_lang
    )


def _record_failure(ws: Workspace, path: Path, sha: str | None, error: str) -> FileResult:
    """Remember the failure (so `status` lists it) without touching a previous good version's chunks."""
    spath = str(path)
    with ws.tx() as c:
        row = c.execute("SELECT id, status FROM documents WHERE path=?", (spath,)).fetchone()
        if row is None:
            c.execute(
                "INSERT INTO documents(path, name, sha256, type, status, error, ingested_at) VALUES(?,?,?,?,?,?,?)",
                (spath, path.name, sha, SUPPORTED.get(path.suffix.lower()), "error", error, now_iso()),
            )
        elif row["status"] == "error":
            c.execute(
                "UPDATE documents SET sha256=?, error=?, ingested_at=? WHERE id=?",
                (sha, error, now_iso(), row["id"]),
            )
    return FileResult(spath, "failed", error=error)
