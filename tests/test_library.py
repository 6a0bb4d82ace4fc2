"""The bundled pack: faithful to its sources, credited by name, and quizzes that teach."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.render import author_credit
from content.loader import bundled_library
from content.models import Author, Thread
from tests.harness import Harness
from tests.test_quiz import TRAINEE

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"
LIBRARY = bundled_library()
THREADS = sorted(LIBRARY.threads)
CSF = LIBRARY.thread("csf-leak-blood-patch")
NOTES = LIBRARY.thread("iatrogenic-csf-leak-intracranial-hypotension")
# Readwise highlights: "- 3/text", continuation lines indented, then the image and tweet link.
HIGHLIGHT = re.compile(
    r"^- (\d+)/(.*?)\n  !\[\]\((\S+)\) \(\[View Tweet\]\((\S+)\)\)", re.MULTILINE | re.DOTALL
)


def question(thread: Thread, question_id: str) -> tuple[str, list[str], list[int], str]:
    (q,) = [q for q in thread.quiz if q.id == question_id]
    return q.question, q.options, q.correct, q.explanation


def test_the_csf_tweetorial_is_the_tweets_word_for_word() -> None:
    (seed,) = SEEDS.glob("001_*.txt")
    tweets = {}
    for match in HIGHLIGHT.finditer(seed.read_text(encoding="utf-8")):
        text = "\n".join(line.strip() for line in match[2].strip().splitlines())
        tweets[int(match[1])] = (text, [match[3]], match[4])
    assert len(tweets) == 12
    for number, post in enumerate(CSF.posts, 1):
        assert (post.text, post.media, post.url) == tweets[number], f"post {number}"


@pytest.mark.parametrize("thread_id", THREADS)
def test_every_explanation_starts_with_the_post_it_comes_from(thread_id: str) -> None:
    for q in LIBRARY.thread(thread_id).quiz:
        assert q.explanation.startswith(f"Post {q.source_post}:"), (thread_id, q.id)


@pytest.mark.parametrize("thread_id", THREADS)
def test_the_right_answer_is_neither_in_one_place_nor_the_longest(thread_id: str) -> None:
    quiz = LIBRARY.thread(thread_id).quiz
    single = [q for q in quiz if len(q.correct) == 1]
    assert len({q.correct[0] for q in single}) > 1
    longest = [
        q.id
        for q in single
        if all(len(q.options[q.correct[0]]) >= len(o) for o in q.options) and len(q.options) > 1
    ]
    assert len(longest) * 2 <= len(single), longest
    assert all(len(q.correct) < len(q.options) for q in quiz)  # never "all of the above"
    options = [o.casefold() for q in quiz for o in q.options]
    assert len(options) == len(set(options))  # no option repeated across the thread


def test_the_tweetorials_credit_lea_alhilali_by_name_and_handle() -> None:
    by_her = [t for t in LIBRARY.threads.values() if t.author.handle == "@teachplaygrub"]
    assert len(by_her) == 5
    assert {t.author.name for t in by_her} == {"Lea Alhilali"}
    assert author_credit(CSF) == "Lea Alhilali (@teachplaygrub)"


def test_a_handle_standing_in_for_a_name_is_shown_once() -> None:
    imported = CSF.model_copy(update={"author": Author(name="teachplaygrub", handle="@x")})
    assert author_credit(imported) == "teachplaygrub (@x)"
    handle_only = CSF.model_copy(
        update={"author": Author(name="teachplaygrub", handle="@teachplaygrub")}
    )
    assert author_credit(handle_only) == "@teachplaygrub"
    assert author_credit(NOTES) == "tweetdrip editors"


async def test_about_credits_the_author_by_name(harness: Harness) -> None:
    await harness.send(TRAINEE, "/about")
    text = harness.last_message(TRAINEE).content
    assert "By Lea Alhilali (@teachplaygrub) · original" in text
    assert "By tweetdrip editors" in text


def test_kranz_2011_is_further_reading_with_its_full_citation() -> None:
    for thread in (CSF, NOTES):
        (ref,) = [r for r in thread.references if "CT-guided epidural blood patching" in r.title]
        assert ref.citation is not None
        assert "2011;32(5):832-838" in ref.citation and "doi:10.3174/ajnr.A2384" in ref.citation
        assert "Further reading" in ref.citation and "8 patients" in ref.citation


def test_the_notes_say_what_they_are_and_list_their_sources() -> None:
    about = NOTES.posts[0].text
    assert about.startswith("About these notes: a summary written for this course")
    sources = about.split("Sources:", 1)[1]
    body = "\n".join(p.text for p in NOTES.posts[1:])
    cited = set(re.findall(r"\b(Nath|Choi|Kranz|Brinjikji) (\d{4})\b", body))
    assert cited == {
        ("Nath", "2018"),
        ("Choi", "2003"),
        ("Kranz", "2016"),
        ("Kranz", "2014"),
        ("Kranz", "2011"),
        ("Brinjikji", "2021"),
    }
    lines = sources.splitlines()
    for name, year in cited:
        assert any(name in line and year in line for line in lines), (name, year)
    assert "Lea Alhilali (@teachplaygrub)" in sources


def test_every_figure_in_the_notes_has_a_published_source() -> None:
    body = "\n".join(p.text for p in NOTES.posts[1:])
    # The unattributed summary's figures are gone; these five come from the cited papers.
    assert set(re.findall(r"\d+(?:\.\d+)?%", body)) == {"11.0%", "4.2%", "52%", "61%", "34%"}
    for gone in ("2-8%", "20-30%", "46-67%", "25%", "2-24 hours", "1-5 treatments"):
        assert gone not in body


def test_the_volume_question_asks_what_limits_it_and_names_the_red_flags() -> None:
    text, options, correct, explanation = question(CSF, "q10")
    assert "limits" in text
    assert "tolerance" in options[correct[0]]
    assert "urgent imaging" in explanation and "expected" in explanation


def test_the_leak_site_question_warns_about_csf_venous_fistula() -> None:
    *_, explanation = question(CSF, "q12")
    assert "CSF–venous fistula" in explanation


def test_the_notes_red_flags_leave_the_expected_back_pain_out() -> None:
    _, options, correct, _ = question(NOTES, "q8")
    flagged = {options[i] for i in correct}
    assert "Mild ache where the blood was injected" not in flagged
    assert {"New leg weakness", "Bladder or bowel symptoms"} <= flagged


def test_a_normal_opening_pressure_does_not_exclude_a_leak() -> None:
    _, options, correct, explanation = question(NOTES, "q5")
    assert options[correct[0]] == "A normal pressure does not exclude a leak"
    assert "61%" in explanation


def test_brocas_question_does_not_show_its_answer() -> None:
    text, *_ = question(LIBRARY.thread("brocas-area"), "q2")
    assert "3" not in text and "three" not in text.casefold()


def test_the_stroke_question_limits_dwi_to_brain_tissue() -> None:
    text, *_ = question(LIBRARY.thread("stroke-dating-mri"), "q2")
    assert "only brain-tissue finding" in text
