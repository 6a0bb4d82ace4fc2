"""Quality lints: quiz patterns that make a question guessable or teach the wrong lesson.

Each lint returns (location, message) pairs like the validation rules; they are warnings
(`tweetdrip content validate` prints them, `--strict` makes them errors). The rules:

- Position: among a thread's single-answer questions (at least 3), the right option sits at
  the same position in at least 80% of them. Telegram shuffles options for trainees, but the
  sandbox, /preview, exports and other clients show them in file order.
- Longest: among single-answer questions with at least 3 options (at least 3 questions), the
  right option is strictly the longest in more than half of them (and in at least 3).
- Repeated answer: an option of one question reads the same (see "same text" below) as the
  right answer of another question of the thread: as a right answer again it gives itself
  away or duplicates the question; as a wrong option it contradicts the other question.
  Words such as "yes", "no", "true", "false", "both", "neither" do not count.
- All of the above: an option "all of the above", "none of the above", "all of these",
  "both of the above"... (it depends on the order Telegram shuffles, and it is guessable);
  or a question whose every option is right, which tests nothing.
- Explanation: it is empty, or names no post ("Post 6: ...", "posts 3-4"), or names a post
  the thread does not have, or names posts but not the question's source post.
- Same text: two options of one question read the same after normalisation (case,
  punctuation, the articles a/an/the and "of", plurals, word order, British/American
  spelling, and acronyms spelled out in the same question: "EBP" = "epidural blood patch").
  Only equal normalised texts count: "hypotension" and "hypertension" stay different.
- TODO: a "TODO" placeholder (as `tweetdrip content new` writes) is left in the text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable

from content.documents import Loc
from content.models import QuizQuestion, Thread, tg_len

__all__ = ["lint_thread", "named_posts"]

Found = list[tuple[Loc, str]]

POSITION_SHARE = 0.8
MIN_QUESTIONS = 3

# Answers that recur across questions by nature.
_GENERIC = frozenset({"yes", "no", "true", "false", "both", "neither", "none", "all"})
_ABOVE = re.compile(
    r"^\s*(?:all|none|both|neither|any)\b(?:\s+(?:of|the|these|those|above|them|options|answers"
    r"|choices|listed|mentioned|previous))*\s*(?:above|these|those|them|options|answers|choices"
    r"|listed|mentioned|previous)\b",
    re.IGNORECASE,
)
_POST_NAMES = re.compile(
    r"\bposts?\s*#?\s*(\d{1,4}(?:\s*(?:,|&|and|or|to|through|[-–—])\s*\d{1,4})*)", re.IGNORECASE
)
_TODO = re.compile(r"\bTODO\b")
_STOP_WORDS = frozenset({"a", "an", "the", "of"})
# British spellings and their American twins, so "haemorrhage" reads as "hemorrhage".
_SPELLING = (
    (re.compile(r"ae"), "e"),
    (re.compile(r"oe(?=[a-z])"), "e"),
    (re.compile(r"our\b"), "or"),
    (re.compile(r"(?<=[a-z]{3})is(e|ed|es|ing|ation)\b"), r"iz\1"),
    (re.compile(r"(?<=[a-z]{2})ys(e|ed|es|ing)\b"), r"yz\1"),
    (re.compile(r"(?<=[a-z]{2})tre\b"), "ter"),
)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def lint_thread(thread: Thread) -> Found:
    """Return (location, message) for every quality concern in `thread`."""
    found: Found = []
    for lint in _LINTS:
        found.extend(lint(thread))
    return found


def named_posts(text: str) -> set[int]:
    """The post numbers a text names: "Post 6", "posts 3-5", "posts 2 and 7"."""
    numbers: set[int] = set()
    for m in _POST_NAMES.finditer(text):
        group = m.group(1)
        for a, b in re.findall(r"(\d+)\s*(?:to|through|[-–—])\s*(\d+)", group):
            if int(a) <= int(b) <= int(a) + 50:
                numbers.update(range(int(a), int(b) + 1))
        numbers.update(int(n) for n in re.findall(r"\d+", group))
    return numbers


def _single_answer(thread: Thread, min_options: int) -> list[tuple[int, QuizQuestion]]:
    return [
        (i, q)
        for i, q in enumerate(thread.quiz)
        if len(q.correct) == 1 and len(q.options) >= min_options
    ]


def _ordinal(index: int) -> str:
    return _ORDINALS[index] if index < len(_ORDINALS) else f"number {index + 1}"


def _ids(questions: list[QuizQuestion]) -> str:
    return ", ".join(q.id for q in questions)


def _position(thread: Thread) -> Found:
    questions = _single_answer(thread, 2)
    if len(questions) < MIN_QUESTIONS:
        return []
    counts = Counter(q.correct[0] for _, q in questions)
    index, count = counts.most_common(1)[0]
    if count < max(MIN_QUESTIONS, math.ceil(POSITION_SHARE * len(questions))):
        return []
    same = [q for _, q in questions if q.correct[0] == index]
    return [
        (
            ("quiz",),
            f"the right answer is the {_ordinal(index)} option in {count} of "
            f"{len(questions)} single-answer questions ({_ids(same)}); vary its position: "
            "Telegram shuffles options for trainees, but the sandbox, /preview, exports and "
            "some clients keep the written order, and a pattern teaches itself",
        )
    ]


def _longest(thread: Thread) -> Found:
    questions = _single_answer(thread, 3)
    if len(questions) < MIN_QUESTIONS:
        return []
    longest = []
    for _, q in questions:
        lengths = [tg_len(option.strip()) for option in q.options]
        right = lengths[q.correct[0]]
        if all(right > n for j, n in enumerate(lengths) if j != q.correct[0]):
            longest.append(q)
    if len(longest) < MIN_QUESTIONS or 2 * len(longest) <= len(questions):
        return []
    return [
        (
            ("quiz",),
            f"the right answer is the longest option in {len(longest)} of {len(questions)} "
            f"single-answer questions ({_ids(longest)}); trainees learn to pick the longest: "
            "make the wrong options as long and as specific as the right one",
        )
    ]


def _key(option: str) -> str:
    """Light normalisation for comparing answers across questions."""
    return re.sub(r"\s+", " ", option.casefold()).strip(" .;:!?")


def _repeated_answers(thread: Thread) -> Found:
    found: Found = []
    answers: dict[str, list[int]] = {}
    for i, q in enumerate(thread.quiz):
        for j in q.correct:
            if 0 <= j < len(q.options):
                key = _key(q.options[j])
                if key and key not in _GENERIC and not _ABOVE.match(key):
                    answers.setdefault(key, []).append(i)
    for b, q in enumerate(thread.quiz):
        for j, option in enumerate(q.options):
            others = [a for a in answers.get(_key(option), []) if a != b]
            if not others:
                continue
            right_here = j in q.correct
            if right_here:
                others = [a for a in others if a < b]  # reported once, at the later question
                if not others:
                    continue
            other = thread.quiz[others[0]]
            if right_here:
                message = (
                    f"`{option}` is also the right answer of question {other.id}; an answer "
                    "that comes back gives itself away: do both questions ask the same thing? "
                    "Ask something else, or change the options"
                )
            else:
                message = (
                    f"`{option}` is a wrong option here but the right answer of question "
                    f"{other.id}; trainees who remember one will doubt the other: replace it"
                )
            found.append((("quiz", b, "options", j), message))
    return found


def _all_of_the_above(thread: Thread) -> Found:
    found: Found = []
    for i, q in enumerate(thread.quiz):
        for j, option in enumerate(q.options):
            if _ABOVE.match(option) or _key(option) in ("all", "both", "neither"):
                found.append(
                    (
                        ("quiz", i, "options", j),
                        f"`{option}` leans on the other options and their order (Telegram "
                        "shuffles them) and is easy to guess; give each option a statement of "
                        "its own, and for several right answers mark each of them right",
                    )
                )
        if len(q.options) >= 2 and len(set(q.correct)) == len(q.options):
            found.append(
                (
                    ("quiz", i, "correct"),
                    "every option is right, so the question tests nothing; add wrong options, "
                    "or ask which one matters most",
                )
            )
    return found


def _explanations(thread: Thread) -> Found:
    found: Found = []
    n_posts = len(thread.posts)
    for i, q in enumerate(thread.quiz):
        at: Loc = ("quiz", i, "explanation")
        post = q.source_post or q.after_post
        example = f"Post {post}: " if post else "Post N: "
        if not q.explanation.strip():
            found.append(
                (
                    at,
                    "no explanation; say why the answer is right and which post teaches it "
                    f"(`{example}...`), so a wrong answer still teaches",
                )
            )
            continue
        named = named_posts(q.explanation)
        if not named:
            found.append(
                (
                    at,
                    "the explanation does not name the post it comes from; start it with "
                    f"`{example}` so trainees can look it up",
                )
            )
            continue
        missing = sorted(n for n in named if not 1 <= n <= n_posts)
        if missing:
            shown = ", ".join(str(n) for n in missing)
            found.append(
                (at, f"the explanation names post {shown}, but the thread has {n_posts} posts")
            )
        elif q.source_post is not None and q.source_post not in named:
            shown = ", ".join(str(n) for n in sorted(named))
            found.append(
                (
                    at,
                    f"the explanation names post {shown} but the question's source post is "
                    f"{q.source_post}; name the post the answer comes from, or fix the source "
                    "post",
                )
            )
    return found


def _acronyms(words: list[str], text: str) -> dict[str, list[str]]:
    """Acronyms in `text` ("EBP") spelled out by a run of `words` ("epidural blood patch")."""
    spelled: dict[str, list[str]] = {}
    for acronym in set(re.findall(r"\b[A-Z]{2,6}\b", text)):
        size = len(acronym)
        for k in range(len(words) - size + 1):
            run = words[k : k + size]
            if "".join(w[0] for w in run) == acronym.lower() and run != [acronym.lower()]:
                spelled[acronym.lower()] = run
                break
    return spelled


def _normalised(option: str, spelled: dict[str, list[str]]) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKD", option)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    words: list[str] = []
    for word in re.findall(r"[a-z0-9]+", text):
        words.extend(spelled.get(word, [word]))
    out = []
    for word in words:
        if word in _STOP_WORDS:
            continue
        for pattern, replacement in _SPELLING:
            word = pattern.sub(replacement, word)
        out.append(_singular(word))
    return tuple(sorted(out))


def _singular(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _same_options(thread: Thread) -> Found:
    found: Found = []
    for i, q in enumerate(thread.quiz):
        words = re.findall(r"[a-z0-9]+", " ".join([q.question, *q.options]).casefold())
        spelled = _acronyms(words, " ".join([q.question, *q.options]))
        seen: dict[tuple[str, ...], int] = {}
        for j, option in enumerate(q.options):
            key = _normalised(option, spelled)
            first = seen.get(key)
            if not key or first is None:
                seen.setdefault(key, j)
                continue
            if _key(option) == _key(q.options[first]):
                continue  # an exact repeat is an error reported by validation
            right = [k for k in (first, j) if k in q.correct]
            if len(right) == 2:
                continue  # two right answers worded alike: a style matter, not a giveaway
            if right:
                message = (
                    f"`{option}` says the same as `{q.options[first]}`, but one is right and "
                    "the other wrong; reword one so they differ, or mark both alike"
                )
            else:
                message = (
                    f"the wrong options `{q.options[first]}` and `{option}` say the same thing, "
                    "so both are eliminated at once; replace one with another plausible answer"
                )
            found.append((("quiz", i, "options", j), message))
    return found


def _todos(thread: Thread) -> Found:
    found: Found = []
    fields: list[tuple[Loc, str]] = [
        (("title",), thread.title),
        (("author", "name"), thread.author.name),
    ]
    fields += [(("posts", i, "text"), p.text) for i, p in enumerate(thread.posts)]
    for i, q in enumerate(thread.quiz):
        fields.append((("quiz", i, "question"), q.question))
        fields += [(("quiz", i, "options", j), o) for j, o in enumerate(q.options)]
        fields.append((("quiz", i, "explanation"), q.explanation))
    for loc, text in fields:
        if _TODO.search(text):
            found.append((loc, "a TODO placeholder is left here; write the real text"))
    return found


_LINTS: tuple[Callable[[Thread], Found], ...] = (
    _position,
    _longest,
    _repeated_answers,
    _all_of_the_above,
    _same_options,
    _explanations,
    _todos,
)
