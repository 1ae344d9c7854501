"""Progress that moves: encoding reports texts done per batch with the time left, the CLI draws one bar per
phase on stderr, and `--json` keeps its bars on stderr with one JSON object on stdout."""

from __future__ import annotations

import json
import math

import numpy as np
from typer.testing import CliRunner

from bgetune.cli import app
from bgetune.cli_common import TqdmProgress
from bgetune.core.encode import EtaClock, encode_with_progress, format_eta, length_batches, strip_eta


class Calls(list):
    def __call__(self, done: int, total: int, label: str = "") -> None:
        self.append((done, total, label))


def test_encode_with_progress_counts_every_text_and_keeps_the_order(st_model):
    texts = [("word " * (i % 37 + 1)) + str(i) for i in range(150)]
    calls = Calls()
    got = encode_with_progress(
        st_model, texts, batch_size=16, progress=calls, label="queries encoded", normalize_embeddings=True
    )
    assert calls[0] == (0, 150, "queries encoded")
    assert len(calls) == 1 + math.ceil(150 / 16)
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == 150 and all(t == 150 for _, t, _ in calls)
    assert all(lbl.startswith("queries encoded") for _, _, lbl in calls)
    assert any(" left" in lbl for _, _, lbl in calls[1:-1])  # the time left shows between the ends
    want = st_model.encode(texts, batch_size=16, normalize_embeddings=True)
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-4)


def test_models_encode_reports_batches(st_model):
    from bgetune.core.models import encode

    calls = Calls()
    emb = encode(st_model, [f"passage number {i}" for i in range(70)], kind="passage", progress=calls)
    assert emb.shape == (70, 384) and emb.dtype == np.float32
    assert [(d, t) for d, t, _ in calls] == [(0, 70), (64, 70), (70, 70)]
    assert calls[-1][2] == "passages encoded"


def test_length_batches_and_eta_text():
    b = length_batches(["a", "abcd", "ab", "abc", "abcde"], 2)
    assert b == [[4, 1], [3, 2], [0]]
    assert format_eta(3) == "5 s left" and format_eta(42) == "45 s left"
    assert format_eta(80) == "1 min 20 s left" and format_eta(725) == "12 min left"
    assert format_eta(4500) == "1 h 15 min left"
    t = iter([0.0, 10.0])
    clock = EtaClock(1000, clock=lambda: next(t))
    assert clock.label("x", 250) == "x · about 30 s left"  # 10 s for a quarter of the characters
    assert strip_eta("round trip: chunks encoded · about 30 s left") == "round trip: chunks encoded"


def test_tqdm_progress_one_bar_per_phase(capsys):
    bar = TqdmProgress("filter", unit="item")
    bar(0, 3, "text checks")
    bar(1, 3, "round trip (base model)")
    bar(0, 40, "round trip: chunks encoded")
    bar(20, 40, "round trip: chunks encoded · about 5 s left")
    bar(40, 40, "round trip: chunks encoded")
    bar(2, 3, "duplicates")
    bar(3, 3, "done")
    err = capsys.readouterr().err
    assert "40/40" in err and "3/3" in err and "round trip: chunks encoded" in err
    assert "about 5 s" not in err  # tqdm draws its own time left


def test_round_trip_reports_chunks_and_queries(eval_ws, st_model):
    from bgetune.tools.filtering import round_trip

    pairs = eval_ws.query("SELECT id, chunk_id, query FROM pairs")
    n_chunks = eval_ws.scalar("SELECT count(*) FROM chunks")
    calls = Calls()
    out = round_trip(eval_ws, pairs, st_model, progress=calls)
    assert len(out) == len(pairs)
    chunk_calls = [(d, t) for d, t, lbl in calls if lbl.startswith("round trip: chunks encoded")]
    query_calls = [(d, t) for d, t, lbl in calls if lbl.startswith("round trip: queries encoded")]
    assert chunk_calls[0] == (0, n_chunks) and chunk_calls[-1] == (n_chunks, n_chunks) and len(chunk_calls) > 2
    assert query_calls[-1] == (len(pairs), len(pairs))


def test_mine_json_keeps_bars_on_stderr(eval_ws):
    r = CliRunner().invoke(app, ["mine", "--workspace", str(eval_ws.root), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{") :])  # stdout: the one JSON object
    assert "mine" in r.stderr and "chunks encoded" in r.stderr and "%|" in r.stderr, r.stderr[-500:]
    assert "{" not in r.stderr and isinstance(out, dict)
