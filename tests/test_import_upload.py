"""Admins send the new export formats with /import and get a report of the drafts."""

from __future__ import annotations

from pathlib import Path

from tests.harness import ADMIN_ID, Harness

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"


async def upload(h: Harness, name: str) -> str:
    content = (FIXTURES / name).read_bytes()
    h.emulator.send_document(ADMIN_ID, name, content, "text/plain", caption="/import")
    await h.settle()
    return str(h.last_message(ADMIN_ID).content)


async def test_readwise_csv_upload_is_reported_as_two_drafts(harness: Harness) -> None:
    report = await upload(harness, "readwise_export.csv")
    assert "ready to import" in report
    assert "Hounsfield units & clots — 4 posts, 0 questions, complete" in report
    assert "Lumbar Puncture: A Practical Guide — 2 posts, 0 questions, complete" in report


async def test_archive_upload_is_reported_with_its_threads(harness: Harness) -> None:
    report = await upload(harness, "x_archive_tweets.js")
    assert "Hyponatraemia in three steps, for new interns — 4 posts" in report
    assert "2 thread(s) rebuilt" in report
