"""One definition per capability: name, tool function, prerequisites, cost, settings and result type.

Every surface is derived from these declarations: the CLI commands and their options, the agent's tool schemas
and approval gate, the offline planner's setting phrases, the pipeline's stage order and the UI's settings
card. A new setting is one ``setting(...)`` field on a capability's options dataclass; a new capability is one
``Capability(...)`` in a module listed in ``CAPABILITY_MODULES`` (each such module has a ``CAPABILITIES`` list).

Declaring a capability::

    @dataclass(kw_only=True)
    class ServeOptions:
        host: str = setting("127.0.0.1", help="Interface to listen on.")
        port: int = setting(8000, help="TCP port.", min=1, max=65535)

    @dataclass
    class ServeResult:
        url: str
        def text(self, lang: str = "en") -> str:   # optional: how the chat and the CLI say it
            return f"serving on {self.url}"

    def serve_model(ctx: Context, opts: ServeOptions) -> ServeResult: ...

    CAPABILITIES = [Capability("serve_model", "Serve the exported model over HTTP.", serve_model,
                               ServeOptions, ServeResult, cost="free", cli="serve")]
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bgetune.core.errors import BgetuneError
from bgetune.core.options import Context, Progress, arguments, out_of_limits, setting

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

__all__ = [
    "ApprovalRequired",
    "Capability",
    "Context",
    "Prereq",
    "PrerequisiteMissing",
    "Progress",
    "SettingError",
    "arguments",
    "get",
    "invoke",
    "fields_of",
    "setting",
    "table",
]

Cost = Literal["free", "cpu-minutes", "gpu", "paid-llm"]
GATED_COSTS: frozenset[str] = frozenset({"gpu", "paid-llm"})

# Modules that declare capabilities (each has a module-level ``CAPABILITIES: list[Capability]``).
CAPABILITY_MODULES: list[str] = [
    "bgetune.capabilities.data",
    "bgetune.capabilities.generate",
    "bgetune.capabilities.history",
    "bgetune.capabilities.style",
    "bgetune.capabilities.golden",
    "bgetune.capabilities.train",
    "bgetune.capabilities.teacher",
    "bgetune.capabilities.evaluate",
    "bgetune.capabilities.decision",
    "bgetune.capabilities.export",
    "bgetune.capabilities.diagnose",
    "bgetune.capabilities.serve",
    "bgetune.capabilities.undo",
    "bgetune.capabilities.pipeline",
]


@dataclass(frozen=True)
class Prereq:
    """Something that must exist before a capability runs, and which capability makes it."""

    check: Callable[[Workspace], bool]
    missing: str  # what is missing, in words: "no chunks yet"
    fix: str | None = None  # the capability to run first
    # options that make it moot when given (eval --golden FILE needs no training run)
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capability:
    name: str
    summary: str  # one line, imperative: the tool description, the CLI help
    run: Callable[[Context, Any], Any]
    options: type | None = None
    result: type | None = None
    cost: Cost | Callable[[Context, Any], Cost] = "free"
    requires: tuple[Prereq, ...] = ()
    estimate: Callable[[Context, Any], Any] | None = None
    cli: str | None = ""  # "" -> name with dashes; None -> no CLI command
    ui: str | None = None  # the UI tab that shows it, if any
    decides: bool = False  # changes the user's data or choices: needs the user's own words (or a confirm)
    stage: int | None = None  # position in the pipeline, for the stages that run in order
    group: str | None = None  # CLI group: `bgetune <group> <cli>` (e.g. review approve, golden add)
    # a free capability that shows what this one would do (CLI: --preview, or a confirm before it runs)
    preview: str | None = None
    aliases: tuple[str, ...] = ()  # other CLI names for the same command (e.g. `golden remove`)
    cli_after: Callable[[Any], None] | None = None  # CLI only: what follows the printed result (serve: wait)
    chat: bool = True  # offered to the agent as a tool
    workspace: Literal["create", "existing", "optional"] = "create"  # CLI: what -w may name
    dialogue: Callable[[Context, Any, Callable[[str], str | None]], Any] | None = None  # CLI: ask until done

    @property
    def command(self) -> str | None:
        """The CLI command ("train", "review approve"), or None when the capability has none."""
        if self.cli is None:
            return None
        sub = self.cli or self.name.replace("_", "-")
        return f"{self.group} {sub}" if self.group else sub

    def cost_for(self, ctx: Context | None, opts: Any) -> Cost:
        return self.cost(ctx, opts) if callable(self.cost) else self.cost

    def gated(self, ctx: Context | None, opts: Any) -> bool:
        return self.cost_for(ctx, opts) in GATED_COSTS

    def missing(self, ws: Workspace, opts: Any = None) -> list[Prereq]:
        """The prerequisites not met (those made moot by a given option are skipped)."""
        moot = {n for n in (f.name for f in dataclasses.fields(opts)) if getattr(opts, n)} if opts else set()
        return [p for p in self.requires if not (moot & set(p.unless)) and not p.check(ws)]

    def make_options(self, values: dict[str, Any] | None = None, ws: Workspace | None = None) -> Any:
        """Options from explicit values, then workspace-remembered settings, then declared defaults."""
        if self.options is None:
            return None
        values = {k: v for k, v in (values or {}).items() if v is not None}
        known = {f.name for f in dataclasses.fields(self.options)}
        unknown = sorted(set(values) - known)
        if unknown:  # never drop part of a request silently
            raise SettingError(
                f"{self.name} has no setting {', '.join(unknown)}; it has: {', '.join(sorted(known))}"
            )
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self.options):
            if f.name in values:
                out[f.name] = coerce(f, values[f.name])
            elif ws is not None and f.metadata.get("workspace"):
                remembered = ws.get_setting(f.name)
                if remembered is not None:
                    out[f.name] = coerce(f, remembered)
        try:
            return self.options(**out)
        except TypeError as exc:  # a required setting is missing
            need = [
                f.name
                for f in dataclasses.fields(self.options)
                if f.name not in out and f.default is MISSING and f.default_factory is MISSING  # type: ignore[misc]
            ]
            raise SettingError(f"{self.name} needs {', '.join(need) or 'more settings'}: {exc}") from exc


class SettingError(BgetuneError):
    """A setting value outside its declared type, choices or limits."""


def _base_type(tp: Any) -> Any:
    """int for ``int | None``, list for ``list[str]``, the Literal itself for Literal[...]."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else str
    return tp


def coerce(f: dataclasses.Field, value: Any) -> Any:
    """A value converted to the field's type and checked against its limits; SettingError says why not."""
    name = f.name
    if value is None or value == "":
        return None
    if f.metadata.get("normalize") and isinstance(value, str):
        value = f.metadata["normalize"](value)
    base = _base_type(f.type)
    choices = f.metadata.get("choices")
    if typing.get_origin(base) is Literal:
        choices = choices or typing.get_args(base)
        base = type(choices[0])
    try:
        if base is bool:
            out = (
                value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            )
        elif base in (int, float):
            out = (
                base(float(value))
                if base is int and isinstance(value, str) and "e" in value.lower()
                else base(value)
            )
        elif typing.get_origin(base) in (list, tuple):
            item = typing.get_args(base)[0] if typing.get_args(base) else str
            parts = value if isinstance(value, list | tuple) else str(value).replace("，", ",").split(",")
            out = [item(p.strip()) if isinstance(p, str) else item(p) for p in parts if str(p).strip()]
        else:
            out = base(value) if callable(base) and base is not Any else value
    except (TypeError, ValueError) as exc:
        raise SettingError(f"{name} must be {getattr(base, '__name__', base)}, got {value!r}") from exc
    if choices and out not in choices:
        raise SettingError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    bad = out_of_limits(out, f.metadata.get("min"), f.metadata.get("max"))
    if bad:
        raise SettingError(f"{name} must be {bad[0]} {bad[1]}, got {value!r}")
    return out


def resolve_field_types(options: type) -> None:
    """Attach resolved annotations to the fields of an options dataclass (postponed annotations)."""
    hints = typing.get_type_hints(options)
    for f in dataclasses.fields(options):
        f.type = hints[f.name]


_TABLE: dict[str, Capability] | None = None


def table() -> dict[str, Capability]:
    """Every declared capability by name, in pipeline order first (``stage``), then declaration order."""
    global _TABLE
    if _TABLE is None:
        caps: list[Capability] = []
        for mod in CAPABILITY_MODULES:
            caps.extend(importlib.import_module(mod).CAPABILITIES)
        for c in caps:
            if c.options is not None:
                resolve_field_types(c.options)
        caps.sort(key=lambda c: (c.stage is None, c.stage or 0))
        _TABLE = {c.name: c for c in caps}
    return _TABLE


def get(name: str) -> Capability:
    caps = table()
    if name not in caps:
        raise BgetuneError(f"unknown capability {name!r}; known: {', '.join(caps)}")
    return caps[name]


def settings_of(cap: Capability) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cap.options)) if cap.options is not None else []


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def fields_of(opts: Any, *names: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Options as keyword arguments of the tool they feed: the named fields, or all but ``exclude``."""
    keep = names or tuple(f.name for f in dataclasses.fields(opts) if f.name not in exclude)
    return {n: getattr(opts, n) for n in keep}


def as_dict(result: Any) -> Any:
    """A result as JSON-ready data (dataclasses recursively)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


# ---------------------------------------------------------------------------------------------- the one way in
class PrerequisiteMissing(BgetuneError):
    """A capability asked for before what it needs exists; says what to run first."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class ApprovalRequired(BgetuneError):
    """A capability that costs GPU time or paid LLM tokens, asked for without approval. Carries the estimate."""

    def __init__(self, name: str, cost: str, estimate: Any, options: Any) -> None:
        self.name, self.cost, self.estimate, self.options = name, cost, estimate, options
        text = estimate.text() if hasattr(estimate, "text") else (estimate or "")
        super().__init__(
            f"{name} costs {cost} and needs approval; nothing ran." + (f" Estimate: {text}" if text else "")
        )


def check_prereqs(cap: Capability, ctx: Context, opts: Any = None) -> None:
    """Raise PrerequisiteMissing naming what is missing and what to run first (nothing to check without a
    workspace: the capability then works on the files it is given)."""
    if ctx.ws is None:
        return
    missing = cap.missing(ctx.ws, opts)
    if not missing:
        return
    p = missing[0]
    fix = table().get(p.fix) if p.fix else None
    hint = ""
    if fix is not None:
        hint = f"; run `bgetune {fix.command}` first" if fix.command else f"; run {fix.name} first"
    raise PrerequisiteMissing(f"{cap.name}: {p.missing}{hint}", p.fix)


def options_for(cap: Capability | str, values: Any, ctx: Context | None) -> Any:
    """The options a call will run with: explicit values > workspace-remembered settings > declared defaults,
    coerced and checked against their limits. An options instance is taken as it is."""
    cap = get(cap) if isinstance(cap, str) else cap
    if cap.options is not None and isinstance(values, cap.options):
        return values
    return cap.make_options(values, ctx.ws if ctx is not None else None)


def invoke(name: str | Capability, options: Any, ctx: Context, *, approved: bool = False) -> Any:
    """Run one capability the way every surface does: prerequisites, options (explicit > remembered >
    default, with limits), the cost gate (a gated capability without ``approved`` raises ApprovalRequired
    with its estimate; nothing runs), then the capability. Returns its result dataclass."""
    cap = get(name) if isinstance(name, str) else name
    opts = options_for(cap, options, ctx)
    check_prereqs(cap, ctx, opts)
    if cap.gated(ctx, opts) and not approved:
        raise ApprovalRequired(cap.name, cap.cost_for(ctx, opts), estimate_of(cap, ctx, opts), opts)
    return cap.run(ctx, opts)


def estimate_of(cap: Capability, ctx: Context, opts: Any) -> Any:
    """The capability's estimate for these options (None when it declares none)."""
    return cap.estimate(ctx, opts) if cap.estimate else None


def pipeline_stages() -> tuple[str, ...]:
    """The capabilities that run in order (declared with ``stage=``), in that order."""
    return tuple(c.name for c in table().values() if c.stage is not None)


def remembered_settings() -> set[str]:
    """Names of settings the workspace remembers (declared with workspace=True on any capability)."""
    return {f.name for c in table().values() for f in settings_of(c) if f.metadata.get("workspace")}


def setting_field(name: str) -> dataclasses.Field | None:
    """The declaration of the remembered setting ``name`` (first capability that declares it)."""
    for c in table().values():
        for f in settings_of(c):
            if f.name == name and f.metadata.get("workspace"):
                return f
    return None


def user_path(ctx: Context, raw: str, what: str) -> str:
    """A path a chat-driven capability may touch: inside the workspace, or a file/folder the user attached (or
    inside one). Paths that only the model names (it may be repeating a hostile document) are refused."""
    p = Path(raw).expanduser().resolve()
    allowed = [ctx.ws.root, *(Path(f).expanduser().resolve() for f in ctx.files or [])]
    if any(p.is_relative_to(a) for a in allowed):
        return str(p)
    raise SettingError(
        f"refusing to {what} {raw}: it is outside the workspace and not among the files you gave; "
        "attach it (or give it with @path) and ask again"
    )
