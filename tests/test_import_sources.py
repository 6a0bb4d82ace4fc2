"""More sources: threads pasted as text, the X archive's tweets.js, x.com page copies; and
auto-detection of every format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from content.cli import app
from content.importers import ContentImportError, ImportFormat, detect_format, import_text
from content.loader import dump_thread_yaml
from content.validate import parse_thread_text, validate_thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"
SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"
TODAY = dt.date(2024, 6, 1)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def texts(name: str) -> list[str]:
    (thread,) = import_text(fixture(name), today=TODAY).threads
    return [p.text for p in thread.posts]


# --------------------------------------------------------------------------- thread text


def test_plain_thread_splits_at_blank_lines_and_keeps_pasted_images() -> None:
    report = import_text(fixture("thread_text_plain.txt"))
    (thread,) = report.threads
    assert thread.source.imported_from == "Thread text (plain or Typefully draft)"
    assert [p.text for p in thread.posts] == [
        "Three questions to ask before you order a CT pulmonary angiogram 🧵",
        "Is the pretest probability low? Then use the Wells score and a D-dimer first.",
        "Is the D-dimer age-adjusted? Age x 10 ng/mL above 50 years cuts false positives.",
        "Could a V/Q scan answer the question? In pregnancy and with contrast allergy it often "
        "can.",
        "Thanks for reading.",
    ]
    assert thread.posts[2].media == ["https://pbs.twimg.com/media/GAbcdEfXwAA1234.jpg"]
    assert [p.has_media for p in thread.posts] == [None, None, True, None, None]
    assert any("author not found" in n for n in report.notes)


def test_typefully_draft_splits_at_three_blank_lines_and_keeps_paragraphs() -> None:
    (thread,) = import_text(fixture("thread_text_typefully.txt")).threads
    assert [p.text for p in thread.posts] == [
        "Hyperkalaemia on the ECG: what to look for, in order.",
        "Peaked T waves come first: tall, narrow, symmetrical.\nBest seen in V2-V4.",
        "Then the P wave flattens and the PR interval lengthens.\n\n"
        "The QRS widens as potassium rises further.",
        "Late: a sine-wave pattern. This is a peri-arrest rhythm; give calcium now. "
        "https://pic.twitter.com/Ab12Cd34Ef",
        "Treat the number AND the ECG. Read more: "
        "https://x.com/ecgteacher/status/1690000000000000000",
    ]
    assert thread.posts[3].has_media is True  # a pic.twitter.com link
    assert thread.source.announced_posts == 5 and thread.status == "complete"


def test_rule_separated_draft_with_front_matter_and_mixed_numbering() -> None:
    report = import_text(fixture("thread_text_rules.txt"))
    (thread,) = report.threads
    assert thread.title == "Reading a chest X-ray in six steps"
    assert (thread.author.name, thread.author.handle) == ("Lena Fischer", "@lenafischer_md")
    assert thread.tags == ["radiology", "chest"]
    assert [p.text.split("\n")[0] for p in thread.posts] == [
        "A chest X-ray in six steps, for students on their first rotation.",
        "Check the patient details and the projection: PA or AP changes the heart size.",
        "Airway: is the trachea central?",
        "Breathing: lungs, pleura, costophrenic angles.",
        "Circulation: heart size and the mediastinum.",
        "Everything else: bones, soft tissues, lines and tubes.",
    ]
    assert thread.posts[0].text.endswith("\n\nPrint it, pin it, use it.")
    assert thread.posts[2].media == ["https://example.org/cxr-trachea.png"]
    assert thread.posts[2].text.endswith("\n\nImage: PA chest film with a deviated trachea")
    assert thread.status == "complete"


def test_thread_text_numbering_gap_is_partial() -> None:
    report = import_text("1/ One post.\n\n2/ Two.\n\n4/ Four.", "thread-text")
    assert report.threads[0].status == "partial"
    assert any("post(s) 3 missing" in n for n in report.notes)


# --------------------------------------------------------------------------- X archive


def test_archive_threads_are_rebuilt_from_self_replies() -> None:
    report = import_text(fixture("x_archive_tweets.js"), source_name="tweets.js")
    hypo, aki = report.threads
    for thread in report.threads:
        assert validate_thread(thread) == []
        assert parse_thread_text(dump_thread_yaml(thread), "t.yaml")[0] == thread
        assert thread.author.handle == "@medteach_amy"
        assert thread.source.imported_from == "X data archive (tweets.js)"
    assert [p.text for p in hypo.posts] == [
        "Hyponatraemia in three steps, for new interns 🧵",
        "Step 1: serum osmolality. Low osmolality means true hyponatraemia; normal or high, "
        "look for glucose or lipids. Review: https://www.ncbi.nlm.nih.gov/books/NBK470386/",
        "Step 2: volume status. Dry, wet or euvolaemic? Examine, don't guess.",
        "Step 3: urine sodium & urine osmolality separate SIADH from the rest.",
    ]
    assert hypo.source.url == "https://x.com/medteach_amy/status/1701525000000000001"
    assert hypo.source.published == dt.date(2023, 9, 12)
    assert hypo.source.announced_posts == 4 and hypo.status == "complete"
    assert [p.url for p in hypo.posts] == [
        f"https://x.com/medteach_amy/status/{n}"
        for n in (
            1701525000000000001,
            1701530000000000002,
            1701535000000000003,
            1701540000000000004,
        )
    ]
    assert [(p.media, p.has_media) for p in hypo.posts] == [
        (["https://pbs.twimg.com/media/F5dHypoNa1.jpg"], True),
        ([], False),
        (["https://pbs.twimg.com/media/F5dVolStat.jpg"], True),
        ([], True),  # an animated GIF: the bot points to the original
    ]
    assert [p.text[:6] for p in aki.posts] == ["AKI on", "Second", "And th"]
    assert aki.source.published == dt.date(2023, 10, 8)


def test_archive_report_counts_what_was_left_out() -> None:
    notes = import_text(fixture("x_archive_tweets.js")).notes
    assert "11 tweets read, 2 thread(s) rebuilt" in notes
    assert "skipped: 1 single tweet(s), 1 repl(ies) to other people, 1 retweet(s)" in notes
    assert any("1 later self-repl(ies) branching off" in n for n in notes)
    assert any("post(s) 4 had a video or GIF" in n for n in notes)


def test_old_tweet_js_and_bare_json_are_read_too() -> None:
    text = fixture("x_archive_tweets.js").replace(
        "window.YTD.tweets.part0", "window.YTD.tweet.part0"
    )
    assert len(import_text(text).threads) == 2
    bare = text.split("=", 1)[1]
    assert detect_format(bare) is ImportFormat.x_archive
    assert len(import_text(bare).threads) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("window.YTD.like.part0 = []", "this is like.js from the X archive"),
        ("window.YTD.tweets.part0 = [{", "not valid JSON"),
        ("window.YTD.tweets.part0 = []", "holds no tweets"),
        (
            'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1701525000000000001", '
            '"full_text": "One tweet only"}}]',
            "no threads in the archive",
        ),
    ],
)
def test_archive_problems_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ContentImportError, match=message):
        import_text(text)


def test_archive_larger_than_the_text_limit_is_accepted() -> None:
    archive = json.loads(fixture("x_archive_tweets.js").split("=", 1)[1])
    padding = [{"tweet": {"id_str": str(10**17 + n), "full_text": "x" * 200}} for n in range(6000)]
    text = "window.YTD.tweets.part0 = " + json.dumps(archive + padding)
    assert len(text) > 1_000_000
    assert len(import_text(text).threads) == 2


# --------------------------------------------------------------------------- x.com page


def test_x_page_copy_keeps_the_authors_posts_without_page_furniture() -> None:
    report = import_text(fixture("x_page_thread.txt"), today=TODAY)
    (thread,) = report.threads
    assert thread.source.imported_from == "x.com page"
    assert (thread.author.name, thread.author.handle) == ("Amy Chen, MD", "@medteach_amy")
    assert thread.source.published == dt.date(2023, 9, 12)
    assert [p.text for p in thread.posts] == [
        "Hyponatraemia in three steps, for new interns 🧵",
        "Step 1: serum osmolality. Low osmolality means true hyponatraemia; normal or high, "
        "look for glucose or lipids.",
        "Step 2: volume status. Dry, wet or euvolaemic? Examine, don't guess. This older thread "
        "has the cut-offs:\n\nQuoting Ben Ortiz (@ben_nephro), Mar 2, 2022:\n“Urine sodium "
        "below 30 mmol/L suggests hypovolaemia; above 30, think SIADH, diuretics or adrenal "
        "insufficiency.”",
        "Paso 3: el sodio y la osmolalidad en orina separan el SIADH del resto.",
    ]
    assert [p.has_media for p in thread.posts] == [True, None, None, True]
    assert thread.source.announced_posts == 4 and thread.status == "complete"
    assert "1 post(s) by other people after the thread left out" in " ".join(report.notes)


def test_x_page_one_line_headers_and_relative_dates() -> None:
    page = (
        "Amy Chen @medteach_amy · 5h\n1/ Hyponatraemia, a short thread.\n12\n3\n"
        "Amy Chen @medteach_amy · 5h\n2/ Check the osmolality first.\nShow this thread\n"
    )
    assert detect_format(page) is ImportFormat.x_page
    report = import_text(page, today=TODAY)
    (thread,) = report.threads
    assert [p.text for p in thread.posts] == [
        "Hyponatraemia, a short thread.",
        "Check the osmolality first.",
    ]
    assert thread.source.published == TODAY
    assert any("“5h”" in n for n in report.notes)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("threadreader_profile_no_handle.txt", ImportFormat.threadreader),
        ("threadreader_teasers.txt", ImportFormat.threadreader),
        ("threadreader_truncated.txt", ImportFormat.threadreader),
        ("readwise_logseq_csf.md", ImportFormat.readwise),
        ("readwise_logseq_trailing.md", ImportFormat.readwise),
        ("readwise_obsidian_inline.md", ImportFormat.readwise),
        ("readwise_export.csv", ImportFormat.readwise_csv),
        ("thread_text_plain.txt", ImportFormat.thread_text),
        ("thread_text_typefully.txt", ImportFormat.thread_text),
        ("thread_text_rules.txt", ImportFormat.thread_text),
        ("x_archive_tweets.js", ImportFormat.x_archive),
        ("x_page_thread.txt", ImportFormat.x_page),
    ],
)
def test_auto_detection_picks_the_importer_of_each_format(name: str, fmt: ImportFormat) -> None:
    assert detect_format(fixture(name)) is fmt
    assert import_text(fixture(name), today=TODAY).notes[0] == f"format: {fmt.value} (detected)"


@pytest.mark.parametrize(
    ("prefix", "fmt"),
    [
        ("000", ImportFormat.threadreader),
        ("001", ImportFormat.readwise),
        ("002", ImportFormat.markdown),
        ("003", ImportFormat.markdown),
    ],
)
def test_seed_exports_are_still_detected(prefix: str, fmt: ImportFormat) -> None:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    assert detect_format(path.read_text(encoding="utf-8")) is fmt


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"threads": [1, 2, 3]}', "this is JSON, but not the X archive"),
        ("name,dose,route\nheparin,5000,sc\nenoxaparin,40,sc\n", "looks like a CSV file"),
    ],
)
def test_text_that_no_importer_reads_gets_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ContentImportError, match=message) as caught:
        import_text(text)
    assert "Thread Reader App page text, Readwise" in str(caught.value)


def test_cli_lists_every_format_in_its_help() -> None:
    result = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for fmt in ImportFormat:
        assert fmt.value in result.output
    for words in ("Readwise", "tweets.js", "x.com", "Typefully"):
        assert words in result.output


def test_cli_imports_an_archive_with_an_explicit_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(FIXTURES / "x_archive_tweets.js"),
            "--format",
            "x-archive",
            "--output",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*.yaml"))) == 2
