"""The causes of a miss, one module each with ``detect`` / ``verdict`` / ``evidence`` / ``fixes``.

``classify`` runs the detectors in the order that decides the verdict: the outcomes that end a diagnosis (no
expected answer, not found, not a miss, only the threshold), then the causes, most specific first.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bgetune.tools.diagnosis.causes import (
    competitors,
    expected_not_found,
    language_mismatch,
    missing_label,
    no_training_pairs,
    not_a_miss,
    nothing_passes,
    split_answer,
    threshold_only,
    tokenizer_coverage,
    truncation,
    unconfirmed,
    vocabulary_gap,
)
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import Finding, FixAction

MODULES: tuple[ModuleType, ...] = (
    not_a_miss,
    unconfirmed,
    nothing_passes,
    expected_not_found,
    language_mismatch,
    tokenizer_coverage,
    truncation,
    split_answer,
    missing_label,
    threshold_only,
    vocabulary_gap,
    no_training_pairs,
    competitors,
)
BY_NAME: dict[str, ModuleType] = {m.NAME: m for m in MODULES}
CAUSES: tuple[str, ...] = tuple(BY_NAME)
CAUSE_NAMES: dict[str, tuple[str, str]] = {m.NAME: m.TITLE for m in MODULES}


def cause_name(cause: str, lang: str = "en") -> str:
    en, zh = CAUSE_NAMES.get(cause, (cause, cause))
    return zh if lang == "zh" else en


def verdict_sentence(f: Finding, lang: str) -> str:
    """The one-sentence verdict for a finding, in English or Chinese."""
    return BY_NAME[f.cause].verdict(f.facts, lang)


def evidence_lines(f: Finding, lang: str) -> list[str]:
    """The measured facts behind a finding, one line each."""
    return list(BY_NAME[f.cause].evidence(f.facts, lang))


def cause_fixes(f: Finding, d: Any) -> list[FixAction]:
    """The fixes this finding suggests for diagnosis ``d``."""
    return list(BY_NAME[f.cause].fixes(f.facts, d))


def _found(module: ModuleType, p: Probe) -> list[Finding]:
    facts = module.detect(p)
    return [] if facts is None else [Finding(module.NAME, facts)]


def classify(p: Probe) -> list[Finding]:
    """Every finding that holds for the probe, the verdict's first."""
    language = _found(language_mismatch, p) + _found(tokenizer_coverage, p)
    if p.exp is None:
        return language or _found(unconfirmed, p) + _found(not_a_miss, p) + _found(nothing_passes, p)
    if not p.exp.chunk_ids:
        return _found(expected_not_found, p) + language
    done = _found(not_a_miss, p)
    if done:
        return done
    only = _found(threshold_only, p)
    if only:
        return only + language
    for f in language:
        f.facts.update(p.common)
    return _causes(p, language)


def _causes(p: Probe, language: list[Finding]) -> list[Finding]:
    """The causes of a located answer's miss after the language ones, most specific first (an answer cut off by
    truncation before an answer merely in a long chunk)."""
    trunc = truncation.detect(p)
    cut = bool(trunc and trunc["answer_beyond_limit"])
    out = list(language) + ([Finding(truncation.NAME, trunc)] if trunc and cut else [])
    for module in (split_answer, missing_label, vocabulary_gap):
        out += _found(module, p)
    if trunc and not cut:
        out.append(Finding(truncation.NAME, trunc))
    out += _found(no_training_pairs, p)
    comp = competitors.detect(p, out)
    return out + ([Finding(competitors.NAME, comp)] if comp is not None else [])
