"""The question-history import on the Dataset tab: upload a CSV/TSV/XLSX/JSONL, check the detected columns, import."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gradio as gr

from bgetune import surfaces
from bgetune.ui import caps, render
from bgetune.ui.controller import Controller
from bgetune.ui.uploads import HISTORY_SUFFIXES, kinds
from bgetune.ui.widgets import err, frame


def history_column_options() -> dict[str, str]:
    """History field (question, answer, ...) -> the import option naming its column (question_col, ...)."""
    opts = caps.capability("import_history").options
    out: dict[str, str] = {}
    for f in dataclasses.fields(opts):
        if f.name.endswith("_col"):
            probe = opts(path="-", **{f.name: "\0"})
            out.update({k: f.name for k, v in probe.overrides().items() if v == "\0"})
    return out


class HistoryImport:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        self.reload: Callable[..., list[Any]] = lambda *filters: []
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

    def on_preview(self, files: Any) -> list[Any]:
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

    def on_import(self, df: Any, state: dict[str, Any], *filters: Any) -> list[Any]:
        if not state.get("path"):
            return [*self.reload(*filters), "Preview a questions file first.", gr.update()]
        rows = df.values.tolist() if hasattr(df, "values") else list(df or [])
        option_of = history_column_options()
        overrides = {}
        for name, column in ((str(r[0]), str(r[1] or "").strip()) for r in rows if len(r) >= 2):
            if name in option_of and column and column != state["columns"].get(name):
                overrides[option_of[name]] = column
        try:
            res = self.ctl.history_import(state["path"], overrides)
        except Exception as exc:  # noqa: BLE001
            return [*self.reload(*filters), err(exc), gr.update()]
        return [*self.reload(*filters), surfaces.result_text(res), gr.update(visible=False)]

    def wire(self, reload: Callable[..., list[Any]], filters: list[Any], outputs: list[Any]) -> None:
        """``reload(*filters)`` redraws the dataset table (``outputs``) after an import."""
        self.reload = reload
        self.hist_prev_btn.click(
            self.on_preview,
            [self.hist_file],
            [self.hist_md, self.hist_cols, self.hist_sample, self.hist_confirm, self.hist_state],
            api_name="history_preview",
        )
        self.hist_confirm.click(
            self.on_import,
            [self.hist_cols, self.hist_state, *filters],
            [*outputs, self.hist_md, self.hist_confirm],
            api_name="history_import",
            concurrency_id="agent",
        )
