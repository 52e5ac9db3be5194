"""The context every handler receives: typed access to services and the person's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from bot.alerts import AlertService
from bot.announcements import AnnouncementService
from bot.audit import AuditService
from bot.availability import AvailabilityService
from bot.channels import ChannelService
from bot.clock import Clock
from bot.config import Settings
from bot.data_protection import DataProtectionService
from bot.delivery import DeliveryService
from bot.drills import DrillService
from bot.integrations import IntegrationService
from bot.keys import TextCipher
from bot.membership import MembershipService, MemberView
from bot.network import Network
from bot.offers.needs import NeedService
from bot.offers.offers import OfferService
from bot.polls import PollService
from bot.refusals import RefusalLog
from bot.report import ReportService
from bot.updates import HandledUpdates


@dataclass
class Services:
    """What handlers may call; built once by `bot.app.build_application`."""

    settings: Settings
    network: Network
    clock: Clock
    cipher: TextCipher
    membership: MembershipService
    alerts: AlertService
    deliveries: DeliveryService
    audit: AuditService
    data_protection: DataProtectionService
    integrations: IntegrationService
    channels: ChannelService
    announcements: AnnouncementService
    polls: PollService
    availability: AvailabilityService
    drills: DrillService
    reports: ReportService
    refusals: RefusalLog
    handled_updates: HandledUpdates
    offers: OfferService
    needs: NeedService


class CoraContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Filled by the access gate before any feature handler runs."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.member: MemberView | None = None
        self.language: str = "de"

    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data["services"])

    @property
    def active_member(self) -> MemberView:
        """The verified member behind this update; the gate guarantees it for member handlers."""
        if self.member is None or not self.member.is_active:
            raise PermissionError("handler reached without an active member")
        return self.member
