"""Content validation: every rule reports what is wrong, where, and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from content.models import (
    POST_CAPTION_MAX,
    POST_TEXT_MAX,
    Author,
    Post,
    QuizQuestion,
    Source,
    Thread,
)
from content.validate import (
    Problem,
    default_paths,
    parse_thread_text,
    publish_problems,
    validate_paths,
    validate_thread,
)

GOOD = """\
schema: 1
id: csf-mini
title: CSF leaks in brief
author:
  name: Teach Play Grub
  handle: "@teachplaygrub"
source:
  url: https://twitter.com/teachplaygrub/status/1
  kind: tweetorial
  imported_from: written by hand
  published: 2022-08-26
tags: [neuroradiology, csf-leak]
status: complete
posts:
  - text: Epidural blood patches have been around since the 60s.
    media: [https://pbs.twimg.com/media/one.jpg]
    url: https://twitter.com/teachplaygrub/status/1
  - text: |
      Leaks occur at 3 main sites.
      Ventral, nerve root sleeve, dorsal.
  - text: Thecal sac compression leads to symptom regression.
quiz:
  - id: q1
    question: How many main leak sites are there?
    options: ["2", "3", "4"]
    correct: [1]
    explanation: 'Post 2: ventral, nerve root sleeve and dorsal.'
    after_post: 2
    source_post: 2
  - id: q2
    question: Which findings are wanted after a targeted patch?
    options:
      - Thecal sac compression
      - Epidural contrast reflux at the root sleeve
      - No epidural spread
    correct: [0, 1]
    explanation: Post 3 shows the thecal sac compressed and contrast at the root sleeve.
references:
  - title: Kranz et al. 2011
    url: https://www.ajnr.org/content/32/10/1829
    citation: AJNR 2011
"""


def edit(old: str, new: str, text: str = GOOD) -> str:
    """Replace exactly one occurrence of `old`, so a test cannot silently edit nothing."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def problems_of(text: str, filename: str = "csf-mini.yaml") -> list[Problem]:
    thread, problems = parse_thread_text(text, filename)
    assert (thread is None) == bool(problems)
    return problems


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_thread_parses_into_a_thread() -> None:
    thread, problems = parse_thread_text(GOOD, "csf-mini.yaml")

    assert problems == []
    assert thread is not None
    assert thread.id == "csf-mini"
    assert [len(p.media) for p in thread.posts] == [1, 0, 0]
    assert thread.quiz[1].correct == [0, 1]
    assert thread.source.published is not None and thread.source.published.isoformat() == (
        "2022-08-26"
    )


# Each case: (old text, new text, text on the line the problem must point at, message part).
RULES = {
    "schema-other-version": (
        "schema: 1",
        "schema: 2",
        "schema: 2",
        "schema 2 is not supported: this version of tweetdrip reads schema 1",
    ),
    "schema-not-a-number": (
        "schema: 1",
        "schema: one",
        "schema: one",
        "schema must be the number 1",
    ),
    "id-not-a-slug": ("id: csf-mini", "id: CSF_Mini", "id: CSF_Mini", "e.g. `csf-mini`"),
    "title-empty": ("title: CSF leaks in brief", 'title: " "', "title:", "the title is empty"),
    "author-name-empty": ("name: Teach Play Grub", 'name: ""', "name:", "author's name is empty"),
    "author-name-missing": (
        "  name: Teach Play Grub\n",
        "",
        "handle:",
        "author.name: `name` is missing; add `name: ...` here",
    ),
    "author-not-a-mapping": (
        'author:\n  name: Teach Play Grub\n  handle: "@teachplaygrub"',
        "author: Teach Play Grub",
        "author: Teach Play Grub",
        "author: expected a mapping with keys name, handle, got text ('Teach Play Grub')",
    ),
    "title-wrong-type": (
        "title: CSF leaks in brief",
        "title: 42",
        "title: 42",
        "title: expected text, got a number (42); put it in quotes",
    ),
    "unknown-top-level-key": (
        "status: complete",
        "status: complete\ncolour: red",
        "colour: red",
        "unknown key `colour`; allowed keys here: schema, id, title, author, source, tags, "
        "status, posts, quiz, references",
    ),
    "unknown-key-with-typo": (
        "explanation: 'Post 2",
        "explaination: 'Post 2",
        "explaination:",
        "quiz[0].explaination: unknown key `explaination`; did you mean `explanation`?",
    ),
    "source-kind-unknown": (
        "kind: tweetorial",
        "kind: video",
        "kind: video",
        "source.kind: text ('video') is not allowed; use one of 'tweetorial', 'article' or 'notes'",
    ),
    "status-unknown": ("status: complete", "status: draft", "status: draft", "'partial'"),
    "published-not-a-date": (
        "published: 2022-08-26",
        "published: last summer",
        "published:",
        "expected a date written as YYYY-MM-DD",
    ),
    "tags-not-a-list": (
        "tags: [neuroradiology, csf-leak]",
        "tags: neuroradiology",
        "tags:",
        "tags: expected a list (lines starting with `- `), got text",
    ),
    "tag-repeated": (
        "tags: [neuroradiology, csf-leak]",
        "tags: [neuroradiology, neuroradiology]",
        "tags:",
        "tags[1]: tag `neuroradiology` is listed twice",
    ),
    "post-text-empty": (
        "  - text: Thecal sac compression leads to symptom regression.",
        '  - text: ""',
        'text: ""',
        "posts[2].text: the post text is empty",
    ),
    "post-text-over-limit": (
        "  - text: Thecal sac compression leads to symptom regression.",
        "  - text: " + "x" * (POST_TEXT_MAX + 1),
        "xxxx",
        f"posts[2].text: the text is {POST_TEXT_MAX + 1} characters; the limit is "
        f"{POST_TEXT_MAX} (Telegram's 4096 minus 64 kept for the post number and link); "
        "shorten it or split it into two posts",
    ),
    "caption-over-limit-when-post-has-media": (
        "  - text: Epidural blood patches have been around since the 60s.",
        "  - text: " + "x" * (POST_CAPTION_MAX + 1),
        "xxxx",
        f"posts[0].text: the text is {POST_CAPTION_MAX + 1} characters, too long for a caption "
        f"under media: the limit is {POST_CAPTION_MAX}",
    ),
    "media-url-malformed": (
        "media: [https://pbs.twimg.com/media/one.jpg]",
        "media: [pbs.twimg.com/media/one.jpg]",
        "media:",
        "posts[0].media[0]: `pbs.twimg.com/media/one.jpg` is not a well-formed URL; use a full "
        "http(s)://host/... address",
    ),
    "post-url-not-http": (
        "    url: https://twitter.com/teachplaygrub/status/1\n  - text: |",
        "    url: ftp://twitter.com/status/1\n  - text: |",
        "ftp://",
        "posts[0].url: `ftp://twitter.com/status/1` is not a well-formed URL",
    ),
    "source-url-without-host": (
        "  url: https://twitter.com/teachplaygrub/status/1\n  kind",
        "  url: https:///status/1\n  kind",
        "https:///status/1",
        "source.url: `https:///status/1` is not a well-formed URL",
    ),
    "reference-url-with-space": (
        "url: https://www.ajnr.org/content/32/10/1829",
        "url: https://www.ajnr.org/content 32",
        "ajnr",
        "references[0].url: `https://www.ajnr.org/content 32` is not a well-formed URL",
    ),
    "reference-title-empty": (
        "title: Kranz et al. 2011",
        'title: ""',
        'title: ""',
        "references[0].title: the reference title is empty",
    ),
    "question-image-malformed": (
        "    source_post: 2\n",
        "    source_post: 2\n    image: picture.png\n",
        "image: picture.png",
        "quiz[0].image: `picture.png` is not a well-formed URL",
    ),
    "quiz-id-repeated": (
        "id: q2",
        "id: q1  # again",
        "# again",
        "quiz[1].id: question id `q1` is already used by question 1 of this thread",
    ),
    "quiz-id-empty": ("id: q2", 'id: ""', 'id: ""', "quiz[1].id: the question id is empty"),
    "question-empty": (
        "question: How many main leak sites are there?",
        'question: ""',
        'question: ""',
        "quiz[0].question: the question is empty",
    ),
    "question-over-300": (
        "question: How many main leak sites are there?",
        "question: " + "q" * 301,
        "qqqq",
        "quiz[0].question: the question is 301 characters; Telegram allows at most 300",
    ),
    "no-options": (
        'options: ["2", "3", "4"]\n    correct: [1]',
        "options: []\n    correct: []",
        "options:",
        "quiz[0].options: the question has no options; a poll needs 1 to 12; add the answer "
        "choices",
    ),
    "thirteen-options": (
        'options: ["2", "3", "4"]',
        "options: [" + ", ".join(f'"{n}"' for n in range(13)) + "]",
        "options:",
        "quiz[0].options: the question has 13 options; Telegram allows at most 12; remove 1",
    ),
    "option-empty": (
        'options: ["2", "3", "4"]',
        'options: ["2", "3", ""]',
        "options:",
        "quiz[0].options[2]: this option is empty",
    ),
    "option-over-100": (
        "      - No epidural spread",
        "      - " + "o" * 101,
        "oooo",
        "quiz[1].options[2]: this option is 101 characters; Telegram allows at most 100",
    ),
    "option-repeated-ignoring-case": (
        "      - No epidural spread",
        "      - thecal sac compression",
        "- thecal sac compression",
        "quiz[1].options[2]: option `thecal sac compression` repeats option 0",
    ),
    "option-a-bare-number": (
        'options: ["2", "3", "4"]',
        "options: [2, 3, 4]",
        "options:",
        "quiz[0].options[0]: expected text, got a number (2); put it in quotes",
    ),
    "option-a-yes-no-word": (
        "      - No epidural spread",
        "      - No",
        "      - No",
        "quiz[1].options[2]: expected text, got a yes/no value (false); put it in quotes",
    ),
    "explanation-over-200": (
        "explanation: 'Post 2: ventral, nerve root sleeve and dorsal.'",
        "explanation: " + "e" * 201,
        "eeee",
        "quiz[0].explanation: the explanation is 201 characters; Telegram allows at most 200",
    ),
    "explanation-three-line-breaks": (
        "explanation: 'Post 2: ventral, nerve root sleeve and dorsal.'",
        "explanation: |\n      Ventral.\n      Nerve root sleeve.\n      Dorsal.",
        "explanation: |",
        "quiz[0].explanation: the explanation has 3 line breaks; Telegram allows at most 2; join "
        "some lines (a `|` block keeps the final line break; write `|-` to drop it)",
    ),
    "correct-empty": (
        "correct: [0, 1]",
        "correct: []",
        "correct: []",
        "quiz[1].correct: no correct option given; list at least one 0-based option index",
    ),
    "correct-out-of-range": (
        "correct: [1]",
        "correct: [3]",
        "correct: [3]",
        "quiz[0].correct[0]: correct option 3 does not exist; options are numbered from 0 to 2",
    ),
    "correct-repeated": (
        "correct: [0, 1]",
        "correct: [1, 1]",
        "correct: [1, 1]",
        "quiz[1].correct[1]: correct option 1 is listed twice",
    ),
    "correct-not-a-number": (
        "correct: [1]",
        "correct: [second]",
        "correct: [second]",
        "quiz[0].correct[0]: expected a whole number, got text ('second')",
    ),
    "after-post-beyond-thread": (
        "after_post: 2",
        "after_post: 4",
        "after_post: 4",
        "quiz[0].after_post: after_post is 4 but the thread has 3 post(s); use a post number "
        "from 1 to 3 (1 is the first post)",
    ),
    "after-post-zero": ("after_post: 2", "after_post: 0", "after_post: 0", "after_post is 0"),
    "source-post-beyond-thread": (
        "source_post: 2",
        "source_post: 9",
        "source_post: 9",
        "quiz[0].source_post: source_post is 9 but the thread has 3 post(s)",
    ),
    "posts-empty": (
        GOOD[GOOD.index("posts:") : GOOD.index("quiz:")],
        "posts: []\n",
        "posts: []",
        "posts: a thread needs at least one post",
    ),
    "key-repeated": (
        "title: CSF leaks in brief",
        "title: CSF leaks in brief\ntitle: CSF leaks again",
        "CSF leaks again",
        "`title` appears twice in the same mapping; keep only one",
    ),
}


@pytest.mark.parametrize(("old", "new", "at", "message"), RULES.values(), ids=RULES.keys())
def test_broken_rule_is_reported_with_its_line_and_fix(
    old: str, new: str, at: str, message: str
) -> None:
    text = edit(old, new)

    problems = problems_of(text)

    matching = [p for p in problems if message in p.message]
    assert matching, f"no problem mentions {message!r}; got {[str(p) for p in problems]}"
    assert matching[0].line == line_of(text, at)
    assert str(matching[0]).startswith(f"csf-mini.yaml:{line_of(text, at)}: ")


def test_text_at_the_exact_limits_is_accepted() -> None:
    text = edit(
        "  - text: Thecal sac compression leads to symptom regression.",
        "  - text: " + "x" * POST_TEXT_MAX,
    )
    text = edit(
        "  - text: Epidural blood patches have been around since the 60s.",
        "  - text: " + "x" * POST_CAPTION_MAX,
        text,
    )
    text = edit("question: How many main leak sites are there?", "question: " + "q" * 300, text)
    text = edit("      - No epidural spread", "      - " + "o" * 100, text)
    text = edit(
        "explanation: 'Post 2: ventral, nerve root sleeve and dorsal.'",
        "explanation: |-\n      " + "e" * 60 + "\n      " + "e" * 60 + "\n      " + "e" * 78,
        text,
    )

    assert problems_of(text) == []


def test_emoji_count_twice_as_telegram_counts_utf16() -> None:
    almost = "q" * 299
    fits = edit("question: How many main leak sites are there?", f"question: {almost}?")
    too_long = edit("question: How many main leak sites are there?", f"question: {almost}🧵")

    assert problems_of(fits) == []
    assert [p.message for p in problems_of(too_long)] == [
        "quiz[0].question: the question is 301 characters; Telegram allows at most 300; "
        "shorten it (context can go in the post before it)"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://twitter.com/teachplaygrub/status/1563306679910817792",
        "http://example.org",
        "https://www.ajnr.org:8443/content/32/10/1829?view=full#abstract",
        "http://[2001:db8::1]/image.png",
        "https://пример.рф/статья",
    ],
)
def test_well_formed_urls_are_accepted(url: str) -> None:
    assert problems_of(edit("image: picture", f"image: '{url}'", IMAGE)) == []


@pytest.mark.parametrize(
    "url",
    ["twitter.com/x", "ftp://example.org/x", "https://", "https:///x", "https://a b", "mailto:a@b"],
)
def test_malformed_urls_are_rejected(url: str) -> None:
    problems = problems_of(edit("image: picture", f"image: '{url}'", IMAGE))

    assert [p.message for p in problems] == [
        f"quiz[0].image: `{url}` is not a well-formed URL; use a full http(s)://host/... address"
    ]


IMAGE = edit("    source_post: 2\n", "    source_post: 2\n    image: picture\n")


def test_file_with_several_problems_reports_all_of_them_in_file_order() -> None:
    text = edit("kind: tweetorial", "kind: video")
    text = edit("correct: [1]", "correct: [7]", text)
    text = edit("after_post: 2", "after_post: 12", text)
    text = edit("citation: AJNR 2011", "citation: AJNR 2011\n    doi: 10.3174/ajnr.A2642", text)

    problems = problems_of(text)

    # A type error does not hide the rule breaches around it.
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (line_of(text, "kind: video"), "source.kind"),
        (line_of(text, "correct: [7]"), "quiz[0].correct[0]"),
        (line_of(text, "after_post: 12"), "quiz[0].after_post"),
        (line_of(text, "doi:"), "references[0].doi"),
    ]


def test_every_rule_breach_in_a_file_is_reported_together() -> None:
    text = edit("id: q2", "id: q1")
    text = edit("correct: [0, 1]", "correct: []", text)
    text = edit("url: https://www.ajnr.org/content/32/10/1829", "url: www.ajnr.org", text)
    text = edit("title: CSF leaks in brief", 'title: ""', text)

    problems = problems_of(text)

    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)
    assert len(problems) == 4


def test_a_missing_field_does_not_hide_the_other_problems() -> None:
    text = edit("title: CSF leaks in brief\n", "")  # missing
    text = edit("  published: 2022-08-26", "  published: someday", text)  # wrong type
    text = edit("question: Which findings are wanted after a targeted patch?", "question: 42", text)
    text = edit("correct: [1]", "correct: [7]", text)  # a rule, in a question that parses
    text = edit("url: https://www.ajnr.org/content/32/10/1829", "url: www.ajnr.org", text)
    text = edit("    explanation: Post 3", "    answer: yes\n    explanation: Post 3", text)

    problems = problems_of(text)

    assert [p.message.split(":")[0] for p in problems] == [
        "title",
        "source.published",
        "quiz[0].correct[0]",
        "quiz[1].question",
        "quiz[1].answer",
        "references[0].url",
    ]
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_unsupported_schema_is_the_only_problem_reported() -> None:
    text = edit("schema: 1", "schema: 2")
    text = edit("kind: tweetorial", "format: tweetorial-v2", text)

    assert [str(p) for p in problems_of(text)] == [
        "csf-mini.yaml:1: schema 2 is not supported: this version of tweetdrip reads schema 1; "
        "write `schema: 1` and the matching fields, or upgrade tweetdrip"
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("schema: 1\nid: x\ntitle: 'unclosed\n", 4, "found unexpected end of stream"),
        ("schema: 1\nid: x\n\ttitle: tabs\n", 3, "indented with a tab; YAML indentation must"),
        ("schema: 1\nposts:\n  - text: a\n\t  media: []\n", 4, "indented with a tab"),
        ("schema: 1\ntitle: Ratio: 2 to 1\n", 2, "must be quoted or written as a `|` block"),
        (
            "schema: 1\nposts:\n  - text: a\n text: b\n",
            4,
            "indented by 1 space, but line 3 above it by 2 or 4; YAML reads the structure",
        ),
        (
            "schema: 1\nposts:\n  - text: a\n   - text: b\n",
            4,
            "indented by 3 spaces, but line 3 above it by 2 or 4",
        ),
        (
            "schema: 1\nquiz:\n  - id: q1\n     question: y\n",
            4,
            "indented by 5 spaces, more than line 3, which already has its value",
        ),
        ("schema: 1\nid: x\n title: y\n", 3, "indented by 1 space, more than line 2"),
        ("schema: 1\n---\nschema: 1\n", 2, "one thread or track per file"),
        ("schema: 1\nid: *nowhere\n", 2, "define the &anchor before using it"),
    ],
    ids=[
        "unclosed-quote",
        "tab-indent",
        "tab-in-list-item",
        "colon-in-value",
        "item-key-less-indented",
        "list-item-more-indented",
        "item-key-more-indented",
        "key-more-indented",
        "two-documents",
        "alias",
    ],
)
def test_malformed_yaml_reports_the_parser_line_readably(
    text: str, line: int, message: str
) -> None:
    problems = problems_of(text, "broken.yaml")

    assert len(problems) == 1
    assert problems[0].line == line
    assert problems[0].message.startswith("this is not valid YAML: ")
    assert message in problems[0].message


def test_python_tags_are_refused_not_executed() -> None:
    problems = problems_of("schema: 1\nid: !!python/object/apply:os.system ['true']\n")

    assert len(problems) == 1
    assert "could not determine a constructor" in problems[0].message


def test_empty_file_and_non_mapping_are_explained() -> None:
    assert [str(p) for p in problems_of("")] == [
        "csf-mini.yaml:1: the file is empty; write a thread here"
    ]
    assert [str(p) for p in problems_of("- just\n- a list\n")] == [
        "csf-mini.yaml:1: expected a thread as `key: value` lines at the top level, got a list"
    ]


def test_missing_schema_asks_for_it() -> None:
    assert [p.message for p in problems_of(edit("schema: 1\n", ""))] == [
        "`schema` is missing; start the file with `schema: 1`"
    ]


def test_track_sent_as_thread_is_explained() -> None:
    problems = problems_of("id: t\ntitle: T\nthreads: [csf-mini]\n", "t.yaml")

    assert [p.message for p in problems] == [
        "this is a track (it lists `threads:`), not a thread; send a thread file"
    ]


def test_aliases_share_data_without_blowing_up() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )

    problems = problems_of(laughs)

    assert any("`schema` is missing" in p.message for p in problems)


# --------------------------------------------------------------------------------------------
# Folders, tracks and the library


def track_yaml(track_id: str, *thread_ids: str) -> str:
    return yaml.safe_dump({"id": track_id, "title": track_id.title(), "threads": list(thread_ids)})


def test_folder_of_good_files_builds_the_library(tmp_path: Path) -> None:
    write(tmp_path / "library", "csf-mini.yaml", GOOD)
    write(tmp_path / "library", "csf-copy.yml", edit("id: csf-mini", "id: csf-copy"))
    write(tmp_path / "tracks", "csf.yaml", track_yaml("csf", "csf-mini", "csf-copy"))

    library, problems = validate_paths([tmp_path / "library", tmp_path / "tracks"])

    assert problems == []
    assert library is not None
    assert list(library.threads) == ["csf-copy", "csf-mini"]
    assert library.track("csf").threads == ["csf-mini", "csf-copy"]


def test_thread_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "csf.yaml", GOOD)

    library, problems = validate_paths([path])

    assert library is None
    assert [str(p) for p in problems] == [
        f"{path}:{line_of(GOOD, 'id: csf-mini')}: id `csf-mini` does not match the file name "
        "`csf.yaml`; rename the file to `csf-mini.yaml` or set `id: csf`"
    ]


def test_thread_ids_must_be_unique_across_folders(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "csf-mini.yaml", GOOD)
    second = write(tmp_path / "b", "csf-mini.yaml", GOOD)

    _, problems = validate_paths([tmp_path / "a", tmp_path / "b"])

    assert [str(p) for p in problems] == [
        f"{second}:2: thread id `csf-mini` is already used by {first}:2; thread ids must be "
        "unique across the library, so rename one"
    ]


def test_track_naming_a_missing_thread_suggests_the_closest_id(tmp_path: Path) -> None:
    write(tmp_path / "library", "csf-mini.yaml", GOOD)
    track = write(tmp_path / "tracks", "csf.yaml", track_yaml("csf", "csf-mini", "csf-mnii"))

    _, problems = validate_paths([tmp_path / "library", tmp_path / "tracks"])

    assert [str(p) for p in problems] == [
        f"{track}:4: threads[1]: no thread has the id `csf-mnii`; did you mean `csf-mini`?"
    ]


def test_track_naming_a_thread_with_problems_is_not_blamed_too(tmp_path: Path) -> None:
    write(tmp_path / "library", "csf-mini.yaml", edit("correct: [1]", "correct: [9]"))
    write(tmp_path / "tracks", "csf.yaml", track_yaml("csf", "csf-mini"))

    _, problems = validate_paths([tmp_path / "library", tmp_path / "tracks"])

    assert [p.message.split(":")[0] for p in problems] == ["quiz[0].correct[0]"]


def test_track_ids_must_be_unique(tmp_path: Path) -> None:
    write(tmp_path / "library", "csf-mini.yaml", GOOD)
    first = write(tmp_path / "tracks", "a.yaml", track_yaml("csf", "csf-mini"))
    second = write(tmp_path / "tracks", "b.yaml", track_yaml("csf", "csf-mini"))

    _, problems = validate_paths([tmp_path / "library", tmp_path / "tracks"])

    assert [str(p) for p in problems] == [
        f"{second}:1: track id `csf` is already used by {first}:1; track ids must be unique, "
        "so rename one"
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("id: CSF\ntitle: CSF\nthreads: [csf-mini]\n", 1, "id: track id `CSF` must be lowercase"),
        ("id: csf\ntitle: ''\nthreads: [csf-mini]\n", 2, "title: the title is empty"),
        ("id: csf\ntitle: CSF\nthreads: []\n", 3, "threads: a track needs at least one thread"),
        (
            "id: csf\ntitle: CSF\nthreads:\n- csf-mini\n- csf-mini\n",
            5,
            "threads[1]: thread `csf-mini` is listed twice",
        ),
        ("id: csf\ntitle: CSF\n", 1, "threads: `threads` is missing"),
        (
            "id: csf\ntitle: CSF\nthreads: [csf-mini]\nposts: 3\n",
            4,
            "posts: unknown key `posts`; allowed keys here: id, title, description, threads",
        ),
    ],
    ids=["id-not-slug", "title-empty", "no-threads", "thread-twice", "threads-missing", "extra"],
)
def test_track_rules_are_reported_with_lines(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    write(tmp_path / "library", "csf-mini.yaml", GOOD)
    track = write(tmp_path / "tracks", "csf.yaml", text)

    _, problems = validate_paths([tmp_path / "library", tmp_path / "tracks"])

    assert [(p.path, p.line) for p in problems] == [(track, line)]
    assert message in problems[0].message


def test_file_listing_threads_without_posts_is_a_track_outside_tracks_folder(
    tmp_path: Path,
) -> None:
    write(tmp_path, "csf-mini.yaml", GOOD)
    write(tmp_path, "csf-track.yaml", track_yaml("csf", "csf-mini"))

    library, problems = validate_paths([tmp_path])

    assert problems == []
    assert library is not None
    assert list(library.tracks) == ["csf"]
    assert list(library.threads) == ["csf-mini"]


def test_problems_from_every_file_are_reported_at_once(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path / "library", "broken.yaml", "schema: 1\ntitle: 'open\n")
    bad_rule = write(tmp_path / "library", "csf-mini.yaml", edit("after_post: 2", "after_post: 7"))
    bad_track = write(tmp_path / "tracks", "csf.yaml", track_yaml("csf", "nowhere-at-all"))
    missing = tmp_path / "not-here"

    library, problems = validate_paths([tmp_path / "library", tmp_path / "tracks", missing])

    assert library is None
    assert [(p.path, p.line) for p in problems] == [
        (missing, None),
        (bad_yaml, 3),
        (bad_rule, line_of(GOOD, "after_post: 2")),
        (bad_track, 3),
    ]


def test_file_not_in_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "csf-mini.yaml"
    path.write_bytes(GOOD.replace("CSF leaks in brief", "Liquor – kurz").encode("cp1252"))

    _, problems = validate_paths([path])

    assert [str(p) for p in problems] == [
        f"{path}:3: this is not UTF-8 text (invalid start byte); save the file as UTF-8"
    ]


def test_file_starting_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "csf-mini.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))

    assert validate_paths([path])[1] == []


def test_same_file_given_twice_is_checked_once(tmp_path: Path) -> None:
    path = write(tmp_path, "csf-mini.yaml", GOOD)

    library, problems = validate_paths([tmp_path, path])

    assert problems == []
    assert library is not None and list(library.threads) == ["csf-mini"]


def test_problem_str_is_file_line_message() -> None:
    assert str(Problem(Path("library/a.yaml"), 7, "fix it")) == "library/a.yaml:7: fix it"
    assert str(Problem("imported thread 'a'", None, "fix it")) == "imported thread 'a': fix it"


# --------------------------------------------------------------------------------------------
# Threads built in code


def code_thread(**changes: object) -> Thread:
    fields: dict[str, object] = {
        "id": "csf-code",
        "title": "Built in code",
        "author": Author(name="Teach Play Grub"),
        "source": Source(kind="notes"),
        "posts": [Post(text="One."), Post(text="Two.")],
        "quiz": [QuizQuestion(id="q1", question="Which?", options=["a", "b"], correct=[0])],
    }
    fields.update(changes)
    return Thread.model_validate(fields)


@pytest.mark.parametrize(
    ("changes", "refusals"),
    [
        ({}, []),
        ({"author": Author(name="Unknown author")}, ["the author is unknown"]),
        ({"quiz": []}, ["the thread has no quiz questions"]),
        (
            {"author": Author(name="Unknown author"), "quiz": [], "title": "TODO: a title"},
            ["the author is unknown", "the thread has no quiz questions", "TODO placeholders"],
        ),
    ],
)
def test_publishing_refuses_an_unknown_author_and_no_questions_unless_confirmed(
    changes: dict[str, object], refusals: list[str]
) -> None:
    thread = code_thread(**changes)

    found = publish_problems(thread)

    assert validate_thread(thread) == []  # a draft may keep them
    assert len(found) == len(refusals)
    assert all(found[i].startswith(refusals[i]) for i in range(len(refusals))), found


def test_publish_problems_name_each_placeholder_left() -> None:
    thread = code_thread(
        posts=[Post(text="One."), Post(text="TODO: the second post.")],
        quiz=[QuizQuestion(id="q1", question="Which?", options=["TODO", "b"], correct=[0])],
    )

    assert publish_problems(thread) == [
        "TODO placeholders are left in post 2, question q1: write the real text before publishing"
    ]


def test_validate_thread_accepts_a_good_thread() -> None:
    assert validate_thread(code_thread()) == []


def test_validate_thread_reports_each_rule_with_its_location() -> None:
    thread = code_thread(
        id="Built In Code",
        posts=[Post(text="One.", media=["nope"])],
        quiz=[
            QuizQuestion(
                id="q1", question="Which?", options=[], correct=[1], after_post=2, image="x"
            )
        ],
    )

    assert [m.split(":")[0] for m in validate_thread(thread)] == [
        "id",
        "posts[0].media[0]",
        "quiz[0].options",
        "quiz[0].correct[0]",
        "quiz[0].after_post",
        "quiz[0].image",
    ]


# --------------------------------------------------------------------------------------------
# The bundled library


def test_default_paths_are_the_bundled_library_and_tracks_folders() -> None:
    library_dir, tracks_dir = default_paths()

    assert (library_dir.name, tracks_dir.name) == ("library", "tracks")
    assert library_dir.parent == tracks_dir.parent == Path(__file__).parents[1] / "content"


def test_bundled_library_validates_and_holds_the_csf_tweetorial() -> None:
    library, problems = validate_paths(default_paths())

    assert [str(p) for p in problems] == []
    assert library is not None
    csf = library.thread("csf-leak-blood-patch")
    assert len(csf.posts) == 12
    assert len(csf.quiz) >= 8
    assert csf.status == "complete"


# --------------------------------------------------------------------------------------------
# `tweetdrip content validate`


def test_validate_command_says_ok_for_a_good_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from content.cli import app

    write(tmp_path / "library", "csf-mini.yaml", GOOD)
    write(tmp_path / "tracks", "csf.yaml", track_yaml("csf", "csf-mini"))

    result = CliRunner().invoke(
        app, ["validate", str(tmp_path / "library"), str(tmp_path / "tracks")]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 1 thread(s), 1 track(s).\n"


def test_validate_command_lists_file_line_problems_and_fails_for_a_bad_folder(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from content.cli import app

    bad = write(tmp_path, "csf-mini.yaml", edit("after_post: 2", "after_post: 5"))
    broken = write(tmp_path, "broken.yaml", "schema: 1\nid: [\n")

    result = CliRunner().invoke(app, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    # The parser's own words differ between libyaml and pure-Python PyYAML.
    assert lines[0].startswith(f"{broken}:3: this is not valid YAML: while parsing a flow node")
    assert lines[1:] == [
        f"{bad}:{line_of(GOOD, 'after_post: 2')}: quiz[0].after_post: after_post is 5 but the "
        "thread has 3 post(s); use a post number from 1 to 3 (1 is the first post)",
        "2 problem(s) found.",
    ]
    assert "OK" not in result.stdout


def test_validate_command_checks_the_bundled_library_by_default() -> None:
    from typer.testing import CliRunner

    from content.cli import app

    result = CliRunner().invoke(app, ["validate"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")
