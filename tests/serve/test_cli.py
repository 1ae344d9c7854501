"""`bgetune serve`: the refusals a user sees before anything listens."""

from __future__ import annotations

import typer
from typer.testing import CliRunner


def _app() -> typer.Typer:
    from bgetune.commands import serve

    app = typer.Typer()
    serve.register(app)
    return app


def test_serve_on_a_public_address_without_a_key_refuses(model_dir):
    r = CliRunner().invoke(_app(), ["serve", str(model_dir), "--host", "0.0.0.0"])
    assert r.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without an API key" in r.output and "--api-key" in r.output


def test_serve_a_folder_that_is_not_a_model_names_it(tmp_path):
    r = CliRunner().invoke(_app(), ["serve", str(tmp_path)])
    assert r.exit_code == 2 and "no modules.json" in r.output and str(tmp_path) in r.output


def test_serve_without_a_workspace_says_what_to_pass(tmp_path):
    r = CliRunner().invoke(_app(), ["serve", "-w", str(tmp_path / "none")])
    assert r.exit_code == 1 and "pass a model folder" in r.output
