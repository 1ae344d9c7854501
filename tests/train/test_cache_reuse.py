"""The base model's validation before training reads the corpus embedding filtering and mining cached."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_base_validation_reuses_the_cached_corpus_embedding(mined_ws, monkeypatch):
    import bgetune.core.models as models
    from bgetune.core.models import load_model, model_fingerprint
    from bgetune.tools.negatives import resolve_for_workspace
    from bgetune.tools.training import evaluate_val

    ws = mined_ws
    resolved = resolve_for_workspace(ws, "bundled")
    model = load_model(resolved, device="cpu")
    pairs = [
        {"query": r["query"], "positives": [r["chunk_id"]]}
        for r in ws.query("SELECT query, chunk_id FROM pairs WHERE split='val' ORDER BY id")
    ]
    assert pairs
    fresh = evaluate_val(ws, model, pairs)
    seen: list[int] = []
    real_encode = models.encode

    def counting(m, texts, **kw):
        seen.append(len(texts))
        return real_encode(m, texts, **kw)

    monkeypatch.setattr(models, "encode", counting)
    cached = evaluate_val(ws, model, pairs, fingerprint=model_fingerprint(model))
    assert cached["ndcg@10"] == pytest.approx(fresh["ndcg@10"], abs=1e-6)
    assert cached["corpus"] == fresh["corpus"]
    assert seen == [len(pairs)]  # only the queries were encoded: the corpus came from mining's cache
