"""Real question history: import anything a team exports (CSV, TSV, XLSX, JSONL), link answers to chunks, mine
click logs, and keep every row: linked ones as real pairs, unlinkable ones with their reason (``import_rows``).

Flow: :func:`preview_history` detects the columns (English and Chinese headers) and says what an import would do,
writing nothing; the user confirms or overrides the mapping; :func:`import_history` writes the pairs.

Linking, per row, in this order (each link keeps its method and score): answer id (chunk ``ext_id`` or id),
answer title (chunk heading, exact then fuzzy), answer url (chunk ``ext_id`` / document path), answer text
(exact substring, a long answer spanning chunks, fuzzy), then embedding similarity. Text candidates come from a
character 4-gram containment index (one sparse product per block of answers), so 10,000 answers against 10,000
chunks take seconds, not a scan of every chunk per answer.

Click logs (seed practice): a clicked / "useful" answer is a positive, a row shown but not clicked is not; two
questions that click the same document share their clicks (co-click); within a session, a question with no click
followed within ``session_window_minutes`` by one with a click also gets that click (reformulation); with a rank
column, results shown above the click and skipped become candidate negatives (kept in ``scores.skipped_ids`` and
checked by the positive-aware margin in :func:`add_skipped_negatives`). Graded labels (a 0-4 score column) are kept
on the pair and on every extra positive; a label of 0 marks a negative, not a positive.

The same question with several answers becomes one pair with several positives (``pair_positives``). A share of
the real questions, by question cluster so near-duplicates stay together, can become the golden set.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.options import Context, setting
from bgetune.core.text import detect_language, normalize_for_match, normalize_ws
from bgetune.core.workspace import TRAINABLE, Workspace, now_iso

Progress = Callable[[int, int, str], None]

# ---------------------------------------------------------------------------------------------- columns
# fmt: off
FIELDS = ("question", "answer", "answer_id", "title", "url", "clicked", "session", "timestamp", "rank", "label")

# header words per field, matched after lower-casing and folding '_", "-' and spaces; exact matches first
HEADERS: dict[str, tuple[str, ...]] = {
    "question": (
        "query", "question", "questions", "q", "user question", "user query", "search query", "search term",
        "search", "keyword", "keywords", "utterance", "ask", "问题", "标准问", "标准问题", "用户问题", "提问", "问句", "相似问",
        "查询", "搜索词", "用户提问", "客户问题", "咨询内容", "咨询问题", "关键词", "检索词"
    ),
    "answer": (
        "answer", "answers", "a", "pos", "positive", "positives", "passage", "response", "reply", "content",
        "text", "document", "doc", "clicked document", "answer text", "body", "答案", "回答", "标准答案", "答复",
        "回复", "内容", "段落", "文档", "文档内容", "知识内容", "答案内容", "正文"
    ),
    "answer_id": (
        "answer id", "doc id", "document id", "chunk id", "segment id", "passage id", "article id", "kb id",
        "knowledge id", "clicked id", "clicked doc id", "pos id", "pos ids", "文档id", "答案id", "知识id", "段落id",
        "文章id", "分段id", "知识点id"
    ),
    "title": (
        "title", "answer title", "doc title", "document title", "article title", "clicked title", "heading",
        "section", "标题", "答案标题", "文档标题", "文章标题", "知识标题", "知识点", "章节"
    ),
    "url": (
        "url", "link", "href", "clicked url", "doc url", "answer url", "page", "page url", "链接", "网址", "地址",
        "文档链接"
    ),
    "clicked": (
        "clicked", "click", "is click", "is clicked", "useful", "is useful", "helpful", "thumbs up",
        "accepted", "resolved", "adopted", "点击", "是否点击", "有用", "是否有用", "有帮助", "是否有帮助", "满意", "是否满意", "采纳",
        "是否采纳", "已解决", "是否解决"
    ),
    "session": (
        "session", "session id", "conversation", "conversation id", "dialog id", "dialogue id", "chat id",
        "会话", "会话id", "对话id", "对话", "会话编号"
    ),
    "timestamp": (
        "timestamp", "time", "datetime", "date", "created at", "created", "asked at", "query time", "ts",
        "时间", "提问时间", "日期", "创建时间", "时间戳", "查询时间"
    ),
    "rank": (
        "rank", "position", "shown rank", "display rank", "result rank", "impression rank", "排名", "位置",
        "展示位置", "排序", "名次"
    ),
    "label": (
        "label", "score", "grade", "rating", "relevance", "rel", "graded", "pos scores", "pos score", "评分",
        "打分", "相关度", "相关性", "等级", "分数", "标注"
    ),
}
# fmt: on
# fmt: off
_TRUE = {"1", "true", "yes", "y", "t", "clicked", "useful", "helpful", "是", "有用", "有帮助", "点击", "已点击",
         "满意", "采纳", "已采纳", "解决", "已解决", "√", "✓", "✔", "👍", "x"}
_FALSE = {"0", "false", "no", "n", "f", "", "否", "无用", "没用", "没有帮助", "未点击", "不满意", "未采纳", "未解决",
          "×", "✗", "👎", "none", "null", "nan"}
# fmt: on
SUPPORTED = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".json", ".ndjson")


class HistoryError(BgetuneError):
    """A question-history file that cannot be read or mapped, with what to do about it."""


def _fold(header: str) -> str:
    h = unicodedata.normalize("NFKC", str(header)).strip().lstrip("\ufeff").lower()
    return re.sub(r"[\s_\-.:/]+", " ", h).strip()


def detect_columns(headers: Sequence[str], rows: Sequence[dict[str, Any]] = ()) -> dict[str, str]:
    """{field: header} for the fields a file's headers name (English or Chinese); exact names first, then a header
    that contains a field's name (e.g. '用户问题(原文)'). A 'clicked' column must hold yes/no-like values."""
    folded = {h: _fold(h) for h in headers if h is not None and str(h).strip()}
    out: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False):
        for fname in FIELDS:
            if fname in out:
                continue
            for word in HEADERS[fname]:
                hit = None
                for h, f in folded.items():
                    if h in used:
                        continue
                    if exact and f == word:
                        hit = h
                    elif not exact and len(word) >= (2 if re.search(r"[\u4e00-\u9fff]", word) else 4):
                        if re.search(r"[\u4e00-\u9fff]", word):
                            hit = h if word in f else None
                        elif re.search(rf"(^| ){re.escape(word)}( |$)", f):
                            hit = h
                    if hit:
                        break
                if hit:
                    if fname == "clicked" and rows and not _boolish([r.get(hit) for r in rows[:50]]):
                        continue
                    out[fname] = hit
                    used.add(hit)
                    break
    return out


def _boolish(values: Iterable[Any]) -> bool:
    vals = [str(v).strip().lower() for v in values if v is not None and str(v).strip() != ""]
    return bool(vals) and sum(v in _TRUE or v in _FALSE for v in vals) >= 0.9 * len(vals)


def parse_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    v = str(value).strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False if v else None
    try:
        return float(v) > 0
    except ValueError:
        return None


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from a datetime, an ISO / common date string, or a unix time (s or ms)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    s = str(value).strip()
    try:
        f = float(s)
        return f / (1000.0 if f > 1e11 else 1.0)
    except ValueError:
        pass
    s = s.replace("Z", "+00:00").replace("/", "-")
    for fmt in (None, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M"):
        try:
            return (datetime.fromisoformat(s) if fmt is None else datetime.strptime(s, fmt)).timestamp()
        except ValueError:
            continue
    return None


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------- reading
@dataclass
class Table:
    path: Path
    format: str  # csv | tsv | xlsx | jsonl
    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number as a person sees it, {header: value})
    bad: list[tuple[int, str]] = field(default_factory=list)  # (row, why) for unreadable lines
    delimiter: str | None = None


def read_table(path: str | Path, *, delimiter: str | None = None, sheet: str | None = None) -> Table:
    """Every data row of a CSV/TSV/XLSX/JSONL file, keyed by header (JSONL: by key; lists stay lists)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise HistoryError(f"{path}: no such file; give a CSV, TSV, XLSX or JSONL file of questions")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise HistoryError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; save it as .csv, .tsv, .xlsx or .jsonl"
        )
    if suffix in (".jsonl", ".json", ".ndjson"):
        from bgetune.tools.ingest import decode_text

        text = decode_text(path.read_bytes(), path)
        stripped = text.lstrip()
        rows: list[tuple[int, dict[str, Any]]] = []
        bad: list[tuple[int, str]] = []
        if suffix == ".json" and stripped.startswith("["):  # one JSON array of objects
            try:
                arr = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise HistoryError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
            items = list(enumerate(arr, start=1))
        else:
            items = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    bad.append((n, f"bad JSON: {exc.msg}"))
        headers: dict[str, None] = {}
        for n, obj in items:
            if not isinstance(obj, dict):
                bad.append((n, "not a JSON object"))
                continue
            headers.update(dict.fromkeys(map(str, obj)))
            rows.append((n, {str(k): v for k, v in obj.items()}))
        return Table(path, "jsonl", list(headers), rows, bad)
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise HistoryError(
                f"{path.name}: not a readable Excel file ({exc}); save it as .xlsx or .csv"
            ) from exc
        try:
            if sheet and sheet not in wb.sheetnames:
                raise HistoryError(f"{path.name}: no sheet {sheet!r}; sheets are {', '.join(wb.sheetnames)}")
            ws = wb[sheet] if sheet else wb.worksheets[0]
            it = ws.iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(it, [])]
            rows = []
            for n, row in enumerate(it, start=2):
                vals = list(row) + [None] * (len(header) - len(row))
                if all(v is None or str(v).strip() == "" for v in vals):
                    continue
                rows.append((n, {h: v for h, v in zip(header, vals, strict=False) if h}))
        finally:
            wb.close()
        return Table(path, "xlsx", [h for h in header if h], rows)
    from bgetune.tools.ingest import decode_text

    text = decode_text(path.read_bytes(), path)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if not delimiter:
        first = text[:4096].split("\n", 1)[0]
        counts = {d: first.count(d) for d in ("\t", ",", ";", "|")}
        delimiter = "\t" if suffix == ".tsv" else max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    rows = []
    for row in reader:
        n = reader.line_num
        if not any(v.strip() for v in row):
            continue
        rows.append((n, {h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h}))
    fmt = "tsv" if delimiter == "\t" else "csv"
    return Table(path, fmt, [h for h in header if h], rows, delimiter=delimiter)


@dataclass
class HistoryRow:
    """One mapped row (a JSONL line with several answers gives one row per answer, same row number)."""

    row: int
    question: str
    answer: str = ""
    answer_id: str = ""
    title: str = ""
    url: str = ""
    clicked: bool | None = None
    session: str = ""
    time: float | None = None
    rank: int | None = None
    label: float | None = None
    negative: bool = False  # a JSONL 'neg' entry, or a label of 0
    # filled by linking
    chunk_ids: list[str] = field(default_factory=list)
    method: str = "none"
    score: float | None = None
    why: str = ""

    def data(self) -> dict[str, Any]:
        keys = (
            "question",
            "answer",
            "answer_id",
            "title",
            "url",
            "clicked",
            "session",
            "time",
            "rank",
            "label",
        )
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, "")}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def map_rows(table: Table, mapping: dict[str, str]) -> tuple[list[HistoryRow], list[tuple[int, str]]]:
    """Mapped rows, and (row, reason) for rows that are unusable as read (no question)."""
    rows: list[HistoryRow] = []
    bad = list(table.bad)
    m = mapping
    for n, rec in table.rows:
        q = normalize_ws(_cell(rec.get(m["question"])))
        if not q:
            bad.append((n, "empty question"))
            continue
        base = HistoryRow(
            n,
            q,
            answer_id="",
            title="",
            url="",
            clicked=parse_bool(rec.get(m["clicked"])) if "clicked" in m else None,
            session=_cell(rec.get(m["session"])) if "session" in m else "",
            time=parse_time(rec.get(m["timestamp"])) if "timestamp" in m else None,
            rank=int(r) if "rank" in m and (r := _num(rec.get(m["rank"]))) is not None else None,
        )
        answers = _as_list(rec.get(m["answer"])) if "answer" in m else []
        ids = _as_list(rec.get(m["answer_id"])) if "answer_id" in m else []
        titles = _as_list(rec.get(m["title"])) if "title" in m else []
        urls = _as_list(rec.get(m["url"])) if "url" in m else []
        labels = _as_list(rec.get(m["label"])) if "label" in m else []
        k = max(len(answers), len(ids), len(titles), len(urls), 1)
        for i in range(k):

            def at(xs: list[Any], i: int = i) -> Any:
                return xs[i] if i < len(xs) else (xs[0] if len(xs) == 1 else None)

            lab = _num(at(labels))
            r = HistoryRow(**{**base.__dict__, "chunk_ids": []})
            r.answer = _cell(answers[i]) if i < len(answers) else ""
            r.answer_id = _cell(at(ids))
            r.title = normalize_ws(_cell(at(titles)))
            r.url = _cell(at(urls))
            r.label = lab
            r.negative = lab is not None and lab <= 0
            rows.append(r)
        if table.format == "jsonl":  # FlagEmbedding lines: 'neg' texts with optional 'neg_scores'
            negs = _as_list(rec.get("neg"))
            nscores = _as_list(rec.get("neg_scores"))
            for i, t in enumerate(negs):
                r = HistoryRow(**{**base.__dict__, "chunk_ids": []})
                r.answer = _cell(t)
                r.label = _num(nscores[i]) if i < len(nscores) else None
                r.negative = True
                rows.append(r)
    return rows, bad


# ---------------------------------------------------------------------------------------------- linking
_NGRAM = 4
_BUCKETS = 1 << 21


def _grams(norm: str) -> np.ndarray:
    """Hashed character 4-grams of a normalised text (unique, sorted)."""
    if len(norm) < _NGRAM:
        return np.zeros(0, dtype=np.int64)
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    h = np.zeros(len(cps) - _NGRAM + 1, dtype=np.int64)
    for k in range(_NGRAM):
        h = (h * 1_000_003 + cps[k : len(cps) - _NGRAM + 1 + k]) % _BUCKETS
    return np.unique(h)


def _gram_matrix(norms: Sequence[str], colmap: np.ndarray | None = None) -> Any:
    """Binary (texts x grams) matrix; with ``colmap`` (bucket -> column, -1 = dropped) in compact columns."""
    from scipy import sparse

    indptr = [0]
    idx: list[np.ndarray] = []
    for t in norms:
        g = _grams(t)
        if colmap is not None:
            g = colmap[g]
            g = g[g >= 0]
        idx.append(g)
        indptr.append(indptr[-1] + len(g))
    cols = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    width = _BUCKETS if colmap is None else int(colmap.max()) + 1
    data = np.ones(len(cols), dtype=np.float32)
    return sparse.csr_matrix((data, cols, np.asarray(indptr)), shape=(len(norms), max(width, 1)))


def _name_key(name: str) -> str:
    """A document name as people write it in a url or a title: no case, spaces, '-', '_' or punctuation."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", name).lower())


def _url_key(url: str) -> str:
    u = re.sub(r"^[a-z]+://", "", url.strip().lower())
    u = re.sub(r"[?#].*$", "", u).rstrip("/")
    return u


class Linker:
    """The workspace's chunks, indexed once for linking answers by id, title, url, text and embedding."""

    def __init__(
        self,
        ws: Workspace,
        *,
        fuzzy_min: float = 90.0,
        embed_min: float = 0.8,
        base_model: Any = None,
        settings: Any = None,
    ) -> None:
        self.ws = ws
        rows = ws.query(
            "SELECT c.id, c.ext_id, c.heading, c.text, d.path, d.name FROM chunks c "
            "JOIN documents d ON d.id=c.document_id ORDER BY c.document_id, c.ord"
        )
        self.ids = [r["id"] for r in rows]
        self.norm = [normalize_for_match(r["text"]) for r in rows]
        self.fuzzy_min, self.embed_min = fuzzy_min, embed_min
        self.base_model, self.settings = base_model, settings
        self.by_id: dict[str, list[str]] = defaultdict(list)
        self.by_title: dict[str, list[str]] = defaultdict(list)
        self.by_url: dict[str, list[str]] = defaultdict(list)
        self.by_norm: dict[str, list[str]] = defaultdict(list)
        for r, n in zip(rows, self.norm, strict=True):
            self.by_id[r["id"]].append(r["id"])
            if r["ext_id"]:
                self.by_id[str(r["ext_id"]).strip().lower()].append(r["id"])
                self.by_url[_url_key(str(r["ext_id"]))].append(r["id"])
            heading = (r["heading"] or "").strip()
            if heading:
                parts = [p for p in heading.split(" > ") if p.strip()]
                for key in {normalize_for_match(heading), normalize_for_match(parts[-1]) if parts else ""}:
                    if key:
                        self.by_title[key].append(r["id"])
            self.by_url[_url_key(r["path"] or "")].append(r["id"])
            self.by_norm[n].append(r["id"])
        self.doc_by_name: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            self.doc_by_name[_name_key(Path(r["name"] or "").stem)].append(r["id"])
        self._titles = list(self.by_title)
        self._grams: Any = None
        self._df_keep: Any = None
        self._model: Any = None
        self.norm_of = dict(zip(self.ids, self.norm, strict=True))

    # ------------------------------------------------------------------ id, title, url
    def by_answer_id(self, value: str) -> list[str]:
        v = value.strip()
        out = self.by_id.get(v) or self.by_id.get(v.lower()) or []
        if not out and "," in v:  # "id1,id2"
            for part in v.split(","):
                out += self.by_id.get(part.strip().lower(), []) or self.by_id.get(part.strip(), [])
        return list(dict.fromkeys(out))

    def by_answer_title(self, title: str) -> tuple[list[str], float]:
        key = normalize_for_match(title)
        if not key:
            return [], 0.0
        if key in self.by_title:
            return self.by_title[key], 100.0
        if _name_key(title) in self.doc_by_name:
            return self.doc_by_name[_name_key(title)], 100.0
        if len(key) >= 6 and self._titles:
            from rapidfuzz import fuzz, process

            best = process.extractOne(key, self._titles, scorer=fuzz.ratio, score_cutoff=self.fuzzy_min)
            if best is not None:
                return self.by_title[best[0]], float(best[1])
        return [], 0.0

    def by_answer_url(self, url: str) -> list[str]:
        key = _url_key(url)
        if not key:
            return []
        if key in self.by_url:
            return self.by_url[key]
        tail = key.rsplit("/", 1)[-1]
        for cand in (tail, re.sub(r"\.(html?|md|pdf|docx?|txt)$", "", tail)):
            if cand and cand.lower() in self.by_id:
                return self.by_id[cand.lower()]
            ck = normalize_for_match(cand.replace("-", " ").replace("_", " "))
            if _name_key(cand) in self.doc_by_name:
                return self.doc_by_name[_name_key(cand)]
            if ck and ck in self.by_title:
                return self.by_title[ck]
        frag = url.split("#", 1)[1] if "#" in url else ""
        if frag:
            fk = normalize_for_match(frag.replace("-", " "))
            return self.by_id.get(frag.lower()) or self.by_title.get(fk) or []
        return []

    # ------------------------------------------------------------------ text
    def _index(self) -> None:
        if self._grams is None:
            g = _gram_matrix(self.norm)
            df = np.bincount(g.indices, minlength=_BUCKETS)
            # grams in more than 5% of chunks (and at least 50) say little about which chunk: dropped
            limit = max(50, int(0.05 * len(self.norm)))
            keep = np.flatnonzero((df > 0) & (df <= limit))
            colmap = np.full(_BUCKETS, -1, dtype=np.int64)
            colmap[keep] = np.arange(len(keep))
            self._colmap = colmap
            self._grams = _gram_matrix(self.norm, colmap)
            self._gsize = np.asarray(self._grams.sum(axis=1)).ravel()
            self._gramsT = self._grams.T.tocsr()

    def text_candidates(self, answers: Sequence[str], k: int = 5) -> list[list[tuple[int, float, float]]]:
        """Per answer: up to k (chunk index, share of the answer's grams in the chunk, share of the chunk's grams in
        the answer), best first."""
        self._index()
        a = _gram_matrix(answers, self._colmap)
        if a.shape[1] != self._gramsT.shape[0]:
            a.resize((a.shape[0], self._gramsT.shape[0]))
        asize = np.asarray(a.sum(axis=1)).ravel()
        out: list[list[tuple[int, float, float]]] = []
        block = 512
        for s in range(0, a.shape[0], block):
            inter = (a[s : s + block] @ self._gramsT).toarray()
            cont = inter / np.maximum(asize[s : s + block, None], 1)
            rev = inter / np.maximum(self._gsize[None, :], 1)
            score = np.maximum(cont, rev)
            kk = min(k, score.shape[1])
            top = np.argpartition(-score, kk - 1, axis=1)[:, :kk]
            for j in range(score.shape[0]):
                cand = sorted(top[j].tolist(), key=lambda c, j=j: -score[j, c])
                out.append([(int(c), float(cont[j, c]), float(rev[j, c])) for c in cand if inter[j, c] > 0])
        return out

    def narrow(self, ids: list[str], text: str, keep: int = 2) -> list[str]:
        """The ``keep`` chunks of ``ids`` sharing the most 4-grams with ``text`` (all of ids when none shares)."""
        self._index()
        pos = {cid: i for i, cid in enumerate(self.ids)}
        a = _gram_matrix([normalize_for_match(text)], self._colmap)
        if a.shape[1] != self._gramsT.shape[0]:
            a.resize((1, self._gramsT.shape[0]))
        inter = (a @ self._gramsT).toarray()[0]
        scored = sorted(ids, key=lambda c: -inter[pos[c]])
        best = [c for c in scored[:keep] if inter[pos[c]] > 0]
        return best or ids

    def link_texts(
        self, answers: Sequence[str], progress: Progress | None = None
    ) -> list[tuple[list[str], str, float]]:
        """(chunk ids, method, score) per answer text: exact, spans, fuzzy, or ([], 'none', best fuzzy score)."""
        from rapidfuzz import fuzz

        norms = [normalize_for_match(a) for a in answers]
        out: list[tuple[list[str], str, float]] = [([], "none", 0.0)] * len(norms)
        todo = []
        for i, a in enumerate(norms):
            if len(a) < 4 or not self.ids:
                continue
            if a in self.by_norm:
                out[i] = (self.by_norm[a], "exact", 100.0)
            else:
                todo.append(i)
        step = 512
        for s in range(0, len(todo), step):
            part = todo[s : s + step]
            cands = self.text_candidates([norms[i] for i in part], k=8)
            for i, cs in zip(part, cands, strict=True):
                a = norms[i]
                exact = [self.ids[c] for c, cont, _ in cs if cont >= 0.95 and a in self.norm[c]]
                if exact:
                    out[i] = (exact, "exact", 100.0)
                    continue
                spans = [
                    self.ids[c]
                    for c, _, rev in cs
                    if rev >= 0.95 and len(self.norm[c]) >= 20 and self.norm[c] in a
                ]
                if spans:
                    out[i] = (spans, "spans", 100.0)
                    continue
                best, best_c = 0.0, -1
                if len(a) >= 12:
                    for c, _, _ in cs[:5]:
                        sc = (
                            fuzz.partial_ratio(a, self.norm[c])
                            if len(a) < len(self.norm[c])
                            else fuzz.ratio(a, self.norm[c])
                        )
                        if sc > best:
                            best, best_c = sc, c
                if best_c >= 0 and best >= self.fuzzy_min:
                    out[i] = ([self.ids[best_c]], "fuzzy", round(best, 1))
                else:
                    out[i] = ([], "none", round(best, 1))
            if progress:
                progress(min(s + step, len(todo)), len(todo), "text")
        return out

    def link_embedding(self, answers: Sequence[str]) -> list[tuple[str, float]]:
        """(best chunk id, cosine) per answer with the base model (corpus embeddings cached per model)."""
        if not answers or not self.ids:
            return []
        from bgetune.core.models import corpus_embeddings, encode
        from bgetune.tools.filtering import _load_model

        if self._model is None:
            self._model, self._fp = _load_model(self.ws, self.settings, self.base_model)
        ids, emb = corpus_embeddings(self.ws, self._model, fingerprint=self._fp)
        v = encode(self._model, list(answers), kind="passage")
        out = []
        for s in range(0, len(v), 1024):
            sims = v[s : s + 1024] @ emb.T
            best = sims.argmax(axis=1)
            out += [(ids[int(b)], float(sims[j, b])) for j, b in enumerate(best)]
        return out


def _direct_links(linker: Linker, r: HistoryRow) -> Iterator[tuple[list[str], str, float, str]]:
    """The row's direct links, cheapest first and computed only when asked for: (chunk ids, method, score,
    why when there are none) by answer id, by title, by url, for the fields the row has."""
    if r.answer_id:
        yield linker.by_answer_id(r.answer_id), "id", 100.0, f"answer id {r.answer_id!r} matches no chunk id"
    if r.title:
        ids, sc = linker.by_answer_title(r.title)
        if len(ids) > 3:  # a long section: the chunks of it that the answer (or the question) is about
            ids = linker.narrow(ids, r.answer or r.question)
        yield ids, "title", sc, f"title {r.title[:60]!r} matches no heading or document"
    if r.url:
        yield linker.by_answer_url(r.url), "url", 100.0, f"url {r.url[:80]!r} matches no document or chunk id"


def link_rows(
    linker: Linker, rows: list[HistoryRow], *, embedding: bool = True, progress: Progress | None = None
) -> None:
    """Fill chunk_ids / method / score / why on every row, cheapest evidence first."""
    text_todo: list[HistoryRow] = []
    for r in rows:
        whys = []
        for ids, method, score, why in _direct_links(linker, r):
            if ids:
                r.chunk_ids, r.method, r.score = ids, method, score
                break
            whys.append(why)
        else:  # no direct link: the answer text is linked below
            if r.answer:
                text_todo.append(r)
            elif not whys:
                whys.append("empty answer" if not r.negative else "empty negative")
            r.why = "; ".join(whys)
    if text_todo:
        res = linker.link_texts([r.answer for r in text_todo], progress=progress)
        left: list[HistoryRow] = []
        for r, (ids, method, score) in zip(text_todo, res, strict=True):
            if ids:
                r.chunk_ids, r.method, r.score = ids, method, score
            else:
                r.score = score
                left.append(r)
        # embedding: only for answers long enough to say something, and never for negatives
        emb_todo = [r for r in left if len(normalize_for_match(r.answer)) >= 12 and not r.negative]
        best: dict[int, tuple[str, float]] = {}
        if embedding and linker.base_model is not False and emb_todo:
            if progress:
                progress(0, len(emb_todo), "embedding")
            for r, hit in zip(emb_todo, linker.link_embedding([r.answer for r in emb_todo]), strict=True):
                best[id(r)] = hit
            if progress:
                progress(len(emb_todo), len(emb_todo), "embedding")
        for r in left:
            hit = best.get(id(r))
            if hit and hit[1] >= linker.embed_min:
                r.chunk_ids, r.method, r.score = [hit[0]], "embedding", round(hit[1], 4)
                continue
            detail = f"best fuzzy match {r.score or 0:.0f} < {linker.fuzzy_min:.0f}"
            if hit:
                detail += f", best embedding similarity {hit[1]:.2f} < {linker.embed_min:.2f}"
            elif len(normalize_for_match(r.answer)) < 12:
                detail = "answer text too short to find in the documents"
            r.why = "; ".join([w for w in [r.why] if w] + [f"answer text not found in any chunk ({detail})"])
            r.score = None


# ---------------------------------------------------------------------------------------------- options, results
@dataclass(kw_only=True)
class HistoryOptions:
    path: str = setting(
        help="The exported question history: CSV, TSV, XLSX or JSONL.",
        positional=True,
        say=("questions file", "question history", "问题文件", "问答记录", "历史问题"),
    )
    question_col: str | None = setting(
        None,
        help="Column holding the questions (detected when not given).",
        say=("question column", "问题列"),
    )
    answer_col: str | None = setting(
        None, help="Column holding answer texts / clicked documents.", say=("answer column", "答案列")
    )
    answer_id_col: str | None = setting(None, help="Column holding answer / document ids.")
    title_col: str | None = setting(
        None, help="Column holding answer titles.", say=("title column", "标题列")
    )
    url_col: str | None = setting(None, help="Column holding answer urls.")
    clicked_col: str | None = setting(
        None, help="Column saying whether the answer was clicked / useful.", say=("click column", "点击列")
    )
    session_col: str | None = setting(None, help="Column holding a session / conversation id.")
    time_col: str | None = setting(None, help="Column holding when the question was asked.")
    rank_col: str | None = setting(None, help="Column holding the rank the result was shown at.")
    label_col: str | None = setting(
        None, help="Column holding a graded relevance label (e.g. 0-4).", say=("score column", "评分列")
    )
    delimiter: str | None = setting(None, help="CSV delimiter (detected when not given; 'tab' for TSV).")
    sheet: str | None = setting(None, help="XLSX sheet name (default: the first).")
    session_window_minutes: float = setting(
        10.0,
        help="A question reformulated within this many minutes of an unclicked one shares its click.",
        min=0,
        max=1440,
        say=("session window", "会话窗口"),
    )
    coclick_max: int = setting(
        20,
        help="A document clicked by more distinct questions than this is too generic for co-click positives.",
        min=0,
        max=10_000,
    )
    repeat: float = setting(
        2.0,
        help="Repeat factor of real pairs in training (synthetic pairs count 1).",
        min=1,
        max=10,
        say=("repeat factor", "weight of real questions", "重复次数", "真实问题权重"),
    )
    golden_share: float = setting(
        0.0,
        help="Share of the real questions (by question cluster) kept aside as the golden set; 0 = none. "
        "Skipped when you already have a golden set of your own.",
        min=0,
        max=0.9,
        say=("golden share", "held-out share", "黄金集比例", "留出比例"),
    )
    fuzzy_min: float = setting(
        90.0, help="Fuzzy text / title match needed to link an answer (0-100).", min=50, max=100
    )
    embed_min: float = setting(
        0.8, help="Cosine similarity needed to link an answer by embedding.", min=0, max=1
    )
    embedding: bool = setting(True, help="Link answers by embedding when no text match is found.")
    seed: int = setting(13, help="Seed of the golden-set draw.")

    def overrides(self) -> dict[str, str]:
        m = {
            "question": self.question_col, "answer": self.answer_col, "answer_id": self.answer_id_col,
            "title": self.title_col, "url": self.url_col, "clicked": self.clicked_col,
            "session": self.session_col, "timestamp": self.time_col, "rank": self.rank_col,
            "label": self.label_col,
        }  # fmt: skip
        return {k: v for k, v in m.items() if v}


@dataclass
class HistoryPreview:
    """What an import would do, before anything is written: the user confirms the column mapping."""

    file: str
    format: str
    rows: int
    headers: list[str]
    columns: dict[str, str]  # field -> header
    unmapped: list[str]
    sample: list[dict[str, Any]]  # mapped first rows
    questions: int  # distinct questions
    plan: list[str]  # what will happen, in words
    warnings: list[str] = field(default_factory=list)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        names_zh = {"question": "问题", "answer": "答案", "answer_id": "答案ID", "title": "标题", "url": "链接",
                    "clicked": "点击/有用", "session": "会话", "timestamp": "时间", "rank": "展示排名",
                    "label": "评分"}  # fmt: skip
        zh = lang == "zh"
        name, sep = Path(self.file).name, say(lang, ", ", "，")
        cols = sep.join(f"{names_zh[k]} ← “{v}”" if zh else f"{k} <- {v!r}" for k, v in self.columns.items())
        lines = [
            say(
                lang,
                f"{name}: {self.rows} rows, {self.questions} distinct questions. Columns: {cols}.",
                f"{name}：{self.rows} 行，{self.questions} 个不同的问题。识别到的列：{cols}。",
            )
        ]
        if self.unmapped:
            lines.append(say(lang, "Not used: ", "未使用的列：") + sep.join(self.unmapped))
        lines += [say(lang, "- ", "· ") + p for p in self.plan]
        lines += [say(lang, "warning: ", "注意：") + w for w in self.warnings]
        if not zh:
            for s in self.sample[:3]:
                lines.append("- e.g. " + "; ".join(f"{k}={str(v)[:40]!r}" for k, v in s.items()))
        lines.append(
            say(
                lang,
                '\nSay "yes" to import with this mapping (or name a column, e.g. --title-col).',
                "\n确认列的对应关系后说“确认”即可导入（或指定列名，例如 --title-col）。",
            )
        )
        return "\n".join(lines)


@dataclass
class UnlinkedRow:
    row: int
    question: str
    reason: str


@dataclass(kw_only=True)
class HistoryImportResult:
    """What an import did. The counts with a default of 0 are filled by ``_write_import`` as it writes."""

    file: str
    source: str
    rows: int
    pairs: int = 0  # new pairs written
    already_imported: int = 0
    questions: int
    links: dict[
        str, int
    ]  # link method -> rows linked that way (id, title, url, exact, spans, fuzzy, embedding, own)
    multi_positive: int = 0  # questions with more than one positive
    extra_positives: int = 0  # pair_positives rows written (several answers, co-click, reformulation)
    coclick: int
    reformulations: int
    skipped_negatives: int  # candidate negatives from shown-and-skipped results
    not_clicked: int  # rows shown but not clicked (not positives)
    graded: int = 0  # pairs with a graded label
    golden: int = 0  # questions kept aside as the golden set
    golden_note: str | None
    unlinked: list[UnlinkedRow]
    bad_rows: list[dict[str, Any]]
    columns: dict[str, str]
    flagged: int = 0  # filled by the filters, when they run after the import
    rejected: int = 0

    def text(self, lang: str = "en") -> str:
        links = ", ".join(f"{k} {v}" for k, v in self.links.items() if v)
        if lang == "zh":
            lines = [
                f"从 {Path(self.file).name} 导入了 {self.pairs} 个真实问题（共 {self.rows} 行）；关联方式：{links or '无'}；"
                f"{self.multi_positive} 个问题有多个正例，{len(self.unlinked)} 行无法关联（已保留，附原因）。"
            ]
            if self.coclick or self.reformulations or self.skipped_negatives:
                lines.append(
                    f"点击日志：共同点击 {self.coclick}，改写 {self.reformulations}，跳过的结果作候选负例 {self.skipped_negatives}。"
                )
            if self.golden:
                lines.append(f"{self.golden} 个问题留作黄金评测集。")
            if self.flagged:
                lines.append(f"{self.flagged} 个真实问题被标记待复核（未被拒绝）。")
            for u in self.unlinked[:5]:
                lines.append(f"  第 {u.row} 行：{u.reason}")
            return "\n".join(lines)
        lines = [
            f"{self.pairs} real questions imported from {Path(self.file).name} ({self.rows} rows); linked by "
            f"{links or 'nothing'}; {self.multi_positive} questions with several positives; {len(self.unlinked)} "
            f"rows could not be linked (kept with their reason)."
        ]
        if self.already_imported:
            lines.append(f"{self.already_imported} were already imported.")
        if self.coclick or self.reformulations or self.skipped_negatives or self.not_clicked:
            lines.append(
                f"click log: {self.coclick} co-click positives, {self.reformulations} reformulations, "
                f"{self.skipped_negatives} skipped results as candidate negatives, {self.not_clicked} rows not clicked"
            )
        if self.golden:
            lines.append(f"{self.golden} questions kept aside as the golden set.")
        if self.golden_note:
            lines.append(f"note: {self.golden_note}")
        if self.flagged or self.rejected:
            lines.append(
                f"filters: {self.flagged} real questions flagged for review (not rejected), {self.rejected} rejected"
            )
        for u in self.unlinked[:5]:
            lines.append(f"  row {u.row}: {u.reason}")
        if len(self.unlinked) > 5:
            lines.append(
                f"  ... and {len(self.unlinked) - 5} more (`bgetune status` / the import_rows table)"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- preview
def _mapping(table: Table, opts: HistoryOptions) -> dict[str, str]:
    sample = [rec for _, rec in table.rows[:200]]
    mapping = detect_columns(table.headers, sample)
    for k, v in opts.overrides().items():
        hit = v if v in table.headers else next((h for h in table.headers if _fold(h) == _fold(v)), None)
        if hit is None:
            raise HistoryError(
                f"{table.path.name}: no column {v!r} (asked for the {k}); columns are {', '.join(table.headers)}"
            )
        for other in [f for f, h in mapping.items() if h == hit and f != k]:
            del mapping[other]
        mapping[k] = hit
    if "question" not in mapping:
        raise HistoryError(
            f"{table.path.name}: cannot tell which column holds the questions; columns are "
            f"{', '.join(table.headers) or '(none)'}. Name it with --query-col (chat: 'the questions are in "
            "column X')"
        )
    if not {"answer", "answer_id", "title", "url"} & set(mapping):
        raise HistoryError(
            f"{table.path.name}: no column holds the answers (text, id, title or url); columns are "
            f"{', '.join(table.headers)}. Name one with --answer-col, --answer-id-col, --title-col or --url-col"
        )
    return mapping


def preview_history(ctx: Context, opts: HistoryOptions) -> HistoryPreview:
    """Detect the columns and say what an import would do; writes nothing."""
    table = read_table(opts.path, delimiter=opts.delimiter, sheet=opts.sheet)
    mapping = _mapping(table, opts)
    rows, bad = map_rows(table, mapping)
    questions = {_qkey(r.question) for r in rows}
    plan = []
    kinds = [k for k in ("answer_id", "title", "url", "answer") if k in mapping]
    plan.append(
        "answers linked to your chunks by "
        + ", ".join({"answer": "text (exact, fuzzy, then embedding)"}.get(k, k) for k in kinds)  # fmt: skip
    )
    if "clicked" in mapping:
        n_click = sum(1 for r in rows if r.clicked)
        plan.append(
            f"{n_click} clicked/useful rows become positives; the {len(rows) - n_click} others do not"
        )
        plan.append(f"questions that click the same document share their clicks (documents clicked by at most "
                    f"{opts.coclick_max} questions)")  # fmt: skip
    if "session" in mapping and "timestamp" in mapping:
        plan.append(
            f"a question with no click, reformulated within {opts.session_window_minutes:g} minutes in the same "
            "session, also gets the later click"
        )
    if "rank" in mapping and "clicked" in mapping:
        plan.append("results shown above a click and skipped become candidate negatives")
    if "label" in mapping:
        labels = [r.label for r in rows if r.label is not None]
        if labels:
            plan.append(f"graded labels kept ({min(labels):g}-{max(labels):g}); label 0 marks a negative")
    multi = len(rows) - len(questions)
    if multi > 0:
        plan.append(f"{multi} rows repeat a question: one question with several positives")
    plan.append(f"real pairs count x{opts.repeat:g} in training; the filters flag them, never reject them")
    if opts.golden_share:
        plan.append(
            f"about {opts.golden_share:.0%} of the questions (by cluster) kept aside as the golden set"
        )
    warnings = []
    if not ctx.ws.scalar("SELECT count(*) FROM chunks"):
        warnings.append("the workspace has no chunks yet: ingest your documents first, or every answer becomes its "
                        "own passage")  # fmt: skip
    sample = [r.data() for r in rows[:5]]
    return HistoryPreview(
        file=str(table.path),
        format=table.format,
        rows=len(table.rows) + len(table.bad),
        headers=table.headers,
        columns=mapping,
        unmapped=[h for h in table.headers if h not in mapping.values()],
        sample=sample,
        questions=len(questions),
        plan=plan,
        warnings=warnings,
        bad_rows=[{"row": n, "reason": why} for n, why in bad[:50]],
    )


# ---------------------------------------------------------------------------------------------- import
def _qkey(q: str) -> str:
    return re.sub(r"[\s\W_]+", " ", unicodedata.normalize("NFKC", q).lower()).strip()


@dataclass
class _Question:
    query: str
    rows: list[HistoryRow] = field(default_factory=list)
    positives: dict[str, tuple[float | None, str, str, float | None]] = field(default_factory=dict)
    # chunk id -> (label, origin, method, score)
    negatives: list[str] = field(default_factory=list)
    own: str | None = None  # own passage (answer text found in no chunk)
    own_method: str = "own"

    def add(self, cid: str, label: float | None, origin: str, method: str, score: float | None) -> bool:
        if cid in self.positives or cid in self.negatives:
            return False
        self.positives[cid] = (label, origin, method, score)
        return True


def _group_questions(
    rows: list[HistoryRow], has_click: bool, bad: list[tuple[int, str]]
) -> tuple[dict[str, _Question], dict[str, int], list[UnlinkedRow], int]:
    """Rows grouped by normalised question with their linked positives, negatives and own passage; returns
    (questions, link counts by method, unlinked rows, rows not clicked). Duplicate rows go to ``bad``."""
    links: dict[str, int] = defaultdict(int)
    questions: dict[str, _Question] = {}
    unlinked: list[UnlinkedRow] = []
    seen_rows: set[tuple[str, str, str, str, str]] = set()
    not_clicked = 0
    for r in rows:
        key = _qkey(r.question)
        q = questions.setdefault(key, _Question(r.question))
        q.rows.append(r)
        sig = (key, normalize_for_match(r.answer), r.answer_id, r.title, r.url)
        if sig in seen_rows and not has_click and not r.negative:
            bad.append((r.row, "duplicate row"))
            continue
        seen_rows.add(sig)
        positive = not r.negative and (r.clicked is not False if has_click else True)
        if has_click and r.clicked is False:
            not_clicked += 1
        if r.chunk_ids:
            if positive:
                links[r.method] += 1
                for cid in r.chunk_ids:
                    q.add(cid, r.label, "import", r.method, r.score)
            elif r.negative:
                q.negatives += [c for c in r.chunk_ids if c not in q.positives]
        elif positive:
            if r.answer and len(normalize_for_match(r.answer)) >= 12 and q.own is None:
                q.own = r.answer  # kept as its own passage: still a real (question, answer) pair
                links["own"] += 1
            else:
                unlinked.append(UnlinkedRow(r.row, r.question, r.why or "no answer to link"))
        elif r.negative and not r.chunk_ids and r.answer:
            pass  # an unlinked negative text: nothing to train against
    return questions, links, unlinked, not_clicked


def _mine_skipped(questions: dict[str, _Question]) -> int:
    """Shown above the click and skipped -> candidate negatives (impression logs); returns how many."""
    skipped = 0
    for q in questions.values():
        groups: dict[str, list[HistoryRow]] = defaultdict(list)
        for r in q.rows:
            groups[r.session or f"t{r.time}"].append(r)
        for g in groups.values():
            clicks = [r.rank for r in g if r.clicked and r.rank is not None]
            if not clicks:
                continue
            top = max(clicks)
            for r in g:
                if r.clicked is False and r.rank is not None and r.rank < top:
                    for c in r.chunk_ids:
                        if c not in q.positives and c not in q.negatives:
                            q.negatives.append(c)
                            skipped += 1
    return skipped


def _mine_coclick(questions: dict[str, _Question], coclick_max: int) -> int:
    """Co-click: questions that clicked the same (not too generic) document share their clicks; returns how
    many positives were added."""
    coclick = 0
    by_chunk: dict[str, list[str]] = defaultdict(list)
    for key, q in questions.items():
        for cid, (_, origin, _, _) in q.positives.items():
            if origin == "import":
                by_chunk[cid].append(key)
    for _cid, keys in by_chunk.items():
        if not 2 <= len(keys) <= coclick_max:
            continue
        for a in keys:
            for b in keys:
                if a == b:
                    continue
                for ocid, (lab, origin, method, score) in list(questions[b].positives.items()):
                    if origin == "import" and questions[a].add(ocid, lab, "co-click", method, score):
                        coclick += 1
    return coclick


def _mine_reformulations(
    rows: list[HistoryRow],
    questions: dict[str, _Question],
    unlinked: list[UnlinkedRow],
    has_click: bool,
    window: float,
) -> int:
    """Reformulation: in one session, a question with no click followed within ``window`` seconds by a clicked
    one gets the later one's positives; its row leaves ``unlinked`` (updated in place). Returns how many."""
    reform = 0
    sess: dict[str, list[HistoryRow]] = defaultdict(list)
    for r in rows:
        if r.session and r.time is not None:
            sess[r.session].append(r)
    for srows in sess.values():
        srows.sort(key=lambda r: (r.time, r.row))
        for i, r in enumerate(srows):
            qa = questions[_qkey(r.question)]
            if any(x.clicked for x in qa.rows) or (not has_click and qa.positives):
                continue
            for later in srows[i + 1 :]:
                if later.time - r.time > window:
                    break
                if _qkey(later.question) == _qkey(r.question):
                    continue
                if later.chunk_ids and (later.clicked if has_click else True) and not later.negative:
                    added = False
                    for cid in later.chunk_ids:
                        added |= qa.add(cid, later.label, "reformulation", later.method, later.score)
                    if added:
                        reform += 1
                        # its row is no longer unlinked
                        unlinked[:] = [
                            u for u in unlinked if not (u.row == r.row and u.question == r.question)
                        ]
                    break
    return reform


def _golden_keys(
    ws: Workspace, questions: dict[str, _Question], opts: HistoryOptions
) -> tuple[set[str], str | None]:
    """The questions kept aside as the golden set (a share by question cluster) and a note when none is."""
    trainable = {k: q for k, q in questions.items() if q.positives}
    if not (opts.golden_share > 0 and trainable):
        return set(), None
    own_golden = ws.scalar("SELECT count(*) FROM golden WHERE coalesce(source,'') NOT IN ('history')") or 0
    if own_golden:
        return (
            set(),
            f"you already have a golden set ({own_golden} questions): no history question kept aside",
        )
    keys = _golden_draw(
        list(trainable), [trainable[k].query for k in trainable], opts.golden_share, opts.seed
    )
    return keys, None


def _write_question(
    ws: Workspace,
    c: Any,
    q: _Question,
    *,
    name: str,
    source: str,
    repeat: float,
    ts: str,
    out: HistoryImportResult,
) -> None:
    """One question's real pair (its best positive as the primary, the others in ``pair_positives``) and its
    import event; counts go to ``out``."""
    pos = sorted(q.positives.items(), key=lambda kv: (kv[1][1] != "import", -(kv[1][0] or 0)))
    if not pos and q.own is None:
        return
    primary = pos[0][0] if pos else None
    label, origin, method, score = pos[0][1] if pos else (None, "import", "own", None)
    passage = q.own if primary is None else ""
    if primary is not None:
        row = ws.conn.execute("SELECT text FROM chunks WHERE id=?", (primary,)).fetchone()
        passage = row["text"] if row else ""
    first = q.rows[0]
    src = source if origin != "reformulation" else f"history:{name}"
    info = {"rows": sorted({r.row for r in q.rows}), "origin": origin}
    if q.negatives:
        info["skipped_ids"] = q.negatives[:20]
    cur = c.execute(
        "INSERT OR IGNORE INTO pairs(chunk_id, query, passage, source, kind, language, status, reasons, scores, "
        "status_by, label, weight, flags, link_method, link_score, created_at, updated_at) "
        "VALUES(?,?,?,?,'real',?,'proposed','[]',?,'import',?,?,'[]',?,?,?,?)",
        (primary, q.query, passage, src, detect_language(q.query), json.dumps(info, ensure_ascii=False),
         label, float(repeat), method, score, ts, ts),
    )  # fmt: skip
    if not cur.rowcount:
        out.already_imported += 1
        return
    out.pairs += 1
    pid = cur.lastrowid
    out.graded += label is not None
    if len(pos) > 1:
        out.multi_positive += 1
    for cid, (lab, orig, _m, _s) in pos[1:]:
        out.extra_positives += c.execute(
            "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin, label) VALUES(?,?,?,?)",
            (pid, cid, orig, lab),
        ).rowcount
    c.execute(
        "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
        (pid, "import", "import", f"{name} row {first.row} ({method})", None, "proposed", ts),
    )


def _write_import(
    ws: Workspace,
    questions: dict[str, _Question],
    golden_keys: set[str],
    rows: list[HistoryRow],
    unlinked: list[UnlinkedRow],
    *,
    name: str,
    source: str,
    repeat: float,
    out: HistoryImportResult,
) -> None:
    """Write the pairs, the unlinked rows (``import_rows``) and the golden questions in one transaction; the
    counts go to ``out``."""
    ts = now_iso()
    with ws.tx() as c:
        for key, q in questions.items():
            if key not in golden_keys:
                _write_question(ws, c, q, name=name, source=source, repeat=repeat, ts=ts, out=out)
        for u in unlinked:
            rec = next((r for r in rows if r.row == u.row and r.question == u.question), None)
            c.execute(
                "INSERT OR REPLACE INTO import_rows(file, row_no, data, reason, status, created_at) "
                "VALUES(?,?,?,?,'unlinked',?)",
                (name, u.row, json.dumps(rec.data() if rec else {"question": u.question}, ensure_ascii=False),
                 u.reason, ts),
            )  # fmt: skip
        c.executemany(
            "UPDATE import_rows SET status='linked' WHERE file=? AND row_no=? AND status='unlinked'",
            [(name, r.row) for r in rows if r.chunk_ids and r.row not in {u.row for u in unlinked}],
        )
        out.golden = _write_golden(ws, [questions[k] for k in sorted(golden_keys)], ts) if golden_keys else 0


def import_history(
    ctx: Context, opts: HistoryOptions, *, source_prefix: str = "import", base_model: Any = None
) -> HistoryImportResult:
    """Import a question history as real pairs (kind 'real', status proposed) after the user confirmed the
    column mapping; unlinkable rows go to ``import_rows`` with their reason. ``base_model``: a loaded model or
    spec for the embedding link (default: the workspace's base model)."""
    ws = ctx.ws
    progress = ctx.progress
    table = read_table(opts.path, delimiter=opts.delimiter, sheet=opts.sheet)
    mapping = _mapping(table, opts)
    rows, bad = map_rows(table, mapping)
    name = table.path.name
    source = f"{source_prefix}:{name}"
    linker = Linker(ws, fuzzy_min=opts.fuzzy_min, embed_min=opts.embed_min,
                    base_model=base_model if opts.embedding else False, settings=ctx.settings)  # fmt: skip
    if progress:
        progress(0, 4, "linking")
    link_rows(linker, rows, embedding=opts.embedding and base_model is not False, progress=progress)
    if progress:
        progress(1, 4, "click mining")
    has_click = "clicked" in mapping
    questions, links, unlinked, not_clicked = _group_questions(rows, has_click, bad)
    skipped = _mine_skipped(questions) if has_click and "rank" in mapping else 0
    coclick = _mine_coclick(questions, opts.coclick_max) if has_click and opts.coclick_max >= 2 else 0
    reform = 0
    if "session" in mapping and "timestamp" in mapping:
        window = opts.session_window_minutes * 60.0
        reform = _mine_reformulations(rows, questions, unlinked, has_click, window)
    if progress:
        progress(2, 4, "golden set")
    golden_keys, golden_note = _golden_keys(ws, questions, opts)
    if progress:
        progress(3, 4, "writing")
    res = HistoryImportResult(
        file=str(table.path),
        source=source,
        rows=len(table.rows) + len(table.bad),
        questions=len(questions),
        links=dict(links),
        coclick=coclick,
        reformulations=reform,
        skipped_negatives=skipped,
        not_clicked=not_clicked,
        golden_note=golden_note,
        unlinked=unlinked,
        bad_rows=[{"row": n, "reason": why} for n, why in sorted(bad)],
        columns=mapping,
    )
    _write_import(
        ws, questions, golden_keys, rows, unlinked, name=name, source=source, repeat=opts.repeat, out=res
    )
    if progress:
        progress(4, 4, "done")
    return res


def question_clusters(queries: Sequence[str], *, threshold: float = 85.0) -> list[int]:
    """Cluster id per query: near-duplicates (rapidfuzz ratio on normalised text) share one (union-find)."""
    from bgetune.tools.filtering import near_duplicates

    parent = list(range(len(queries)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in near_duplicates(list(queries), threshold=threshold):
        parent[find(j)] = find(i)
    return [find(i) for i in range(len(queries))]


def _golden_draw(keys: list[str], queries: list[str], share: float, seed: int) -> set[str]:
    clusters = question_clusters(queries)
    members: dict[int, list[str]] = defaultdict(list)
    for k, cl in zip(keys, clusters, strict=True):
        members[cl].append(k)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    want = share * len(keys)
    out: set[str] = set()
    for cl in order:
        if len(out) + len(members[cl]) / 2 > want:
            continue
        out.update(members[cl])
    return out


def _write_golden(ws: Workspace, qs: list[_Question], ts: str) -> int:
    """Golden rows (labeled, source 'history') through bgetune.tools.golden; SQL of the same shape without it."""
    items = [{"query": q.query, "pos_ids": list(q.positives)} for q in qs]
    try:
        from bgetune.tools.golden import add_questions
    except ImportError:  # pragma: no cover - golden.py ships with this module
        n = 0
        for it in items:
            n += ws.conn.execute(
                "INSERT OR IGNORE INTO golden(query, pos_ids, status, source, language, candidates, created_at, "
                "updated_at) VALUES(?,?,'labeled','history',?,'{}',?,?)",
                (it["query"], json.dumps(it["pos_ids"]), detect_language(it["query"]), ts, ts),
            ).rowcount
        return n
    added, _dups = add_questions(ws, items, source="history")
    return len(added)


def add_skipped_negatives(ws: Workspace, *, base_model: Any = None, relative_margin: float = 0.05) -> int:
    """Candidate negatives from impression logs (``scores.skipped_ids``), kept when the base model scores them
    below ``pos_score * (1 - relative_margin)`` (the positive-aware rule of mining); method 'skipped'.
    Call after mining (mining replaces the negatives table)."""
    from bgetune.core.models import encode
    from bgetune.tools.filtering import _load_model

    rows = [
        r
        for r in ws.query(
            f"SELECT p.id, p.query, p.chunk_id, p.scores FROM pairs p WHERE p.{TRAINABLE} "
            "AND p.chunk_id IS NOT NULL AND p.scores LIKE '%skipped_ids%'"
        )
    ]
    if not rows:
        return 0
    model, _ = _load_model(ws, None, base_model)
    texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
    qv = encode(model, [r["query"] for r in rows], kind="query")
    ts = now_iso()
    n = 0
    with ws.tx() as c:
        for r, v in zip(rows, qv, strict=True):
            cand = [x for x in json.loads(r["scores"]).get("skipped_ids", []) if x in texts]
            if not cand or r["chunk_id"] not in texts:
                continue
            pv = encode(model, [texts[r["chunk_id"]]] + [texts[x] for x in cand], kind="passage")
            sims = pv @ v
            pos_score = float(sims[0])
            for k, (cid, s) in enumerate(zip(cand, sims[1:], strict=True)):
                if s < pos_score - relative_margin * abs(pos_score):
                    n += c.execute(
                        "INSERT OR IGNORE INTO negatives(pair_id, chunk_id, rank, score, pos_score, method, created_at) "
                        "VALUES(?,?,?,?,?,'skipped',?)",
                        (r["id"], cid, k + 1, float(s), pos_score, ts),
                    ).rowcount
    return n


def unlinked_rows(ws: Workspace, *, file: str | None = None) -> list[dict[str, Any]]:
    """Imported rows still waiting to be linked, with their reason."""
    sql = "SELECT file, row_no, data, reason, status FROM import_rows WHERE status='unlinked'"
    params: list[Any] = []
    if file:
        sql += " AND file=?"
        params.append(Path(file).name)
    return [
        dict(r) | {"data": json.loads(r["data"])} for r in ws.query(sql + " ORDER BY file, row_no", params)
    ]


def options(path: str | Path, **kw: Any) -> HistoryOptions:
    """HistoryOptions for code callers (bench, tests, pairs_io)."""
    return HistoryOptions(path=str(path), **kw)
