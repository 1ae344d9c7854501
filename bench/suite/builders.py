"""Parsers that turn real FAQs (HTML, AsciiDoc, PDF, POD) into retrieval sets: one passage per answer with its
question heading REMOVED, the heading itself as the real question, and distractor passages (other sections of
the same manuals). Pure functions on text (no network, no randomness): the tests feed them tiny snippets.

A set is ``corpus`` rows ``{"id", "text"}`` and ``golden`` rows ``{"query", "pos_ids"}``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

QUESTION_END = ("?", "？")
MIN_DISTRACTOR_CHARS = 200
MAX_DISTRACTOR_CHARS = 3000
_MARK = "\x00"


@dataclass
class Section:
    key: str  # stable id part: the heading's anchor, or a slug of its title
    level: int  # 1 = h1 / chapter ... deeper is larger
    title: str
    text: str  # body text WITHOUT the heading
    children: list[Section] = field(default_factory=list)


@dataclass
class FaqItem:
    key: str
    question: str  # the heading as its authors wrote it (numbering stripped)
    answer: str  # the answer text, heading removed


def clean_lines(text: str) -> str:
    """Whitespace collapsed inside lines, blank lines dropped, NFC."""
    text = unicodedata.normalize("NFC", text.replace("\u00a0", " ").replace("\u00b6", ""))
    lines = [re.sub(r"[ \t\r\f\v]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def slug(text: str, n: int = 60) -> str:
    s = re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "-", text.lower()).strip("-")
    return s[:n].strip("-") or hashlib.sha1(text.encode()).hexdigest()[:10]


_NUM = re.compile(r"^\s*(?:\(\d+\)|[A-Z]?\d+(?:\.\d+)*\.?|[A-Z]\.)\s+")


def strip_number(title: str) -> str:
    """'7.31 Why ...?' / '(3) How ...?' / 'Q. How' -> the question itself."""
    return _NUM.sub("", title.strip()).strip()


def is_question(title: str) -> bool:
    return strip_number(title).rstrip().endswith(QUESTION_END)


# --------------------------------------------------------------------------------------------------- HTML
_BLOCKS = ["p", "div", "li", "pre", "tr", "dd", "dt", "blockquote", "table", "ul", "ol", "dl", "section"]
_DROP_TAGS = ("script", "style", "nav", "header", "footer", "head")
_DROP_CLASSES = re.compile(r"\b(contents|toc|topic|sphinxsidebar|related|footer|header|navigation|nav)\b")


def html_sections(html: str, levels: Sequence[int] = (1, 2, 3, 4)) -> list[Section]:
    """The document's sections in order, flat: each heading h1..h4 (``levels``) starts one; its text runs to the
    next heading of any of those levels. Tables of contents, navigation and scripts are dropped (a TOC lists the
    questions: it would leak them into a passage). Text before the first heading is dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for t in soup(list(_DROP_TAGS)):
        t.decompose()
    for t in soup.find_all(class_=True):
        if t.decomposed:
            continue
        cls = " ".join(t.get("class") or [])
        if _DROP_CLASSES.search(cls) and t.name in {"div", "nav", "ul", "ol", "aside", "table"}:
            t.decompose()
    for a in soup.find_all("a", class_="headerlink"):
        a.decompose()
    names = [f"h{i}" for i in levels]
    for h in soup.find_all(names):
        anchor = h.get("id") or ""
        if not anchor:
            parent = h.find_parent(["section", "div"])
            anchor = (parent.get("id") if parent is not None else "") or ""
        if not anchor:
            a = h.find("a", attrs={"name": True}) or h.find("a", attrs={"id": True})
            anchor = (a.get("name") or a.get("id")) if a is not None else ""
        title = re.sub(r"\s+", " ", h.get_text(" ")).strip()
        h.replace_with(f"\n{_MARK}{h.name[1]}{_MARK}{anchor}{_MARK}{title}{_MARK}\n")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for b in soup.find_all(_BLOCKS):
        b.insert_before("\n")
        b.append("\n")
    body = soup.body or soup
    text = body.get_text("")
    parts = text.split(f"\n{_MARK}")
    out: list[Section] = []
    seen: dict[str, int] = {}
    for part in parts[1:]:
        level, anchor, title, rest = part.split(_MARK, 3)
        key = anchor or slug(strip_number(title))
        if key in seen:
            seen[key] += 1
            key = f"{key}-{seen[key]}"
        else:
            seen[key] = 0
        out.append(Section(key=key, level=int(level), title=title.strip(), text=clean_lines(rest)))
    return out


def faq_items(
    sections: Sequence[Section],
    *,
    merge_children: bool = True,
    is_entry: Callable[[Section], bool] | None = None,
) -> tuple[list[FaqItem], list[Section]]:
    """Question sections become FAQ items (heading removed); a non-question section nested below a question
    (deeper level) is part of that question's answer (its heading kept as a line, it is not a question). The
    other non-question sections are returned as the FAQ's own non-answer passages (distractor candidates).
    ``is_entry``: which sections are FAQ entries (default: the heading ends in a question mark); some FAQs number
    entries their authors phrased as statements ('I installed a package but the functions are not there')."""
    items: list[FaqItem] = []
    rest: list[Section] = []
    current: tuple[int, FaqItem] | None = None
    for s in sections:
        if is_entry(s) if is_entry else is_question(s.title):
            items.append(FaqItem(key=s.key, question=strip_number(s.title), answer=s.text))
            current = (s.level, items[-1])
            continue
        if current is not None and merge_children and s.level > current[0]:
            item = current[1]
            item.answer = "\n".join(x for x in (item.answer, strip_number(s.title), s.text) if x)
            continue
        current = None
        rest.append(s)
    return [i for i in items if i.answer.strip()], rest


def sqlite_faq_html(html: str) -> str:
    """The SQLite FAQ marks each question as ``<p><b>(N) question</b></p>``: made headings for html_sections."""
    return re.sub(
        r"<a name=\"(q\d+)\"></a>\s*<p><b>(\(\d+\).*?)</b></p>",
        lambda m: f'<h3 id="{m.group(1)}">{m.group(2)}</h3>',
        html,
        flags=re.S,
    )


# ----------------------------------------------------------------------------------------------- AsciiDoc
_ADOC_UNDERLINE = re.compile(r"^(=+|-+|~+|\^+|\++)$")


def asciidoc_faq(text: str) -> list[FaqItem]:
    """gitfaq-style definition lists: ``[[anchor]]`` then ``Question?::`` then the answer up to the next
    anchor or section title."""
    lines = text.splitlines()
    items: list[FaqItem] = []
    i = 0
    anchor = ""
    while i < len(lines):
        ln = lines[i]
        m = re.match(r"^\[\[([^\]]+)\]\]\s*$", ln)
        if m:
            anchor = m.group(1)
            i += 1
            continue
        if ln.endswith("::") and not ln.startswith((" ", "\t")) and len(ln) > 3:
            q = ln[:-2].strip()
            body: list[str] = []
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if re.match(r"^\[\[[^\]]+\]\]\s*$", nxt):
                    break
                if i + 1 < len(lines) and nxt.strip() and _ADOC_UNDERLINE.match(lines[i + 1].strip() or "x"):
                    if len(lines[i + 1].strip()) >= max(3, len(nxt.strip()) - 2):
                        break
                if nxt.endswith("::") and not nxt.startswith((" ", "\t")) and len(nxt) > 3:
                    break
                body.append("" if nxt.strip() == "+" else nxt)
                i += 1
            items.append(
                FaqItem(
                    key=anchor or slug(q), question=q.replace("`", ""), answer=clean_lines("\n".join(body))
                )
            )
            anchor = ""
            continue
        i += 1
    return [it for it in items if it.answer]


def asciidoc_sections(text: str) -> list[Section]:
    """Sections of an AsciiDoc file (two-line titles underlined with = - ~ ^ +, and ``== Title`` lines)."""
    lines = text.splitlines()
    heads: list[tuple[int, str, int]] = []  # (line index of the body start, title, level)
    i = 0
    while i < len(lines):
        ln = lines[i].rstrip()
        m = re.match(r"^(={1,5})\s+(\S.*)$", ln)
        if m:
            heads.append((i + 1, m.group(2), len(m.group(1))))
        elif (
            i + 1 < len(lines)
            and ln
            and not ln.startswith((" ", "\t"))
            and _ADOC_UNDERLINE.match(lines[i + 1].strip() or "x")
            and abs(len(lines[i + 1].strip()) - len(ln)) <= 2
        ):
            heads.append((i + 2, ln, "=-~^+".index(lines[i + 1].strip()[0]) + 1))
            i += 1
        i += 1
    out: list[Section] = []
    seen: set[str] = set()
    for n, (start, title, level) in enumerate(heads):
        end = heads[n + 1][0] - 2 if n + 1 < len(heads) else len(lines)
        body = [x for x in lines[start:end] if not re.match(r"^\[\[[^\]]+\]\]\s*$", x) and x.strip() != "+"]
        key = slug(title)
        while key in seen:
            key += "-x"
        seen.add(key)
        out.append(Section(key=key, level=level, title=title, text=clean_lines("\n".join(body))))
    return out


# ---------------------------------------------------------------------------------------------------- POD
def pod_faq(text: str) -> list[FaqItem]:
    """perlfaq-style POD: each ``=head2 Question?`` with its paragraphs up to the next head (POD commands and
    ``=item`` markers become plain lines; formatting codes like C<...> are unwrapped)."""
    items: list[FaqItem] = []
    blocks = re.split(r"^(?==head\d\s)", text, flags=re.M)
    for b in blocks:
        m = re.match(r"^=head(\d)\s+(.*?)\n", b)
        if not m:
            continue
        title = _pod_inline(m.group(2).strip())
        if not is_question(title):
            continue
        body = b[m.end() :]
        body = re.sub(r"^=(over|back|cut|pod|begin|end|for)\b.*$", "", body, flags=re.M)
        body = re.sub(r"^=item\s*", "", body, flags=re.M)
        items.append(FaqItem(key=slug(title), question=title, answer=clean_lines(_pod_inline(body))))
    return [i for i in items if i.answer]


def _pod_inline(s: str) -> str:
    for _ in range(3):
        s = re.sub(r"[A-Z]<<+\s+(.*?)\s+>>+", r"\1", s)
        s = re.sub(r"[A-Z]<([^<>]*)>", r"\1", s)
    return s


# ---------------------------------------------------------------------------------------------------- PDF
def pdf_text(path: str | Path) -> list[str]:
    """Each page's text (pypdfium2)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


_TOC = re.compile(r"^(\d{1,3})\s+(.+?)\s*(?:\.\s*){3,}\s*(\d+)\s*$")


def numbered_faq_from_text(
    pages: Sequence[str], *, drop_line: re.Pattern[str] | None = None
) -> list[FaqItem]:
    """A numbered FAQ typeset as PDF (the CTeX FAQ): the table of contents lists ``N question . . . page``; in the
    body each question starts a line ``N question`` (maybe with a trailing 'Revised'/'New' mark). Each answer is
    the text from the end of its question to the start of the next question (or section title), with running
    heads and footers (``drop_line``) removed."""
    lines: list[str] = []
    for p in pages:
        lines.extend(ln.replace("\r", "").rstrip() for ln in p.replace("\r\n", "\n").split("\n"))
    toc: dict[int, str] = {}
    toc_end = 0
    pending = ""
    for idx, ln in enumerate(lines):
        s = (pending + " " + ln).strip() if pending else ln.strip()
        m = _TOC.match(s)
        if m and int(m.group(1)) not in toc:
            toc[int(m.group(1))] = m.group(2).strip()
            toc_end = idx
            pending = ""
        elif re.match(r"^\d{1,3}\s+\S", ln.strip()) and not re.search(r"\d\s*$", ln.strip()) and idx < 400:
            pending = ln.strip()  # a TOC entry wrapped over two lines
        else:
            pending = ""
    if not toc:
        return []
    body = [ln for ln in lines[toc_end + 1 :] if not (drop_line and drop_line.search(ln))]
    text = "\n".join(body)
    flat = re.sub(r"\s+", "", text)
    # map positions in the whitespace-free text back to the text
    pos_map = [i for i, ch in enumerate(text) if not ch.isspace()]
    starts: list[tuple[int, int, int]] = []  # (n, start of heading in text, end of heading in text)
    cursor = 0
    for n in sorted(toc):
        title = re.sub(r"\s+", "", toc[n])
        key = f"{n}{title}"
        j = flat.find(key, cursor)
        while j >= 0:
            at = pos_map[j]
            if at == 0 or text[at - 1] == "\n":  # a heading starts its line
                break
            j = flat.find(key, j + 1)
        if j < 0:
            continue
        end = pos_map[j + len(key) - 1] + 1
        starts.append((n, pos_map[j], end))
        cursor = j + len(key)
    items: list[FaqItem] = []
    for k, (n, _s, e) in enumerate(starts):
        stop = starts[k + 1][1] if k + 1 < len(starts) else len(text)
        ans = text[e:stop]
        ans = re.sub(r"^[ \t]*(Revised|New|新增|修订)\b", "", ans)
        ans = re.sub(r"^\s*v\d+(\.\d+)*\s*", "", ans.lstrip(" \t").lstrip("\n"), count=1)
        ans = "\n".join(
            ln for ln in ans.split("\n") if not re.match(r"^[A-Z](\.\d+)?\s+\S{1,20}$", ln.strip())
        )  # section titles between questions ('C 安装升级', 'G.1 编号')
        items.append(FaqItem(key=f"q{n}", question=toc[n], answer=clean_lines(ans)))
    return [i for i in items if i.answer]


def pdf_page_passages(
    pages: Sequence[str], *, drop_line: re.Pattern[str] | None = None, max_chars: int = 1200
) -> list[str]:
    """Distractor passages from a manual typeset as PDF: each page's text, running heads dropped, cut into pieces
    of at most ``max_chars`` at line ends."""
    out: list[str] = []
    for p in pages:
        lines = [ln for ln in p.replace("\r\n", "\n").split("\n") if not (drop_line and drop_line.search(ln))]
        buf: list[str] = []
        size = 0
        for ln in lines:
            if size + len(ln) > max_chars and buf:
                out.append(clean_lines("\n".join(buf)))
                buf, size = [], 0
            buf.append(ln)
            size += len(ln) + 1
        if buf:
            out.append(clean_lines("\n".join(buf)))
    return [x for x in out if x]


# ------------------------------------------------------------------------------------------------ assembly
def stable_pick(rows: Sequence[dict], n: int, salt: str = "") -> list[dict]:
    """``n`` rows chosen by the hash of their id (deterministic, spread over the sources), in id order."""
    ranked = sorted(rows, key=lambda r: hashlib.sha1((salt + r["id"]).encode()).hexdigest())
    return sorted(ranked[:n], key=lambda r: r["id"])


def distractor_rows(prefix: str, sections: Iterable[Section], questions: Sequence[str] = ()) -> list[dict]:
    """Sections as distractor passages (heading kept as the first line, as a chunker would), long enough to be
    a passage, cut at MAX_DISTRACTOR_CHARS; any section quoting two or more of the set's questions is dropped
    (a FAQ's own contents list would leak the questions)."""
    qnorm = [re.sub(r"\s+", " ", q).strip().lower() for q in questions if len(q) > 12]
    out: list[dict] = []
    seen: set[str] = set()
    for s in sections:
        if len(s.text) < MIN_DISTRACTOR_CHARS:
            continue
        low = re.sub(r"\s+", " ", s.text).lower()
        if sum(1 for q in qnorm if q in low) >= 2:
            continue
        text = clean_lines(f"{strip_number(s.title)}\n{s.text}")[:MAX_DISTRACTOR_CHARS]
        rid = f"{prefix}-{s.key}"
        while rid in seen:
            rid += "-x"
        seen.add(rid)
        out.append({"id": rid, "text": text})
    return out


def assemble(
    prefix: str, items: Sequence[FaqItem], distractors: Sequence[dict], *, ratio: float = 2.0
) -> tuple[list[dict], list[dict]]:
    """(corpus, golden): one answer passage per question (id ``<prefix>-<key>``), plus ``ratio`` x as many
    distractors picked by stable_pick. Duplicate questions keep their first answer; the corpus is in id order."""
    answers: list[dict] = []
    golden: list[dict] = []
    seen_q: set[str] = set()
    seen_id: set[str] = set()
    for it in items:
        qk = re.sub(r"\W+", "", it.question.lower())
        if qk in seen_q or not it.answer.strip():
            continue
        seen_q.add(qk)
        rid = f"{prefix}-{it.key}"
        while rid in seen_id:
            rid += "-x"
        seen_id.add(rid)
        answers.append({"id": rid, "text": it.answer})
        golden.append({"query": it.question, "pos_ids": [rid]})
    pool = [d for d in distractors if d["id"] not in seen_id]
    picked = stable_pick(pool, int(round(ratio * len(answers))), salt=prefix)
    corpus = sorted(answers + picked, key=lambda r: r["id"])
    return corpus, golden
