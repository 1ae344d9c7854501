"""Serving benchmark: torch fp32 vs ONNX fp32 vs ONNX int8, the HTTP server under load, and queries without the
query prompt (what a client that cannot mark queries, such as Dify's OpenAI-compatible provider, loses).

The model is trained once with the BGE English query instruction on the Debian FAQ English corpus (the bundled
MiniLM with its own mean pooling: no BGE weights are reachable here) and cached under --work; every figure is
measured on the FAQ's 120 REAL questions against its 147 answers.

Usage: HF_HUB_OFFLINE=1 nice -n 10 python bench/serve.py [--work /tmp/bgetune-serve-bench] [--model DIR]
Writes bench/serve-results.json and the "Serving" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEBIAN = REPO.parent / "shared" / "benchmarks" / "debian-faq"
START, END = "<!-- serve:start -->", "<!-- serve:end -->"
DOWNGRADE_WATCH = {
    "transformers",
    "sentence-transformers",
    "huggingface-hub",
    "huggingface_hub",
    "numpy",
    "tokenizers",
}
PROMPT_FAMILY = "minilm-bge-prompt"


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def train_prompt_model(work: Path) -> Path:
    """The Debian FAQ en pipeline with the BGE en query instruction as the training query prompt (cached)."""
    from bgetune.core.models import BGE_EN_INSTRUCTION, FAMILIES, Family
    from bgetune.pipeline import run_pipeline
    from bgetune.tools.training import TrainConfig

    marker = work / "prompt-model.json"
    if marker.exists():
        d = Path(json.loads(marker.read_text())["model_dir"])
        if (d / "modules.json").exists():
            return d
    # the bundled model keeps its mean pooling and scale; only the query instruction is added
    FAMILIES[PROMPT_FAMILY] = Family(PROMPT_FAMILY, BGE_EN_INSTRUCTION, "keep", 0.05)
    ws_dir = work / "debian-en-prompt"
    cfg = TrainConfig(base_model="bundled", family=PROMPT_FAMILY)
    t0 = time.time()
    res = run_pipeline(
        [DEBIAN / "corpus.en.jsonl"],
        workspace=ws_dir,
        base_model="bundled",
        yes=True,
        train_config=cfg,
        log=log,
    )
    tr = res["stages"]["train"]
    d = Path(tr.get("best_tuned_dir") or tr.get("tuned_model_dir") or tr["model_dir"])
    marker.write_text(
        json.dumps({"model_dir": str(d), "seconds": round(time.time() - t0), "train": _slim(tr)}, default=str)
    )
    return d


def _slim(tr: dict) -> dict:
    return {
        k: tr.get(k) for k in ("run_id", "steps", "epochs_done", "best_epoch", "family", "pairs", "shipped")
    }


def queryset():
    from bgetune.tools.evaluation import golden_queryset, load_corpus, read_jsonl

    ids, texts = load_corpus(DEBIAN / "corpus.en.jsonl")
    qs, _ = golden_queryset(ids, texts, read_jsonl(DEBIAN / "golden.en.jsonl", "golden"))
    return qs


def retrieval(q_emb, c_emb, qs) -> tuple[float, list[float]]:
    from bgetune.tools.evaluation import query_metrics, search

    idx, _ = search(q_emb, c_emb, 10)
    per = [
        query_metrics([qs.corpus_ids[j] for j in idx[i]], qs.positives[i])["ndcg@10"] for i in range(len(idx))
    ]
    return float(sum(per) / len(per)), per


def throughput(enc, texts: list[str], repeats: int = 2) -> float:
    """Texts per second, best of ``repeats`` passes over ``texts`` in batches of 32."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for s in range(0, len(texts), 32):
            enc.encode(texts[s : s + 32], "")
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


def backends(model_dir: Path, qs) -> dict:
    from bgetune.tools.onnx_export import export_onnx
    from bgetune.tools.serve import OnnxEncoder, TorchEncoder

    if not (model_dir / "onnx" / "model_qint8.onnx").exists():
        log("exporting ONNX fp32 + int8")
        export_onnx(model_dir, quantize="int8", queryset=qs)
    texts = qs.corpus_texts + qs.queries
    out = {}
    for label, make in (
        ("torch fp32", lambda: TorchEncoder(model_dir, device="cpu")),
        ("onnx fp32", lambda: OnnxEncoder(model_dir, file_name="onnx/model.onnx")),
        ("onnx int8", lambda: OnnxEncoder(model_dir, file_name="onnx/model_qint8.onnx")),
    ):
        enc = make()
        qp = enc.prompts.get("query", "")
        c_emb, _ = enc.encode(qs.corpus_texts, "")
        q_emb, _ = enc.encode(qs.queries, qp)
        nd, per = retrieval(q_emb, c_emb, qs)
        tps = throughput(enc, texts)
        out[label] = {"texts_per_s": round(tps, 1), "ndcg@10": round(nd, 4), "per_query": per}
        log(f"{label}: {tps:.1f} texts/s, nDCG@10 {nd:.4f}")
        del enc
    size = {
        f: round((model_dir / f).stat().st_size / 1e6, 1)
        for f in ("onnx/model.onnx", "onnx/model_qint8.onnx")
    }
    out["sizes_mb"] = size | {
        "model.safetensors": round((model_dir / "model.safetensors").stat().st_size / 1e6, 1)
    }
    return out


def prompt_loss(model_dir: Path, qs) -> dict:
    """nDCG@10 on the real questions: queries with the prompt, without it, and everything with it."""
    from bgetune.core.models import bundled_model_path
    from bgetune.tools.evaluation import paired_bootstrap
    from bgetune.tools.serve import TorchEncoder

    out = {}
    for label, folder in (
        ("tuned (trained with the prompt)", model_dir),
        ("base (bundled)", bundled_model_path()),
    ):
        enc = TorchEncoder(folder, device="cpu")
        qp = (
            enc.prompts.get("query")
            or json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]["query"]
        )
        c_plain, _ = enc.encode(qs.corpus_texts, "")
        c_prompt, _ = enc.encode(qs.corpus_texts, qp)
        q_prompt, _ = enc.encode(qs.queries, qp)
        q_plain, _ = enc.encode(qs.queries, "")
        a, pa = retrieval(q_prompt, c_plain, qs)
        b, pb = retrieval(q_plain, c_plain, qs)
        c, pc = retrieval(q_prompt, c_prompt, qs)
        out[label] = {
            "queries with prompt": round(a, 4),
            "queries without prompt": round(b, 4),
            "prompt on queries and documents": round(c, 4),
            "without - with [95% CI]": paired_bootstrap(pa, pb),
            "both - with [95% CI]": paired_bootstrap(pa, pc),
        }
        log(f"{label}: with {a:.4f}, without {b:.4f}, both {c:.4f}")
    return out


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def hammer(url: str, path: str, model: str, texts: list[str], clients: int, headers=None) -> dict:
    """``clients`` threads send ``texts``, one per request, to ``url + path``; requests/s and latency."""
    import httpx

    lat: list[float] = []
    errors = 0
    it = iter(texts)
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        with httpx.Client(timeout=120) as c:
            while True:
                with lock:
                    nxt = next(it, None)
                if nxt is None:
                    return
                t = time.perf_counter()
                r = c.post(f"{url}{path}", json={"model": model, "input": [nxt]}, headers=headers)
                with lock:
                    lat.append(time.perf_counter() - t)
                    errors += r.status_code != 200

    for q in texts[:8]:  # warm-up
        httpx.post(f"{url}{path}", json={"model": model, "input": [q]}, timeout=120, headers=headers)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "requests": len(texts),
        "clients": clients,
        "errors": errors,
        "requests_per_s": round(len(texts) / wall, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(_pct(lat, 99) * 1000, 1),
    }


def _wait_up(url: str, proc: subprocess.Popen, seconds: int = 300) -> bool:
    import httpx

    for _ in range(seconds * 5):
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def load_test(model_dir: Path, qs, *, clients: int = 8, backend: str = "torch") -> dict:
    """The server in its own process; ``clients`` threads send every real question twice, one per request."""
    from bgetune.tools.serve import TorchEncoder

    requests_ = [q for q in qs.queries for _ in range(2)]
    port = 18000 + os.getpid() % 1000
    code = (
        "from bgetune.tools.serve import ServeConfig, run_server;"
        f"run_server(ServeConfig(model_dir={str(model_dir)!r}, port={port}, backend={backend!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_up(f"{url}/health", proc):
            raise RuntimeError("bgetune serve did not start")
        import httpx

        name = httpx.get(f"{url}/v1/models").json()["data"][1]["id"]  # <name>:query
        server = hammer(url, "/v1/embeddings", name, requests_, clients)
    finally:
        proc.terminate()
        proc.wait(30)
    enc = TorchEncoder(model_dir, device="cpu")
    qp = enc.prompts.get("query", "")
    enc.encode(qs.queries[:8], qp)
    one: list[float] = []
    t0 = time.perf_counter()
    for q in requests_:
        t = time.perf_counter()
        enc.encode([q], qp)
        one.append(time.perf_counter() - t)
    seq_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(0, len(requests_), 32):
        enc.encode(requests_[s : s + 32], qp)
    batch_wall = time.perf_counter() - t0
    inproc = {
        "one_per_call_per_s": round(len(requests_) / seq_wall, 1),
        "one_per_call_p50_ms": round(statistics.median(one) * 1000, 1),
        "one_per_call_p99_ms": round(_pct(one, 99) * 1000, 1),
        "batch32_per_s": round(len(requests_) / batch_wall, 1),
    }
    log(f"server ({backend}): {server}; in-process: {inproc}")
    return {"server": server, "in_process": inproc, "backend": backend}


def infinity_check(work: Path, model_dir: Path | None = None, qs=None, clients: int = 8) -> dict:
    """infinity-emb into a throwaway venv that sees this venv's packages (so the CPU torch counts as installed and
    pip cannot fetch PyPI's CUDA torch); what it would change, whether it installs, and the same load test."""
    import site

    venv = work / "infinity-venv"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pth = next(venv.glob("lib/python*/site-packages"))
        (pth / "bgetune_venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = str(venv / "bin" / "pip")
    spec = "infinity-emb[server,torch]"
    out: dict = {
        "spec": spec,
        "note": "in a venv of its own, pip resolves infinity-emb's torch from PyPI, whose Linux wheel is the CUDA "
        "build (torch 2.8.0, 888 MB, plus nvidia-* wheels; seen 2026-12-02), which this machine must not install; "
        "so it is tried beside bgetune's CPU torch instead",
    }
    p = subprocess.run(
        [pip, "install", "--dry-run", "--quiet", "--report", "-", spec], capture_output=True, text=True
    )
    if p.returncode != 0:
        out["error"] = (p.stderr.strip().splitlines() or ["?"])[-1][:300]
        return out
    pkgs = [
        f"{i['metadata']['name']}=={i['metadata']['version']}"
        for i in json.loads(p.stdout).get("install", [])
    ]
    out["would_install"] = pkgs
    out["cuda_packages"] = [x for x in pkgs if x.lower().startswith(("nvidia-", "triton", "torch=="))]
    t0 = time.time()
    p = subprocess.run([pip, "install", "--quiet", spec], capture_output=True, text=True)
    out["installed"] = p.returncode == 0
    out["install_seconds"] = round(time.time() - t0)
    if p.returncode != 0:
        out["error"] = (p.stderr.strip().splitlines() or ["?"])[-1][:300]
        return out
    if model_dir is None or qs is None:
        return out
    port = 19000 + os.getpid() % 1000
    cmd = [str(venv / "bin" / "infinity_emb"), "v2", "--model-id", str(model_dir), "--port", str(port)]
    cmd += ["--engine", "torch", "--device", "cpu", "--served-model-name", "tuned", "--no-bettertransformer"]
    logf = open(work / "infinity.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        stdout=logf,
        stderr=subprocess.STDOUT,
        env=os.environ | {"INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_up(f"{url}/health", proc):
            out["runs"] = False
            errs = [
                x
                for x in (work / "infinity.log").read_text().splitlines()
                if "Error" in x and not x[:1].isspace()
            ]
            out["error"] = (
                "did not start: " + (errs[0] if errs else "see infinity.log")[:300]
            )  # the root cause
            return out
        out["runs"] = True
        qp = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]["query"]
        requests_ = [qp + q for q in qs.queries for _ in range(2)]  # Infinity takes no prompt: prepend it
        out["load_test"] = hammer(url, "/embeddings", "tuned", requests_, clients)
        import httpx
        import numpy as np

        from bgetune.tools.serve import TorchEncoder

        got = httpx.post(
            f"{url}/embeddings", json={"model": "tuned", "input": requests_[:4]}, timeout=120
        ).json()
        ref, _ = TorchEncoder(model_dir, device="cpu").encode(qs.queries[:2], qp)
        v = np.array([d["embedding"] for d in got["data"]], dtype=np.float32)[::2]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out["cosine_with_torch_min"] = round(float((v * ref).sum(1).min()), 5)
        log(f"infinity: {out['load_test']}")
    finally:
        proc.terminate()
        proc.wait(30)
        logf.close()
    return out


def section(res: dict) -> str:
    b = res["backends"]
    t = b["torch fp32"]
    lines = [
        START,
        "## Serving (bench/serve.py, issue 17)",
        "",
        f"Measured {res['date']} on {res['machine']}, one run, offline. Model: the bundled MiniLM trained by the "
        "Debian FAQ en pipeline with the BGE English query instruction as its query prompt (mean pooling kept); "
        f"figures on the FAQ's {res['queries']} REAL questions over its {res['corpus']} answers.",
        "",
        "### torch vs ONNX vs int8 (same texts, batch 32)",
        "",
        "| backend | file MB | texts/s | vs torch | nDCG@10 | vs torch |",
        "|---|---|---|---|---|---|",
    ]
    files = {
        "torch fp32": "model.safetensors",
        "onnx fp32": "onnx/model.onnx",
        "onnx int8": "onnx/model_qint8.onnx",
    }
    for k in ("torch fp32", "onnx fp32", "onnx int8"):
        v = b[k]
        lines.append(
            f"| {k} | {b['sizes_mb'][files[k]]:.0f} | {v['texts_per_s']:.1f} | {v['texts_per_s'] / t['texts_per_s']:.2f}x "
            f"| {v['ndcg@10']:.4f} | {v['ndcg@10'] - t['ndcg@10']:+.4f} |"
        )
    lt = res["load_test"]
    s, ip = lt["server"], lt["in_process"]
    lines += [
        "",
        f"### The server under load ({s['clients']} concurrent clients, {s['requests']} one-question requests)",
        "",
        "| how | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        f"| `bgetune serve` (torch), HTTP, micro-batched | {s['requests_per_s']} | {s['p50_ms']} | {s['p99_ms']} |",
        f"| in-process `encode([q])`, one call per question | {ip['one_per_call_per_s']} | "
        f"{ip['one_per_call_p50_ms']} | {ip['one_per_call_p99_ms']} |",
        f"| in-process `encode(batch of 32)` (the ceiling) | {ip['batch32_per_s']} | | |",
        "",
        f"Server / in-process one-per-call: {s['requests_per_s'] / ip['one_per_call_per_s']:.2f}x requests/s; "
        f"server / batch-32 ceiling: {s['requests_per_s'] / ip['batch32_per_s']:.2f}x. Errors: {s['errors']}.",
        "",
        "### Queries without the prompt (clients that cannot mark queries)",
        "",
        "| model | queries with prompt | queries without | without - with [95% CI] | prompt on both | both - with [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in res["prompt_loss"].items():
        ci, ci2 = v["without - with [95% CI]"], v["both - with [95% CI]"]
        lines.append(
            f"| {k} | {v['queries with prompt']:.4f} | {v['queries without prompt']:.4f} | "
            f"{ci['diff']:+.4f} [{ci['low']:+.4f}, {ci['high']:+.4f}] | {v['prompt on queries and documents']:.4f} | "
            f"{ci2['diff']:+.4f} [{ci2['low']:+.4f}, {ci2['high']:+.4f}] |"
        )
    inf = res.get("infinity") or {}
    lines += ["", "### Infinity (`infinity-emb[server,torch]` from PyPI) in a throwaway venv", ""]
    if inf.get("note"):
        lines.append(f"- {inf['note']}")
    if inf.get("would_install"):
        changed = [x for x in inf["would_install"] if x.split("==")[0].lower() in DOWNGRADE_WATCH]
        lines.append(
            f"- with this venv's CPU torch visible it resolves to {len(inf['would_install'])} packages, among them "
            + ", ".join(changed)
            + " (older than this project's stack, so it cannot share bgetune's venv)"
        )
    if "installed" in inf:
        lines.append(
            "- `pip install`: "
            + (
                "exits 0 (its pins shadow bgetune's packages)"
                if inf["installed"]
                else f"failed: {inf.get('error')}"
            )
        )
    if inf.get("runs") is False:
        lines.append(f"- run: {inf.get('error')}")
    if inf.get("load_test"):
        lt_i = inf["load_test"]
        lines.append(
            f"- same load test (prompt prepended by the client): {lt_i['requests_per_s']} requests/s, p50 "
            f"{lt_i['p50_ms']} ms, p99 {lt_i['p99_ms']} ms, errors {lt_i['errors']} "
            f"({lt_i['requests_per_s'] / s['requests_per_s']:.2f}x bgetune serve); cosine with torch min "
            f"{inf.get('cosine_with_torch_min')}"
        )
    lines += [
        "",
        "Reproduce: `HF_HUB_OFFLINE=1 nice -n 10 python bench/serve.py` (JSON in bench/serve-results.json).",
        END,
    ]
    return "\n".join(lines)


def write_results(res: dict) -> None:
    path = REPO / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    sec = section(res)
    if START in text and END in text:
        text = text.split(START)[0] + sec + text.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + sec + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/bgetune-serve-bench")
    ap.add_argument("--model", help="a model folder trained with a query prompt (default: train one, cached)")
    ap.add_argument("--skip-infinity", action="store_true")
    ap.add_argument(
        "--from-json", action="store_true", help="only rewrite RESULTS.md from serve-results.json"
    )
    ap.add_argument("--only-infinity", action="store_true", help="only (re)run the Infinity install check")
    args = ap.parse_args()
    out_json = REPO / "bench" / "serve-results.json"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.from_json or args.only_infinity:
        res = json.loads(out_json.read_text())
        if args.only_infinity:
            res["infinity"] = infinity_check(work, Path(res["model_dir"]), queryset())
            out_json.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
        write_results(res)
        return
    import torch

    model_dir = Path(args.model) if args.model else train_prompt_model(work)
    log(f"model {model_dir}")
    qs = queryset()
    res = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} CPU ({os.cpu_count()} cores, shared), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "model_dir": str(model_dir),
        "queries": len(qs.queries),
        "corpus": len(qs.corpus_texts),
    }
    res["prompt_loss"] = prompt_loss(model_dir, qs)
    res["backends"] = backends(model_dir, qs)
    res["load_test"] = load_test(model_dir, qs)
    res["infinity"] = {} if args.skip_infinity else infinity_check(work, model_dir, qs)
    slim = json.loads(json.dumps(res, default=str))
    for v in slim["backends"].values():
        if isinstance(v, dict):
            v.pop("per_query", None)
    out_json.write_text(json.dumps(slim, indent=2, ensure_ascii=False) + "\n")
    write_results(slim)
    log("done")


if __name__ == "__main__":
    main()
