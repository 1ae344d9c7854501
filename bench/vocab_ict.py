"""New tokens trained alone (tools/vocab.py, issue 25): extend the bundled model's vocabulary with the corpus's
Chinese characters it reads as [UNK] (each row a copy of the [UNK] row, so the model starts identical to the
base), train ONLY the new rows with an inverse-cloze objective (a sentence of a passage -> its passage, in-batch
negatives), then score the set's real questions. No generated query and no teacher: the corpus alone.

    python bench/vocab_ict.py debian-faq-zh --steps 150 --lr 2e-3
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SETS = REPO / "bench" / "suite" / "sets"
SENTENCE = re.compile(r"[^。！？\n]{8,80}[。！？]")


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def main() -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F  # noqa: N812

    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.tools.evaluation import paired_bootstrap
    from bgetune.tools.teacher import ndcg10
    from bgetune.tools.vocab import extend_vocab, new_rows_only

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("set", help="a set of bench/suite/sets (debian-faq-zh, ctex-faq)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    corpus = load_jsonl(SETS / args.set / "corpus.jsonl")
    golden = load_jsonl(SETS / args.set / "golden.jsonl")
    texts, ids = [c["text"] for c in corpus], [str(c["id"]) for c in corpus]
    queries = [g["query"] for g in golden]
    positives = [set(map(str, g.get("pos_ids") or [])) for g in golden]

    def evaluate(model) -> list[float]:
        model.eval()
        with torch.no_grad():
            p = model.encode(texts, batch_size=32, normalize_embeddings=True)
            q = model.encode(queries, batch_size=32, normalize_embeddings=True)
        s = q @ p.T
        return [ndcg10([ids[j] for j in np.argsort(-s[i])[:10]], positives[i]) for i in range(len(queries))]

    model = load_model(resolve_base_model("bundled"), device="cpu")
    model.max_seq_length = 128
    base = evaluate(model)
    ext = extend_vocab(model, texts, "on")
    same = evaluate(model)
    print(f"base {np.mean(base):.4f}; extended, untrained {np.mean(same):.4f}; {ext.added} new tokens", flush=True)
    for p in model.parameters():
        p.requires_grad_(False)
    weight = model[0].auto_model.get_input_embeddings().weight
    weight.requires_grad_(True)
    new_rows_only(weight, ext.old_rows)
    opt = torch.optim.AdamW([weight], lr=args.lr, weight_decay=0.0)
    pairs = [(s, t) for t in texts for s in SENTENCE.findall(t)[:3]]
    random.Random(0).shuffle(pairs)
    model.train()
    t0 = time.time()

    def embed(batch: list[str]):
        return F.normalize(model(model.tokenize(batch))["sentence_embedding"], dim=-1)

    for step in range(args.steps):
        b = [pairs[(step * args.batch + i) % len(pairs)] for i in range(args.batch)]
        loss = F.cross_entropy(embed([x[0] for x in b]) @ embed([x[1] for x in b]).T / 0.05, torch.arange(len(b)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.3f} {time.time() - t0:.0f} s", flush=True)
    tuned = evaluate(model)
    ci = paired_bootstrap(base, tuned, n_resamples=1000, seed=0)
    print(
        f"{args.set}: {len(pairs)} sentence pairs; base {np.mean(base):.4f} -> new rows trained {np.mean(tuned):.4f}, "
        f"gain {ci['diff']:+.4f} [{ci['low']:+.4f}, {ci['high']:+.4f}]"
    )


if __name__ == "__main__":
    main()
