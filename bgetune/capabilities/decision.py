"""Ship-decision capability: which model ships after training, and why."""

from __future__ import annotations

from dataclasses import dataclass

from bgetune.capabilities import Capability, Context, Prereq, setting
from bgetune.core.workspace import Workspace
from bgetune.tools.decision import DecisionError, ShipDecision
from bgetune.tools.golden import MIN_GOLDEN


@dataclass(kw_only=True)
class DecideOptions:
    run_id: str | None = setting(None, help="Training run (default: the last finished one).")


def _has_train_run(ws: Workspace) -> bool:
    return ws.last_run("train") is not None


def show_decision(ctx: Context, opts: DecideOptions) -> ShipDecision:
    """Say which model ships and why: the evidence, each candidate's gain with its CI, and the rule."""
    run = ctx.ws.run(opts.run_id) if opts.run_id else ctx.ws.last_run("train")
    if not run:
        raise DecisionError(
            f"no training run {opts.run_id or ''} in {ctx.ws.root}: train first (`bgetune train`)"
        )
    d = (run.get("result") or {}).get("decision")
    if not d:
        raise DecisionError(
            f"run {run['id']} has no ship decision: it had no evidence (no test split and fewer than {MIN_GOLDEN} "
            "labeled golden questions); label golden questions or split the data, then train again"
        )
    return ShipDecision.from_dict(d)


CAPABILITIES = [
    Capability(
        "ship_decision",
        "Say which model ships after training and why (evidence, each candidate's gain with its CI).",
        show_decision,
        DecideOptions,
        ShipDecision,
        cost="free",
        requires=(Prereq(_has_train_run, "no finished training run", fix="train"),),
        cli="decision",
    )
]
