"""The console in a real browser: headless Chromium (Debian's) driven by Playwright.

One browser for the module; each test gets a fresh bot, console and browser context. The
browser reaches only the console: every other address (the tweetorials' images on
pbs.twimg.com) is answered with a placeholder picture, so nothing leaves the machine.

With CONSOLE_SCREENSHOTS=DIR set, each page is also saved there as a PNG
(docs/screenshots/ holds the ones in the docs).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from PIL import Image, ImageDraw

from bot.emulator import TelegramEmulator
from storage.db import make_engine
from storage.migrate import upgrade
from tests.consolekit import ConsoleClient, start_console
from tests.harness import ADMIN_ID
from tests.test_onboarding import subscription
from tests.test_quiz import CSF, TRAINEE, answer, first_installment, polls, right_option

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
# Telegram's dark theme, as its apps pass it in tgWebAppThemeParams.
TELEGRAM_DARK = {
    "bg_color": "#17212b",
    "secondary_bg_color": "#232e3c",
    "section_bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "destructive_text_color": "#ec3942",
    "section_separator_color": "#111921",
}

pytestmark = pytest.mark.asyncio(loop_scope="module")


def placeholder_png() -> bytes:
    image = Image.new("RGB", (600, 338), (200, 206, 214))
    ImageDraw.Draw(image).text((250, 160), "image", fill=(90, 96, 104))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's chromium at /usr/bin/chromium "
            "(apt-get install -y chromium; .ci/run installs it)"
        )
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


class Screen:
    """A phone-sized page of the console; it reaches nothing but the console."""

    def __init__(self, page: Any, console: ConsoleClient) -> None:
        self.page = page
        self.console = console
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    async def shot(self, name: str, *, full_page: bool = False) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)

    async def text(self, selector: str) -> str:
        return str(await self.page.locator(selector).first.inner_text())


async def open_page(browser: Any, console: ConsoleClient, **context: Any) -> Screen:
    ctx = await browser.new_context(viewport=PHONE, **context)
    image = placeholder_png()
    base = console.base

    async def route(request_route: Any) -> None:
        if request_route.request.url.startswith(base):
            await request_route.continue_()
        else:
            await request_route.fulfill(status=200, content_type="image/png", body=image)

    await ctx.route("**/*", route)
    page = await ctx.new_page()
    page.set_default_timeout(15_000)
    return Screen(page, console)


@pytest_asyncio.fixture(loop_scope="module")
async def console(tmp_path: Path) -> AsyncIterator[ConsoleClient]:
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    upgrade(engine)
    async with TelegramEmulator() as emulator, start_console(emulator, engine) as client:
        yield client
    engine.dispose()


async def trainee_with_progress(console: ConsoleClient) -> None:
    h = console.harness
    await first_installment(h)
    for poll in polls(h):
        await answer(h, poll, right_option(poll))


async def test_a_trainee_sees_their_progress_rereads_and_changes_a_setting(
    browser: Any, console: ConsoleClient
) -> None:
    await trainee_with_progress(console)
    screen = await open_page(browser, console)
    page = screen.page
    await page.goto(console.link(TRAINEE, "Ada"))
    await page.locator("#view h2").wait_for()
    assert await screen.text("#view h2") == "CSF leaks & intracranial hypotension"
    assert await screen.text("#who") == "Ada · trainee"
    assert await page.locator(".tab").all_inner_texts() == ["My progress", "Settings"]
    assert "Thread 1 of 2" in await screen.text("#view .card")
    assert await page.locator("svg.calendar rect").count() >= 7 * 11
    assert await page.locator("svg.calendar rect.today").count() == 1
    await screen.shot("trainee-progress", full_page=True)

    await page.get_by_role("button", name="CSF leaks & targeted epidural blood patches").click()
    await page.locator("article.post").first.wait_for()
    assert await page.locator("article.post").count() == 4
    assert await page.locator("article.post img").count() >= 4
    assert "Posts 1–4 of 12 so far" in await screen.text("#view")
    await screen.shot("trainee-reading")

    await page.get_by_role("button", name="Settings").click()
    await page.locator("input[name=time]").fill("07:45")
    await page.get_by_role("button", name="Save").click()
    await page.locator("p.ok").wait_for()
    assert await screen.text("p.ok") == "Saved: delivery time 07:45."
    assert subscription(console.harness).delivery_time == "07:45"
    await screen.shot("trainee-settings")
    # What the page saved is what the bot then says and does.
    await console.harness.send(TRAINEE, "/settings")
    assert "07:45" in console.harness.last_message(TRAINEE).content
    assert screen.errors == []


async def test_an_admin_searches_filters_and_proofreads_a_thread(
    browser: Any, console: ConsoleClient
) -> None:
    screen = await open_page(browser, console)
    page = screen.page
    await page.goto(console.link(ADMIN_ID, "Ben"))
    await page.locator(".count").wait_for()
    assert await screen.text(".count") == "6 of 6 threads"
    assert await screen.text("#who") == "Ben · admin"
    assert await page.locator(".tab").all_inner_texts() == ["Library", "My progress", "Settings"]
    await screen.shot("admin-library")

    await page.get_by_role("searchbox").fill("stroke")
    await page.get_by_text("1 of 6 threads").wait_for()
    assert await page.locator(".library button.link").all_inner_texts() == [
        "Dating a stroke on MRI"
    ]
    await page.get_by_role("searchbox").fill("")
    await page.get_by_text("6 of 6 threads").wait_for()
    await page.get_by_label("Status").select_option("partial")
    await page.get_by_text("4 of 6 threads").wait_for()
    await page.get_by_label("Tag").select_option("csf-leak")
    await page.get_by_text("0 of 6 threads").wait_for()
    await page.get_by_label("Status").select_option("")
    await page.get_by_text("2 of 6 threads").wait_for()

    await page.get_by_role("button", name="CSF leaks & targeted epidural blood patches").click()
    await page.locator("aside.question").first.wait_for()
    assert await page.locator("article.post").count() == 12
    assert await page.locator("aside.question").count() == 14
    first = page.locator("aside.question").first
    assert await first.locator("li.correct").count() >= 1
    assert await first.locator(".explanation").inner_text()
    await first.scroll_into_view_if_needed()
    await screen.shot("admin-thread")
    await page.get_by_role("button", name="‹ Library").click()
    await page.get_by_text("6 of 6 threads").wait_for()
    assert screen.errors == []


async def test_inside_telegram_the_page_wears_telegrams_theme_and_says_it_is_ready(
    browser: Any, console: ConsoleClient
) -> None:
    await trainee_with_progress(console)
    screen = await open_page(browser, console)
    page = screen.page
    # What Telegram's Android and iOS apps give a Mini App: a bridge for its events.
    await page.add_init_script(
        "window.__posted = [];"
        "window.TelegramWebviewProxy = {postEvent: (type, data) => "
        "window.__posted.push([type, JSON.parse(data)])};"
    )
    theme = quote(json.dumps(TELEGRAM_DARK), safe="")
    await page.goto(
        console.link(TRAINEE, "Ada", tgWebAppThemeParams=theme, tgWebAppPlatform="android")
    )
    await page.locator("#view h2").wait_for()
    background = "getComputedStyle(document.body).backgroundColor"
    assert await page.evaluate(background) == "rgb(35, 46, 60)"  # secondary_bg_color
    card = "getComputedStyle(document.querySelector('.card')).backgroundColor"
    assert await page.evaluate(card) == "rgb(23, 33, 43)"  # section_bg_color
    posted = [event for event, _data in await page.evaluate("window.__posted")]
    assert posted[:2] == ["web_app_ready", "web_app_expand"]
    await screen.shot("trainee-progress-telegram-dark", full_page=True)

    # A theme change from Telegram is followed at once.
    await page.evaluate(
        "window.Telegram.WebView.receiveEvent('theme_changed', "
        "{theme_params: {secondary_bg_color: '#ffffff'}})"
    )
    assert await page.evaluate(background) == "rgb(255, 255, 255)"
    # Links to the originals are handed to Telegram to open, not opened in the Mini App.
    await page.get_by_role("button", name="CSF leaks & targeted epidural blood patches").click()
    await page.locator("a.orig").first.click()
    opened = await page.evaluate("window.__posted[window.__posted.length - 1]")
    assert opened[0] == "web_app_open_link" and opened[1]["url"].startswith("https://")
    assert page.url.startswith(console.base)
    assert screen.errors == []


async def test_in_a_plain_browser_the_page_has_its_own_light_and_dark_themes(
    browser: Any, console: ConsoleClient
) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        screen = await open_page(browser, console, color_scheme=scheme)
        await screen.page.goto(console.link(ADMIN_ID, "Ben"))
        await screen.page.locator(".count").wait_for()
        backgrounds[scheme] = await screen.page.evaluate(
            "getComputedStyle(document.body).backgroundColor"
        )
        if scheme == "dark":
            await screen.shot("admin-library-dark")
    assert backgrounds == {"light": "rgb(242, 243, 245)", "dark": "rgb(27, 30, 35)"}


async def test_without_sign_in_or_with_an_expired_one_the_page_says_what_to_do(
    browser: Any, console: ConsoleClient
) -> None:
    screen = await open_page(browser, console)
    page = screen.page
    await page.goto(f"{console.base}/app/")
    status = page.locator("#status")
    await status.filter(has_text="menu button").wait_for()
    assert "tweetdrip console-url" in await status.inner_text()

    stale = await open_page(browser, console)
    link = console.link(TRAINEE)
    console.harness.advance(days=2)  # the link was signed two days ago
    await stale.page.goto(link)
    flash = stale.page.locator("#flash")
    await flash.wait_for()
    assert "expired" in await flash.inner_text()


async def test_a_trainee_can_not_open_admin_views_from_the_page(
    browser: Any, console: ConsoleClient
) -> None:
    screen = await open_page(browser, console)
    page = screen.page
    await page.goto(console.link(TRAINEE))
    await page.locator("#view").wait_for()
    await page.evaluate(f"window.htmx.ajax('GET', 'api/view/threads/{CSF}', {{target: '#view'}})")
    await page.locator("#flash").wait_for()
    assert "for admins only" in await screen.text("#flash")
    assert await page.locator("aside.question").count() == 0
