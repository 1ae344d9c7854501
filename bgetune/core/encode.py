"""Encoding with progress that moves: texts are length-sorted, encoded one batch per call, and after each batch
the Progress callback gets ``(texts done, total, "label · about 1 min 20 s left")``.

The time left is estimated from characters, not texts: batches run longest first, so a count-based estimate
would start far too high. Renderers (the CLI's tqdm bar, the chat UI) show the label as given; the CLI strips
the ``ETA_MARK`` part because tqdm draws its own estimate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Progress = Callable[[int, int, str], None]

ETA_MARK = " · about "  # label suffix: "<label> · about 1 min 20 s left"


def format_eta(seconds: float) -> str:
    """``about 40 s left`` / ``about 3 min 5 s left`` / ``about 1 h 12 min left`` (seconds rounded up to 5)."""
    s = max(0, int(seconds + 0.999))
    if s < 60:
        return f"{max(5, (s + 4) // 5 * 5)} s left"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m} min {r} s left" if m < 10 and r else f"{m} min left"
    h, r = divmod(s, 3600)
    return f"{h} h {r // 60} min left"


class EtaClock:
    """Time left for work measured in ``units`` (characters here): elapsed * remaining / done."""

    def __init__(self, total_units: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = float(total_units)
        self.clock = clock
        self.t0 = clock()

    def seconds_left(self, done_units: float) -> float | None:
        elapsed = self.clock() - self.t0
        if done_units <= 0 or elapsed <= 0:
            return None
        return elapsed * max(0.0, self.total - done_units) / done_units

    def label(self, label: str, done_units: float) -> str:
        left = self.seconds_left(done_units)
        if left is None or done_units >= self.total:
            return label
        return f"{label}{ETA_MARK}{format_eta(left)}"


def strip_eta(label: str) -> str:
    """The label without its ``· about ... left`` part (for renderers that draw their own estimate)."""
    return label.split(ETA_MARK, 1)[0]


def length_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices of ``texts``, longest first, cut into batches of ``batch_size``: similar lengths share a batch,
    so padding is small (sentence-transformers does the same inside one call)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def encode_with_progress(
    model: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
    label: str = "texts encoded",
    **kw: Any,
) -> Any:
    """``model.encode(texts, **kw)`` one length-sorted batch per call, reporting ``(done, total, label + ETA)``
    after each batch (and ``(0, total, label)`` before the first). Returns what ``model.encode`` returns for the
    whole list, in the input order: a numpy array, or a torch tensor with ``convert_to_tensor=True``."""
    texts = list(texts)
    total = len(texts)
    kw.setdefault("show_progress_bar", False)
    if progress is None or total <= batch_size:
        if progress:
            progress(0, total, label)
        out = model.encode(texts, batch_size=batch_size, **kw)
        if progress:
            progress(total, total, label)
        return out
    batches = length_batches(texts, batch_size)
    clock = EtaClock(sum(len(t) for t in texts))
    progress(0, total, label)
    parts: list[Any] = []
    done = done_chars = 0
    for idx in batches:
        batch = [texts[i] for i in idx]
        parts.append(model.encode(batch, batch_size=batch_size, **kw))
        done += len(batch)
        done_chars += sum(len(t) for t in batch)
        progress(done, total, clock.label(label, done_chars))
    order = np.concatenate([np.asarray(b) for b in batches])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    first = parts[0]
    if hasattr(first, "detach"):  # torch tensors
        import torch

        return torch.cat(list(parts))[torch.as_tensor(inverse, device=first.device)]
    return np.concatenate([np.asarray(p) for p in parts])[inverse]
