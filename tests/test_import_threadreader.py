"""Thread Reader App pages as educators copy them: headers, media markers, footers, teasers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from content.importers import ImportFormat, ImportReport, detect_format, import_text
from content.loader import dump_thread_yaml
from content.validate import parse_thread_text, validate_thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"
TODAY = dt.date(2024, 6, 1)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def valid(report: ImportReport) -> ImportReport:
    """Every draft validates and survives a YAML round trip."""
    for thread in report.threads:
        assert validate_thread(thread) == []
        loaded, problems = parse_thread_text(dump_thread_yaml(thread), f"{thread.id}.yaml")
        assert problems == [] and loaded == thread
    return report


def notes_of(report: ImportReport, thread_id: str) -> list[str]:
    return [n.split(": ", 1)[1] for n in report.notes if n.startswith(f"{thread_id}: ")]


# --------------------------------------------------------------------------- whole pages


def test_profile_header_without_handle_gives_author_date_and_count_not_a_thread() -> None:
    report = valid(import_text(fixture("threadreader_profile_no_handle.txt"), today=TODAY))
    (thread,) = report.threads
    assert thread.author.name == "Sarah Kim, MD, PhD"
    assert thread.author.handle is None  # the bio's @MGHImaging is an institution
    assert thread.source.published == dt.date(2023, 3, 3)
    assert thread.source.announced_posts == 8
    assert thread.status == "complete"
    assert len(thread.posts) == 8
    texts = "\n".join(p.text for p in thread.posts)
    for header_or_footer in (
        "Profile picture",
        "Neuroradiologist at",
        "Boston, MA",
        "min read",
        "Unroll",
        "Practice here first",
        "Help | About",
        "Keep Current",
        "Premium",
        "Ethereum",
        "Tweet",
        "Email",
    ):
        assert header_or_footer not in texts
    assert thread.posts[0].text == (
        "Subarachnoid hemorrhage (SAH) on CT: where to look when the scan looks normal at "
        "first glance 🧵 #neurorad #FOAMed"
    )
    assert thread.posts[-1].text == "Thanks for reading! Questions welcome."


def test_media_markers_are_stripped_and_recorded_per_post() -> None:
    (thread,) = import_text(fixture("threadreader_profile_no_handle.txt"), today=TODAY).threads
    assert [p.has_media for p in thread.posts] == [
        True,
        True,
        False,
        True,
        False,
        False,
        True,
        False,
    ]
    assert all(p.media == [] for p in thread.posts)
    assert thread.posts[3].text.endswith("A little blood pools there first.")  # "Image Image"
    assert thread.posts[6].text.endswith("Four stops, every scan.")  # "Video"
    assert not any(p.text.endswith(("Image", "Video", "GIF")) for p in thread.posts)


def test_quoted_tweet_is_kept_apart_from_the_authors_text() -> None:
    report = import_text(fixture("threadreader_profile_no_handle.txt"), today=TODAY)
    post = report.threads[0].posts[4]
    assert post.text == (
        "Don't forget the occipital horns of the lateral ventricles: a fluid level here may "
        "be the only sign.\nAs I said last year:\n\n"
        "Quoting Priya Natarajan, MD (@PriyaNeuroRad), Oct 12, 2022:\n"
        "“The occipital horns are the most overlooked place on a head CT. Look there every "
        "time.”"
    )
    assert report.threads[0].author.handle is None  # the quoted author is not the author
    assert any("post(s) 5 quote another post" in n for n in report.notes)


def test_teasers_from_more_from_are_partial_threads_credited_to_the_handle() -> None:
    report = valid(import_text(fixture("threadreader_teasers.txt"), today=TODAY))
    main, abscess, conus = report.threads
    assert main.author.name == "Marcus Lee, DO" and main.author.handle == "@DrLeeSpine"
    assert main.source.published == dt.date(2022, 8, 26)  # "Aug 26th 2022, 5 tweets"
    assert main.source.announced_posts == 5 and main.status == "complete"
    assert main.posts[-1].text == (
        "Bilateral leg symptoms. Any of these = same-day MRI of the whole lumbar spine."
    )
    for teaser, count, published in ((abscess, 9, (2024, 1, 9)), (conus, 4, (2024, 2, 14))):
        assert teaser.status == "partial"
        assert teaser.author.handle == "@DrLeeSpine"
        assert teaser.author.name == "Marcus Lee, DO"
        assert teaser.source.announced_posts == count
        assert teaser.source.published == dt.date(*published)  # "Jan 9": this year's
        assert len(teaser.posts) == 2
        assert any("teaser from “More from @DrLeeSpine”" in n for n in notes_of(report, teaser.id))
    assert abscess.posts[0].text.startswith("Spinal epidural abscess: the classic triad")
    assert any("announces 9 posts but 2 were found" in n for n in notes_of(report, abscess.id))


def test_thread_reader_url_gives_the_source_link_and_links_are_normalised() -> None:
    (main, *_) = import_text(fixture("threadreader_teasers.txt"), today=TODAY).threads
    assert main.source.url == "https://x.com/DrLeeSpine/status/1563306679910817792"
    assert main.posts[2].text.endswith("red flag. https://t.co/Xk3bP0qLzA")
    assert main.posts[3].text.endswith("See https://x.com/DrLeeSpine/status/1563306690000000000")


def test_truncated_page_is_partial_and_the_cut_last_post_is_flagged() -> None:
    report = valid(import_text(fixture("threadreader_truncated.txt"), today=TODAY))
    (thread,) = report.threads
    assert thread.author.name == "Olu Adeyemi" and thread.author.handle is None
    assert thread.status == "partial"
    assert thread.source.announced_posts == 15 and len(thread.posts) == 6
    assert thread.source.published == dt.date(2024, 5, 1)  # "May 1": no year on the page
    notes = notes_of(report, thread.id)
    assert "partial: the thread announces 15 posts but 6 were found" in notes
    assert any("may stop mid-word" in n and "the patch will shri" in n for n in notes)
    assert any("“May 1” without a year; 2024 assumed" in n for n in notes)


def test_teaser_cut_mid_word_is_flagged_but_a_complete_thread_is_not() -> None:
    report = import_text(fixture("threadreader_teasers.txt"), today=TODAY)
    main, _, conus = report.threads
    assert any("may stop mid-word" in n for n in notes_of(report, conus.id))
    assert not any("mid-word" in n for n in notes_of(report, main.id))


@pytest.mark.parametrize(
    "name",
    [
        "threadreader_profile_no_handle.txt",
        "threadreader_teasers.txt",
        "threadreader_truncated.txt",
    ],
)
def test_thread_reader_fixtures_are_detected(name: str) -> None:
    assert detect_format(fixture(name)) is ImportFormat.threadreader


# --------------------------------------------------------------------------- header variants

POSTS = """\
1/ Acute blood on CT is bright: 60-80 HU.
2/ It fades to isodense over one to three weeks.
3/3 Chronic blood is dark, like CSF.
• • •
"""


@pytest.mark.parametrize(
    ("meta", "published"),
    [
        ("Mar 3, 2023 3 tweets 1 min read Read on X", dt.date(2023, 3, 3)),
        ("Mar 3, 2023 • 3 tweets • 1 min read • Read on X", dt.date(2023, 3, 3)),
        ("Mar 3 3 tweets 1 min read Read on X", dt.date(2024, 3, 3)),
        ("Mar 3, 2023 3 tweets 1 min read X logo Read on X", dt.date(2023, 3, 3)),
        ("Mar 3, 2023 3 tweets 1 min read Twitter logo Read on Twitter", dt.date(2023, 3, 3)),
        ("Mar 3, 2023, 3 tweets", dt.date(2023, 3, 3)),
        ("Mar 3rd 2023 3 tweets 1 min read Read on X", dt.date(2023, 3, 3)),
        ("Mar 3, 2023\n3 tweets • 1 min read\nTwitter logo\nRead on Twitter", dt.date(2023, 3, 3)),
        ("Jul 30 · 3 tweets · 1 min read", dt.date(2023, 7, 30)),  # not yet this year
    ],
)
@pytest.mark.parametrize(
    ("name_lines", "handle"),
    [
        ("Doe, Jane, MBBS, FRCR Profile picture\nDoe, Jane, MBBS, FRCR", None),
        ("Doe, Jane, MBBS, FRCR Profile picture", None),
        (
            "Doe, Jane, MBBS, FRCR Profile picture\nDoe, Jane, MBBS, FRCR\n@janedoe_rad",
            "@janedoe_rad",
        ),
    ],
)
@pytest.mark.parametrize(
    "bio", ["", "Radiologist @StMarysHosp, teaching @ImperialMed\nLondon, UK\n"]
)
def test_every_header_form_gives_author_date_and_count_and_no_extra_thread(
    meta: str, published: dt.date, name_lines: str, handle: str | None, bio: str
) -> None:
    page = f"{name_lines}\n{bio}{meta}\n{POSTS}"
    report = valid(import_text(page, today=TODAY))
    (thread,) = report.threads
    assert thread.author.name == "Doe, Jane, MBBS, FRCR"
    assert thread.author.handle == handle
    assert thread.source.published == published
    assert thread.source.announced_posts == 3
    assert thread.status == "complete"
    assert [p.text for p in thread.posts] == [
        "Acute blood on CT is bright: 60-80 HU.",
        "It fades to isodense over one to three weeks.",
        "Chronic blood is dark, like CSF.",
    ]


def test_banner_without_profile_picture_keeps_bio_mentions_out_of_the_author() -> None:
    page = (
        "Jane Doe, MD\n@janedoe\nNeuroradiologist @DukeRadiology\n"
        "Aug 26, 2022 • 3 tweets • 1 min read • Read on X\n" + POSTS
    )
    (thread,) = import_text(page, today=TODAY).threads
    assert (thread.author.name, thread.author.handle) == ("Jane Doe, MD", "@janedoe")
    assert "DukeRadiology" not in "\n".join(p.text for p in thread.posts)
    lone_bio = "Neuroradiologist @DukeRadiology\n3 tweets • 1 min read\n" + POSTS
    (thread,) = import_text(lone_bio, today=TODAY).threads
    assert thread.author.handle is None


def test_thread_reader_url_without_a_year_dates_the_thread_from_the_tweet_id() -> None:
    page = (
        "Jane Doe Profile picture\nAug 26 · 3 tweets · 1 min read\n"
        "https://threadreaderapp.com/thread/1563306679910817792.html\n" + POSTS
    )
    report = import_text(page, today=TODAY)
    (thread,) = report.threads
    assert thread.source.url == "https://x.com/i/status/1563306679910817792"
    assert thread.source.published == dt.date(2022, 8, 26)
    assert any("decoded from the tweet id" in n for n in report.notes)


# --------------------------------------------------------------------------- media markers


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("2/ Look at the basal cisterns on CT Image", "Look at the basal cisterns on CT"),
        ("2/ Look at the basal cisterns. #neurorad Image", "Look at the basal cisterns. #neurorad"),
        ("2/ Look at the basal cisterns. Image Image", "Look at the basal cisterns."),
        ("2/ Look at the basal cisterns. Video", "Look at the basal cisterns."),
        ("2/ Look at the basal cisterns. GIF", "Look at the basal cisterns."),
        ("2/ Look at the basal cisterns.\nImage", "Look at the basal cisterns."),
    ],
)
def test_media_words_after_the_last_word_are_removed_and_mark_the_post(
    line: str, text: str
) -> None:
    page = f"1/ A thread on subarachnoid blood\n{line}\n3/ Done.\n• • •"
    (thread,) = import_text(page, today=TODAY).threads
    assert thread.posts[1].text == text
    assert [p.has_media for p in thread.posts] == [False, True, False]


def test_page_without_markers_leaves_media_unknown() -> None:
    (thread,) = import_text("1/ A thread on CT\n2/ Cisterns.\n3/ Done.", today=TODAY).threads
    assert [p.has_media for p in thread.posts] == [None, None, None]
    assert "has_media" not in dump_thread_yaml(thread)


def test_image_url_in_the_page_becomes_media() -> None:
    page = "1/ A thread on CT\n2/ The star sign https://pbs.twimg.com/media/FxStar.jpg Image\n"
    (thread,) = import_text(page, today=TODAY).threads
    assert thread.posts[1].media == ["https://pbs.twimg.com/media/FxStar.jpg"]
    assert thread.posts[1].has_media is True


def test_unnumbered_posts_end_at_a_media_marker() -> None:
    page = (
        "Jane Doe Profile picture\n3 tweets 1 min read Read on X\n"
        "The star sign of subarachnoid blood. Image\nSylvian fissures next. Image\n"
        "Then the occipital horns.\n• • •"
    )
    (thread,) = import_text(page, today=TODAY).threads
    assert [p.text for p in thread.posts] == [
        "The star sign of subarachnoid blood.",
        "Sylvian fissures next.",
        "Then the occipital horns.",
    ]
    assert thread.status == "complete"


# --------------------------------------------------------------------------- quotes


def test_quote_written_on_two_lines_with_a_date_is_a_quote() -> None:
    page = (
        "1/ A thread on cord compression\n"
        "2/ We said this before:\nBen Ortiz\n@ben_nephro\nMar 2, 2022\n"
        "Always image the whole spine in metastatic compression.\n"
        "3/ Agreed.\n• • •"
    )
    (thread,) = import_text(page, today=TODAY).threads
    assert thread.posts[1].text == (
        "We said this before:\n\nQuoting Ben Ortiz (@ben_nephro), Mar 2, 2022:\n"
        "“Always image the whole spine in metastatic compression.”"
    )
    assert thread.posts[2].text == "Agreed."
    assert thread.author.handle is None


def test_handle_on_the_name_line_or_the_meta_line_is_the_authors() -> None:
    page = "Jane Doe, MD (@janedoe) Profile picture\n3 tweets 1 min read Read on X\n" + POSTS
    (thread,) = import_text(page, today=TODAY).threads
    assert (thread.author.name, thread.author.handle) == ("Jane Doe, MD", "@janedoe")
    page = "Jane Doe, MD Profile picture\n@janedoe · Mar 3, 2023 · 3 tweets · 1 min read\n" + POSTS
    (thread,) = import_text(page, today=TODAY).threads
    assert (thread.author.name, thread.author.handle) == ("Jane Doe, MD", "@janedoe")
    assert thread.source.published == dt.date(2023, 3, 3)


def test_unnumbered_page_with_one_tweet_a_line_splits_at_each_line() -> None:
    page = (
        "Jane Doe Profile picture\nMar 3, 2023 · 4 tweets · 1 min read · Read on X\n"
        "Acute blood is bright on CT.\nIt fades over one to three weeks.\n"
        "Chronic blood is dark, like CSF.\n• • •\n"
    )
    report = import_text(page, today=TODAY)
    (thread,) = report.threads
    assert [p.text for p in thread.posts] == [
        "Acute blood is bright on CT.",
        "It fades over one to three weeks.",
        "Chronic blood is dark, like CSF.",
    ]
    assert thread.status == "partial"  # 4 announced, 3 found
