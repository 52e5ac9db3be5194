"""Imported by tests.bot_process's fork server only: loads the personal-data check's word
lists (a second of CPU, several on a busy machine) once, so that every forked bot finds them
loaded. They hold string hashes, which are valid in a fork (it keeps the interpreter's hash
seed); `warm_up` at the start of each forked bot then returns at once. What the server has
loaded then moves to the generation that the garbage collector skips: every forked bot keeps
it until its end, and its full collections walk only what it built itself."""

from bot import personal_data
from bot.memory import settle_start_up

personal_data.warm_up()
settle_start_up()
