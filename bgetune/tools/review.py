"""Review state of pairs: proposed / approved / rejected / edited, with who and why. Every change is a
pair_events row; an edit keeps the original query in ``original_query``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from bgetune.core.errors import BgetuneError
from bgetune.core.text import detect_language, normalize_ws
from bgetune.core.workspace import PAIR_STATUSES, Workspace, now_iso


class ReviewError(BgetuneError, ValueError):
    """A review action that cannot be applied (unknown pair, empty edit)."""


def _row(r: Any) -> dict[str, Any]:
    d = dict(r)
    d["reasons"] = json.loads(d.get("reasons") or "[]")
    d["scores"] = json.loads(d.get("scores") or "{}")
    return d


_SELECT = (
    "SELECT p.id, p.query, p.passage, p.source, p.kind, p.language, p.status, p.reasons, p.scores, p.status_by, "
    "p.status_why, p.chunk_id, p.original_query, p.split, d.name AS document, c.heading AS heading "
    "FROM pairs p LEFT JOIN chunks c ON c.id=p.chunk_id LEFT JOIN documents d ON d.id=c.document_id"
)


def list_pairs(
    ws: Workspace,
    *,
    status: str | None = None,
    reason: str | None = None,
    document: str | None = None,
    search: str | None = None,
    source: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict]:
    """Pairs with their review state, filtered; each has id, query, passage, source, status, reasons, document,
    chunk_id, original_query, split (plus kind, language, scores, status_by, status_why, heading)."""
    where, params = [], []
    if status:
        statuses = [s.strip() for s in status.split(",")]
        if "kept" in statuses:
            statuses = [s for s in statuses if s != "kept"] + ["proposed", "approved", "edited"]
        bad = set(statuses) - set(PAIR_STATUSES)
        if bad:
            raise ReviewError(
                f"unknown status {sorted(bad)}; use one of {', '.join(PAIR_STATUSES)} or 'kept'"
            )
        where.append(f"p.status IN ({','.join('?' * len(statuses))})")
        params += statuses
    if reason:
        where.append("EXISTS (SELECT 1 FROM json_each(p.reasons) WHERE value=?)")
        params.append(reason)
    if document:
        where.append("(d.name LIKE ? OR d.path LIKE ?)")
        params += [f"%{document}%", f"%{document}%"]
    if search:
        where.append("(p.query LIKE ? OR p.passage LIKE ?)")
        params += [f"%{search}%", f"%{search}%"]
    if source:
        where.append("p.source LIKE ?")
        params.append(f"{source}%")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.id"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params.append(int(offset))
    return [_row(r) for r in ws.query(sql, params)]


def get_pair(ws: Workspace, pair_id: int) -> dict:
    row = ws.conn.execute(_SELECT + " WHERE p.id=?", (int(pair_id),)).fetchone()
    if row is None:
        raise ReviewError(f"no pair with id {pair_id}; list pairs with `bgetune review list`")
    return _row(row)


def _set_status(
    ws: Workspace,
    ids: Iterable[int],
    status: str,
    *,
    actor: str,
    why: str | None,
    only_from: tuple[str, ...] | None = None,
) -> int:
    ids = [int(i) for i in ids]
    if not ids:
        return 0
    ts = now_iso()
    changed = 0
    with ws.tx() as c:
        found = {
            r["id"]: r["status"]
            for r in c.execute(
                f"SELECT id, status FROM pairs WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise ReviewError(f"no pair with id {missing[:10]}; list pairs with `bgetune review list`")
        for pid in ids:
            old = found[pid]
            if only_from is not None and old not in only_from:
                continue
            new = status
            if status == "approved" and old == "edited":
                new = "edited"  # approving an edited pair keeps it marked as edited
            reasons = "[]" if new != "rejected" else None
            c.execute(
                "UPDATE pairs SET status=?, status_by=?, status_why=?, updated_at=?"
                + (", reasons=?" if reasons is not None else "")
                + " WHERE id=?",
                (new, actor, why, ts, *([reasons] if reasons is not None else []), pid),
            )
            c.execute(
                "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                (pid, "approve" if status == "approved" else "reject", actor, why, old, new, ts),
            )
            changed += 1
    return changed


def approve(ws: Workspace, ids: Iterable[int], *, actor: str = "user", why: str | None = None) -> int:
    """Approve pairs (a filter-rejected pair can be approved by a person: their call wins). Returns the count."""
    return _set_status(ws, ids, "approved", actor=actor, why=why)


def reject(ws: Workspace, ids: Iterable[int], *, actor: str = "user", why: str | None = None) -> int:
    """Reject pairs; filters never bring a user-rejected pair back. Returns the count."""
    return _set_status(ws, ids, "rejected", actor=actor, why=why)


def approve_all(ws: Workspace, *, actor: str = "user") -> int:
    """Approve every ``proposed`` pair; rejected pairs stay rejected."""
    ids = [r["id"] for r in ws.query("SELECT id FROM pairs WHERE status='proposed' ORDER BY id")]
    return _set_status(ws, ids, "approved", actor=actor, why="approve all", only_from=("proposed",))


def edit(
    ws: Workspace, pair_id: int, *, query: str | None = None, passage: str | None = None, actor: str = "user"
) -> dict:
    """Change a pair's query and/or passage; status becomes 'edited' (trainable), the original query is kept."""
    if query is None and passage is None:
        raise ReviewError("nothing to edit: give a new query and/or passage")
    cur = get_pair(ws, pair_id)
    new_q = normalize_ws(query) if query is not None else cur["query"]
    new_p = passage.strip() if passage is not None else cur["passage"]
    if not new_q or not new_p:
        raise ReviewError("a pair needs a non-empty query and passage")
    ts = now_iso()
    with ws.tx() as c:
        clash = c.execute(
            "SELECT id FROM pairs WHERE ifnull(chunk_id,'')=ifnull(?, '') AND query=? AND source=? AND id<>?",
            (cur["chunk_id"], new_q, cur["source"], cur["id"]),
        ).fetchone()
        if clash:
            raise ReviewError(
                f"pair {clash['id']} already has this query for the same passage; approve that one instead"
            )
        original = cur["original_query"] or (cur["query"] if new_q != cur["query"] else None)
        c.execute(
            "UPDATE pairs SET query=?, passage=?, original_query=?, language=?, status='edited', reasons='[]', "
            "status_by=?, status_why='edited', updated_at=? WHERE id=?",
            (
                new_q,
                new_p,
                original,
                detect_language(new_q) if len(new_q) > 3 else cur["language"],
                actor,
                ts,
                cur["id"],
            ),
        )
        c.execute(
            "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
            (
                cur["id"],
                "edit",
                actor,
                None,
                json.dumps(
                    {"query": cur["query"], "passage": cur["passage"], "status": cur["status"]},
                    ensure_ascii=False,
                ),
                json.dumps({"query": new_q, "passage": new_p, "status": "edited"}, ensure_ascii=False),
                ts,
            ),
        )
    return get_pair(ws, pair_id)


def events(ws: Workspace, pair_id: int) -> list[dict]:
    """The history of one pair, oldest first."""
    return [
        dict(r) for r in ws.query("SELECT * FROM pair_events WHERE pair_id=? ORDER BY id", (int(pair_id),))
    ]


def dataset_summary(ws: Workspace, examples: int = 5) -> dict:
    """Counts by status, reason, source, kind, language and split, plus a few kept and rejected examples."""
    rows = ws.query("SELECT status, reasons, source, kind, language, split FROM pairs")
    by_reason: Counter[str] = Counter()
    for r in rows:
        if r["status"] == "rejected":
            by_reason.update(json.loads(r["reasons"] or "[]") or ["user"])

    def count(col: str) -> dict:
        return dict(Counter((r[col] or "none") for r in rows).most_common())

    source = Counter(
        ("llm" if (r["source"] or "").startswith("llm:") else r["source"].split(":")[0]) for r in rows
    )
    kept = list_pairs(ws, status="kept", limit=examples)
    rejected = list_pairs(ws, status="rejected", limit=examples)
    slim = lambda p: {k: p[k] for k in ("id", "query", "status", "reasons", "document", "source")}  # noqa: E731
    return {
        "pairs": len(rows),
        "status": {s: 0 for s in PAIR_STATUSES} | count("status"),
        "trainable": sum(1 for r in rows if r["status"] in ("approved", "edited")),
        "kept": sum(1 for r in rows if r["status"] in ("proposed", "approved", "edited")),
        "by_reason": dict(by_reason.most_common()),
        "source": dict(source.most_common()),
        "kind": count("kind"),
        "language": count("language"),
        "split": count("split"),
        "examples": {"kept": [slim(p) for p in kept], "rejected": [slim(p) for p in rejected]},
    }


def undo_last(ws: Workspace, *, actor: str = "user") -> dict[str, Any]:
    """Revert the last review decision (the pair_events written together by one approve / reject / edit of
    ``actor``): each pair gets back its old status (and, for an edit, its old query and passage). Returns
    ``{"action", "ids", "restored": {id: old status}}``; ``action`` is None when there is nothing to undo."""
    last = ws.conn.execute(
        "SELECT at, action FROM pair_events WHERE actor=? AND action IN ('approve','reject','edit') "
        "ORDER BY id DESC LIMIT 1",
        (actor,),
    ).fetchone()
    if last is None:
        return {"action": None, "ids": [], "restored": {}}
    rows = ws.query(
        "SELECT * FROM pair_events WHERE actor=? AND at=? AND action=? ORDER BY id",
        (actor, last["at"], last["action"]),
    )
    restored: dict[int, str] = {}
    ts = now_iso()
    with ws.tx() as c:
        for r in rows:
            if r["action"] == "edit":
                old = json.loads(r["old"])
                c.execute(
                    "UPDATE pairs SET query=?, passage=?, status=?, updated_at=? WHERE id=?",
                    (old["query"], old["passage"], old["status"], ts, r["pair_id"]),
                )
                status = old["status"]
            else:
                status = r["old"]
                c.execute("UPDATE pairs SET status=?, updated_at=? WHERE id=?", (status, ts, r["pair_id"]))
            c.execute(
                "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                (r["pair_id"], "undo", actor, f"undo {r['action']}", r["new"], status, ts),
            )
            restored[r["pair_id"]] = status
    return {"action": last["action"], "ids": list(restored), "restored": restored}
