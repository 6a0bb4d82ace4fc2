"""Admins import threads by sending a file: a report comes back, and only a confirmed,
valid import joins the library."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlmodel import select

from bot.domain.admin import ImportResult, prepare_import
from bot.services import library as library_service
from bot.services.library import load_current_library
from content.models import Library
from storage.db import session_scope
from storage.models import ImportedThread
from tests.harness import ADMIN_ID, Harness

GOOD_YAML = """\
schema: 1
id: lp-basics
title: "Lumbar puncture basics"
author: {name: Dr Test, handle: "@drtest"}
source: {kind: notes}
tags: [procedures]
posts:
  - text: "A lumbar puncture goes in below the conus, usually at L3-L4 or L4-L5."
  - text: "Use an atraumatic needle: fewer post-dural puncture headaches."
quiz:
  - id: level
    question: "Which level is safe for a lumbar puncture in adults?"
    options: ["L3-L4", "T12-L1"]
    correct: [0]
    explanation: "The conus ends around L1-L2."
    after_post: 1
"""

# Two mistakes a person could make: a tag listed twice, and an answer past the options.
BAD_YAML = """\
schema: 1
id: lp-basics
title: "Lumbar puncture basics"
tags: [procedures, procedures]
author: {name: Dr Test}
source: {kind: notes}
posts:
  - text: "A lumbar puncture goes in below the conus."
quiz:
  - id: level
    question: "Which level?"
    options: ["L3-L4", "T12-L1"]
    correct: [5]
"""

MARKDOWN = """\
# Post-dural puncture headache

Post-dural puncture headache follows a lumbar puncture in a minority of patients. It is
worse upright and better lying flat, and usually starts within three days.

## Management

Most settle with rest, fluids and simple analgesia within a week. An epidural blood patch is
offered when the headache persists or is disabling.

## When to worry

A headache that changes character, fever or new neurological signs need urgent review.
"""


def imported(h: Harness) -> list[ImportedThread]:
    with session_scope(h.engine) as session:
        return list(session.exec(select(ImportedThread)).all())


async def upload(
    h: Harness, filename: str, content: bytes, caption: str | None = "/import"
) -> None:
    h.emulator.send_document(ADMIN_ID, filename, content, "text/plain", caption=caption)
    await h.settle()


async def test_a_malformed_file_gets_a_report_with_lines_and_nothing_is_saved(
    harness: Harness,
) -> None:
    await upload(harness, "lp-basics.yaml", BAD_YAML.encode())
    report = harness.last_message(ADMIN_ID)
    assert "lp-basics.yaml was not imported" in report.content
    assert "lp-basics.yaml:4:" in report.content and "listed twice" in report.content
    assert "lp-basics.yaml:13:" in report.content  # correct: [5]
    assert report.buttons == []
    assert imported(harness) == []
    assert "lp-basics" not in harness.services.library().threads


async def test_a_yaml_syntax_error_is_reported_at_its_line(harness: Harness) -> None:
    await upload(harness, "broken.yaml", b"id: x\ntitle: [unclosed\nposts:\n")
    report = harness.last_message(ADMIN_ID).content
    assert "broken.yaml:" in report and "not valid YAML" in report
    assert imported(harness) == []


async def test_a_good_file_joins_the_library_only_after_confirmation(harness: Harness) -> None:
    await upload(harness, "lp-basics.yaml", GOOD_YAML.encode())
    summary = harness.last_message(ADMIN_ID)
    assert "ready to import" in summary.content
    assert "Lumbar puncture basics — 2 posts, 1 questions, complete (id lp-basics)" in (
        summary.content
    )
    (row,) = imported(harness)
    assert (row.thread_id, row.status, row.imported_by) == ("lp-basics", "pending", ADMIN_ID)
    await harness.send(ADMIN_ID, "/threads")
    assert "lp-basics" not in harness.last_message(ADMIN_ID).content

    publish = next(d for d in summary.callback_data if d.startswith("imp:ok:"))
    await harness.press(ADMIN_ID, summary, publish)
    assert "Published" in harness.last_message(ADMIN_ID).content
    assert harness.emulator.message(ADMIN_ID, summary.message_id).buttons == []
    (row,) = imported(harness)
    assert row.status == "published"

    await harness.send(ADMIN_ID, "/threads")
    listing = "\n".join(harness.texts(ADMIN_ID)[-2:])
    assert (
        "lp-basics · Lumbar puncture basics · 2 posts · 1 questions · complete, imported" in listing
    )
    # It is stored, so it is still there after a restart, and it can be previewed.
    assert "lp-basics" in load_current_library(harness.engine).threads
    await harness.send(ADMIN_ID, "/preview lp-basics")
    assert "You finished" in harness.last_message(ADMIN_ID).content


async def test_import_then_a_markdown_file_shows_the_importer_notes(harness: Harness) -> None:
    await harness.send(ADMIN_ID, "/import")
    assert "Send me the file" in harness.last_message(ADMIN_ID).content
    await upload(harness, "pdph.md", MARKDOWN.encode(), caption=None)
    summary = harness.last_message(ADMIN_ID).content
    assert "Post-dural puncture headache" in summary and "0 questions" in summary
    assert "quiz left empty" in summary
    (row,) = imported(harness)
    assert row.status == "pending" and "Post-dural puncture headache" in row.yaml_text


async def test_cancel_imports_nothing(harness: Harness) -> None:
    await upload(harness, "lp-basics.yaml", GOOD_YAML.encode())
    summary = harness.last_message(ADMIN_ID)
    cancel = next(d for d in summary.callback_data if d.startswith("imp:no:"))
    await harness.press(ADMIN_ID, summary, cancel)
    assert "nothing was imported" in harness.last_message(ADMIN_ID).content
    assert imported(harness) == []
    assert "lp-basics" not in harness.services.library().threads


async def test_a_stale_publish_button_does_not_publish_a_newer_upload(harness: Harness) -> None:
    await upload(harness, "lp-basics.yaml", GOOD_YAML.encode())
    first = harness.last_message(ADMIN_ID)
    await upload(harness, "pdph.md", MARKDOWN.encode())
    publish_first = next(d for d in first.callback_data if d.startswith("imp:ok:"))
    await harness.press(ADMIN_ID, first, publish_first)
    assert "no longer waiting" in harness.last_message(ADMIN_ID).content
    assert [r.status for r in imported(harness)] == ["pending"]
    assert "lp-basics" not in harness.services.library().threads


async def test_a_thread_id_already_in_the_library_is_reported(harness: Harness) -> None:
    clash = GOOD_YAML.replace("id: lp-basics", "id: brocas-area")
    await upload(harness, "brocas-area.yaml", clash.encode())
    report = harness.last_message(ADMIN_ID).content
    assert "brocas-area.yaml:2: thread id `brocas-area` is already in the library" in report
    assert imported(harness) == []


async def test_wrong_types_oversized_and_non_utf8_files_get_clear_messages(
    harness: Harness,
) -> None:
    await upload(harness, "slides.pdf", b"%PDF-1.7")
    assert "not a file I can import" in harness.last_message(ADMIN_ID).content
    await upload(harness, "huge.md", b"# Big\n\n" + b"x" * (1024 * 1024 + 1))
    assert "the limit is 1 MB" in harness.last_message(ADMIN_ID).content
    await upload(harness, "latin1.txt", "Caf\u00e9 na\u00efve".encode("latin-1"))
    assert "not UTF-8" in harness.last_message(ADMIN_ID).content
    assert imported(harness) == []


# --- big files --------------------------------------------------------------------------------
# The importer runs in a child process, so these stand-ins are module functions it can import.


def gated_prepare_import(filename: str, data: bytes, library: Library) -> ImportResult:
    """prepare_import that, once reading, waits for the file named on the data's first line."""
    gate_line, _, rest = data.partition(b"\n")
    gate = Path(gate_line.decode())
    gate.with_suffix(".reading").touch()
    give_up = time.monotonic() + 20  # only if the test never opens the gate
    while not gate.exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    return prepare_import(filename, rest, library)


def crashing_prepare_import(filename: str, data: bytes, library: Library) -> ImportResult:
    os._exit(3)


def stuck_prepare_import(filename: str, data: bytes, library: Library) -> ImportResult:
    time.sleep(120)
    return prepare_import(filename, data, library)


async def test_other_chats_are_answered_while_a_file_is_being_read(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(library_service, "prepare_import", gated_prepare_import)
    gate = tmp_path / "go"
    content = f"{gate}\n{GOOD_YAML}".encode()
    harness.emulator.send_document(ADMIN_ID, "lp-basics.yaml", content, "text/plain")
    await harness.emulator.wait_for(lambda: gate.with_suffix(".reading").exists(), timeout=30)

    harness.emulator.send_message(601, "/help")
    await harness.emulator.wait_for_call("sendMessage", chat_id=601, timeout=30)
    assert not any("ready to import" in m.content for m in harness.messages(ADMIN_ID))

    gate.touch()
    await harness.settle(timeout=30)
    assert "ready to import" in harness.last_message(ADMIN_ID).content


async def test_a_file_that_takes_too_long_to_read_is_given_up_with_a_clear_message(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library_service, "prepare_import", stuck_prepare_import)
    monkeypatch.setattr(library_service, "IMPORT_SECONDS", 0.5)
    await upload(harness, "lp-basics.yaml", GOOD_YAML.encode())
    reply = harness.last_message(ADMIN_ID).content
    assert "Reading lp-basics.yaml took longer than 0.5 seconds" in reply
    assert "Nothing was imported" in reply
    assert imported(harness) == []


async def test_an_oversized_file_of_unstated_size_is_refused_after_download(
    harness: Harness,
) -> None:
    message = harness.emulator.send_document(
        ADMIN_ID, "huge.md", b"# Big\n\n" + b"x" * (1024 * 1024 + 1), "text/plain"
    )
    del message["document"]["file_size"]  # Telegram may leave it out
    await harness.settle()
    assert "the limit is 1 MB. Split it" in harness.last_message(ADMIN_ID).content
    assert "Nothing was imported" in harness.last_message(ADMIN_ID).content
    assert imported(harness) == []


async def test_a_reader_that_dies_is_reported_and_nothing_is_imported(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library_service, "prepare_import", crashing_prepare_import)
    await upload(harness, "lp-basics.yaml", GOOD_YAML.encode())
    assert "I could not read lp-basics.yaml; nothing was imported" in (
        harness.last_message(ADMIN_ID).content
    )
    assert imported(harness) == []
