"""The tests and the package run from a clone with nothing beside it: no path into a sibling shared/ folder."""

from __future__ import annotations

import re

from tests.conftest import DEBIAN_FAQ, REPO

# built from pieces so this file does not match itself
SIBLING = re.compile(
    "|".join([r"\.\./" + "shared", "shared" + "/benchmarks", r"""/\s*["']""" + "shared" + "[\"']"])
)
DOC_ONLY = (
    "local-llm start"  # the opt-in LLM tests name the script a developer runs by hand, in their docstring
)


def test_no_test_or_package_file_reads_a_sibling_shared_folder():
    hits = []
    for top in ("tests", "bgetune"):
        for path in sorted((REPO / top).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SIBLING.search(line) and DOC_ONLY not in line:
                    hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "move the data into tests/fixtures/ (with its licence note):\n" + "\n".join(hits)


def test_debian_faq_fixture_is_inside_the_repository():
    assert DEBIAN_FAQ.is_relative_to(REPO / "tests")
    for name in ("corpus.en.jsonl", "golden.en.jsonl", "corpus.zh.jsonl", "golden.zh.jsonl"):
        assert (DEBIAN_FAQ / name).stat().st_size > 10_000, name
    assert "GPL-2+" in (DEBIAN_FAQ / "README.md").read_text(encoding="utf-8")


def test_forgetting_guard_documents_are_package_data(monkeypatch, tmp_path):
    """A wheel has no samples/: the out-of-domain documents ship inside the package (pyproject package-data)."""
    import tomllib

    from bgetune.tools import merge

    monkeypatch.setattr(merge, "SAMPLES_DIR", tmp_path / "no-samples")  # as installed from a wheel
    for rel in merge.OOD_SAMPLES.values():
        path = merge.ood_sample_path(rel)
        assert path.is_relative_to(REPO / "bgetune" / "data") and path.is_file(), path
        assert path.read_bytes() == (REPO / "samples" / rel).read_bytes()
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/**/*" in data["tool"]["setuptools"]["package-data"]["bgetune"]
