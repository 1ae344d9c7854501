"""What a domain function receives: typed options declared with ``setting(...)``, and a ``Context``.

Tools declare their options dataclasses with :func:`setting` (default, help, limits, how people name it) and take
a :class:`Context` (workspace, settings, progress); both are plain data, so tools depend on the core layer only.
The capability layer (``bgetune.capabilities``) reads this metadata to build every surface and the one ``invoke``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace

Progress = Callable[[int, int, str], None]


def setting(
    default: Any = MISSING,
    *,
    help: str,  # noqa: A002 - the word users know from --help
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    choices: tuple[Any, ...] | None = None,
    flag: str | None = None,
    positional: bool = False,
    workspace: bool = False,
    say: tuple[str, ...] = (),
    default_factory: Any = MISSING,
    normalize: Callable[[Any], Any] | None = None,
) -> Any:
    """A declared setting: its default, help, limits and how people name it.

    ``flag``: the CLI flag (default ``--name-with-dashes``); ``positional``: a CLI argument instead of an option;
    ``workspace``: remembered in the workspace (``set_setting``) and read back as the default next time;
    ``say``: extra words users type for it in chat (en and zh), e.g. ``("learning rate", "学习率")``;
    ``normalize``: applied to a given value before its choices are checked (e.g. "add-golden" -> "add_golden")."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "choices": choices,
        "flag": flag,
        "positional": positional,
        "workspace": workspace,
        "say": say,
        "normalize": normalize,
    }
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def arguments(*, help: str, **kw: Any) -> Any:  # noqa: A002 - the word users know from --help
    """A list setting given as the command's positional arguments (zero or more: ``bgetune ingest a.pdf b/``),
    a list in chat and the UI; empty unless given. ``kw``: the rest of :func:`setting` (``say``, ...)."""
    return setting(default_factory=list, help=help, positional=True, **kw)


def out_of_limits(value: Any, lo: Any, hi: Any) -> tuple[str, Any] | None:
    """("at least", lo) or ("at most", hi) when ``value`` is a number (not a bool) outside a setting's limits
    (None for no limit); None when it is within them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if lo is not None and value < lo:
            return "at least", lo
        if hi is not None and value > hi:
            return "at most", hi
    return None


@dataclass
class Context:
    """What a capability gets besides its options (never part of a schema)."""

    ws: Workspace
    settings: Settings
    progress: Progress | None = None
    files: list[str] | None = field(
        default_factory=list
    )  # chat: attached files (paths are confined); CLI: None
    lang: str = "en"
    log: Callable[[str], None] | None = None  # one line per step of a long run (the CLI: stderr)
    stage_progress: Callable[[str], Progress | None] | None = None  # a progress callback per pipeline stage
