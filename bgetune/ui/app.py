"""The web UI: Chat | Dataset | Results, on one workspace and one persistent agent thread.

``build_app(session_or_factory, workspace=..., settings=...)`` builds the ``gr.Blocks``; :func:`launch` starts it
(loopback by default, optional basic auth from ``BGETUNE_UI_USER`` / ``BGETUNE_UI_PASSWORD``); :func:`main` is
what ``bgetune chat`` calls. All state lives in the workspace and the agent's SQLite checkpoints, so a page
reload (or a restarted server) shows the same conversation and the same pending approval card.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bgetune.core.workspace import TRAINABLE

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bgetune import surfaces  # noqa: E402
from bgetune.core.config import Settings, redact  # noqa: E402
from bgetune.ui import caps, render  # noqa: E402
from bgetune.ui.uploads import (  # noqa: E402
    ALLOWED_SUFFIXES,
    HISTORY_SUFFIXES,
    QUESTION_SUFFIXES,
    UploadError,
    kinds,
    store_uploads,
)

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["metric", "base", "tuned", "change"]
STATUS_CHOICES = ["all", "kept", "proposed", "approved", "edited", "rejected"]
PROGRESS_EVERY_S = 0.25
CSS = """
#approval-card {border: 2px solid var(--color-accent); border-radius: 10px; padding: 10px;}
#bgetune-header h1 {margin-bottom: 0}
#golden-cands .wrap {flex-direction: column; align-items: stretch; gap: 6px}
#golden-cands label {width: 100%; align-items: flex-start; white-space: normal}
#golden-question h3 {margin-top: 4px}
#chatbot .message-wrap {padding-top: 8px}
footer {display: none !important}
"""
THEME = gr.themes.Soft(primary_hue="indigo")


class Controller:
    """Everything the UI's handlers do, on one workspace and one agent session (created on first use)."""

    def __init__(
        self,
        session: Any = None,
        *,
        workspace: str | Path | None = None,
        settings: Settings | None = None,
        thread_id: str = "main",
    ) -> None:
        self.settings = settings or Settings(workspace=Path(workspace) if workspace else None)
        self.workspace = Path(workspace or self.settings.workspace).expanduser().resolve()
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.thread_id = thread_id
        self._factory: Callable[[], Any] | None = None
        self._session: Any = None
        if session is None:
            self._factory = self._default_session
        elif callable(session) and not hasattr(session, "send"):
            self._factory = session
        else:
            self._session = session
        # plain Locks: Gradio runs each step of a streaming handler on any worker thread, so nothing held
        # across a yield may be thread-owned (an RLock would deadlock)
        self._create_lock = threading.Lock()
        self.busy = threading.Lock()
        self._ws: Any = None

    def _default_session(self) -> Any:
        from bgetune.agent.runner import AgentSession

        return AgentSession(self.workspace, self.settings, self.thread_id)

    @property
    def session(self) -> Any:
        with self._create_lock:
            if self._session is None:
                assert self._factory is not None
                self._session = self._factory()
            return self._session

    @property
    def ws(self) -> Any:
        if self._ws is None:
            from bgetune.core.workspace import Workspace

            self._ws = Workspace(self.workspace)
        return self._ws

    @property
    def mode_line(self) -> str:
        if self.settings.llm_configured:
            return f"LLM: `{self.settings.llm_model_name}`"
        return "offline mode (no LLM configured: a built-in planner and question generator)"

    # ------------------------------------------------------------------ chat
    def chat_history(self) -> list[gr.ChatMessage]:
        """The thread rebuilt from the persisted graph state (page load)."""
        try:
            history = self.session.history()
            pending = self.session.pending_approval()
        except Exception as exc:  # noqa: BLE001 - a broken checkpoint must not blank the page
            log.warning("cannot load chat history: %s", exc)
            return [gr.ChatMessage(role="assistant", content=f"⚠️ could not load the conversation: {exc}")]
        msgs = render.render_events(history)
        if pending is not None:
            msgs = render.apply_event(msgs, pending | {"type": "approval"})
        return render.finish_turn(msgs)

    def stream(
        self, events: Iterator[dict[str, Any]], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Fold events into the chat, yielding it as it changes (progress throttled)."""
        last = 0.0
        for ev in events:
            messages = render.apply_event(messages, ev)
            now = time.monotonic()
            if ev.get("type") == "progress" and now - last < PROGRESS_EVERY_S:
                continue
            last = now
            yield messages
        yield render.finish_turn(messages)

    def pending(self) -> dict[str, Any] | None:
        try:
            return self.session.pending_approval()
        except Exception:  # noqa: BLE001
            return None

    def send(self, value: dict[str, Any] | str | None, messages: list[gr.ChatMessage]) -> Iterator[Any]:
        """A user message with optional uploads, streamed."""
        if isinstance(value, str):
            value = {"text": value, "files": []}
        value = value or {}
        text = str(value.get("text") or "").strip()
        files = value.get("files") or []
        messages = list(messages or [])
        stored = store_uploads(self.workspace, files, max_file_mb=self.settings.max_file_mb or 200.0)
        if not text and not stored.stored:
            if stored.refused:
                messages.append(gr.ChatMessage(role="assistant", content="⚠️ " + stored.summary()))
            yield messages
            return
        messages.append(render.user_message(text, stored.stored))
        if stored.refused:
            messages.append(gr.ChatMessage(role="assistant", content="⚠️ " + stored.summary()))
        yield messages
        paths = [str(p) for p in stored.stored] or None
        yield from self._locked_stream(lambda: self.session.send(text, files=paths), messages)

    def resume(
        self, action: str, edits: dict[str, Any], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Answer the pending approval, streamed."""
        messages = list(messages or [])
        pending = self.pending()
        if pending is None:
            messages.append(gr.ChatMessage(role="assistant", content="Nothing is waiting for approval."))
            yield messages
            return
        word = "Approved" if action == "approve" else "Rejected"
        extra = (" with " + ", ".join(f"{k}={v}" for k, v in edits.items())) if edits else ""
        messages.append(gr.ChatMessage(role="user", content=f"{word}: {pending.get('title')}{extra}"))
        yield messages
        yield from self._locked_stream(lambda: self.session.resume(action, settings=edits or None), messages)

    def _locked_stream(
        self, start: Callable[[], Iterator[dict[str, Any]]], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Run one agent turn (``start()`` is called only once the busy lock is held) and stream its events."""
        if not self.busy.acquire(timeout=1):
            messages.append(
                gr.ChatMessage(role="assistant", content="⏳ Still busy with the last step; try again.")
            )
            yield messages
            return
        try:
            yield from self.stream(self._safe(start()), messages)
        finally:
            self.busy.release()

    def _safe(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            yield from events
        except Exception as exc:  # noqa: BLE001 - shown in the chat; the checkpoint stays usable
            log.exception("agent turn failed")
            yield {"type": "error", "content": f"{type(exc).__name__}: {redact(str(exc), self.settings)}"}

    # ------------------------------------------------------------------ dataset
    def dataset(
        self, status: str | None, reason: str | None, document: str | None, search: str | None
    ) -> tuple[list[list[Any]], dict[str, Any]]:
        from bgetune.tools.review import dataset_summary, list_pairs

        pairs = list_pairs(
            self.ws,
            status=None if status in (None, "", "all") else status,
            reason=None if reason in (None, "", "all") else reason,
            document=None if document in (None, "", "all") else document,
            search=(search or "").strip() or None,
        )
        return render.pair_rows(pairs), dataset_summary(self.ws, examples=0)

    def documents(self) -> list[str]:
        return sorted({d["name"] for d in self.ws.documents() if d.get("name")})

    def set_status(self, ids: list[int], action: str) -> str:
        from bgetune.tools import review

        if action == "approve_all":
            n = review.approve_all(self.ws)
            return f"Approved {n} proposed pair(s)."
        if not ids:
            return "Select pairs first: click rows in the table, or type their ids."
        if action == "approve":
            return f"Approved {review.approve(self.ws, ids)} pair(s): {_ids_text(ids)}."
        return f"Rejected {review.reject(self.ws, ids, why='rejected in the review tab')} pair(s): {_ids_text(ids)}."

    def edit_query(self, pair_id: int, query: str) -> str:
        from bgetune.tools import review

        p = review.edit(self.ws, int(pair_id), query=query)
        return f"Pair {p['id']} now asks: “{p['query']}” (status {p['status']})."

    # ------------------------------------------------------------------ results
    def results(self) -> dict[str, Any]:
        """What the Results tab shows, from the last finished runs."""
        ws = self.ws
        out: dict[str, Any] = {"metrics": [], "summary": "", "hist": None, "bars": None, "loss": None}
        ev = ws.last_run("eval")
        train = ws.last_run("train")
        lines = []
        if train:
            r = train.get("result") or {}
            lines.append(
                f"**Trained:** run `{train['id']}`, {r.get('steps', '?')} steps → `{r.get('model_dir', '')}`"
            )
        if ev:
            r = ev.get("result") or {}
            out["metrics"] = render.metrics_rows(r.get("metrics") or {})
            ci = r.get("ci") or {}
            lines.append(
                f"**Evaluated** on {r.get('queries', '?')} held-out queries ({r.get('split', 'test')} split), "
                f"base model `{r.get('base_model', '')}`."
            )
            if ci:
                lines.append(
                    f"nDCG@10 change {ci.get('diff', 0):+.4f} (95% CI {ci.get('low', 0):+.4f} … {ci.get('high', 0):+.4f})."
                )
            for p in r.get("plots") or []:
                name = Path(p).name
                if name == "metrics.png" and Path(p).exists():
                    out["bars"] = p
                elif name == "loss.png" and Path(p).exists():
                    out["loss"] = p
        if out["loss"] is None and train and (train.get("result") or {}).get("loss_curve"):
            from bgetune.tools import plots

            out["loss"] = str(
                plots.loss_curve(train["result"]["loss_curve"], ws.artifact_path("plots", "loss.png"))
            )
        try:  # the newest training run's own folder (artifacts/runs/<id>/), then the old places
            from bgetune.tools.layout import latest_artifacts

            arts = latest_artifacts(ws).plots
        except ImportError:
            arts = {}
        for key, name in (("hist", "score_histograms"), ("bars", "metrics"), ("loss", "loss")):
            if out[key] is None and name in arts:
                out[key] = str(arts[name])
        hist = ws.artifact_path("plots", "score_histograms.png", mkdir=False)
        if out["hist"] is None and hist.exists():
            out["hist"] = str(hist)
        cal = ws.artifact_path("calibration.json", mkdir=False)
        if cal.exists():
            try:
                c = json.loads(cal.read_text())
                lines.append(
                    f"**Threshold** (max F1): {c.get('threshold_f1', 0):.3f}; for precision "
                    f"{c.get('precision_target', '')}: "
                    f"{_fmt_threshold(c.get('threshold_precision'))}."
                )
            except (ValueError, TypeError, AttributeError):
                pass
        elif ev:
            lines.append(
                "Click **Calibrate threshold** to compute the score histograms and the relevance threshold."
            )
        if not lines:
            lines.append(
                "No results yet: train a model from the Chat tab (say *train*), then come back here."
            )
        out["summary"] = "\n\n".join(lines)
        return out

    # ------------------------------------------------------------------ capabilities (screens)
    def run_cap(self, name: str, values: dict[str, Any] | None = None, files: list[str] | None = None) -> Any:
        """Run a declared capability on this workspace (the same options, prerequisites and results as the chat)."""
        return caps.run(name, self.ws, self.settings, values, files=files)

    def store(self, files: Any, suffixes: frozenset[str]) -> list[str]:
        """Uploaded files copied into the workspace; a refused one raises with the reason."""
        items = files if isinstance(files, list) else [files] if files else []
        res = store_uploads(
            self.workspace, items, max_file_mb=self.settings.max_file_mb or 200.0, suffixes=suffixes
        )
        if res.refused:
            raise UploadError("; ".join(res.refused))
        return [str(p) for p in res.stored]

    # settings card ------------------------------------------------------
    def settings_values(self, name: str = "train") -> list[dict[str, Any]]:
        """The settings card of ``name`` with the values the workspace holds now."""
        return caps.card(name, self.ws)

    def save_settings(self, entries: list[dict[str, Any]], values: list[Any], name: str = "train") -> str:
        current = {e["name"]: e["value"] for e in self.settings_values(name)}
        edits = render.card_edits(entries, current, values)
        if not edits:
            return "Nothing changed."
        notes = []
        for key, value in edits.items():
            entry = next(e for e in entries if e["name"] == key)
            if not entry.get("remembered"):
                notes.append(f"{key} is set per run: change it on the approval card when you train")
                continue
            shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            r = self.run_cap("set_setting", {"name": key, "value": shown})
            notes.append(surfaces.result_text(r))
        return "\n\n".join(notes)

    # golden questions -----------------------------------------------------
    def golden_add(self, text: str | None, files: Any) -> Any:
        paths = self.store(files, QUESTION_SUFFIXES) if files else []
        values: dict[str, Any] = {"questions": [text]} if (text or "").strip() else {}
        if paths:  # an explicit questions file (the chat's attachments are read only when nothing is typed)
            values["path" if "path" in caps.option_names("golden_add") else "file"] = paths[0]
        return self.run_cap("golden_add", values, files=paths)

    def golden_candidates(self, qid: int | None = None, *, after: int | None = None) -> Any:
        """The candidates of question ``qid``, or of the next unlabeled question (after ``after``, wrapping)."""
        if qid is None and after is not None:
            from bgetune.tools.golden import next_unlabeled

            nxt = next_unlabeled(self.ws, after=after) or next_unlabeled(self.ws)
            qid = nxt.id if nxt else None
        return self.run_cap("golden_candidates", {"query_id": qid})

    def golden_label(self, qid: int, numbers: list[int] | None) -> Any:
        answer = " ".join(str(n) for n in sorted(numbers or [])) or "none"
        return self.run_cap("golden_label", {"answer": answer, "query_id": int(qid)})

    def golden_list(self) -> Any:
        return self.run_cap("golden_list", {})

    # diagnosis ------------------------------------------------------------
    def diagnose_result(self, query: str, expected: str | None = None, expected_id: str | None = None) -> Any:
        if not (query or "").strip():
            raise gr.Error("Type the query that misses its passage.")
        values = {
            "query": query.strip(),
            "expected": (expected or "").strip() or None,
            "expected_id": expected_id,
        }
        if expected_id:
            values["expected"] = None
        return self.run_cap("diagnose", values)

    def apply_fix(self, miss_id: int, action: str, args: dict[str, Any]) -> Any:
        known = set(caps.option_names("apply_fix"))
        values = {k: v for k, v in (args or {}).items() if k in known}
        return self.run_cap("apply_fix", values | {"miss_id": int(miss_id), "action": action})

    # history import -------------------------------------------------------
    def history_preview(self, files: Any, overrides: dict[str, str] | None = None) -> Any:
        paths = self.store(files, HISTORY_SUFFIXES)
        if not paths:
            raise gr.Error("Upload a CSV, TSV, XLSX or JSONL file of your team's questions first.")
        return self.run_cap("preview_history", {"path": paths[0], **(overrides or {})}), paths[0]

    def history_import(self, path: str, overrides: dict[str, str] | None = None) -> Any:
        return self.run_cap("import_history", {"path": path, **(overrides or {})})

    # serving --------------------------------------------------------------
    def model_dir(self) -> str | None:
        from bgetune.tools.evaluation import latest_tuned_dir

        return latest_tuned_dir(self.ws)

    def usage(self, url: str | None = None) -> str:
        folder = self.model_dir()
        if folder is None:
            return "No trained model yet: train one from the Chat tab, then come back for the code to use it."
        try:
            from bgetune.tools.serve import usage_snippets
        except ImportError:
            return f"Model folder: `{folder}` — load it with `SentenceTransformer({str(folder)!r})`."
        return render.snippets_markdown(usage_snippets(folder, url), folder, url)

    def serve(self) -> tuple[str, str]:
        r = self.run_cap("serve_model", {})
        return r.url, render.snippets_markdown(r.snippets, r.model_dir, r.url)

    def calibrate(self) -> str:
        from bgetune.tools.calibration import calibrate

        r = calibrate(self.ws)
        return f"Threshold {r.get('threshold_f1', 0):.3f} (max F1) saved to `{r.get('path', '')}`."

    def export_zip(self, anyway: bool = False) -> str:
        """The exported model as a zip (exports first if needed). When the ship decision kept the base model,
        nothing is exported unless ``anyway``."""
        from bgetune.tools.export import export_model

        train = self.ws.last_run("train")
        if train is None:
            raise gr.Error("No trained model yet: train one from the Chat tab first.")
        out = export_model(self.ws, run_id=train["id"], ship_anyway=anyway)
        if not out.get("model_dir"):
            why = out.get("text") or "the ship decision kept the base model"
            raise gr.Error(
                f"Not exported: {why} Tick “export even if the base model was kept” to export the tuned "
                "model anyway."
            )
        folder = Path(out["model_dir"])
        zpath = self.ws.artifact_path("downloads", f"bgetune-model-{train['id']}.zip")
        tmp = zpath.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    zf.write(f, Path(folder.name) / f.relative_to(folder))
        os.replace(tmp, zpath)
        return str(zpath)

    def export_jsonl(self) -> str:
        from bgetune.tools.pairs_io import export_training_jsonl

        if not self.ws.scalar(f"SELECT count(*) FROM pairs WHERE {TRAINABLE}"):
            raise gr.Error("No approved pairs yet: approve pairs in the Dataset tab first.")
        path = self.ws.artifact_path("downloads", "train.jsonl")
        split = "train" if self.ws.scalar("SELECT count(*) FROM pairs WHERE split='train'") else "all"
        export_training_jsonl(self.ws, path, split=split)
        return str(path)


def _ids_text(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")


def parse_ids(text: str | None) -> list[int]:
    """``"3, 5 7"`` -> [3, 5, 7]; anything else is ignored."""
    import re

    return sorted({int(x) for x in re.findall(r"\d+", text or "")})


def _fmt_threshold(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, int | float) else "not reachable on this data"


def _frame(rows: list[list[Any]], columns: list[str]) -> Any:
    """A table value that keeps its headers when empty."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _err(exc: Exception) -> str:
    return f"⚠️ {exc}"


# ---------------------------------------------------------------------------------------------- the app
MAX_FIXES = 6
FIELDS_PER_ROW = 4


def setting_component(
    entry: dict[str, Any], prefix: str, *, value: Any = None, visible: bool = True, interactive: bool = True
) -> Any:
    """One settings field from a settings-card entry (``surfaces.settings_card``): its kind, label, limits, help."""
    kind = render.setting_kind(entry)
    common: dict[str, Any] = {
        "label": render.setting_label(entry),
        "info": entry.get("help") or None,
        "visible": visible,
        "interactive": interactive,
        "elem_id": f"{prefix}{entry['name']}",
    }
    v = render.display_setting(entry, value)
    if kind == "bool":
        return gr.Checkbox(value=bool(v), **common)
    if kind == "choice":
        return gr.Dropdown([str(c) for c in entry["choices"]], value=v, **common)
    if kind == "int":
        # limits are checked by render.typed_setting, whose message names the setting (gr.Number's does not)
        return gr.Number(value=v, precision=0, **common)
    return gr.Textbox(value=v, **common)


def setting_fields(entries: list[dict[str, Any]], prefix: str, **kw: Any) -> list[Any]:
    """Fields for ``entries``, FIELDS_PER_ROW to a row."""
    out = []
    for i in range(0, len(entries), FIELDS_PER_ROW):
        with gr.Row():
            for e in entries[i : i + FIELDS_PER_ROW]:
                out.append(setting_component(e, prefix, value=e.get("value"), **kw))
    return out


def history_column_options() -> dict[str, str]:
    """History field (question, answer, ...) -> the import option naming its column (question_col, ...)."""
    from bgetune.tools.history import HistoryOptions

    out: dict[str, str] = {}
    for f in dataclasses.fields(HistoryOptions):
        if f.name.endswith("_col"):
            probe = HistoryOptions(path="-", **{f.name: "\0"})
            out.update({k: f.name for k, v in probe.overrides().items() if v == "\0"})
    return out


def build_app(
    graph_or_session_factory: Any = None,
    *,
    workspace: str | Path | None = None,
    settings: Settings | None = None,
    thread_id: str = "main",
) -> gr.Blocks:
    """The UI. ``graph_or_session_factory``: an AgentSession-like object, a zero-argument factory of one, or
    None for ``AgentSession(workspace, settings, thread_id)`` (created on first use)."""
    ctl = Controller(graph_or_session_factory, workspace=workspace, settings=settings, thread_id=thread_id)
    card_entries = caps.approval_fields()  # every setting a gated capability has, from the table
    train_entries = caps.card("train")
    hidden = "hidden"

    with gr.Blocks(title="bgetune", analytics_enabled=False) as demo:
        demo.controller = ctl  # type: ignore[attr-defined]  # for tests and embedding
        demo.card_entries = card_entries  # type: ignore[attr-defined]
        demo.train_entries = train_entries  # type: ignore[attr-defined]
        gr.Markdown(
            f"# bgetune\nFine-tune a BGE embedding model on your own documents. Workspace `{ctl.workspace}` · "
            f"{ctl.mode_line}",
            elem_id="bgetune-header",
        )
        messages = gr.State([])
        with gr.Tabs():
            # ---------------------------------------------------------------- chat
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(
                    label="bgetune",
                    show_label=False,
                    height=520,
                    elem_id="chatbot",
                    placeholder="Drop PDFs, Word, Markdown, HTML or JSONL files below and say "
                    "**fine-tune bge on this**; drop a CSV/XLSX of your team's questions to import them. "
                    "I ask before anything costly.",
                    buttons=["copy"],
                )
                with gr.Group(visible=False, elem_id="approval-card") as card:
                    card_md = gr.Markdown(elem_id="approval-text")
                    fields = setting_fields(card_entries, "set-", visible=False)
                    f_other = gr.Code(label="other settings (JSON)", language="json", visible=False)
                    with gr.Row():
                        approve_btn = gr.Button("Approve and run", variant="primary", elem_id="approve-btn")
                        reject_btn = gr.Button("Reject", variant="stop", elem_id="reject-btn")
                    shown = gr.State({})
                box = gr.MultimodalTextbox(
                    placeholder="Type a message, or drop documents or a questions file here…",
                    file_count="multiple",
                    file_types=sorted(ALLOWED_SUFFIXES),
                    show_label=False,
                    elem_id="chat-input",
                    autofocus=True,
                )
                gr.Examples(
                    ["fine-tune bge on this", "show pairs", "approve all", "train", "status", "help"],
                    inputs=box,
                    label="Try",
                )

            # ---------------------------------------------------------------- dataset
            with gr.Tab("Dataset", id="dataset"):
                ds_summary = gr.Markdown(elem_id="dataset-summary")
                with gr.Row():
                    flt_status = gr.Dropdown(STATUS_CHOICES, value="all", label="status", scale=1)
                    flt_reason = gr.Dropdown(["all"], value="all", label="filter reason", scale=1)
                    flt_doc = gr.Dropdown(["all"], value="all", label="document", scale=1)
                    flt_search = gr.Textbox(label="search", placeholder="text in query or passage", scale=2)
                    refresh_ds = gr.Button("Refresh", scale=0, min_width=90)
                table = gr.Dataframe(
                    headers=render.DATASET_COLUMNS,
                    datatype=["number", "str", "str", "str", "str", "str", "str"],
                    interactive=True,
                    static_columns=[0, 1, 3, 4, 5, 6],
                    wrap=True,
                    max_height=460,
                    column_widths=["6%", "9%", "28%", "33%", "10%", "7%", "7%"],
                    label="Proposed pairs — click rows to select them; double-click a query to edit it in place",
                    elem_id="pairs-table",
                )
                rows_state = gr.State([])
                with gr.Row():
                    sel_ids = gr.Textbox(
                        label="selected ids", placeholder="e.g. 3, 7, 12", scale=3, elem_id="sel-ids"
                    )
                    approve_sel = gr.Button("Approve selected", scale=1, elem_id="approve-sel")
                    reject_sel = gr.Button("Reject selected", variant="stop", scale=1, elem_id="reject-sel")
                    approve_all = gr.Button(
                        "Approve all proposed", variant="primary", scale=1, elem_id="approve-all"
                    )
                with gr.Accordion("Edit a query", open=False, elem_id="edit-accordion"):
                    with gr.Row():
                        edit_id = gr.Number(label="pair id", precision=0, scale=1, elem_id="edit-id")
                        edit_q = gr.Textbox(label="new query", scale=4, elem_id="edit-query")
                        edit_btn = gr.Button("Save edit", scale=1, elem_id="edit-save")
                ds_note = gr.Markdown(elem_id="dataset-note")
                with gr.Accordion(
                    f"Import your team's real questions (question history: {kinds(HISTORY_SUFFIXES)})",
                    open=False,
                    elem_id="history-accordion",
                ):
                    with gr.Row():
                        hist_file = gr.File(
                            label="questions file",
                            file_types=sorted(HISTORY_SUFFIXES),
                            height=120,
                            elem_id="history-file",
                            scale=3,
                        )
                        hist_prev_btn = gr.Button("Preview columns", scale=1, elem_id="history-preview")
                    hist_md = gr.Markdown(elem_id="history-text")
                    hist_cols = gr.Dataframe(
                        headers=render.PREVIEW_COLUMNS,
                        interactive=True,
                        static_columns=[0],
                        label="Detected columns — type another column name to change one",
                        visible=False,
                        elem_id="history-columns",
                    )
                    hist_sample = gr.Dataframe(
                        label="First rows as they will be read", visible=False, wrap=True, interactive=False
                    )
                    hist_confirm = gr.Button(
                        "Confirm import", variant="primary", visible=False, elem_id="history-confirm"
                    )
                    hist_state = gr.State({})

            # ---------------------------------------------------------------- golden questions
            with gr.Tab("Golden questions", id="golden") as golden_tab:
                gr.Markdown(
                    "Your team's real questions, each with the passage(s) that answer it: the evidence that "
                    "decides whether a tuned model ships. Paste a few dozen (one per line) or upload a "
                    f"{kinds(QUESTION_SUFFIXES)} file, then label them one by one."
                )
                with gr.Row():
                    gold_text = gr.Textbox(
                        label="questions, one per line",
                        lines=4,
                        scale=3,
                        elem_id="golden-text",
                        placeholder="how do I cite R?\nwhere is the GPL text?",
                    )
                    gold_file = gr.File(
                        label="or a file", file_types=sorted(QUESTION_SUFFIXES), height=120, scale=2
                    )
                    gold_add_btn = gr.Button(
                        "Add questions", variant="primary", scale=1, elem_id="golden-add"
                    )
                gold_note = gr.Markdown(elem_id="golden-note")
                with gr.Group(elem_id="golden-card"):
                    gold_q = gr.Markdown(elem_id="golden-question")
                    gold_cands = gr.CheckboxGroup(
                        choices=[], label="candidate passages", visible=False, elem_id="golden-cands"
                    )
                    with gr.Row():
                        gold_save = gr.Button("Save label", variant="primary", elem_id="golden-save")
                        gold_none = gr.Button("None of these", elem_id="golden-none")
                        gold_skip = gr.Button("Skip", elem_id="golden-skip")
                gold_qid = gr.State(None)
                gold_table = gr.Dataframe(
                    headers=render.GOLDEN_COLUMNS,
                    interactive=False,
                    wrap=True,
                    max_height=360,
                    column_widths=["7%", "14%", "49%", "30%"],
                    label="Golden questions",
                    elem_id="golden-table",
                )

            # ---------------------------------------------------------------- results
            with gr.Tab("Results", id="results"):
                res_summary = gr.Markdown(elem_id="results-summary")
                with gr.Row():
                    refresh_res = gr.Button("Refresh", scale=0, min_width=90)
                    calib_btn = gr.Button(
                        "Calibrate threshold", scale=0, min_width=180, elem_id="calibrate-btn"
                    )
                res_note = gr.Markdown()
                metrics_tbl = gr.Dataframe(
                    headers=METRIC_COLUMNS,
                    interactive=False,
                    label="Retrieval metrics on held-out documents",
                    elem_id="metrics-table",
                )
                with gr.Row():
                    hist_img = gr.Image(
                        label="Score histograms with the threshold",
                        type="filepath",
                        interactive=False,
                        height=300,
                        elem_id="hist-img",
                    )
                    bars_img = gr.Image(
                        label="Before / after",
                        type="filepath",
                        interactive=False,
                        height=300,
                        elem_id="bars-img",
                    )
                loss_img = gr.Image(
                    label="Training loss", type="filepath", interactive=False, height=300, elem_id="loss-img"
                )
                with gr.Accordion("Why does this query miss?", open=True, elem_id="diagnosis"):
                    with gr.Row():
                        dq = gr.Textbox(label="query", scale=3, elem_id="diag-query")
                        dexp = gr.Textbox(
                            label="expected answer (optional)",
                            placeholder="its text, or 'R-FAQ.pdf p. 12' — or click the right row below",
                            scale=3,
                            elem_id="diag-expected",
                        )
                        dbtn = gr.Button("Diagnose", scale=1, variant="primary", elem_id="diag-btn")
                    d_head = gr.Markdown(elem_id="diag-head")
                    with gr.Row(equal_height=False):
                        d_base = gr.Dataframe(
                            headers=render.DIAG_COLUMNS,
                            interactive=False,
                            wrap=True,
                            label="base model",
                            column_widths=["5%", "10%", "8%", "10%", "16%", "7%", "44%"],
                            elem_id="diag-base",
                        )
                        d_tuned = gr.Dataframe(
                            headers=render.DIAG_COLUMNS,
                            interactive=False,
                            wrap=True,
                            label="tuned model",
                            column_widths=["5%", "10%", "8%", "10%", "16%", "7%", "44%"],
                            elem_id="diag-tuned",
                        )
                    with gr.Row():
                        fix_btns = [gr.Button(visible=False, elem_id=f"fix-{i}") for i in range(MAX_FIXES)]
                    d_note = gr.Markdown(elem_id="diag-note")
                    d_state = gr.State({})
                with gr.Accordion("Use your model", open=True, elem_id="use-model"):
                    use_md = gr.Markdown(elem_id="use-model-text")
                    serve_btn = gr.Button(
                        "Start the embeddings server (OpenAI-compatible)", elem_id="serve-btn", size="sm"
                    )
                with gr.Row():
                    zip_btn = gr.Button("Export model (.zip)")
                    jsonl_btn = gr.Button("Training data (.jsonl)")
                    anyway = gr.Checkbox(
                        label="export even if the base model was kept",
                        info="the ship decision keeps the base model when the tuned one is not clearly better",
                        value=False,
                        elem_id="export-anyway",
                    )
                downloads = gr.File(
                    label="Downloads",
                    file_count="multiple",
                    interactive=False,
                    height=140,
                    elem_id="downloads",
                )
                dl_state = gr.State([])

            # ---------------------------------------------------------------- settings
            with gr.Tab("Settings", id="settings"):
                gr.Markdown(
                    "Training settings. Remembered ones are stored in the workspace and used by the next "
                    "*train*; the others are set per run on the approval card. Empty = the default."
                )
                remembered = [e for e in train_entries if e["remembered"]]
                set_fields = setting_fields(remembered, "cfg-", interactive=True)
                with gr.Accordion("Set per run (on the approval card)", open=False):
                    setting_fields(
                        [e for e in train_entries if not e["remembered"]], "cfg-", interactive=False
                    )
                with gr.Row():
                    save_set = gr.Button("Save settings", variant="primary", scale=0, elem_id="settings-save")
                    reload_set = gr.Button("Reload", scale=0)
                set_note = gr.Markdown(elem_id="settings-note")

        # ==================================================================== handlers
        def card_updates(payload: dict[str, Any] | None) -> list[Any]:
            if not payload:
                return (
                    [gr.update(visible=False), "", {}]
                    + [gr.update(visible=False)] * len(fields)
                    + [gr.update(visible=False)]
                )
            settings_shown = dict(payload.get("settings") or {})
            ups = []
            for entry in card_entries:
                name = entry["name"]
                if name in settings_shown:
                    ups.append(
                        gr.update(visible=True, value=render.display_setting(entry, settings_shown[name]))
                    )
                else:
                    ups.append(gr.update(visible=False, value=render.display_setting(entry, None)))
            known = {e["name"] for e in card_entries}
            other = {k: v for k, v in settings_shown.items() if k not in known}
            other_up = gr.update(visible=bool(other), value=json.dumps(other, indent=1) if other else "")
            return [
                gr.update(visible=True),
                render.approval_markdown(payload),
                settings_shown,
                *ups,
                other_up,
            ]

        card_outputs = [card, card_md, shown, *fields, f_other]

        def refresh_card() -> list[Any]:
            return card_updates(ctl.pending())

        def on_load() -> list[Any]:
            history = ctl.chat_history()
            return [history, history, *card_updates(ctl.pending())]

        def on_send(value: Any, msgs: list[Any]) -> Iterator[Any]:
            hide = gr.update(visible=False)
            last = msgs
            for last in ctl.send(value, msgs):
                yield last, last, gr.MultimodalTextbox(value=None, interactive=False), hide
            yield last, last, gr.MultimodalTextbox(value=None, interactive=True), gr.update()

        def gather_edits(shown_settings: dict[str, Any], other: str | None, *values: Any) -> dict[str, Any]:
            try:
                edits = render.card_edits(card_entries, shown_settings or {}, list(values))
            except ValueError as exc:
                raise gr.Error(str(exc)) from exc
            if other and other.strip():
                try:
                    entered = json.loads(other)
                except ValueError as exc:
                    raise gr.Error(f"other settings are not valid JSON: {exc}") from exc
                edits.update(render.setting_edits(shown_settings or {}, entered))
            return edits

        def on_approve(
            msgs: list[Any], shown_settings: dict[str, Any], other: str | None, *values: Any
        ) -> Iterator[Any]:
            edits = gather_edits(shown_settings, other, *values)
            last = msgs
            busy = gr.MultimodalTextbox(interactive=False)  # like a sent message: no input while it runs
            for last in ctl.resume("approve", edits, msgs):
                yield last, last, gr.update(visible=False), busy
            yield last, last, gr.update(), gr.MultimodalTextbox(interactive=True)

        def on_reject(msgs: list[Any]) -> Iterator[Any]:
            last = msgs
            busy = gr.MultimodalTextbox(interactive=False)
            for last in ctl.resume("reject", {}, msgs):
                yield last, last, gr.update(visible=False), busy
            yield last, last, gr.update(), gr.MultimodalTextbox(interactive=True)

        def load_dataset(status: str, reason: str, doc: str, search: str) -> list[Any]:
            rows, summary = ctl.dataset(status, reason, doc, search)
            reasons = ["all", *sorted((summary.get("by_reason") or {}).keys())]
            docs = ["all", *ctl.documents()]
            return [
                _frame(rows, render.DATASET_COLUMNS),
                rows,
                render.summary_markdown(summary),
                gr.update(choices=reasons, value=reason if reason in reasons else "all"),
                gr.update(choices=docs, value=doc if doc in docs else "all"),
            ]

        ds_filters = [flt_status, flt_reason, flt_doc, flt_search]
        ds_outputs = [table, rows_state, ds_summary, flt_reason, flt_doc]

        def on_select(ids_text: str, rows: list[list[Any]], evt: gr.SelectData) -> str:
            row = _row_of(evt)
            if row is None or not (0 <= row < len(rows)):
                return ids_text
            pid = int(rows[row][0])
            ids = parse_ids(ids_text)
            ids = [i for i in ids if i != pid] if pid in ids else sorted([*ids, pid])
            return ", ".join(map(str, ids))

        def on_table_edit(df: Any, rows: list[list[Any]], *filters: Any) -> list[Any]:
            """Persist queries edited in place (only the query column is editable)."""
            new_rows = df.values.tolist() if hasattr(df, "values") else list(df or [])
            old = {int(r[0]): r[2] for r in rows}
            notes = []
            for r in new_rows:
                try:
                    pid = int(r[0])
                except (TypeError, ValueError, IndexError):
                    continue
                q = str(r[2] or "").strip()
                if pid in old and q and q != old[pid]:
                    try:
                        notes.append(ctl.edit_query(pid, q))
                    except Exception as exc:  # noqa: BLE001 - shown next to the table
                        notes.append(_err(exc))
            return [*load_dataset(*filters), "\n\n".join(notes) or gr.update()]

        def on_status(action: str) -> Callable[..., list[Any]]:
            def handler(ids_text: str, *filters: Any) -> list[Any]:
                try:
                    note = ctl.set_status(parse_ids(ids_text), action)
                except Exception as exc:  # noqa: BLE001
                    return [*load_dataset(*filters), _err(exc), ids_text]
                return [*load_dataset(*filters), note, ""]

            return handler

        def on_edit(pid: Any, query: str, *filters: Any) -> list[Any]:
            if pid is None or not (query or "").strip():
                return [*load_dataset(*filters), "Give a pair id and the new query.", query]
            try:
                note = ctl.edit_query(int(pid), query)
            except Exception as exc:  # noqa: BLE001
                return [*load_dataset(*filters), _err(exc), query]
            return [*load_dataset(*filters), note, ""]

        # history import ---------------------------------------------------------
        def on_history_preview(files: Any) -> list[Any]:
            hide = gr.update(visible=False)
            try:
                preview, path = ctl.history_preview(files)
            except Exception as exc:  # noqa: BLE001 - the reason, next to the upload
                return [_err(exc), hide, hide, hide, {}]
            sample = preview.sample[:5]
            cols = list(sample[0]) if sample else ["question"]
            return [
                render.preview_markdown(preview),
                gr.update(value=_frame(render.preview_rows(preview), render.PREVIEW_COLUMNS), visible=True),
                gr.update(
                    value=_frame([[str(s.get(c, ""))[:120] for c in cols] for s in sample], cols),
                    visible=bool(sample),
                ),
                gr.update(visible=True),
                {"path": path, "columns": dict(preview.columns)},
            ]

        def on_history_import(df: Any, state: dict[str, Any], *filters: Any) -> list[Any]:
            if not state.get("path"):
                return [*load_dataset(*filters), "Preview a questions file first.", gr.update()]
            rows = df.values.tolist() if hasattr(df, "values") else list(df or [])
            option_of = history_column_options()
            overrides = {}
            for field_name, column in ((str(r[0]), str(r[1] or "").strip()) for r in rows if len(r) >= 2):
                if field_name in option_of and column and column != state["columns"].get(field_name):
                    overrides[option_of[field_name]] = column
            try:
                res = ctl.history_import(state["path"], overrides)
            except Exception as exc:  # noqa: BLE001
                return [*load_dataset(*filters), _err(exc), gr.update()]
            return [*load_dataset(*filters), surfaces.result_text(res), gr.update(visible=False)]

        # golden questions ---------------------------------------------------------
        def golden_table() -> Any:
            try:
                questions = ctl.golden_list().questions
            except Exception:  # noqa: BLE001 - an old workspace without the golden table
                questions = []
            return _frame(render.golden_rows(questions), render.GOLDEN_COLUMNS)

        def golden_view(res: Any, note: str = "") -> list[Any]:
            q = res.question
            return [
                render.golden_question_markdown(q, res.counts),
                gr.update(choices=render.candidate_choices(res.candidates), value=[], visible=q is not None),
                q.id if q is not None else None,
                golden_table(),
                note,
            ]

        gold_outs = [gold_q, gold_cands, gold_qid, gold_table, gold_note]

        def golden_step(fn: Callable[[], tuple[Any, str]]) -> list[Any]:
            try:
                res, note = fn()
            except Exception as exc:  # noqa: BLE001 - the reason, above the card
                return [gr.update(), gr.update(), gr.update(), golden_table(), _err(exc)]
            return golden_view(res, note)

        def on_golden_add(text: str, files: Any) -> list[Any]:
            def go() -> tuple[Any, str]:
                added = ctl.golden_add(text, files)
                return ctl.golden_candidates(), surfaces.result_text(added)

            out = golden_step(go)
            ok = not str(out[-1]).startswith("⚠️")
            return [*out, "" if ok else gr.update(), None if ok else gr.update()]

        def on_golden_save(qid: int | None, picked: list[int] | None) -> list[Any]:
            if qid is None:
                return golden_step(lambda: (ctl.golden_candidates(), "No question to label yet."))
            if not picked:
                return [gr.update()] * 4 + ["Tick the passages that answer it, or click **None of these**."]

            def go() -> tuple[Any, str]:
                res = ctl.golden_label(int(qid), [int(p) for p in picked])
                return ctl.golden_candidates(), surfaces.result_text(res)

            return golden_step(go)

        def on_golden_none(qid: int | None) -> list[Any]:
            if qid is None:
                return golden_step(lambda: (ctl.golden_candidates(), "No question to label yet."))

            def go() -> tuple[Any, str]:
                res = ctl.golden_label(int(qid), [])
                return ctl.golden_candidates(), surfaces.result_text(res)

            return golden_step(go)

        def on_golden_skip(qid: int | None) -> list[Any]:
            return golden_step(lambda: (ctl.golden_candidates(after=qid), ""))

        def on_golden_tab(qid: int | None) -> list[Any]:
            if qid is not None:
                return [gr.update()] * 3 + [golden_table(), gr.update()]
            from bgetune.tools.golden import golden_counts

            try:
                counts = golden_counts(ctl.ws)
            except Exception:  # noqa: BLE001
                return [gr.update()] * 3 + [golden_table(), gr.update()]
            if not counts.unlabeled or not ctl.ws.scalar("SELECT count(*) FROM chunks"):
                return [render.golden_question_markdown(None, counts), gr.update(visible=False), None,
                        golden_table(), ""]  # fmt: skip
            return golden_step(lambda: (ctl.golden_candidates(), ""))

        # results ---------------------------------------------------------------
        def load_results() -> list[Any]:
            r = ctl.results()
            return [
                r["summary"],
                _frame(r["metrics"], METRIC_COLUMNS),
                r["hist"],
                r["bars"],
                r["loss"],
                ctl.usage(),
            ]

        res_outputs = [res_summary, metrics_tbl, hist_img, bars_img, loss_img, use_md]

        def on_calibrate() -> list[Any]:
            try:
                note = ctl.calibrate()
            except Exception as exc:  # noqa: BLE001
                note = _err(exc)
            return [*load_results(), note]

        def diag_view(d: Any, note: str = "", pick: dict[str, Any] | None = None) -> list[Any]:
            state = {
                "query": d.query,
                "miss_id": d.miss_id,
                "actions": [{"action": a.action, "args": a.args, "label": a.label("en")} for a in d.actions],
                "base": [r.chunk_id for r in d.base.results],
                "tuned": [r.chunk_id for r in d.tuned.results] if d.tuned else [],
                "rows": {
                    m.model: [
                        f"{r.document}"
                        + (f" p.{r.page}" if r.page else "")
                        + f" — result {r.rank} ({m.model})"
                        for r in m.results
                    ]
                    for m in (d.base, d.tuned)
                    if m is not None
                },
            } | (pick or {})
            buttons = []
            for i in range(MAX_FIXES):
                if i < len(d.actions) and d.miss_id is not None:
                    buttons.append(gr.update(visible=True, value=d.actions[i].label("en"), interactive=True))
                else:
                    buttons.append(gr.update(visible=False))
            return [
                render.diagnosis_head(d, "en"),
                gr.update(
                    value=_frame(render.ranking_rows(d.base), render.DIAG_COLUMNS),
                    label=render.ranking_label(d.base, "base model"),
                ),
                gr.update(
                    value=_frame(render.ranking_rows(d.tuned), render.DIAG_COLUMNS),
                    label=render.ranking_label(d.tuned, "tuned model"),
                    visible=d.tuned is not None,  # no tuned model yet: the base list takes the width
                ),
                *buttons,
                state,
                note,
            ]

        def diag_error(exc: Exception) -> list[Any]:
            return [gr.update()] * (3 + MAX_FIXES) + [gr.update(), _err(exc)]

        diag_outs = [d_head, d_base, d_tuned, *fix_btns, d_state, d_note]

        def on_diagnose(q: str, exp: str, state: dict[str, Any]) -> list[Any]:
            picked = state.get("pick_id") if exp and exp == state.get("pick_text") else None
            try:
                d = ctl.diagnose_result(q, None if picked else exp, picked)
            except Exception as exc:  # noqa: BLE001
                return diag_error(exc)
            return diag_view(d, pick={"pick_id": picked, "pick_text": exp} if picked else None)

        def on_pick(model: str) -> Callable[..., list[Any]]:
            def handler(q: str, exp: str, state: dict[str, Any], evt: gr.SelectData) -> list[Any]:
                row = _row_of(evt)
                ids = (state or {}).get(model) or []
                if row is None or not (0 <= row < len(ids)):
                    return [exp, *diag_error(ValueError("click a row of the last diagnosis's results"))]
                text = state["rows"][model][row]
                try:
                    d = ctl.diagnose_result(state.get("query") or q, None, ids[row])
                except Exception as exc:  # noqa: BLE001
                    return [exp, *diag_error(exc)]
                note = f"Picked {text} as the expected answer."
                return [text, *diag_view(d, note, {"pick_id": ids[row], "pick_text": text})]

            return handler

        def on_fix(i: int) -> Callable[[dict[str, Any]], list[Any]]:
            def handler(state: dict[str, Any]) -> list[Any]:
                acts = (state or {}).get("actions") or []
                if i >= len(acts) or state.get("miss_id") is None:
                    return [gr.update(), "Diagnose a query first."]
                a = acts[i]
                try:
                    res = ctl.apply_fix(int(state["miss_id"]), a["action"], a["args"])
                except Exception as exc:  # noqa: BLE001
                    return [gr.update(), _err(exc)]
                return [gr.update(value="✓ " + a["label"], interactive=False), surfaces.result_text(res)]

            return handler

        def on_serve() -> list[Any]:
            try:
                _url, md = ctl.serve()
            except Exception as exc:  # noqa: BLE001
                return [gr.update(), _err(exc)]
            return [md, gr.update()]

        def on_download(kind: str) -> Callable[..., list[Any]]:
            def handler(current: list[str], export_anyway: bool = False) -> list[Any]:
                try:
                    path = ctl.export_zip(bool(export_anyway)) if kind == "zip" else ctl.export_jsonl()
                except gr.Error:
                    raise
                except Exception as exc:  # noqa: BLE001
                    raise gr.Error(str(exc)) from exc
                files = [p for p in current or [] if p != path and Path(p).exists()] + [path]
                return [files, files]

            return handler

        # settings ---------------------------------------------------------------
        def load_settings() -> list[Any]:
            values = {e["name"]: e["value"] for e in ctl.settings_values("train")}
            return [render.display_setting(e, values.get(e["name"])) for e in remembered]

        def on_save_settings(*values: Any) -> list[Any]:
            try:
                note = ctl.save_settings(remembered, list(values))
            except Exception as exc:  # noqa: BLE001
                return [*load_settings(), _err(exc)]
            return [*load_settings(), note]

        # ==================================================================== wiring
        quiet = {"show_progress": hidden}
        demo.load(on_load, None, [chatbot, messages, *card_outputs], api_name="load_chat", **quiet)
        demo.load(load_dataset, ds_filters, ds_outputs, api_visibility="private", **quiet)
        demo.load(load_results, None, res_outputs, api_visibility="private", **quiet)
        demo.load(load_settings, None, set_fields, api_name="settings", **quiet)

        def refresh_after(ev: Any) -> None:
            ev.then(refresh_card, None, card_outputs, api_visibility="private", **quiet).then(
                load_dataset, ds_filters, ds_outputs, api_visibility="private", **quiet
            ).then(load_results, None, res_outputs, api_visibility="private", **quiet).then(
                load_settings, None, set_fields, api_visibility="private", **quiet
            )

        refresh_after(
            box.submit(
                on_send,
                [box, messages],
                [chatbot, messages, box, card],
                api_name="send",
                concurrency_id="agent",
            )
        )
        appr = approve_btn.click(
            on_approve,
            [messages, shown, f_other, *fields],
            [chatbot, messages, card, box],
            api_name="approve",
            concurrency_id="agent",
        )
        rej = reject_btn.click(
            on_reject, [messages], [chatbot, messages, card, box], api_name="reject", concurrency_id="agent"
        )
        refresh_after(appr)
        refresh_after(rej)
        gr.on(
            [refresh_ds.click, flt_status.change, flt_reason.input, flt_doc.input, flt_search.submit],
            load_dataset,
            ds_filters,
            ds_outputs,
            api_name="dataset",
        )
        table.select(on_select, [sel_ids, rows_state], sel_ids, api_visibility="private")
        table.input(
            on_table_edit, [table, rows_state, *ds_filters], [*ds_outputs, ds_note], api_name="table_edit"
        )
        for btn, action in ((approve_sel, "approve"), (reject_sel, "reject"), (approve_all, "approve_all")):
            btn.click(
                on_status(action),
                [sel_ids, *ds_filters],
                [*ds_outputs, ds_note, sel_ids],
                api_name=f"pairs_{action}",
            )
        edit_btn.click(
            on_edit, [edit_id, edit_q, *ds_filters], [*ds_outputs, ds_note, edit_q], api_name="edit_query"
        )
        hist_prev_btn.click(
            on_history_preview,
            [hist_file],
            [hist_md, hist_cols, hist_sample, hist_confirm, hist_state],
            api_name="history_preview",
        )
        hist_confirm.click(
            on_history_import,
            [hist_cols, hist_state, *ds_filters],
            [*ds_outputs, hist_md, hist_confirm],
            api_name="history_import",
            concurrency_id="agent",
        )
        gold_add_btn.click(
            on_golden_add, [gold_text, gold_file], [*gold_outs, gold_text, gold_file], api_name="golden_add"
        )
        gold_save.click(on_golden_save, [gold_qid, gold_cands], gold_outs, api_name="golden_label")
        gold_none.click(on_golden_none, [gold_qid], gold_outs, api_name="golden_none")
        gold_skip.click(on_golden_skip, [gold_qid], gold_outs, api_name="golden_skip")
        golden_tab.select(on_golden_tab, [gold_qid], gold_outs, api_name="golden_next")
        refresh_res.click(load_results, None, res_outputs, api_name="results")
        calib_btn.click(
            on_calibrate, None, [*res_outputs, res_note], api_name="calibrate", concurrency_id="agent"
        )
        gr.on([dbtn.click, dq.submit], on_diagnose, [dq, dexp, d_state], diag_outs, api_name="diagnose")
        d_base.select(on_pick("base"), [dq, dexp, d_state], [dexp, *diag_outs], api_name="pick_base")
        d_tuned.select(on_pick("tuned"), [dq, dexp, d_state], [dexp, *diag_outs], api_name="pick_tuned")
        for i, b in enumerate(fix_btns):
            b.click(on_fix(i), [d_state], [b, d_note], api_name=f"fix_{i}")
        serve_btn.click(on_serve, None, [use_md, res_note], api_name="serve")
        zip_btn.click(on_download("zip"), [dl_state, anyway], [downloads, dl_state], api_name="export_zip")
        jsonl_btn.click(on_download("jsonl"), [dl_state], [downloads, dl_state], api_name="export_jsonl")
        save_set.click(on_save_settings, set_fields, [*set_fields, set_note], api_name="save_settings")
        reload_set.click(load_settings, None, set_fields, api_visibility="private")
    return demo


def _row_of(evt: Any) -> int | None:
    row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    return row if isinstance(row, int) else None


# ---------------------------------------------------------------------------------------------- launching
def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from BGETUNE_UI_USER / BGETUNE_UI_PASSWORD, or None when either is unset."""
    user, password = os.environ.get("BGETUNE_UI_USER"), os.environ.get("BGETUNE_UI_PASSWORD")
    return (user, password) if user and password else None


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    workspace: str | Path | None = None,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    open_browser: bool = False,
    quiet: bool = False,
) -> Any:
    """Start the server; ``block=False`` returns at once (tests)."""
    ws = Path(workspace).expanduser().resolve() if workspace else demo.controller.workspace
    auth = auth if auth is not None else auth_from_env()
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        log.warning(
            "bgetune UI listens on %s without a password: set BGETUNE_UI_USER and BGETUNE_UI_PASSWORD", host
        )
    max_mb = getattr(getattr(demo, "controller", None), "settings", None)
    max_mb = (max_mb.max_file_mb if max_mb else None) or 200.0
    return demo.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="bgetune: sign in with BGETUNE_UI_USER / BGETUNE_UI_PASSWORD" if auth else None,
        allowed_paths=[str(ws)],
        max_file_size=f"{max_mb:g}mb",
        prevent_thread_lock=not block,
        inbrowser=open_browser,
        quiet=quiet,
        ssr_mode=False,
        show_error=True,
        theme=THEME,
        css=CSS,
    )


def main(
    host: str = "127.0.0.1",
    port: int | None = 7860,
    workspace: str | Path | None = None,
    settings: Settings | None = None,
    thread_id: str = "main",
    open_browser: bool = False,
) -> None:
    """``bgetune chat``: the web UI on ``workspace`` (loopback unless ``host`` says otherwise)."""
    settings = settings or Settings(workspace=Path(workspace) if workspace else None)
    ws = Path(workspace or settings.workspace).expanduser().resolve()
    demo = build_app(None, workspace=ws, settings=settings, thread_id=thread_id)
    launch(demo, host=host, port=port, workspace=ws, open_browser=open_browser)


if __name__ == "__main__":
    main()
