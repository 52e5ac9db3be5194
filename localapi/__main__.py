"""`python -m localapi serve`: the fake Bot API in a process of its own, e.g. so that a
benchmark's bot does not pay for the fake's CPU. People are driven through the /_sim API."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from localapi.limits import LIMIT_MODELS, LimitModel
from localapi.server import DEFAULT_TOKEN, LocalBotApi


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localapi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the fake Bot API until SIGINT or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--unsafe-public",
        action="store_true",
        help="answer requests addressed to any host name (default: only 127.0.0.1, localhost, "
        "::1); the fake has no password and its /_sim API acts as anyone",
    )
    serve.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    serve.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token it accepts")
    serve.add_argument("--bot-username", default="cora_test_bot")
    serve.add_argument(
        "--limits",
        nargs="?",
        const="bucket",
        choices=LIMIT_MODELS,
        help="enforce Telegram's flood limits with 429s: `bucket` (the default; 30 messages/s "
        "with bursts of 30, 1/s per chat with bursts of 3) or `strict` (at most 30 in any "
        "second, at most one per chat in any second)",
    )
    serve.add_argument(
        "--per-second",
        type=float,
        default=30.0,
        help="messages per second overall under --limits (default 30)",
    )
    return parser


async def serve(
    host: str,
    port: int,
    token: str,
    bot_username: str,
    limits: LimitModel | None,
    per_second: float = 30.0,
    public: bool = False,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    api = LocalBotApi(
        token,
        bot_username=bot_username,
        enforce_limits=limits is not None,
        limit_model=limits or "bucket",
        per_second=per_second,
        unsafe_public=public,
    )
    await api.start(host, port)
    try:
        # The first line tells a parent process where to connect (with --port 0 too).
        shown = f"{limits} {per_second:g}/s" if limits else "off"
        print(f"local Bot API listening on {api.url} (limits {shown})")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await api.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.per_second <= 0:
        _parser().error("--per-second must be positive")
    asyncio.run(
        serve(
            args.host,
            args.port,
            args.token,
            args.bot_username,
            args.limits,
            args.per_second,
            args.unsafe_public,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
