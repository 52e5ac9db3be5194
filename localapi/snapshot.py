"""The simulated Telegram's state in a JSON file: accounts, chats with their messages, files and
command menus, so that a kept sandbox shows the same chats after a restart (Telegram keeps
them too)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Collection
from dataclasses import fields
from pathlib import Path
from typing import Any

from localapi.chats import Account, Chat, Poll, SimMessage, StoredFile
from localapi.commands import CommandLists
from localapi.world import World

JsonDict = dict[str, Any]
VERSION = 1


def _plain(item: Any, skip: Collection[str] = (), **replaced: Any) -> JsonDict:
    """A dataclass's own fields as they are (JSON values already), but for those skipped and
    the references and bytes `replaced` gives as JSON."""
    kept = {f.name: getattr(item, f.name) for f in fields(item) if f.name not in skip}
    return kept | replaced


def _message(message: SimMessage) -> JsonDict:
    return _plain(
        message,
        skip=("chat", "photo_file"),
        sender=message.sender.id,
        document=message.document.file_id if message.document else None,
        photo=message.photo_file.file_id if message.photo_file else None,
        poll=_plain(message.poll, votes={str(u): c for u, c in message.poll.votes.items()})
        if message.poll
        else None,
        reply_to=message.reply_to.message_id if message.reply_to else None,
    )


def _chat(chat: Chat) -> JsonDict:
    # Chat actions ("typing") last seconds at Telegram; they are not kept.
    return _plain(
        chat,
        skip=("actions",),
        user=chat.user.id if chat.user else None,
        messages=[_message(m) for m in chat.messages],
    )


def dump(world: World, commands: CommandLists) -> JsonDict:
    return {
        "version": VERSION,
        "serial": world.last_serial,
        "next_update_id": world.updates.next_id,
        # The accounts of people (the bot's own is made anew at start-up).
        "accounts": [_plain(a, skip=("is_bot",)) for a in world.accounts.values()],
        "files": [
            _plain(f, data=base64.b64encode(f.data).decode() if f.data is not None else None)
            for f in world.files.values()
        ],
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
    own = {k: v for k, v in entry.items() if k not in ("photo", "reply_to")}
    return SimMessage(
        **own
        | {
            "chat": chat,
            "sender": senders[entry["sender"]],
            "document": world.files.get(entry["document"] or ""),
            "photo_file": world.files.get(entry["photo"] or ""),
            "poll": None
            if poll is None
            else Poll(**(poll | {"votes": {int(k): v for k, v in poll["votes"].items()}})),
        }
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
        user = world.accounts.get(entry["user"]) if entry["user"] is not None else None
        chat = Chat(**(entry | {"user": user, "messages": []}))
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
