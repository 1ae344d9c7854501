"""CLI of the evaluation area: `bgetune eval`, `calibrate`, `score`, `guard` (`diagnose`: commands/diagnose.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace


def _fmt_metrics(m: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.3f}" for k, v in m.items())


def _side_by_side(metrics: dict[str, dict[str, float]], ci: dict[str, Any] | None) -> list[str]:
    names = list(next(iter(metrics.values())).keys())
    models = list(metrics)
    lines = [f"{'metric':<12}" + "".join(f"{m:>10}" for m in models)]
    for n in names:
        lines.append(f"{n:<12}" + "".join(f"{metrics[m][n]:>10.3f}" for m in models))
    if ci:
        lines.append(
            f"nDCG@10 gain {ci['diff']:+.3f} (95% CI {ci['low']:+.3f} .. {ci['high']:+.3f}, "
            f"{ci['resamples']} paired bootstrap resamples)"
            + (" - significant" if ci["low"] > 0 else " - not significant" if ci["high"] >= 0 else " - WORSE")
        )
    return lines


def _ws_if_any(workspace: Path | None):
    """The workspace when one was named (must exist) or the default one exists; else None."""
    if workspace:
        return open_workspace(workspace, create=False)[0]
    from bgetune.core.config import Settings
    from bgetune.core.workspace import DB_NAME

    default = Settings().workspace
    if default and (Path(default) / DB_NAME).exists():
        return open_workspace(None, create=False)[0]
    return None


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: str | None = typer.Option(
            None,
            "--model",
            "-m",
            help="Model folder, hub id or 'bundled' (default: the workspace's tuned model).",
        ),
        corpus: Path | None = typer.Option(
            None, "--corpus", help='Corpus JSONL {"id","text"} (default: the workspace chunks).'
        ),
        golden: Path | None = typer.Option(
            None, "--golden", help='Golden JSONL {"query","pos":[text]} or {"query","pos_ids":[id]}.'
        ),
        base: str | None = typer.Option(
            None, "--base", help="Also score this base model side by side (golden mode)."
        ),
        split: str = typer.Option("test", "--split", help="Held-out split to score in workspace mode."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Score retrieval: base vs tuned on the workspace's held-out split, or any model on your golden questions."""
        from bgetune.tools.evaluation import EvaluationError, evaluate_golden, evaluate_workspace

        try:
            if golden:
                ws = None if corpus else _ws_if_any(workspace)
                if not corpus and ws is None:
                    fail(
                        'pass --corpus FILE (a JSONL of {"id","text"}) or --workspace W holding the documents'
                    )
                spec = model or ("bundled" if ws is None else None)
                if spec is None:
                    from bgetune.tools.evaluation import latest_tuned_dir

                    spec = latest_tuned_dir(ws) or fail(
                        "no tuned model in the workspace yet; pass --model DIR"
                    )
                res = evaluate_golden(
                    spec,
                    corpus,
                    golden,
                    base=base,
                    ws=ws,
                    progress=TqdmProgress("eval", unit="item"),
                )
                if as_json:
                    emit({k: v for k, v in res.items() if k != "per_query"}, True)
                    return
                lines = [f"{res['queries']} questions from {golden}, corpus {res['corpus']}"]
                if base:
                    lines += _side_by_side(
                        {"base": res["metrics"]["base"], "tuned": res["metrics"]["tuned"]}, res["ci"]
                    )
                else:
                    lines.append(f"{spec}: " + _fmt_metrics(res["metrics"]))
                for u in res["unmatched"]:
                    lines.append(f"  unmatched (line {u['line']}): {u['query']!r}: {u['missing'][0][:60]!r}")
                emit(res, False, "\n".join(lines))
                return
            ws, _ = open_workspace(workspace, create=False)
            res = evaluate_workspace(
                ws, tuned_dir=model, split=split, progress=TqdmProgress("eval", unit="item")
            )
        except EvaluationError as exc:
            fail(str(exc))
            return
        lines = [f"{res['queries']} held-out queries ({split} split), corpus {res['corpus']} chunks"]
        lines += _side_by_side(res["metrics"], res["ci"])
        lines.append(f"per-query results: {res['per_query']}")
        lines += [f"plot: {p}" for p in res["plots"]]
        emit(res, as_json, "\n".join(lines))

    @app.command("calibrate")
    def calibrate_cmd(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Tuned model folder (default: the workspace's)."
        ),
        precision: float = typer.Option(
            0.9, "--precision", help="Target precision for the second threshold."
        ),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Find the score threshold (max F1 and target precision) and a score->probability mapping, before/after."""
        from bgetune.tools.calibration import calibrate
        from bgetune.tools.evaluation import EvaluationError

        ws, _ = open_workspace(workspace, create=False)
        try:
            res = calibrate(
                ws,
                model_dir=model,
                precision_target=precision,
                progress=TqdmProgress("calibrate", unit="item"),
            )
        except EvaluationError as exc:
            fail(str(exc))
            return
        lines = []
        for name in ("before", "after"):
            b = res.get(name)
            if not b:
                continue
            tp = b["threshold_precision"]
            lines.append(
                f"{name:<7} threshold(max F1) {b['threshold_f1']:.3f}  threshold(precision {precision:.2f}) "
                + (f"{tp:.3f}" if tp is not None else "unreachable")
                + f"  AUC {b['auc']:.3f}  F1 {b['at_threshold_f1']['f1']:.3f} vs fixed 0.8 {b['at_fixed_cut']['f1']:.3f}"
            )
            if b.get("vs_hard_negatives"):
                h = b["vs_hard_negatives"]
                lines.append(
                    f"        vs hard negatives: F1 {h['calibrated']['f1']:.3f} / balanced acc "
                    f"{h['calibrated']['balanced_accuracy']:.3f} (fixed 0.8: {h['fixed_cut']['f1']:.3f} / "
                    f"{h['fixed_cut']['balanced_accuracy']:.3f})"
                )
        lines.append(f"use threshold {res['threshold']:.3f} in your RAG platform; saved {res['path']}")
        emit(res, as_json, "\n".join(lines))

    @app.command("score")
    def score_cmd(
        query: str = typer.Argument(..., help="The query."),
        passage: str = typer.Argument(..., help="The passage."),
        model: str | None = typer.Option(None, "--model", "-m", help="Model folder, hub id or 'bundled'."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Raw cosine score of a query and a passage, its calibrated probability and the decision."""
        from bgetune.tools.calibration import CALIBRATION_FILE, load_calibration, score_pair
        from bgetune.tools.evaluation import latest_tuned_dir

        ws = _ws_if_any(workspace)
        cal = None
        if model is None:
            model = (latest_tuned_dir(ws) if ws else None) or fail(
                "no model: pass --model DIR (or 'bundled'), or a --workspace with a trained model"
            )
        if ws is not None and not (
            Path(str(model)).is_dir() and (Path(str(model)) / CALIBRATION_FILE).exists()
        ):
            cal = load_calibration(ws.artifact_path(CALIBRATION_FILE, mkdir=False))
        res = score_pair(str(model), query, passage, calibration=cal)
        text = f"score {res['score']:.4f}"
        if res["probability"] is not None:
            text += f"  probability {res['probability']:.3f}  threshold {res['threshold']:.3f}  -> {res['decision']}"
        else:
            text += f"\n{res['note']}"
        emit(res, as_json, text)

    @app.command("guard")
    def guard_cmd(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Tuned model folder (default: the workspace's)."
        ),
        ood_corpus: Path | None = typer.Option(None, "--ood-corpus", help="Out-of-domain corpus JSONL."),
        ood_golden: Path | None = typer.Option(None, "--ood-golden", help="Out-of-domain golden JSONL."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Forgetting guard: base vs tuned out of domain; offers a tuned/base weight merge if tuned forgot."""
        from bgetune.tools.evaluation import EvaluationError, latest_tuned_dir
        from bgetune.tools.merge import forgetting_guard

        ws, _ = open_workspace(workspace, create=False)
        tuned = model or latest_tuned_dir(ws) or fail("no tuned model in the workspace yet; pass --model DIR")
        try:
            res = forgetting_guard(
                ws,
                tuned_dir=str(tuned),
                ood_corpus=str(ood_corpus) if ood_corpus else None,
                ood_golden=str(ood_golden) if ood_golden else None,
            )
        except EvaluationError as exc:
            fail(str(exc))
            return
        lines = [f"out-of-domain set {res['ood_set']} ({res['ood_queries']} queries)"]
        lines += _side_by_side(res["ood"], res["ood_ci"])
        if res.get("merge"):
            lines.append(
                f"tuned forgot {res['forgetting']:.3f} nDCG@10: merge alpha {res['merge']['alpha']} chosen"
            )
            if res.get("merged_dir"):
                lines.append(f"merged model: {res['merged_dir']}")
        else:
            lines.append("no forgetting beyond 1 point nDCG@10: no merge needed")
        emit(res, as_json, "\n".join(lines))
