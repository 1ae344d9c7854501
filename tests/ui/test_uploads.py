"""uploads.py: files land in <workspace>/uploads only, with safe names and within size limits."""

from __future__ import annotations

import os

import pytest

from bgetune.ui.uploads import UPLOAD_DIR, sanitize_filename, store_uploads


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.pdf", "evil.pdf"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("bad\x00name\x1b[31m.md", "badname[31m.md"),
        ("rtl\u202eexe.pdf", "rtlexe.pdf"),
        ("..", "upload"),
        (".hidden.md", "hidden.md"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("食品安全法.md", "食品安全法.md"),
        ("", "upload"),
    ],
)
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_long_names_keep_their_suffix():
    name = sanitize_filename("x" * 500 + ".pdf")
    assert len(name) <= 120 and name.endswith(".pdf")


@pytest.fixture
def cache(tmp_path):
    root = tmp_path / "gradio-cache"
    (root / "abc").mkdir(parents=True)
    return root


def test_files_are_copied_into_the_workspace_with_sanitised_names(tmp_path, cache):
    src = cache / "abc" / "notes.md"
    src.write_text("# Notes\nhello", encoding="utf-8")
    ws = tmp_path / "ws"
    res = store_uploads(ws, [{"path": str(src), "orig_name": "../../evil/notes.md"}], allowed_roots=[cache])
    assert res.stored == [ws.resolve() / UPLOAD_DIR / "notes.md"] and not res.refused
    assert res.stored[0].read_text(encoding="utf-8") == "# Notes\nhello"
    # the same file again is reused; a different file with the same name gets a new name
    again = store_uploads(ws, [str(src)], allowed_roots=[cache])
    assert again.stored == res.stored
    other = cache / "abc" / "x"
    other.mkdir()
    (other / "notes.md").write_text("other", encoding="utf-8")
    third = store_uploads(ws, [str(other / "notes.md")], allowed_roots=[cache])
    assert third.stored[0].name == "notes-1.md"
    assert sorted(p.name for p in (ws / UPLOAD_DIR).iterdir()) == ["notes-1.md", "notes.md"]


def test_paths_outside_the_upload_cache_links_and_folders_are_refused_unread(tmp_path, cache):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    link = cache / "abc" / "link.txt"
    os.symlink(secret, link)
    ws = tmp_path / "ws"
    res = store_uploads(
        ws,
        [str(secret), str(link), str(cache / "abc"), str(cache / "abc" / ".." / ".." / "secret.txt")],
        allowed_roots=[cache],
    )
    assert res.stored == [] and len(res.refused) == 4
    assert (
        "not an uploaded file" in res.refused[0]
        and "link" in res.refused[1]
        and "not a file" in res.refused[2]
    )
    assert not (ws / UPLOAD_DIR).exists()


def test_size_and_type_limits(tmp_path, cache):
    big = cache / "abc" / "big.txt"
    big.write_bytes(b"x" * 3 * 1024 * 1024)
    exe = cache / "abc" / "tool.exe"
    exe.write_bytes(b"MZ")
    ok = cache / "abc" / "ok.txt"
    (cache / "abc" / "asked.csv").write_text("question\nhow?\n", encoding="utf-8")
    ok.write_text("fine", encoding="utf-8")
    res = store_uploads(tmp_path / "ws", [str(big), str(exe), str(ok)], allowed_roots=[cache], max_file_mb=1)
    assert [p.name for p in res.stored] == ["ok.txt"]
    assert "over the 1 MB limit" in res.refused[0] and "unsupported type .exe" in res.refused[1]
    assert "upload PDF, DOCX, Markdown, TXT, HTML, JSONL, CSV, TSV or XLSX" in res.refused[1]
    assert "refused" in res.summary() and "stored 1" in res.summary()
    total = store_uploads(
        tmp_path / "ws2", [str(ok), str(big)], allowed_roots=[cache], max_file_mb=10, max_total_mb=2
    )
    assert [p.name for p in total.stored] == ["ok.txt"] and "total limit" in total.refused[0]


def test_question_files_are_accepted_and_a_screen_can_narrow_the_types(tmp_path, cache):
    from bgetune.ui.uploads import HISTORY_SUFFIXES

    csv = cache / "abc" / "asked.csv"
    csv.write_text("question,answer\nhow?,here\n", encoding="utf-8")
    xlsx = cache / "abc" / "asked.xlsx"
    xlsx.write_bytes(b"PK")
    pdf = cache / "abc" / "doc.pdf"
    pdf.write_bytes(b"%PDF")
    res = store_uploads(tmp_path / "ws", [str(csv), str(xlsx), str(pdf)], allowed_roots=[cache])
    assert [p.name for p in res.stored] == ["asked.csv", "asked.xlsx", "doc.pdf"]
    narrow = store_uploads(
        tmp_path / "ws2", [str(pdf), str(csv)], allowed_roots=[cache], suffixes=HISTORY_SUFFIXES
    )
    assert [p.name for p in narrow.stored] == ["asked.csv"]
    assert "unsupported type .pdf — upload JSONL, CSV, TSV or XLSX" in narrow.refused[0]
