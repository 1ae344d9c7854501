"""New tokens for text the base cannot read (tools/vocab.py): the bundled English model on the Debian FAQ's
Chinese sections. The extended model computes what the base computes until training moves the new rows; training
moves only the new rows of the embedding matrix; the saved model reads the new tokens; a weight merge with the
base stays exact."""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from bgetune.core.models import load_model, resolve_base_model
from bgetune.core.workspace import now_iso
from bgetune.tools.merge import merge_weights
from bgetune.tools.training import TrainConfig, train
from bgetune.tools.vocab import extend_vocab, unknown_pieces
from tests.faq_kb import faq_rows, faq_workspace


def _bundled():
    return load_model(resolve_base_model("bundled"), device="cpu")


def test_extension_adds_unknown_pieces_and_keeps_the_base_output():
    corpus, real = faq_rows("zh", 30)
    texts = [c["text"] for c in corpus]
    model = _bundled()
    counts, n_unk, n_all = unknown_pieces(model.tokenizer, texts)
    assert n_all and n_unk / n_all > 0.2 and counts.most_common(1)[0][1] >= 2
    assert all(not p.isspace() and " " not in p for p in counts)  # BERT pads Chinese characters: stripped
    probe = [r["query"] for r in real[:5]] + texts[:3]
    before = model.encode(probe, normalize_embeddings=True)
    unk = model.tokenizer.unk_token_id
    unk_before = sum(ids.count(unk) for ids in model.tokenizer(probe)["input_ids"])
    rows = model[0].auto_model.get_input_embeddings().weight.shape[0]
    ext = extend_vocab(model, texts, "auto")
    assert ext.added == sum(1 for c in counts.values() if c >= 2) and ext.old_rows == rows
    assert model[0].auto_model.get_input_embeddings().weight.shape[0] == rows + ext.added
    # the same output (every new row is the [UNK] row), but the tokenizer now tells the characters apart
    assert np.allclose(model.encode(probe, normalize_embeddings=True), before, atol=1e-5)
    unk_after = sum(ids.count(unk) for ids in model.tokenizer(probe)["input_ids"])
    assert unk_after < unk_before / 2
    # English text: 'auto' adds nothing, and says why
    en, _ = faq_rows("en", 10)
    ext = extend_vocab(_bundled(), [c["text"] for c in en], "auto")
    assert ext.added == 0 and ext.reason
    assert extend_vocab(_bundled(), texts, "off").added == 0


def _zh_workspace(tmp_path):
    ws = faq_workspace(tmp_path, "zh", 40)
    _, real = faq_rows("zh", 40)
    by_ext = {c["ext_id"]: c for c in ws.chunks()}
    now = now_iso()
    with ws.tx() as c:
        for r in real:
            ch = by_ext[r["pos_ids"][0]]
            c.execute(
                "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, split, created_at, "
                "updated_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (ch["id"], r["query"], ch["text"], "test", "question", "zh", "approved", "train", now, now),
            )
    return ws


def test_training_moves_only_the_new_rows_and_the_saved_model_reads_them(tmp_path):
    ws = _zh_workspace(tmp_path)
    cfg = TrainConfig(
        base_model="bundled",
        epochs=1,
        batch_size=8,
        hard_negatives=0,
        max_passage_len=64,
        device="cpu",
        objective="contrastive",
        decide=False,
        extend_vocab="auto",
    )
    assert TrainConfig().extend_vocab == "off"  # opt-in (bench/RESULTS.md)
    res = train(ws, cfg)
    vocab = res["new_tokens"]
    assert vocab["added"] > 100 and vocab["unknown_rate"] > 0.2
    tuned = SentenceTransformer(res["model_dir"], device="cpu")
    base = _bundled()
    w_t = tuned[0].auto_model.get_input_embeddings().weight.detach()
    w_b = base[0].auto_model.get_input_embeddings().weight.detach()
    old = w_b.shape[0]
    assert w_t.shape[0] == old + vocab["added"] and len(tuned.tokenizer) == w_t.shape[0]
    assert torch.equal(w_t[:old], w_b)  # the base's own rows stay
    moved = (w_t[old:] - w_b[base.tokenizer.unk_token_id]).abs().sum(dim=1) > 0
    assert moved.sum() > 50  # the rows of characters in the training texts moved away from [UNK]
    # the tokenizer saved with the model knows the new characters
    ch = vocab["examples"][0]
    assert tuned.tokenizer.convert_tokens_to_ids(ch) >= old
    # a merge at 0 is the base (its rows padded with [UNK]), on Chinese text too
    _, real = faq_rows("zh", 40)
    probe = [r["query"] for r in real[:6]]
    merged = merge_weights(base, tuned, 0.0)
    assert np.allclose(
        merged.encode(probe, normalize_embeddings=True), base.encode(probe, normalize_embeddings=True), atol=1e-5
    )
