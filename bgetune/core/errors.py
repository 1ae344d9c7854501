"""One error base for everything a user can act on. Each surface (CLI, chat, UI, server) handles it once."""

from __future__ import annotations


class BgetuneError(RuntimeError):
    """A failure the user can act on: what went wrong (naming the file or setting) and what to do next."""
