"""bench/gpu.py's CPU smoke run (--tiny): both training paths step and the figures are written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_gpu_bench(tmp_path: Path, *args: str) -> None:
    """``python bench/gpu.py ARGS`` offline on one thread; fails the test with its stderr's tail."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.mark.slow
def test_gpu_bench_tiny_runs_on_cpu_and_reports_both_paths(tmp_path):
    pytest.importorskip("datasets")
    out = tmp_path / "gpu.json"
    run_gpu_bench(tmp_path, "--tiny", "--out", str(out))
    res = json.loads(out.read_text())
    assert res["device"] == "cpu" and res["peak_flops"] is None
    tiny = res["shapes"]["tiny"]
    for path in ("bgetune", "stock"):
        assert tiny[path]["pairs_per_s"] > 0
        assert tiny[path]["flops_per_s"] > 0
        assert tiny[path]["mfu"] is None  # no peak on a CPU
        assert tiny[path]["timed_steps"] == 2
    assert tiny["speedup"] > 0


@pytest.mark.slow
def test_gpu_bench_profile_writes_the_operator_tables_and_the_variants(tmp_path):
    """--profile (what a lent GPU runs to find where a step's time goes), with --tokenizer pointing at a folder
    holding only the tokenizer files, as on a GPU machine without the bundled model."""
    from bgetune.core.models import bundled_model_path

    tok = tmp_path / "tok"
    tok.mkdir()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        src = Path(bundled_model_path()) / name
        if src.exists():
            (tok / name).write_bytes(src.read_bytes())
    prof = tmp_path / "prof"
    run_gpu_bench(tmp_path, "--tiny", "--tokenizer", str(tok), "--profile", str(prof))
    res = json.loads((prof / "profile.json").read_text())["profile"]["tiny"]
    assert res["active_wall_s"] > 0
    for variant in ("plain", "fused_adamw", "batch_x2"):
        assert res[variant] > 0
    cpu_table = (prof / "profile-tiny-cpu.txt").read_text()
    assert "aten::" in cpu_table and "Optimizer.step" in cpu_table
    assert (prof / "profile-tiny-device.txt").exists()
