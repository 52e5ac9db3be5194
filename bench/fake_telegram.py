"""The local Bot API in a child process for benchmarks, so that its CPU is not the bot's, and a
small client for its /_sim control API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp

from localapi.limits import LimitModel
from localapi.server import BotApiUrls

TOKEN = "123456789:AAEbenchTokenForTheLocalApiOnly_xyz"
BOT_USERNAME = "cora_bench_bot"
_LISTENING = re.compile(r"listening on (http://\S+)")


def pin_to_cpu(pid: int, cpu: int | None) -> bool:
    """Pin a process to one CPU (Linux); False where that is not possible."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(pid, {cpu})
    except OSError:
        return False
    return True


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, see proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Call:
    """One Bot API call as the fake recorded it; `time` is its monotonic clock at the answer."""

    seq: int
    method: str
    status: int
    time: float
    chat_id: int | None
    update_ids: tuple[int, ...] = ()
    message_id: int | None = None
    callback_query_id: str | None = None  # for answerCallbackQuery: the press it answered


class FakeTelegram(BotApiUrls):
    """`python -m localapi serve` as a child process. CLOCK_MONOTONIC is system-wide on
    Linux, so the times it records compare with `time.monotonic()` in this process."""

    def __init__(
        self, *, limits: bool | LimitModel, cpu: int | None = None, per_second: float = 30.0
    ) -> None:
        # True is the token bucket, as before the strict model existed.
        self.limits: LimitModel | None = (
            ("bucket" if limits is True else limits) if limits is not False else None
        )
        self.per_second = per_second
        self.cpu = cpu
        self.url = ""
        self.pinned = False
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeTelegram:
        args = ["serve", "--port", "0", "--token", TOKEN, "--bot-username", BOT_USERNAME]
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "localapi",
            *args,
            *(
                ["--limits", self.limits, "--per-second", str(self.per_second)]
                if self.limits
                else []
            ),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        line = (await asyncio.wait_for(self._process.stdout.readline(), 30)).decode()
        found = _LISTENING.search(line)
        if found is None:
            await self.__aexit__(None, None, None)
            raise RuntimeError(f"the local Bot API did not start: {line!r}")
        self.url = found.group(1)
        self.pinned = pin_to_cpu(self._process.pid, self.cpu)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
        self._process = None

    def cpu_seconds(self) -> float:
        assert self._process is not None
        return process_cpu_seconds(self._process.pid)

    async def _request(self, verb: str, path: str, **kwargs: Any) -> Any:
        assert self._http is not None
        async with self._http.request(verb, f"{self.url}/_sim{path}", **kwargs) as response:
            body = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"/_sim{path}: {response.status} {body}")
            return body

    async def create_users(self, count: int, first_name: str) -> list[int]:
        """People who have opened the chat with the bot, so that it may write to them."""
        body = {"count": count, "first_name": first_name, "started": True}
        created = await self._request("POST", "/users/bulk", json=body)
        return list(created["ids"])

    async def send(self, user_id: int, text: str) -> dict[str, Any]:
        """The person writes to the bot (the fake makes it an update at once)."""
        message: dict[str, Any] = await self._request(
            "POST", f"/users/{user_id}/messages", json={"text": text}
        )
        return message

    async def press(self, user_id: int, button: str) -> dict[str, Any]:
        """The person presses the inline button with this text or callback_data on the newest
        bot message that has it; the answer names the callback query and its update."""
        pressed: dict[str, Any] = await self._request(
            "POST", f"/users/{user_id}/press", json={"button": button}
        )
        return pressed

    async def messages(self, user_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._request("GET", f"/users/{user_id}/messages")
        return found

    async def stats(self, containing: str | None = None) -> dict[str, Any]:
        params = {"containing": containing} if containing else {}
        found: dict[str, Any] = await self._request("GET", "/stats", params=params)
        return found

    async def call_count(self) -> int:
        """How many calls the fake has answered so far (`after` for a later `calls`)."""
        found = await self._request("GET", "/calls", params={"method": "-", "after": "0"})
        return int(found["last"])

    async def calls(self, method: str | None = None, after: int = 0) -> list[Call]:
        params = {"after": str(after)} | ({"method": method} if method else {})
        found = await self._request("GET", "/calls", params=params)
        return [
            Call(
                c["seq"],
                c["method"],
                c["status"],
                c["time"],
                c["chat_id"],
                tuple(c.get("update_ids", ())),
                c.get("message_id"),
                c.get("callback_query_id"),
            )
            for c in found["calls"]
        ]
