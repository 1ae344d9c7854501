"""Export capability: the tuned model as a sentence-transformers folder with its model card (and ONNX files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bgetune.capabilities import Capability, Context, setting, user_path
from bgetune.capabilities.prereqs import HAS_TRAINED
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.results import Result
from bgetune.tools.export import ExportError, export_model
from bgetune.tools.onnx_export import export_onnx


@dataclass
class ExportResult(Result):
    model_dir: str = ""
    model_card: str = ""
    run_id: str = ""

    def text(self, lang: str = "en") -> str:
        if not self.model_dir:  # the ship decision kept the base: nothing new was exported
            said = self.detail.get("text_zh" if lang == "zh" else "text") or self.detail.get("text") or ""
            return said + say(
                lang,
                '\nNothing new was exported. Say "ship anyway" (or `bgetune export --ship-anyway`) to export the best '
                "tuned candidate regardless.",
                "\n没有导出新模型。如仍要导出最好的微调候选，说“仍然发布”（或 `bgetune export --ship-anyway`）。",
            )
        onnx = self.detail.get("onnx")
        extra = ("\n" + onnx.text(lang)) if hasattr(onnx, "text") else ""
        return (
            say(
                lang,
                f"Exported to {self.model_dir} (model card {Path(self.model_card).name if self.model_card else '-'}). "
                'Load it with SentenceTransformer(path); say "serve it" for an OpenAI-compatible endpoint.',
                f"已导出到 {self.model_dir}（模型说明 {Path(self.model_card).name if self.model_card else '-'}）。"
                "用 SentenceTransformer(path) 加载；说“部署”可启动兼容 OpenAI 的接口。",
            )
            + extra
        )


@dataclass(kw_only=True)
class ExportOptions:
    out_dir: str | None = setting(None, help="Folder to write (default: inside the workspace).", flag="--out")
    run_id: str | None = setting(None, help="Training run id (default: the latest finished).", flag="--run")
    ship_anyway: bool = setting(
        False,
        help="Export the best tuned candidate even when the ship decision kept the base.",
        say=("ship anyway", "仍然发布"),
    )
    onnx: bool = setting(False, help="Also write onnx/model.onnx (measured against torch).")
    quantize: Literal["none", "int8"] = setting("none", help="Also write an int8 ONNX file (implies --onnx).")


def _export(ctx: Context, o: ExportOptions) -> ExportResult:
    out = user_path(ctx, o.out_dir, "write to") if (o.out_dir and ctx.files is not None) else o.out_dir
    try:
        res = ExportResult.of(export_model(ctx.ws, run_id=o.run_id, out_dir=out, ship_anyway=o.ship_anyway))
    except ExportError as exc:
        raise BgetuneError(str(exc)) from exc
    if (o.onnx or o.quantize != "none") and res.model_dir:
        res.detail["onnx"] = export_onnx(res.model_dir, quantize=o.quantize, ws=ctx.ws)
    return res


CAPABILITIES = [
    Capability(
        "export_model",
        "Export the tuned model as a sentence-transformers folder with its model card.",
        _export,
        ExportOptions,
        ExportResult,
        requires=(HAS_TRAINED,),
        cli="export",
        stage=10,
    ),
]
