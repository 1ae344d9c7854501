"""How much an agent LLM call sends: the tool schemas bound to it, per message and pipeline stage.

Each call binds the tools that its message and the workspace's stage make relevant (bgetune/agent/toolset.py),
not all of them. This counts, for English and Chinese messages in three workspace states (new; documents
ingested; pairs approved), the tools bound, the characters of their JSON schemas and of the system prompt,
against binding every tool. With --url (any OpenAI-compatible server) it also sends each state's status question
with max_tokens=1 and records the prompt tokens the server counted.

  python bench/agent_tools.py [--url http://127.0.0.1:8088/v1] [--no-write]

Writes its section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import REPO, log, measured_on, replace_section  # the offline preamble (bench/_common.py)

START, END = "<!-- agent-tools:start -->", "<!-- agent-tools:end -->"
MESSAGES = [
    "Show the workspace status.",
    "fine-tune bge on these PDFs",
    "generate training questions",
    "what would training cost?",
    "train the model",
    "why does 'how do I undo a commit' miss?",
    "import my search logs from logs.csv",
    "查看当前状态",
    "生成训练问题",
    "开始训练",
    "导入历史问答 logs.csv",
]
BEFORE = (
    50_413  # characters of all 44 schemas bound to every call, before toolset.py and lean_schema (615bbd2^)
)
CORPUS = REPO / "bench" / "suite" / "sets" / "git-faq" / "corpus.jsonl"


def states(root: Path):  # noqa: ANN201 (yields (name, Workspace))
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.ingest import ingest
    from bgetune.tools.qa_generation import generate_pairs
    from bgetune.tools.review import approve_all

    ws = Workspace(root / "ws")
    yield "new", ws
    settings = Settings(workspace=ws.root, base_model="bundled")
    ingest(ws, [CORPUS], settings=settings)
    yield "ingested", ws
    generate_pairs(ws, settings, mode="offline")
    filter_pairs(ws, settings=settings)
    approve_all(ws)
    yield "approved", ws


def prompt_tokens(url: str, system: str, schemas: list[dict]) -> int | None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(base_url=url, api_key="not-needed", model="local", max_tokens=1, timeout=900)
    ai = model.bind_tools(schemas).invoke([SystemMessage(system), HumanMessage(MESSAGES[0])])
    return (ai.usage_metadata or {}).get("input_tokens")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--url", help="an OpenAI-compatible server: also count the status question's prompt tokens"
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from bgetune.agent.prompts import system_prompt
    from bgetune.agent.registry import REGISTRY, stage_snapshot, tool_schemas
    from bgetune.agent.toolset import others_line, relevant_tools, schema_chars
    from bgetune.core.config import Settings

    settings = Settings()
    every = schema_chars(tool_schemas(settings))
    rows, served = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, ws in states(Path(tmp)):
            stages = stage_snapshot(ws)
            for msg in MESSAGES:
                names = relevant_tools(msg, ws, stages)
                chars = schema_chars(tool_schemas(settings, names))
                system = system_prompt(stages, [], others_line(names))
                rows.append((name, msg, len(names), chars, len(system)))
                log(f"{name} | {msg} | {len(names)} tools | {chars:,} schema chars")
            if args.url:
                names = relevant_tools(MESSAGES[0], ws, stages)
                t0 = time.perf_counter()
                n = prompt_tokens(
                    args.url, system_prompt(stages, [], others_line(names)), tool_schemas(settings, names)
                )
                served.append((name, n, time.perf_counter() - t0))
                log(f"{name}: the status question is {n} prompt tokens ({served[-1][2]:.0f} s)")
    lines = [
        START,
        "## Agent request size (bench/agent_tools.py)",
        "",
        f"{measured_on()}offline planner reading each message). Each agent LLM call binds the tools its message "
        "and the pipeline stage make relevant (a core set, the planner's reading of the message, the last three "
        "stages whose prerequisites hold, the turn's tools; `bgetune/agent/toolset.py`); the others are named in "
        f"the system prompt, and the schemas are lean (no titles, no `anyOf [T, null]`; `lean_schema`). Before, "
        f'every call bound every tool: **{BEFORE:,} characters** of schemas (a 15,131-token request for "Show the '
        f'workspace status." on the local Qwen2.5-0.5B server, 2026-12-04); all {len(REGISTRY)} lean schemas are '
        f"{every:,}. Workspace states: new; the git-faq corpus ingested; its offline pairs filtered and approved.",
        "",
        "| state | message | tools bound | schema chars | vs before | system prompt chars |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {m} | {n} | {c:,} | {c / BEFORE:.0%} | {p:,} |" for s, m, n, c, p in rows]
    if served:
        lines += [
            "",
            f'Prompt tokens counted by the server ({args.url}) for "{MESSAGES[0]}" with the tools bound: '
            + "; ".join(f"{s}: {n:,} tokens ({t:.0f} s)" for s, n, t in served if n is not None)
            + ".",
        ]
    lines += [END]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        replace_section(section, START, END)


if __name__ == "__main__":
    main()
