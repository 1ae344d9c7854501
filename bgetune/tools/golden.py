"""The golden set: a few dozen of the user's real questions, each with the passage(s) that answer it.

Built in minutes: questions are typed, pasted or read from a txt/CSV/XLSX/JSONL file; for each one the user sees
the base model's top passages and a lexical BM25 list (so the base model's blind spots show) and marks the right
ones by number ("1 3"), by chunk id, or as unanswerable ("none": kept, never scored). Stored in the workspace's
``golden`` table, exported with the model (FlagEmbedding JSONL + ids), and the evidence the ship decision uses
when it holds at least ``MIN_GOLDEN`` labeled answerable questions (bgetune/tools/decision.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.options import Context, arguments, setting
from bgetune.core.workspace import Workspace, atomic_write_text, now_iso

if TYPE_CHECKING:
    from bgetune.tools.evaluation import QuerySet

# The ship decision scores candidates on the golden set only when it holds at least this many labeled,
# answerable questions; below that a 95% bootstrap interval is too wide to tell a real gain from noise, and the
# held-out documents' queries decide instead.
MIN_GOLDEN = 20
STATUSES = ("unlabeled", "labeled", "unanswerable")
QUESTION_HEADERS = (
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
    "查询",
)
NONE_WORDS = {"none", "no", "nothing", "unanswerable", "n/a", "na", "0", "无", "没有", "都不是", "无答案"}
_BULLET = re.compile(r"^\s*(?:[-*•·●▪]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）]|[QqＱ]\d*[:：.]|问[:：])\s*")


class GoldenError(BgetuneError):
    """A golden-set request that cannot be done (unknown question, bad label, unreadable file), with the fix."""


# ---------------------------------------------------------------------------------------------- records
@dataclass
class GoldenQuestion:
    id: int
    query: str
    status: str
    pos_ids: list[str]
    source: str | None = None
    language: str | None = None
    candidates: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, r: Any) -> GoldenQuestion:
        return cls(
            id=int(r["id"]),
            query=r["query"],
            status=r["status"],
            pos_ids=list(json.loads(r["pos_ids"] or "[]")),
            source=r["source"],
            language=r["language"],
            candidates=dict(json.loads(r["candidates"] or "{}")),
        )


@dataclass
class GoldenCounts:
    total: int = 0
    unlabeled: int = 0
    labeled: int = 0
    unanswerable: int = 0

    @property
    def enough(self) -> bool:
        return self.labeled >= MIN_GOLDEN


def golden_counts(ws: Workspace) -> GoldenCounts:
    rows = {r["status"]: r["n"] for r in ws.query("SELECT status, count(*) n FROM golden GROUP BY status")}
    return GoldenCounts(
        total=sum(rows.values()),
        unlabeled=rows.get("unlabeled", 0),
        labeled=rows.get("labeled", 0),
        unanswerable=rows.get("unanswerable", 0),
    )


def _counts_text(c: GoldenCounts, lang: str) -> str:
    if lang == "zh":
        s = f"黄金问题集：共 {c.total} 个，已标注 {c.labeled}，无答案 {c.unanswerable}，待标注 {c.unlabeled}"
        if not c.enough:
            s += f"（还差 {MIN_GOLDEN - c.labeled} 个已标注问题，发布决策才会用它作依据）"
        return s + "。"
    s = (
        f"golden set: {c.total} questions, {c.labeled} labeled, {c.unanswerable} unanswerable, "
        f"{c.unlabeled} to label"
    )
    if not c.enough:
        s += f" ({MIN_GOLDEN - c.labeled} more labeled ones and the ship decision uses it as evidence)"
    return s + "."


# ---------------------------------------------------------------------------------------------- reading questions
def parse_questions(text: str) -> list[str]:
    """Questions from pasted text: one per line, list bullets and numbering removed, duplicates dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        q = _BULLET.sub("", line).strip()
        if len(q) > 2 and (q[0], q[-1]) in (
            ('"', '"'),
            ("“", "”"),
            ("'", "'"),
        ):  # a quoted line, not a quote in it
            q = q[1:-1].strip()
        if len(q) < 2 or q.startswith("#"):
            continue
        key = q.casefold()
        if key not in seen:
            seen.add(key)
            out.append(q)
    return out


def read_questions_file(path: str | Path) -> list[dict[str, Any]]:
    """Rows {"query", optional "pos_ids"} from a txt/md (one per line), CSV/TSV/XLSX (a question column, else the
    first column) or JSONL ({"query"|"question", optional "pos_ids"}) file."""
    from bgetune.tools.ingest import decode_text

    p = Path(path).expanduser()
    if not p.is_file():
        raise GoldenError(f"questions file {p} does not exist; pass a .txt, .csv, .xlsx or .jsonl file")
    suffix = p.suffix.lower()
    if suffix in (".txt", ".md", ""):
        return [{"query": q} for q in parse_questions(decode_text(p.read_bytes(), p))]
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(decode_text(p.read_bytes(), p).splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise GoldenError(f"{p}:{n}: not valid JSON ({exc}); one JSON object per line") from exc
            q = obj.get("query") or obj.get("question") if isinstance(obj, dict) else None
            if not q:
                raise GoldenError(f'{p}:{n}: no "query" field; each line needs {{"query": "..."}}')
            row: dict[str, Any] = {"query": str(q).strip()}
            if obj.get("pos_ids"):
                row["pos_ids"] = [str(x) for x in obj["pos_ids"]]
            rows.append(row)
        return rows
    if suffix in (".csv", ".tsv", ".xlsx", ".xlsm"):
        table = _read_table(p, suffix)
        if not table:
            raise GoldenError(f"{p} holds no rows")
        header = [str(h or "").strip().lower() for h in table[0]]
        col = next((header.index(h) for h in QUESTION_HEADERS if h in header), None)
        body = table[1:] if col is not None else table
        col = col or 0
        text = "\n".join(str(r[col]) for r in body if len(r) > col and r[col] not in (None, ""))
        return [{"query": q} for q in parse_questions(text)]
    raise GoldenError(f"{p.name}: unsupported file type {suffix}; use .txt, .csv, .xlsx or .jsonl")


def _read_table(p: Path, suffix: str) -> list[list[Any]]:
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise GoldenError(
                f"{p.name}: not a readable Excel file ({exc}); save it as .xlsx or .csv"
            ) from exc
        rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        return [r for r in rows if any(v not in (None, "") for v in r)]
    from bgetune.tools.ingest import decode_text

    text = decode_text(p.read_bytes(), p)
    delim = "\t" if suffix == ".tsv" or text[:4096].count("\t") > text[:4096].count(",") else ","
    return [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delim) if any(r)]


# ---------------------------------------------------------------------------------------------- the store
def add_questions(
    ws: Workspace, questions: Iterable[str | dict[str, Any]], *, source: str = "typed"
) -> tuple[list[int], list[str]]:
    """Insert questions (strings or {"query", optional "pos_ids"}); returns (new ids, duplicates skipped).
    Rows with pos_ids (chunk ids or a JSONL export's ids) are stored as labeled."""
    from bgetune.core.text import detect_language

    added: list[int] = []
    dups: list[str] = []
    now = now_iso()
    resolve = _IdResolver(ws)
    with ws.tx() as c:
        for item in questions:
            row = {"query": item} if isinstance(item, str) else dict(item)
            q = str(row.get("query") or "").strip()
            if not q:
                continue
            pos = resolve(row.get("pos_ids") or [])
            status = "labeled" if pos else "unlabeled"
            cur = c.execute(
                "INSERT OR IGNORE INTO golden(query, pos_ids, status, source, language, created_at, updated_at) "
                "VALUES(?,?,?,?,?,?,?)",
                (q, json.dumps(pos), status, source, detect_language(q), now, now),
            )
            if cur.rowcount:
                added.append(int(cur.lastrowid))
            else:
                dups.append(q)
    return added, dups


def list_questions(ws: Workspace, status: str | None = None) -> list[GoldenQuestion]:
    if status and status not in STATUSES:
        raise GoldenError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    sql = "SELECT * FROM golden" + (" WHERE status=?" if status else "") + " ORDER BY id"
    return [GoldenQuestion.from_row(r) for r in ws.query(sql, (status,) if status else ())]


def get_question(ws: Workspace, qid: int) -> GoldenQuestion:
    row = ws.conn.execute("SELECT * FROM golden WHERE id=?", (int(qid),)).fetchone()
    if row is None:
        raise GoldenError(f"no golden question #{qid} in {ws.root}; see `bgetune golden list`")
    return GoldenQuestion.from_row(row)


def next_unlabeled(ws: Workspace, after: int | None = None) -> GoldenQuestion | None:
    row = ws.conn.execute(
        "SELECT * FROM golden WHERE status='unlabeled' AND id>? ORDER BY id LIMIT 1", (after or 0,)
    ).fetchone()
    return GoldenQuestion.from_row(row) if row else None


def edit_question(ws: Workspace, qid: int, query: str) -> GoldenQuestion:
    """Change a question's wording (its labels stay; its shown candidates are recomputed next time)."""
    get_question(ws, qid)
    query = query.strip()
    if not query:
        raise GoldenError("the new question is empty")
    import sqlite3

    try:
        with ws.tx() as c:
            c.execute(
                "UPDATE golden SET query=?, candidates='{}', updated_at=? WHERE id=?", (query, now_iso(), qid)
            )
    except sqlite3.IntegrityError as exc:
        raise GoldenError(f"the golden set already holds {query!r}; remove one of the two") from exc
    return get_question(ws, qid)


def remove_question(ws: Workspace, qid: int) -> GoldenQuestion:
    q = get_question(ws, qid)
    with ws.tx() as c:
        c.execute("DELETE FROM golden WHERE id=?", (qid,))
    return q


class _IdResolver:
    """Chunk ids from chunk ids or a JSONL export's own ids (``ext_id``)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._ext: dict[str, list[str]] | None = None

    def __call__(self, ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for raw in ids:
            cid = str(raw).strip()
            if not cid:
                continue
            if self.ws.scalar("SELECT 1 FROM chunks WHERE id=?", (cid,)):
                out.append(cid)
                continue
            if self._ext is None:
                self._ext = {}
                for r in self.ws.query("SELECT id, ext_id FROM chunks WHERE ext_id IS NOT NULL"):
                    self._ext.setdefault(r["ext_id"], []).append(r["id"])
            if cid in self._ext:
                out.extend(self._ext[cid])
            else:
                raise GoldenError(
                    f"no chunk {cid!r} in {self.ws.root}; give a candidate number or a chunk id shown by "
                    "`bgetune golden label`"
                )
        return list(dict.fromkeys(out))


def label_question(ws: Workspace, qid: int, answer: str | Sequence[str]) -> GoldenQuestion:
    """Label a question: candidate numbers ("1 3", "1,3"), chunk ids, or "none" (unanswerable, kept)."""
    q = get_question(ws, qid)
    tokens = (
        [t for t in re.split(r"[\s,，、;；]+", answer.strip()) if t]
        if isinstance(answer, str)
        else list(answer)
    )
    if not tokens:
        raise GoldenError(
            'give candidate numbers ("1 3"), chunk ids, or "none" for a question with no answer'
        )
    if len(tokens) == 1 and str(tokens[0]).strip().lower() in NONE_WORDS:
        status, pos = "unanswerable", []
    else:
        shown = list(q.candidates.get("shown") or [])
        ids: list[str] = []
        for t in map(str, tokens):
            if t.isdigit() and len(t) <= 3:
                n = int(t)
                if not shown:
                    raise GoldenError(
                        f"question #{qid} has no candidates yet; show them first (`bgetune golden label`) or "
                        "give chunk ids"
                    )
                if not 1 <= n <= len(shown):
                    raise GoldenError(f"candidate {n} does not exist: question #{qid} shows 1..{len(shown)}")
                ids.append(shown[n - 1])
            else:
                ids.append(t)
        pos = _IdResolver(ws)(ids)
        status = "labeled"
    with ws.tx() as c:
        c.execute(
            "UPDATE golden SET status=?, pos_ids=?, updated_at=? WHERE id=?",
            (status, json.dumps(pos), now_iso(), qid),
        )
    return get_question(ws, qid)


# ---------------------------------------------------------------------------------------------- BM25
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_'.+-]*")
_EN_STOP = frozenset(
    "a an the of to in on for and or is are was were be been it this that what which who how why when where do "
    "does did can could should would i you my your we our with by from at as if not".split()
)


def tokenize(text: str) -> list[str]:
    """Lexical tokens: lower-cased words for Latin text, jieba search-mode words for Chinese (stop words and
    punctuation dropped)."""
    from bgetune.core.text import cjk_count

    text = text.lower()
    if cjk_count(text):
        import jieba

        jieba.setLogLevel(60)
        toks = [t.strip() for t in jieba.lcut_for_search(text)]
        return [t for t in toks if t and (t.isalnum() or re.search(r"\w", t)) and t not in _EN_STOP]
    return [t.strip(".'-+") for t in _WORD.findall(text) if t not in _EN_STOP]


class BM25:
    """Okapi BM25 (k1 1.5, b 0.75) over pre-tokenised documents; scores with numpy over an inverted index."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.n = len(docs)
        self.k1, self.b = k1, b
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        self.avgdl = float(lengths.mean()) if self.n else 0.0
        self.norm = k1 * (1 - b + b * lengths / (self.avgdl or 1.0))
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        tmp: dict[str, tuple[list[int], list[int]]] = {}
        for i, d in enumerate(docs):
            for term, tf in Counter(d).items():
                rows, tfs = tmp.setdefault(term, ([], []))
                rows.append(i)
                tfs.append(tf)
        for term, (rows, tfs) in tmp.items():
            self.postings[term] = (np.array(rows), np.array(tfs, dtype=np.float64))

    def idf(self, term: str) -> float:
        df = len(self.postings[term][0]) if term in self.postings else 0
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float64)
        for term in set(query):
            if term not in self.postings:
                continue
            rows, tf = self.postings[term]
            out[rows] += self.idf(term) * tf * (self.k1 + 1) / (tf + self.norm[rows])
        return out

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        if not s.any():
            return []
        k = min(k, self.n)
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx if s[i] > 0]


# ---------------------------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    number: int
    chunk_id: str
    text: str
    document: str | None = None
    heading: str | None = None
    ext_id: str | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None
    score: float | None = None

    def line(self, width: int = 220) -> str:
        where = " > ".join(x for x in (self.document, self.heading) if x)
        src = ", ".join(
            s
            for s in (
                f"model #{self.dense_rank}" if self.dense_rank else "",
                f"BM25 #{self.bm25_rank}" if self.bm25_rank else "",
            )
            if s
        )
        snippet = re.sub(r"\s+", " ", self.text).strip()
        snippet = snippet[:width] + ("…" if len(snippet) > width else "")
        return f"[{self.number}] ({src}) {where}\n    {snippet}"


class CandidateFinder:
    """The base model's dense top-k and BM25's top-k for a question over the workspace's chunks. The corpus is
    encoded once (cached on disk by models.corpus_embeddings) and the BM25 index built once per process."""

    def __init__(self, ws: Workspace, *, base_model: str | None = None) -> None:
        from bgetune.core.models import corpus_embeddings, load_model, model_fingerprint, resolve_base_model
        from bgetune.tools.evaluation import resolve_workspace_base

        rows = ws.query(
            "SELECT c.id, c.text, c.heading, c.ext_id, d.name FROM chunks c JOIN documents d ON d.id=c.document_id "
            "ORDER BY c.document_id, c.ord"
        )
        if not rows:
            raise GoldenError(
                f"workspace {ws.root} has no documents yet: ingest the documents the questions are about first"
            )
        self.rows = [dict(r) for r in rows]
        self.resolved = resolve_base_model(base_model) if base_model else resolve_workspace_base(ws)
        self.model = load_model(self.resolved)
        ids, self.emb = corpus_embeddings(
            ws, self.model, fingerprint=model_fingerprint(self.model)
        )
        if ids != [r["id"] for r in self.rows]:
            from bgetune.core.models import encode

            self.emb = encode(self.model, [r["text"] for r in self.rows], kind="passage")
        self.bm25 = BM25([tokenize(r["text"]) for r in self.rows])

    def find(self, query: str, k: int = 5) -> list[Candidate]:
        from bgetune.core.models import encode
        from bgetune.tools.evaluation import search

        q = encode(self.model, [query], kind="query")
        idx, sc = search(q, self.emb, k)
        dense = [(int(i), float(s)) for i, s in zip(idx[0], sc[0], strict=True)]
        lexical = self.bm25.top(tokenize(query), k)
        order: list[int] = []
        for i, _ in dense + lexical:
            if i not in order:
                order.append(i)
        d_rank = {i: r + 1 for r, (i, _) in enumerate(dense)}
        b_rank = {i: r + 1 for r, (i, _) in enumerate(lexical)}
        d_score = dict(dense)
        return [
            Candidate(
                number=n + 1,
                chunk_id=self.rows[i]["id"],
                text=self.rows[i]["text"],
                document=self.rows[i]["name"],
                heading=self.rows[i]["heading"],
                ext_id=self.rows[i]["ext_id"],
                dense_rank=d_rank.get(i),
                bm25_rank=b_rank.get(i),
                score=round(d_score[i], 4) if i in d_score else None,
            )
            for n, i in enumerate(order)
        ]


_FINDERS: dict[tuple[str, int, str | None], CandidateFinder] = {}
_FINDERS_LOCK = threading.Lock()


def candidate_finder(ws: Workspace, *, base_model: str | None = None) -> CandidateFinder:
    """A finder cached per (workspace, chunk count, base model), so a labelling session loads the model once."""
    key = (str(ws.root), int(ws.scalar("SELECT count(*) FROM chunks") or 0), base_model)
    with _FINDERS_LOCK:
        if key not in _FINDERS:
            for old in [k for k in _FINDERS if k[0] == key[0]]:
                del _FINDERS[old]
            _FINDERS[key] = CandidateFinder(ws, base_model=base_model)
        return _FINDERS[key]


def show_candidates(
    ws: Workspace, qid: int, *, k: int = 5, finder: CandidateFinder | None = None
) -> tuple[GoldenQuestion, list[Candidate]]:
    """Compute and store the numbered candidates of question ``qid`` (the numbers a label refers to)."""
    q = get_question(ws, qid)
    finder = finder or candidate_finder(ws)
    cands = finder.find(q.query, k)
    stored = {
        "shown": [c.chunk_id for c in cands],
        "dense": [c.chunk_id for c in cands if c.dense_rank],
        "bm25": [c.chunk_id for c in cands if c.bm25_rank],
        "k": k,
        "base_model": finder.resolved.spec,
    }
    with ws.tx() as c:
        c.execute("UPDATE golden SET candidates=? WHERE id=?", (json.dumps(stored), qid))
    q.candidates = stored
    return q, cands


# ---------------------------------------------------------------------------------------------- evaluation and export
def golden_queryset(ws: Workspace) -> QuerySet:
    """The labeled, answerable questions (positives still in the corpus) against every chunk."""
    from bgetune.tools.evaluation import QuerySet

    chunks = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    have = {c["id"] for c in chunks}
    qs, pos, qids = [], [], []
    for q in list_questions(ws, "labeled"):
        p = {x for x in q.pos_ids if x in have}
        if p:
            qs.append(q.query)
            pos.append(p)
            qids.append(q.id)
    return QuerySet(qs, pos, [c["id"] for c in chunks], [c["text"] for c in chunks], qids)


@dataclass
class GoldenExport:
    jsonl: str | None
    ids: str | None
    questions: int
    answerable: int


def export_golden(ws: Workspace, out_dir: str | Path) -> GoldenExport:
    """Write the golden set to ``out_dir``: ``golden.jsonl`` (FlagEmbedding style {"query","pos":[text],
    "pos_ids":[id]}, labeled answerable questions; ids are a JSONL export's own ids when it had them, else chunk
    ids) and ``golden_ids.jsonl`` (every question with its id, status and chunk ids, unanswerable ones included).
    Writes nothing when the set is empty."""
    qs = list_questions(ws)
    if not qs:
        return GoldenExport(None, None, 0, 0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chunks = {r["id"]: dict(r) for r in ws.query("SELECT id, ext_id, text FROM chunks")}
    lines, id_lines = [], []
    for q in qs:
        present = [c for c in q.pos_ids if c in chunks]
        id_lines.append(
            json.dumps(
                {
                    "id": q.id,
                    "query": q.query,
                    "status": q.status,
                    "pos_ids": q.pos_ids,
                    "ext_ids": [chunks[c]["ext_id"] for c in present],
                    "source": q.source,
                    "language": q.language,
                },
                ensure_ascii=False,
            )
        )
        if q.status == "labeled" and present:
            lines.append(
                json.dumps(
                    {
                        "query": q.query,
                        "pos": [chunks[c]["text"] for c in present],
                        "pos_ids": [chunks[c]["ext_id"] or c for c in present],
                    },
                    ensure_ascii=False,
                )
            )
    p1 = atomic_write_text(out / "golden.jsonl", "\n".join(lines) + ("\n" if lines else ""))
    p2 = atomic_write_text(out / "golden_ids.jsonl", "\n".join(id_lines) + "\n")
    return GoldenExport(str(p1), str(p2), len(qs), len(lines))


@dataclass(kw_only=True)
class GoldenAddOptions:
    questions: list[str] = arguments(
        help="Questions to add (one per item; pasted text is split into lines).",
        say=("questions", "real questions", "golden questions", "问题", "真实问题", "黄金问题"),
    )
    path: str | None = setting(
        None, help="A .txt (one per line), .csv/.xlsx (question column) or .jsonl file of questions."
    )


@dataclass
class GoldenAddResult:
    added: int
    duplicates: list[str]
    counts: GoldenCounts
    next_id: int | None = None

    def text(self, lang: str = "en") -> str:
        n = len(self.duplicates)
        s = say(lang, f"added {self.added} question(s)", f"已添加 {self.added} 个问题")
        if self.duplicates:
            s += say(lang, f" ({n} duplicate(s) skipped)", f"（{n} 个重复，已跳过）")
        s += say(lang, "; ", "。") + _counts_text(self.counts, say(lang, "en", "zh"))
        if self.counts.unlabeled:
            s += say(
                lang,
                ' Next: label them; I show candidate passages, you answer with numbers ("1 3") or "none".',
                " 接下来逐个标注：我会列出候选段落，回复编号（如“1 3”），或“无”表示没有答案。",
            )
        return s


def golden_add(ctx: Context, opts: GoldenAddOptions) -> GoldenAddResult:
    """Add real questions (typed, pasted or from files) to the workspace's golden set."""
    items: list[str | dict[str, Any]] = []
    for q in opts.questions:
        items.extend(parse_questions(q) if "\n" in q else [q])
    added: list[int] = []
    dups: list[str] = []
    if items:
        a, d = add_questions(ctx.ws, items, source="typed")
        added += a
        dups += d
    # the conversation's attachments are mostly documents: only an explicit path (or, with nothing typed,
    # attached question files) is read as questions
    attached = [f for f in (ctx.files or []) if Path(f).suffix.lower() in (".txt", ".csv", ".tsv", ".xlsx")]
    files = [opts.path] if opts.path else ([] if items else attached)
    for f in dict.fromkeys(files):
        a, d = add_questions(ctx.ws, read_questions_file(f), source=f"file:{Path(f).name}")
        added += a
        dups += d
    if not items and not files:
        raise GoldenError(
            "no questions given: type or paste them (one per line), or attach a txt/CSV/XLSX file"
        )
    nxt = next_unlabeled(ctx.ws)
    return GoldenAddResult(len(added), dups, golden_counts(ctx.ws), nxt.id if nxt else None)


@dataclass(kw_only=True)
class GoldenCandidatesOptions:
    query_id: int | None = setting(None, help="Question id (default: the next unlabeled one).", min=1)
    k: int = setting(5, help="Candidates from each list (model and BM25).", min=1, max=20)


@dataclass
class GoldenCandidatesResult:
    question: GoldenQuestion | None
    candidates: list[Candidate]
    counts: GoldenCounts
    question_id: int | None = None  # the question a following label refers to (None: nothing left)

    def __post_init__(self) -> None:
        if self.question is not None and self.question_id is None:
            self.question_id = self.question.id

    def text(self, lang: str = "en") -> str:
        if self.question is None:
            return (
                "没有待标注的问题了。" if lang == "zh" else "no unlabeled questions left. "
            ) + _counts_text(self.counts, lang)
        head = (
            f"问题 #{self.question.id}：{self.question.query}\n候选段落（模型 = 基础模型排名，BM25 = 关键词排名）："
            if lang == "zh"
            else f"question #{self.question.id}: {self.question.query}\ncandidates (model = base model's rank, "
            "BM25 = keyword rank):"
        )
        tail = (
            "回复正确段落的编号（如“1 3”），“无”表示文档里没有答案，“跳过”看下一个。"
            if lang == "zh"
            else 'Reply with the right passages\' numbers ("1 3"), "none" if the documents do not answer it, '
            'or "skip".'
        )
        return "\n".join([head, *(c.line() for c in self.candidates), tail])


def golden_candidates(ctx: Context, opts: GoldenCandidatesOptions) -> GoldenCandidatesResult:
    """Show the next unlabeled golden question with the base model's and BM25's top passages."""
    if opts.query_id is None:
        q = next_unlabeled(ctx.ws)
        if q is None:
            return GoldenCandidatesResult(None, [], golden_counts(ctx.ws))
        qid = q.id
    else:
        qid = opts.query_id
    q, cands = show_candidates(ctx.ws, qid, k=opts.k)
    return GoldenCandidatesResult(q, cands, golden_counts(ctx.ws))


@dataclass(kw_only=True)
class GoldenLabelOptions:
    answer: str | None = setting(
        None,
        help='Candidate numbers ("1 3"), chunk ids, or "none" when the documents do not answer it.',
        positional=True,
    )
    picks: list[int] | None = setting(None, help="Candidate numbers (same as answer).")
    none: bool = setting(False, help="The documents do not answer the question (kept as unanswerable).")
    query_id: int | None = setting(
        None, help="Question id (default: the question whose candidates were shown last).", min=1
    )


@dataclass
class GoldenLabelResult:
    question: GoldenQuestion
    counts: GoldenCounts
    next_id: int | None = None

    def text(self, lang: str = "en") -> str:
        q = self.question
        if lang == "zh":
            s = (
                f"问题 #{q.id} 标为无答案（保留）。"
                if q.status == "unanswerable"
                else f"问题 #{q.id} 已标注 {len(q.pos_ids)} 个正确段落。"
            )
        else:
            s = (
                f"question #{q.id} marked unanswerable (kept). "
                if q.status == "unanswerable"
                else f"question #{q.id} labeled with {len(q.pos_ids)} passage(s). "
            )
        return s + _counts_text(self.counts, lang)


def _last_shown(ws: Workspace) -> int | None:
    return ws.scalar(
        "SELECT id FROM golden WHERE status='unlabeled' AND candidates LIKE '%\"shown\"%' ORDER BY id LIMIT 1"
    )


def golden_label(ctx: Context, opts: GoldenLabelOptions) -> GoldenLabelResult:
    """Mark a golden question's right passages by candidate number or chunk id, or mark it unanswerable."""
    qid = opts.query_id or _last_shown(ctx.ws)
    if qid is None:
        raise GoldenError("which question? show candidates first (golden_candidates) or give its id")
    answer = "none" if opts.none else opts.answer or " ".join(str(n) for n in opts.picks or [])
    if not answer:
        raise GoldenError('give candidate numbers ("1 3"), chunk ids, or "none"')
    q = label_question(ctx.ws, qid, answer)
    nxt = next_unlabeled(ctx.ws)
    return GoldenLabelResult(q, golden_counts(ctx.ws), nxt.id if nxt else None)


@dataclass(kw_only=True)
class GoldenListOptions:
    status: str | None = setting(None, help="Only questions with this status.", choices=STATUSES)


@dataclass
class GoldenListResult:
    questions: list[GoldenQuestion]
    counts: GoldenCounts

    def text(self, lang: str = "en") -> str:
        mark = {"labeled": "✓", "unanswerable": "∅", "unlabeled": "?"}
        lines = [_counts_text(self.counts, lang)]
        for q in self.questions:
            extra = f"  -> {', '.join(q.pos_ids)}" if q.pos_ids else ""
            lines.append(f"{mark.get(q.status, ' ')} #{q.id} {q.query}{extra}")
        return "\n".join(lines)


def golden_list(ctx: Context, opts: GoldenListOptions) -> GoldenListResult:
    """List the golden questions with their status and labeled passages."""
    return GoldenListResult(list_questions(ctx.ws, opts.status), golden_counts(ctx.ws))


@dataclass(kw_only=True)
class GoldenEditOptions:
    query_id: int = setting(help="Question id.", positional=True, min=1)
    query: str | None = setting(None, help="New wording of the question.")
    remove: bool = setting(False, help="Remove the question instead.")


@dataclass
class GoldenEditResult:
    question: GoldenQuestion
    removed: bool
    counts: GoldenCounts

    def text(self, lang: str = "en") -> str:
        if lang == "zh":
            s = (
                f"已删除问题 #{self.question.id}。"
                if self.removed
                else f"问题 #{self.question.id} 已改为：{self.question.query}。"
            )
        else:
            s = (
                f"removed question #{self.question.id}. "
                if self.removed
                else f"question #{self.question.id} now reads: {self.question.query}. "
            )
        return s + _counts_text(self.counts, lang)


def golden_edit(ctx: Context, opts: GoldenEditOptions) -> GoldenEditResult:
    """Reword or remove a golden question."""
    if opts.remove:
        q = remove_question(ctx.ws, opts.query_id)
        return GoldenEditResult(q, True, golden_counts(ctx.ws))
    if not opts.query:
        raise GoldenError("give the new wording (query) or remove=true")
    return GoldenEditResult(edit_question(ctx.ws, opts.query_id, opts.query), False, golden_counts(ctx.ws))


@dataclass(kw_only=True)
class EvaluateGoldenOptions:
    model: str | None = setting(
        None, help="Model to score (default: the workspace's newest trained/exported one)."
    )
    base: str | None = setting(None, help="Base model to compare with (default: the workspace's base model).")


@dataclass
class GoldenEvalResult:
    queries: int
    unanswerable: int
    model: str
    base_model: str
    base: dict[str, float]
    tuned: dict[str, float]
    gain: float
    low: float
    high: float
    per_query: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "better" if self.low > 0 else "worse" if self.high < 0 else "no clear difference"

    def text(self, lang: str = "en") -> str:
        b, t = self.base.get("ndcg@10", 0.0), self.tuned.get("ndcg@10", 0.0)
        if lang == "zh":
            v = {"better": "更好", "worse": "更差", "no clear difference": "差异不显著"}[self.verdict]
            return (
                f"在你的 {self.queries} 个黄金问题上：基础模型 nDCG@10 {b:.3f}，微调模型 {t:.3f}，"
                f"提升 {self.gain:+.3f}（95% 置信区间 {self.low:+.3f}..{self.high:+.3f}）：{v}。"
            )
        return (
            f"on your {self.queries} golden questions: base nDCG@10 {b:.3f}, tuned {t:.3f}, gain {self.gain:+.3f} "
            f"(95% CI {self.low:+.3f}..{self.high:+.3f}): {self.verdict}."
        )


def evaluate_golden_ws(
    ws: Workspace, *, model: str | None = None, base: str | None = None, n_resamples: int = 1000
) -> GoldenEvalResult:
    """Base vs a tuned model on the workspace's golden set, with the paired-bootstrap CI of the nDCG@10 gain."""
    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.tools.evaluation import (
        latest_tuned_dir,
        load_eval_model,
        paired_bootstrap,
        resolve_workspace_base,
        run_retrieval,
    )

    qs = golden_queryset(ws)
    if not qs.queries:
        raise GoldenError(
            f"the golden set of {ws.root} has no labeled answerable question: add questions "
            "(`bgetune golden add`) and label them (`bgetune golden label`)"
        )
    spec = model or latest_tuned_dir(ws)
    if spec is None:
        raise GoldenError(f"no trained model in {ws.root}: train first, or pass model=FOLDER")
    base_res = resolve_base_model(base) if base else resolve_workspace_base(ws)
    m_base, p_base = run_retrieval(load_model(base_res), qs)
    m_tuned, p_tuned = run_retrieval(load_eval_model(spec)[0], qs)
    ci = paired_bootstrap(
        [q["ndcg@10"] for q in p_base], [q["ndcg@10"] for q in p_tuned], n_resamples=n_resamples
    )
    run_id = ws.start_run("eval-golden", {"model": spec, "base": base_res.spec, "golden": "workspace"})
    ws.record_metrics(run_id, "base", "golden:workspace", m_base)
    ws.record_metrics(run_id, "tuned", "golden:workspace", m_tuned)
    res = GoldenEvalResult(
        queries=len(qs.queries),
        unanswerable=golden_counts(ws).unanswerable,
        model=str(spec),
        base_model=base_res.spec,
        base={k: round(v, 4) for k, v in m_base.items()},
        tuned={k: round(v, 4) for k, v in m_tuned.items()},
        gain=ci["diff"],
        low=ci["low"],
        high=ci["high"],
        per_query=[
            {"id": qs.query_ids[i], "query": q["query"], "base_rank": p_base[i]["rank"], "rank": q["rank"]}
            for i, q in enumerate(p_tuned)
        ],
    )
    ws.finish_run(run_id, result={k: v for k, v in res.__dict__.items() if k != "per_query"})
    return res


def evaluate_golden(ctx: Context, opts: EvaluateGoldenOptions) -> GoldenEvalResult:
    """Score the tuned model against the base on the workspace's golden questions (paired bootstrap CI)."""
    return evaluate_golden_ws(ctx.ws, model=opts.model, base=opts.base)
