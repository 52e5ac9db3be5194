"""How a drill's result looks, shortened to fit one message."""

from __future__ import annotations

from dataclasses import dataclass

from bot import i18n
from bot.delivery import Job
from bot.drills import DrillResult
from bot.membership import MemberView
from bot.network import Network
from handlers.alerts.views import drill_banner
from handlers.common.render import (
    MESSAGE_LIMIT,
    local_time,
    member_text,
    region_name,
    sector_name,
    sectors_text,
)
from handlers.report.views.values import duration
from handlers.transport.outbox import RenderCache, Rendered

# The result message through the outbox must fit into one Telegram message: its lists are
# shortened until it does (/drillresult shows them in full, over several messages).
RESULT_LIST_LIMITS = (25, 10, 3, 0)


async def render_drill_result(job: Job, cache: RenderCache) -> Rendered:
    """The result, to the coordinator who ran the drill, once it is over."""
    assert job.alert_id is not None
    result = await cache.services.drills.result_of(job.alert_id)
    settings = cache.services.settings
    return Rendered(
        result_message(result, cache.services.network, cache.language(job), settings.cora_timezone)
    )


def result_message(result: DrillResult, network: Network, language: str, timezone: str) -> str:
    """The result as one message within Telegram's length limit."""
    for limit in RESULT_LIST_LIMITS:
        text = "\n".join(result_lines(result, network, language, timezone, limit=limit))
        if len(text) <= MESSAGE_LIMIT:
            break
    return text


def result_lines(
    result: DrillResult, network: Network, language: str, timezone: str, *, limit: int | None
) -> list[str]:
    """Reach, the time to each acknowledgement, per sector, and who did not answer (by number
    and name: the coordinator who ran the drill follows up with them)."""
    text = _ResultText(result, network, language, timezone, limit)
    return [*text.head(), *text.acks(), *text.sectors(), *text.people()]


@dataclass(frozen=True)
class _ResultText:
    """The parts of a drill's result, each a list of lines; `limit` shortens the lists."""

    result: DrillResult
    network: Network
    language: str
    timezone: str
    limit: int | None

    def t(self, key: str, **params: object) -> str:
        return i18n.html_text(self.language, key, **params)

    def head(self) -> list[str]:
        """Which drill, how many it reached, and (if any) what was not delivered."""
        result = self.result
        lines = [self._title(), self._reach()]
        if result.unreachable or result.failed or result.pending:
            lines.append(
                self.t(
                    "drill.result.undelivered",
                    unreachable=result.unreachable,
                    failed=result.failed,
                    pending=result.pending,
                )
            )
        return lines

    def _title(self) -> str:
        alert, language = self.result.alert, self.language
        return drill_banner(language, alert) + self.t(
            "drill.result.head",
            ref=alert.ref,
            sectors=sectors_text(self.network, alert.sectors, language),
            region=region_name(self.network, alert.region, language),
            time=local_time(alert.created_at, self.timezone, language),
        )

    def _reach(self) -> str:
        delivered, members = self.result.delivered, self.result.members
        percent = round(100 * delivered / members) if members else 0
        return self.t("drill.result.reach", delivered=delivered, members=members, percent=percent)

    def acks(self) -> list[str]:
        first, acks = self.result.first_ack_seconds, self.result.acks
        lines = [
            self.t("drill.result.first", time=duration(first))
            if first is not None
            else self.t("drill.result.no_ack")
        ]
        if acks:
            lines.append(self.t("drill.result.acks", count=len(acks)))
            listed = [
                self.t(
                    "drill.result.ack",
                    time=duration(ack.seconds),
                    member=member_text(self.network, ack.member, self.language),
                )
                for ack in acks
            ]
            lines.extend(_listed(listed, self.limit, self.language, self.result.alert.ref))
        return lines

    def sectors(self) -> list[str]:
        if len(self.result.sectors) <= 1:
            return []
        return [self.t("drill.result.sectors")] + [
            self.t(
                "drill.result.sector",
                sector=sector_name(self.network, reach.sector, self.language),
                delivered=reach.delivered,
                members=reach.members,
                acknowledged=reach.acknowledged,
                first=duration(reach.first_ack_seconds)
                if reach.first_ack_seconds is not None
                else "–",
            )
            for reach in self.result.sectors
        ]

    def people(self) -> list[str]:
        """Who did not answer, and who was away."""
        lines = []
        ref = self.result.alert.ref
        for key, members in (
            ("drill.result.not_answered", self.result.not_answered),
            ("drill.result.away", self.result.away),
        ):
            if members:
                lines.append(self.t(key, count=len(members)))
                lines.extend(_members(members, self.network, self.language, self.limit, ref))
        return lines


def _members(
    members: tuple[MemberView, ...], network: Network, language: str, limit: int | None, ref: str
) -> list[str]:
    lines = [
        i18n.html_text(language, "drill.result.member", member=member_text(network, m, language))
        for m in members
    ]
    return _listed(lines, limit, language, ref)


def _listed(lines: list[str], limit: int | None, language: str, ref: str) -> list[str]:
    if limit is None or len(lines) <= limit:
        return lines
    more = i18n.html_text(language, "drill.result.more", count=len(lines) - limit, ref=ref)
    return [*lines[:limit], more]
