"""ONNX and int8 files inside an exported sentence-transformers folder, each measured against the torch model.

``export_onnx(folder, quantize="int8")`` writes ``onnx/model.onnx`` (fp32, the transformer's
``last_hidden_state`` for ``input_ids``/``attention_mask``/``token_type_ids``, the layout optimum and
sentence-transformers' ``backend="onnx"`` load) and ``onnx/model_qint8.onnx`` (dynamic int8, per-channel MatMul
weights), then measures each file: cosine with the torch embeddings and, when there is an evaluation set,
nDCG@10. The figures go to ``bgetune.json`` (``onnx``) and a section of the model card.

Why not sentence-transformers' ``export_optimized_onnx_model`` / ``export_dynamic_quantized_onnx_model``: they
need optimum-onnx, whose every release pins transformers < 4.58 while sentence-transformers 6 needs
transformers >= 5; with transformers 5 installed beside it, optimum fails on import (measured 2026-12-02:
``ImportError: cannot import name 'get_parameter_dtype'``). torch's exporter and onnxruntime's quantizer have no
such pin; the files are the same layout, so ``SentenceTransformer(dir, backend="onnx",
model_kwargs={"file_name": "onnx/model_qint8.onnx"})`` loads them wherever optimum works, and
``bgetune serve --backend onnx`` runs them with onnxruntime alone.

``check_folder`` verifies the files that text-embeddings-inference, vLLM and Infinity read from the folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import atomic_write_json, atomic_write_text, now_iso

if TYPE_CHECKING:
    from bgetune.tools.evaluation import QuerySet

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8.onnx"
# onnxruntime's transformer fusions (one Attention, EmbedLayerNormalization, SkipLayerNormalization and BiasGelu op
# per layer, from a graph exported with eager attention) then dynamic int8 on every weight: the fastest CPU file
# measured (bench/serve.py). Its fused ops are onnxruntime contrib ops: only onnxruntime runs it.
FUSED_INT8_FILE = "onnx/model_fused_qint8.onnx"
CARD_START, CARD_END = "<!-- onnx:start -->", "<!-- onnx:end -->"
USE_START, USE_END = "<!-- use:start -->", "<!-- use:end -->"

# measured when there is no evaluation set: short and long, questions and statements, en and zh
PROBE_TEXTS = [
    "How do I install a package from a local file?",
    "The configuration file is read once at start-up; edit it and restart the service to apply changes.",
    "What is the maximum upload size?",
    "Backups run every night at 02:00 and are kept for thirty days on the secondary storage cluster.",
    "如何重置密码？",
    "食品生产经营者应当依照法律、法规和食品安全标准从事生产经营活动，保证食品安全。",
    "error 404 when calling the API",
    "Releases are tagged in git; the changelog lists every user-visible change with the issue number.",
]


class OnnxExportError(BgetuneError):
    """The ONNX files cannot be written: a missing extra, a folder that is not a model, an unsupported model."""


@dataclass
class OnnxFileReport:
    file: str
    megabytes: float
    cosine_mean: float
    cosine_min: float
    ndcg_at_10: float | None = None
    ndcg_delta_vs_torch: float | None = None


@dataclass
class OnnxExportResult:
    model_dir: str
    files: list[OnnxFileReport]
    torch_ndcg_at_10: float | None
    measured_on: str
    folder_problems: list[str] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        rows = []
        for f in self.files:
            nd = (
                f", nDCG@10 {f.ndcg_at_10:.4f} ({f.ndcg_delta_vs_torch:+.4f} vs torch)"
                if f.ndcg_at_10 is not None and f.ndcg_delta_vs_torch is not None
                else ""
            )
            rows.append(f"  {f.file}: {f.megabytes:.0f} MB, cosine with torch min {f.cosine_min:.4f}{nd}")
        if lang == "zh":
            head = f"已在 {self.model_dir} 写出 ONNX 文件（质量测于 {self.measured_on}）："
            tail = "用法：bgetune serve --backend onnx [--onnx-file onnx/model_qint8.onnx]"
        else:
            head = f"wrote ONNX files into {self.model_dir} (quality measured on {self.measured_on}):"
            tail = "serve them: bgetune serve --backend onnx [--onnx-file onnx/model_qint8.onnx]"
        probs = [f"  folder check: {p}" for p in self.folder_problems]
        return "\n".join([head, *rows, *probs, tail])


# ---------------------------------------------------------------------------------------- folder check
def check_folder(model_dir: str | Path) -> list[str]:
    """What text-embeddings-inference, vLLM (``--runner pooling``) and Infinity would miss in the folder.

    They read: ``modules.json`` (module order and folders), the pooling module's ``config.json``,
    ``config.json`` (architecture), ``tokenizer.json`` (TEI needs the fast tokenizer file), the weights
    (``model.safetensors``; TEI's CPU image may use ``onnx/model.onnx``), ``sentence_bert_config.json``
    (max length) and ``config_sentence_transformers.json`` (prompts). Empty list = nothing missing."""
    d = Path(model_dir)
    problems: list[str] = []

    def load(rel: str) -> Any:
        p = d / rel
        if not p.is_file():
            problems.append(f"{rel} is missing")
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"{rel} is not valid JSON: {exc}")
            return None

    modules = load("modules.json")
    if isinstance(modules, list):
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if not kinds or kinds[0] != "Transformer":
            problems.append(f"modules.json starts with {kinds[:1]}, not a Transformer module")
        for m, kind in zip(modules, kinds, strict=True):
            if m.get("path") and kind != "Normalize" and not (d / m["path"]).is_dir():
                problems.append(f"modules.json names folder {m['path']!r}, which is missing")
        pool = next((m for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
        if pool is None:
            problems.append("modules.json has no Pooling module (TEI and vLLM would guess the pooling)")
        else:
            cfg = load(f"{pool['path']}/config.json")
            if isinstance(cfg, dict):
                from bgetune.tools.serve import read_pooling_mode

                mode = read_pooling_mode(cfg)
                if mode not in ("cls", "mean", "lasttoken"):
                    problems.append(
                        f"pooling {mode!r} in {pool['path']}/config.json: TEI supports cls, mean, last-token"
                    )
    config = load("config.json")
    if isinstance(config, dict) and not config.get("model_type"):
        problems.append("config.json has no model_type")
    if not (d / "tokenizer.json").is_file():
        problems.append("tokenizer.json is missing (TEI needs the fast tokenizer file)")
    if not any((d / w).is_file() for w in ("model.safetensors", "model.safetensors.index.json")):
        problems.append("model.safetensors is missing (TEI and vLLM load safetensors weights)")
    sb = load("sentence_bert_config.json")
    if isinstance(sb, dict) and isinstance(config, dict):
        msl, mpe = sb.get("max_seq_length"), config.get("max_position_embeddings")
        if isinstance(msl, int) and isinstance(mpe, int) and msl > mpe:
            problems.append(f"max_seq_length {msl} exceeds the model's max_position_embeddings {mpe}")
    st = load("config_sentence_transformers.json")
    if isinstance(st, dict) and "query" not in (st.get("prompts") or {}):
        problems.append("config_sentence_transformers.json has no 'query' prompt (TEI's prompt_name='query')")
    return problems


# ---------------------------------------------------------------------------------------- export
def _export_fp32(model: Any, out: Path, *, eager: bool = False) -> None:
    """The transformer to ONNX; ``eager`` traces the plain attention (matmul-softmax-matmul) instead of SDPA,
    the pattern onnxruntime's attention fusion recognises."""
    hf = model[0].auto_model.eval()
    impl = getattr(hf.config, "_attn_implementation", None)
    if eager and impl != "eager":
        try:
            hf.set_attn_implementation("eager")
        except (AttributeError, ValueError):
            hf.config._attn_implementation = "eager"
    try:
        _trace(model, hf, out)
    finally:
        if eager and impl and impl != "eager":
            try:
                hf.set_attn_implementation(impl)
            except (AttributeError, ValueError):
                hf.config._attn_implementation = impl


def _trace(model: Any, hf: Any, out: Path) -> None:
    import torch

    tok = model.tokenizer
    sample = tok(
        ["a short probe", "a slightly longer probe sentence for tracing"], padding=True, return_tensors="pt"
    )
    import inspect

    accepted = set(inspect.signature(hf.forward).parameters)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample and n in accepted]

    class LastHidden(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, *args: Any) -> Any:
            return self.m(**dict(zip(names, args, strict=True))).last_hidden_state

    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    axes["last_hidden_state"] = {0: "batch_size", 1: "sequence_length"}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(hf),
            tuple(sample[n] for n in names),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(out)


def _quantize_int8(src: Path, out: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _NoPreprocessHint(logging.Filter):  # onnxruntime's advice for static (calibrated) quantization
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    quiet = _NoPreprocessHint()
    root = logging.getLogger()
    root.addFilter(quiet)
    tmp = out.with_name(out.name + ".tmp")
    # per-channel MatMul weights: cosine with fp32 0.98-0.995 on MiniLM, against 0.93-0.96 per-tensor (measured)
    try:
        quantize_dynamic(
            str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    finally:
        root.removeFilter(quiet)
    tmp.replace(out)


def _fuse(src: Path, out: Path, config: Any) -> dict[str, int]:
    """onnxruntime.transformers' BERT fusions on ``src``; returns the fused-op counts."""
    from onnxruntime.transformers import optimizer

    model_type = (
        "bert" if getattr(config, "model_type", "bert") in ("bert", "roberta", "xlm-roberta") else None
    )
    if model_type is None:
        raise OnnxExportError(f"no transformer fusions for model_type {config.model_type!r}")
    opt = optimizer.optimize_model(
        str(src),
        model_type=model_type,
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=1,
    )
    stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    tmp = out.with_name(out.name + ".tmp")
    opt.save_model_to_file(str(tmp))
    tmp.replace(out)
    return stats


def _quantize_fused(src: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_name(out.name + ".tmp")
    quantize_dynamic(
        str(src),
        str(tmp),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # shape inference stops at fused ops
    )
    tmp.replace(out)


def export_fused_int8(model: Any, folder: Path) -> str:
    """Write ``FUSED_INT8_FILE``: eager-attention export, onnxruntime fusions, dynamic int8 (temp files removed)."""
    d = folder / "onnx"
    eager, fused = d / "model_eager.onnx.tmp", d / "model_fused.onnx.tmp"
    try:
        _export_fp32(model, eager, eager=True)
        _fuse(eager, fused, model[0].auto_model.config)
        _quantize_fused(fused, folder / FUSED_INT8_FILE)
    finally:
        eager.unlink(missing_ok=True)
        fused.unlink(missing_ok=True)
    return FUSED_INT8_FILE


def _retrieval_ndcg(q_emb: np.ndarray, c_emb: np.ndarray, qs: QuerySet) -> float:
    from bgetune.tools.evaluation import aggregate, query_metrics, search

    idx, _ = search(q_emb, c_emb, 10)
    per = [query_metrics([qs.corpus_ids[j] for j in idx[i]], qs.positives[i]) for i in range(len(qs.queries))]
    return float(aggregate(per)["ndcg@10"])


def measure_file(
    folder: Path,
    file_name: str,
    reference: tuple[np.ndarray, np.ndarray, float | None],
    texts: list[str],
    queries: list[str],
    qs: QuerySet | None,
) -> OnnxFileReport:
    """Cosine of ``file_name``'s embeddings with the torch ones (texts, queries with the prompt) and nDCG@10."""
    from bgetune.tools.serve import OnnxEncoder

    enc = OnnxEncoder(folder, file_name=file_name)
    ref_t, ref_q, ref_ndcg = reference
    qp = enc.prompts.get("query", "")
    got_t, _ = enc.encode(texts, "")
    got_q, _ = enc.encode(queries, qp) if queries else (np.zeros((0, got_t.shape[1])), [])
    cos = np.concatenate([(got_t * ref_t).sum(1), (got_q * ref_q).sum(1)])
    nd = None
    if qs is not None:
        c_emb, _ = enc.encode(qs.corpus_texts, "")
        q_emb, _ = enc.encode(qs.queries, qp)
        nd = _retrieval_ndcg(q_emb, c_emb, qs)
    return OnnxFileReport(
        file=file_name,
        megabytes=round((folder / file_name).stat().st_size / 1e6, 1),
        cosine_mean=round(float(cos.mean()), 5),
        cosine_min=round(float(cos.min()), 5),
        ndcg_at_10=None if nd is None else round(nd, 4),
        ndcg_delta_vs_torch=None if nd is None or ref_ndcg is None else round(nd - ref_ndcg, 4),
    )


def torch_reference(
    model: Any, texts: list[str], queries: list[str], qs: QuerySet | None
) -> tuple[np.ndarray, np.ndarray, float | None]:
    import torch

    qp = (model.prompts or {}).get("query") or None
    with torch.inference_mode():

        def enc(x: list[str], prompt: str | None) -> np.ndarray:
            if not x:
                return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
            return model.encode(
                x, prompt=prompt, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
            )

        ref_t, ref_q = enc(texts, None), enc(queries, qp)
        nd = None
        if qs is not None:
            nd = _retrieval_ndcg(enc(qs.queries, qp), enc(qs.corpus_texts, None), qs)
    return ref_t, ref_q, nd


def export_onnx(
    model_dir: str | Path,
    *,
    quantize: Literal["none", "int8"] = "none",
    ws: Any = None,
    quality: bool = True,
    queryset: QuerySet | None = None,
    fused: bool = True,
) -> OnnxExportResult:
    """Write the ONNX file(s) into ``model_dir``, measure each against torch, record it in the card.

    With ``quantize="int8"`` and ``fused`` (BERT-style models) it also writes ``FUSED_INT8_FILE``.

    Quality is measured on ``queryset``, else the workspace's held-out test split when ``ws`` has one, else on
    probe sentences (cosine only)."""
    folder = Path(model_dir).expanduser().resolve()
    if not (folder / "modules.json").is_file():
        raise OnnxExportError(
            f"{folder} is not a sentence-transformers folder (no modules.json); run `bgetune export` first"
        )
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise OnnxExportError(
            f"ONNX export needs onnx and onnxruntime ({exc.name} is missing): pip install 'bgetune[onnx]'"
        ) from exc
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    kinds = [type(m).__name__ for m in model]
    if kinds[0] != "Transformer" or any(k not in ("Pooling", "Normalize") for k in kinds[1:]):
        raise OnnxExportError(
            f"{folder} has modules {kinds}; ONNX export covers Transformer -> Pooling [-> Normalize] only"
        )
    try:
        _export_fp32(model, folder / FP32_FILE)
        files = [FP32_FILE]
        if quantize == "int8":
            _quantize_int8(folder / FP32_FILE, folder / INT8_FILE)
            files.append(INT8_FILE)
            if fused and getattr(model[0].auto_model.config, "model_type", "") in ("bert", "roberta"):
                files.append(export_fused_int8(model, folder))
    except Exception as exc:
        for tmp in (folder / "onnx").glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        raise OnnxExportError(f"ONNX export of {folder} failed: {exc}") from exc

    if queryset is None and ws is not None and quality:
        try:
            from bgetune.tools.evaluation import workspace_queryset

            qs = workspace_queryset(ws, "test")
            queryset = qs if qs.queries else None
        except Exception:  # noqa: BLE001 - quality then uses the probe sentences
            queryset = None
    measured_on = (
        f"{len(queryset.queries)} questions over {len(queryset.corpus_texts)} passages"
        if queryset is not None
        else f"{len(PROBE_TEXTS)} probe sentences (cosine only; no evaluation set)"
    )
    reports: list[OnnxFileReport] = []
    torch_ndcg = None
    if quality:
        texts = (queryset.corpus_texts[:200] if queryset else []) + PROBE_TEXTS
        queries = (queryset.queries[:100] if queryset else []) + PROBE_TEXTS[::2]
        ref = torch_reference(model, texts, queries, queryset)
        torch_ndcg = None if ref[2] is None else round(ref[2], 4)
        for f in files:
            reports.append(measure_file(folder, f, ref, texts, queries, queryset))
    _record(folder, reports, torch_ndcg, measured_on)
    return OnnxExportResult(str(folder), reports, torch_ndcg, measured_on, check_folder(folder))


def _record(folder: Path, reports: list[OnnxFileReport], torch_ndcg: float | None, measured_on: str) -> None:
    meta_path = folder / "bgetune.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta["onnx"] = {
        "written_at": now_iso(),
        "measured_on": measured_on,
        "torch_ndcg@10": torch_ndcg,
        "files": [asdict(r) for r in reports],
    }
    atomic_write_json(meta_path, meta)
    lines = [
        CARD_START,
        "## ONNX files",
        "",
        f"Measured against the torch model on {measured_on}"
        + (f"; torch nDCG@10 {torch_ndcg:.4f}." if torch_ndcg is not None else "."),
        "",
        "| file | MB | cosine with torch (mean / min) | nDCG@10 | vs torch |",
        "|---|---|---|---|---|",
    ]
    for r in reports:
        nd = "" if r.ndcg_at_10 is None else f"{r.ndcg_at_10:.4f}"
        dl = "" if r.ndcg_delta_vs_torch is None else f"{r.ndcg_delta_vs_torch:+.4f}"
        lines.append(
            f"| `{r.file}` | {r.megabytes:.0f} | {r.cosine_mean:.4f} / {r.cosine_min:.4f} | {nd} | {dl} |"
        )
    lines += [
        "",
        "Run them with `bgetune serve --backend onnx --onnx-file FILE`, or with sentence-transformers where",
        'optimum-onnx is installed: `SentenceTransformer(dir, backend="onnx", model_kwargs={"file_name": FILE})`.',
        CARD_END,
    ]
    replace_card_section(folder, CARD_START, CARD_END, "\n".join(lines))


def replace_card_section(folder: Path, start: str, end: str, section: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) into README.md, replacing any old one."""
    card_path = folder / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    if start in card and end in card:
        head, rest = card.split(start, 1)
        card = head + section + rest.split(end, 1)[1]
    else:
        card = card.rstrip("\n") + ("\n\n" if card else "") + section + "\n"
    atomic_write_text(card_path, card)


def write_usage_section(folder: str | Path, url: str | None = None) -> None:
    """The drop-in snippets (sentence-transformers, openai, LangChain, Dify, TEI, vLLM) as a model card section."""
    from bgetune.tools.serve import usage_snippets

    folder = Path(folder)
    sn = usage_snippets(folder, url)
    lang = {"dify": "text", "tei": "bash", "vllm": "bash", "infinity": "bash"}
    titles = {
        "sentence-transformers": "In Python (sentence-transformers)",
        "openai": "Through `bgetune serve` (OpenAI-compatible API) with the openai client",
        "langchain": "LangChain",
        "dify": "Dify (OpenAI-API-compatible provider)",
        "tei": "text-embeddings-inference",
        "vllm": "vLLM",
        "infinity": "Infinity",
    }
    lines = [
        USE_START,
        "## Use it",
        "",
        "Serve it: `bgetune serve THIS_FOLDER` (loopback; `--host 0.0.0.0` needs `--api-key`).",
    ]
    for key, code in sn.items():
        lines += ["", f"### {titles.get(key, key)}", "", f"```{lang.get(key, 'python')}", code, "```"]
    problems = check_folder(folder)
    lines += [
        "",
        "Folder check (the files TEI, vLLM and Infinity read): " + ("; ".join(problems) or "complete."),
    ]
    lines.append(USE_END)
    replace_card_section(folder, USE_START, USE_END, "\n".join(lines))
