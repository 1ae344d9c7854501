"""`.env` in the working directory configures bgetune, as .env.example promises; the environment wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _status(cwd: Path, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGETUNE_")} | env_extra
    out = subprocess.run(
        [str(Path(sys.executable).parent / "bgetune"), "status", "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout[out.stdout.index("{") :])


def test_dotenv_sets_the_workspace_and_the_environment_wins(tmp_path):
    from bgetune.core.workspace import Workspace

    for name in ("from-dotenv", "from-env"):
        Workspace(tmp_path / name).close()
    (tmp_path / ".env").write_text("# a comment\nBGETUNE_WORKSPACE=./from-dotenv\n", encoding="utf-8")
    st = _status(tmp_path, {})
    assert Path(st["workspace"]).resolve() == (tmp_path / "from-dotenv").resolve()
    st = _status(tmp_path, {"BGETUNE_WORKSPACE": str(tmp_path / "from-env")})
    assert Path(st["workspace"]).resolve() == (tmp_path / "from-env").resolve()
