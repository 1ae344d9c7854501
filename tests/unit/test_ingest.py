"""Ingestion on real documents: good files in, each bad file its own clear error, re-runs idempotent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from bgetune.tools.ingest import decode_text, discover, ingest
from tests import pdf_factory
from tests.conftest import SAMPLES


def _ingest(ws: Workspace, *paths):
    return ingest(ws, list(paths), settings=Settings(workspace=ws.root))


def test_mixed_folder_good_files_in_bad_files_explained(tmp_path, workspace):
    d = tmp_path / "docs"
    d.mkdir()
    pdf_factory.small_pdf(d / "good.pdf")
    pdf_factory.encrypted_pdf(d / "locked.pdf")
    pdf_factory.truncated_pdf(d / "broken.pdf")
    pdf_factory.image_only_pdf(d / "scan.pdf")
    (d / "empty.txt").write_bytes(b"")
    pdf_factory.gbk_text(d / "law-gbk.txt")
    (d / "notes.xyz").write_text("ignored: unsupported type inside a folder is not an error")
    report = _ingest(workspace, d)
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["good.pdf"].status == "added" and by_name["good.pdf"].chunks > 0
    assert by_name["law-gbk.txt"].status == "added"
    assert "encrypted" in by_name["locked.pdf"].error and "qpdf" in by_name["locked.pdf"].error
    assert "corrupt" in by_name["broken.pdf"].error or "truncated" in by_name["broken.pdf"].error
    assert "OCR" in by_name["scan.pdf"].error
    assert "empty" in by_name["empty.txt"].error
    assert "notes.xyz" not in by_name
    assert not report.ok and len(report.failed) == 4
    gbk_chunks = [c for c in workspace.chunks() if c["document_name"] == "law-gbk.txt"]
    assert any("食品安全" in c["text"] for c in gbk_chunks)
    assert all(c["language"] == "zh" for c in gbk_chunks)
    # failures are remembered for `status`
    errors = {d["name"]: d["error"] for d in workspace.documents(status="error")}
    assert set(errors) == {"locked.pdf", "broken.pdf", "scan.pdf", "empty.txt"}


def test_unsupported_file_named_directly_and_missing_path(tmp_path, workspace):
    f = tmp_path / "slides.pptx"
    f.write_bytes(b"PK\x03\x04 not really")
    report = _ingest(workspace, f, tmp_path / "nope.pdf")
    errors = [x.error for x in report.failed]
    assert any("unsupported file type '.pptx'" in e for e in errors)
    assert any("no such file" in e for e in errors)


def test_reingest_unchanged_is_noop_and_changed_file_replaces(tmp_path, workspace):
    md = tmp_path / "guide.md"
    md.write_text(
        "# Install\n\nRun the installer and follow the prompts.\n\n# Upgrade\n\nUse the package manager.\n"
    )
    first = _ingest(workspace, md)
    assert first.files[0].status == "added"
    ids_before = {c["id"] for c in workspace.chunks()}
    again = _ingest(workspace, md)
    assert again.files[0].status == "unchanged"
    assert {c["id"] for c in workspace.chunks()} == ids_before
    md.write_text("# Install\n\nDownload the archive, unpack it and run setup.sh as root.\n")
    changed = _ingest(workspace, md)
    assert changed.files[0].status == "replaced"
    texts = " ".join(c["text"] for c in workspace.chunks())
    assert "setup.sh" in texts and "package manager" not in texts
    assert workspace.scalar("SELECT count(*) FROM documents") == 1


def test_chinese_pdf_is_readable(workspace):
    report = _ingest(workspace, SAMPLES / "zh" / "ctex-faq.pdf")
    assert report.ok
    chunks = workspace.chunks()
    text = "\n".join(c["text"] for c in chunks)
    assert "中文" in text and "字体" in text
    assert "\ufffd" not in text  # no mojibake
    lines = [ln for ln in text.split("\n") if ln.strip()]
    one_char = sum(1 for ln in lines if len(ln.strip()) == 1)
    assert one_char / len(lines) < 0.02, "Chinese text must not come out one character per line"
    # page numbers kept for citations; running footer dropped
    assert all(c["page_start"] for c in chunks)
    assert "Copyright ©2003–2009 CTEX.ORG" not in text


def test_chunks_respect_size_and_are_never_empty(sample_ws):
    chunks = sample_ws.chunks()
    assert chunks
    assert all(c["text"].strip() for c in chunks)
    assert max(c["n_tokens"] for c in chunks) <= 256
    zh = [c for c in chunks if c["document_name"] == "food-safety-law.md"]
    assert any(c["heading"] and "第一章" in c["heading"] for c in zh)
    en = [c for c in chunks if c["document_name"] == "R-FAQ.pdf"]
    assert all(c["page_start"] and c["page_end"] >= c["page_start"] for c in en)


def test_jsonl_export_keeps_records_and_ids(tmp_path, workspace):
    kb = tmp_path / "kb.jsonl"
    rows = [
        {"id": "a-1", "text": "Refunds are issued within 14 days."},
        {"id": "a-2", "text": "退货需在七天内申请。"},
    ]
    kb.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n")
    report = _ingest(workspace, kb)
    assert report.ok
    chunks = workspace.chunks()
    assert [c["ext_id"] for c in chunks] == ["a-1", "a-2"]
    assert chunks[1]["language"] == "zh"


def test_html_and_docx(tmp_path, workspace):
    import docx

    html = tmp_path / "page.html"
    html.write_text(
        "<html><head><script>var x=1</script></head><body><nav>menu</nav><h1>Backups</h1>"
        "<p>Nightly backups run at 02:00 and are kept for 30 days.</p><ul><li>Restore with restore.sh</li></ul>"
        "</body></html>"
    )
    d = docx.Document()
    d.add_heading("Leave policy", level=1)
    d.add_paragraph("Employees receive 25 days of paid leave per year.")
    d.save(tmp_path / "policy.docx")
    report = _ingest(workspace, html, tmp_path / "policy.docx")
    assert report.ok, report.summary()
    by_doc = {}
    for c in workspace.chunks():
        by_doc.setdefault(c["document_name"], []).append(c)
    html_text = " ".join(c["text"] for c in by_doc["page.html"])
    assert "Nightly backups" in html_text and "var x" not in html_text and "menu" not in html_text
    assert by_doc["policy.docx"][0]["heading"] == "Leave policy"


def test_decode_text_encodings():
    s = "数据安全法规定了数据处理者的义务。"
    assert decode_text(s.encode("gb18030")) == s
    assert decode_text(s.encode("utf-16")) == s
    assert decode_text("plain ASCII saved as UTF-16 without a BOM".encode("utf-16-le")).startswith(
        "plain ASCII"
    )
    assert decode_text(("\ufeff" + s).encode("utf-8")) == s
    from bgetune.tools.ingest import IngestError

    with pytest.raises(IngestError, match="binary"):
        decode_text(bytes(range(256)) * 50)


def test_symlink_loop_and_deep_nesting_do_not_hang(tmp_path):
    root = tmp_path / "loop"
    (root / "a").mkdir(parents=True)
    (root / "a" / "doc.txt").write_text("hello world, a small document")
    os.symlink(root, root / "a" / "back")
    files, problems = discover([root])
    assert [f.name for f in files] == ["doc.txt"]
    assert any("symlink loop" in p.error for p in problems)


def test_sigkill_mid_ingest_leaves_exactly_one_copy(tmp_path):
    """Kill `bgetune ingest` halfway through a folder; a re-run ends with one copy of every chunk."""
    d = tmp_path / "many"
    d.mkdir()
    src = (SAMPLES / "zh" / "food-safety-law.md").read_text()
    for i in range(40):
        (d / f"doc{i:02d}.md").write_text(f"# 文档 {i}\n\n" + src[i * 500 : i * 500 + 6000])
    ws_dir = tmp_path / "ws"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "bgetune.cli", "ingest", str(d), "--workspace", str(ws_dir), "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = ws_dir / "bgetune.sqlite"
    deadline = time.time() + 120
    killed_midway = False
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                n = Workspace(ws_dir).scalar("SELECT count(*) FROM documents")
            except Exception:
                n = 0
            if n >= 3:
                proc.send_signal(signal.SIGKILL)
                killed_midway = True
                break
        time.sleep(0.05)
    proc.wait(timeout=30)
    ws = Workspace(ws_dir)
    assert ws.integrity_check() == "ok"
    partial_docs = ws.scalar("SELECT count(*) FROM documents")
    if killed_midway:
        assert partial_docs < 40
    # every document present is complete: its chunk count matches
    for doc in ws.documents():
        assert doc["n_chunks"] == ws.scalar("SELECT count(*) FROM chunks WHERE document_id=?", (doc["id"],))
    subprocess.run(
        cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300
    )
    ws2 = Workspace(ws_dir)
    assert ws2.scalar("SELECT count(*) FROM documents WHERE status='ok'") == 40
    dup = ws2.scalar(
        "SELECT count(*) FROM (SELECT document_id, ord FROM chunks GROUP BY document_id, ord HAVING count(*) > 1)"
    )
    assert dup == 0
    assert ws2.scalar("SELECT count(DISTINCT text || document_id) FROM chunks") == ws2.scalar(
        "SELECT count(*) FROM chunks"
    )
