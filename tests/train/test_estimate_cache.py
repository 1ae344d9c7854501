"""Issue 22 item 6: a repeated training estimate reuses what the last one measured (no steps timed again), per
model, device, batch and length bucket. Real model, real workspace; steps are counted, not timed."""

from __future__ import annotations

import pytest

from bgetune.tools import estimate_cache
from bgetune.tools.training import Stepper, TrainConfig, estimate_training


def _config(**kw) -> TrainConfig:
    base = dict(
        base_model="bundled", epochs=1, batch_size=8, max_passage_len=96, val_corpus_max=40, device="cpu"
    )
    return TrainConfig(**(base | kw))


@pytest.fixture
def counted(monkeypatch):
    """Counts the training steps an estimate runs (the real step still runs)."""
    calls = {"steps": 0}
    real = Stepper.loss_backward

    def loss_backward(self, *a, **kw):
        calls["steps"] += 1
        return real(self, *a, **kw)

    monkeypatch.setattr(Stepper, "loss_backward", loss_backward)
    return calls


def test_the_second_estimate_reuses_the_measured_steps(pairs_ws, counted):
    first = estimate_training(pairs_ws, _config())
    assert counted["steps"] == 3 and first["reused_measurement"] is False  # one warm-up, two timed
    said = []
    again = estimate_training(pairs_ws, _config(epochs=3), progress=lambda d, t, label: said.append(label))
    assert counted["steps"] == 3, "the repeated estimate timed steps again"
    assert again["reused_measurement"] is True and any("reused the last measurement" in s for s in said)
    assert again["steps"] == 3 * first["steps"] and again["seconds"] > first["seconds"]
    assert again["peak_memory_gb"] == first["peak_memory_gb"]
    stored = (pairs_ws.root / "artifacts" / estimate_cache.CACHE_FILE).read_text()
    assert "train_step" in stored and "encode" in stored and "bs8" in stored


def test_another_batch_size_or_length_bucket_measures_again(pairs_ws, counted):
    estimate_training(pairs_ws, _config())
    estimate_training(pairs_ws, _config(batch_size=4))
    assert counted["steps"] == 6
    assert estimate_cache.length_bucket(96) == 128 and estimate_cache.length_bucket(10) == 32
    assert estimate_cache.length_bucket(128) == 128 and estimate_cache.length_bucket(129) == 256
