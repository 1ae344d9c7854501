"""Offline generator question quality (issue 14): pages about the document yield nothing, 'what is X' only for
noun phrases, yes/no questions keep a complete claim, keyword queries read as search words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgetune.tools import offline_gen as og

REPO = Path(__file__).resolve().parents[2]


def _gen(text: str, heading: str = "", corpus_extra: int = 6, lang: str = "en") -> list[str]:
    chunk = {"id": "c0", "text": text, "heading": heading, "language": lang}
    filler = [
        {
            "id": f"f{i}",
            "text": f"Unrelated section {i} about gardening, tomatoes and watering schedules.",
            "language": "en",
        }
        for i in range(corpus_extra)
    ]
    stats = og.build_stats([chunk, *filler])
    return [g.query for g in og.generate_for_chunk(chunk, stats)]


TOC = """R FAQ
Frequently Asked Questions on R Version 2022-09-08 Kurt Hornik and the R Core Team Table of Contents
7.18 Why does the output from anova() depend on the
7.34 How can I save the result of each iteration in
7.36 Why are there unwanted borders, lines or grid-like artifacts when"""

DOTTED_TOC = """1 Introduction .......... 1
1.1 Legalese .......... 1
1.2 Obtaining this document .......... 2
2 R Basics .......... 3
2.1 What is R? .......... 3
2.2 What machines does R run on? .......... 4"""

INDEX = """abstract, 17
amsmath, 6, 18-21
array, 23, 24
backref, 27
balance, 16
baselineskip, 14, 15
centering, 23
cite, 26, 28"""

REFS = """M. Henning and S. Vinoski (1999) Advanced CORBA Programming with C++. Addison-Wesley.
K. Kline and D. Kline (2001) SQL in a Nutshell. O'Reilly.
B. Momjian (2000) PostgreSQL: Introduction and Concepts. Addison-Wesley.
J. Smith et al. (2004) Data import. Journal of Statistical Software, pp. 1-20."""

TITLE = """The Debian Installer Guide
Version 3.1, 2024-05-01
Copyright 2024 The Debian Documentation Project"""


@pytest.mark.parametrize(
    ("text", "kind"),
    [(TOC, "toc"), (DOTTED_TOC, "toc"), (INDEX, "index"), (REFS, "references"), (TITLE, "title")],
)
def test_pages_about_the_document_yield_no_pairs(text, kind):
    assert og.page_kind(text) == kind
    assert _gen(text) == []


def test_prose_and_law_articles_are_not_mistaken_for_a_toc():
    prose = (
        "Pinning is a mechanism that lets you prefer packages from one release over another. You can set pin\n"
        "priorities in the file /etc/apt/preferences to keep a package at a fixed version.\n"
        "See the table of contents of the apt manual for more."
    )
    law = (
        "第三十三条　食品生产经营应当符合食品安全标准，并符合下列要求：\n"
        "（一）具有与生产经营的食品品种、数量相适应的食品原料处理和食品加工、包装、贮存等场所；\n"
        "（二）具有与生产经营的食品品种、数量相适应的生产经营设备或者设施；\n"
        "（三）有专职或者兼职的食品安全专业技术人员、食品安全管理人员和保证食品安全的规章制度；"
    )
    listing = "1. 不使用 pdflatex 而改用其他方法生成 PDF 文件\n2. 不使用宋体改用其他字体\n3. 不使用 TrueType 字库而改用 Type1 字库"
    for text in (prose, law, listing):
        assert og.page_kind(text) is None, text


def test_yes_no_questions_keep_a_complete_claim():
    # the R FAQ's own sentences: today's generator must not cut them mid-claim
    named = _gen(
        "The name is partly based on the (first) names of the first two R authors (Robert Gentleman and Ross "
        "Ihaka), and partly a play on the name of the Bell Labs language 'S'."
    )
    assert not any(q.startswith("Is the name partly based") for q in named), named
    machines = _gen("R is being developed for the Unix-like, Windows and Mac families of operating systems.")
    assert "Is R being developed for the Unix-like?" not in machines, machines
    package = _gen(
        "A package is a standardized collection of material extending R, e.g. providing code and data."
    )
    assert not any(q.endswith("extending?") for q in package), package
    # complete claims still become questions
    good = _gen("Packages can be upgraded in place by running apt upgrade from a terminal window.")
    assert "Can packages be upgraded in place?" in good or "How can packages be upgraded in place?" in good, (
        good
    )


def test_what_is_only_for_noun_phrases():
    for text in (
        "Premiums are priced based on the insured value. The insured value is priced based on the market.",
        "Filing a claim doesn't take long. Filing online doesn't take long either, and it doesn't take long.",
        "Use xtabs to cross-tabulate the data. You can cross-tabulate two factors or cross-tabulate three.",
    ):
        qs = _gen(text)
        bad = [q for q in qs if q.lower().startswith(("what is", "what are"))]
        assert not any(w in q for q in bad for w in ("priced based", "doesn't", "cross-tabulate")), qs
    assert og.en_noun_phrase("kernel headers", "Install the kernel headers first.") == "kernel headers"
    assert og.en_noun_phrase("priced based", "Premiums are priced based on value.") is None
    assert og.en_noun_phrase("two large vectors", "the two large vectors are added") is None
    assert og.en_noun_phrase("ross ihaka", "written by Ross Ihaka and Robert Gentleman") is None
    assert (
        og.en_noun_phrase("usr/share/dict", "word lists live in /usr/share/dict on most systems")
        == "/usr/share/dict"
    )


def test_keyword_queries_read_as_search_words():
    assert og._keyword_terms(["cc", "zz close", "readline editing", "readline", "emacs"], "en") == [
        "readline editing",
        "emacs",
    ]
    zh = og._keyword_terms(["货值", "仍为", "二十倍", "上要", "食品安全"], "zh")
    assert "仍为" not in zh and "二十倍" not in zh and "上要" not in zh and "食品安全" in zh


def test_licence_boilerplate_is_not_asked_about():
    text = (
        "1.1 Legalese\n"
        "Copyright (c) 1998-2020 Kurt Hornik. This document is free software; you can redistribute it and/or modify "
        "it under the terms of the GNU General Public License as published by the Free Software Foundation.\n"
        "This document is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; without even "
        "the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE."
    )
    qs = _gen(text, heading="1 Introduction > 1.1 Legalese")
    assert not any("general public" in q.lower() or "warranty" in q.lower() for q in qs), qs


@pytest.mark.slow
def test_r_faq_first_pairs_are_not_title_page_or_toc(tmp_path):
    """The shipped R FAQ: its title page / table of contents chunk yields nothing, and the first pairs a user
    reviews are questions, not 'grid-like artifacts unwanted borders' or 'what is gnu general public'."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    ws = Workspace(tmp_path / "ws")
    ingest(
        ws,
        [REPO / "samples" / "en" / "R-FAQ.pdf"],
        settings=Settings(workspace=ws.root),
        base_model="bundled",
    )
    chunks = ws.chunks()
    out = og.generate_offline(chunks[:12], corpus=chunks)
    assert out[chunks[0]["id"]] == [], out[chunks[0]["id"]]
    first = [g.query for c in chunks[:12] for g in out[c["id"]]]
    assert first, "the R FAQ's first sections yield no pairs at all"
    assert not any("grid-like" in q or "general public" in q.lower() for q in first), first
    # '2.1 What is R?' is its chunk's own heading line: proposing it would pair a passage with its heading (issue
    # 24); the chunk's text gives other questions
    assert "What is R?" not in first, first
    assert sum(q.endswith("?") for q in first) >= 2, first


def _assert_gate(text: str, odd: dict[str, str], fine: list[str]) -> None:
    """The English gate names each odd query's reason and lets each fine one through (the passage: ``text``)."""
    for q, why in odd.items():
        assert og.reads_oddly(q, "en", text) == why, q
    for q in fine:
        assert og.reads_oddly(q, "en", text) is None, q


def test_queries_that_point_into_the_passage_or_hold_placeholders_are_not_proposed():
    """Issue 24: what a person would not type is dropped with its reason (offline-v3.2's gate)."""
    text = "R was written by Ross Ihaka. Run ./configure first. See the CRAN task view for more."
    odd = {
        "Can I download from our archive site?": "points_into_passage",
        "How do I install it?": "points_into_passage",
        "What is RRR component?": "placeholder",
        "What is libfooX?": "placeholder",
        "Where can I get If SAS?": "fragment",
        "What is Function read.fortran?": "fragment",
        "What is Ihaka?": "person",
        "What are Emacs?": "grammar",
        "What is /configure?": "fragment",
        "What is bin/windows?": "odd",
    }
    _assert_gate(
        text,
        odd,
        ["What is /etc/passwd?", "What is Debian GNU/Linux?", "What are RPMs?", "How can I get S-Plus?"],
    )
    assert og.reads_oddly("怎样用dpkg-i安装它？", "zh", "") == "points_into_passage"
    assert og.reads_oddly("违反本法的规定买卖证券会受到什么处罚？", "zh", "") == "points_into_passage"
    assert og.reads_oddly("*“覆盖文件”是什么？", "zh", "") == "fragment"
    assert og.reads_oddly("我应该如何安装软件包？", "zh", "") is None
    chunk = {
        "id": "c1",
        "heading": None,
        "language": "en",
        "text": "You can download the packages from our archive site. The archive site mirrors the Debian archive.",
    }
    gens = og.generate_offline([chunk])["c1"]
    assert all(og.reads_oddly(g.query, "en", chunk["text"]) is None for g in gens), gens


# ---------------------------------------------------------------------------------------------- offline-v3.3 (issue 24)
def _gen_all(text: str) -> list[str]:
    """Every candidate of the chunk, statements and titles too (what the mix balancer picks from)."""
    chunk = {"id": "c0", "text": text, "heading": "", "language": "en"}
    filler = [
        {
            "id": f"f{i}",
            "text": f"Unrelated section {i} about gardening, tomatoes and watering.",
            "language": "en",
        }
        for i in range(6)
    ]
    return [g.query for g in og.generate_for_chunk(chunk, og.build_stats([chunk, *filler]), extra_types=True)]


def test_what_is_asks_only_of_a_term_the_passage_is_about():
    """'what is X' of a salient phrase: not a relational noun ('proper functioning' of ...), not an everyday head
    with one modifier ('Debian system'), not a phrase said once in passing; a term the passage repeats is asked."""
    text = (
        "Required packages are necessary for the proper functioning of the system. The Debian system keeps them. "
        "This is the primary directory of executable commands on the system.\n\n"
        "A symbolic link points to another file. Create a symbolic link with ln -s; removing a symbolic link "
        "leaves its target alone."
    )
    assert not og._en_asked_phrase("proper functioning", text)
    assert not og._en_asked_phrase("debian system", text)
    assert not og._en_asked_phrase("executable commands", text)
    assert og._en_asked_phrase("symbolic link", text)
    qs = [q.lower() for q in _gen_all(text)]
    assert not any(
        x in q for q in qs for x in ("proper functioning", "debian system", "executable commands")
    ), qs


def test_everyday_capitalised_words_are_not_names():
    """A capitalised everyday word is a name only where the text never writes it in lower case and uses it alone:
    not 'Printer' of 'printer drivers', 'Appendix' of 'Appendix G', 'Preferences' (a plural)."""
    assert not og._named("Printer", "PostScript Printer Definition files describe printer drivers, and more.")
    assert not og._named("Appendix", "A discussion is in Appendix G of the book, with examples.")
    assert not og._named("Preferences", "There are options in Preferences to enable smoothing.")
    assert og._named("Python", "interpreters for Perl, Python and Tcl may be installed here.")


def test_noun_phrases_are_not_path_tails_headers_plurals_or_comparisons():
    text = (
        "/usr/X11R6/man/<locale>/man3/XtClass.3x goes into /var/cache/man/X11R6/<locale>/cat3/XtClass.3x. "
        "The /usr Hierarchy This hierarchy is shareable. For Windows users odbcConnectDbase in package RODBC "
        "reads DBF files. There will be people with smaller partitions. Word lists live in /usr/share/dict."
    )
    assert og.en_noun_phrase("cat3/xtclass.3x", text) is None  # the tail of '<locale>/cat3/XtClass.3x'
    assert og.en_noun_phrase("usr hierarchy", text) is None  # a page header glued into the text
    assert og.en_noun_phrase("windows users odbcconnectdbase", text) is None  # a plural inside
    assert og.en_noun_phrase("smaller partitions", text) is None  # a comparison
    assert og.en_noun_phrase("usr/share/dict", text) == "/usr/share/dict"
    assert og._always_continues("debian mailing", "the Debian mailing\nlists, or a Debian mailing list")


def test_how_to_questions_ask_for_tasks():
    """A how-to or 'Can I' question asks for a task: not a pointer verb ('visit a site'), an adverb ('actually
    use'), an experience ('you may find incompatibilities'), notation, 'any X', an example's number or a
    comparison; a capped match ends at a word end ('compilin')."""
    assert not og._en_task_verb("visit a Debian archive site")
    assert not og._en_task_verb("actually use the package")
    assert not og._en_task_verb(
        "find incompatibilities with other systems", "If you have more files, you may "
    )
    assert og._en_task_verb("find out the enclosing environment", "You can ")
    for x in (
        "go from stable --> testing",
        "subscribe to any list debian-list-subject",
        "adjust the value of the 0.25 offset",
        "switch to the more modern unstable",
    ):
        assert not og._en_task_verb(x), x
    qs = [
        q
        for text in (
            "One could simply visit a Debian archive site, then peruse the directories until one finds the file.",
            "If you have more files installed, you may find incompatibilities with other systems using root "
            "filesystems on smaller partitions.",
            "You can actually use the package reportbug to report a bug in the Debian archive.",
        )
        for q in _gen_all(text)
    ]
    assert not any("visit" in q.lower() or "incompatibilities" in q or "ctually" in q for q in qs), qs
    qs = _gen_all(
        "If the kernel sources are in /usr/src/linux, then you should add -I/usr/src/linux/include/ to your "
        "command line when compiling."
    )
    assert not any(q.endswith("compilin?") for q in qs), qs
    assert "How do I add -I/usr/src/linux/include/ to my command line?" in qs, qs
    assert og._gerund("debug") == "debugging" and og._gerund("plot") == "plotting"
    assert (
        og._gerund("edit") == "editing" and og._gerund("read") == "reading" and og._gerund("use") == "using"
    )


def test_sentence_questions_drop_anaphora_hedges_and_quantities():
    qs = _gen_all(
        "Argument names are also usually syntactic names. Code is sometimes hidden in a namespace. Programs may "
        "have a subdirectory of /run. Doug Bates has kindly provided an extensive response. Many OSes have "
        "conventions for the namespace. Some local variable data for xdm is stored in /var/lib/xdm."
    )
    assert "Is code hidden in a namespace?" in qs, qs
    assert not any(
        q.startswith(("Are argument names also", "May ", "Does Doug Bates have", "Where is some"))
        or "sometimes" in q
        or q.startswith("Many OSes")
        for q in qs
    ), qs


def test_names_keep_their_article_and_plurals_agree():
    qs = _gen_all(
        "The Fedora R RPM is a meta-package which installs all the user and developer components of R."
    )
    assert "What is the Fedora R RPM?" in qs and "What is Fedora R RPM?" not in qs, qs
    text = "The R Foundation is a not for profit organization. See the R Foundation pages."
    assert og._en_frame_article("What is R Foundation?", "What is", ["R Foundation"], text) == (
        "What is the R Foundation?"
    )
    assert (
        og._en_frame_article("What is dependencies?", "What is", ["dependencies"], "")
        == "What are dependencies?"
    )
    assert og._en_frame_article("What is SPSS?", "What is", ["SPSS"], "SPSS files") == "What is SPSS?"


def test_v33_gate_reads_oddly():
    """offline-v3.3's additions to the gate: cut brackets, anaphora, heading words glued to paths, an everyday
    compound before a name, a bare everyday object, pointer verbs, example paths and names, the document itself,
    authors and makers in passing, a participle left over."""
    text = (
        "A simple example (taken from Abelson and Sussman) is given. Characters from movies by Pixar; he was "
        "working at Pixar. Please refer to this FAQ. If you want to run unstable, change the field to 'unstable'."
    )
    odd = {
        "How do I rotate axis labels (using base graphics?": "fragment",
        "Are argument names also syntactic names?": "points_into_passage",
        "Do the attributes have the same names?": "points_into_passage",
        "Are text connections another source of input?": "points_into_passage",
        "What is /usr Hierarchy?": "fragment",
        "What is Rationale /var/yp?": "fragment",
        "What is back-ends ROracle?": "odd",
        "How do I find incompatibilities?": "vague",
        "Where can I get translations?": "vague",
        "How could I visit a Debian archive site?": "odd",
        "What is /path/to/R?": "placeholder",
        "What are my_packages?": "placeholder",
        "What is /usr/share/doc/PACKAGE?": "placeholder",
        "What is FAQ?": "points_into_passage",
        "What is Abelson?": "person",
        "What is Pixar?": "odd",
        "How can function read.spss read files created?": "fragment",
    }
    _assert_gate(
        text,
        odd,
        [
            "How can I run unstable?",
            "Can I keep the family plan for six months if I move to another country?",
            "What is Debian GNU/Linux?",
            "How can packages be upgraded?",
            "What is /usr/share/dict?",
        ],
    )


@pytest.mark.parametrize(
    ("term", "text", "asked"),
    [
        ("dvips", "用 dvips 把 DVI 文件转换成 PostScript 文件。", True),
        ("origprime", r"公式 \label{eq:origprime} A = B + 1 由公式变化而来。", False),  # a label inside code
        ("temp", "运行 patchdvi -b test.dvi temp.dvi 然后改名。", False),  # a file name
        (
            "bibliographysec",
            r"就会产生相应的命令： \bibliographysec 、 \citesec 等。",
            False,
        ),  # a one-off command
        ("includegraphics", r"用 \includegraphics 插入图形， \includegraphics 的参数是文件名。", True),
        ("myArrow", "定义 myArrow 命令画箭头。", False),  # camelCase identifier
        ("paper1", "例如 paper1 、 paper2 和 paper3 三篇文献。", False),  # a numbered example series
        (
            "landscpae",
            r"\documentclass[landscape]{article} dvips 必须加上 -t landscpae 参数。",
            False,
        ),  # typo
        ("Lamport", "Leslie Lamport 开发的 LATEX 是最流行的宏集。", False),  # half of a person's name
        ("Knoppix", "Knoppix 是一个基于 Debian 的发行版。", True),
    ],
)
def test_zh_what_is_asks_of_names_the_prose_uses(term, text, asked):
    """Issue 24: 'X是什么？' names something a reader meets in the prose, not a code label, file name, one-off
    command, identifier, example placeholder, typo or half of a person's name (judged zeros of seed 28)."""
    assert og._zh_prose_name(term, text) is asked


def test_zh_how_to_asks_to_use_a_named_tool_not_an_everyday_thing():
    """'我应该如何使用X' / 'X的方法' with 使用/运行 take a named tool; no organisation as an object, no name cut
    short at a hyphen (judged zeros: '我应该如何使用保健食品？', '我应该如何运行开始菜单？', '申请司法机关',
    '订阅debian-列表主题')."""
    text = (
        "如果您想使用保健食品，请先阅读标签。如果你想运行开始菜单，请点击按钮。如果您想使用dvips，请先安装它。"
        "如果您想订阅debian-user，请发送邮件。当事人可以申请司法机关处理。如果您想安装软件包，请使用apt。"
    )
    sents = og._sentences(text)
    slots, _ = og.passage_slots(text, sents, ["保健食品", "开始菜单", "dvips", "司法机关", "软件包"], "zh")
    vps = slots["VP"]
    assert "使用dvips" in vps and "安装软件包" in vps
    for bad in ("使用保健食品", "运行开始菜单", "申请司法机关", "订阅debian"):
        assert bad not in vps, (bad, vps)


def test_zh_rules_drop_your_and_glued_placeholders():
    """v3.5: a user names the thing, not 'your' thing; a placeholder glued to a name is never asked; an English
    word or its inflection is not asked as a name (judged zeros of seed 32)."""
    qs = [q for q, _, _ in og._zh_rules("如果您想共享您的Debian软件包，请上传到镜像。", law=False)]
    assert "如何共享Debian软件包？" in qs and not any("您" in q for q in qs)
    qs = [q for q, _, _ in og._zh_rules("要订阅debian-列表主题，请发送邮件。", law=False)]
    assert not any("debian-" in q for q in qs), qs
    assert not og._zh_latin_name("Maintainers") and not og._zh_latin_name("Dependencies")
    assert og._zh_latin_name("dpkg") and og._zh_latin_name("tasksel")
