"""Bring your own pairs (CSV, XLSX, JSONL of real questions and answers) and export training data as
FlagEmbedding JSONL ``{"query", "pos", "neg", "prompt"}``."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bgetune.config import Settings
from bgetune.text import corpus_language, detect_language, normalize_for_match, normalize_ws
from bgetune.workspace import Workspace, atomic_write_text, now_iso

QUERY_HEADERS = (
    "query",
    "question",
    "questions",
    "q",
    "user question",
    "user_query",
    "问题",
    "标准问",
    "标准问题",
    "用户问题",
    "提问",
    "问句",
    "相似问",
    "查询",
)
ANSWER_HEADERS = (
    "answer",
    "answers",
    "a",
    "pos",
    "positive",
    "passage",
    "response",
    "reply",
    "document",
    "doc",
    "clicked",
    "clicked document",
    "content",
    "text",
    "答案",
    "回答",
    "标准答案",
    "答复",
    "回复",
    "文档",
    "内容",
    "段落",
)


class ImportError_(ValueError):
    """A file that cannot be imported, with what to do about it."""


def _pick(headers: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: Path) -> str:
    norm = {h.strip().lower(): h for h in headers if h is not None}
    if wanted:
        if wanted in headers:
            return wanted
        if wanted.strip().lower() in norm:
            return norm[wanted.strip().lower()]
        raise ImportError_(f"{path.name}: no column {wanted!r}; columns are {', '.join(map(str, headers))}")
    for c in candidates:
        if c in norm:
            return norm[c]
    raise ImportError_(
        f"{path.name}: cannot tell which column holds the {what}; columns are {', '.join(map(str, headers))}. "
        f"Name it with --{'query' if what == 'questions' else 'answer'}-col"
    )


def _read_rows(
    path: Path, query_col: str | None, answer_col: str | None
) -> Iterator[tuple[int, str, list[str]]]:
    """(row number as a person sees it, query, answers) for every data row."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        from bgetune.tools.ingest import decode_text

        for n, line in enumerate(decode_text(path.read_bytes(), path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, "", [f"\x00bad JSON: {exc.msg}"]
                continue
            if not isinstance(obj, dict):
                yield n, "", ["\x00not a JSON object"]
                continue
            keys = list(obj)
            qk = _pick(keys, query_col, QUERY_HEADERS, "questions", path)
            try:
                ak = _pick(keys, answer_col, ANSWER_HEADERS, "answers", path)
            except ImportError_:
                ak = None
            ans = obj.get(ak) if ak else None
            answers = [str(a) for a in ans if a] if isinstance(ans, list) else ([str(ans)] if ans else [])
            yield n, str(obj.get(qk) or ""), answers
        return
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ImportError_(
                f"{path.name}: not a readable Excel file ({exc}); save it as .xlsx or .csv"
            ) from exc
        sheet = wb.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, [])]
        qk = _pick(header, query_col, QUERY_HEADERS, "questions", path)
        ak = _pick(header, answer_col, ANSWER_HEADERS, "answers", path)
        qi, ai = header.index(qk), header.index(ak)
        for n, row in enumerate(it, start=2):
            row = list(row) + [None] * (len(header) - len(row))
            if all(v is None or str(v).strip() == "" for v in row):
                continue
            q, a = row[qi], row[ai]
            yield n, "" if q is None else str(q), [] if a is None or str(a).strip() == "" else [str(a)]
        wb.close()
        return
    if suffix in (".csv", ".tsv", ".txt"):
        from bgetune.tools.ingest import decode_text

        text = decode_text(path.read_bytes(), path)
        sample = text[:4096]
        delimiter = "\t" if suffix == ".tsv" or sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        qk = _pick(header, query_col, QUERY_HEADERS, "questions", path)
        ak = _pick(header, answer_col, ANSWER_HEADERS, "answers", path)
        qi, ai = header.index(qk), header.index(ak)
        for row in reader:
            n = reader.line_num
            if not any(v.strip() for v in row):
                continue
            q = row[qi] if qi < len(row) else ""
            a = row[ai] if ai < len(row) else ""
            yield n, q, [a] if a.strip() else []
        return
    raise ImportError_(f"{path.name}: unsupported file type {suffix or '(none)'}; use .csv, .xlsx or .jsonl")


class _Linker:
    """Finds the chunk(s) holding an answer: normalised substring, else fuzzy, else embedding match."""

    def __init__(
        self,
        ws: Workspace,
        *,
        fuzzy_min: float = 90.0,
        settings: Settings | None = None,
        base_model: Any = None,
        embed_min: float = 0.8,
    ) -> None:
        self.ws = ws
        self.rows = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
        self.norm = [normalize_for_match(r["text"]) for r in self.rows]
        self.fuzzy_min = fuzzy_min
        self.settings, self.base_model, self.embed_min = settings, base_model, embed_min
        self._model = None

    def link(self, answer: str) -> tuple[list[str], str]:
        a = normalize_for_match(answer)
        if len(a) < 4 or not self.rows:
            return [], "none"
        hits = [r["id"] for r, t in zip(self.rows, self.norm, strict=True) if a in t]
        if hits:
            return hits, "exact"
        inside = [r["id"] for r, t in zip(self.rows, self.norm, strict=True) if len(t) >= 20 and t in a]
        if inside:  # a long answer spanning several chunks
            return inside, "spans"
        from rapidfuzz import fuzz, process

        if len(a) >= 12:
            best = process.extractOne(a, self.norm, scorer=fuzz.partial_ratio, score_cutoff=self.fuzzy_min)
            if best is not None:
                return [self.rows[best[2]]["id"]], f"fuzzy:{best[1]:.0f}"
        if self.base_model is not False:
            hit = self._embed(answer)
            if hit:
                return [hit[0]], f"embedding:{hit[1]:.2f}"
        return [], "none"

    def _embed(self, answer: str) -> tuple[str, float] | None:
        from bgetune.models import corpus_embeddings, encode
        from bgetune.tools.filtering import _load_model

        if self._model is None:
            self._model, self._fp = _load_model(self.ws, self.settings, self.base_model)
        ids, emb = corpus_embeddings(self.ws, self._model, fingerprint=self._fp)
        v = encode(self._model, [answer], kind="passage")[0]
        sims = emb @ v
        i = int(sims.argmax())
        return (ids[i], float(sims[i])) if sims[i] >= self.embed_min else None


def import_pairs(
    ws: Workspace,
    path: str | Path,
    *,
    query_col: str | None = None,
    answer_col: str | None = None,
    settings: Settings | None = None,
    base_model: Any = None,
) -> dict:
    """Import real questions with their answers (or clicked documents) as ``proposed`` pairs of kind 'real'.
    Answers are linked to the chunks that hold them, else kept as their own passage. Bad rows are reported by
    row number. ``base_model=False`` turns off the embedding fallback of the linking."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImportError_(f"{path}: no such file; give a CSV, XLSX or JSONL file of questions and answers")
    source = f"import:{path.name}"
    linker = _Linker(ws, settings=settings, base_model=base_model)
    bad: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    stats = {"exact": 0, "spans": 0, "fuzzy": 0, "embedding": 0, "none": 0}
    imported = existing = rows_total = 0
    ts = now_iso()
    to_insert = []
    for n, query, answers in _read_rows(path, query_col, answer_col):
        rows_total += 1
        query = normalize_ws(query)
        if answers and answers[0].startswith("\x00"):
            bad.append({"row": n, "reason": answers[0][1:]})
            continue
        if not query:
            bad.append({"row": n, "reason": "empty question"})
            continue
        if not answers:
            bad.append({"row": n, "reason": "empty answer", "query": query})
            continue
        key = (query.lower(), normalize_for_match(" ".join(answers)))
        if key in seen:
            bad.append({"row": n, "reason": "duplicate row", "query": query})
            continue
        seen.add(key)
        chunk_ids: list[str] = []
        how = "none"
        for ans in answers:
            ids, h = linker.link(ans)
            for cid in ids:
                if cid not in chunk_ids:
                    chunk_ids.append(cid)
            if how == "none":
                how = h
        stats[how.split(":")[0]] += 1
        to_insert.append((n, query, answers, chunk_ids, how))
    with ws.tx() as c:
        for n, query, answers, chunk_ids, how in to_insert:
            primary = chunk_ids[0] if chunk_ids else None
            passage = answers[0]
            cur = c.execute(
                "INSERT OR IGNORE INTO pairs(chunk_id, query, passage, source, kind, language, status, reasons, scores, "
                "status_by, created_at, updated_at) VALUES(?,?,?,?,'real',?,'proposed','[]',?,'import',?,?)",
                (
                    primary,
                    query,
                    passage,
                    source,
                    detect_language(query),
                    json.dumps({"link": how, "row": n, "answers": len(answers)}, ensure_ascii=False),
                    ts,
                    ts,
                ),
            )
            if not cur.rowcount:
                existing += 1
                continue
            imported += 1
            pid = cur.lastrowid
            for cid in chunk_ids[1:]:
                c.execute(
                    "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)",
                    (pid, cid, "import"),
                )
            c.execute(
                "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                (pid, "import", "import", f"{path.name} row {n}", None, "proposed", ts),
            )
    return {
        "file": str(path),
        "source": source,
        "rows": rows_total,
        "imported": imported,
        "already_imported": existing,
        "linked": {
            "exact": stats["exact"] + stats["spans"],
            "fuzzy": stats["fuzzy"],
            "embedding": stats["embedding"],
        },
        "own_passage": stats["none"],
        "bad_rows": bad,
    }


# ---------------------------------------------------------------------------------------------- export
def _query_prompt(ws: Workspace) -> str:
    from bgetune.models import DEFAULT_BY_LANGUAGE, family_for

    spec = ws.get_setting("base_model") or DEFAULT_BY_LANGUAGE.get(
        corpus_language(ws.stats()["chunk_languages"]), ""
    )
    return family_for(str(spec)).query_prompt


def export_training_jsonl(
    ws: Workspace,
    out_path: str | Path,
    *,
    split: str | None = "train",
    random_negatives: int = 7,
    seed: int = 13,
) -> dict:
    """Write trainable pairs (approved/edited) of ``split`` (None or 'all' = every split) as FlagEmbedding JSONL.
    Positives are the pair's chunk (plus extra positives), else its passage; negatives are the mined ones, or
    random other chunks when none were mined (FlagEmbedding needs a non-empty ``neg``)."""
    where = "p.status IN ('approved','edited')"
    params: list[Any] = []
    if split not in (None, "all"):
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or all, not {split!r}")
        where += " AND p.split=?"
        params.append(split)
    pairs = ws.query(
        f"SELECT p.id, p.query, p.passage, p.chunk_id, c.text AS chunk_text FROM pairs p "
        f"LEFT JOIN chunks c ON c.id=p.chunk_id WHERE {where} ORDER BY p.id",
        params,
    )
    chunk_rows = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    prompt = _query_prompt(ws)
    rng = random.Random(seed)
    lines = []
    mined = rand = 0
    for p in pairs:
        pos = [p["chunk_text"] or p["passage"]]
        pos_ids = {p["chunk_id"]} if p["chunk_id"] else set()
        for r in ws.query(
            "SELECT c.id, c.text FROM pair_positives pp JOIN chunks c ON c.id=pp.chunk_id WHERE pp.pair_id=?",
            (p["id"],),
        ):
            if r["id"] not in pos_ids:
                pos.append(r["text"])
                pos_ids.add(r["id"])
        neg = [
            r["text"]
            for r in ws.query(
                "SELECT c.text FROM negatives n JOIN chunks c ON c.id=n.chunk_id WHERE n.pair_id=? ORDER BY n.rank",
                (p["id"],),
            )
        ]
        if neg:
            mined += 1
        elif random_negatives and len(chunk_rows) > len(pos_ids) + 1:
            pool = [
                r
                for r in rng.sample(chunk_rows, min(len(chunk_rows), random_negatives * 3))
                if r["id"] not in pos_ids
            ]
            neg = [r["text"] for r in pool[:random_negatives]]
            rand += 1
        rec = {"query": p["query"], "pos": pos, "neg": neg}
        if prompt:
            rec["prompt"] = prompt
        lines.append(json.dumps(rec, ensure_ascii=False))
    out = Path(out_path).expanduser()
    atomic_write_text(out, "\n".join(lines) + ("\n" if lines else ""))
    return {
        "path": str(out),
        "pairs": len(lines),
        "split": split or "all",
        "with_mined_negatives": mined,
        "with_random_negatives": rand,
        "prompt": prompt or None,
    }
