"""bgetune: turn your own documents into a fine-tuned embedding model, and prove it retrieves better."""

__version__ = "0.1.0"
