"""The models a diagnosis loads (kept in memory across diagnoses), what they read, and the ones we may advise."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKENIZER_POOR = (
    0.15  # unknown + byte-fallback share of the query's tokens above which the tokenizer fails it
)
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_MODEL_CACHE: dict[tuple[str, str, float], Any] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelAdvice:
    """A base model we may recommend, with what it costs."""

    model: str
    params_m: float  # millions of parameters
    download_gb: float
    dim: int
    languages: str
    languages_zh: str


MULTILINGUAL = ModelAdvice(
    "BAAI/bge-m3", 568, 2.3, 1024, "100+ languages, cross-lingual", "100 多种语言，可跨语言"
)
CHINESE = ModelAdvice(
    "BAAI/bge-small-zh-v1.5", 24, 0.1, 512, "Chinese (and some English)", "中文（兼顾少量英文）"
)


def _mtime(path: str) -> float:
    p = Path(path)
    if not p.is_dir():
        return 0.0
    return max((f.stat().st_mtime for f in p.iterdir() if f.is_file()), default=0.0)


def load_cached(resolved: Any) -> Any:
    """A loaded model, kept in memory across diagnoses (keyed by path, family rules and file times)."""
    from bgetune.core.models import load_model

    key = (resolved.key, resolved.path, _mtime(resolved.path))
    with _CACHE_LOCK:
        if key not in _MODEL_CACHE:
            if len(_MODEL_CACHE) >= 4:
                _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
            _MODEL_CACHE[key] = load_model(resolved)
        return _MODEL_CACHE[key]


def model_languages(resolved: Any) -> str | None:
    """'multi', 'zh', 'en' or None (unknown) for a resolved base model, from its name and family."""
    hint = f"{resolved.spec} {resolved.path} {resolved.family.name}".lower()
    if any(k in hint for k in ("bge-m3", "multilingual", "xlm", "labse", "gte-multi", "e5-m")):
        return "multi"
    if resolved.family.name == "bge-zh" or "-zh" in hint or "chinese" in hint or "text2vec" in hint:
        return "zh"
    if resolved.family.name == "bge-en" or resolved.spec == "bundled" or "minilm" in hint or "-en" in hint:
        return "en"
    return None


def display_name(spec: str) -> str:
    return "bundled all-MiniLM-L6-v2" if spec == "bundled" else spec


def cached_offline(model_id: str) -> bool:
    try:
        from bgetune.core.models import _hub_cached_path

        return _hub_cached_path(model_id) is not None
    except Exception:  # pragma: no cover - hub library quirks
        return False


@dataclass
class TokenizerCoverage:
    """How well the base model's tokenizer reads the query: unknown and byte-fallback pieces, measured."""

    model: str
    tokens: int
    unknown: int
    byte_fallback: int
    rate: float  # (unknown + byte_fallback) / tokens
    pieces: list[str]

    @property
    def poor(self) -> bool:
        return self.tokens > 0 and self.rate >= TOKENIZER_POOR


def tokenizer_coverage(model: Any, text: str, model_name: str = "") -> TokenizerCoverage:
    tok = model.tokenizer
    pieces = [str(p) for p in tok.tokenize(text)]
    unk = sum(1 for p in pieces if tok.unk_token is not None and p == tok.unk_token)
    byte = sum(1 for p in pieces if _BYTE_PIECE.match(p))
    n = len(pieces)
    return TokenizerCoverage(model_name, n, unk, byte, round((unk + byte) / n, 3) if n else 0.0, pieces[:24])


def recommend(advice: ModelAdvice, current: Any) -> dict[str, Any]:
    """The advice with what it costs against the ``current`` model (parameters, ratio, cached locally or not)."""
    from dataclasses import asdict

    current_m = sum(p.numel() for p in current.parameters()) / 1e6
    return {
        **asdict(advice),
        "current_m": round(current_m, 1),
        "ratio": round(advice.params_m / max(current_m, 1e-6), 1),
        "cached": cached_offline(advice.model),
    }
