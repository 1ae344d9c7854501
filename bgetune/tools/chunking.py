"""Token-aware chunking with the base model's tokenizer: respects headings and paragraphs, splits Chinese at
。！？；, never emits empty chunks, keeps page range and heading path for citations."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgetune.core.text import detect_language, is_cjk_char

if TYPE_CHECKING:
    from bgetune.tools.ingest import Block, ParsedDocument

_ZH_SPLIT = re.compile(r"(?<=[。！？；!?;])")
_EN_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(\[])")


@dataclass
class Chunk:
    text: str
    n_tokens: int
    page_start: int | None = None
    page_end: int | None = None
    heading: str | None = None
    language: str = "unknown"
    ext_id: str | None = None


@dataclass
class _Unit:
    text: str
    tokens: int
    page: int | None
    heading: tuple[str, ...]
    para_start: bool  # first unit of a paragraph (joined with a newline) or a sentence inside one
    is_heading: bool = False  # the heading line itself


def split_sentences(text: str) -> list[str]:
    """Sentences: Chinese at 。！？；, English at . ! ? before a capital. Keeps the punctuation."""
    parts = [p for p in _ZH_SPLIT.split(text) if p.strip()]
    out: list[str] = []
    for p in parts:
        out.extend(s for s in _EN_SPLIT.split(p) if s.strip())
    return out


_IMPORT_LOCK = threading.Lock()


class Chunker:
    """Splits parsed documents into chunks of at most ``max_tokens`` tokens (model tokenizer), with overlap."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        max_tokens: int = 256,
        overlap: int = 32,
        model_name: str = "",
        note: str | None = None,
    ) -> None:
        if max_tokens < 16:
            raise ValueError(f"chunk size {max_tokens} tokens is too small; use at least 16")
        if not 0 <= overlap < max_tokens // 2:
            raise ValueError(
                f"chunk overlap {overlap} must be between 0 and half the chunk size ({max_tokens // 2})"
            )
        self.tokenizer = tokenizer
        # counting a whole paragraph's tokens is how chunks get capped at max_tokens; transformers' "Token
        # indices sequence length is longer than the specified maximum ... indexing errors" warning is about
        # feeding such a sequence to the model, which never happens here: mark it as already shown, for this
        # tokenizer only (the flag transformers itself sets after warning once)
        flags = getattr(tokenizer, "deprecation_warnings", None)
        if isinstance(flags, dict):
            flags["sequence-length-is-longer-than-the-specified-maximum"] = True
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.model_name = model_name
        self.note = note

    @classmethod
    def for_model(
        cls, spec: str | None, *, max_tokens: int = 256, overlap: int = 32, language: str | None = None
    ) -> Chunker:
        """A chunker using the tokenizer of the base model ``spec`` (or the bundled model when it is unavailable)."""
        with _IMPORT_LOCK:  # transformers' lazy first import is not thread-safe (two chat sessions at once)
            from transformers import AutoTokenizer

        from bgetune.core.models import resolve_base_model

        resolved = resolve_base_model(spec or "bundled", language=language)
        tok = AutoTokenizer.from_pretrained(resolved.path)
        return cls(tok, max_tokens=max_tokens, overlap=overlap, model_name=resolved.spec, note=resolved.note)

    # ---------------------------------------------------------------- tokens
    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        enc = self.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    def _hard_split(self, text: str) -> list[str]:
        """Split a single over-long sentence at token boundaries."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        offsets = enc["offset_mapping"]
        pieces = []
        step = self.max_tokens - self.overlap
        for start in range(0, len(offsets), step):
            window = offsets[start : start + self.max_tokens]
            if not window:
                break
            piece = text[window[0][0] : window[-1][1]].strip()
            if piece:
                pieces.append(piece)
            if start + self.max_tokens >= len(offsets):
                break
        return pieces or [text]

    # ---------------------------------------------------------------- documents
    def chunk_document(self, doc: ParsedDocument) -> list[Chunk]:
        if doc.records is not None:  # JSONL knowledge-base export: records are chunks as they are
            counts = self.count([r["text"] for r in doc.records])
            return [
                Chunk(
                    r["text"],
                    n,
                    heading=r.get("title"),
                    language=detect_language(r["text"]),
                    ext_id=r.get("id"),
                )
                for r, n in zip(doc.records, counts, strict=True)
                if r["text"].strip()
            ]
        return self.chunk_blocks(doc.blocks)

    def chunk_blocks(self, blocks: list[Block]) -> list[Chunk]:
        units = self._units(blocks)
        chunks: list[Chunk] = []
        cur: list[_Unit] = []
        cur_tokens = 0
        section: tuple[str, ...] | None = None
        fresh = 0  # units in `cur` that are not overlap carried from the previous chunk

        def flush(keep_overlap: bool) -> None:
            nonlocal cur, cur_tokens, fresh
            if not cur:
                fresh = 0
                return
            text = _join_units(cur).strip()
            if text:
                pages = [u.page for u in cur if u.page is not None]
                # the label names the section the chunk's own text starts in (not the last heading seen, which
                # labelled a chunk '8.5' that starts with the text of 8.4)
                own = cur[len(cur) - fresh :] if fresh else cur
                heading = next((u.heading for u in own if u.heading and not u.is_heading), ()) or next(
                    (u.heading for u in reversed(cur) if u.heading), ()
                )
                chunks.append(
                    Chunk(
                        text,
                        cur_tokens,
                        min(pages) if pages else None,
                        max(pages) if pages else None,
                        " > ".join(heading) if heading else None,
                        detect_language(text),
                    )
                )
            fresh = 0
            if keep_overlap and self.overlap:
                tail: list[_Unit] = []
                t = 0
                for u in reversed(cur):
                    if t + u.tokens > self.overlap:
                        break
                    tail.insert(0, u)
                    t += u.tokens
                cur, cur_tokens = tail, t
            else:
                cur, cur_tokens = [], 0

        for u in units:
            if u.heading != section and u.para_start and u.heading[: len(section or ())] != section:
                # a new section (not a sub-section) starts a fresh chunk, and no overlap crosses into it: a chunk
                # holds one section's text (and its sub-sections'), so its label is true
                body = [x for x in cur[len(cur) - fresh :] if not x.is_heading] if fresh else []
                if body:
                    flush(keep_overlap=False)
                elif not fresh:
                    cur, cur_tokens = [], 0  # only overlap carried from the previous section: dropped
                # else: headings without text (a table of contents, a chapter title) stay with what follows
                section = u.heading
            elif u.heading != section:
                section = u.heading
            if cur_tokens + u.tokens > self.max_tokens and cur:
                if all(x.is_heading for x in cur[len(cur) - fresh :]):
                    fresh = 0  # a heading line alone is not a chunk: it stays as the next chunk's first line
                else:
                    flush(keep_overlap=True)
                # the overlap never pushes a unit out of the window
                while cur and cur_tokens + u.tokens > self.max_tokens:
                    cur_tokens -= cur[0].tokens
                    cur.pop(0)
            cur.append(u)
            cur_tokens += u.tokens
            fresh += 1
        if fresh:  # an overlap-only remainder is not a chunk of its own
            flush(keep_overlap=False)
        return [c for c in chunks if c.text.strip()]

    def _units(self, blocks: list[Block]) -> list[_Unit]:
        """Blocks -> units that fit: whole paragraphs when small, else sentences, else token windows."""
        texts = [b.text for b in blocks]
        counts = self.count(texts)
        units: list[_Unit] = []
        for b, n in zip(blocks, counts, strict=True):
            if not b.text.strip():
                continue
            if n <= self.max_tokens:
                units.append(_Unit(b.text, n, b.page, b.heading, True, b.is_heading))
                continue
            sentences = split_sentences(b.text)
            scounts = self.count(sentences)
            first = True
            for s, sn in zip(sentences, scounts, strict=True):
                pieces = [s] if sn <= self.max_tokens else self._hard_split(s)
                pcounts = [sn] if sn <= self.max_tokens else self.count(pieces)
                for p, pn in zip(pieces, pcounts, strict=True):
                    units.append(_Unit(p.strip(), pn, b.page, b.heading, first))
                    first = False
        return units


def _join_units(units: list[_Unit]) -> str:
    out = ""
    for u in units:
        if not out:
            out = u.text
        elif u.para_start:
            out += "\n" + u.text
        else:
            sep = "" if (is_cjk_char(out[-1]) or is_cjk_char(u.text[0])) else " "
            out += sep + u.text
    return out
