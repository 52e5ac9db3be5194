"""How polls look: ballots, results, overviews, reminders and their live messages."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.delivery import Job
from bot.errors import DomainError
from bot.polls import Ballot, OptionView, PollLine, PollNotice, PollView, Results
from bot.timing.calendar import meeting_ics
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.render import (
    MESSAGE_LIMIT,
    keyboard,
    local_time,
    tr,
    when,
)
from handlers.transport.live import LiveMessage, owned_message
from handlers.transport.outbox import Document, RenderCache, Rendered
from storage.models import Answer, PollKind, PollStatus

ICONS = {Answer.YES: "✅", Answer.MAYBE: "🤔", Answer.NO: "❌"}


ANSWER_CODES = {"y": Answer.YES, "m": Answer.MAYBE, "n": Answer.NO}


FLAGS = {"anonym": "anonymous", "anonymous": "anonymous", "mehrfach": "multiple"}


FLAGS |= {"multiple": "multiple", "multi": "multiple"}


_DAY = {"de": "EEE, dd.MM.yyyy", "en": "EEE, d MMM yyyy"}


_BUTTON_LABEL = 32


_CAPTION_TITLE = 200


def option_label(option: OptionView, timezone: str, language: str) -> str:
    """A free-text option as written; a date in the reader's language and the network's zone."""
    if option.text is not None:
        return option.text
    assert option.starts_at is not None
    zone = ZoneInfo(timezone)
    day = format_datetime(
        option.starts_at, _DAY.get(language, _DAY["de"]), tzinfo=zone, locale=language
    )
    if option.all_day:
        return day
    start = format_datetime(option.starts_at, "HH:mm", tzinfo=zone, locale=language)
    if option.ends_at is None:
        return f"{day}, {start}"
    end = format_datetime(option.ends_at, "HH:mm", tzinfo=zone, locale=language)
    return f"{day}, {start}–{end}"


def _short(text: str, limit: int = _BUTTON_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(lines: list[str], language: str) -> str:
    """Join lines, dropping the last ones (marked) if Telegram's limit would be exceeded."""
    text = "\n".join(lines)
    if len(text) <= MESSAGE_LIMIT:
        return text
    more = i18n.html_text(language, "poll.more_in_results")
    while lines and len("\n".join(lines)) + len(more) + 1 > MESSAGE_LIMIT:
        lines = lines[:-1]
    return "\n".join([*lines, more])


def vote_example(poll: PollView, language: str) -> str:
    """The answers part of a `/vote` example that is right for this poll: for a date poll
    yes / if need be / no on its first (up to three) options, for a single choice its last
    option, for a multiple choice its first and last."""
    positions = [option.position for option in poll.options]
    if poll.kind == PollKind.DATE:
        words = [i18n.text(language, f"vote.example.{answer}") for answer in Answer]
        return " ".join(f"{n}={word}" for n, word in zip(positions, words, strict=False))
    if poll.kind == PollKind.MULTIPLE:
        return f"{positions[0]},{positions[-1]}"
    return str(positions[-1])


def ballot_message(
    poll: PollView,
    answers: Mapping[int, str] | None,
    language: str,
    services: Services,
    *,
    reminder: bool = False,
    may_vote: bool = True,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A member's poll message: the options, their own answers, and answer buttons."""
    timezone = services.settings.cora_timezone
    header = "poll.ballot.reminder" if reminder else f"poll.ballot.header.{poll.kind}"
    lines = [
        i18n.html_text(language, header, id=poll.id, title=poll.title),
        i18n.html_text(
            language,
            "poll.ballot.meta",
            creator=poll.creator.display_name or "–",
            target=target_text(services.network, poll.target, language),
            deadline=local_time(poll.deadline, timezone, language),
        ),
        i18n.html_text(language, f"poll.hint.{poll.kind}"),
    ]
    if poll.anonymous:
        lines.append(i18n.html_text(language, "poll.anonymous_note"))
    lines.append("")
    lines += _ballot_options(poll, answers or {}, timezone, language)
    open_for_votes = poll.status == PollStatus.OPEN and may_vote
    lines += ["", *_ballot_foot(poll, language, open_for_votes)]
    markup = _answer_buttons(poll, answers or {}, timezone, language) if open_for_votes else None
    return _fit(lines, language), markup


def _ballot_options(
    poll: PollView, answers: Mapping[int, str], timezone: str, language: str
) -> list[str]:
    """One line per option, with the member's own answer."""
    lines = []
    for option in poll.options:
        mine = answers.get(option.id)
        lines.append(
            i18n.html_text(
                language,
                "poll.ballot.option",
                n=option.position,
                label=option_label(option, timezone, language),
                answer=f"  → {ICONS[Answer(mine)]}" if mine else "",
            )
        )
    return lines


def _ballot_foot(poll: PollView, language: str, open_for_votes: bool) -> list[str]:
    """How to answer by command, or that the poll is closed."""
    if open_for_votes:
        key = f"poll.ballot.command.{poll.kind}"
        example = vote_example(poll, language)
        return [i18n.html_text(language, key, id=poll.id, example=example)]
    if poll.status != PollStatus.OPEN:
        return [i18n.html_text(language, "poll.ballot.closed", id=poll.id)]
    return []


def _answer_buttons(
    poll: PollView, answers: Mapping[int, str], timezone: str, language: str
) -> InlineKeyboardMarkup:
    rows = []
    for option in poll.options:
        mine = answers.get(option.id)
        if poll.kind == PollKind.DATE:
            rows.append(
                [
                    (
                        ("• " if mine == answer else "") + f"{ICONS[answer]} {option.position}",
                        Button(Kind.POLL, str(poll.id), f"{option.position}{code}").encode(),
                    )
                    for code, answer in ANSWER_CODES.items()
                ]
            )
        else:
            mark = "☑️ " if mine else ""
            label = _short(f"{mark}{option.position}. {option_label(option, timezone, language)}")
            rows.append([(label, Button(Kind.POLL, str(poll.id), f"c{option.position}").encode())])
    return keyboard(rows)


def results_lines(
    results: Results, language: str, services: Services, *, manager: bool
) -> list[str]:
    """The tally; voters' names only in named polls."""
    poll = results.poll
    timezone = services.settings.cora_timezone
    lines = _results_head(results, language, services)
    best = max((results.score(o.id) for o in poll.options), default=(0, 0))
    for option in poll.options:
        lines += _option_result(results, option, best, timezone, language)
    if manager and results.missing and poll.status == PollStatus.OPEN:
        lines.append(
            i18n.html_text(language, "poll.results.missing", names=", ".join(results.missing))
        )
    return lines


def _results_head(results: Results, language: str, services: Services) -> list[str]:
    """Title, target and deadline, state, and how many answered."""
    poll = results.poll
    timezone = services.settings.cora_timezone
    kind = i18n.text(language, f"poll.kind.{poll.kind}")
    lines = [
        i18n.html_text(language, "poll.results.head", id=poll.id, kind=kind, title=poll.title),
        i18n.html_text(
            language,
            "poll.results.meta",
            target=target_text(services.network, poll.target, language),
            deadline=local_time(poll.deadline, timezone, language),
        ),
        i18n.html_text(language, state_key(poll), id=poll.id),
        i18n.html_text(
            language,
            "poll.results.answered",
            answered=results.answered,
            participants=results.participants,
        ),
    ]
    if poll.anonymous:
        lines.append(i18n.html_text(language, "poll.anonymous_note"))
    return lines


def _option_result(
    results: Results, option: OptionView, best: tuple[int, int], timezone: str, language: str
) -> list[str]:
    """One option's tally, marked when it leads or was chosen; the names in a named poll."""
    poll = results.poll
    counts = results.counts.get(option.id, {})
    if poll.kind == PollKind.DATE:
        tally = " · ".join(f"{ICONS[a]} {counts.get(a, 0)}" for a in Answer)
    else:
        tally = i18n.text(language, "poll.results.votes", count=counts.get(Answer.YES, 0))
    star = " ⭐" if best != (0, 0) and results.score(option.id) == best else ""
    final = " 📌" if poll.final_option_id == option.id else ""
    label = option_label(option, timezone, language)
    lines = [
        i18n.html_text(
            language,
            "poll.results.option",
            n=option.position,
            label=label,
            tally=tally,
            mark=star + final,
        )
    ]
    named = results.names.get(option.id, {}) if results.names is not None else {}
    parts = [f"{ICONS[Answer(a)]} {', '.join(named[a])}" for a in Answer if a in named]
    if parts:
        lines.append(i18n.html_text(language, "poll.results.names", names=" · ".join(parts)))
    return lines


def state_key(poll: PollView) -> str:
    if poll.status == PollStatus.OPEN:
        return "poll.state.open"
    if poll.status == PollStatus.CLOSED:
        return "poll.state.closed"
    return "poll.state.decided" if poll.final_option_id else "poll.state.decided_none"


def _decision_buttons(results: Results, language: str, timezone: str) -> InlineKeyboardMarkup:
    poll = results.poll
    ranked = sorted(poll.options, key=lambda o: results.score(o.id), reverse=True)
    rows = []
    for option in ranked:
        yes, maybe = results.score(option.id)
        label = _short(
            f"📌 {option.position}. {option_label(option, timezone, language)} ({yes}/{maybe})", 48
        )
        rows.append([(label, Button(Kind.POLL, str(poll.id), f"pick{option.position}").encode())])
    rows.append(
        [
            (
                i18n.text(language, "button.decide_none"),
                Button(Kind.POLL, str(poll.id), "pick0").encode(),
            )
        ]
    )
    return keyboard(rows)


def overview_message(
    results: Results, language: str, services: Services
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The creator's live overview: counts, names (named polls), and while the poll is open its
    close button. The result is chosen on the closing notice alone, which comes as a new
    message, so that the choice is offered once."""
    poll = results.poll
    text = _fit(results_lines(results, language, services, manager=True), language)
    if poll.status == PollStatus.OPEN:
        close = Button(Kind.POLL, str(poll.id), "close").encode()
        return text, keyboard([[(i18n.text(language, "button.close_poll"), close)]])
    return text, None


def answers_text(context: CoraContext, poll: PollView, answers: Mapping[int, str]) -> str:
    parts = [
        f"{o.position} {ICONS[Answer(answers[o.id])]}" for o in poll.options if o.id in answers
    ]
    return ", ".join(parts) or "–"


def poll_line(context: CoraContext, line: PollLine) -> str:
    """One row of /polls: title, deadline, and the member's answers or the poll's state."""
    poll = line.poll
    if line.answers:
        mine = tr(context, "polls.your_answer", answers=answers_text(context, poll, line.answers))
    elif poll.status == PollStatus.OPEN and line.answers is not None:
        mine = tr(context, "polls.not_answered")
    else:
        mine = tr(context, state_key(poll), id=poll.id)
    return tr(
        context,
        "polls.line",
        id=poll.id,
        title=poll.title,
        deadline=when(context, poll.deadline),
        state=i18n.Markup(mine),
    )


async def render_ballot(job: Job, cache: RenderCache) -> Rendered:
    """The poll for one member (answers empty at first), or a reminder of it."""
    assert job.subject_id is not None
    poll = await cache.poll(job.subject_id)
    text, markup = ballot_message(
        poll,
        None,
        cache.language(job),
        cache.services,
        reminder=job.kind == PollNotice.REMINDER,
    )
    return Rendered(text, markup)


async def render_closed(job: Job, cache: RenderCache) -> Rendered:
    """To the creator: voting has ended, choose the result."""
    assert job.subject_id is not None
    language = cache.language(job)
    results = await cache.services.polls.overview(job.subject_id)
    poll = results.poll
    if poll.status != PollStatus.CLOSED:
        text = i18n.html_text(language, "poll.closed_notice.done", id=poll.id, title=poll.title)
        return Rendered(text)
    key = "poll.closed_notice.early" if poll.closed_early else "poll.closed_notice.deadline"
    text = i18n.html_text(
        language,
        key,
        id=poll.id,
        title=poll.title,
        answered=results.answered,
        participants=results.participants,
    )
    return Rendered(
        text, _decision_buttons(results, language, cache.services.settings.cora_timezone)
    )


async def render_result(job: Job, cache: RenderCache) -> Rendered:
    """The final option to everyone asked; a date comes with a calendar file."""
    assert job.subject_id is not None
    language = cache.language(job)
    poll = await cache.poll(job.subject_id)
    settings = cache.services.settings
    title = _short(poll.title, _CAPTION_TITLE)
    final = poll.final_option
    if final is None:
        return Rendered(i18n.html_text(language, "poll.result.none", id=poll.id, title=title))
    label = option_label(final, settings.cora_timezone, language)
    if poll.kind != PollKind.DATE or final.starts_at is None:
        return Rendered(
            i18n.html_text(language, "poll.result.choice", id=poll.id, title=title, option=label)
        )
    data = meeting_ics(
        uid=f"poll-{poll.id}-{final.id}@cora-bot",
        title=poll.title,
        start=final.starts_at,
        end=final.ends_at,
        all_day=final.all_day,
        timezone=settings.cora_timezone,
        stamp=cache.services.clock.now(),
        duration=settings.poll_event_duration,
    )
    caption = i18n.html_text(language, "poll.result.date", id=poll.id, title=title, option=label)
    filename = i18n.text(language, "poll.ics_filename", id=poll.id)
    return Rendered(caption, document=Document(filename, data))


async def live_overview(services: Services, poll_id: int) -> list[LiveMessage]:
    """The creator's overview message, sent once and then edited."""
    results = await services.polls.overview(poll_id)
    poll = results.poll
    return owned_message(
        poll.creator,
        (poll.overview_chat_id, poll.overview_message_id),
        lambda language: overview_message(results, language, services),
        partial(services.polls.set_overview_message, poll.id),
        default_language=services.settings.cora_default_language,
    )


async def live_ballot(
    services: Services, poll_id: int, member_id: int, ballot: Ballot | None = None
) -> list[LiveMessage]:
    """A member's poll messages, showing their own answers: those a vote just returned
    (`ballot`, with where their messages are), or as stored now. The member is taken as
    they are now either way (after a vote from the access gate's kept read, which any change
    of a member drops): whoever has left since their vote gets no more edits."""
    if ballot is not None and ballot.member is not None and ballot.member.id == member_id:
        member = await services.membership.current(ballot.member)
    else:
        member = await services.membership.get(member_id)
    if member is None:
        return []
    if ballot is not None and ballot.member is not None:
        messages = list(ballot.messages)
    else:
        try:
            ballot = await services.polls.ballot(member_id, poll_id)
        except DomainError:
            return []  # no longer allowed to see it: leave the old message alone
        messages = await services.polls.ballot_messages(member_id, poll_id)
    language = member.language or services.settings.cora_default_language
    result = []
    for index, (chat_id, message_id) in enumerate(messages):
        text, markup = ballot_message(
            ballot.poll,
            ballot.answers,
            language,
            services,
            reminder=index > 0,
            may_vote=ballot.may_vote,
        )
        result.append(LiveMessage(member, chat_id, message_id, text, markup))
    return result
