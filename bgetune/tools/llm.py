"""LLM plumbing shared by generation and the agent: a ChatOpenAI factory for any OpenAI-compatible server,
robust JSON extraction from messy model output, retry with backoff, and rough token counting.

No LangChain object leaks out of here except the chat model itself; the API key is never logged.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bgetune.core.config import Settings, redact
from bgetune.core.errors import BgetuneError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

T = TypeVar("T")

_FENCE = re.compile(r"```(?:json|JSON|javascript|js)?\s*\n?(.*?)(?:```|$)", re.S)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


class LLMError(BgetuneError, RuntimeError):
    """An LLM call that failed for good (after retries), with a redacted message."""


def make_chat_model(
    settings: Settings,
    *,
    temperature: float = 0.3,
    max_tokens: int | None = 1024,
    timeout_s: float | None = None,
) -> BaseChatModel:
    """A ChatOpenAI client for the configured OpenAI-compatible server (retries are done by :func:`call_with_retry`)."""
    from langchain_openai import ChatOpenAI

    if not settings.llm_configured:
        raise LLMError(
            "no LLM is configured: set BGETUNE_LLM_BASE_URL (and BGETUNE_LLM_MODEL / BGETUNE_LLM_API_KEY if the "
            "server needs them), or use the offline generator"
        )
    return ChatOpenAI(
        model=settings.llm_model_name,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "not-needed",
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout_s or settings.llm_timeout_s,
        max_retries=0,
        use_responses_api=False,
    )


# ---------------------------------------------------------------------------------------------- JSON parsing
def _strip_noise(text: str) -> str:
    return _THINK.sub("", text or "").strip()


def _candidates(text: str) -> list[str]:
    """Places JSON may hide in: fenced blocks first, then the whole text."""
    text = _strip_noise(text)
    out = [m.group(1).strip() for m in _FENCE.finditer(text) if m.group(1).strip()]
    out.append(text)
    return out


def _salvage_objects(text: str) -> list[Any]:
    """Every complete top-level-ish JSON object in text (for truncated lists and prose-wrapped objects)."""
    dec = json.JSONDecoder()
    objs: list[Any] = []
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            break
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i += 1
            continue
        objs.append(obj)
        i = end
    return objs


def extract_json(text: str) -> Any:
    """The JSON value in an LLM answer: fenced or not, with prose around it, or a truncated list (its complete
    objects are salvaged). Raises ValueError when there is nothing usable."""
    dec = json.JSONDecoder()
    cands = _candidates(text)
    for cand in cands:
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            pass
    for cand in cands:
        start = cand.find("[")
        while start >= 0:
            try:
                value, _ = dec.raw_decode(cand, start)
                if isinstance(value, list) and value:
                    return value
            except json.JSONDecodeError:
                pass
            start = cand.find("[", start + 1)
    for cand in cands:
        objs = _salvage_objects(cand)
        if objs:
            first_list, first_obj = cand.find("["), cand.find("{")
            in_list = 0 <= first_list < first_obj
            return objs if (len(objs) > 1 or in_list) else objs[0]
    raise ValueError("no JSON found in the model's answer")


def parse_json_list(
    text: str, *, keys: tuple[str, ...] = ("items", "pairs", "questions", "queries", "data")
) -> list:
    """A JSON list from an LLM answer: a bare list, an object wrapping one under a common key, a single object,
    or the complete objects of a truncated list."""
    value = extract_json(text)
    if isinstance(value, dict):
        for k in keys:
            if isinstance(value.get(k), list):
                return value[k]
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError(f"expected a JSON list, got {type(value).__name__}")


# ---------------------------------------------------------------------------------------------- retries
def retry_info(exc: BaseException) -> tuple[bool, float | None]:
    """(retryable, Retry-After seconds) for an exception from an OpenAI-compatible call."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    after: float | None = None
    headers = getattr(response, "headers", None) if response is not None else None
    if headers is not None:
        raw = headers.get("retry-after") or headers.get("Retry-After")
        if raw:
            try:
                after = float(raw)
            except ValueError:
                after = None
    if status is not None:
        try:
            code = int(status)
        except (TypeError, ValueError):
            code = 0
        return (code == 429 or code == 408 or code >= 500), after
    name = type(exc).__name__.lower()
    if isinstance(exc, (TimeoutError, ConnectionError)) or "timeout" in name or "connection" in name:
        return True, after
    return False, after


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_retries: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call fn; on 429/5xx/timeouts wait (Retry-After if given, else exponential backoff with jitter) and retry."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            retryable, after = retry_info(exc)
            if not retryable or attempt >= max_retries:
                raise
            delay = (
                after
                if after is not None
                else min(max_delay, base_delay * (2**attempt)) * (0.5 + random.random())
            )
            delay = min(max(delay, 0.0), max_delay)
            if on_retry:
                on_retry(attempt + 1, exc, delay)
            sleep(delay)
            attempt += 1


def call_with_deadline(fn: Callable[[], T], timeout_s: float | None) -> T:
    """Call fn in a daemon thread; TimeoutError when it has not returned within timeout_s. The HTTP client's timeout
    is per read, so a server that trickles bytes forever would otherwise hold a call (and the run) forever."""
    if not timeout_s or timeout_s <= 0:
        return fn()
    box: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=target, name="bgetune-llm-call", daemon=True).start()
    if not finished.wait(timeout_s):
        raise TimeoutError(
            f"the LLM server sent no complete answer within {timeout_s:g} s; raise BGETUNE_LLM_TIMEOUT or check the server"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


def message_text(message: Any) -> str:
    """Plain text of a chat model answer (str content or a list of content parts)."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content if p)
    return str(content)


def usage_tokens(message: Any) -> tuple[int | None, int | None]:
    meta = getattr(message, "usage_metadata", None) or {}
    return meta.get("input_tokens"), meta.get("output_tokens")


def safe_error(exc: BaseException, settings: Settings | None = None) -> str:
    """A one-line error message for the user, with the API key removed."""
    msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return redact(msg[:500], settings)


# ---------------------------------------------------------------------------------------------- tokens
def count_tokens(text: str) -> int:
    """Rough token count without network: CJK characters count one each, other text ~4 characters a token."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    rest = len(text) - cjk
    return cjk + (rest + 3) // 4
