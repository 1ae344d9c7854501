"""Contrastive fine-tuning of a sentence-transformers model: fast, family-correct, resumable.

A hand-written loop around the sentence-transformers model's own forward (the model stays a standard
``SentenceTransformer`` that saves and loads normally). Loss: MultipleNegativesRankingLoss with
``scale = 1 / family temperature`` (BGE 0.02 -> 50), hard negatives as extra passages, the family's query
instruction prepended to queries, positives of a query masked out of its negatives; a GradCache variant
(CachedMNRL) when the batch does not fit; optional Matryoshka dims and LoRA.
Speed over the stock Trainer recipe: texts are tokenised once, batches are length-grouped and padded to the
batch's own longest text (rounded to 8), bf16 autocast on CUDA and on CPUs with AMX/AVX512-bf16, no
Trainer/collator overhead per step.
Batches never hold two pairs of one chunk or near-duplicate queries. Each epoch ends with a small validation
(nDCG@10 of val-split pairs against the corpus), early stopping, and an atomic checkpoint (weights,
optimizer, scheduler, epoch/step, RNG) under ``artifacts/runs/<run_id>/``; ``resume=True`` continues the last
interrupted run from its last complete checkpoint. Under ``torchrun`` (WORLD_SIZE > 1) the same code runs
data-parallel: in-batch negatives are gathered across processes with gradient, gradients are averaged.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import os
import random
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import TRAINABLE, Workspace, atomic_write_json, swap_dir_in
from bgetune.tools.negatives import resolve_for_workspace, trainable_pairs
from bgetune.tools.vocab import NEW_TOKEN_LR, VocabExtension, extend_vocab, new_rows_only, transformer

Progress = Callable[[int, int, str], None]

QUERY_LEN_CAP = 128
PASSAGE_LEN_CAP = 512
NEAR_DUP_QUERY_RATIO = 90.0
CKPT_PREFIX = "checkpoint-epoch-"
# On CPU (and MPS) a step keeps the autograd graph of at most this many sequences at once (the GradCache loss;
# same loss and gradients): measured on the bundled model's default batch (32 queries, their positives, hard
# negatives and 8 distilled candidates each: ~320 passages of 256 tokens) the step's peak RSS 7.4 GB -> 3.9 GB for
# ~3% more time. On CUDA the whole batch runs at once and GradCache starts on out-of-memory.
CPU_GRAPH_SEQS = 64
COMPLETE = "COMPLETE"


class TrainingError(BgetuneError, RuntimeError):
    """A training problem the user can fix (no data, bad option, nothing to resume)."""


@dataclass(kw_only=True)
class TrainConfig:
    """Training options. ``None`` means: derive from the data or the hardware."""

    base_model: str | None = None  # hub id, folder, 'bundled'; None = the workspace's choice
    family: str | None = None  # override the family rules (e.g. 'bge-en' on the bundled model)
    epochs: int = 3
    lr: float | None = None  # None: 2e-5 for small models (< 150M params), 1e-5 above
    batch_size: int = 32  # pairs per step (per process under torchrun)
    mini_batch_size: int | None = None  # set (< batch_size) for the GradCache loss (CachedMNRL)
    max_query_len: int | None = None  # None: p99 of the data's query tokens, capped at 128
    max_passage_len: int | None = None  # None: p99 of the data's passage tokens, capped at the model's max
    hard_negatives: int = 1  # mined negatives per query per step (rotated each epoch); 0 = in-batch only
    # Dropout during training. None keeps the model's own (0.1 for BERT-style models). Attention-probability
    # dropout is off by default: on CPU it is most of a step's time (it draws a mask over every batch x heads x
    # len x len attention matrix and forces the unfused attention path); measured equal retrieval quality
    # without it (bench/RESULTS.md). The exported config keeps the model's own values.
    attention_dropout: float | None = 0.0
    hidden_dropout: float | None = None
    # WiSE-FT: export ``wise_ft * tuned + (1 - wise_ft) * base`` in weight space (Wortsman et al. 2022); the
    # unmerged weights stay in the run folder (model-tuned/). Off by default: measured on the Debian FAQ's real
    # questions, 0.5 raised the English gain on average (strong base) but halved the Chinese one (weak base), and
    # the synthetic validation set picked the wrong mix both times (bench/RESULTS.md).
    wise_ft: float = 1.0
    # Ship decision after training (bgetune/tools/decision.py): base, each epoch and WiSE-FT mixes of the best
    # epoch are scored on the golden set (>= 20 labeled questions) or the held-out documents' queries; the base is
    # kept unless the best candidate's gain has a 95% CI above zero. False: the best epoch on val ships (old way).
    decide: bool = True
    lora: bool = False
    lora_r: int = 16
    matryoshka_dims: list[int] | None = None
    max_steps: int | None = (
        None  # stop after this many steps in total (the epoch still ends with eval + checkpoint)
    )
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 1  # epochs without a better val nDCG@10 before stopping
    seed: int = 13
    device: str | None = None
    bf16: bool | None = None  # None: on CUDA and on CPUs with AMX/AVX512-bf16
    resume: bool = False
    val_corpus_max: int = 20_000  # chunks scored in the per-epoch validation (positives always included)
    # Teacher-guided training (tools/teacher.py scores each train query's candidate list first).
    # objective: 'contrastive' (MNRL only), 'distill' (listwise KL(teacher || student) over the query's candidate
    # list + contrastive_weight x MNRL), 'margin-mse' (MSE of student vs teacher margins positive - candidate, GPL).
    objective: str = "distill"
    # teacher: auto | fusion | base | llm | cross-encoder:<id or folder> (tools/teacher.py); None: 'auto' when the
    # objective needs one, else none. Its scores are computed (cached) before training.
    teacher: str | None = None
    distill_weight: float = 1.0
    contrastive_weight: float = 1.0  # MNRL's weight next to a distillation objective
    base_weight: float = 0.0  # regulariser: KL(base || student) over the same candidates
    distill_candidates: int = (
        8  # per query and step besides the positive (half the teacher's top, half rotated)
    )
    # Softmax temperatures: student None = the family's (BGE 0.02, bundled 0.05); teacher None = by the teacher's
    # unit: cosine scores the student's, cross-encoder logits 1.0, LLM grades (0-3) 0.5.
    student_temperature: float | None = None
    teacher_temperature: float | None = None
    teacher_false_negatives: bool = True  # a candidate the teacher scores >= the positive is never a negative
    # New tokens (tools/vocab.py) for the pieces of the training texts the base reads as [UNK] (Chinese for an
    # English base): 'auto' when at least 20% of their tokens are unknown, 'on', 'off'. Each new row starts as the
    # [UNK] row (the model computes what the base computes) and trains at new_token_lr; the base's rows stay.
    # Off by default: on the bench's debian-faq-zh, 'auto' shipped +0.056 and 'off' +0.062 (the rows get only the
    # run's few steps; bench/RESULTS.md).
    extend_vocab: str = "off"
    new_token_lr: float = NEW_TOKEN_LR
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------- data
@dataclass
class Example:
    pair_id: int
    query_ids: list[int]
    pos: int  # passage index (into Data.passages)
    negs: list[int]  # passage indices of mined negatives, by rank
    positives: frozenset[int]  # every passage index that answers this query
    qnorm: str
    not_neg: frozenset[int] = frozenset()  # positives + candidates the teacher rates >= the positive
    cands: list[int] = field(default_factory=list)  # teacher-scored candidates (not e.pos), best first
    t_scores: dict[int, float] = field(default_factory=dict)  # teacher score per passage index (pos included)
    b_scores: dict[int, float] = field(default_factory=dict)  # the base model's cosine per passage index


@dataclass
class Data:
    examples: list[Example]
    passages: list[list[int]]  # token ids per passage index
    max_query_len: int
    max_passage_len: int
    n_val: int = 0
    teacher: dict[str, Any] | None = None  # key, unit, description, check (when a teacher's scores are used)
    false_negatives: int = 0  # candidates kept out of the negatives: the teacher rates them >= the positive
    vocab: VocabExtension | None = None  # the tokens added for pieces the base could not read


def _p99(lengths: list[int]) -> int:
    return int(np.percentile(lengths, 99)) if lengths else 0


def _tokenize(tok: Any, texts: list[str], max_len: int) -> list[list[int]]:
    out: list[list[int]] = []
    for i in range(0, len(texts), 1024):
        enc = tok(texts[i : i + 1024], truncation=True, max_length=max_len, add_special_tokens=True)
        out.extend(enc["input_ids"])
    return out


def load_data(
    ws: Workspace, model: Any, cfg: TrainConfig, query_prompt: str, *, estimating: bool = False
) -> Data:
    """Pre-tokenised training examples from the trainable train-split pairs and their stored negatives.
    ``estimating``: a run whose teacher has not scored these queries yet gets stand-in candidate lists of the
    real length, so the timed steps cost what the real ones will."""
    from bgetune.core.text import normalize_for_match

    pairs = trainable_pairs(ws, ("train",))
    if not pairs:
        raise TrainingError(
            f"no trainable pairs in the train split of {ws.root}: approve pairs (review) and make a split first"
        )
    texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
    negs: dict[int, list[str]] = {}
    if cfg.hard_negatives > 0:
        for r in ws.query("SELECT pair_id, chunk_id FROM negatives ORDER BY pair_id, rank"):
            negs.setdefault(r["pair_id"], []).append(r["chunk_id"])
    index: dict[str, int] = {}
    ptexts: list[str] = []

    def pidx(key: str, text: str) -> int:
        if key not in index:
            index[key] = len(ptexts)
            ptexts.append(text)
        return index[key]

    teach = _teacher_tables(ws, cfg, [p["query"] for p in pairs], stand_in=pairs if estimating else None)
    raw = []
    n_fn = 0
    for p in pairs:
        own_key = None
        if p["chunk_id"] and p["chunk_id"] in texts:
            pos = pidx(p["chunk_id"], texts[p["chunk_id"]])
        else:
            pos = pidx(f"own:{p['id']}", p["passage"])
            own_key = _own_key(p["passage"])
        positives = {pos} | {pidx(c, texts[c]) for c in p["positives"] if c in texts}
        extra_fields: dict[str, Any] = {}
        fn: set[int] = set()
        if teach is not None:
            ts = teach["teacher"].get(p["query"], {})
            bs = teach["base"].get(p["query"], {})

            def key_idx(k: str, pos: int = pos, own_key: str | None = own_key) -> int | None:
                if k == own_key:
                    return pos
                return pidx(k, texts[k]) if k in texts else None

            t_scores = {i: v for k, v in ts.items() if (i := key_idx(k)) is not None}
            b_scores = {i: v for k, v in bs.items() if (i := key_idx(k)) is not None}
            if pos in t_scores:
                top = max(t_scores[i] for i in positives if i in t_scores)
                if cfg.teacher_false_negatives:
                    fn = {i for i, v in t_scores.items() if v >= top and i not in positives}
                cands = sorted((i for i in t_scores if i != pos), key=lambda i: -t_scores[i])
                extra_fields = {"cands": cands, "t_scores": t_scores, "b_scores": b_scores}
        n = [pidx(c, texts[c]) for c in negs.get(p["id"], []) if c in texts]
        n = [x for x in n if x not in positives and x not in fn]
        n_fn += len(fn)
        raw.append((p, pos, n, frozenset(positives), frozenset(positives | fn), extra_fields))

    q_texts = [query_prompt + p["query"] for p, *_ in raw]
    mode = "off" if cfg.lora else cfg.extend_vocab  # LoRA trains adapters: new embedding rows would stay [UNK]
    vocab = extend_vocab(model, [*ptexts, *q_texts], mode)
    tok = model.tokenizer
    cap_p = min(PASSAGE_LEN_CAP, int(model.max_seq_length or PASSAGE_LEN_CAP))
    q_ids = _tokenize(tok, q_texts, QUERY_LEN_CAP)
    p_ids = _tokenize(tok, ptexts, cap_p)
    mq = cfg.max_query_len or max(8, min(QUERY_LEN_CAP, _p99([len(x) for x in q_ids])))
    mp = cfg.max_passage_len or max(16, min(cap_p, _p99([len(x) for x in p_ids])))
    q_ids = [_truncate(x, mq) for x in q_ids]
    p_ids = [_truncate(x, mp) for x in p_ids]
    examples = [
        Example(p["id"], q_ids[i], pos, n, positives, normalize_for_match(p["query"]), not_neg, **ex)
        for i, (p, pos, n, positives, not_neg, ex) in enumerate(raw)
    ]
    n_val = int(ws.scalar(f"SELECT count(*) FROM pairs WHERE {TRAINABLE} AND split='val'") or 0)
    return Data(
        _repeat_by_weight(ws, examples),
        p_ids,
        mq,
        mp,
        n_val,
        teacher=teach["info"] if teach else None,
        false_negatives=n_fn,
        vocab=vocab,
    )


def needs_teacher(cfg: TrainConfig) -> bool:
    """Whether this run uses a teacher's scores (a distillation objective, or a teacher asked for)."""
    return cfg.objective != "contrastive" or bool(cfg.teacher and cfg.teacher.lower() != "none")


def ensure_teacher_scores(
    ws: Workspace, cfg: TrainConfig, *, progress: Progress | None = None, model: Any = None
) -> dict[str, Any] | None:
    """Score the train queries' candidate lists with the run's teacher unless the workspace already holds them
    (cached per teacher, query and passage: only what is missing is scored). None when no teacher is used."""
    if not needs_teacher(cfg):
        return None
    # no teacher named: the one the user last scored with (score_teacher), else 'auto'
    spec = cfg.teacher or ws.get_setting("teacher_spec")
    if spec is None and ws.get_setting("teacher_key"):
        return None  # scored by a teacher given as an object (plain Python): train on its stored scores
    from bgetune.tools.teacher import score_teacher

    spec = spec or "auto"
    run = score_teacher(
        ws,
        teacher=spec,
        base_model=cfg.base_model,
        device=cfg.device,
        model=copy.deepcopy(model) if model is not None else None,
        progress=progress,
    )
    ws.set_setting("teacher_spec", spec)
    return run.to_dict()


def _teacher_scoring_estimate(ws: Workspace, cfg: TrainConfig) -> dict[str, Any] | None:
    """What scoring the teacher adds before training (an upper bound; cached pairs are not scored again)."""
    if not needs_teacher(cfg):
        return None
    from bgetune.tools.teacher import K_BM25, K_DENSE

    queries = int(
        ws.scalar(f"SELECT count(DISTINCT query) FROM pairs WHERE {TRAINABLE} AND split='train'") or 0
    )
    key = ws.get_setting("teacher_key")
    cached = int(ws.scalar("SELECT count(*) FROM teacher_scores WHERE teacher=?", (key,)) or 0) if key else 0
    return {
        "teacher": cfg.teacher or "auto",
        "queries": queries,
        "pairs_at_most": queries * (1 + K_DENSE + K_BM25),
        "cached": cached,
        "text": f"before training, the teacher ({cfg.teacher or 'auto'}) scores up to "
        f"{queries * (1 + K_DENSE + K_BM25)} (query, passage) pairs of {queries} train queries "
        f"({cached} already cached); a cross-encoder or LLM teacher costs GPU time or tokens",
    }


def _own_key(text: str) -> str:
    from bgetune.tools.teacher import passage_key

    return passage_key(None, text)


def _stand_in_scores(ws: Workspace, cfg: TrainConfig, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """For an estimate before the teacher has scored: each pair's positive and ``distill_candidates`` seeded
    random chunks, all scored 0 (the step then encodes and distils as many passages as the real one)."""
    import random

    ids = [r["id"] for r in ws.query("SELECT id FROM chunks")]
    rng = random.Random(cfg.seed)
    table: dict[str, dict[str, float]] = {}
    for p in pairs:
        pos = p["chunk_id"] or _own_key(p["passage"])
        picks = rng.sample(ids, min(len(ids), cfg.distill_candidates)) if ids else []
        table.setdefault(p["query"], {pos: 0.0} | {c: 0.0 for c in picks})
    return {"teacher": table, "base": {}, "info": {"teacher": "not scored yet (estimate)", "unit": "cosine"}}


def _without_scores(
    ws: Workspace, cfg: TrainConfig, stand_in: list[dict[str, Any]] | None, error: str
) -> dict[str, Any] | None:
    """The teacher tables when the teacher's scores are missing: none for a contrastive run (its teacher only
    keeps false negatives out), stand-ins for an estimate (``stand_in``, the pairs), else ``error``."""
    if cfg.objective == "contrastive":
        return None
    if stand_in is not None:
        return _stand_in_scores(ws, cfg, stand_in)
    raise TrainingError(error)


def _teacher_tables(
    ws: Workspace, cfg: TrainConfig, queries: list[str], *, stand_in: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The teacher's and the base's stored scores for these queries, or None when the run uses no teacher.
    Where a teacher is needed but has not scored them yet: with ``stand_in`` (the pairs, for an estimate)
    stand-ins of the same size (``_stand_in_scores``), else an error saying to score first."""
    if cfg.objective not in ("contrastive", "distill", "margin-mse"):
        raise TrainingError(f"unknown objective {cfg.objective!r}: use contrastive, distill or margin-mse")
    key = ws.get_setting("teacher_key") if needs_teacher(cfg) else None
    if cfg.objective == "contrastive" and (not key or not cfg.teacher_false_negatives):
        return None
    if not key:
        return _without_scores(
            ws,
            cfg,
            stand_in,
            f"objective {cfg.objective!r} needs teacher scores and {ws.root} has none: score the candidates "
            "first (score_teacher / `bgetune teacher`), or train with objective='contrastive'",
        )
    from bgetune.tools.teacher import cached_scores, teacher_info, trained_teacher_summary

    info = teacher_info(ws, key)
    scores = cached_scores(ws, key, queries)
    if not scores:
        return _without_scores(
            ws,
            cfg,
            stand_in,
            f"no stored scores of teacher {key} for the train queries of {ws.root}: run score_teacher again",
        )
    base_key = ws.get_setting("base_teacher_key")
    return {
        "teacher": scores,
        "base": cached_scores(ws, base_key, queries) if base_key else {},
        "info": {
            **(trained_teacher_summary(ws, key) or {"teacher": key}),
            "unit": (info or {}).get("unit", "logit"),
        },
    }


def _repeat_by_weight(ws: Workspace, examples: list[Example]) -> list[Example]:
    """Each example ``round(pairs.weight x label / top label)`` times, at least once: real pairs carry a repeat
    factor against synthetic ones, and a graded label (e.g. 0-4) scales it (an answer rated 4 counts more than
    one rated 2). Copies share their positives, so plan_batches never puts two in one batch."""
    rows = ws.query("SELECT id, weight, label FROM pairs WHERE weight != 1.0 OR label IS NOT NULL")
    if not rows:
        return examples
    top = max([r["label"] for r in rows if r["label"] is not None and r["label"] > 0] or [1.0])
    times = {
        r["id"]: max(1, round(float(r["weight"]) * (r["label"] / top if r["label"] is not None else 1.0)))
        for r in rows
    }
    return [e for e in examples for _ in range(times.get(e.pair_id, 1))]


def _truncate(ids: list[int], n: int) -> list[int]:
    """Truncate keeping the final special token ([SEP] / </s>)."""
    return ids if len(ids) <= n else ids[: n - 1] + ids[-1:]


def plan_batches(data: Data, batch_size: int, *, seed: int, epoch: int, group: int = 64) -> list[list[int]]:
    """Length-grouped batches of example indices: never two pairs of one chunk, nor near-duplicate queries.

    Shuffle, sort mega-batches of ``group`` batches by length, fill batches greedily skipping conflicts,
    then shuffle the batch order. Deterministic in (seed, epoch)."""
    from rapidfuzz import fuzz

    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(data.examples)))
    rng.shuffle(order)
    ex = data.examples
    cost = [len(e.query_ids) + len(data.passages[e.pos]) for e in ex]
    batches: list[list[int]] = []
    mega = batch_size * group
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: cost[i])
        open_batches: list[tuple[list[int], set[int], list[str]]] = []
        for i in chunk:
            e = ex[i]
            placed = False
            for b, used, queries in open_batches:
                if used & e.positives:
                    continue
                if any(
                    q == e.qnorm or fuzz.ratio(q, e.qnorm, score_cutoff=NEAR_DUP_QUERY_RATIO) for q in queries
                ):
                    continue
                b.append(i)
                used.update(e.positives)
                queries.append(e.qnorm)
                placed = True
                break
            if not placed:
                open_batches.append(([i], set(e.positives), [e.qnorm]))
            full = [ob for ob in open_batches if len(ob[0]) >= batch_size]
            for ob in full:
                batches.append(ob[0])
                open_batches.remove(ob)
        batches.extend(ob[0] for ob in open_batches)
    rng.shuffle(batches)
    return batches


# ---------------------------------------------------------------------------------------------- model pieces
class _Dist:
    """Process-group facts; a no-op on one process."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.enabled = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        self.rank = dist.get_rank() if self.enabled else 0
        self.world = dist.get_world_size() if self.enabled else 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, t: Any) -> tuple[Any, int]:
        """All processes' tensors concatenated (with gradient), and this process's row offset."""
        if not self.enabled:
            return t, 0
        import torch
        import torch.distributed as dist
        import torch.distributed.nn.functional as dnn

        n = torch.tensor([t.shape[0]], device=t.device)
        sizes = [torch.zeros_like(n) for _ in range(self.world)]
        dist.all_gather(sizes, n)
        sizes_i = [int(s.item()) for s in sizes]
        m = max(sizes_i)
        if t.shape[0] < m:
            pad = torch.zeros((m - t.shape[0], *t.shape[1:]), dtype=t.dtype, device=t.device)
            t = torch.cat([t, pad])
        parts = dnn.all_gather(t) if t.requires_grad else _plain_gather(t, self.world)
        out = torch.cat([p[:s] for p, s in zip(parts, sizes_i, strict=True)])
        return out, sum(sizes_i[: self.rank])

    def average_grads(self, params: list[Any]) -> None:
        if not self.enabled:
            return
        import torch
        import torch.distributed as dist

        grads = [p.grad for p in params if p.grad is not None]
        bucket: list[Any] = []
        size = 0
        for g in grads + [None]:
            if g is not None:
                bucket.append(g)
                size += g.numel()
            if bucket and (g is None or size > 8_000_000):
                flat = torch.cat([b.reshape(-1) for b in bucket])
                dist.all_reduce(flat)
                flat /= self.world
                off = 0
                for b in bucket:
                    b.copy_(flat[off : off + b.numel()].view_as(b))
                    off += b.numel()
                bucket, size = [], 0

    def broadcast_params(self, params: list[Any]) -> None:
        if self.enabled:
            import torch.distributed as dist

            for p in params:
                dist.broadcast(p.data, src=0)


def _plain_gather(t: Any, world: int) -> list[Any]:
    import torch
    import torch.distributed as dist

    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t)
    return parts


def _pad(seqs: list[list[int]], pad_id: int, device: Any, multiple: int) -> dict[str, Any]:
    import torch

    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    n = int(math.ceil(int(lens.max()) / multiple) * multiple)
    # one vectorised fill (per-row tensors cost 21 ms a step at 128 sequences, CPU time a GPU step waits on);
    # boolean indexing is row-major, so the flat ids fill each row's first len(s) places in order
    keep = np.arange(n) < lens[:, None]
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    ids[keep] = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(lens.sum()))
    return {
        "input_ids": torch.from_numpy(ids).to(device),
        "attention_mask": torch.from_numpy(keep.astype(np.int64)).to(device),
    }


class _Embedder:
    """Runs the sentence-transformers model's own forward on pre-tokenised, padded batches."""

    def __init__(self, model: Any, device: Any, bf16: bool) -> None:
        import torch

        self.model = model
        self.device = device
        tok = model.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.type_ids = "token_type_ids" in getattr(tok, "model_input_names", [])
        self.multiple = 8
        dev_type = "cuda" if str(device).startswith("cuda") else "cpu"
        self.autocast = (
            (lambda: torch.autocast(dev_type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        )

    def __call__(self, seqs: list[list[int]]) -> Any:
        import torch

        feats = _pad(seqs, self.pad_id, self.device, self.multiple)
        if self.type_ids:
            feats["token_type_ids"] = torch.zeros_like(feats["input_ids"])
        with self.autocast():
            emb = self.model(feats)["sentence_embedding"]
        return emb.float()

    def padded_tokens(self, seqs: list[list[int]]) -> int:
        n = max(len(s) for s in seqs)
        return len(seqs) * int(math.ceil(n / self.multiple) * self.multiple)


def contrastive_loss(
    q: Any, p: Any, labels: Any, mask: Any, scale: float, dims: list[int] | None = None
) -> Any:
    """MNRL: cross-entropy of scaled cosine similarities, each query against every passage; ``mask`` (True)
    removes other positives of a query from its negatives. With ``dims``: Matryoshka, averaged over dims."""
    import torch
    import torch.nn.functional as F

    losses = []
    for d in dims or [q.shape[1]]:
        qn = F.normalize(q[:, :d], dim=-1)
        pn = F.normalize(p[:, :d], dim=-1)
        logits = (qn @ pn.T) * scale
        logits = logits.masked_fill(mask, torch.finfo(logits.dtype).min)
        losses.append(F.cross_entropy(logits, labels))
    return torch.stack(losses).mean()


@contextlib.contextmanager
def _rng_fork(state: Any) -> Iterator[None]:
    """Replay a saved torch RNG state (so GradCache's second forward sees the same dropout)."""
    import torch

    saved = torch.get_rng_state()
    cuda_saved = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])
    try:
        yield
    finally:
        torch.set_rng_state(saved)
        if cuda_saved is not None:
            torch.cuda.set_rng_state_all(cuda_saved)


def _rng_now() -> tuple[Any, Any]:
    import torch

    return torch.get_rng_state(), (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


@dataclass
class Objective:
    """What a step minimises: ``contrastive_weight`` x MNRL, plus (``kind`` distill) ``distill_weight`` x
    KL(teacher || student) over each query's candidate list or (``kind`` margin-mse) the MSE of the margins
    positive - candidate, plus ``base_weight`` x KL(base || student). Temperatures divide the scores before the
    softmax: the student's cosine by ``student_t``, the teacher's scores by ``teacher_t``."""

    kind: str = "contrastive"
    contrastive_weight: float = 1.0
    distill_weight: float = 0.0
    base_weight: float = 0.0
    student_t: float = 0.05
    teacher_t: float = 1.0
    candidates: int = 0

    @property
    def distills(self) -> bool:
        return self.kind in ("distill", "margin-mse")


def make_objective(cfg: TrainConfig, data: Data, family_temperature: float) -> Objective:
    """The objective of a config: temperatures resolved from the family and the teacher's unit."""
    from bgetune.tools.teacher import UNIT_TEMPERATURE

    student_t = cfg.student_temperature or family_temperature
    if cfg.objective == "contrastive" or data.teacher is None:
        return Objective(student_t=student_t)
    unit = data.teacher.get("unit", "logit")
    teacher_t = cfg.teacher_temperature or (
        student_t if unit == "cosine" else UNIT_TEMPERATURE.get(unit, 1.0)
    )
    return Objective(
        kind=cfg.objective,
        contrastive_weight=cfg.contrastive_weight,
        distill_weight=cfg.distill_weight,
        base_weight=cfg.base_weight,
        student_t=student_t,
        teacher_t=teacher_t,
        candidates=cfg.distill_candidates,
    )


class Stepper:
    """One optimisation step on a batch of examples (plain or GradCache), data-parallel aware."""

    _epoch = 0
    # GradCache pieces sorted by length (False: in batch order, the comparison in bench/train_pieces.py)
    sort_pieces = True

    def __init__(
        self,
        model: Any,
        data: Data,
        *,
        scale: float,
        dims: list[int] | None,
        hard: int,
        device: Any,
        bf16: bool,
        mini_batch: int | None,
        dist: _Dist | None = None,
        objective: Objective | None = None,
    ) -> None:
        self.embed = _Embedder(model, device, bf16)
        self.data = data
        self.scale = scale
        self.dims = dims
        self.hard = hard
        self.device = device
        self.mini_batch = mini_batch
        self.dist = dist or _Dist()
        self.obj = objective or Objective()

    def distill_list(self, e: Example, epoch: int) -> list[int]:
        """The candidates distilled for one query this epoch: the teacher's top half fixed, the rest rotated."""
        k = self.obj.candidates
        if not self.obj.distills or not e.cands or k <= 0:
            return []
        fixed = e.cands[: (k + 1) // 2]
        rest = e.cands[len(fixed) :]
        m = min(k - len(fixed), len(rest))
        if m <= 0:
            return fixed
        start = (epoch * m) % len(rest)
        return fixed + (rest[start:] + rest[:start])[:m]

    def inputs(self, batch: list[int], epoch: int) -> tuple[list[list[int]], list[list[int]], list[int]]:
        """(query token ids, passage token ids, passage indices): positives first, then hard negatives and the
        distilled candidates, each passage once."""
        ex = [self.data.examples[i] for i in batch]
        queries = [e.query_ids for e in ex]
        pidx = [e.pos for e in ex]
        have = set(pidx)
        used = set()
        for e in ex:
            used |= e.positives
        for e in ex:
            if self.hard and e.negs:
                k = min(self.hard, len(e.negs))
                start = (epoch * k) % len(e.negs)
                rot = (e.negs[start:] + e.negs[:start])[:k]
                for n in rot:
                    if n not in used and n not in have:
                        pidx.append(n)
                        have.add(n)
        for e in ex:
            for n in self.distill_list(e, epoch):
                if n not in have:
                    pidx.append(n)
                    have.add(n)
        return queries, [self.data.passages[i] for i in pidx], pidx

    def negatives_of(self, batch: list[int], epoch: int) -> list[set[int]]:
        """Per query of the batch, the passage indices the contrastive term treats as its negatives (one
        process): every column but its own positive and the ones masked out."""
        _, _, pidx = self.inputs(batch, epoch)
        mask = self._mask(batch, pidx, 0)
        return [{pid for c, pid in enumerate(pidx) if c != r and not mask[r, c]} for r in range(len(batch))]

    def _mask(self, batch: list[int], all_ids: list[int], q_off: int) -> Any:
        """True where column ``c`` holds a passage that must not be query ``r``'s negative (its other positives
        and near-duplicates), except its own positive's column ``r + q_off``. Built from each query's small
        not-negative set and a passage -> columns index: O(batch x not-negatives), not O(batch x columns), which
        with distilled candidates was 38 ms of Python a step at 128 queries x 1,280 columns (0.8 ms now)."""
        import torch

        cols: dict[int, list[int]] = {}
        for c, pid in enumerate(all_ids):
            cols.setdefault(pid, []).append(c)
        mask = np.zeros((len(batch), len(all_ids)), dtype=bool)
        for r, i in enumerate(batch):
            not_neg = self.data.examples[i].not_neg or self.data.examples[i].positives
            for pid in not_neg:
                for c in cols.get(pid, ()):
                    if c != r + q_off:
                        mask[r, c] = True
        return torch.from_numpy(mask)

    def tokens(self, batch: list[int], epoch: int) -> int:
        """Padded tokens one step encodes: the whole batch padded once, or (GradCache) each piece padded to
        its own longest sequence."""
        q, p, _ = self.inputs(batch, epoch)
        if not self.in_pieces(len(q) + len(p)):
            return self.embed.padded_tokens(q) + self.embed.padded_tokens(p)
        return sum(
            self.embed.padded_tokens([seqs[i] for i in piece])
            for seqs in (q, p)
            for piece in self.pieces(seqs, self.mini_batch)
        )

    def in_pieces(self, n_seqs: int) -> bool:
        """Whether a step encoding ``n_seqs`` sequences runs GradCache pieces (else one graph for the batch)."""
        return bool(self.mini_batch) and self.mini_batch < n_seqs

    def pieces(self, seqs: list[list[int]], size: int) -> list[list[int]]:
        """Indices of ``seqs`` in GradCache pieces of at most ``size``: shortest first when ``sort_pieces``, so
        each piece pads to a length near its own sequences' (13-17% fewer padded tokens than pieces in batch
        order at 626-4,000 chunks of Debian manuals), else in batch order."""
        order = list(range(len(seqs)))
        if self.sort_pieces:
            order.sort(key=lambda i: len(seqs[i]))
        return [order[i : i + size] for i in range(0, len(order), size)]

    def _loss_from(self, q: Any, p: Any, batch: list[int], pidx: list[int]) -> Any:
        import torch

        n_local_pos = len(batch)
        pos_q, q_off = self.dist.gather(p[:n_local_pos])
        neg_q, _ = self.dist.gather(p[n_local_pos:]) if self.dist.enabled else (p[n_local_pos:], 0)
        all_p = torch.cat([pos_q, neg_q])
        ids = torch.tensor(pidx, device=q.device)
        g_pos, _ = self.dist.gather(ids[:n_local_pos])
        g_neg, _ = self.dist.gather(ids[n_local_pos:]) if self.dist.enabled else (ids[n_local_pos:], 0)
        all_ids = torch.cat([g_pos, g_neg]).tolist()
        labels = torch.arange(len(batch), device=q.device) + q_off
        mask = self._mask(batch, all_ids, q_off)
        loss = q.new_zeros(())
        if self.obj.contrastive_weight > 0:
            loss = self.obj.contrastive_weight * contrastive_loss(
                q, all_p, labels, mask.to(q.device), self.scale, self.dims
            )
        if self.obj.distills:
            loss = loss + self._distill_loss(q, p, batch, pidx)
        return loss

    def _distill_loss(self, q: Any, p: Any, batch: list[int], pidx: list[int]) -> Any:
        """Listwise KL(teacher || student) (or MarginMSE) over each query's [positive, candidates], plus the
        base regulariser KL(base || student); on this process's own queries and passages."""
        import torch
        import torch.nn.functional as F

        o = self.obj
        col = {}
        for c, pid in enumerate(pidx):
            col.setdefault(pid, c)
        epoch = self._epoch
        rows = []
        for r, i in enumerate(batch):
            e = self.data.examples[i]
            lst = [e.pos] + [c for c in self.distill_list(e, epoch) if c in col]
            if len(lst) < 2 or e.pos not in e.t_scores:
                continue
            rows.append(
                (r, [col[x] for x in lst], [e.t_scores[x] for x in lst], [e.b_scores.get(x) for x in lst])
            )
        if not rows:
            return q.new_zeros(())
        n = max(len(x[1]) for x in rows)
        idx = torch.zeros((len(rows), n), dtype=torch.long)
        valid = torch.zeros((len(rows), n), dtype=torch.bool)
        t = torch.zeros((len(rows), n))
        b = torch.zeros((len(rows), n))
        b_ok = torch.ones(len(rows), dtype=torch.bool)
        for j, (_, cols, ts, bs) in enumerate(rows):
            idx[j, : len(cols)] = torch.tensor(cols)
            valid[j, : len(cols)] = True
            t[j, : len(cols)] = torch.tensor(ts, dtype=torch.float32)
            if any(x is None for x in bs):
                b_ok[j] = False
            else:
                b[j, : len(cols)] = torch.tensor(bs, dtype=torch.float32)
        dev = q.device
        idx, valid, t, b, b_ok = idx.to(dev), valid.to(dev), t.to(dev), b.to(dev), b_ok.to(dev)
        qn = F.normalize(q[[r for r, *_ in rows]], dim=-1)
        pn = F.normalize(p, dim=-1)
        s = torch.einsum("bd,bnd->bn", qn, pn[idx]) / o.student_t  # student logits
        neg = torch.finfo(s.dtype).min / 4
        log_s = torch.log_softmax(s.masked_fill(~valid, neg), dim=-1)
        loss = q.new_zeros(())
        if o.kind == "margin-mse":
            tm = (t[:, :1] - t) / o.teacher_t
            sm = s[:, :1] - s
            pair = valid.clone()
            pair[:, 0] = False
            loss = loss + o.distill_weight * ((sm - tm) ** 2)[pair].mean()
        else:
            p_t = torch.softmax((t / o.teacher_t).masked_fill(~valid, neg), dim=-1)
            kl = (p_t * (torch.log(p_t.clamp_min(1e-12)) - log_s)).masked_fill(~valid, 0.0).sum(-1)
            loss = loss + o.distill_weight * kl.mean()
        if o.base_weight > 0 and bool(b_ok.any()):
            p_b = torch.softmax((b / o.student_t).masked_fill(~valid, neg), dim=-1)
            kl_b = (p_b * (torch.log(p_b.clamp_min(1e-12)) - log_s)).masked_fill(~valid, 0.0).sum(-1)
            loss = loss + o.base_weight * kl_b[b_ok].mean()
        return loss

    def loss_backward(self, batch: list[int], epoch: int) -> float:
        """Forward + backward for one batch; returns the loss value."""
        self._epoch = epoch
        queries, passages, pidx = self.inputs(batch, epoch)
        if not self.in_pieces(len(queries) + len(passages)):
            q = self.embed(queries)
            p = self.embed(passages)
            loss = self._loss_from(q, p, batch, pidx)
            loss.backward()
            return float(loss.detach())
        return self._cached(queries, passages, batch, pidx)

    def _cached(
        self, queries: list[list[int]], passages: list[list[int]], batch: list[int], pidx: list[int]
    ) -> float:
        """GradCache: embed without graph, loss gradient w.r.t. embeddings, then re-embed mini-batches with graph."""
        import torch

        mb = self.mini_batch or 16
        chunks: list[tuple[list[list[int]], Any, Any]] = []  # (piece, its RNG state, its rows in q | p)
        reps = []
        with torch.no_grad():
            for off, seqs in ((0, queries), (len(queries), passages)):
                out, rows = [], []
                for piece in self.pieces(seqs, mb):
                    part = [seqs[i] for i in piece]
                    state = _rng_now()
                    out.append(self.embed(part))
                    rows.append(torch.tensor(piece))
                    chunks.append((part, state, rows[-1] + off))
                emb = torch.cat(out)
                rep = torch.empty_like(emb)
                rep[torch.cat(rows).to(emb.device)] = emb  # back to batch order
                reps.append(rep)
        q = reps[0].detach().requires_grad_()
        p = reps[1].detach().requires_grad_()
        loss = self._loss_from(q, p, batch, pidx)
        loss.backward()
        grads = torch.cat([q.grad, p.grad])
        for part, state, rows in chunks:
            with _rng_fork(state):
                emb = self.embed(part)
            (emb * grads[rows.to(grads.device)]).sum().backward()
        return float(loss.detach())


# ---------------------------------------------------------------------------------------------- validation
def val_queries(ws: Workspace) -> list[dict[str, Any]]:
    return [p for p in trainable_pairs(ws, ("val",)) if p["positives"]]


def evaluate_val(
    ws: Workspace,
    model: Any,
    pairs: list[dict[str, Any]],
    *,
    corpus_max: int = 20_000,
    seed: int = 13,
    fingerprint: str | None = None,
) -> dict[str, float]:
    """nDCG@10, MRR@10 and recall@10 of val pairs against the corpus (capped at ``corpus_max`` chunks,
    every positive kept). With ``fingerprint`` (models.model_fingerprint of ``model``) an uncapped corpus goes
    through the embedding cache: the base's was filled by filtering and mining, and an epoch's is found again by
    the ship decision and evaluation (models.corpus_embeddings)."""
    from bgetune.core.models import corpus_embeddings, encode

    if not pairs:
        return {}
    rows = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    if len(rows) > corpus_max:
        keep = {c for p in pairs for c in p["positives"]}
        rest = [r for r in rows if r["id"] not in keep]
        random.Random(seed).shuffle(rest)
        rows = [r for r in rows if r["id"] in keep] + rest[: max(0, corpus_max - len(keep))]
    ids = [r["id"] for r in rows]
    was_training = model.training
    model.eval()
    try:
        if fingerprint and len(rows) <= corpus_max:  # the whole corpus, same order: the cached embedding
            ids, c_emb = corpus_embeddings(ws, model, fingerprint=fingerprint)
        else:
            c_emb = encode(model, [r["text"] for r in rows], kind="passage")
        q_emb = encode(model, [p["query"] for p in pairs], kind="query")
    finally:
        model.train(was_training)
    k = min(10, len(ids))
    scores = q_emb @ c_emb.T
    top = np.argsort(-scores, axis=1)[:, :k]
    ndcg = mrr = rec = 0.0
    for qi, p in enumerate(pairs):
        rel = set(p["positives"])
        hits = [ids[j] in rel for j in top[qi]]
        dcg = sum(1.0 / math.log2(r + 2) for r, h in enumerate(hits) if h)
        idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(rel), k)))
        ndcg += dcg / idcg
        mrr += next((1.0 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
        rec += sum(hits) / len(rel)
    n = len(pairs)
    return {"ndcg@10": ndcg / n, "mrr@10": mrr / n, "recall@10": rec / n, "queries": n, "corpus": len(ids)}


# ---------------------------------------------------------------------------------------------- setup helpers
def _setup_distributed(device: str | None) -> tuple[_Dist, str]:
    """Initialise the process group under torchrun (WORLD_SIZE > 1); return it and this process's device."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device != "cpu" else "gloo"
        dist.init_process_group(backend)
    d = _Dist()
    if d.enabled and torch.cuda.is_available() and device != "cpu":
        local = int(os.environ.get("LOCAL_RANK", d.rank))
        torch.cuda.set_device(local)
        return d, f"cuda:{local}"
    from bgetune.core.models import best_device

    return d, best_device(device)


def _use_bf16(cfg: TrainConfig, device: str) -> bool:
    from bgetune.core.models import cpu_has_bf16

    if cfg.bf16 is not None:
        return cfg.bf16
    if os.environ.get("BGETUNE_NO_BF16") == "1":
        return False
    if device.startswith("cuda"):
        import torch

        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def _is_attention_probs_dropout(parent: Any) -> bool:
    name = parent.__class__.__name__
    return "Attention" in name and "Output" not in name


def set_train_dropout(model: Any, attention: float | None, hidden: float | None) -> dict[str, int]:
    """Set the dropout rate of the model's modules for training (the saved config is left as it was).

    Attention-probability dropout is the ``Dropout`` owned by a self-attention module (BERT/XLM-R
    ``*SelfAttention.dropout``, which transformers' SDPA path reads as ``dropout.p``); every other ``Dropout``
    is hidden dropout. ``None`` leaves that kind unchanged. Returns how many modules of each kind were set."""
    import torch

    counts = {"attention": 0, "hidden": 0}
    for parent in model.modules():
        for child in parent.children():
            if not isinstance(child, torch.nn.Dropout):
                continue
            if _is_attention_probs_dropout(parent):
                if attention is not None:
                    child.p = float(attention)
                    counts["attention"] += 1
            elif hidden is not None:
                child.p = float(hidden)
                counts["hidden"] += 1
    return counts


def _apply_lora(model: Any, r: int) -> None:
    from peft import LoraConfig, get_peft_model

    tm = model[0]
    attr = "model" if hasattr(tm, "model") else "auto_model"  # sentence-transformers >= 6 / older
    base = getattr(tm, attr)
    names = {n.split(".")[-1] for n, m in base.named_modules() if m.__class__.__name__ == "Linear"}
    targets = [t for t in ("query", "key", "value", "q_proj", "k_proj", "v_proj", "dense") if t in names]
    cfg = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.05, target_modules=targets or None)
    setattr(tm, attr, get_peft_model(base, cfg))


def _merged_copy(model: Any, lora: bool) -> Any:
    """A plain SentenceTransformer to save: LoRA adapters merged into the weights."""
    if not lora:
        return model
    m = copy.deepcopy(model)
    attr = "model" if hasattr(m[0], "model") else "auto_model"
    setattr(m[0], attr, getattr(m[0], attr).merge_and_unload())
    return m


def _save_model(model: Any, lora: bool, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    m = _merged_copy(model, lora)
    m.save(str(tmp), create_model_card=False)
    swap_dir_in(tmp, out)


def _peak_memory_gb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _default_lr(model: Any, lora: bool) -> float:
    n = sum(p.numel() for p in model.parameters())
    if lora:
        return 1e-4
    return 2e-5 if n < 150_000_000 else 1e-5


def _make_optimizer(
    model: Any, cfg: TrainConfig, lr: float, total_steps: int, vocab: VocabExtension | None = None
) -> tuple[Any, Any]:
    """AdamW with decay on matrices, linear warm-up and decay. With new tokens (``vocab``), the input embedding
    matrix is its own group at ``cfg.new_token_lr``, and only its new rows move."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    emb = transformer(model).get_input_embeddings().weight if vocab is not None and vocab.added else None
    decay = [p for p in params if p.ndim >= 2 and p is not emb]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if emb is not None:
        new_rows_only(emb, vocab.old_rows)
        groups.append({"params": [emb], "weight_decay": 0.0, "lr": cfg.new_token_lr})
    opt = torch.optim.AdamW(groups, lr=lr)
    warm = max(1, int(total_steps * cfg.warmup_ratio))

    def lam(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lam)


def _prepare(
    ws: Workspace, cfg: TrainConfig, device: str | None = None, model: Any = None, *, estimating: bool = False
) -> dict[str, Any]:
    """Model (family rules applied), data, device and loss settings shared by train() and estimate_training()."""
    import torch

    from bgetune.core.models import load_model

    resolved = resolve_for_workspace(ws, cfg.base_model)
    if cfg.family:
        resolved = resolved.with_family(cfg.family)
    device = device or cfg.device
    from bgetune.core.models import best_device

    device = best_device(device)
    if model is None:
        model = load_model(resolved, device=device)
    else:
        model.to(device)
    set_train_dropout(model, cfg.attention_dropout, cfg.hidden_dropout)
    prompt = (model.prompts or {}).get("query", "") or ""
    data = load_data(ws, model, cfg, prompt, estimating=estimating)
    model.max_seq_length = max(data.max_passage_len, data.max_query_len)
    dims = sorted({int(d) for d in cfg.matryoshka_dims or []}, reverse=True) or None
    full = model.get_embedding_dimension()
    if dims and (dims[0] > full or dims[-1] < 1):
        raise TrainingError(f"matryoshka dims {dims} must lie in 1..{full} (the model's embedding size)")
    if dims and dims[0] != full:
        dims = [full, *dims]
    torch.manual_seed(cfg.seed)
    objective = make_objective(cfg, data, resolved.family.temperature)
    return {
        "objective": objective,
        "resolved": resolved,
        "model": model,
        "data": data,
        "device": device,
        "dims": dims,
        "bf16": _use_bf16(cfg, str(device)),
        "scale": resolved.family.scale,
    }


def graph_mini_batch(cfg: TrainConfig, device: str) -> int | None:
    """The GradCache piece size a step uses: the one set, else CPU_GRAPH_SEQS on CPU/MPS, else None (whole
    batch)."""
    if cfg.mini_batch_size:
        return cfg.mini_batch_size
    return CPU_GRAPH_SEQS if str(device).split(":")[0] in ("cpu", "mps") else None


def _make_stepper(prep: dict[str, Any], cfg: TrainConfig, dist: _Dist | None = None) -> Stepper:
    return Stepper(
        prep["model"],
        prep["data"],
        scale=prep["scale"],
        dims=prep["dims"],
        hard=cfg.hard_negatives,
        device=prep["device"],
        bf16=prep["bf16"],
        mini_batch=graph_mini_batch(cfg, str(prep["device"])),
        dist=dist,
        objective=prep["objective"],
    )


# ---------------------------------------------------------------------------------------------- estimate
def estimate_training(
    ws: Workspace, config: TrainConfig, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Steps, expected wall time (from timing real steps here), peak memory and device, for approval."""
    import torch

    t0 = time.perf_counter()
    prep = _prepare(ws, config, estimating=True)
    model, data, device = prep["model"], prep["data"], prep["device"]
    if config.lora:
        _apply_lora(model, config.lora_r)
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    batches = plan_batches(data, config.batch_size, seed=config.seed, epoch=0)
    steps_epoch = len(batches)
    total = steps_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    stepper = _make_stepper(prep, config)
    toks = [stepper.tokens(b, 0) for b in batches]
    # time the steps nearest the median cost (one warm-up, then two measured)
    order = sorted(range(len(batches)), key=lambda i: abs(toks[i] - float(np.median(toks))))
    probe = [batches[i] for i in order[:3]]

    def time_steps() -> dict[str, Any]:
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-9)
        model.train()
        per_token: list[float] = []
        for n, b in enumerate(probe):
            t = time.perf_counter()
            stepper.loss_backward(b, 0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if str(device).startswith("cuda"):
                torch.cuda.synchronize()
            if n > 0 or len(probe) == 1:
                per_token.append((time.perf_counter() - t) / max(1, stepper.tokens(b, 0)))
            if progress:
                progress(n + 1, len(probe), "timing steps")
        return {"s_per_token": float(np.mean(per_token)), "peak_memory_gb": _peak_memory_gb(str(device))}

    # measured once per model, device, batch and length bucket, then reused (bgetune/tools/estimate_cache.py)
    from bgetune.tools import estimate_cache

    keyed = replace(config, mini_batch_size=graph_mini_batch(config, str(device)))
    ckey = estimate_cache.cache_key(
        prep["resolved"], str(device), data.max_passage_len, keyed, bf16=prep["bf16"]
    )
    steps_m = estimate_cache.measured(ws, ckey, "train_step", time_steps, progress=progress)
    cost = float(steps_m["s_per_token"])
    train_s = cost * sum(toks) * config.epochs
    if config.max_steps and total < steps_epoch * config.epochs:
        train_s *= total / (steps_epoch * config.epochs)
    # validation per epoch: encode the (capped) corpus + val queries; time 16 passages
    n_val = data.n_val
    eval_s = 0.0
    if n_val:
        from bgetune.core.models import encode

        def time_encode() -> dict[str, Any]:
            sample = [r["text"] for r in ws.query("SELECT text FROM chunks LIMIT 16")]
            model.eval()
            encode(model, sample[:2], kind="passage")  # warm-up
            t = time.perf_counter()
            encode(model, sample, kind="passage")
            return {"s_per_passage": (time.perf_counter() - t) / max(1, len(sample))}

        per = float(estimate_cache.measured(ws, ckey, "encode", time_encode)["s_per_passage"])
        n_chunks = min(config.val_corpus_max, int(ws.scalar("SELECT count(*) FROM chunks") or 0))
        eval_s = per * (n_chunks + n_val) * config.epochs
    seconds = train_s + eval_s + 10.0  # + loading and saving
    return {
        "steps": total,
        "steps_per_epoch": steps_epoch,
        "epochs": config.epochs,
        "pairs": len(data.examples),
        "val_pairs": n_val,
        "hard_negatives": sum(1 for e in data.examples if e.negs),
        "seconds": round(seconds, 1),
        "minutes": round(seconds / 60, 2),
        "train_seconds": round(train_s, 1),  # the timed steps (tools/budget.py plans from these)
        "val_seconds": round(eval_s, 1),
        "peak_memory_gb": round(float(steps_m.get("peak_memory_gb") or 0.0), 2),
        "reused_measurement": bool(steps_m.get("reused")),
        "device": str(device),
        "bf16": prep["bf16"],
        "batch_size": config.batch_size,
        "max_query_len": data.max_query_len,
        "max_passage_len": data.max_passage_len,
        "base_model": prep["resolved"].spec,
        "family": prep["resolved"].family.name,
        "lr": config.lr or _default_lr(model, config.lora),
        "attention_dropout": config.attention_dropout,
        "wise_ft": config.wise_ft,
        "objective": _objective_summary(prep["objective"], data),
        "teacher_info": data.teacher,  # not "teacher": that name is the setting's (the card shows settings by name)
        "teacher_scoring": _teacher_scoring_estimate(ws, config),
        "measured_in_s": round(time.perf_counter() - t0, 1),
    }


# ---------------------------------------------------------------------------------------------- checkpoints
def _latest_checkpoint(run_dir: Path) -> Path | None:
    best = None
    for d in run_dir.glob(CKPT_PREFIX + "*"):
        if d.is_dir() and (d / COMPLETE).exists():
            try:
                n = int(d.name[len(CKPT_PREFIX) :])
            except ValueError:
                continue
            if best is None or n > best[0]:
                best = (n, d)
    return best[1] if best else None


def _save_checkpoint(
    run_dir: Path, epoch: int, model: Any, opt: Any, sched: Any, state: dict[str, Any]
) -> Path:
    import torch

    out = run_dir / f"{CKPT_PREFIX}{epoch}"
    tmp = run_dir / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    sd = (
        {k: v for k, v in model.state_dict().items() if k in trainable}
        if state["config"]["lora"]
        else model.state_dict()
    )
    rng = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save(
        {"model": sd, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng},
        tmp / "state.pt",
    )
    atomic_write_json(tmp / "meta.json", state)
    (tmp / COMPLETE).write_text("ok\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    for old in run_dir.glob(CKPT_PREFIX + "*"):
        if old != out:
            shutil.rmtree(old, ignore_errors=True)
    return out


def _resumable_run(ws: Workspace) -> tuple[str, Path] | None:
    """The newest train run that did not finish and has a complete checkpoint."""
    for r in ws.query(
        "SELECT id, status, artifact_dir FROM runs WHERE kind='train' ORDER BY started_at DESC"
    ):
        if r["status"] == "done":
            return None
        run_dir = (
            Path(r["artifact_dir"]) if r["artifact_dir"] else ws.artifact_path("runs", r["id"], mkdir=False)
        )
        if _latest_checkpoint(run_dir):
            return r["id"], run_dir
    return None


# ---------------------------------------------------------------------------------------------- train
def train(
    ws: Workspace, config: TrainConfig, *, progress: Progress | None = None, model: Any = None
) -> dict[str, Any]:
    """Fine-tune on the workspace's train pairs; returns {run_id, model_dir, steps, loss_curve, best_val,
    resumed_from, ...}. With ``config.resume`` continue the last interrupted run from its last checkpoint."""
    import torch

    dist, device = _setup_distributed(config.device)
    cfg = config
    run_id: str | None = None
    run_dir: Path | None = None
    ckpt: Path | None = None
    note = None
    teacher_run = None
    if dist.main and not cfg.resume:
        teacher_run = ensure_teacher_scores(ws, cfg, progress=progress, model=model)
    if dist.main:
        if cfg.resume:
            found = _resumable_run(ws)
            if found:
                run_id, run_dir = found
                ckpt = _latest_checkpoint(run_dir)
                meta = json.loads((ckpt / "meta.json").read_text())
                saved = meta["config"]
                saved.update(
                    {"resume": True, "device": cfg.device, "epochs": max(cfg.epochs, saved["epochs"])}
                )
                if cfg.max_steps is not None:
                    saved["max_steps"] = cfg.max_steps
                cfg = TrainConfig(**saved)
                with ws.tx() as c:
                    c.execute(
                        "UPDATE runs SET status='running', finished_at=NULL, error=NULL WHERE id=?", (run_id,)
                    )
            else:
                note = "nothing to resume (no interrupted run with a checkpoint): starting a new run"
        if run_id is None:
            run_id = ws.start_run("train", cfg.to_dict())
            run_dir = ws.artifact_path("runs", run_id, "x").parent
            with ws.tx() as c:
                c.execute("UPDATE runs SET artifact_dir=? WHERE id=?", (str(run_dir), run_id))
    run_id, run_dir_s, ckpt_s, cfg_d = dist.broadcast(
        (run_id, str(run_dir) if run_dir else None, str(ckpt) if ckpt else None, cfg.to_dict())
    )
    cfg = TrainConfig(**cfg_d)
    run_dir = Path(run_dir_s)
    ckpt = Path(ckpt_s) if ckpt_s else None
    try:
        result = _train(ws, cfg, run_id, run_dir, ckpt, dist, device, progress, model)
        result["note"] = note
        if teacher_run:
            result["teacher_run"] = {
                k: teacher_run[k]
                for k in ("teacher", "reason", "check", "pairs", "cached", "false_negatives")
            }
        if dist.main:
            ws.finish_run(run_id, result=result, artifact_dir=str(run_dir))
        return result
    except BaseException as exc:
        if dist.main:
            status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
            ws.finish_run(run_id, status=status, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if dist.enabled:
            with contextlib.suppress(Exception):
                torch.distributed.barrier()


@dataclass
class _Run:
    """Per-run state of ``_train``: what ``_prepare`` loaded, the optimiser, the saved state (``meta.json`` of
    a checkpoint) and the throughput counters."""

    ws: Workspace
    cfg: TrainConfig
    run_id: str
    run_dir: Path
    dist: _Dist
    device: str
    progress: Progress | None
    prep: dict[str, Any]
    model: Any
    data: Data
    params: list[Any]
    steps_epoch: int
    total: int
    lr: float
    opt: Any
    sched: Any
    stepper: Stepper
    vals: list[dict[str, Any]]
    state: dict[str, Any]
    resumed_from: dict[str, Any] | None = None
    pairs_seen: int = 0
    train_time: float = 0.0

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def tuned_dir(self) -> Path:
        return self.run_dir / "model-tuned"


def _initial_state(cfg: TrainConfig, lr: float) -> dict[str, Any]:
    return {
        "config": cfg.to_dict(),
        "epoch": 0,
        "step": 0,
        "loss_curve": [],
        "val_history": [],
        "best_val": None,
        "best_epoch": None,
        "bad_epochs": 0,
        "base_val": None,
        "lr": lr,
    }


def _setup_run(
    ws: Workspace,
    cfg: TrainConfig,
    run_id: str,
    run_dir: Path,
    dist: _Dist,
    device: str,
    progress: Progress | None,
    model: Any,
) -> _Run:
    """Seed, load the model and data, apply LoRA, size the schedule and build the optimiser and stepper."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    prep = _prepare(ws, cfg, device=device, model=model)
    model, data = prep["model"], prep["data"]
    if cfg.lora:
        _apply_lora(model, cfg.lora_r)
    params = [p for p in model.parameters() if p.requires_grad]
    dist.broadcast_params(params)
    steps_epoch = len(plan_batches(data, cfg.batch_size, seed=cfg.seed, epoch=0)) // dist.world
    if steps_epoch == 0:
        raise TrainingError(f"{len(data.examples)} train pairs are too few for {dist.world} processes")
    total = steps_epoch * cfg.epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    lr = cfg.lr or _default_lr(model, cfg.lora)
    opt, sched = _make_optimizer(model, cfg, lr, total, data.vocab)
    stepper = _make_stepper(prep, cfg, dist)
    vals = val_queries(ws) if dist.main else []
    return _Run(ws=ws, cfg=cfg, run_id=run_id, run_dir=run_dir, dist=dist, device=device, progress=progress,
                prep=prep, model=model, data=data, params=params, steps_epoch=steps_epoch, total=total, lr=lr,
                opt=opt, sched=sched, stepper=stepper, vals=vals, state=_initial_state(cfg, lr))  # fmt: skip


def _load_checkpoint(run: _Run, ckpt: Path) -> None:
    """Restore the model, optimiser, scheduler, state and random generators of a checkpoint."""
    import torch

    blob = torch.load(ckpt / "state.pt", map_location=run.device, weights_only=False)
    run.model.load_state_dict(blob["model"], strict=not run.cfg.lora)
    run.opt.load_state_dict(blob["optimizer"])
    run.sched.load_state_dict(blob["scheduler"])
    run.state.update(json.loads((ckpt / "meta.json").read_text()))
    run.state["config"] = run.cfg.to_dict()
    rng = blob["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    run.resumed_from = {"epoch": run.state["epoch"], "step": run.state["step"], "checkpoint": str(ckpt)}


def _eval_base(run: _Run) -> None:
    """The base model's validation score, before any step."""
    from bgetune.core.models import model_fingerprint

    cfg = run.cfg
    run.state["base_val"] = evaluate_val(
        run.ws,
        run.model,
        run.vals,
        corpus_max=cfg.val_corpus_max,
        seed=cfg.seed,
        fingerprint=model_fingerprint(run.model),
    )


def _train_epoch(run: _Run, epoch: int) -> None:
    """This process's share of one epoch's batches, up to ``max_steps``."""
    import torch

    cfg, dist, state = run.cfg, run.dist, run.state
    run.model.train()
    batches = plan_batches(run.data, cfg.batch_size, seed=cfg.seed, epoch=epoch)
    mine = batches[dist.rank :: dist.world][: run.steps_epoch]
    t_epoch = time.perf_counter()
    for batch in mine:
        if cfg.max_steps and state["step"] >= cfg.max_steps:
            break
        loss = _step_with_oom_fallback(run.stepper, batch, epoch)
        dist.average_grads(run.params)
        torch.nn.utils.clip_grad_norm_(run.params, 1.0)
        run.opt.step()
        run.sched.step()
        run.opt.zero_grad(set_to_none=True)
        state["step"] += 1
        run.pairs_seen += len(batch) * dist.world
        state["loss_curve"].append([state["step"], round(loss, 5)])
        if run.progress and dist.main:
            run.progress(state["step"], run.total, f"epoch {epoch + 1}/{cfg.epochs} loss {loss:.4f}")
    run.train_time += time.perf_counter() - t_epoch


def _end_epoch(run: _Run, epoch: int, stop: bool) -> bool:
    """Main process, after an epoch: validate, keep the best model, early-stop on patience, save the loss curve
    and the checkpoint. Returns whether to stop."""
    cfg, state, model = run.cfg, run.state, run.model
    if run.vals:
        from bgetune.core.models import model_fingerprint

        v = evaluate_val(
            run.ws,
            model,
            run.vals,
            corpus_max=cfg.val_corpus_max,
            seed=cfg.seed,
            fingerprint=None if cfg.lora else model_fingerprint(model),  # LoRA's checkpoint is another module
        )
        state["val_history"].append({"epoch": epoch + 1, "step": state["step"], **v})
        best = state["best_val"]
        if best is None or v["ndcg@10"] > best["ndcg@10"] + 1e-6:
            state["best_val"], state["best_epoch"], state["bad_epochs"] = v, epoch + 1, 0
            _save_model(model, cfg.lora, run.model_dir)
        else:
            state["bad_epochs"] += 1
            if state["bad_epochs"] >= cfg.patience:
                state["stopped"] = stop = True
    else:
        _save_model(model, cfg.lora, run.model_dir)
        state["best_epoch"] = epoch + 1
    atomic_write_json(run.run_dir / "loss_curve.json", state["loss_curve"])
    if cfg.decide:  # every epoch is a candidate of the ship decision
        _save_model(model, cfg.lora, run.run_dir / "epochs" / f"epoch-{epoch + 1}")
    _save_checkpoint(run.run_dir, epoch + 1, model, run.opt, run.sched, state)
    return stop


def _finish_main(run: _Run) -> tuple[Any, dict[str, Any] | None]:
    """Main process, after the last epoch: the ship decision (or the WiSE-FT merge), the exported model and its
    ``bgetune.json``. Returns (decision, merged_val)."""
    cfg, prep, state, model_dir = run.cfg, run.prep, run.state, run.model_dir
    merged_val = None
    decision = None
    if cfg.decide:
        from bgetune.tools.decision import decide_after_training

        decision = decide_after_training(
            run.ws,
            run_id=run.run_id,
            run_dir=run.run_dir,
            resolved=prep["resolved"],
            device=str(prep["device"]),
            extra_alphas=(cfg.wise_ft,),
            pairs=len(run.data.examples),
            progress=run.progress,
        )
    if decision is None and cfg.wise_ft < 1.0 and (model_dir.exists() or run.tuned_dir.exists()):
        merged_val = _wise_ft(run.ws, prep, model_dir, run.tuned_dir, cfg, run.vals)
    if not model_dir.exists():
        _save_model(run.model, cfg.lora, model_dir)
    atomic_write_json(run.run_dir / "loss_curve.json", state["loss_curve"])
    atomic_write_json(
        model_dir / "bgetune.json",
        {
            "base_model": prep["resolved"].spec,
            "base_family": prep["resolved"].family.name,
            "run_id": run.run_id,
            "scale": prep["scale"],
            "query_prompt": (run.model.prompts or {}).get("query", ""),
            "best_epoch": state["best_epoch"],
            "best_val": state["best_val"],
            "base_val": state["base_val"],
            "wise_ft": cfg.wise_ft,
            "merged_val": merged_val,
            "decision": decision.to_dict() if decision else None,
            "objective": _objective_summary(prep["objective"], run.data),
            "teacher": run.data.teacher,
        },
    )
    return decision, merged_val


def _val_verdict(state: dict[str, Any], decision: Any) -> tuple[bool | None, str | None]:
    """(whether the best epoch beats the base on validation, the warning to show)."""
    base_v, best_v = (state["base_val"] or {}).get("ndcg@10"), (state["best_val"] or {}).get("ndcg@10")
    beats_base = None if base_v is None or best_v is None else bool(best_v > base_v + 1e-6)
    warning = (
        f"no epoch beat the base model on validation (val nDCG@10 {best_v:.4f} at best vs base {base_v:.4f}); "
        "the exported model is the best epoch, but the base may serve you better: add or fix pairs, lower the "
        "learning rate, or keep the base (bgetune eval compares both on your own questions)"
        if beats_base is False
        else None
    )
    if decision is not None and not decision.ship:
        warning = decision.text("en")
    return beats_base, warning


def _train_result(
    run: _Run, decision: Any, merged_val: dict[str, Any] | None, t_start: float
) -> dict[str, Any]:
    """The result dict of ``train``."""
    cfg, prep, state, data, run_dir = run.cfg, run.prep, run.state, run.data, run.run_dir
    beats_base, warning = _val_verdict(state, decision)
    return {
        "run_id": run.run_id,
        "model_dir": str(run.model_dir),
        "run_dir": str(run_dir),
        "beats_base_on_val": beats_base,
        "wise_ft": cfg.wise_ft,
        "merged_val": merged_val or {},
        "tuned_model_dir": str(run.tuned_dir) if run.tuned_dir.exists() else None,
        "decision": decision.to_dict() if decision else None,
        "shipped": decision.shipped if decision else None,
        "best_tuned_dir": str(run_dir / "model-best-tuned") if decision and not decision.ship else None,
        "warning": warning,
        "steps": state["step"],
        "epochs_done": state["epoch"],
        "loss_curve": state["loss_curve"],
        "best_val": state["best_val"] or {},
        "base_val": state["base_val"] or {},
        "best_epoch": state["best_epoch"],
        "val_history": state["val_history"],
        "early_stopped": bool(state.get("stopped")),
        "resumed_from": run.resumed_from,
        "pairs": len(data.examples),
        "pairs_with_negatives": sum(1 for e in data.examples if e.negs),
        "objective": _objective_summary(prep["objective"], data),
        "teacher": data.teacher,
        "new_tokens": data.vocab.to_dict() if data.vocab is not None else None,
        "base_model": prep["resolved"].spec,
        "family": prep["resolved"].family.name,
        "scale": prep["scale"],
        "lr": run.lr,
        "batch_size": cfg.batch_size,
        "world_size": run.dist.world,
        "max_query_len": data.max_query_len,
        "max_passage_len": data.max_passage_len,
        "bf16": prep["bf16"],
        "device": str(run.device),
        "pairs_per_s": round(run.pairs_seen / run.train_time, 2) if run.train_time > 0 else None,
        "seconds": round(time.perf_counter() - t_start, 1),
        "config": cfg.to_dict(),
    }


def _train(
    ws: Workspace,
    cfg: TrainConfig,
    run_id: str,
    run_dir: Path,
    ckpt: Path | None,
    dist: _Dist,
    device: str,
    progress: Progress | None,
    model: Any,
) -> dict[str, Any]:
    t_start = time.perf_counter()
    run = _setup_run(ws, cfg, run_id, run_dir, dist, device, progress, model)
    if ckpt is not None:
        _load_checkpoint(run, ckpt)
    elif dist.main and run.vals:
        _eval_base(run)
    stop = run.state.get("stopped", False)
    for epoch in range(run.state["epoch"], cfg.epochs):
        if stop or (cfg.max_steps and run.state["step"] >= cfg.max_steps):
            break
        _train_epoch(run, epoch)
        run.state["epoch"] = epoch + 1
        if dist.main:
            stop = _end_epoch(run, epoch, stop)
        stop = bool(dist.broadcast(stop))
        dist.barrier()
    decision, merged_val = _finish_main(run) if dist.main else (None, None)
    return _train_result(run, decision, merged_val, t_start)


def _objective_summary(o: Objective, data: Data) -> dict[str, Any]:
    """The objective in words and numbers, for the run result, bgetune.json and the model card."""
    out: dict[str, Any] = {"kind": o.kind, "contrastive_weight": o.contrastive_weight}
    if o.distills:
        out |= {
            "distill_weight": o.distill_weight,
            "base_weight": o.base_weight,
            "student_temperature": o.student_t,
            "teacher_temperature": o.teacher_t,
            "candidates_per_query": o.candidates,
            "queries_with_teacher_scores": sum(1 for e in data.examples if e.cands),
        }
    out["teacher_false_negatives"] = data.false_negatives
    what = {
        "contrastive": "in-batch contrastive loss (MNRL)",
        "distill": f"listwise KL from the teacher (temperatures student {o.student_t:g}, teacher {o.teacher_t:g})"
        f" + {o.contrastive_weight:g} x contrastive",
        "margin-mse": f"MarginMSE on the teacher's margins + {o.contrastive_weight:g} x contrastive",
    }[o.kind]
    if o.base_weight > 0:
        what += f" + {o.base_weight:g} x KL to the base model"
    out["text"] = what
    return out


def _wise_ft(
    ws: Workspace, prep: dict[str, Any], model_dir: Path, tuned_dir: Path, cfg: TrainConfig, vals: list[Any]
) -> dict[str, Any] | None:
    """Move the best epoch's weights to ``tuned_dir`` and write their WiSE-FT merge with the base to
    ``model_dir``. Idempotent: a run killed half-way redoes it from ``tuned_dir`` on ``--resume``."""
    from sentence_transformers import SentenceTransformer

    from bgetune.core.models import load_model
    from bgetune.tools.merge import merge_weights

    if not tuned_dir.exists():
        os.replace(model_dir, tuned_dir)
    device = str(prep["device"])
    tuned = SentenceTransformer(str(tuned_dir), device=device, local_files_only=True)
    base = load_model(prep["resolved"], device=device)
    merged = merge_weights(base, tuned, cfg.wise_ft)
    _save_model(merged, False, model_dir)
    if not vals:
        return None
    from bgetune.core.models import model_fingerprint

    return evaluate_val(
        ws, merged, vals, corpus_max=cfg.val_corpus_max, seed=cfg.seed, fingerprint=model_fingerprint(merged)
    )


def _step_with_oom_fallback(stepper: Stepper, batch: list[int], epoch: int) -> float:
    """One forward+backward; on CUDA out-of-memory switch to the GradCache loss (same batch, smaller pieces)."""
    import torch

    while True:
        try:
            return stepper.loss_backward(batch, epoch)
        except torch.cuda.OutOfMemoryError:
            mb = stepper.mini_batch or len(batch)
            if mb <= 2:
                raise
            stepper.mini_batch = mb // 2
            torch.cuda.empty_cache()
            for p in stepper.embed.model.parameters():
                p.grad = None
