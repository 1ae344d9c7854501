"""The whole pipeline in one call, for code callers (benchmarks): the `run_pipeline` capability
(bgetune/capabilities/pipeline.py), which runs the declared stages through ``invoke``."""

from __future__ import annotations

from bgetune.capabilities import pipeline_stages
from bgetune.capabilities.pipeline import AFTER_TRAIN, PipelineError, run_pipeline

__all__ = ["AFTER_TRAIN", "PipelineError", "pipeline_stages", "run_pipeline"]
