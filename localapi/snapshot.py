"""The simulated Telegram's state in a JSON file: accounts, chats with their messages, files and
command menus, so that a kept sandbox shows the same chats after a restart (Telegram keeps
them too)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from localapi.chats import Account, Chat, Poll, SimMessage, StoredFile
from localapi.commands import CommandLists
from localapi.world import World

JsonDict = dict[str, Any]
VERSION = 1


def _account(account: Account) -> JsonDict:
    return {
        "id": account.id,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "username": account.username,
        "language_code": account.language_code,
        "started": account.started,
        "blocked": account.blocked,
        "deactivated": account.deactivated,
    }


def _file(stored: StoredFile) -> JsonDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "data": base64.b64encode(stored.data).decode() if stored.data is not None else None,
        "width": stored.width,
        "height": stored.height,
    }


def _poll(poll: Poll) -> JsonDict:
    return {
        "id": poll.id,
        "question": poll.question,
        "question_entities": poll.question_entities,
        "options": poll.options,
        "is_anonymous": poll.is_anonymous,
        "type": poll.type,
        "allows_multiple_answers": poll.allows_multiple_answers,
        "correct_option_ids": poll.correct_option_ids,
        "is_closed": poll.is_closed,
        "votes": {str(user): chosen for user, chosen in poll.votes.items()},
    }


def _message(message: SimMessage) -> JsonDict:
    return {
        "message_id": message.message_id,
        "sender": message.sender.id,
        "date": message.date,
        "text": message.text,
        "entities": message.entities,
        "reply_markup": message.reply_markup,
        "document": message.document.file_id if message.document else None,
        "photo": message.photo_file.file_id if message.photo_file else None,
        "poll": _poll(message.poll) if message.poll else None,
        "reply_to": message.reply_to.message_id if message.reply_to else None,
        "disable_notification": message.disable_notification,
        "protect_content": message.protect_content,
        "link_preview": message.link_preview,
        "edits": message.edits,
        "edit_date": message.edit_date,
        "deleted": message.deleted,
    }


def _chat(chat: Chat) -> JsonDict:
    return {
        "id": chat.id,
        "type": chat.type,
        "user": chat.user.id if chat.user else None,
        "title": chat.title,
        "messages": [_message(m) for m in chat.messages],
        "reply_keyboard": chat.reply_keyboard,
        "menu_button": chat.menu_button,
        "next_message_id": chat.next_message_id,
    }


def dump(world: World, commands: CommandLists) -> JsonDict:
    return {
        "version": VERSION,
        "serial": world.last_serial,
        "next_update_id": world.updates.next_id,
        "accounts": [_account(a) for a in world.accounts.values()],
        "files": [_file(f) for f in world.files.values()],
        "chats": [_chat(c) for c in world.chats.values()],
        "commands": commands.dump(),
    }


def save(path: Path, world: World, commands: CommandLists) -> None:
    """Write atomically, readable by the owner only (the data directory's rule)."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(dump(world, commands), file, ensure_ascii=False)
    os.replace(temporary, path)


def _restored_message(
    entry: JsonDict, chat: Chat, senders: dict[int, Account], world: World
) -> SimMessage:
    poll = entry["poll"]
    return SimMessage(
        chat=chat,
        message_id=entry["message_id"],
        sender=senders[entry["sender"]],
        date=entry["date"],
        text=entry["text"],
        entities=entry["entities"],
        reply_markup=entry["reply_markup"],
        document=world.files.get(entry["document"] or ""),
        photo_file=world.files.get(entry["photo"] or ""),
        poll=None
        if poll is None
        else Poll(**(poll | {"votes": {int(k): v for k, v in poll["votes"].items()}})),
        disable_notification=entry["disable_notification"],
        protect_content=entry["protect_content"],
        link_preview=entry["link_preview"],
        edits=entry["edits"],
        edit_date=entry["edit_date"],
        deleted=entry["deleted"],
    )


def load(state: JsonDict, world: World, commands: CommandLists) -> None:
    """Put a dumped state into a fresh world (before anyone acts in it)."""
    if state.get("version") != VERSION:
        raise ValueError(f"unknown snapshot version {state.get('version')!r}")
    world.last_serial = max(world.last_serial, int(state["serial"]))
    world.updates.continue_from(int(state["next_update_id"]))
    for entry in state["accounts"]:
        world.accounts[entry["id"]] = Account(**entry)
    for entry in state["files"]:
        data = entry["data"]
        world.files[entry["file_id"]] = StoredFile(
            **(entry | {"data": base64.b64decode(data) if data is not None else None})
        )
    senders = {world.bot.id: world.bot, **world.accounts}
    for entry in state["chats"]:
        chat = Chat(
            id=entry["id"],
            type=entry["type"],
            user=world.accounts.get(entry["user"]) if entry["user"] is not None else None,
            title=entry["title"],
            reply_keyboard=entry["reply_keyboard"],
            menu_button=entry["menu_button"],
            next_message_id=entry["next_message_id"],
        )
        by_id: dict[int, SimMessage] = {}
        for item in entry["messages"]:
            message = _restored_message(item, chat, senders, world)
            if item["reply_to"] is not None:
                message.reply_to = by_id.get(item["reply_to"])
            by_id[message.message_id] = message
            chat.messages.append(message)
        world.chats[chat.id] = chat
    commands.load(state["commands"])


def restore(path: Path, world: World, commands: CommandLists) -> bool:
    """Load the state kept in `path`, if there is one; False when there is none."""
    if not path.exists():
        return False
    load(json.loads(path.read_text("utf-8")), world, commands)
    return True
