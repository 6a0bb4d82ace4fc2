"""Loading the library, and writing threads back as YAML that people can edit."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.loader import bundled_library, dump_thread_yaml, load_library
from content.models import Author, Post, QuizQuestion, Reference, Source, Thread
from content.validate import ContentError, parse_thread_text, validate_thread


def sample_thread(**changes: object) -> Thread:
    fields: dict[str, object] = {
        "id": "csf-sample",
        "title": "CSF leaks: where they start",
        "author": Author(name="Teach Play Grub", handle="@teachplaygrub"),
        "source": Source(
            url="https://twitter.com/teachplaygrub/status/1563306679910817792",
            kind="tweetorial",
            imported_from="Thread Reader App unroll",
            published=dt.date(2022, 8, 26),
        ),
        "tags": ["neuroradiology", "csf-leak"],
        "posts": [
            Post(
                text="”Now your mouth will drop…” — a #tweetorial about CSF leaks 🧵",
                media=["https://pbs.twimg.com/media/FbH5jkBVEAEr27n.jpg"],
                url="https://twitter.com/teachplaygrub/status/1563306679910817792",
            ),
            Post(text="Leaks occur at 3 main sites:\n(1) ventral\n(2) root sleeve\n(3) dorsal\n"),
            Post(text="yes"),
        ],
        "quiz": [
            QuizQuestion(
                id="q1",
                question="How many main leak sites?",
                options=["2", "3", "no", "null"],
                correct=[1],
                explanation="Ventral,\nroot sleeve,\ndorsal.",
                after_post=2,
                source_post=2,
                image="https://pbs.twimg.com/media/FbH56EOVsAEGpr2.jpg",
            )
        ],
        "references": [Reference(title="Kranz et al.", citation="AJNR 2011;32:1829")],
    }
    fields.update(changes)
    return Thread.model_validate(fields)


def write_thread(folder: Path, thread: Thread) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{thread.id}.yaml"
    path.write_text(dump_thread_yaml(thread), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# dump_thread_yaml


def test_dump_round_trips_through_validation_exactly() -> None:
    thread = sample_thread()
    assert validate_thread(thread) == []

    loaded, problems = parse_thread_text(dump_thread_yaml(thread), "csf-sample.yaml")

    assert problems == []
    assert loaded == thread


def test_dump_writes_keys_in_the_documented_order_with_schema_first() -> None:
    text = dump_thread_yaml(sample_thread())

    top_keys = re.findall(r"^([a-z_]+):", text, flags=re.MULTILINE)
    assert top_keys == [
        "schema",
        "id",
        "title",
        "author",
        "source",
        "tags",
        "status",
        "posts",
        "quiz",
        "references",
    ]
    assert text.startswith("schema: 1\nid: csf-sample\n")
    question_keys = re.findall(
        r"^    ([a-z_]+):|^  - ([a-z_]+):", text.split("\nquiz:")[1], flags=re.MULTILINE
    )
    assert [a or b for a, b in question_keys][:8] == [
        "id",
        "question",
        "options",
        "correct",
        "explanation",
        "after_post",
        "source_post",
        "image",
    ]


def test_dump_writes_multiline_text_as_literal_blocks_and_keeps_unicode() -> None:
    text = dump_thread_yaml(sample_thread())

    assert "  - text: |\n      Leaks occur at 3 main sites:\n      (1) ventral\n" in text
    assert "    explanation: |-\n      Ventral,\n      root sleeve,\n      dorsal.\n" in text
    assert "”Now your mouth will drop…” — a #tweetorial about CSF leaks 🧵" in text
    assert "\\u" not in text and "\\U" not in text


def test_dump_has_no_python_tags_and_loads_with_safe_load() -> None:
    text = dump_thread_yaml(sample_thread())

    assert "!!" not in text and "!python" not in text
    data = yaml.safe_load(text)
    assert data["source"]["published"] == dt.date(2022, 8, 26)
    assert data["quiz"][0]["options"] == ["2", "3", "no", "null"]
    assert data["posts"][2]["text"] == "yes"


def test_dump_leaves_out_empty_optional_fields_but_keeps_the_lists_to_fill() -> None:
    thread = sample_thread(
        author=Author(name="Anonymous"),
        source=Source(kind="notes"),
        tags=[],
        posts=[Post(text="Only post.")],
        quiz=[],
        references=[],
    )

    assert dump_thread_yaml(thread) == (
        "schema: 1\n"
        "id: csf-sample\n"
        "title: 'CSF leaks: where they start'\n"
        "author:\n"
        "  name: Anonymous\n"
        "source:\n"
        "  kind: notes\n"
        "tags: []\n"
        "status: complete\n"
        "posts:\n"
        "  - text: Only post.\n"
        "quiz: []\n"
        "references: []\n"
    )


def test_dump_of_every_bundled_thread_round_trips() -> None:
    library = load_library()

    for thread in library.threads.values():
        loaded, problems = parse_thread_text(dump_thread_yaml(thread), f"{thread.id}.yaml")
        assert problems == [], thread.id
        assert loaded == thread, thread.id


@pytest.mark.parametrize(
    "text",
    [
        "windows\r\nline ends",
        "next line\x85char",
        "unicode\u2028line\u2029separators",
        "  indented first line\nsecond",
        "trailing spaces   \nsecond",
        "\ttab first\nsecond",
        "blank lines kept\n\n\n",
        "ends without newline\nlast",
        "- looks like a list\n# looks like a comment",
        "control \x07 bell",
    ],
)
def test_dump_round_trips_awkward_text(text: str) -> None:
    thread = sample_thread(posts=[Post(text=text), Post(text="two")])

    loaded, problems = parse_thread_text(dump_thread_yaml(thread), "csf-sample.yaml")

    assert problems == []
    assert loaded is not None and loaded.posts[0].text == text


# Text as it comes out of exports: any unicode (control characters too), YAML punctuation
# and words YAML would otherwise read as booleans, numbers or dates.
tricky_words = st.sampled_from(
    ["yes", "No", "null", "~", "1", "0x1F", "1e3", "2022-08-26", ": ", " #", "- ", "'", '"']
)
free_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60)
texts = st.lists(st.one_of(free_text, tricky_words), min_size=1, max_size=4).map("".join)


def bounded(strategy: st.SearchStrategy[str], limit: int) -> st.SearchStrategy[str]:
    return strategy.filter(lambda s: bool(s.strip()) and len(s.encode("utf-16-le")) <= 2 * limit)


@st.composite
def threads(draw: st.DrawFn) -> Thread:
    posts = draw(
        st.lists(
            st.builds(
                Post,
                text=bounded(texts, 1000),
                media=st.lists(st.just("https://pbs.twimg.com/media/x.jpg"), max_size=1),
            ),
            min_size=1,
            max_size=3,
        )
    )
    options = draw(
        st.lists(
            bounded(texts, 100), min_size=2, max_size=4, unique_by=lambda s: s.strip().casefold()
        )
    )
    explanation = draw(texts.filter(lambda s: s.count("\n") <= 2 and len(s) <= 150) | st.just(""))
    question = QuizQuestion(
        id="q1",
        question=draw(bounded(texts, 300)),
        options=options,
        correct=[draw(st.integers(0, len(options) - 1))],
        explanation=explanation,
        after_post=draw(st.none() | st.integers(1, len(posts))),
    )
    return Thread(
        id="fuzzed",
        title=draw(bounded(texts, 200)),
        author=Author(
            name=draw(bounded(texts, 50)),
            handle=draw(st.none() | st.from_regex(r"@[A-Za-z0-9_]{1,15}", fullmatch=True)),
        ),
        source=Source(imported_from=draw(st.none() | texts)),
        tags=draw(st.lists(bounded(texts, 30), max_size=2, unique=True)),
        posts=posts,
        quiz=[question],
        references=[Reference(title=draw(bounded(texts, 80)), citation=draw(st.none() | texts))],
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(threads())
def test_dump_round_trips_any_valid_thread(thread: Thread) -> None:
    assert validate_thread(thread) == []

    loaded, problems = parse_thread_text(dump_thread_yaml(thread), "fuzzed.yaml")

    assert problems == []
    assert loaded == thread


# --------------------------------------------------------------------------------------------
# load_library


def test_load_library_reads_the_bundled_content_by_default() -> None:
    library = load_library()

    assert "csf-leak-blood-patch" in library.threads
    assert library.tracks


def test_bundled_library_is_loaded_once_per_process() -> None:
    assert bundled_library() is bundled_library()


def test_load_library_raises_content_error_listing_every_problem(tmp_path: Path) -> None:
    write_thread(tmp_path, sample_thread())
    (tmp_path / "broken.yaml").write_text("schema: 1\nid: [\n", encoding="utf-8")
    (tmp_path / "other.yaml").write_text("schema: 3\n", encoding="utf-8")

    with pytest.raises(ContentError) as caught:
        load_library([tmp_path])

    assert [(Path(p.path).name, p.line) for p in caught.value.problems] == [
        ("broken.yaml", 3),
        ("other.yaml", 1),
    ]
    assert str(caught.value).startswith("2 content problem(s):\n")


def test_imported_threads_join_the_library_and_tracks_may_list_them(tmp_path: Path) -> None:
    write_thread(tmp_path / "library", sample_thread())
    (tmp_path / "tracks").mkdir()
    (tmp_path / "tracks" / "csf.yaml").write_text(
        "id: csf\ntitle: CSF\nthreads: [csf-sample, csf-imported]\n", encoding="utf-8"
    )

    library = load_library(
        [tmp_path / "library", tmp_path / "tracks"],
        extra_threads=[sample_thread(id="csf-imported")],
    )

    assert list(library.threads) == ["csf-sample", "csf-imported"]
    assert library.track("csf").threads == ["csf-sample", "csf-imported"]


def test_imported_thread_with_a_bundled_id_is_reported(tmp_path: Path) -> None:
    bundled = write_thread(tmp_path, sample_thread())

    with pytest.raises(ContentError) as caught:
        load_library([tmp_path], extra_threads=[sample_thread(title="Re-import")])

    assert [str(p) for p in caught.value.problems] == [
        f"imported thread 'csf-sample': id `csf-sample` is already used by {bundled}:2; "
        "re-import it under another id or delete one of them"
    ]


def test_imported_thread_breaking_a_rule_is_reported(tmp_path: Path) -> None:
    write_thread(tmp_path, sample_thread())
    broken = sample_thread(id="csf-imported", posts=[Post(text="   ")])

    with pytest.raises(ContentError) as caught:
        load_library([tmp_path], extra_threads=[broken])

    messages = [str(p) for p in caught.value.problems]
    assert messages[0] == (
        "imported thread 'csf-imported': posts[0].text: the post text is empty; Telegram "
        "cannot send an empty message"
    )
    assert [m.split(": ")[1] for m in messages[1:]] == ["quiz[0].after_post", "quiz[0].source_post"]
