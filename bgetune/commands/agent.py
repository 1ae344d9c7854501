"""`bgetune chat`: moved to :mod:`bgetune.agent.terminal`; kept so ``bgetune.cli`` registers it unchanged."""

from bgetune.agent.terminal import (  # noqa: F401 - re-exported
    ask_approval,
    parse_edits,
    register,
    render_approval,
    run_cli_chat,
    split_attachments,
)
