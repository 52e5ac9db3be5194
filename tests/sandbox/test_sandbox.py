"""`cora-bot sandbox`: the invented network joins through the real bot, the page works in a real
headless Chromium, the process needs no configuration, and the page is safe to look at."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot import i18n
from localapi.server import LocalBotApi
from sandbox.people import FIRST_SHOWN, NETWORK
from sandbox.render import message_text
from sandbox.run import Sandbox, SandboxOptions, open_sandbox
from storage.db import Database
from storage.models import AuditEvent, Member, MemberStatus
from tests.story import run_cli, said

# auto: skip without Chromium or Playwright; require (CI): fail instead; off: skip.
_BROWSER_MODE = os.environ.get("CORA_TEST_BROWSER", "auto")
CHROMIUM = Path(os.environ.get("CORA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ALERT = "/alert police HRO ! Test im Fall Linde"
# Where screenshots are kept (CI sets it and keeps the directory); a test's tmp_path otherwise.
ARTIFACTS = os.environ.get("CORA_TEST_ARTIFACTS")
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def artifact(tmp_path: Path, name: str) -> Path:
    """A screenshot's path; it is printed, so that the test's output names it."""
    directory = Path(ARTIFACTS) if ARTIFACTS else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    print(f"screenshot: {path}")
    return path


def unpaced(data_dir: Path | None = None) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    """A sandbox on a free port without the rate limiter's pacing: a chat's next message need
    not wait a second for its last (the limiter's own tests prove the pacing; the sandbox
    process's test starts the command as it is, paced)."""
    return open_sandbox(SandboxOptions(port=0, data_dir=data_dir), paced=False)


# One event loop for the module's stories: the network and Chromium are started once for them.
IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The invented network, built once (migration, every joining through the dialog) and kept
    in a data directory, as `cora-bot sandbox --data-dir` keeps it; the sandboxes below start
    from copies of it (the kept data directory's own test shows that a copy is the same
    network, chats included); test_an_invitation_link_... starts one built from nothing."""
    data_dir = tmp_path_factory.mktemp("built") / "sandbox"
    async with unpaced(data_dir):
        pass
    return data_dir


async def _copy(built: Path, to: Path) -> Path:
    await asyncio.to_thread(shutil.copytree, built, to)
    return to


@pytest_asyncio.fixture(loop_scope="module")
async def sandbox(built: Path, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A sandbox of this test's own, for tests that add people or leave a dialog open."""
    data_dir = await _copy(built, tmp_path / "sandbox")
    async with unpaced(data_dir) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox built from nothing in a temporary directory, as `cora-bot sandbox` starts; its
    building logs are checked with the test's."""
    async with unpaced() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def network(built: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    """The invented network for the tests that only look at it or act in a chat of their own
    and add nobody."""
    data_dir = await _copy(built, tmp_path_factory.mktemp("network") / "sandbox")
    async with unpaced(data_dir) as running:
        yield running


@pytest.fixture
def api(request: pytest.FixtureRequest) -> LocalBotApi:
    """The sandbox's stand-in for Telegram, under the name conftest's log check looks for: what
    its people wrote must not show up in the logs either."""
    names = ("network", "fresh_sandbox", "sandbox")
    which = next(name for name in names if name in request.fixturenames)
    running: Sandbox = request.getfixturevalue(which)
    return running.api


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium driven by Playwright (no browser is ever downloaded), started once."""
    if _BROWSER_MODE == "off":
        pytest.skip("CORA_TEST_BROWSER=off")
    missing = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing = "Playwright is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.exists():  # noqa: ASYNC240 - once, before the browser
        missing = f"{CHROMIUM} is missing (apt-get install chromium); CI installs it"
    if missing is not None:
        if _BROWSER_MODE == "require":
            pytest.fail(f"CORA_TEST_BROWSER=require, but {missing}")
        pytest.skip(missing)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def browser(chromium: Any) -> AsyncIterator[Any]:
    """The shared Chromium; each page a test opens has a browser context (cookies, storage)
    of its own, and every one is closed after the test."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


def person_id(sandbox: Sandbox, name: str) -> int:
    return next(p.user.id for p in sandbox.people if p.persona.name == name)


@IN_MODULE_LOOP
async def test_the_invented_network_joins_through_the_real_dialog(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    async with sandbox.cora.database.read_sessions() as session:
        members = (await session.scalars(select(Member))).all()
        joined = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "member.activated")
        )
    assert sorted(m.display_name or "" for m in members) == sorted(p.name for p in NETWORK)
    assert all(m.status == MemberStatus.ACTIVE for m in members)
    assert joined == len(NETWORK)
    by_name = {m.display_name: m for m in members}
    coordinator = by_name["Dana Koordina"]
    assert (coordinator.role, coordinator.region) == ("coordinator", "MV")
    assert (by_name["Kim Polizei"].sector, by_name["Kim Polizei"].region) == ("police", "HRO")
    kim = sandbox.api.get_user(person_id(sandbox, "Kim Polizei"))
    told = said("join.activated", name="Kim Polizei")[0]
    assert any(told in m.text for m in kim.history if m.from_bot)


@IN_MODULE_LOOP
async def test_a_kept_data_directory_keeps_the_chats_and_every_chat_is_found_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with unpaced(tmp_path / "kept") as first:
        assert (tmp_path / "kept" / "keys.env").exists()
        dana = first.api.get_user(person_id(first, "Dana Koordina"))
        before = dana.last
        dana.send("/invite police HRO")
        invitation = await dana.wait_for(lambda m: "?start=" in m.text, 10, after=before)
        token = invitation.text.split("?start=", 1)[1].split()[0]
        newcomer = first.api.user(first_name="Nora", language_code="de")
        newcomer.send(f"/start {token}")
        await newcomer.wait_for(lambda m: said("join.ask_name")[0] in m.text, 10)
        newcomer.send("Nora Neumann")
        await newcomer.wait_for(lambda m: said("join.ask_institution")[0] in m.text, 10)
        newcomer.send("Polizeirevier Lindenweg")
        await newcomer.wait_for(lambda m: "Nora Neumann" in m.text, 10)
        # Dana hears of every use of her links; the chats are kept once nothing is on its way.
        await dana.wait_for(lambda m: "Nora Neumann" in m.text, 10, after=invitation)
        async with asyncio.timeout(15):
            while (await first.cora.services.deliveries.backlog())[0]:
                await asyncio.sleep(0.05)
        kim_id = person_id(first, "Kim Polizei")
        kept = {user.id: [m.text for m in user.history] for user in (dana, newcomer)}
        kept[kim_id] = [m.text for m in first.api.get_user(kim_id).history]
    caplog.clear()
    async with unpaced(tmp_path / "kept") as second:
        async with second.cora.database.read_sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Member))
        assert count == len(NETWORK) + 1
        assert [p.user.id for p in second.people] == [p.user.id for p in first.people]
        # The chats are as they were, the newcomer included.
        for user_id, texts in kept.items():
            assert [m.text for m in second.api.get_user(user_id).history] == texts
        dana = second.api.get_user(person_id(second, "Dana Koordina"))
        kim = second.api.get_user(kim_id)
        nora = second.api.get_user(newcomer.id)
        dana.send(ALERT)
        await kim.wait_for(lambda m: "Test im Fall Linde" in m.text, 10)
        await nora.wait_for(lambda m: "Test im Fall Linde" in m.text, 10)
    assert "chat not found" not in caplog.text.lower()


@IN_MODULE_LOOP
async def test_a_coordinators_alert_is_acknowledged_by_the_police_member_in_the_browser(
    network: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    sandbox = network
    from playwright.async_api import expect as shows_up

    page = await browser.new_page(viewport={"width": 1440, "height": 960})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(sandbox.url)
    dana = page.locator(f"#phone-{person_id(sandbox, 'Dana Koordina')}")
    kim = page.locator(f"#phone-{person_id(sandbox, 'Kim Polizei')}")
    await shows_up(page.locator(".phone")).to_have_count(FIRST_SHOWN)

    label = i18n.text("de", "sandbox.message_label", name="Dana Koordina")
    await dana.get_by_label(label).fill(ALERT)
    await dana.get_by_role("button", name=i18n.text("de", "sandbox.send")).click()
    alert = kim.locator(".message.from-bot", has_text="Test im Fall Linde")
    await shows_up(alert).to_be_visible(timeout=15_000)
    await shows_up(alert).to_contain_text(said("alert.header.urgent")[0].strip())

    await alert.get_by_role("button", name=i18n.text("de", "button.ack")).click()
    seen = "".join(said("status.acknowledged", names="Kim Polizei"))
    await shows_up(dana.locator(".message.from-bot", has_text=seen)).to_be_visible(timeout=15_000)
    await shows_up(kim.locator(".toast")).not_to_be_empty()

    await page.screenshot(path=str(tmp_path / "sandbox.png"))
    assert errors == []


@IN_MODULE_LOOP
async def test_the_invented_network_has_offers_with_maintainers_and_places(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    offers = {o.code: o for o in await sandbox.cora.services.offers.all_offers()}
    shelters = [o for o in offers.values() if o.kind == "shelter"]
    assert len(shelters) == 2 and all(o.places_free for o in shelters)
    assert "ar" in offers["bs-lindenhof"].languages
    frida = await sandbox.cora.services.membership.find_by_telegram(
        person_id(sandbox, "Frida Frauenhaus")
    )
    assert frida is not None and offers["fh-lindensee"].maintainers == (frida.id,)


@IN_MODULE_LOOP
async def test_kim_raises_a_need_for_a_place_and_the_shelter_accepts_it_in_the_browser(
    sandbox: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect as shows_up

    page = await browser.new_page(viewport={"width": 1440, "height": 960})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(sandbox.url)
    await shows_up(page.locator(".story")).to_contain_text("/need shelter HRO 1+2 Fall Linde")
    frida_id = person_id(sandbox, "Frida Frauenhaus")
    await page.get_by_role("checkbox", name="Frida Frauenhaus").check()
    frida = page.locator(f"#phone-{frida_id}")
    await shows_up(frida).to_be_visible()
    kim = page.locator(f"#phone-{person_id(sandbox, 'Kim Polizei')}")

    label = i18n.text("de", "sandbox.message_label", name="Kim Polizei")
    await kim.get_by_label(label).fill("/need shelter HRO 1+2 Fall Linde")
    await kim.get_by_role("button", name=i18n.text("de", "sandbox.send")).click()
    request = frida.locator(".message.from-bot", has_text="Fall Linde")
    await shows_up(request).to_be_visible(timeout=15_000)
    await shows_up(request).to_contain_text("1 erwachsene Person, 2 Kinder")
    await request.get_by_role("button", name=i18n.text("de", "button.we_can")).click()
    taken = said("need.notice.taken", offer="Frauenhaus am Lindensee")[0].strip()
    await shows_up(kim.locator(".message.from-bot", has_text=taken)).to_be_visible(timeout=15_000)
    await page.screenshot(path=str(tmp_path / "sandbox-need.png"))
    assert errors == []


@IN_MODULE_LOOP
async def test_the_page_in_english_and_a_person_added_from_the_page(
    sandbox: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect as shows_up

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(sandbox.url)
    await page.get_by_role("link", name="English").click()
    await shows_up(page.locator("h1")).to_have_text(i18n.text("en", "sandbox.title"))
    await shows_up(page.locator(".phone")).to_have_count(FIRST_SHOWN)  # the columns stay
    # A column is hidden and shown again with the keyboard-operable picker.
    rike = person_id(sandbox, "Rike Regional")
    await page.get_by_role("checkbox", name="Rike Regional").check()
    await shows_up(page.locator(f"#phone-{rike}")).to_be_visible()
    await page.get_by_role(
        "button", name=i18n.text("en", "sandbox.hide", name="Rike Regional")
    ).click()
    await shows_up(page.locator(f"#phone-{rike}")).to_have_count(0)

    await page.get_by_label(i18n.text("en", "sandbox.new_person")).fill("Nora")
    await page.get_by_role("button", name=i18n.text("en", "sandbox.add")).click()
    nora = page.locator(".phone", has=page.get_by_role("heading", name="Nora"))
    await shows_up(nora).to_be_visible()
    await nora.get_by_label(i18n.text("en", "sandbox.message_label", name="Nora")).fill("/start")
    await nora.get_by_role("button", name=i18n.text("en", "sandbox.send")).click()
    intro = said("join.request_intro", "en")[0][:30]
    await shows_up(nora.locator(".message.from-bot").first).to_contain_text(intro)
    await page.screenshot(path=str(tmp_path / "sandbox-en.png"))


# Playwright's visibility (a box of some size, not `visibility: hidden`, not inside a closed
# `details`) and bounding box (relative to the viewport), for every field in one round trip
# to the browser instead of three or four a field.
_OUTSIDE = """([selector, scroll]) => {
    const outside = [];
    for (const field of document.querySelectorAll(selector)) {
        let box = field.getBoundingClientRect();
        const visible = field.checkVisibility() && box.width > 0 && box.height > 0
            && getComputedStyle(field).visibility === "visible";
        if (!visible) continue;
        if (scroll) {
            field.scrollIntoViewIfNeeded(true);  // Chromium's, as Playwright's: centred
            box = field.getBoundingClientRect();
        }
        const inside = box.x >= 0 && box.y >= 0
            && box.x + box.width <= window.innerWidth
            && box.y + box.height <= window.innerHeight;
        if (!inside) {
            const name = field.id || field.getAttribute("value") || field.textContent;
            outside.push(`${name}: ${JSON.stringify(box)}`);
        }
    }
    return outside;
}"""


async def _inputs_outside(page: Any, *, scroll: bool) -> list[str]:
    """Every visible field, checkbox and button of the page that is not wholly within the
    viewport (`scroll`: after scrolling the page to it, as a person on a phone would)."""
    assert page.viewport_size == await page.evaluate(
        "({width: window.innerWidth, height: window.innerHeight})"
    )
    fields = "input:not([type=hidden]), textarea, .toolbar button, .composer button, summary"
    found: list[str] = await page.evaluate(_OUTSIDE, [fields, scroll])
    return found


@IN_MODULE_LOOP
async def test_the_page_fits_1366x768_with_four_phones_and_works_on_a_phone(
    network: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    sandbox = network
    from playwright.async_api import expect as shows_up

    four = ",".join(str(p.user.id) for p in sandbox.people[:4])
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(f"{sandbox.url}?show={four}")
    await shows_up(page.locator(".phone")).to_have_count(4)
    await page.screenshot(path=str(artifact(tmp_path, "sandbox-1366x768.png")))
    # The explanation is open on a first visit; all four message fields are in view anyway.
    assert await page.locator("details.about").get_attribute("open") is not None
    assert await _inputs_outside(page, scroll=False) == []
    await page.locator("details.about > summary").click()
    await page.reload()  # folded stays folded
    assert await page.locator("details.about").get_attribute("open") is None
    assert await _inputs_outside(page, scroll=False) == []
    await page.screenshot(path=str(artifact(tmp_path, "sandbox-1366x768-folded.png")))

    phone = await browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.goto(f"{sandbox.url}?show={four}")
    await shows_up(phone.locator(".phone")).to_have_count(4)
    await phone.screenshot(path=str(artifact(tmp_path, "sandbox-390x844.png")), full_page=True)
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await _inputs_outside(phone, scroll=True) == []


@IN_MODULE_LOOP
async def test_a_date_poll_follows_its_own_prompt_in_a_multi_line_field(
    sandbox: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    """Enter sends, Shift+Enter starts a new line: the dates go one per line, as asked."""
    from playwright.async_api import expect as shows_up

    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(sandbox.url)
    dana = page.locator(f"#phone-{person_id(sandbox, 'Dana Koordina')}")
    field = dana.get_by_label(i18n.text("de", "sandbox.message_label", name="Dana Koordina"))
    bot = dana.locator(".message.from-bot")

    async def write(*lines: str) -> None:
        await field.click()
        for number, line in enumerate(lines):
            if number:
                await page.keyboard.press("Shift+Enter")
            await page.keyboard.type(line)
        await page.keyboard.press("Enter")

    # The command menu ("/") puts the chosen command into the field.
    await dana.locator("details.menu summary").click()
    await dana.locator('.commands button[value="/poll"]').click()
    await shows_up(field).to_have_value("/poll ")
    await field.press("Enter")
    await shows_up(bot.last).to_contain_text(
        said("poll.ask_title", max=200)[0][:15], timeout=15_000
    )
    await write("Fallkonferenz Linde")
    await shows_up(bot.last).to_contain_text(said("poll.ask_target")[0][:15], timeout=15_000)
    await bot.last.get_by_role("button", name=i18n.text("de", "announce.everyone")).click()
    kind = i18n.text("de", "poll.kind_button.date")
    await dana.get_by_role("button", name=kind).click()
    prompt = bot.filter(has_text=said("poll.ask_dates", min=2, max=20)[0][:15])
    # The prompt names the other separator too.
    await shows_up(prompt).to_contain_text("|", timeout=15_000)
    await write("14.01.2027 10:00", "15.01.2027 14:00-16:00")
    await shows_up(bot.last).to_contain_text(said("poll.ask_deadline")[0][:15], timeout=15_000)
    dana_user = sandbox.api.get_user(person_id(sandbox, "Dana Koordina"))
    sent = [m.text for m in dana_user.history if not m.from_bot]
    assert sent[-1] == "14.01.2027 10:00\n15.01.2027 14:00-16:00"
    assert await field.input_value() == ""


@IN_MODULE_LOOP
async def test_a_new_persons_header_follows_their_joining(
    sandbox: Sandbox, api: LocalBotApi, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect as shows_up

    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(sandbox.url)
    dana = page.locator(f"#phone-{person_id(sandbox, 'Dana Koordina')}")
    field = dana.get_by_label(i18n.text("de", "sandbox.message_label", name="Dana Koordina"))
    await field.fill("/invite police HRO")
    await field.press("Enter")
    opening = dana.get_by_role("button", name=i18n.text("de", "sandbox.open_invitation"))
    await opening.click()
    newcomer = page.locator(".phone").last
    name = i18n.text("de", "sandbox.newcomer", number=len(NETWORK) + 1)
    await shows_up(newcomer.locator("header h2")).to_have_text(name)
    await shows_up(newcomer.locator("header .details")).to_have_text(
        i18n.text("de", "sandbox.not_member")
    )
    answer = newcomer.locator("textarea")
    await shows_up(newcomer.locator(".message.from-bot").last).to_contain_text(
        said("join.ask_name")[0][:15]
    )
    await answer.fill("Nora Neumann")
    await answer.press("Enter")
    await shows_up(newcomer.locator(".message.from-bot").last).to_contain_text(
        said("join.ask_institution")[0][:15]
    )
    await answer.fill("Polizeirevier Lindenweg")
    await answer.press("Enter")
    await shows_up(newcomer.locator("header h2")).to_have_text("Nora Neumann")
    await shows_up(newcomer.locator("header .details")).to_have_text(
        "Polizei · Rostock · " + i18n.text("de", "role.member")
    )
    picker = page.locator("form.people label").last
    await shows_up(picker.locator(".name")).to_have_text("Nora Neumann")
    await page.screenshot(path=str(artifact(tmp_path, "sandbox-newcomer.png")))


@IN_MODULE_LOOP
async def test_a_refused_invitation_leaves_nobody_behind(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    people = len(sandbox.api.users)
    async with sandbox.cora.database.read_sessions() as session:
        members = await session.scalar(select(func.count()).select_from(Member))
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{sandbox.url}sandbox/people",
            data={"start": "NoSuchInvitation_0123456789", "lang": "de"},
            headers={"Accept": "application/json"},
        ) as response:
            assert response.status == 409
            refusal = (await response.json())["error"]
        async with client.get(f"{sandbox.url}_sim/users") as response:
            listed = await response.json()
    assert refusal == said("invite.invalid")[0]
    assert len(sandbox.api.users) == people and len(listed) == people
    async with sandbox.cora.database.read_sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Member))
    assert count == members


@IN_MODULE_LOOP
async def test_the_favicon_and_a_picture_opened_full_size(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    dana = sandbox.api.get_user(person_id(sandbox, "Dana Koordina"))
    before = dana.last
    dana.send("/report")
    heat_map = await dana.wait_for(lambda m: m.photo_file is not None, 30, after=before)
    assert heat_map.photo_file is not None
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{sandbox.url}favicon.ico") as response:
            assert response.status == 200
            assert response.content_type == "image/svg+xml"
            assert (await response.text()).startswith("<svg")
        fragment = f"{sandbox.url}sandbox/users/{dana.id}/messages/{heat_map.message_id}"
        async with client.get(fragment) as response:
            html = await response.text()
        link = html.split('<a class="photo-link" href="', 1)[1].split('"', 1)[0]
        async with client.get(f"{sandbox.url}{link.lstrip('/')}") as response:
            assert response.content_type == "image/png"
            assert await response.read() == heat_map.photo_file.data


@IN_MODULE_LOOP
async def test_the_english_page_names_the_button_as_the_people_see_it(
    network: Sandbox, api: LocalBotApi
) -> None:
    """The people's Telegram speaks German here (no --language en): the English page's
    example names the German button."""
    sandbox = network
    async with aiohttp.ClientSession() as client, client.get(f"{sandbox.url}?lang=en") as page:
        html = await page.text()
    hint = html.split('<p class="hint">', 1)[1].split("</p>", 1)[0]
    assert f"“{i18n.text('de', 'button.ack')}”" in hint
    assert i18n.text("en", "button.ack") not in hint


@IN_MODULE_LOOP
async def test_the_sandbox_process_needs_no_token_and_ignores_env_and_dotenv(
    tmp_path: Path,
) -> None:
    # Whatever a developer has configured must not reach the sandbox: these would all fail.
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".env").write_text("TELEGRAM_BOT_TOKEN=not-a-token\nDATABASE_URL=mysql://x\n")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CORA_"))},
        "LOG_LEVEL": "LOUD",
        "ESCALATION_URGENT_AFTER": "never",
        "API_LISTEN": "nonsense",
    }
    data_dir = tmp_path / "kept"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        cwd=workdir,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert first.startswith("cora-bot sandbox: http://127.0.0.1:"), first
        url = first.split(": ", 1)[1].strip()
        async with aiohttp.ClientSession() as client:
            async with client.get(url) as response:
                assert response.status == 200
                assert "Dana Koordina" in await response.text()
            async with client.get(f"{url}_sim/users") as response:
                names = {u["first_name"] for u in await response.json()}
        assert {p.first_name for p in NETWORK} <= names
        assert (data_dir / "cora.db").exists() and (data_dir / "keys.env").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]


def test_the_sandbox_refuses_to_listen_beyond_this_computer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli("sandbox", "--host", "0.0.0.0") == 2
    assert "--unsafe-public" in capsys.readouterr().err


def test_a_second_sandbox_on_a_kept_data_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process holds the kept directory's database (as a first sandbox would): the
    second is refused with one clear line, not a traceback, and the first keeps its lock."""
    (tmp_path / "kept").mkdir()
    first = Database(f"sqlite+aiosqlite:///{tmp_path / 'kept' / 'cora.db'}")
    first.hold()
    try:
        assert run_cli("sandbox", "--port", "0", "--data-dir", str(tmp_path / "kept")) == 2
        err = capsys.readouterr().err
        assert "Another cora-bot process is running on the SQLite file" in err
        assert "Traceback" not in err
    finally:
        asyncio.run(first.dispose())


@IN_MODULE_LOOP
async def test_only_the_page_itself_may_act_and_only_on_a_local_address(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    kim = person_id(sandbox, "Jonas Jugendamt")  # a chat no other test of the network uses
    async with aiohttp.ClientSession() as client:
        foreign = {"Origin": "https://evil.example", "Accept": "application/json"}
        async with client.post(
            f"{sandbox.url}sandbox/users/{kim}/send", data={"text": "/help"}, headers=foreign
        ) as response:
            assert response.status == 403
        async with client.post(
            f"{sandbox.url}_sim/users/{kim}/messages", json={"text": "/help"}, headers=foreign
        ) as response:
            assert response.status == 403
        rebound = {"Host": "evil.example"}
        async with client.get(f"{sandbox.url}_sim/users", headers=rebound) as response:
            assert response.status == 421
        same = {"Origin": sandbox.url.rstrip("/"), "Accept": "application/json"}
        async with client.post(
            f"{sandbox.url}sandbox/users/{kim}/send", data={"text": "/help"}, headers=same
        ) as response:
            assert response.status == 201
        async with client.get(sandbox.url) as response:
            policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@IN_MODULE_LOOP
async def test_the_local_bot_api_port_has_the_same_guard_as_the_page(
    network: Sandbox, api: LocalBotApi
) -> None:
    """The stand-in for Telegram listens on a port of its own, with the same /_sim API and the
    bot's token known to anyone who reads this code."""
    sandbox = network
    kim = person_id(sandbox, "Hanna Heiler")  # a chat no other test of the network uses
    send = f"{api.url}/_sim/users/{kim}/messages"
    before = len(api.get_user(kim).history)
    async with aiohttp.ClientSession() as client:
        rebound = {"Host": "evil.example"}
        async with client.get(f"{api.url}/_sim/users", headers=rebound) as response:
            assert response.status == 421
        async with client.post(send, json={"text": "/help"}, headers=rebound) as response:
            assert response.status == 421
        foreign = {"Origin": "https://evil.example"}
        async with client.post(send, json={"text": "/help"}, headers=foreign) as response:
            assert response.status == 403
        # A plain GET acts on the Bot API itself, so it is refused from another site too.
        send_message = f"{api.base_url}{api.token}/sendMessage?chat_id={kim}&text=x"
        async with client.get(send_message, headers={"Sec-Fetch-Site": "cross-site"}) as response:
            assert response.status == 403
        async with client.get(f"{api.url}/_sim/users") as response:
            assert response.status == 200
    assert len(api.get_user(kim).history) == before
    # The bot itself (python-telegram-bot, addressed to 127.0.0.1) is still answered.
    assert (await sandbox.cora.application.bot.get_me()).is_bot


@IN_MODULE_LOOP
async def test_a_form_without_script_acts_and_returns_to_the_page(
    network: Sandbox, api: LocalBotApi
) -> None:
    sandbox = network
    kim = person_id(sandbox, "Bea Beratung")  # a chat no other test of the network uses
    user = sandbox.api.get_user(kim)
    before = user.last
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{sandbox.url}sandbox/users/{kim}/send",
            data={"text": "/help"},
            headers={"Referer": f"{sandbox.url}?lang=en&show={kim}"},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303
        assert response.headers["Location"] == f"/?lang=en&show={kim}"
    await user.wait_for(lambda m: True, 10, after=before)


@IN_MODULE_LOOP
async def test_an_invitation_link_opens_as_a_new_person_who_joins(
    fresh_sandbox: Sandbox, api: LocalBotApi
) -> None:
    sandbox = fresh_sandbox
    dana = sandbox.api.get_user(person_id(sandbox, "Dana Koordina"))
    before = dana.last
    dana.send("/invite police HRO")
    invitation = await dana.wait_for(lambda m: "?start=" in m.text, 10, after=before)
    async with aiohttp.ClientSession() as client:
        fragment = f"{sandbox.url}sandbox/users/{dana.id}/messages/{invitation.message_id}"
        async with client.get(fragment) as response:
            html = await response.text()
        assert 'action="/sandbox/people"' in html
        token = html.split('name="start" value="', 1)[1].split('"', 1)[0]
        assert f"?start={token}" in invitation.text
        async with client.post(
            f"{sandbox.url}sandbox/people",
            data={"start": token, "lang": "de"},
            headers={"Accept": "application/json"},
        ) as response:
            assert response.status == 201
            created = await response.json()
    newcomer = sandbox.api.get_user(created["user_id"])
    assert newcomer.history[0].text == f"/start {token}"
    await newcomer.wait_for(lambda m: said("join.invited")[0] in m.text, 10)


def test_message_texts_are_rebuilt_from_entities_and_never_injected() -> None:
    text = "Fall <Linde> & Co: https://example.org/a?b=1 fett"
    entities = [
        {"type": "bold", "offset": text.index("fett"), "length": 4},
        {"type": "text_link", "offset": 0, "length": 4, "url": "javascript:alert(1)"},
        {"type": "italic", "offset": 5, "length": 7},
    ]
    html = message_text(text, entities)
    assert "&lt;Linde&gt;" in html and "<em>&lt;Linde&gt;</em>" in html
    assert "javascript" not in html
    assert '<a href="https://example.org/a?b=1" rel="noopener noreferrer"' in html
    assert "<strong>fett</strong>" in html
    crossing = message_text(
        "abcdef",
        [
            {"type": "bold", "offset": 0, "length": 4},
            {"type": "italic", "offset": 2, "length": 4},
        ],
    )
    assert crossing == "<strong>ab<em>cd</em></strong><em>ef</em>"
    emoji = message_text("👀 Gesehen", [{"type": "bold", "offset": 3, "length": 7}])
    assert emoji == "👀 <strong>Gesehen</strong>"
