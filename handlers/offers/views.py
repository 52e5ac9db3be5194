"""How offers and needs look: offer cards with places and their age, /find results, need
messages with "Wir können" / "Wir können nicht", the notices about a need's course, and the
places reminder; all in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_timedelta
from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.delivery import Job
from bot.i18n import Markup
from bot.network import Network, Place
from bot.offers.asking import NeedNotice
from bot.offers.catalogue import Found, OfferView
from bot.offers.need_view import NeedView
from handlers.common.callbacks import Button, Kind
from handlers.common.render import keyboard, local_time, member_text, region_name
from handlers.transport.outbox import RenderCache, Rendered
from storage.models import NeedStatus, Urgency

# -- words of the network file -----------------------------------------------------------------


def label(places: Mapping[str, Place], code: str, language: str) -> str:
    place = places.get(code)
    return place.label(language) if place is not None else code


def what_text(network: Network, what: tuple[str, str], language: str) -> str:
    field, code = what
    return label(network.offer_kinds if field == "kind" else network.topics, code, language)


def language_name(code: str, language: str) -> str:
    name = Locale(language).languages.get(code)
    return str(name) if name else code


def age_text(moment: datetime, now: datetime, language: str) -> str:
    """How long ago: "vor 2 Stunden", "2 hours ago"; under a minute "gerade eben"."""
    if now - moment < timedelta(minutes=1):
        return i18n.text(language, "offers.just_now")
    return str(
        format_timedelta(
            -(now - moment),
            granularity="minute",
            threshold=0.9,
            add_direction=True,
            locale=language,
        )
    )


def places_line(offer: OfferView, now: datetime, stale_after: timedelta, language: str) -> str:
    """Free places with the age of the report; "unknown" when never reported or stale."""
    if offer.places_reported_at is None:
        return i18n.html_text(language, "offer.places_never")
    age = age_text(offer.places_reported_at, now, language)
    free = offer.places_known(now, stale_after)
    if free is None:
        return i18n.html_text(language, "offer.places_unknown", age=age)
    return i18n.html_text(language, "offer.places_free", count=free, age=age)


def offer_lines(
    network: Network,
    offer: OfferView,
    language: str,
    now: datetime,
    stale_after: timedelta,
    *,
    distance: int | None = None,
) -> list[str]:
    """An offer's card: what it is, where, for whom, in which languages, places, contact."""
    head = i18n.html_text(
        language,
        "offer.head",
        name=offer.name,
        kind=label(network.offer_kinds, offer.kind, language),
        code=offer.code,
    )
    if distance is not None:
        head += " · " + i18n.html_text(language, f"offers.distance.{distance}")
    lines = [head, *_described(network, offer, language)]
    if offer.reports_places:
        lines.append(places_line(offer, now, stale_after, language))
    if offer.waiting_days is not None and offer.waiting_reported_at is not None:
        age = age_text(offer.waiting_reported_at, now, language)
        lines.append(i18n.html_text(language, "offer.waiting", count=offer.waiting_days, age=age))
    return lines + contact_lines(offer, language)


def _described(network: Network, offer: OfferView, language: str) -> list[str]:
    """Where, on which topics, for whom, in which languages (always) and how accessible."""

    def names(places: Mapping[str, Place], codes: tuple[str, ...]) -> list[str]:
        return [label(places, code, language) for code in codes]

    rows = (
        ("offer.regions", [region_name(network, r, language) for r in offer.regions], True),
        ("offer.topics", names(network.topics, offer.topics), False),
        ("offer.groups", names(network.target_groups, offer.target_groups), False),
        ("offer.languages", [language_name(c, language) for c in offer.languages], True),
        ("offer.access", names(network.accessibility, offer.accessibility), False),
    )
    return [
        i18n.html_text(language, key, **{key.removeprefix("offer."): ", ".join(values)})
        for key, values, always in rows
        if values or always
    ]


def contact_lines(offer: OfferView, language: str) -> list[str]:
    lines = []
    if offer.contact:
        lines.append(i18n.html_text(language, "offer.contact", contact=offer.contact))
    if offer.hours:
        lines.append(i18n.html_text(language, "offer.hours", hours=offer.hours))
    return lines


def maintenance_keyboard(offer: OfferView, language: str) -> InlineKeyboardMarkup | None:
    """+1 / −1 for an offer's free places."""
    if not offer.reports_places:
        return None
    return keyboard(
        [
            [
                (
                    i18n.text(language, "button.place_less"),
                    Button(Kind.OFFER, str(offer.id), "dec").encode(),
                ),
                (
                    i18n.text(language, "button.place_more"),
                    Button(Kind.OFFER, str(offer.id), "inc").encode(),
                ),
            ]
        ]
    )


def found_text(
    network: Network,
    found: list[Found],
    what: tuple[str, str],
    region: str,
    language: str,
    now: datetime,
    stale_after: timedelta,
    filters: str,
) -> list[str]:
    """/find's answer: a header, then one card per offer, nearest first."""
    wanted = what_text(network, what, language)
    place = region_name(network, region, language)
    if not found:
        return [i18n.html_text(language, "find.none", what=wanted, region=place, filters=filters)]
    header = i18n.html_text(
        language, "find.header", count=len(found), what=wanted, region=place, filters=filters
    )
    cards = [
        "\n".join(offer_lines(network, f.offer, language, now, stale_after, distance=f.distance))
        for f in found
    ]
    return [header, *cards]


# -- needs -------------------------------------------------------------------------------------


def _icon(need: NeedView) -> str:
    return "🚨" if need.urgency == Urgency.URGENT else "🆘"


def people_text(need: NeedView, language: str) -> str:
    parts = [i18n.text(language, "need.adults", count=need.adults)]
    if need.children:
        parts.append(i18n.text(language, "need.children", count=need.children))
    return ", ".join(parts)


def need_lines(
    network: Network,
    need: NeedView,
    language: str,
    timezone: str,
    *,
    case_ref: str | None,
    note: str | None,
) -> list[str]:
    """What a need asks for, for the offers asked and the coordinators."""
    what = what_text(network, need.what, language)
    region = region_name(network, need.region, language)
    lines = [i18n.html_text(language, "need.line_what", what=what, region=region)]
    lines += _need_details(network, need, language)
    removed = i18n.text(language, "need.text_removed")
    lines.append(i18n.html_text(language, "need.line_case", case_ref=case_ref or removed))
    if note:
        lines.append(i18n.html_text(language, "need.line_note", note=note))
    if need.requester is not None:
        requester = member_text(network, need.requester, language)
    else:
        requester = Markup(i18n.html_text(language, "need.from_system", name=need.client or "–"))
    time = local_time(need.created_at, timezone, language)
    return [*lines, i18n.html_text(language, "need.line_from", requester=requester, time=time)]


def _need_details(network: Network, need: NeedView, language: str) -> list[str]:
    """For how many people, in which language, how accessible: what the need asks for."""
    lines = []
    if need.adults or need.children:
        people = people_text(need, language)
        lines.append(i18n.html_text(language, "need.line_people", people=people))
    if need.language:
        name = language_name(need.language, language)
        lines.append(i18n.html_text(language, "need.line_language", language=name))
    if need.accessibility:
        access = label(network.accessibility, need.accessibility, language)
        lines.append(i18n.html_text(language, "need.line_access", access=access))
    return lines


def reason_text(reason: str | None, language: str) -> str:
    return i18n.text(language, f"need.reason.{reason or 'nobody_answered'}")


async def _described_need(cache: RenderCache, job: Job) -> tuple[NeedView, list[str]]:
    """The need of a delivery, and what it asks for (with its texts, while they are kept)."""
    assert job.subject_id is not None
    need = await cache.need(job.subject_id)
    case_ref, note = await cache.need_texts(job.subject_id)
    services = cache.services
    lines = need_lines(
        services.network,
        need,
        cache.language(job),
        services.settings.cora_timezone,
        case_ref=case_ref,
        note=note,
    )
    return need, lines


async def render_need(job: Job, cache: RenderCache) -> Rendered:
    """To the maintainers of an offer asked: the need, with "Wir können" / "Wir können nicht"."""
    language = cache.language(job)
    need, described = await _described_need(cache, job)
    offer = await cache.offer(int(job.params["offer"] or 0))
    head = i18n.html_text(
        language,
        "need.head",
        icon=_icon(need),
        ref=need.ref,
        urgency=i18n.text(language, f"urgency.{need.urgency}"),
        offer=offer.name,
    )
    lines = [head]
    if need.stage:
        lines.append(i18n.html_text(language, f"need.widened.{min(need.stage, 2)}"))
    lines += described
    if need.status != NeedStatus.OPEN:
        return Rendered("\n".join(lines))
    data = f"{need.id}-{offer.id}"
    buttons = [
        (i18n.text(language, "button.we_can"), Button(Kind.NEED, data, "yes").encode()),
        (i18n.text(language, "button.we_cannot"), Button(Kind.NEED, data, "no").encode()),
    ]
    return Rendered("\n".join(lines), keyboard([buttons]))


async def render_need_notice(job: Job, cache: RenderCache) -> Rendered:
    """The course of a need: taken (to the requester), taken by another offer (to the other
    offers asked), unmet (to the requester)."""
    language = cache.language(job)
    assert job.subject_id is not None
    need = await cache.need(job.subject_id)
    if job.kind == NeedNotice.UNMET:
        return Rendered(
            i18n.html_text(
                language,
                "need.notice.unmet",
                ref=need.ref,
                reason=reason_text(need.unmet_reason, language),
            )
        )
    offer = await cache.offer(int(job.params["offer"] or 0))
    if job.kind == NeedNotice.GONE:
        return Rendered(
            i18n.html_text(language, "need.notice.gone", ref=need.ref, offer=offer.name)
        )
    taken = _taken_text(need, offer, language, cache.services.network)
    return Rendered("\n".join([taken, *contact_lines(offer, language)]))


def _taken_text(need: NeedView, offer: OfferView, language: str, network: Network) -> str:
    taker = member_text(network, need.taken_by, language) if need.taken_by else "–"
    return i18n.html_text(
        language, "need.notice.taken", ref=need.ref, offer=offer.name, member=taker
    )


async def render_need_escalation(job: Job, cache: RenderCache) -> Rendered:
    """To coordinators: an urgent need nobody has taken yet, and who was asked."""
    language = cache.language(job)
    need, described = await _described_need(cache, job)
    level = int(job.params.get("level") or 1)
    lines = [i18n.html_text(language, f"need.header.escalation.{min(level, 2)}", ref=need.ref)]
    lines += described
    asked = await cache.services.needs.asked_offers(need.id)
    names = ", ".join(offer.name for offer, _ in asked) or "–"
    lines.append(i18n.html_text(language, "need.asked", offers=names))
    return Rendered("\n".join(lines))


async def render_places_reminder(job: Job, cache: RenderCache) -> Rendered:
    """To the maintainers of an offer whose places report is stale or missing."""
    language = cache.language(job)
    services = cache.services
    offer = await cache.offer(int(job.params["offer"] or 0))
    state = places_line(offer, services.clock.now(), services.offers.stale_after, language)
    return Rendered(
        i18n.html_text(language, "places.reminder", offer=offer.name, state=Markup(state)),
        maintenance_keyboard(offer, language),
    )
