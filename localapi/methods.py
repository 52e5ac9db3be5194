"""The Bot API methods the local server implements, with Telegram's checks and error texts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from localapi.commands import CommandLists
from localapi.errors import bad_request, conflict
from localapi.limits import RateLimits
from localapi.sending import Handler, MessageMethods
from localapi.updates import Webhook, WebhookSender
from localapi.world import World

JsonDict = dict[str, Any]

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Name, description and short description: (parameter, maximum length).
_PROFILE_TEXTS = {"name": 64, "description": 512, "short_description": 120}


@dataclass
class BotApiMethods:
    """Each method takes converted parameters and returns the `result` or raises ApiError;
    those about messages are MessageMethods'."""

    world: World
    limits: RateLimits
    commands: CommandLists
    webhook: WebhookSender
    default_menu_button: JsonDict = field(default_factory=lambda: {"type": "default"})
    profile_texts: dict[tuple[str, str], str] = field(default_factory=dict)

    def table(self) -> dict[str, Handler]:
        """Handlers by Bot API method name."""
        handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getMyCommands": self.get_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
        }
        handlers |= MessageMethods(self.world, self.limits).table()
        for text, limit in _PROFILE_TEXTS.items():
            camel = "".join(part.title() for part in text.split("_"))
            handlers[f"setMy{camel}"] = self._profile_setter(text, limit)
            handlers[f"getMy{camel}"] = self._profile_getter(text)
        return handlers

    # --- the bot itself ----------------------------------------------------------------

    async def get_me(self, p: JsonDict) -> JsonDict:
        return self.world.bot.to_api() | {
            "can_join_groups": True,
            "can_read_all_group_messages": not self.world.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def log_out(self, p: JsonDict) -> bool:
        return True

    async def close(self, p: JsonDict) -> bool:
        return True

    def _profile_setter(self, text: str, limit: int) -> Handler:
        async def setter(p: JsonDict) -> bool:
            value = p.get(text, "")
            if len(value) > limit:
                raise bad_request(f"{text} is too long")
            self.profile_texts[(text, p.get("language_code", ""))] = value
            return True

        return setter

    def _profile_getter(self, text: str) -> Handler:
        async def getter(p: JsonDict) -> JsonDict:
            language = p.get("language_code", "")
            value = self.profile_texts.get((text, language), self.profile_texts.get((text, ""), ""))
            if text == "name" and not value:
                value = self.world.bot.first_name
            return {text: value}

        return getter

    # --- updates -----------------------------------------------------------------------

    async def get_updates(self, p: JsonDict) -> list[JsonDict]:
        if self.webhook.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        limit = p.get("limit", 100)
        if not 1 <= limit <= 100:
            limit = 100  # Telegram falls back to the default rather than failing
        queue = self.world.updates
        queue.set_allowed(p.get("allowed_updates"))
        return await queue.poll(p.get("offset"), limit, p.get("timeout", 0))

    async def set_webhook(self, p: JsonDict) -> bool:
        url = p["url"]
        if not url:
            await self.webhook.clear()
            return True
        parts = urlsplit(url)
        # Telegram insists on HTTPS; a local fake has to accept plain HTTP receivers.
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        queue = self.world.updates
        if p.get("drop_pending_updates"):
            queue.drop_pending()
        queue.set_allowed(p.get("allowed_updates"))
        max_connections = min(max(p.get("max_connections", 40), 1), 100)
        webhook = Webhook(url, secret, max_connections, p.get("ip_address"), "certificate" in p)
        queue.terminate_poll("setWebhook request")
        self.webhook.set(webhook)
        return True

    async def delete_webhook(self, p: JsonDict) -> bool:
        await self.webhook.clear()
        if p.get("drop_pending_updates"):
            self.world.updates.drop_pending()
        return True

    async def get_webhook_info(self, p: JsonDict) -> JsonDict:
        webhook = self.webhook.webhook
        queue = self.world.updates
        info: JsonDict = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
            "pending_update_count": len(queue.pending),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            if webhook.ip_address:
                info["ip_address"] = webhook.ip_address
            if queue.allowed:
                info["allowed_updates"] = sorted(queue.allowed)
            if self.webhook.last_error_date is not None:
                info["last_error_date"] = self.webhook.last_error_date
                info["last_error_message"] = self.webhook.last_error_message
        return info

    # --- commands and menu -------------------------------------------------------------

    def _check_scope(self, scope: JsonDict | None) -> None:
        if scope is not None and "chat_id" in scope:
            self.world.known_chat(scope["chat_id"])

    async def set_my_commands(self, p: JsonDict) -> bool:
        self._check_scope(p.get("scope"))
        self.commands.set(p["commands"], p.get("scope"), p.get("language_code", ""))
        return True

    async def delete_my_commands(self, p: JsonDict) -> bool:
        self._check_scope(p.get("scope"))
        self.commands.delete(p.get("scope"), p.get("language_code", ""))
        return True

    async def get_my_commands(self, p: JsonDict) -> list[JsonDict]:
        self._check_scope(p.get("scope"))
        return self.commands.get(p.get("scope"), p.get("language_code", ""))

    async def set_chat_menu_button(self, p: JsonDict) -> bool:
        button = p.get("menu_button", {"type": "default"})
        if "chat_id" not in p:
            self.default_menu_button = button
            return True
        chat = self.world.known_chat(p["chat_id"])
        if chat.type != "private":
            raise bad_request("chat must be a private chat")
        chat.menu_button = button
        return True

    async def get_chat_menu_button(self, p: JsonDict) -> JsonDict:
        if "chat_id" in p:
            chat = self.world.known_chat(p["chat_id"])
            if chat.menu_button is not None:
                return chat.menu_button
        return self.default_menu_button
