"""The whole pipeline in one call: ingest -> generate -> filter -> approve -> split -> mine -> train -> evaluate
-> calibrate -> export (-> forgetting guard). Used by `bgetune run` and the benchmarks."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bgetune.core.workspace import KEPT, TRAINABLE
from bgetune.stages import PIPELINE_STAGES

Progress = Callable[[int, int, str], None]

STAGES = PIPELINE_STAGES  # one order, declared with the capabilities


class PipelineError(RuntimeError):
    """A stage that cannot go on, with the stage name and what to do."""


def run_pipeline(
    paths: Sequence[str | os.PathLike[str]],
    *,
    workspace: str | os.PathLike[str],
    base_model: str | None = None,
    llm_base_url: str | None = None,
    yes: bool = False,
    train_config: Any = None,
    guard: bool = False,
    split: dict[str, float] | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
    stage_progress: Callable[[str], Progress] | None = None,
    confirm_cost: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Run every stage without questions. Without ``yes`` it stops after filtering (pairs wait for review).
    ``train_config``: a TrainConfig (its base_model is filled in); ``split``: make_split fractions {val, test};
    ``stage_progress(name)``: a progress callback for the long stages (the CLI draws one tqdm bar per stage).
    ``confirm_cost(estimate)``: asked before paid LLM generation (calls, tokens, money); without it, or when it
    says no, nothing is spent and PipelineError says how to approve.
    Returns the `bgetune run --json` object."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    say = log or (lambda _m: None)
    settings = Settings(workspace=Path(workspace), base_model=base_model, llm_base_url=llm_base_url)
    ws = Workspace(settings.workspace)
    if base_model:
        ws.set_setting("base_model", base_model)
    total = len(STAGES) + (1 if guard else 0)
    out: dict[str, Any] = {"workspace": str(ws.root), "stages": {}}

    def sp(name: str) -> Progress | None:
        return stage_progress(name) if stage_progress else None

    def stage(i: int, name: str) -> None:
        say(f"[{i + 1}/{total}] {name}")
        if progress:
            progress(i, total, name)

    stage(0, "ingest")
    report = ingest(ws, list(paths), settings=settings, progress=sp("ingest"))
    out["stages"]["ingest"] = report.summary()
    if not ws.scalar("SELECT count(*) FROM chunks"):
        failed = "; ".join(f"{f.path}: {f.error}" for f in report.failed) or "no readable text"
        raise PipelineError(
            f"ingest produced no chunks ({failed}); pass PDF, DOCX, Markdown, TXT, HTML or JSONL files"
        )
    if report.note:
        say(f"note: {report.note}")

    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.qa_generation import generate_pairs

    stage(1, "generate")
    if settings.llm_configured:
        from bgetune.tools.qa_generation import estimate_generation

        est = estimate_generation(ws, settings)
        out["generation_estimate"] = est
        if est.get("calls") and not (confirm_cost and confirm_cost(est)):
            raise PipelineError(
                f"generation with {settings.llm_model_name} needs your approval ({est.get('calls')} LLM calls, "
                f"~{est.get('tokens_in')} tokens in): nothing was spent; pass --yes to approve, or drop "
                "--llm-base-url to use the free offline generator"
            )
    gen = generate_pairs(ws, settings, mode="auto", progress=sp("generate"))
    out["stages"]["generate"] = gen
    out["generation_mode"] = gen.get("mode")
    stage(2, "filter")
    filt = filter_pairs(ws, settings=settings, base_model=base_model, progress=sp("filter"))
    out["stages"]["filter"] = filt
    kept = int(ws.scalar(f"SELECT count(*) FROM pairs WHERE {KEPT}") or 0)
    rejected = int(ws.scalar("SELECT count(*) FROM pairs WHERE status='rejected'") or 0)
    out["pairs"] = {"kept": kept, "rejected": rejected, "by_reason": filt.get("by_reason", {})}
    if not yes:
        out["status"] = "awaiting review"
        out["next_step"] = (
            "review the pairs (`bgetune review`), then rerun with --yes to approve the kept ones and train"
        )
        return out

    from bgetune.tools.review import approve_all
    from bgetune.tools.split import make_split

    stage(3, "approve")
    out["stages"]["approve"] = {"approved": approve_all(ws, actor="pipeline")}
    if not ws.scalar(f"SELECT count(*) FROM pairs WHERE {TRAINABLE}"):
        raise PipelineError(
            f"no pairs survived filtering ({rejected} rejected: {filt.get('by_reason')}); add documents with more "
            "text or configure an LLM (--llm-base-url) for better queries"
        )
    stage(4, "split")
    out["stages"]["split"] = make_split(ws, **(split or {}))

    from bgetune.tools.export import export_model
    from bgetune.tools.negatives import mine_negatives
    from bgetune.tools.training import TrainConfig, train

    stage(5, "mine")
    out["stages"]["mine"] = mine_negatives(ws, base_model=base_model, progress=sp("mine"))
    stage(6, "train")
    cfg = train_config or TrainConfig()
    if base_model and not getattr(cfg, "base_model", None):
        cfg.base_model = base_model
    tr = train(ws, cfg, progress=sp("train"))
    out["stages"]["train"] = {k: v for k, v in tr.items() if k != "loss_curve"}
    out["train_run"] = tr["run_id"]

    from bgetune.tools.calibration import calibrate
    from bgetune.tools.evaluation import evaluate_workspace, workspace_base_spec

    stage(7, "evaluate")
    ev = evaluate_workspace(
        ws,
        tuned_dir=tr["model_dir"],
        base_model=base_model or workspace_base_spec(ws),
        progress=sp("evaluate"),
    )
    out["stages"]["evaluate"] = {k: v for k, v in ev.items() if k != "metrics"}
    stage(8, "calibrate")
    cal = calibrate(ws, model_dir=tr["model_dir"], progress=sp("calibrate"))
    out["stages"]["calibrate"] = {k: v for k, v in cal.items() if k not in ("before", "after")}
    stage(9, "export")
    ex = export_model(ws, run_id=tr["run_id"])
    out["stages"]["export"] = ex
    model_dir = ex.get("model_dir") or tr["model_dir"]
    cal_file = Path(model_dir) / "calibration.json"
    if not cal_file.exists():  # the exporter copies it; make sure the user's folder has it
        from bgetune.core.workspace import atomic_write_json

        atomic_write_json(
            cal_file, {k: v for k, v in cal.items() if k not in ("path", "model_copy", "plots")}
        )
    if guard:
        from bgetune.tools.merge import forgetting_guard

        stage(10, "forgetting guard")
        out["forgetting"] = forgetting_guard(ws, tuned_dir=model_dir)
    if progress:
        progress(total, total, "done")
    decision = tr.get("decision") if isinstance(tr.get("decision"), dict) else None
    out.update(
        {
            "decision": decision,
            "shipped": tr.get("shipped", True) if decision else True,
            "status": "done",
            "model_dir": model_dir,
            "base_model": ev["base_model"],
            "metrics": ev["metrics"],
            "ci": ev["ci"],
            "threshold": cal["threshold"],
            "threshold_precision": cal["threshold_precision"],
            "plots": ev.get("plots", []) + cal.get("plots", []),
            "eval_queries": ev["queries"],
        }
    )
    return out
