"""A training time budget: "train for at most 20 minutes" picks epochs and steps from the measured step time.

``plan_budget`` is a pure function of the budget and the measured costs (``estimate_training`` measures the step
time on real batches here and caches it): fixed setup, seconds per step, steps per epoch, validation per epoch
and the ship decision's scoring per candidate (the base plus one per epoch). It keeps as many whole epochs of the
requested ones as fit; when not even one does, it trains the steps that fit (at least one) and says which
fraction of an epoch that is. ``fit_config_to_budget`` applies it to a TrainConfig.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from bgetune.core.errors import BgetuneError

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "秒": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "分": 60,
    "分钟": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "小时": 3600,
    "时": 3600,
}


class BudgetError(BgetuneError, ValueError):
    """A budget that cannot be read or is not positive."""


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``"20 min"``, ``"1h30m"``, ``"90s"``, ``"1.5 hours"``, ``"20分钟"``; a bare number is minutes."""
    if isinstance(text, int | float):
        secs = float(text) * 60
    else:
        s = str(text).strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", s):
            secs = float(s) * 60
        else:
            parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+|分钟|小时|秒|分|时)", s)
            if not parts or re.sub(r"[\d.\s]|[a-z]+|分钟|小时|秒|分|时|and|,", "", s):
                raise BudgetError(
                    f"cannot read the time budget {text!r}: say e.g. '20 min', '1h30m' or '90s'"
                )
            secs = 0.0
            for num, unit in parts:
                if unit not in _UNITS:
                    raise BudgetError(f"unknown time unit {unit!r} in {text!r}: use s, min or h")
                secs += float(num) * _UNITS[unit]
    if secs <= 0:
        raise BudgetError(f"the time budget must be positive, got {text!r}")
    return secs


@dataclass
class BudgetPlan:
    budget_s: float
    epochs: int  # epochs to run (the last one may be cut by max_steps)
    max_steps: int | None  # None: whole epochs
    steps: int  # steps that will run
    steps_per_epoch: int
    pairs_trained: int  # pairs seen (steps x batch)
    expected_s: float
    fits: bool  # False: even the minimum (one step) is over the budget
    requested_epochs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, lang: str = "en") -> str:
        mins = self.budget_s / 60
        exp = self.expected_s / 60
        frac = self.steps / max(1, self.steps_per_epoch)
        if lang == "zh":
            if self.max_steps is None:
                what = f"{self.epochs} 轮（共 {self.steps} 步，{self.pairs_trained} 对）"
            else:
                what = f"{self.steps} 步（约 {frac:.0%} 的一轮，{self.pairs_trained} 对）"
            tail = "" if self.fits else "；即使一步也超出预算"
            return f"时间预算 {mins:.0f} 分钟可训练 {what}，预计 {exp:.1f} 分钟{tail}。"
        if self.max_steps is None:
            what = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''} ({self.steps} steps, {self.pairs_trained} pairs)"
            if self.epochs < self.requested_epochs:
                what += f" of the {self.requested_epochs} asked for"
        else:
            what = f"{self.steps} steps ({frac:.0%} of one epoch, {self.pairs_trained} pairs)"
        tail = "" if self.fits else "; even one step is over the budget"
        return f"a {mins:.0f}-minute budget buys {what}, expected {exp:.1f} min{tail}"


def plan_budget(
    budget_s: float,
    *,
    step_s: float,
    steps_per_epoch: int,
    batch_size: int,
    epochs: int = 3,
    setup_s: float = 10.0,
    val_s_per_epoch: float = 0.0,
    decision_s_per_candidate: float = 0.0,
) -> BudgetPlan:
    """The most training that fits ``budget_s`` seconds: whole epochs (up to ``epochs``), else the steps of one.

    Cost of ``e`` whole epochs: ``setup + e * (steps_per_epoch * step_s + val + decision) + decision`` (the
    decision scores the base and every epoch)."""
    if budget_s <= 0:
        raise BudgetError("the time budget must be positive")
    if step_s <= 0 or steps_per_epoch < 1 or epochs < 1:
        raise BudgetError("step time, steps per epoch and epochs must be positive")
    per_epoch = steps_per_epoch * step_s + val_s_per_epoch + decision_s_per_candidate
    fixed = setup_s + decision_s_per_candidate
    for e in range(epochs, 0, -1):
        cost = fixed + e * per_epoch
        if cost <= budget_s:
            steps = e * steps_per_epoch
            return BudgetPlan(
                budget_s, e, None, steps, steps_per_epoch, steps * batch_size, round(cost, 1), True, epochs
            )
    room = budget_s - fixed - val_s_per_epoch - decision_s_per_candidate
    steps = max(1, min(steps_per_epoch, math.floor(room / step_s)))
    cost = fixed + val_s_per_epoch + decision_s_per_candidate + steps * step_s
    return BudgetPlan(
        budget_s,
        1,
        steps,
        steps,
        steps_per_epoch,
        steps * batch_size,
        round(cost, 1),
        cost <= budget_s,
        epochs,
    )


def plan_from_estimate(budget: str | float, est: dict[str, Any], *, epochs: int | None = None) -> BudgetPlan:
    """``plan_budget`` from an ``estimate_training`` result (its timed steps and validation)."""
    budget_s = parse_duration(budget)
    ep = int(epochs or est.get("epochs") or 1)
    spe = int(est["steps_per_epoch"])
    planned_steps = int(est.get("steps") or spe * ep)
    val_total = float(est.get("val_seconds") or 0.0)
    train_s = float(est.get("train_seconds") or max(0.0, float(est["seconds"]) - 10.0 - val_total))
    step_s = train_s / max(1, planned_steps)
    return plan_budget(
        budget_s,
        step_s=step_s,
        steps_per_epoch=spe,
        batch_size=int(est.get("batch_size") or 32),
        epochs=ep,
        setup_s=10.0,
        val_s_per_epoch=val_total / max(1, ep),
        decision_s_per_candidate=val_total / max(1, ep),  # the decision encodes about a validation's worth
    )


_PLANS: dict[tuple[str, str, str], BudgetPlan] = {}  # (workspace, budget, config) -> plan, per process


def fit_config_to_budget(ws: Any, config: Any, budget: str | float) -> tuple[Any, BudgetPlan]:
    """Measure (or reuse) the step time for ``config`` and set its epochs / max_steps to fit ``budget``.

    The plan is kept per workspace, budget and config for this process, so the estimate, the approval card and
    the run itself agree on it (and the steps are timed once)."""
    from bgetune.tools.training import estimate_training

    parse_duration(budget)  # refuse an unreadable budget before measuring anything
    key = (str(getattr(ws, "root", ws)), str(budget), repr(config))
    plan = _PLANS.get(key)
    if plan is None:
        est = estimate_training(ws, config)
        plan = plan_from_estimate(budget, est, epochs=config.epochs)
        _PLANS[key] = plan
    config.epochs = plan.epochs
    config.max_steps = plan.max_steps
    config.extra = dict(config.extra or {}) | {"budget": plan.to_dict() | {"text": plan.text()}}
    return config, plan
