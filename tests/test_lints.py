"""Quality lints: guessable or misleading quiz patterns are warned about, at their lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from content.cli import app
from content.lints import lint_thread, named_posts
from content.models import Author, Post, QuizQuestion, Source, Thread


def question(qid: str, options: list[str], correct: list[int], **extra: object) -> QuizQuestion:
    values: dict[str, object] = {
        "id": qid,
        "question": f"Question {qid}?",
        "options": options,
        "correct": correct,
        "explanation": "Post 1: because.",
        "after_post": 1,
        "source_post": 1,
    }
    values.update(extra)
    return QuizQuestion.model_validate(values)


def thread(*quiz: QuizQuestion) -> Thread:
    return Thread(
        id="lint-me",
        title="Lint me",
        author=Author(name="Jane Doe"),
        source=Source(),
        posts=[Post(text="One."), Post(text="Two."), Post(text="Three.")],
        quiz=list(quiz),
    )


def messages(t: Thread) -> list[str]:
    return [f"{'.'.join(str(x) for x in loc)}: {message}" for loc, message in lint_thread(t)]


def varied(n: int) -> list[QuizQuestion]:
    """`n` clean questions whose right answers move around and are not the longest."""
    quiz = []
    for i in range(n):
        options = [f"wrong {i}a", f"wrong {i}b", f"wrong {i}c"]
        options[i % 3] = f"right {i}"
        quiz.append(question(f"v{i}", options, [i % 3]))
    return quiz


def test_a_varied_quiz_draws_no_warning() -> None:
    assert messages(thread(*varied(5))) == []


def test_the_right_answer_always_first_is_a_pattern() -> None:
    quiz = [question(f"q{i}", [f"right {i}", f"wrong {i}", f"other {i}"], [0]) for i in range(4)]

    found = messages(thread(*quiz))

    assert found == [
        "quiz: the right answer is the first option in 4 of 4 single-answer questions (q0, q1, "
        "q2, q3); vary its position: Telegram shuffles options for trainees, but the sandbox, "
        "/preview, exports and some clients keep the written order, and a pattern teaches itself"
    ]


def test_the_same_position_in_most_but_not_80_percent_is_fine() -> None:
    quiz = [question(f"q{i}", [f"right {i}", f"wrong {i}", f"other {i}"], [0]) for i in range(3)]
    quiz += [question("x1", ["a1", "b1", "c1"], [1]), question("x2", ["a2", "b2", "c2"], [2])]

    assert messages(thread(*quiz)) == []


def test_the_longest_option_being_right_in_most_questions_is_a_pattern() -> None:
    long = "A much longer and carefully qualified answer"
    quiz = [
        question("q0", ["Short", f"{long} 0", "Brief"], [1]),
        question("q1", [f"{long} 1", "Short", "Brief"], [0]),
        question("q2", ["Short", "Brief", f"{long} 2"], [2]),
        question("q3", ["Tiny", "Short", "Longest of them all here"], [0]),
    ]

    found = messages(thread(*quiz))

    assert found == [
        "quiz: the right answer is the longest option in 3 of 4 single-answer questions (q0, "
        "q1, q2); trainees learn to pick the longest: make the wrong options as long and as "
        "specific as the right one"
    ]


def test_an_answer_that_comes_back_in_another_question_is_named() -> None:
    first = question("sites", ["Ventral", "Dorsal", "Cranial"], [0])
    second = question("where", ["Dorsal", "Ventral", "Lateral"], [0])
    third = question("again", ["Lateral", "Ventral", "Medial"], [1])

    found = messages(thread(first, second, third))

    assert (
        "quiz.1.options.1: `Ventral` is a wrong option here but the right answer of question "
        "sites; trainees who remember one will doubt the other: replace it" in found
    )
    assert (
        "quiz.2.options.1: `Ventral` is also the right answer of question sites; an answer "
        "that comes back gives itself away: do both questions ask the same thing? Ask something "
        "else, or change the options" in found
    )
    assert (
        "quiz.0.options.1: `Dorsal` is a wrong option here but the right answer of question "
        "where; trainees who remember one will doubt the other: replace it" in found
    )


def test_yes_no_answers_may_repeat() -> None:
    quiz = [question(f"q{i}", ["Yes", "No"], [i % 2]) for i in range(2)]

    assert messages(thread(*quiz)) == []


@pytest.mark.parametrize(
    "option", ["All of the above", "none of the above", "All of these", "Both", "Neither of them"]
)
def test_all_of_the_above_options_are_warned_about(option: str) -> None:
    found = messages(thread(question("q1", ["Leg weakness", "Numbness", option], [2])))

    assert found == [
        f"quiz.0.options.2: `{option}` leans on the other options and their order (Telegram "
        "shuffles them) and is easy to guess; give each option a statement of its own, and for "
        "several right answers mark each of them right"
    ]


def test_a_question_whose_every_option_is_right_tests_nothing() -> None:
    found = messages(thread(question("q8", ["Weakness", "Incontinence", "Numbness"], [0, 1, 2])))

    assert found == [
        "quiz.0.correct: every option is right, so the question tests nothing; add wrong "
        "options, or ask which one matters most"
    ]


@pytest.mark.parametrize(
    ("explanation", "source_post", "warning"),
    [
        ("", 2, "no explanation; say why the answer is right and which post teaches it "
         "(`Post 2: ...`), so a wrong answer still teaches"),
        ("CT measures density.", 2, "the explanation does not name the post it comes from; "
         "start it with `Post 2: ` so trainees can look it up"),
        ("Post 7: density.", 2, "the explanation names post 7, but the thread has 3 posts"),
        ("Post 1: density.", 2, "the explanation names post 1 but the question's source post "
         "is 2; name the post the answer comes from, or fix the source post"),
        ("Posts 1-3: density.", 2, None),
        ("As post 2 says, density.", 2, None),
        ("Posts 1 and 2: density.", 2, None),
    ],
)  # fmt: skip
def test_an_explanation_names_the_post_it_comes_from(
    explanation: str, source_post: int, warning: str | None
) -> None:
    q = question("q1", ["Dense", "Light"], [0], explanation=explanation, source_post=source_post)

    found = messages(thread(q))

    assert found == ([] if warning is None else [f"quiz.0.explanation: {warning}"])


def test_named_posts_reads_lists_and_ranges() -> None:
    assert named_posts("Post 6: ventral; see posts 2, 3 and 9-11.") == {2, 3, 6, 9, 10, 11}
    assert named_posts("No number here, postscript 4.") == set()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("A repeat blood patch", "Repeat blood patches"),
        ("Haemorrhage", "hemorrhage"),
        ("Fluids and bed rest", "Bed rest and fluids"),
        ("A repeat EBP", "Repeat epidural blood patch"),
        ("Oedema of the cord", "cord edema"),
    ],
)
def test_two_wrong_options_that_say_the_same_thing(a: str, b: str) -> None:
    found = messages(thread(question("q1", ["Acetazolamide", a, b], [0])))

    assert found == [
        f"quiz.0.options.2: the wrong options `{a}` and `{b}` say the same thing, so both are "
        "eliminated at once; replace one with another plausible answer"
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Intracranial hypotension", "Intracranial hypertension"),
        ("Hypointense", "Hyperintense"),
        ("T1 bright", "T2 bright"),
        ("Anterior spinal artery", "Posterior spinal artery"),
        ("Leg weakness and numbness", "Leg weakness or numbness"),
    ],
)
def test_options_that_differ_in_meaning_are_not_confused(a: str, b: str) -> None:
    assert messages(thread(question("q1", ["Acetazolamide", a, b], [0]))) == []


def test_a_wrong_option_worded_like_the_right_one_contradicts_it() -> None:
    found = messages(thread(question("q1", ["Blood patch", "Caffeine", "a blood-patch"], [0])))

    assert found == [
        "quiz.0.options.2: `a blood-patch` says the same as `Blood patch`, but one is right and "
        "the other wrong; reword one so they differ, or mark both alike"
    ]


# --------------------------------------------------------------------------------------------
# Through files and the command line

MARKDOWN = """\
---
title: Patterns
author: Jane Doe (@janedoe)
---
1/ One.

2/ Two.

## Quiz
### After post 1
Q: First?
- [x] Right one
- [ ] Wrong one
> Post 1: one.

### After post 2
Q: Second?
- [x] Right two
- [ ] Wrong two
> Because.

### At the end
Q: Third?
- [x] Right three
- [ ] Right one
- [ ] All of the above
> Post 2: two.
"""


def test_warnings_print_as_file_line_warning_and_exit_zero(tmp_path: Path) -> None:
    path = tmp_path / "patterns.md"
    path.write_text(MARKDOWN, encoding="utf-8")

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{path}:9: warning: quiz: the right answer is the first option in 3 of 3 "
        "single-answer questions (first, second, third); vary its position: Telegram shuffles "
        "options for trainees, but the sandbox, /preview, exports and some clients keep the "
        "written order, and a pattern teaches itself",
        f"{path}:20: warning: question second, explanation: the explanation does not name the "
        "post it comes from; start it with `Post 2: ` so trainees can look it up",
        f"{path}:25: warning: question third, option 2: `Right one` is a wrong option here but "
        "the right answer of question first; trainees who remember one will doubt the other: "
        "replace it",
        f"{path}:26: warning: question third, option 3: `All of the above` leans on the other "
        "options and their order (Telegram shuffles them) and is easy to guess; give each option "
        "a statement of its own, and for several right answers mark each of them right",
    ]
    assert result.stdout == (
        "OK: 1 thread(s), 0 track(s), 4 warning(s) (--strict makes them errors).\n"
    )


def test_strict_makes_warnings_errors(tmp_path: Path) -> None:
    path = tmp_path / "patterns.md"
    path.write_text(MARKDOWN, encoding="utf-8")

    result = CliRunner().invoke(app, ["validate", "--strict", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "0 problem(s) and 4 warning(s) found (--strict counts warnings as problems)."
    )
    assert "OK" not in result.stdout


def test_the_bundled_pack_passes_strict_validation() -> None:
    result = CliRunner().invoke(app, ["validate", "--strict"])

    assert result.exit_code == 0, result.stderr
