"""The plots say what they show: histogram axes and the fixed cut named, before/after bars with 95% CIs."""

from __future__ import annotations

import numpy as np
import pytest

from bgetune.tools import plots


def _svg_text(path) -> str:
    return path.read_text(encoding="utf-8")  # matplotlib writes each text as an <!-- text --> comment


def test_score_histogram_names_its_axes_and_the_fixed_cut(tmp_path):
    rng = np.random.default_rng(0)
    panels = {
        "before": {
            "pos": rng.normal(0.6, 0.1, 50).tolist(),
            "neg": rng.normal(0.3, 0.1, 150).tolist(),
            "threshold": 0.45,
        },
        "after": {
            "pos": rng.normal(0.7, 0.1, 50).tolist(),
            "neg": rng.normal(0.2, 0.1, 150).tolist(),
            "threshold": 0.5,
        },
    }
    svg = _svg_text(plots.score_histograms(panels, tmp_path / "h.svg", fixed_cut=0.8))
    assert "the common fixed cut (0.8)" in svg and "fixed 0.8" not in svg
    assert svg.count("density (share of pairs per score unit)") == 2
    assert "cosine score" in svg and "threshold 0.450" in svg
    png = plots.score_histograms(panels, tmp_path / "h.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_mean_ci_brackets_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(1)
    small = rng.uniform(0, 1, 20)
    big = rng.uniform(0, 1, 2000)
    lo, hi = plots.mean_ci(small)
    assert lo < small.mean() < hi
    blo, bhi = plots.mean_ci(big)
    assert bhi - blo < (hi - lo) / 4
    assert plots.mean_ci([0.5]) == (0.5, 0.5)


def test_metrics_bar_shows_intervals_and_the_gain(tmp_path):
    rng = np.random.default_rng(2)
    per = {
        "base": [{"ndcg@10": float(v), "hit@10": float(v > 0.4)} for v in rng.uniform(0.2, 0.8, 42)],
        "tuned": [{"ndcg@10": float(v), "hit@10": float(v > 0.4)} for v in rng.uniform(0.2, 0.8, 42)],
    }
    metrics = {
        m: {k: float(np.mean([r[k] for r in rows])) for k in ("ndcg@10", "hit@10")} for m, rows in per.items()
    }
    ci = {"diff": 0.013, "low": -0.03, "high": 0.05}
    svg = _svg_text(plots.metrics_bar(metrics, tmp_path / "m.svg", per_query=per, gain_ci=ci))
    assert "(42; error bars: 95% CI)" in svg
    assert "nDCG@10 gain +0.013, 95% CI -0.030..+0.050 (includes 0: not a clear gain)" in svg
    clear = _svg_text(
        plots.metrics_bar(
            metrics, tmp_path / "c.svg", per_query=per, gain_ci={"diff": 0.08, "low": 0.04, "high": 0.12}
        )
    )
    assert "95% CI +0.040..+0.120" in clear and "not a clear gain" not in clear
    plain = _svg_text(plots.metrics_bar(metrics, tmp_path / "p.svg"))  # no per-query data: plain bars
    assert "error bars" not in plain


@pytest.mark.parametrize("bad", [[], [0.1]])
def test_mean_ci_small_inputs(bad):
    lo, hi = plots.mean_ci(bad)
    assert lo == hi
