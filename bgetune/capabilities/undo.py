"""Undo the last review decision (the chat's "undo that"; a setting is put back by set_setting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgetune.capabilities import Capability, Context
from bgetune.core.i18n import say
from bgetune.tools.review import undo_last


@dataclass
class UndoResult:
    action: str | None = None
    ids: list[int] = field(default_factory=list)
    restored: dict[int, str] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        if not self.action:
            return say(lang, "There is no review decision to undo.", "没有可撤销的审核决定。")
        back = ", ".join(f"#{i} -> {s}" for i, s in self.restored.items())
        verb = {"approve": ("approval", "通过"), "reject": ("rejection", "拒绝"), "edit": ("edit", "修改")}
        en, zh = verb.get(self.action, (self.action, self.action))
        return say(lang, f"Undid the last {en}; old status back: {back}.", f"已撤销上一次{zh}，恢复原状态：{back}。")


def run_undo(ctx: Context, opts: Any) -> UndoResult:
    return UndoResult(**undo_last(ctx.ws))


CAPABILITIES = [
    Capability(
        "undo_review",
        "Undo the last review decision (approve, reject or edit of pairs): each pair gets its old status back.",
        run_undo,
        None,
        UndoResult,
        cost="free",
        cli="undo",
        ui=None,
        decides=True,
    )
]
