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

    from bgetune.workspace import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
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
            ax.axvline(fixed_cut, color="grey", linestyle=":", label=f"fixed {fixed_cut}")
        ax.set_title(title)
        ax.set_xlabel("cosine score")
        ax.legend(fontsize=7)
    return _save(fig, path)


def metrics_bar(
    metrics: Mapping[str, Mapping[str, float]], path: str | Path, *, names: Sequence[str] | None = None
) -> Path:
    """Grouped bars: one group per metric, one bar per model (base, tuned, merged...)."""
    plt = _plt()
    models = list(metrics)
    names = list(names or next(iter(metrics.values()), {}).keys())
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 3.6))
    width = 0.8 / max(1, len(models))
    for j, m in enumerate(models):
        xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(names))]
        vals = [metrics[m].get(nm, 0.0) for nm in names]
        bars = ax.bar(xs, vals, width, label=m)
        for b, v in zip(bars, vals, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", fontsize=6)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score")
    ax.legend(fontsize=8)
    ax.set_title("retrieval metrics, held-out queries")
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
