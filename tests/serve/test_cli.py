"""`bgetune serve`: the refusals a user sees before anything listens."""

from __future__ import annotations

import typer
from typer.testing import CliRunner


def _app() -> typer.Typer:
    from bgetune.cli import app

    return app  # `serve` is derived from the serve_model capability


def test_serve_on_a_public_address_without_a_key_refuses(model_dir):
    r = CliRunner().invoke(_app(), ["serve", str(model_dir), "--host", "0.0.0.0"])
    assert r.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without an API key" in r.output and "--api-key" in r.output


def test_serve_a_folder_that_is_not_a_model_names_it(tmp_path):
    r = CliRunner().invoke(_app(), ["serve", str(tmp_path)])
    assert r.exit_code == 2 and "no modules.json" in r.output and str(tmp_path) in r.output


def test_serve_without_a_workspace_says_what_to_pass(tmp_path):
    r = CliRunner().invoke(_app(), ["serve", "-w", str(tmp_path / "none")])
    assert r.exit_code == 2 and "pass a model folder" in r.output


def test_serve_in_the_foreground_answers_another_process(model_dir, reference):
    """`bgetune serve DIR --port P` in its own process; the openai client in this one (the issue's check)."""
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import numpy as np
    from openai import OpenAI

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bgetune.cli", "serve", str(model_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        client = OpenAI(base_url=f"{url}/v1", api_key="none")
        got = (
            client.embeddings.create(model="tuned-demo:query", input=["how do I upgrade?"]).data[0].embedding
        )
        want = reference.encode("how do I upgrade?", prompt_name="query")
        assert float(np.dot(got, want) / np.linalg.norm(got) / np.linalg.norm(want)) >= 0.999
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"at {url}/v1 as 'tuned-demo'" in err and "client.embeddings.create" in err
