"""The Golden questions tab: paste or upload the team's real questions, then label them one by one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from bgetune import surfaces
from bgetune.ui import render
from bgetune.ui.controller import Controller
from bgetune.ui.uploads import QUESTION_SUFFIXES, kinds
from bgetune.ui.widgets import err, frame, is_err

INTRO = (
    "Your team's real questions, each with the passage(s) that answer it: the evidence that decides whether a "
    "tuned model ships. Paste a few dozen (one per line) or upload a {kinds} file, then label them one by one."
)


class GoldenTab:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        with gr.Tab("Golden questions", id="golden") as self.tab:
            gr.Markdown(INTRO.format(kinds=kinds(QUESTION_SUFFIXES)))
            with gr.Row():
                self.text = gr.Textbox(
                    label="questions, one per line",
                    lines=4,
                    scale=3,
                    elem_id="golden-text",
                    placeholder="how do I cite R?\nwhere is the GPL text?",
                )
                self.file = gr.File(
                    label="or a file", file_types=sorted(QUESTION_SUFFIXES), height=120, scale=2
                )
                self.add_btn = gr.Button("Add questions", variant="primary", scale=1, elem_id="golden-add")
            self.note = gr.Markdown(elem_id="golden-note")
            with gr.Group(elem_id="golden-card"):
                self.question = gr.Markdown(elem_id="golden-question")
                self.cands = gr.CheckboxGroup(
                    choices=[], label="candidate passages", visible=False, elem_id="golden-cands"
                )
                with gr.Row():
                    self.save_btn = gr.Button("Save label", variant="primary", elem_id="golden-save")
                    self.none_btn = gr.Button("None of these", elem_id="golden-none")
                    self.skip_btn = gr.Button("Skip", elem_id="golden-skip")
            self.qid = gr.State(None)
            self.table = gr.Dataframe(
                headers=render.GOLDEN_COLUMNS,
                interactive=False,
                wrap=True,
                max_height=360,
                column_widths=["7%", "14%", "49%", "30%"],
                label="Golden questions",
                elem_id="golden-table",
            )

    @property
    def outputs(self) -> list[Any]:
        return [self.question, self.cands, self.qid, self.table, self.note]

    # ------------------------------------------------------------------ views
    def table_value(self) -> Any:
        try:
            questions = self.ctl.golden_list().questions
        except Exception:  # noqa: BLE001 - an old workspace without the golden table
            questions = []
        return frame(render.golden_rows(questions), render.GOLDEN_COLUMNS)

    def view(self, res: Any, note: str = "") -> list[Any]:
        q = res.question
        return [
            render.golden_question_markdown(q, res.counts),
            gr.update(choices=render.candidate_choices(res.candidates), value=[], visible=q is not None),
            q.id if q is not None else None,
            self.table_value(),
            note,
        ]

    def step(self, fn: Callable[[], tuple[Any, str]]) -> list[Any]:
        try:
            res, note = fn()
        except Exception as exc:  # noqa: BLE001 - the reason, above the card
            return [gr.update(), gr.update(), gr.update(), self.table_value(), err(exc)]
        return self.view(res, note)

    def _then_next(self, done: Callable[[], Any]) -> Callable[[], tuple[Any, str]]:
        """Do ``done``, then show the next question to label with what was done as the note."""

        def go() -> tuple[Any, str]:
            res = done()
            return self.ctl.golden_candidates(), surfaces.result_text(res)

        return go

    # ------------------------------------------------------------------ handlers
    def on_add(self, text: str, files: Any) -> list[Any]:
        out = self.step(self._then_next(lambda: self.ctl.golden_add(text, files)))
        ok = not is_err(out[-1])
        return [*out, "" if ok else gr.update(), None if ok else gr.update()]

    def on_save(self, qid: int | None, picked: list[int] | None) -> list[Any]:
        if qid is None:
            return self.step(lambda: (self.ctl.golden_candidates(), "No question to label yet."))
        if not picked:
            return [gr.update()] * 4 + ["Tick the passages that answer it, or click **None of these**."]
        return self.step(self._then_next(lambda: self.ctl.golden_label(int(qid), [int(p) for p in picked])))

    def on_none(self, qid: int | None) -> list[Any]:
        if qid is None:
            return self.step(lambda: (self.ctl.golden_candidates(), "No question to label yet."))
        return self.step(self._then_next(lambda: self.ctl.golden_label(int(qid), [])))

    def on_skip(self, qid: int | None) -> list[Any]:
        return self.step(lambda: (self.ctl.golden_candidates(after=qid), ""))

    def on_select_tab(self, qid: int | None) -> list[Any]:
        if qid is not None:
            return [gr.update()] * 3 + [self.table_value(), gr.update()]
        try:
            listed = self.ctl.golden_list()
        except Exception:  # noqa: BLE001
            return [gr.update()] * 3 + [self.table_value(), gr.update()]
        if not listed.counts.unlabeled or not self.ctl.ws.scalar("SELECT count(*) FROM chunks"):
            question = render.golden_question_markdown(None, listed.counts)
            return [question, gr.update(visible=False), None, self.table_value(), ""]
        return self.step(lambda: (self.ctl.golden_candidates(), ""))

    # ------------------------------------------------------------------ wiring
    def wire(self, demo: gr.Blocks) -> None:
        outs = self.outputs
        self.add_btn.click(
            self.on_add, [self.text, self.file], [*outs, self.text, self.file], api_name="golden_add"
        )
        self.save_btn.click(self.on_save, [self.qid, self.cands], outs, api_name="golden_label")
        self.none_btn.click(self.on_none, [self.qid], outs, api_name="golden_none")
        self.skip_btn.click(self.on_skip, [self.qid], outs, api_name="golden_skip")
        self.tab.select(self.on_select_tab, [self.qid], outs, api_name="golden_next")
