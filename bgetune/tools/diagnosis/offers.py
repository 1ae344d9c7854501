"""The fixes a diagnosis offers: each finding's own, then the general ones (training pair, golden question,
'none of these', dismiss). A training pair is offered only where it would train."""

from __future__ import annotations

import json

from bgetune.tools.diagnosis.causes import cause_fixes
from bgetune.tools.diagnosis.causes._shared import fix
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.report import Diagnosis
from bgetune.tools.diagnosis.text import sentences

ACTIONS = (
    "add_training_pair",
    "add_golden",
    "relabel_competitor",
    "set_threshold",
    "rechunk",
    "switch_base_model",
    "no_answer",
    "dismiss",
)


S = sentences("offers")


def training_pair(where: str, chunk_id: str) -> FixAction:
    return fix("add_training_pair", {"chunk_id": chunk_id}, S.training_pair, where=where)


def golden(where: str, chunk_id: str) -> FixAction:
    return fix("add_golden", {"chunk_id": chunk_id}, S.golden, where=where)


def _general(d: Diagnosis) -> list[FixAction]:
    exp = d.expected
    out: list[FixAction] = []
    cid = exp.chunk_id if exp and exp.chunk_ids else None
    if exp is not None and cid:
        if d.cause not in ("not_a_miss", "expected_not_found") and not exp.held_out:
            out.append(training_pair(exp.where(), cid))
        if d.cause != "expected_not_found" and exp.how != "golden":  # a golden label is in the set already
            out.append(golden(exp.where(), cid))
    if exp is None and d.cause in ("unconfirmed", "nothing_passes"):
        out.append(fix("no_answer", {}, S.no_answer))
    if d.cause not in ("not_a_miss", "unconfirmed"):
        out.append(fix("dismiss", {}, S.dismiss))
    return out


def offered(d: Diagnosis) -> list[FixAction]:
    """The fixes for ``d``, without repeats, in the order they are offered."""
    seen: set[str] = set()
    out: list[FixAction] = []
    for a in [x for f in d.findings for x in cause_fixes(f, d)] + _general(d):
        key = a.action + json.dumps(a.args, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out
