"""The one way in: ``bgetune.capabilities.invoke`` (prerequisites, options explicit > remembered > default with
limits, the cost gate) and the bugs it fixes by construction (issue 21: defaults outside their own limits, the
approval card, the approval text, `fix` and its aliases)."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from bgetune.capabilities import (
    ApprovalRequired,
    Context,
    PrerequisiteMissing,
    SettingError,
    coerce,
    default_of,
    get,
    invoke,
    options_for,
    settings_of,
    table,
)
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace


@pytest.fixture
def ctx(tmp_path) -> Context:
    ws = Workspace(tmp_path / "ws")
    return Context(ws=ws, settings=Settings(workspace=ws.root), files=None)


def _settings():
    return [(c.name, f) for c in table().values() for f in settings_of(c)]


@pytest.mark.parametrize(("cap", "f"), _settings(), ids=[f"{c}.{f.name}" for c, f in _settings()])
def test_every_declared_default_satisfies_its_own_limits(cap, f):
    default = default_of(f)
    if default in (None, ""):
        return  # "not given": resolved later (the computed values are checked below)
    assert coerce(f, default) == default, f"{cap}.{f.name}: default {default!r} outside its own limits"


def test_every_shown_value_satisfies_its_limits_on_a_workspace(ctx):
    """The values a settings card shows (remembered or default) are values the setting accepts."""
    from bgetune.surfaces import settings_card

    ctx.ws.set_setting("lr", 3e-5)
    for name, cap in table().items():
        if cap.options is None or any(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                                      for f in settings_of(cap)):  # fmt: skip
            continue
        fields = {f.name: f for f in settings_of(cap)}
        for entry in settings_card(name, ctx.ws):
            coerce(fields[entry["name"]], entry["value"])  # raises SettingError naming the setting


def test_the_training_card_shows_settings_not_the_estimates_counts(ctx):
    """The estimate counts pairs with hard negatives (132); the card showed that as the hard_negatives setting,
    and approving the card unchanged then failed with "hard_negatives must be at most 64"."""
    from bgetune.agent.registry import REGISTRY
    from bgetune.capabilities.train import resolved_train_settings
    from bgetune.tools.training import TrainConfig

    est = {"hard_negatives": 132, "pairs": 132, "epochs": 3, "steps": 15, "steps_per_epoch": 5, "lr": 2e-5,
           "batch_size": 32, "device": "cpu", "base_model": "bundled", "max_query_len": 11, "max_passage_len": 159,
           "objective": {"kind": "contrastive"}, "minutes": 1.5}  # fmt: skip
    opts = options_for("train", {}, ctx)
    card = resolved_train_settings(ctx, opts, est)
    assert card["hard_negatives"] == TrainConfig().hard_negatives
    assert (
        card["max_query_len"] == 11 and card["lr"] == 2e-5
    )  # values the data decides come from the estimate
    fields = {f.name: f for f in settings_of(get("train"))}
    for name, value in card.items():
        coerce(fields[name], value)
    # approving the card as shown runs: every value is a valid option
    REGISTRY["train"].parse({k: v for k, v in card.items() if v is not None})
    options_for("train", {k: v for k, v in card.items() if v is not None}, ctx)


def test_the_approval_text_says_the_options_that_run(ctx):
    """The UI said "Approved: Train ... 3 epochs ... with epochs=1": the text now comes from what runs."""
    from bgetune.agent.registry import approved_title

    est = {"pairs": 40, "epochs": 3, "steps": 30, "steps_per_epoch": 10, "minutes": 3.0, "device": "cpu"}
    pending = {"tool": "train", "args": {}, "settings": {"epochs": 3, "batch_size": 4}, "estimate": est}
    before = approved_title(pending, {}, ctx)
    after = approved_title(pending, {"epochs": 1}, ctx)
    assert "3 epochs, 30 steps" in before
    assert "1 epochs, 10 steps, ~1.0 min" in after and "3 epochs" not in after


def test_options_explicit_then_remembered_then_declared(ctx):
    assert options_for("train", {}, ctx).lr is None  # declared default: the trainer decides
    ctx.ws.set_setting("lr", 3e-5)
    assert options_for("train", {}, ctx).lr == 3e-5  # remembered in the workspace
    assert options_for("train", {"lr": "1e-4"}, ctx).lr == 1e-4  # explicit wins, coerced
    with pytest.raises(SettingError, match="lr must be at most"):
        options_for("train", {"lr": 1}, ctx)
    with pytest.raises(SettingError, match="has no setting learning_rate"):
        options_for("train", {"learning_rate": 1e-5}, ctx)
    with pytest.raises(SettingError, match="edit_pair needs id"):
        options_for("edit_pair", {"query": "x"}, ctx)


def test_a_gated_capability_without_approval_raises_with_its_estimate_and_runs_nothing(ctx):
    gated = dataclasses.replace(get("set_setting"), cost="gpu", estimate=lambda c, o: {"minutes": 2.0})
    with pytest.raises(ApprovalRequired) as info:
        invoke(gated, {"name": "epochs", "value": "2"}, ctx)
    assert (
        info.value.cost == "gpu"
        and info.value.estimate == {"minutes": 2.0}
        and "needs approval" in str(info.value)
    )
    assert ctx.ws.get_setting("epochs") is None  # nothing ran
    invoke(gated, {"name": "epochs", "value": "2"}, ctx, approved=True)
    assert ctx.ws.get_setting("epochs") == 2


def test_a_missing_prerequisite_names_what_to_run_first(ctx):
    with pytest.raises(PrerequisiteMissing, match="bgetune review approve-all") as info:
        invoke("train", {}, ctx, approved=True)
    assert info.value.fix == "approve_all_pairs"


def test_fix_and_its_aliases_reach_every_surface(ctx):
    """`fix` (apply_fix) is a CLI command, an agent tool and a UI capability; its declared choices accept the
    CLI's dashed names, the aliases and the planner's "suggested"."""
    from bgetune.agent.registry import REGISTRY
    from bgetune.cli import app
    from bgetune.ui import caps

    cap = get("apply_fix")
    assert cap.command == "fix" and "apply_fix" in REGISTRY and caps.capability("apply_fix") is cap
    assert CliRunner().invoke(app, ["fix", "--help"]).exit_code == 0
    for said, action in (("add-golden", "add_golden"), ("suggested", "suggested"), ("relabel", "relabel"),
                         ("Set-Threshold", "set_threshold")):  # fmt: skip
        assert cap.make_options({"miss_id": 1, "action": said}).action == action
    with pytest.raises(SettingError, match="action must be one of"):
        cap.make_options({"miss_id": 1, "action": "delete everything"})
    r = CliRunner().invoke(app, ["fix", "1", "bogus", "-w", str(ctx.ws.root)])
    assert r.exit_code == 2 and "action must be one of" in r.output


def test_history_import_is_declared_once():
    """The CLI's import-pairs, the chat's tool and the UI read the same declaration (no second set of names)."""
    import inspect

    from bgetune.agent.registry import REGISTRY
    from bgetune.surfaces import make_command
    from bgetune.ui import caps

    cap = get("import_history")
    declared = {f.name for f in settings_of(cap)}
    cli = set(inspect.signature(make_command(cap)).parameters) - {"workspace", "yes", "preview", "as_json"}
    assert cli == declared and "then_filter" in declared
    assert set(REGISTRY["import_history"].args.model_fields) == declared
    assert {e["name"] for e in caps.card("import_history")} | {"path"} == declared
