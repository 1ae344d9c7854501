"""New tokens for text the base model cannot read.

An English WordPiece model (the bundled MiniLM, bge-*-en) maps most Chinese characters to one token, ``[UNK]``:
on the bench's Chinese sets 57-58% of the real questions' word pieces. Every such character then looks the same
to the model, and no training objective can teach it what it cannot see. On debian-faq-zh's 118 real questions,
adding the corpus's unknown characters as new tokens and training only their rows on the corpus alone (a sentence
of a passage -> its passage; ``bench/vocab_ict.py``) raised nDCG@10 above the base (``bench/RESULTS.md``).

Opt-in (``extend_vocab`` 'auto' or 'on'): run inside the pipeline's training, where the new rows get only that
run's steps (18 on debian-faq-zh), 'auto' shipped +0.056 [+0.021, +0.094] against +0.062 [+0.025, +0.102] without
it; the rows need more steps than the pairs give (``bench/RESULTS.md``).

Each new row starts as a copy of the ``[UNK]`` row, so the extended model computes exactly what the base
computes on every text until training moves the rows apart. During training the new rows get their own learning
rate (``new_token_lr``), while the base's own rows stay as they were. A weight merge with the base
(:func:`bgetune.tools.merge.merge_weights`) extends the base the same way, so WiSE-FT mixes stay exact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bgetune.core.models import UNK_WARN

MIN_COUNT = 2  # a piece seen once teaches its row almost nothing
MAX_NEW_TOKENS = 8000  # the most frequent pieces first
NEW_TOKEN_LR = 2e-3  # Adam's step size for the new rows (the base's rows keep theirs)


@dataclass
class VocabExtension:
    """What extending the vocabulary did (``added`` 0: nothing, with ``reason``)."""

    added: int = 0
    old_rows: int = 0
    unknown_rate: float = 0.0  # share of [UNK] tokens in the training texts, before
    pieces_seen: int = 0  # distinct unknown pieces (before MIN_COUNT / MAX_NEW_TOKENS)
    examples: list[str] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unknown_rate": round(self.unknown_rate, 4),
            "pieces_seen": self.pieces_seen,
            "examples": self.examples,
            "reason": self.reason,
        }


def unknown_pieces(tokenizer: Any, texts: list[str]) -> tuple[Counter[str], int, int]:
    """(the text pieces the tokenizer maps to its unknown token, with counts; unknown tokens; all tokens).
    Pieces are normalised as the tokenizer normalises its input (lower case for uncased models)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    counts: Counter[str] = Counter()
    if unk is None or not texts or not getattr(tokenizer, "is_fast", False):
        return counts, 0, 0
    backend = tokenizer.backend_tokenizer
    norm = backend.normalizer
    n_unk = n_all = 0
    for b in range(0, len(texts), 256):
        batch = texts[b : b + 256]
        enc = tokenizer(batch, add_special_tokens=False, truncation=False, return_offsets_mapping=True)
        for text, ids, offs in zip(batch, enc["input_ids"], enc["offset_mapping"], strict=True):
            n_all += len(ids)
            for i, (s, e) in zip(ids, offs, strict=True):
                if i == unk and e > s:
                    n_unk += 1
                    # BERT's normaliser pads Chinese characters with spaces: strip them
                    piece = (norm.normalize_str(text[s:e]) if norm is not None else text[s:e]).strip()
                    if piece and not any(c.isspace() for c in piece):
                        counts[piece] += 1
    return counts, n_unk, n_all


def transformer(model: Any) -> Any:
    """The transformer inside a SentenceTransformer (its first module's ``auto_model``), or None."""
    first = model[0] if len(model) else None
    return getattr(first, "auto_model", None)


def extend_vocab(model: Any, texts: list[str], mode: str = "auto") -> VocabExtension:
    """Add the pieces of ``texts`` that ``model``'s tokenizer cannot read as new tokens, each row a copy of the
    unknown token's row (the model's output is unchanged). ``mode``: 'on', 'auto' (when at least ``UNK_WARN``
    of the tokens are unknown) or 'off'."""
    import torch

    if mode == "off":
        return VocabExtension(reason="off")
    tok = getattr(model, "tokenizer", None)
    auto = transformer(model)
    if tok is None or auto is None:
        return VocabExtension(reason="the model has no tokenizer or transformer to extend")
    counts, n_unk, n_all = unknown_pieces(tok, texts)
    rate = n_unk / n_all if n_all else 0.0
    out = VocabExtension(unknown_rate=rate, pieces_seen=len(counts))
    if not counts:
        out.reason = "the base model reads every token of the training texts"
        return out
    if mode == "auto" and rate < UNK_WARN:
        out.reason = f"{rate:.0%} of the training texts' tokens are unknown to the base (below {UNK_WARN:.0%})"
        return out
    emb = auto.get_input_embeddings()
    rows = int(emb.weight.shape[0])
    if len(tok) != rows:
        out.reason = f"the tokenizer has {len(tok)} tokens but the model {rows} embedding rows"
        return out
    pieces = [p for p, c in counts.most_common(MAX_NEW_TOKENS) if c >= MIN_COUNT]
    added = tok.add_tokens(pieces)
    if not added:
        out.reason = f"no piece is seen {MIN_COUNT} times or more"
        return out
    auto.resize_token_embeddings(len(tok), mean_resizing=False)
    weight = auto.get_input_embeddings().weight
    with torch.no_grad():
        weight[rows:] = weight[tok.unk_token_id]
    out.added, out.old_rows, out.examples = added, rows, pieces[:12]
    return out


def new_rows_only(weight: Any, old_rows: int) -> Any:
    """Let training move only the rows from ``old_rows`` on (a gradient hook); returns the hook's handle."""
    import torch

    mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
    mask[old_rows:] = 1
    return weight.register_hook(lambda g: g * mask.to(g.dtype))


def pad_like(base_w: Any, tuned_w: Any, unk_id: int | None) -> Any:
    """``base_w`` with the rows ``tuned_w`` has beyond it, each a copy of the base's unknown-token row: the base
    as an extended model that computes the same as the base."""
    import torch

    extra = int(tuned_w.shape[0]) - int(base_w.shape[0])
    if extra <= 0 or unk_id is None or tuned_w.shape[1:] != base_w.shape[1:]:
        return base_w
    return torch.cat([base_w, base_w[unk_id : unk_id + 1].expand(extra, *base_w.shape[1:])], dim=0)
