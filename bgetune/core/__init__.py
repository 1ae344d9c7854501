"""The core layer: one error base, language helpers, settings, model rules and the workspace.

Everything above (tools, capabilities, surfaces) may import from here; nothing here imports them.
"""
