"""The web UI: Chat | Dataset | Results, on one workspace and one persistent agent thread.

``build_app(session_or_factory, workspace=..., settings=...)`` builds the ``gr.Blocks``; :func:`launch` starts it
(loopback by default, optional basic auth from ``BGETUNE_UI_USER`` / ``BGETUNE_UI_PASSWORD``); :func:`main` is
what ``bgetune chat`` calls. All state lives in the workspace and the agent's SQLite checkpoints, so a page
reload (or a restarted server) shows the same conversation and the same pending approval card.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bgetune.config import Settings, redact  # noqa: E402
from bgetune.ui import render  # noqa: E402
from bgetune.ui.uploads import ALLOWED_SUFFIXES, store_uploads  # noqa: E402

log = logging.getLogger(__name__)

CARD_KEYS = ("epochs", "batch_size", "max_steps", "lr", "base_model", "mode", "max_chunks")
METRIC_COLUMNS = ["metric", "base", "tuned", "change"]
STATUS_CHOICES = ["all", "kept", "proposed", "approved", "edited", "rejected"]
PROGRESS_EVERY_S = 0.25
CSS = """
#approval-card {border: 2px solid var(--color-accent); border-radius: 10px; padding: 10px;}
#bgetune-header h1 {margin-bottom: 0}
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
            from bgetune.workspace import Workspace

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
        hist = ws.artifact_path("plots", "score_histograms.png", mkdir=False)
        if hist.exists():
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

    def calibrate(self) -> str:
        from bgetune.tools.calibration import calibrate

        r = calibrate(self.ws)
        return f"Threshold {r.get('threshold_f1', 0):.3f} (max F1) saved to `{r.get('path', '')}`."

    def diagnose(self, query: str, expected: str | None) -> str:
        from bgetune.tools.diagnosis import diagnose

        if not (query or "").strip():
            return "Type a query that misses its passage."
        return render.diagnosis_markdown(
            diagnose(self.ws, query.strip(), expected=(expected or "").strip() or None)
        )

    def export_zip(self) -> str:
        """The exported model as a zip (exports first if needed)."""
        from bgetune.tools.export import export_model

        train = self.ws.last_run("train")
        if train is None:
            raise gr.Error("No trained model yet: train one from the Chat tab first.")
        out = export_model(self.ws, run_id=train["id"])
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

        if not self.ws.scalar("SELECT count(*) FROM pairs WHERE status IN ('approved','edited')"):
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

    with gr.Blocks(title="bgetune", analytics_enabled=False) as demo:
        demo.controller = ctl  # type: ignore[attr-defined]  # for tests and embedding
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
                    height=520,
                    elem_id="chatbot",
                    placeholder="Drop PDFs, Word, Markdown, HTML or JSONL files below and say "
                    "**fine-tune bge on this**. I ask before anything costly.",
                    buttons=["copy"],
                )
                with gr.Group(visible=False, elem_id="approval-card") as card:
                    card_md = gr.Markdown(elem_id="approval-text")
                    with gr.Row():
                        f_epochs = gr.Number(label="epochs", precision=0, visible=False, elem_id="set-epochs")
                        f_batch = gr.Number(
                            label="batch size", precision=0, visible=False, elem_id="set-batch_size"
                        )
                        f_steps = gr.Number(
                            label="max steps (empty = all)",
                            precision=0,
                            visible=False,
                            elem_id="set-max_steps",
                        )
                        f_lr = gr.Textbox(label="learning rate", visible=False, elem_id="set-lr")
                    with gr.Row():
                        f_base = gr.Textbox(
                            label="base model",
                            placeholder="auto: the BGE model for the documents' language, else bundled",
                            visible=False,
                            elem_id="set-base_model",
                        )
                        f_mode = gr.Dropdown(
                            ["auto", "llm", "offline"],
                            label="generation mode",
                            visible=False,
                            elem_id="set-mode",
                        )
                        f_chunks = gr.Number(
                            label="max chunks (empty = all)",
                            precision=0,
                            visible=False,
                            elem_id="set-max_chunks",
                        )
                    f_other = gr.Code(label="other settings (JSON)", language="json", visible=False)
                    with gr.Row():
                        approve_btn = gr.Button("Approve and run", variant="primary", elem_id="approve-btn")
                        reject_btn = gr.Button("Reject", variant="stop", elem_id="reject-btn")
                    shown = gr.State({})
                box = gr.MultimodalTextbox(
                    placeholder="Type a message, or drop documents here…",
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
            fields = [f_epochs, f_batch, f_steps, f_lr, f_base, f_mode, f_chunks]

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
                with gr.Accordion("Why does this query miss?", open=True):
                    with gr.Row():
                        dq = gr.Textbox(label="query", scale=3)
                        dexp = gr.Textbox(label="expected passage (optional)", scale=3)
                        dbtn = gr.Button("Diagnose", scale=1)
                    dout = gr.Markdown()
                with gr.Row():
                    zip_btn = gr.Button("Export model (.zip)")
                    jsonl_btn = gr.Button("Training data (.jsonl)")
                downloads = gr.File(
                    label="Downloads",
                    file_count="multiple",
                    interactive=False,
                    height=140,
                    elem_id="downloads",
                )
                dl_state = gr.State([])

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
            for key, comp in zip(CARD_KEYS, fields, strict=True):
                if key in settings_shown:
                    v = settings_shown[key]
                    if comp is f_lr and v is not None:
                        v = f"{v:g}" if isinstance(v, float) else str(v)
                    ups.append(gr.update(visible=True, value=v))
                else:
                    ups.append(gr.update(visible=False, value=None))
            other = {k: v for k, v in settings_shown.items() if k not in CARD_KEYS}
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
            entered = dict(zip(CARD_KEYS, values, strict=True))
            if other and other.strip():
                try:
                    entered.update(json.loads(other))
                except ValueError as exc:
                    raise gr.Error(f"other settings are not valid JSON: {exc}") from exc
            return render.setting_edits(shown_settings or {}, entered)

        def on_approve(
            msgs: list[Any], shown_settings: dict[str, Any], other: str | None, *values: Any
        ) -> Iterator[Any]:
            edits = gather_edits(shown_settings, other, *values)
            last = msgs
            for last in ctl.resume("approve", edits, msgs):
                yield last, last, gr.update(visible=False)
            yield last, last, gr.update()

        def on_reject(msgs: list[Any]) -> Iterator[Any]:
            last = msgs
            for last in ctl.resume("reject", {}, msgs):
                yield last, last, gr.update(visible=False)

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
            row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            if not isinstance(row, int) or not (0 <= row < len(rows)):
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

        def load_results() -> list[Any]:
            r = ctl.results()
            return [r["summary"], _frame(r["metrics"], METRIC_COLUMNS), r["hist"], r["bars"], r["loss"]]

        res_outputs = [res_summary, metrics_tbl, hist_img, bars_img, loss_img]

        def on_calibrate() -> list[Any]:
            try:
                note = ctl.calibrate()
            except Exception as exc:  # noqa: BLE001
                note = _err(exc)
            return [*load_results(), note]

        def on_diagnose(q: str, exp: str) -> str:
            try:
                return ctl.diagnose(q, exp)
            except Exception as exc:  # noqa: BLE001
                return _err(exc)

        def on_download(kind: str) -> Callable[[list[str]], list[Any]]:
            def handler(current: list[str]) -> list[Any]:
                try:
                    path = ctl.export_zip() if kind == "zip" else ctl.export_jsonl()
                except gr.Error:
                    raise
                except Exception as exc:  # noqa: BLE001
                    raise gr.Error(str(exc)) from exc
                files = [p for p in current or [] if p != path and Path(p).exists()] + [path]
                return [files, files]

            return handler

        # ==================================================================== wiring
        demo.load(on_load, None, [chatbot, messages, *card_outputs], api_name="load_chat")
        demo.load(load_dataset, ds_filters, ds_outputs, api_visibility="private")
        demo.load(load_results, None, res_outputs, api_visibility="private")

        after = {"fn": refresh_card, "inputs": None, "outputs": card_outputs, "api_visibility": "private"}
        send_ev = box.submit(
            on_send, [box, messages], [chatbot, messages, box, card], api_name="send", concurrency_id="agent"
        )
        for ev in (send_ev,):
            ev.then(**after).then(load_dataset, ds_filters, ds_outputs, api_visibility="private").then(
                load_results, None, res_outputs, api_visibility="private"
            )
        appr = approve_btn.click(
            on_approve,
            [messages, shown, f_other, *fields],
            [chatbot, messages, card],
            api_name="approve",
            concurrency_id="agent",
        )
        rej = reject_btn.click(
            on_reject, [messages], [chatbot, messages, card], api_name="reject", concurrency_id="agent"
        )
        for ev in (appr, rej):
            ev.then(**after).then(load_dataset, ds_filters, ds_outputs, api_visibility="private").then(
                load_results, None, res_outputs, api_visibility="private"
            )
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
        refresh_res.click(load_results, None, res_outputs, api_name="results")
        calib_btn.click(
            on_calibrate, None, [*res_outputs, res_note], api_name="calibrate", concurrency_id="agent"
        )
        dbtn.click(on_diagnose, [dq, dexp], dout, api_name="diagnose")
        zip_btn.click(on_download("zip"), [dl_state], [downloads, dl_state], api_name="export_zip")
        jsonl_btn.click(on_download("jsonl"), [dl_state], [downloads, dl_state], api_name="export_jsonl")
    return demo


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
