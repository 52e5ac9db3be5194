"""Telegram adapters for offers and needs: /offers, /offer, /maintainer, /places, /waiting,
/needs, the maintainers' +1/−1 buttons and "Wir können" / "Wir können nicht"."""

from __future__ import annotations

from telegram import CallbackQuery, Update

from bot.errors import DomainError
from bot.offers.catalogue import OfferView
from bot.offers.need_view import NeedView
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    edit_html,
    keyboard,
    plain,
    region_label,
    say,
    say_count,
    send_html,
    tr,
    when,
)
from handlers.membership.actions import parse_member_id
from handlers.offers.views import maintenance_keyboard, offer_lines, reason_text, what_text
from storage.models import UnmetReason

# -- offers ------------------------------------------------------------------------------------


def _card(context: CoraContext, offer: OfferView) -> str:
    services = context.services
    return "\n".join(
        offer_lines(
            services.network,
            offer,
            context.language,
            services.clock.now(),
            services.offers.stale_after,
        )
    )


async def list_offers(update: Update, context: CoraContext) -> None:
    """`/offers`: the offers you maintain (a coordinator: those of their region)."""
    offers = await context.services.offers.for_member(context.active_member.id)
    if not await say_count(update, context, "offers", offers):
        return
    await _send_cards(update, context, offers)


async def _send_cards(update: Update, context: CoraContext, offers: list[OfferView]) -> None:
    for offer in offers:
        await send_html(
            update, _card(context, offer), markup=maintenance_keyboard(offer, context.language)
        )


async def offer_command(update: Update, context: CoraContext) -> None:
    """`/offer <id>` shows an offer; `/offer <id> <field> <value>` changes one field."""
    assert update.message is not None
    parts = (update.message.text or "").split(maxsplit=3)
    if len(parts) == 2:
        offer = await context.services.offers.by_code(parts[1])
        await send_html(update, _card(context, offer))
        return
    if len(parts) != 4:
        raise DomainError("offer.usage")
    offers = context.services.offers
    offer = await offers.by_code(parts[1])
    changed = await offers.edit(context.active_member.id, offer.id, parts[2].lower(), parts[3])
    await say(update, context, "offer.updated", offer=changed.name)
    await send_html(update, _card(context, changed))


async def maintainer_command(update: Update, context: CoraContext) -> None:
    """`/maintainer <offer> add|remove <member number>`."""
    args = context.args or []
    if len(args) != 3 or args[1].lower() not in ("add", "remove"):
        raise DomainError("maintainer.usage")
    offers = context.services.offers
    offer = await offers.by_code(args[0])
    member_id = parse_member_id(args[2:])
    coordinator = context.active_member.id
    if args[1].lower() == "add":
        done = await offers.add_maintainer(coordinator, offer.id, member_id)
        key = "maintainer.added" if done else "maintainer.already"
    else:
        done = await offers.remove_maintainer(coordinator, offer.id, member_id)
        key = "maintainer.removed" if done else "maintainer.not_found"
    await say(update, context, key, member=member_id, offer=offer.name)


async def _own_offer(context: CoraContext, code: str | None, *, places: bool) -> OfferView:
    """The offer named, or the only one the member maintains (with places, for /places)."""
    offers = context.services.offers
    if code is not None:
        return await offers.by_code(code)
    mine = [
        offer
        for offer in await offers.for_member(context.active_member.id)
        if context.active_member.id in offer.maintainers and (offer.reports_places or not places)
    ]
    if len(mine) == 1:
        return mine[0]
    key = "places" if places else "waiting"
    if not mine:
        raise DomainError(f"{key}.none_maintained")
    raise DomainError(f"{key}.which", offers=", ".join(o.code for o in mine))


def _number(raw: str, key: str) -> int:
    if not raw.isdecimal() or len(raw) > 4:
        raise DomainError(key)
    return int(raw)


async def places_command(update: Update, context: CoraContext) -> None:
    """`/places <n>` or `/places <offer> <n>`: free places now; `/places` alone shows them."""
    args = context.args or []
    if not args:
        offers = await context.services.offers.for_member(context.active_member.id)
        with_places = [offer for offer in offers if offer.reports_places]
        if not with_places:
            raise DomainError("places.none_maintained")
        await _send_cards(update, context, with_places)
        return
    if len(args) > 2:
        raise DomainError("places.usage")
    offer = await _own_offer(context, args[0] if len(args) == 2 else None, places=True)
    free = _number(args[-1], "places.usage")
    offer = await context.services.offers.report_places(context.active_member.id, offer.id, free)
    await send_html(
        update,
        tr(context, "places.reported", offer=offer.name) + "\n" + _card(context, offer),
        markup=maintenance_keyboard(offer, context.language),
    )


async def waiting_command(update: Update, context: CoraContext) -> None:
    """`/waiting <days>` or `/waiting <offer> <days>`: days until a first appointment."""
    args = context.args or []
    if not 1 <= len(args) <= 2:
        raise DomainError("waiting.usage")
    offer = await _own_offer(context, args[0] if len(args) == 2 else None, places=False)
    days = _number(args[-1], "waiting.usage")
    offer = await context.services.offers.report_waiting(context.active_member.id, offer.id, days)
    await send_html(
        update, tr(context, "waiting.reported", offer=offer.name) + "\n" + _card(context, offer)
    )


async def offer_button(update: Update, context: CoraContext, button: Button) -> None:
    """+1 / −1 on an offer's free places."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdecimal() or button.action not in ("inc", "dec"):
        raise DomainError("button.invalid")
    offer = await context.services.offers.report_places(
        context.active_member.id, int(button.id), delta=1 if button.action == "inc" else -1
    )
    await query.answer(plain(context, "places.now", count=offer.places_free or 0, offer=offer.name))
    await edit_html(
        query, _card(context, offer), markup=maintenance_keyboard(offer, context.language)
    )


# -- needs -------------------------------------------------------------------------------------


async def need_button(update: Update, context: CoraContext, button: Button) -> None:
    """ "Wir können" / "Wir können nicht" for an offer asked; closing a need as unmet."""
    query = update.callback_query
    assert query is not None
    if button.action in ("yes", "no"):
        await _answer_need(update, context, query, button)
    elif button.id.isdecimal() and button.action == "close":
        await _ask_reason(update, context, query, int(button.id))
    elif button.id.isdecimal() and button.action.startswith("r-"):
        closed = await context.services.needs.close_unmet(
            context.active_member.id, int(button.id), button.action[2:]
        )
        await query.answer()
        reason = reason_text(closed.unmet_reason, context.language)
        await edit_html(query, tr(context, "needs.closed", ref=closed.ref, reason=reason))
    else:
        raise DomainError("button.invalid")


async def _answer_need(
    update: Update, context: CoraContext, query: CallbackQuery, button: Button
) -> None:
    need_id, _, offer_id = button.id.partition("-")
    if not (need_id.isdecimal() and offer_id.isdecimal()):
        raise DomainError("button.invalid")
    answered = await context.services.needs.answer(
        context.active_member.id, int(need_id), int(offer_id), yes=button.action == "yes"
    )
    ref = answered.need.ref
    if answered.already:
        await query.answer(plain(context, "need.already", ref=ref), show_alert=True)
        await query.edit_message_reply_markup(None)
        return
    offer = await context.services.offers.get(int(offer_id))
    key = "need.taken_by_you" if answered.taken else "need.declined_by_you"
    await query.answer(plain(context, key, ref=ref, offer=offer.name))
    await query.edit_message_reply_markup(None)
    await say(update, context, key, ref=ref, offer=offer.name)


async def _ask_reason(
    update: Update, context: CoraContext, query: CallbackQuery, need_id: int
) -> None:
    """Which reason a need is closed as unmet with: one button per reason."""
    need = await context.services.needs.closable(context.active_member.id, need_id)
    rows = [
        [
            (
                reason_text(reason, context.language),
                Button(Kind.NEED, str(need_id), f"r-{reason}").encode(),
            )
        ]
        for reason in UnmetReason
    ]
    await query.answer()
    await say(update, context, "needs.ask_reason", ref=need.ref, markup=keyboard(rows))


def _need_line(context: CoraContext, need: NeedView) -> str:
    return tr(
        context,
        "needs.line",
        icon="🚨" if need.is_urgent else "🆘",
        ref=need.ref,
        what=what_text(context.services.network, need.what, context.language),
        region=region_label(context, need.region),
        time=when(context, need.created_at),
    )


async def list_needs(update: Update, context: CoraContext) -> None:
    """`/needs`: open needs you raised (a coordinator: of their region), to close as unmet."""
    needs = await context.services.needs.open_needs(context.active_member.id)
    if not needs:
        await say(update, context, "needs.none")
        return
    for text in chunk_lines([], tr(context, "needs.header", count=len(needs))):
        await send_html(update, text)
    for need in needs:
        close = Button(Kind.NEED, str(need.id), "close").encode()
        await send_html(
            update,
            _need_line(context, need),
            markup=keyboard([[(plain(context, "button.close_unmet"), close)]]),
        )
