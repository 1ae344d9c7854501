"""Data-parallel training under ``torchrun``: two gloo processes on the CPU, the bundled model, a tiny corpus.

The launch line (this file is also the torchrun script; one machine, N processes or GPUs):

    torchrun --nproc_per_node 2 tests/train/test_ddp.py --workspace WS --out OUT

Across machines: ``torchrun --nnodes 2 --node_rank R --nproc_per_node G --rdzv_backend c10d
--rdzv_endpoint HOST:29500 ...`` with the same script on every node. Each process trains on its own slice of
the batches, in-batch negatives are gathered across processes with gradient, gradients are averaged: every rank
must end with the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _main() -> None:  # the torchrun script: one process of the group
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.core.workspace import Workspace
    from bgetune.tools.training import TrainConfig, train

    model = load_model(resolve_base_model("bundled"), device="cpu")
    cfg = TrainConfig(
        base_model="bundled",
        epochs=1,
        batch_size=4,
        max_steps=args.steps,
        max_passage_len=32,
        max_query_len=16,
        device="cpu",
        val_corpus_max=20,
        bf16=False,
        decide=False,
    )
    res = train(Workspace(args.workspace), cfg, model=model)
    rank = int(os.environ["RANK"])
    model_dir = Path(res["model_dir"])
    import torch.distributed as dist

    # the weights each rank holds after the last step (rank 0 also saved them to model_dir)
    digest = [float(p.detach().double().sum()) for p in model.parameters()]
    Path(args.out, f"rank{rank}.json").write_text(
        json.dumps(
            {
                "rank": rank,
                "world": res["world_size"],
                "steps": res["steps"],
                "loss": res["loss_curve"],
                "digest": digest,
                "model_dir": str(model_dir),
            }
        )
    )
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    _main()
    sys.exit(0)


@pytest.mark.slow
def test_torchrun_two_gloo_processes_step_together_with_the_bundled_model(ddp_run):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed next to this Python")
    from tests.train.conftest import subprocess_env  # not at the top: this file is also the torchrun script

    ws, port, out = ddp_run
    env = subprocess_env(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [
        torchrun,
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        str(Path(__file__).resolve()),
        "--workspace",
        str(ws.root),
        "--out",
        str(out),
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2
    assert r0["steps"] == r1["steps"] == 2
    assert len(r0["loss"]) == len(r1["loss"]) == 2
    assert r0["loss"] != r1["loss"]  # each rank saw its own batches
    assert r0["digest"] == pytest.approx(r1["digest"], rel=1e-6)  # ... yet both hold the same weights
    assert (Path(r0["model_dir"]) / "model.safetensors").exists()  # rank 0 saved the model
    from bgetune.core.workspace import Workspace

    assert Workspace(ws.root).last_run("train")["result"]["world_size"] == 2
