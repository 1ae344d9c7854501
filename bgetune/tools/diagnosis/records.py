"""The records a diagnosis is made of: ranked rows, each model's ranking, the expected answer, findings, fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgetune.tools.evaluation import EvaluationError

HELD_OUT = ("test", "val")  # splits nothing trains on


class DiagnosisError(EvaluationError):  # EvaluationError is a BgetuneError
    """A diagnosis or a fix that cannot run as asked, with what to do instead."""


@dataclass
class ResultRow:
    """One ranked passage for one model."""

    rank: int
    chunk_id: str
    score: float
    probability: float | None
    passes: bool | None  # at the threshold; None when there is no threshold
    document: str
    page: str | None
    title: str
    text: str
    expected: bool = False

    def where(self) -> str:
        return f"{self.document} p.{self.page}" if self.page else self.document


@dataclass
class ModelRanking:
    """Results of one model, and where the expected answer ranks with it."""

    model: str  # base | tuned
    spec: str
    threshold: float | None
    results: list[ResultRow]
    expected_rank: int | None = None
    expected_score: float | None = None
    expected_probability: float | None = None
    expected_passes: bool | None = None


@dataclass
class ExpectedAnswer:
    """The passage that should come first, as resolved in the workspace."""

    chunk_ids: list[str]  # every chunk counted as the answer (one, two halves, or a page's chunks)
    how: str  # exact | fuzzy | spans | id | page | pick | golden | not found
    chunk_id: str | None = None  # the one a fix uses (best ranked by the main model)
    document: str | None = None
    page: str | None = None
    title: str | None = None
    text: str | None = None
    coverage: float = 1.0
    split_across_chunks: bool = False
    given: str | None = None  # what the user said (or which golden question labelled it)
    split: str | None = None  # the split of the fix's chunk: train | val | test | None

    @property
    def held_out(self) -> bool:
        """Its document is held out (test or validation): a training pair on it would not train."""
        return self.split in HELD_OUT

    def where(self) -> str:
        return (
            (f"{self.document} p.{self.page}" if self.page else self.document or "") if self.chunk_id else ""
        )


@dataclass
class Finding:
    """One tested cause that holds, with the facts behind it (JSON-ready)."""

    cause: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class FixAction:
    """A fix the user can take in one step: ``apply_fix(ws, miss_id, action, **args)``."""

    action: str
    args: dict[str, Any]
    label_en: str
    label_zh: str

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" else self.label_en
