"""The two languages the assistant speaks: one ``say`` and one CJK test, used by every layer above.

``say(lang, en, zh)`` picks the wording for a reply; ``has_cjk(text)`` tells whether text contains Chinese
(ideographs), and ``reply_lang(*texts)`` is the reply language for what a user typed.
"""

from __future__ import annotations

import re
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff]")  # CJK ideographs (extension A and the unified block)


def say(lang: str | None, en: str, zh: str) -> str:
    """The Chinese wording when ``lang`` is "zh", else the English one."""
    return zh if lang == "zh" else en


def has_cjk(text: Any) -> bool:
    """True when ``text`` is a string holding at least one CJK ideograph."""
    return isinstance(text, str) and CJK.search(text) is not None


def reply_lang(*texts: Any, default: str = "en") -> str:
    """The reply language, "zh" when any of the texts holds Chinese, else ``default``."""
    return "zh" if any(has_cjk(t) for t in texts) else default
