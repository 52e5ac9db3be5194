"""The Bot API methods the local server implements, with Telegram's checks and error texts."""

from __future__ import annotations

import mimetypes
import posixpath
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from localapi.chats import CallbackAnswer, Chat, Poll, SimMessage, StoredFile
from localapi.commands import CommandLists
from localapi.errors import bad_request, conflict
from localapi.images import image_size
from localapi.keyboards import Markup, check_inline_keyboard, check_markup
from localapi.limits import RateLimits
from localapi.spec import UploadedFile
from localapi.text import caption_text, message_text, parse, trim
from localapi.updates import Webhook, WebhookSender
from localapi.utf16 import utf16_len
from localapi.world import World

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict], Awaitable[Any]]

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Name, description and short description: (parameter, maximum length).
_PROFILE_TEXTS = {"name": 64, "description": 512, "short_description": 120}


def _preview(p: JsonDict) -> bool:
    """Whether Telegram would show a link preview (the default) for this text."""
    options = p.get("link_preview_options") or {}
    return not options.get("is_disabled", False)


class BotApiMethods:
    """Each method takes converted parameters and returns the `result` or raises ApiError."""

    def __init__(
        self,
        world: World,
        limits: RateLimits,
        commands: CommandLists,
        webhook: WebhookSender,
    ) -> None:
        self._world = world
        self._limits = limits
        self._commands = commands
        self._webhook = webhook
        self.default_menu_button: JsonDict = {"type": "default"}
        self.profile_texts: dict[tuple[str, str], str] = {}

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
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "getFile": self.get_file,
            "sendPoll": self.send_poll,
            "stopPoll": self.stop_poll,
        }
        for text, limit in _PROFILE_TEXTS.items():
            camel = "".join(part.title() for part in text.split("_"))
            handlers[f"setMy{camel}"] = self._profile_setter(text, limit)
            handlers[f"getMy{camel}"] = self._profile_getter(text)
        return handlers

    # --- the bot itself ----------------------------------------------------------------

    async def get_me(self, p: JsonDict) -> JsonDict:
        return self._world.bot.to_api() | {
            "can_join_groups": True,
            "can_read_all_group_messages": not self._world.privacy_mode,
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
                value = self._world.bot.first_name
            return {text: value}

        return getter

    # --- updates -----------------------------------------------------------------------

    async def get_updates(self, p: JsonDict) -> list[JsonDict]:
        if self._webhook.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        limit = p.get("limit", 100)
        if not 1 <= limit <= 100:
            limit = 100  # Telegram falls back to the default rather than failing
        queue = self._world.updates
        queue.set_allowed(p.get("allowed_updates"))
        return await queue.poll(p.get("offset"), limit, p.get("timeout", 0))

    async def set_webhook(self, p: JsonDict) -> bool:
        url = p["url"]
        if not url:
            await self._webhook.clear()
            return True
        parts = urlsplit(url)
        # Telegram insists on HTTPS; a local fake has to accept plain HTTP receivers.
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        queue = self._world.updates
        if p.get("drop_pending_updates"):
            queue.drop_pending()
        queue.set_allowed(p.get("allowed_updates"))
        max_connections = min(max(p.get("max_connections", 40), 1), 100)
        webhook = Webhook(url, secret, max_connections, p.get("ip_address"), "certificate" in p)
        queue.terminate_poll("setWebhook request")
        self._webhook.set(webhook)
        return True

    async def delete_webhook(self, p: JsonDict) -> bool:
        await self._webhook.clear()
        if p.get("drop_pending_updates"):
            self._world.updates.drop_pending()
        return True

    async def get_webhook_info(self, p: JsonDict) -> JsonDict:
        webhook = self._webhook.webhook
        queue = self._world.updates
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
            if self._webhook.last_error_date is not None:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    # --- commands and menu -------------------------------------------------------------

    def _check_scope(self, scope: JsonDict | None) -> None:
        if scope is not None and "chat_id" in scope:
            self._world.known_chat(scope["chat_id"])

    async def set_my_commands(self, p: JsonDict) -> bool:
        self._check_scope(p.get("scope"))
        self._commands.set(p["commands"], p.get("scope"), p.get("language_code", ""))
        return True

    async def delete_my_commands(self, p: JsonDict) -> bool:
        self._check_scope(p.get("scope"))
        self._commands.delete(p.get("scope"), p.get("language_code", ""))
        return True

    async def get_my_commands(self, p: JsonDict) -> list[JsonDict]:
        self._check_scope(p.get("scope"))
        return self._commands.get(p.get("scope"), p.get("language_code", ""))

    async def set_chat_menu_button(self, p: JsonDict) -> bool:
        button = p.get("menu_button", {"type": "default"})
        if "chat_id" not in p:
            self.default_menu_button = button
            return True
        chat = self._world.known_chat(p["chat_id"])
        if chat.type != "private":
            raise bad_request("chat must be a private chat")
        chat.menu_button = button
        return True

    async def get_chat_menu_button(self, p: JsonDict) -> JsonDict:
        if "chat_id" in p:
            chat = self._world.known_chat(p["chat_id"])
            if chat.menu_button is not None:
                return chat.menu_button
        return self.default_menu_button

    # --- sending -----------------------------------------------------------------------

    def _reply_target(self, chat: Chat, reply: JsonDict | None) -> SimMessage | None:
        if reply is None:
            return None
        target_chat = chat
        if reply.get("chat_id") not in (None, chat.id):
            target_chat = self._world.known_chat(reply["chat_id"])
        target = target_chat.find(reply["message_id"])
        if target is None and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target if target_chat is chat else None

    def _deliver(self, method: str, chat: Chat, p: JsonDict, **fields: Any) -> SimMessage:
        """The common tail of every send: markup, reply, flood limit, delivery."""
        markup: Markup = check_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat, p.get("reply_parameters"))
        self._limits.admit(method, chat.id)
        keyboard = markup.chat_keyboard
        if keyboard is not None and "force_reply" not in keyboard:
            chat.reply_keyboard = None if keyboard.get("remove_keyboard") else keyboard
        return self._world.deliver(
            chat,
            reply_markup=markup.inline,
            reply_to=reply_to,
            disable_notification=p.get("disable_notification", False),
            protect_content=p.get("protect_content", False),
            **fields,
        )

    async def send_message(self, p: JsonDict) -> JsonDict:
        chat = self._world.writable_chat(p["chat_id"])
        text, entities = message_text(p["text"], p.get("parse_mode"), p.get("entities"))
        return self._deliver(
            "sendMessage", chat, p, text=text, entities=entities, link_preview=_preview(p)
        ).to_api()

    def _stored_file(self, value: UploadedFile | str, photo: bool = False) -> StoredFile:
        world = self._world
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            width = height = 0
            if photo:
                size = image_size(value.data)
                if size is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                width, height = size
            mime = value.content_type or mimetypes.guess_type(value.filename)[0]
            return world.store_file(value.data, value.filename or None, mime, width, height)
        existing = world.files.get(value)
        if existing is not None:
            return existing
        if urlsplit(value).scheme in ("http", "https"):
            # The fake does not download; the file exists with its name but without bytes.
            name = posixpath.basename(urlsplit(value).path) or None
            mime = mimetypes.guess_type(name or "")[0]
            return world.store_file(None, name, mime, 1 if photo else 0, 1 if photo else 0)
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def send_document(self, p: JsonDict) -> JsonDict:
        chat = self._world.writable_chat(p["chat_id"])
        stored = self._stored_file(p["document"])
        caption, entities = caption_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities")
        )
        return self._deliver(
            "sendDocument", chat, p, document=stored, text=caption, entities=entities
        ).to_api()

    async def send_photo(self, p: JsonDict) -> JsonDict:
        chat = self._world.writable_chat(p["chat_id"])
        stored = self._stored_file(p["photo"], photo=True)
        caption, entities = caption_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities")
        )
        return self._deliver(
            "sendPhoto", chat, p, photo_file=stored, text=caption, entities=entities
        ).to_api()

    async def send_chat_action(self, p: JsonDict) -> bool:
        chat = self._world.writable_chat(p["chat_id"])
        if p["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._world.chat_action(chat, p["action"])
        return True

    async def get_chat(self, p: JsonDict) -> JsonDict:
        return self._world.known_chat(p["chat_id"]).full_info()

    async def get_file(self, p: JsonDict) -> JsonDict:
        stored = self._world.files.get(p["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.file_api()

    # --- polls -------------------------------------------------------------------------

    def _poll_text(
        self, text: str, mode: str | None, entities: list[JsonDict] | None, limit: int, what: str
    ) -> tuple[str, list[JsonDict]]:
        plain, found = trim(*parse(text, mode, entities))
        if not plain:
            raise bad_request(f"poll {what} must be non-empty")
        if utf16_len(plain) > limit:
            raise bad_request(f"poll {what} length must not exceed {limit}")
        return plain, found

    async def send_poll(self, p: JsonDict) -> JsonDict:
        chat = self._world.writable_chat(p["chat_id"])
        question, question_entities = self._poll_text(
            p["question"], p.get("question_parse_mode"), p.get("question_entities"), 300, "question"
        )
        options = p["options"]
        if not 2 <= len(options) <= 12:
            raise bad_request("poll must have 2-12 options")
        texts = [
            self._poll_text(
                o["text"], o.get("text_parse_mode"), o.get("text_entities"), 100, "options"
            )[0]
            for o in options
        ]
        kind = p.get("type", "regular")
        if kind not in ("regular", "quiz"):
            raise bad_request("poll type is invalid")
        correct = p.get("correct_option_ids") or (
            [p["correct_option_id"]] if "correct_option_id" in p else []
        )
        if kind == "quiz" and (not correct or any(not 0 <= i < len(texts) for i in correct)):
            raise bad_request("wrong correct option ID specified")
        if kind == "regular" and correct:
            raise bad_request("correct option IDs can be specified only for quizzes")
        poll = Poll(
            id=str(5_000_000_000_000 + self._world.serial()),
            question=question,
            question_entities=question_entities,
            options=texts,
            is_anonymous=p.get("is_anonymous", True),
            type=kind,
            allows_multiple_answers=p.get("allows_multiple_answers", False),
            correct_option_ids=list(correct),
            is_closed=p.get("is_closed", False),
        )
        return self._deliver("sendPoll", chat, p, poll=poll).to_api()

    async def stop_poll(self, p: JsonDict) -> JsonDict:
        chat = self._world.known_chat(p["chat_id"])
        message = chat.find(p["message_id"])
        if message is None or message.poll is None or not message.from_bot:
            raise bad_request("message with poll to stop not found")
        if message.poll.is_closed:
            raise bad_request("poll has already been closed")
        if "reply_markup" in p:
            message.reply_markup = check_inline_keyboard(p["reply_markup"])
        self._world.poll_stopped(message, message.poll)
        return message.poll.to_api()

    # --- changing sent messages --------------------------------------------------------

    def _message_to_edit(self, p: JsonDict) -> tuple[Chat, SimMessage]:
        if "inline_message_id" in p:
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        if "message_id" not in p:
            raise bad_request("message identifier is not specified")
        chat = self._world.writable_chat(p["chat_id"])
        message = chat.find(p["message_id"])
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    async def edit_message_text(self, p: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(p)
        if message.has_media or message.poll is not None:
            raise bad_request("there is no text in the message to edit")
        if "text" not in p:
            raise bad_request("message text is empty")
        text, entities = message_text(p["text"], p.get("parse_mode"), p.get("entities"))
        # Without reply_markup an edit removes the inline keyboard, as in Telegram.
        markup = check_inline_keyboard(p.get("reply_markup"))
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._limits.admit("editMessageText", chat.id)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.link_preview = _preview(p)
        self._world.edited(message)
        return message.to_api()

    async def edit_message_caption(self, p: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(p)
        if not message.has_media:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = caption_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities")
        )
        markup = check_inline_keyboard(p.get("reply_markup"))
        if (caption, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._limits.admit("editMessageCaption", chat.id)
        message.text, message.entities, message.reply_markup = caption, entities, markup
        self._world.edited(message)
        return message.to_api()

    async def edit_message_reply_markup(self, p: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(p)
        markup = check_inline_keyboard(p.get("reply_markup"))
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self._limits.admit("editMessageReplyMarkup", chat.id)
        message.reply_markup = markup
        self._world.edited(message)
        return message.to_api()

    def _deletable(self, chat: Chat, message_id: int) -> SimMessage | None:
        message = chat.find(message_id)
        # In groups a bot without admin rights may delete only its own messages.
        if message is not None and chat.type != "private" and not message.from_bot:
            raise bad_request("message can't be deleted")
        return message

    async def delete_message(self, p: JsonDict) -> bool:
        chat = self._world.known_chat(p["chat_id"])
        message = self._deletable(chat, p["message_id"])
        if message is None:
            raise bad_request("message to delete not found")
        self._world.delete(message)
        return True

    async def delete_messages(self, p: JsonDict) -> bool:
        chat = self._world.known_chat(p["chat_id"])
        if not 1 <= len(p["message_ids"]) <= 100:
            raise bad_request("too many message identifiers specified")
        for message_id in p["message_ids"]:
            message = self._deletable(chat, message_id)
            if message is not None:
                self._world.delete(message)
        return True

    async def answer_callback_query(self, p: JsonDict) -> bool:
        press = self._world.presses.get(p["callback_query_id"])
        if press is None or press.answered is not None:
            raise bad_request(QUERY_TOO_OLD)
        text = p.get("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            text=text or None,
            show_alert=p.get("show_alert", False),
            url=p.get("url"),
            cache_time=p.get("cache_time", 0),
        )
        self._world.answer(press, answer)
        return True
