"""The training time budget (tools/budget.py): durations, and the epochs/steps a budget buys."""

from __future__ import annotations

import pytest

from bgetune.tools.budget import BudgetError, parse_duration, plan_budget, plan_from_estimate


@pytest.mark.parametrize(
    ("text", "secs"),
    [
        ("20 min", 1200),
        ("20", 1200),
        ("1h30m", 5400),
        ("90s", 90),
        ("1.5 hours", 5400),
        ("20分钟", 1200),
        (5, 300),
    ],
)
def test_parse_duration(text, secs):
    assert parse_duration(text) == pytest.approx(secs)


@pytest.mark.parametrize("bad", ["soon", "20 parsecs", "0 min", "-3"])
def test_parse_duration_refuses_what_it_cannot_read(bad):
    with pytest.raises(BudgetError):
        parse_duration(bad)


def test_whole_epochs_when_they_fit():
    # 100 steps of 2 s = 200 s per epoch + 20 s validation; 3 epochs = 10 + 3 * 220 = 670 s
    p = plan_budget(20 * 60, step_s=2.0, steps_per_epoch=100, batch_size=32, epochs=3, val_s_per_epoch=20)
    assert (p.epochs, p.max_steps, p.steps, p.fits) == (3, None, 300, True)
    assert p.expected_s <= 20 * 60
    assert p.pairs_trained == 300 * 32


def test_fewer_epochs_when_all_do_not_fit():
    p = plan_budget(500, step_s=2.0, steps_per_epoch=100, batch_size=32, epochs=3, val_s_per_epoch=20)
    assert (p.epochs, p.max_steps, p.steps) == (2, None, 200)
    assert "2 epochs" in p.text() and "of the 3 asked for" in p.text()


def test_part_of_one_epoch_when_one_epoch_is_over_the_budget():
    # the measured case: about 18 s per step of 32 pairs on 2 cores, 4,000 pairs = 125 steps per epoch
    p = plan_budget(20 * 60, step_s=18.0, steps_per_epoch=125, batch_size=32, epochs=3, val_s_per_epoch=60)
    assert p.epochs == 1 and p.max_steps is not None
    assert p.max_steps == (20 * 60 - 10 - 60) // 18
    assert p.expected_s <= 20 * 60 and p.fits
    assert "% of one epoch" in p.text() and "分钟" in p.text("zh")


def test_a_budget_below_one_step_still_trains_one_and_says_it_does_not_fit():
    p = plan_budget(5, step_s=18.0, steps_per_epoch=125, batch_size=32)
    assert p.max_steps == 1 and not p.fits
    assert "over the budget" in p.text()


def test_plan_from_an_estimate_uses_its_timed_steps():
    est = {
        "steps": 300,
        "steps_per_epoch": 100,
        "epochs": 3,
        "seconds": 700.0,
        "train_seconds": 600.0,
        "val_seconds": 90.0,
        "batch_size": 32,
    }
    p = plan_from_estimate("10 min", est)
    # 2 s per step, 30 s validation and 30 s decision per epoch: 2 epochs = 10 + 30 + 2 * 260 = 560 s
    assert (p.epochs, p.max_steps) == (2, None)


@pytest.mark.slow
def test_budget_fits_a_real_config_from_its_measured_steps(mined_ws):
    from bgetune.tools.budget import fit_config_to_budget
    from bgetune.tools.training import TrainConfig

    def cfg():
        return TrainConfig(base_model="bundled", batch_size=4, max_passage_len=32, epochs=2, device="cpu")

    tight, plan = fit_config_to_budget(mined_ws, cfg(), "1 s")
    assert tight.epochs == 1 and tight.max_steps == 1 and not plan.fits
    roomy, plan2 = fit_config_to_budget(mined_ws, cfg(), "10 h")
    assert roomy.epochs == 2 and roomy.max_steps is None and plan2.fits
    assert plan2.steps == 2 * plan2.steps_per_epoch
    assert roomy.extra["budget"]["text"].startswith("a 600-minute budget buys 2 epochs")
