"""Serving capabilities: the OpenAI-compatible embeddings server and the ONNX (int8) files it can run."""

from __future__ import annotations

from dataclasses import dataclass

from bgetune.capabilities import Capability, Context, setting
from bgetune.core.i18n import say
from bgetune.tools.onnx_export import OnnxExportError, OnnxExportResult, export_onnx
from bgetune.tools.serve import ServeOptions, ServeResult, default_model_dir, serve_model, stop_servers


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


CAPABILITIES = [
    Capability(
        "serve_model",
        "Serve the tuned model as an OpenAI-compatible embeddings API on this machine and show how to call it.",
        serve_model,
        ServeOptions,
        ServeResult,
        cost="free",
        cli=None,  # `bgetune serve` (bgetune/commands/serve.py) serves in the foreground
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
