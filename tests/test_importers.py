"""Importers: Thread Reader unrolls, Readwise exports and Markdown become valid YAML drafts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from content.cli import app
from content.importers import (
    ContentImportError,
    ImportFormat,
    ImportReport,
    detect_format,
    import_text,
)
from content.importers._common import parse_marker, slugify, split_glued_hashtags, split_to_fit
from content.loader import dump_thread_yaml
from content.models import ID_MAX, POST_CAPTION_MAX, POST_TEXT_MAX, Thread
from content.validate import parse_thread_text, validate_thread

# The source documents the bundled library was made from, kept here so the tests need nothing
# outside the repository.
SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"
LOGSEQ_FIXTURE = FIXTURES / "readwise_logseq_csf.md"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def seed_path(prefix: str) -> Path:
    (found,) = SEEDS.glob(f"{prefix}_*.txt")
    return found


def seed(prefix: str) -> str:
    return seed_path(prefix).read_text(encoding="utf-8")


def tg_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def assert_valid_drafts(report: ImportReport) -> None:
    """Every draft is a valid thread that survives a YAML round trip unchanged."""
    assert report.threads
    ids = [t.id for t in report.threads]
    assert len(ids) == len(set(ids))
    for thread in report.threads:
        assert SLUG.match(thread.id) and len(thread.id) <= ID_MAX, thread.id
        assert thread.schema_version == 1
        assert thread.title.strip() and thread.author.name.strip()
        assert thread.posts and thread.quiz == []
        for post in thread.posts:
            limit = POST_CAPTION_MAX if post.media else POST_TEXT_MAX
            assert post.text.strip() and tg_len(post.text) <= limit
        assert validate_thread(thread) == []
        loaded, problems = parse_thread_text(dump_thread_yaml(thread), f"{thread.id}.yaml")
        assert problems == [] and loaded == thread


def by_id(report: ImportReport) -> dict[str, Thread]:
    return {t.id: t for t in report.threads}


# --------------------------------------------------------------------------- markers & helpers


@pytest.mark.parametrize(
    ("line", "number", "total", "final", "rest"),
    [
        ("1/text", 1, None, False, "text"),
        ("1/ text", 1, None, False, "text"),
        ("(1/21) text", 1, 21, False, "text"),
        ("1/N text", 1, None, False, "text"),
        ("10/N END text", 10, None, True, "text"),
        ("1) text", 1, None, False, "text"),
        ("12/12 the last one", 12, 12, True, "the last one"),
        ("1/Need help reading spine imaging?", 1, None, False, "Need help reading spine imaging?"),
        ("2/3 of patients improve", 2, 3, False, "of patients improve"),
    ],
)
def test_numbering_marker_is_read_and_removed(
    line: str, number: int, total: int | None, final: bool, rest: str
) -> None:
    marker = parse_marker(line)
    assert marker is not None
    assert (marker.number, marker.total, marker.final, marker.rest) == (number, total, final, rest)


@pytest.mark.parametrize(
    "line", ["24/7 care", "2/3/2020 was the day", "0/ nothing", "(2) Malalignment"]
)
def test_text_that_only_looks_numbered_is_not_a_marker(line: str) -> None:
    assert parse_marker(line) is None


def test_glued_hashtags_are_spaced_but_urls_are_not() -> None:
    assert (
        split_glued_hashtags("patches! #medtwitter#CSFleak#neurotwitter#neurorad")
        == "patches! #medtwitter #CSFleak #neurotwitter #neurorad"
    )
    assert split_glued_hashtags("see https://x.org/a#b#c") == "see https://x.org/a#b#c"


def test_slug_is_ascii_lowercase_and_fits_in_a_button() -> None:
    assert slugify("CSF leaks & blood patches") == "csf-leaks-and-blood-patches"
    assert slugify("Broca’s área — anatomy!") == "brocas-area-anatomy"
    long = slugify("word " * 40)
    assert len(long) <= ID_MAX and SLUG.match(long) and not long.endswith("-")


def test_long_text_is_split_at_sentences_within_the_limit() -> None:
    text = " ".join(f"Sentence number {n} says something useful." for n in range(200))
    chunks = split_to_fit(text, 700)
    assert len(chunks) > 1
    assert all(tg_len(c) <= 700 and c.endswith(".") for c in chunks)
    assert " ".join(chunks) == text


# --------------------------------------------------------------------------- Thread Reader seed

CSF_FIRST = (
    "”Now your mouth will drop when you see the cord compression we caused,” I said to my "
    "fellow looking at our targeted #bloodpatch CT, “But take a deep breath—that’s actually what "
    "we want.”\nA #tweetorial about CSF leaks & blood patches! #medtwitter #CSFleak "
    "#neurotwitter #neurorad"
)


def test_threadreader_seed_yields_the_csf_thread_and_four_openings() -> None:
    report = import_text(seed("000"), source_name="000.txt")
    assert_valid_drafts(report)
    assert [(t.id, len(t.posts), t.status) for t in report.threads] == [
        ("csf-leaks-and-blood-patches", 12, "complete"),
        ("date-a-stroke-on-mri", 3, "partial"),
        ("incomplete-spinal-cord-syndromes", 3, "partial"),
        ("do-you-get-a-brocas-aphasia-trying-remember-the", 3, "partial"),
        ("need-help-reading-spine-imaging", 3, "partial"),
    ]
    for thread in report.threads:
        assert thread.source.kind == "tweetorial"
        assert thread.source.imported_from == "Thread Reader App unroll"
        assert thread.author.name == "Unknown author" and thread.author.handle is None
        assert sum(len(p.media) for p in thread.posts) == 0
        assert sum(p.url is not None for p in thread.posts) == 0


def test_threadreader_seed_posts_keep_the_authors_text_without_numbering() -> None:
    threads = import_text(seed("000")).threads
    csf, stroke, cord, broca, spine = threads
    assert csf.title == "CSF leaks & blood patches"
    assert csf.posts[0].text == CSF_FIRST
    assert csf.posts[-1].text.endswith(
        "Remember thecal sac compression will lead to symptom regression!"
    )
    assert csf.posts[9].text.endswith(
        "depending on the site.\nChoice of injection material/volume can and do vary for all "
        "these EBPs depending on the proceduralist"
    )
    assert not any(re.match(r"\d+/", p.text) for t in threads for p in t.posts)
    assert stroke.posts[0].text == (
        "If you don’t know the time of stroke onset, are you able to deduce it from imaging?\n"
        "Here’s a thread to help you date a stroke on MRI!"
    )
    assert stroke.posts[1].text.startswith("Strokes evolve, or grow old,")
    assert stroke.posts[-1].text.endswith(
        "So early/newly born stroke is like a baby, only restricted"
    )
    assert cord.posts[0].text.startswith("”I LOVE spinal cord syndromes!”")
    assert cord.posts[-1].text.endswith("corticospinal tracts—providing motor")
    assert broca.posts[0].text.startswith("Do you get a Broca’s aphasia")
    assert broca.posts[-1].text.endswith("3 parts—called pars")
    assert spine.posts[1].text == (
        "A is for alignment\nLook for: (1) Unstable injuries\n(2) Malalignment that causes early "
        "degenerative change. Abnormal motion causes spinal elements to abnormally move against "
        "each other, like grinding teeth wears down teeth—this wears down the spine"
    )
    assert spine.posts[-1].text.endswith("if the fracture is subtle")
    all_text = "\n".join(p.text for t in threads for p in t.posts)
    for furniture in ("• • •", "Missing some Tweet", "force a refresh"):
        assert furniture not in all_text


def test_threadreader_seed_notes_say_which_drafts_are_cut_off_and_need_a_quiz() -> None:
    notes = import_text(seed("000")).notes
    partial = [n for n in notes if "partial" in n]
    assert len(partial) == 4
    assert all("end-of-thread marker" in n for n in partial)
    assert "csf-leaks-and-blood-patches: quiz left empty; add questions before publishing" in notes
    assert sum("quiz left empty" in n for n in notes) == 5


def test_threadreader_and_readwise_give_the_same_csf_posts() -> None:
    unrolled = import_text(seed("000")).threads[0]
    exported = import_text(seed("001")).threads[0]
    assert [p.text for p in unrolled.posts] == [p.text for p in exported.posts]
    assert unrolled.id == exported.id


# --------------------------------------------------------------------------- Thread Reader rules

PAGE = """\
Jane Radiologist
@janerad
4 tweets 2 min read
Read on X
1/ A thread on lumbar puncture headaches 🧵
2/ They are positional. Image
3/ Treat with fluids and caffeine first.
• • •
Missing some Tweet in this thread? You can try to
force a refresh
Share this page!
Follow @ThreadReaderApp to mention us!
"""


def test_threadreader_page_banner_gives_author_and_announced_count() -> None:
    report = import_text(PAGE)
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.author.name == "Jane Radiologist" and thread.author.handle == "@janerad"
    assert thread.title == "Lumbar puncture headaches"
    assert [p.text for p in thread.posts] == [
        "A thread on lumbar puncture headaches 🧵",
        "They are positional.",
        "Treat with fluids and caffeine first.",
    ]
    assert thread.status == "partial"
    assert any("announces 4 posts but 3 were found" in n for n in report.notes)
    assert any(
        "post(s) 2 had an image or video that the page does not link" in n for n in report.notes
    )
    assert all(not p.media for p in thread.posts)
    # The page shows its media markers, so the posts without one have no media.
    assert [p.has_media for p in thread.posts] == [False, True, False]
    assert thread.source.announced_posts == 4


PAGE_WITH_MORE_THREADS = """\
Thread by @neurodoc on Thread Reader App
Neuro Doc
@neurodoc
3 tweets • 1 min read
Read on Twitter
1) Three signs of a subdural hematoma on CT #neurorad#medtwitter
2) Crescent shape crossing sutures.
3) Mass effect. END
• • •
Missing some Tweet in this thread? You can try to force a refresh
Keep Current with Neuro Doc
Stay in touch and get notified when new unrolls are available from this author!
This Thread may be Removed Anytime!
Twitter may remove this content at anytime! Save it as PDF for later use!
More from @neurodoc
Ever wondered why MS plaques are ovoid?
2/ Dawson fingers follow the medullary veins.
"""


def test_threadreader_page_with_more_threads_splits_and_credits_them() -> None:
    report = import_text(PAGE_WITH_MORE_THREADS, source_name="page.txt")
    assert_valid_drafts(report)
    first, second = report.threads
    assert first.author.name == "Neuro Doc" and first.author.handle == "@neurodoc"
    assert [p.text for p in first.posts] == [
        "Three signs of a subdural hematoma on CT #neurorad #medtwitter",
        "Crescent shape crossing sutures.",
        "Mass effect.",
    ]
    assert first.status == "complete"
    assert [p.text for p in second.posts] == [
        "Ever wondered why MS plaques are ovoid?",
        "Dawson fingers follow the medullary veins.",
    ]
    assert second.status == "partial"
    assert second.title == "Ever wondered why MS plaques are ovoid?"


def test_threadreader_numbering_gap_makes_a_partial_draft() -> None:
    report = import_text("1/ one\n2/ two\n4/ four\n5/ five", "threadreader")
    (thread,) = report.threads
    assert thread.status == "partial" and len(thread.posts) == 4
    assert any("post(s) 3 missing" in n for n in report.notes)


def test_threadreader_numbered_thread_without_page_furniture_is_complete() -> None:
    (thread,) = import_text("(1/3) Start here\n(2/3) Middle\n(3/3) End").threads
    assert thread.status == "complete"
    assert [p.text for p in thread.posts] == ["Start here", "Middle", "End"]


def test_threadreader_unnumbered_thread_splits_posts_at_blank_lines() -> None:
    text = "Read on Twitter\nFirst tweet of the thread.\n\nSecond tweet.\n\nThird tweet.\n• • •"
    (thread,) = import_text(text, ImportFormat.threadreader).threads
    assert [p.text for p in thread.posts] == [
        "First tweet of the thread.",
        "Second tweet.",
        "Third tweet.",
    ]


def test_threadreader_duplicate_posts_are_removed_and_counted() -> None:
    report = import_text("1/ one\n2/ two\n2/ two\n3/ three", "threadreader")
    (thread,) = report.threads
    assert [p.text for p in thread.posts] == ["one", "two", "three"]
    assert thread.status == "complete"
    assert "two: 1 duplicate post(s) removed" not in report.notes
    assert any(n.endswith(": 1 duplicate post(s) removed") for n in report.notes)


def test_threadreader_unroll_pasted_twice_gives_one_thread() -> None:
    text = "1/ A thread on dural tears\n2/ more\n• • •\n" * 2
    report = import_text(text)
    assert [t.id for t in report.threads] == ["dural-tears"]
    assert "1 repeated thread(s) removed" in report.notes


def test_threadreader_post_over_the_telegram_limit_is_split() -> None:
    long_post = " ".join(["This sentence is long enough to matter."] * 200)
    report = import_text(f"1/ intro\n2/ {long_post}\n3/ end", "threadreader")
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert len(thread.posts) > 3
    assert thread.posts[0].text == "intro" and thread.posts[-1].text == "end"


def test_threadreader_image_urls_become_media_with_caption_sized_text() -> None:
    text = "1/ Look https://pbs.twimg.com/media/abc.jpg\n2/ " + "word " * 400
    report = import_text(text, "threadreader")
    assert_valid_drafts(report)
    first = report.threads[0].posts[0]
    assert first.media == ["https://pbs.twimg.com/media/abc.jpg"] and first.text == "Look"


# --------------------------------------------------------------------------- Readwise


def test_readwise_obsidian_seed_is_one_thread_with_media_and_links() -> None:
    report = import_text(seed("001"), source_name="001.txt")
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.id == "csf-leaks-and-blood-patches"
    assert thread.title == "CSF leaks & blood patches"
    assert len(thread.posts) == 12
    assert sum(len(p.media) for p in thread.posts) == 12
    assert all(p.media[0].startswith("https://pbs.twimg.com/media/") for p in thread.posts)
    assert len({p.url for p in thread.posts if p.url}) == 12
    assert thread.author.handle == "@teachplaygrub" and thread.author.name == "teachplaygrub"
    assert thread.source.url == "https://x.com/teachplaygrub/status/1563306679910817792"
    assert thread.source.imported_from == "Readwise export (Obsidian)"
    assert thread.source.kind == "tweetorial"
    assert thread.source.published == dt.date(2022, 8, 26)
    assert thread.status == "complete"
    assert thread.posts[0].text == CSF_FIRST
    assert thread.posts[0].url == thread.source.url
    assert thread.posts[-1].text.endswith("will lead to symptom regression!")
    assert "csf-leaks-and-blood-patches: 12 duplicate post(s) removed" in report.notes


def test_readwise_logseq_fixture_keeps_posts_and_turns_notes_into_report_notes() -> None:
    report = import_text(LOGSEQ_FIXTURE.read_text(encoding="utf-8"))
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.source.imported_from == "Readwise export (Logseq)"
    assert [p.text[:30] for p in thread.posts] == [
        "”Now your mouth will drop when",
        "Epidural blood patches (EBPs) ",
        "No one is sure of how EBPs wor",
        "In reality, it is probably bot",
    ]
    # Logseq continuation lines are the tweet's paragraphs.
    assert thread.posts[0].text == CSF_FIRST.replace("\n", "\n\n")
    assert "other CSF leaks." in thread.posts[1].text  # [[CSF leaks]] is plain text
    assert all(len(p.media) == 1 and p.url for p in thread.posts)
    assert not any("id::" in p.text or "Note" in p.text for p in thread.posts)
    assert thread.author.handle == "@teachplaygrub"
    assert thread.tags == ["neuroradiology", "csf-leak", "epidural-blood-patch", "history"]
    assert any(n.endswith("1 duplicate post(s) removed") for n in report.notes)
    assert any(
        "post 1 has a Readwise note: show the CT before explaining" in n for n in report.notes
    )


def test_readwise_obsidian_notes_and_tags_are_not_posts() -> None:
    text = """\
# My highlights

## Metadata
- Author: [[Jane Doe]]
- Full Title: Lumbar Puncture Basics
- Category: #articles
- URL: https://example.org/lp

## Highlights
- Use a 22g atraumatic needle. ([View Highlight](https://read.readwise.io/read/1))
    - Tags: [[technique]]
    - Note: check the needle gauge in our kit
- Keep the patient flat afterwards only if it helps. ([View Highlight](https://read.readwise.io/read/2))
"""
    report = import_text(text)
    (thread,) = report.threads
    assert thread.title == "Lumbar Puncture Basics"
    assert thread.source.kind == "article" and thread.author.name == "Jane Doe"
    assert [p.text for p in thread.posts] == [
        "Use a 22g atraumatic needle.",
        "Keep the patient flat afterwards only if it helps.",
    ]
    assert thread.tags == ["technique"]
    assert any("Readwise note: check the needle gauge" in n for n in report.notes)


def test_readwise_format_on_text_without_highlights_says_what_was_expected() -> None:
    with pytest.raises(ContentImportError, match="no posts found: no Readwise highlights"):
        import_text("Just a sentence.", "readwise")


# --------------------------------------------------------------------------- Markdown seeds


def test_markdown_seed_002_keeps_the_abstract_and_turns_the_citation_into_a_reference() -> None:
    report = import_text(seed("002"))
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.title == (
        "CT-guided epidural blood patching of directly observed or potential leak sites for the "
        "targeted treatment of spontaneous intracranial hypotension"
    )
    assert thread.id == "ct-guided-epidural-blood-patching-of-directly"
    assert thread.source.kind == "article" and thread.source.imported_from == "Markdown"
    assert thread.source.url == "https://www.ncbi.nlm.nih.gov/pubmed/21349964"
    assert thread.author.name == "Kranz PG, Gray L, Taylor JN"
    assert [p.text.split(":")[0][:25] for p in thread.posts] == [
        "BACKGROUND AND PURPOSE",
        "MATERIALS AND METHODS",
        "RESULTS",
        "The average number of blo",
    ]
    assert thread.posts[-1].text.endswith("compare outcomes with other treatment options")
    assert all(tg_len(p.text) <= 700 for p in thread.posts)
    (ref,) = thread.references
    assert ref.url == "https://www.ncbi.nlm.nih.gov/pubmed/21349964"
    assert (
        ref.citation
        == "Kranz PG, Gray L, Taylor JN. AJNR Am J Neuroradiol. 2011 May. PMID: 21349964."
    )
    text = "\n".join(p.text for p in thread.posts)
    for furniture in ("Harley", "+44", "Appointment", "Reviews", "Keywords", "Spine Unit", "Call"):
        assert furniture not in text
    assert any("page furniture dropped" in n for n in report.notes)
    assert any("after the citation block dropped as page footer" in n for n in report.notes)


def test_markdown_seed_003_becomes_notes_split_at_its_headings() -> None:
    report = import_text(seed("003"))
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.title == (
        "Iatrogenic CSF Leak with Intracranial Hypotension Following Lumbar Procedure"
    )
    assert thread.source.kind == "notes" and thread.status == "complete"
    assert thread.author.name == "Unknown author"
    assert [p.text.split("\n")[0] for p in thread.posts] == [
        "Direct Recommendation",
        "Why the Pain Clinic is Wrong",
        "Immediate Diagnostic Workup",
        "Critical Diagnostic Pitfall",
        "Management Algorithm",
        "If initial brain and spine MRI are completely normal:",
        "Myelography technique if needed:",
        "Post-Treatment Monitoring",
        "Important Caveat About Rebound Headache",
        "Rare but Serious Complication to Monitor",
    ]
    assert thread.posts[-1].text.endswith("or if a lumbar drain is placed.")
    assert all(tg_len(p.text) <= 700 for p in thread.posts)
    text = "\n".join(p.text for p in thread.posts)
    assert "• Diffuse pachymeningeal (dural) enhancement" in text
    assert not re.search(r"[.:] \d{1,2}(?:, \d{1,2})*(?:\n|$| [A-Z])", text)
    assert any("bare citation number(s) removed" in n for n in report.notes)


# --------------------------------------------------------------------------- Markdown rules


def test_markdown_front_matter_headings_images_and_references() -> None:
    text = """\
---
title: Post-dural puncture headache
author: Jane Doe (@janedoe)
url: https://example.org/pdph
tags: [neuro, anaesthesia]
---
Skip to content
Share

## Why it happens

CSF leaks through the dural hole. Pressure falls and the brain sags.

![Sagging brain](https://example.org/sag.png)
The sag on MRI.

![relative image](images/local.png)

## References
1. Smith J, Doe A. Headache after lumbar puncture. Neurology. 2020;1:1-2. doi:10.1000/xyz123
"""
    report = import_text(text)
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.title == "Post-dural puncture headache"
    assert thread.author.name == "Jane Doe" and thread.author.handle == "@janedoe"
    assert thread.source.url == "https://example.org/pdph"
    assert thread.tags == ["neuro", "anaesthesia"]
    assert [(p.text, p.media) for p in thread.posts] == [
        (
            "Why it happens\nCSF leaks through the dural hole. Pressure falls and the brain sags.",
            [],
        ),
        ("The sag on MRI.", ["https://example.org/sag.png"]),
    ]
    (ref,) = thread.references
    assert ref.title == "Headache after lumbar puncture"
    assert ref.url == "https://doi.org/10.1000/xyz123"


def test_markdown_long_paragraph_is_split_at_sentences() -> None:
    paragraph = " ".join(
        f"Fact {n} about intracranial hypotension is stated here." for n in range(60)
    )
    report = import_text(f"# Facts\n\n{paragraph}\n", "markdown")
    assert_valid_drafts(report)
    posts = report.threads[0].posts
    assert len(posts) > 3
    assert all(tg_len(p.text) <= 700 and p.text.endswith(".") for p in posts)


def test_markdown_drops_cookie_banners_phone_numbers_and_calls_to_action() -> None:
    text = (
        "Spinal headaches\n\nWe use cookies to improve your experience. Accept all cookies\n\n"
        "Request an appointment\n\nCall us: +1 (555) 123-4567\n\n"
        "A spinal headache follows a lumbar puncture when CSF keeps leaking.\n\n"
        "info@clinic.example\n"
    )
    (thread,) = import_text(text).threads
    assert thread.title == "Spinal headaches"
    assert [p.text for p in thread.posts] == [
        "A spinal headache follows a lumbar puncture when CSF keeps leaking."
    ]


# --------------------------------------------------------------------------- detection & errors


def test_auto_detection_picks_the_format_of_each_seed_and_fixture() -> None:
    assert detect_format(seed("000")) is ImportFormat.threadreader
    assert detect_format(seed("001")) is ImportFormat.readwise
    assert detect_format(seed("002")) is ImportFormat.markdown
    assert detect_format(seed("003")) is ImportFormat.markdown
    assert detect_format(LOGSEQ_FIXTURE.read_text(encoding="utf-8")) is ImportFormat.readwise
    assert detect_format("# Title\n\nSome text.") is ImportFormat.markdown
    assert detect_format("1/ one\n2/ two") is ImportFormat.threadreader


def test_format_can_be_given_as_a_string() -> None:
    assert import_text("Some text here.", "markdown").threads[0].posts[0].text == "Some text here."
    with pytest.raises(ContentImportError, match="unknown format 'pdf'"):
        import_text("Some text", "pdf")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("  \n\t\n", "is empty"),
        ("abc\x00\x01\x02def", "looks like binary data"),
        (
            "• • •\nMissing some Tweet in this thread? You can try to\nforce a refresh\n",
            "no posts found",
        ),
        ("Share\nSubscribe\n", "no posts found"),
    ],
)
def test_unusable_text_raises_a_clear_import_error(text: str, message: str) -> None:
    with pytest.raises(ContentImportError, match=message) as caught:
        import_text(text, source_name="export.txt")
    if message == "no posts found":
        assert "expected numbered posts like '1/...' or paragraphs" in str(caught.value)


def test_same_titles_in_one_import_get_unique_ids() -> None:
    text = "1/ A thread on dural tears\n2/ more\n1/ A thread on dural tears\n2/ other"
    report = import_text(text)
    assert [t.id for t in report.threads] == ["dural-tears", "dural-tears-2"]


# --------------------------------------------------------------------------- property tests

_PIECES = [
    "1/",
    "2/",
    "3/ ",
    "(1/3)",
    "10/N END",
    "1)",
    "2)",
    "• • •",
    "Missing some Tweet in this thread? You can try to",
    "force a refresh",
    "12 tweets 3 min read",
    "Read on X",
    "@someone",
    "Image",
    "#a#b#c",
    "- ",
    "\t- ",
    "  ",
    "author:: [[@x on Twitter]]",
    "url:: https://twitter.com/x/status/1563306679910817792",
    "category:: #tweets",
    "## Highlights",
    "## Metadata",
    "- Full Title: x...",
    "# ",
    "---",
    "![](https://pbs.twimg.com/media/a.jpg)",
    "![](not a url)",
    "([View Tweet](https://twitter.com/x/status/1))",
    "**Note**: ",
    "Authors : A B;C D;",
    "Pubmed Link : https://www.ncbi.nlm.nih.gov/pubmed/1",
    "Journal : J",
    "[[wiki|link]]",
    "Call Now",
    "+44 844 589 2020",
    "RESULTS:",
    "```",
    "> ",
    "🧵",
    "a thread on ",
    # Thread Reader headers, footers and teasers
    "Jane Doe, MD Profile picture",
    "Profile picture",
    "Mar 3, 2023 8 tweets 2 min read Read on X",
    "Aug 26th 2022, 5 tweets",
    "X logo Read on X",
    "May 1",
    "More from @someone",
    "More from Jane Doe",
    "Read 9 tweets",
    "Practice here first or read more on our help page!",
    "Tweet / Share / Email",
    "Help | About | TOS | Privacy",
    "threadreaderapp.com/thread/1563306679910817792.html",
    "Image Image",
    " Video",
    " GIF",
    # numbering and end words
    "🧵1/",
    "1. ",
    " 2/4",
    "\n2/N",
    " fin",
    " /end",
    "[3/5] ",
    # links
    "pic.twitter.com/Ab12Cd34",
    "twitter.com/a/status/1563306679910817792?s=20&t=x",
    "https://t.co/AbCd",
    # x.com page copies
    "@handle",
    "·",
    "Quote",
    "Show this thread",
    "Replying to",
    "Translate post",
    "10:15 AM · Sep 12, 2023",
    "1.2K",
    " Views",
    "Relevant people",
    # thread text, archives, CSV
    "\n\n\n\n",
    "\n---\n",
    "window.YTD.tweets.part0 = [",
    '{"tweet": {"id_str": "1701525000000000001", "full_text": "1/ x"}}',
    '"in_reply_to_status_id_str": "1701525000000000001"',
    "Highlight,Book Title,Book Author,Amazon Book ID,Note,Color,Tags,Location Type,Location",
    ',"a,b",order,',
]

_line = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(max_size=40)), min_size=0, max_size=6
).map("".join)
_structured = st.lists(_line, min_size=1, max_size=30).map("\n".join)
_formats = st.sampled_from([f.value for f in ImportFormat])


def _check_property(text: str, fmt: str) -> None:
    try:
        report = import_text(text, fmt, source_name="random.txt")
    except ContentImportError as exc:
        assert str(exc)
        return
    assert_valid_drafts(report)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_structured, fmt=_formats)
def test_any_mix_of_markers_gives_valid_drafts_or_an_import_error(text: str, fmt: str) -> None:
    _check_property(text, fmt)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=400), fmt=_formats)
def test_random_unicode_gives_valid_drafts_or_an_import_error(text: str, fmt: str) -> None:
    _check_property(text, fmt)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    word=st.text(min_size=1, max_size=12).filter(lambda w: w.strip() != ""),
    repeat=st.integers(min_value=300, max_value=1500),
    sep=st.sampled_from([" ", "", ". ", "\n", "🧠"]),
    prefix=st.sampled_from(["", "1/ ", "- 1/", "# Title\n\n", "2/ "]),
    media=st.booleans(),
    fmt=_formats,
)
def test_very_long_posts_are_split_within_telegram_limits(
    word: str, repeat: int, sep: str, prefix: str, media: bool, fmt: str
) -> None:
    body = sep.join([word] * repeat)
    image = " ![](https://pbs.twimg.com/media/x.jpg)" if media else ""
    text = f"{prefix}{body}{image}\n2/ short" if prefix.endswith("/ ") else f"{prefix}{body}{image}"
    _check_property(text, fmt)


_ids = st.integers(min_value=1_500_000_000_000_000_000, max_value=1_500_000_000_000_000_030)
_tweet_object = st.fixed_dictionaries(
    {"id_str": _ids.map(str), "full_text": st.text(max_size=120)},
    optional={
        "in_reply_to_status_id_str": _ids.map(str),
        "in_reply_to_screen_name": st.sampled_from(["amy", "ben", ""]),
        "created_at": st.sampled_from(["Tue Sep 12 14:03:11 +0000 2023", "yesterday", ""]),
        "display_text_range": st.lists(st.sampled_from(["0", "4", "900", "x"]), max_size=2),
        "entities": st.fixed_dictionaries(
            {},
            optional={
                "urls": st.lists(
                    st.fixed_dictionaries(
                        {"url": st.text(max_size=8), "expanded_url": st.text(max_size=30)}
                    ),
                    max_size=2,
                ),
                "media": st.lists(
                    st.fixed_dictionaries(
                        {
                            "url": st.text(max_size=8),
                            "type": st.sampled_from(["photo", "video", "animated_gif", 3]),
                            "media_url_https": st.sampled_from(
                                ["https://pbs.twimg.com/media/A.jpg", "not a url", ""]
                            ),
                        }
                    ),
                    max_size=2,
                ),
            },
        ),
    },
)
_archive_item = st.one_of(
    _tweet_object.map(lambda t: {"tweet": t}), _tweet_object, st.integers(), st.none()
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_archive_item, max_size=25))
def test_any_archive_gives_valid_drafts_or_an_import_error(items: list[object]) -> None:
    _check_property("window.YTD.tweets.part0 = " + json.dumps(items), "auto")


_cell = st.one_of(st.text(max_size=60), st.sampled_from(["1/ x", "x 2/4", "order", "3", "@a"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=12), max_size=12))
def test_any_readwise_csv_gives_valid_drafts_or_an_import_error(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(readwise_csv_columns())
    writer.writerows(rows)
    _check_property(out.getvalue(), "auto")


def readwise_csv_columns() -> list[str]:
    return [
        "Highlight",
        "Book Title",
        "Book Author",
        "Amazon Book ID",
        "Note",
        "Color",
        "Tags",
        "Location Type",
        "Location",
        "Highlighted at",
        "Document tags",
    ]


_word = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=1, max_size=15)
_sentence = st.lists(_word, min_size=1, max_size=30).map(lambda ws: " ".join(ws) + ".")
_tweet = st.lists(_sentence, min_size=1, max_size=8).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    tweets=st.lists(_tweet, min_size=1, max_size=30), style=st.sampled_from(["{n}/", "({n}/{t})"])
)
def test_numbered_posts_come_back_in_order_without_their_numbers(
    tweets: list[str], style: str
) -> None:
    lines = [style.format(n=n, t=len(tweets)) + " " + tweet for n, tweet in enumerate(tweets, 1)]
    report = import_text("\n".join(lines), "threadreader")
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert " ".join(p.text for p in thread.posts).split() == " ".join(tweets).split()
    assert thread.status == "complete"


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(
        st.lists(_sentence, min_size=1, max_size=40), min_size=1, max_size=12, unique_by=str
    )
)
def test_markdown_keeps_every_word_in_order(paragraphs: list[list[str]]) -> None:
    body = "\n\n".join(" ".join(p) for p in paragraphs)
    report = import_text(f"# Notes\n\n{body}\n", "markdown")
    assert_valid_drafts(report)
    (thread,) = report.threads
    assert thread.title == "Notes"
    assert " ".join(p.text for p in thread.posts).split() == body.split()
    assert all(tg_len(p.text) <= 700 for p in thread.posts)


# --------------------------------------------------------------------------- CLI


def test_cli_import_to_stdout_prints_yaml_documents() -> None:
    result = CliRunner().invoke(app, ["import", str(seed_path("000")), "--output", "-"])
    assert result.exit_code == 0, result.output
    documents = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    assert [d["id"] for d in documents] == [
        "csf-leaks-and-blood-patches",
        "date-a-stroke-on-mri",
        "incomplete-spinal-cord-syndromes",
        "do-you-get-a-brocas-aphasia-trying-remember-the",
        "need-help-reading-spine-imaging",
    ]
    assert result.stdout.count("\n---\n") == 4
    assert "quiz left empty" in result.stderr


def test_cli_import_to_a_folder_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["import", str(LOGSEQ_FIXTURE), "--output", str(tmp_path)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    target = tmp_path / "csf-leaks-and-blood-patches.yaml"
    assert target.is_file()
    _, problems = parse_thread_text(target.read_text(encoding="utf-8"), target.name)
    assert problems == []

    target.write_text("edited by hand\n", encoding="utf-8")
    second = runner.invoke(app, args)
    assert second.exit_code == 1
    assert f"{target}: already exists; pass --force to overwrite it." in second.stderr
    assert target.read_text(encoding="utf-8") == "edited by hand\n"

    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert target.read_text(encoding="utf-8").startswith("schema: 1\n")


def test_cli_import_of_an_unusable_file_fails_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(empty), "--output", "-"])
    assert result.exit_code == 1
    assert "empty.md is empty" in result.stderr
