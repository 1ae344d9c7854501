"""CLI of the golden set: `bgetune golden add|label|list|edit|remove|eval|export`."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, WorkspaceOpt, emit, fail, open_workspace


def register(app: typer.Typer) -> None:
    golden = typer.Typer(
        help="Your real questions with the passages that answer them: the evidence for what ships.",
        no_args_is_help=True,
    )
    app.add_typer(golden, name="golden")

    @golden.command("add")
    def add_cmd(
        questions: list[str] = typer.Argument(None, help="Questions (quote each one)."),
        file: Path | None = typer.Option(
            None, "--file", "-f", help="A .txt (one per line), .csv/.xlsx (question column) or .jsonl file."
        ),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Add real questions to the golden set (then label them with `bgetune golden label`)."""
        from bgetune.capabilities import Context
        from bgetune.core.errors import BgetuneError
        from bgetune.tools.golden import GoldenAddOptions, golden_add

        ws, settings = open_workspace(workspace)
        try:
            res = golden_add(
                Context(ws=ws, settings=settings),
                GoldenAddOptions(questions=list(questions or []), path=str(file) if file else None),
            )
        except BgetuneError as exc:
            fail(str(exc))
        emit(
            {"added": res.added, "duplicates": res.duplicates, "counts": res.counts.__dict__},
            as_json,
            res.text("en"),
        )

    @golden.command("label")
    def label_cmd(
        query: int | None = typer.Option(
            None, "--query", "-q", help="Question id (non-interactive with --pos)."
        ),
        pos: str | None = typer.Option(
            None, "--pos", help='Candidate numbers or chunk ids, comma separated ("1,3"), or "none".'
        ),
        k: int = typer.Option(5, "-k", help="Candidates from each list (base model and BM25)."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Label golden questions: shows each unlabeled question's candidates and reads "1 3", "none" or "skip"."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools import golden as g

        ws, _ = open_workspace(workspace, create=False)
        try:
            if pos is not None:
                if query is None:
                    fail("--pos needs --query ID (see `bgetune golden list`)")
                numbers = [p for p in pos.replace(",", " ").split() if p.isdigit() and len(p) <= 3]
                q = g.get_question(ws, query)
                if numbers and not q.candidates.get("shown"):
                    g.show_candidates(ws, query, k=k)
                q = g.label_question(ws, query, pos)
                emit(
                    q.__dict__ | {"candidates": None},
                    as_json,
                    g.GoldenLabelResult(q, g.golden_counts(ws)).text(),
                )
                return
            _interactive(ws, g, start=query, k=k)
        except BgetuneError as exc:
            fail(str(exc))

    @golden.command("list")
    def list_cmd(
        status: str | None = typer.Option(None, "--status", help="unlabeled | labeled | unanswerable"),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """List the golden questions with their status and labeled passages."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools import golden as g

        ws, _ = open_workspace(workspace, create=False)
        try:
            res = g.GoldenListResult(g.list_questions(ws, status), g.golden_counts(ws))
        except BgetuneError as exc:
            fail(str(exc))
        emit(
            {
                "counts": res.counts.__dict__,
                "questions": [q.__dict__ | {"candidates": None} for q in res.questions],
            },
            as_json,
            res.text("en"),
        )

    @golden.command("edit")
    def edit_cmd(
        query_id: int = typer.Argument(..., help="Question id."),
        text: str = typer.Argument(..., help="The new wording."),
        workspace: Path | None = WorkspaceOpt,
    ) -> None:
        """Reword a golden question (its labels stay)."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools import golden as g

        ws, _ = open_workspace(workspace, create=False)
        try:
            q = g.edit_question(ws, query_id, text)
        except BgetuneError as exc:
            fail(str(exc))
        typer.echo(f"#{q.id} {q.query}")

    @golden.command("remove")
    def remove_cmd(
        query_id: int = typer.Argument(..., help="Question id."),
        workspace: Path | None = WorkspaceOpt,
    ) -> None:
        """Remove a golden question."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools import golden as g

        ws, _ = open_workspace(workspace, create=False)
        try:
            q = g.remove_question(ws, query_id)
        except BgetuneError as exc:
            fail(str(exc))
        typer.echo(f"removed #{q.id} {q.query}")

    @golden.command("eval")
    def eval_cmd(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Model folder (default: the newest tuned)."
        ),
        base: str | None = typer.Option(None, "--base", help="Base model (default: the workspace's)."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Score the tuned model against the base on the golden questions, with a 95% CI of the gain."""
        from bgetune.core.errors import BgetuneError
        from bgetune.tools.golden import evaluate_golden_ws

        ws, _ = open_workspace(workspace, create=False)
        try:
            res = evaluate_golden_ws(ws, model=model, base=base)
        except BgetuneError as exc:
            fail(str(exc))
        emit(res.__dict__, as_json, res.text("en"))

    @golden.command("export")
    def export_cmd(
        out: Path = typer.Argument(..., help="Folder for golden.jsonl and golden_ids.jsonl."),
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Write the golden set as FlagEmbedding JSONL (query, pos, pos_ids) plus every question's ids."""
        from bgetune.tools.golden import export_golden

        ws, _ = open_workspace(workspace, create=False)
        res = export_golden(ws, out)
        emit(
            res.__dict__, as_json, f"{res.answerable} answerable of {res.questions} questions -> {res.jsonl}"
        )


def _interactive(ws, g, *, start: int | None, k: int) -> None:  # noqa: ANN001 - module passed to keep imports lazy
    finder = g.candidate_finder(ws)
    q = g.get_question(ws, start) if start else g.next_unlabeled(ws)
    if q is None:
        typer.echo(g.GoldenListResult([], g.golden_counts(ws)).text().splitlines()[0])
        typer.echo("nothing to label: add questions with `bgetune golden add`")
        return
    while q is not None:
        q, cands = g.show_candidates(ws, q.id, k=k, finder=finder)
        typer.echo("")
        typer.echo(f"#{q.id} {q.query}")
        for c in cands:
            typer.echo(c.line())
        typer.echo('numbers of the right passages ("1 3"), "none" (no answer), "skip", or "quit":')
        try:
            answer = input("> ").strip()
        except EOFError:
            break
        if answer.lower() in ("q", "quit", "exit"):
            break
        if answer.lower() in ("", "s", "skip"):
            q = g.next_unlabeled(ws, after=q.id)
            continue
        try:
            done = g.label_question(ws, q.id, answer)
        except g.GoldenError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            continue
        typer.echo(g.GoldenLabelResult(done, g.golden_counts(ws)).text())
        q = g.next_unlabeled(ws, after=q.id)
    typer.echo(g.GoldenListResult([], g.golden_counts(ws)).text().splitlines()[0])
