"""Build the real-question sets of the bench (issue 20): `python bench/suite/build.py [--only NAME ...]`.

Sources are Debian packages, fetched with `apt-get download` into bench/suite/.cache/ (git-ignored) and unpacked
with `dpkg-deb -x`; the Debian FAQ's answers and questions come from tests/fixtures/debian-faq (committed). Each
set is written to bench/suite/sets/<name>/ as corpus.jsonl, golden.jsonl, README.md and the source packages'
copyright files. Deterministic: sorted inputs, distractors picked by the hash of their id, no randomness.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from builders import (  # noqa: E402
    FaqItem,
    asciidoc_faq,
    asciidoc_sections,
    assemble,
    distractor_rows,
    faq_items,
    html_sections,
    numbered_faq_from_text,
    pdf_page_passages,
    pdf_text,
    sqlite_faq_html,
)

CACHE = HERE / ".cache"
SRC = CACHE / "src"
SETS = HERE / "sets"
FIXTURE = REPO / "tests" / "fixtures" / "debian-faq"
RATIO = 2.0  # distractors per answer passage: the corpus is 3x the answers


@dataclass
class SetSpec:
    name: str
    lang: str
    title: str
    packages: tuple[str, ...]
    licence: str
    source: str
    # (spec, the unpacked packages) -> corpus, golden
    build: Callable[[SetSpec, Path], tuple[list[dict], list[dict]]]
    note: str  # how the set is built, for its README


def fetch(pkgs: tuple[str, ...]) -> Path:
    """Download and unpack Debian packages into the cache (once); returns the unpack root."""
    root = SRC / "root"
    debs = SRC / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for p in pkgs:
        if (SRC / f"{p}.done").exists():
            continue
        have = sorted(debs.glob(f"{p}_*.deb"))
        if not have:
            subprocess.run(
                ["apt-get", "download", p, "-o", f"Dir::Cache={CACHE / 'apt'}"], cwd=debs, check=True
            )
            have = sorted(debs.glob(f"{p}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(have[-1]), str(root)], check=True)
        (SRC / f"{p}.done").write_text(have[-1].name)
    return root


def read(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def html_pool(prefix: str, files: list[Path], questions: list[str], levels=(1, 2, 3, 4)) -> list[dict]:
    rows: list[dict] = []
    for f in sorted(files):
        rows += distractor_rows(f"{prefix}-{f.stem.lower()}", html_sections(read(f), levels), questions)
    return rows


# ----------------------------------------------------------------------------------------------- the sets
def faq_and_docs(
    key: str, items: list[FaqItem], rest: list, doc_key: str, docs: list[Path], levels: tuple[int, ...]
) -> tuple[list[dict], list[dict]]:
    """A set from an HTML FAQ: its questions and answers, with its non-question sections and the sections of
    the package's other HTML documents (``docs``, headings of ``levels``) as distractors."""
    qs = [i.question for i in items]
    pool = distractor_rows(key, rest, qs) + html_pool(doc_key, docs, qs, levels)
    return assemble(key, items, pool, ratio=RATIO)


def build_debian(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    lang = spec.lang
    answers = [
        json.loads(x) for x in (FIXTURE / f"corpus.{lang}.jsonl").read_text().splitlines() if x.strip()
    ]
    golden = [
        {"query": g["query"], "pos_ids": g["pos_ids"]}
        for g in (
            json.loads(x) for x in (FIXTURE / f"golden.{lang}.jsonl").read_text().splitlines() if x.strip()
        )
    ]
    suffix = spec.packages[0].removeprefix("debian-reference-")
    files = sorted((root / "usr/share/debian-reference").glob(f"*.{suffix}.html"))
    pool = html_pool(f"dref-{lang}", files, [g["query"] for g in golden], levels=(2, 3))
    from builders import stable_pick

    picked = stable_pick(
        [d for d in pool if d["id"] not in {a["id"] for a in answers}],
        int(RATIO * len(answers)),
        salt=spec.name,
    )
    return sorted(answers + picked, key=lambda r: r["id"]), golden


def build_r(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    man = root / "usr/share/R/doc/manual"
    secs = html_sections(read(man / "R-FAQ.html"), (2, 3, 4))
    items, rest = faq_items(
        secs, is_entry=lambda s: s.level == 3 and re.match(r"^[2-9]\.\d+\s", s.title) is not None
    )
    manuals = [man / f"{m}.html" for m in ("R-intro", "R-admin", "R-data", "R-lang")]
    return faq_and_docs("rfaq", items, rest, "rman", manuals, (2, 3, 4))


def build_python(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    html = root / "usr/share/doc/python3.11/html"
    items: list[FaqItem] = []
    rest = []
    for f in sorted((html / "faq").glob("*.html")):
        if f.stem == "index":
            continue
        its, r = faq_items(html_sections(read(f), (1, 2, 3, 4)))
        for it in its:
            it.key = f"{f.stem}-{it.key}"
        items += its
        rest += [s for s in r if s.level > 1]
    docs = sorted((html / "tutorial").glob("*.html")) + sorted((html / "howto").glob("*.html"))
    return faq_and_docs("pyfaq", items, rest, "pydoc", docs, (1, 2, 3))


def build_git(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    doc = root / "usr/share/doc/git-doc"
    items = asciidoc_faq(read(doc / "gitfaq.txt"))
    qs = [i.question for i in items]
    srcs = [
        "user-manual",
        "gittutorial",
        "gittutorial-2",
        "gitworkflows",
        "giteveryday",
        "gitcore-tutorial",
        "gitcredentials",
        "gitignore",
        "gitattributes",
        "gitrevisions",
        "gitglossary",
        "gitremote-helpers",
    ]
    pool: list[dict] = []
    for s in srcs:
        f = doc / f"{s}.txt"
        if f.exists():
            pool += distractor_rows(f"gitdoc-{s}", asciidoc_sections(read(f)), qs)
    return assemble("gitfaq", items, pool, ratio=RATIO)


def build_sqlite(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    doc = root / "usr/share/doc/sqlite3"
    items, _rest = faq_items(
        html_sections(sqlite_faq_html(read(doc / "faq.html")), (3,)), is_entry=lambda s: True
    )
    qs = [i.question for i in items]
    files = sorted(
        f
        for f in doc.glob("*.html")
        if f.stem not in {"faq", "index", "docs", "sitemap", "toc", "keyword_index"}
    )
    pool = html_pool("sqlitedoc", files, qs, (1, 2, 3))
    return assemble("sqlitefaq", items, pool, ratio=RATIO)


CTEX_RUNNING = re.compile(
    r"(CTEX FAQ （常见问题集） v0\.4 beta Copyright|^\s*[A-Z] \S+ \d+\s*$|^CONTENTS \d+$)"
)
LSHORT_RUNNING = re.compile(r"^\s*(\d+\s*$|第\s*\d+\s*章.*\d+\s*$|\d+\s+第\s*\d+\s*章.*$)")


def build_ctex(spec: SetSpec, root: Path) -> tuple[list[dict], list[dict]]:
    tl = root / "usr/share/doc/texlive-doc/latex"
    items = numbered_faq_from_text(pdf_text(tl / "ctex-faq/ctex-faq.pdf"), drop_line=CTEX_RUNNING)
    pages = pdf_text(tl / "lshort-chinese/lshort-zh-cn.pdf")
    pool = [
        {"id": f"lshort-p{i:04d}-{j}", "text": t}
        for i, p in enumerate(pages)
        for j, t in enumerate(pdf_page_passages([p], drop_line=LSHORT_RUNNING))
        if len(t) >= 200
    ]
    return assemble("ctexfaq", items, pool, ratio=RATIO)


def debian_spec(lang: str, suffix: str, title: str, source: str) -> SetSpec:
    """One of the two Debian FAQ sets: the fixture's FAQ in ``lang``, the Debian Reference in ``suffix``."""
    package = f"debian-reference-{suffix}"
    note = (
        f"Answers and questions reused as-is from tests/fixtures/debian-faq (corpus.{lang}.jsonl: every FAQ "
        f"section, headings removed; golden.{lang}.jsonl: the FAQ's own questions). Distractors: sections (h2/h3) "
        f"of the Debian Reference ({suffix}, package {package}), heading kept as first line."
    )
    licence = "GPL-2+ (Debian FAQ; Debian Reference)"
    return SetSpec(f"debian-faq-{lang}", lang, title, (package,), licence, source, build_debian, note)


SPECS: list[SetSpec] = [
    debian_spec(
        "en", "en", "Debian FAQ (English)", "doc-debian / debian-faq 11.1; debian-reference-en 2.100"
    ),
    debian_spec(
        "zh",
        "zh-cn",
        "Debian FAQ (Simplified Chinese)",
        "doc-debian / debian-faq-zh-cn 11.1; debian-reference-zh-cn 2.100",
    ),
    SetSpec(
        "r-faq",
        "en",
        "R FAQ",
        ("r-doc-html",),
        "GPL-2+ (R FAQ and manuals)",
        "r-doc-html 4.2.2",
        build_r,
        (
            "R-FAQ.html (r-doc-html): every numbered entry (h3) of chapters 2-9 is one question (as its authors "
            "wrote it, a few phrased as statements); its answer is the section text with the heading removed (non-question subsections below it, e.g. 3.3.1 'Lexical "
            "scoping', are part of the answer). Distractors: the FAQ's non-question sections and the sections of "
            "R-intro, R-admin, R-data and R-lang (same package), heading kept."
        ),
    ),
    SetSpec(
        "python-faq",
        "en",
        "Python FAQ",
        ("python3.11-doc",),
        "PSF License 2 (Python documentation)",
        "python3.11-doc 3.11.2",
        build_python,
        (
            "python3.11-doc html/faq/*.html (the Python FAQ: general, programming, design, library, extending, "
            "windows, gui, installed): every heading ending in '?' is a question, its section text (heading removed) "
            "the answer. Distractors: the FAQ's non-question sections and the sections of the Python tutorial and "
            "HOWTOs (same package), heading kept."
        ),
    ),
    SetSpec(
        "git-faq",
        "en",
        "Git FAQ (gitfaq)",
        ("git-doc",),
        "GPL-2 (Git documentation)",
        "git-doc 2.39.5",
        build_git,
        (
            "gitfaq.txt (git-doc): every '[[anchor]] Question::' entry is a question, its text the answer. "
            "Distractors: sections of the Git user manual, tutorials, gitworkflows, giteveryday, gitcredentials, "
            "gitignore, gitattributes, gitrevisions, gitglossary (same package), heading kept."
        ),
    ),
    SetSpec(
        "sqlite-faq",
        "en",
        "SQLite FAQ",
        ("sqlite3-doc",),
        "public domain (SQLite documentation)",
        "sqlite3-doc 3.40.1",
        build_sqlite,
        (
            "faq.html (sqlite3-doc): each numbered entry '(N) ...' is a question (a few phrased as statements), its answer block the answer. Distractors: "
            "sections (h1-h3) of the other pages of the SQLite documentation (same package), heading kept."
        ),
    ),
    SetSpec(
        "ctex-faq",
        "zh",
        "CTeX FAQ (Chinese TeX users)",
        ("texlive-lang-chinese",),
        "GFDL (CTeX FAQ); GPL/LPPL (lshort-zh-cn), see copyright file",
        "texlive-lang-chinese 2022.20230122 (ctex-faq 0.4, lshort-zh-cn)",
        build_ctex,
        (
            "ctex-faq.pdf (texlive-lang-chinese; the same file as samples/zh/ctex-faq.pdf), parsed with pypdfium2: "
            "the table of contents gives the 89 numbered questions; in the body each answer runs from the end of its "
            "question line to the next question, running heads removed. Distractors: pages of 'lshort-zh-cn' (一份"
            "（不太）简短的 LaTeX 介绍, same package), cut at 1200 characters."
        ),
    ),
]


def write_set(spec: SetSpec, corpus: list[dict], golden: list[dict]) -> dict:
    out = SETS / spec.name
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("golden.jsonl", golden)):
        (out / name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    root = SRC / "root"
    lic = []
    for p in spec.packages + (("doc-debian",) if spec.name.startswith("debian") else ()):
        src = root / "usr/share/doc" / p / "copyright"
        if src.exists():
            shutil.copyfile(src, out / f"LICENSE-{p}.txt")
            lic.append(f"LICENSE-{p}.txt")
    if spec.name.startswith("debian") and (FIXTURE / "README.md").exists():
        shutil.copyfile(FIXTURE / "README.md", out / "SOURCE-debian-faq-fixture.md")
    answers = len({i for g in golden for i in g["pos_ids"]})
    meta = {
        "name": spec.name,
        "language": spec.lang,
        "questions": len(golden),
        "passages": len(corpus),
        "answer_passages": answers,
        "distractors": len(corpus) - answers,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    readme = out / "README.md"
    base_line = ""
    if readme.exists():  # keep a measured base figure written by bench/quality.py --suite
        m = re.search(r"<!-- base:start -->.*?<!-- base:end -->", readme.read_text(), re.S)
        base_line = m.group(0) if m else ""
    readme.write_text(
        f"# {spec.title}: real questions ({spec.name})\n\n"
        f"- Language: {spec.lang}\n- Source: Debian package(s) {spec.source}\n- Licence: {spec.licence}; the "
        f"packages' copyright files: {', '.join(lic) or '-'}\n"
        f"- Counts: {meta['questions']} real questions, {meta['passages']} passages "
        f"({meta['answer_passages']} answers + {meta['distractors']} distractors)\n\n"
        f"How built (`python bench/suite/build.py --only {spec.name}`): {spec.note}\n\n"
        "The questions are the FAQ's own question headings, written by its authors (never generated); each "
        "heading is removed from its answer passage. Distractors are picked by the hash of their id (no "
        f"randomness), {RATIO:g} per answer passage.\n\n"
        + (
            base_line
            or "<!-- base:start -->\nBase model (bundled all-MiniLM-L6-v2) nDCG@10: not measured yet "
            "(`python bench/quality.py --suite --only "
            + spec.name
            + "`).\n<!-- base:end -->"
        )
        + "\n",
        encoding="utf-8",
    )
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[], help="set name (repeatable or comma list)")
    args = ap.parse_args(argv)
    only = {x for a in args.only for x in a.split(",") if x}
    for spec in SPECS:
        if only and spec.name not in only:
            continue
        corpus, golden = spec.build(spec, fetch(spec.packages))
        meta = write_set(spec, corpus, golden)
        print(json.dumps(meta, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
