"""Surfaces derived from the capability table: CLI commands, the agent's argument models, the UI settings card.

Nothing here names a capability or a setting: adding a ``setting(...)`` field to a capability's options makes
it a CLI option, a tool argument the LLM sees, a phrase the offline planner understands and a UI field.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import Field, create_model

from bgetune.capabilities import (
    GATED_COSTS,
    Capability,
    Context,
    check_prereqs,
    default_of,
    estimate_of,
    invoke,
    options_for,
    settings_of,
    table,
)
from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, fail, open_workspace
from bgetune.core.config import Settings
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import reply_lang
from bgetune.core.text import parse_ids
from bgetune.core.workspace import DB_NAME

# ---------------------------------------------------------------------------------------------- results


def result_data(result: Any) -> Any:
    """JSON-ready data of a result dataclass (its ``data()`` or ``as_dict()`` when it has one)."""
    for method in ("data", "as_dict"):
        if callable(getattr(result, method, None)):
            return getattr(result, method)()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def result_text(result: Any, lang: str = "en") -> str:
    if hasattr(result, "text") and callable(result.text):
        try:
            return str(result.text(lang))
        except TypeError:
            return str(result.text())
    return json.dumps(result_data(result), ensure_ascii=False, default=str)[:2000]


# ---------------------------------------------------------------------------------------------- agent args
def _optional(tp: Any) -> Any:
    return tp | None


def args_model(cap: Capability, base: type) -> type:
    """A pydantic model of the capability's settings for tool schemas. Optional fields default to None, which
    means "the remembered or declared default" (resolved by ``Capability.make_options``)."""
    fields: dict[str, Any] = {}
    for f in settings_of(cap):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        meta = f.metadata
        desc = meta.get("help", "")
        limits = []
        if meta.get("min") is not None:
            limits.append(f">= {meta['min']}")
        if meta.get("max") is not None:
            limits.append(f"<= {meta['max']}")
        if not required:
            d = default_of(f)
            if d not in (None, [], ""):
                limits.append(f"default {d}")
        if limits:
            desc = f"{desc} ({', '.join(limits)})"
        if required:
            fields[f.name] = (f.type, Field(..., description=desc))
        else:
            fields[f.name] = (_optional(f.type), Field(None, description=desc))
    name = "".join(p.capitalize() for p in cap.name.split("_")) + "Args"
    return create_model(name, __base__=base, **fields)


# ---------------------------------------------------------------------------------------------- CLI
def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _is_id_list(f: dataclasses.Field) -> bool:
    """A positional list[int] setting (pair ids): the CLI takes it as text and reads it with parse_ids."""
    return bool(
        f.metadata.get("positional") and typing.get_args(f.type) and typing.get_args(f.type)[0] is int
    )


def _cli_param(f: dataclasses.Field) -> inspect.Parameter:
    meta = f.metadata
    tp = f.type
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if origin in (typing.Union, types.UnionType) and len(args) == 1 else tp
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    help_ = meta.get("help", "")
    kw: dict[str, Any] = {"help": help_}
    choices = meta.get("choices")
    if typing.get_origin(base) is Literal:
        choices = typing.get_args(base)
        base = str
    if choices:  # checked by Capability.make_options (a clear error naming the choices)
        kw["help"] = f"{help_} One of: {', '.join(map(str, choices))}."
    if typing.get_origin(base) is list:
        item = typing.get_args(base)[0] if typing.get_args(base) else str
        if meta.get("positional"):
            # ids are read as the chat and the UI read them: `bgetune review approve 1-20 25`
            ids = _is_id_list(f)
            annotation: Any = list[str] if ids else list[item]  # type: ignore[valid-type]
            if ids:
                help_ = f"{help_} Ranges too: 12-30 5 7."
            default = typer.Argument(... if required else None, help=help_)
            return inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        annotation = str | None  # comma-separated on the command line
        kw["help"] = f"{kw['help']} Comma-separated."
        default = typer.Option(None, _flag(f), **kw)
        return inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )
    if base is bool:
        # None: not given, so a remembered workspace value (or the declared default) applies
        default = typer.Option(
            None, f"{_flag(f)}/--no-{_flag(f)[2:]}", help=f"{help_} (default {default_of(f)})"
        )
        return inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=bool | None
        )
    annotation = base if required else base | None
    if meta.get("positional"):
        default = typer.Argument(... if required else None, help=help_)
    else:
        default = typer.Option(... if required else None, _flag(f), **kw)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _confirm_cost(cap: Capability, ctx: Context, opts: Any, yes: bool) -> bool:
    """Gated capabilities print their estimate and ask; without a terminal they need --yes. True: approved."""
    est: Any = estimate_of(cap, ctx, opts) or {}
    typer.echo(estimate_text(cap, est), err=True)
    if yes:
        return True
    if not sys.stdin.isatty():
        typer.secho(
            f"error: {cap.name} costs {cap.cost_for(ctx, opts)}; nothing ran. Pass --yes to start without a "
            "terminal to ask on.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    if not typer.confirm("go ahead?", default=False):
        typer.secho("cancelled; nothing ran", err=True)
        raise typer.Exit(1)
    return True


def estimate_text(cap: Capability, est: Any) -> str:
    if hasattr(est, "text"):
        return result_text(est)
    if not isinstance(est, dict):
        return f"estimate: {est}"
    skip = {"settings", "probe", "loss_curve"}
    parts = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in est.items()
        if k not in skip and v is not None
    ]
    out = f"{cap.name} estimate: " + ", ".join(parts)
    if isinstance(est.get("settings"), dict):
        out += "\nsettings:\n" + "\n".join(
            f"  - {k}: {v}" for k, v in est["settings"].items() if v is not None
        )
    return out


def _param(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _yes_setting(cap: Capability) -> str | None:
    """The setting that is itself the approval (`bgetune run --yes`), if the capability declares one."""
    return next((f.name for f in settings_of(cap) if f.metadata.get("flag") == "--yes"), None)


def _id_lists(cap: Capability) -> list[str]:
    """The positional list[int] settings of a capability (pair ids): given as text, ranges allowed."""
    return [f.name for f in settings_of(cap) if _is_id_list(f)]


def _command_params(cap: Capability) -> list[inspect.Parameter]:
    params = [_param("workspace", WorkspaceOpt, Path | None)]
    params += [_cli_param(f) for f in settings_of(cap)]
    if callable(cap.cost):  # may cost paid LLM tokens: the server can be named here
        params += [
            _param("llm_base_url", typer.Option(None, "--llm-base-url", help="OpenAI-compatible server URL."),
                   str | None),
            _param("llm_model", typer.Option(None, "--llm-model", help="Model name on that server."), str | None),
        ]  # fmt: skip
    gated_possible = cap.estimate is not None or callable(cap.cost) or cap.cost in GATED_COSTS
    if (gated_possible or cap.preview) and _yes_setting(cap) is None:
        what = (
            "Start without asking (after printing the estimate)."
            if gated_possible
            else "Go ahead without asking."
        )
        params.append(_param("yes", typer.Option(False, "--yes", "-y", help=what), bool))
    if cap.preview:
        params.append(
            _param("preview", typer.Option(False, "--preview", help="Only show what it would do."), bool)
        )
    params.append(_param("as_json", JsonOpt, bool))
    # positional arguments first (click order)
    params.sort(key=lambda p: 0 if isinstance(p.default, typer.models.ArgumentInfo) else 1)
    return params


def _cli_workspace(cap: Capability, workspace: Path | None) -> tuple[Any, Settings]:
    """The workspace a command works on: created when missing, or only an existing one, or (``optional``:
    commands that also work on given files) None when there is none."""
    if cap.workspace == "create":
        return open_workspace(workspace)
    settings = Settings(workspace=workspace)
    if cap.workspace == "optional" and not (Path(settings.workspace) / DB_NAME).exists():
        return None, settings
    return open_workspace(workspace, create=False)


def _cli_context(
    cap: Capability, workspace: Path | None, llm: dict[str, Any], values: dict[str, Any]
) -> Context:
    ws, settings = _cli_workspace(cap, workspace)
    if any(llm.values()):
        settings = Settings(workspace=settings.workspace, **{k: v for k, v in llm.items() if v})
    return Context(
        ws=ws,
        settings=settings,
        progress=TqdmProgress(cap.name, unit="item"),
        files=None,
        lang=reply_lang(*values.values()),
        log=lambda line: typer.echo(line, err=True),
        stage_progress=lambda name: TqdmProgress(name, unit="step"),
    )


def _preview_first(cap: Capability, ctx: Context, values: dict[str, Any], yes: bool, only: bool) -> Any:
    """Capabilities that declare a preview show it; only `--yes` (or a yes at the terminal) goes on.
    Returns the preview when that is all that should be printed, else None."""
    preview = table()[cap.preview]  # type: ignore[index]
    known = {f.name for f in settings_of(preview)}
    shown = invoke(preview, {k: v for k, v in values.items() if k in known}, ctx)
    text = result_text(shown, ctx.lang)
    if only:
        return shown
    if yes:
        return None
    if not sys.stdin.isatty():
        raise BgetuneError(f"{text}\nnothing done: check the above, then rerun with --yes")
    typer.echo(text, err=True)
    if not typer.confirm("Go ahead?", default=True, err=True):
        raise BgetuneError("nothing done")
    return None


def make_command(cap: Capability) -> Any:
    """The typer command of a capability: its settings as options, the cost gate as --yes, one invoke."""

    def command(**kw: Any) -> None:
        as_json = kw.pop("as_json", False)
        yes_setting = _yes_setting(cap)  # `bgetune run --yes`: a setting of its own, read from the options
        yes = False if yes_setting else kw.pop("yes", False)
        only_preview = kw.pop("preview", False)
        llm = {k: kw.pop(k) for k in ("llm_base_url", "llm_model") if k in kw}
        workspace = kw.pop("workspace", None)
        values = {k: v for k, v in kw.items() if v is not None}
        if isinstance(values.get("paths"), list):
            values["paths"] = [str(p) for p in values["paths"]]
        for name in _id_lists(cap):
            if isinstance(values.get(name), list):
                values[name] = parse_ids(" ".join(map(str, values[name])))
        try:
            ctx = _cli_context(cap, workspace, llm, values)
            opts = options_for(cap, values, ctx)
            approved = bool(getattr(opts, yes_setting)) if yes_setting else yes
            shown = _preview_first(cap, ctx, values, yes, only_preview) if cap.preview else None
            if shown is not None:
                _print(shown, as_json, ctx.lang)
                return
            if cap.gated(ctx, opts) and not yes_setting:
                check_prereqs(cap, ctx, opts)
                approved = _confirm_cost(cap, ctx, opts, yes)
            if cap.dialogue is not None:
                result = cap.dialogue(ctx, opts, _ask)
            else:
                result = invoke(cap, opts, ctx, approved=approved)
        except BgetuneError as exc:
            fail(str(exc), code=2)
            return
        _print(result, as_json, getattr(result, "lang", None) or ctx.lang)
        if cap.cli_after is not None:
            cap.cli_after(result)

    command.__signature__ = inspect.Signature(_command_params(cap))  # type: ignore[attr-defined]
    command.__doc__ = cap.summary
    command.__name__ = cap.name
    return command


def _ask(text: str) -> str | None:
    """One turn of a CLI dialogue: print, read a line (None at the end of input)."""
    typer.echo(text)
    try:
        return input("> ").strip()
    except EOFError:
        return None


def _print(result: Any, as_json: bool, lang: str) -> None:
    if as_json:
        typer.echo(json.dumps(result_data(result), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(result_text(result, lang))


def register_cli(app: typer.Typer) -> None:
    """One command per capability that declares one (``cli``); a capability with a ``group`` becomes a
    sub-command of that group (`bgetune review approve`), with its aliases."""
    taken = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    groups: dict[str, typer.Typer] = {}
    for cap in table().values():
        name = cap.command
        if not name or name in taken:
            continue
        target = app
        if cap.group:
            if cap.group not in groups:
                groups[cap.group] = typer.Typer(help=GROUP_HELP.get(cap.group, f"{cap.group} commands"),
                                                no_args_is_help=True)  # fmt: skip
                app.add_typer(groups[cap.group], name=cap.group)
            target = groups[cap.group]
            name = name.split(" ", 1)[1]
        for n in (name, *cap.aliases):
            target.command(n, help=cap.summary)(make_command(cap))
        taken.add(cap.command)


GROUP_HELP = {
    "review": "Review pairs: list, approve, reject, edit, approve-all.",
    "golden": "Your real questions with the passages that answer them: the evidence for what ships.",
}


# ---------------------------------------------------------------------------------------------- UI settings card
def settings_card(cap_name: str, ws: Any = None) -> list[dict[str, Any]]:
    """The fields a UI settings card shows for a capability: name, type, current value, limits, help."""
    cap = table()[cap_name]
    opts = cap.make_options({}, ws) if ws is not None else None
    out = []
    for f in settings_of(cap):
        if f.metadata.get("positional"):
            continue
        out.append(
            {
                "name": f.name,
                "type": getattr(f.type, "__name__", str(f.type)),
                "value": getattr(opts, f.name) if opts is not None else default_of(f),
                "min": f.metadata.get("min"),
                "max": f.metadata.get("max"),
                "help": f.metadata.get("help", ""),
            }
        )
    return out
