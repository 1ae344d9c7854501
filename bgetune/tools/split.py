"""Leakage-safe train / val / test split: by document (or by section when there are few documents), no chunk
and no near-duplicate query on both sides, imported real questions preferred for the test split."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any

from bgetune.core.text import normalize_for_match
from bgetune.core.workspace import KEPT, Workspace, now_iso
from bgetune.tools.filtering import _norm_query, near_duplicates

SPLITS = ("train", "val", "test")


def _section_key(chunk: dict[str, Any]) -> str:
    heading = (chunk.get("heading") or "").strip()
    if heading:
        parts = [p.strip() for p in heading.split(" > ") if p.strip()]
        # below the document title: the first two heading levels make a section
        return " > ".join(parts[:3] if len(parts) > 2 else parts)
    return f"block{int(chunk.get('ord') or 0) // 8}"


def make_split(
    ws: Workspace,
    *,
    val: float = 0.1,
    test: float = 0.2,
    seed: int = 13,
    min_documents: int = 5,
    near_dup_threshold: float = 92.0,
) -> dict:
    """Assign every kept pair (proposed/approved/edited) and every chunk to train/val/test; returns the report."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val={val} and test={test} must be fractions with val + test < 1")
    pairs = [
        dict(r)
        for r in ws.query(
            "SELECT p.id, p.chunk_id, p.query, p.passage, p.kind, p.status, c.document_id, c.heading, c.ord "
            f"FROM pairs p LEFT JOIN chunks c ON c.id=p.chunk_id WHERE p.{KEPT} "
            "ORDER BY p.id"
        )
    ]
    chunks = ws.chunks()
    docs_with_pairs = {p["document_id"] for p in pairs if p["document_id"] is not None}
    unit = "document" if len(docs_with_pairs) >= min_documents else "section"

    def group_of_chunk(c: dict[str, Any]) -> tuple:
        return (c["document_id"],) if unit == "document" else (c["document_id"], _section_key(c))

    chunk_group = {c["id"]: group_of_chunk(c) for c in chunks}
    group_pairs: dict[tuple, list[dict]] = defaultdict(list)
    for p in pairs:
        if p["chunk_id"] and p["chunk_id"] in chunk_group:
            g = chunk_group[p["chunk_id"]]
        else:  # own passage: the passage is the unit
            g = ("passage", normalize_for_match(p["passage"])[:200])
        p["_group"] = g
        group_pairs[g].append(p)

    # stratify by document (section unit) so each document is represented in every split
    strata: dict[Any, list[tuple]] = defaultdict(list)
    for g in group_pairs:
        strata["all" if unit == "document" or g[0] == "passage" else g[0]].append(g)
    rng = random.Random(seed)
    assign: dict[tuple, str] = {}
    for key in sorted(strata, key=str):
        groups = sorted(strata[key], key=str)
        rng.shuffle(groups)
        # groups holding real (imported) questions go to test first
        groups.sort(key=lambda g: -sum(1 for p in group_pairs[g] if p["kind"] == "real"))
        n = sum(len(group_pairs[g]) for g in groups)
        want = {"test": test * n, "val": val * n}
        have = {"test": 0, "val": 0}
        in_train = 0
        for k, g in enumerate(groups):
            size = len(group_pairs[g])
            target = "train"
            # never put every group of a stratum on the held-out side: the last one stays in train if none is yet
            last_for_train = k == len(groups) - 1 and not in_train
            for s in ("test", "val"):
                if have[s] + size / 2 <= want[s] and len(groups) >= 2 and not last_for_train:
                    target = s
                    break
            in_train += target == "train"
            if target != "train":
                have[target] += size
            assign[g] = target

    # near-duplicate (or identical) queries across splits: keep the held-out one, drop the train one from training
    dropped: list[int] = []
    split_of = {p["id"]: assign[p["_group"]] for p in pairs}
    qs = [p["query"] for p in pairs]
    conflicts = near_duplicates(qs, threshold=near_dup_threshold)
    exact: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        exact[_norm_query(p["query"])].append(i)
    for idxs in exact.values():
        conflicts += [(idxs[0], j) for j in idxs[1:]]
    for i, j in conflicts:
        a, b = pairs[i], pairs[j]
        sa, sb = split_of[a["id"]], split_of[b["id"]]
        if sa is None or sb is None or sa == sb:
            continue
        loser = a if sa == "train" else b if sb == "train" else (a if sa == "val" else b)
        split_of[loser["id"]] = None
        dropped.append(loser["id"])

    ts = now_iso()
    with ws.tx() as c:
        c.execute("UPDATE pairs SET split=NULL")
        c.executemany(
            "UPDATE pairs SET split=?, updated_at=? WHERE id=?", [(s, ts, pid) for pid, s in split_of.items()]
        )
        chunk_split = {}
        for cid, g in chunk_group.items():
            if g in assign:
                chunk_split[cid] = assign[g]
        # chunks without pairs follow their group where it has one, else train
        c.executemany(
            "UPDATE chunks SET split=? WHERE id=?",
            [(chunk_split.get(cid, "train"), cid) for cid in chunk_group],
        )

    counts = {s: sum(1 for v in split_of.values() if v == s) for s in SPLITS}
    chunk_counts = {s: 0 for s in SPLITS}
    for cid in chunk_group:
        chunk_counts[chunk_split.get(cid, "train")] += 1
    docs_by_split: dict[str, set] = defaultdict(set)
    for p in pairs:
        if split_of[p["id"]] and p["document_id"] is not None:
            docs_by_split[split_of[p["id"]]].add(p["document_id"])
    real = [p for p in pairs if p["kind"] == "real"]
    report = {
        "unit": unit,
        "groups": len(group_pairs),
        "pairs": counts,
        "chunks": chunk_counts,
        "documents": {s: len(docs_by_split.get(s, ())) for s in SPLITS},
        "real_questions": {s: sum(1 for p in real if split_of[p["id"]] == s) for s in SPLITS},
        "dropped_near_duplicates": len(dropped),
        "seed": seed,
        "fractions": {"val": val, "test": test},
    }
    if unit == "section":
        report["note"] = (
            f"only {len(docs_with_pairs)} document(s) hold pairs, so the split is by section within each document "
            f"(add documents for a split by document)"
        )
    if not counts["test"]:
        report["warning"] = "the test split is empty: too few sections or documents; add documents or pairs"
    ws.set_setting("split", report)
    return report


def check_split(ws: Workspace) -> dict:
    """Leakage check of the stored split: chunks with pairs on two sides, near-duplicate queries across sides."""
    rows = ws.query("SELECT chunk_id, split, query FROM pairs WHERE split IS NOT NULL")
    sides: dict[str, set] = defaultdict(set)
    for r in rows:
        if r["chunk_id"]:
            sides[r["chunk_id"]].add(r["split"])
    qs = [r["query"] for r in rows]
    cross = [(i, j) for i, j in near_duplicates(qs) if rows[i]["split"] != rows[j]["split"]]
    same_q = defaultdict(set)
    for r in rows:
        same_q[re.sub(r"\W+", " ", r["query"].lower()).strip()].add(r["split"])
    return {
        "chunks_on_two_sides": sum(1 for s in sides.values() if len(s) > 1),
        "near_duplicates_across": len(cross),
        "identical_queries_across": sum(1 for s in same_q.values() if len(s) > 1),
    }
