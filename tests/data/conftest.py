"""Fixtures for the training-data tests: a tiny real workspace (English + Chinese Markdown) and a scripted LLM."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

EN_DOC = """# Package manager guide

## Installing packages

To install a package, run apt install followed by the package name. The apt tool downloads the package
and its dependencies from the configured mirrors.

## Pinning

Pinning is a mechanism that lets you prefer packages from one release over another. You can set pin
priorities in the file /etc/apt/preferences to keep a package at a fixed version.

## Proxy settings

If you want to use apt behind a proxy, add an Acquire::http::Proxy line to a file in /etc/apt/apt.conf.d.
The proxy URL must include the port number.

## Cleaning the cache

The local archive cache lives in /var/cache/apt/archives. You can remove downloaded package files with
apt clean, which frees disk space without uninstalling anything.
"""

ZH_DOC = """# 食品标签管理办法

## 第一章 标签

第一条　预包装食品的包装上应当有标签。标签应当标明下列事项：名称、规格、净含量、生产日期、保质期。

第二条　食品保质期，是指食品在标明的贮存条件下保持品质的期限。

## 第二章 处罚

第三条　违反本办法规定，生产经营标签不符合规定的食品的，由县级以上市场监督管理部门没收违法所得，并处五千元以上五万元以下罚款。

第四条　如果您想要查询食品生产许可证编号，可以登录市场监督管理部门网站输入企业名称进行查询。
"""


@pytest.fixture
def tiny_ws(tmp_path):
    """A workspace with one short English and one short Chinese Markdown document ingested."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "apt-guide.md").write_text(EN_DOC, encoding="utf-8")
    (docs / "food-labels.md").write_text(ZH_DOC, encoding="utf-8")
    ws = Workspace(tmp_path / "tiny-ws")
    settings = Settings(workspace=ws.root, chunk_tokens=64, chunk_overlap=8)
    report = ingest(ws, [docs / "apt-guide.md", docs / "food-labels.md"], settings=settings)
    assert report.ok, report.summary()
    return ws


class ScriptedChat(BaseChatModel):
    """A fake chat model: answers from a script (a callable of the user prompt, or a list used in turn) and records
    every prompt it was asked. Thread-safe."""

    script: Any
    model_name: str = "scripted"
    prompts: list = []
    fail_first: int = 0  # raise a retryable 503 this many times first

    model_config = {"arbitrary_types_allowed": True}

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "prompts", [])

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        with self._lock:
            self.prompts.append([m.content for m in messages])
            n = len(self.prompts)
            if self.fail_first and n <= self.fail_first:
                raise _Status503()
        if callable(self.script):
            text = self.script(messages)
        else:
            text = self.script[(n - 1) % len(self.script)]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class _Status503(Exception):
    status_code = 503

    def __str__(self) -> str:
        return "service unavailable"


@pytest.fixture
def scripted():
    return ScriptedChat
