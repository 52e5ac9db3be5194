"""Simulated people driving the bot: they write, press buttons, vote, block it, watch chats."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, overload

from localapi.chats import Account, CallbackAnswer, Chat, Press, SimMessage
from localapi.world import World

JsonDict = dict[str, Any]
Match = str | Callable[[SimMessage], bool]
T = TypeVar("T")


class _ChatView:
    """The bot's messages in one chat, in their current state, and waiting for them."""

    def __init__(self, world: World, chat: Chat) -> None:
        self._world = world
        self._chat = chat

    @property
    def chat_id(self) -> int:
        return self._chat.id

    @property
    def messages(self) -> list[SimMessage]:
        """The bot's messages, oldest first; deleted ones stay, flagged `deleted`."""
        return self._chat.bot_messages

    @property
    def history(self) -> list[SimMessage]:
        """Every message in the chat, from the bot and from people."""
        return list(self._chat.messages)

    @property
    def last(self) -> SimMessage | None:
        """The newest bot message that is not deleted."""
        shown = [m for m in self._chat.bot_messages if not m.deleted]
        return shown[-1] if shown else None

    @property
    def chat_actions(self) -> list[str]:
        return list(self._chat.actions)

    # A deadline per call reads best in tests, hence the timeout parameters.
    async def wait_for(
        self,
        match: Match,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        after: SimMessage | None = None,
    ) -> SimMessage:
        """The first bot message matching a substring or predicate, now or once it arrives or
        is edited to match; with `after`, only messages newer than that one count."""
        predicate = (lambda m: match in m.text) if isinstance(match, str) else match
        newer_than = after.message_id if after is not None else 0

        def found() -> SimMessage | None:
            for message in self._chat.bot_messages:
                if not message.deleted and message.message_id > newer_than and predicate(message):
                    return message
            return None

        try:
            async with asyncio.timeout(timeout):
                return await self._world.changes.wait_until(found)
        except TimeoutError:
            texts = [m.text for m in self._chat.bot_messages if not m.deleted]
            raise TimeoutError(
                f"no bot message matching {match!r} in chat {self._chat.id} after {timeout}s; "
                f"messages: {texts!r}"
            ) from None

    def _button_message(self, button: str, message: SimMessage | None) -> tuple[SimMessage, str]:
        candidates = [message] if message is not None else reversed(self._chat.bot_messages)
        for candidate in candidates:
            if candidate.deleted:
                continue
            data = candidate.callback_button(button)
            if data is not None:
                return candidate, data
        raise LookupError(f"no callback button {button!r} in chat {self._chat.id}")


class _AccountField(Generic[T]):
    """A field of a simulated person's account, read through the person."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, person: None, owner: type) -> _AccountField[T]: ...
    @overload
    def __get__(self, person: SimUser, owner: type) -> T: ...
    def __get__(self, person: SimUser | None, owner: type) -> T | _AccountField[T]:
        if person is None:
            return self
        value: T = getattr(person.account, self._name)
        return value


class SimUser(_ChatView):
    """A person with a private chat with the bot."""

    id = _AccountField[int]()
    first_name = _AccountField[str]()
    username = _AccountField[str | None]()
    language_code = _AccountField[str | None]()
    blocked = _AccountField[bool]()
    deactivated = _AccountField[bool]()

    def __init__(self, world: World, account: Account) -> None:
        super().__init__(world, world.chats[account.id])
        self.account = account

    def __repr__(self) -> str:
        return f"SimUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The custom reply keyboard the bot currently shows this person."""
        keyboard = self._chat.reply_keyboard
        if keyboard is None:
            return None
        return [[button["text"] for button in row] for row in keyboard["keyboard"]]

    @property
    def menu_button(self) -> JsonDict | None:
        return self._chat.menu_button

    def to_api(self) -> JsonDict:
        return self.account.to_api()

    def send(
        self,
        text: str,
        *,
        reply_to: SimMessage | None = None,
        entities: list[JsonDict] | None = None,
    ) -> JsonDict:
        """Write to the bot; commands get bot_command entities. Returns the Message."""
        message = self._world.user_sends(
            self.account, self._chat, text=text, entities=entities, reply_to=reply_to
        )
        return message.to_api()

    def send_document(
        self,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        caption: str = "",
    ) -> JsonDict:
        """Send a file; the bot can fetch it with getFile and the file URL."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._world.store_file(data, filename, mime)
        message = self._world.user_sends(
            self.account, self._chat, text=caption, entities=[], document=stored
        )
        return message.to_api()

    def press(self, button: str, message: SimMessage | None = None) -> Press:
        """Press the inline button with this text or callback_data (on the newest bot message
        that has it, unless `message` is given)."""
        target, data = self._button_message(button, message)
        return self._world.press(self.account, target, data)

    def press_raw(self, data: str, message: SimMessage) -> Press:
        """Send a callback query with any data, as a forged or outdated client could."""
        return self._world.press(self.account, message, data)

    async def wait_for_answer(
        self,
        press: Press,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        return await press.answer(timeout)

    def vote(self, message: SimMessage, option_ids: Sequence[int] | int) -> None:
        """Vote in a poll the bot sent (an empty list retracts the vote)."""
        chosen = [option_ids] if isinstance(option_ids, int) else list(option_ids)
        self._world.vote(self.account, message, chosen)

    def block(self) -> None:
        self._world.set_blocked(self.account, True)

    def unblock(self) -> None:
        self._world.set_blocked(self.account, False)

    def deactivate(self) -> None:
        """The account is deleted: the bot gets 403 'user is deactivated' from now on."""
        self.account.deactivated = True


class SimGroup(_ChatView):
    """A group the bot is a member of; people write into it."""

    def __repr__(self) -> str:
        return f"SimGroup(id={self.id}, title={self.title!r})"

    @property
    def id(self) -> int:
        return self._chat.id

    @property
    def title(self) -> str:
        return self._chat.title or ""

    def send(self, user: SimUser, text: str, *, reply_to: SimMessage | None = None) -> JsonDict:
        """`user` writes into the group; in privacy mode the bot sees only commands and replies."""
        message = self._world.user_sends(user.account, self._chat, text=text, reply_to=reply_to)
        return message.to_api()

    def press(self, user: SimUser, button: str, message: SimMessage | None = None) -> Press:
        target, data = self._button_message(button, message)
        return self._world.press(user.account, target, data)

    def press_raw(self, user: SimUser, data: str, message: SimMessage) -> Press:
        return self._world.press(user.account, message, data)
