"""The simulated Telegram: accounts and chats, what the bot may do in them, and what happened."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from localapi.changes import Changes
from localapi.chats import (
    Account,
    CallbackAnswer,
    Chat,
    Poll,
    Press,
    SimMessage,
    StoredFile,
)
from localapi.errors import bad_request, forbidden
from localapi.text import bot_commands
from localapi.updates import UpdateQueue
from localapi.utf16 import utf16_slice

JsonDict = dict[str, Any]

FIRST_USER_ID = 100_000_001
FIRST_GROUP_ID = -1_000_001


class World:
    """Everything the fake Telegram knows; Bot API methods and simulated people act on it."""

    def __init__(
        self,
        bot: Account,
        *,
        privacy_mode: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.privacy_mode = privacy_mode
        self._wall_clock = wall_clock
        self.accounts: dict[int, Account] = {}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.presses: dict[str, Press] = {}
        self.updates = UpdateQueue()
        self.changes = Changes()
        self.events: list[JsonDict] = []
        self.delivered: list[SimMessage] = []
        self.closed = False
        self.last_serial = 0

    def close(self) -> None:
        """Release waiting long polls and event streams, e.g. when the server stops."""
        self.closed = True
        self.updates.close()
        self.changes.notify()

    def now(self) -> int:
        return int(self._wall_clock())

    def serial(self) -> int:
        """A number unique within this world, for ids of queries, polls and files."""
        self.last_serial += 1
        return self.last_serial

    def _event(self, kind: str, chat_id: int, **payload: Any) -> None:
        self.events.append(
            {"seq": len(self.events) + 1, "kind": kind, "chat_id": chat_id} | payload
        )
        self.changes.notify()

    # --- the people's side -------------------------------------------------------------

    def add_user(
        self,
        user_id: int | None,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Account:
        if user_id is None:
            user_id = FIRST_USER_ID + len(self.accounts)
            while user_id in self.accounts:
                user_id += 1
        if user_id <= 0 or user_id in self.accounts:
            raise ValueError(f"user id {user_id} is taken or not positive")
        account = Account(user_id, first_name, last_name, username, language_code)
        self.accounts[user_id] = account
        self.chats[user_id] = Chat(id=user_id, type="private", user=account)
        return account

    def remove_user(self, user_id: int) -> None:
        """Forget an account and its chat, as if it had never written (the sandbox removes a
        person whose invitation link the bot refused)."""
        self.accounts.pop(user_id, None)
        self.chats.pop(user_id, None)
        self.changes.notify()

    def add_group(self, title: str) -> Chat:
        chat_id = FIRST_GROUP_ID - sum(1 for chat in self.chats.values() if chat.type == "group")
        chat = Chat(id=chat_id, type="group", title=title)
        self.chats[chat_id] = chat
        return chat

    def user_sends(
        self,
        account: Account,
        chat: Chat,
        *,
        text: str = "",
        entities: list[JsonDict] | None = None,
        reply_to: SimMessage | None = None,
        document: StoredFile | None = None,
    ) -> SimMessage:
        """A person sends a message; the bot gets it as an update if Telegram would deliver it."""
        self._check_can_act(account, chat)
        if chat.type == "private":
            account.started = True
        found = entities if entities is not None else bot_commands(text)
        message = self._append(
            chat, account, text=text, entities=found, reply_to=reply_to, document=document
        )
        if self._bot_receives(message):
            self.updates.push("message", message.to_api())
        return message

    def _check_can_act(self, account: Account, chat: Chat) -> None:
        if account.deactivated:
            raise RuntimeError(f"user {account.id} is deactivated")
        if chat.type == "private" and account.blocked:
            raise RuntimeError(f"user {account.id} blocked the bot; unblock() first")

    def _bot_receives(self, message: SimMessage) -> bool:
        """In groups, privacy mode lets the bot see only commands and replies to it."""
        if message.chat.type == "private" or not self.privacy_mode:
            return True
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        for entity in message.entities:
            if entity["type"] == "bot_command":
                command = utf16_slice(message.text, entity["offset"], entity["length"])
                target = command.partition("@")[2].lower()
                if not target or target == (self.bot.username or "").lower():
                    return True
        return False

    def press(self, account: Account, message: SimMessage, data: str) -> Press:
        """A person presses an inline button: the bot gets a callback_query update."""
        self._check_can_act(account, message.chat)
        if message.deleted:
            raise LookupError(f"message {message.message_id} was deleted")
        press = Press(str(4_000_000_000_000 + self.serial()), account, message, data)
        self.presses[press.id] = press
        update = self.updates.push(
            "callback_query",
            {
                "id": press.id,
                "from": account.to_api(),
                "message": message.to_api(),
                "chat_instance": str(abs(message.chat_id) * 2654435761 % 2**62),
                "data": data,
            },
        )
        press.update_id = update["update_id"] if update is not None else None
        self._event(
            "press",
            message.chat_id,
            message_id=message.message_id,
            data=data,
            callback_query_id=press.id,
        )
        return press

    def vote(self, account: Account, message: SimMessage, option_ids: Sequence[int]) -> None:
        """A person votes in (or, with no options, retracts from) a poll the bot sent."""
        self._check_can_act(account, message.chat)
        poll = message.poll
        if poll is None or message.deleted:
            raise LookupError(f"message {message.message_id} has no poll")
        if poll.is_closed:
            raise RuntimeError("the poll is closed")
        if any(not 0 <= i < len(poll.options) for i in option_ids) or len(set(option_ids)) != len(
            option_ids
        ):
            raise ValueError(f"invalid options {list(option_ids)}")
        if len(option_ids) > 1 and not poll.allows_multiple_answers:
            raise ValueError("the poll allows one answer only")
        poll.votes[account.id] = list(option_ids)
        if not poll.is_anonymous:
            self.updates.push(
                "poll_answer",
                {
                    "poll_id": poll.id,
                    "user": account.to_api(),
                    "option_ids": list(option_ids),
                    "option_persistent_ids": [poll.option_id(i) for i in option_ids],
                },
            )
        self.updates.push("poll", poll.to_api())
        self._event(
            "vote", message.chat_id, message_id=message.message_id, option_ids=list(option_ids)
        )

    def set_blocked(self, account: Account, blocked: bool) -> None:
        """Blocking the bot; Telegram tells the bot with a my_chat_member update."""
        if account.blocked == blocked:
            return
        account.blocked = blocked
        if not account.started:
            return
        member, kicked = {"status": "member"}, {"status": "kicked", "until_date": 0}
        old, new = (member, kicked) if blocked else (kicked, member)
        bot = {"user": self.bot.to_api()}
        self.updates.push(
            "my_chat_member",
            {
                "chat": self.chats[account.id].to_api(),
                "from": account.to_api(),
                "date": self.now(),
                "old_chat_member": bot | old,
                "new_chat_member": bot | new,
            },
        )
        self._event("blocked" if blocked else "unblocked", account.id)

    # --- the bot's side ----------------------------------------------------------------

    def known_chat(self, chat_id: int | str) -> Chat:
        """A chat the bot knows: a group it is in, or a private chat the person started."""
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or (chat.user is not None and not chat.user.started):
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, chat_id: int | str) -> Chat:
        chat = self.known_chat(chat_id)
        if chat.user is not None:
            if chat.user.deactivated:
                raise forbidden("user is deactivated")
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
        return chat

    def deliver(self, chat: Chat, **fields: Any) -> SimMessage:
        """The bot's message arrives in the chat."""
        message = self._append(chat, self.bot, **fields)
        self.delivered.append(message)
        return message

    def _append(self, chat: Chat, sender: Account, **fields: Any) -> SimMessage:
        message = SimMessage(
            chat=chat, message_id=chat.next_message_id, sender=sender, date=self.now(), **fields
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        self._event("message", chat.id, message=message.describe())
        return message

    def edited(self, message: SimMessage) -> None:
        message.edits += 1
        message.edit_date = self.now()
        self._event("edit", message.chat_id, message=message.describe())

    def delete(self, message: SimMessage) -> None:
        message.deleted = True
        self._event("delete", message.chat_id, message_id=message.message_id)

    def answer(self, press: Press, answer: CallbackAnswer) -> None:
        press.record_answer(answer)
        self._event(
            "callback_answer",
            press.message.chat_id,
            callback_query_id=press.id,
            text=answer.text,
            show_alert=answer.show_alert,
        )

    def chat_action(self, chat: Chat, action: str) -> None:
        chat.actions.append(action)
        self._event("chat_action", chat.id, action=action)

    def poll_stopped(self, message: SimMessage, poll: Poll) -> None:
        poll.is_closed = True
        self.updates.push("poll", poll.to_api())
        self._event("edit", message.chat_id, message=message.describe())

    def store_file(
        self,
        data: bytes | None,
        file_name: str | None,
        mime_type: str | None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        serial = self.serial()
        stored = StoredFile(
            f"BQACAgIAAxk-{serial:06d}",
            f"AgAD{serial:06d}",
            file_name,
            mime_type,
            data,
            width,
            height,
        )
        self.files[stored.file_id] = stored
        return stored
