"""The corpus a diagnosis ranks: every chunk with its document, page and title, the corpus language, and where
an expected answer is (given text, a chunk id, 'DOC p. N', or chunk ids already known)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.tools.diagnosis.expected import locate_expected, parse_doc_page
from bgetune.tools.diagnosis.records import DiagnosisError, ExpectedAnswer
from bgetune.tools.diagnosis.text import snippet

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

_CHUNKS_SQL = (
    "SELECT c.id, c.text, c.heading, c.ext_id, c.document_id, c.ord, c.page_start, c.page_end, c.split, "
    "c.language, d.name AS doc, d.path AS doc_path FROM chunks c JOIN documents d ON d.id=c.document_id "
    "ORDER BY c.document_id, c.ord"
)


class Corpus:
    """The workspace's chunks, in document order, and the expected answer located among them."""

    where: dict[str, int]  # chunk id -> its row in the main model's embeddings (set by the engine)

    def __init__(self, ws: Workspace) -> None:
        from bgetune.core.text import corpus_language

        if not ws.scalar("SELECT count(*) FROM chunks"):
            raise DiagnosisError(
                f"workspace {ws.root} has no chunks; ingest documents first (`bgetune ingest`)"
            )
        self.ws = ws
        self.rows = {r["id"]: dict(r) for r in ws.query(_CHUNKS_SQL)}
        self.order = list(self.rows)
        langs = ws.stats()["chunk_languages"]
        self.corpus_language = corpus_language(langs)
        self.n_chunks = sum(langs.values()) or 1
        self.corpus_share = langs.get(self.corpus_language, 0) / self.n_chunks

    def page(self, cid: str) -> str | None:
        r = self.rows[cid]
        a, b = r["page_start"], r["page_end"]
        if a is None:
            return None
        return str(a) if b in (None, a) else f"{a}-{b}"

    def title(self, cid: str) -> str:
        r = self.rows[cid]
        head = (r["heading"] or "").split(" > ")[-1].strip()
        return snippet(head or r["text"], 70)

    # -------------------------------------------------------------- expected answer
    def _page_chunks(self, doc: dict[str, Any], page: int) -> list[str]:
        ids = [
            c
            for c, r in self.rows.items()
            if r["document_id"] == doc["id"]
            and r["page_start"] is not None
            and r["page_start"] <= page <= (r["page_end"] or r["page_start"])
        ]
        if not ids:
            raise DiagnosisError(
                f"{doc['name']} has no text on page {page} in this workspace "
                f"(pages 1-{doc['pages'] or '?'}); check the page number or pass --expected TEXT"
            )
        return ids

    def _locate(self, expected: str) -> tuple[list[str], str, float, bool]:
        """(chunk ids, how, coverage, split across chunks) of an expected text or 'DOC p. N'."""
        dp = parse_doc_page(self.ws, expected)
        if dp is not None:
            return self._page_chunks(*dp), "page", 1.0, False
        loc = locate_expected(self.ws, expected=expected, expected_id=None)
        return loc["chunk_ids"], loc["how"], loc["coverage"], loc["split_across_chunks"]

    def resolve_expected(
        self,
        query_scores: np.ndarray,
        *,
        expected: str | None = None,
        expected_id: str | None = None,
        chunk_ids: list[str] | None = None,
        how: str = "pick",
        given: str | None = None,
    ) -> ExpectedAnswer | None:
        """The expected answer, from chunk ids already known (a pick, a golden label), an id, or a text."""
        split = False
        cov = 1.0
        if chunk_ids:
            ids = list(chunk_ids)
        elif expected_id:
            ids, how = locate_expected(self.ws, expected=None, expected_id=expected_id)["chunk_ids"], "id"
        elif expected:
            ids, how, cov, split = self._locate(expected)
        else:
            return None
        if not ids:
            return ExpectedAnswer([], "not found", coverage=cov, given=given)
        best = max(ids, key=lambda c: float(query_scores[self.where[c]]) if c in self.where else -9.0)
        if split:  # the half that starts the answer is the one a fix points at
            best = ids[0]
        r = self.rows[best]
        return ExpectedAnswer(
            chunk_ids=list(ids),
            how=how,
            chunk_id=best,
            document=r["doc"],
            page=self.page(best) if how != "page" else str(r["page_start"]),
            title=self.title(best),
            text=snippet(r["text"], 240),
            coverage=cov,
            split_across_chunks=split,
            given=given,
            split=r["split"],
        )
