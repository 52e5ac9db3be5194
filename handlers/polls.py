"""Telegram adapters for polls: the /poll dialog and one-line form, answering by buttons and
/vote, /polls, /results, closing and deciding, and how poll messages look.

Each member gets their own poll message. Editing every copy on every vote would cost one edit
per member per vote, so members' messages show only their own answers (updated when they
answer); the live counts are in the creator's overview and in /results."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import i18n
from bot.channels import Target
from bot.delivery import Job
from bot.errors import DomainError
from bot.polls import (
    MAX_OPTIONS,
    MIN_OPTIONS,
    TITLE_LIMITS,
    OptionView,
    PollDraft,
    PollNotice,
    PollView,
    Results,
    clean_label,
)
from bot.timing.calendar import meeting_ics
from bot.timing.dates import parse_deadline, split_leading_moment
from handlers.channels import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.dialogs import current_draft, forget_draft, pressed, use_buttons
from handlers.common.render import (
    MESSAGE_LIMIT,
    chunk_lines,
    keyboard,
    local_time,
    plain,
    rows_of,
    say,
    send_html,
    tr,
    when,
)
from handlers.transport.live import LiveMessage
from handlers.transport.outbox import Document, RenderCache, Rendered
from storage.models import Answer, PollKind, PollStatus

TITLE, TARGET, KIND, OPTIONS, DEADLINE, ANONYMITY, PREVIEW = range(7)
_DRAFT = "poll_draft"
ICONS = {Answer.YES: "✅", Answer.MAYBE: "🤔", Answer.NO: "❌"}
_ANSWER_CODES = {"y": Answer.YES, "m": Answer.MAYBE, "n": Answer.NO}
_ANSWER_WORDS = {
    **{w: Answer.YES for w in ("yes", "y", "ja", "j", "✅")},
    **{w: Answer.MAYBE for w in ("maybe", "m", "vielleicht", "v", "wennnötig", "?", "🤔")},
    **{w: Answer.NO for w in ("no", "n", "nein", "❌")},
}
_FLAGS = {"anonym": "anonymous", "anonymous": "anonymous", "mehrfach": "multiple"}
_FLAGS |= {"multiple": "multiple", "multi": "multiple"}
_LOOKS_LIKE_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.")
_DAY = {"de": "EEE, dd.MM.yyyy", "en": "EEE, d MMM yyyy"}
_BUTTON_LABEL = 32
_CAPTION_TITLE = 200


# -- how options and polls look ------------------------------------------------------------


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
    network = services.network
    header = "poll.ballot.reminder" if reminder else f"poll.ballot.header.{poll.kind}"
    lines = [
        i18n.html_text(language, header, id=poll.id, title=poll.title),
        i18n.html_text(
            language,
            "poll.ballot.meta",
            creator=poll.creator.display_name or "–",
            target=target_text(network, poll.target, language),
            deadline=local_time(poll.deadline, timezone, language),
        ),
        i18n.html_text(language, f"poll.hint.{poll.kind}"),
    ]
    if poll.anonymous:
        lines.append(i18n.html_text(language, "poll.anonymous_note"))
    lines.append("")
    for option in poll.options:
        mine = answers.get(option.id) if answers else None
        lines.append(
            i18n.html_text(
                language,
                "poll.ballot.option",
                n=option.position,
                label=option_label(option, timezone, language),
                answer=f"  → {ICONS[Answer(mine)]}" if mine else "",
            )
        )
    open_for_votes = poll.status == PollStatus.OPEN and may_vote
    lines.append("")
    if open_for_votes:
        lines.append(i18n.html_text(language, f"poll.ballot.command.{poll.kind}", id=poll.id))
    elif poll.status != PollStatus.OPEN:
        lines.append(i18n.html_text(language, "poll.ballot.closed", id=poll.id))
    markup = _answer_buttons(poll, answers or {}, timezone, language) if open_for_votes else None
    return _fit(lines, language), markup


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
                    for code, answer in _ANSWER_CODES.items()
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
    lines = [
        i18n.html_text(
            language,
            "poll.results.head",
            id=poll.id,
            kind=i18n.text(language, f"poll.kind.{poll.kind}"),
            title=poll.title,
        ),
        i18n.html_text(
            language,
            "poll.results.meta",
            target=target_text(services.network, poll.target, language),
            deadline=local_time(poll.deadline, timezone, language),
        ),
        i18n.html_text(language, _state_key(poll), id=poll.id),
        i18n.html_text(
            language,
            "poll.results.answered",
            answered=results.answered,
            participants=results.participants,
        ),
    ]
    if poll.anonymous:
        lines.append(i18n.html_text(language, "poll.anonymous_note"))
    best = max((results.score(o.id) for o in poll.options), default=(0, 0))
    for option in poll.options:
        counts = results.counts.get(option.id, {})
        if poll.kind == PollKind.DATE:
            tally = " · ".join(f"{ICONS[a]} {counts.get(a, 0)}" for a in Answer)
        else:
            tally = i18n.text(language, "poll.results.votes", count=counts.get(Answer.YES, 0))
        star = " ⭐" if best != (0, 0) and results.score(option.id) == best else ""
        final = " 📌" if poll.final_option_id == option.id else ""
        lines.append(
            i18n.html_text(
                language,
                "poll.results.option",
                n=option.position,
                label=option_label(option, timezone, language),
                tally=tally,
                mark=star + final,
            )
        )
        if results.names is not None:
            named = results.names.get(option.id, {})
            parts = [f"{ICONS[Answer(a)]} {', '.join(named[a])}" for a in Answer if a in named]
            if parts:
                lines.append(
                    i18n.html_text(language, "poll.results.names", names=" · ".join(parts))
                )
    if manager and results.missing and poll.status == PollStatus.OPEN:
        lines.append(
            i18n.html_text(language, "poll.results.missing", names=", ".join(results.missing))
        )
    return lines


def _state_key(poll: PollView) -> str:
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
    """The creator's live overview: counts, names (named polls), and what to do next."""
    poll = results.poll
    text = _fit(results_lines(results, language, services, manager=True), language)
    if poll.status == PollStatus.OPEN:
        close = Button(Kind.POLL, str(poll.id), "close").encode()
        return text, keyboard([[(i18n.text(language, "button.close_poll"), close)]])
    if poll.status == PollStatus.CLOSED:
        return text, _decision_buttons(results, language, services.settings.cora_timezone)
    return text, None


# -- the one-line form and the dialog --------------------------------------------------------


@dataclass
class Draft:
    """A poll being set up; in memory only until it is sent."""

    title: str | None = None
    target: Target | None = None
    kind: str | None = None
    options: list[str] = field(default_factory=list)
    deadline: datetime | None = None
    anonymous: bool = False


def _draft(context: CoraContext) -> Draft:
    return current_draft(context, _DRAFT, Draft)


def _cancel_row(context: CoraContext) -> list[tuple[str, str]]:
    return [(plain(context, "button.cancel"), Button(Kind.FORM, "poll", "cancel").encode())]


async def poll_command(update: Update, context: CoraContext) -> int:
    """`/poll` opens the dialog; `/poll <target> <deadline> [anonym] [mehrfach] <title> |
    <option> | <option> …` creates the poll at once."""
    assert update.message is not None and context.user_data is not None
    raw = (update.message.text or "").partition(" ")[2].strip()
    if not raw:
        context.user_data[_DRAFT] = Draft()
        await say(
            update,
            context,
            "poll.ask_title",
            max=TITLE_LIMITS[1],
            markup=keyboard([_cancel_row(context)]),
        )
        return TITLE
    target_raw, _, rest = raw.partition(" ")
    deadline_raw, rest = split_leading_moment(rest)
    if deadline_raw is None or "|" not in rest:
        raise DomainError("poll.usage")
    services = context.services
    target = await services.channels.parse_target(context.active_member.id, target_raw)
    deadline = parse_deadline(
        deadline_raw, services.settings.cora_timezone, now=services.clock.now()
    )
    flags = set()
    while True:
        word, _, after = rest.strip().partition(" ")
        if word.lower() not in _FLAGS:
            break
        flags.add(_FLAGS[word.lower()])
        rest = after
    title, *options = [part.strip() for part in rest.split("|")]
    options = [o for o in options if o]
    if options and _LOOKS_LIKE_DATE.match(options[0]):
        kind = PollKind.DATE
    else:
        kind = PollKind.MULTIPLE if "multiple" in flags else PollKind.SINGLE
    draft = Draft(title, target, kind, options, deadline, "anonymous" in flags)
    await _create(update, context, draft)
    return ConversationHandler.END


async def title_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _draft(context)
    draft.title = clean_label(update.message.text or "", TITLE_LIMITS, "poll.title_length")
    channels = await context.services.channels.list_for(context.active_member.id)
    buttons = [(plain(context, "announce.everyone"), Button(Kind.FORM, "all", "ptarget").encode())]
    buttons += [
        (f"#{c.name}", Button(Kind.FORM, f"c{c.id}", "ptarget").encode()) for c in channels.topical
    ]
    rows = rows_of(buttons, 2)
    rows.append(_cancel_row(context))
    await say(update, context, "poll.ask_target", markup=keyboard(rows))
    return TARGET


async def target_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    button = pressed(query.data)
    raw = "all" if button.id == "all" else f"#{button.id.removeprefix('c')}"
    await query.answer()
    await query.edit_message_reply_markup(None)
    return await _set_target(update, context, raw)


async def target_text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    return await _set_target(update, context, update.message.text or "")


async def _set_target(update: Update, context: CoraContext, raw: str) -> int:
    draft = _draft(context)
    draft.target = await context.services.channels.parse_target(context.active_member.id, raw)
    view = await context.services.channels.describe(draft.target)
    await say(
        update,
        context,
        "announce.chosen_target",
        target=target_text(context.services.network, view, context.language),
    )
    kinds = [
        (plain(context, f"poll.kind_button.{kind}"), Button(Kind.FORM, kind, "pkind").encode())
        for kind in PollKind
    ]
    await say(
        update,
        context,
        "poll.ask_kind",
        markup=keyboard([[k] for k in kinds] + [_cancel_row(context)]),
    )
    return KIND


async def kind_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    kind = pressed(query.data).id
    if kind not in PollKind.__members__.values():
        raise DomainError("button.invalid")
    _draft(context).kind = kind
    await query.answer()
    await query.edit_message_reply_markup(None)
    key = "poll.ask_dates" if kind == PollKind.DATE else "poll.ask_options"
    await say(update, context, key, min=MIN_OPTIONS, max=MAX_OPTIONS)
    return OPTIONS


async def options_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _draft(context)
    assert draft.title is not None and draft.kind is not None
    text = update.message.text or ""
    parts = text.split("|") if "|" in text else text.splitlines()
    draft.options = [part.strip() for part in parts if part.strip()]
    context.services.polls.check_draft(
        PollDraft(draft.title, draft.kind, draft.options), context.services.clock.now()
    )
    await say(update, context, "poll.ask_deadline")
    return DEADLINE


async def deadline_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _draft(context)
    services = context.services
    draft.deadline = parse_deadline(
        update.message.text or "", services.settings.cora_timezone, now=services.clock.now()
    )
    buttons = [
        (plain(context, "poll.named_button"), Button(Kind.FORM, "named", "panon").encode()),
        (plain(context, "poll.anonymous_button"), Button(Kind.FORM, "anonymous", "panon").encode()),
    ]
    await say(
        update, context, "poll.ask_anonymity", markup=keyboard([buttons, _cancel_row(context)])
    )
    return ANONYMITY


async def anonymity_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    draft.anonymous = pressed(query.data).id == "anonymous"
    await query.answer()
    await query.edit_message_reply_markup(None)
    assert draft.title and draft.kind and draft.target and draft.deadline
    services = context.services
    options = services.polls.check_draft(
        PollDraft(draft.title, draft.kind, draft.options), services.clock.now()
    )
    view = await services.channels.describe(draft.target)
    listed = "\n".join(
        f"{n}. {o if isinstance(o, str) else _moment_label(context, o.start, o.end, o.all_day)}"
        for n, o in enumerate(options, start=1)
    )
    preview = tr(
        context,
        "poll.preview",
        title=draft.title,
        kind=plain(context, f"poll.kind.{draft.kind}"),
        target=target_text(services.network, view, context.language),
        deadline=when(context, draft.deadline),
        anonymity=plain(
            context, "poll.anonymous_button" if draft.anonymous else "poll.named_button"
        ),
        options=listed,
    )
    buttons = [
        [
            (plain(context, "button.send"), Button(Kind.FORM, "poll", "send").encode()),
            *_cancel_row(context),
        ]
    ]
    await send_html(update, preview, markup=keyboard(buttons))
    return PREVIEW


def _moment_label(
    context: CoraContext, start: datetime, end: datetime | None, all_day: bool
) -> str:
    option = OptionView(0, 0, None, start, end, all_day)
    return option_label(option, context.services.settings.cora_timezone, context.language)


async def preview_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _create(update, context, _draft(context))
    return ConversationHandler.END


async def _create(update: Update, context: CoraContext, draft: Draft) -> None:
    if not (draft.title and draft.kind and draft.target and draft.deadline):
        raise DomainError("dialog.expired")
    poll, asked = await context.services.polls.create(
        context.active_member.id,
        draft.target,
        PollDraft(draft.title, draft.kind, draft.options, draft.anonymous),
        draft.deadline,
    )
    forget_draft(context, _DRAFT)
    context.background.deliveries_added()
    context.background.poll_changed(poll)
    await say(update, context, "poll.created", id=poll.id, title=poll.title, count=asked)


async def cancel_dialog(update: Update, context: CoraContext) -> int:
    forget_draft(context, _DRAFT)
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await say(update, context, "poll.dialog_cancelled")
    return ConversationHandler.END


def poll_dialog() -> BaseHandler[Update, CoraContext, object]:
    form = f"^{Kind.FORM}:"
    text = filters.TEXT & ~filters.COMMAND
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler("poll", poll_command)],
        states={
            TITLE: [MessageHandler(text, title_step)],
            TARGET: [
                CallbackQueryHandler(target_button, pattern=form + r"[^:]+:ptarget$"),
                MessageHandler(text, target_text_step),
            ],
            KIND: [CallbackQueryHandler(kind_button, pattern=form + r"[^:]+:pkind$")],
            OPTIONS: [MessageHandler(text, options_step)],
            DEADLINE: [MessageHandler(text, deadline_step)],
            ANONYMITY: [CallbackQueryHandler(anonymity_button, pattern=form + r"[^:]+:panon$")],
            PREVIEW: [CallbackQueryHandler(preview_button, pattern=form + r"poll:send$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_dialog),
            CallbackQueryHandler(cancel_dialog, pattern=form + r"poll:cancel$"),
            MessageHandler(text, use_buttons),
        ],
        allow_reentry=True,
        name="poll",
    )


async def form_button(update: Update, context: CoraContext, button: Button) -> None:
    """A dialog button outside its dialog (an old message, or after a restart)."""
    raise DomainError("dialog.expired")


# -- answering -------------------------------------------------------------------------------


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
            if not number.strip().isdigit() or answer is None:
                raise DomainError("vote.usage")
            answers[int(number)] = answer
        return ref, answers, False
    for part in ",".join(rest).split(","):
        if not part.strip():
            continue
        if not part.strip().isdigit() or len(part.strip()) > 3:
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
        raise DomainError("vote.date_usage", id=poll_id)
    ballot = await polls.vote(member.id, poll_id, answers, replace=replace)
    context.background.ballot_changed(poll_id, member.id)
    await say(
        update,
        context,
        "vote.saved",
        id=poll_id,
        answers=_answers_text(context, ballot.poll, ballot.answers or {}),
    )


def _answers_text(context: CoraContext, poll: PollView, answers: Mapping[int, str]) -> str:
    parts = [
        f"{o.position} {ICONS[Answer(answers[o.id])]}" for o in poll.options if o.id in answers
    ]
    return ", ".join(parts) or "–"


async def poll_button(update: Update, context: CoraContext, button: Button) -> None:
    """Answer buttons on poll messages, and the creator's close and decision buttons."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdigit():
        raise DomainError("button.invalid")
    poll_id = int(button.id)
    polls = context.services.polls
    member = context.active_member
    action = button.action
    if action == "close":
        view = await polls.close(member.id, poll_id)
        await query.answer(plain(context, "poll.closed_by_you", id=view.id))
        context.background.deliveries_added()
        context.background.poll_changed(view)
        return
    if action.startswith("pick") and action[4:].isdigit():
        position = int(action[4:]) or None
        view = await polls.decide(member.id, poll_id, position)
        await query.answer(plain(context, "poll.decided_by_you", id=view.id))
        await query.edit_message_reply_markup(None)
        context.background.deliveries_added()
        context.background.poll_changed(view)
        return
    match = re.fullmatch(r"(\d{1,2})([ymn])|c(\d{1,2})", action)
    if match is None:
        raise DomainError("button.invalid")
    try:
        if match.group(3) is not None:
            await polls.toggle(member.id, poll_id, int(match.group(3)))
        else:
            answer = _ANSWER_CODES[match.group(2)]
            await polls.vote(member.id, poll_id, {int(match.group(1)): answer})
    except DomainError as error:
        if error.message_key == "poll.closed":
            await query.edit_message_reply_markup(None)  # nothing left to press
        raise
    await query.answer(plain(context, "vote.saved_short"))
    context.background.ballot_changed(poll_id, member.id)


async def list_polls(update: Update, context: CoraContext) -> None:
    """`/polls`: open polls with the member's own answers, and their own undecided polls."""
    lines = await context.services.polls.open_polls(context.active_member.id)
    if not lines:
        await say(update, context, "polls.none")
        return
    rendered = []
    for line in lines:
        poll = line.poll
        if line.answers:
            mine = tr(
                context, "polls.your_answer", answers=_answers_text(context, poll, line.answers)
            )
        elif poll.status == PollStatus.OPEN and line.answers is not None:
            mine = tr(context, "polls.not_answered")
        else:
            mine = tr(context, _state_key(poll), id=poll.id)
        rendered.append(
            tr(
                context,
                "polls.line",
                id=poll.id,
                title=poll.title,
                deadline=when(context, poll.deadline),
                state=i18n.Markup(mine),
            )
        )
    header = tr(context, "polls.header", count=len(lines))
    for text in chunk_lines(rendered, header):
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
    context.background.deliveries_added()
    context.background.poll_changed(view)
    await say(update, context, "poll.closed_by_you", id=view.id)


# -- deliveries and live messages ----------------------------------------------------------


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
    creator = poll.creator
    if creator.chat_id is None:
        return []
    language = creator.language or services.settings.cora_default_language
    text, markup = overview_message(results, language, services)

    async def store(message_id: int) -> None:
        assert creator.chat_id is not None
        await services.polls.set_overview_message(poll.id, creator.chat_id, message_id)

    return [
        LiveMessage(
            reader=creator,
            chat_id=poll.overview_chat_id or creator.chat_id,
            message_id=poll.overview_message_id,
            text=text,
            markup=markup,
            store=store,
        )
    ]


async def live_ballot(services: Services, poll_id: int, member_id: int) -> list[LiveMessage]:
    """A member's poll messages, showing their own answers."""
    member = await services.membership.get(member_id)
    if member is None:
        return []
    try:
        ballot = await services.polls.ballot(member_id, poll_id)
    except DomainError:
        return []  # no longer allowed to see it: leave the old message alone
    language = member.language or services.settings.cora_default_language
    messages = await services.polls.ballot_messages(member_id, poll_id)
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
