"""CLI for training data: generate, filter, review, import-pairs, split, export-data."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace

review_app = typer.Typer(help="Review pairs: list, approve, reject, edit, approve-all.", no_args_is_help=True)


def _ws(workspace: Path | None):
    return open_workspace(workspace, create=False)


def generate(
    workspace: Path | None = WorkspaceOpt,
    mode: str = typer.Option(
        "auto", "--mode", help="auto (LLM if configured, else offline), llm or offline."
    ),
    llm_base_url: str | None = typer.Option(None, "--llm-base-url", help="OpenAI-compatible server URL."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="Model name on that server."),
    estimate_only: bool = typer.Option(
        False, "--estimate", help="Only print the estimate (calls, tokens, money)."
    ),
    no_filter: bool = typer.Option(False, "--no-filter", help="Do not run the filters afterwards."),
    as_json: bool = JsonOpt,
) -> None:
    """Generate query-passage pairs from the ingested chunks (resumable; cached LLM answers cost nothing)."""
    from bgetune.config import Settings
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.qa_generation import estimate_generation, generate_pairs

    ws, _ = _ws(workspace)
    settings = Settings(workspace=ws.root, llm_base_url=llm_base_url, llm_model=llm_model)
    if not ws.scalar("SELECT count(*) FROM chunks"):
        fail(f"workspace {ws.root} has no chunks; run `bgetune ingest DOCS --workspace {ws.root}` first")
    est = estimate_generation(ws, settings)
    if estimate_only:
        emit(est, as_json, _estimate_text(est))
        return
    try:
        result = generate_pairs(ws, settings, mode=mode, progress=TqdmProgress("generate", unit="chunk"))
    except ValueError as exc:
        fail(str(exc))
    result["estimate"] = est
    if not no_filter and ws.scalar("SELECT count(*) FROM pairs WHERE status='proposed'"):
        result["filter"] = filter_pairs(ws, settings=settings, progress=TqdmProgress("filter", unit="item"))
    lines = [
        f"mode {result['mode']}: {result['chunks_done']} chunks done, {result['chunks_cached']} cached, "
        f"{result['chunks_skipped']} already done, {result['chunks_failed']} failed; {result['pairs_added']} pairs added",
    ]
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    for e in result["errors"][:5]:
        lines.append(f"  failed chunk {e['chunk_id'][:10]} ({e['document']}): {e['error']}")
    if "filter" in result:
        f = result["filter"]
        lines.append(f"filters: {f['kept']} kept, {f['rejected']} rejected {f['by_reason']}")
        lines += [f"note: {n}" for n in f["notes"]]
    lines.append("next: `bgetune review list`, then `bgetune review approve-all` and `bgetune split`")
    emit(result, as_json, "\n".join(lines))


def _estimate_text(est: dict) -> str:
    if est["mode"] == "offline":
        return f"offline generation of {est['chunks']} chunks: no LLM calls, no cost"
    money = (
        f", about {est['money']} {est['currency']}"
        if est["money"] is not None
        else " (set BGETUNE_LLM_PRICE_IN/OUT for money)"
    )
    return (
        f"{est['model']}: {est['calls']} calls for {est['chunks']} chunks ({est['cached_chunks']} cached), "
        f"~{est['tokens_in']} tokens in, ~{est['tokens_out']} out{money}"
    )


def filter_cmd(
    workspace: Path | None = WorkspaceOpt,
    base_model: str | None = typer.Option(None, "--base-model", help="Model for the round-trip check."),
    top_k: int = typer.Option(10, "--top-k", help="Own chunk must rank within this many."),
    min_similarity: float = typer.Option(0.6, "--min-similarity", help="...or reach this cosine similarity."),
    no_round_trip: bool = typer.Option(False, "--no-round-trip", help="Skip the base-model check."),
    as_json: bool = JsonOpt,
) -> None:
    """Re-run the filters (user decisions are never overturned)."""
    from bgetune.tools.filtering import filter_pairs

    ws, settings = _ws(workspace)
    r = filter_pairs(
        ws,
        settings=settings,
        base_model=base_model,
        top_k=top_k,
        min_similarity=min_similarity,
        round_trip_check=not no_round_trip,
        progress=TqdmProgress("filter", unit="item"),
    )
    text = f"{r['kept']} kept, {r['rejected']} rejected {r['by_reason']}" + "".join(
        f"\nnote: {n}" for n in r["notes"]
    )
    emit(r, as_json, text)


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
    file: Path = typer.Argument(..., help="CSV, XLSX or JSONL of real questions and answers."),
    workspace: Path | None = WorkspaceOpt,
    query_col: str | None = typer.Option(None, "--query-col", help="Column holding the questions."),
    answer_col: str | None = typer.Option(
        None, "--answer-col", help="Column holding answers / clicked documents."
    ),
    no_filter: bool = typer.Option(False, "--no-filter", help="Do not run the filters afterwards."),
    as_json: bool = JsonOpt,
) -> None:
    """Import your own question history; answers are linked to the chunks that hold them."""
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.pairs_io import ImportError_, import_pairs

    ws, settings = _ws(workspace)
    try:
        r = import_pairs(ws, file, query_col=query_col, answer_col=answer_col, settings=settings)
    except ImportError_ as exc:
        fail(str(exc))
    if not no_filter and r["imported"]:
        r["filter"] = filter_pairs(ws, settings=settings, progress=TqdmProgress("filter", unit="item"))
    lines = [
        f"{r['imported']} pairs imported from {file} ({r['rows']} rows); linked {r['linked']}, "
        f"own passage {r['own_passage']}"
    ]
    for b in r["bad_rows"]:
        lines.append(
            f"  row {b['row']}: {b['reason']}" + (f" ({b['query'][:50]!r})" if b.get("query") else "")
        )
    emit(r, as_json, "\n".join(lines))


def split_cmd(
    workspace: Path | None = WorkspaceOpt,
    val: float = typer.Option(0.1, "--val"),
    test: float = typer.Option(0.2, "--test"),
    seed: int = typer.Option(13, "--seed"),
    as_json: bool = JsonOpt,
) -> None:
    """Split kept pairs into train/val/test by document (or section), with no leakage."""
    from bgetune.tools.split import make_split

    ws, _ = _ws(workspace)
    try:
        r = make_split(ws, val=val, test=test, seed=seed)
    except ValueError as exc:
        fail(str(exc))
    text = (
        f"split by {r['unit']}: pairs {r['pairs']}, chunks {r['chunks']}, documents {r['documents']}, "
        f"real questions {r['real_questions']}, {r['dropped_near_duplicates']} near-duplicates dropped from train"
    )
    for k in ("note", "warning"):
        if r.get(k):
            text += f"\n{k}: {r[k]}"
    emit(r, as_json, text)


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
    app.command("generate")(generate)
    app.command("filter")(filter_cmd)
    app.add_typer(review_app, name="review")
    app.command("import-pairs")(import_pairs_cmd)
    app.command("split")(split_cmd)
    app.command("export-data")(export_data)
