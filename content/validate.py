"""Validate content files and report every problem as `file:line: what is wrong and how to fix it`.

Validation happens in two phases so the library loads fast and errors point at the YAML:

1. `parse_file` reads one file with libyaml (when available) into plain data.
2. `check_files` turns the data into models, applies Telegram's limits and the library-wide
   rules (unique ids, tracks that name existing threads), and builds the Library. Only for a
   file with problems is the YAML node tree composed again, to map each pydantic error
   location (`("quiz", 2, "options")`) back to the line of the offending node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import gc
import re
import types
import typing
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from content.models import (
    CAPTION_LIMIT,
    MESSAGE_TEXT_LIMIT,
    POLL_EXPLANATION_MAX,
    POLL_EXPLANATION_MAX_LINE_BREAKS,
    POLL_OPTION_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    POLL_QUESTION_MAX,
    POST_CAPTION_MAX,
    POST_TEXT_MAX,
    RENDER_RESERVE,
    SCHEMA_VERSION,
    Library,
    Thread,
    Track,
)

__all__ = [
    "ContentError",
    "ParsedFile",
    "Problem",
    "check_files",
    "collect_files",
    "default_paths",
    "parse_file",
    "parse_thread_text",
    "paused_gc",
    "validate_paths",
    "validate_thread",
]

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# http(s), a host (a name, IPv4, or [IPv6]), an optional port, then anything but whitespace.
_URL_RE = re.compile(
    r"https?://(?:[^\s/?#@]+@)?(?:\w(?:[\w.-]*\w)?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?\Z",
    re.IGNORECASE,
)
YAML_SUFFIXES = (".yaml", ".yml")
CONTENT_ROOT = Path(__file__).resolve().parent

Loc = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the content, located as precisely as possible."""

    path: Path | str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """The content has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} content problem(s):\n{lines}")


@dataclasses.dataclass(slots=True)
class ParsedFile:
    """A content file after YAML parsing: its data and any problems found while parsing.

    The node tree (for line numbers) is not kept: holding 1,000 trees makes every garbage
    collection slower, and only files with problems need it, so `node()` composes it again.
    """

    path: Path | str
    text: str | None = None
    data: Any = None
    problems: list[Problem] = dataclasses.field(default_factory=list)
    is_track: bool = False
    parsed_ok: bool = False
    _node: yaml.Node | None = None

    def node(self) -> yaml.Node | None:
        """Return the composed YAML node tree (None when the text does not parse)."""
        if self._node is None and self.parsed_ok and self.text is not None:
            loader = _ContentLoader(self.text)
            try:
                self._node = loader.get_single_node()
            finally:
                loader.dispose()
        return self._node

    def line(self, loc: Loc = (), want_key: bool = False) -> int | None:
        """Return the 1-based line of the node at `loc` (or of its nearest ancestor)."""
        return _line_of(self.node(), loc, want_key)

    def where(self, loc: Loc = ()) -> str:
        """Return `file:line` for the node at `loc`."""
        return f"{self.path}:{self.line(loc)}"


def default_paths() -> list[Path]:
    """Return the bundled library and tracks folders, wherever the package is installed."""
    return [CONTENT_ROOT / "library", CONTENT_ROOT / "tracks"]


# --------------------------------------------------------------------------------------------
# Phase 1: YAML

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_IN_PROGRESS = object()
_ScalarNode = yaml.ScalarNode


class _ContentLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader that builds plain data fast and notices duplicate keys.

    PyYAML's constructor spends most of a load in generic machinery (generators, per-node
    bookkeeping); content files are maps, lists and strings, so those are built directly and
    anything else (numbers, dates, explicit tags, merge keys) goes to SafeConstructor, which
    stays the authority on what is safe. Plain scalars repeat a lot (keys, small numbers),
    so their resolved tags are cached.
    """

    _resolved: typing.ClassVar[dict[str, str]] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []
        self._built: dict[int, Any] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Skip path resolvers: none are registered, and this runs for every node."""

    def ascend_resolver(self) -> None:
        """Skip path resolvers: none are registered, and this runs for every node."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # quoted or block scalar: always a string
            tag = self._resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 40 and len(self._resolved) < 10_000:
                    self._resolved[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def build_document(self, node: yaml.Node) -> Any:
        """Return the data for `node`, recording duplicate keys in `duplicate_keys`."""
        self.duplicate_keys = []
        self._built = {}
        try:
            return self._build(node)
        finally:
            self._built = {}

    def _build(self, node: yaml.Node) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            return node.value if node.tag == _STR_TAG else self.construct_object(node, deep=True)
        # Aliases share one node: build it once, as PyYAML does, so nested aliases
        # (the "billion laughs") cost nothing and a node inside itself is refused.
        built = self._built.get(id(node))
        if built is _IN_PROGRESS:
            raise yaml.constructor.ConstructorError(
                None, None, "found an alias that refers to itself", node.start_mark
            )
        if built is not None:
            return built
        self._built[id(node)] = _IN_PROGRESS
        if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
            built = [self._build(item) for item in node.value]
        elif kind is yaml.MappingNode and node.tag == _MAP_TAG:
            built = self._build_mapping(node)
        else:
            built = self.construct_object(node, deep=True)
        self._built[id(node)] = built
        return built

    def _build_mapping(self, node: yaml.Node) -> Any:
        if any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
            return self.construct_object(node, deep=True)  # `<<: *defaults`, rare
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self._build(key_node)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain word or text", key_node.start_mark
                )
            if key in mapping:
                self.duplicate_keys.append((key_node.start_mark.line + 1, str(key)))
            mapping[key] = self._build(value_node)
        return mapping


def _parse_yaml(text: str, path: Path | str) -> ParsedFile:
    parsed = ParsedFile(path, text)
    loader = _ContentLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.build_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        parsed.problems.append(Problem(path, line, f"this is not valid YAML: {_yaml_reason(exc)}"))
        return parsed
    except yaml.YAMLError as exc:
        parsed.problems.append(Problem(path, None, f"this is not valid YAML: {exc}"))
        return parsed
    finally:
        loader.dispose()
    for line, key in loader.duplicate_keys:
        parsed.problems.append(
            Problem(path, line, f"`{key}` appears twice in the same mapping; keep only one")
        )
    parsed.data, parsed.parsed_ok = data, True
    return parsed


def _yaml_reason(exc: yaml.MarkedYAMLError) -> str:
    parts = [exc.context, exc.problem]
    reason = ", ".join(p for p in parts if p)
    hint = ""
    if exc.problem and "mapping values are not allowed" in exc.problem:
        hint = " (a value containing `: ` must be quoted or written as a `|` block)"
    elif exc.problem and ("'\\t'" in exc.problem or "tab character" in exc.problem):
        hint = " (indent with spaces, not tabs)"
    elif exc.problem and "found undefined alias" in exc.problem:
        hint = " (define the &anchor before using it)"
    elif exc.problem and "expected a single document" in (exc.context or ""):
        hint = " (put one thread or track per file, without `---` separators)"
    return (reason or "cannot parse this") + hint


def parse_file(path: Path) -> ParsedFile:
    """Read and parse one content file, classifying it as a thread or a track."""
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
    parsed = _parse_yaml(text, path)
    data = parsed.data
    parsed.is_track = path.parent.name == "tracks" or (
        isinstance(data, dict) and "threads" in data and "posts" not in data
    )
    return parsed


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand folders into their YAML files (sorted), dropping repeats and missing paths."""
    files: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
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


def _tg_len(text: str) -> int:
    """Count like Telegram does: UTF-16 code units, so emoji outside the BMP count twice."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _url_problem(url: str) -> str | None:
    if _URL_RE.match(url):
        return None
    return f"`{url}` is not a well-formed URL; use a full http(s)://host/... address"


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


def _thread_rules(thread: Thread) -> list[tuple[Loc, str]]:
    """Return (location, message) for every rule `thread` breaks beyond its types."""
    found: list[tuple[Loc, str]] = []
    add = found.append

    if thread.schema_version != SCHEMA_VERSION:
        add((("schema",), _schema_message(thread.schema_version)))
    if not SLUG_RE.match(thread.id):
        add((("id",), _slug_message("thread id", thread.id)))
    if not thread.title.strip():
        add((("title",), "the title is empty; give the thread a title"))
    if not thread.author.name.strip():
        add((("author", "name"), "the author's name is empty; fill it in"))
    if thread.source.url is not None and (msg := _url_problem(thread.source.url)):
        add((("source", "url"), msg))
    seen_tags: set[str] = set()
    for i, tag in enumerate(thread.tags):
        if not tag.strip():
            add((("tags", i), "this tag is empty; remove it"))
        elif tag in seen_tags:
            add((("tags", i), f"tag `{tag}` is listed twice; remove one"))
        seen_tags.add(tag)

    n_posts = len(thread.posts)
    if n_posts == 0:
        add((("posts",), "a thread needs at least one post; add a `- text: ...` item"))
    for i, post in enumerate(thread.posts):
        _post_rules(post.text, bool(post.media), ("posts", i, "text"), add)
        for j, media in enumerate(post.media):
            if msg := _url_problem(media):
                add((("posts", i, "media", j), msg))
        if post.url is not None and (msg := _url_problem(post.url)):
            add((("posts", i, "url"), msg))

    seen_ids: dict[str, int] = {}
    for i, q in enumerate(thread.quiz):
        at = ("quiz", i)
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
        else:
            seen_ids[q.id] = i
        _question_rules(q.question, (*at, "question"), add)
        _options_rules(q.options, at, add)
        _correct_rules(q.correct, len(q.options), (*at, "correct"), add)
        _explanation_rules(q.explanation, (*at, "explanation"), add)
        for name, value in (("after_post", q.after_post), ("source_post", q.source_post)):
            if value is not None and not 1 <= value <= n_posts:
                add(
                    (
                        (*at, name),
                        f"{name} is {value} but the thread has {n_posts} post(s); use a post "
                        f"number from 1 to {n_posts} (1 is the first post)",
                    )
                )
        if q.image is not None and (msg := _url_problem(q.image)):
            add(((*at, "image"), msg))

    for i, ref in enumerate(thread.references):
        if not ref.title.strip():
            add((("references", i, "title"), "the reference title is empty; fill it in"))
        if ref.url is not None and (msg := _url_problem(ref.url)):
            add((("references", i, "url"), msg))
    return found


def _post_rules(text: str, has_media: bool, at: Loc, add: Any) -> None:
    if not text.strip():
        add((at, "the post text is empty; Telegram cannot send an empty message"))
        return
    length = _tg_len(text)
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


def _question_rules(question: str, at: Loc, add: Any) -> None:
    length = _tg_len(question)
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


def _options_rules(options: list[str], at: Loc, add: Any) -> None:
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
        length = _tg_len(option)
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
            add(
                (
                    where,
                    f"option `{option}` repeats option {seen[key]} (counting from 0); "
                    "options must differ within a question",
                )
            )
        else:
            seen[key] = j


def _correct_rules(correct: list[int], n_options: int, at: Loc, add: Any) -> None:
    if not correct:
        add((at, "no correct option given; list at least one 0-based option index, e.g. [0]"))
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


def _explanation_rules(explanation: str, at: Loc, add: Any) -> None:
    length = _tg_len(explanation)
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
        add(
            (
                at,
                f"the explanation has {breaks} line breaks; Telegram allows at most "
                f"{POLL_EXPLANATION_MAX_LINE_BREAKS}; join some lines"
                + (hint if explanation.endswith("\n") else ""),
            )
        )


def _track_rules(track: Track) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    if not SLUG_RE.match(track.id):
        found.append((("id",), _slug_message("track id", track.id)))
    if not track.title.strip():
        found.append((("title",), "the title is empty; give the track a title"))
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
    suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    hint = f", e.g. `{suggestion}`" if suggestion and suggestion != value else ""
    return f"{what} `{value}` must be lowercase letters and digits joined by single hyphens{hint}"


def _format_loc(loc: Loc) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out


def validate_thread(thread: Thread) -> list[str]:
    """Check a thread built in code against every content rule; return readable messages."""
    return [
        f"{_format_loc(loc)}: {message}" if loc else message
        for loc, message in _thread_rules(thread)
    ]


# --------------------------------------------------------------------------------------------
# Mapping pydantic errors and rule locations back to YAML lines


def _node_at(root: yaml.Node | None, loc: Loc, want_key: bool = False) -> yaml.Node | None:
    """Return the deepest node along `loc` (the key node itself when `want_key`)."""
    node = root
    last = len(loc) - 1
    for i, item in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            # The last of duplicate keys wins when loading, so search from the end.
            for key_node, value_node in reversed(node.value):
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(item):
                    node = key_node if (want_key and i == last) else value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(item, int):
            if not 0 <= item < len(node.value):
                return node
            node = node.value[item]
        else:
            return node
    return node


def _line_of(root: yaml.Node | None, loc: Loc, want_key: bool = False) -> int | None:
    node = _node_at(root, loc, want_key)
    return node.start_mark.line + 1 if node is not None else None


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


def _error_message(error: ErrorDetails, root_model: type[BaseModel]) -> tuple[str, bool]:
    """Return a readable message for one pydantic error, and whether it is about the key."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    name = loc[-1] if loc else ""
    if kind == "missing":
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


def _model_problems(
    parsed: ParsedFile, exc: ValidationError, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message, about_key = _error_message(error, model)
        where = _format_loc(loc)
        text = f"{where}: {message}" if where else message
        problems.append(Problem(parsed.path, parsed.line(loc, want_key=about_key), text))
    return problems


def _rule_problems(parsed: ParsedFile, found: list[tuple[Loc, str]]) -> list[Problem]:
    return [
        Problem(parsed.path, parsed.line(loc), f"{_format_loc(loc)}: {msg}" if loc else msg)
        for loc, msg in found
    ]


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
    try:
        thread = Thread.model_validate(data)
    except ValidationError as exc:
        return None, _model_problems(parsed, exc, Thread)
    problems = _rule_problems(parsed, _thread_rules(thread))
    return (None if problems else thread), problems


def _build_track(parsed: ParsedFile) -> tuple[Track | None, list[Problem]]:
    if problem := _top_level_problem(parsed, "track"):
        return None, [problem]
    try:
        track = Track.model_validate(parsed.data)
    except ValidationError as exc:
        return None, _model_problems(parsed, exc, Track)
    problems = _rule_problems(parsed, _track_rules(track))
    return (None if problems else track), problems


def parse_thread_text(text: str, filename: str) -> tuple[Thread | None, list[Problem]]:
    """Parse and check one thread sent as YAML text (e.g. a file an admin uploaded)."""
    parsed = _parse_yaml(text, filename)
    if not parsed.parsed_ok:
        return None, parsed.problems
    data = parsed.data
    if isinstance(data, dict) and "threads" in data and "posts" not in data:
        message = "this is a track (it lists `threads:`), not a thread; send a thread file"
        return None, [*parsed.problems, Problem(filename, parsed.line(), message)]
    thread, problems = _build_thread(parsed)
    problems = parsed.problems + problems
    return (thread if not problems else None), problems


def check_files(
    parsed_files: Iterable[ParsedFile], extra_threads: Iterable[Thread] = ()
) -> tuple[Library | None, list[Problem]]:
    """Build the library from parsed files plus `extra_threads`, reporting every problem."""
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
        data_id = parsed.data.get("id") if isinstance(parsed.data, dict) else None
        if isinstance(data_id, str):
            known_ids.add(data_id)
            name = Path(parsed.path).name
            stem = Path(parsed.path).stem
            if data_id != stem:
                problems.append(
                    Problem(
                        parsed.path,
                        parsed.line(("id",)),
                        f"id `{data_id}` does not match the file name `{name}`; rename the "
                        f"file to `{data_id}.yaml` or set `id: {stem}`",
                    )
                )
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

    if problems:
        return None, problems
    return Library(threads=threads, tracks=tracks), []


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


def validate_paths(paths: Iterable[Path]) -> tuple[Library | None, list[Problem]]:
    """Check content files and folders; return the Library only when nothing is wrong."""
    files, problems = collect_files(paths)
    with paused_gc():
        library, found = check_files([parse_file(file) for file in files])
    problems.extend(found)
    return (library if not problems else None), problems
