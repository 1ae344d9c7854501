"""Crash safety (SIGKILL mid-training, then --resume) and the multi-process (gloo) data-parallel path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bgetune.core.workspace import Workspace
from tests.train.conftest import subprocess_env


def _cli_env(ws_root: Path) -> dict[str, str]:
    return subprocess_env(BGETUNE_WORKSPACE=str(ws_root))


def _train_args(*flags: str) -> list[str]:
    """`bgetune train` on the CPU with the bundled model, then ``flags``."""
    bgetune = str(Path(sys.executable).parent / "bgetune")
    return [bgetune, "train", "--base-model", "bundled", "--device", "cpu", *flags]


def _last_json(stdout: str) -> dict:
    start = stdout.rfind("\n{")
    return json.loads(stdout[start + 1 :] if start >= 0 else stdout)


@pytest.mark.slow
def test_sigkill_during_second_epoch_then_resume_continues(mined_ws):
    ws = mined_ws
    with ws.tx() as c:  # no validation here: keep epochs short
        c.execute("UPDATE pairs SET split='test' WHERE split='val'")
    ws.close()
    args = _train_args("--yes", "--json", "--epochs", "3", "--batch-size", "8", "--max-passage-len", "48")
    env = _cli_env(ws.root)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runs = ws.root / "artifacts" / "runs"
    deadline = time.time() + 400
    try:
        while time.time() < deadline and proc.poll() is None:
            if list(runs.glob("*/checkpoint-epoch-1/COMPLETE")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, (
            f"training ended before it could be killed: {proc.stderr.read()[-2000:]!r}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ws2 = Workspace(ws.root)
    assert ws2.scalar("SELECT status FROM runs WHERE kind='train'") == "running"
    out = subprocess.run(args + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = _last_json(out.stdout)
    assert "train" in out.stderr and "%|" in out.stderr  # --json keeps the progress bar, on stderr
    assert res["resumed_from"]["epoch"] >= 1 and res["resumed_from"]["step"] >= 4
    assert res["epochs_done"] == 3 and res["steps"] == 12
    assert [s for s, _ in res["loss_curve"]] == list(range(1, 13)) if "loss_curve" in res else True
    assert ws2.scalar("SELECT count(*) FROM runs WHERE kind='train'") == 1
    assert ws2.last_run("train")["status"] == "done"
    assert Path(res["model_dir"], "modules.json").exists()


def test_train_without_yes_and_without_tty_refuses(mined_ws):
    ws = mined_ws
    ws.close()
    args = _train_args("--batch-size", "8", "--max-passage-len", "32", "--max-steps", "1", "--epochs", "1")
    out = subprocess.run(
        args, env=_cli_env(ws.root), capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    assert out.returncode == 1
    assert "--yes" in out.stderr
    assert Workspace(ws.root).scalar("SELECT count(*) FROM runs WHERE kind='train'") == 0


def _tiny_bert(folder: Path, bundled: str) -> str:
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(bundled) / name).exists():
            shutil.copy(Path(bundled) / name, folder / name)
    return str(folder)


def _ddp_worker(rank: int, world: int, port: int, ws_root: str, model_path: str, out: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "HF_HUB_OFFLINE": "1",
        }
    )
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.tools.training import TrainConfig, train

    model = load_model(resolve_base_model(model_path), device="cpu")
    cfg = TrainConfig(
        base_model=model_path,
        epochs=1,
        batch_size=4,
        max_steps=2,
        max_passage_len=32,
        device="cpu",
        val_corpus_max=20,
        bf16=False,
    )
    res = train(Workspace(ws_root), cfg, model=model)
    digest = [float(p.detach().double().sum()) for p in model.parameters()]
    Path(out, f"rank{rank}.json").write_text(
        json.dumps(
            {"world": res["world_size"], "steps": res["steps"], "loss": res["loss_curve"], "digest": digest}
        )
    )
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_gather_negatives_and_stay_in_sync(ddp_run, tmp_path, bundled_path):
    import torch.multiprocessing as mp

    model = _tiny_bert(tmp_path / "tiny-bert", bundled_path)
    ws, port, out = ddp_run
    mp.spawn(_ddp_worker, args=(2, port, str(ws.root), model, str(out)), nprocs=2, join=True)
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2
    assert r0["steps"] == r1["steps"] == 2
    # different batches on each process, yet identical weights: gradients were averaged across processes
    assert r0["digest"] == pytest.approx(r1["digest"], rel=1e-6)
    assert r0["loss"] != r1["loss"]
    assert Workspace(ws.root).last_run("train")["result"]["world_size"] == 2
