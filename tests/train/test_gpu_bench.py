"""bench/gpu.py's CPU smoke run (--tiny): both training paths step and the figures are written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_bench_tiny_runs_on_cpu_and_reports_both_paths(tmp_path):
    pytest.importorskip("datasets")
    out = tmp_path / "gpu.json"
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu.py"), "--tiny", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["device"] == "cpu" and res["peak_flops"] is None
    tiny = res["shapes"]["tiny"]
    for path in ("bgetune", "stock"):
        assert tiny[path]["pairs_per_s"] > 0
        assert tiny[path]["flops_per_s"] > 0
        assert tiny[path]["mfu"] is None  # no peak on a CPU
        assert tiny[path]["timed_steps"] == 2
    assert tiny["speedup"] > 0
