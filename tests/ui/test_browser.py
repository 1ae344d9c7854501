"""The product in real headless Chromium (Debian's, offline) against a launched app: upload a real PDF, ask for
a fine-tune, review the dataset (reject one pair, edit another), approve, see the training card with its
estimate, reload (same card), approve with tiny settings, see metrics and the score histogram.
Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ui.conftest import ARTIFACTS, pair_ids

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(60_000)
            yield pg
        finally:
            browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def send(page, text: str) -> None:
    box = page.locator("#chat-input textarea")
    box.fill(text)
    box.press("Enter")


def wait_idle(page, timeout: float = 180_000) -> None:
    """Until the chat input is enabled again (the turn ended)."""
    page.wait_for_function(
        "() => { const t = document.querySelector('#chat-input textarea'); return t && !t.disabled; }",
        timeout=timeout,
    )


def test_upload_review_approve_train_results_in_chromium(ui_server, flow_pdf, page):
    from playwright.sync_api import expect

    ws = ui_server["workspace"]
    page.goto(ui_server["url"])
    chat = page.locator("#chatbot")
    expect(page.locator("#chat-input textarea")).to_be_visible()

    # upload a real PDF and ask
    page.locator("#chat-input input[type=file]").set_input_files(str(flow_pdf))
    expect(page.locator("#chat-input [aria-label='File thumbnail']")).to_have_count(1)
    send(page, "fine-tune bge on this")
    expect(chat).to_contain_text("Filter kept", timeout=180_000)
    wait_idle(page)
    expect(chat).to_contain_text("Reading documents")
    assert (ws / "uploads" / flow_pdf.name).is_file()
    shot(page, "1-proposed-dataset-chat")

    # review: the proposed dataset is in the table
    page.get_by_role("tab", name="Dataset").click()
    proposed = pair_ids(ws, "proposed")
    table = page.locator("#pairs-table")
    expect(table).to_contain_text("proposed")
    expect(page.locator("#dataset-summary")).to_contain_text("pairs")
    page.locator("#sel-ids textarea, #sel-ids input").first.fill(str(proposed[0]))
    page.locator("#reject-sel").click()
    expect(page.locator("#dataset-note")).to_contain_text("Rejected 1 pair")
    assert proposed[0] in pair_ids(ws, "rejected")

    page.locator("#edit-accordion").get_by_text("Edit a query").click()
    page.locator("#edit-id input").fill(str(proposed[1]))
    page.locator("#edit-query textarea, #edit-query input").first.fill("where can I read the GPL?")
    page.locator("#edit-save").click()
    expect(page.locator("#dataset-note")).to_contain_text("now asks")
    expect(table).to_contain_text("where can I read the GPL?")
    assert proposed[1] in pair_ids(ws, "edited")
    page.locator("#approve-all").click()
    expect(page.locator("#dataset-note")).to_contain_text("Approved")
    assert pair_ids(ws, "proposed") == []
    shot(page, "2-dataset-reviewed")

    # ask to train: the row says it is estimating (nothing runs yet), then the approval card with the estimate
    page.get_by_role("tab", name="Chat").click()
    page.evaluate(WATCH_ESTIMATING)
    send(page, "train")
    card = page.locator("#approval-card").first
    expect(card).to_be_visible(timeout=180_000)
    expect(card).to_contain_text("Approval needed")
    expect(card).to_contain_text("steps")
    expect(card).to_contain_text("minutes")
    expect(card).to_contain_text("full estimate")
    title = page.locator("#approval-text h3").inner_text()
    assert re.search(r"Train .* pairs", title)
    assert title.startswith("Approval needed") and not has_emoji(title), title  # no empty box before it
    assert page.evaluate("window.__sawEstimating"), "the gated call's row said 'Estimating cost' first"
    expect(chat).to_contain_text("Training: waiting for your approval")
    shot(page, "3-approval-card")

    # a reload shows the same pending card (rebuilt from the persisted graph state)
    page.reload()
    expect(card).to_be_visible()
    expect(page.locator("#approval-text h3")).to_have_text(title)
    expect(chat).to_contain_text("Waiting for your approval")
    shot(page, "4-approval-card-after-reload")

    # tiny settings, approve: the chat says what was approved with the settings that run
    page.locator("#set-epochs input").fill("1")
    page.locator("#set-batch_size input").fill("4")
    page.locator("#set-max_steps input").fill("2")
    page.locator("#approve-btn").click()
    approved = page.locator("#chatbot .user").filter(has_text="Approved:").last
    expect(approved).to_contain_text("epochs=1", timeout=60_000)
    said = approved.inner_text()
    assert (
        "max_steps=2" in said and "batch_size=4" in said and " epochs," not in said and "3 epochs" not in said
    )
    expect(chat).not_to_contain_text("Waiting for your approval")
    expect(chat).to_contain_text("Evaluating base vs tuned", timeout=240_000)
    wait_idle(page, 240_000)
    expect(card).to_be_hidden()
    expect(chat).not_to_contain_text("Waiting for your approval")
    assert [r for r in pair_ids(ws, "edited")], "still there"
    for reply in page.locator("#chatbot .bot").all_inner_texts():
        assert reply.count("Keeping the base model") <= 1, reply
    assert_icons_clear_of_messages(page)
    shot(page, "5-trained")

    # results: what training did (the base kept, or the model shipped), metrics and the histogram image
    page.get_by_role("tab", name="Results").click()
    page.get_by_role("button", name="Refresh").last.click()
    expect(page.locator("#metrics-table")).to_contain_text("ndcg@10")
    summary = page.locator("#results-summary")
    expect(summary).to_contain_text("Evaluated")
    decision = (last_train(ws).get("result") or {}).get("decision") or {}
    if decision and not decision.get("ship"):
        expect(summary).to_contain_text("The base model was kept")
        expect(page.locator("#use-model-text")).to_contain_text("base model was kept")
    else:
        expect(summary).to_contain_text("Shipped")
    page.locator("#calibrate-btn").click()
    hist = page.locator("#hist-img img")
    expect(hist).to_be_visible(timeout=120_000)
    assert page.evaluate("(img) => img.naturalWidth", hist.element_handle()) > 100
    shot(page, "6-results")


WATCH_ESTIMATING = """
window.__sawEstimating = false;
new MutationObserver(() => {
  const c = document.querySelector('#chatbot');
  if (c && (c.textContent || '').includes('Estimating cost: Training')) window.__sawEstimating = true;
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
EMOJI_RANGES = ((0x2300, 0x23FF), (0x2600, 0x27BF), (0x1F000, 0x1FAFF), (0xFE0F, 0xFE0F))


def has_emoji(text: str) -> bool:
    """Characters that headless Chromium without an emoji font draws as an empty box."""
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in EMOJI_RANGES)


def last_train(ws: Path) -> dict:
    from bgetune.core.workspace import Workspace

    w = Workspace(ws)
    try:
        return w.last_run("train") or {}
    finally:
        w.close()


def assert_icons_clear_of_messages(page) -> None:
    """The chat's corner icons (delete) sit above the message area, not over a bubble or its copy button."""
    boxes = page.evaluate(
        """() => {
          const c = document.querySelector('#chatbot');
          const r = (e) => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
          const area = c.querySelector('.bubble-wrap');
          // the chat's own corner icons; a picture or plot inside a message has its own icon row, which belongs there
          const icons = [...c.querySelectorAll('.icon-button-wrapper.top-panel button')]
            .filter((e) => !(area && area.contains(e))).map(r);
          return {area: area ? r(area) : null, icons};
        }"""
    )
    assert boxes["area"] and boxes["icons"], boxes
    top = boxes["area"][1]
    assert all(b[3] <= top + 1 for b in boxes["icons"]), boxes


WATCH_PROGRESS = """
window.__progressTexts = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.progress-text, .eta-bar, .meta-text, .meta-text-center')) {
    const t = (el.textContent || '').trim();
    const shown = el.checkVisibility({opacityProperty: true, visibilityProperty: true});
    if (t && shown && !window.__progressTexts.includes(t)) window.__progressTexts.push(t);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_golden_labelling_and_diagnosis_screens_in_chromium(ui_small, page, tmp_path):
    """A small real workspace (two R FAQ pages): an idle page load shows no progress timer; a long chat answer is
    not covered by a badge; an attached CSV shows its name; golden questions are labelled by ticking candidates;
    a diagnosis shows base vs tuned, a clicked row becomes the expected answer, a fix button applies a fix."""
    from playwright.sync_api import expect

    page.add_init_script(WATCH_PROGRESS)
    page.goto(ui_small["url"])
    expect(page.locator("#chat-input textarea")).to_be_visible()
    page.get_by_role("tab", name="Results").click()
    expect(page.locator("#results-summary")).to_contain_text("No results yet")  # the load events ran
    at_load = page.evaluate("window.__progressTexts")
    assert not [t for t in at_load if "processing" in t.lower() or re.search(r"\d+\.\ds", t)], at_load
    page.get_by_role("tab", name="Chat").click()
    expect(page.locator("#chatbot [data-testid='block-label']")).to_have_count(0)

    # a CSV dropped into the chat is an attachment whose name shows in the message
    csv = tmp_path / "asked-questions.csv"
    csv.write_text("question,answer\nhow do I cite R?,1.3 Citing this document\n", encoding="utf-8")
    page.locator("#chat-input input[type=file]").set_input_files(str(csv))
    send(page, "import these questions")
    wait_idle(page)
    expect(page.locator("#chatbot .user").first).to_contain_text("asked-questions.csv")
    expect(page.locator("#chatbot")).to_contain_text("Reading the question history")
    wait_idle(page)
    shot(page, "7-chat-csv-attachment")
    send(page, "help")
    expect(page.locator("#chatbot")).to_contain_text("Here is what I understand")
    wait_idle(page)
    shot(page, "7b-chat-long-answer-no-badge")

    # golden questions: paste, tick the right candidate, save; none of these for the next
    page.get_by_role("tab", name="Golden questions").click()
    page.locator("#golden-text textarea").fill(
        "how should I cite the R FAQ?\nwhere do I get the latest version of the FAQ?\nwhat does R> mean?"
    )
    page.locator("#golden-add").click()
    expect(page.locator("#golden-note")).to_contain_text("added 3 question(s)", timeout=120_000)
    expect(page.locator("#golden-question")).to_contain_text("Question #")
    boxes = page.locator("#golden-cands input[type=checkbox]")
    expect(boxes.first).to_be_visible()
    assert boxes.count() >= 2
    page.locator("#golden-cands label").filter(has_text="Citing").first.click()
    shot(page, "8-golden-labelling")
    page.locator("#golden-save").click()
    expect(page.locator("#golden-note")).to_contain_text("labeled with 1 passage")
    page.locator("#golden-none").click()
    expect(page.locator("#golden-note")).to_contain_text("unanswerable")
    expect(page.locator("#golden-table")).to_contain_text("✓ labeled")
    expect(page.locator("#golden-table")).to_contain_text("∅ none")

    # diagnosis: base vs tuned, pick the expected answer by clicking its row, apply a fix
    page.get_by_role("tab", name="Results").click()
    page.locator("#diag-query textarea, #diag-query input").first.fill(
        "where can I download the newest R FAQ?"
    )
    page.locator("#diag-btn").click()
    head = page.locator("#diag-head")
    expect(head).to_contain_text("Verdict", timeout=120_000)
    base = page.locator("#diag-base")
    expect(base).to_contain_text("r-faq-slice.pdf")
    expect(head).to_contain_text("No tuned model yet")
    base.locator("[data-testid=cell-1-6]").click()
    expected_box = page.locator("#diag-expected textarea, #diag-expected input").first
    expect(expected_box).to_have_value(re.compile(r"result 2 \(base\)"))
    expect(head).to_contain_text("rank 2")
    expect(page.locator("#diag-note")).to_contain_text("Picked")
    fix = page.locator("#diagnosis button").filter(has_text="golden set").first
    expect(fix).to_be_visible()
    shot(page, "9-diagnosis-panel")
    fix.click()
    expect(page.locator("#diag-note")).to_contain_text("Golden question")
    expect(page.locator("#use-model-text")).to_contain_text("No trained model yet")

    # the training settings card, from the capability table, with the workspace's values
    page.get_by_role("tab", name="Settings").click()
    expect(page.locator("#cfg-base_model textarea, #cfg-base_model input").first).to_have_value("bundled")
    page.locator("#cfg-epochs input").fill("2")
    page.locator("#settings-save").click()
    expect(page.locator("#settings-note")).to_contain_text("epochs")
    shot(page, "10-settings-card")
