"""serve_model and export_onnx are declared once and run through the capability table like any stage."""

from __future__ import annotations

import httpx


def test_serve_model_is_free_and_starts_a_loopback_server(model_dir, workspace):
    from bgetune.capabilities import Context, get
    from bgetune.core.config import Settings

    cap = get("serve_model")
    assert cap.cost == "free" and not cap.gated(None, None) and cap.command == "serve"  # derived `bgetune serve`
    opts = cap.make_options({"model": str(model_dir), "port": 0})
    ctx = Context(ws=workspace, settings=Settings(workspace=workspace.root))
    res = cap.run(ctx, opts)
    try:
        assert res.url.startswith("http://127.0.0.1:") and res.models[1] == "tuned-demo:query"
        assert httpx.get(f"{res.url}/health").json()["status"] == "ok"
        assert res.url in res.snippets["openai"] and "tuned-demo:query" in res.text("en")
        assert "嵌入服务已启动" in res.text("zh")
        again = cap.run(ctx, opts)  # asking twice reuses the running server
        assert again.url == res.url
    finally:
        from bgetune.tools.serve import _RUNNING

        _RUNNING[str(model_dir.resolve())].stop()


def test_serve_model_without_an_export_says_what_to_run(workspace):
    import pytest

    from bgetune.capabilities import Context, get
    from bgetune.core.config import Settings
    from bgetune.core.errors import BgetuneError

    cap = get("serve_model")
    with pytest.raises(BgetuneError, match="bgetune export"):
        cap.run(Context(ws=workspace, settings=Settings(workspace=workspace.root)), cap.make_options({}))


def test_export_onnx_is_declared_with_its_cli_and_cost():
    from bgetune.capabilities import get

    cap = get("export_onnx")
    assert cap.command == "export-onnx" and cap.cost == "cpu-minutes"
    assert cap.make_options({}).quantize == "int8"
