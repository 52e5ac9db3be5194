"""The `cora-bot` command line (`main`), one module per group of commands."""

from bot.cli.main import main

__all__ = ["main"]
