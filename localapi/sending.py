"""The Bot API methods about messages: sending texts, files and polls, editing and deleting
them, answering button presses, with Telegram's checks and error texts."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localapi.chats import CallbackAnswer, Chat, Poll, SimMessage, StoredFile
from localapi.errors import bad_request
from localapi.images import image_size
from localapi.keyboards import Markup, check_inline_keyboard, check_markup
from localapi.limits import RateLimits
from localapi.spec import UploadedFile
from localapi.text import caption_text, message_text, parse, trim
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


def _preview(p: JsonDict) -> bool:
    """Whether Telegram would show a link preview (the default) for this text."""
    options = p.get("link_preview_options") or {}
    return not options.get("is_disabled", False)


@dataclass
class MessageMethods:
    """Each method takes converted parameters and returns the `result` or raises ApiError."""

    world: World
    limits: RateLimits

    def table(self) -> dict[str, Handler]:
        """Handlers by Bot API method name."""
        return {
            "sendMessage": self.send_message,
            "sendDocument": self._file_sender("sendDocument", "document", photo=False),
            "sendPhoto": self._file_sender("sendPhoto", "photo", photo=True),
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "getFile": self.get_file,
            "sendPoll": self.send_poll,
            "stopPoll": self.stop_poll,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
        }

    # --- sending -----------------------------------------------------------------------

    def _reply_target(self, chat: Chat, reply: JsonDict | None) -> SimMessage | None:
        if reply is None:
            return None
        target_chat = chat
        if reply.get("chat_id") not in (None, chat.id):
            target_chat = self.world.known_chat(reply["chat_id"])
        target = target_chat.find(reply["message_id"])
        if target is None and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target if target_chat is chat else None

    def _deliver(self, method: str, chat: Chat, p: JsonDict, **fields: Any) -> SimMessage:
        """The common tail of every send: markup, reply, flood limit, delivery."""
        markup: Markup = check_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat, p.get("reply_parameters"))
        self.limits.admit(method, chat.id)
        keyboard = markup.chat_keyboard
        if keyboard is not None and "force_reply" not in keyboard:
            chat.reply_keyboard = None if keyboard.get("remove_keyboard") else keyboard
        return self.world.deliver(
            chat,
            reply_markup=markup.inline,
            reply_to=reply_to,
            disable_notification=p.get("disable_notification", False),
            protect_content=p.get("protect_content", False),
            **fields,
        )

    async def send_message(self, p: JsonDict) -> JsonDict:
        chat = self.world.writable_chat(p["chat_id"])
        text, entities = message_text(p["text"], p.get("parse_mode"), p.get("entities"))
        return self._deliver(
            "sendMessage", chat, p, text=text, entities=entities, link_preview=_preview(p)
        ).to_api()

    def _stored_file(self, value: UploadedFile | str, photo: bool = False) -> StoredFile:
        world = self.world
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

    def _file_sender(self, method: str, parameter: str, photo: bool) -> Handler:
        """sendDocument and sendPhoto: a file with a caption."""

        async def send(p: JsonDict) -> JsonDict:
            chat = self.world.writable_chat(p["chat_id"])
            stored = self._stored_file(p[parameter], photo=photo)
            caption, entities = caption_text(
                p.get("caption"), p.get("parse_mode"), p.get("caption_entities")
            )
            attached = {"photo_file" if photo else "document": stored}
            return self._deliver(
                method, chat, p, **attached, text=caption, entities=entities
            ).to_api()

        return send

    async def send_chat_action(self, p: JsonDict) -> bool:
        chat = self.world.writable_chat(p["chat_id"])
        if p["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_action(chat, p["action"])
        return True

    async def get_chat(self, p: JsonDict) -> JsonDict:
        return self.world.known_chat(p["chat_id"]).full_info()

    async def get_file(self, p: JsonDict) -> JsonDict:
        stored = self.world.files.get(p["file_id"])
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
        chat = self.world.writable_chat(p["chat_id"])
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
            id=str(5_000_000_000_000 + self.world.serial()),
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
        chat = self.world.known_chat(p["chat_id"])
        message = chat.find(p["message_id"])
        if message is None or message.poll is None or not message.from_bot:
            raise bad_request("message with poll to stop not found")
        if message.poll.is_closed:
            raise bad_request("poll has already been closed")
        if "reply_markup" in p:
            message.reply_markup = check_inline_keyboard(p["reply_markup"])
        self.world.poll_stopped(message, message.poll)
        return message.poll.to_api()

    # --- changing sent messages --------------------------------------------------------

    def _message_to_edit(self, p: JsonDict) -> tuple[Chat, SimMessage]:
        if "inline_message_id" in p:
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        if "message_id" not in p:
            raise bad_request("message identifier is not specified")
        chat = self.world.writable_chat(p["chat_id"])
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
        return self._edit(
            "editMessageText", chat, message, p, text, entities, link_preview=_preview(p)
        )

    async def edit_message_caption(self, p: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(p)
        if not message.has_media:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = caption_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities")
        )
        return self._edit("editMessageCaption", chat, message, p, caption, entities)

    def _edit(
        self,
        method: str,
        chat: Chat,
        message: SimMessage,
        p: JsonDict,
        text: str,
        entities: list[JsonDict],
        **also: Any,
    ) -> JsonDict:
        """A new text or caption (and `also` these fields, which alone are no change); without
        reply_markup an edit removes the inline keyboard, as in Telegram."""
        markup = check_inline_keyboard(p.get("reply_markup"))
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self.limits.admit(method, chat.id)
        message.text, message.entities, message.reply_markup = text, entities, markup
        for name, value in also.items():
            setattr(message, name, value)
        self.world.edited(message)
        return message.to_api()

    async def edit_message_reply_markup(self, p: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(p)
        markup = check_inline_keyboard(p.get("reply_markup"))
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.limits.admit("editMessageReplyMarkup", chat.id)
        message.reply_markup = markup
        self.world.edited(message)
        return message.to_api()

    def _deletable(self, chat: Chat, message_id: int) -> SimMessage | None:
        message = chat.find(message_id)
        # In groups a bot without admin rights may delete only its own messages.
        if message is not None and chat.type != "private" and not message.from_bot:
            raise bad_request("message can't be deleted")
        return message

    async def delete_message(self, p: JsonDict) -> bool:
        chat = self.world.known_chat(p["chat_id"])
        message = self._deletable(chat, p["message_id"])
        if message is None:
            raise bad_request("message to delete not found")
        self.world.delete(message)
        return True

    async def delete_messages(self, p: JsonDict) -> bool:
        chat = self.world.known_chat(p["chat_id"])
        if not 1 <= len(p["message_ids"]) <= 100:
            raise bad_request("too many message identifiers specified")
        for message_id in p["message_ids"]:
            message = self._deletable(chat, message_id)
            if message is not None:
                self.world.delete(message)
        return True

    async def answer_callback_query(self, p: JsonDict) -> bool:
        press = self.world.presses.get(p["callback_query_id"])
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
        self.world.answer(press, answer)
        return True
