"""CLI command groups, one module per pipeline area; each defines register(app)."""
