"""PNG plots for reports and the UI (matplotlib, Agg backend): score histograms, metrics bars, loss curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    import io

    from bgetune.core.workspace import atomic_write_bytes

    buf = io.BytesIO()
    fmt = (
        Path(path).suffix.lstrip(".").lower() or "png"
    )  # png for reports and the UI; svg lets tests read text
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def score_histograms(
    panels: Mapping[str, Mapping[str, Any]], path: str | Path, *, fixed_cut: float | None = 0.8
) -> Path:
    """One panel per model ('before', 'after'): histograms of positive vs negative scores, threshold marked.
    Each panel: {"pos": [...], "neg": [...], "threshold": float | None}."""
    plt = _plt()
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.6), squeeze=False, sharey=False)
    for ax, (title, p) in zip(axes[0], panels.items(), strict=False):
        pos, neg = list(p.get("pos", [])), list(p.get("neg", []))
        lo = min(pos + neg + [0.0])
        hi = max(pos + neg + [1.0])
        bins = [lo + (hi - lo) * i / 40 for i in range(41)]
        ax.hist(neg, bins=bins, alpha=0.6, label=f"negatives ({len(neg)})", color="#d62728", density=True)
        ax.hist(pos, bins=bins, alpha=0.6, label=f"positives ({len(pos)})", color="#2ca02c", density=True)
        if p.get("threshold") is not None:
            ax.axvline(p["threshold"], color="black", linestyle="-", label=f"threshold {p['threshold']:.3f}")
        if fixed_cut is not None:
            ax.axvline(fixed_cut, color="grey", linestyle=":", label=f"the common fixed cut ({fixed_cut})")
        ax.set_title(title)
        ax.set_xlabel("cosine score")
        ax.set_ylabel("density (share of pairs per score unit)")
        ax.legend(fontsize=7)
    return _save(fig, path)


def mean_ci(values: Sequence[float], *, n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values`` (queries resampled)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    if v.size < 2:
        m = float(v.mean()) if v.size else 0.0
        return m, m
    idx = np.random.default_rng(seed).integers(0, v.size, size=(n_resamples, v.size))
    means = v[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def metrics_bar(
    metrics: Mapping[str, Mapping[str, float]],
    path: str | Path,
    *,
    names: Sequence[str] | None = None,
    per_query: Mapping[str, Sequence[Mapping[str, float]]] | None = None,
    gain_ci: Mapping[str, Any] | None = None,
) -> Path:
    """Grouped bars: one group per metric, one bar per model (base, tuned, merged...). With ``per_query``
    ({model: [{metric: value}, ...]}) each bar gets its 95% bootstrap interval as an error bar; with
    ``gain_ci`` (evaluation's paired-bootstrap ``ci`` of the nDCG@10 gain) the title states the gain and its
    interval, which is the one that says whether tuned beats base."""
    plt = _plt()
    models = list(metrics)
    names = list(names or next(iter(metrics.values()), {}).keys())
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 3.8))
    width = 0.8 / max(1, len(models))
    for j, m in enumerate(models):
        xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(names))]
        vals = [metrics[m].get(nm, 0.0) for nm in names]
        rows = (per_query or {}).get(m)
        yerr = None
        if rows:
            cis = [mean_ci([float(r[nm]) for r in rows if nm in r]) for nm in names]
            yerr = [
                [max(0.0, v - lo) for v, (lo, _) in zip(vals, cis, strict=True)],
                [max(0.0, hi - v) for v, (_, hi) in zip(vals, cis, strict=True)],
            ]
        bars = ax.bar(xs, vals, width, label=m, yerr=yerr, capsize=2 if yerr else 0, ecolor="#333333")
        for k, (b, v) in enumerate(zip(bars, vals, strict=True)):
            top = v + (yerr[1][k] if yerr else 0.0)
            ax.text(b.get_x() + b.get_width() / 2, top + 0.01, f"{v:.2f}", ha="center", fontsize=6)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("score")
    ax.legend(fontsize=8)
    title = "retrieval metrics, held-out queries"
    if per_query:
        n = len(next(iter(per_query.values())))
        title += f" ({n}; error bars: 95% CI)"
    if gain_ci and gain_ci.get("diff") is not None:
        title += (
            f"\nnDCG@10 gain {gain_ci['diff']:+.3f}, 95% CI {gain_ci['low']:+.3f}..{gain_ci['high']:+.3f}"
            + (" (includes 0: not a clear gain)" if gain_ci["low"] <= 0 <= gain_ci["high"] else "")
        )
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def loss_curve(curve: Sequence[Sequence[float]], path: str | Path) -> Path:
    """Training loss by step from a train run's ``loss_curve`` ([[step, loss], ...])."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    pts = [(float(s), float(v)) for s, v in curve]
    ax.plot([s for s, _ in pts], [v for _, v in pts], marker="." if len(pts) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    return _save(fig, path)
