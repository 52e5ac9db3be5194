"""The /find and /need dialogs (buttons, and typed text for the case reference) and their
one-line forms: `/find <kind|topic> [region] [language] [accessibility]` and `/need <kind|topic>
<region> [adults+children] [language] [accessibility] [!] <case ref>[: note]`."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

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

from bot.errors import DomainError
from bot.offers.files import language_code
from bot.offers.needs import NeedRequest, check_need_texts
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import current_draft, forget_draft, pressed, use_buttons
from handlers.common.render import (
    chunk_lines,
    edit_html,
    findings_text,
    keyboard,
    plain,
    region_name,
    rows_of,
    say,
    send_html,
    tr,
)
from handlers.offers.views import found_text, label, language_name, reason_text, what_text
from storage.models import Urgency

FIND_WHAT, FIND_REGION, FIND_LANGUAGE = range(3)
WHAT, REGION, ADULTS, CHILDREN, LANGUAGE, ACCESS, URGENCY, CASE_REF, PREVIEW = range(10, 19)
_FIND = "find_draft"
_NEED = "need_draft"
_PEOPLE = re.compile(r"^(\d{1,2})\+(\d{1,2})$")
ANY = "any"
NONE = "none"


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


def _seek(value: str, step: str) -> str:
    return Button(Kind.SEEK, value, step).encode()


def _cancel_row(context: CoraContext) -> list[tuple[str, str]]:
    return [(plain(context, "button.cancel"), _seek("draft", "cancel"))]


def _what_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    network = context.services.network
    kinds = [
        (k.label(context.language), _seek(code, step)) for code, k in network.offer_kinds.items()
    ]
    topics = [(t.label(context.language), _seek(code, step)) for code, t in network.topics.items()]
    return keyboard([*rows_of(kinds, 2), *rows_of(topics, 2), _cancel_row(context)])


def _region_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    network = context.services.network
    regions = [
        (p.label(context.language), _seek(code, step)) for code, p in network.regions.items()
    ]
    return keyboard([*rows_of(regions, 2), _cancel_row(context)])


async def _language_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    """ "Any", then the languages the network's offers are given in."""
    codes = sorted({c for o in await context.services.offers.all_offers() for c in o.languages})
    buttons = [(language_name(c, context.language), _seek(c, step)) for c in codes]
    first = [(plain(context, "button.any_language"), _seek(ANY, step))]
    return keyboard([first, *rows_of(buttons, 3), _cancel_row(context)])


async def _chosen(update: Update, context: CoraContext, choice: str) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit_html(query, tr(context, "offers.chosen", choice=choice))


async def cancel(update: Update, context: CoraContext) -> int:
    """`/cancel` or the cancel button: nothing was stored."""
    forget_draft(context, _FIND)
    forget_draft(context, _NEED)
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await say(update, context, "offers.cancelled")
    return ConversationHandler.END


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
    filters_text = ""
    if search.language:
        filters_text += tr(
            context,
            "find.filter_language",
            language=language_name(search.language, context.language),
        )
    if search.accessibility:
        access = label(services.network.accessibility, search.accessibility, context.language)
        filters_text += tr(context, "find.filter_access", access=access)
    lines = found_text(
        services.network,
        found,
        search.what,
        search.region,
        context.language,
        services.clock.now(),
        services.offers.stale_after,
        filters_text,
    )
    for text in chunk_lines(lines[1:], lines[0]) if len(lines) > 1 else lines:
        await send_html(update, text.replace("\n<b>", "\n\n<b>"))


async def find_command(update: Update, context: CoraContext) -> int:
    """`/find` opens the dialog; `/find <kind|topic> [region] [language] [accessibility]` lists."""
    args = context.args or []
    if not args:
        assert context.user_data is not None
        context.user_data[_FIND] = FindDraft()
        await say(update, context, "find.ask_what", markup=_what_keyboard(context, "fwhat"))
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
    await say(update, context, "find.ask_region", markup=_region_keyboard(context, "fregion"))
    return FIND_REGION


async def find_region(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _FIND, FindDraft)
    region = context.services.network.region(_pressed(update).id).code
    draft.region = region
    await _chosen(update, context, region_name(context.services.network, region, context.language))
    await say(
        update, context, "find.ask_language", markup=await _language_keyboard(context, "flang")
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
        await say(update, context, "need.ask_what", markup=_what_keyboard(context, "what"))
        return WHAT
    if len(words) < 4:
        raise DomainError("need.usage")
    network = context.services.network
    draft = NeedDraft(what=words[1], region=network.region(words[2]).code)
    rest = words[3:]
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
    case_ref, note = _split_case(" ".join(rest))
    context.user_data[_NEED] = draft
    return await _take_case_ref(update, context, draft, case_ref, note, send_when_clean=True)


async def need_what(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    network = context.services.network
    what = network.what(_pressed(update).id)
    draft.what = what[1]
    await _chosen(update, context, what_text(network, what, context.language))
    await say(update, context, "need.ask_region", markup=_region_keyboard(context, "region"))
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
        numbers = [(str(n), _seek(str(n), "adults")) for n in range(0, 5)]
        await say(
            update, context, "need.ask_adults", markup=keyboard([numbers, _cancel_row(context)])
        )
        return ADULTS
    return await _ask_language(update, context)


def _count(update: Update) -> int:
    value = _pressed(update).id
    if not value.isdigit() or int(value) > 20:
        raise DomainError("button.invalid")
    return int(value)


async def need_adults(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    draft.adults = _count(update)
    await _chosen(update, context, str(draft.adults))
    numbers = [(str(n), _seek(str(n), "children")) for n in range(0, 6)]
    await say(
        update, context, "need.ask_children", markup=keyboard([numbers, _cancel_row(context)])
    )
    return CHILDREN


async def need_children(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    draft.children = _count(update)
    await _chosen(update, context, str(draft.children))
    return await _ask_language(update, context)


async def _ask_language(update: Update, context: CoraContext) -> int:
    await say(
        update, context, "need.ask_language", markup=await _language_keyboard(context, "lang")
    )
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
    network = context.services.network
    buttons = [
        (p.label(context.language), _seek(code, "access"))
        for code, p in network.accessibility.items()
    ]
    first = [(plain(context, "button.no_need"), _seek(NONE, "access"))]
    await say(
        update,
        context,
        "need.ask_access",
        markup=keyboard([first, *rows_of(buttons, 2), _cancel_row(context)]),
    )
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
    buttons = [
        (plain(context, "urgency.urgent.button"), _seek(Urgency.URGENT, "urgency")),
        (plain(context, "urgency.normal.button"), _seek(Urgency.NORMAL, "urgency")),
    ]
    await say(update, context, "need.ask_urgency", markup=keyboard([buttons, _cancel_row(context)]))
    return URGENCY


async def need_urgency(update: Update, context: CoraContext) -> int:
    draft = current_draft(context, _NEED, NeedDraft)
    urgency = _pressed(update).id
    if urgency not in (Urgency.URGENT, Urgency.NORMAL):
        raise DomainError("button.invalid")
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
    assert draft.what is not None and draft.region is not None
    needs = context.services.needs
    request = needs.request(
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
    findings = check_need_texts(request.case_ref, request.note)
    if any(finding.blocking for finding in findings):
        await say(
            update,
            context,
            "alert.findings_blocking",
            findings=findings_text(context.language, findings),
        )
        return CASE_REF
    draft.request = request
    draft.needs_confirmation = bool(findings)
    if send_when_clean and not findings:
        await _send(update, context, draft)
        return ConversationHandler.END
    network = context.services.network
    preview = tr(
        context,
        "need.preview",
        what=what_text(network, request.what, context.language),
        region=region_name(network, request.region, context.language),
        urgency=plain(context, f"urgency.{request.urgency}"),
        case_ref=request.case_ref,
        count=await needs.count_offers(request),
    )
    if findings:
        preview += "\n\n" + tr(
            context, "alert.findings_confirm", findings=findings_text(context.language, findings)
        )
    send = "button.send_anyway" if findings else "button.send"
    buttons = [[(plain(context, send), _seek("draft", "send")), *_cancel_row(context)]]
    await send_html(update, preview, markup=keyboard(buttons))
    return PREVIEW


async def need_send(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = current_draft(context, _NEED, NeedDraft)
    if draft.request is None:
        raise DomainError("dialog.expired")
    await query.answer()
    await query.edit_message_reply_markup(None)
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


def find_dialog() -> BaseHandler[Update, CoraContext, object]:
    seek = f"^{Kind.SEEK}:"
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler("find", find_command)],
        states={
            FIND_WHAT: [CallbackQueryHandler(find_what, pattern=seek + r"[^:]+:fwhat$")],
            FIND_REGION: [CallbackQueryHandler(find_region, pattern=seek + r"[^:]+:fregion$")],
            FIND_LANGUAGE: [CallbackQueryHandler(find_language, pattern=seek + r"[^:]+:flang$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(cancel, pattern=seek + r"draft:cancel$"),
            MessageHandler(filters.TEXT & ~filters.COMMAND, use_buttons),
        ],
        allow_reentry=True,
        name="find",
    )


def need_dialog() -> BaseHandler[Update, CoraContext, object]:
    seek = f"^{Kind.SEEK}:"
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler("need", need_command)],
        states={
            WHAT: [CallbackQueryHandler(need_what, pattern=seek + r"[^:]+:what$")],
            REGION: [CallbackQueryHandler(need_region, pattern=seek + r"[^:]+:region$")],
            ADULTS: [CallbackQueryHandler(need_adults, pattern=seek + r"[^:]+:adults$")],
            CHILDREN: [CallbackQueryHandler(need_children, pattern=seek + r"[^:]+:children$")],
            LANGUAGE: [CallbackQueryHandler(need_language, pattern=seek + r"[^:]+:lang$")],
            ACCESS: [CallbackQueryHandler(need_access, pattern=seek + r"[^:]+:access$")],
            URGENCY: [CallbackQueryHandler(need_urgency, pattern=seek + r"[^:]+:urgency$")],
            CASE_REF: [MessageHandler(filters.TEXT & ~filters.COMMAND, need_case_ref)],
            PREVIEW: [CallbackQueryHandler(need_send, pattern=seek + r"draft:send$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(cancel, pattern=seek + r"draft:cancel$"),
            MessageHandler(filters.TEXT & ~filters.COMMAND, use_buttons),
        ],
        allow_reentry=True,
        name="need",
    )


async def seek_button(update: Update, context: CoraContext, button: Button) -> None:
    """Dialog buttons outside a running dialog: the dialog expired."""
    raise DomainError("dialog.expired")
