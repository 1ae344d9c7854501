"""The real-question bench's builders (bench/suite/builders.py) on tiny snippets: an HTML FAQ, the SQLite FAQ's
markup, an AsciiDoc FAQ, a POD FAQ and a PDF FAQ made here; the expected corpus and golden rows come out, with
each question heading removed from its answer passage and stable ids."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "suite"))

import builders as b  # noqa: E402

SPHINX = """<html><head><title>FAQ</title><script>var x = "How do I sort a list?";</script></head><body>
<div class="sphinxsidebar"><h3>Navigation</h3><p>How do I sort a list?</p></div>
<section id="programming-faq"><h1>Programming FAQ<a class="headerlink" href="#programming-faq">¶</a></h1>
<nav class="contents local" id="contents"><ul>
<li><a class="reference internal" href="#how-do-i-sort-a-list">How do I sort a list?</a></li>
<li><a class="reference internal" href="#why-is-my-loop-slow">Why is my loop slow?</a></li></ul></nav>
<section id="general"><h2>General Questions<a class="headerlink" href="#general">¶</a></h2>
<p>Some words about the general questions of this page, long enough to be kept as a passage when it is a
distractor: it says nothing about sorting or loops, only that this part of the FAQ covers general
topics that come up often on the mailing list and in the issue tracker of the project.</p>
<section id="how-do-i-sort-a-list"><h3><a class="toc-backref" href="#id1">How do I sort a list?</a><a class="headerlink" href="#how-do-i-sort-a-list">¶</a></h3>
<p>Use the <code>sorted()</code> built-in or the <code>list.sort()</code> method.</p>
<p>Both take a <em>key</em> function.</p>
</section>
<section id="why-is-my-loop-slow"><h3>Why is my loop slow?<a class="headerlink" href="#why-is-my-loop-slow">¶</a></h3>
<p>Attribute lookups in the loop body cost time; bind them to locals first.</p>
<section id="details"><h4>Measuring it<a class="headerlink" href="#details">¶</a></h4>
<p>Use <code>timeit</code>.</p>
</section></section></section></section></body></html>"""


def test_html_faq_to_corpus_and_golden_rows():
    secs = b.html_sections(SPHINX)
    assert [(s.key, s.level) for s in secs] == [
        ("programming-faq", 1),
        ("general", 2),
        ("how-do-i-sort-a-list", 3),
        ("why-is-my-loop-slow", 3),
        ("details", 4),
    ]
    items, rest = b.faq_items(secs)
    assert [(i.key, i.question) for i in items] == [
        ("how-do-i-sort-a-list", "How do I sort a list?"),
        ("why-is-my-loop-slow", "Why is my loop slow?"),
    ]
    # heading removed, text kept; the non-question subsection is part of the answer
    assert (
        items[0].answer == "Use the sorted() built-in or the list.sort() method.\nBoth take a key function."
    )
    assert items[1].answer == (
        "Attribute lookups in the loop body cost time; bind them to locals first.\nMeasuring it\nUse timeit."
    )
    pool = b.distractor_rows("doc", rest, [i.question for i in items])
    assert [d["id"] for d in pool] == ["doc-general"]  # the title-only h1 is too short to be a passage
    corpus, golden = b.assemble("pyfaq", items, pool, ratio=1.0)
    assert golden == [
        {"query": "How do I sort a list?", "pos_ids": ["pyfaq-how-do-i-sort-a-list"]},
        {"query": "Why is my loop slow?", "pos_ids": ["pyfaq-why-is-my-loop-slow"]},
    ]
    assert [r["id"] for r in corpus] == [
        "doc-general",
        "pyfaq-how-do-i-sort-a-list",
        "pyfaq-why-is-my-loop-slow",
    ]
    # no passage quotes a question: the contents list, sidebar and script are gone
    for r in corpus:
        for g in golden:
            assert g["query"] not in r["text"]
    # deterministic: the same input gives the same rows
    assert b.assemble("pyfaq", *b.faq_items(b.html_sections(SPHINX))[:1], pool, ratio=1.0) == (corpus, golden)


def test_sqlite_numbered_entries_and_statement_questions():
    html = """<body><h1>Frequently Asked Questions</h1><ol><li><a href="#q1">How do I create an AUTOINCREMENT field?</a></li></ol>
<a name="q1"></a>
<p><b>(1) How do I create an AUTOINCREMENT field?</b></p>
<blockquote><p>Short answer: A column declared INTEGER PRIMARY KEY will autoincrement.</p></blockquote>
<a name="q2"></a>
<p><b>(2) SQLite lets me insert a string into a database column of type integer!</b></p>
<blockquote><p>This is a feature, not a bug.</p></blockquote></body>"""
    secs = b.html_sections(b.sqlite_faq_html(html), (3,))
    items, _ = b.faq_items(secs, is_entry=lambda s: True)
    corpus, golden = b.assemble("sqlitefaq", items, [], ratio=2.0)
    assert golden == [
        {"query": "How do I create an AUTOINCREMENT field?", "pos_ids": ["sqlitefaq-q1"]},
        {
            "query": "SQLite lets me insert a string into a database column of type integer!",
            "pos_ids": ["sqlitefaq-q2"],
        },
    ]
    assert corpus == [
        {
            "id": "sqlitefaq-q1",
            "text": "Short answer: A column declared INTEGER PRIMARY KEY will autoincrement.",
        },
        {"id": "sqlitefaq-q2", "text": "This is a feature, not a bug."},
    ]


ADOC = """gitfaq(7)
=========

Configuration
-------------

[[user-name]]
What should I put in `user.name`?::
	You should put your personal name.
+
It does not authenticate you.

[[configure-editor]]
How do I configure a different editor?::
	Set `core.editor`.

Credentials
-----------

[[http-credentials]]
How do I specify my credentials when pushing over HTTP?::
	Use a credential helper.
"""


def test_asciidoc_faq_entries():
    items = b.asciidoc_faq(ADOC)
    assert [(i.key, i.question, i.answer) for i in items] == [
        (
            "user-name",
            "What should I put in user.name?",
            "You should put your personal name.\nIt does not authenticate you.",
        ),
        ("configure-editor", "How do I configure a different editor?", "Set `core.editor`."),
        (
            "http-credentials",
            "How do I specify my credentials when pushing over HTTP?",
            "Use a credential helper.",
        ),
    ]
    secs = b.asciidoc_sections(ADOC)
    assert [s.title for s in secs] == ["gitfaq(7)", "Configuration", "Credentials"]


POD = """=head1 NAME

perlfaq4 - Data Manipulation

=head2 Why am I getting long decimals (eg, 19.9499999999999) instead of the numbers I should be getting (eg, 19.95)?

For the long explanation, see David Goldberg's paper. Use C<printf> or C<< sprintf() >>.

=head2 How do I reverse a string?

Use C<reverse()> in scalar context:

    $reversed = reverse $string;

=head1 AUTHOR

Someone.
"""


def test_pod_faq_entries():
    items = b.pod_faq(POD)
    assert [i.question for i in items] == [
        "Why am I getting long decimals (eg, 19.9499999999999) instead of the numbers I should be getting "
        "(eg, 19.95)?",
        "How do I reverse a string?",
    ]
    assert items[0].answer == "For the long explanation, see David Goldberg's paper. Use printf or sprintf()."
    assert items[1].answer == "Use reverse() in scalar context:\n$reversed = reverse $string;"
    assert items[1].key == "how-do-i-reverse-a-string"


def _text_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A minimal text PDF (Helvetica, one line per Tj), written by hand: no PDF library needed."""
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font_id = 3
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for lines in pages:
        esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
        stream = "BT /F1 11 Tf 14 TL 50 780 Td " + " ".join(f"({s}) Tj T*" for s in esc) + " ET"
        data = stream.encode("latin-1")
        objs.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
        content_id = len(objs)
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font_id, content_id)
        )
        kids.append(len(objs))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_numbered_pdf_faq(tmp_path):
    pdf = _text_pdf(
        tmp_path / "faq.pdf",
        [
            [
                "Tiny FAQ",
                "Contents",
                "A Basics 2",
                "1 What is TeX? . . . . . . . . . . 2",
                "2 How do I install a package? . . . . . . 2",
                "3 Why does my document not compile? . . . 3",
            ],
            [
                "Tiny FAQ Copyright 2009",
                "A Basics",
                "1 What is TeX?",
                "TeX is a typesetting system written by Knuth.",
                "2 How do I install a package? Revised",
                "v0.4 Put it in your local texmf tree",
                "and refresh the file name database.",
            ],
            ["Tiny FAQ Copyright 2009", "3 Why does my document not compile?", "Read the log file first."],
        ],
    )
    pages = b.pdf_text(pdf)
    items = b.numbered_faq_from_text(pages, drop_line=re.compile(r"^Tiny FAQ Copyright"))
    corpus, golden = b.assemble("tiny", items, [], ratio=2.0)
    assert golden == [
        {"query": "What is TeX?", "pos_ids": ["tiny-q1"]},
        {"query": "How do I install a package?", "pos_ids": ["tiny-q2"]},
        {"query": "Why does my document not compile?", "pos_ids": ["tiny-q3"]},
    ]
    assert corpus == [
        {"id": "tiny-q1", "text": "TeX is a typesetting system written by Knuth."},
        {"id": "tiny-q2", "text": "Put it in your local texmf tree\nand refresh the file name database."},
        {"id": "tiny-q3", "text": "Read the log file first."},
    ]


CTEX_PDF = REPO / "samples" / "zh" / "ctex-faq.pdf"


@pytest.mark.skipif(not CTEX_PDF.exists(), reason="samples/zh/ctex-faq.pdf not in this checkout")
def test_ctex_faq_pdf_first_pages(tmp_path):
    """The real CTeX FAQ's first pages (contents + the first answers) cut out with pypdf."""
    from pypdf import PdfReader, PdfWriter

    sys.path.insert(0, str(REPO / "bench" / "suite"))
    from build import CTEX_RUNNING

    w = PdfWriter()
    reader = PdfReader(CTEX_PDF)
    for i in (0, 4):  # contents page 1 (questions 1-11) and the body page with questions 1-4
        w.add_page(reader.pages[i])
    snippet = tmp_path / "ctex-snippet.pdf"
    with open(snippet, "wb") as fh:
        w.write(fh)
    items = b.numbered_faq_from_text(b.pdf_text(snippet), drop_line=CTEX_RUNNING)
    corpus, golden = b.assemble("ctexfaq", items, [], ratio=0)
    assert golden[0] == {"query": "CTEX 是干什么的？", "pos_ids": ["ctexfaq-q1"]}
    assert [g["pos_ids"][0] for g in golden][:3] == ["ctexfaq-q1", "ctexfaq-q2", "ctexfaq-q3"]
    by_id = {r["id"]: r["text"] for r in corpus}
    assert "这个 FAQ 的目的是什么" not in by_id["ctexfaq-q3"]  # the question heading is removed
    assert by_id["ctexfaq-q3"].startswith("本 FAQ 是为了收集")  # and its 'Revised v0.4' mark
    assert not any("Copyright" in t for t in by_id.values())


def test_committed_sets_match_their_meta():
    """The committed sets: ids unique, every positive in the corpus, no answer passage starts with its question."""
    sets = REPO / "bench" / "suite" / "sets"
    names = sorted(p.name for p in sets.iterdir() if (p / "corpus.jsonl").exists())
    assert len(names) >= 5
    total = zh = 0
    for n in names:
        corpus = [json.loads(x) for x in (sets / n / "corpus.jsonl").read_text().splitlines() if x.strip()]
        golden = [json.loads(x) for x in (sets / n / "golden.jsonl").read_text().splitlines() if x.strip()]
        meta = json.loads((sets / n / "meta.json").read_text())
        ids = [r["id"] for r in corpus]
        assert len(ids) == len(set(ids)), n
        text = dict(zip(ids, (r["text"] for r in corpus), strict=True))
        for g in golden:
            assert g["pos_ids"] and all(p in text for p in g["pos_ids"]), (n, g)
            for p in g["pos_ids"]:
                assert not text[p].startswith(g["query"]), (n, g["query"])
        assert meta["questions"] == len(golden) and meta["passages"] == len(corpus)
        assert len(corpus) >= 2.5 * meta["answer_passages"], n  # distractors make it several times larger
        total += len(golden)
        zh += len(golden) if meta["language"] == "zh" else 0
    assert total >= 600 and zh >= 200
