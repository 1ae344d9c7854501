"""The Dataset tab: the proposed pairs with filters, selection, approve / reject / edit, and the history import."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gradio as gr

from bgetune import surfaces
from bgetune.ui import caps, render
from bgetune.ui.controller import Controller
from bgetune.ui.uploads import HISTORY_SUFFIXES, kinds
from bgetune.ui.widgets import Refresh, err, frame, load, parse_ids, row_of

STATUS_CHOICES = ["all", "kept", "proposed", "approved", "edited", "rejected"]


def history_column_options() -> dict[str, str]:
    """History field (question, answer, ...) -> the import option naming its column (question_col, ...)."""
    opts = caps.capability("import_history").options
    out: dict[str, str] = {}
    for f in dataclasses.fields(opts):
        if f.name.endswith("_col"):
            probe = opts(path="-", **{f.name: "\0"})
            out.update({k: f.name for k, v in probe.overrides().items() if v == "\0"})
    return out


class DatasetTab:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        with gr.Tab("Dataset", id="dataset"):
            self.summary = gr.Markdown(elem_id="dataset-summary")
            with gr.Row():
                self.status = gr.Dropdown(STATUS_CHOICES, value="all", label="status", scale=1)
                self.reason = gr.Dropdown(["all"], value="all", label="filter reason", scale=1)
                self.doc = gr.Dropdown(["all"], value="all", label="document", scale=1)
                self.search = gr.Textbox(label="search", placeholder="text in query or passage", scale=2)
                self.refresh_btn = gr.Button("Refresh", scale=0, min_width=90)
            self.table = gr.Dataframe(
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
            self.rows = gr.State([])
            with gr.Row():
                self.sel_ids = gr.Textbox(
                    label="selected ids", placeholder="e.g. 3, 7, 12", scale=3, elem_id="sel-ids"
                )
                self.approve_sel = gr.Button("Approve selected", scale=1, elem_id="approve-sel")
                self.reject_sel = gr.Button("Reject selected", variant="stop", scale=1, elem_id="reject-sel")
                self.approve_all = gr.Button(
                    "Approve all proposed", variant="primary", scale=1, elem_id="approve-all"
                )
            with gr.Accordion("Edit a query", open=False, elem_id="edit-accordion"), gr.Row():
                self.edit_id = gr.Number(label="pair id", precision=0, scale=1, elem_id="edit-id")
                self.edit_q = gr.Textbox(label="new query", scale=4, elem_id="edit-query")
                self.edit_btn = gr.Button("Save edit", scale=1, elem_id="edit-save")
            self.note = gr.Markdown(elem_id="dataset-note")
            self._history_section()

    def _history_section(self) -> None:
        label = f"Import your team's real questions (question history: {kinds(HISTORY_SUFFIXES)})"
        with gr.Accordion(label, open=False, elem_id="history-accordion"):
            with gr.Row():
                self.hist_file = gr.File(
                    label="questions file",
                    file_types=sorted(HISTORY_SUFFIXES),
                    height=120,
                    elem_id="history-file",
                    scale=3,
                )
                self.hist_prev_btn = gr.Button("Preview columns", scale=1, elem_id="history-preview")
            self.hist_md = gr.Markdown(elem_id="history-text")
            self.hist_cols = gr.Dataframe(
                headers=render.PREVIEW_COLUMNS,
                interactive=True,
                static_columns=[0],
                label="Detected columns — type another column name to change one",
                visible=False,
                elem_id="history-columns",
            )
            self.hist_sample = gr.Dataframe(
                label="First rows as they will be read", visible=False, wrap=True, interactive=False
            )
            self.hist_confirm = gr.Button(
                "Confirm import", variant="primary", visible=False, elem_id="history-confirm"
            )
            self.hist_state = gr.State({})

    @property
    def filters(self) -> list[Any]:
        return [self.status, self.reason, self.doc, self.search]

    @property
    def outputs(self) -> list[Any]:
        return [self.table, self.rows, self.summary, self.reason, self.doc]

    @property
    def refresh(self) -> Refresh:
        return Refresh(self.load, self.filters, self.outputs)

    # ------------------------------------------------------------------ handlers
    def load(self, status: str, reason: str, doc: str, search: str) -> list[Any]:
        rows, summary = self.ctl.dataset(status, reason, doc, search)
        reasons = ["all", *sorted((summary.get("by_reason") or {}).keys())]
        docs = ["all", *self.ctl.documents()]
        return [
            frame(rows, render.DATASET_COLUMNS),
            rows,
            render.summary_markdown(summary),
            gr.update(choices=reasons, value=reason if reason in reasons else "all"),
            gr.update(choices=docs, value=doc if doc in docs else "all"),
        ]

    def on_select(self, ids_text: str, rows: list[list[Any]], evt: gr.SelectData) -> str:
        row = row_of(evt)
        if row is None or not (0 <= row < len(rows)):
            return ids_text
        pid = int(rows[row][0])
        ids = parse_ids(ids_text)
        ids = [i for i in ids if i != pid] if pid in ids else sorted([*ids, pid])
        return ", ".join(map(str, ids))

    def on_table_edit(self, df: Any, rows: list[list[Any]], *filters: Any) -> list[Any]:
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
                    notes.append(self.ctl.edit_query(pid, q))
                except Exception as exc:  # noqa: BLE001 - shown next to the table
                    notes.append(err(exc))
        return [*self.load(*filters), "\n\n".join(notes) or gr.update()]

    def on_status(self, action: str) -> Callable[..., list[Any]]:
        def handler(ids_text: str, *filters: Any) -> list[Any]:
            try:
                note = self.ctl.set_status(parse_ids(ids_text), action)
            except Exception as exc:  # noqa: BLE001
                return [*self.load(*filters), err(exc), ids_text]
            return [*self.load(*filters), note, ""]

        return handler

    def on_edit(self, pid: Any, query: str, *filters: Any) -> list[Any]:
        if pid is None or not (query or "").strip():
            return [*self.load(*filters), "Give a pair id and the new query.", query]
        try:
            note = self.ctl.edit_query(int(pid), query)
        except Exception as exc:  # noqa: BLE001
            return [*self.load(*filters), err(exc), query]
        return [*self.load(*filters), note, ""]

    def on_history_preview(self, files: Any) -> list[Any]:
        hide = gr.update(visible=False)
        try:
            preview, path = self.ctl.history_preview(files)
        except Exception as exc:  # noqa: BLE001 - the reason, next to the upload
            return [err(exc), hide, hide, hide, {}]
        sample = preview.sample[:5]
        cols = list(sample[0]) if sample else ["question"]
        return [
            render.preview_markdown(preview),
            gr.update(value=frame(render.preview_rows(preview), render.PREVIEW_COLUMNS), visible=True),
            gr.update(
                value=frame([[str(s.get(c, ""))[:120] for c in cols] for s in sample], cols),
                visible=bool(sample),
            ),
            gr.update(visible=True),
            {"path": path, "columns": dict(preview.columns)},
        ]

    def on_history_import(self, df: Any, state: dict[str, Any], *filters: Any) -> list[Any]:
        if not state.get("path"):
            return [*self.load(*filters), "Preview a questions file first.", gr.update()]
        rows = df.values.tolist() if hasattr(df, "values") else list(df or [])
        option_of = history_column_options()
        overrides = {}
        for name, column in ((str(r[0]), str(r[1] or "").strip()) for r in rows if len(r) >= 2):
            if name in option_of and column and column != state["columns"].get(name):
                overrides[option_of[name]] = column
        try:
            res = self.ctl.history_import(state["path"], overrides)
        except Exception as exc:  # noqa: BLE001
            return [*self.load(*filters), err(exc), gr.update()]
        return [*self.load(*filters), surfaces.result_text(res), gr.update(visible=False)]

    # ------------------------------------------------------------------ wiring
    def wire(self, demo: gr.Blocks) -> None:
        load(demo, self.refresh)
        f, outs = self.filters, self.outputs
        gr.on(
            [
                self.refresh_btn.click,
                self.status.change,
                self.reason.input,
                self.doc.input,
                self.search.submit,
            ],
            self.load,
            f,
            outs,
            api_name="dataset",
        )
        self.table.select(self.on_select, [self.sel_ids, self.rows], self.sel_ids, api_visibility="private")
        self.table.input(
            self.on_table_edit, [self.table, self.rows, *f], [*outs, self.note], api_name="table_edit"
        )
        for btn, action in (
            (self.approve_sel, "approve"),
            (self.reject_sel, "reject"),
            (self.approve_all, "approve_all"),
        ):
            btn.click(
                self.on_status(action),
                [self.sel_ids, *f],
                [*outs, self.note, self.sel_ids],
                api_name=f"pairs_{action}",
            )
        self.edit_btn.click(
            self.on_edit,
            [self.edit_id, self.edit_q, *f],
            [*outs, self.note, self.edit_q],
            api_name="edit_query",
        )
        self.hist_prev_btn.click(
            self.on_history_preview,
            [self.hist_file],
            [self.hist_md, self.hist_cols, self.hist_sample, self.hist_confirm, self.hist_state],
            api_name="history_preview",
        )
        self.hist_confirm.click(
            self.on_history_import,
            [self.hist_cols, self.hist_state, *f],
            [*outs, self.hist_md, self.hist_confirm],
            api_name="history_import",
            concurrency_id="agent",
        )
