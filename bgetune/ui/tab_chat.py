"""The Chat tab: the conversation, the approval card (settings of the gated capability, editable), the input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gradio as gr

from bgetune.ui import render
from bgetune.ui.controller import Controller
from bgetune.ui.uploads import ALLOWED_SUFFIXES
from bgetune.ui.widgets import Refresh, load, setting_fields, then

EXAMPLES = ["fine-tune bge on this", "show pairs", "approve all", "train", "status", "help"]


class ChatTab:
    """The chat and its approval card; ``card_entries`` are every setting a gated capability has."""

    def __init__(self, ctl: Controller, card_entries: list[dict[str, Any]]) -> None:
        self.ctl = ctl
        self.entries = card_entries
        with gr.Tab("Chat", id="chat"):
            self.chatbot = gr.Chatbot(
                label="bgetune",
                show_label=False,
                height=520,
                elem_id="chatbot",
                placeholder="Drop PDFs, Word, Markdown, HTML or JSONL files below and say "
                "**fine-tune bge on this**; drop a CSV/XLSX of your team's questions to import them. "
                "I ask before anything costly.",
                buttons=["copy"],
            )
            with gr.Group(visible=False, elem_id="approval-card") as self.card:
                self.card_md = gr.Markdown(elem_id="approval-text")
                self.fields = setting_fields(card_entries, "set-", visible=False)
                self.other = gr.Code(label="other settings (JSON)", language="json", visible=False)
                with gr.Row():
                    self.approve_btn = gr.Button("Approve and run", variant="primary", elem_id="approve-btn")
                    self.reject_btn = gr.Button("Reject", variant="stop", elem_id="reject-btn")
                self.shown = gr.State({})
            self.box = gr.MultimodalTextbox(
                placeholder="Type a message, or drop documents or a questions file here…",
                file_count="multiple",
                file_types=sorted(ALLOWED_SUFFIXES),
                show_label=False,
                elem_id="chat-input",
                autofocus=True,
            )
            gr.Examples(EXAMPLES, inputs=self.box, label="Try")
            self.messages = gr.State([])  # inside the tab: a component directly in gr.Tabs shifts the tab labels

    # ------------------------------------------------------------------ the approval card
    @property
    def card_outputs(self) -> list[Any]:
        return [self.card, self.card_md, self.shown, *self.fields, self.other]

    def card_updates(self, payload: dict[str, Any] | None) -> list[Any]:
        """The card for a pending approval (its settings shown, the rest hidden), or a hidden card."""
        hide = gr.update(visible=False)
        if not payload:
            return [hide, "", {}] + [hide] * len(self.fields) + [hide]
        shown = dict(payload.get("settings") or {})
        ups = [
            gr.update(visible=e["name"] in shown, value=render.display_setting(e, shown.get(e["name"])))
            for e in self.entries
        ]
        known = {e["name"] for e in self.entries}
        other = {k: v for k, v in shown.items() if k not in known}
        other_up = gr.update(visible=bool(other), value=json.dumps(other, indent=1) if other else "")
        return [gr.update(visible=True), render.approval_markdown(payload), shown, *ups, other_up]

    def refresh_card(self) -> list[Any]:
        return self.card_updates(self.ctl.pending())

    def edits(self, shown: dict[str, Any], other: str | None, *values: Any) -> dict[str, Any]:
        """The settings changed on the card (typed and checked against their limits)."""
        try:
            edits = render.card_edits(self.entries, shown or {}, list(values))
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        if other and other.strip():
            try:
                entered = json.loads(other)
            except ValueError as exc:
                raise gr.Error(f"other settings are not valid JSON: {exc}") from exc
            edits.update(render.setting_edits(shown or {}, entered))
        return edits

    # ------------------------------------------------------------------ handlers
    def on_load(self) -> list[Any]:
        history = self.ctl.chat_history()
        return [history, history, *self.card_updates(self.ctl.pending())]

    def on_send(self, value: Any, msgs: list[Any]) -> Iterator[Any]:
        last = msgs
        for last in self.ctl.send(value, msgs):
            yield last, last, gr.MultimodalTextbox(value=None, interactive=False), gr.update(visible=False)
        yield last, last, gr.MultimodalTextbox(value=None, interactive=True), gr.update()

    def on_approve(
        self, msgs: list[Any], shown: dict[str, Any], other: str | None, *values: Any
    ) -> Iterator[Any]:
        edits = self.edits(shown, other, *values)
        yield from self._answer("approve", edits, msgs)

    def on_reject(self, msgs: list[Any]) -> Iterator[Any]:
        yield from self._answer("reject", {}, msgs)

    def _answer(self, action: str, edits: dict[str, Any], msgs: list[Any]) -> Iterator[Any]:
        last = msgs
        busy = gr.MultimodalTextbox(interactive=False)  # like a sent message: no input while it runs
        for last in self.ctl.resume(action, edits, msgs):
            yield last, last, gr.update(visible=False), busy
        yield last, last, gr.update(), gr.MultimodalTextbox(interactive=True)

    # ------------------------------------------------------------------ wiring
    def wire(self, demo: gr.Blocks, after_turn: list[Refresh]) -> None:
        """Events of the tab; ``after_turn``: what to redraw once a turn ends (the card first, then the tabs)."""
        load(demo, Refresh(self.on_load, [], [self.chatbot, self.messages, *self.card_outputs], "load_chat"))
        turn_outputs = [self.chatbot, self.messages, self.card, self.box]
        refresh = [Refresh(self.refresh_card, [], self.card_outputs), *after_turn]
        send = self.box.submit(
            self.on_send,
            [self.box, self.messages],
            [self.chatbot, self.messages, self.box, self.card],
            api_name="send",
            concurrency_id="agent",
        )
        approve = self.approve_btn.click(
            self.on_approve,
            [self.messages, self.shown, self.other, *self.fields],
            turn_outputs,
            api_name="approve",
            concurrency_id="agent",
        )
        reject = self.reject_btn.click(
            self.on_reject, [self.messages], turn_outputs, api_name="reject", concurrency_id="agent"
        )
        for event in (send, approve, reject):
            then(event, refresh)
