"""The Results tab: what the last training did (the model shipped, or the base kept), the metrics and plots,
'why does this query miss?', how to use the model, and the downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from bgetune.ui.controller import Controller
from bgetune.ui.tab_diagnosis import DiagnosisPanel
from bgetune.ui.widgets import Refresh, err, frame, load

METRIC_COLUMNS = ["metric", "base", "tuned", "change"]


def _image(label: str, elem_id: str) -> Any:
    return gr.Image(label=label, type="filepath", interactive=False, height=300, elem_id=elem_id)


class ResultsTab:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        with gr.Tab("Results", id="results"):
            self.summary = gr.Markdown(elem_id="results-summary")
            with gr.Row():
                self.refresh_btn = gr.Button("Refresh", scale=0, min_width=90)
                self.calib_btn = gr.Button(
                    "Calibrate threshold", scale=0, min_width=180, elem_id="calibrate-btn"
                )
            self.note = gr.Markdown()
            self.metrics = gr.Dataframe(
                headers=METRIC_COLUMNS,
                interactive=False,
                label="Retrieval metrics on held-out documents",
                elem_id="metrics-table",
            )
            with gr.Row():
                self.hist = _image("Score histograms with the threshold", "hist-img")
                self.bars = _image("Before / after", "bars-img")
            self.loss = _image("Training loss", "loss-img")
            self.diagnosis = DiagnosisPanel(ctl)
            with gr.Accordion("Use your model", open=True, elem_id="use-model"):
                self.usage = gr.Markdown(elem_id="use-model-text")
                self.serve_btn = gr.Button(
                    "Start the embeddings server (OpenAI-compatible)", elem_id="serve-btn", size="sm"
                )
            with gr.Row():
                self.zip_btn = gr.Button("Export model (.zip)")
                self.jsonl_btn = gr.Button("Training data (.jsonl)")
                self.anyway = gr.Checkbox(
                    label="export even if the base model was kept",
                    info="the ship decision keeps the base model when the tuned one is not clearly better",
                    value=False,
                    elem_id="export-anyway",
                )
            self.downloads = gr.File(
                label="Downloads", file_count="multiple", interactive=False, height=140, elem_id="downloads"
            )
            self.dl_state = gr.State([])

    @property
    def outputs(self) -> list[Any]:
        return [self.summary, self.metrics, self.hist, self.bars, self.loss, self.usage]

    @property
    def refresh(self) -> Refresh:
        return Refresh(self.load, [], self.outputs)

    # ------------------------------------------------------------------ handlers
    def load(self) -> list[Any]:
        r = self.ctl.results()
        return [
            r["summary"],
            frame(r["metrics"], METRIC_COLUMNS),
            r["hist"],
            r["bars"],
            r["loss"],
            self.ctl.usage(),
        ]

    def on_calibrate(self) -> list[Any]:
        try:
            note = self.ctl.calibrate()
        except Exception as exc:  # noqa: BLE001
            note = err(exc)
        return [*self.load(), note]

    def on_serve(self) -> list[Any]:
        try:
            _url, md = self.ctl.serve()
        except Exception as exc:  # noqa: BLE001
            return [gr.update(), err(exc)]
        return [md, gr.update()]

    def on_download(self, kind: str) -> Callable[..., list[Any]]:
        def handler(current: list[str], export_anyway: bool = False) -> list[Any]:
            try:
                path = self.ctl.export_zip(bool(export_anyway)) if kind == "zip" else self.ctl.export_jsonl()
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001
                raise gr.Error(str(exc)) from exc
            files = [p for p in current or [] if p != path and Path(p).exists()] + [path]
            return [files, files]

        return handler

    # ------------------------------------------------------------------ wiring
    def wire(self, demo: gr.Blocks) -> None:
        load(demo, self.refresh)
        self.refresh_btn.click(self.load, None, self.outputs, api_name="results")
        self.calib_btn.click(
            self.on_calibrate, None, [*self.outputs, self.note], api_name="calibrate", concurrency_id="agent"
        )
        self.diagnosis.wire()
        self.serve_btn.click(self.on_serve, None, [self.usage, self.note], api_name="serve")
        self.zip_btn.click(
            self.on_download("zip"),
            [self.dl_state, self.anyway],
            [self.downloads, self.dl_state],
            api_name="export_zip",
        )
        self.jsonl_btn.click(
            self.on_download("jsonl"),
            [self.dl_state],
            [self.downloads, self.dl_state],
            api_name="export_jsonl",
        )
