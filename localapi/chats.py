"""The simulated Telegram's objects: accounts, chats, messages, files, polls and button presses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from localapi.html import entities_to_html

JsonDict = dict[str, Any]


@dataclass
class Account:
    """A Telegram account: a simulated person or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False  # has written to the bot, so the bot may write to them
    blocked: bool = False
    deactivated: bool = False

    def to_api(self) -> JsonDict:
        user: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code and not self.is_bot:
            user["language_code"] = self.language_code
        return user


@dataclass
class StoredFile:
    """A file Telegram keeps: uploaded bytes (or only a URL) under a file_id."""

    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    data: bytes | None
    width: int = 0
    height: int = 0

    @property
    def file_path(self) -> str:
        return f"files/{self.file_unique_id}/{self.file_name or 'file'}"

    @property
    def size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    def _base(self) -> JsonDict:
        base: JsonDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.size is not None:
            base["file_size"] = self.size
        return base

    def document_api(self) -> JsonDict:
        document = self._base()
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        return document

    def photo_api(self) -> list[JsonDict]:
        return [self._base() | {"width": self.width, "height": self.height}]

    def file_api(self) -> JsonDict:
        return self._base() | {"file_path": self.file_path}


@dataclass
class Poll:
    id: str
    question: str
    question_entities: list[JsonDict]
    options: list[str]
    is_anonymous: bool
    type: str
    allows_multiple_answers: bool
    correct_option_ids: list[int]
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)

    def option_id(self, index: int) -> str:
        return f"{self.id}-{index}"

    def to_api(self) -> JsonDict:
        counts = [0] * len(self.options)
        for chosen in self.votes.values():
            for index in chosen:
                counts[index] += 1
        poll: JsonDict = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": self.option_id(i), "text": text, "voter_count": counts[i]}
                for i, text in enumerate(self.options)
            ],
            "total_voter_count": sum(1 for chosen in self.votes.values() if chosen),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": True,
            "members_only": False,
        }
        if self.question_entities:
            poll["question_entities"] = self.question_entities
        if self.correct_option_ids:
            poll["correct_option_ids"] = self.correct_option_ids
            poll["correct_option_id"] = self.correct_option_ids[0]  # read by PTB 22
        return poll


@dataclass(eq=False)
class SimMessage:
    """A message in its current state: edits applied, deletion flagged."""

    chat: Chat
    message_id: int
    sender: Account
    date: int
    text: str = ""
    entities: list[JsonDict] = field(default_factory=list)
    reply_markup: JsonDict | None = None  # inline keyboards only, as in Message objects
    document: StoredFile | None = None
    photo_file: StoredFile | None = None
    poll: Poll | None = None
    reply_to: SimMessage | None = None
    disable_notification: bool = False
    protect_content: bool = False
    # Link previews Telegram would show for URLs in the text (link_preview_options.is_disabled
    # turns them off); kept so that a test can see what a message would have shown.
    link_preview: bool = True
    edits: int = 0
    edit_date: int | None = None
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def has_media(self) -> bool:
        return self.document is not None or self.photo_file is not None

    @property
    def photo(self) -> bytes | None:
        """The photo's bytes (None for photos sent by URL)."""
        return self.photo_file.data if self.photo_file is not None else None

    @property
    def html(self) -> str:
        """The text as Telegram HTML, e.g. for asserting formatting."""
        return entities_to_html(self.text, self.entities)

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (text, callback_data or url)."""
        if self.reply_markup is None:
            return []
        return [
            [(b["text"], b.get("callback_data", b.get("url"))) for b in row]
            for row in self.reply_markup["inline_keyboard"]
        ]

    def callback_button(self, label_or_data: str) -> str | None:
        """The callback_data of the button with this text or data, if there is one."""
        if self.reply_markup is None:
            return None
        for row in self.reply_markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and label_or_data in (button["text"], data):
                    return str(data)
        return None

    def to_api(self, with_reply: bool = True) -> JsonDict:
        """The Message object as the Bot API returns it."""
        message: JsonDict = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.reply_to is not None and with_reply:
            message["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        text_key, entities_key = (
            ("caption", "caption_entities") if self.has_media else ("text", "entities")
        )
        if self.document is not None:
            message["document"] = self.document.document_api()
        if self.photo_file is not None:
            message["photo"] = self.photo_file.photo_api()
        if self.poll is not None:
            message["poll"] = self.poll.to_api()
        elif self.text:
            message[text_key] = self.text
            if self.entities:
                message[entities_key] = self.entities
        if self.protect_content:
            message["has_protected_content"] = True
        if self.reply_markup is not None:
            message["reply_markup"] = self.reply_markup
        return message

    def describe(self) -> JsonDict:
        """A summary for the /_sim control API and the sandbox page."""
        summary: JsonDict = {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "sender_id": self.sender.id,
            "date": self.date,
            "text": self.text,
            "html": self.html,
            "buttons": [
                [{"text": text, "value": value} for text, value in row] for row in self.buttons
            ],
            "edits": self.edits,
            "deleted": self.deleted,
            "disable_notification": self.disable_notification,
            "protect_content": self.protect_content,
            "link_preview": self.link_preview,
        }
        if self.document is not None:
            summary["document"] = {
                "file_name": self.document.file_name,
                "mime_type": self.document.mime_type,
                "file_size": self.document.size,
            }
        if self.photo_file is not None:
            summary["photo"] = {"width": self.photo_file.width, "height": self.photo_file.height}
        if self.poll is not None:
            summary["poll"] = self.poll.to_api()
        return summary


@dataclass(eq=False)
class Chat:
    """A private chat between the bot and one person, or a group the bot is in."""

    id: int
    type: str
    user: Account | None = None
    title: str | None = None
    messages: list[SimMessage] = field(default_factory=list)
    reply_keyboard: JsonDict | None = None
    menu_button: JsonDict | None = None
    actions: list[str] = field(default_factory=list)
    next_message_id: int = 1

    def to_api(self) -> JsonDict:
        chat: JsonDict = {"id": self.id, "type": self.type}
        if self.user is not None:
            chat["first_name"] = self.user.first_name
            if self.user.last_name:
                chat["last_name"] = self.user.last_name
            if self.user.username:
                chat["username"] = self.user.username
        if self.title is not None:
            chat["title"] = self.title
        return chat

    def full_info(self) -> JsonDict:
        """The ChatFullInfo object getChat returns."""
        return self.to_api() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def find(self, message_id: int) -> SimMessage | None:
        """A message that exists and is not deleted."""
        for message in self.messages:
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    @property
    def bot_messages(self) -> list[SimMessage]:
        return [m for m in self.messages if m.from_bot]


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(eq=False)
class Press:
    """A button press (a callback query) and, once the bot answers it, the answer."""

    id: str
    user: Account
    message: SimMessage
    data: str
    update_id: int | None = None  # the callback_query update that carried it to the bot
    answered: CallbackAnswer | None = None
    _answered_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def record_answer(self, answer: CallbackAnswer) -> None:
        self.answered = answer
        self._answered_event.set()

    async def answer(self, timeout: float = 5.0) -> CallbackAnswer:  # noqa: ASYNC109
        """Wait for answerCallbackQuery; TimeoutError if the bot never answers."""
        try:
            async with asyncio.timeout(timeout):
                await self._answered_event.wait()
        except TimeoutError:
            raise TimeoutError(f"the bot did not answer the press of {self.data!r}") from None
        assert self.answered is not None
        return self.answered
