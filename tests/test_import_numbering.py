"""Post numbering in every style, end markers, and links written in one form."""

from __future__ import annotations

import datetime as dt

import pytest

from content.importers import ImportFormat, detect_format, import_text
from content.importers._common import parse_marker, parse_trailing_marker, strip_end_words
from content.importers._links import normalize_links, normalize_url, tweet_date

POSTS = ["Acute blood is bright on CT.", "It fades over weeks.", "Chronic blood is dark."]


def thread_texts(text: str, fmt: str = "auto") -> list[str]:
    (thread,) = import_text(text, fmt).threads
    return [p.text for p in thread.posts]


# --------------------------------------------------------------------------- styles


@pytest.mark.parametrize(
    "style",
    ["{n}/", "{n}/ ", "{n}/N ", "({n}/3) ", "[{n}/3] ", "🧵{n}/ ", "{n}. ", "{n}) ", "{n}/3 "],
)
def test_every_numbering_style_is_removed_line_by_line(style: str) -> None:
    text = "\n".join(style.format(n=n) + post for n, post in enumerate(POSTS, 1))
    assert thread_texts(text, "threadreader") == POSTS


@pytest.mark.parametrize("style", ["{n}/ ", "({n}/3) ", "🧵{n}/ ", "{n}. ", "{n}) "])
def test_every_numbering_style_is_read_in_a_pasted_thread(style: str) -> None:
    text = "\n\n".join(style.format(n=n) + post for n, post in enumerate(POSTS, 1))
    assert detect_format(text) is ImportFormat.thread_text
    assert thread_texts(text) == POSTS


def test_mixed_styles_in_one_thread() -> None:
    text = (
        "1/ A thread on blood on CT\n2. Acute blood is bright.\n(3/5) It fades over weeks.\n"
        "4) Chronic blood is dark.\n5/5 Mind the anaemic patient."
    )
    assert thread_texts(text) == [
        "A thread on blood on CT",
        "Acute blood is bright.",
        "It fades over weeks.",
        "Chronic blood is dark.",
        "Mind the anaemic patient.",
    ]


def test_a_numbered_list_inside_a_post_stays_in_the_post() -> None:
    text = (
        "1/ Three causes of a bright basal cistern:\n1. blood\n2. pus\n3. contrast\n"
        "2/ Blood is by far the most common.\n3/3 Check the history."
    )
    assert thread_texts(text) == [
        "Three causes of a bright basal cistern:\n1. blood\n2. pus\n3. contrast",
        "Blood is by far the most common.",
        "Check the history.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Acute blood is bright on CT. 1/3\nIt fades over weeks. 2/3\nChronic blood is dark. 3/3",
        "Acute blood is bright on CT. 1/\nIt fades over weeks. 2/\nChronic blood is dark. 3/",
        "Acute blood is bright on CT.\n1/N\nIt fades over weeks.\n2/N\nChronic blood is dark.\n"
        "3/N END",
        "Acute blood is bright on CT. (1/3)\nIt fades over weeks. (2/3)\nChronic blood is dark. "
        "(3/3)",
    ],
)
def test_numbering_at_the_end_of_posts_splits_and_is_removed(text: str) -> None:
    report = import_text(text, "threadreader")
    (thread,) = report.threads
    assert [p.text for p in thread.posts] == POSTS
    assert thread.status == "complete"


def test_end_numbering_orders_posts_pasted_out_of_order() -> None:
    text = (
        "It fades over weeks. 2/3\n\nAcute blood is bright on CT. 1/3\n\nChronic blood is dark. 3/3"
    )
    assert thread_texts(text) == POSTS


def test_a_fraction_at_the_end_of_one_post_is_not_numbering() -> None:
    text = "1/ A thread on SAH\n2/ CT finds it in 2/3\n3/ LP finds the rest."
    assert thread_texts(text)[1] == "CT finds it in 2/3"


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        ("3/ Chronic blood is dark. fin", "Chronic blood is dark."),
        ("3/ Chronic blood is dark. /end", "Chronic blood is dark."),
        ("3/ Chronic blood is dark. END", "Chronic blood is dark."),
        ("3/ Chronic blood is dark.\nfin", "Chronic blood is dark."),
        ("3/N END Chronic blood is dark.", "Chronic blood is dark."),
        ("3/ Chronic blood is dark. (end)", "Chronic blood is dark."),
        ("3/ Look at the dorsal fin", "Look at the dorsal fin"),
    ],
)
def test_end_markers_are_removed(last: str, expected: str) -> None:
    text = f"1/ Acute blood is bright on CT.\n2/ It fades over weeks.\n{last}"
    assert thread_texts(text, "threadreader")[-1] == expected


def test_end_marker_makes_a_short_thread_complete_on_a_page_with_end_marks() -> None:
    page = "1/ One\n2/ Two\n• • •\n1/ A thread on CT\n2/ Done. fin\n"
    report = import_text(page)
    assert [t.status for t in report.threads] == ["complete", "complete"]


@pytest.mark.parametrize(
    ("line", "number", "total", "final"),
    [
        ("text 2/4", 2, 4, False),
        ("text 4/4", 4, 4, True),
        ("text (2/4)", 2, 4, False),
        ("text 10/N END", 10, None, True),
        ("text 3/ 🧵", 3, None, False),
        ("2/N", 2, None, False),
    ],
)
def test_trailing_marker_is_read(line: str, number: int, total: int | None, final: bool) -> None:
    marker = parse_trailing_marker(line)
    assert marker is not None
    assert (marker.number, marker.total, marker.final) == (number, total, final)


@pytest.mark.parametrize(
    ("line", "style"),
    [("🧵1/ text", "/"), ("🧵 1/ text", "/"), ("1. text", "."), ("1) text", ")")],
)
def test_leading_marker_styles(line: str, style: str) -> None:
    marker = parse_marker(line)
    assert marker is not None and marker.number == 1 and marker.style == style
    assert marker.rest == "text"


@pytest.mark.parametrize("line", ["1.5 mg of lorazepam", "3.14 is pi", "on 12/3/2020", "a/b"])
def test_numbers_that_are_not_markers(line: str) -> None:
    assert parse_marker(line) is None
    assert parse_trailing_marker(line) is None


def test_end_words() -> None:
    assert strip_end_words("done. fin") == ("done.", True)
    assert strip_end_words("the shark fin") == ("the shark fin", False)
    assert strip_end_words("done /end") == ("done", True)


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    "url",
    [
        "https://twitter.com/janedoe/status/1563306679910817792",
        "https://x.com/janedoe/status/1563306679910817792?s=20&t=AbC-dEf_123",
        "http://mobile.twitter.com/janedoe/status/1563306679910817792",
        "twitter.com/janedoe/status/1563306679910817792?s=46",
        "www.twitter.com/janedoe/status/1563306679910817792/",
        "x.com/janedoe/statuses/1563306679910817792?ref_src=twsrc%5Etfw",
    ],
)
def test_status_urls_are_written_in_one_form(url: str) -> None:
    expected = "https://x.com/janedoe/status/1563306679910817792"
    assert normalize_url(url) == expected
    assert normalize_links(f"See {url}.") == f"See {expected}."


def test_web_status_urls_and_media_suffixes() -> None:
    assert (
        normalize_url("https://twitter.com/i/web/status/1563306679910817792")
        == "https://x.com/i/status/1563306679910817792"
    )
    assert (
        normalize_links("pic: https://twitter.com/a/status/1563306679910817792/photo/1?s=20")
        == "pic: https://x.com/a/status/1563306679910817792/photo/1"
    )


def test_short_links_stay_links() -> None:
    text = "See t.co/AbCdEf123 and pic.twitter.com/Xyz123Abc or https://t.co/QwErTy1"
    assert normalize_links(text) == (
        "See https://t.co/AbCdEf123 and https://pic.twitter.com/Xyz123Abc or https://t.co/QwErTy1"
    )


def test_other_links_are_left_alone() -> None:
    text = "Review: https://www.ncbi.nlm.nih.gov/books/NBK470386/?s=20 and example.com/x/status/1"
    assert normalize_links(text) == text


def test_thread_reader_url_gives_the_tweet_and_its_date() -> None:
    url = "https://threadreaderapp.com/thread/1563306679910817792.html"
    assert normalize_url(url) == "https://x.com/i/status/1563306679910817792"
    assert tweet_date(url) == dt.date(2022, 8, 26)
    assert tweet_date("https://x.com/a/status/20") is None  # pre-2010 ids hold no date


def test_imported_posts_carry_normalised_links() -> None:
    text = (
        "1/ A thread on SAH, see mobile.twitter.com/janedoe/status/1563306679910817792?s=20\n"
        "2/ Image: pic.twitter.com/Ab12Cd34Ef\n3/ Done."
    )
    (thread,) = import_text(text).threads
    assert thread.posts[0].text.endswith("https://x.com/janedoe/status/1563306679910817792")
    assert thread.posts[1].text == "Image: https://pic.twitter.com/Ab12Cd34Ef"
    assert thread.posts[1].has_media is True
