"""Serving capabilities: the OpenAI-compatible embeddings server and the ONNX (int8) files it can run."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bgetune.capabilities import Capability, Context, setting
from bgetune.core.i18n import say
from bgetune.tools.onnx_export import OnnxExportError, OnnxExportResult, export_onnx
from bgetune.tools.serve import (
    _RUNNING,
    ServeError,
    ServeOptions,
    ServeResult,
    default_model_dir,
    serve_model,
    stop_servers,
)


@dataclass
class StopResult:
    stopped: list[str]

    def text(self, lang: str = "en") -> str:
        if not self.stopped:
            return say(lang, "No server is running from this chat.", "这次对话没有启动服务。")
        urls = ", ".join(self.stopped)
        return say(lang, f"Stopped the server at {urls}.", f"已停止服务：{urls}。")


@dataclass(kw_only=True)
class ExportOnnxOptions:
    model: str | None = setting(
        None, help="Model folder (default: the workspace's exported model).", positional=True
    )
    quantize: str = setting(
        "int8",
        help="none, or int8 (a smaller file, faster on most CPUs; its quality loss is measured).",
        choices=("none", "int8"),
        say=("int8", "quantize", "量化"),
    )
    quality: bool = setting(True, help="Measure each file against the torch model on the held-out split.")


def _export_onnx(ctx: Context, o: ExportOnnxOptions) -> OnnxExportResult:
    folder = o.model or default_model_dir(ctx.ws)
    if not folder:
        raise OnnxExportError(f"no exported model in {ctx.ws.root}: run `bgetune export` first")
    return export_onnx(folder, quantize=o.quantize, ws=ctx.ws, quality=o.quality)  # type: ignore[arg-type]


_ONNX = [
    Capability(
        "export_onnx",
        "Write ONNX (and int8) files into the exported model folder and measure their quality against torch.",
        _export_onnx,
        ExportOnnxOptions,
        OnnxExportResult,
        cost="cpu-minutes",
        cli="export-onnx",
        ui="results",
    )
]


def _serve(ctx: Context, opts: ServeOptions) -> ServeResult:
    if not opts.model and ctx.ws is None:
        raise ServeError("no workspace here: pass a model folder, or -w WORKSPACE holding an exported model")
    return serve_model(ctx, opts)


def _serve_in_foreground(res: ServeResult) -> None:
    """`bgetune serve`: say how to call it (stderr), then serve until interrupted."""
    key = "; clients send the key from $BGETUNE_SERVE_API_KEY or --api-key" if res.api_key_required else ""
    sys.stderr.write(
        f"serving {res.model_dir} ({res.backend}) at {res.url}/v1 as {res.models[0]!r}; "
        f"queries: model {res.models[1]!r} or input_type 'query'{key}\n\n{res.snippets['openai']}\n\n"
    )
    sys.stderr.flush()
    running = next((r for r in _RUNNING.values() if r.url == res.url), None)
    if running is None:
        return
    try:
        running.thread.join()
    except KeyboardInterrupt:
        running.stop()


CAPABILITIES = [
    Capability(
        "serve_model",
        "Serve the tuned model as an OpenAI-compatible embeddings API on this machine and show how to call it.",
        _serve,
        ServeOptions,
        ServeResult,
        cost="free",
        cli="serve",
        workspace="optional",  # `bgetune serve MODEL_DIR` needs none
        cli_after=_serve_in_foreground,
        ui="results",
    ),
    Capability(
        "stop_serving",
        "Stop the embeddings server started from this chat.",
        lambda ctx, o: StopResult(stop_servers()),
        None,
        StopResult,
        cost="free",
        cli=None,
    ),
] + _ONNX
