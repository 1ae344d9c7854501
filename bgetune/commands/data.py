"""CLI for training data: generate, filter, review, import-pairs, split, export-data."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace

review_app = typer.Typer(help="Review pairs: list, approve, reject, edit, approve-all.", no_args_is_help=True)


def _ws(workspace: Path | None):
    return open_workspace(workspace, create=False)


@review_app.command("list")
def review_list(
    workspace: Path | None = WorkspaceOpt,
    status: str | None = typer.Option(
        None, "--status", help="proposed, approved, rejected, edited, kept (comma list)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Only pairs rejected for this reason."),
    document: str | None = typer.Option(
        None, "--document", help="Only pairs of documents whose name contains this."
    ),
    search: str | None = typer.Option(None, "--search", help="Text in the query or passage."),
    limit: int | None = typer.Option(50, "--limit", help="How many (0 = all)."),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = JsonOpt,
) -> None:
    """List pairs with their status and reasons."""
    from bgetune.tools.review import ReviewError, dataset_summary, list_pairs

    ws, _ = _ws(workspace)
    try:
        pairs = list_pairs(
            ws,
            status=status,
            reason=reason,
            document=document,
            search=search,
            limit=limit or None,
            offset=offset,
        )
    except ReviewError as exc:
        fail(str(exc))
    summary = dataset_summary(ws, examples=0)
    out = {"pairs": pairs, "summary": {k: summary[k] for k in ("pairs", "status", "by_reason", "split")}}
    lines = [
        f"{p['id']:>6} {p['status']:<9} {p['query'][:70]:<72} {','.join(p['reasons'])} [{p['document'] or p['source']}]"
        for p in pairs
    ]
    lines.append(f"status {summary['status']}; rejected by reason {summary['by_reason']}")
    emit(out, as_json, "\n".join(lines))


def _ids(ids: list[int]) -> list[int]:
    if not ids:
        fail("give one or more pair ids (see `bgetune review list`)")
    return ids


@review_app.command("approve")
def review_approve(
    ids: list[int] = typer.Argument(None),
    workspace: Path | None = WorkspaceOpt,
    why: str | None = typer.Option(None, "--why"),
    as_json: bool = JsonOpt,
) -> None:
    """Approve pairs by id."""
    from bgetune.tools.review import ReviewError, approve

    ws, _ = _ws(workspace)
    try:
        n = approve(ws, _ids(ids), why=why)
    except ReviewError as exc:
        fail(str(exc))
    emit({"approved": n}, as_json, f"{n} approved")


@review_app.command("reject")
def review_reject(
    ids: list[int] = typer.Argument(None),
    workspace: Path | None = WorkspaceOpt,
    why: str | None = typer.Option(None, "--why"),
    as_json: bool = JsonOpt,
) -> None:
    """Reject pairs by id."""
    from bgetune.tools.review import ReviewError, reject

    ws, _ = _ws(workspace)
    try:
        n = reject(ws, _ids(ids), why=why)
    except ReviewError as exc:
        fail(str(exc))
    emit({"rejected": n}, as_json, f"{n} rejected")


@review_app.command("edit")
def review_edit(
    pair_id: int = typer.Argument(...),
    workspace: Path | None = WorkspaceOpt,
    query: str | None = typer.Option(None, "--query"),
    passage: str | None = typer.Option(None, "--passage"),
    as_json: bool = JsonOpt,
) -> None:
    """Edit a pair's query and/or passage (the original query is kept)."""
    from bgetune.tools.review import ReviewError, edit

    ws, _ = _ws(workspace)
    try:
        p = edit(ws, pair_id, query=query, passage=passage)
    except ReviewError as exc:
        fail(str(exc))
    emit(p, as_json, f"pair {p['id']} edited: {p['query']!r} (was {p['original_query']!r})")


@review_app.command("approve-all")
def review_approve_all(workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Approve every proposed pair (rejected pairs stay rejected)."""
    from bgetune.tools.review import approve_all

    ws, _ = _ws(workspace)
    n = approve_all(ws)
    emit({"approved": n}, as_json, f"{n} approved")


def import_pairs_cmd(
    file: Path = typer.Argument(
        ..., help="CSV, TSV, XLSX or JSONL of real questions (and answers, clicks...)."
    ),
    workspace: Path | None = WorkspaceOpt,
    query_col: str | None = typer.Option(
        None, "--query-col", "--question-col", help="Column holding the questions."
    ),
    answer_col: str | None = typer.Option(
        None, "--answer-col", help="Column holding answer texts / clicked documents."
    ),
    answer_id_col: str | None = typer.Option(
        None, "--answer-id-col", help="Column holding answer/document ids."
    ),
    title_col: str | None = typer.Option(None, "--title-col", help="Column holding answer titles."),
    url_col: str | None = typer.Option(None, "--url-col", help="Column holding answer urls."),
    clicked_col: str | None = typer.Option(
        None, "--clicked-col", help="Column saying clicked / useful (yes/no)."
    ),
    session_col: str | None = typer.Option(None, "--session-col", help="Column holding a session id."),
    time_col: str | None = typer.Option(None, "--time-col", help="Column holding when it was asked."),
    rank_col: str | None = typer.Option(
        None, "--rank-col", help="Column holding the rank a result was shown at."
    ),
    label_col: str | None = typer.Option(
        None, "--label-col", help="Column holding a graded label (e.g. 0-4)."
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="CSV delimiter ('tab' for TSV); detected."
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="XLSX sheet (default: the first)."),
    session_window: float = typer.Option(10.0, "--session-window", help="Reformulation window in minutes."),
    repeat: float = typer.Option(2.0, "--repeat", help="Repeat factor of real pairs in training."),
    golden_share: float = typer.Option(
        0.0, "--golden-share", help="Share of questions (by cluster) kept aside as the golden set."
    ),
    no_embedding: bool = typer.Option(False, "--no-embedding", help="Do not link answers by embedding."),
    preview: bool = typer.Option(False, "--preview", help="Only show the detected columns and the plan."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Import without asking to confirm the columns."),
    no_filter: bool = typer.Option(False, "--no-filter", help="Do not run the filters afterwards."),
    as_json: bool = JsonOpt,
) -> None:
    """Import your own question history (or click log): columns detected and confirmed, answers linked to the
    chunks that hold them, unlinkable rows kept with their reason."""
    import dataclasses
    import sys

    from bgetune.capabilities import Context
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.history import HistoryError, HistoryOptions, import_history, preview_history

    ws, settings = _ws(workspace)
    opts = HistoryOptions(
        path=str(file), question_col=query_col, answer_col=answer_col, answer_id_col=answer_id_col,
        title_col=title_col, url_col=url_col, clicked_col=clicked_col, session_col=session_col,
        time_col=time_col, rank_col=rank_col, label_col=label_col, delimiter=delimiter, sheet=sheet,
        session_window_minutes=session_window, repeat=repeat, golden_share=golden_share,
        embedding=not no_embedding,
    )  # fmt: skip
    try:
        pv = preview_history(Context(ws=ws, settings=settings), opts)
    except HistoryError as exc:
        fail(str(exc))
    if preview:
        emit(dataclasses.asdict(pv), as_json, pv.text())
        return
    if not yes:
        if as_json or not sys.stdin.isatty():
            fail(
                f"{pv.text()}\nnothing imported: check the columns above, then rerun with --yes "
                "(or name a column, e.g. --title-col TITLE)"
            )
        typer.echo(pv.text(), err=True)
        if not typer.confirm("Import with these columns?", default=True, err=True):
            fail("nothing imported; name the right columns with --query-col, --answer-col, --title-col ...")
    bar = TqdmProgress("import", unit="step", disable=as_json)
    try:
        r = import_history(Context(ws=ws, settings=settings, progress=bar), opts)
    except HistoryError as exc:
        fail(str(exc))
    out = dataclasses.asdict(r)
    if not no_filter and r.pairs:
        f = filter_pairs(ws, settings=settings, progress=TqdmProgress("filter", unit="item"))
        r.flagged, r.rejected = f.get("flagged", 0), f["rejected"]
        out["filter"] = f
        out["flagged"], out["rejected"] = r.flagged, r.rejected
    emit(out, as_json, r.text())


def export_data(
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL file."),
    workspace: Path | None = WorkspaceOpt,
    fmt: str = typer.Option("flagembedding", "--format", help="flagembedding (JSONL query/pos/neg/prompt)."),
    split: str = typer.Option("train", "--split", help="train, val, test or all."),
    as_json: bool = JsonOpt,
) -> None:
    """Export approved/edited pairs as training data."""
    from bgetune.tools.pairs_io import export_training_jsonl

    if fmt != "flagembedding":
        fail(f"unknown format {fmt!r}; use flagembedding")
    ws, _ = _ws(workspace)
    try:
        r = export_training_jsonl(ws, out, split=split)
    except ValueError as exc:
        fail(str(exc))
    text = f"{r['pairs']} pairs ({r['split']}) written to {r['path']}"
    if not r["pairs"]:
        text += (
            "\nnote: no approved pairs in that split; run `bgetune review approve-all` and `bgetune split`"
        )
    emit(r, as_json, text)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
    app.command("import-pairs")(import_pairs_cmd)
    app.command("export-data")(export_data)
