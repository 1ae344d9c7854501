"""Settings: one keyword-only dataclass; every field falls back to a BGETUNE_* environment variable."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_float(name: str, default: float | None) -> float | None:
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:  # a clear error beats a silent default
        raise ValueError(f"environment variable {name}={value!r} is not a number") from exc


def _env_int(name: str, default: int) -> int:
    value = _env_float(name, float(default))
    return int(value) if value is not None else default


# the numeric settings left unset: field -> (environment variable, its parser, the default when it is unset too)
_NUMERIC_ENV: dict[str, tuple[str, Callable[[str, Any], Any], Any]] = {
    "llm_concurrency": ("BGETUNE_LLM_CONCURRENCY", _env_int, 4),
    "llm_timeout_s": ("BGETUNE_LLM_TIMEOUT", _env_float, None),  # None: by server, see llm_default_timeout
    "llm_max_retries": ("BGETUNE_LLM_MAX_RETRIES", _env_int, 4),
    "llm_price_in": ("BGETUNE_LLM_PRICE_IN", _env_float, None),
    "llm_price_out": ("BGETUNE_LLM_PRICE_OUT", _env_float, None),
    "chunk_tokens": ("BGETUNE_CHUNK_TOKENS", _env_int, 256),
    "chunk_overlap": ("BGETUNE_CHUNK_OVERLAP", _env_int, 32),
    "max_file_mb": ("BGETUNE_MAX_FILE_MB", _env_float, 200.0),
    "max_pages": ("BGETUNE_MAX_PAGES", _env_int, 5000),
}


@dataclass(kw_only=True)
class Settings:
    """Everything configurable. Pass explicitly; unset fields are read from the environment."""

    workspace: Path | None = None
    base_model: str | None = None
    device: str | None = None
    # LLM (any OpenAI-compatible server). OPENAI_* variables are a fallback.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_concurrency: int | None = None
    llm_timeout_s: float | None = None
    llm_max_retries: int | None = None
    # price in currency units per million tokens; None = unknown (no money estimate)
    llm_price_in: float | None = None
    llm_price_out: float | None = None
    # ingestion / chunking
    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    max_file_mb: float | None = None
    max_pages: int | None = None

    def __post_init__(self) -> None:
        ws = self.workspace or _env("BGETUNE_WORKSPACE", "bgetune-workspace")
        self.workspace = Path(ws).expanduser()
        self.base_model = self.base_model or _env("BGETUNE_BASE_MODEL")
        self.device = self.device or _env("BGETUNE_DEVICE")
        self.llm_base_url = self.llm_base_url or _env("BGETUNE_LLM_BASE_URL") or _env("OPENAI_BASE_URL")
        self.llm_model = self.llm_model or _env("BGETUNE_LLM_MODEL") or _env("OPENAI_MODEL")
        self.llm_api_key = self.llm_api_key or _env("BGETUNE_LLM_API_KEY") or _env("OPENAI_API_KEY")
        for name, (var, parse, default) in _NUMERIC_ENV.items():
            if getattr(self, name) is None:
                setattr(self, name, parse(var, default))
        if self.llm_timeout_s is None:
            self.llm_timeout_s = llm_default_timeout(self.llm_base_url)

    @property
    def llm_configured(self) -> bool:
        """True when an LLM server is configured (a base URL or an API key for the default server)."""
        return bool(self.llm_base_url or self.llm_api_key)

    @property
    def llm_model_name(self) -> str:
        return self.llm_model or "gpt-4o-mini"

    def redacted(self) -> dict:
        """A dict safe to log or show: the API key is never included."""
        out = asdict(self)
        out["workspace"] = str(self.workspace)
        out["llm_api_key"] = "***" if self.llm_api_key else None
        return out


LLM_TIMEOUT_REMOTE_S = 60.0
LLM_TIMEOUT_LOCAL_S = 300.0


def is_local_server(base_url: str | None) -> bool:
    """True for a server on this machine or the private network (loopback, localhost, 10/8, 172.16/12, 192.168/16)."""
    import ipaddress
    from urllib.parse import urlparse

    if not base_url:
        return False
    host = (urlparse(base_url if "//" in base_url else f"//{base_url}").hostname or "").lower()
    if host in ("localhost", "0.0.0.0") or host.endswith(".local") or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


def llm_default_timeout(base_url: str | None) -> float:
    """Seconds one LLM answer may take when BGETUNE_LLM_TIMEOUT is unset: 60 for a hosted server, 300 for one on
    this machine or the private network. A local CPU server answers several calls at once by sharing its cores, so
    an answer that takes 15 s alone takes minutes beside other work (measured: 9 of 60 chunks timed out at 60 s on
    a 2-core machine running llama.cpp and a test suite); a timed-out answer is asked again from the start."""
    return LLM_TIMEOUT_LOCAL_S if is_local_server(base_url) else LLM_TIMEOUT_REMOTE_S


def redact(text: str, settings: Settings | None = None) -> str:
    """Remove the configured API key (and any key-looking env values) from text before it is shown or stored."""
    secrets = []
    if settings is not None and settings.llm_api_key:
        secrets.append(settings.llm_api_key)
    for name in ("BGETUNE_LLM_API_KEY", "OPENAI_API_KEY"):
        v = os.environ.get(name)
        if v:
            secrets.append(v)
    for s in secrets:
        if len(s) >= 4:
            text = text.replace(s, "***")
    return text
