"""The sandbox's web app: the page and its fragments, forms to act as a person, the files the bot
sent, and the local Bot API's control API (/_sim) for the page's live updates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from bot import i18n
from bot.app import CoraBot
from handlers.common.render import region_name, sector_name
from localapi.chats import SimMessage
from localapi.control import ControlApi
from localapi.guard import NOT_LOCAL, refused_status
from localapi.images import image_size
from localapi.people import SimUser
from localapi.server import LocalBotApi
from sandbox.people import FIRST_SHOWN, SandboxPerson
from sandbox.render import (
    Html,
    Profile,
    View,
    commands_list,
    message_item,
    page,
    phone,
)

STATIC = Path(str(resources.files("sandbox").joinpath("static")))
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_NAME = 64
INVITATION_ANSWER_SECONDS = 10.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_json(request: web.Request) -> bool:
    """The page's script asks for JSON; a plain form post is answered with a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def _problem(request: web.Request, status: int, message: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=message)


def _shown_ids(values: Sequence[str]) -> list[int]:
    """`show=1,2` or `show=1&show=2` as ids, in order, without repetitions."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit() and int(part) not in ids:
                ids.append(int(part))
    return ids


class SandboxSite:
    """Everything served on the sandbox's port."""

    def __init__(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        people: Sequence[SandboxPerson],
        language: str,
        *,
        public: bool = False,
    ) -> None:
        self._api = api
        self._cora = cora
        self._people = list(people)
        self._language = language
        self._public = public
        self._timezone = ZoneInfo(cora.settings.cora_timezone)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=2**20)
        app.router.add_get("/", self.index)
        app.router.add_get("/sandbox/users/{user_id}/phone", self.phone_fragment)
        app.router.add_get("/sandbox/users/{user_id}/messages/{message_id}", self.message_fragment)
        app.router.add_get("/sandbox/users/{user_id}/commands", self.commands_fragment)
        app.router.add_get("/sandbox/users/{user_id}/profile", self.profile)
        app.router.add_post("/sandbox/users/{user_id}/send", self.send)
        app.router.add_post("/sandbox/users/{user_id}/press", self.press)
        app.router.add_post("/sandbox/people", self.add_person)
        app.router.add_get("/sandbox/files/{file_id}", self.file)
        app.router.add_static("/sandbox/static", STATIC)
        app.router.add_get("/favicon.ico", self.favicon)
        control = ControlApi(self._api)
        app.add_routes(control.routes())
        app.on_shutdown.append(control.end_streams)
        app.on_response_prepare.append(self._headers)
        return app

    # -- guard ---------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Nothing here asks for a password, so: only requests addressed to this computer (no
        DNS rebinding), and changes only from the page itself (no other site's forms)."""
        status = refused_status(request, public=self._public)
        if status == NOT_LOCAL:
            return web.Response(status=status, text="Open the sandbox at http://127.0.0.1:<port>/")
        if status is not None:
            return web.Response(status=status, text="Only the sandbox page may act here.")
        return await handler(request)

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    # -- reading -------------------------------------------------------------------------

    def _view(self, request: web.Request) -> View:
        language = request.query.get("lang", self._language)
        if language not in i18n.LANGUAGES:
            language = self._language
        username = self._api.world.bot.username or ""
        return View(language, self._timezone, username)

    def _user(self, request: web.Request) -> SimUser:
        try:
            return self._api.get_user(int(request.match_info["user_id"]))
        except (KeyError, ValueError):
            raise web.HTTPNotFound(text="no such person") from None

    async def _profile(self, view: View, user: SimUser) -> Profile:
        member = await self._cora.services.membership.find_by_telegram(user.id)
        if member is None or not member.display_name:
            name = " ".join(filter(None, (user.first_name, user.account.last_name)))
            return Profile(user.id, name, view.t("sandbox.not_member"))
        network, language = self._cora.services.network, view.language
        parts = [
            sector_name(network, member.sector, language),
            region_name(network, member.region, language),
            view.t(f"role.{member.role}"),
        ]
        if not member.is_active:
            parts.append(view.t(f"status.{member.status}"))
        return Profile(user.id, member.display_name, " · ".join(parts))

    async def _language_of(self, user: SimUser) -> str:
        """The language the bot speaks with this person (their choice, else their client's)."""
        member = await self._cora.services.membership.find_by_telegram(user.id)
        default = self._cora.settings.cora_default_language
        return i18n.pick_language(member.language if member else None, user.language_code, default)

    async def _seen_button(self) -> str:
        """The "seen" button as the example's recipient (Kim Polizei) sees it in their chat,
        whatever the page's own language."""
        kim = next((p.user for p in self._people if p.persona.sector == "police"), None)
        language = await self._language_of(kim) if kim else self._language
        return i18n.text(language, "button.ack")

    async def _phone(self, view: View, user: SimUser) -> Html:
        profile = await self._profile(view, user)
        return phone(view, profile, user, self._api.commands_shown_to(user))

    def _default_shown(self) -> list[int]:
        return [person.user.id for person in self._people[:FIRST_SHOWN]]

    async def index(self, request: web.Request) -> web.Response:
        view = self._view(request)
        events_seen = len(self._api.world.events)  # the page's script resumes from here
        known = {user.id: user for user in self._api.users}
        requested = _shown_ids(request.query.getall("show", []))
        shown = [i for i in requested if i in known] if "show" in request.query else []
        if "show" not in request.query:
            shown = self._default_shown()
        profiles = [await self._profile(view, user) for user in known.values()]
        phones = [await self._phone(view, known[i]) for i in shown]
        html = page(view, profiles, shown, phones, events_seen, await self._seen_button())
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def phone_fragment(self, request: web.Request) -> web.Response:
        html = await self._phone(self._view(request), self._user(request))
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def commands_fragment(self, request: web.Request) -> web.Response:
        """The command menu the person's client shows now (it changes when they join)."""
        user = self._user(request)
        html = commands_list(self._view(request), self._api.commands_shown_to(user), user.id)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def profile(self, request: web.Request) -> web.Response:
        """Name and details of the phone's header: they change when the person joins."""
        profile = await self._profile(self._view(request), self._user(request))
        return web.json_response({"name": profile.name, "details": profile.details})

    @staticmethod
    async def favicon(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    async def message_fragment(self, request: web.Request) -> web.Response:
        view, user = self._view(request), self._user(request)
        message = self._message(user, request.match_info["message_id"])
        if message is None:
            raise web.HTTPNotFound(text="no such message")
        html = message_item(view, await self._profile(view, user), message)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    @staticmethod
    def _message(user: SimUser, message_id: object) -> SimMessage | None:
        try:
            wanted = int(str(message_id))
        except ValueError:
            return None
        return next((m for m in user.history if m.message_id == wanted), None)

    async def file(self, request: web.Request) -> web.Response:
        """A file the bot sent: pictures inline, everything else only as a download."""
        wanted = request.match_info["file_id"]
        stored = next(
            (f for f in self._api.world.files.values() if f.file_unique_id == wanted), None
        )
        if stored is None or stored.data is None:
            raise web.HTTPNotFound(text="no such file")
        if stored.width and image_size(stored.data) is not None:
            kind = {b"\x89P": "image/png", b"GI": "image/gif"}.get(stored.data[:2], "image/jpeg")
            return web.Response(body=stored.data, content_type=kind)
        name = (stored.file_name or "file").replace('"', "").replace("\\", "")
        return web.Response(
            body=stored.data,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- acting --------------------------------------------------------------------------

    def _done(
        self, request: web.Request, payload: dict[str, Any], shown: int | None = None
    ) -> web.Response:
        """Answer the script with JSON; send a plain form back to the page it came from (with
        `shown`, showing that person too)."""
        if _wants_json(request):
            return web.json_response(payload, status=201)
        referer = urlsplit(request.headers.get("Referer", ""))
        query = parse_qs(referer.query if referer.netloc == request.host else "")
        if shown is not None:
            ids = _shown_ids(query.get("show", [])) if "show" in query else self._default_shown()
            query["show"] = [",".join(str(i) for i in [*ids, shown])]
        location = "/?" + urlencode(query, doseq=True) if query else "/"
        return web.Response(status=303, headers={"Location": location})

    async def send(self, request: web.Request) -> web.Response:
        user = self._user(request)
        form = await request.post()
        # A form sends a text field's lines with CRLF; Telegram's clients send LF.
        text = str(form.get("text", "")).replace("\r\n", "\n").strip()
        if not text:
            return _problem(request, 400, "empty message")
        try:
            sent = user.send(text)
        except RuntimeError as error:
            return _problem(request, 409, str(error))
        return self._done(request, {"message_id": sent["message_id"]})

    async def press(self, request: web.Request) -> web.Response:
        user = self._user(request)
        form = await request.post()
        message = self._message(user, form.get("message_id", ""))
        button = form.get("button")
        if message is None or not isinstance(button, str):
            return _problem(request, 404, "no such message")
        try:
            press = user.press(button, message)
        except LookupError as error:
            return _problem(request, 404, str(error))
        except RuntimeError as error:
            return _problem(request, 409, str(error))
        return self._done(request, {"callback_query_id": press.id})

    async def add_person(self, request: web.Request) -> web.Response:
        """A new Telegram account; with `start`, it opens that invitation link at once. When
        the bot refuses the invitation, the account is removed again and the bot's answer is
        the error: a refused link leaves nobody behind."""
        form = await request.post()
        view = self._view(request)
        language = str(form.get("lang", view.language))
        token = str(form.get("start", ""))
        name = str(form.get("first_name", "")).strip()[:MAX_NAME]
        if not name:
            name = view.t("sandbox.newcomer", number=len(self._api.users) + 1)
        user = self._api.user(
            first_name=name, language_code=language if language in i18n.LANGUAGES else None
        )
        if token:
            user.send(f"/start {token}")
            try:
                answer = await user.wait_for(lambda m: True, INVITATION_ANSWER_SECONDS)
            except TimeoutError:
                answer = None
            member = await self._cora.services.membership.find_by_telegram(user.id)
            if member is None:
                self._api.remove_user(user.id)
                refusal = answer.text if answer is not None else view.t("sandbox.no_answer")
                return _problem(request, 409, refusal)
        return self._done(request, {"user_id": user.id, "first_name": name}, shown=user.id)
