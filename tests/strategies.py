"""Hypothesis strategies for valid threads whose text is as awkward as real content gets."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from content.models import Author, Post, QuizQuestion, Reference, Source, Thread

# Text as it comes out of exports and editors: any unicode (control characters too), YAML
# punctuation and words YAML would read as booleans, numbers or dates, and lines the
# Markdown format gives a meaning to.
TRICKY = [
    "yes", "No", "null", "~", "1", "0x1F", "1e3", "2022-08-26", ": ", " #", "- ", "'", '"',
    "\n1/ ", "\n2/ not a post", "\n## Quiz", "\n### After post 1", "\nQ: ", "\n- [x] ",
    "\n- [ ] ", "\n> ", "\n\\", "\\", "\n![alt](https://x.org/a.png)", "\n[Original post](u)",
    "<!-- ", " -->", "&#10;", "&#x41;", "&amp;", "\n\n", "\n", "  ", "\t", "\r", "\r\n",
    "\x85", "\u2028", "\x00", "\x07", "😀", "Image: https://x.org", "\nSource post: 2",
    "\nId: q9", "\n---\n", "[a](b)", "]", "[", "(@x)", "TODo",
]  # fmt: skip
free_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
texts = st.lists(st.one_of(free_text, st.sampled_from(TRICKY)), min_size=1, max_size=5).map("".join)
one_line = texts.map(lambda s: s.replace("\n", " ").replace("\r", " "))


def bounded(strategy: st.SearchStrategy[str], limit: int) -> st.SearchStrategy[str]:
    """Text that validation accepts: not blank, at most `limit` UTF-16 units, no TODO."""
    return strategy.filter(
        lambda s: (
            bool(s.strip())
            and len(s.encode("utf-16-le", "surrogatepass")) <= 2 * limit
            and "TODO" not in s
        )
    )


urls = st.sampled_from(
    [
        "https://pbs.twimg.com/media/x.jpg",
        "https://x.com/jane/status/1234567890",
        "http://example.org/a_(1).png",
        "https://doi.org/10.3174/ajnr.A2384",
    ]
)
handles = st.from_regex(r"@[A-Za-z0-9_]{1,15}", fullmatch=True)


@st.composite
def questions(draw: st.DrawFn, n_posts: int, qid: str) -> QuizQuestion:
    options = draw(
        st.lists(
            bounded(texts, 100), min_size=1, max_size=5, unique_by=lambda s: s.strip().casefold()
        )
    )
    correct = draw(
        st.lists(st.integers(0, len(options) - 1), min_size=1, max_size=len(options), unique=True)
    )
    after_post = draw(st.none() | st.integers(1, n_posts))
    return QuizQuestion(
        id=qid,
        question=draw(bounded(texts, 300)),
        options=options,
        correct=correct,
        explanation=draw(
            texts.filter(lambda s: s.count("\n") <= 2 and len(s) <= 150 and "TODO" not in s)
            | st.just("")
        ),
        after_post=after_post,
        source_post=draw(st.sampled_from([after_post, None, 1, n_posts])),
        image=draw(st.none() | urls),
    )


@st.composite
def threads(draw: st.DrawFn) -> Thread:
    """A thread that passes validation, with every optional field sometimes filled."""
    posts = draw(
        st.lists(
            st.builds(
                Post,
                text=bounded(texts, 900),
                media=st.lists(urls, max_size=2),
                url=st.none() | urls,
            ),
            min_size=1,
            max_size=4,
        )
    )
    n_questions = draw(st.integers(0, 3))
    quiz = [draw(questions(len(posts), f"q{i + 1}")) for i in range(n_questions)]
    name = draw(bounded(one_line, 60))
    return Thread(
        id="fuzzed",
        title=draw(bounded(texts, 200)),
        author=Author(name=name, handle=draw(st.none() | handles)),
        source=Source(
            url=draw(st.none() | urls),
            kind=draw(st.sampled_from(["tweetorial", "article", "notes"])),
            imported_from=draw(st.none() | bounded(texts, 80)),
            published=draw(st.none() | st.dates(dt.date(2006, 3, 21), dt.date(2030, 1, 1))),
        ),
        tags=draw(st.lists(bounded(one_line, 30), max_size=3, unique=True)),
        status=draw(st.sampled_from(["complete", "partial"])),
        posts=posts,
        quiz=quiz,
        references=draw(
            st.lists(
                st.builds(
                    Reference,
                    title=bounded(texts, 120),
                    url=st.none() | urls,
                    citation=st.none() | bounded(texts, 300),
                ),
                max_size=2,
            )
        ),
    )
