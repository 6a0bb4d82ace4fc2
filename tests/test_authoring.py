"""Threads written in Markdown: read as the guide describes, problems at their Markdown
lines, and a round trip through YAML that changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.authoring import dump_thread_markdown, is_authoring_markdown, scaffold_markdown
from content.loader import dump_thread_yaml, load_library
from content.models import Author, Post, QuizQuestion, Reference, Source, Thread
from content.validate import (
    is_thread_file,
    parse_thread_file,
    parse_thread_text,
    validate_paths,
    validate_thread,
)
from tests.strategies import threads

GUIDE_EXAMPLE = """\
---
title: Reading a head CT
author: Jane Doe (@janedoe)
source: https://x.com/janedoe/status/1234567890
published: 2024-10-11
tags: [neuroradiology, ct]
---
1/ The most important thing to look for on a head CT is blood.
![Hyperdense clot](https://example.org/ct1.jpg)

2/ Blood is bright on CT because it is denser than water.

## Quiz
### After post 2
Q: Why is acute blood bright on CT?
- [x] It is denser than water
- [ ] It enhances with contrast
- [ ] It has a long T2
> Post 2: CT measures density; blood is denser than water.
"""

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"
IMPORTER_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"


def read(text: str, name: str = "reading-head-ct.md") -> Thread:
    thread, problems = parse_thread_file(name, text)
    assert [str(p) for p in problems] == []
    assert thread is not None
    return thread


def problems_in(text: str, name: str = "reading-head-ct.md") -> list[tuple[int | None, str]]:
    thread, problems = parse_thread_file(name, text)
    assert thread is None
    return [(p.line, p.message) for p in problems]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# --------------------------------------------------------------------------------------------
# Reading


def test_the_guides_example_reads_into_the_thread_it_describes() -> None:
    thread = read(GUIDE_EXAMPLE)

    assert thread == Thread(
        id="reading-head-ct",
        title="Reading a head CT",
        author=Author(name="Jane Doe", handle="@janedoe"),
        source=Source(
            url="https://x.com/janedoe/status/1234567890", published=dt.date(2024, 10, 11)
        ),
        tags=["neuroradiology", "ct"],
        posts=[
            Post(
                text="The most important thing to look for on a head CT is blood.",
                media=["https://example.org/ct1.jpg"],
            ),
            Post(text="Blood is bright on CT because it is denser than water."),
        ],
        quiz=[
            QuizQuestion(
                id="why-is-acute-blood-bright-on-ct",
                question="Why is acute blood bright on CT?",
                options=[
                    "It is denser than water",
                    "It enhances with contrast",
                    "It has a long T2",
                ],
                correct=[0],
                explanation="Post 2: CT measures density; blood is denser than water.",
                after_post=2,
                source_post=2,
            )
        ],
    )


def test_every_extra_of_the_format_reads_into_its_field() -> None:
    text = """\
---
id: csf-patch
title: CSF leaks
author:
  name: Lea Alhilali
  handle: "@teachplaygrub"
source: https://x.com/teachplaygrub/status/1563306679910817792
kind: notes
imported_from: written by hand
status: partial
tags: neuroradiology, csf-leak
---
<!-- a note for editors, never sent -->
1/
First paragraph of a long post.

Second paragraph, after a blank line.
[Original post](https://x.com/teachplaygrub/status/1)

2/ Second post <!-- inline note --> goes on.
![one](https://pbs.twimg.com/media/a.jpg)
![two](https://pbs.twimg.com/media/b.jpg)

## Quiz

### After post 1
Q: Which sites leak?
(Choose all that apply.)
- [x] Ventral
- [ ] Intracranial dura
- [X] Dorsal
> Post 1: ventral and dorsal,
> as the first post says.
Image: https://example.org/q.png
Source post: 2
Id: q7

### At the end
Q: Is this last?
- [x] Yes
- [ ] No
Source post: none

## References
- [Kranz et al. 2011](https://doi.org/10.3174/ajnr.A2384)
  AJNR 2011;32(5):832-838.
  An 8-patient series.
- A book without a link
"""
    thread = read(text, "csf-patch.md")

    assert thread.id == "csf-patch"
    assert thread.author == Author(name="Lea Alhilali", handle="@teachplaygrub")
    assert (thread.source.kind, thread.source.imported_from) == ("notes", "written by hand")
    assert thread.status == "partial"
    assert thread.tags == ["neuroradiology", "csf-leak"]
    assert thread.posts[0] == Post(
        text="First paragraph of a long post.\n\nSecond paragraph, after a blank line.",
        url="https://x.com/teachplaygrub/status/1",
    )
    assert thread.posts[1].text == "Second post  goes on."
    assert len(thread.posts[1].media) == 2
    q7, last = thread.quiz
    assert q7.id == "q7" and q7.question == "Which sites leak?\n(Choose all that apply.)"
    assert q7.correct == [0, 2] and q7.after_post == 1 and q7.source_post == 2
    assert q7.explanation == "Post 1: ventral and dorsal,\nas the first post says."
    assert q7.image == "https://example.org/q.png"
    assert (last.after_post, last.source_post) == (None, None)
    assert thread.references == [
        Reference(
            title="Kranz et al. 2011",
            url="https://doi.org/10.3174/ajnr.A2384",
            citation="AJNR 2011;32(5):832-838.\nAn 8-patient series.",
        ),
        Reference(title="A book without a link"),
    ]


@pytest.mark.parametrize(
    ("written", "author"),
    [
        ("Jane Doe (@janedoe)", Author(name="Jane Doe", handle="@janedoe")),
        ("Jane Doe, MD", Author(name="Jane Doe, MD")),
        ('"@janedoe"', Author(name="janedoe", handle="@janedoe")),
        ("Doe (radiology)", Author(name="Doe (radiology)")),
    ],
)
def test_author_is_written_as_name_and_handle(written: str, author: Author) -> None:
    text = GUIDE_EXAMPLE.replace("author: Jane Doe (@janedoe)", f"author: {written}")

    assert read(text).author == author


def test_derived_question_ids_survive_adding_and_moving_questions() -> None:
    """Answers and review schedules are stored by question id: editing must not shuffle them."""
    one = GUIDE_EXAMPLE + "\nQ: What else is bright?\n- [x] Calcium\n- [ ] Fat\n> Post 2: dense.\n"
    moved = GUIDE_EXAMPLE.replace(
        "### After post 2\n",
        "### After post 2\nQ: A new first question?\n- [x] Yes\n- [ ] No\n> Post 2: yes.\n\n",
    )

    ids = {q.question: q.id for q in read(one).quiz}
    moved_ids = {q.question: q.id for q in read(moved).quiz}

    question = "Why is acute blood bright on CT?"
    assert ids[question] == moved_ids[question] == "why-is-acute-blood-bright-on-ct"
    assert len(set(ids.values())) == len(ids)


def test_a_markdown_file_with_many_mistakes_reports_each_at_its_line() -> None:
    text = """\
---
title: Reading a head CT
autor: Jane Doe
tags: [ct]
---
Reading a head CT, a thread.
1/ First post.

3/ Numbered wrongly.

## Quiz
### After post 9
Q: A question?
- [x] Right
- Wrong, without a checkbox
- [ ]
> Post 2: because.

### After the party
Q: Second question without options?
> Post 1: explained.
"""
    found = problems_in(text)

    assert found == [
        (1, "`author` is missing; add `author: Name (@handle)` to the front matter"),
        (3, "unknown front matter key `autor`; did you mean `author`? allowed keys: id, title, "
         "author, source, published, kind, imported_from, tags, status, schema"),
        (6, "text before the first post; start each post with its number and a slash, `1/ ...`"),
        (9, "post numbered 3/ where 2/ was expected; number the posts 1/, 2/, 3/ ... in order "
         "(`### After post N` refers to these numbers)"),
        (12, "question a-question: `### After post 9`, but the thread has 2 post(s); use a "
         "number from 1 to 2, or `### At the end`"),
        (15, "an option needs a checkbox: `- [x] ...` for a right answer, `- [ ] ...` for a "
         "wrong one"),
        (16, "question a-question, option 2: this option is empty; Telegram needs 1 to 100 "
         "characters"),
        (19, "`### After the party` is not a quiz heading; write `### After post N` or `### At "
         "the end` above the questions"),
        (20, "question second-question-without-options: the question has no options; a poll "
         "needs 1 to 12; add the answer choices"),
        (20, "question second-question-without-options: no correct option given; mark the right "
         "option with `- [x]`"),
    ]  # fmt: skip


def test_a_rule_breach_in_markdown_names_the_post_or_question_and_its_line() -> None:
    long_post = "x" * 4033
    text = GUIDE_EXAMPLE.replace(
        "2/ Blood is bright on CT because it is denser than water.", f"2/ {long_post}"
    ).replace("- [ ] It has a long T2", "- [ ] It is denser than water")

    found = problems_in(text)

    assert found == [
        (
            line_of(text, "2/ xxx"),
            "post 2: the text is 4033 characters; the limit is 4032 (Telegram's 4096 minus 64 "
            "kept for the post number and link); shorten it or split it into two posts",
        ),
        (
            18,
            "question why-is-acute-blood-bright-on-ct, option 3: option `It is denser than "
            "water` repeats option 1; options must differ within a question",
        ),
    ]


def test_an_unclosed_comment_and_front_matter_are_explained() -> None:
    assert problems_in("---\ntitle: x\n1/ post\n")[0] == (
        1,
        "the front matter that starts here never ends; close it with a line `---` before the "
        "first post",
    )
    text = GUIDE_EXAMPLE.replace("2/ Blood", "<!-- unfinished note\n2/ Blood")
    assert (line_of(text, "<!--"), "this comment is never closed; end it with `-->`") in (
        problems_in(text)
    )


def test_escapes_keep_text_that_looks_like_the_format() -> None:
    text = GUIDE_EXAMPLE.replace(
        "2/ Blood is bright on CT because it is denser than water.",
        "2/ Blood is bright:\n\\3/ is not a post\n\\## Quiz is not a section\n"
        "\\![not](https://an.image/x.png)\nends with a space&#32;\n\\",
    )

    thread = read(text)

    assert thread.posts[1].text == (
        "Blood is bright:\n3/ is not a post\n## Quiz is not a section\n"
        "![not](https://an.image/x.png)\nends with a space \n"
    )
    assert thread.posts[1].media == []


def test_a_markdown_export_is_sent_to_content_import() -> None:
    article = "# Post-dural puncture headache\n\nIt follows a lumbar puncture.\n"

    thread, problems = parse_thread_file("pdph.md", article)

    assert thread is None
    assert [str(p) for p in problems] == [
        "pdph.md:1: this looks like an export, not a thread in the authoring format (numbered "
        "posts `1/ ...` after a `---` front matter block, see docs/authoring.md); run "
        "`tweetdrip content import pdph.md` to turn it into a thread"
    ]


@pytest.mark.parametrize(
    "path",
    [
        *sorted(SEEDS.glob("*.txt")),  # Thread Reader, Readwise (Obsidian), two web pages
        IMPORTER_FIXTURES / "readwise_logseq_csf.md",
    ],
    ids=lambda p: p.name,
)
def test_exports_are_not_mistaken_for_the_authoring_format(path: Path) -> None:
    assert not is_authoring_markdown(path.read_text(encoding="utf-8"))
    assert is_authoring_markdown(GUIDE_EXAMPLE)


def test_thread_files_are_told_from_exports_by_name_and_text() -> None:
    assert is_thread_file("x.md", GUIDE_EXAMPLE)
    assert is_thread_file("x.yaml", "anything")
    assert not is_thread_file("x.md", "# An article\n\nText.\n")
    assert not is_thread_file("x.txt", GUIDE_EXAMPLE)
    thread, problems = parse_thread_file("notes.txt", "1/ a\n2/ b\n")
    assert thread is None and "not a content file" in problems[0].message


def test_an_uploaded_markdown_thread_takes_its_id_from_the_file_name() -> None:
    assert read(GUIDE_EXAMPLE, "Reading a head CT (final).md").id == "reading-a-head-ct-final"
    assert read("---\nid: ct-basics\n" + GUIDE_EXAMPLE[4:], "whatever.md").id == "ct-basics"


# --------------------------------------------------------------------------------------------
# Writing and round trips


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(threads())
def test_any_valid_thread_survives_markdown_and_yaml_round_trips(thread: Thread) -> None:
    assert validate_thread(thread) == []
    markdown = dump_thread_markdown(thread)
    yaml_text = dump_thread_yaml(thread)

    from_markdown = read(markdown, "fuzzed.md")
    # yaml -> md -> yaml and md -> yaml -> md, as text
    back_to_yaml = dump_thread_yaml(from_markdown)
    from_yaml, problems = parse_thread_text(yaml_text, "fuzzed.yaml")

    assert from_markdown == thread
    assert back_to_yaml == yaml_text
    assert problems == [] and from_yaml is not None
    assert dump_thread_markdown(from_yaml) == markdown


def test_a_front_matter_value_ending_in_blank_lines_survives_the_round_trip() -> None:
    thread = Thread(
        id="kept-lines",
        title="T",
        author=Author(name="A"),
        source=Source(imported_from="notes\n\n"),
        posts=[Post(text="hello")],
    )

    assert read(dump_thread_markdown(thread), "kept-lines.md") == thread


def test_every_bundled_thread_survives_markdown_and_back() -> None:
    library = load_library()

    for thread in library.threads.values():
        markdown = dump_thread_markdown(thread)
        assert read(markdown, f"{thread.id}.md") == thread, thread.id
        assert dump_thread_yaml(read(markdown, f"{thread.id}.md")) == dump_thread_yaml(thread)


def test_a_hand_written_thread_survives_yaml_and_back() -> None:
    thread = read(GUIDE_EXAMPLE)

    again, problems = parse_thread_text(dump_thread_yaml(thread), "reading-head-ct.yaml")

    assert problems == [] and again == thread
    assert read(dump_thread_markdown(again)) == thread


def test_the_written_markdown_reads_as_people_write_it() -> None:
    markdown = dump_thread_markdown(read(GUIDE_EXAMPLE))

    assert markdown == (
        "---\n"
        "id: reading-head-ct\n"
        "title: Reading a head CT\n"
        "author: Jane Doe (@janedoe)\n"
        "source: https://x.com/janedoe/status/1234567890\n"
        "published: 2024-10-11\n"
        "tags: [neuroradiology, ct]\n"
        "---\n"
        "1/ The most important thing to look for on a head CT is blood.\n"
        "![](https://example.org/ct1.jpg)\n"
        "\n"
        "2/ Blood is bright on CT because it is denser than water.\n"
        "\n"
        "## Quiz\n"
        "\n"
        "### After post 2\n"
        "Q: Why is acute blood bright on CT?\n"
        "- [x] It is denser than water\n"
        "- [ ] It enhances with contrast\n"
        "- [ ] It has a long T2\n"
        "> Post 2: CT measures density; blood is denser than water.\n"
        "Id: why-is-acute-blood-bright-on-ct\n"
    )


def test_correct_options_are_a_set_so_yaml_and_markdown_agree() -> None:
    question = QuizQuestion(id="q1", question="?", options=["a", "b", "c"], correct=[2, 0])

    assert question.correct == [0, 2]


# --------------------------------------------------------------------------------------------
# A new thread, and the library


def test_a_new_thread_validates_and_points_at_its_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "ct-basics.md"
    path.write_text(scaffold_markdown("ct-basics"), encoding="utf-8")

    library, problems = validate_paths([path], lint=True)

    assert library is not None and list(library.threads) == ["ct-basics"]
    assert {p.severity for p in problems} == {"warning"}
    assert all("TODO placeholder" in p.message for p in problems)
    assert len(problems) == 9  # title, author, 2 posts, the question, its 3 options, explanation


def test_a_markdown_thread_in_the_library_folder_loads_like_a_yaml_one(tmp_path: Path) -> None:
    library_dir, tracks_dir = tmp_path / "library", tmp_path / "tracks"
    library_dir.mkdir()
    tracks_dir.mkdir()
    (library_dir / "reading-head-ct.md").write_text(GUIDE_EXAMPLE, encoding="utf-8")
    other = read(GUIDE_EXAMPLE).model_copy(update={"id": "ct-yaml"})
    (library_dir / "ct-yaml.yaml").write_text(dump_thread_yaml(other), encoding="utf-8")
    (library_dir / "SOURCES.md").write_text("# Where each thread came from\n", encoding="utf-8")
    (tracks_dir / "ct.yaml").write_text(
        "id: ct\ntitle: CT\nthreads: [reading-head-ct, ct-yaml]\n", encoding="utf-8"
    )

    library = load_library([library_dir, tracks_dir])

    assert sorted(library.threads) == ["ct-yaml", "reading-head-ct"]
    assert library.threads["reading-head-ct"] == read(GUIDE_EXAMPLE)
    assert library.track("ct").threads == ["reading-head-ct", "ct-yaml"]


def test_a_markdown_file_named_unlike_its_id_is_reported_at_the_line(tmp_path: Path) -> None:
    named = tmp_path / "Reading CT.md"
    named.write_text(GUIDE_EXAMPLE, encoding="utf-8")
    wrong = tmp_path / "other.md"
    wrong.write_text("---\nid: ct-basics\n" + GUIDE_EXAMPLE[4:], encoding="utf-8")

    _library, problems = validate_paths([named, wrong])

    assert [str(p) for p in problems] == [
        f"{named}:1: the file name `Reading CT.md` is not a thread id; rename the file to "
        "`reading-ct.md` (a Markdown thread without `id:` takes its id from the file name)",
        f"{wrong}:2: id `ct-basics` does not match the file name `other.md`; rename the file to "
        "`ct-basics.md` or set `id: other`",
    ]


def test_the_guides_complete_example_is_a_clean_thread(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "authoring.md").read_text("utf-8")
    example = guide.split("```markdown\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "reading-head-ct.md"
    path.write_text(example, encoding="utf-8")

    library, problems = validate_paths([path], lint=True)

    assert [str(p) for p in problems] == []
    assert library is not None
    thread = library.threads["reading-head-ct"]
    assert [len(thread.posts), len(thread.quiz), len(thread.references)] == [3, 2, 1]


_PIECES = [
    "---", "title: T", "author: A (@a)", "tags: [a", "id: x", "1/ post", "2/", "3/ x", "## Quiz",
    "## References", "### After post 1", "### After post 7", "### At the end", "### x", "Q: q?",
    "- [x] a", "- [ ] b", "- c", "> exp", ">", "Image: https://x.org/a.png", "Source post: 2",
    "Source post: none", "Source post: x", "Id: q1", "\\", "\\2/ x", "<!--", "-->",
    "![a](https://x.org/i.png)", "[Original post](https://x.org)", "", "\t- [x] z", "# H",
    "&#10;", "&#99999999;", "- [t](https://u.org)", "  cit", "...",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=8)), max_size=30).map("\n".join)
)
def test_any_text_gives_a_valid_thread_or_located_problems(text: str) -> None:
    thread, problems = parse_thread_file("fuzzed.md", "---\ntitle: T\nauthor: A\n---\n" + text)

    assert (thread is None) == bool(problems)
    if thread is not None:
        assert validate_thread(thread) == []
    last_line = text.count("\n") + 5
    assert all(p.line is None or 1 <= p.line <= last_line for p in problems)


def test_a_quiz_without_its_section_heading_is_still_read_and_explained() -> None:
    text = GUIDE_EXAMPLE.replace("## Quiz\n", "")

    assert problems_in(text) == [
        (13, "`### After post 2` belongs in the quiz; put a `## Quiz` line above it")
    ]
