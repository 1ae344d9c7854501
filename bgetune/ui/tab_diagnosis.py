"""'Why does this query miss?' (on the Results tab): both models' results side by side, a clicked row becomes the
expected answer, and the diagnosis's fixes are buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from bgetune import surfaces
from bgetune.ui import render
from bgetune.ui.controller import Controller
from bgetune.ui.widgets import err, frame, row_of

MAX_FIXES = 6
WIDTHS = ["5%", "10%", "8%", "10%", "16%", "7%", "44%"]


def _state(d: Any, pick: dict[str, Any] | None) -> dict[str, Any]:
    """What the next click needs: the query, the miss, the fixes, each list's chunk ids and row names."""
    rows = {
        m.model: [
            f"{r.document}" + (f" p.{r.page}" if r.page else "") + f" — result {r.rank} ({m.model})"
            for r in m.results
        ]
        for m in (d.base, d.tuned)
        if m is not None
    }
    return {
        "query": d.query,
        "miss_id": d.miss_id,
        "actions": [{"action": a.action, "args": a.args, "label": a.label("en")} for a in d.actions],
        "base": [r.chunk_id for r in d.base.results],
        "tuned": [r.chunk_id for r in d.tuned.results] if d.tuned else [],
        "rows": rows,
    } | (pick or {})


class DiagnosisPanel:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        with gr.Accordion("Why does this query miss?", open=True, elem_id="diagnosis"):
            with gr.Row():
                self.query = gr.Textbox(label="query", scale=3, elem_id="diag-query")
                self.expected = gr.Textbox(
                    label="expected answer (optional)",
                    placeholder="its text, or 'R-FAQ.pdf p. 12' — or click the right row below",
                    scale=3,
                    elem_id="diag-expected",
                )
                self.btn = gr.Button("Diagnose", scale=1, variant="primary", elem_id="diag-btn")
            self.head = gr.Markdown(elem_id="diag-head")
            with gr.Row(equal_height=False):
                self.base = gr.Dataframe(
                    headers=render.DIAG_COLUMNS, interactive=False, wrap=True, label="base model",
                    column_widths=WIDTHS, elem_id="diag-base",
                )  # fmt: skip
                self.tuned = gr.Dataframe(
                    headers=render.DIAG_COLUMNS, interactive=False, wrap=True, label="tuned model",
                    column_widths=WIDTHS, elem_id="diag-tuned",
                )  # fmt: skip
            with gr.Row():
                self.fixes = [gr.Button(visible=False, elem_id=f"fix-{i}") for i in range(MAX_FIXES)]
            self.note = gr.Markdown(elem_id="diag-note")
            self.state = gr.State({})

    @property
    def outputs(self) -> list[Any]:
        return [self.head, self.base, self.tuned, *self.fixes, self.state, self.note]

    def view(self, d: Any, note: str = "", pick: dict[str, Any] | None = None) -> list[Any]:
        buttons = [
            gr.update(visible=True, value=d.actions[i].label("en"), interactive=True)
            if i < len(d.actions) and d.miss_id is not None
            else gr.update(visible=False)
            for i in range(MAX_FIXES)
        ]
        return [
            render.diagnosis_head(d, "en"),
            gr.update(
                value=frame(render.ranking_rows(d.base), render.DIAG_COLUMNS),
                label=render.ranking_label(d.base, "base model"),
            ),
            gr.update(
                value=frame(render.ranking_rows(d.tuned), render.DIAG_COLUMNS),
                label=render.ranking_label(d.tuned, "tuned model"),
                visible=d.tuned is not None,  # no tuned model yet: the base list takes the width
            ),
            *buttons,
            _state(d, pick),
            note,
        ]

    def error(self, exc: Exception) -> list[Any]:
        return [gr.update()] * (3 + MAX_FIXES) + [gr.update(), err(exc)]

    # ------------------------------------------------------------------ handlers
    def on_diagnose(self, q: str, exp: str, state: dict[str, Any]) -> list[Any]:
        picked = state.get("pick_id") if exp and exp == state.get("pick_text") else None
        try:
            d = self.ctl.diagnose_result(q, None if picked else exp, picked)
        except Exception as exc:  # noqa: BLE001
            return self.error(exc)
        return self.view(d, pick={"pick_id": picked, "pick_text": exp} if picked else None)

    def on_pick(self, model: str) -> Callable[..., list[Any]]:
        def handler(q: str, exp: str, state: dict[str, Any], evt: gr.SelectData) -> list[Any]:
            row = row_of(evt)
            ids = (state or {}).get(model) or []
            if row is None or not (0 <= row < len(ids)):
                return [exp, *self.error(ValueError("click a row of the last diagnosis's results"))]
            text = state["rows"][model][row]
            try:
                d = self.ctl.diagnose_result(state.get("query") or q, None, ids[row])
            except Exception as exc:  # noqa: BLE001
                return [exp, *self.error(exc)]
            return [
                text,
                *self.view(
                    d, f"Picked {text} as the expected answer.", {"pick_id": ids[row], "pick_text": text}
                ),
            ]

        return handler

    def on_fix(self, i: int) -> Callable[[dict[str, Any]], list[Any]]:
        def handler(state: dict[str, Any]) -> list[Any]:
            acts = (state or {}).get("actions") or []
            if i >= len(acts) or state.get("miss_id") is None:
                return [gr.update(), "Diagnose a query first."]
            a = acts[i]
            try:
                res = self.ctl.apply_fix(int(state["miss_id"]), a["action"], a["args"])
            except Exception as exc:  # noqa: BLE001
                return [gr.update(), err(exc)]
            done = res.changed or a["action"] != "add_training_pair"
            label = ("✓ " if done else "") + a["label"]
            return [gr.update(value=label, interactive=not done), surfaces.result_text(res)]

        return handler

    def wire(self) -> None:
        inputs = [self.query, self.expected, self.state]
        gr.on(
            [self.btn.click, self.query.submit], self.on_diagnose, inputs, self.outputs, api_name="diagnose"
        )
        self.base.select(self.on_pick("base"), inputs, [self.expected, *self.outputs], api_name="pick_base")
        self.tuned.select(
            self.on_pick("tuned"), inputs, [self.expected, *self.outputs], api_name="pick_tuned"
        )
        for i, b in enumerate(self.fixes):
            b.click(self.on_fix(i), [self.state], [b, self.note], api_name=f"fix_{i}")
