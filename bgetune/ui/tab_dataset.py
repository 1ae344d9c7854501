"""The Dataset tab: the proposed pairs with filters, selection, approve / reject / edit, and the history import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from bgetune.ui import render
from bgetune.ui.controller import Controller
from bgetune.ui.tab_history import HistoryImport
from bgetune.ui.widgets import Refresh, err, frame, load, parse_ids, row_of

STATUS_CHOICES = ["all", "kept", "proposed", "approved", "edited", "rejected"]


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
                    label="selected ids", placeholder="e.g. 3, 7, 12-20", scale=3, elem_id="sel-ids"
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
            self.history = HistoryImport(ctl)

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
        self.history.wire(self.load, f, outs)
