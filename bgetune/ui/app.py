"""The web UI: Chat | Dataset | Golden questions | Results | Settings, on one workspace and one agent thread.

``build_app(session_or_factory, workspace=..., settings=...)`` builds the ``gr.Blocks`` from one module per tab
(:mod:`.tab_chat`, :mod:`.tab_dataset`, :mod:`.tab_golden`, :mod:`.tab_results`, :mod:`.tab_settings`) around one
:class:`~bgetune.ui.controller.Controller`, whose actions are capabilities run through :mod:`bgetune.ui.caps`.
:func:`launch` starts it (loopback by default, optional basic auth from ``BGETUNE_UI_USER`` /
``BGETUNE_UI_PASSWORD``); :func:`main` is what ``bgetune chat`` calls. All state lives in the workspace and the
agent's SQLite checkpoints, so a page reload (or a restarted server) shows the same conversation and the same
pending approval card.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bgetune.core.config import Settings  # noqa: E402
from bgetune.ui import caps  # noqa: E402
from bgetune.ui.controller import Controller  # noqa: E402
from bgetune.ui.tab_chat import ChatTab  # noqa: E402
from bgetune.ui.tab_dataset import DatasetTab  # noqa: E402
from bgetune.ui.tab_golden import GoldenTab  # noqa: E402
from bgetune.ui.tab_results import ResultsTab  # noqa: E402
from bgetune.ui.tab_settings import SettingsTab  # noqa: E402

__all__ = ["Controller", "auth_from_env", "build_app", "launch", "main"]
log = logging.getLogger(__name__)

CSS = """
#approval-card {border: 2px solid var(--color-accent); border-radius: 10px; padding: 10px;}
#bgetune-header h1 {margin-bottom: 0}
#golden-cands .wrap {flex-direction: column; align-items: stretch; gap: 6px}
#golden-cands label {width: 100%; align-items: flex-start; white-space: normal}
#golden-question h3 {margin-top: 4px}
#chatbot .message-wrap {padding-top: 8px}
#chatbot .icon-button-wrapper.top-panel {position: static; margin: 4px 6px 4px auto; width: fit-content}
footer {display: none !important}
"""
THEME = gr.themes.Soft(primary_hue="indigo")


def build_app(
    graph_or_session_factory: Any = None,
    *,
    workspace: str | Path | None = None,
    settings: Settings | None = None,
    thread_id: str = "main",
) -> gr.Blocks:
    """The UI. ``graph_or_session_factory``: an AgentSession-like object, a zero-argument factory of one, or
    None for ``AgentSession(workspace, settings, thread_id)`` (created on first use)."""
    ctl = Controller(graph_or_session_factory, workspace=workspace, settings=settings, thread_id=thread_id)
    card_entries = caps.approval_fields()  # every setting a gated capability has, from the table
    train_entries = caps.card("train")
    with gr.Blocks(title="bgetune", analytics_enabled=False) as demo:
        demo.controller = ctl  # type: ignore[attr-defined]  # for tests and embedding
        demo.card_entries = card_entries  # type: ignore[attr-defined]
        demo.train_entries = train_entries  # type: ignore[attr-defined]
        gr.Markdown(
            f"# bgetune\nFine-tune a BGE embedding model on your own documents. Workspace `{ctl.workspace}` · "
            f"{ctl.mode_line}",
            elem_id="bgetune-header",
        )
        with gr.Tabs():
            chat = ChatTab(ctl, card_entries)
            dataset = DatasetTab(ctl)
            golden = GoldenTab(ctl)
            results = ResultsTab(ctl)
            settings_tab = SettingsTab(ctl, train_entries)
        chat.wire(demo, after_turn=[dataset.refresh, results.refresh, settings_tab.refresh])
        dataset.wire(demo)
        golden.wire(demo)
        results.wire(demo)
        settings_tab.wire(demo)
    return demo


# ---------------------------------------------------------------------------------------------- launching
def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from BGETUNE_UI_USER / BGETUNE_UI_PASSWORD, or None when either is unset."""
    user, password = os.environ.get("BGETUNE_UI_USER"), os.environ.get("BGETUNE_UI_PASSWORD")
    return (user, password) if user and password else None


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    workspace: str | Path | None = None,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    open_browser: bool = False,
    quiet: bool = False,
) -> Any:
    """Start the server; ``block=False`` returns at once (tests)."""
    ws = Path(workspace).expanduser().resolve() if workspace else demo.controller.workspace
    auth = auth if auth is not None else auth_from_env()
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        log.warning(
            "bgetune UI listens on %s without a password: set BGETUNE_UI_USER and BGETUNE_UI_PASSWORD", host
        )
    max_mb = getattr(getattr(demo, "controller", None), "settings", None)
    max_mb = (max_mb.max_file_mb if max_mb else None) or 200.0
    return demo.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="bgetune: sign in with BGETUNE_UI_USER / BGETUNE_UI_PASSWORD" if auth else None,
        allowed_paths=[str(ws)],
        max_file_size=f"{max_mb:g}mb",
        prevent_thread_lock=not block,
        inbrowser=open_browser,
        quiet=quiet,
        ssr_mode=False,
        show_error=True,
        theme=THEME,
        css=CSS,
    )


def main(
    host: str = "127.0.0.1",
    port: int | None = 7860,
    workspace: str | Path | None = None,
    settings: Settings | None = None,
    thread_id: str = "main",
    open_browser: bool = False,
) -> None:
    """``bgetune chat``: the web UI on ``workspace`` (loopback unless ``host`` says otherwise)."""
    settings = settings or Settings(workspace=Path(workspace) if workspace else None)
    ws = Path(workspace or settings.workspace).expanduser().resolve()
    demo = build_app(None, workspace=ws, settings=settings, thread_id=thread_id)
    launch(demo, host=host, port=port, workspace=ws, open_browser=open_browser)


if __name__ == "__main__":
    main()
