"""Launching: loopback by default, basic auth from the environment, `bgetune chat` reaches main()."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.conftest import free_port


def test_main_binds_loopback_by_default(monkeypatch, tmp_path):
    from bgetune.ui import app

    seen = {}
    monkeypatch.setattr(app, "launch", lambda demo, **kw: seen.update(kw, demo=demo))
    app.main(workspace=tmp_path / "ws")
    assert seen["host"] == "127.0.0.1" and seen["workspace"] == (tmp_path / "ws").resolve()
    assert seen["demo"].controller.workspace == (tmp_path / "ws").resolve()


def test_bgetune_chat_launches_the_ui(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bgetune.cli import app as cli
    from bgetune.ui import app

    seen = {}
    monkeypatch.setattr(app, "launch", lambda demo, **kw: seen.update(kw))
    result = CliRunner().invoke(cli, ["chat", "--workspace", str(tmp_path / "w"), "--port", "7999"])
    assert result.exit_code == 0, result.output
    assert seen["port"] == 7999 and seen["host"] == "127.0.0.1"


def test_auth_from_env(monkeypatch):
    from bgetune.ui.app import auth_from_env

    assert auth_from_env() is None
    monkeypatch.setenv("BGETUNE_UI_USER", "ana")
    assert auth_from_env() is None, "both are needed"
    monkeypatch.setenv("BGETUNE_UI_PASSWORD", "s3cret")
    assert auth_from_env() == ("ana", "s3cret")


def test_basic_auth_protects_the_app(monkeypatch, tmp_path):
    from bgetune.core.config import Settings
    from bgetune.ui.app import build_app, launch

    monkeypatch.setenv("BGETUNE_UI_USER", "ana")
    monkeypatch.setenv("BGETUNE_UI_PASSWORD", "s3cret")
    ws = tmp_path / "ws"
    demo = build_app(None, workspace=ws, settings=Settings(workspace=ws))
    port = free_port()
    launch(demo, port=port, block=False, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/config").status_code in (401, 403)
        bad = httpx.post(f"{url}/login", data={"username": "ana", "password": "nope"})
        assert bad.status_code >= 400
        with httpx.Client() as c:
            assert c.post(f"{url}/login", data={"username": "ana", "password": "s3cret"}).status_code == 200
            assert c.get(f"{url}/config").status_code == 200
    finally:
        demo.close()


@pytest.mark.parametrize("text", ["", None])
def test_empty_message_sends_nothing(tmp_path, text):
    from bgetune.core.config import Settings
    from bgetune.ui.app import Controller

    class NoSession:
        def send(self, *a, **k):  # pragma: no cover - must not be called
            raise AssertionError("sent an empty message")

    ctl = Controller(NoSession(), workspace=tmp_path / "ws", settings=Settings(workspace=tmp_path / "ws"))
    assert list(ctl.send({"text": text, "files": []}, [])) == [[]]
