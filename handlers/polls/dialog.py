"""The /poll dialog: title, target, kind, options, deadline, anonymity, preview."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from telegram import Update
from telegram.ext import (
    BaseHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.channels import Target
from bot.errors import DomainError
from bot.polls import (
    MAX_OPTIONS,
    MIN_OPTIONS,
    TITLE_LIMITS,
    OptionView,
    PollDraft,
    clean_label,
)
from bot.timing.dates import parse_deadline, split_leading_moment
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import (
    TYPED,
    pressed,
    send_preview,
    settle,
    take_target,
    target_keyboard,
    target_pressed,
)
from handlers.common.forms import Form
from handlers.common.render import keyboard, plain, say, tr, when
from handlers.polls.views import FLAGS, option_label
from storage.models import PollKind

TITLE, TARGET, KIND, OPTIONS, DEADLINE, ANONYMITY, PREVIEW = range(7)


_DRAFT = "poll_draft"


_LOOKS_LIKE_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.")


@dataclass
class Draft:
    """A poll being set up; in memory only until it is sent."""

    title: str | None = None
    target: Target | None = None
    kind: str | None = None
    options: list[str] = field(default_factory=list)
    deadline: datetime | None = None
    anonymous: bool = False


_FORM = Form(_DRAFT, Draft, "poll", "ptarget")


async def poll_command(update: Update, context: CoraContext) -> int:
    """`/poll` opens the dialog; `/poll <target> <deadline> [anonym] [mehrfach] <title> |
    <option> | <option> …` creates the poll at once."""
    assert update.message is not None and context.user_data is not None
    raw = (update.message.text or "").partition(" ")[2].strip()
    if raw:
        await _create(update, context, await _one_line(context, raw))
        return ConversationHandler.END
    context.user_data[_DRAFT] = Draft()
    markup = keyboard([_FORM.cancel_row(context)])
    await say(update, context, "poll.ask_title", max=TITLE_LIMITS[1], markup=markup)
    return TITLE


async def _one_line(context: CoraContext, raw: str) -> Draft:
    """`<target> <deadline> [flags] <title> | <option> | …` as a draft."""
    target_raw, _, rest = raw.partition(" ")
    deadline_raw, rest = split_leading_moment(rest)
    if deadline_raw is None or "|" not in rest:
        raise DomainError("poll.usage")
    services = context.services
    target = await services.channels.parse_target(context.active_member.id, target_raw)
    deadline = parse_deadline(
        deadline_raw, services.settings.cora_timezone, now=services.clock.now()
    )
    flags, rest = _flags(rest)
    title, *options = [part.strip() for part in rest.split("|")]
    options = [o for o in options if o]
    if options and _LOOKS_LIKE_DATE.match(options[0]):
        kind = PollKind.DATE
    else:
        kind = PollKind.MULTIPLE if "multiple" in flags else PollKind.SINGLE
    return Draft(title, target, kind, options, deadline, "anonymous" in flags)


def _flags(rest: str) -> tuple[set[str], str]:
    """The leading flag words (`anonym`, `mehrfach`), and what follows them."""
    flags: set[str] = set()
    while True:
        word, _, after = rest.strip().partition(" ")
        if word.lower() not in FLAGS:
            return flags, rest
        flags.add(FLAGS[word.lower()])
        rest = after


async def title_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _FORM.draft(context)
    draft.title = clean_label(update.message.text or "", TITLE_LIMITS, "poll.title_length")
    markup = await target_keyboard(context, _FORM.target_data, _FORM.cancel)
    await say(update, context, "poll.ask_target", markup=markup)
    return TARGET


async def target_button(update: Update, context: CoraContext) -> int:
    raw = await target_pressed(update, context, _FORM.target_data, _FORM.cancel)
    if raw is None:
        return TARGET
    return await _set_target(update, context, raw)


async def target_text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    return await _set_target(update, context, update.message.text or "")


async def _set_target(update: Update, context: CoraContext, raw: str) -> int:
    draft = _FORM.draft(context)
    draft.target = await take_target(update, context, raw)
    kinds = [
        (plain(context, f"poll.kind_button.{kind}"), Button(Kind.FORM, kind, "pkind").encode())
        for kind in PollKind
    ]
    markup = keyboard([[k] for k in kinds] + [_FORM.cancel_row(context)])
    await say(update, context, "poll.ask_kind", markup=markup)
    return KIND


async def kind_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    kind = pressed(query.data).id
    if kind not in PollKind.__members__.values():
        raise DomainError("button.invalid")
    _FORM.draft(context).kind = kind
    await settle(query)
    key = "poll.ask_dates" if kind == PollKind.DATE else "poll.ask_options"
    await say(update, context, key, min=MIN_OPTIONS, max=MAX_OPTIONS)
    return OPTIONS


async def options_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _FORM.draft(context)
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
    draft = _FORM.draft(context)
    services = context.services
    draft.deadline = parse_deadline(
        update.message.text or "", services.settings.cora_timezone, now=services.clock.now()
    )
    buttons = [
        (plain(context, "poll.named_button"), Button(Kind.FORM, "named", "panon").encode()),
        (plain(context, "poll.anonymous_button"), Button(Kind.FORM, "anonymous", "panon").encode()),
    ]
    await say(
        update, context, "poll.ask_anonymity", markup=keyboard([buttons, _FORM.cancel_row(context)])
    )
    return ANONYMITY


async def anonymity_button(update: Update, context: CoraContext) -> int:
    query, draft = _FORM.pressed(update, context)
    draft.anonymous = pressed(query.data).id == "anonymous"
    await settle(query)
    preview = await _preview(context, draft)
    await send_preview(update, context, preview, (), send=_FORM.send, cancel=_FORM.cancel)
    return PREVIEW


async def _preview(context: CoraContext, draft: Draft) -> str:
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
    anonymity = "poll.anonymous_button" if draft.anonymous else "poll.named_button"
    return tr(
        context,
        "poll.preview",
        title=draft.title,
        kind=plain(context, f"poll.kind.{draft.kind}"),
        target=target_text(services.network, view, context.language),
        deadline=when(context, draft.deadline),
        anonymity=plain(context, anonymity),
        options=listed,
    )


def _moment_label(
    context: CoraContext, start: datetime, end: datetime | None, all_day: bool
) -> str:
    option = OptionView(0, 0, None, start, end, all_day)
    return option_label(option, context.services.settings.cora_timezone, context.language)


async def preview_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    await settle(query)
    await _create(update, context, _FORM.draft(context))
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
    _FORM.forget(context)
    await say(update, context, "poll.created", id=poll.id, title=poll.title, count=asked)


def poll_dialog() -> BaseHandler[Update, CoraContext, object]:
    return _FORM.dialog(
        "poll",
        poll_command,
        {
            TITLE: [MessageHandler(TYPED, title_step)],
            TARGET: [
                _FORM.on(target_button, r"[^:]+:ptarget"),
                MessageHandler(TYPED, target_text_step),
            ],
            KIND: [_FORM.on(kind_button, r"[^:]+:pkind")],
            OPTIONS: [MessageHandler(TYPED, options_step)],
            DEADLINE: [MessageHandler(TYPED, deadline_step)],
            ANONYMITY: [_FORM.on(anonymity_button, r"[^:]+:panon")],
            PREVIEW: [_FORM.on(preview_button, r"poll:send")],
        },
        cancelled_key="poll.dialog_cancelled",
    )


async def form_button(update: Update, context: CoraContext, button: Button) -> None:
    """A dialog button outside its dialog (an old message, or after a restart)."""
    raise DomainError("dialog.expired")
