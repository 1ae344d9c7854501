"""History capabilities: preview and import a team's real question history (and click logs) as training pairs.

The import runs the filters on the new pairs afterwards (real questions are flagged for review, never rejected
by filters made for synthetic ones) on every surface: the CLI's `import-pairs`, the chat and the UI.
"""

from __future__ import annotations

from dataclasses import dataclass

from bgetune.capabilities import Capability, Context, invoke, setting
from bgetune.capabilities.prereqs import HAS_CHUNKS
from bgetune.tools.history import (
    HistoryImportResult,
    HistoryOptions,
    HistoryPreview,
    import_history,
    preview_history,
)


@dataclass(kw_only=True)
class ImportHistoryOptions(HistoryOptions):
    then_filter: bool = setting(True, help="Run the filters on the imported pairs afterwards.", flag="--filter")


def run_import(ctx: Context, opts: ImportHistoryOptions) -> HistoryImportResult:
    """Import, then (unless switched off) filter the new pairs: the same on the CLI, in the chat and the UI."""
    res = import_history(ctx, opts)
    if opts.then_filter and res.pairs:
        filtered = invoke("filter_pairs", {}, ctx)
        res.flagged, res.rejected = filtered.flagged, filtered.rejected
    return res


CAPABILITIES = [
    Capability(
        "preview_history",
        "Read a question history file (CSV/TSV/XLSX/JSONL), detect its columns and say what an import would do.",
        preview_history,
        HistoryOptions,
        HistoryPreview,
        cost="free",
        cli=None,  # `bgetune import-pairs FILE --preview`
    ),
    Capability(
        "import_history",
        "Import the team's real questions (and click logs) as training pairs linked to the documents' chunks.",
        run_import,
        ImportHistoryOptions,
        HistoryImportResult,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS,),
        cli="import-pairs",
        preview="preview_history",  # the CLI shows the detected columns and asks (or --yes / --preview)
        decides=True,
        ui="data",
    ),
]
