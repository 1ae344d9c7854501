"""Prerequisites shared by the capability areas: what must exist before a capability runs, and what makes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bgetune.capabilities import Prereq

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace


def has_rows(table: str) -> Callable[[Workspace], bool]:
    """A prerequisite check: the workspace table ``table`` has at least one row."""
    sql = f"SELECT count(*) FROM {table}"
    return lambda ws: bool(ws.scalar(sql))


HAS_CHUNKS = Prereq(has_rows("chunks"), "no documents are ingested yet", "ingest")


HAS_PAIRS = Prereq(lambda ws: ws.count_pairs(kept=True) > 0, "there are no kept pairs yet", "generate_pairs")


HAS_APPROVED = Prereq(
    lambda ws: ws.count_pairs(trainable=True) > 0,
    "no pairs are approved yet (review the proposed pairs, then approve them)",
    "approve_all_pairs",
)


HAS_SPLIT = Prereq(
    lambda ws: ws.count_pairs(trainable=True) > 0 and ws.count_pairs(unsplit=True) == 0,
    "the approved pairs are not split into train/val/test yet",
    "split_dataset",
)


HAS_TRAINED = Prereq(lambda ws: ws.last_run("train") is not None, "no model is trained yet", "train")


HAS_EVAL = Prereq(
    lambda ws: ws.last_run("eval") is not None, "the tuned model is not evaluated yet", "evaluate"
)
