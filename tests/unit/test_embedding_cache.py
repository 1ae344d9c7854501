"""The corpus-embedding cache: its key names every weight, and it keeps only the recently used corpora."""

from __future__ import annotations

import os

import torch


def test_the_key_changes_with_any_weight_and_not_with_a_copy(st_model):
    import copy

    from bgetune.core.models import model_fingerprint

    key = model_fingerprint(st_model)
    assert model_fingerprint(copy.deepcopy(st_model)) == key  # the same model reached another way
    # the old key sampled the first 64 values of every 16th tensor: training that moves only other weights
    # (LoRA, a last layer) kept it, and two epochs shared one cached corpus
    names = [n for n, _ in st_model.named_parameters()]
    sampled = set(names[::16])
    name = next(n for n in reversed(names) if n not in sampled)
    with torch.no_grad():
        dict(st_model.named_parameters())[name].view(-1)[-1] += 1e-3
    assert model_fingerprint(st_model) != key


def test_the_cache_keeps_the_most_recently_used_corpora(tmp_path):
    from bgetune.core.models import CACHE_KEEP, _prune_cache

    for i in range(CACHE_KEEP + 3):
        f = tmp_path / f"emb-{i:02d}-x.npy"
        f.write_bytes(b"0")
        os.utime(f, (1000 + i, 1000 + i))
    os.utime(tmp_path / "emb-00-x.npy", (5000, 5000))  # read again lately: kept
    (tmp_path / "other.json").write_text("{}")
    _prune_cache(tmp_path)
    left = sorted(f.name for f in tmp_path.glob("emb-*.npy"))
    assert len(left) == CACHE_KEEP and "emb-00-x.npy" in left
    assert not {"emb-01-x.npy", "emb-02-x.npy", "emb-03-x.npy"} & set(left)
    assert (tmp_path / "other.json").exists()
