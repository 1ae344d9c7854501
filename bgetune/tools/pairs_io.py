"""Bring your own pairs (CSV, XLSX, JSONL of real questions and answers) and export training data as
FlagEmbedding JSONL ``{"query", "pos", "neg", "prompt"}``."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bgetune.core.config import Settings
from bgetune.core.errors import BgetuneError
from bgetune.core.text import corpus_language
from bgetune.core.workspace import TRAINABLE, Workspace, atomic_write_text


class ImportError_(BgetuneError, ValueError):
    """A file that cannot be imported, with what to do about it."""


def import_pairs(
    ws: Workspace,
    path: str | Path,
    *,
    query_col: str | None = None,
    answer_col: str | None = None,
    settings: Settings | None = None,
    base_model: Any = None,
    progress: Any = None,
    **history_options: Any,
) -> dict:
    """Import real questions with their answers (or clicked documents) as ``proposed`` pairs of kind 'real'
    (bgetune.tools.history does the work; this keeps the older dict reply). ``base_model=False`` turns off the
    embedding fallback of the linking. Unreadable and unlinkable rows are reported by row number."""
    from bgetune.core.config import Settings as _Settings
    from bgetune.core.options import Context
    from bgetune.tools.history import HistoryError, HistoryOptions, import_history

    try:
        opts = HistoryOptions(
            path=str(Path(path).expanduser()),
            question_col=query_col,
            answer_col=answer_col,
            **history_options,
        )
        ctx = Context(ws=ws, settings=settings or _Settings(workspace=ws.root), progress=progress)
        r = import_history(ctx, opts, base_model=base_model)
    except HistoryError as exc:
        raise ImportError_(str(exc)) from exc
    bad = r.bad_rows + [{"row": u.row, "reason": u.reason, "query": u.question} for u in r.unlinked]
    return {
        "file": r.file,
        "source": r.source,
        "rows": r.rows,
        "imported": r.pairs,
        "already_imported": r.already_imported,
        "linked": {
            "exact": r.links.get("exact", 0) + r.links.get("spans", 0),
            "fuzzy": r.links.get("fuzzy", 0),
            "embedding": r.links.get("embedding", 0),
            "id": r.links.get("id", 0),
            "title": r.links.get("title", 0),
            "url": r.links.get("url", 0),
        },
        "own_passage": r.links.get("own", 0),
        "bad_rows": sorted(bad, key=lambda b: b["row"]),
    }


# ---------------------------------------------------------------------------------------------- export
def _query_prompt(ws: Workspace) -> str:
    from bgetune.core.models import DEFAULT_BY_LANGUAGE, family_for

    spec = ws.get_setting("base_model") or DEFAULT_BY_LANGUAGE.get(
        corpus_language(ws.stats()["chunk_languages"]), ""
    )
    return family_for(str(spec)).query_prompt


def export_training_jsonl(
    ws: Workspace,
    out_path: str | Path,
    *,
    split: str | None = "train",
    random_negatives: int = 7,
    seed: int = 13,
) -> dict:
    """Write trainable pairs (approved/edited) of ``split`` (None or 'all' = every split) as FlagEmbedding JSONL.
    Positives are the pair's chunk (plus extra positives), else its passage; negatives are the mined ones, or
    random other chunks when none were mined (FlagEmbedding needs a non-empty ``neg``). Pairs with graded labels
    also get ``pos_scores`` / ``neg_scores``."""
    where = f"p.{TRAINABLE}"
    params: list[Any] = []
    if split not in (None, "all"):
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or all, not {split!r}")
        where += " AND p.split=?"
        params.append(split)
    pairs = ws.query(
        f"SELECT p.id, p.query, p.passage, p.chunk_id, p.label, c.text AS chunk_text FROM pairs p "
        f"LEFT JOIN chunks c ON c.id=p.chunk_id WHERE {where} ORDER BY p.id",
        params,
    )
    chunk_rows = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    prompt = _query_prompt(ws)
    rng = random.Random(seed)
    lines = []
    mined = rand = graded = 0
    for p in pairs:
        pos = [p["chunk_text"] or p["passage"]]
        pos_labels = [p["label"]]
        pos_ids = {p["chunk_id"]} if p["chunk_id"] else set()
        for r in ws.query(
            "SELECT c.id, c.text, pp.label FROM pair_positives pp JOIN chunks c ON c.id=pp.chunk_id "
            "WHERE pp.pair_id=?",
            (p["id"],),
        ):
            if r["id"] not in pos_ids:
                pos.append(r["text"])
                pos_labels.append(r["label"])
                pos_ids.add(r["id"])
        neg = [
            r["text"]
            for r in ws.query(
                "SELECT c.text FROM negatives n JOIN chunks c ON c.id=n.chunk_id WHERE n.pair_id=? ORDER BY n.rank",
                (p["id"],),
            )
        ]
        if neg:
            mined += 1
        elif random_negatives and len(chunk_rows) > len(pos_ids) + 1:
            pool = [
                r
                for r in rng.sample(chunk_rows, min(len(chunk_rows), random_negatives * 3))
                if r["id"] not in pos_ids
            ]
            neg = [r["text"] for r in pool[:random_negatives]]
            rand += 1
        rec: dict[str, Any] = {"query": p["query"], "pos": pos, "neg": neg}
        if any(lab is not None for lab in pos_labels):
            # graded labels (e.g. 0-4) as FlagEmbedding's pos_scores; an unlabeled positive gets the top label,
            # negatives score 0 (below every graded positive)
            top = max(lab for lab in pos_labels if lab is not None)
            rec["pos_scores"] = [float(top if lab is None else lab) for lab in pos_labels]
            rec["neg_scores"] = [0.0] * len(neg)
            graded += 1
        if prompt:
            rec["prompt"] = prompt
        lines.append(json.dumps(rec, ensure_ascii=False))
    out = Path(out_path).expanduser()
    atomic_write_text(out, "\n".join(lines) + ("\n" if lines else ""))
    return {
        "path": str(out),
        "pairs": len(lines),
        "split": split or "all",
        "with_mined_negatives": mined,
        "with_random_negatives": rand,
        "with_graded_labels": graded,
        "prompt": prompt or None,
    }
