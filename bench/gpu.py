"""One command for the day a GPU is lent: training pairs/s and model-FLOPs utilisation (MFU) for bge-small and
bge-base shapes (random-weight BertConfig), bgetune's training step against the stock sentence-transformers
trainer (SentenceTransformerTrainer + MultipleNegativesRankingLoss), same pairs, same batch.

  python bench/gpu.py                      # CUDA: bge-small (batch 256) and bge-base (batch 128), 30 steps each
  python bench/gpu.py --tiny --out X.json  # CPU smoke run: a 2-layer d=64 BERT, batch 4, 3 steps (the test)

Data: random words, queries 8-32 tokens, passages 64-256 tokens (../shared/docs/PERFORMANCE.md's setup).
MFU counts non-pad tokens only: FLOPs per token = 6 N + 12 L d s (N non-embedding parameters, s the mean
unpadded length), over the device's dense bf16 peak (``--peak-tflops`` overrides the table).
Writes bench/gpu-results.json (or --out) and prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _common import REPO, log  # the offline preamble (bench/_common.py)

os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(REPO / "bench"))

# dense bf16 tensor-core peaks (FLOP/s), by a substring of torch.cuda.get_device_name()
PEAKS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
    "V100": 125e12,  # fp16
}
SHAPES = {
    # name: (layers, hidden, heads, intermediate, default batch)
    "bge-small": (12, 384, 12, 1536, 256),
    "bge-base": (12, 768, 12, 3072, 128),
    "tiny": (2, 64, 2, 128, 4),
}


def random_bert(folder: Path, shape: str, tokenizer: str | None = None) -> str:
    """A random-weight BERT of ``shape`` as a sentence-transformers folder (CLS pooling, like BGE), with the
    tokenizer files of ``tokenizer`` (a folder; default: the bundled model's)."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    layers, hidden, heads, inter, _ = SHAPES[shape]
    hf = folder / "hf"
    BertModel(
        BertConfig(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=inter,
            max_position_embeddings=512,
        )
    ).save_pretrained(hf)
    if tokenizer is None:
        from bgetune.core.models import bundled_model_path

        tokenizer = bundled_model_path()
    src = Path(tokenizer)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, hf / name)
    word = models.Transformer(str(hf), max_seq_length=256)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="cls")
    st = folder / "st"
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(str(st))
    return str(st)


def device_peak(device: str, override: float | None) -> tuple[float | None, str]:
    if override:
        return override * 1e12, "--peak-tflops"
    if not device.startswith("cuda"):
        return None, "cpu (no MFU)"
    import torch

    name = torch.cuda.get_device_name(torch.device(device))
    for key, peak in PEAKS.items():
        if key in name:
            return peak, name
    return None, f"{name} (unknown peak: pass --peak-tflops)"


def flops_of(model_path: str, mean_len: float, n_tokens: float) -> float:
    """Model FLOPs for ``n_tokens`` non-pad training tokens (forward + backward)."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(str(Path(model_path)))
    L, d, inter = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size
    n_params = L * (4 * d * d + 2 * d * inter)  # attention projections + FFN (non-embedding)
    return n_tokens * (6 * n_params + 12 * L * d * mean_len)


def token_counts(model_path: str, pairs: list[tuple[str, str]], max_len: int) -> tuple[list[int], list[int]]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(Path(model_path)))
    q = [len(x) for x in tok([a for a, _ in pairs], truncation=True, max_length=128)["input_ids"]]
    p = [len(x) for x in tok([b for _, b in pairs], truncation=True, max_length=max_len)["input_ids"]]
    return q, p


def gpu_peak(device: str, fn, *args) -> dict:  # noqa: ANN001
    """``fn(*args)`` with the device's peak allocated memory over the call added as ``peak_gpu_mb``."""
    if not device.startswith("cuda"):
        return fn(*args)
    import torch

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    out = fn(*args)
    out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out


def measure(
    shape: str,
    device: str,
    batch: int,
    steps: int,
    peak: float | None,
    work: Path,
    tokenizer: str | None = None,
) -> dict:
    from train_throughput import run_ours, run_stock, synthetic_pairs
    from transformers import AutoTokenizer

    model_path = random_bert(work / shape, shape, tokenizer)
    max_len = 256 if shape != "tiny" else 64
    pairs = synthetic_pairs(AutoTokenizer.from_pretrained(model_path), batch * steps, seed=1)
    if shape == "tiny":
        pairs = [(q, " ".join(p.split()[:40])) for q, p in pairs]
    q_len, p_len = token_counts(model_path, pairs, max_len)
    mean_len = (sum(q_len) + sum(p_len)) / (len(q_len) + len(p_len))
    tokens_per_pair = mean_len * 2
    out: dict = {"shape": shape, "batch": batch, "steps": steps, "mean_tokens_per_text": round(mean_len, 1)}
    log(f"{shape}: bgetune step")
    ours = gpu_peak(device, run_ours, model_path, pairs, batch, steps, device, max_len)
    log(f"{shape}: stock SentenceTransformerTrainer")
    stock = gpu_peak(device, run_stock, model_path, pairs, batch, steps, device)
    for name, r in (("bgetune", ours), ("stock", stock)):
        pps = r["pairs_per_s"]
        fl = flops_of(model_path, mean_len, pps * tokens_per_pair)  # FLOP/s
        out[name] = {
            "pairs_per_s": pps,
            "flops_per_s": round(fl),
            "tflops": round(fl / 1e12, 3),
            "mfu": round(fl / peak, 4) if peak else None,
            "seconds": r["seconds"],
            "timed_steps": r["timed_steps"],
            "peak_gpu_mb": r.get("peak_gpu_mb"),
        }
    out["speedup"] = round(out["bgetune"]["pairs_per_s"] / out["stock"]["pairs_per_s"], 2)
    log(f"{shape}: {out}")
    return out


def profile_ours(
    shape: str, device: str, batch: int, work: Path, tokenizer: str | None, out_dir: Path
) -> dict:
    """Where a bgetune step's time goes: torch.profiler over 5 steps (after 3 untimed) of ``shape``, the top
    operators by device and by CPU time written to ``out_dir``, the device-busy share of the wall time, and the
    pairs/s of variants (fused AdamW, twice the batch) to tell launch/CPU overhead from arithmetic."""
    import time

    from torch.profiler import ProfilerActivity, profile, schedule
    from train_throughput import run_ours, synthetic_pairs
    from transformers import AutoTokenizer

    model_path = random_bert(work / shape, shape, tokenizer)
    max_len = 256
    pairs = synthetic_pairs(AutoTokenizer.from_pretrained(model_path), batch * 16, seed=1)
    marks: list[float] = []
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    wait, warmup, active = 1, 2, 5
    steps = wait + warmup + active
    with profile(activities=acts, schedule=schedule(wait=wait, warmup=warmup, active=active)) as prof:

        def step() -> None:
            marks.append(time.perf_counter())
            prof.step()

        run_ours(model_path, pairs, batch, steps, device, max_len, on_step=step)
    ka = prof.key_averages()
    (out_dir / f"profile-{shape}-device.txt").write_text(
        ka.table(sort_by="self_device_time_total", row_limit=30)
    )
    (out_dir / f"profile-{shape}-cpu.txt").write_text(ka.table(sort_by="self_cpu_time_total", row_limit=30))
    busy_us = sum(getattr(e, "self_device_time_total", 0) for e in ka)
    wall_s = marks[steps - 1] - marks[steps - 1 - active]  # the active steps
    res: dict = {"shape": shape, "batch": batch, "active_wall_s": round(wall_s, 3)}
    res["device_busy_share"] = round(busy_us / 1e6 / wall_s, 3) if wall_s else None
    for name, kw in (("plain", {}), ("fused_adamw", {"fused": True})):
        res[name] = run_ours(model_path, pairs, batch, 12, device, max_len, **kw)["pairs_per_s"]
    res["batch_x2"] = run_ours(model_path, pairs, batch * 2, 8, device, max_len)["pairs_per_s"]
    log(f"{shape} profile: {res}")
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="CPU smoke run with a tiny BERT (what the test runs)")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--shapes", nargs="*", default=None, help="bge-small bge-base (default both)")
    ap.add_argument("--steps", type=int, default=None, help="steps per path incl. one warm-up (default 30)")
    ap.add_argument("--batch", type=int, default=None, help="pairs per step (default per shape)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument(
        "--tokenizer",
        default=None,
        help="a folder with vocab.txt/tokenizer.json (default: the bundled model's; for a GPU machine without it)",
    )
    ap.add_argument("--out", default=str(REPO / "bench" / "gpu-results.json"))
    ap.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="instead: where a bgetune step's time goes (torch.profiler tables and variants, per shape) into DIR",
    )
    a = ap.parse_args(argv)
    import torch

    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if a.tiny:
        device, shapes, steps = a.device or "cpu", ["tiny"], a.steps or 3
    else:
        shapes, steps = a.shapes or ["bge-small", "bge-base"], a.steps or 30
        if not device.startswith("cuda"):
            log("no GPU: this measures a CPU (use --tiny for a smoke run)")
    peak, peak_from = device_peak(device, a.peak_tflops)
    res: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device,
        "device_name": peak_from,
        "peak_flops": peak,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "shapes": {},
    }
    if a.profile:
        Path(a.profile).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            prof = {
                s: profile_ours(s, device, a.batch or SHAPES[s][4], Path(tmp), a.tokenizer, Path(a.profile))
                for s in shapes
            }
        Path(a.profile, "profile.json").write_text(json.dumps({**res, "profile": prof}, indent=2) + "\n")
        print(json.dumps(prof))
        return prof
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            batch = a.batch or SHAPES[shape][4]
            res["shapes"][shape] = measure(shape, device, batch, steps, peak, Path(tmp), a.tokenizer)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
