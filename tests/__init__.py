"""The test suite. This package is imported first in every process that runs its code: pytest
and its workers, and the fork server of tests/bot_process.py with the bots it forks."""

import gc

# Python's garbage collector, left at its defaults, took a fifth to a quarter of a worker's CPU
# (gc.callbacks, four workers, 2-core machine): a full collection, which walks every object the
# process holds, came every 70,000 new objects, and most of the tests' objects are the stories'
# short-lived bots, messages and rows. With a young generation of 50,000 objects instead of 700,
# full collections come some 70 times more seldom; what is garbage is still collected.
gc.set_threshold(50_000, 10, 10)
