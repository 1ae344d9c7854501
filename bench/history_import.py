"""Import speed of a real question history (issue 15): 10,000 rows against a 10,000-chunk workspace.

The workspace is a JSONL knowledge-base export of 10,000 chunks (ids 'kb-N', titles, 60-120 words drawn from the
Debian FAQ's vocabulary); the history CSV has 10,000 rows answered by id (25%), title (20%), a verbatim sentence
(30%), a sentence with typos (20%) and text found nowhere (5%), with a click column. Ingest is not timed; the
import is (linking, click mining, writing), once with the embedding fallback (encodes the corpus once, cached for
the filters and mining) and once without. Progress bars on stderr.

  nice -n 10 python bench/history_import.py [--rows 10000] [--chunks 10000]

Writes bench/history-import.json and prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import time
from pathlib import Path

from _common import DEBIAN, REPO  # the offline preamble (bench/_common.py)

os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def vocabulary() -> list[str]:
    words: set[str] = set()
    for line in (DEBIAN / "corpus.en.jsonl").read_text().splitlines():
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", json.loads(line)["text"]))
    return sorted(words)


def typo(words: list[str], rng: random.Random) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), k=max(1, len(out) // 6)):
        w = out[i]
        if len(w) > 3:
            j = rng.randrange(len(w) - 1)
            out[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return out


def build(work: Path, n_chunks: int, n_rows: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    vocab = vocabulary()
    chunks = []
    for i in range(n_chunks):
        words = rng.choices(vocab, k=rng.randint(60, 120))
        chunks.append(
            {"id": f"kb-{i}", "title": f"Topic {i}: {' '.join(rng.choices(vocab, k=3))}", "words": words}
        )
    corpus = work / "kb.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": c["id"], "title": c["title"], "text": " ".join(c["words"])}) + "\n"
            for c in chunks
        )
    )
    hist = work / "history.csv"
    with hist.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "answer", "doc id", "answer title", "clicked"])
        for r in range(n_rows):
            c = chunks[rng.randrange(n_chunks)]
            q = "how " + " ".join(rng.choices(c["words"], k=6)) + f" {r}"
            kind = rng.random()
            start = rng.randrange(0, len(c["words"]) - 20)
            window = c["words"][start : start + 20]
            row = [q, "", "", "", rng.choice(["1", "1", "1", "0"])]
            if kind < 0.25:
                row[2] = c["id"]
            elif kind < 0.45:
                row[3] = c["title"]
            elif kind < 0.75:
                row[1] = " ".join(window)
            elif kind < 0.95:
                row[1] = " ".join(typo(window, rng))
            else:
                row[1] = "zz " + " ".join(rng.choices(["alpha", "omega", "quux", "blorp"], k=12))
            w.writerow(row)
    return corpus, hist


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bgetune-history-import"))
    args = ap.parse_args()

    from bgetune.capabilities import Context
    from bgetune.cli_common import TqdmProgress
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.history import HistoryOptions, import_history
    from bgetune.tools.ingest import ingest

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    corpus, hist = build(args.work, args.chunks, args.rows)
    results = []
    for embedding in (False, True):
        root = args.work / f"ws-{'emb' if embedding else 'noemb'}"
        settings = Settings(workspace=root, base_model="bundled")
        ws = Workspace(root)
        ws.set_setting("base_model", "bundled")
        t = time.time()
        ingest(ws, [corpus], settings=settings)
        ingest_s = time.time() - t
        load0 = os.getloadavg()[0]
        t = time.time()
        r = import_history(
            Context(ws=ws, settings=settings, progress=TqdmProgress("import", unit="step")),
            HistoryOptions(path=str(hist), embedding=embedding),
        )
        secs = time.time() - t
        out = {
            "rows": r.rows,
            "chunks": ws.scalar("SELECT count(*) FROM chunks"),
            "embedding_fallback": embedding,
            "import_seconds": round(secs, 1),
            "ingest_seconds_not_timed": round(ingest_s, 1),
            "pairs": r.pairs,
            "links": r.links,
            "unlinked": len(r.unlinked),
            "coclick": r.coclick,
            "not_clicked": r.not_clicked,
            "load_average_at_start": round(load0, 1),
            "load_average_at_end": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(out), flush=True)
        results.append(out)
    (REPO / "bench" / "history-import.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
