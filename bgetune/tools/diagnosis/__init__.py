"""Why does this query miss? And what to do about it.

``diagnose`` ranks the corpus with the base and the tuned model side by side (:mod:`.engine`), finds where the
expected answer ranks (given as text, a chunk id, a document + page, a pick from the last result list, or the
user's golden label of the question: :mod:`.expected`), tests the causes of a miss (:mod:`.causes`, one module
per cause with ``detect`` / ``verdict`` / ``evidence`` / ``fixes``), says one verdict sentence with its evidence
in English or Chinese (:mod:`.report`) and offers fixes (:mod:`.offers`). Each diagnosis is stored in the
``misses`` table (:mod:`.misses`); ``apply_fix`` (:mod:`.fixes`, a table of handlers) turns a miss into a training
pair, a golden question, an extra positive, a threshold, a re-chunked document or another base model.
``diagnose_golden`` (:mod:`.batch`) does the same for every golden question and groups the failures by cause.
"""

from __future__ import annotations

from bgetune.tools.diagnosis.api import diagnose
from bgetune.tools.diagnosis.batch import BatchDiagnosis, BatchItem, CauseGroup, diagnose_golden
from bgetune.tools.diagnosis.causes import CAUSE_NAMES, CAUSES, cause_name, evidence_lines, verdict_sentence
from bgetune.tools.diagnosis.engine import Engine
from bgetune.tools.diagnosis.expected import golden_label, locate_expected, parse_doc_page
from bgetune.tools.diagnosis.fixes import HANDLERS, FixResult, apply_fix
from bgetune.tools.diagnosis.misses import (
    FixSummary,
    MissList,
    MissRow,
    fixed_pairs_summary,
    misses,
    record_miss,
)
from bgetune.tools.diagnosis.models import (
    CHINESE,
    MULTILINGUAL,
    ModelAdvice,
    TokenizerCoverage,
    load_cached,
    model_languages,
    tokenizer_coverage,
)
from bgetune.tools.diagnosis.offers import ACTIONS
from bgetune.tools.diagnosis.records import (
    DiagnosisError,
    ExpectedAnswer,
    Finding,
    FixAction,
    ModelRanking,
    ResultRow,
)
from bgetune.tools.diagnosis.report import Diagnosis
from bgetune.tools.diagnosis.text import coverage, jaccard, stem, stems, terms

__all__ = [
    "ACTIONS",
    "CAUSES",
    "CAUSE_NAMES",
    "CHINESE",
    "HANDLERS",
    "MULTILINGUAL",
    "BatchDiagnosis",
    "BatchItem",
    "CauseGroup",
    "Diagnosis",
    "DiagnosisError",
    "Engine",
    "ExpectedAnswer",
    "Finding",
    "FixAction",
    "FixResult",
    "FixSummary",
    "MissList",
    "MissRow",
    "ModelAdvice",
    "ModelRanking",
    "ResultRow",
    "TokenizerCoverage",
    "apply_fix",
    "cause_name",
    "coverage",
    "diagnose",
    "diagnose_golden",
    "evidence_lines",
    "fixed_pairs_summary",
    "golden_label",
    "jaccard",
    "load_cached",
    "locate_expected",
    "misses",
    "model_languages",
    "parse_doc_page",
    "record_miss",
    "stem",
    "stems",
    "terms",
    "tokenizer_coverage",
    "verdict_sentence",
]
