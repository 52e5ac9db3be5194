"""The bot's command lists per scope and language, and which list a person's client would show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from localapi.errors import bad_request

JsonDict = dict[str, Any]

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"(?:[a-z]{2})?")
DEFAULT_SCOPE: JsonDict = {"type": "default"}


def scope_key(scope: Mapping[str, Any] | None) -> tuple[str, int | str | None, int | None]:
    scope = scope or DEFAULT_SCOPE
    return (str(scope["type"]), scope.get("chat_id"), scope.get("user_id"))


class CommandLists:
    """What setMyCommands stored, keyed by (scope, language_code)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[tuple[str, int | str | None, int | None], str], list[JsonDict]] = {}

    def set(self, commands: list[JsonDict], scope: Mapping[str, Any] | None, language: str) -> None:
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            if not _COMMAND.fullmatch(command["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (scope_key(scope), _language(language))
        if commands:
            self._lists[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._lists.pop(key, None)

    def delete(self, scope: Mapping[str, Any] | None, language: str) -> None:
        self._lists.pop((scope_key(scope), _language(language)), None)

    def get(self, scope: Mapping[str, Any] | None = None, language: str = "") -> list[JsonDict]:
        return list(self._lists.get((scope_key(scope), _language(language)), []))

    def dump(self) -> list[JsonDict]:
        """Every list with its scope and language, for a snapshot."""
        return [
            {"scope": list(scope), "language": language, "commands": commands}
            for (scope, language), commands in self._lists.items()
        ]

    def load(self, lists: list[JsonDict]) -> None:
        for entry in lists:
            kind, chat_id, user_id = entry["scope"]
            self._lists[((kind, chat_id, user_id), entry["language"])] = entry["commands"]

    def shown_in_private_chat(self, user_id: int, language: str | None) -> list[JsonDict]:
        """The list a client shows in a private chat, falling back like Telegram's clients."""
        scopes: list[JsonDict] = [
            {"type": "chat", "chat_id": user_id},
            {"type": "all_private_chats"},
            DEFAULT_SCOPE,
        ]
        for scope in scopes:
            for lang in (language or "", ""):
                commands = self._lists.get((scope_key(scope), lang))
                if commands is not None:
                    return list(commands)
        return []


def _language(language: str) -> str:
    if not _LANGUAGE.fullmatch(language):
        raise bad_request("invalid language code specified")
    return language
