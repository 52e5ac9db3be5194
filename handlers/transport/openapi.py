"""The OpenAPI description of the HTTP API for agency systems, with the network's sector and
region codes."""

from __future__ import annotations

import copy
from typing import Any

from bot.network import Network

KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = (
    "X-Cora-Key",
    "X-Cora-Timestamp",
    "X-Cora-Signature",
)
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The schemas' building blocks: the description is serialised to JSON, so sharing them is safe.
_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_STRINGS = {"type": "array", "items": _STRING}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": _STRING},
}
# Printable ASCII, as bot.integrations.signing.IDEMPOTENCY_KEY accepts it; POST requests that
# create something need it.
_IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\x20-\\x7e]+$"},
}
_SIGNED: list[dict[str, list[str]]] = [{"key": [], "timestamp": [], "signature": []}]


def _json(schema: str) -> dict[str, Any]:
    """A JSON body of one of the schemas below."""
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _by_ref(operation: str, found: dict[str, Any], missing: str) -> dict[str, Any]:
    """Reading something the client raised, by its reference."""
    return {
        "get": {
            "operationId": operation,
            "security": _SIGNED,
            "parameters": [{"name": "ref", "in": "path", "required": True, "schema": _STRING}],
            "responses": _responses({"200": found, "404": {"description": missing}}),
        }
    }


def _responses(success: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        **success,
        "400": {"description": "Malformed request", **error},
        "401": {"description": "Unknown key, bad signature or stale timestamp", **error},
        "403": {
            "description": "The region is outside the key's scope (region_outside_scope)",
            **error,
        },
        "409": {
            "description": (
                "Replayed request, or the first request with this Idempotency-Key is still "
                "being handled (idempotency_key_in_progress): retry later"
            ),
            **error,
        },
        "413": {"description": "Body too large", **error},
        "422": {"description": "Refused content (personal data, unknown sector …)", **error},
        "429": {
            "description": "Too many refused requests from this source: wait Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            **error,
        },
        "503": {"description": "Busy; nothing was written, try again", **error},
    }


def openapi(network: Network) -> dict[str, Any]:
    """The OpenAPI description, with this network's sector and region codes."""
    sector = {"type": "string", "enum": [*network.sectors, "all"]}
    spec: dict[str, Any] = copy.deepcopy(_OPENAPI)
    fields = spec["components"]["schemas"]["NewAlert"]["properties"]
    fields["sectors"] = {
        "oneOf": [
            {**sector, "description": "one sector, or 'all'"},
            {"type": "array", "items": sector, "minItems": 1, "uniqueItems": True},
        ]
    }
    fields["region"] = {"type": "string", "enum": list(network.regions)}
    what = {"type": "string", "enum": [*network.offer_kinds, *network.topics]}
    need = spec["components"]["schemas"]["NewNeed"]["properties"]
    need["what"] = {**what, "description": "a kind of offer or a topic of the network file"}
    need["region"] = {"type": "string", "enum": list(network.regions)}
    need["accessibility"] = {"type": "string", "enum": list(network.accessibility)}
    parameters = spec["paths"]["/api/v1/offers"]["get"]["parameters"]
    parameters[0]["schema"] = what
    parameters[1]["schema"] = {"type": "string", "enum": list(network.regions)}
    parameters[3]["schema"] = {"type": "string", "enum": list(network.accessibility)}
    return spec


_OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "cora-bot API for agency systems",
        "version": "1.0.0",
        "description": (
            "Raise pseudonymised case alerts and read their state. Sign each request: "
            "X-Cora-Signature = hex(HMAC-SHA256(key=SHA-256(api key), message=METHOD + '\\n' + "
            "path with query + '\\n' + X-Cora-Timestamp + '\\n' + hex(SHA-256(body)))). "
            "The timestamp (Unix seconds) must be within 5 minutes; a signed request is "
            "accepted once. POST needs an Idempotency-Key (printable ASCII): it is kept in the "
            "same transaction as the alert, so a retry with the same key, also a concurrent "
            "one, returns the first answer (or 409 idempotency_key_in_progress while the first "
            "request is still being handled) and never raises a second alert. "
            "A key raises alerts only in its own region (any sectors there); a key of the "
            "statewide region may raise alerts in every region. Other regions are refused "
            "with 403 region_outside_scope, naming allowed_regions. "
            "Refused unauthenticated requests are counted per source (remote address and key "
            "id); a source that exceeds its budget gets 429 with Retry-After."
        ),
    },
    "components": {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": KEY_HEADER},
            "timestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER},
            "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER},
        },
        "schemas": {
            "NewAlert": {
                "type": "object",
                "required": ["sectors", "region", "text"],
                "additionalProperties": False,
                "properties": {
                    "sectors": {
                        "oneOf": [
                            {"type": "string", "description": "comma-separated, or 'all'"},
                            {"type": "array", "items": _STRING, "minItems": 1},
                        ]
                    },
                    "region": {"type": "string", "example": "HRO"},
                    "urgency": {
                        "type": "string",
                        "enum": ["urgent", "normal"],
                        "default": "normal",
                    },
                    "text": {"type": "string", "maxLength": 3500},
                    "confirm_personal_data": {"type": "boolean", "default": False},
                },
            },
            "Raised": {
                "type": "object",
                "required": ["ref", "status", "urgency", "recipients"],
                "properties": {
                    "ref": {"type": "string", "example": "F-2026-0042"},
                    "status": _STRING,
                    "urgency": _STRING,
                    "recipients": _INTEGER,
                },
            },
            "NewNeed": {
                "type": "object",
                "required": ["what", "region", "case_ref"],
                "additionalProperties": False,
                "properties": {
                    "what": {"type": "string", "example": "shelter"},
                    "region": {"type": "string", "example": "HRO"},
                    "case_ref": {
                        "type": "string",
                        "maxLength": 60,
                        "description": "a pseudonymous case reference (checked for personal "
                        "data like alert texts)",
                    },
                    "note": {"type": "string", "maxLength": 500},
                    "adults": {"type": "integer", "minimum": 0, "maximum": 20},
                    "children": {"type": "integer", "minimum": 0, "maximum": 20},
                    "language": {"type": "string", "example": "ar"},
                    "accessibility": _STRING,
                    "urgency": {
                        "type": "string",
                        "enum": ["urgent", "normal"],
                        "default": "normal",
                    },
                    "confirm_personal_data": {"type": "boolean", "default": False},
                },
            },
            "RaisedNeed": {
                "type": "object",
                "required": ["ref", "status", "offers_asked"],
                "properties": {
                    "ref": {"type": "string", "example": "B-2026-0007"},
                    "status": {"type": "string", "enum": ["open", "unmet"]},
                    "offers_asked": _INTEGER,
                    "unmet_reason": {"type": "string", "nullable": True},
                },
            },
            "NeedState": {
                "type": "object",
                "required": ["ref", "status"],
                "properties": {
                    "ref": _STRING,
                    "status": {"type": "string", "enum": ["open", "taken", "unmet"]},
                    "what": _STRING,
                    "region": _STRING,
                    "urgency": _STRING,
                    "created_at": _TIME,
                    "stage": {
                        "type": "integer",
                        "description": "0 the region, 1 also its neighbours, 2 the whole state",
                    },
                    "offers_asked": _INTEGER,
                    "declined": _INTEGER,
                    "taken_by_offer": {
                        "type": "object",
                        "nullable": True,
                        "properties": {
                            "id": _STRING,
                            "name": _STRING,
                            "contact": _STRING,
                        },
                    },
                    "taken_at": {"type": "string", "format": "date-time", "nullable": True},
                    "unmet_reason": {
                        "type": "string",
                        "nullable": True,
                        "enum": [
                            "no_offer",
                            "no_places",
                            "language",
                            "accessibility",
                            "nobody_answered",
                            None,
                        ],
                    },
                },
            },
            "Offers": {
                "type": "object",
                "required": ["what", "region", "offers"],
                "properties": {
                    "what": _STRING,
                    "region": _STRING,
                    "offers": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Offer"},
                    },
                },
            },
            "Offer": {
                "type": "object",
                "required": ["id", "name", "kind", "regions", "distance"],
                "properties": {
                    "id": _STRING,
                    "name": _STRING,
                    "kind": _STRING,
                    "topics": _STRINGS,
                    "target_groups": _STRINGS,
                    "languages": _STRINGS,
                    "accessibility": _STRINGS,
                    "regions": _STRINGS,
                    "distance": {
                        "type": "integer",
                        "description": "0 serves the region, 1 a neighbouring one, 2 further",
                    },
                    "contact": _STRING,
                    "hours": _STRING,
                    "places": {
                        "type": "object",
                        "nullable": True,
                        "description": "offers with places only",
                        "properties": {
                            "free": {
                                "type": "integer",
                                "nullable": True,
                                "description": "null: unknown (never reported, or the report "
                                "is older than PLACES_STALE_AFTER)",
                            },
                            "reported_at": {
                                "type": "string",
                                "format": "date-time",
                                "nullable": True,
                            },
                        },
                    },
                    "waiting_days": {"type": "integer", "nullable": True},
                    "waiting_reported_at": {
                        "type": "string",
                        "format": "date-time",
                        "nullable": True,
                    },
                },
            },
            "AlertState": {
                "type": "object",
                "required": ["ref", "status", "recipients", "delivered", "acknowledged"],
                "properties": {
                    "ref": _STRING,
                    "status": {"type": "string", "enum": ["open", "closed"]},
                    "urgency": _STRING,
                    "sectors": _STRINGS,
                    "region": _STRING,
                    "created_at": _TIME,
                    "recipients": _INTEGER,
                    "delivered": _INTEGER,
                    "pending": _INTEGER,
                    "unreachable": _INTEGER,
                    "failed": _INTEGER,
                    "acknowledged": _INTEGER,
                    "taken_over": {"type": "boolean"},
                    "taken_over_at": {"type": "string", "format": "date-time", "nullable": True},
                    "escalation_level": _INTEGER,
                },
            },
        },
    },
    "paths": {
        "/api/v1/alerts": {
            "post": {
                "operationId": "raiseAlert",
                "security": _SIGNED,
                "parameters": [_IDEMPOTENCY_PARAMETER],
                "requestBody": {
                    "required": True,
                    "content": _json("NewAlert"),
                },
                "responses": _responses(
                    {
                        "201": _answer(
                            "Raised (or the first answer to this Idempotency-Key)", "Raised"
                        ),
                        "429": {
                            "description": (
                                "Too many urgent alerts from this key in the last hour "
                                "(ALERT_URGENT_PER_HOUR): `limit`, and `retry_after` in "
                                "seconds (also the Retry-After header)"
                            ),
                            "content": {"application/json": {"schema": _ERROR}},
                        },
                    }
                ),
            }
        },
        "/api/v1/offers": {
            "get": {
                "operationId": "findOffers",
                "security": _SIGNED,
                "description": (
                    "Offers like /find: matching active offers, nearest region first. The region "
                    "(default: the key's own) must be within the key's scope."
                ),
                "parameters": [
                    {"name": "what", "in": "query", "required": True, "schema": _STRING},
                    {"name": "region", "in": "query", "schema": _STRING},
                    {"name": "language", "in": "query", "schema": _STRING},
                    {"name": "accessibility", "in": "query", "schema": _STRING},
                ],
                "responses": _responses(
                    {"200": _answer("Matching offers, nearest first", "Offers")}
                ),
            }
        },
        "/api/v1/needs": {
            "post": {
                "operationId": "raiseNeed",
                "security": _SIGNED,
                "description": (
                    "Raise a need: it goes to the maintainers of matching offers in the region, "
                    "then its neighbours, then the state; unmet after NEED_UNMET_AFTER. A key "
                    "raises needs only in its own region (a statewide key in every region)."
                ),
                "parameters": [_IDEMPOTENCY_PARAMETER],
                "requestBody": {
                    "required": True,
                    "content": _json("NewNeed"),
                },
                "responses": _responses(
                    {
                        "201": _answer(
                            "Raised (or the first answer to this Idempotency-Key)", "RaisedNeed"
                        )
                    }
                ),
            }
        },
        "/api/v1/needs/{ref}": _by_ref(
            "needState",
            _answer("The need's course: offers asked, taken by, unmet", "NeedState"),
            "No need of this client with this reference",
        ),
        "/api/v1/alerts/{ref}": _by_ref(
            "alertState",
            _answer("Delivery and acknowledgement state (counts only)", "AlertState"),
            "No alert of this client with this reference",
        ),
    },
}
