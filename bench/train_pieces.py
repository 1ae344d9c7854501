"""CPU training steps with GradCache pieces sorted by length against pieces in batch order (issue 23).

On CPU a step encodes its queries and passages in GradCache pieces of at most 64 sequences, and each piece pads
to its longest sequence. Sorted by length, a piece's sequences are of like length, so fewer padding tokens are
encoded; the loss and gradients are the same (tests/train/test_training.py). This times the real step of a
workspace's training data both ways, alternating sorted / batch order on the same batches in one process, and
prints the padded tokens and seconds per step of each, with the ratio.

  python bench/train_pieces.py --workspace WS [--batches 3] [--threads 1]

WS: a workspace with a train split and mined negatives, e.g. one of bench/scale.py's (/tmp/bgetune-scale/ws-1000).
Writes nothing; paste the printed table into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import UTC, datetime

from _common import log  # the offline preamble (bench/_common.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", required=True)
    ap.add_argument(
        "--batches", type=int, default=3, help="how many of the epoch's batches to time (each twice)"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: CPU seconds are not inflated by idle OpenMP threads)",
    )
    args = ap.parse_args()

    import torch

    from bgetune.core.workspace import Workspace
    from bgetune.tools.training import (
        TrainConfig,
        _make_stepper,
        _prepare,
        ensure_teacher_scores,
        plan_batches,
    )

    torch.set_num_threads(args.threads)
    ws = Workspace(args.workspace)
    cfg = TrainConfig(base_model="bundled")
    ensure_teacher_scores(ws, cfg)
    prep = _prepare(ws, cfg, device="cpu")
    stepper = _make_stepper(prep, cfg)
    batches = plan_batches(prep["data"], cfg.batch_size, seed=cfg.seed, epoch=0)
    batches = sorted(batches, key=len, reverse=True)[: args.batches]  # full batches
    log(
        f"{len(prep['data'].examples)} examples; timing {len(batches)} batches of {cfg.batch_size}, "
        f"GradCache pieces of {stepper.mini_batch}, {args.threads} thread(s)"
    )
    stepper.loss_backward(batches[0], 0)  # warm-up, not timed
    prep["model"].zero_grad(set_to_none=True)
    rows: dict[bool, list[tuple[int, float, float]]] = {True: [], False: []}
    for b in batches:
        for by_length in (True, False):
            stepper.sort_pieces = by_length
            tokens = stepper.tokens(b, 0)
            c0, w0 = time.process_time(), time.perf_counter()
            stepper.loss_backward(b, 0)
            rows[by_length].append((tokens, time.process_time() - c0, time.perf_counter() - w0))
            prep["model"].zero_grad(set_to_none=True)
            log(
                f"  {'sorted' if by_length else 'batch order'}: {tokens:,} padded tokens, "
                f"{rows[by_length][-1][1]:.1f} CPU s"
            )
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, torch {torch.__version__}, "
        f"workspace {args.workspace}, {len(batches)} batches x 2, {args.threads} thread(s)\n"
    )
    print("| pieces | padded tokens a step | CPU s a step (median) | wall s a step (median) |")
    print("|---|---|---|---|")
    for by_length in (True, False):
        r = rows[by_length]
        print(
            f"| {'sorted by length' if by_length else 'batch order'} | {statistics.mean(x[0] for x in r):,.0f} | "
            f"{statistics.median(x[1] for x in r):.2f} | {statistics.median(x[2] for x in r):.2f} |"
        )
    ratios = [a[1] / b[1] for a, b in zip(rows[True], rows[False], strict=True)]
    toks = [a[0] / b[0] for a, b in zip(rows[True], rows[False], strict=True)]
    print(
        f"\nsorted / batch order, paired per batch: CPU s {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}); padded tokens {statistics.median(toks):.3f}"
    )


if __name__ == "__main__":
    main()
