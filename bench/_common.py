"""What the bench scripts share: the offline preamble, the repository paths, the log line, the RESULTS.md sections.

Importing it is the preamble: HF_HUB_OFFLINE=1 and TOKENIZERS_PARALLELISM=false unless already set, and the
repository on sys.path (for `bgetune`). The scripts under bench/ find it as `_common` (a script's folder is on
sys.path); those in a subfolder put bench/ on sys.path first.
"""

from __future__ import annotations

import csv
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEBIAN = REPO.parent / "shared" / "benchmarks" / "debian-faq"
RESULTS_MD = REPO / "bench" / "RESULTS.md"
# the bench documents per language: the shipped samples and the Debian FAQ corpus (a JSONL knowledge base)
SAMPLE_DOCS = {
    "en": [*sorted((REPO / "samples" / "en").iterdir()), DEBIAN / "corpus.en.jsonl"],
    "zh": [*sorted((REPO / "samples" / "zh").iterdir()), DEBIAN / "corpus.zh.jsonl"],
}


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def measured_on() -> str:
    """The start of a section's "Measured <date> on <machine> CPU (<n> cores, ..." line; the caller closes it."""
    return f"Measured {datetime.now(UTC).strftime('%Y-%m-%d')} on {platform.machine()} CPU ({os.cpu_count()} cores, "


def replace_section(section: str, start: str, end: str, path: Path = RESULTS_MD) -> None:
    """Put ``section`` (which starts with ``start`` and ends with ``end``) in place of the one between those
    markers in ``path``, or append it when the markers are not there yet."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def ingest_sample_docs(ws_dir: Path, lang: str):  # noqa: ANN201 (a bgetune Workspace)
    """A workspace at ``ws_dir`` with the bench documents of ``lang`` (SAMPLE_DOCS) ingested, bundled model."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    ws = Workspace(ws_dir)
    ingest(ws, SAMPLE_DOCS[lang], settings=Settings(workspace=ws.root), base_model="bundled")
    return ws


def fill_judgements(folder: Path, zeros: dict[str, dict[int, str]], fill) -> None:  # noqa: ANN001
    """Write hand judgements into ``folder``/<name>.tsv for each name in ``zeros`` ({TSV line: why} of the 0s,
    line 1 the header): ``fill(rows, zeros_of_that_file)`` sets the ok/why cells of ``rows`` in place and
    returns the tally printed after the file's name."""
    for name, zs in zeros.items():
        path = folder / f"{name}.tsv"
        rows = read_tsv(path)
        tally = fill(rows, zs)
        write_tsv(path, rows)
        print(f"{name}: {tally}")


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.reader(f, delimiter="\t"))


def write_tsv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
