"""cora-bot: coordination of a regional network against domestic and sexual violence."""

import os

# Opt in to python-telegram-bot's future behaviour (durations as timedelta) now; our code
# handles both, and it keeps PTB from warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
