"""Small pieces the tabs share: settings fields from a settings card, tables that keep their headers, ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from bgetune.core.text import parse_ids as core_parse_ids
from bgetune.ui import render

FIELDS_PER_ROW = 4
QUIET = {"show_progress": "hidden"}


@dataclass
class Refresh:
    """A handler that redraws part of a tab from the workspace: on page load and after a chat turn."""

    fn: Callable[..., Any]
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    api_name: str | None = None  # None: private


def load(demo: gr.Blocks, r: Refresh) -> None:
    """Run ``r`` when the page loads."""
    api = {"api_name": r.api_name} if r.api_name else {"api_visibility": "private"}
    demo.load(r.fn, r.inputs or None, r.outputs, **api, **QUIET)


def then(event: Any, refreshes: list[Refresh]) -> None:
    """Run each refresh after ``event``, in order."""
    for r in refreshes:
        event = event.then(r.fn, r.inputs or None, r.outputs, api_visibility="private", **QUIET)


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


def frame(rows: list[list[Any]], columns: list[str]) -> Any:
    """A table value that keeps its headers when empty."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def err(exc: Exception) -> str:
    return f"**Error:** {exc}"


def is_err(note: Any) -> bool:
    return str(note).startswith("**Error:**")


def parse_ids(text: str | None) -> list[int]:
    """``"3, 5 7"`` -> [3, 5, 7]; ``"1-4, 9"`` -> [1, 2, 3, 4, 9] (core.text.parse_ids, as the chat reads them)."""
    return sorted(core_parse_ids(text))


def row_of(evt: Any) -> int | None:
    row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    return row if isinstance(row, int) else None
