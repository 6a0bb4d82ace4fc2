"""Readwise exports: Logseq end numbering and paragraphs, entities, authors, alt text, CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from content.cli import app
from content.importers import ContentImportError, ImportFormat, detect_format, import_text
from content.loader import dump_thread_yaml
from content.validate import parse_thread_text, validate_thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_logseq_end_numbering_lines_are_removed_and_order_the_posts() -> None:
    report = import_text(fixture("readwise_logseq_trailing.md"))
    (thread,) = report.threads
    assert [p.text.split("\n")[0] for p in thread.posts] == [
        "Wake-up stroke? The DWI-FLAIR mismatch can tell you whether the infarct is likely "
        "under 4.5 hours old.",
        "DWI shows the infarct within minutes: bright on diffusion, dark on ADC.",
        "So: compare the two sequences side by side, slice by slice.",
        "FLAIR takes hours to turn bright. Early on, the same area looks normal on FLAIR.",
        "DWI positive, FLAIR negative: likely within 4.5 h. Thrombolysis may be an option even "
        "without a known onset time.",
    ]
    assert not any("/N" in p.text or "END" in p.text for p in thread.posts)
    assert thread.status == "complete"


def test_logseq_continuation_lines_are_paragraphs() -> None:
    (thread,) = import_text(fixture("readwise_logseq_trailing.md")).threads
    assert thread.posts[0].text == (
        "Wake-up stroke? The DWI-FLAIR mismatch can tell you whether the infarct is likely under "
        "4.5 hours old.\n\nHere is how to read it & why it matters."
    )


def test_logseq_author_link_gets_the_handle_from_the_url() -> None:
    (thread,) = import_text(fixture("readwise_logseq_trailing.md")).threads
    assert (thread.author.name, thread.author.handle) == ("Anna Weber", "@annaweber_rad")
    assert thread.source.url == "https://x.com/annaweber_rad/status/1702345678901234567"
    assert thread.source.published == dt.date(2023, 9, 14)
    assert thread.tags == ["stroke", "neuroradiology"]


def test_image_alt_text_is_kept_with_the_image() -> None:
    (thread,) = import_text(fixture("readwise_logseq_trailing.md")).threads
    post = thread.posts[1]
    assert post.media == ["https://pbs.twimg.com/media/F6aBcDeXgAAq1xY.jpg"]
    assert post.text.endswith("\n\nImage: Axial DWI with a bright left MCA infarct")
    assert thread.posts[4].text.endswith("known onset time.")  # an empty alt adds nothing


def test_obsidian_inline_end_numbering_entities_and_mobile_urls() -> None:
    report = import_text(fixture("readwise_obsidian_inline.md"))
    (thread,) = report.threads
    assert thread.title == "Epidural blood patch for PDPH: volume, level & position"
    assert thread.posts[0].text == (
        "Epidural blood patch for PDPH: volume, level & position. A short thread 🧵"
    )
    assert thread.posts[1].text == (
        "Volume: 15-20 mL is typical; stop earlier if the patient reports back or leg pressure."
        "\n\nImage: Fluoroscopy: contrast spreading cranially over two levels"
    )
    assert thread.posts[3].text.endswith("avoid straining for a few days.")
    assert (thread.author.name, thread.author.handle) == ("Tomás Ruiz", "@truiz_pain")
    assert thread.source.announced_posts == 4 and thread.status == "complete"
    assert all(p.url and p.url.startswith("https://x.com/truiz_pain/status/") for p in thread.posts)


def test_html_entities_in_titles_are_decoded() -> None:
    text = """\
# Lumbar Puncture &amp; CSF Analysis

## Metadata
- Author: [[J. O&#39;Brien]]
- Full Title: Lumbar Puncture &amp; CSF Analysis: A Primer
- Category: #articles
- URL: https://example.org/lp

## Highlights
- Opening pressure above 25 cm H&lt;sub&gt;2&lt;/sub&gt;O is raised. ([View Highlight](https://read.readwise.io/read/1))
"""
    (thread,) = import_text(text).threads
    assert thread.title == "Lumbar Puncture & CSF Analysis: A Primer"
    assert thread.author.name == "J. O'Brien"
    assert thread.source.kind == "article"


def test_readwise_short_numbering_is_only_read_in_tweets() -> None:
    article = """\
## Metadata
- Full Title: Sedation guide
- Category: #articles

## Highlights
- 1. Check the airway. ([View Highlight](https://read.readwise.io/read/1))
- 2. Check fasting times. ([View Highlight](https://read.readwise.io/read/2))
"""
    (thread,) = import_text(article).threads
    assert [p.text for p in thread.posts] == ["1. Check the airway.", "2. Check fasting times."]


# --------------------------------------------------------------------------- CSV


def test_readwise_csv_becomes_one_draft_per_document() -> None:
    report = import_text(fixture("readwise_export.csv"), source_name="readwise.csv")
    thread, article = report.threads
    for draft in report.threads:
        assert validate_thread(draft) == []
        assert parse_thread_text(dump_thread_yaml(draft), "x.yaml")[0] == draft
    assert thread.source.imported_from == "Readwise export (CSV)"
    assert thread.source.kind == "tweetorial"
    assert (thread.author.name, thread.author.handle) == ("ctmadesimple", "@ctmadesimple")
    assert [p.text for p in thread.posts] == [
        "Acute blood on CT is bright. Why? A short thread on Hounsfield units & clots 🧵",
        "Blood is bright on CT because it is denser than brain: about 60-80 HU when acute.",
        'Over days it becomes isodense, then dark: the "isodense subdural" trap at 1-3 weeks.\n'
        "Look for effaced sulci and a shifted midline instead.",
        "Severe anaemia (Hb below 8 g/dL) makes acute blood less bright.",
    ]
    assert thread.title == "Hounsfield units & clots"
    assert thread.tags == ["neuroradiology", "subdural", "pitfall"]
    assert thread.source.announced_posts == 4 and thread.status == "complete"
    assert any(
        "post 3 has a Readwise note: teach this with the isodense" in n for n in report.notes
    )
    assert article.title == "Lumbar Puncture: A Practical Guide"
    assert article.source.kind == "article" and article.author.name == "J. Smith"
    # Location order (45, then 120), not the order of the rows.
    assert [p.text[:20] for p in article.posts] == ["Lie the patient in t", "Use a 22G or smaller"]
    assert article.tags == ["technique"]


def test_readwise_csv_is_detected_and_has_its_own_format() -> None:
    text = fixture("readwise_export.csv")
    assert detect_format(text) is ImportFormat.readwise_csv
    assert detect_format("\ufeff" + text) is ImportFormat.readwise_csv
    assert len(import_text(text, "readwise-csv").threads) == 2


def test_readwise_csv_format_on_other_text_says_what_it_expects() -> None:
    with pytest.raises(ContentImportError, match="columns Highlight, Book Title, Book Author"):
        import_text("Title,Author\nA,B\n", "readwise-csv")


def test_readwise_csv_without_highlights_is_an_error() -> None:
    header = "Highlight,Book Title,Book Author,Amazon Book ID,Note,Color,Tags,Location Type,"
    header += "Location,Highlighted at,Document tags\n"
    with pytest.raises(ContentImportError, match="no posts found: the Readwise CSV has no"):
        import_text(header + ",Title,Author,,,,,,,,\n")


def test_cli_imports_the_readwise_csv(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", str(FIXTURES / "readwise_export.csv"), "--output", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hounsfield-units-and-clots.yaml",
        "lumbar-puncture-a-practical-guide.yaml",
    ]
    assert "format: readwise-csv (detected)" in result.stderr
