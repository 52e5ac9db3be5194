"""Agency systems (police dispatch, case systems) that raise alerts and needs and find offers
through the HTTP API."""

from __future__ import annotations

from bot.integrations.service import IntegrationService
from bot.integrations.signing import ApiRefusal, Client, CreatedClient, sign

__all__ = ["ApiRefusal", "Client", "CreatedClient", "IntegrationService", "sign"]
