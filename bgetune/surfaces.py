"""Surfaces derived from the capability table: CLI commands, the agent's argument models, the UI settings card.

Nothing here names a capability or a setting: adding a ``setting(...)`` field to a capability's options makes
it a CLI option, a tool argument the LLM sees, a phrase the offline planner understands and a UI field.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import Field, create_model

from bgetune.capabilities import Capability, Context, default_of, settings_of, table
from bgetune.core.errors import BgetuneError

# ---------------------------------------------------------------------------------------------- results


def result_data(result: Any) -> Any:
    """JSON-ready data of a result dataclass (``data()`` when it has one)."""
    if hasattr(result, "data") and callable(result.data):
        return result.data()
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


def _cli_param(f: dataclasses.Field) -> inspect.Parameter:
    meta = f.metadata
    tp = f.type
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if origin in (typing.Union, __import__("types").UnionType) and len(args) == 1 else tp
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
            annotation: Any = list[item]  # type: ignore[valid-type]
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


def _confirm_cost(cap: Capability, ctx: Context, opts: Any, yes: bool, as_json: bool) -> None:
    """Gated capabilities print their estimate and ask; without a terminal they need --yes."""
    if not cap.gated(ctx, opts):
        return
    est: Any = cap.estimate(ctx, opts) if cap.estimate else {}
    typer.echo(estimate_text(cap, est), err=True)
    if yes:
        return
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


def make_command(cap: Capability) -> Any:
    from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, fail, open_workspace

    fields = settings_of(cap)
    params = [
        inspect.Parameter(
            "workspace", inspect.Parameter.KEYWORD_ONLY, default=WorkspaceOpt, annotation=Path | None
        )
    ]
    params += [_cli_param(f) for f in fields]
    gated_possible = cap.estimate is not None or callable(cap.cost) or cap.cost in ("gpu", "paid-llm")
    llm_possible = callable(cap.cost)  # may cost paid LLM tokens: the server can be named here
    if llm_possible:
        params += [
            inspect.Parameter(
                "llm_base_url",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, "--llm-base-url", help="OpenAI-compatible server URL."),
                annotation=str | None,
            ),
            inspect.Parameter(
                "llm_model",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, "--llm-model", help="Model name on that server."),
                annotation=str | None,
            ),
        ]
    if gated_possible:
        params.append(
            inspect.Parameter(
                "yes",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(
                    False, "--yes", "-y", help="Start without asking (after printing the estimate)."
                ),
                annotation=bool,
            )
        )
    params.append(
        inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=JsonOpt, annotation=bool)
    )
    # positional arguments first (click order)
    params.sort(key=lambda p: 0 if isinstance(p.default, typer.models.ArgumentInfo) else 1)

    def command(**kw: Any) -> None:
        from bgetune.stages import check_prereqs

        as_json = kw.pop("as_json", False)
        yes = kw.pop("yes", False)
        llm = {k: kw.pop(k) for k in ("llm_base_url", "llm_model") if k in kw}
        ws, settings = open_workspace(kw.pop("workspace", None))
        if any(llm.values()):
            from bgetune.core.config import Settings

            settings = Settings(workspace=ws.root, **{k: v for k, v in llm.items() if v})
        try:
            opts = cap.make_options(kw, ws)
            import re

            zh = any(isinstance(v, str) and re.search(r"[\u3400-\u9fff]", v) for v in kw.values())
            ctx = Context(
                ws=ws,
                settings=settings,
                progress=TqdmProgress(cap.name, unit="item"),
                files=None,  # type: ignore[arg-type]
                lang="zh" if zh else "en",
            )
            check_prereqs(cap, ctx)
            _confirm_cost(cap, ctx, opts, yes, as_json)
            result = cap.run(ctx, opts)
        except BgetuneError as exc:
            fail(str(exc), code=2)
            return
        if as_json:
            typer.echo(json.dumps(result_data(result), ensure_ascii=False, indent=2, default=str))
        else:
            typer.echo(result_text(result, getattr(result, "lang", None) or ctx.lang))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = cap.summary
    command.__name__ = cap.name
    return command


def register_cli(app: typer.Typer) -> None:
    """One command per capability that declares one (``cli``), unless a hand-written command has that name.
    A name with a space ("golden add") becomes a sub-command of a group."""
    taken = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    taken |= {g.name for g in app.registered_groups}
    groups: dict[str, typer.Typer] = {}
    for cap in table().values():
        name = cap.command
        if not name:
            continue
        if " " in name:
            group, sub = name.split(" ", 1)
            if group in taken and group not in groups:
                continue
            if group not in groups:
                groups[group] = typer.Typer(help=f"{group} commands", no_args_is_help=True)
                app.add_typer(groups[group], name=group)
                taken.add(group)
            groups[group].command(sub, help=cap.summary)(make_command(cap))
            continue
        if name in taken:
            continue
        app.command(name, help=cap.summary)(make_command(cap))
        taken.add(name)


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
