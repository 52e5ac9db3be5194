"""Your data, leaving, erasure by coordinators, and the audit overview."""

from __future__ import annotations

import json
import logging

from telegram import BotCommandScopeChat, InputFile, Update
from telegram.error import TelegramError

from bot.errors import DomainError
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    edit_html,
    keyboard,
    member_line,
    plain,
    say,
    send_html,
    tr,
)
from handlers.data_protection.views import overview_lines
from handlers.membership.actions import parse_member_id
from storage.models import Role

log = logging.getLogger(__name__)


async def my_data(update: Update, context: CoraContext) -> None:
    """`/mydata`: everything stored about the person, as a JSON file (GDPR art. 15)."""
    member = context.member
    assert member is not None  # the gate lets only known people through
    data = await context.services.data_protection.my_data(member.id)
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(payload, filename=plain(context, "mydata.filename")),
        caption=tr(context, "mydata.caption"),
        parse_mode="HTML",
    )


async def leave(update: Update, context: CoraContext) -> None:
    """`/leave`: asks for confirmation before anything is erased (GDPR art. 17)."""
    member = context.member
    assert member is not None
    buttons = [
        (
            plain(context, "button.erase_confirm"),
            Button(Kind.ERASE, str(member.id), "leave").encode(),
        ),
        (plain(context, "button.cancel"), Button(Kind.ERASE, str(member.id), "keep").encode()),
    ]
    await say(update, context, "leave.confirm", markup=keyboard([buttons]))


async def erase(update: Update, context: CoraContext) -> None:
    """`/erase <member>`: a coordinator erases a member's data, after confirmation."""
    member_id = parse_member_id(context.args)
    target = await context.services.data_protection.erasable(context.active_member.id, member_id)
    buttons = [
        (
            plain(context, "button.erase_confirm"),
            Button(Kind.ERASE, str(member_id), "erase").encode(),
        ),
        (plain(context, "button.cancel"), Button(Kind.ERASE, str(member_id), "keep").encode()),
    ]
    await say(
        update,
        context,
        "erase.confirm",
        member=member_line(context, target),
        markup=keyboard([buttons]),
    )


async def erase_button(update: Update, context: CoraContext, button: Button) -> None:
    query = update.callback_query
    assert query is not None
    member = context.member
    if member is None or not button.id.isdecimal():
        raise DomainError("button.invalid")
    if button.action not in ("leave", "erase", "keep"):
        raise DomainError("button.invalid")
    target = int(button.id)
    if button.action == "keep":
        await query.answer()
        await edit_html(query, tr(context, "erase.kept"))
        return
    if button.action == "leave" and target != member.id:
        raise DomainError("button.invalid")
    before = await context.services.data_protection.erasable(member.id, target)
    erased = await context.services.data_protection.erase(member.id, target)
    await query.answer()
    if target == member.id:
        await edit_html(query, tr(context, "leave.done"))
    else:
        await edit_html(query, tr(context, "erase.done", member=f"#{erased.id}"))
    if before.role == Role.COORDINATOR and before.chat_id is not None:
        try:  # an erased coordinator's chat falls back to the members' menu
            await context.bot.delete_my_commands(BotCommandScopeChat(before.chat_id))
        except TelegramError as error:
            log.warning("could not reset the menu of an erased member: %s", error)


async def audit_overview(update: Update, context: CoraContext) -> None:
    """`/audit`: chain status, last checkpoint and the latest events, for coordinators."""
    scope = await context.services.membership.scope(context.active_member.id)
    overview = await context.services.audit.overview(scope=scope)
    for text in chunk_lines(overview_lines(context, overview)):
        await send_html(update, text)
