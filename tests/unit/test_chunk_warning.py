"""Chunking counts tokens of whole paragraphs (longer than the model's limit) to cap chunks; transformers'
"Token indices sequence length is longer than ..." warning is not shown to users for it."""

from __future__ import annotations

import logging

WARNING = "Token indices sequence length is longer"


def _long_text() -> str:
    return " ".join(f"sentence {i} says something about the Debian archive." for i in range(200))


def test_chunker_counts_long_text_without_the_transformers_warning(capfd, caplog):
    from bgetune.tools.chunking import Chunker

    chunker = Chunker.for_model("bundled", max_tokens=64, overlap=8)
    with caplog.at_level(logging.WARNING):
        (n,) = chunker.count([_long_text()])
        pieces = chunker._hard_split(_long_text())
    assert n > chunker.tokenizer.model_max_length  # the text really is over the model's limit
    assert len(pieces) > 5 and all(chunker.count([p])[0] <= 64 for p in pieces)
    out = capfd.readouterr()
    assert WARNING not in out.err + out.out and WARNING not in caplog.text


def test_other_tokenizers_still_warn(caplog):
    """Only the chunker's own tokenizer is quiet: the flag is per tokenizer, not transformers-wide."""
    from transformers import AutoTokenizer

    from bgetune.core.models import resolve_base_model
    from bgetune.tools.chunking import Chunker

    Chunker.for_model("bundled", max_tokens=64, overlap=8)
    other = AutoTokenizer.from_pretrained(resolve_base_model("bundled").path)
    assert not other.deprecation_warnings.get("sequence-length-is-longer-than-the-specified-maximum")
    other(_long_text(), add_special_tokens=False)
    assert other.deprecation_warnings.get("sequence-length-is-longer-than-the-specified-maximum")
