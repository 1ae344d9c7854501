"""CLI of the diagnosis area: `bgetune diagnose`, `bgetune misses`, `bgetune fix`."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace


def register(app: typer.Typer) -> None:
    @app.command("diagnose")
    def diagnose_cmd(
        query: str = typer.Argument("", help="The query that misses (omit with --golden, or with --pick)."),
        expected: str | None = typer.Option(
            None, "--expected", help="The right answer: its text, or a document and page ('R-FAQ.pdf p. 12')."
        ),
        expected_id: str | None = typer.Option(
            None, "--expected-id", help="Chunk id or knowledge-base id of the right answer."
        ),
        pick: int | None = typer.Option(
            None, "--pick", min=1, help="Number of the right answer in the last diagnosis's result list."
        ),
        golden: Path | None = typer.Option(
            None,
            "--golden",
            help='Diagnose every golden question: JSONL {"query","pos":[text]} or {"query","pos_ids":[id]}; '
            "'-' for the workspace golden set.",
        ),
        model: str | None = typer.Option(
            None, "--model", "-m", help="Tuned model folder (default: the workspace's newest)."
        ),
        top_k: int = typer.Option(10, "--top-k", min=1, max=50, help="Results shown per model."),
        lang: str | None = typer.Option(
            None, "--lang", help="Reply language: en or zh (default: the query's)."
        ),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Why does this query miss? Both models' results, the expected answer's rank, the cause and the fixes."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools.diagnosis import diagnose, diagnose_golden
        from bgetune.tools.evaluation import EvaluationError

        if lang not in (None, "en", "zh"):
            fail("--lang takes en or zh")
        if sum(x is not None for x in (expected, expected_id, pick)) > 1:
            fail("give the right answer one way: --expected, --expected-id or --pick")
        ws, _ = open_workspace(workspace, create=False)
        try:
            if golden is not None:
                res = diagnose_golden(
                    ws,
                    None if str(golden) == "-" else golden,
                    model_dir=model,
                    lang=lang,
                    progress=TqdmProgress("diagnose", unit="question", disable=as_json),
                )
            else:
                if not query.strip() and pick is None:
                    fail('give the query: bgetune diagnose "your query" [--expected TEXT]')
                res = diagnose(
                    ws,
                    query,
                    expected=expected,
                    expected_id=expected_id,
                    expected_pick=pick,
                    lang=lang,
                    model_dir=model,
                    top_k=top_k,
                )
        except (BgetuneError, EvaluationError) as exc:
            fail(str(exc))
            return
        out_lang = lang or getattr(res, "lang", None) or "en"
        emit(res.as_dict() if hasattr(res, "as_dict") else _asdict(res), as_json, res.text(out_lang))

    @app.command("misses")
    def misses_cmd(
        status: str | None = typer.Option(
            None, "--status", help="Only this status: open, not-a-miss, fixed, dismissed."
        ),
        lang: str = typer.Option("en", "--lang", help="Reply language: en or zh."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """The queries diagnosed so far, with their cause and status, and what the fixes add up to."""
        from bgetune.tools.diagnosis import MissesView, MissList, fixed_pairs_summary, misses

        ws, _ = open_workspace(workspace, create=False)
        view = MissesView(MissList(misses(ws, status=status)), fixed_pairs_summary(ws))
        emit(_asdict(view), as_json, view.text(lang))

    @app.command("fix")
    def fix_cmd(
        miss_id: int = typer.Argument(..., help="The miss number (from the diagnosis or `bgetune misses`)."),
        action: str = typer.Argument(
            ...,
            help="add_training_pair | add_golden | relabel_competitor | set_threshold | rechunk | "
            "switch_base_model | no_answer | dismiss",
        ),
        chunk_id: str | None = typer.Option(
            None, "--chunk-id", help="The passage (default: the diagnosis's expected answer)."
        ),
        value: float | None = typer.Option(None, "--value", help="The threshold, for set_threshold."),
        model: str | None = typer.Option(
            None, "--model", help="The base model, for switch_base_model (default BAAI/bge-m3)."
        ),
        document: str | None = typer.Option(None, "--document", help="The document to re-chunk."),
        chunk_tokens: int | None = typer.Option(None, "--chunk-tokens", help="Chunk size for rechunk."),
        chunk_overlap: int | None = typer.Option(None, "--chunk-overlap", help="Chunk overlap for rechunk."),
        lang: str = typer.Option("en", "--lang", help="Reply language: en or zh."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Turn a diagnosed miss into a fix: a training pair, a golden question, a relabel, a threshold, ..."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools.diagnosis import apply_fix

        ws, _ = open_workspace(workspace, create=False)
        try:
            res = apply_fix(
                ws,
                miss_id,
                action,
                chunk_id=chunk_id,
                value=value,
                model=model,
                document=document,
                chunk_tokens=chunk_tokens,
                chunk_overlap=chunk_overlap,
            )
        except BgetuneError as exc:
            fail(str(exc))
            return
        emit(_asdict(res), as_json, res.text(lang))


def _asdict(obj: object) -> object:
    from bgetune.capabilities import as_dict

    return as_dict(obj)
