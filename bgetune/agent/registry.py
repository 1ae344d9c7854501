"""The agent's tools, derived from the capability table: typed arguments, a cost tag, an estimate for gated ones.

The description of each tool is the prompt the LLM sees: short, imperative, says what it costs. The workspace,
settings, attached files and the progress callback are injected through :class:`ToolContext`; they are never
part of a tool's schema. A tool call runs through ``bgetune.capabilities.invoke``, as the CLI and the UI do.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bgetune.capabilities import (
    GATED_COSTS,
    Capability,
    Context,
    SettingError,
    estimate_of,
    invoke,
    options_for,
    table,
)
from bgetune.capabilities import user_path as _user_path
from bgetune.capabilities.data import stage_snapshot
from bgetune.capabilities.train import resolved_train_settings, train_config
from bgetune.core.errors import BgetuneError
from bgetune.surfaces import args_model, result_data

if TYPE_CHECKING:
    from bgetune.core.config import Settings

Cost = Literal["free", "cpu-minutes", "gpu", "paid-llm"]
Progress = Callable[[int, int, str], None]
MAX_RESULT_CHARS = 6000

__all__ = [
    "REGISTRY",
    "ToolContext",
    "ToolError",
    "ToolSpec",
    "compact",
    "stage_snapshot",
    "tool_schemas",
    "user_path",
]

ToolContext = Context  # what a tool gets besides its arguments (injected, never seen by the model)


class ToolError(BgetuneError):
    """A tool failure the user can act on: what went wrong and what to do next."""


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
    editable: Callable[[ToolContext, Any, dict[str, Any]], dict[str, Any]] | None = None
    title: Callable[[ToolContext, Any, dict[str, Any]], str] | None = None
    capability: Capability | None = None

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
        params = lean_schema(self.args.model_json_schema())
        params.pop("description", None)
        cost = self.cost(settings, None) if callable(self.cost) else self.cost
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
def lean_schema(node: Any) -> Any:
    """A JSON schema without what pydantic adds and a model does not need: titles, ``"default": null``, and the
    ``anyOf [T, null]`` of optional settings (every argument may be left out; its declared default then holds).
    A third fewer characters in each call (all 44 tools: 50,413 -> 36,068; train: 4,938 -> 3,199)."""
    if isinstance(node, list):
        return [lean_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: lean_schema(v) for k, v in node.items() if k != "title" and not (k == "default" and v is None)}
    types = out.get("anyOf")
    if isinstance(types, list):
        some = [t for t in types if t != {"type": "null"}]
        if len(some) == 1 and len(some) < len(types):
            out.pop("anyOf")
            out = {**some[0], **out}
    return out


def compact(result: Any, limit: int = MAX_RESULT_CHARS) -> str:
    """A tool result as JSON text for a ToolMessage, cut to ``limit`` characters."""
    text = (
        result
        if isinstance(result, str)
        else json.dumps(result_data(result), ensure_ascii=False, default=str)
    )
    return text if len(text) <= limit else text[: limit - 20] + " ...[truncated]"


def user_path(ctx: ToolContext, raw: str, what: str) -> str:
    """A path a tool may touch (``bgetune.capabilities.user_path``); ToolError when it is outside."""
    try:
        return _user_path(ctx, raw, what)
    except SettingError as exc:
        raise ToolError(str(exc)) from exc


# ---------------------------------------------------------------------------------------------- derived tools
def _title(cap: Capability, ctx: ToolContext, opts: Any, est: dict[str, Any]) -> str:
    """The approval card's headline: what will run, on what, for how long, on which device."""
    if cap.name == "train":  # the options that run (edits included); the estimate only scales with them
        cfg = train_config(ctx, opts)
        per_epoch = est.get("steps_per_epoch")
        steps = per_epoch * cfg.epochs if isinstance(per_epoch, int) else est.get("steps")
        if isinstance(steps, int) and cfg.max_steps:
            steps = min(steps, cfg.max_steps)
        minutes = est.get("minutes")
        if isinstance(minutes, int | float) and isinstance(steps, int) and est.get("steps"):
            minutes = minutes * steps / est["steps"]
        mins = f"~{minutes:.1f} min" if isinstance(minutes, int | float) else "unknown time"
        return (
            f"Train {cfg.base_model or est.get('base_model') or 'the base model'} on {est.get('pairs', '?')} pairs: "
            f"{cfg.epochs} epochs, {steps if steps is not None else '?'} steps, {mins} on {est.get('device', '?')}"
        )
    if est.get("calls") is not None:
        money = est.get("money")
        cost = (
            f", about {money:.4g} {est.get('currency') or ''}".rstrip()
            if isinstance(money, int | float)
            else ""
        )
        return (
            f"Generate training questions with {est.get('model') or ctx.settings.llm_model_name} for "
            f"{est.get('chunks', '?')} chunks ({est.get('calls', '?')} calls, ~{est.get('tokens_in', '?')} tokens in, "
            f"~{est.get('tokens_out', '?')} out{cost})"
        )
    return cap.summary.rstrip(".")


def _editable(
    cap: Capability, ctx: ToolContext, opts: Any, est: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Settings shown (and editable) on the approval card: the resolved values that will really run."""
    if cap.name == "train":
        return resolved_train_settings(ctx, opts, est)
    if opts is None:
        return {}
    return {
        f.name: getattr(opts, f.name)
        for f in dataclasses.fields(opts)
        if not f.metadata.get("positional")
        and isinstance(getattr(opts, f.name), str | int | float | bool | None)
    }


def spec_from_capability(cap: Capability) -> ToolSpec:
    """The agent's view of a capability: argument model, cost, estimate, approval card."""
    args_cls = args_model(cap, Args) if cap.options is not None else NoArgs

    def options(ctx: ToolContext | None, a: Any) -> Any:
        raw = a.model_dump(exclude_none=True) if isinstance(a, BaseModel) else dict(a or {})
        try:
            return options_for(cap, raw, ctx)
        except SettingError as exc:
            raise ToolError(str(exc)) from exc

    def run(ctx: ToolContext, a: Any) -> Any:
        # the graph's review node is the agent's gate: a gated call reaches this node only once approved
        return invoke(cap, options(ctx, a), ctx, approved=True)

    def cost(settings: Settings, a: Any) -> Cost:
        if not callable(cap.cost):
            return cap.cost
        try:
            opts = options(None, a) if a is not None else None
        except ToolError:
            opts = None
        return cap.cost_for(Context(ws=None, settings=settings), opts)  # type: ignore[arg-type]

    def estimate(ctx: ToolContext, a: Any) -> dict[str, Any]:
        est = estimate_of(cap, ctx, options(ctx, a)) or {}
        return result_data(est) if not isinstance(est, dict) else est

    return ToolSpec(
        cap.name,
        cap.summary,
        args_cls,
        run,
        cost if callable(cap.cost) else cap.cost,
        estimate=estimate if cap.estimate else None,
        editable=lambda ctx, a, est=None: _editable(cap, ctx, options(ctx, a), est),
        title=lambda ctx, a, est: _title(cap, ctx, options(ctx, a), est),
        capability=cap,
    )


class NoArgs(Args):
    pass


def _build_registry() -> dict[str, ToolSpec]:
    return {name: spec_from_capability(cap) for name, cap in table().items() if cap.chat}


REGISTRY: dict[str, ToolSpec] = _build_registry()


def tool_schemas(settings: Settings, names: list[str] | None = None) -> list[dict[str, Any]]:
    """OpenAI tool schemas of the registered tools (all, or those ``names``): what gets bound to the chat model."""
    return [s.schema(settings) for n, s in REGISTRY.items() if names is None or n in names]


def run_tool(name: str, raw_args: dict[str, Any] | None, ctx: ToolContext) -> Any:
    """Validate and run one tool (no gating here: the graph's review node decides whether it may run)."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(REGISTRY)}")
    return spec.run(ctx, spec.parse(raw_args))


def approved_title(pending: dict[str, Any], edits: dict[str, Any] | None, ctx: ToolContext) -> str:
    """What an approval starts, said from the options that will really run (the shown settings with the
    user's edits), not from the card shown before the edits: "Train ... 1 epochs" after "epochs=1"."""
    spec = REGISTRY[pending["tool"]]
    args = dict(pending.get("args") or {})
    args.update({k: v for k, v in (pending.get("settings") or {}).items() if v is not None})
    args.update({k: v for k, v in (edits or {}).items() if v not in (None, "")})
    parsed = spec.parse(args)
    return spec.title(ctx, parsed, pending.get("estimate") or {}) if spec.title else f"Run {spec.name}"
