"""Workspace: one folder = one project. A SQLite database (WAL, foreign keys, versioned schema) plus artifacts/.

Every stage writes its results inside one ``with ws.tx():`` block, so a process killed mid-stage leaves the
previous state intact. Files under artifacts/ are written atomically (temp file + rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bgetune.core.errors import BgetuneError

DB_NAME = "bgetune.sqlite"
SCHEMA_VERSION_KEY = "schema_version"

PAIR_STATUSES = ("proposed", "approved", "rejected", "edited")
# The rule for a pair that trains, and for one the filters kept: every query of pairs uses these.
TRAINABLE = "status IN ('approved','edited')"
KEPT = "status IN ('proposed','approved','edited')"

# Each migration is applied once, in order, inside one transaction. Append, never edit.
MIGRATIONS: list[str] = [
    # 1: the whole pipeline's tables
    """
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE documents(
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,          -- absolute path (or upload path inside the workspace)
        name TEXT NOT NULL,
        sha256 TEXT,
        type TEXT,                          -- pdf | docx | markdown | text | html | jsonl
        size INTEGER,
        pages INTEGER,
        language TEXT,                      -- zh | en | mixed | unknown
        status TEXT NOT NULL CHECK(status IN ('ok','error')),
        error TEXT,
        n_chunks INTEGER NOT NULL DEFAULT 0,
        ingested_at TEXT NOT NULL
    );
    CREATE TABLE chunks(
        id TEXT PRIMARY KEY,                -- stable: hash of (document sha256, text, ordinal among equals)
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,               -- position within the document
        ext_id TEXT,                        -- the id a JSONL knowledge-base export gave the chunk
        page_start INTEGER,
        page_end INTEGER,
        heading TEXT,                       -- heading path, ' > ' separated
        text TEXT NOT NULL CHECK(length(trim(text)) > 0),
        n_tokens INTEGER,
        language TEXT,
        split TEXT CHECK(split IN ('train','val','test') OR split IS NULL)
    );
    CREATE INDEX chunks_doc ON chunks(document_id, ord);
    CREATE INDEX chunks_ext ON chunks(ext_id);
    CREATE TABLE pairs(
        id INTEGER PRIMARY KEY,
        chunk_id TEXT REFERENCES chunks(id) ON DELETE SET NULL,   -- the positive chunk (NULL: own passage)
        query TEXT NOT NULL,
        passage TEXT NOT NULL,              -- the exact supporting passage
        original_query TEXT,                -- set when a person edited the query (the original stays)
        source TEXT NOT NULL,               -- offline | llm:<model> | import:<file name>
        kind TEXT,                          -- question | keyword | long-tail | real
        language TEXT,
        status TEXT NOT NULL DEFAULT 'proposed' CHECK(status IN ('proposed','approved','rejected','edited')),
        reasons TEXT NOT NULL DEFAULT '[]', -- JSON list of filter reasons (why proposed->rejected)
        scores TEXT NOT NULL DEFAULT '{}',  -- JSON: round-trip rank/similarity and other evidence
        status_by TEXT,                     -- filter | user | agent | import
        status_why TEXT,
        split TEXT CHECK(split IN ('train','val','test') OR split IS NULL),
        gen_key TEXT,                       -- (chunk hash, prompt version, model): generation provenance
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX pairs_unique ON pairs(ifnull(chunk_id, ''), query, source);
    CREATE INDEX pairs_status ON pairs(status);
    CREATE TABLE pair_events(
        id INTEGER PRIMARY KEY,
        pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        action TEXT NOT NULL,               -- approve | reject | edit | filter | import | ...
        actor TEXT,
        why TEXT,
        old TEXT,
        new TEXT,
        at TEXT NOT NULL
    );
    CREATE TABLE pair_positives(            -- extra positives (imported answers in several chunks, recovered ones)
        pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
        origin TEXT,
        PRIMARY KEY(pair_id, chunk_id)
    );
    CREATE TABLE negatives(
        pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
        rank INTEGER,
        score REAL,
        pos_score REAL,
        method TEXT,                        -- dense-window | random | reranker ...
        created_at TEXT NOT NULL,
        PRIMARY KEY(pair_id, chunk_id)
    );
    CREATE TABLE llm_cache(
        key TEXT PRIMARY KEY,               -- hash of (chunk hash, prompt version, model)
        model TEXT,
        prompt_version TEXT,
        response TEXT NOT NULL,
        tokens_in INTEGER,
        tokens_out INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs(
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,                 -- generate | mine | train | eval | calibrate | export ...
        status TEXT NOT NULL CHECK(status IN ('running','done','failed','cancelled')),
        params TEXT NOT NULL DEFAULT '{}',
        result TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        artifact_dir TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE metrics(
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        model TEXT NOT NULL,                -- base | tuned | merged | <path>
        dataset TEXT NOT NULL,              -- test | val | golden:<name> | ood
        name TEXT NOT NULL,                 -- ndcg@10, mrr@10, ...
        value REAL,
        PRIMARY KEY(run_id, model, dataset, name)
    );
    CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: which process runs a stage, so `status` can tell a killed stage from a running one
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
    # 3: real question history, the golden set and diagnosed misses
    """
    ALTER TABLE pairs ADD COLUMN label REAL;            -- graded relevance of the positive (e.g. 0-4), NULL: binary
    ALTER TABLE pairs ADD COLUMN weight REAL NOT NULL DEFAULT 1.0;   -- repeat factor (real pairs vs synthetic)
    ALTER TABLE pairs ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';   -- JSON: review flags that do not reject
    ALTER TABLE pairs ADD COLUMN link_method TEXT;      -- id | title | url | exact | fuzzy | embedding (imports)
    ALTER TABLE pairs ADD COLUMN link_score REAL;
    ALTER TABLE pair_positives ADD COLUMN label REAL;   -- graded relevance of an extra positive
    CREATE TABLE import_rows(                           -- imported rows that could not be linked: kept to fix
        id INTEGER PRIMARY KEY,
        file TEXT NOT NULL,
        row_no INTEGER NOT NULL,
        data TEXT NOT NULL,                 -- JSON of the row's mapped fields
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'unlinked' CHECK(status IN ('unlinked','linked','ignored')),
        created_at TEXT NOT NULL,
        UNIQUE(file, row_no)
    );
    CREATE TABLE golden(                                -- the user's real questions with their right passages
        id INTEGER PRIMARY KEY,
        query TEXT NOT NULL UNIQUE,
        pos_ids TEXT NOT NULL DEFAULT '[]', -- JSON list of chunk ids
        status TEXT NOT NULL DEFAULT 'unlabeled' CHECK(status IN ('unlabeled','labeled','unanswerable')),
        source TEXT,                        -- typed | file:<name> | history | diagnosis
        language TEXT,
        candidates TEXT NOT NULL DEFAULT '{}',  -- JSON: dense and bm25 candidate chunk ids shown for labelling
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE misses(                                -- queries diagnosed so far, and what was done about them
        id INTEGER PRIMARY KEY,
        query TEXT NOT NULL,
        expected_chunk_id TEXT,
        cause TEXT,
        verdict TEXT,
        detail TEXT NOT NULL DEFAULT '{}',  -- JSON: the diagnosis
        status TEXT NOT NULL DEFAULT 'open',  -- open | not-a-miss | fixed:train | fixed:golden | fixed:threshold | ...
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 4: teacher scores over each training query's candidate list (tools/teacher.py), cached per teacher
    """
    CREATE TABLE teachers(
        key TEXT PRIMARY KEY,               -- name@version: what teacher_scores.teacher points at
        name TEXT NOT NULL,                 -- fusion | base | llm:<model> | cross-encoder:<id or folder> | ...
        kind TEXT NOT NULL,
        version TEXT NOT NULL,
        unit TEXT NOT NULL,                 -- cosine | logit | grade: sets the distillation temperature
        detail TEXT NOT NULL DEFAULT '{}',  -- JSON: settings and the quality check against the base
        created_at TEXT NOT NULL
    );
    CREATE TABLE teacher_scores(
        teacher TEXT NOT NULL,              -- teachers.key
        query TEXT NOT NULL,
        passage_key TEXT NOT NULL,          -- chunk id, or sha1:<digest> of a pair's own passage
        score REAL NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY(teacher, query, passage_key)
    );
    """,
    # 5: indexes for lookups and foreign-key cascades that scanned whole tables as corpora grow (issue 23):
    # pairs by chunk (the unique index is on ifnull(chunk_id, '') and serves no chunk_id = ? lookup), by split;
    # events by pair; negatives and extra positives by chunk (deleting a document's chunks cascades there)
    """
    CREATE INDEX IF NOT EXISTS pairs_chunk ON pairs(chunk_id);
    CREATE INDEX IF NOT EXISTS pairs_split ON pairs(split);
    CREATE INDEX IF NOT EXISTS pair_events_pair ON pair_events(pair_id);
    CREATE INDEX IF NOT EXISTS negatives_chunk ON negatives(chunk_id);
    CREATE INDEX IF NOT EXISTS pair_positives_chunk ON pair_positives(chunk_id);
    """,
]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WorkspaceError(BgetuneError):
    """A workspace problem the user must fix (path, lock, version)."""


class Workspace:
    """A project folder: ``bgetune.sqlite`` and ``artifacts/``. Safe to share across threads."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.exists():
            if not create:
                raise WorkspaceError(f"workspace {self.root} does not exist; create it with `bgetune ingest`")
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is a file, not a folder; pass a folder path")
        self.db_path = self.root / DB_NAME
        self.artifacts = self.root / "artifacts"
        self.artifacts.mkdir(exist_ok=True)
        self._local = threading.local()
        self._migrate()

    # ------------------------------------------------------------------ connections and transactions
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; use :meth:`tx` for atomic writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Nests as a no-op."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        for attempt in range(50):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:  # pragma: no cover - only under heavy contention
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        conn = self.conn
        conn.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
        with self.tx():
            row = conn.execute("SELECT value FROM meta WHERE key=?", (SCHEMA_VERSION_KEY,)).fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise WorkspaceError(
                    f"workspace {self.root} was written by a newer bgetune (schema {version}); upgrade bgetune"
                )
            for i in range(version, len(MIGRATIONS)):
                for stmt in _split_sql(MIGRATIONS[i]):
                    conn.execute(stmt)
            if version != len(MIGRATIONS):
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                    (SCHEMA_VERSION_KEY, str(len(MIGRATIONS))),
                )

    @property
    def schema_version(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key=?", (SCHEMA_VERSION_KEY,)) or 0)

    # ------------------------------------------------------------------ settings (user choices, JSON values)
    def get_setting(self, key: str, default: Any = None) -> Any:
        raw = self.scalar("SELECT value FROM settings WHERE key=?", (key,))
        return default if raw is None else json.loads(raw)

    def set_setting(self, key: str, value: Any) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO settings(key, value) VALUES(?, ?)", (key, json.dumps(value)))

    def settings(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.query("SELECT key, value FROM settings")}

    # ------------------------------------------------------------------ documents and chunks
    def documents(self, *, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM documents" + (" WHERE status=?" if status else "") + " ORDER BY id"
        return [dict(r) for r in self.query(sql, (status,) if status else ())]

    def chunks(self, *, document_id: int | None = None, split: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if document_id is not None:
            where.append("c.document_id=?")
            params.append(document_id)
        if split is not None:
            where.append("c.split=?")
            params.append(split)
        sql = (
            "SELECT c.*, d.name AS document_name, d.path AS document_path FROM chunks c "
            "JOIN documents d ON d.id=c.document_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.document_id, c.ord"
        )
        return [dict(r) for r in self.query(sql, params)]

    def chunk(self, chunk_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT c.*, d.name AS document_name, d.path AS document_path FROM chunks c "
            "JOIN documents d ON d.id=c.document_id WHERE c.id=?",
            (chunk_id,),
        ).fetchone()
        return dict(row) if row else None

    # ------------------------------------------------------------------ pairs: the rules, in one place
    def pair_counts(self) -> dict[str, int]:
        """Pairs by status (every status present, 0 when none)."""
        rows = self.query("SELECT status, count(*) n FROM pairs GROUP BY status")
        return {s: 0 for s in PAIR_STATUSES} | {r["status"]: r["n"] for r in rows}

    def count_pairs(
        self, *, trainable: bool = False, kept: bool = False, split: str | None = None, unsplit: bool = False
    ) -> int:
        """How many pairs: ``trainable`` (approved or edited: what trains), ``kept`` (not rejected), in ``split``,
        or ``unsplit`` (kept without a split yet)."""
        where = []
        if trainable:
            where.append(TRAINABLE)
        if kept or unsplit:
            where.append(KEPT)
        if unsplit:
            where.append("split IS NULL")
        params: list[Any] = []
        if split is not None:
            where.append("split=?")
            params.append(split)
        sql = "SELECT count(*) FROM pairs" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self.scalar(sql, params) or 0)

    def stats(self) -> dict[str, Any]:
        """Counts per stage, for `bgetune status` and the agent."""
        docs = self.query(
            "SELECT status, count(*) n, coalesce(sum(pages),0) p FROM documents GROUP BY status"
        )
        by_status = {r["status"]: (r["n"], r["p"]) for r in docs}
        langs = self.query("SELECT language, count(*) n FROM chunks GROUP BY language")
        splits = self.query("SELECT split, count(*) n FROM pairs WHERE split IS NOT NULL GROUP BY split")
        last_runs = [
            {"kind": r["kind"], "status": _live_status(r), "id": r["id"], "finished_at": r["finished_at"]}
            for r in self.query(
                "SELECT kind, status, id, finished_at, pid, host FROM runs ORDER BY started_at DESC LIMIT 10"
            )
        ]
        return {
            "workspace": str(self.root),
            "documents": by_status.get("ok", (0, 0))[0],
            "documents_failed": by_status.get("error", (0, 0))[0],
            "pages": by_status.get("ok", (0, 0))[1],
            "chunks": self.scalar("SELECT count(*) FROM chunks"),
            "chunk_languages": {r["language"] or "unknown": r["n"] for r in langs},
            "pairs": self.pair_counts(),
            "splits": {r["split"]: r["n"] for r in splits},
            "negatives": self.scalar("SELECT count(*) FROM negatives"),
            "runs": last_runs,
        }

    # ------------------------------------------------------------------ runs and metrics
    def start_run(self, kind: str, params: dict[str, Any] | None = None) -> str:
        run_id = f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self.tx() as c:
            c.execute(
                "INSERT INTO runs(id, kind, status, params, started_at, pid, host) VALUES(?,?,?,?,?,?,?)",
                (
                    run_id,
                    kind,
                    "running",
                    json.dumps(params or {}, default=str),
                    now_iso(),
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: str = "done",
        result: dict[str, Any] | None = None,
        error: str | None = None,
        artifact_dir: str | None = None,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE runs SET status=?, result=?, error=?, artifact_dir=coalesce(?, artifact_dir), finished_at=? "
                "WHERE id=?",
                (status, json.dumps(result or {}, default=str), error, artifact_dir, now_iso(), run_id),
            )

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def last_run(self, kind: str, *, status: str | None = "done") -> dict[str, Any] | None:
        sql = (
            "SELECT * FROM runs WHERE kind=?"
            + (" AND status=?" if status else "")
            + " ORDER BY started_at DESC LIMIT 1"
        )
        row = self.conn.execute(sql, (kind, status) if status else (kind,)).fetchone()
        return _run_dict(row) if row else None

    def record_metrics(self, run_id: str, model: str, dataset: str, values: dict[str, float]) -> None:
        with self.tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO metrics(run_id, model, dataset, name, value) VALUES(?,?,?,?,?)",
                [(run_id, model, dataset, k, float(v)) for k, v in values.items()],
            )

    def metrics(self, run_id: str) -> dict[str, dict[str, dict[str, float]]]:
        """{model: {dataset: {metric: value}}} for one run."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for r in self.query("SELECT model, dataset, name, value FROM metrics WHERE run_id=?", (run_id,)):
            out.setdefault(r["model"], {}).setdefault(r["dataset"], {})[r["name"]] = r["value"]
        return out

    # ------------------------------------------------------------------ artifacts
    def artifact_path(self, *parts: str, mkdir: bool = True) -> Path:
        """A path under artifacts/ (parent folders created). Refuses to leave the workspace."""
        path = (self.artifacts.joinpath(*parts)).resolve()
        if not path.is_relative_to(self.artifacts):
            raise WorkspaceError(f"artifact path {path} is outside the workspace {self.root}")
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def integrity_check(self) -> str:
        return str(self.scalar("PRAGMA integrity_check"))


def _live_status(row: sqlite3.Row) -> str:
    """'interrupted' for a run still marked running whose process on this machine is gone (killed, crashed)."""
    if row["status"] != "running" or row["pid"] is None or row["host"] != socket.gethostname():
        return row["status"]
    pid = int(row["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "interrupted"
    except OSError:
        pass  # exists, owned by someone else
    with contextlib.suppress(OSError, IndexError):  # a zombie (killed, not yet reaped) is gone too
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return "interrupted"
    return "running"


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    d["result"] = json.loads(d["result"] or "{}")
    return d


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    lines = [ln.split("--", 1)[0] for ln in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file so that readers see the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def swap_dir_in(tmp: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Replace the folder ``out`` by the finished folder ``tmp`` (the old one moved aside, then removed), so a
    process killed at any point leaves either the old or the new folder, never half of one."""
    import shutil

    tmp, out = Path(tmp), Path(out)
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
