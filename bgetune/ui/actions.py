"""What the UI's non-chat handlers do: each action is a capability run through ``invoke`` (the controller's), the
reads come from the workspace. Mixed into :class:`bgetune.ui.controller.Controller`."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr

from bgetune import surfaces
from bgetune.core.workspace import TRAINABLE
from bgetune.ui import caps, render
from bgetune.ui.uploads import HISTORY_SUFFIXES, QUESTION_SUFFIXES, UploadError, store_uploads

MAX_TABLE_ROWS = 500


class DataActions:
    """The Dataset, Golden questions and Settings tabs' actions."""

    ws: Any
    workspace: Path
    settings: Any

    def invoke(self, name: str, values: dict[str, Any] | None = None, files: list[str] | None = None) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ dataset
    def dataset(
        self, status: str | None, reason: str | None, document: str | None, search: str | None
    ) -> tuple[list[list[Any]], dict[str, Any]]:
        values = {
            "status": None if status in (None, "", "all") else status,
            "reason": None if reason in (None, "", "all") else reason,
            "document": None if document in (None, "", "all") else document,
            "search": (search or "").strip() or None,
            "limit": MAX_TABLE_ROWS,
        }
        page = self.invoke("show_pairs", values)
        return render.pair_rows(page.pairs), surfaces.result_data(self.invoke("show_dataset"))

    def documents(self) -> list[str]:
        return sorted({d["name"] for d in self.ws.documents() if d.get("name")})

    def set_status(self, ids: list[int], action: str) -> str:
        if action == "approve_all":
            return f"Approved {self.invoke('approve_all_pairs').count} proposed pair(s)."
        if not ids:
            return "Select pairs first: click rows in the table, or type their ids."
        if action == "approve":
            return f"Approved {self.invoke('approve_pairs', {'ids': ids}).count} pair(s): {_ids_text(ids)}."
        n = self.invoke("reject_pairs", {"ids": ids, "why": "rejected in the review tab"}).count
        return f"Rejected {n} pair(s): {_ids_text(ids)}."

    def edit_query(self, pair_id: int, query: str) -> str:
        self.invoke("edit_pair", {"id": int(pair_id), "query": query})
        status = self.ws.scalar("SELECT status FROM pairs WHERE id=?", (int(pair_id),))
        return f"Pair {int(pair_id)} now asks: “{query.strip()}” (status {status})."

    def store(self, files: Any, suffixes: frozenset[str]) -> list[str]:
        """Uploaded files copied into the workspace; a refused one raises with the reason."""
        items = files if isinstance(files, list) else [files] if files else []
        res = store_uploads(
            self.workspace, items, max_file_mb=self.settings.max_file_mb or 200.0, suffixes=suffixes
        )
        if res.refused:
            raise UploadError("; ".join(res.refused))
        return [str(p) for p in res.stored]

    def history_preview(self, files: Any, overrides: dict[str, str] | None = None) -> Any:
        paths = self.store(files, HISTORY_SUFFIXES)
        if not paths:
            raise gr.Error("Upload a CSV, TSV, XLSX or JSONL file of your team's questions first.")
        return self.invoke("preview_history", {"path": paths[0], **(overrides or {})}), paths[0]

    def history_import(self, path: str, overrides: dict[str, str] | None = None) -> Any:
        return self.invoke("import_history", {"path": path, **(overrides or {})})

    # ------------------------------------------------------------------ settings card
    def settings_values(self, name: str = "train") -> list[dict[str, Any]]:
        """The settings card of ``name`` with the values the workspace holds now."""
        return caps.card(name, self.ws)

    def save_settings(self, entries: list[dict[str, Any]], values: list[Any], name: str = "train") -> str:
        current = {e["name"]: e["value"] for e in self.settings_values(name)}
        edits = render.card_edits(entries, current, values)
        if not edits:
            return "Nothing changed."
        notes = []
        for key, value in edits.items():
            entry = next(e for e in entries if e["name"] == key)
            if not entry.get("remembered"):
                notes.append(f"{key} is set per run: change it on the approval card when you train")
                continue
            shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            notes.append(surfaces.result_text(self.invoke("set_setting", {"name": key, "value": shown})))
        return "\n\n".join(notes)

    # ------------------------------------------------------------------ golden questions
    def golden_add(self, text: str | None, files: Any) -> Any:
        paths = self.store(files, QUESTION_SUFFIXES) if files else []
        values: dict[str, Any] = {"questions": [text]} if (text or "").strip() else {}
        if paths:  # an explicit questions file (the chat's attachments are read only when nothing is typed)
            values["path" if "path" in caps.option_names("golden_add") else "file"] = paths[0]
        return self.invoke("golden_add", values, files=paths)

    def golden_candidates(self, qid: int | None = None, *, after: int | None = None) -> Any:
        """The candidates of question ``qid``, or of the next unlabeled question (after ``after``, wrapping)."""
        if qid is None and after is not None:
            todo = [q.id for q in self.golden_list().questions if q.status == "unlabeled"]
            qid = next((i for i in todo if i > after), todo[0] if todo else None)
        return self.invoke("golden_candidates", {"query_id": qid})

    def golden_label(self, qid: int, numbers: list[int] | None) -> Any:
        answer = " ".join(str(n) for n in sorted(numbers or [])) or "none"
        return self.invoke("golden_label", {"answer": answer, "query_id": int(qid)})

    def golden_list(self) -> Any:
        return self.invoke("golden_list", {})


class ResultActions:
    """The Results tab's actions: what the last runs did, diagnosis and fixes, the model's use and export."""

    ws: Any
    settings: Any

    def invoke(self, name: str, values: dict[str, Any] | None = None, files: list[str] | None = None) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ results
    def results(self) -> dict[str, Any]:
        """What the Results tab shows, from the last finished runs (nothing is re-run)."""
        ws = self.ws
        train, ev = ws.last_run("train"), ws.last_run("eval")
        cal_path = ws.artifact_path("calibration.json", mkdir=False)
        try:
            cal = json.loads(cal_path.read_text()) if cal_path.exists() else None
        except ValueError:
            cal = None
        return render.results_view(
            (train or {}).get("result") or {},
            (ev or {}).get("result") or {},
            run_id=(train or {}).get("id"),
            calibration=cal if isinstance(cal, dict) else None,
            plots=self._plots((train or {}).get("id"), (ev or {}).get("result") or {}),
        )

    def _plots(self, run_id: str | None, ev: dict[str, Any]) -> dict[str, str]:
        """The newest plots: the evaluation's own, then the training run's folder, then the workspace's."""
        names = {"hist": "score_histograms.png", "bars": "metrics.png", "loss": "loss.png"}
        art = self.ws.artifacts
        places = [Path(p) for p in ev.get("plots") or []]
        if run_id:
            places += sorted(
                (art / "runs" / run_id).glob("**/*.png"), key=lambda p: p.stat().st_mtime, reverse=True
            )
        places += sorted((art / "plots").glob("*.png"))
        out: dict[str, str] = {}
        for key, name in names.items():
            found = next((p for p in places if p.name == name and p.exists()), None)
            if found is not None:
                out[key] = str(found)
        return out

    def calibrate(self) -> str:
        r = self.invoke("calibrate")
        return f"Threshold {r.threshold_f1:.3f} (max F1) saved to `{r.path}`."

    def diagnose_result(self, query: str, expected: str | None = None, expected_id: str | None = None) -> Any:
        if not (query or "").strip():
            raise gr.Error("Type the query that misses its passage.")
        values = {
            "query": query.strip(),
            "expected": (expected or "").strip() or None,
            "expected_id": expected_id,
        }
        if expected_id:
            values["expected"] = None
        return self.invoke("diagnose", values)

    def apply_fix(self, miss_id: int, action: str, args: dict[str, Any]) -> Any:
        known = set(caps.option_names("apply_fix"))
        values = {k: v for k, v in (args or {}).items() if k in known}
        return self.invoke("apply_fix", values | {"miss_id": int(miss_id), "action": action})

    # ------------------------------------------------------------------ the model
    def model_dir(self) -> str | None:
        """The folder of the model that shipped (None when nothing was exported or trained)."""
        train = self.ws.last_run("train")
        r = (train or {}).get("result") or {}
        decision = r.get("decision") if isinstance(r.get("decision"), dict) else None
        if decision is not None and not decision.get("ship") and not decision.get("forced"):
            return None
        folder = r.get("model_dir")
        return folder if folder and Path(folder).exists() else None

    def usage(self) -> str:
        train = self.ws.last_run("train")
        folder = self.model_dir()
        if train is None:
            return "No trained model yet: train one from the Chat tab, then come back for the code to use it."
        if folder is None:
            return render.kept_base_usage((train.get("result") or {}).get("decision") or {})
        return render.local_usage(folder)

    def serve(self) -> tuple[str, str]:
        r = self.invoke("serve_model", {})
        return r.url, render.snippets_markdown(r.snippets, r.model_dir, r.url)

    def export_zip(self, anyway: bool = False) -> str:
        """The exported model as a zip (exports first if needed). When the ship decision kept the base model,
        nothing is exported unless ``anyway``."""
        train = self.ws.last_run("train")
        if train is None:
            raise gr.Error("No trained model yet: train one from the Chat tab first.")
        out = self.invoke("export_model", {"run_id": train["id"], "ship_anyway": bool(anyway)})
        if not out.model_dir:
            why = out.detail.get("text") or "the ship decision kept the base model."
            raise gr.Error(
                f"Not exported: {why} Tick “export even if the base model was kept” to export the tuned model anyway."
            )
        folder = Path(out.model_dir)
        zpath = self.ws.artifact_path("downloads", f"bgetune-model-{train['id']}.zip")
        tmp = zpath.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    zf.write(f, Path(folder.name) / f.relative_to(folder))
        os.replace(tmp, zpath)
        return str(zpath)

    def export_jsonl(self) -> str:
        if not self.ws.scalar(f"SELECT count(*) FROM pairs WHERE {TRAINABLE}"):
            raise gr.Error("No approved pairs yet: approve pairs in the Dataset tab first.")
        split = "train" if self.ws.scalar("SELECT count(*) FROM pairs WHERE split='train'") else "all"
        path = self.ws.artifact_path("downloads", "train.jsonl")
        return self.invoke("export_data", {"out": str(path), "split": split}).path


def _ids_text(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")
