"""Export a trained run as a standard sentence-transformers folder with a model card.

The folder loads with ``SentenceTransformer(path)`` offline, keeps the pooling the model was trained with
(CLS for BGE families), stores the family's query instruction as the ``query`` prompt, and carries
``bgetune.json`` (base model and family), ``README.md`` (data sizes, settings, metrics before/after) and
``calibration.json`` when the workspace has been calibrated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import Workspace, atomic_write_json, atomic_write_text, now_iso
from bgetune.tools.evaluation import latest_tuned_dir


class ExportError(BgetuneError, RuntimeError):
    """Nothing to export, or an export folder that cannot be written."""


def _train_run(ws: Workspace, run_id: str | None) -> dict[str, Any]:
    if run_id:
        run = ws.run(run_id)
        if run is None or run["kind"] != "train":
            raise ExportError(f"no training run {run_id!r} in {ws.root}; see `bgetune status` for run ids")
        if run["status"] != "done":
            raise ExportError(
                f"training run {run_id} is {run['status']}; finish it with `bgetune train --resume`"
            )
        return run
    run = ws.last_run("train")
    if run is None:
        raise ExportError(f"no finished training run in {ws.root}: run `bgetune train` first")
    return run


def export_model(
    ws: Workspace,
    *,
    run_id: str | None = None,
    out_dir: str | Path | None = None,
    ship_anyway: bool = False,
) -> dict[str, Any]:
    """Copy the run's best model to ``out_dir`` (default artifacts/runs/<run_id>/export) with card and metadata.
    When the ship decision kept the base model nothing is written (``shipped: False``) unless ``ship_anyway``."""
    from bgetune.tools.decision import export_source

    run = _train_run(ws, run_id)
    res = run["result"]
    src, decision = export_source(res, ship_anyway=ship_anyway)
    if src is None:
        return {
            "model_dir": None,
            "shipped": False,
            "run_id": run["id"],
            "decision": decision,
            "text": (decision or {}).get("text"),  # the decision's reply: base kept, why, what would help
        }
    if not (src / "modules.json").exists():
        raise ExportError(
            f"the model of run {run['id']} is missing at {src}; train again with `bgetune train`"
        )
    from bgetune.tools.layout import export_dir

    out = Path(out_dir).expanduser().resolve() if out_dir else export_dir(ws, run["id"])  # runs/<id>/export/
    if out.exists() and any(out.iterdir()) and not (out / "bgetune.json").exists():
        raise ExportError(f"{out} exists and is not a bgetune export; choose an empty folder with --out")
    tmp = out.with_name(out.name + ".tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)

    # the query prompt must be stored in the sentence-transformers config, whatever the run saved
    cfg_path = tmp / "config_sentence_transformers.json"
    st_cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    meta = json.loads((src / "bgetune.json").read_text()) if (src / "bgetune.json").exists() else {}
    prompts = dict(st_cfg.get("prompts") or {})
    prompts["query"] = meta.get("query_prompt", prompts.get("query", ""))
    prompts.setdefault("document", "")
    st_cfg["prompts"] = prompts
    st_cfg["default_prompt_name"] = None
    atomic_write_json(cfg_path, st_cfg)

    calib = ws.artifacts / "calibration.json"
    if calib.exists():
        shutil.copy2(calib, tmp / "calibration.json")
    metrics = _eval_metrics(ws)
    info = {
        **meta,
        "run_id": run["id"],
        "exported_at": now_iso(),
        "workspace": str(ws.root),
        "pooling": _pooling(tmp),
        "metrics": metrics,
        "calibrated": calib.exists(),
        "decision": decision,
    }
    from bgetune.tools.golden import export_golden

    gx = export_golden(ws, tmp / "golden")
    info["golden"] = {
        "questions": gx.questions,
        "answerable": gx.answerable,
        "folder": "golden" if gx.jsonl else None,
    }
    atomic_write_json(tmp / "bgetune.json", info)
    card = _model_card(ws, run, info, metrics)
    atomic_write_text(tmp / "README.md", card)
    old = out.with_name(out.name + ".old-export")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    from bgetune.tools.onnx_export import write_usage_section

    write_usage_section(out)  # drop-in snippets: sentence-transformers, openai, LangChain, Dify, TEI, vLLM
    result = {
        "model_dir": str(out),
        "model_card": str(out / "README.md"),
        "run_id": run["id"],
        "base_model": meta.get("base_model"),
        "base_family": meta.get("base_family"),
        "pooling": info["pooling"],
        "query_prompt": prompts["query"],
        "calibration": str(out / "calibration.json") if calib.exists() else None,
        "metrics": metrics,
        "shipped": True,
        "decision": decision,
        "run_folder": str(ws.artifacts / "runs" / run["id"]),
    }
    # recorded, so "the model" (serve, evaluate, compare) is this folder, wherever --out put it, and a
    # "ship anyway" export is known to have shipped the tuned model
    export_run = ws.start_run(
        "export", {"train_run": run["id"], "ship_anyway": ship_anyway, "out_dir": str(out)}
    )
    ws.finish_run(export_run, result=result, artifact_dir=str(out))
    return result


def _pooling(folder: Path) -> str | None:
    try:
        modules = json.loads((folder / "modules.json").read_text())
        for m in modules:
            if m.get("type", "").endswith("Pooling"):
                cfg = json.loads((folder / m["path"] / "config.json").read_text())
                return cfg.get("pooling_mode") or next(
                    (
                        k[len("pooling_mode_") :].replace("_token", "")
                        for k, v in cfg.items()
                        if k.startswith("pooling_mode_") and v is True
                    ),
                    None,
                )
    except (OSError, ValueError, KeyError):
        return None
    return None


def _eval_metrics(ws: Workspace) -> dict[str, Any]:
    """Metrics before/after from the latest evaluation run, if any: {base: {...}, tuned: {...}}."""
    run = ws.last_run("eval")
    if not run:
        return {}
    m = run["result"].get("metrics") if isinstance(run.get("result"), dict) else None
    if m:
        return m
    stored = ws.metrics(run["id"])
    return {model: next(iter(ds.values())) for model, ds in stored.items() if ds}


def _model_card(ws: Workspace, run: dict[str, Any], info: dict[str, Any], metrics: dict[str, Any]) -> str:
    from bgetune.tools.teacher import teacher_card_lines

    res, st = run["result"], ws.stats()
    cfg = res.get("config", {})
    lines = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: sentence-similarity",
        "tags: [sentence-transformers, feature-extraction, bgetune]",
        f"base_model: {info.get('base_model')}",
        "---",
        "",
        f"# Fine-tuned embedding model ({info.get('base_model')})",
        "",
        "Fine-tuned with bgetune on a team's own documents. Load it offline:",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "model = SentenceTransformer('path/to/this/folder')",
        "q = model.encode(['your question'], prompt_name='query', normalize_embeddings=True)",
        "d = model.encode(['a passage'], normalize_embeddings=True)",
        "```",
        "",
        f"Query instruction (`query` prompt): `{info.get('query_prompt', '')!s}`"
        if info.get("query_prompt")
        else "Queries take no instruction.",
        f"Pooling: {info.get('pooling')}; family rules: {info.get('base_family')} (loss scale {res.get('scale')}).",
        "",
        "## Data",
        "",
        f"- documents: {st['documents']}, chunks: {st['chunks']}",
        f"- training pairs: {res.get('pairs')} (with mined hard negatives: {res.get('pairs_with_negatives')})",
        f"- pairs by split: {st['splits']}",
        "",
        "## Training",
        "",
        f"- run: {run['id']}, steps: {res.get('steps')}, epochs done: {res.get('epochs_done')}, "
        f"best epoch: {res.get('best_epoch')}",
        f"- lr {res.get('lr')}, batch {res.get('batch_size')}, max lengths query {res.get('max_query_len')} / "
        f"passage {res.get('max_passage_len')}, LoRA {cfg.get('lora')}, Matryoshka {cfg.get('matryoshka_dims')}",
        f"- device {res.get('device')}, bf16 {res.get('bf16')}, processes {res.get('world_size')}",
        *teacher_card_lines(res.get("teacher"), res.get("objective")),
        *_new_token_lines(res.get("new_tokens")),
        "",
        "## Metrics",
        "",
    ]
    bv, tv = res.get("base_val") or {}, res.get("best_val") or {}
    if bv or tv:
        lines += [
            "Validation split (during training):",
            "",
            "| model | nDCG@10 | MRR@10 | recall@10 |",
            "|---|---|---|---|",
        ]
        for name, v in (("base", bv), ("tuned", tv)):
            if v:
                lines.append(
                    f"| {name} | {v.get('ndcg@10', 0):.4f} | {v.get('mrr@10', 0):.4f} | {v.get('recall@10', 0):.4f} |"
                )
        lines.append("")
    if metrics:
        names = sorted({k for v in metrics.values() if isinstance(v, dict) for k in v})
        lines += [
            "Held-out test split (latest evaluation):",
            "",
            "| model | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for model, v in metrics.items():
            if isinstance(v, dict):
                lines.append(f"| {model} | " + " | ".join(_fmt(v.get(n)) for n in names) + " |")
        lines.append("")
    if not (bv or tv or metrics):
        lines.append("No evaluation yet: run `bgetune eval` to compare base and tuned models.")
    if info.get("decision"):
        from bgetune.tools.decision import ShipDecision

        lines += ["", *ShipDecision.from_dict(info["decision"]).card_lines()]
    if info.get("calibrated"):
        lines += ["", "A score threshold calibrated on held-out data is in `calibration.json`."]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, int | float) else ("" if v is None else str(v))


def exported_model_dir(ws: Any) -> str | None:
    """The exported model folder, else the trained one."""
    from bgetune.tools.layout import last_export

    exp = last_export(ws)
    return exp["model_dir"] if exp else latest_tuned_dir(ws)


def _new_token_lines(vocab: dict[str, Any] | None) -> list[str]:
    """The model card's line on tokens training added (tools/vocab.py), when it added any."""
    if not vocab or not vocab.get("added"):
        return []
    return [
        f"- new tokens: {vocab['added']} pieces the base read as unknown ({vocab['unknown_rate']:.0%} of the "
        f"training texts' tokens), e.g. {' '.join(vocab.get('examples') or [])}; each started as the unknown "
        "token's embedding and was trained (the tokenizer in this folder includes them)"
    ]
