"""Bad and hostile input: each file gets a clear error or is handled in bounded time and memory; the rest ingest."""

from __future__ import annotations

import os
import resource
import zipfile

from bgetune.core.config import Settings
from bgetune.tools.ingest import MAX_DEPTH, ingest
from tests import pdf_factory


def _run(ws, *paths, **kw):
    return ingest(ws, list(paths), settings=Settings(workspace=ws.root, **kw))


def test_hostile_corpus(tmp_path, workspace):
    d = tmp_path / "corpus"
    d.mkdir()
    good = d / "good.md"
    good.write_text("# Backups\n\nBackups run nightly at 02:00 and are kept for thirty days.\n")
    (d / "zero.txt").write_bytes(b"")
    (d / "program.txt").write_bytes(os.urandom(64 * 1024))  # a binary renamed .txt
    (d / "fake.pdf").write_bytes(b"MZ\x90\x00 this is an executable, not a PDF")
    pdf_factory.encrypted_pdf(d / "locked.pdf")
    pdf_factory.truncated_pdf(d / "cut.pdf")
    pdf_factory.image_only_pdf(d / "scan.pdf")
    # a filename with control characters and a name that looks like a path escape
    weird = d / "evil\x07name..%2F..%2Fetc.md"
    weird.write_text("# Weird name\n\nThe file name has control characters but the content is fine.\n")
    # a DOCX zip bomb: small on disk, gigabytes when expanded
    bomb = d / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    # deeply nested folder
    deep = d
    for i in range(MAX_DEPTH + 3):
        deep = deep / f"n{i}"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("too deep to be read")
    # symlink loop
    os.symlink(d, d / "loop")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = _run(workspace, d)
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    by_name = {os.path.basename(f.path): f for f in report.files}
    assert by_name["good.md"].status == "added"
    assert by_name["evil\x07name..%2F..%2Fetc.md"].status == "added"
    assert "binary" in by_name["program.txt"].error
    assert "empty" in by_name["zero.txt"].error
    assert "not a PDF" in by_name["fake.pdf"].error
    assert "encrypted" in by_name["locked.pdf"].error
    assert "OCR" in by_name["scan.pdf"].error
    assert "zip bomb" in by_name["bomb.docx"].error
    assert any("deeper than" in (f.error or "") for f in report.failed)
    assert any("symlink loop" in (f.error or "") for f in report.failed)
    # nothing was read from outside the given folder, and the bomb was never expanded
    assert all(str(d) in f.path for f in report.files)
    assert rss_growth_mb < 250
    assert workspace.integrity_check() == "ok"


def test_2000_page_pdf_is_handled(tmp_path, workspace):
    big = pdf_factory.many_page_pdf(tmp_path / "long.pdf", pages=2000)
    report = _run(workspace, big)
    assert report.ok, report.summary()
    assert report.files[0].pages == 2000
    # the repeated page is one page's text: identical chunks across pages keep distinct stable ids
    assert workspace.scalar("SELECT count(*) FROM chunks") >= 2000


def test_page_and_size_limits_give_the_fix(tmp_path, workspace):
    big = pdf_factory.many_page_pdf(tmp_path / "long.pdf", pages=30)
    report = _run(workspace, big, max_pages=20)
    assert "over the limit of 20" in report.failed[0].error and "BGETUNE_MAX_PAGES" in report.failed[0].error
    txt = tmp_path / "huge.txt"
    txt.write_text("word " * 300_000)
    report = _run(workspace, txt, max_file_mb=1)
    assert "BGETUNE_MAX_FILE_MB" in report.failed[0].error
