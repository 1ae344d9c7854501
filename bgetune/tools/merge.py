"""Forgetting guard: base vs tuned on an out-of-domain set, and an LM-Cocktail-style weight merge
(``alpha * tuned + (1 - alpha) * base``, alpha chosen on validation data) when the tuned model forgets.

The out-of-domain set is the user's own (corpus + golden JSONL), or one built from a shipped sample document
the workspace does not hold: section headings as queries, their sections as positives (real text, never
generated or trained on). English workspaces get the Filesystem Hierarchy Standard, Chinese ones the
Securities Law, when those samples are present.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bgetune.tools.evaluation import (
    EvaluationError,
    Progress,
    QuerySet,
    golden_queryset,
    load_corpus,
    load_eval_model,
    paired_bootstrap,
    read_jsonl,
    resolve_workspace_base,
    run_retrieval,
    workspace_queryset,
)
from bgetune.tools.vocab import pad_like

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from bgetune.core.workspace import Workspace

FORGET_TOLERANCE = 0.01  # nDCG@10 points (1 point) the tuned model may lose out of domain
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples"  # a clone's samples/ (not in the wheel)
PACKAGED_OOD = Path(__file__).resolve().parents[1] / "data" / "ood"  # the same two documents, in the wheel
OOD_SAMPLES = {"en": "en/fhs-3.0.pdf", "zh": "zh/securities-law.md"}


def ood_sample_path(rel: str) -> Path:
    """The shipped out-of-domain document ``rel`` (e.g. ``en/fhs-3.0.pdf``): packaged data, else samples/."""
    packaged = PACKAGED_OOD / Path(rel).name
    return packaged if packaged.is_file() else SAMPLES_DIR / rel


def merge_weights(base: SentenceTransformer, tuned: SentenceTransformer, alpha: float) -> SentenceTransformer:
    """A copy of ``tuned`` whose floating-point weights are ``alpha * tuned + (1 - alpha) * base``."""
    import torch

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    b_state = base.state_dict()
    t_state = tuned.state_dict()
    unk = getattr(getattr(tuned, "tokenizer", None), "unk_token_id", None)
    for k, v in t_state.items():  # tokens training added (tools/vocab.py): the base reads them as unknown
        if k.endswith("word_embeddings.weight") and k in b_state and v.shape[0] > b_state[k].shape[0]:
            b_state[k] = pad_like(b_state[k], v, unk)
    missing = [k for k in t_state if k not in b_state or b_state[k].shape != t_state[k].shape]
    if missing:
        raise EvaluationError(
            f"the tuned and base models differ in architecture ({len(missing)} tensors, e.g. {missing[0]}); "
            "a weight merge needs the tuned model's own base"
        )
    merged = copy.deepcopy(tuned)
    new_state = {}
    with torch.no_grad():
        for k, v in t_state.items():
            if torch.is_floating_point(v):
                new_state[k] = alpha * v + (1 - alpha) * b_state[k].to(v.device, v.dtype)
            else:
                new_state[k] = v
    merged.load_state_dict(new_state)
    return merged


def ood_queryset(
    ws: Workspace,
    *,
    language: str = "en",
    corpus: str | None = None,
    golden: str | None = None,
    work_dir: Path | None = None,
) -> tuple[QuerySet, str]:
    """The out-of-domain set: the user's files, else a shipped sample the workspace lacks (headings as queries)."""
    if corpus and golden:
        ids, texts = load_corpus(corpus)
        qs, _ = golden_queryset(ids, texts, read_jsonl(golden, "golden"), golden)
        return qs, f"user: {Path(golden).name}"
    rel = OOD_SAMPLES.get(language, OOD_SAMPLES["en"])
    path = ood_sample_path(rel)
    held = {Path(d["path"]).name for d in ws.documents()}
    if path.name in held:  # in-domain for this workspace: use the other language's sample
        other = next(v for k, v in OOD_SAMPLES.items() if v != rel)
        path = ood_sample_path(other)
    if not path.exists():
        raise EvaluationError(
            f"no out-of-domain set: the packaged sample {Path(rel).name} is missing from {PACKAGED_OOD} "
            "(a damaged install: reinstall bgetune); or pass your own with --ood-corpus FILE --ood-golden FILE"
        )
    return heading_queryset(path, work_dir or ws.artifact_path("ood", "x").parent), f"sample: {path.name}"


def heading_queryset(doc: Path, work_dir: Path, *, max_queries: int = 60) -> QuerySet:
    """Ingest ``doc`` into a scratch workspace; each distinct last heading becomes a query whose positives are
    the chunks under it (headings shorter than 3 characters or shared by > 5 chunks are skipped)."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    scratch = Workspace(work_dir / f"ws-{doc.stem}")
    if not scratch.scalar("SELECT count(*) FROM chunks"):
        report = ingest(scratch, [doc], settings=Settings(workspace=scratch.root))
        if not report.ok:
            raise EvaluationError(f"could not read the out-of-domain sample {doc}: {report.summary()}")
    rows = scratch.query("SELECT id, heading, text FROM chunks ORDER BY document_id, ord")
    by_head: dict[str, set[str]] = {}
    for r in rows:
        head = (r["heading"] or "").split(" > ")[-1].strip()
        if len(head) >= 3:
            by_head.setdefault(head, set()).add(r["id"])
    items = [(h, ids) for h, ids in by_head.items() if len(ids) <= 5]
    step = max(1, len(items) // max_queries)
    items = items[::step][:max_queries]
    if len(items) < 5:
        raise EvaluationError(f"{doc} has too few headings to build an out-of-domain set; pass your own")
    return QuerySet(
        [h for h, _ in items], [ids for _, ids in items], [r["id"] for r in rows], [r["text"] for r in rows]
    )


def forgetting_guard(
    ws: Workspace,
    *,
    tuned_dir: str,
    ood_corpus: str | None = None,
    ood_golden: str | None = None,
    save_merged: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Base vs tuned out of domain; if tuned loses more than 1 point nDCG@10, pick alpha on validation data
    (in-domain val split + out-of-domain set, mean nDCG@10) and report base, tuned and merged."""
    from bgetune.core.models import load_model
    from bgetune.core.text import corpus_language

    lang = corpus_language(ws.stats()["chunk_languages"])
    ood, ood_name = ood_queryset(
        ws, language="zh" if lang == "zh" else "en", corpus=ood_corpus, golden=ood_golden
    )
    base_res = resolve_workspace_base(ws)
    base = load_model(base_res)
    tuned, _ = load_eval_model(tuned_dir)
    if progress:
        progress(0, 3, "out-of-domain")
    m_base, p_base = run_retrieval(base, ood)
    m_tuned, p_tuned = run_retrieval(tuned, ood)
    loss = m_base["ndcg@10"] - m_tuned["ndcg@10"]
    out: dict[str, Any] = {
        "ood_set": ood_name,
        "ood_queries": len(ood.queries),
        "ood": {"base": _r(m_base), "tuned": _r(m_tuned)},
        "ood_ci": paired_bootstrap([q["ndcg@10"] for q in p_base], [q["ndcg@10"] for q in p_tuned]),
        "forgetting": round(loss, 4),
        "merge_recommended": loss > FORGET_TOLERANCE,
    }
    run_id = ws.start_run("forgetting", {"tuned_dir": tuned_dir, "ood": ood_name})
    ws.record_metrics(run_id, "base", "ood", m_base)
    ws.record_metrics(run_id, "tuned", "ood", m_tuned)
    if loss > FORGET_TOLERANCE:
        val = workspace_queryset(ws, "val")
        if not val.queries:
            val = workspace_queryset(ws, "test")
        table = []
        for alpha in ALPHAS:
            if progress:
                progress(1, 3, f"merge alpha={alpha}")
            model = base if alpha == 0 else tuned if alpha == 1 else merge_weights(base, tuned, alpha)
            v_in = run_retrieval(model, val)[0]["ndcg@10"] if val.queries else 0.0
            v_ood = run_retrieval(model, ood)[0]["ndcg@10"]
            table.append(
                {
                    "alpha": alpha,
                    "val_ndcg@10": round(v_in, 4),
                    "ood_ndcg@10": round(v_ood, 4),
                    "mean": round((v_in + v_ood) / 2, 4),
                }
            )
        best = max(table, key=lambda r: (r["mean"], r["alpha"]))
        out["merge"] = {
            "alphas": table,
            "alpha": best["alpha"],
            "chosen_on": "mean nDCG@10 of val split and OOD set",
        }
        if 0 < best["alpha"] < 1:
            merged = merge_weights(base, tuned, best["alpha"])
            out["ood"]["merged"] = _r(run_retrieval(merged, ood)[0])
            ws.record_metrics(run_id, "merged", "ood", out["ood"]["merged"])
            test = workspace_queryset(ws, "test")
            if test.queries:
                out["test"] = {"merged": _r(run_retrieval(merged, test)[0])}
            if save_merged:
                path = ws.artifact_path("models", f"merged-a{best['alpha']}", "x").parent
                merged.save(str(path))
                src = Path(tuned_dir) / "bgetune.json"
                if src.exists():
                    (path / "bgetune.json").write_text(src.read_text())
                out["merged_dir"] = str(path)
    if progress:
        progress(3, 3, "done")
    ws.finish_run(run_id, result=out)
    out["run_id"] = run_id
    return out


def _r(m: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in m.items()}
