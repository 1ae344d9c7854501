"""Generation capability: proposed (query, passage) pairs from the chunks, judged and augmented, then filtered."""

from __future__ import annotations

import dataclasses

from bgetune.capabilities import Capability, Context
from bgetune.capabilities.data import FilterOptions, _filter
from bgetune.capabilities.prereqs import HAS_CHUNKS
from bgetune.tools.qa_generation import (
    GenerateOptions,
    GenerateResult,
    _generate_cost,
    _opt_chunk_ids,
    _opt_mode,
    augment_pairs,
    estimate_generate,
    generate_pairs,
    judge_pairs,
)


def run_generate(ctx: Context, o: GenerateOptions) -> GenerateResult:
    """generate_pairs, then (LLM mode) the judge pass and the augmentation the options ask for."""
    mode = _opt_mode(ctx, o)
    res = generate_pairs(
        ctx.ws,
        ctx.settings,
        chunk_ids=_opt_chunk_ids(ctx.ws, o),
        mode=mode,
        progress=ctx.progress,
        max_queries=o.questions_per_chunk,
        use_style=o.style,
    )
    names = {f.name for f in dataclasses.fields(GenerateResult)} - {"judge", "augment", "filter"}
    out = GenerateResult(**{k: v for k, v in res.items() if k in names})
    if mode == "llm":
        if o.judge:
            out.judge = judge_pairs(ctx.ws, ctx.settings, min_score=o.judge_min, progress=ctx.progress)
        if o.paraphrases or o.back_translate:
            out.augment = augment_pairs(
                ctx.ws,
                ctx.settings,
                paraphrases=o.paraphrases,
                back_translate=o.back_translate,
                progress=ctx.progress,
            )
    if o.then_filter and ctx.ws.scalar("SELECT count(*) FROM pairs WHERE status='proposed'"):
        out.filter = _filter(ctx, FilterOptions())
    return out


CAPABILITIES = [
    Capability(
        "generate_pairs",
        "Generate proposed (query, passage) training pairs from the chunks, with an optional LLM judge and "
        "augmentation.",
        run_generate,
        GenerateOptions,
        GenerateResult,
        cost=_generate_cost,
        estimate=estimate_generate,
        requires=(HAS_CHUNKS,),
        cli="generate",
        stage=2,
    )
]
