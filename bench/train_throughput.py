"""Training throughput: bgetune's training step against the plain sentence-transformers recipe.

Same model, same pairs, same loss (MNRL, scale 20), same batch size, in one run. The plain recipe is what a
user would copy: ``SentenceTransformerTrainer`` with default arguments + ``MultipleNegativesRankingLoss``.
The first step of each path is a warm-up and is not timed.

  python bench/train_throughput.py                 # CPU, bundled all-MiniLM-L6-v2, Debian FAQ pairs
  python bench/train_throughput.py --device cuda   # GPU, bge-base-shaped random BERT, synthetic lengths; MFU

CPU data: the Debian FAQ golden questions (en + zh) with their answer sections (../shared/benchmarks), or with
--data samples the offline-generated pairs on the shipped samples' chunks (what `bgetune run samples` trains on).
GPU data: random words, queries 8-32 tokens, passages 64-256 tokens (as in ../shared/docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import DEBIAN  # the offline preamble (bench/_common.py)

FAQ = DEBIAN
H100_BF16_PEAK = 789e12


def faq_pairs() -> list[tuple[str, str]]:
    out = []
    for lang in ("en", "zh"):
        for line in (FAQ / f"golden.{lang}.jsonl").read_text().splitlines():
            g = json.loads(line)
            if g.get("pos"):
                out.append((g["query"], g["pos"][0]))
    return out


def sample_pairs(limit: int = 600, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs as bgetune trains on them: offline-generated queries on the chunks of the shipped samples."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest
    from bgetune.tools.qa_generation import generate_pairs
    from bgetune.tools.review import list_pairs

    root = Path(tempfile.mkdtemp()) / "ws"
    ws = Workspace(root)
    ws.set_setting("base_model", "bundled")
    settings = Settings(workspace=root, base_model="bundled")
    ingest(ws, [Path(__file__).resolve().parents[1] / "samples"], settings=settings)
    generate_pairs(ws, settings, mode="offline")
    pairs = [(p["query"], ws.chunk(p["chunk_id"])["text"]) for p in list_pairs(ws)]
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def synthetic_pairs(tok, n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    vocab = [w for w in tok.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2][:20000]
    return [
        (
            " ".join(rng.choices(vocab, k=rng.randint(6, 30))),
            " ".join(rng.choices(vocab, k=rng.randint(60, 250))),
        )
        for _ in range(n)
    ]


def bge_base_random(folder: Path, bundled: str) -> str:
    import shutil

    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    ).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(bundled) / name).exists():
            shutil.copy(Path(bundled) / name, folder / name)
    return str(folder)


def run_stock(model_path: str, pairs: list[tuple[str, str]], batch: int, steps: int, device: str) -> dict:
    """The plain recipe: SentenceTransformerTrainer defaults + MNRL; timed from the end of step 1."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    model = SentenceTransformer(model_path, device=device)
    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            if device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()
            if state.global_step == 1:
                marks["t1"] = time.perf_counter()
            marks["end"] = time.perf_counter()

    need = batch * steps
    rows = (pairs * (need // len(pairs) + 1))[:need]
    ds = Dataset.from_dict({"anchor": [q for q, _ in rows], "positive": [p for _, p in rows]})
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=batch,
            max_steps=steps,
            save_strategy="no",
            report_to="none",
            logging_steps=10_000,
            bf16=device.startswith("cuda"),
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=ds,
            loss=MultipleNegativesRankingLoss(model),
            callbacks=[Clock()],
        )
        trainer.train()
    secs = marks["end"] - marks["t1"]
    return {
        "pairs_per_s": round(batch * (steps - 1) / secs, 2),
        "timed_steps": steps - 1,
        "seconds": round(secs, 2),
    }


def run_ours(
    model_path: str,
    pairs: list[tuple[str, str]],
    batch: int,
    steps: int,
    device: str,
    max_len: int,
    cfg_kwargs: dict | None = None,
    on_step=None,  # noqa: ANN001 (called after each step: a profiler's step())
    fused: bool = False,
) -> dict:
    """bgetune's step: pre-tokenised, length-grouped batches, bf16 autocast where available, no Trainer.
    ``fused``: the fused CUDA AdamW kernel instead of the default (foreach) one."""
    import numpy as np
    import torch

    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.tools.training import (
        Data,
        Example,
        Stepper,
        TrainConfig,
        _tokenize,
        _use_bf16,
        plan_batches,
        set_train_dropout,
    )

    model = load_model(resolve_base_model(model_path), device=device)
    train_cfg = TrainConfig(**(cfg_kwargs or {}))
    dropout = set_train_dropout(model, train_cfg.attention_dropout, train_cfg.hidden_dropout)
    tok = model.tokenizer
    q_ids = _tokenize(tok, [q for q, _ in pairs], 128)
    p_ids = _tokenize(tok, [p for _, p in pairs], max_len)
    ex = [Example(i, q_ids[i], i, [], frozenset({i}), f"{i}") for i in range(len(pairs))]
    data = Data(ex, p_ids, 128, max_len)
    bf16 = _use_bf16(train_cfg, device)
    stepper = Stepper(model, data, scale=20.0, dims=None, hard=0, device=device, bf16=bf16, mini_batch=None)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, fused=fused or None)  # None: torch's default
    batches: list[list[int]] = []
    epoch = 0
    while len(batches) < steps:
        batches += [b for b in plan_batches(data, batch, seed=1, epoch=epoch) if len(b) == batch]
        epoch += 1
    batches = batches[:steps]
    model.train()
    t1 = 0.0
    real_tokens = 0
    for i, b in enumerate(batches):
        stepper.loss_backward(b, 0)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if on_step is not None:
            on_step()
        if i == 0:
            t1 = time.perf_counter()
        else:
            real_tokens += sum(len(q_ids[j]) + len(p_ids[j]) for j in b)
    secs = time.perf_counter() - t1
    out = {
        "pairs_per_s": round(batch * (steps - 1) / secs, 2),
        "timed_steps": steps - 1,
        "seconds": round(secs, 2),
        "bf16": bf16,
        "max_len": max_len,
        "attention_dropout": train_cfg.attention_dropout,
        "hidden_dropout": train_cfg.hidden_dropout,
        "dropout_modules_set": dropout,
    }
    cfg = model[0].auto_model.config
    n_params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    lens = [len(x) for x in q_ids + p_ids]
    s_mean = float(np.mean(lens))
    flops = real_tokens * (6 * n_params + 12 * cfg.num_hidden_layers * cfg.hidden_size * s_mean)
    out["tflops"] = round(flops / secs / 1e12, 2)
    if device.startswith("cuda"):
        out["mfu"] = round(flops / secs / H100_BF16_PEAK, 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=None, help="pairs per step (default 32 cpu, 128 cuda)")
    ap.add_argument(
        "--steps", type=int, default=None, help="steps per path incl. one warm-up (default 5 cpu, 30 cuda)"
    )
    ap.add_argument("--only", choices=["ours", "stock"], default=None)
    ap.add_argument(
        "--data",
        choices=["faq", "samples"],
        default="faq",
        help="CPU pairs: faq = Debian FAQ questions + answer sections (passages mostly at the 256 cap); "
        "samples = offline-generated queries on the shipped samples' chunks (mixed lengths)",
    )
    ap.add_argument(
        "--ablate",
        action="store_true",
        help="also time bgetune's step with the model's own dropout (where the gain comes from)",
    )
    a = ap.parse_args()
    import torch

    from bgetune.core.models import bundled_model_path

    cuda = a.device.startswith("cuda")
    batch = a.batch or (128 if cuda else 32)
    steps = a.steps or (30 if cuda else 5)
    if cuda:
        tmp = Path(tempfile.mkdtemp())
        model_path = bge_base_random(tmp / "bge-base-random", bundled_model_path())
        from transformers import AutoTokenizer

        pairs = synthetic_pairs(AutoTokenizer.from_pretrained(model_path), batch * steps)
        max_len = 256
    else:
        model_path = bundled_model_path()
        pairs = faq_pairs() if a.data == "faq" else sample_pairs()
        max_len = 256  # the model's own max_seq_length, as the stock recipe uses
    res: dict = {
        "device": a.device,
        "batch": batch,
        "steps": steps,
        "pairs": len(pairs),
        "data": "synthetic" if cuda else a.data,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if a.only != "stock":
        res["ours"] = run_ours(model_path, pairs, batch, steps, a.device, max_len)
        print("ours", res["ours"], flush=True)
        if a.ablate:  # where the gain comes from: the same step with the model's own dropout, and with none
            for key, drop in (("ours_model_dropout", None), ("ours_no_dropout", 0.0)):
                kw = {"attention_dropout": drop, "hidden_dropout": drop}
                res[key] = run_ours(model_path, pairs, batch, steps, a.device, max_len, kw)
                print(key, res[key], flush=True)
    if a.only != "ours":
        res["stock"] = run_stock(model_path, pairs, batch, steps, a.device)
        print("stock", res["stock"], flush=True)
    if "ours" in res and "stock" in res:
        for k in ("ours", "ours_model_dropout", "ours_no_dropout"):
            if k in res:
                res[f"ratio_{k}" if k != "ours" else "ratio"] = round(
                    res[k]["pairs_per_s"] / res["stock"]["pairs_per_s"], 2
                )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
