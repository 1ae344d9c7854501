"""A small real knowledge base for golden-set and ship-decision tests: the first sections of the Debian FAQ
(tests/fixtures/debian-faq, the FAQ's own answer sections and real questions) ingested as a JSONL export."""

from __future__ import annotations

import json
from pathlib import Path

FAQ = Path(__file__).resolve().parent / "fixtures" / "debian-faq"


def faq_rows(lang: str, n: int) -> tuple[list[dict], list[dict]]:
    """(first ``n`` corpus sections, the real questions answered inside them)."""
    corpus = [json.loads(x) for x in (FAQ / f"corpus.{lang}.jsonl").read_text().splitlines() if x.strip()][:n]
    ids = {c["id"] for c in corpus}
    golden = [json.loads(x) for x in (FAQ / f"golden.{lang}.jsonl").read_text().splitlines() if x.strip()]
    return corpus, [g for g in golden if set(g["pos_ids"]) <= ids]


def faq_workspace(root: Path, lang: str = "en", n: int = 40):
    """A workspace holding the first ``n`` FAQ sections (one chunk each, ext_id = the section id)."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    corpus, _ = faq_rows(lang, n)
    kb = root / f"faq-{lang}.jsonl"
    kb.parent.mkdir(parents=True, exist_ok=True)
    kb.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in corpus), encoding="utf-8")
    ws = Workspace(root / f"ws-{lang}")
    report = ingest(ws, [kb], settings=Settings(workspace=ws.root))
    assert report.ok, report.summary()
    ws.set_setting("base_model", "bundled")
    return ws
