"""The Settings tab: the training settings card from the capability table; remembered ones are saved in the
workspace, per-run ones are shown (they are set on the approval card)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from bgetune.ui import render
from bgetune.ui.controller import Controller
from bgetune.ui.widgets import Refresh, err, load, setting_fields

INTRO = (
    "Training settings. Remembered ones are stored in the workspace and used by the next *train*; the others are "
    "set per run on the approval card. Empty = the default."
)


class SettingsTab:
    def __init__(self, ctl: Controller, entries: list[dict[str, Any]]) -> None:
        self.ctl = ctl
        self.remembered = [e for e in entries if e["remembered"]]
        with gr.Tab("Settings", id="settings"):
            gr.Markdown(INTRO)
            self.fields = setting_fields(self.remembered, "cfg-", interactive=True)
            with gr.Accordion("Set per run (on the approval card)", open=False):
                setting_fields([e for e in entries if not e["remembered"]], "cfg-", interactive=False)
            with gr.Row():
                self.save_btn = gr.Button(
                    "Save settings", variant="primary", scale=0, elem_id="settings-save"
                )
                self.reload_btn = gr.Button("Reload", scale=0)
            self.note = gr.Markdown(elem_id="settings-note")

    @property
    def refresh(self) -> Refresh:
        return Refresh(self.load, [], self.fields)

    def load(self) -> list[Any]:
        values = {e["name"]: e["value"] for e in self.ctl.settings_values("train")}
        return [render.display_setting(e, values.get(e["name"])) for e in self.remembered]

    def on_save(self, *values: Any) -> list[Any]:
        try:
            note = self.ctl.save_settings(self.remembered, list(values))
        except Exception as exc:  # noqa: BLE001
            return [*self.load(), err(exc)]
        return [*self.load(), note]

    def wire(self, demo: gr.Blocks) -> None:
        load(demo, Refresh(self.load, [], self.fields, "settings"))
        self.save_btn.click(self.on_save, self.fields, [*self.fields, self.note], api_name="save_settings")
        self.reload_btn.click(self.load, None, self.fields, api_visibility="private")
