"""The whole pipeline as one capability: the declared stage order (``stage=`` on each capability) run through
``invoke`` with the workspace's remembered settings, so `bgetune run` trains, mines and evaluates exactly as the
single commands, the chat and the UI do.

Without approval (`--yes`) it stops once the pairs are filtered: they wait for review. ``run_pipeline`` is the
same run for code callers (the benchmarks) and returns the `bgetune run --json` object.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgetune.capabilities import (
    ApprovalRequired,
    Capability,
    Context,
    fields_of,
    get,
    invoke,
    pipeline_stages,
    setting,
)
from bgetune.capabilities.data import IngestOptions
from bgetune.core.config import Settings
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.options import Progress
from bgetune.core.results import Result
from bgetune.core.workspace import KEPT, TRAINABLE, Workspace, atomic_write_json
from bgetune.tools.training import TrainConfig


class PipelineError(BgetuneError):
    """A stage that cannot go on, with the stage name and what to do."""


# The stages that follow training (the chat offers them after a run).
AFTER_TRAIN = ("evaluate", "calibrate", "export_model")


@dataclass(kw_only=True)
class RunOptions(IngestOptions):
    """The ingest settings (documents, chunking, base model), then what the run itself decides."""

    yes: bool = setting(
        False,
        help="Approve every pair the filters keep, and train (and pay for LLM generation).",
        flag="--yes",
    )
    epochs: int | None = setting(
        None, help="Training epochs (default: the workspace's, else 3).", min=1, max=100
    )
    max_steps: int | None = setting(None, help="Stop training after N steps (smoke runs).", min=1)
    guard: bool = setting(False, help="Also run the out-of-domain forgetting guard.")


@dataclass
class PipelineResult(Result):
    status: str = ""
    workspace: str = ""
    stages: dict[str, Any] = dataclasses.field(default_factory=dict)
    pairs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        d = self.detail
        if self.status != "done":
            return say(
                lang,
                f"{self.pairs['kept']} pairs kept, {self.pairs['rejected']} rejected. Next: {d.get('next_step')}",
                f"保留 {self.pairs['kept']} 个问答对，剔除 {self.pairs['rejected']} 个。下一步：{d.get('next_step')}",
            )
        b, t = d["metrics"]["base"], d["metrics"].get("tuned", {})
        ci = d.get("ci") or {}
        nan = float("nan")
        lines = [
            f"model: {d['model_dir']} (base {d['base_model']})",
            f"pairs: {self.pairs['kept']} kept, {self.pairs['rejected']} rejected",
            f"nDCG@10 {b['ndcg@10']:.3f} -> {t.get('ndcg@10', nan):.3f}"
            + (f" (gain {ci['diff']:+.3f}, 95% CI {ci['low']:+.3f}..{ci['high']:+.3f})" if ci else ""),
            f"MRR@10 {b['mrr@10']:.3f} -> {t.get('mrr@10', nan):.3f}; "
            f"hit@1 {b['hit@1']:.3f} -> {t.get('hit@1', nan):.3f}",
            f"threshold {d['threshold']:.3f} (max F1 on held-out pairs)",
        ]
        decision = d.get("decision") or {}
        if decision.get("text"):
            lines.append(f"ship decision: {decision['text']}")
        folder = d.get("run_folder") or (self.stages.get("evaluate") or {}).get("run_folder")
        if folder:
            lines.append(f"everything from this run (model, export, evaluation, plots): {folder}")
        return "\n".join(lines)


def _data(result: Any) -> dict[str, Any]:
    if hasattr(result, "data") and callable(result.data):
        return result.data()
    return dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result or {})


def _train_values(cfg: Any) -> dict[str, Any]:
    """The settings a TrainConfig sets differently from TrainConfig's defaults, as train options (the rest
    comes from the workspace's remembered settings, then the declared defaults)."""
    if cfg is None:
        return {}
    default = TrainConfig()
    known = {f.name for f in dataclasses.fields(get("train").options)}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        name = "matryoshka" if f.name == "matryoshka_dims" else f.name
        v = getattr(cfg, f.name)
        if name in known and v != getattr(default, f.name):
            out[name] = ",".join(map(str, v)) if name == "matryoshka" and isinstance(v, list) else v
    return out


class _Run:
    """One pipeline run: the stages in declared order, each through ``invoke``."""

    def __init__(self, ctx: Context, opts: RunOptions, confirm_cost: Callable[[Any], bool] | None) -> None:
        self.ctx, self.opts, self.confirm_cost = ctx, opts, confirm_cost
        self.out: dict[str, Any] = {"workspace": str(ctx.ws.root), "stages": {}}
        self.order = [s for s in pipeline_stages()] + (["forgetting_guard"] if opts.guard else [])
        self.done = 0

    def step(self, name: str, values: dict[str, Any] | None = None, *, approved: bool = False) -> Any:
        self.done += 1
        if self.ctx.log:
            self.ctx.log(f"[{self.done}/{len(self.order)}] {name}")
        make = self.ctx.stage_progress
        ctx = dataclasses.replace(self.ctx, progress=make(name) if make else self.ctx.progress)
        return invoke(name, values or {}, ctx, approved=approved)

    def generate(self) -> Any:
        values = {"mode": "auto", "then_filter": False}
        try:
            return self.step("generate_pairs", values, approved=self.opts.yes)
        except ApprovalRequired as exc:
            est = exc.estimate
            self.out["generation_estimate"] = _data(est) if est is not None else None
            if not (self.confirm_cost and self.confirm_cost(est)):
                raise PipelineError(
                    f"generation with {self.ctx.settings.llm_model_name} needs your approval ({exc}); nothing was "
                    "spent: pass --yes to approve, or drop --llm-base-url to use the free offline generator"
                ) from exc
            self.done -= 1
            return self.step("generate_pairs", values, approved=True)


def run_stages(
    ctx: Context,
    opts: RunOptions,
    confirm_cost: Callable[[Any], bool] | None = None,
    *,
    train: dict[str, Any] | None = None,
    split: dict[str, Any] | None = None,
) -> PipelineResult:
    """Every stage in declared order. ``train``/``split``: explicit settings of those stages (code callers)."""
    ws = ctx.ws
    missing = [p for p in opts.paths if not Path(p).exists()]
    if missing:
        raise PipelineError(f"not found: {', '.join(missing)}")
    if opts.base_model:
        ws.set_setting("base_model", opts.base_model)
    run = _Run(ctx, opts, confirm_cost)
    out, stages = run.out, run.out["stages"]
    ing = run.step("ingest", fields_of(opts, *(f.name for f in dataclasses.fields(IngestOptions))))
    stages["ingest"] = _data(ing)
    if not ws.scalar("SELECT count(*) FROM chunks"):
        failed = "; ".join(f"{f.get('path')}: {f.get('error')}" for f in ing.failures) or "no readable text"
        raise PipelineError(
            f"ingest produced no chunks ({failed}); pass PDF, DOCX, Markdown, TXT, HTML or JSONL files"
        )
    gen = run.generate()
    stages["generate"] = _data(gen)
    out["generation_mode"] = gen.mode
    filt = _data(run.step("filter_pairs"))
    stages["filter"] = filt
    kept = int(ws.scalar(f"SELECT count(*) FROM pairs WHERE {KEPT}") or 0)
    rejected = int(ws.scalar("SELECT count(*) FROM pairs WHERE status='rejected'") or 0)
    out["pairs"] = {"kept": kept, "rejected": rejected, "by_reason": filt.get("by_reason", {})}
    if not opts.yes:
        out["status"] = "awaiting review"
        out["next_step"] = (
            "review the pairs (`bgetune review`), then rerun with --yes to approve the kept ones and train"
        )
        return PipelineResult.of(out)
    stages["approve"] = {"approved": run.step("approve_all_pairs").count}
    if not ws.scalar(f"SELECT count(*) FROM pairs WHERE {TRAINABLE}"):
        raise PipelineError(
            f"no pairs survived filtering ({rejected} rejected: {filt.get('by_reason')}); add documents with more "
            "text or configure an LLM (--llm-base-url) for better queries"
        )
    stages["split"] = _data(run.step("split_dataset", split))
    stages["mine"] = _data(run.step("mine_negatives"))
    explicit = {k: v for k, v in (("epochs", opts.epochs), ("max_steps", opts.max_steps)) if v is not None}
    tr = _data(run.step("train", (train or {}) | explicit, approved=True))
    stages["train"] = {k: v for k, v in tr.items() if k != "loss_curve"}
    out["train_run"] = tr["run_id"]
    ev = _data(run.step("evaluate"))
    stages["evaluate"] = {k: v for k, v in ev.items() if k != "metrics"}
    cal = _data(run.step("calibrate"))
    stages["calibrate"] = {k: v for k, v in cal.items() if k not in ("before", "after")}
    ex = _data(run.step("export_model", {"run_id": tr["run_id"]}))
    stages["export"] = ex
    model_dir = ex.get("model_dir") or tr["model_dir"]
    cal_file = Path(model_dir) / "calibration.json"
    if not cal_file.exists():  # the exporter copies it; make sure the user's folder has it
        atomic_write_json(
            cal_file, {k: v for k, v in cal.items() if k not in ("path", "model_copy", "plots")}
        )
    if opts.guard:
        out["forgetting"] = _data(run.step("forgetting_guard"))
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
    return PipelineResult.of(out)


def _run_cost(ctx: Context | None, o: Any) -> str:
    return "gpu" if getattr(o, "yes", False) else "free"


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
    confirm_cost: Callable[[Any], bool] | None = None,
) -> dict[str, Any]:
    """The `run` capability for code callers (benchmarks): returns the `bgetune run --json` object.
    ``train_config``: a TrainConfig whose non-default fields are explicit train settings; ``split``: the
    split_dataset settings {val, test}; ``confirm_cost(estimate)``: asked before paid LLM generation."""
    settings = Settings(workspace=Path(workspace), base_model=base_model, llm_base_url=llm_base_url)
    ws = Workspace(settings.workspace)
    ctx = Context(
        ws=ws, settings=settings, progress=progress, files=None, log=log, stage_progress=stage_progress
    )
    opts = RunOptions(paths=[str(p) for p in paths], base_model=base_model, yes=yes, guard=guard)
    return run_stages(ctx, opts, confirm_cost, train=_train_values(train_config), split=split).data()


def _run(ctx: Context, opts: RunOptions) -> PipelineResult:
    return run_stages(ctx, opts)


CAPABILITIES = [
    Capability(
        "run_pipeline",
        "The whole pipeline without questions: ingest, generate, filter, train, evaluate, calibrate, export.",
        _run,
        RunOptions,
        PipelineResult,
        cost=_run_cost,
        cli="run",
        chat=False,  # the chat runs the stages one by one, asking where they cost
    )
]
