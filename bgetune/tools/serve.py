"""Serve an exported model over an OpenAI-compatible HTTP API, micro-batched, loopback by default.

``POST /v1/embeddings`` takes ``input`` (a string or a list of strings), ``model``, ``encoding_format``
(``float`` | ``base64``), ``dimensions`` (Matryoshka truncation, re-normalised) and ``input_type``
(``query`` | ``document``). Queries get the model's ``query`` prompt when the request says
``input_type: "query"`` or names the model ``<name>:query`` (for clients that can send nothing but ``model``,
such as Dify's OpenAI-API-compatible provider). ``GET /v1/models`` lists the names, ``GET /health`` says the
server is up. Errors have OpenAI's body ``{"error": {"message", "type", "param", "code"}}``.

Concurrent requests share forward passes: a single worker drains a bounded queue into batches of up to
``max_batch`` texts; when more than ``max_queue`` texts wait, requests get 503 with ``Retry-After``. Inputs
longer than the model's maximum length are truncated and ``usage.prompt_tokens`` counts the tokens actually
embedded. The model is fixed at start: nothing a client sends names a file.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.options import Context, setting

if TYPE_CHECKING:
    from fastapi import FastAPI

API_KEY_ENV = "BGETUNE_SERVE_API_KEY"
Backend = Literal["torch", "onnx"]
InputType = Literal["query", "document"]


class ServeError(BgetuneError):
    """The server cannot start: a model folder it cannot load, a public address without a key, a busy port."""


# ------------------------------------------------------------------------------------------------ encoders
class Encoder(Protocol):
    dim: int
    max_tokens: int
    prompts: dict[str, str]

    def encode(self, texts: list[str], prompt: str) -> tuple[np.ndarray, list[int]]:
        """Normalised float32 embeddings of ``prompt + text`` and the tokens each one used after truncation."""
        ...


def _token_counts(tokenizer: Any, texts: list[str], max_len: int) -> list[int]:
    ids = tokenizer(texts, truncation=True, max_length=max_len, add_special_tokens=True)["input_ids"]
    return [len(x) for x in ids]


def _normalize(emb: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return (emb / np.maximum(norms, 1e-12)).astype(np.float32)


class TorchEncoder:
    """sentence-transformers on torch, fp32 (what ``SentenceTransformer(dir).encode`` gives)."""

    def __init__(self, model_dir: str | Path, *, device: str | None = None, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        from bgetune.core.models import best_device

        try:
            self.model = SentenceTransformer(str(model_dir), device=best_device(device))
        except (OSError, ValueError) as exc:
            raise ServeError(
                f"cannot load the model folder {model_dir}: {exc}; pass a sentence-transformers folder "
                "(`bgetune export` writes one)"
            ) from exc
        self.model.eval()
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(self.model.max_seq_length or 512)
        self.prompts = {k: v or "" for k, v in (self.model.prompts or {}).items()}

    def encode(self, texts: list[str], prompt: str) -> tuple[np.ndarray, list[int]]:
        import torch

        with torch.inference_mode():
            emb = self.model.encode(
                texts,
                prompt=prompt or None,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        counts = _token_counts(self.model.tokenizer, [prompt + t for t in texts], self.max_tokens)
        return np.asarray(emb, dtype=np.float32), counts


_ST_TRANSFORMER = ("Transformer",)
_ST_POOLING = ("Pooling",)
_ST_NORMALIZE = ("Normalize",)


def _module_kind(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def read_pooling_mode(cfg: dict[str, Any]) -> str:
    """The pooling mode of a sentence-transformers ``Pooling`` config (old boolean keys or ``pooling_mode``)."""
    if cfg.get("pooling_mode"):
        return str(cfg["pooling_mode"]).replace("_token", "").replace("_tokens", "")
    names = {
        "pooling_mode_cls_token": "cls",
        "pooling_mode_mean_tokens": "mean",
        "pooling_mode_max_tokens": "max",
        "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
        "pooling_mode_weightedmean_tokens": "weightedmean",
        "pooling_mode_lasttoken": "lasttoken",
    }
    on = [v for k, v in names.items() if cfg.get(k)]
    return on[0] if len(on) == 1 else "+".join(on) or "mean"


class OnnxEncoder:
    """onnxruntime on ``onnx/<file>`` of a sentence-transformers folder: tokenizer, graph, pooling, normalise.

    Mirrors the folder's ``modules.json`` (Transformer -> Pooling [-> Normalize]); any other module is refused
    with the fix (serve with the torch backend)."""

    def __init__(
        self, model_dir: str | Path, *, file_name: str = "onnx/model.onnx", batch_size: int = 32
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ServeError("the ONNX backend needs onnxruntime: pip install 'bgetune[onnx]'") from exc
        from transformers import AutoTokenizer

        folder = Path(model_dir)
        path = folder / file_name
        if not path.is_file():
            raise ServeError(
                f"{path} does not exist; write it with `bgetune export --onnx` (int8: `--quantize int8`) "
                "or serve with --backend torch"
            )
        try:
            modules = json.loads((folder / "modules.json").read_text())
        except (OSError, ValueError) as exc:
            raise ServeError(f"{folder / 'modules.json'} is missing or not JSON: {exc}") from exc
        kinds = [_module_kind(m.get("type", "")) for m in modules]
        if (
            not kinds
            or kinds[0] not in _ST_TRANSFORMER
            or any(k not in _ST_POOLING + _ST_NORMALIZE for k in kinds[1:])
        ):
            raise ServeError(
                f"{folder / 'modules.json'} has modules {kinds}; the ONNX backend runs Transformer -> Pooling "
                "[-> Normalize] only: serve with --backend torch"
            )
        tdir = folder / (modules[0].get("path") or "")
        st_cfg_path = tdir / "sentence_bert_config.json"
        st_cfg = json.loads(st_cfg_path.read_text()) if st_cfg_path.exists() else {}
        pool_mod = next((m for m in modules if _module_kind(m.get("type", "")) in _ST_POOLING), None)
        pool_cfg: dict[str, Any] = {}
        if pool_mod is not None:
            pool_cfg = json.loads((folder / pool_mod["path"] / "config.json").read_text())
        self.pooling = read_pooling_mode(pool_cfg) if pool_mod is not None else "cls"
        if self.pooling not in ("cls", "mean", "max", "lasttoken", "mean_sqrt_len"):
            raise ServeError(
                f"pooling {self.pooling!r} in {folder / pool_mod['path'] if pool_mod else folder} is not "
                "supported by the ONNX backend: serve with --backend torch"
            )
        if pool_cfg.get("include_prompt") is False:
            raise ServeError(
                f"{folder} pools without the prompt tokens (include_prompt false), which the ONNX backend does "
                "not do: serve with --backend torch"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(str(tdir))
        self.do_lower_case = bool(st_cfg.get("do_lower_case"))
        self.max_tokens = int(
            st_cfg.get("max_seq_length") or getattr(self.tokenizer, "model_max_length", 512) or 512
        )
        opts = ort.SessionOptions()
        # idle worker threads sleep instead of spinning: on a CPU shared with other processes (a laptop, a busy
        # host) spinning threads burn the cores the forward pass needs (bench/serve.py --perf)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.normalize = any(k in _ST_NORMALIZE for k in kinds)
        cfg_path = folder / "config_sentence_transformers.json"
        st_top = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        self.prompts = {k: v or "" for k, v in (st_top.get("prompts") or {}).items()}
        self.batch_size = batch_size
        self.file_name = file_name
        probe, _ = self._forward(["dimension probe"])
        self.dim = int(probe.shape[1])

    def _forward(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np"
        )
        feed = {n: enc[n].astype(np.int64) for n in self.input_names if n in enc}
        if "token_type_ids" in self.input_names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(enc["input_ids"], dtype=np.int64)
        hidden = self.session.run(None, feed)[0].astype(np.float32)
        mask = enc["attention_mask"].astype(np.float32)
        lengths = mask.sum(1)
        if self.pooling == "cls":
            emb = hidden[:, 0]
        elif self.pooling in ("mean", "mean_sqrt_len"):
            summed = (hidden * mask[..., None]).sum(1)
            denom = np.sqrt(lengths) if self.pooling == "mean_sqrt_len" else lengths
            emb = summed / np.maximum(denom, 1e-9)[:, None]
        elif self.pooling == "max":
            emb = np.where(mask[..., None] > 0, hidden, -1e9).max(1)
        else:  # lasttoken (right padding)
            emb = hidden[np.arange(hidden.shape[0]), lengths.astype(int) - 1]
        return emb, [int(n) for n in lengths]

    def encode(self, texts: list[str], prompt: str) -> tuple[np.ndarray, list[int]]:
        full = [prompt + t for t in texts]
        order = sorted(range(len(full)), key=lambda i: len(full[i]))
        out: np.ndarray | None = None
        counts = [0] * len(full)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            emb, n = self._forward([full[i] for i in idx])
            if out is None:
                out = np.zeros((len(full), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
            for i, c in zip(idx, n, strict=True):
                counts[i] = c
        assert out is not None
        return _normalize(out), counts  # the API always answers unit vectors (OpenAI's convention)


def load_encoder(model_dir: str | Path, backend: Backend = "torch", onnx_file: str | None = None) -> Encoder:
    if not (Path(model_dir) / "modules.json").is_file():
        raise ServeError(
            f"{model_dir} is not a sentence-transformers folder (no modules.json); serve the folder "
            "`bgetune export` wrote (artifacts/export/<run>)"
        )
    if backend == "onnx":
        return OnnxEncoder(model_dir, file_name=onnx_file or "onnx/model.onnx")
    return TorchEncoder(model_dir)


# --------------------------------------------------------------------------------------------- batching
class QueueFull(BgetuneError):
    pass


@dataclass
class _Job:
    texts: list[str]
    prompt: str
    future: asyncio.Future


class MicroBatcher:
    """One worker thread runs the forward passes; concurrent requests are drained into shared batches."""

    def __init__(
        self, encoder: Encoder, *, max_batch: int = 32, max_queue: int = 1024, max_wait_ms: float = 5.0
    ):
        self.encoder = encoder
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.max_wait = max_wait_ms / 1000.0
        self.pending = 0  # texts queued or being encoded
        self.batches = 0
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bgetune-encode")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, texts: list[str], prompt: str) -> asyncio.Future:
        assert self._queue is not None, "MicroBatcher.start() first"
        if self.pending and self.pending + len(texts) > self.max_queue:
            raise QueueFull
        fut = asyncio.get_running_loop().create_future()
        self.pending += len(texts)
        self._queue.put_nowait(_Job(texts, prompt, fut))
        return fut

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            n = len(jobs[0].texts)
            deadline = loop.time() + self.max_wait
            while n < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), left)
                    except TimeoutError:
                        break
                jobs.append(job)
                n += len(job.texts)
            try:
                results = await loop.run_in_executor(self._pool, self._run, jobs)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the error, the loop lives on
                results = [exc] * len(jobs)
            finally:
                self.pending -= n
            self.batches += 1
            for job, res in zip(jobs, results, strict=True):
                if job.future.done():
                    continue
                if isinstance(res, Exception):
                    job.future.set_exception(res)
                else:
                    job.future.set_result(res)

    def _run(self, jobs: list[_Job]) -> list[Any]:
        out: list[Any] = [None] * len(jobs)
        by_prompt: dict[str, list[int]] = {}
        for i, j in enumerate(jobs):
            by_prompt.setdefault(j.prompt, []).append(i)
        for prompt, idx in by_prompt.items():
            texts = [t for i in idx for t in jobs[i].texts]
            try:
                emb, counts = self.encoder.encode(texts, prompt)
            except Exception as exc:  # noqa: BLE001
                for i in idx:
                    out[i] = exc
                continue
            s = 0
            for i in idx:
                k = len(jobs[i].texts)
                out[i] = (emb[s : s + k], counts[s : s + k])
                s += k
        return out


# ------------------------------------------------------------------------------------------------ the app
@dataclass(kw_only=True)
class ServeConfig:
    model_dir: Path
    name: str | None = None  # the model name clients send (default: the folder's name)
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = field(default=None, repr=False)
    backend: Backend = "torch"
    onnx_file: str | None = None
    max_batch: int = 32
    max_queue: int = 1024
    max_items: int = 256
    max_chars: int = 1_000_000
    max_body_bytes: int = 16 * 1024 * 1024
    # how long the worker waits for more requests to join a batch that is not full (measured in bench/serve.py)
    max_wait_ms: float = 5.0

    def __post_init__(self) -> None:
        self.model_dir = Path(self.model_dir).expanduser().resolve()
        self.name = self.name or model_name(self.model_dir)
        self.api_key = self.api_key or os.environ.get(API_KEY_ENV) or None


def model_name(model_dir: str | Path) -> str:
    """The name a folder is served under: the folder's name (its parent's for generic names)."""
    p = Path(model_dir)
    name = p.name
    if name in ("", "model", "export", "tuned") and p.parent.name:
        name = p.parent.name
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "model"


class ApiError(BgetuneError):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class EmbedRequest:
    texts: list[str]
    model: str
    prompt_name: InputType
    encoding_format: Literal["float", "base64"]
    dimensions: int | None


def parse_request(raw: bytes, cfg: ServeConfig, dim: int) -> EmbedRequest:
    """Validate an embeddings request body; ApiError names the field and the problem."""
    if len(raw) > cfg.max_body_bytes:
        raise ApiError(413, f"request body is over {cfg.max_body_bytes} bytes", code="request_too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"could not parse the JSON body: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object with 'input' and 'model'", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required: one of " + ", ".join(served_names(cfg)), param="model")
    base, _, suffix = model.partition(":")
    if base != cfg.name or suffix not in ("", "query", "document"):
        raise ApiError(
            404,
            f"the model {model!r} does not exist; this server has " + ", ".join(served_names(cfg)),
            param="model",
            code="model_not_found",
        )
    input_type = body.get("input_type")
    if input_type is not None and input_type not in ("query", "document"):
        raise ApiError(
            400, f"'input_type' must be 'query' or 'document', got {input_type!r}", param="input_type"
        )
    if suffix and input_type and input_type != suffix:
        raise ApiError(
            400, f"'input_type' {input_type!r} contradicts the model name {model!r}", param="input_type"
        )
    prompt_name = suffix or input_type or "document"
    inp = body.get("input")
    if inp is None:
        raise ApiError(400, "'input' is required: a string or a list of strings", param="input")
    texts = [inp] if isinstance(inp, str) else inp
    if not isinstance(texts, list):
        raise ApiError(400, "'input' must be a string or a list of strings", param="input")
    if not texts:
        raise ApiError(400, "'input' is an empty list", param="input")
    if len(texts) > cfg.max_items:
        raise ApiError(
            400,
            f"'input' has {len(texts)} items; this server takes at most {cfg.max_items} per request "
            "(bgetune serve --max-items)",
            param="input",
            code="too_many_items",
        )
    total = 0
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = (
                " (token ids are not accepted; LangChain: OpenAIEmbeddings(..., check_embedding_ctx_length=False))"
                if isinstance(t, int | list)
                else ""
            )
            raise ApiError(400, f"input[{i}] is {type(t).__name__}, not a string{hint}", param=f"input[{i}]")
        if not t:
            raise ApiError(400, f"input[{i}] is an empty string", param=f"input[{i}]")
        total += len(t)
    if total > cfg.max_chars:
        raise ApiError(
            400,
            f"'input' has {total} characters; this server takes at most {cfg.max_chars} per request "
            "(bgetune serve --max-chars)",
            param="input",
            code="too_many_characters",
        )
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise ApiError(
            400, f"'encoding_format' must be 'float' or 'base64', got {fmt!r}", param="encoding_format"
        )
    dims = body.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= dim):
        raise ApiError(
            400, f"'dimensions' must be an integer from 1 to {dim}, got {dims!r}", param="dimensions"
        )
    return EmbedRequest(texts, model, prompt_name, fmt, dims)


def served_names(cfg: ServeConfig) -> list[str]:
    return [str(cfg.name), f"{cfg.name}:query", f"{cfg.name}:document"]


def create_app(cfg: ServeConfig, encoder: Encoder | None = None) -> FastAPI:
    """The ASGI app. Loads the model now (unless ``encoder`` is given); the worker starts with the app."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    enc = encoder or load_encoder(cfg.model_dir, cfg.backend, cfg.onnx_file)
    batcher = MicroBatcher(enc, max_batch=cfg.max_batch, max_queue=cfg.max_queue, max_wait_ms=cfg.max_wait_ms)
    started = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="bgetune embeddings", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.batcher = batcher
    app.state.config = cfg

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        err = ApiError(
            exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", code="not_found"
        )
        return JSONResponse(err.body(), status_code=exc.status_code)

    @app.middleware("http")
    async def _auth(request: Request, call_next: Callable) -> Any:
        if cfg.api_key and request.url.path != "/health":
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), cfg.api_key.encode()
            ):
                err = ApiError(
                    401,
                    "missing or wrong API key: send 'Authorization: Bearer <key>' (the key the server was "
                    f"started with, --api-key or {API_KEY_ENV})",
                    code="invalid_api_key",
                    type="authentication_error",
                )
                return JSONResponse(err.body(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": cfg.name, "backend": cfg.backend, "queued": batcher.pending}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [
            {
                "id": n,
                "object": "model",
                "created": started,
                "owned_by": "bgetune",
                "dimensions": enc.dim,
                "max_input_tokens": enc.max_tokens,
                "prompt": enc.prompts.get("query", "") if n.endswith(":query") else "",
            }
            for n in served_names(cfg)
        ]
        return {"object": "list", "data": data}

    async def embeddings(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cfg.max_body_bytes:  # refuse before reading it
            raise ApiError(413, f"request body is over {cfg.max_body_bytes} bytes", code="request_too_large")
        req = parse_request(await request.body(), cfg, enc.dim)
        prompt = (
            enc.prompts.get("query", "") if req.prompt_name == "query" else enc.prompts.get("document", "")
        )
        try:
            fut = batcher.submit(req.texts, prompt)
        except QueueFull:
            raise ApiError(
                503,
                f"the server is busy ({batcher.pending} texts queued); retry shortly",
                code="overloaded",
                type="server_error",
                headers={"Retry-After": "1"},
            ) from None
        try:
            emb, counts = await fut
        except Exception as exc:  # noqa: BLE001 - the error goes to this client; the server keeps serving
            raise ApiError(500, f"encoding failed: {exc}", code="encode_failed", type="server_error") from exc
        if req.dimensions and req.dimensions < emb.shape[1]:
            emb = _normalize(emb[:, : req.dimensions])
        if req.encoding_format == "base64":
            vecs: list[Any] = [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in emb]
        else:
            vecs = [v.tolist() for v in emb]
        tokens = int(sum(counts))
        truncated = sum(1 for c in counts if c >= enc.max_tokens)
        body = {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)],
            "model": req.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return JSONResponse(body, headers={"X-Truncated-Inputs": str(truncated)})

    # postponed annotations are strings FastAPI resolves in this module's globals: give it the class itself
    embeddings.__annotations__.update({"request": Request, "return": JSONResponse})
    app.post("/v1/embeddings")(embeddings)

    return app


# -------------------------------------------------------------------------------------------- run it
def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise ServeError(
            f"refusing to listen on {host} without an API key: anyone on the network could use the server. "
            f"Pass --api-key KEY or set {API_KEY_ENV} (clients then send 'Authorization: Bearer KEY'), "
            "or keep the default --host 127.0.0.1"
        )


def _bind(host: str, port: int, fallback: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if not fallback:
            sock.close()
            raise ServeError(f"cannot listen on {host}:{port}: {exc}; choose another --port") from exc
        sock.bind((host, 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


@dataclass
class RunningServer:
    url: str
    config: ServeConfig
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        _RUNNING.pop(str(self.config.model_dir), None)


_RUNNING: dict[str, RunningServer] = {}


def stop_servers() -> list[str]:
    """Stop every server this process started in the background; returns their URLs."""
    stopped = []
    for running in list(_RUNNING.values()):
        running.stop()
        stopped.append(running.url)
    return stopped


def start_server(
    cfg: ServeConfig, *, port_fallback: bool = False, encoder: Encoder | None = None
) -> RunningServer:
    """Start the server in a background thread of this process; returns once it accepts connections."""
    import uvicorn

    check_host(cfg.host, cfg.api_key)
    app = create_app(cfg, encoder)
    sock = _bind(cfg.host, cfg.port, port_fallback)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="bgetune-serve"
    )
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise ServeError(f"the server on {cfg.host}:{port} did not start; see the log above")
        time.sleep(0.02)
    cfg.port = port
    running = RunningServer(url_of(cfg.host, port), cfg, server, thread)
    _RUNNING[str(cfg.model_dir)] = running
    return running


def run_server(cfg: ServeConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve in the foreground until interrupted (the CLI)."""
    import uvicorn

    check_host(cfg.host, cfg.api_key)
    app = create_app(cfg)
    sock = _bind(cfg.host, cfg.port, False)
    port = sock.getsockname()[1]
    if on_ready:
        on_ready(url_of(cfg.host, port))
    uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=False, lifespan="on")).run(sockets=[sock])


# -------------------------------------------------------------------------------------------- snippets
def usage_snippets(
    model_dir: str | Path,
    url: str | None = None,
    api_key_env: str = API_KEY_ENV,
    *,
    name: str | None = None,
    api_key_required: bool = False,
) -> dict[str, str]:
    """Copy-paste code and settings for using ``model_dir``: in-process, through this server, or another one.

    Keys: sentence-transformers, openai, langchain, dify, tei, vllm (and infinity). ``url`` is the server's base
    URL (default http://127.0.0.1:8000)."""
    folder = Path(model_dir).expanduser().resolve()
    name = name or model_name(folder)
    url = (url or "http://127.0.0.1:8000").rstrip("/")
    prompts: dict[str, str] = {}
    max_len = 512
    cfg = folder / "config_sentence_transformers.json"
    if cfg.exists():
        try:
            prompts = json.loads(cfg.read_text()).get("prompts") or {}
        except ValueError:
            prompts = {}
    sb = folder / "sentence_bert_config.json"
    if sb.exists():
        try:
            max_len = int(json.loads(sb.read_text()).get("max_seq_length") or max_len)
        except ValueError:
            pass
    qp = prompts.get("query") or ""
    key_expr = f'os.environ.get("{api_key_env}", "none")'
    key_note = f"  # the server's key ({api_key_env})" if api_key_required else "  # any string on loopback"
    onnx_files = sorted(p.relative_to(folder).as_posix() for p in folder.glob("onnx/*.onnx"))
    st = [
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{folder}")',
        'docs = model.encode(["a passage"], normalize_embeddings=True)',
        'queries = model.encode(["your question"], prompt_name="query", normalize_embeddings=True)'
        + (f"  # prepends {qp!r}" if qp else ""),
    ]
    if onnx_files:
        st += [
            "# ONNX (pip install 'sentence-transformers[onnx]' where optimum-onnx supports your transformers):",
            f'# SentenceTransformer("{folder}", backend="onnx", model_kwargs={{"file_name": "{onnx_files[-1]}"}})',
        ]
    openai_snip = [
        "import os",
        "from openai import OpenAI",
        "",
        f'client = OpenAI(base_url="{url}/v1", api_key={key_expr}){key_note}',
        f'docs = client.embeddings.create(model="{name}", input=["a passage", "another passage"])',
        f'query = client.embeddings.create(model="{name}:query", input="your question")',
        "# or: model=" + f'"{name}", input=..., extra_body={{"input_type": "query"}}',
        "vector = query.data[0].embedding",
    ]
    lc = [
        "import os",
        "from langchain_openai import OpenAIEmbeddings",
        "",
        "class TunedEmbeddings(OpenAIEmbeddings):",
        '    """Documents as they are, queries with the model\'s query prompt (the :query model name)."""',
        "",
        "    def embed_query(self, text: str) -> list[float]:",
        f'        return self.model_copy(update={{"model": "{name}:query"}}).embed_documents([text])[0]',
        "",
        "emb = TunedEmbeddings(",
        f'    model="{name}",',
        f'    base_url="{url}/v1",',
        f"    api_key={key_expr},",
        "    check_embedding_ctx_length=False,  # send text, not tiktoken ids",
        ")",
        'vectors = emb.embed_documents(["a passage"])',
        'q = emb.embed_query("your question")',
    ]
    dify = [
        "Settings > Model Provider > OpenAI-API-compatible > Add Model",
        "  Model Type:        Text Embedding",
        f"  Model Name:        {name}",
        f"  API Key:           the server's key ({api_key_env}), or any text on loopback",
        f"  API endpoint URL:  {url}/v1",
        f"  Model context size: {max_len}",
        "  Max chunks:        32",
        f"Use the plain name {name!r}, not {name + ':query'!r}: Dify embeds questions and documents alike, so",
        "queries get no prompt; measured on the Debian FAQ real questions that costs nothing, while the prompt",
        "on documents too costs a little (bgetune bench/RESULTS.md, 'Queries without the prompt').",
        "Dify in Docker cannot reach the host's 127.0.0.1: start the server with --host 0.0.0.0 --api-key KEY",
        "and use http://host.docker.internal:PORT/v1 (Linux: add extra_hosts: host-gateway).",
    ]
    tei = [
        f"docker run --rm -p 8080:80 -v {folder}:/model ghcr.io/huggingface/text-embeddings-inference:cpu-latest \\",
        f"  --model-id /model --served-model-name {name}",
        '# queries: POST /embed {"inputs": "your question", "prompt_name": "query"}'
        + (f" (prompt {qp!r} from config_sentence_transformers.json)" if qp else ""),
        "# OpenAI route: POST /v1/embeddings; there, prepend the query prompt yourself",
    ]
    vllm = [
        f"vllm serve {folder} --runner pooling --served-model-name {name} --port 8001",
        "# reads modules.json (pooling, normalize); OpenAI route /v1/embeddings",
        f"# queries: prepend the prompt yourself: {qp!r}" if qp else "# queries take no prompt",
    ]
    infinity = [
        f"infinity_emb v2 --model-id {folder} --served-model-name {name} --port 7997",
        f"# queries: prepend the prompt yourself: {qp!r}" if qp else "# queries take no prompt",
    ]
    return {
        "sentence-transformers": "\n".join(st),
        "openai": "\n".join(openai_snip),
        "langchain": "\n".join(lc),
        "dify": "\n".join(dify),
        "tei": "\n".join(tei),
        "vllm": "\n".join(vllm),
        "infinity": "\n".join(infinity),
    }


# ------------------------------------------------------------------------------------------ capability
@dataclass(kw_only=True)
class ServeOptions:
    model: str | None = setting(
        None,
        help="Model folder to serve (default: the workspace's exported model).",
        positional=True,
        say=("model folder", "模型目录"),
    )
    host: str = setting("127.0.0.1", help="Interface to listen on; anything but loopback needs an API key.")
    port: int = setting(8000, help="TCP port (a free one is taken when it is busy).", min=0, max=65535)
    backend: str = setting(
        "torch", help="torch, or onnx for the file `bgetune export --onnx` wrote.", choices=("torch", "onnx")
    )
    onnx_file: str | None = setting(
        None,
        help="ONNX file inside the folder (default onnx/model.onnx; int8: onnx/model_qint8.onnx).",
    )
    name: str | None = setting(None, help="Model name clients send (default: the folder's name).")
    max_batch: int = setting(32, help="Texts per forward pass.", min=1, max=1024)
    max_queue: int = setting(1024, help="Texts waiting before requests get 503.", min=1)
    max_items: int = setting(256, help="Texts per request.", min=1)
    max_chars: int = setting(1_000_000, help="Characters per request.", min=1)
    api_key: str | None = setting(
        None, help="Require 'Authorization: Bearer KEY' (default: $BGETUNE_SERVE_API_KEY)."
    )


@dataclass
class ServeResult:
    url: str
    model_dir: str
    models: list[str]
    backend: str
    api_key_required: bool
    snippets: dict[str, str]
    kept_base: str | None = None  # the ship decision kept this base model: it is what is served

    def text(self, lang: str = "en") -> str:
        if lang == "zh":
            head = (
                f"嵌入服务已启动：{self.url}/v1（OpenAI 兼容），模型名 {self.models[0]}；"
                f'查询请用 {self.models[1]}（或 input_type="query"）。'
            )
        else:
            head = (
                f"Serving {self.model_dir} at {self.url}/v1 (OpenAI-compatible). Model name {self.models[0]}; "
                f'for queries use {self.models[1]} (or input_type "query").'
            )
        if self.kept_base:
            head = (
                f"训练后的发布决策保留了基座模型，所以这里服务的是基座 {self.kept_base}（{self.model_dir}），不是训练出的模型。"
                if lang == "zh"
                else f"The ship decision kept the base model, so this serves the base {self.kept_base} "
                f"({self.model_dir}), not the tuned run. "
            ) + head
        head += "\n" + ("说“停止服务”即可停止。" if lang == "zh" else 'Say "stop the server" to stop it.')
        more = (
            "Dify（OpenAI-API-compatible 供应商）、text-embeddings-inference 和 vLLM 的设置见模型卡。"
            if lang == "zh"
            else "Dify (OpenAI-API-compatible provider), text-embeddings-inference and vLLM settings are in the "
            "model card."
        )
        return (
            head
            + "\n\n```python\n"
            + self.snippets["openai"]
            + "\n```\n\nLangChain:\n```python\n"
            + self.snippets["langchain"]
            + "\n```\n"
            + more
        )


def default_model_dir(ws: Any) -> Path | None:
    """What a user means by "the model": the newest training run's export (recorded, wherever ``--out`` put it;
    else its run folder's ``export/``, for workspaces exported before exports were recorded), else the newest
    trained model."""
    from bgetune.tools.evaluation import latest_tuned_dir
    from bgetune.tools.layout import last_export, latest_artifacts

    exp = last_export(ws)
    if exp is not None:
        return Path(exp["model_dir"])
    folder = latest_artifacts(ws).export_dir
    if folder is not None and (folder / "modules.json").is_file():
        return folder
    found = latest_tuned_dir(ws)
    return Path(found) if found else None


def shipped_base(ws: Any) -> tuple[Path, str] | None:
    """When the last training's ship decision kept the base model (and no "ship anyway" export followed):
    the base model's folder and its name, since that is what shipped."""
    res = ((ws.last_run("train") or {}).get("result")) or {}
    d = res.get("decision") or {}
    if not d or d.get("ship") or d.get("forced"):
        return None
    from bgetune.tools.layout import last_export

    if ((last_export(ws) or {}).get("decision") or {}).get("forced"):
        return None  # "ship anyway": the tuned model was exported after all
    from bgetune.core.models import resolve_base_model

    name = res.get("base_model") or ws.get_setting("base_model") or "bundled"
    base = resolve_base_model(name)
    return Path(base.path), str(name)


def _default_model(ctx: Context) -> Path:
    base = shipped_base(ctx.ws)
    if base is not None:
        return base[0]
    found = default_model_dir(ctx.ws)
    if not found:
        raise ServeError(
            f"no exported model in {ctx.ws.root}: run `bgetune export` (or pass a model folder to serve)"
        )
    return Path(found)


def serve_model(ctx: Context, opts: ServeOptions) -> ServeResult:
    """Start the server for the model on this machine, in the background; reply with the URL and snippets."""
    folder = Path(opts.model).expanduser() if opts.model else _default_model(ctx)
    if not (folder / "modules.json").exists():
        raise ServeError(
            f"{folder} is not a sentence-transformers folder (no modules.json); `bgetune export` writes one"
        )
    key = str(folder.resolve())
    running = _RUNNING.get(key)
    if running is None or not running.thread.is_alive():
        cfg = ServeConfig(
            model_dir=folder,
            name=opts.name,
            host=opts.host,
            port=opts.port,
            backend=opts.backend,  # type: ignore[arg-type]
            onnx_file=opts.onnx_file,
            max_batch=opts.max_batch,
            max_queue=opts.max_queue,
            max_items=opts.max_items,
            max_chars=opts.max_chars,
            api_key=opts.api_key,
        )
        running = start_server(cfg, port_fallback=True)
    cfg = running.config
    base = None if opts.model else shipped_base(ctx.ws)
    return ServeResult(
        kept_base=base[1] if base else None,
        url=running.url,
        model_dir=str(cfg.model_dir),
        models=served_names(cfg),
        backend=cfg.backend,
        api_key_required=bool(cfg.api_key),
        snippets=usage_snippets(
            cfg.model_dir, running.url, name=cfg.name, api_key_required=bool(cfg.api_key)
        ),
    )
