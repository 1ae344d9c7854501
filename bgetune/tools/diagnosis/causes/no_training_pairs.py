"""No training pairs: no training question is close to this one, so the fine-tune never learnt the topic."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgetune.tools.diagnosis.causes._shared import facts
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import HELD_OUT, FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "no_training_pairs"
TITLE = ("topic without training pairs", "该主题没有训练样本")
COVERED_SIMILARITY = 0.7  # a training query this close means the topic was trained on
S = sentences("no_training_pairs")


def _nearest(p: Probe) -> list[dict[str, Any]]:
    eng = p.eng
    if not eng.train:
        return []
    from bgetune.core.models import encode

    q_emb = encode(p.model.model, [p.query], kind="query")[0]
    sims = eng.train_emb() @ q_emb
    return [
        {
            "query": eng.train[j]["query"],
            "similarity": round(float(sims[j]), 3),
            "same_passage": eng.train[j]["chunk_id"] in p.exp_ids,
        }
        for j in np.argsort(-sims)[:3]
    ]


def detect(p: Probe) -> dict[str, Any] | None:
    eng = p.eng
    on_chunk = sum(1 for r in eng.train if r["chunk_id"] in p.exp_ids)
    nearest = _nearest(p)
    if on_chunk > 0 or (nearest and nearest[0]["similarity"] >= COVERED_SIMILARITY):
        return None
    return {
        **p.common,
        "train_pairs": len(eng.train),
        "on_passage": on_chunk,
        "nearest": nearest,
        "nearest_similarity": nearest[0]["similarity"] if nearest else 0.0,
        "held_out": any(eng.rows[c]["split"] in HELD_OUT for c in p.exp_ids),
    }


def verdict(x: dict[str, Any], lang: str) -> str:
    if not x.get("train_pairs"):
        return S.no_pairs(lang, **facts(x, lang))
    held = S.held(lang) if x.get("held_out") else ""
    return S.far(lang, **facts(x, lang, held=held, near=x.get("nearest_similarity") or 0.0))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    out = [S.nearest(lang, **q) for q in x.get("nearest", [])[:3]]
    return [*out, S.on_passage(lang, n=x.get("on_passage", 0))]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []  # the general fix: a training pair on the expected passage (when its document trains)
