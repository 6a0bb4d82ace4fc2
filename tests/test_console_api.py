"""The web console's API through its real server: sign-in, roles, each endpoint, settings."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.console.initdata import (
    InitDataError,
    WebAppUser,
    check_init_data,
    secret_key,
    sign_init_data,
)
from bot.console.server import WRITES_PER_MINUTE
from bot.domain.schedule import next_delivery_at
from bot.emulator import TelegramEmulator
from content.loader import bundled_library, dump_thread_yaml
from content.models import Author
from storage.db import session_scope
from storage.models import ImportedThread, Subscription, SubscriptionStatus
from tests.consolekit import ConsoleClient, start_console
from tests.harness import ADMIN_ID, TOKEN
from tests.test_onboarding import onboard, subscription
from tests.test_quiz import CSF, DAY1, TRAINEE, answer, first_installment, polls, right_option

OTHER = 777  # another trainee, or nobody yet
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
GET_ENDPOINTS = [
    "/app/api/me",
    "/app/api/threads",
    f"/app/api/threads/{CSF}",
    "/app/api/progress",
    f"/app/api/progress/threads/{CSF}",
    "/app/api/view/home",
    "/app/api/view/progress",
    f"/app/api/view/progress/threads/{CSF}",
    "/app/api/view/settings",
    "/app/api/view/library",
    "/app/api/view/library/results",
    f"/app/api/view/threads/{CSF}",
]
ADMIN_ENDPOINTS = [
    "/app/api/threads",
    f"/app/api/threads/{CSF}",
    "/app/api/view/library",
    "/app/api/view/library/results?q=csf",
    f"/app/api/view/threads/{CSF}",
]


@pytest.fixture
async def console(emulator: TelegramEmulator, sqlite_engine: Engine):  # type: ignore[no-untyped-def]
    async with start_console(emulator, sqlite_engine) as client:
        yield client


# -- signing ---------------------------------------------------------------------------------


def telegram_signed(fields: dict[str, str], token: str) -> str:
    """Init data signed by the letter of Telegram's documentation, independently of the bot."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest}, quote_via=quote)


def test_init_data_signed_as_telegram_documents_it_is_accepted() -> None:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": 279058397, "first_name": "Vladislav", "last_name": "K"}),
        "auth_date": str(int(NOW.timestamp())),
        "signature": "Ed25519-signature-for-third-parties",
    }
    signed = check_init_data(
        telegram_signed(fields, TOKEN), secret_key(TOKEN), NOW, dt.timedelta(days=1)
    )
    assert signed.user.id == 279058397 and signed.user.name == "Vladislav K"
    assert signed.auth_date == NOW


def test_forged_tampered_stale_and_malformed_init_data_are_refused() -> None:
    key, day = secret_key(TOKEN), dt.timedelta(days=1)
    ada = WebAppUser(id=TRAINEE, first_name="Ada")
    good = sign_init_data(ada, TOKEN, NOW)
    assert check_init_data(good, key, NOW, day).user == ada

    def refused(raw: str, now: dt.datetime = NOW) -> str:
        with pytest.raises(InitDataError) as caught:
            check_init_data(raw, key, now, day)
        return str(caught.value)

    other_bot = sign_init_data(ada, "999999:another-bots-token", NOW)
    assert "signature" in refused(other_bot)
    # The same hash over another user: taking over an account by editing the id fails.
    tampered = good.replace(quote(f'"id":{TRAINEE}', safe=""), quote('"id":4242', safe=""))
    assert tampered != good and "signature" in refused(tampered)
    assert "signature" in refused(re.sub(r"hash=[0-9a-f]+", "hash=" + "0" * 64, good))
    assert "signature" in refused(re.sub(r"&?hash=[0-9a-f]+", "", good))
    assert "expired" in refused(good, NOW + day + dt.timedelta(seconds=1))
    assert "future" in refused(sign_init_data(ada, TOKEN, NOW + dt.timedelta(hours=1)))
    assert "twice" in refused(good + "&auth_date=1")
    assert "no init data" in refused("")
    no_user = telegram_signed({"auth_date": str(int(NOW.timestamp()))}, TOKEN)
    assert "no user" in refused(no_user)
    bool_id = telegram_signed(
        {"auth_date": str(int(NOW.timestamp())), "user": '{"id": true}'}, TOKEN
    )
    assert "no user id" in refused(bool_id)


# -- the page --------------------------------------------------------------------------------


async def test_the_page_and_its_files_come_from_the_bot_with_safety_headers(
    console: ConsoleClient,
) -> None:
    page = await console.get("/app/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # Nothing is fetched from elsewhere: every script and style is the bot's own.
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("static/") for s in sources)
    for source in sources:
        asset = await console.get(f"/app/{source}", headers={"Accept-Encoding": "gzip"})
        assert asset.status == 200 and asset.headers["Content-Encoding"] == "gzip"
        assert "immutable" in asset.headers["Cache-Control"]  # versioned names
    licence = await console.get("/app/static/htmx.LICENSE.txt")
    assert "Zero-Clause BSD" in licence.text
    assert (await console.get("/app/static/nothing.js")).status == 404
    async with console.http.get(console.base + "/app", allow_redirects=False) as moved:
        assert moved.status == 308 and moved.headers["Location"] == "app/"


async def test_the_first_load_transfers_under_150_kb(console: ConsoleClient) -> None:
    """The page, its files and the first view, compressed as a browser asks for them."""
    await first_installment(console.harness)
    gzip = {"Accept-Encoding": "gzip, deflate, br"}
    total = 0
    page = await console.get("/app/", headers=gzip)
    for path in ["/app/", *(f"/app/{s}" for s in re.findall(r'(?:src|href)="([^"]+)"', page.text))]:
        async with console.http.get(console.base + path, headers=gzip, auto_decompress=False) as r:
            total += len(await r.read())
    for user in (TRAINEE, ADMIN_ID):
        init = console.init_data(user)
        headers = {**gzip, "Authorization": f"tma {init}"}
        async with console.http.get(
            console.base + "/app/api/view/home", headers=headers, auto_decompress=False
        ) as r:
            assert r.status == 200
            view = len(await r.read())
        assert total + view < 150_000


# -- signing in ------------------------------------------------------------------------------


async def test_every_api_request_needs_init_data_signed_by_this_bot(
    console: ConsoleClient,
) -> None:
    forged = console.init_data(ADMIN_ID, token="999999:another-bots-token")
    tampered = console.init_data(TRAINEE).replace(
        quote(f'"id":{TRAINEE}', safe=""), quote(f'"id":{ADMIN_ID}', safe="")
    )
    for path in [*GET_ENDPOINTS, "/app/api/nothing-here"]:
        missing = await console.get(path)
        assert missing.status == 401, path
        assert missing.headers["WWW-Authenticate"] == "tma"
        assert missing.headers["Cache-Control"] == "no-store"
        assert (await console.get(path, headers={"Authorization": "Bearer x"})).status == 401
        assert (await console.get(path, init_data=forged)).status == 401, path
        assert (await console.get(path, init_data=tampered)).status == 401, path
    for path in ("/app/api/settings", "/app/api/view/settings"):
        refused = await console.post(path, init_data=forged, json={"time": "06:00"})
        assert refused.status == 401
    assert (await console.get("/app/api/nothing-here", user=TRAINEE)).status == 404


async def test_init_data_replayed_after_the_allowed_age_is_refused(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with start_console(emulator, sqlite_engine, web_auth_max_age_seconds=3600) as console:
        init = console.init_data(TRAINEE)
        assert (await console.get("/app/api/me", init_data=init)).status == 200
        console.harness.advance(minutes=59)
        assert (await console.get("/app/api/me", init_data=init)).status == 200  # still fresh
        console.harness.advance(minutes=2)
        stale = await console.get("/app/api/me", init_data=init)
        assert stale.status == 401 and "expired" in stale.json()["error"]
        assert (await console.get("/app/api/me", user=TRAINEE)).status == 200  # a fresh one


async def test_me_says_who_and_which_role(console: ConsoleClient) -> None:
    assert (await console.get("/app/api/me", user=ADMIN_ID)).json() == {
        "id": ADMIN_ID,
        "name": "Ada",
        "role": "admin",
    }
    me = await console.get("/app/api/me", init_data=console.init_data(TRAINEE, "Bea"))
    assert me.json() == {"id": TRAINEE, "name": "Bea", "role": "trainee"}
    assert me.headers["Content-Type"].startswith("application/json")


async def test_a_trainee_gets_403_from_every_admin_endpoint(console: ConsoleClient) -> None:
    for path in ADMIN_ENDPOINTS:
        refused = await console.get(path, user=TRAINEE)
        assert refused.status == 403, path
        assert refused.json() == {"error": "for admins only"}
        assert (await console.get(path, user=ADMIN_ID)).status == 200, path
    home = await console.get("/app/api/view/home", user=TRAINEE)
    assert "api/view/library" not in home.text  # no Library tab to press


async def test_an_admin_revoked_in_the_chat_loses_the_console_at_once(
    console: ConsoleClient,
) -> None:
    h = console.harness
    await h.send(ADMIN_ID, f"/admin add {OTHER}")
    init = console.init_data(OTHER)  # signed once, used before and after the revoke
    assert (await console.get("/app/api/me", init_data=init)).json()["role"] == "admin"
    assert (await console.get("/app/api/threads", init_data=init)).status == 200
    await h.send(ADMIN_ID, f"/admin remove {OTHER}")
    assert (await console.get("/app/api/me", init_data=init)).json()["role"] == "trainee"
    assert (await console.get("/app/api/threads", init_data=init)).status == 403


# -- a trainee's own progress ----------------------------------------------------------------


async def test_progress_is_the_callers_own_whatever_the_parameters(
    console: ConsoleClient,
) -> None:
    h = console.harness
    await first_installment(h)
    q1, _q2 = polls(h)
    await answer(h, q1, right_option(q1))
    mine = (await console.get("/app/api/progress", user=TRAINEE)).json()
    assert mine["subscribed"] and mine["status"] == "active" and mine["track_id"] == "csf-leaks"
    assert mine["position"] == {
        "thread_number": 1,
        "thread_count": 2,
        "thread_id": CSF,
        "thread_title": "CSF leaks & targeted epidural blood patches",
        "next_post": 5,
        "posts_total": 12,
    }
    csf = mine["threads"][0]
    assert (csf["id"], csf["posts_read"], csf["posts_total"]) == (CSF, 4, 12)
    assert mine["score"] == {"answered": 1, "correct": 1, "percent": 100}
    assert mine["streak"] == {"current": 1, "longest": 1, "active_today": True}
    assert mine["next_installment_at"] == "2026-01-06T08:00:00+00:00"
    assert mine["settings"]["time"] == "08:00" and mine["settings"]["timezone"] == "Europe/London"
    calendar = mine["calendar"]
    assert dt.date.fromisoformat(calendar[0]["day"]).weekday() == 0  # weeks from a Monday
    assert calendar[-1] == {"day": "2026-01-05", "answered": 1, "correct": 1, "installment": True}
    assert mine["reviews_next"] and mine["reviews_due_today"] == 0

    someone_else = await console.get(
        f"/app/api/progress?user_id={TRAINEE}&user={TRAINEE}&chat_id={TRAINEE}", user=OTHER
    )
    theirs = someone_else.json()
    assert (
        not theirs["subscribed"]
        and theirs["threads"] == []
        and theirs["calendar"][-1]["answered"] == 0
    )
    view = await console.get(f"/app/api/view/progress?user_id={TRAINEE}", user=OTHER)
    assert "not subscribed yet" in view.text and "CSF leaks" not in view.text


async def test_a_trainee_rereads_only_the_posts_that_reached_them(
    console: ConsoleClient,
) -> None:
    await first_installment(console.harness)
    reading = (await console.get(f"/app/api/progress/threads/{CSF}", user=TRAINEE)).json()
    assert [p["number"] for p in reading["posts"]] == [1, 2, 3, 4]
    assert reading["posts_total"] == 12
    assert reading["posts"][0]["media"] and reading["posts"][0]["url"].startswith("https://")
    view = await console.get(f"/app/api/view/progress/threads/{CSF}", user=TRAINEE)
    assert view.text.count('class="post"') == 4 and '<img src="https://' in view.text
    assert "original ↗" in view.text and "Posts 1–4 of 12 so far" in view.text
    not_yet = "iatrogenic-csf-leak-intracranial-hypotension"  # the track's second thread
    for user, thread in ((OTHER, CSF), (TRAINEE, not_yet), (TRAINEE, "no-such-thread")):
        assert (await console.get(f"/app/api/progress/threads/{thread}", user=user)).status == 404


async def test_the_progress_page_shows_position_calendar_reviews_and_threads(
    console: ConsoleClient,
) -> None:
    h = console.harness
    await first_installment(h)
    for poll in polls(h):
        await answer(h, poll, right_option(poll))
    page = (await console.get("/app/api/view/progress", user=TRAINEE)).text
    assert "CSF leaks &amp; intracranial hypotension" in page
    assert "Thread 1 of 2" in page and "next post 5 of 12" in page
    assert page.count("<rect ") == len(
        (await console.get("/app/api/progress", user=TRAINEE)).json()["calendar"]
    )
    assert 'class="l2 today"' in page  # two answers today
    assert "100% right (2 of 2)" in page and '<progress max="12" value="4">' in page


# -- escaping --------------------------------------------------------------------------------

NASTY_TITLE = "<script>alert('title')</script> & <b>bold</b>"
NASTY_AUTHOR = '<img src=x onerror="alert(1)">'


def publish(console: ConsoleClient, thread_id: str, **changes: object) -> None:
    """An admin's import, published: it joins the library the bot serves."""
    base = bundled_library().threads["stroke-dating-mri"]
    thread = base.model_copy(update={"id": thread_id, **changes})
    with session_scope(console.harness.engine) as session:
        session.add(
            ImportedThread(
                thread_id=thread_id,
                yaml_text=dump_thread_yaml(thread),
                status="published",
                imported_by=ADMIN_ID,
            )
        )
    assert thread_id in console.harness.services.reload_library().threads


async def test_html_in_titles_authors_and_names_is_shown_as_text(
    console: ConsoleClient,
) -> None:
    publish(console, "nasty", title=NASTY_TITLE, author=Author(name=NASTY_AUTHOR))
    admin = console.init_data(ADMIN_ID, first_name="<script>alert('me')</script>")
    pages = [
        (await console.get("/app/api/view/library", init_data=admin)).text,
        (await console.get("/app/api/view/library/results?q=bold", init_data=admin)).text,
        (await console.get("/app/api/view/threads/nasty", init_data=admin)).text,
        (await console.get("/app/api/view/home", init_data=admin)).text,
    ]
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold" in pages[0]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in pages[2]
    assert "&lt;script&gt;alert(&#39;me&#39;)&lt;/script&gt; · admin" in pages[3]
    # JSON carries the text as it is, labelled as JSON and never sniffed as a page.
    data = await console.get("/app/api/threads?q=bold", init_data=admin)
    assert data.json()["threads"][0]["title"] == NASTY_TITLE
    assert data.headers["Content-Type"].startswith("application/json")
    assert data.headers["X-Content-Type-Options"] == "nosniff"


# -- the library -----------------------------------------------------------------------------


async def test_the_library_lists_filters_and_reports_problems(console: ConsoleClient) -> None:
    publish(console, "reading-only", quiz=[])

    async def ids(query: str) -> list[str]:
        answer = await console.get(f"/app/api/threads{query}", user=ADMIN_ID)
        return [t["id"] for t in answer.json()["threads"]]

    everything = (await console.get("/app/api/threads", user=ADMIN_ID)).json()
    assert everything["total"] == 7 and len(everything["threads"]) == 7
    assert "csf-leak" in everything["tags"]
    csf = next(t for t in everything["threads"] if t["id"] == CSF)
    assert (csf["posts"], csf["questions"], csf["status"]) == (12, 14, "complete")
    assert csf["problems"] == [] and not csf["imported"]
    draft = next(t for t in everything["threads"] if t["id"] == "reading-only")
    assert draft["imported"] and any("no quiz questions" in p for p in draft["problems"])
    assert await ids("?q=stroke") == ["stroke-dating-mri", "reading-only"]
    assert await ids("?q=STROKE%20alhilali") == ["stroke-dating-mri", "reading-only"]
    assert len(await ids("?status=partial")) == 5
    assert sorted(await ids("?tag=csf-leak")) == [
        CSF,
        "iatrogenic-csf-leak-intracranial-hypotension",
    ]
    assert await ids("?q=stroke&status=complete") == []
    results = await console.get("/app/api/view/library/results?tag=csf-leak", user=ADMIN_ID)
    assert "2 of 7 threads" in results.text and "1 problem" not in results.text
    listing = await console.get("/app/api/view/library?q=reading", user=ADMIN_ID)
    assert 'value="reading"' in listing.text and "1 problem" in listing.text


async def test_a_thread_reads_with_its_questions_answers_and_explanations(
    console: ConsoleClient,
) -> None:
    detail = (await console.get(f"/app/api/threads/{CSF}", user=ADMIN_ID)).json()
    thread = bundled_library().threads[CSF]
    assert len(detail["posts"]) == 12
    placed = {q["id"]: p["number"] for p in detail["posts"] for q in p["questions"]}
    assert placed == {q.id: q.after_post or 12 for q in thread.quiz}
    question = next(q for p in detail["posts"] for q in p["questions"])
    source = next(q for q in thread.quiz if q.id == question["id"])
    assert question["correct"] == source.correct and question["explanation"] == source.explanation
    page = (await console.get(f"/app/api/view/threads/{CSF}", user=ADMIN_ID)).text
    assert page.count('class="post"') == 12 and page.count('class="question"') == 14
    assert page.count('class="correct"') == sum(len(q.correct) for q in thread.quiz)
    assert "Ventral" in page and "source: post 6" in page
    assert (await console.get("/app/api/threads/no-such-thread", user=ADMIN_ID)).status == 404


# -- settings --------------------------------------------------------------------------------


async def test_settings_change_by_the_chats_rules_and_the_chat_sees_them(
    console: ConsoleClient, caplog: pytest.LogCaptureFixture
) -> None:
    h = console.harness
    await onboard(h)
    caplog.set_level(logging.INFO, logger="bot.console.audit")
    saved = await console.post(
        "/app/api/settings",
        user=TRAINEE,
        json={"time": "7:15 pm", "timezone": "chicago", "pace": "2"},
    )
    assert saved.status == 200
    assert saved.json()["changed"] == {
        "time": ["08:00", "19:15"],
        "timezone": ["Europe/London", "America/Chicago"],
        "pace": ["4", "2"],
    }
    sub = subscription(h)
    assert (sub.delivery_time, sub.timezone, sub.pace) == ("19:15", "America/Chicago", 2)
    assert sub.next_due_at == next_delivery_at("America/Chicago", "19:15", h.now)
    assert f"console: user {TRAINEE} changed their settings: time 08:00 -> 19:15" in caplog.text
    await h.send(TRAINEE, "/settings")
    assert "19:15" in h.last_message(TRAINEE).content
    assert "America/Chicago" in h.last_message(TRAINEE).content


async def test_refused_settings_save_nothing_and_say_why_as_the_chat_does(
    console: ConsoleClient,
) -> None:
    h = console.harness
    await onboard(h)
    refused = await console.post(
        "/app/api/settings", user=TRAINEE, json={"time": "25:00", "timezone": "Asia/Tokyo"}
    )
    assert refused.status == 422
    assert refused.json() == {"errors": {"time": "25:00 is not a time of day. Use 00:00 to 23:59."}}
    assert (subscription(h).delivery_time, subscription(h).timezone) == ("08:00", "Europe/London")
    await h.send(TRAINEE, "/settings")
    await h.press(TRAINEE, h.last_message(TRAINEE), "set:time")
    await h.send(TRAINEE, "25:00")
    assert refused.json()["errors"]["time"] in h.messages(TRAINEE)[-2].content  # the same words
    form = await console.post(
        "/app/api/view/settings", user=TRAINEE, data={"time": "08:00", "timezone": "Narnia"}
    )
    assert form.status == 422 and "the time zone “Narnia”" in form.text
    for body in ([1, 2], {"time": True}, {"paused": "maybe?"}, {"pace": [4]}):
        strange = await console.post("/app/api/settings", user=TRAINEE, json=body)
        assert strange.status == 400, body
    assert subscription(h).status == SubscriptionStatus.active
    not_yet = await console.post("/app/api/settings", user=OTHER, json={"time": "06:00"})
    assert not_yet.status == 422 and "/start" in not_yet.json()["errors"]["status"]


async def test_pausing_in_the_console_is_pausing_in_the_chat(console: ConsoleClient) -> None:
    h = console.harness
    await onboard(h)
    form = await console.post(
        "/app/api/view/settings",
        user=TRAINEE,
        data=[
            ("time", "08:00"),
            ("timezone", "Europe/London"),
            ("pace", "4"),
            ("paused", "false"),
            ("paused", "true"),
        ],
    )
    assert form.status == 200 and "Saved: the drip is paused." in form.text
    assert "checked" in form.text
    sub = subscription(h)
    assert sub.status == SubscriptionStatus.paused and sub.next_due_at is None
    h.clock.set(DAY1)
    assert await h.dispatch() == 0  # nothing arrives while paused
    await h.send(TRAINEE, "/resume")
    assert "Resumed" in h.last_message(TRAINEE).content
    resumed = await console.get("/app/api/progress", user=TRAINEE)
    assert resumed.json()["settings"]["paused"] is False


async def test_saving_unchanged_settings_moves_nothing(console: ConsoleClient) -> None:
    h = console.harness
    await onboard(h)
    due = subscription(h).next_due_at
    h.advance(hours=30)  # past the due time: the installment is waiting for the dispatcher
    same = await console.post(
        "/app/api/settings",
        user=TRAINEE,
        json={"time": "08:00", "timezone": "Europe/London", "pace": "4", "paused": False},
    )
    assert same.status == 200 and same.json()["changed"] == {}
    assert subscription(h).next_due_at == due


async def test_settings_writes_are_limited_per_user(console: ConsoleClient) -> None:
    h = console.harness
    await onboard(h)
    await onboard(h, OTHER)
    for _ in range(WRITES_PER_MINUTE):
        ok = await console.post("/app/api/settings", user=TRAINEE, json={"pace": "4"})
        assert ok.status == 200
    limited = await console.post("/app/api/settings", user=TRAINEE, json={"pace": "2"})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    assert subscription(h).pace == 4
    other = await console.post("/app/api/settings", user=OTHER, json={"pace": "2"})
    assert other.status == 200


async def test_a_get_never_changes_anything(console: ConsoleClient) -> None:
    h = console.harness
    await onboard(h)
    assert (await console.get("/app/api/settings?time=06:00", user=TRAINEE)).status == 405
    form = await console.get("/app/api/view/settings?time=06:00&paused=true", user=TRAINEE)
    assert form.status == 200 and 'value="08:00"' in form.text
    sub = subscription(h)
    assert (sub.delivery_time, sub.status) == ("08:00", SubscriptionStatus.active)
    with session_scope(h.engine) as session:
        assert len(session.exec(select(Subscription)).all()) == 1


# -- the menu button and the ways the console runs -------------------------------------------


async def test_with_web_url_every_private_chat_opens_the_console_from_the_menu(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with start_console(emulator, sqlite_engine, web_url="https://bot.example.org"):
        assert emulator.menu_button() == {
            "type": "web_app",
            "text": "Open tweetdrip",
            "web_app": {"url": "https://bot.example.org/app/"},
        }
        assert emulator.menu_button(TRAINEE)["type"] == "web_app"


async def test_without_web_url_a_menu_button_left_from_before_shows_the_commands_again(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    emulator.world.menu_buttons[None] = {
        "type": "web_app",
        "text": "Open tweetdrip",
        "web_app": {"url": "https://old.example.org/app/"},
    }
    async with start_console(emulator, sqlite_engine):
        assert emulator.menu_button() == {"type": "commands"}


def test_links_carry_init_data_in_the_fragment_as_telegram_opens_the_app() -> None:
    from bot.console.links import console_address, signed_link
    from bot.settings import Settings

    settings = Settings(_env_file=None, web_url="https://bot.example.org/")  # type: ignore[call-arg]
    assert console_address(settings) == "https://bot.example.org/app/"
    local = Settings(_env_file=None, web_port=8081)  # type: ignore[call-arg]
    assert console_address(local) == "http://127.0.0.1:8081/app/"
    link = signed_link(console_address(settings), WebAppUser(TRAINEE, "Ada Lovelace"), TOKEN, NOW)
    fragment = dict(parse_qsl(urlsplit(link).fragment))
    signed = check_init_data(fragment["tgWebAppData"], secret_key(TOKEN), NOW, DAY)
    assert signed.user == WebAppUser(TRAINEE, "Ada Lovelace")
    assert "+" not in link and "Ada%2520Lovelace" in link
    assert unquote(unquote(link)).count("Ada Lovelace") == 1
