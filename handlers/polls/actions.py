"""Answering and running polls: buttons, /vote, /polls, /results, /closepoll."""

from __future__ import annotations

import contextlib
import re

from telegram import CallbackQuery, Update
from telegram.error import BadRequest

from bot.errors import DomainError
from handlers.common.callbacks import Button
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    plain,
    say,
    send_html,
    tr,
)
from handlers.polls.views import (
    ANSWER_CODES,
    answers_text,
    poll_line,
    results_lines,
    vote_example,
)
from storage.models import Answer, PollKind

_ANSWER_WORDS = {
    **{w: Answer.YES for w in ("yes", "y", "ja", "j", "✅")},
    **{w: Answer.MAYBE for w in ("maybe", "m", "vielleicht", "v", "wennnötig", "?", "🤔")},
    **{w: Answer.NO for w in ("no", "n", "nein", "❌")},
}


def parse_vote(args: list[str]) -> tuple[str, dict[int, str | None], bool]:
    """`7 1=ja 2=nein` → per-option answers; `7 2` or `7 1,3` → chosen options (replacing)."""
    if len(args) < 2:
        raise DomainError("vote.usage")
    ref, rest = args[0], args[1:]
    answers: dict[int, str | None] = {}
    if any("=" in part for part in rest):
        for part in rest:
            number, _, word = part.partition("=")
            answer = _ANSWER_WORDS.get(word.strip().lower())
            if not number.strip().isdecimal() or answer is None:
                raise DomainError("vote.usage")
            answers[int(number)] = answer
        return ref, answers, False
    for part in ",".join(rest).split(","):
        if not part.strip():
            continue
        if not part.strip().isdecimal() or len(part.strip()) > 3:
            raise DomainError("vote.usage")
        answers[int(part)] = Answer.YES
    return ref, answers, True


async def vote_command(update: Update, context: CoraContext) -> None:
    """`/vote <poll> <option>=<ja|vielleicht|nein> …` or `/vote <poll> <option>[,<option>…]`"""
    ref, answers, replace = parse_vote(context.args or [])
    polls = context.services.polls
    member = context.active_member
    poll_id = await polls.find(member.id, ref)
    view = await polls.view(poll_id)
    if view.kind == PollKind.DATE and replace:
        raise DomainError(
            "vote.date_usage", id=poll_id, example=vote_example(view, context.language)
        )
    ballot = await polls.vote(member.id, poll_id, answers, replace=replace)
    saved = ballot.answers or {}
    text = tr(context, "vote.saved", id=poll_id, answers=answers_text(context, ballot.poll, saved))
    # A partial /vote on a date poll changes the options named and keeps the others' answers.
    kept = {
        option.id: saved[option.id]
        for option in ballot.poll.options
        if option.position not in answers and option.id in saved
    }
    if view.kind == PollKind.DATE and kept:
        text += "\n" + tr(context, "vote.kept", answers=answers_text(context, ballot.poll, kept))
    await send_html(update, text)


async def poll_button(update: Update, context: CoraContext, button: Button) -> None:
    """Answer buttons on poll messages, and the creator's close and decision buttons."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdecimal():
        raise DomainError("button.invalid")
    poll_id, action = int(button.id), button.action
    if action == "close" or (action.startswith("pick") and action[4:].isdecimal()):
        await _manage(context, query, poll_id, action)
    else:
        await _answer(context, query, poll_id, action)


async def _manage(context: CoraContext, query: CallbackQuery, poll_id: int, action: str) -> None:
    """The creator's "close" now, or "pick<n>" as the result (0: none)."""
    polls, member = context.services.polls, context.active_member
    if action == "close":
        view = await polls.close(member.id, poll_id)
        await query.answer(plain(context, "poll.closed_by_you", id=view.id))
        return
    view = await polls.decide(member.id, poll_id, int(action[4:]) or None)
    await query.answer(plain(context, "poll.decided_by_you", id=view.id))
    await query.edit_message_reply_markup(None)


async def _answer(context: CoraContext, query: CallbackQuery, poll_id: int, action: str) -> None:
    """ "<n><y|m|n>" answers a date option, "c<n>" picks or switches a choice."""
    match = re.fullmatch(r"(\d{1,2})([ymn])|c(\d{1,2})", action)
    if match is None:
        raise DomainError("button.invalid")
    polls, member = context.services.polls, context.active_member
    pressed = (query.message.chat.id, query.message.message_id) if query.message else None
    try:
        if match.group(3) is not None:
            await polls.toggle(member.id, poll_id, int(match.group(3)), pressed=pressed)
        else:
            answer = ANSWER_CODES[match.group(2)]
            await polls.vote(member.id, poll_id, {int(match.group(1)): answer}, pressed=pressed)
    except DomainError as error:
        if error.message_key == "poll.closed":
            # Nothing left to press; the refusal is what counts if the closing already took
            # the buttons off (Telegram: "message is not modified").
            with contextlib.suppress(BadRequest):
                await query.edit_message_reply_markup(None)
        raise
    await query.answer(plain(context, "vote.saved_short"))


async def list_polls(update: Update, context: CoraContext) -> None:
    """`/polls`: open polls with the member's own answers, and their own undecided polls."""
    lines = await context.services.polls.open_polls(context.active_member.id)
    if not lines:
        await say(update, context, "polls.none")
        return
    header = tr(context, "polls.header", count=len(lines))
    for text in chunk_lines([poll_line(context, line) for line in lines], header):
        await send_html(update, text)


async def results_command(update: Update, context: CoraContext) -> None:
    """`/results <poll>`: the tally (counts only for anonymous polls)."""
    if not context.args or len(context.args) != 1:
        raise DomainError("poll.ref_expected")
    polls = context.services.polls
    member = context.active_member
    poll_id = await polls.find(member.id, context.args[0])
    results = await polls.results(member.id, poll_id)
    manager = results.missing is not None
    for text in chunk_lines(
        results_lines(results, context.language, context.services, manager=manager)
    ):
        await send_html(update, text)


async def close_command(update: Update, context: CoraContext) -> None:
    """`/closepoll <poll>`: end the poll before its deadline."""
    if not context.args or len(context.args) != 1:
        raise DomainError("poll.ref_expected")
    polls = context.services.polls
    poll_id = await polls.find(context.active_member.id, context.args[0])
    view = await polls.close(context.active_member.id, poll_id)
    await say(update, context, "poll.closed_by_you", id=view.id)
