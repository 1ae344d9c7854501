"""The offline fallback's note is said in the reply's language (a Chinese reply carried an English sentence)."""

from __future__ import annotations

from bgetune.core.i18n import has_cjk
from bgetune.core.models import resolve_base_model


def test_the_fallback_note_in_chinese_names_the_model_wanted(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = resolve_base_model(None, language="zh", offline=True)
    if res.spec != "bundled":  # the Chinese BGE is in this machine's cache: no fallback to describe
        return
    zh, en = res.note_in("zh"), res.note_in("en")
    assert res.wanted and res.wanted in zh and has_cjk(zh) and "is not in the local cache" not in zh
    assert en == res.note and "is not in the local cache" in en
    assert resolve_base_model("bundled").note_in("zh") is None
