"""One capability, three surfaces, one effect: each capability is driven with the same options through the real
typer app (CliRunner), the agent's tool node (a scripted fake chat model calls the tool) and the UI's door
(``ui.caps.run``); the three workspaces must end up the same. Every surface reaches the domain through
``bgetune.capabilities.invoke``, so a capability cannot behave differently per surface."""

from __future__ import annotations

import shutil
import typing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bgetune.capabilities import Context, get, invoke, settings_of
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from tests.graph.conftest import ScriptedChatModel, call

# capability, its options (the same on every surface), and what to prepare first
CASES: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ("set_setting", {"name": "epochs", "value": "2"}, []),
    ("approve_pairs", {"ids": [1, 2], "why": "good"}, []),
    ("reject_pairs", {"ids": [3], "why": "off topic"}, []),
    ("edit_pair", {"id": 1, "query": "how do I pin one package version"}, []),
    ("approve_all_pairs", {}, []),
    ("filter_pairs", {"top_k": 3, "round_trip": False}, []),
    ("split_dataset", {"test": 0.3, "seed": 7}, [("approve_all_pairs", {})]),
    ("golden_add", {"questions": ["how do I pin a package?", "如何清理缓存？"]}, []),
    (
        "golden_edit",
        {"query_id": 1, "query": "how can I pin a package?"},
        [("golden_add", {"questions": ["pin?"]})],
    ),
    ("import_history", {"path": "@history.csv", "embedding": False}, []),
    ("export_data", {"out": "data.jsonl", "split": "all"}, [("approve_all_pairs", {})]),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """Two short documents (64-token chunks), offline pairs proposed, a small question history file."""
    from tests.data.conftest import EN_DOC, ZH_DOC

    root = tmp_path_factory.mktemp("agree")
    docs = root / "docs"
    docs.mkdir()
    (docs / "apt-guide.md").write_text(EN_DOC, encoding="utf-8")
    (docs / "food-labels.md").write_text(ZH_DOC, encoding="utf-8")
    ws = Workspace(root / "ws")
    ctx = Context(ws=ws, settings=Settings(workspace=ws.root), files=None)
    invoke(
        "ingest", {"paths": [str(docs)], "chunk_tokens": 64, "chunk_overlap": 8, "base_model": "bundled"}, ctx
    )
    invoke("generate_pairs", {"mode": "offline", "then_filter": False}, ctx)
    assert ws.scalar("SELECT count(*) FROM pairs") >= 4
    (ws.root / "history.csv").write_text(
        "question,answer title\nhow do I use a proxy for apt,Proxy settings\nclean the apt cache,Cleaning the cache\n",
        encoding="utf-8",
    )
    ws.close()
    return ws.root


def _copy(prepared: Path, dest: Path) -> Workspace:
    shutil.copytree(prepared, dest)
    return Workspace(dest)


def _values(values: dict[str, Any], ws: Workspace) -> dict[str, Any]:
    return {
        k: str(ws.root / v[1:]) if isinstance(v, str) and v.startswith("@") else v for k, v in values.items()
    }


def _cli_args(name: str, values: dict[str, Any]) -> list[str]:
    """The command line a user types for these options (from the same declarations the CLI is derived from)."""
    cap = get(name)
    args = cap.command.split()  # type: ignore[union-attr]
    for f in settings_of(cap):
        if f.name not in values:
            continue
        v = values[f.name]
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        if f.metadata.get("positional"):
            args += [str(x) for x in v] if isinstance(v, list) else [str(v)]
        elif isinstance(v, bool):
            args.append(flag if v else "--no-" + flag[2:])
        elif isinstance(v, list):
            args += [flag, ",".join(map(str, v))]
        else:
            args += [flag, str(v)]
    return args + (["--yes"] if cap.preview else [])


def _by_cli(name: str, values: dict[str, Any], ws: Workspace) -> None:
    from bgetune.cli import app

    r = CliRunner().invoke(app, [*_cli_args(name, values), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output


def _by_agent(name: str, values: dict[str, Any], ws: Workspace) -> None:
    from bgetune.agent.runner import AgentSession

    tool_call = call("x")
    tool_call.tool_calls[0].update(name=name, args=values)  # the tool's args may hold a "name" of their own
    model = ScriptedChatModel(script=[tool_call, "done"])
    with AgentSession(ws.root, Settings(workspace=ws.root), f"agree-{name}", model=model) as s:
        events = list(s.send(f"please run {name.replace('_', ' ')}"))
        while s.pending_approval():  # a decision the user confirms (or a cost the user approves)
            events += list(s.resume("approve"))
    results = [e for e in events if e["type"] == "tool_result" and e["tool"] == name]
    assert results and all(e["ok"] for e in results), events


def _by_ui(name: str, values: dict[str, Any], ws: Workspace) -> None:
    from bgetune.ui import caps

    caps.run(name, ws, Settings(workspace=ws.root), values, files=[str(ws.root)], approved=True)


def _snapshot(ws: Workspace) -> dict[str, Any]:
    """The workspace's user-visible state (ids, statuses, texts, splits, settings, golden, negatives, files)."""
    q = lambda sql: [tuple(r) for r in ws.query(sql)]  # noqa: E731
    files = {p.name: p.read_text(encoding="utf-8") for p in ws.root.glob("*.jsonl")}
    return {
        "pairs": q(
            "SELECT id, query, passage, chunk_id, status, reasons, flags, split, source, status_why FROM pairs ORDER BY id"
        ),
        "golden": q("SELECT id, query, status FROM golden ORDER BY id"),
        "negatives": q("SELECT count(*) FROM negatives"),
        "settings": {k: v for k, v in ws.settings().items() if not k.startswith("_")},
        "files": files,
    }


@pytest.mark.parametrize(("name", "values", "prep"), CASES, ids=[c[0] for c in CASES])
def test_every_surface_has_the_same_effect(name, values, prep, prepared, tmp_path):
    cap = get(name)
    surfaces = [("cli", _by_cli)] if cap.command else []
    surfaces += [("agent", _by_agent)] if cap.chat else []
    surfaces += [("ui", _by_ui)]
    assert len(surfaces) >= 2, f"{name} is reachable from one surface only"
    snaps = {}
    for surface, run in surfaces:
        ws = _copy(prepared, tmp_path / surface)
        ctx = Context(ws=ws, settings=Settings(workspace=ws.root), files=None)
        for step, step_values in prep:
            invoke(step, step_values, ctx)
        before = _snapshot(ws)
        run(name, _values(values, ws), ws)
        snaps[surface] = _snapshot(ws)
        ws.close()
    first, *others = snaps
    assert snaps[first] != before, f"{name} changed nothing: the test would prove nothing"
    for other in others:
        assert snaps[other] == snaps[first], f"{name}: {other} differs from {first}"


def test_the_cases_cover_every_kind_of_option():
    """The CLI arguments built here come from the declarations: positional lists, flags, bools, lists."""
    kinds = set()
    for name, values, _ in CASES:
        for f in settings_of(get(name)):
            if f.name in values:
                tp = typing.get_origin(f.type) or f.type
                kinds.add(("positional" if f.metadata.get("positional") else "option", str(tp)))
    assert any(k[0] == "positional" for k in kinds) and len(kinds) >= 4
