"""Training on real pairs with the real bundled model: batches, loss, checkpoints, export, estimate."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from bgetune.core.models import BGE_EN_INSTRUCTION
from bgetune.tools.training import (
    Data,
    Example,
    TrainConfig,
    contrastive_loss,
    estimate_training,
    plan_batches,
    train,
)


def _data(queries: list[str], chunks: list[int]) -> Data:
    ex = [
        Example(i, [1, 2, 3], c, [], frozenset({c}), q)
        for i, (q, c) in enumerate(zip(queries, chunks, strict=True))
    ]
    return Data(ex, [[1] * (5 + i) for i in range(max(chunks) + 1)], 8, 32)


def test_batches_never_hold_one_chunk_twice_or_near_duplicate_queries():
    queries = [f"how do i configure option number {i} in the tool" for i in range(40)]
    queries += [
        "how do i configure option number 3 in the tool?",
        "how do i configure option number 3 in the tools",
    ]
    chunks = [i % 15 for i in range(42)]
    data = _data([q.lower() for q in queries], chunks)
    batches = plan_batches(data, 8, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(42))
    from rapidfuzz import fuzz

    for b in batches:
        assert len(b) <= 8
        assert len({chunks[i] for i in b}) == len(b)
        for x in b:
            for y in b:
                if x < y:
                    assert (
                        fuzz.ratio(queries[x], queries[y]) < 90
                        or queries[x][-2:] != queries[y][-2:]
                        or x == y
                    )
    near = {3, 40, 41}
    assert all(len(near & set(b)) <= 1 for b in batches)
    assert plan_batches(data, 8, seed=1, epoch=0) == batches
    assert plan_batches(data, 8, seed=1, epoch=1) != batches


def test_loss_uses_scale_and_masks_other_positives():
    q = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    labels = torch.arange(4)
    none = torch.zeros(4, 6, dtype=torch.bool)
    ref = torch.nn.functional.cross_entropy(q @ p.T * 50, labels)
    assert torch.allclose(contrastive_loss(q, p, labels, none, 50.0), ref)
    mask = none.clone()
    mask[0, 5] = True
    masked = contrastive_loss(q, p, labels, mask, 50.0)
    logits = q @ p.T * 50
    logits[0, 5] = -1e30
    assert torch.allclose(masked, torch.nn.functional.cross_entropy(logits, labels), atol=1e-5)
    mat = contrastive_loss(q, p, labels, none, 20.0, dims=[8, 4])
    assert mat.ndim == 0 and torch.isfinite(mat)


def test_mask_marks_every_column_of_a_not_negative_passage_but_the_own_positive():
    """The mask against the definition (every (query, column) pair checked): other positives and teacher-rated
    candidates masked wherever they sit, repeated columns (a passage gathered from two processes) included, the
    query's own positive column (offset by the process's rows) never."""
    import random

    from bgetune.tools.training import Stepper

    rng = random.Random(3)
    for n_q, n_cols, q_off in ((8, 40, 0), (16, 120, 16), (5, 12, 5)):
        ex = []
        for i in range(n_q):
            pos = q_off + i
            positives = frozenset({pos, rng.randrange(200)})
            not_neg = positives | {rng.randrange(200) for _ in range(3)} if i % 2 else frozenset()
            ex.append(Example(i, [1], pos, [], positives, f"q{i}", not_neg=not_neg))
        stepper = Stepper.__new__(Stepper)
        stepper.data = Data(ex, [], 8, 8)
        cols = list(range(q_off)) + [e.pos for e in ex] + [rng.randrange(200) for _ in range(n_cols)]
        cols += cols[q_off : q_off + 3]  # the same passages again, as gathered from another process
        got = stepper._mask(list(range(n_q)), cols, q_off)
        for r, e in enumerate(ex):
            not_neg = e.not_neg or e.positives
            want = [pid in not_neg and c != r + q_off for c, pid in enumerate(cols)]
            assert got[r].tolist() == want
        assert got.any() and not got[:, q_off : q_off + n_q].diagonal().any()


def test_padding_keeps_every_sequence_in_order_and_rounds_the_length_up():
    from bgetune.tools.training import _pad

    seqs = [[5, 6, 7], [9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [4, 4]]
    out = _pad(seqs, 0, "cpu", 8)
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == mask.shape == (4, 16) and ids.dtype == mask.dtype == torch.long
    for row, s in enumerate(seqs):
        assert ids[row, : len(s)].tolist() == s and not ids[row, len(s) :].any()
        assert mask[row].tolist() == [1] * len(s) + [0] * (16 - len(s))


def _cfg(**kw) -> TrainConfig:
    base = dict(
        base_model="bundled",
        family="bge-en",
        epochs=2,
        batch_size=8,
        max_steps=3,
        max_passage_len=96,
        val_corpus_max=40,
        device="cpu",
    )
    return TrainConfig(**(base | kw))


@pytest.mark.slow
def test_train_bge_rules_checkpoint_and_export_loads_in_fresh_python(mined_ws, tmp_path):
    ws = mined_ws
    res = train(ws, _cfg(wise_ft=0.5))
    assert res["scale"] == 50.0 and res["family"] == "bge-en"
    assert res["steps"] == 3 and [s for s, _ in res["loss_curve"]] == [1, 2, 3]
    assert all(loss > 0 for _, loss in res["loss_curve"])
    assert res["pairs"] == 32 and res["pairs_with_negatives"] > 0
    assert res["base_val"]["queries"] == 8 and "ndcg@10" in res["best_val"]
    run_dir = ws.artifact_path("runs", res["run_id"], "x").parent
    assert json.loads((run_dir / "loss_curve.json").read_text()) == res["loss_curve"]
    assert list(run_dir.glob("checkpoint-epoch-*/COMPLETE"))
    assert ws.last_run("train")["id"] == res["run_id"]
    # WiSE-FT: the model is the midpoint of the base and the best epoch's weights, which stay in model-tuned/
    from sentence_transformers import SentenceTransformer

    from bgetune.core.models import load_model, resolve_base_model

    assert res["wise_ft"] == 0.5 and res["tuned_model_dir"] == str(run_dir / "model-tuned")
    assert "ndcg@10" in res["merged_val"]
    merged = SentenceTransformer(res["model_dir"], device="cpu").state_dict()
    tuned = SentenceTransformer(res["tuned_model_dir"], device="cpu").state_dict()
    base = load_model(resolve_base_model("bundled").with_family("bge-en"), device="cpu").state_dict()
    key = next(k for k in merged if k.endswith("encoder.layer.0.attention.self.query.weight"))
    assert not torch.equal(tuned[key], base[key])
    assert torch.allclose(merged[key], 0.5 * tuned[key] + 0.5 * base[key], atol=1e-6)

    from bgetune.tools.export import export_model

    calib = ws.artifacts / "calibration.json"
    calib.write_text(json.dumps({"threshold_f1": 0.5}))
    out = export_model(ws, out_dir=tmp_path / "export")
    assert out["pooling"] == "cls" and out["query_prompt"] == BGE_EN_INSTRUCTION
    folder = tmp_path / "export"
    assert json.loads((folder / "bgetune.json").read_text())["base_family"] == "bge-en"
    assert (folder / "calibration.json").exists()
    card = (folder / "README.md").read_text()
    assert "training pairs: 32" in card and "nDCG@10" in card
    code = textwrap.dedent(f"""
        import json, numpy as np
        from sentence_transformers import SentenceTransformer
        m = SentenceTransformer({str(folder)!r})
        q = m.encode(["what about the R FAQ"], prompt_name="query", normalize_embeddings=True)
        manual = m.encode([{BGE_EN_INSTRUCTION!r} + "what about the R FAQ"], normalize_embeddings=True)
        print(json.dumps({{"prompt": m.prompts["query"], "pool": m[1].pooling_mode, "same": bool(np.allclose(q, manual, atol=1e-5))}}))
    """)
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"prompt": BGE_EN_INSTRUCTION, "pool": "cls", "same": True}


@pytest.mark.slow
def test_estimate_times_real_steps(mined_ws):
    est = estimate_training(mined_ws, _cfg(max_steps=None, epochs=1))
    assert est["steps"] == est["steps_per_epoch"] >= 4 and est["pairs"] == 32
    assert est["seconds"] > 0 and est["device"] == "cpu" and est["peak_memory_gb"] > 0
    assert est["family"] == "bge-en" and est["max_passage_len"] == 96


def test_cpu_steps_keep_a_bounded_graph_with_the_same_loss_and_gradients(mined_ws, monkeypatch):
    """On CPU a step runs the GradCache loss in pieces of CPU_GRAPH_SEQS sequences (bounded memory) unless a
    piece size is set; GPUs run the whole batch. The pieces give the whole batch's loss and gradients."""
    import bgetune.tools.training as T

    cfg = _cfg(epochs=1)
    assert T.graph_mini_batch(cfg, "cpu") == T.CPU_GRAPH_SEQS
    assert T.graph_mini_batch(cfg, "cuda:0") is None
    assert T.graph_mini_batch(_cfg(mini_batch_size=8), "cuda") == 8
    T.ensure_teacher_scores(mined_ws, cfg)  # the default objective distils the teacher's scores
    runs = []
    # the whole batch at once, then pieces of 4 sequences sorted by length, then pieces in batch order
    for pieces, by_length in ((10**6, True), (4, True), (4, False)):
        monkeypatch.setattr(T, "CPU_GRAPH_SEQS", pieces)
        prep = T._prepare(mined_ws, cfg, device="cpu")
        stepper = T._make_stepper(prep, cfg)
        stepper.sort_pieces = by_length
        batch = list(range(min(cfg.batch_size, len(prep["data"].examples))))
        queries, passages, _ = stepper.inputs(batch, 0)
        assert len(queries) + len(passages) > 4 and stepper.mini_batch == pieces
        loss = stepper.loss_backward(batch, 0)
        grads = [p.grad.detach().clone() for p in prep["model"].parameters() if p.grad is not None]
        runs.append((loss, grads, stepper.tokens(batch, 0)))
    (whole, g_whole, _), *pieced_runs = runs
    for pieced, g_pieced, _ in pieced_runs:
        assert g_whole and len(g_whole) == len(g_pieced)
        assert abs(whole - pieced) < 1e-5
        assert all(torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(g_whole, g_pieced, strict=True))
    # the sorted pieces pad fewer tokens than the same pieces in batch order (the passages' lengths differ)
    assert len({len(x) for x in passages}) > 1 and runs[1][2] < runs[2][2]


def test_gradcache_pieces_sort_by_length_and_cover_each_sequence_once():
    """A piece pads to its longest sequence; sorted pieces group sequences of like length."""
    from bgetune.tools.training import Stepper

    seqs = [[1] * n for n in (50, 3, 40, 7, 9, 60, 2)]
    stepper = Stepper.__new__(Stepper)
    pieces = stepper.pieces(seqs, 3)
    assert [len(seqs[i]) for piece in pieces for i in piece] == sorted(len(s) for s in seqs)
    assert sorted(i for piece in pieces for i in piece) == list(range(len(seqs)))
    stepper.sort_pieces = False
    assert stepper.pieces(seqs, 3) == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.slow
def test_gradcache_lora_and_matryoshka_run(mined_ws):
    res = train(
        mined_ws,
        _cfg(epochs=1, max_steps=2, mini_batch_size=4, lora=True, lora_r=4, matryoshka_dims=[128, 64]),
    )
    assert res["steps"] == 2 and all(torch.isfinite(torch.tensor(loss)) for _, loss in res["loss_curve"])
    from sentence_transformers import SentenceTransformer

    m = SentenceTransformer(res["model_dir"], device="cpu")
    assert not any("lora" in n for n, _ in m.named_parameters())


def test_no_pairs_is_a_clear_error(sample_ws):
    from bgetune.tools.training import TrainingError

    with pytest.raises(TrainingError, match="no trainable pairs in the train split"):
        train(sample_ws, _cfg())


def test_train_dropout_setting_leaves_the_saved_config_alone():
    from bgetune.core.models import bundled_model_path, load_model, resolve_base_model
    from bgetune.tools.training import set_train_dropout

    model = load_model(resolve_base_model(bundled_model_path()), device="cpu")
    cfg = model[0].auto_model.config
    before = (cfg.attention_probs_dropout_prob, cfg.hidden_dropout_prob)
    counts = set_train_dropout(model, 0.0, None)
    n_layers = cfg.num_hidden_layers
    assert counts == {"attention": n_layers, "hidden": 0}
    attn = [m.dropout.p for n, m in model.named_modules() if n.endswith("attention.self")]
    assert attn == [0.0] * n_layers
    others = [
        m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout) and "attention.self" not in n
    ]
    assert others and all(p == before[1] for p in others)
    assert (cfg.attention_probs_dropout_prob, cfg.hidden_dropout_prob) == before
    assert set_train_dropout(model, None, 0.0)["hidden"] == len(others)
    assert all(
        m.p == 0.0
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Dropout) and "attention.self" not in n
    )
