"""The /find and /need dialogs (buttons, and typed text for the case reference) and their
one-line forms: `/find <kind|topic> [region] [language] [accessibility]` and `/need <kind|topic>
<region> [adults+children] [language] [accessibility] [!] <case ref>[: note]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.errors import DomainError
from bot.network import Network
from bot.offers.catalogue import Search
from bot.offers.files import language_code
from bot.offers.needs import NeedRequest, check_need_texts
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import (
    TYPED,
    StateHandlers,
    Step,
    chosen_urgency,
    current_draft,
    dialog,
    forget_draft,
    pressed,
    refused,
    send_preview,
    settle,
    urgency_row,
)
from handlers.common.render import (
    chunk_lines,
    edit_html,
    keyboard,
    plain,
    region_name,
    say,
    send_html,
    tr,
)
from handlers.offers.choices import (
    ANY,
    NONE,
    access_keyboard,
    count_keyboard,
    language_keyboard,
    region_keyboard,
    seek,
    seek_cancel_row,
    what_keyboard,
)
from handlers.offers.views import found_text, label, language_name, reason_text, what_text
from storage.models import Urgency

FIND_WHAT, FIND_REGION, FIND_LANGUAGE = range(3)
WHAT, REGION, ADULTS, CHILDREN, LANGUAGE, ACCESS, URGENCY, CASE_REF, PREVIEW = range(10, 19)
_FIND = "find_draft"
_NEED = "need_draft"
_PEOPLE = re.compile(r"^(\d{1,2})\+(\d{1,2})$")


@dataclass
class FindDraft:
    what: str | None = None
    region: str | None = None


@dataclass
class NeedDraft:
    """A need being written; in memory only, so an unsent case reference is never stored."""

    what: str | None = None
    region: str | None = None
    adults: int = 0
    children: int = 0
    language: str | None = None
    accessibility: str | None = None
    urgency: str = Urgency.NORMAL
    request: NeedRequest | None = None
    needs_confirmation: bool = False


def _pressed(update: Update) -> Button:
    return pressed(update.callback_query.data if update.callback_query else None)


async def _chosen(update: Update, context: CoraContext, choice: str) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit_html(query, tr(context, "offers.chosen", choice=choice))


# -- /find -------------------------------------------------------------------------------------


async def _show_found(
    update: Update,
    context: CoraContext,
    what: str,
    region: str,
    language: str | None,
    accessibility: str | None,
) -> None:
    services = context.services
    search = services.offers.search(what, region, language, accessibility)
    found = await services.offers.find(search)
    lines = found_text(
        services.network,
        found,
        search.what,
        search.region,
        context.language,
        services.clock.now(),
        services.offers.stale_after,
        _filters_text(context, search),
    )
    for text in chunk_lines(lines[1:], lines[0]) if len(lines) > 1 else lines:
        await send_html(update, text.replace("\n<b>", "\n\n<b>"))


def _filters_text(context: CoraContext, search: Search) -> str:
    """The search's language and accessibility filters, in words."""
    text = ""
    if search.language:
        language = language_name(search.language, context.language)
        text += tr(context, "find.filter_language", language=language)
    if search.accessibility:
        network = context.services.network
        access = label(network.accessibility, search.accessibility, context.language)
        text += tr(context, "find.filter_access", access=access)
    return text


async def find_command(update: Update, context: CoraContext) -> int:
    """`/find` opens the dialog; `/find <kind|topic> [region] [language] [accessibility]` lists."""
    args = context.args or []
    if not args:
        assert context.user_data is not None
        context.user_data[_FIND] = FindDraft()
        await say(update, context, "find.ask_what", markup=what_keyboard(context, "fwhat"))
        return FIND_WHAT
    network = context.services.network
    region = context.active_member.region or network.statewide_region
    language = accessibility = None
    for word in args[1:]:
        if word.upper() in network.regions:
            region = word.upper()
        elif word.lower() in network.accessibility:
            accessibility = word.lower()
        elif language_code(word) is not None:
            language = word
        else:
            raise DomainError("find.usage")
    await _show_found(update, context, args[0], region, language, accessibility)
    return ConversationHandler.END


async def find_what(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _FIND, FindDraft)
    what = context.services.network.what(_pressed(update).id)
    draft.what = what[1]
    await _chosen(update, context, what_text(context.services.network, what, context.language))
    await say(update, context, "find.ask_region", markup=region_keyboard(context, "fregion"))
    return FIND_REGION


async def find_region(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _FIND, FindDraft)
    region = context.services.network.region(_pressed(update).id).code
    draft.region = region
    await _chosen(update, context, region_name(context.services.network, region, context.language))
    await say(
        update, context, "find.ask_language", markup=await language_keyboard(context, "flang")
    )
    return FIND_LANGUAGE


async def find_language(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _FIND, FindDraft)
    code = _pressed(update).id
    assert draft.what is not None and draft.region is not None
    language = None if code == ANY else code
    shown = (
        plain(context, "button.any_language")
        if language is None
        else language_name(code, context.language)
    )
    await _chosen(update, context, shown)
    forget_draft(context, _FIND)
    await _show_found(update, context, draft.what, draft.region, language, None)
    return ConversationHandler.END


# -- /need -------------------------------------------------------------------------------------


def _split_case(text: str) -> tuple[str, str]:
    ref, _, note = text.partition(":")
    return ref.strip(), note.strip()


async def need_command(update: Update, context: CoraContext) -> int:
    """`/need` opens the dialog; the one-line form sends at once when its texts are clean."""
    assert update.message is not None and context.user_data is not None
    words = (update.message.text or "").split()
    if len(words) == 1:
        context.user_data[_NEED] = NeedDraft()
        await say(update, context, "need.ask_what", markup=what_keyboard(context, "what"))
        return WHAT
    if len(words) < 4:
        raise DomainError("need.usage")
    network = context.services.network
    draft = NeedDraft(what=words[1], region=network.region(words[2]).code)
    case_ref, note = _split_case(_take_options(network, draft, words[3:]))
    context.user_data[_NEED] = draft
    return await _take_case_ref(update, context, draft, case_ref, note, send_when_clean=True)


def _take_options(network: Network, draft: NeedDraft, rest: list[str]) -> str:
    """The one-line form's leading options (`2+1`, accessibility, `!`, language) into the
    draft; returns the rest: the case reference and note."""
    while rest:
        word = rest[0]
        if match := _PEOPLE.match(word):
            draft.adults, draft.children = int(match.group(1)), int(match.group(2))
        elif word.lower() in network.accessibility:
            draft.accessibility = word.lower()
        elif word == "!":
            draft.urgency = Urgency.URGENT
        elif word.startswith("!"):
            draft.urgency = Urgency.URGENT
            rest[0] = word[1:]
            break
        elif len(word) <= 3 and word.islower() and language_code(word) is not None:
            draft.language = word
        else:
            break
        rest = rest[1:]
    return " ".join(rest)


async def need_what(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    network = context.services.network
    what = network.what(_pressed(update).id)
    draft.what = what[1]
    await _chosen(update, context, what_text(network, what, context.language))
    await say(update, context, "need.ask_region", markup=region_keyboard(context, "region"))
    return REGION


async def need_region(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    network = context.services.network
    region = network.region(_pressed(update).id).code
    draft.region = region
    await _chosen(update, context, region_name(network, region, context.language))
    assert draft.what is not None
    field, code = network.what(draft.what)
    if field == "kind" and network.offer_kinds[code].places:
        markup = count_keyboard(context, 4, "adults")
        await say(update, context, "need.ask_adults", markup=markup)
        return ADULTS
    return await _ask_language(update, context)


def _count(update: Update) -> int:
    value = _pressed(update).id
    if not value.isdecimal() or int(value) > 20:
        raise DomainError("button.invalid")
    return int(value)


async def need_adults(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    draft.adults = _count(update)
    await _chosen(update, context, str(draft.adults))
    markup = count_keyboard(context, 5, "children")
    await say(update, context, "need.ask_children", markup=markup)
    return CHILDREN


async def need_children(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    draft.children = _count(update)
    await _chosen(update, context, str(draft.children))
    return await _ask_language(update, context)


async def _ask_language(update: Update, context: CoraContext) -> int:
    await say(update, context, "need.ask_language", markup=await language_keyboard(context, "lang"))
    return LANGUAGE


async def need_language(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    code = _pressed(update).id
    draft.language = None if code == ANY else code
    shown = (
        plain(context, "button.any_language")
        if code == ANY
        else language_name(code, context.language)
    )
    await _chosen(update, context, shown)
    await say(update, context, "need.ask_access", markup=access_keyboard(context))
    return ACCESS


async def need_access(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    code = _pressed(update).id
    network = context.services.network
    draft.accessibility = None if code == NONE else code
    shown = (
        plain(context, "button.no_need")
        if code == NONE
        else label(network.accessibility, code, context.language)
    )
    await _chosen(update, context, shown)
    buttons = urgency_row(context, lambda urgency: seek(urgency, "urgency"))
    await say(
        update, context, "need.ask_urgency", markup=keyboard([buttons, seek_cancel_row(context)])
    )
    return URGENCY


async def need_urgency(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    urgency = chosen_urgency(_pressed(update).id)
    draft.urgency = urgency
    await _chosen(update, context, plain(context, f"urgency.{urgency}"))
    await say(update, context, "need.ask_case_ref")
    return CASE_REF


async def need_case_ref(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    case_ref, note = _split_case(update.message.text or "")
    draft = current_draft(context, _NEED, NeedDraft)
    return await _take_case_ref(update, context, draft, case_ref, note, send_when_clean=False)


async def _take_case_ref(
    update: Update,
    context: CoraContext,
    draft: NeedDraft,
    case_ref: str,
    note: str,
    *,
    send_when_clean: bool,
) -> int:
    """Check the texts; refuse identifying data, ask to confirm doubtful finds, preview."""
    request = _request(context, draft, case_ref, note)
    findings = check_need_texts(request.case_ref, request.note)
    if await refused(update, context, findings):
        return CASE_REF
    draft.request = request
    draft.needs_confirmation = bool(findings)
    if send_when_clean and not findings:
        await _send(update, context, draft)
        return ConversationHandler.END
    preview = await _preview(context, request)
    send, cancel = seek("draft", "send"), seek("draft", "cancel")
    await send_preview(update, context, preview, findings, send=send, cancel=cancel)
    return PREVIEW


def _request(context: CoraContext, draft: NeedDraft, case_ref: str, note: str) -> NeedRequest:
    assert draft.what is not None and draft.region is not None
    return context.services.needs.request(
        draft.what,
        draft.region,
        case_ref,
        adults=draft.adults,
        children=draft.children,
        language=draft.language,
        accessibility=draft.accessibility,
        urgency=draft.urgency,
        note=note,
    )


async def _preview(context: CoraContext, request: NeedRequest) -> str:
    network = context.services.network
    return tr(
        context,
        "need.preview",
        what=what_text(network, request.what, context.language),
        region=region_name(network, request.region, context.language),
        urgency=plain(context, f"urgency.{request.urgency}"),
        case_ref=request.case_ref,
        count=await context.services.needs.count_offers(request),
    )


async def need_send(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = current_draft(context, _NEED, NeedDraft)
    if draft.request is None:
        raise DomainError("dialog.expired")
    await settle(query)
    await _send(update, context, draft)
    return ConversationHandler.END


async def _send(update: Update, context: CoraContext, draft: NeedDraft) -> None:
    assert draft.request is not None
    raised = await context.services.needs.raise_need(
        context.active_member.id, draft.request, confirmed=draft.needs_confirmation
    )
    forget_draft(context, _NEED)
    need = raised.need
    if raised.offers:
        await say(update, context, "need.raised", ref=need.ref, count=raised.offers)
    else:
        await say(
            update,
            context,
            "need.raised_unmet",
            ref=need.ref,
            reason=reason_text(need.unmet_reason, context.language),
        )


# -- wiring ------------------------------------------------------------------------------------


_SEEK = f"^{Kind.SEEK}:"


def _dialog(
    command: str, entry: Step, states: StateHandlers
) -> BaseHandler[Update, CoraContext, object]:
    """/find and /need: either one's cancel drops both drafts."""
    return dialog(
        command,
        entry,
        states,
        draft_key=(_FIND, _NEED),
        cancel_button=_SEEK + r"draft:cancel$",
        cancelled_key="offers.cancelled",
    )


def _on(step: Step, action: str) -> CallbackQueryHandler[CoraContext, Any]:
    return CallbackQueryHandler(step, pattern=_SEEK + action)


def find_dialog() -> BaseHandler[Update, CoraContext, object]:
    return _dialog(
        "find",
        find_command,
        {
            FIND_WHAT: [_on(find_what, r"[^:]+:fwhat$")],
            FIND_REGION: [_on(find_region, r"[^:]+:fregion$")],
            FIND_LANGUAGE: [_on(find_language, r"[^:]+:flang$")],
        },
    )


def need_dialog() -> BaseHandler[Update, CoraContext, object]:
    return _dialog(
        "need",
        need_command,
        {
            WHAT: [_on(need_what, r"[^:]+:what$")],
            REGION: [_on(need_region, r"[^:]+:region$")],
            ADULTS: [_on(need_adults, r"[^:]+:adults$")],
            CHILDREN: [_on(need_children, r"[^:]+:children$")],
            LANGUAGE: [_on(need_language, r"[^:]+:lang$")],
            ACCESS: [_on(need_access, r"[^:]+:access$")],
            URGENCY: [_on(need_urgency, r"[^:]+:urgency$")],
            CASE_REF: [MessageHandler(TYPED, need_case_ref)],
            PREVIEW: [_on(need_send, r"draft:send$")],
        },
    )


async def seek_button(update: Update, context: CoraContext, button: Button) -> None:
    """Dialog buttons outside a running dialog: the dialog expired."""
    raise DomainError("dialog.expired")
