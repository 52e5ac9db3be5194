"""The `cora-bot` command line (`main`), one module per group of commands."""

from bot.memory import collector_paused

with collector_paused():  # bot.memory: the imports' objects stay for the process's life
    from bot.cli.main import main

__all__ = ["main"]
