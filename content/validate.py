"""Validate content files and report every problem as `file:line: what is wrong and how to fix it`.

Validation happens in two phases so the library loads fast and errors point at the file:

1. `parse_file` reads one file into plain data: YAML with libyaml (when available), or a
   thread in the Markdown authoring format (`content.authoring`) into the same data, with
   the line of every location.
2. `check_files` turns the data into models, applies Telegram's limits and the library-wide
   rules (unique ids, tracks that name existing threads), and builds the Library. Only for a
   YAML file with problems is the node tree composed again, to map each pydantic error
   location (`("quiz", 2, "options")`) back to the line of the offending node. A field that
   is missing or of the wrong type is set aside so the rules still check everything else.

Quality lints (`content.lints`) come on top as warnings when asked for (`lint=True`).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import gc
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from content.authoring import MARKDOWN_SUFFIXES, is_authoring_markdown, parse_markdown, slugify
from content.documents import ContentError, Loc, ParsedFile, Problem, Severity, parse_yaml
from content.lints import lint_thread
from content.models import (
    AUTHOR_HANDLE_MAX,
    AUTHOR_NAME_MAX,
    CAPTION_LIMIT,
    ID_MAX,
    MESSAGE_TEXT_LIMIT,
    POLL_EXPLANATION_MAX,
    POLL_EXPLANATION_MAX_LINE_BREAKS,
    POLL_OPTION_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    POLL_QUESTION_MAX,
    POST_CAPTION_MAX,
    POST_MEDIA_MAX,
    POST_TEXT_MAX,
    QUESTION_ID_MAX,
    REFERENCE_CITATION_MAX,
    REFERENCE_TITLE_MAX,
    RENDER_RESERVE,
    SCHEMA_VERSION,
    TAG_MAX,
    TITLE_MAX,
    TRACK_DESCRIPTION_MAX,
    UNKNOWN_AUTHOR,
    URL_MAX,
    Library,
    Thread,
    Track,
    tg_len,
)

__all__ = [
    "CONTENT_SUFFIXES",
    "ContentError",
    "ParsedFile",
    "Problem",
    "check_files",
    "collect_files",
    "default_paths",
    "is_thread_file",
    "parse_file",
    "parse_thread_file",
    "parse_thread_text",
    "paused_gc",
    "publish_problems",
    "validate_paths",
    "validate_thread",
]

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
QUESTION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# http(s), a host (a name, IPv4, or [IPv6]), an optional port, then anything but whitespace.
_URL_RE = re.compile(
    r"https?://(?:[^\s/?#@]+@)?(?:\w(?:[\w.-]*\w)?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?\Z",
    re.IGNORECASE,
)
YAML_SUFFIXES = (".yaml", ".yml")
CONTENT_SUFFIXES = YAML_SUFFIXES + MARKDOWN_SUFFIXES
CONTENT_ROOT = Path(__file__).resolve().parent
_TODO = re.compile(r"\bTODO\b")

Add = Callable[[tuple[Loc, str]], None]


def default_paths() -> list[Path]:
    """Return the bundled library and tracks folders, wherever the package is installed."""
    return [CONTENT_ROOT / "library", CONTENT_ROOT / "tracks"]


# --------------------------------------------------------------------------------------------
# Phase 1: reading files


def _export_message(path: Path | str) -> str:
    return (
        "this looks like an export, not a thread in the authoring format (numbered posts "
        "`1/ ...` after a `---` front matter block, see docs/authoring.md); run "
        f"`tweetdrip content import {path}` to turn it into a thread"
    )


def _not_content_message(path: Path | str) -> str:
    return (
        "this is not a content file: a thread is a .yaml file or a .md file in the authoring "
        "format (docs/authoring.md); to turn an export into a thread, run "
        f"`tweetdrip content import {path}`"
    )


def parse_file(path: Path) -> ParsedFile:
    """Read and parse one content file, classifying it as a thread or a track."""
    suffix = path.suffix.lower()
    if suffix not in CONTENT_SUFFIXES:
        return ParsedFile(path, problems=[Problem(path, None, _not_content_message(path))])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ParsedFile(path, problems=[Problem(path, None, f"cannot read this file: {reason}")])
    try:
        text = raw.decode("utf-8-sig")  # tolerate the byte order mark some editors add
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"this is not UTF-8 text ({exc.reason}); save the file as UTF-8"
        return ParsedFile(path, problems=[Problem(path, line, message)])
    if suffix in MARKDOWN_SUFFIXES:
        if not is_authoring_markdown(text):
            return ParsedFile(path, text, problems=[Problem(path, 1, _export_message(path))])
        return parse_markdown(text, path)
    parsed = parse_yaml(text, path)
    data = parsed.data
    parsed.is_track = path.parent.name == "tracks" or (
        isinstance(data, dict) and "threads" in data and "posts" not in data
    )
    return parsed


def _is_content_file(path: Path) -> bool:
    if path.name.startswith(".") or not path.is_file():
        return False
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        # README.md, SOURCES.md: documentation by convention (a thread's id is lowercase).
        return not path.stem.isupper()
    return path.suffix.lower() in YAML_SUFFIXES


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand folders into their content files (sorted), dropping repeats and missing paths."""
    files: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_content_file(p))
            if not found:
                problems.append(
                    Problem(
                        path,
                        None,
                        "no thread or track files in this folder (.yaml, .yml or .md); check "
                        "the path",
                    )
                )
        elif path.is_file():
            found = [path]
        else:
            problems.append(Problem(path, None, "no such file or folder; check the path"))
            continue
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files, problems


# --------------------------------------------------------------------------------------------
# Phase 2: models and rules


def _url_problem(url: str) -> str | None:
    if not _URL_RE.match(url):
        return f"`{url}` is not a well-formed URL; use a full http(s)://host/... address"
    if (length := tg_len(url)) > URL_MAX:
        return f"this URL is {length} characters; the limit is {URL_MAX}: link a shorter address"
    return None


def _too_long(value: str, limit: int, what: str, fix: str = "shorten it") -> str | None:
    length = tg_len(value)
    if length <= limit:
        return None
    return (
        f"{what} is {length} characters; the limit is {limit} so it fits every message that "
        f"shows it; {fix}"
    )


def _describe(value: object) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({shown!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _thread_rules(thread: Thread, md: bool = False) -> list[tuple[Loc, str]]:
    """Return (location, message) for every rule `thread` breaks beyond its types.

    `md` words the fixes for a Markdown thread instead of YAML.
    """
    found: list[tuple[Loc, str]] = []
    add: Add = found.append

    if thread.schema_version != SCHEMA_VERSION:
        add((("schema",), _schema_message(thread.schema_version)))
    if not SLUG_RE.match(thread.id) or len(thread.id) > ID_MAX:
        add((("id",), _slug_message("thread id", thread.id)))
    if not thread.title.strip():
        add((("title",), "the title is empty; give the thread a title"))
    elif msg := _too_long(thread.title, TITLE_MAX, "the title"):
        add((("title",), msg))
    _author_rules(thread, add)
    if thread.source.url is not None and (msg := _url_problem(thread.source.url)):
        add((("source", "url"), msg))
    seen_tags: set[str] = set()
    for i, tag in enumerate(thread.tags):
        if not tag.strip():
            add((("tags", i), "this tag is empty; remove it"))
        elif tag in seen_tags:
            add((("tags", i), f"tag `{tag}` is listed twice; remove one"))
        elif msg := _too_long(tag, TAG_MAX, f"tag `{tag[:20]}...`"):
            add((("tags", i), msg))
        seen_tags.add(tag)

    n_posts = len(thread.posts)
    if n_posts == 0:
        fix = "start one with `1/ `" if md else "add a `- text: ...` item"
        add((("posts",), f"a thread needs at least one post; {fix}"))
    for i, post in enumerate(thread.posts):
        _post_rules(post.text, bool(post.media), ("posts", i, "text"), add)
        if len(post.media) > POST_MEDIA_MAX:
            add(
                (
                    ("posts", i, "media"),
                    f"the post has {len(post.media)} images; the limit is {POST_MEDIA_MAX} "
                    "(an album's worth); move some to a post of their own",
                )
            )
        for j, media in enumerate(post.media):
            if msg := _url_problem(media):
                add((("posts", i, "media", j), msg))
        if post.url is not None and (msg := _url_problem(post.url)):
            add((("posts", i, "url"), msg))

    seen_ids: dict[str, int] = {}
    for i, q in enumerate(thread.quiz):
        at: Loc = ("quiz", i)
        if not q.id.strip():
            add(((*at, "id"), "the question id is empty; give it a short id such as `q1`"))
        elif q.id in seen_ids:
            add(
                (
                    (*at, "id"),
                    f"question id `{q.id}` is already used by question {seen_ids[q.id] + 1} of "
                    "this thread; question ids must be unique within a thread",
                )
            )
        elif not QUESTION_ID_RE.match(q.id) or len(q.id) > QUESTION_ID_MAX:
            add(
                (
                    (*at, "id"),
                    f"question id `{q.id}` must be up to {QUESTION_ID_MAX} letters, digits, "
                    "`-`, `_` or `.` without spaces, such as `q1`",
                )
            )
        if q.id.strip() and q.id not in seen_ids:
            seen_ids[q.id] = i
        _question_rules(q.question, (*at, "question"), add)
        _options_rules(q.options, at, add, md)
        _correct_rules(q.correct, len(q.options), (*at, "correct"), add, md)
        _explanation_rules(q.explanation, (*at, "explanation"), add, md)
        _post_number_rules(q.after_post, q.source_post, n_posts, at, add, md)
        if q.image is not None and (msg := _url_problem(q.image)):
            add(((*at, "image"), msg))

    for i, ref in enumerate(thread.references):
        if not ref.title.strip():
            add((("references", i, "title"), "the reference title is empty; fill it in"))
        elif msg := _too_long(ref.title, REFERENCE_TITLE_MAX, "the reference title"):
            add((("references", i, "title"), msg))
        if ref.citation is not None and (
            msg := _too_long(ref.citation, REFERENCE_CITATION_MAX, "the citation")
        ):
            add((("references", i, "citation"), msg))
        if ref.url is not None and (msg := _url_problem(ref.url)):
            add((("references", i, "url"), msg))
    return found


def _author_rules(thread: Thread, add: Add) -> None:
    name, handle = thread.author.name, thread.author.handle
    if not name.strip():
        add((("author", "name"), "the author's name is empty; fill it in"))
    elif msg := _too_long(name, AUTHOR_NAME_MAX, "the author's name"):
        add((("author", "name"), msg))
    if handle is not None:
        if not handle.strip() or re.search(r"\s", handle):
            add(
                (
                    ("author", "handle"),
                    f"the handle `{handle}` must be one word such as `@janedoe`; leave it out "
                    "when the author has none",
                )
            )
        elif msg := _too_long(handle, AUTHOR_HANDLE_MAX, "the handle"):
            add((("author", "handle"), msg))


def _post_rules(text: str, has_media: bool, at: Loc, add: Add) -> None:
    if not text.strip():
        add((at, "the post text is empty; Telegram cannot send an empty message"))
        return
    length = tg_len(text)
    if has_media and length > POST_CAPTION_MAX:
        add(
            (
                at,
                f"the text is {length} characters, too long for a caption under media: the "
                f"limit is {POST_CAPTION_MAX} (Telegram's {CAPTION_LIMIT} minus {RENDER_RESERVE} "
                "kept for the post number and link); shorten it or move the media to a post of "
                "its own",
            )
        )
    elif length > POST_TEXT_MAX:
        add(
            (
                at,
                f"the text is {length} characters; the limit is {POST_TEXT_MAX} (Telegram's "
                f"{MESSAGE_TEXT_LIMIT} minus {RENDER_RESERVE} kept for the post number and "
                "link); shorten it or split it into two posts",
            )
        )


def _question_rules(question: str, at: Loc, add: Add) -> None:
    length = tg_len(question)
    if not question.strip():
        add((at, "the question is empty; Telegram needs 1 to 300 characters"))
    elif length > POLL_QUESTION_MAX:
        add(
            (
                at,
                f"the question is {length} characters; Telegram allows at most "
                f"{POLL_QUESTION_MAX}; shorten it (context can go in the post before it)",
            )
        )


def _options_rules(options: list[str], at: Loc, add: Add, md: bool) -> None:
    if len(options) < POLL_OPTIONS_MIN:
        add(
            (
                (*at, "options"),
                f"the question has no options; a poll needs {POLL_OPTIONS_MIN} to "
                f"{POLL_OPTIONS_MAX}; add the answer choices",
            )
        )
    elif len(options) > POLL_OPTIONS_MAX:
        add(
            (
                (*at, "options"),
                f"the question has {len(options)} options; Telegram allows at most "
                f"{POLL_OPTIONS_MAX}; remove {len(options) - POLL_OPTIONS_MAX}",
            )
        )
    seen: dict[str, int] = {}
    for j, option in enumerate(options):
        where = (*at, "options", j)
        length = tg_len(option)
        if not option.strip():
            add((where, "this option is empty; Telegram needs 1 to 100 characters"))
            continue
        if length > POLL_OPTION_MAX:
            add(
                (
                    where,
                    f"this option is {length} characters; Telegram allows at most "
                    f"{POLL_OPTION_MAX}; shorten it",
                )
            )
        key = option.strip().casefold()
        if key in seen:
            first = f"option {seen[key] + 1}" if md else f"option {seen[key]} (counting from 0)"
            add(
                (where, f"option `{option}` repeats {first}; options must differ within a question")
            )
        else:
            seen[key] = j


def _correct_rules(correct: list[int], n_options: int, at: Loc, add: Add, md: bool) -> None:
    if not correct:
        fix = (
            "mark the right option with `- [x]`"
            if md
            else "list at least one 0-based option index, e.g. [0]"
        )
        add((at, f"no correct option given; {fix}"))
        return
    seen: set[int] = set()
    for k, index in enumerate(correct):
        if not 0 <= index < n_options:
            add(
                (
                    (*at, k),
                    f"correct option {index} does not exist; options are numbered from 0 to "
                    f"{n_options - 1} (0 is the first option)",
                )
            )
        elif index in seen:
            add(((*at, k), f"correct option {index} is listed twice; remove one"))
        seen.add(index)


def _explanation_rules(explanation: str, at: Loc, add: Add, md: bool) -> None:
    length = tg_len(explanation)
    breaks = explanation.count("\n")
    if length > POLL_EXPLANATION_MAX:
        add(
            (
                at,
                f"the explanation is {length} characters; Telegram allows at most "
                f"{POLL_EXPLANATION_MAX}; shorten it (details belong in the posts)",
            )
        )
    if breaks > POLL_EXPLANATION_MAX_LINE_BREAKS:
        hint = " (a `|` block keeps the final line break; write `|-` to drop it)"
        lines = f"{breaks + 1} `> ` lines" if md else f"{breaks} line breaks"
        most = (
            f"{POLL_EXPLANATION_MAX_LINE_BREAKS + 1} lines"
            if md
            else str(POLL_EXPLANATION_MAX_LINE_BREAKS)
        )
        add(
            (
                at,
                f"the explanation has {lines}; Telegram allows at most {most}; join some lines"
                + (hint if explanation.endswith("\n") and not md else ""),
            )
        )


def _post_number_rules(
    after_post: int | None, source_post: int | None, n_posts: int, at: Loc, add: Add, md: bool
) -> None:
    fields = [("after_post", after_post), ("source_post", source_post)]
    if md and source_post == after_post:
        fields = fields[:1]  # a Markdown question's source post defaults to its heading's
    for name, value in fields:
        if value is None or 1 <= value <= n_posts:
            continue
        if md:
            written = f"### After post {value}" if name == "after_post" else f"Source post: {value}"
            add(
                (
                    (*at, name),
                    f"`{written}`, but the thread has {n_posts} post(s); use a number from 1 to "
                    f"{n_posts}" + (", or `### At the end`" if name == "after_post" else ""),
                )
            )
        else:
            add(
                (
                    (*at, name),
                    f"{name} is {value} but the thread has {n_posts} post(s); use a post "
                    f"number from 1 to {n_posts} (1 is the first post)",
                )
            )


def _track_rules(track: Track, md: bool = False) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    if not SLUG_RE.match(track.id) or len(track.id) > ID_MAX:
        found.append((("id",), _slug_message("track id", track.id)))
    if not track.title.strip():
        found.append((("title",), "the title is empty; give the track a title"))
    elif msg := _too_long(track.title, TITLE_MAX, "the title"):
        found.append((("title",), msg))
    if msg := _too_long(track.description, TRACK_DESCRIPTION_MAX, "the description"):
        found.append((("description",), msg))
    if not track.threads:
        found.append((("threads",), "a track needs at least one thread id"))
    seen: set[str] = set()
    for i, thread_id in enumerate(track.threads):
        if thread_id in seen:
            found.append((("threads", i), f"thread `{thread_id}` is listed twice; remove one"))
        seen.add(thread_id)
    return found


def _schema_message(version: object) -> str:
    if isinstance(version, int) and not isinstance(version, bool):
        return (
            f"schema {version} is not supported: this version of tweetdrip reads schema "
            f"{SCHEMA_VERSION}; write `schema: {SCHEMA_VERSION}` and the matching fields, or "
            "upgrade tweetdrip"
        )
    return f"schema must be the number {SCHEMA_VERSION}, not {_describe(version)}"


def _slug_message(what: str, value: str) -> str:
    suggestion = slugify(value, ID_MAX)
    hint = f", e.g. `{suggestion}`" if suggestion and suggestion != value else ""
    return (
        f"{what} `{value}` must be lowercase letters and digits joined by single hyphens, at "
        f"most {ID_MAX} characters (ids travel in Telegram's buttons){hint}"
    )


def _format_loc(loc: Loc) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out


_MD_FIELDS: dict[Loc, str] = {
    ("source", "url"): "`source`",
    ("source", "published"): "`published`",
    ("source", "kind"): "`kind`",
    ("source", "imported_from"): "`imported_from`",
}
_MD_QUESTION_PARTS = {
    "explanation": "explanation",
    "image": "`Image`",
    "id": "`Id`",
    "source_post": "`Source post`",
}


def _md_label(loc: Loc, data: Any) -> str:
    """Name a location the way a Markdown thread's author knows it: `post 3`, `question q1`."""
    if not loc:
        return ""
    head = loc[0]
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    rest = loc[2:]
    if head == "posts" and index is not None:
        label = f"post {index + 1}"
        if rest[:1] == ("media",):
            last = rest[-1]
            label += f", image {last + 1}" if isinstance(last, int) else ", images"
        elif rest[:1] == ("url",):
            label += ", original link"
        return label
    if head == "quiz" and index is not None:
        try:
            qid = data["quiz"][index]["id"]
        except (KeyError, IndexError, TypeError):
            qid = index + 1
        if rest[:1] == ("options",) and len(rest) > 1 and isinstance(rest[1], int):
            return f"question {qid}, option {rest[1] + 1}"
        part = _MD_QUESTION_PARTS.get(str(rest[0])) if rest else None
        return f"question {qid}, {part}" if part else f"question {qid}"
    if head == "references" and index is not None:
        return f"reference {index + 1}" + (", citation" if "citation" in loc else "")
    if loc[:2] in _MD_FIELDS:
        return _MD_FIELDS[loc[:2]]
    if head in ("posts", "quiz", "references"):
        return {"posts": "posts", "quiz": "quiz", "references": "references"}[head]
    return f"`{head}`"


def validate_thread(thread: Thread) -> list[str]:
    """Check a thread built in code against every content rule; return readable messages."""
    return [
        f"{_format_loc(loc)}: {message}" if loc else message
        for loc, message in _thread_rules(thread)
    ]


def publish_problems(thread: Thread) -> list[str]:
    """Say what should stop `thread` being published unless an admin confirms it.

    Drafts may keep these; a library needs a real author to credit, questions to ask, and
    no placeholder left from `tweetdrip content new`.
    """
    found = []
    if thread.author.name.strip().casefold() in (UNKNOWN_AUTHOR.casefold(), "unknown", ""):
        found.append(
            f"the author is unknown (“{thread.author.name}”): set `author` to Name (@handle) so "
            "trainees see whom to thank, or confirm to publish without credit"
        )
    if not thread.quiz:
        found.append(
            "the thread has no quiz questions, so trainees only read it: add questions, or "
            "confirm to publish it as reading only"
        )
    placeholders = _placeholder_places(thread)
    if placeholders:
        found.append(
            f"TODO placeholders are left in {', '.join(placeholders)}: write the real text "
            "before publishing"
        )
    return found


def _placeholder_places(thread: Thread) -> list[str]:
    places = []
    if _TODO.search(thread.title):
        places.append("the title")
    if _TODO.search(thread.author.name):
        places.append("the author")
    places += [f"post {i}" for i, p in enumerate(thread.posts, 1) if _TODO.search(p.text)]
    for q in thread.quiz:
        if any(_TODO.search(text) for text in (q.question, q.explanation, *q.options)):
            places.append(f"question {q.id}")
    return places


# --------------------------------------------------------------------------------------------
# Mapping pydantic errors and rule locations back to lines


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """Return the model class that the mapping at `loc` should match."""
    current: Any = model
    for item in loc:
        current = _unwrap_optional(current)
        if isinstance(item, int):
            if typing.get_origin(current) is not list:
                return None
            current = typing.get_args(current)[0]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        for name, field in current.model_fields.items():
            if item in (name, field.alias):
                current = field.annotation
                break
        else:
            return None
    current = _unwrap_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _error_message(
    error: ErrorDetails, root_model: type[BaseModel], md: bool = False
) -> tuple[str, bool]:
    """Return a readable message for one pydantic error, and whether it is about the key."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    name = loc[-1] if loc else ""
    if kind == "missing":
        if md:
            example = "Name (@handle)" if name == "author" else "..."
            return f"`{name}` is missing; add `{name}: {example}` to the front matter", False
        return f"`{name}` is missing; add `{name}: ...` here", False
    if kind == "extra_forbidden":
        model = _model_at(root_model, loc[:-1])
        allowed = _allowed_keys(model) if model else []
        close = difflib.get_close_matches(str(name), allowed, n=1)
        guess = f"did you mean `{close[0]}`? " if close else ""
        return (
            f"unknown key `{name}`; {guess}allowed keys here: {', '.join(allowed)}",
            True,
        )
    if kind == "string_type":
        hint = "; put it in quotes" if isinstance(value, bool | int | float) else ""
        return f"expected text, got {_describe(value)}{hint}", False
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_describe(value)}", False
    if kind == "list_type":
        return f"expected a list (lines starting with `- `), got {_describe(value)}", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(root_model, loc)
        keys = f" with keys {', '.join(_allowed_keys(model))}" if model else ""
        return f"expected a mapping{keys}, got {_describe(value)}", False
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{_describe(value)} is not allowed; use one of {expected}", False
    if kind.startswith("date"):
        return f"expected a date written as YYYY-MM-DD, got {_describe(value)}", False
    return f"{error['msg']} (got {_describe(value)})", False


def _label(parsed: ParsedFile, loc: Loc) -> str:
    return _md_label(loc, parsed.data) if parsed.markdown else _format_loc(loc)


def _model_problems(
    parsed: ParsedFile, errors: list[ErrorDetails], model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        message, about_key = _error_message(error, model, parsed.markdown)
        # A Markdown author reads `title` is missing, not `title`: `title` is missing.
        where = "" if parsed.markdown and error["type"] == "missing" else _label(parsed, loc)
        text = f"{where}: {message}" if where else message
        problems.append(Problem(parsed.path, parsed.line(loc, want_key=about_key), text))
    return problems


def _rule_problems(
    parsed: ParsedFile, found: list[tuple[Loc, str]], severity: Severity = "error"
) -> list[Problem]:
    problems = []
    for loc, msg in found:
        where = _label(parsed, loc)
        if parsed.id_from_name and loc == ("id",):
            msg += " (a Markdown thread without `id:` takes its id from the file name)"
        text = f"{where}: {msg}" if where else msg
        problems.append(Problem(parsed.path, parsed.line(loc), text, severity))
    return problems


def _top_level_problem(parsed: ParsedFile, what: str) -> Problem | None:
    if parsed.data is None:
        return Problem(parsed.path, 1, f"the file is empty; write a {what} here")
    if not isinstance(parsed.data, dict):
        return Problem(
            parsed.path,
            parsed.line(),
            f"expected a {what} as `key: value` lines at the top level, got "
            f"{_describe(parsed.data)}",
        )
    return None


# --------------------------------------------------------------------------------------------
# Checking what validates around a missing or malformed field

_PLACEHOLDER = "\0placeholder"
_ITEM_PLACEHOLDERS: dict[str, Any] = {
    "posts": {"text": _PLACEHOLDER},
    "quiz": {"id": _PLACEHOLDER, "question": _PLACEHOLDER, "options": ["x"], "correct": [0]},
    "references": {"title": _PLACEHOLDER},
    "tags": _PLACEHOLDER,
    "threads": _PLACEHOLDER,
}
_FIELD_PLACEHOLDERS: dict[str, Any] = {
    "id": "placeholder",
    "title": _PLACEHOLDER,
    "author": {"name": _PLACEHOLDER},
    "source": {},
    "status": "complete",
    "description": "",
}


def _set_aside(
    data: dict[str, Any], errors: list[ErrorDetails]
) -> tuple[dict[str, Any], list[Loc]]:
    """Replace what failed validation with neutral values; return the data and where."""
    data = copy.deepcopy(data)
    replaced: list[Loc] = []
    for error in errors:
        loc = tuple(error["loc"])
        if not loc:
            continue
        if error["type"] == "extra_forbidden":
            parent: Any = data
            for item in loc[:-1]:
                parent = parent[item]
            parent.pop(loc[-1], None)
            continue
        head = str(loc[0])
        container = data.get(head)
        if head in _ITEM_PLACEHOLDERS and len(loc) > 1 and isinstance(container, list):
            index = loc[1]
            assert isinstance(index, int)
            container[index] = copy.deepcopy(_ITEM_PLACEHOLDERS[head])
            replaced.append(loc[:2])
        elif head in ("author", "source") and len(loc) > 1 and isinstance(container, dict):
            container.pop(loc[1], None)  # every other field of theirs has a default
            if loc[1] == "name":
                container["name"] = _PLACEHOLDER
            replaced.append(loc[:2])
        elif head in _ITEM_PLACEHOLDERS and head != "tags":
            data[head] = [copy.deepcopy(_ITEM_PLACEHOLDERS[head])]
            replaced.append((head,))
        elif head == "tags":
            data[head] = []
            replaced.append((head,))
        else:
            data[head] = copy.deepcopy(_FIELD_PLACEHOLDERS.get(str(head), _PLACEHOLDER))
            replaced.append((head,))
    return data, replaced


def _rules_beside_errors(
    data: dict[str, Any],
    errors: list[ErrorDetails],
    model: type[Thread] | type[Track],
    rules: Callable[[Any], list[tuple[Loc, str]]],
) -> list[tuple[Loc, str]]:
    """Run `rules` on everything but the fields that failed: one mistake hides no other."""
    repaired, replaced = _set_aside(data, errors)
    try:
        built = model.model_validate(repaired)
    except ValidationError:
        return []
    posts_replaced = ("posts",) in replaced

    def unaffected(loc: Loc) -> bool:
        if any(loc[: len(r)] == r for r in replaced):
            return False
        return not (posts_replaced and loc[-1:] in (("after_post",), ("source_post",)))

    return [(loc, msg) for loc, msg in rules(built) if unaffected(loc)]


# --------------------------------------------------------------------------------------------
# Building threads and tracks


def _build_thread(parsed: ParsedFile) -> tuple[Thread | None, list[Problem]]:
    if problem := _top_level_problem(parsed, "thread"):
        return None, [problem]
    data: dict[str, Any] = parsed.data
    if "schema" not in data:
        message = f"`schema` is missing; start the file with `schema: {SCHEMA_VERSION}`"
        return None, [Problem(parsed.path, parsed.line(), message)]
    version = data["schema"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        # Other fields mean different things in another schema: report only this.
        return None, [Problem(parsed.path, parsed.line(("schema",)), _schema_message(version))]
    md = parsed.markdown

    def rules(thread: Thread) -> list[tuple[Loc, str]]:
        return _thread_rules(thread, md)

    try:
        thread = Thread.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = _model_problems(parsed, errors, Thread)
        problems += _rule_problems(parsed, _rules_beside_errors(data, errors, Thread, rules))
        return None, _in_file_order(problems)
    problems = _rule_problems(parsed, rules(thread))
    return (None if problems else thread), problems


def _build_track(parsed: ParsedFile) -> tuple[Track | None, list[Problem]]:
    if problem := _top_level_problem(parsed, "track"):
        return None, [problem]
    try:
        track = Track.model_validate(parsed.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = _model_problems(parsed, errors, Track)
        found = _rules_beside_errors(parsed.data, errors, Track, _track_rules)
        return None, _in_file_order(problems + _rule_problems(parsed, found))
    problems = _rule_problems(parsed, _track_rules(track))
    return (None if problems else track), problems


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)


def parse_thread_text(text: str, filename: str) -> tuple[Thread | None, list[Problem]]:
    """Parse and check one thread sent as YAML text (e.g. a file an admin uploaded)."""
    parsed = parse_yaml(text, filename)
    if not parsed.parsed_ok:
        return None, parsed.problems
    data = parsed.data
    if isinstance(data, dict) and "threads" in data and "posts" not in data:
        message = "this is a track (it lists `threads:`), not a thread; send a thread file"
        return None, [*parsed.problems, Problem(filename, parsed.line(), message)]
    thread, problems = _build_thread(parsed)
    problems = parsed.problems + problems
    return (thread if not problems else None), problems


def is_thread_file(name: str, text: str) -> bool:
    """Tell a thread file (YAML, or Markdown in the authoring format) from an export."""
    suffix = PurePath(name).suffix.lower()
    return suffix in YAML_SUFFIXES or (suffix in MARKDOWN_SUFFIXES and is_authoring_markdown(text))


def parse_thread_file(name: str, text: str) -> tuple[Thread | None, list[Problem]]:
    """Parse and check one thread file by its name: YAML, or Markdown in the authoring format.

    Problems are `name:line: message`, lines in the file as written. A Markdown thread
    without `id:` takes its id from `name`, made into a slug. An export (a .md that is not
    in the authoring format, a .txt) is refused with a pointer to `content import`.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix in YAML_SUFFIXES:
        return parse_thread_text(text, name)
    if suffix not in MARKDOWN_SUFFIXES:
        return None, [Problem(name, None, _not_content_message(name))]
    if not is_authoring_markdown(text):
        return None, [Problem(name, 1, _export_message(name))]
    parsed = parse_markdown(text, name)
    thread, problems = _build_thread(parsed)
    problems = _in_file_order(parsed.problems + problems)
    return (thread if not problems else None), problems


def check_files(
    parsed_files: Iterable[ParsedFile], extra_threads: Iterable[Thread] = (), *, lint: bool = False
) -> tuple[Library | None, list[Problem]]:
    """Build the library from parsed files plus `extra_threads`, reporting every problem.

    With `lint`, quality warnings (severity "warning") are added for every valid thread; they
    do not stop the library from being built.
    """
    problems: list[Problem] = []
    threads: dict[str, Thread] = {}
    tracks: dict[str, Track] = {}
    thread_files: dict[str, ParsedFile] = {}
    track_files: dict[str, ParsedFile] = {}
    # Ids of threads that exist but have problems: tracks naming them are not wrong too.
    known_ids: set[str] = set()

    for parsed in parsed_files:
        problems.extend(parsed.problems)
        if not parsed.parsed_ok:
            continue
        if parsed.is_track:
            track, found = _build_track(parsed)
            problems.extend(found)
            if track is None:
                continue
            if track.id in track_files:
                first = track_files[track.id].where(("id",))
                problems.append(
                    Problem(
                        parsed.path,
                        parsed.line(("id",)),
                        f"track id `{track.id}` is already used by {first}; "
                        "track ids must be unique, so rename one",
                    )
                )
                continue
            track_files[track.id] = parsed
            tracks[track.id] = track
            continue

        thread, found = _build_thread(parsed)
        problems.extend(found)
        if parsed.problems:
            thread = None
        data_id = parsed.data.get("id") if isinstance(parsed.data, dict) else None
        if isinstance(data_id, str):
            known_ids.add(data_id)
            if data_id != Path(parsed.path).stem:
                problems.append(_file_name_problem(parsed, data_id))
                thread = None
        if thread is None:
            continue
        if thread.id in thread_files:
            first = thread_files[thread.id].where(("id",))
            problems.append(
                Problem(
                    parsed.path,
                    parsed.line(("id",)),
                    f"thread id `{thread.id}` is already used by {first}; "
                    "thread ids must be unique across the library, so rename one",
                )
            )
            continue
        thread_files[thread.id] = parsed
        threads[thread.id] = thread
        if lint:
            problems.extend(_in_file_order(_rule_problems(parsed, lint_thread(thread), "warning")))

    imported: set[str] = set()
    for extra in extra_threads:
        label = f"imported thread {extra.id!r}"
        known_ids.add(extra.id)
        messages = validate_thread(extra)
        problems.extend(Problem(label, None, message) for message in messages)
        if extra.id in thread_files or extra.id in imported:
            first = (
                thread_files[extra.id].where(("id",))
                if extra.id in thread_files
                else "another imported thread"
            )
            problems.append(
                Problem(
                    label,
                    None,
                    f"id `{extra.id}` is already used by {first}; re-import it under another "
                    "id or delete one of them",
                )
            )
            continue
        imported.add(extra.id)
        if not messages:
            threads[extra.id] = extra

    for track_id, parsed in track_files.items():
        for i, thread_id in enumerate(tracks[track_id].threads):
            if thread_id in known_ids:
                continue
            close = difflib.get_close_matches(thread_id, sorted(known_ids), n=1)
            fix = f"did you mean `{close[0]}`?" if close else "add the thread or fix the id"
            problems.append(
                Problem(
                    parsed.path,
                    parsed.line(("threads", i)),
                    f"threads[{i}]: no thread has the id `{thread_id}`; {fix}",
                )
            )

    if any(p.severity == "error" for p in problems):
        return None, problems
    return Library(threads=threads, tracks=tracks), problems


def _file_name_problem(parsed: ParsedFile, data_id: str) -> Problem:
    path = Path(parsed.path)
    if parsed.id_from_name:
        message = (
            f"the file name `{path.name}` is not a thread id; rename the file to "
            f"`{data_id}{path.suffix}` (a Markdown thread without `id:` takes its id from the "
            "file name)"
        )
    else:
        message = (
            f"id `{data_id}` does not match the file name `{path.name}`; rename the file to "
            f"`{data_id}{path.suffix}` or set `id: {path.stem}`"
        )
    return Problem(parsed.path, parsed.line(("id",)), message)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a library loads.

    A load allocates hundreds of thousands of nodes, dicts and lists, none of them in
    reference cycles; the collector would otherwise walk the growing heap again and again
    (a third of the load time for 1,000 threads). Reference counting still frees memory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_paths(
    paths: Iterable[Path], *, lint: bool = False
) -> tuple[Library | None, list[Problem]]:
    """Check content files and folders; return the Library only when no error is found.

    Paths that hold no thread at all are an error. With `lint`, quality warnings are
    included among the problems (severity "warning").
    """
    paths = [Path(p) for p in paths]
    files, problems = collect_files(paths)
    with paused_gc():
        library, found = check_files([parse_file(file) for file in files], lint=lint)
    problems.extend(found)
    errors = [p for p in problems if p.severity == "error"]
    if not errors and library is not None and not library.threads:
        shown = ", ".join(str(p) for p in paths) or "(no paths)"
        problems.append(
            Problem(
                shown,
                None,
                "no threads found; give a thread file (.yaml or .md) or a folder that holds "
                "some (tracks need their threads next to them)",
            )
        )
        return None, problems
    return (library if not errors else None), problems
