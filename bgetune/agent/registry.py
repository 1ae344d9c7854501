"""Every pipeline tool the agent may call, wrapped once: typed arguments, a cost tag, an estimate for gated ones.

The description of each tool is the prompt the LLM sees: short, imperative, says what it costs. The workspace,
settings, attached files and the progress callback are injected through :class:`ToolContext`; they are never
part of a tool's schema. Pipeline modules are imported inside each wrapper, so the agent works (and says
clearly what is missing) while an area is not installed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from bgetune.config import Settings
    from bgetune.workspace import Workspace

Cost = Literal["free", "cpu-minutes", "gpu", "paid-llm"]
GATED_COSTS: frozenset[str] = frozenset({"gpu", "paid-llm"})
Progress = Callable[[int, int, str], None]
MAX_RESULT_CHARS = 6000

# Training settings a user may set in chat or edit at the approval gate (workspace setting name -> type).
TRAIN_SETTINGS: dict[str, type] = {
    "epochs": int,
    "batch_size": int,
    "lr": float,
    "max_steps": int,
    "base_model": str,
}


class ToolError(RuntimeError):
    """A tool failure the user can act on: what went wrong and what to do next."""


@dataclass
class ToolContext:
    """What a tool wrapper gets besides its arguments (injected, never seen by the model)."""

    ws: Workspace
    settings: Settings
    files: list[str] = field(default_factory=list)
    progress: Progress | None = None


class Args(BaseModel):
    """Base for tool arguments: unknown keys (e.g. an LLM's invented ``approved: true``) are dropped."""

    model_config = ConfigDict(extra="ignore")


@dataclass(frozen=True)
class ToolSpec:
    """One registered tool."""

    name: str
    description: str
    args: type[Args]
    run: Callable[[ToolContext, Any], Any]
    cost: Cost | Callable[[Settings, Any], Cost]
    estimate: Callable[[ToolContext, Any], dict[str, Any]] | None = None
    editable: Callable[[ToolContext, Any], dict[str, Any]] | None = None
    title: Callable[[ToolContext, Any, dict[str, Any]], str] | None = None

    def cost_for(self, settings: Settings, args: Any) -> Cost:
        return self.cost(settings, args) if callable(self.cost) else self.cost

    def gated(self, settings: Settings, args: Any) -> bool:
        """True when a call needs the user's explicit approval (gpu or paid-llm)."""
        return self.cost_for(settings, args) in GATED_COSTS

    def parse(self, raw: dict[str, Any] | None) -> Any:
        """Validated arguments; raises ToolError with the field problems."""
        try:
            return self.args.model_validate(raw or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolError(f"bad arguments for {self.name}: {problems}") from exc

    def schema(self, settings: Settings) -> dict[str, Any]:
        """The OpenAI function-tool schema the LLM sees."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        params.pop("description", None)
        cost = self.cost(settings, self.args()) if callable(self.cost) else self.cost
        note = " Needs the user's approval first." if cost in GATED_COSTS else ""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": f"{self.description} Cost: {cost}.{note}",
                "parameters": params,
            },
        }


# ---------------------------------------------------------------------------------------------- helpers
def _need(module: str, area: str) -> Any:
    """Import a pipeline module or say plainly that its area is not installed yet."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise ToolError(
                f"the {area} step is not available in this installation ({module} is missing)"
            ) from exc
        raise


def compact(result: Any, limit: int = MAX_RESULT_CHARS) -> str:
    """A tool result as JSON text for a ToolMessage, cut to ``limit`` characters."""
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 20] + " ...[truncated]"


def stage_snapshot(ws: Workspace) -> dict[str, Any]:
    """What each pipeline stage holds now, compact enough for a prompt."""
    st = ws.stats()
    runs: dict[str, str] = {}
    for r in st.get("runs", []):
        runs.setdefault(r["kind"], r["status"])
    return {
        "documents": st["documents"],
        "documents_failed": st["documents_failed"],
        "chunks": st["chunks"],
        "languages": st["chunk_languages"],
        "pairs": st["pairs"],
        "splits": st["splits"],
        "negatives": st["negatives"],
        "unsplit": ws.scalar(UNSPLIT_SQL),
        "last_runs": runs,
        "settings": {k: v for k, v in ws.settings().items() if k in TRAIN_SETTINGS},
    }


def _coerce(name: str, value: Any) -> Any:
    typ = TRAIN_SETTINGS[name]
    if value is None or value == "":
        return None
    try:
        out = typ(value)
    except (TypeError, ValueError) as exc:
        raise ToolError(f"{name} must be a {typ.__name__}, got {value!r}") from exc
    if typ in (int, float) and out <= 0:
        raise ToolError(f"{name} must be positive, got {value!r}")
    return out


# ---------------------------------------------------------------------------------------------- argument models
class NoArgs(Args):
    pass


class IngestArgs(Args):
    paths: list[str] | None = Field(
        None, description="Files or folders; omit to use the files the user attached."
    )


class GenerateArgs(Args):
    mode: Literal["auto", "llm", "offline"] = Field("auto", description="auto: the LLM if one is configured.")
    max_chunks: int | None = Field(None, description="Only the first N chunks (omit for all).")


class ShowPairsArgs(Args):
    status: Literal["proposed", "approved", "rejected", "edited"] | None = None
    search: str | None = Field(None, description="Only pairs whose query or passage contains this text.")
    limit: int = Field(10, ge=1, le=200)
    offset: int = Field(0, ge=0)


class IdsArgs(Args):
    ids: list[int] = Field(..., description="Pair ids.")
    why: str | None = None


class EditArgs(Args):
    id: int = Field(..., description="Pair id.")
    query: str = Field(..., description="The corrected query.")


class SplitArgs(Args):
    val: float = Field(0.1, ge=0, lt=0.5)
    test: float = Field(0.2, gt=0, lt=0.6)


class MineArgs(Args):
    method: Literal["dense", "in-batch"] = "dense"


class TrainArgs(Args):
    epochs: int | None = Field(None, ge=1, le=100)
    batch_size: int | None = Field(None, ge=1, le=4096)
    lr: float | None = Field(None, gt=0, lt=1)
    max_steps: int | None = Field(None, ge=1, description="Stop after N steps (for a quick trial).")
    base_model: str | None = Field(None, description="Hub id, local folder or 'bundled'.")


class DiagnoseArgs(Args):
    query: str = Field(..., description="The query that retrieves badly.")
    expected: str | None = Field(None, description="Text the right passage contains, if known.")


class ScoreArgs(Args):
    query: str
    passage: str


class ExportArgs(Args):
    out_dir: str | None = Field(None, description="Target folder (default: inside the workspace).")


class SetSettingArgs(Args):
    name: Literal["epochs", "batch_size", "lr", "max_steps", "base_model"]
    value: str = Field(..., description="New value, e.g. '3' or 'BAAI/bge-m3'.")


def user_path(ctx: ToolContext, raw: str, what: str) -> str:
    """A path a tool may touch: inside the workspace, or a file/folder the user attached (or inside one).

    Paths that only the model names (it may be repeating a hostile document) are refused."""
    from pathlib import Path

    p = Path(raw).expanduser().resolve()
    allowed = [ctx.ws.root, *(Path(f).expanduser().resolve() for f in ctx.files)]
    if any(p.is_relative_to(a) for a in allowed):
        return str(p)
    raise ToolError(
        f"refusing to {what} {raw}: it is outside the workspace and not among the files you gave; "
        "attach it (or give it with @path) and ask again"
    )


# ---------------------------------------------------------------------------------------------- wrappers
def _ingest(ctx: ToolContext, a: IngestArgs) -> dict[str, Any]:
    from bgetune.tools.ingest import ingest

    paths = [user_path(ctx, p, "read") for p in a.paths] if a.paths else ctx.files
    if not paths:
        raise ToolError(
            "no files to ingest: attach documents (PDF, DOCX, Markdown, TXT, HTML, JSONL) or give paths"
        )
    report = ingest(
        ctx.ws,
        paths,
        settings=ctx.settings,
        base_model=ctx.ws.get_setting("base_model"),
        progress=ctx.progress,
    )
    return report.summary()


def _status(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    return stage_snapshot(ctx.ws) | {"workspace": str(ctx.ws.root)}


def _generate_cost(settings: Settings, a: GenerateArgs) -> Cost:
    return "paid-llm" if a.mode != "offline" and settings.llm_configured else "free"


def _chunk_ids(ctx: ToolContext, a: GenerateArgs) -> list[str] | None:
    if not a.max_chunks:
        return None
    rows = ctx.ws.query("SELECT id FROM chunks ORDER BY document_id, ord LIMIT ?", (a.max_chunks,))
    return [r["id"] for r in rows]


def _generate(ctx: ToolContext, a: GenerateArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.qa_generation", "pair generation")
    if not ctx.ws.scalar("SELECT count(*) FROM chunks"):
        raise ToolError("the workspace has no chunks yet: ingest documents first")
    mode = a.mode if a.mode != "auto" else ("llm" if ctx.settings.llm_configured else "offline")
    return mod.generate_pairs(
        ctx.ws, ctx.settings, chunk_ids=_chunk_ids(ctx, a), mode=mode, progress=ctx.progress
    )


def _generate_estimate(ctx: ToolContext, a: GenerateArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.qa_generation", "pair generation")
    return mod.estimate_generation(ctx.ws, ctx.settings, chunk_ids=_chunk_ids(ctx, a))


def _generate_title(ctx: ToolContext, a: GenerateArgs, est: dict[str, Any]) -> str:
    money = est.get("money")
    cost = (
        f", about {money:.4g} {est.get('currency') or ''}".rstrip() if isinstance(money, int | float) else ""
    )
    return (
        f"Generate training questions with {est.get('model') or ctx.settings.llm_model_name} for "
        f"{est.get('chunks', '?')} chunks ({est.get('calls', '?')} calls, ~{est.get('tokens_in', '?')} tokens in, "
        f"~{est.get('tokens_out', '?')} out{cost})"
    )


def _filter(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.filtering", "filtering")
    return mod.filter_pairs(
        ctx.ws, settings=ctx.settings, base_model=ctx.ws.get_setting("base_model"), progress=ctx.progress
    )


def _show_dataset(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    return _need("bgetune.tools.review", "review").dataset_summary(ctx.ws, examples=5)


def _show_pairs(ctx: ToolContext, a: ShowPairsArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.review", "review")
    rows = mod.list_pairs(ctx.ws, status=a.status, search=a.search, limit=a.limit, offset=a.offset)
    keep = ("id", "query", "passage", "status", "reasons", "document")
    pairs = [{k: (r.get(k)[:300] if k == "passage" and r.get(k) else r.get(k)) for k in keep} for r in rows]
    return {"pairs": pairs, "shown": len(pairs), "offset": a.offset, "counts": ctx.ws.stats()["pairs"]}


def _approve(ctx: ToolContext, a: IdsArgs) -> dict[str, Any]:
    return {
        "approved": _need("bgetune.tools.review", "review").approve(ctx.ws, a.ids, why=a.why),
        "ids": a.ids,
    }


def _reject(ctx: ToolContext, a: IdsArgs) -> dict[str, Any]:
    return {
        "rejected": _need("bgetune.tools.review", "review").reject(ctx.ws, a.ids, why=a.why),
        "ids": a.ids,
    }


def _edit(ctx: ToolContext, a: EditArgs) -> dict[str, Any]:
    return _need("bgetune.tools.review", "review").edit(ctx.ws, a.id, query=a.query)


def _approve_all(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    n = _need("bgetune.tools.review", "review").approve_all(ctx.ws)
    return {"approved": n, "counts": ctx.ws.stats()["pairs"]}


def _split(ctx: ToolContext, a: SplitArgs) -> dict[str, Any]:
    return _need("bgetune.tools.split", "split").make_split(ctx.ws, val=a.val, test=a.test)


def _mine(ctx: ToolContext, a: MineArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.negatives", "negative mining")
    return mod.mine_negatives(
        ctx.ws, base_model=ctx.ws.get_setting("base_model"), method=a.method, progress=ctx.progress
    )


def train_config(ctx: ToolContext, a: TrainArgs) -> Any:
    """The TrainConfig for a call: explicit args, then workspace settings, then TrainConfig's defaults."""
    mod = _need("bgetune.tools.training", "training")
    accepted = {f.name for f in dataclasses.fields(mod.TrainConfig)}
    values: dict[str, Any] = {}
    for name in TRAIN_SETTINGS:
        v = getattr(a, name)
        if v is None:
            v = ctx.ws.get_setting(name)
        if v is not None and name in accepted:
            values[name] = _coerce(name, v)
    if "device" in accepted and ctx.settings.device and "device" not in values:
        values["device"] = ctx.settings.device
    return mod.TrainConfig(**values)


UNSPLIT_SQL = "SELECT count(*) FROM pairs WHERE status IN ('proposed','approved','edited') AND split IS NULL"


def ensure_split(ctx: ToolContext) -> dict[str, Any] | None:
    """Split (free, deterministic) when kept pairs have no split yet; training and its estimate need one."""
    if not ctx.ws.scalar(UNSPLIT_SQL):
        return None
    return _need("bgetune.tools.split", "split").make_split(ctx.ws)


def _train_estimate(ctx: ToolContext, a: TrainArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.training", "training")
    if not ctx.ws.scalar("SELECT count(*) FROM pairs WHERE status IN ('approved','edited')"):
        raise ToolError("no approved pairs to train on: review the proposed pairs and approve them first")
    ensure_split(ctx)
    return mod.estimate_training(ctx.ws, train_config(ctx, a), progress=ctx.progress)


def _train_editable(ctx: ToolContext, a: TrainArgs) -> dict[str, Any]:
    cfg = train_config(ctx, a)
    return {name: getattr(cfg, name, None) for name in TRAIN_SETTINGS}


def _train_title(ctx: ToolContext, a: TrainArgs, est: dict[str, Any]) -> str:
    minutes = est.get("minutes")
    mins = f"~{minutes:.1f} min" if isinstance(minutes, int | float) else "unknown time"
    return (
        f"Train {est.get('base_model') or 'the base model'} on {est.get('pairs', '?')} pairs: "
        f"{est.get('epochs', '?')} epochs, {est.get('steps', '?')} steps, {mins} on {est.get('device', '?')}"
    )


def _train(ctx: ToolContext, a: TrainArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.training", "training")
    if not ctx.ws.scalar("SELECT count(*) FROM pairs WHERE status IN ('approved','edited')"):
        raise ToolError("no approved pairs to train on: review the proposed pairs and approve them first")
    ensure_split(ctx)
    out = mod.train(ctx.ws, train_config(ctx, a), progress=ctx.progress)
    curve = out.get("loss_curve") or []
    if len(curve) > 12:  # keep the message short: first, evenly spaced, last
        step = max(1, len(curve) // 10)
        out = out | {"loss_curve": curve[::step] + [curve[-1]]}
    return out


def _estimate_training(ctx: ToolContext, a: TrainArgs) -> dict[str, Any]:
    return _train_estimate(ctx, a) | {"settings": _train_editable(ctx, a)}


def _evaluate(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.evaluation", "evaluation")
    out = mod.evaluate_workspace(ctx.ws, progress=ctx.progress)
    return {k: out.get(k) for k in ("run_id", "metrics", "ci", "plots") if k in out} | {
        "queries": out.get("queries")
        if isinstance(out.get("queries"), int)
        else len(out.get("queries") or [])
    }


def _calibrate(ctx: ToolContext, a: NoArgs) -> dict[str, Any]:
    return _need("bgetune.tools.calibration", "calibration").calibrate(ctx.ws)


def _diagnose(ctx: ToolContext, a: DiagnoseArgs) -> dict[str, Any]:
    return _need("bgetune.tools.diagnosis", "diagnosis").diagnose(ctx.ws, a.query, expected=a.expected)


def _score(ctx: ToolContext, a: ScoreArgs) -> dict[str, Any]:
    mod = _need("bgetune.tools.calibration", "scoring")
    run = ctx.ws.last_run("train")
    model_dir = (run or {}).get("artifact_dir") or (run or {}).get("result", {}).get("model_dir")
    if not model_dir:
        raise ToolError("no trained model yet: train first, then score pairs with it")
    return mod.score_pair(model_dir, a.query, a.passage)


def _export(ctx: ToolContext, a: ExportArgs) -> dict[str, Any]:
    out_dir = user_path(ctx, a.out_dir, "write to") if a.out_dir else None
    return _need("bgetune.tools.export", "export").export_model(ctx.ws, out_dir=out_dir)


def _set_setting(ctx: ToolContext, a: SetSettingArgs) -> dict[str, Any]:
    value = _coerce(a.name, a.value.strip())
    if a.name == "base_model":
        from bgetune.models import resolve_base_model

        try:  # resolvable now? (offline, a hub id may only work with a filled cache)
            note = resolve_base_model(value).note
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the choice is still stored
            note = f"cannot load {value} here yet ({exc}); it will be tried again at training time"
        ctx.ws.set_setting(a.name, value)
        return {"name": a.name, "value": value, "note": note}
    ctx.ws.set_setting(a.name, value)
    return {"name": a.name, "value": value}


REGISTRY: dict[str, ToolSpec] = {
    s.name: s
    for s in [
        ToolSpec(
            "ingest", "Load and chunk documents into the workspace.", IngestArgs, _ingest, "cpu-minutes"
        ),
        ToolSpec("status", "Show what the workspace holds at each pipeline stage.", NoArgs, _status, "free"),
        ToolSpec(
            "generate_pairs",
            "Generate proposed (query, passage) training pairs from the chunks.",
            GenerateArgs,
            _generate,
            _generate_cost,
            estimate=_generate_estimate,
            editable=lambda ctx, a: {"mode": a.mode, "max_chunks": a.max_chunks},
            title=_generate_title,
        ),
        ToolSpec(
            "filter_pairs",
            "Filter proposed pairs (duplicates, weak or leaking queries).",
            NoArgs,
            _filter,
            "cpu-minutes",
        ),
        ToolSpec(
            "show_dataset",
            "Summarise the dataset: counts, reject reasons, examples.",
            NoArgs,
            _show_dataset,
            "free",
        ),
        ToolSpec(
            "show_pairs",
            "List pairs with ids, optionally by status or text.",
            ShowPairsArgs,
            _show_pairs,
            "free",
        ),
        ToolSpec("approve_pairs", "Approve the pairs with these ids.", IdsArgs, _approve, "free"),
        ToolSpec("reject_pairs", "Reject the pairs with these ids.", IdsArgs, _reject, "free"),
        ToolSpec("edit_pair", "Replace the query of one pair.", EditArgs, _edit, "free"),
        ToolSpec(
            "approve_all_pairs",
            "Approve every proposed pair (filter rejects stay rejected).",
            NoArgs,
            _approve_all,
            "free",
        ),
        ToolSpec(
            "split_dataset",
            "Split approved pairs into train/val/test by document.",
            SplitArgs,
            _split,
            "free",
        ),
        ToolSpec(
            "mine_negatives", "Mine hard negatives for the training pairs.", MineArgs, _mine, "cpu-minutes"
        ),
        ToolSpec(
            "estimate_training",
            "Estimate training steps, time and device without training.",
            TrainArgs,
            _estimate_training,
            "free",
        ),
        ToolSpec(
            "train",
            "Fine-tune the embedding model on the approved pairs.",
            TrainArgs,
            _train,
            "gpu",
            estimate=_train_estimate,
            editable=_train_editable,
            title=_train_title,
        ),
        ToolSpec(
            "evaluate",
            "Compare base and tuned model on the held-out test split.",
            NoArgs,
            _evaluate,
            "cpu-minutes",
        ),
        ToolSpec(
            "calibrate",
            "Calibrate a relevance threshold for the tuned model.",
            NoArgs,
            _calibrate,
            "cpu-minutes",
        ),
        ToolSpec(
            "diagnose",
            "Explain why a query fails to retrieve the right passage.",
            DiagnoseArgs,
            _diagnose,
            "cpu-minutes",
        ),
        ToolSpec(
            "score",
            "Score how relevant a passage is to a query with the tuned model.",
            ScoreArgs,
            _score,
            "free",
        ),
        ToolSpec(
            "export_model",
            "Export the tuned model as a sentence-transformers folder.",
            ExportArgs,
            _export,
            "free",
        ),
        ToolSpec(
            "set_setting",
            "Set a training setting: epochs, batch_size, lr, max_steps or base_model.",
            SetSettingArgs,
            _set_setting,
            "free",
        ),
    ]
}


def tool_schemas(settings: Settings) -> list[dict[str, Any]]:
    """OpenAI tool schemas of every registered tool (what gets bound to the chat model)."""
    return [s.schema(settings) for s in REGISTRY.values()]


def run_tool(name: str, raw_args: dict[str, Any] | None, ctx: ToolContext) -> Any:
    """Validate and run one tool (no gating here: the graph's review node decides whether it may run)."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(REGISTRY)}")
    return spec.run(ctx, spec.parse(raw_args))
