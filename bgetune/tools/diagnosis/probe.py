"""What the cause detectors look at for one query: both rankings, the expected answer, the query's terms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.tools.diagnosis.records import ExpectedAnswer, ModelRanking
from bgetune.tools.diagnosis.text import jaccard, terms

if TYPE_CHECKING:
    from bgetune.tools.diagnosis.engine import Engine, LoadedModel
    from bgetune.tools.diagnosis.models import TokenizerCoverage

PLAUSIBLE_SEMANTIC = 0.9  # passage-passage cosine above which a competitor says the same thing
PLAUSIBLE_LEXICAL = 0.6  # term Jaccard with the expected passage
CONTEXT_K = 3  # an expected passage in the top 3 above the threshold reaches a RAG context: not a miss


@dataclass
class Probe:
    """One query as the detectors see it (the main model is the tuned one when there is one)."""

    eng: Engine
    query: str
    exp: ExpectedAnswer | None
    base: ModelRanking
    tuned: ModelRanking | None
    scores: np.ndarray  # the main model's scores over the corpus
    order: np.ndarray  # the main model's ranking (indices into its ids)
    q_lang: str
    tok: TokenizerCoverage
    top_k: int = 10
    expected_text: str | None = None  # the text the user gave, when it located the answer

    @property
    def main(self) -> ModelRanking:
        return self.tuned or self.base

    @property
    def model(self) -> LoadedModel:
        return self.eng.main

    @property
    def threshold(self) -> float | None:
        return self.eng.main.threshold

    @property
    def exp_ids(self) -> set[str]:
        return set(self.exp.chunk_ids) if self.exp else set()

    @property
    def rank(self) -> int:
        return self.main.expected_rank or 10**9

    @property
    def score(self) -> float:
        return self.main.expected_score or 0.0

    @cached_property
    def common(self) -> dict[str, Any]:
        """Facts every finding about a located answer carries: its rank, score, the threshold, and whether the
        fine-tune made it worse."""
        out: dict[str, Any] = {"rank": self.rank, "score": self.score, "threshold": self.threshold}
        if self.tuned is not None and self.base.expected_rank and self.base.expected_rank < self.rank:
            out["worse"] = [self.base.expected_rank, self.rank]
        return out

    @cached_property
    def q_terms(self) -> set[str]:
        return terms(self.query)

    @cached_property
    def exp_terms(self) -> set[str]:
        assert self.exp is not None
        return terms(" ".join(self.eng.rows[c]["text"] for c in self.exp.chunk_ids))

    def top_fact(self, j: int = 0) -> dict[str, Any]:
        r = self.main.results[j]
        return {"where": r.where(), "title": r.title, "score": r.score, "probability": r.probability}

    @cached_property
    def above(self) -> list[dict[str, Any]]:
        """The passages ranked above the expected answer, each marked plausible (says the same) or not."""
        m, eng, exp_ids = self.model, self.eng, self.exp_ids
        out = []
        for j in self.order[: min(self.rank - 1, max(self.top_k, 10))]:
            cid = m.ids[j]
            if cid in exp_ids:
                continue
            sem = max(float(m.emb[j] @ m.emb[eng.where[e]]) for e in exp_ids if e in eng.where)
            lex = jaccard(terms(eng.rows[cid]["text"]), self.exp_terms)
            out.append(
                {
                    "chunk_id": cid,
                    "where": eng.rows[cid]["doc"] + (f" p.{eng.page(cid)}" if eng.page(cid) else ""),
                    "title": eng.title(cid),
                    "score": round(float(self.scores[j]), 4),
                    "similarity": round(sem, 3),
                    "overlap": round(lex, 3),
                    "plausible": sem >= PLAUSIBLE_SEMANTIC or lex >= PLAUSIBLE_LEXICAL,
                }
            )
        return out
