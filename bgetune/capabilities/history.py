"""History capabilities: preview and import a team's real question history (and click logs) as training pairs."""

from __future__ import annotations

from bgetune.capabilities import Capability
from bgetune.capabilities.prereqs import HAS_CHUNKS
from bgetune.tools.history import (
    HistoryImportResult,
    HistoryOptions,
    HistoryPreview,
    import_history,
    preview_history,
)

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
        import_history,
        HistoryOptions,
        HistoryImportResult,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS,),
        cli=None,  # `bgetune import-pairs FILE` (commands/data.py) keeps the confirm flow
        decides=True,
        ui="data",
    ),
]
