"""Training estimates in seconds: what a training estimate measured (the time per token of a training step, the
time to encode a passage, the peak memory) is kept per model, device, batch and length bucket in the workspace,
so the next approval card for the same kind of run reuses it instead of timing steps again.

A measurement is only reused for the same model weights (path, family and file times), device, precision,
adapters, batch size and sequence-length bucket; anything else measures afresh. Delete
``artifacts/estimate_cache.json`` to measure again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bgetune.core.workspace import atomic_write_json

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

CACHE_FILE = "estimate_cache.json"
MIN_BUCKET = 32
_LOCK = threading.Lock()


def length_bucket(tokens: int | float) -> int:
    """The power of two at or above ``tokens`` (at least 32): sequences of one bucket cost about the same."""
    b = MIN_BUCKET
    while b < tokens:
        b *= 2
    return b


def _weights_time(path: str) -> int:
    p = Path(path)
    if not p.is_dir():
        return 0
    return int(max((f.stat().st_mtime for f in p.iterdir() if f.is_file()), default=0))


def cache_key(resolved: Any, device: str, max_len: int, config: Any, *, bf16: bool = False) -> str:
    """What a step's cost depends on: the model (path, family, file times), device, precision, adapters, batch
    size, mini-batch, hard negatives, the distilled candidates per query and the sequence-length bucket."""
    parts = [
        str(getattr(resolved, "key", resolved)),
        str(_weights_time(str(getattr(resolved, "path", "")))),
        str(device),
        "bf16" if bf16 else "fp32",
        f"lora{getattr(config, 'lora_r', 0)}" if getattr(config, "lora", False) else "full",
        f"bs{getattr(config, 'batch_size', 0)}",
        f"mb{getattr(config, 'mini_batch_size', 0) or 0}",
        f"hn{getattr(config, 'hard_negatives', 0) or 0}",
        f"kd{getattr(config, 'distill_candidates', 0) if getattr(config, 'objective', 'contrastive') != 'contrastive' else 0}",
        f"len{length_bucket(max_len)}",
    ]
    return "|".join(parts)


def _path(ws: Workspace) -> Path:
    return ws.artifact_path(CACHE_FILE)


def _read(ws: Workspace) -> dict[str, Any]:
    path = ws.artifact_path(CACHE_FILE, mkdir=False)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a broken cache only means measuring again
    return data if isinstance(data, dict) else {}


def lookup(ws: Workspace, key: str, what: str) -> dict[str, Any] | None:
    """The stored measurement ``what`` under ``key``, or None."""
    entry = (_read(ws).get(key) or {}).get(what)
    return entry if isinstance(entry, dict) else None


def store(ws: Workspace, key: str, what: str, values: dict[str, Any]) -> None:
    with _LOCK:
        data = _read(ws)
        data.setdefault(key, {})[what] = values | {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        atomic_write_json(_path(ws), data)


def measured(
    ws: Workspace,
    key: str,
    what: str,
    measure: Callable[[], dict[str, Any]],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """The measurement ``what`` under ``key``: reused when stored (``reused`` is True), else measured and
    stored. ``measure`` returns plain numbers."""
    hit = lookup(ws, key, what)
    if hit is not None:
        if progress:
            progress(1, 1, f"reused the last measurement ({what.replace('_', ' ')})")
        return hit | {"reused": True}
    values = measure()
    store(ws, key, what, values)
    return values | {"reused": False}
