"""The offers the support-system stories start from, and their maintainers: shared by the service
tests, the end-to-end tests and the support history of the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.membership import ADMIN_ACTOR
from bot.network import load_network
from bot.offers.files import parse_offers_toml
from bot.offers.offers import OfferService

# Shelters in Rostock (HRO), the Rostock district (LRO) and Vorpommern-Greifswald (VG), and a
# counselling centre on forced marriage in Rostock. Contacts are invented.
SHELTERS = """
[[offer]]
id = "fh-nord"
name = "Frauenhaus Nord"
kind = "shelter"
topics = ["domestic_violence"]
languages = ["de", "en"]
regions = ["HRO"]
contact = "Notruf 0000 100 (erfunden)"

[[offer]]
id = "fh-land"
name = "Frauenhaus Land"
kind = "shelter"
topics = ["domestic_violence"]
languages = ["de"]
regions = ["LRO"]
contact = "Notruf 0000 200 (erfunden)"

[[offer]]
id = "fh-ost"
name = "Frauenhaus Ost"
kind = "shelter"
topics = ["domestic_violence"]
languages = ["de", "ar"]
regions = ["VG"]

[[offer]]
id = "bs-nord"
name = "Beratung Nord"
kind = "counselling"
topics = ["forced_marriage"]
languages = ["de", "ar"]
regions = ["HRO"]
"""

MemberFactory = Callable[[str, str, str, str], Awaitable[int]]  # sector, region, role, name


async def import_shelters(offers: OfferService, text: str = SHELTERS) -> dict[str, int]:
    """Import the offers as the operator does; their ids by code."""
    await offers.import_offers(ADMIN_ACTOR, parse_offers_toml(text, load_network()))
    return {o.code: o.id for o in await offers.all_offers()}


async def name_keepers(
    offers: OfferService, ids: dict[str, int], member: MemberFactory
) -> dict[str, int]:
    """A statewide coordinator names one maintainer ("Pflege <code>") for every offer."""
    coordinator = await member("coordination", "MV", "coordinator", "Stefan Staat")
    keepers = {}
    for code, offer_id in ids.items():
        keepers[code] = await member("victim_support", "HRO", "member", f"Pflege {code}")
        await offers.add_maintainer(coordinator, offer_id, keepers[code])
    return keepers
