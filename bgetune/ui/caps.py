"""The UI's door to the capability table: find a capability, run it on the UI's workspace, describe its settings.

Screens call capabilities by name (``run("golden_label", ws, settings, {"answer": "1 3"})``) exactly as the chat
and the CLI do: through :func:`bgetune.capabilities.invoke` (prerequisites, options, the cost gate), results as
the capability's dataclass. Setting fields come from :func:`bgetune.surfaces.settings_card`, so a setting added to
an options dataclass shows up with no UI edit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from bgetune.capabilities import GATED_COSTS, Capability, Context, invoke, settings_of, table
from bgetune.core.errors import BgetuneError
from bgetune.surfaces import settings_card


class MissingCapability(BgetuneError):
    """A screen's capability that this installation does not have."""


def capability(name: str) -> Capability:
    """The declared capability ``name``."""
    caps = table()
    if name in caps:
        return caps[name]
    raise MissingCapability(f"this bgetune has no {name!r} capability; update bgetune to use this screen")


def available(name: str) -> bool:
    try:
        capability(name)
    except MissingCapability:
        return False
    return True


def run(
    name: str,
    ws: Any,
    settings: Any,
    values: dict[str, Any] | None = None,
    *,
    files: list[str] | None = None,
    lang: str = "en",
    progress: Any = None,
    approved: bool = False,
) -> Any:
    """Run capability ``name`` with ``values`` on ``ws`` through ``invoke``; BgetuneError says what is missing or
    wrong, ApprovalRequired (with the estimate) when a gated capability is asked for without ``approved``."""
    ctx = Context(ws=ws, settings=settings, progress=progress, files=list(files or []), lang=lang)
    return invoke(capability(name), values or {}, ctx, approved=approved)


# ---------------------------------------------------------------------------------------------- settings fields
def _meta(cap: Capability) -> dict[str, dict[str, Any]]:
    out = {}
    for f in settings_of(cap):
        m = dict(f.metadata)
        tp = f.type
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
        if typing.get_origin(tp) is typing.Literal and not m.get("choices"):
            m["choices"] = typing.get_args(tp)
        out[f.name] = m
    return out


def card(name: str, ws: Any = None) -> list[dict[str, Any]]:
    """The settings card of a capability (``surfaces.settings_card``) plus choices and whether the workspace
    remembers the setting."""
    meta = _meta(capability(name))
    out = []
    for entry in settings_card(name, ws):
        m = meta.get(entry["name"], {})
        out.append(entry | {"choices": m.get("choices"), "remembered": bool(m.get("workspace"))})
    return out


def gated_names() -> list[str]:
    """Capabilities that may stop at the approval gate (their settings appear on the approval card)."""
    out = []
    for cap in table().values():
        if callable(cap.cost) or cap.cost in GATED_COSTS:
            out.append(cap.name)
    return out


def approval_fields() -> list[dict[str, Any]]:
    """One field per setting a gated capability has (first declaration of a name wins), for the approval card."""
    seen: dict[str, dict[str, Any]] = {}
    for name in gated_names():
        for entry in card(name):
            seen.setdefault(entry["name"], entry | {"value": None})
    return list(seen.values())


def option_names(name: str) -> list[str]:
    cap = capability(name)
    return [f.name for f in dataclasses.fields(cap.options)] if cap.options else []
