"""Who may talk to a server that asks for no password (the local Bot API, the sandbox's page):
requests addressed to this computer by name (no DNS rebinding) and, for changes, not from
another site's page (no cross-site forms or scripts)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_LOCAL = 421  # Misdirected Request: addressed to a name that is not this computer
FOREIGN_SITE = 403


def refused_status(
    request: web.Request, *, public: bool, safe_methods: frozenset[str] = SAFE_METHODS
) -> int | None:
    """The status to refuse `request` with, or None. `public`: any Host is answered (never the
    default). Requests with a method in `safe_methods` may come from another site's page."""
    if not public and request.url.host not in LOOPBACK_NAMES:
        return NOT_LOCAL
    if request.method not in safe_methods:
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if (origin is not None and origin != f"{request.scheme}://{request.host}") or (
            site not in (None, "same-origin", "none")
        ):
            return FOREIGN_SITE
    return None


def local_only(*, public: bool = False) -> Middleware:
    """The guard of the local Bot API's port. No page of its own lives there and a plain GET
    can act (`/bot<token>/sendMessage?…`), so every method counts as a change."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        status = refused_status(request, public=public, safe_methods=frozenset())
        if status == NOT_LOCAL:
            return web.Response(status=status, text="Use the local Bot API at 127.0.0.1.")
        if status is not None:
            return web.Response(status=status, text="Requests from other sites are refused.")
        return await handler(request)

    return guard
