"""`python -m bgetune ...` runs the CLI."""

from bgetune.cli import main

main()
