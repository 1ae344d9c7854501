"""The retrieval engine of a diagnosis: both models, corpus embeddings, calibration and the training queries,
loaded once for one or many queries; it ranks, locates the expected answer and hands a probe to the causes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.core.workspace import TRAINABLE
from bgetune.tools.calibration import CALIBRATION_FILE, load_calibration, platt_probability
from bgetune.tools.diagnosis.causes import classify
from bgetune.tools.diagnosis.corpus import Corpus
from bgetune.tools.diagnosis.models import load_cached, tokenizer_coverage
from bgetune.tools.diagnosis.offers import offered
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import DiagnosisError, ExpectedAnswer, ModelRanking, ResultRow
from bgetune.tools.diagnosis.report import Diagnosis
from bgetune.tools.diagnosis.text import snippet

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

_TRAIN_CACHE: dict[tuple[str, str], np.ndarray] = {}


@dataclass
class LoadedModel:
    name: str  # base | tuned
    spec: str
    model: Any
    resolved: Any
    ids: list[str]
    emb: np.ndarray
    block: dict[str, Any] | None  # its calibration (threshold, Platt mapping)
    threshold: float | None


def _calibration_blocks(ws: Workspace, tuned_dir: str | None) -> dict[str, Any]:
    """Calibration per model: the top level describes the tuned model, 'before' the base."""
    cal = load_calibration(ws.artifact_path(CALIBRATION_FILE, mkdir=False))
    if cal is None and tuned_dir:
        cal = load_calibration(tuned_dir)
    if cal and cal.get("after"):
        return {"base": cal.get("before"), "tuned": cal}
    return {"base": cal or None, "tuned": None}


class Engine(Corpus):
    """Models, corpus embeddings, calibration and training queries, loaded once for one or many diagnoses."""

    def __init__(self, ws: Workspace, model_dir: str | None = None) -> None:
        from bgetune.tools.evaluation import latest_tuned_dir, resolve_workspace_base

        super().__init__(ws)
        self.base_res = resolve_workspace_base(ws)
        self.models = self._load_models(model_dir or latest_tuned_dir(ws))
        self.main = self.models[-1]
        self.where = {c: i for i, c in enumerate(self.main.ids)}
        self.train = [
            dict(r)
            for r in ws.query(
                f"SELECT id, query, chunk_id FROM pairs WHERE {TRAINABLE} AND (split='train' OR split IS NULL) "
                "ORDER BY id"
            )
        ]
        self._train_emb: np.ndarray | None = None

    def _load_models(self, tuned_dir: str | None) -> list[LoadedModel]:
        from bgetune.core.models import corpus_embeddings, model_fingerprint, resolve_base_model

        blocks = _calibration_blocks(self.ws, tuned_dir)
        specs: list[tuple[str, str, Any]] = [("base", self.base_res.spec, self.base_res)]
        if tuned_dir:
            if not Path(tuned_dir).exists():
                raise DiagnosisError(
                    f"model folder {tuned_dir} does not exist; pass --model DIR or train first"
                )
            specs.append(("tuned", tuned_dir, resolve_base_model(tuned_dir)))
        user_thr = self.ws.get_setting("threshold")
        out = []
        for i, (name, spec, res) in enumerate(specs):
            model = load_cached(res)
            ids, emb = corpus_embeddings(self.ws, model, fingerprint=model_fingerprint(model))
            block = blocks.get(name)
            thr = block.get("threshold_f1", block.get("threshold")) if block else None
            if (
                user_thr is not None and i == len(specs) - 1
            ):  # the user's threshold applies to the model in use
                thr = float(user_thr)
            out.append(LoadedModel(name, spec, model, res, ids, emb, block, thr))
        return out

    # -------------------------------------------------------------- helpers
    def scores(self, queries: list[str]) -> list[np.ndarray]:
        """Per model: (n_queries, n_chunks) cosine scores."""
        from bgetune.core.models import encode

        return [encode(m.model, queries, kind="query") @ m.emb.T for m in self.models]

    def train_emb(self) -> np.ndarray:
        if self._train_emb is None:
            from bgetune.core.models import encode

            key = (str(id(self.main.model)), "\n".join(r["query"] for r in self.train))
            if key not in _TRAIN_CACHE:
                if len(_TRAIN_CACHE) >= 4:
                    _TRAIN_CACHE.pop(next(iter(_TRAIN_CACHE)))
                _TRAIN_CACHE[key] = encode(self.main.model, [r["query"] for r in self.train], kind="query")
            self._train_emb = _TRAIN_CACHE[key]
        return self._train_emb

    def row(self, m: LoadedModel, scores: np.ndarray, j: int, rank: int, exp: set[str]) -> ResultRow:
        cid = m.ids[j]
        s = float(scores[j])
        return ResultRow(
            rank=rank,
            chunk_id=cid,
            score=round(s, 4),
            probability=round(platt_probability(s, m.block["platt"]), 4) if m.block else None,
            passes=None if m.threshold is None else s >= m.threshold,
            document=self.rows[cid]["doc"],
            page=self.page(cid),
            title=self.title(cid),
            text=snippet(self.rows[cid]["text"]),
            expected=cid in exp,
        )

    def token_count(self, text: str) -> int:
        return len(self.main.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    # -------------------------------------------------------------- the diagnosis
    def ranking(
        self, m: LoadedModel, scores: np.ndarray, exp_ids: set[str], top_k: int
    ) -> tuple[ModelRanking, np.ndarray]:
        """One model's top ``top_k`` and where the expected answer ranks with it."""
        order = np.argsort(-scores)
        mr = ModelRanking(
            m.name,
            m.spec,
            m.threshold,
            [self.row(m, scores, int(j), r + 1, exp_ids) for r, j in enumerate(order[:top_k])],
        )
        if exp_ids:
            pos = {m.ids[j]: r + 1 for r, j in enumerate(order)}
            best = min(exp_ids, key=lambda c: pos.get(c, 10**9))
            s = float(scores[m.ids.index(best)])
            mr.expected_rank = pos[best]
            mr.expected_score = round(s, 4)
            mr.expected_probability = round(platt_probability(s, m.block["platt"]), 4) if m.block else None
            mr.expected_passes = None if m.threshold is None else s >= m.threshold
        return mr, order

    def diagnose(
        self,
        query: str,
        lang: str,
        exp: ExpectedAnswer | None,
        all_scores: list[np.ndarray],
        *,
        top_k: int = 10,
        expected_text: str | None = None,
    ) -> Diagnosis:
        from bgetune.core.text import detect_language

        exp_ids = set(exp.chunk_ids) if exp else set()
        ranked = [self.ranking(m, s, exp_ids, top_k) for m, s in zip(self.models, all_scores, strict=True)]
        base = ranked[0][0]
        tuned = ranked[1][0] if len(ranked) > 1 else None
        q_lang = detect_language(query)
        tok = tokenizer_coverage(self.models[0].model, query, self.base_res.spec)
        probe = Probe(
            self, query, exp, base, tuned, all_scores[-1], ranked[-1][1], q_lang, tok, top_k, expected_text
        )
        findings = classify(probe)
        d = Diagnosis(
            query,
            lang,
            findings[0].cause,
            findings,
            base,
            tuned,
            exp,
            [],
            q_lang,
            self.corpus_language,
            tokenizer=tok,
        )
        d.actions = offered(d)
        return d
