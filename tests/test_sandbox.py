"""`tweetdrip sandbox`: a chat with the real bot in the terminal, on a virtual clock."""

from __future__ import annotations

import datetime as dt
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox import Sandbox, parse_duration, styled_text

MONDAY_6AM = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)


class Screen:
    """What the sandbox printed."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.extend(text.splitlines() or [""])

    def since(self, mark: int) -> str:
        return "\n".join(self.lines[mark:])

    @property
    def mark(self) -> int:
        return len(self.lines)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[Sandbox, Screen]]:
    screen = Screen()
    async with Sandbox(screen, start=MONDAY_6AM) as box:
        yield box, screen


async def typed(box: Sandbox, screen: Screen, line: str) -> str:
    mark = screen.mark
    assert await box.handle(line)
    return screen.since(mark)


async def subscribe(box: Sandbox, screen: Screen) -> None:
    await typed(box, screen, "/start")
    for choice in ("1", "2", "6", "2"):  # CSF track, 07:30, UTC, 4 posts a day
        await typed(box, screen, choice)


async def test_onboarding_shows_numbered_buttons_that_can_be_pressed(
    sandbox: tuple[Sandbox, Screen],
) -> None:
    box, screen = sandbox
    shown = await typed(box, screen, "/start")
    assert "bot> " in shown and "Which track" in shown
    assert "[1] CSF leaks & intracranial hypotension" in shown
    pressed = await typed(box, screen, "/press 1")
    assert "(you pressed “CSF leaks & intracranial hypotension”)" in pressed
    assert "When should each installment arrive?" in pressed
    assert "[2] 07:30" in pressed
    assert "Delivery time: 07:30" in await typed(box, screen, "2")  # a bare number presses too
    await typed(box, screen, "6")
    done = await typed(box, screen, "2")
    assert "You're subscribed!" in done and "Next installment: Mon 05 Jan, 07:30" in done


async def test_ticking_the_clock_delivers_each_day_at_its_own_time(
    sandbox: tuple[Sandbox, Screen],
) -> None:
    box, screen = sandbox
    await subscribe(box, screen)
    shown = await typed(box, screen, "/tick 2d")
    assert "⏩ Mon 05 Jan 2026 07:30 UTC" in shown
    assert "Day 1 · CSF leaks & targeted epidural blood patches · posts 1-4 of 12" in shown
    assert "⏩ Tue 06 Jan 2026 07:30 UTC" in shown
    assert "Day 2 · " in shown and "Day 3 · " not in shown
    assert "[photo]" in shown and "View the original post <https://" in shown
    assert "⏰ You have 2 quiz questions" in shown  # the reminder job ran at virtual time
    assert shown.rstrip().endswith("⏩ virtual time: Wed 07 Jan 2026 06:00 UTC")


async def test_polls_show_numbered_options_and_take_answers(
    sandbox: tuple[Sandbox, Screen],
) -> None:
    box, screen = sandbox
    await subscribe(box, screen)
    shown = await typed(box, screen, "/tick 2h")
    assert "📊 Quiz: Epidural blood patches have been around since the 60s." in shown
    assert "  3) Leaks after a dural puncture" in shown  # options as written, not shuffled
    right = await typed(box, screen, "/answer 3")
    assert "(answering: Epidural blood patches" in right
    assert "✓ correct" in right and "💡 Post 2:" in right
    wrong = await typed(box, screen, "/answer 1")  # the next open poll
    assert "✗ not quite; the answer is 2) Pressure: blood squeezes" in wrong
    assert "no open poll" in await typed(box, screen, "/answer 1")


async def test_an_admin_can_preview_threads(sandbox: tuple[Sandbox, Screen]) -> None:
    box, screen = sandbox
    assert "you are now Ben" in await typed(box, screen, "/as admin")
    library = await typed(box, screen, "/threads")
    assert "csf-leak-blood-patch" in library
    preview = await typed(box, screen, "/preview csf-leak-blood-patch")
    assert "1/12" in preview
    assert "you are now Ada" in await typed(box, screen, "/as trainee")


async def test_mistakes_at_the_prompt_are_explained(sandbox: tuple[Sandbox, Screen]) -> None:
    box, screen = sandbox
    assert "not a duration" in await typed(box, screen, "/tick soon")
    assert "no button [3]" in await typed(box, screen, "/press 3")
    assert "no open poll" in await typed(box, screen, "/answer 1")
    assert "/as admin or /as trainee" in await typed(box, screen, "/as ceo")
    assert "/press N" in await typed(box, screen, "/sandbox")
    assert not await box.handle("/quit")


def test_durations_read_like_people_write_them() -> None:
    assert parse_duration("1d") == dt.timedelta(days=1)
    assert parse_duration("3h") == dt.timedelta(hours=3)
    assert parse_duration("1d 6h 30m") == dt.timedelta(days=1, hours=6, minutes=30)
    for wrong in ("", "1w", "d", "-1d", "0m"):
        with pytest.raises(ValueError):
            parse_duration(wrong)


def test_formatting_becomes_terminal_styling_or_plain_text() -> None:
    text = "Day 1 · 🧠 thread"
    entities = [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 11, "length": 6, "url": "https://x.org"},
    ]
    assert styled_text(text, entities, color=False) == "Day 1 · 🧠 thread <https://x.org>"
    styled = styled_text(text, entities, color=True)
    assert styled.startswith("\x1b[1mDay 1\x1b[0m")
    assert "\x1b[4;34mthread\x1b[0m <https://x.org>" in styled


def test_the_sandbox_command_runs_in_a_real_terminal(tmp_path: Path) -> None:
    """`tweetdrip sandbox` in a pseudo-terminal: a prompt, a command, an answer, a clean exit."""
    main, child = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "sandbox"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(child)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {marker!r}; screen:\n{seen.decode(errors='replace')}"
            ready, _, _ = select.select([main], [], [], remaining)
            if ready:
                try:
                    seen += os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break

    try:
        read_until(b"ada> ")
        os.write(main, b"/help\r")
        read_until(b"/next")
        os.write(main, b"/quit\r")
        read_until(b"bye")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    screen = seen.decode(errors="replace")
    assert "tweetdrip sandbox" in screen
    assert "\x1b[1mtweetdrip\x1b[0m" in screen  # <b> became bold in a terminal
