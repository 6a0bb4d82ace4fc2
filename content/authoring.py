"""Threads written in Markdown (the authoring format), read with line numbers and written back.

The guide is docs/authoring.md. In short:

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
    > Post 2: CT measures density; blood is denser than water.

Rules of the reader:

- Front matter (YAML between `---` lines): `title`, `author` ("Name (@handle)", "Name",
  "@handle" or a mapping with `name` and `handle`), `source` (the original's URL),
  `published`, `tags`, and optionally `id` (default: the file name as a slug), `status`
  (complete | partial), `kind` (tweetorial | article | notes), `imported_from`, `schema`.
- A post starts with its number at the start of a line (`1/ `, `2/ `, ... in order) and runs
  until the next number or section heading, blank lines and all. A line holding only an image
  (`![alt](url)`) is one of the post's images; a line `[Original post](url)` links the
  original. Trailing spaces are dropped.
- `## Quiz`: `### After post N` or `### At the end`, then questions: `Q:` (the text may go on
  over the next lines), options `- [x]` (right; several allowed) and `- [ ]` (wrong), `> `
  lines (the explanation), and optionally `Image: URL`, `Source post: N` (default: the post
  the question follows; `none` for no post) and `Id: q1` (default: derived from the words of
  the question).
- `## References`: items `- [Title](url)` or `- Title`, citation lines indented below.
- `<!-- comments -->` are ignored anywhere after the front matter.
- Escapes, which the writer adds only where plain text would be misread: a line starting
  with `\\` is plain text with that backslash removed (`\\2/ ...` inside a post, `\\` alone is
  an empty line), and `&#NN;` / `&#xHH;` stand for one character (a space at the end of a
  line, an invisible control character).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from pathlib import Path, PurePath
from typing import Any

from content.documents import FlowList, Loc, ParsedFile, Problem, dump_yaml, line_of, parse_yaml
from content.models import QUESTION_ID_MAX, SCHEMA_VERSION, Author, Thread

__all__ = [
    "FRONT_MATTER_KEYS",
    "MARKDOWN_SUFFIXES",
    "dump_thread_markdown",
    "format_author",
    "is_authoring_markdown",
    "parse_author",
    "parse_markdown",
    "scaffold_markdown",
    "slugify",
]

MARKDOWN_SUFFIXES = (".md", ".markdown")
FRONT_MATTER_KEYS = (
    "id",
    "title",
    "author",
    "source",
    "published",
    "kind",
    "imported_from",
    "tags",
    "status",
    "schema",
)
# Front matter keys that fill in the thread's `source` mapping.
_SOURCE_KEYS = {
    "source": "url",
    "published": "published",
    "kind": "kind",
    "imported_from": "imported_from",
}

_MARKER = re.compile(r"^(\d{1,4})/(?:[ \t]+(.*))?$")
_LOOSE_MARKER = re.compile(r"^\(?\d{1,4}(?:/\d*|/N|\.|\))\S")
_HEADING = re.compile(r"^(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*$")
_IMAGE = re.compile(r"^!\[[^\]\n]*\]\((\S+)\)$")
_ORIGINAL = re.compile(
    r"^\[(?:view (?:the )?)?(?:original(?: post| tweet)?|post|tweet)\]\((\S+)\)$", re.IGNORECASE
)
_AFTER_POST = re.compile(r"^after\s+post\s+(\d{1,4})$", re.IGNORECASE)
_AT_END = re.compile(r"^(?:at\s+the\s+end|after\s+the\s+last\s+post)$", re.IGNORECASE)
_QUESTION = re.compile(r"^Q:(?:[ \t]+(.*))?$", re.IGNORECASE)
_OPTION = re.compile(r"^[-*+][ \t]+\[([ xX])\](?:[ \t]+(.*))?$")
_BULLET = re.compile(r"^[-*+][ \t]+(.*)$")
_BULLETISH = re.compile(r"^[-*+](?:[ \t]|$)")
_EXPLANATION = re.compile(r"^>[ \t]?(.*)$")
_KEY_LINE = re.compile(r"^(image|source[ \t]+post|id)[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_LINK_ITEM = re.compile(r"^\[(.*)\]\((\S+)\)$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CHAR_REF = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));")
# What the writer turns into `&#NN;`: the start of a reference or of a comment, and
# characters an editor would drop or turn into a line break.
_NEEDS_REF = re.compile(r"&#|<!--|[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_READWISE_SIGNS = re.compile(
    r"^##\s+highlights\s*$|\[view (?:tweet|highlight)\]\(|rw-book-cover|synced by \[\[readwise\]\]",
    re.IGNORECASE | re.MULTILINE,
)
_BLANKS = " \t"


# --------------------------------------------------------------------------------------------
# Small helpers shared by the reader and the writer


def slugify(text: str, max_len: int = 48) -> str:
    """Lowercase ASCII words joined by single hyphens, cut at a word within `max_len`."""
    text = text.replace("&", " and ").replace("’", "").replace("'", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[: max_len + 1]
        slug = (cut[: cut.rfind("-")] if "-" in cut else slug[:max_len]).strip("-")
    return slug


def parse_author(text: str) -> Author:
    """Read `Jane Doe (@janedoe)`, `Jane Doe` or `@janedoe`."""
    text = text.strip()
    m = re.fullmatch(r"(.*?)[ \t]*\((@[^\s()]+)\)", text)
    if m and m.group(1).strip():
        return Author(name=m.group(1), handle=m.group(2))
    if re.fullmatch(r"@[^\s()@]+", text):
        return Author(name=text[1:], handle=text)
    return Author(name=text)


def format_author(author: Author) -> str | None:
    """Return `Name (@handle)` when it reads back as `author`, else None."""
    text = author.name if author.handle is None else f"{author.name} ({author.handle})"
    return text if parse_author(text) == author else None


def _decode(text: str) -> str:
    def replace(m: re.Match[str]) -> str:
        code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group(0)

    return _CHAR_REF.sub(replace, text) if "&#" in text else text


def _ref(char: str) -> str:
    return f"&#{ord(char)};"


def _encode(text: str, *, lead: bool = True, brackets: bool = False) -> str:
    """Write one line of text so the reader gives it back exactly."""
    out = _NEEDS_REF.sub(lambda m: _ref(m.group(0)[0]) + m.group(0)[1:], text)
    out = out.replace("\n", "&#10;")
    if brackets:
        out = out.replace("[", "&#91;").replace("]", "&#93;")
    if out and out[-1] in _BLANKS:
        out = out[:-1] + _ref(out[-1])
    if lead and out and out[0] in _BLANKS:
        out = _ref(out[0]) + out[1:]
    return out


# --------------------------------------------------------------------------------------------
# Reading


def is_authoring_markdown(text: str) -> bool:
    """Tell a thread in the authoring format from an export that needs `content import`.

    It is one when it has numbered posts (a line starting `1/ `) or a `## Quiz` section, and
    front matter or that quiz section, and none of a Readwise export's marks.
    """
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    front = lines[0].rstrip(_BLANKS) == "---"
    posts = any(_MARKER.match(line.rstrip(_BLANKS)) for line in lines)
    quiz = any(_is_section(line, "quiz") for line in lines)
    return (posts or quiz) and (front or quiz) and not _READWISE_SIGNS.search(text)


def _is_section(line: str, name: str) -> bool:
    m = _HEADING.match(line.rstrip(_BLANKS))
    return bool(m and len(m.group(1)) == 2 and (m.group(2) or "").strip().lower() == name)


@dataclasses.dataclass
class _Question:
    line: int
    after_post: int | None
    heading_line: int
    text: list[str] = dataclasses.field(default_factory=list)
    options: list[tuple[int, str, bool]] = dataclasses.field(default_factory=list)
    explanation: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    keys: dict[str, tuple[int, str]] = dataclasses.field(default_factory=dict)
    open_text: bool = True  # lines right after `Q:` continue its text


@dataclasses.dataclass
class _Post:
    number: int
    line: int
    text: list[tuple[str, bool]] = dataclasses.field(default_factory=list)  # (line, escaped)
    media: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    url: tuple[int, str] | None = None
    inline_first: bool = False


@dataclasses.dataclass
class _Reference:
    line: int
    title: str
    url: str | None
    citation: list[tuple[int, str]] = dataclasses.field(default_factory=list)


class _Reader:
    """One pass over the body of a Markdown thread, section by section."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.posts: list[_Post] = []
        self.questions: list[_Question] = []
        self.references: list[_Reference] = []
        self.heading_title: tuple[int, str] | None = None
        self.lines: dict[Loc, int] = {}
        self.section = "start"
        self.after: tuple[int | None, int] | None = None  # (after_post, heading line)
        self.sections_seen: set[str] = set()
        self._said: set[str] = set()

    def problem(self, line: int | None, message: str, once: str | None = None) -> None:
        if once is not None:
            if once in self._said:
                return
            self._said.add(once)
        self.problems.append(Problem(self.path, line, message))

    def read(self, body: list[tuple[int, str]]) -> None:
        for number, raw in body:
            self.read_line(number, raw)

    def read_line(self, number: int, raw: str) -> None:
        heading = _HEADING.match(raw) if raw.startswith("#") else None
        if heading:
            self.read_heading(number, len(heading.group(1)), (heading.group(2) or "").strip())
            return
        if self.section in ("start", "posts") and (m := _MARKER.match(raw)):
            self.start_post(number, int(m.group(1)), m.group(2))
            return
        if self.section == "posts":
            self.post_line(number, raw)
        elif self.section == "start":
            self.before_posts(number, raw)
        elif self.section == "quiz":
            self.quiz_line(number, raw)
        elif self.section == "references":
            self.reference_line(number, raw)
        # an unknown section was reported at its heading; its lines are skipped

    # --- headings and posts

    def read_heading(self, number: int, level: int, title: str) -> None:
        name = title.lower()
        if level == 2 and name in ("quiz", "references"):
            if name in self.sections_seen:
                self.problem(number, f"a second `## {title}` section; keep one")
            self.section = name
            self.sections_seen.add(name)
            self.lines[(name,)] = number
            return
        if level == 3 and self.section == "quiz":
            if m := _AFTER_POST.match(title):
                self.after = (int(m.group(1)), number)
            elif _AT_END.match(title):
                self.after = (None, number)
            else:
                self.problem(
                    number,
                    f"`### {title}` is not a quiz heading; write `### After post N` or "
                    "`### At the end` above the questions",
                )
                self.after = (None, number)  # reported once here, not again per question
            return
        if level == 3 and (_AFTER_POST.match(title) or _AT_END.match(title)):
            self.problem(
                number,
                f"`### {title}` belongs in the quiz; put a `## Quiz` line above it",
                once="quiz-heading-missing",
            )
            self.section = "quiz"
            self.read_heading(number, level, title)
            return
        if level == 1 and self.section == "start" and self.heading_title is None:
            self.heading_title = (number, title)
            return
        where = "in a post" if self.section == "posts" else "here"
        self.problem(
            number,
            f"`{'#' * level} {title}` is not a section of a thread ({where}); a thread has "
            "numbered posts, then `## Quiz` and `## References`. Telegram would show a heading "
            "as plain text: remove it, or start the line with `\\` to keep it as text",
        )
        if self.section == "posts":
            return  # keep reading the post's text after it
        self.section = "unknown"

    def start_post(self, number: int, value: int, rest: str | None) -> None:
        expected = len(self.posts) + 1
        if value != expected:
            self.problem(
                number,
                f"post numbered {value}/ where {expected}/ was expected; number the posts "
                "1/, 2/, 3/ ... in order (`### After post N` refers to these numbers)",
            )
        post = _Post(number=expected, line=number)
        if rest is not None:
            rest = rest.strip(_BLANKS)
            escaped = rest.startswith("\\")
            post.text.append((rest[1:] if escaped else rest, escaped))
            post.inline_first = True
        self.posts.append(post)
        self.section = "posts"
        i = expected - 1
        self.lines[("posts", i)] = number

    def post_line(self, number: int, raw: str) -> None:
        post = self.posts[-1]
        i = post.number - 1
        if raw.startswith("\\"):
            post.text.append((raw[1:], True))
        elif m := _IMAGE.match(raw):
            self.lines[("posts", i, "media", len(post.media))] = number
            if not post.media:
                self.lines[("posts", i, "media")] = number
            post.media.append((number, m.group(1)))
        elif m := _ORIGINAL.match(raw):
            if post.url is not None:
                self.problem(
                    number,
                    f"post {post.number} already links its original on line "
                    f"{post.url[0]}; keep one `[Original post](url)` line",
                )
            post.url = (number, m.group(1))
            self.lines[("posts", i, "url")] = number
        else:
            post.text.append((raw, False))

    def before_posts(self, number: int, raw: str) -> None:
        if not raw:
            return
        hint = ""
        if _LOOSE_MARKER.match(raw):
            hint = " (write the number as `1/` followed by a space, without a total)"
        self.problem(
            number,
            "text before the first post; start each post with its number and a slash, "
            f"`1/ ...`{hint}",
            once="before",
        )

    # --- the quiz

    def quiz_line(self, number: int, raw: str) -> None:
        # Structure may be indented; a line starting with `\\` is text, whatever follows.
        line = raw.lstrip(_BLANKS)
        if m := _QUESTION.match(line):
            self.start_question(number, (m.group(1) or "").strip(_BLANKS))
            return
        question = self.questions[-1] if self.questions else None
        if question is None:
            if raw:
                self.problem(
                    number,
                    "text in the quiz outside a question; start each question with `Q: `",
                    once=f"outside{self.after}",
                )
            return
        if not raw:
            question.open_text = False
            return
        if raw.startswith("\\"):
            if question.open_text:
                question.text.append(raw[1:])
                return
        elif m := _OPTION.match(line):
            question.open_text = False
            text = _decode((m.group(2) or "").strip(_BLANKS))
            question.options.append((number, text, m.group(1) in "xX"))
            return
        elif m := _EXPLANATION.match(line):
            question.open_text = False
            question.explanation.append((number, _decode(m.group(1).strip(_BLANKS))))
            return
        elif m := _KEY_LINE.match(line):
            question.open_text = False
            key = re.sub(r"[ \t]+", " ", m.group(1).lower())
            if key in question.keys:
                self.problem(
                    number,
                    f"`{m.group(1)}:` is given twice for this question (first on line "
                    f"{question.keys[key][0]}); keep one",
                )
            question.keys[key] = (number, m.group(2).strip(_BLANKS))
            return
        elif _BULLETISH.match(line):
            question.open_text = False
            self.problem(
                number,
                "an option needs a checkbox: `- [x] ...` for a right answer, `- [ ] ...` for "
                "a wrong one",
            )
            return
        elif question.open_text:
            question.text.append(raw)
            return
        self.problem(
            number,
            "this line is not part of the question above; a question has its `Q:` line, "
            "options (`- [x]` right, `- [ ]` wrong), `> ` explanation lines, and `Image:`, "
            "`Source post:` or `Id:` lines (leave a blank line, then `Q:` for the next one)",
        )

    def start_question(self, number: int, first: str) -> None:
        if self.after is None:
            self.problem(
                number,
                "this question has no `### After post N` or `### At the end` heading above "
                "it; add one so it is sent at the right moment",
                once="no-heading",
            )
        after_post, heading_line = self.after if self.after else (None, number)
        question = _Question(line=number, after_post=after_post, heading_line=heading_line)
        question.text.append(first[1:] if first.startswith("\\") else first)
        self.questions.append(question)

    # --- references

    def reference_line(self, number: int, raw: str) -> None:
        if not raw:
            return
        if m := _BULLET.match(raw):
            item = m.group(1).strip(_BLANKS)
            if link := _LINK_ITEM.match(item):
                self.references.append(_Reference(number, _decode(link.group(1)), link.group(2)))
            else:
                self.references.append(_Reference(number, _decode(item), None))
            return
        if raw[0] in _BLANKS and self.references:
            content = raw.strip(_BLANKS)
            if content.startswith("\\"):
                content = content[1:]
            self.references[-1].citation.append((number, _decode(content)))
            return
        self.problem(
            number,
            "in `## References`, start each reference with `- ` (`- [Title](url)` or "
            "`- Title`) and indent its citation lines under it",
            once="refs",
        )


def _strip_comments(
    lines: list[str], first: int, path: Path | str
) -> tuple[list[tuple[int, str]], list[Problem]]:
    """Number the lines from `first` and drop `<!-- -->` comments (a line that held only a
    comment goes away entirely); trailing blanks are dropped too."""
    kept: list[tuple[int, str]] = []
    opened_on: int | None = None  # the line of a comment still open
    for i, line in enumerate(lines):
        number = first + i
        touched = opened_on is not None
        pieces: list[str] = []
        pos = 0
        while True:
            if opened_on is not None:
                end = line.find("-->", pos)
                if end < 0:
                    break
                pos, opened_on = end + 3, None
            else:
                start = line.find("<!--", pos)
                if start < 0:
                    pieces.append(line[pos:])
                    break
                pieces.append(line[pos:start])
                pos, opened_on, touched = start + 4, number, True
        text = "".join(pieces).rstrip(_BLANKS)
        if not (touched and not text):
            kept.append((number, text))
    problems = []
    if opened_on is not None:
        problems.append(Problem(path, opened_on, "this comment is never closed; end it with `-->`"))
    return kept, problems


def parse_markdown(text: str, path: Path | str) -> ParsedFile:
    """Read a thread in the authoring format into the data a YAML thread file holds.

    Problems of the Markdown itself are in `problems`; the data is checked like YAML data
    afterwards, with `lines` giving the Markdown line of every location.
    """
    text = text.replace("\r\n", "\n")
    parsed = ParsedFile(path, text, lines={(): 1})
    lines = text.split("\n")
    front: dict[str, Any] = {}
    body_start = 0
    if lines[0].rstrip(_BLANKS) == "---":
        # The closing line is at the start of a line: inside a YAML block it would be indented.
        end = next(
            (i for i in range(1, len(lines)) if lines[i].rstrip(_BLANKS) in ("---", "...")), None
        )
        if end is None:
            parsed.problems.append(
                Problem(
                    path,
                    1,
                    "the front matter that starts here never ends; close it with "
                    "a line `---` before the first post",
                )
            )
            return parsed
        front = _read_front_matter(lines[1:end], parsed)
        body_start = end + 1
    else:
        parsed.problems.append(
            Problem(
                path,
                1,
                "the front matter is missing: start the file with a `---` line, then "
                "`title: ...` and `author: Name (@handle)` lines, then `---`",
            )
        )
    body, found = _strip_comments(lines[body_start:], body_start + 1, path)
    parsed.problems.extend(found)
    reader = _Reader(path)
    reader.read(body)
    parsed.problems.extend(reader.problems)
    assert parsed.lines is not None
    parsed.lines.update(reader.lines)
    parsed.lines.setdefault(("posts",), body_start + 1)
    if reader.heading_title is not None:
        line, title = reader.heading_title
        if "title" not in front:
            front["title"] = _decode(title)
            parsed.lines[("title",)] = line
        elif front["title"] != _decode(title):
            parsed.problems.append(
                Problem(
                    path,
                    line,
                    "this heading and the front matter's `title` differ; keep one (the title "
                    "is what trainees see)",
                )
            )
    data = _thread_data(front, reader, parsed)
    parsed.data = data
    if "id" not in front:
        stem = PurePath(str(path)).stem
        data["id"] = slugify(stem) or slugify(str(data.get("title") or "")) or "thread"
        parsed.id_from_name = True
    parsed.parsed_ok = True
    return parsed


def _read_front_matter(lines: list[str], parsed: ParsedFile) -> dict[str, Any]:
    """Parse the front matter (file lines 2...) and note the line of every key."""
    assert parsed.lines is not None
    text = "".join(line + "\n" for line in lines)
    found = parse_yaml(text, parsed.path, first_line=2)
    parsed.problems.extend(found.problems)
    if not found.parsed_ok or found.data is None:
        return {}
    if not isinstance(found.data, dict):
        parsed.problems.append(
            Problem(parsed.path, 2, "the front matter must be `key: value` lines")
        )
        return {}
    node = found.node()

    def line(loc: Loc, want_key: bool = False) -> int:
        return (line_of(node, loc, want_key) or 1) + 1

    front: dict[str, Any] = {}
    for key, value in found.data.items():
        if key not in FRONT_MATTER_KEYS:
            close = difflib.get_close_matches(str(key), FRONT_MATTER_KEYS, n=1)
            guess = f"did you mean `{close[0]}`? " if close else ""
            parsed.problems.append(
                Problem(
                    parsed.path,
                    line((key,), want_key=True),
                    f"unknown front matter key `{key}`; {guess}allowed keys: "
                    f"{', '.join(FRONT_MATTER_KEYS)}",
                )
            )
            continue
        front[key] = value
        target: Loc = ("source", _SOURCE_KEYS[key]) if key in _SOURCE_KEYS else (key,)
        parsed.lines[target] = line((key,))
        if key == "author" and isinstance(value, dict):
            for sub in value:
                parsed.lines[("author", sub)] = line((key, sub))
        if key == "tags" and isinstance(value, list):
            for i in range(len(value)):
                parsed.lines[("tags", i)] = line((key, i))
    if "source" in front:
        parsed.lines[("source",)] = parsed.lines[("source", "url")]
    return front


def _thread_data(front: dict[str, Any], reader: _Reader, parsed: ParsedFile) -> dict[str, Any]:
    """Assemble the thread as the plain data a YAML file would hold."""
    assert parsed.lines is not None
    data: dict[str, Any] = {"schema": front.get("schema", SCHEMA_VERSION)}
    for key in ("id", "title"):
        if key in front:
            data[key] = front[key]
    if "author" in front:
        author = front["author"]
        if isinstance(author, str):
            parsed_author = parse_author(author)
            data["author"] = {"name": parsed_author.name, "handle": parsed_author.handle}
        elif isinstance(author, dict):
            data["author"] = author
        else:
            parsed.problems.append(
                Problem(
                    parsed.path,
                    parsed.lines.get(("author",)),
                    "author: write the author as `Name (@handle)`, `Name` or `@handle`",
                )
            )
    source: dict[str, Any] = {}
    for key, field in _SOURCE_KEYS.items():
        if key in front:
            source[field] = front[key]
    data["source"] = source
    tags = front.get("tags", [])
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    elif tags is None:
        tags = []
    data["tags"] = tags
    if "status" in front:
        data["status"] = front["status"]
    data["posts"] = [_post_data(post) for post in reader.posts]
    data["quiz"] = _quiz_data(reader, parsed.lines)
    data["references"] = [
        _reference_data(ref, i, parsed.lines) for i, ref in enumerate(reader.references)
    ]
    return data


def _post_data(post: _Post) -> dict[str, Any]:
    lines = list(post.text)
    if not post.inline_first:
        while lines and not lines[0][0] and not lines[0][1]:
            lines.pop(0)
    while lines and not lines[-1][0] and not lines[-1][1]:
        lines.pop()
    data: dict[str, Any] = {"text": "\n".join(_decode(line) for line, _ in lines)}
    if post.media:
        data["media"] = [url for _, url in post.media]
    if post.url is not None:
        data["url"] = post.url[1]
    return data


def _quiz_data(reader: _Reader, lines: dict[Loc, int]) -> list[dict[str, Any]]:
    quiz: list[dict[str, Any]] = []
    explicit = {q.keys["id"][1] for q in reader.questions if "id" in q.keys}
    taken = set(explicit)
    for i, q in enumerate(reader.questions):
        at: Loc = ("quiz", i)
        text = "\n".join(_decode(line) for line in q.text)
        item: dict[str, Any] = {}
        if "id" in q.keys:
            lines[(*at, "id")] = q.keys["id"][0]
            item["id"] = q.keys["id"][1]
        else:
            item["id"] = _derived_id(text, i, taken)
        item["question"] = text
        item["options"] = [option for _, option, _ in q.options]
        item["correct"] = [j for j, (_, _, right) in enumerate(q.options) if right]
        if q.explanation:
            item["explanation"] = "\n".join(line for _, line in q.explanation)
            lines[(*at, "explanation")] = q.explanation[0][0]
        item["after_post"] = q.after_post
        item["source_post"] = q.after_post
        if "source post" in q.keys:
            line, value = q.keys["source post"]
            lines[(*at, "source_post")] = line
            if value.lower() == "none":
                item["source_post"] = None
            elif value.isdigit():
                item["source_post"] = int(value)
            else:
                reader.problem(line, f"`Source post: {value}`: write a post number, or `none`")
        if "image" in q.keys:
            lines[(*at, "image")] = q.keys["image"][0]
            item["image"] = q.keys["image"][1]
        lines[at] = q.line
        lines[(*at, "question")] = q.line
        lines[(*at, "after_post")] = q.heading_line
        lines.setdefault((*at, "source_post"), q.heading_line)
        lines[(*at, "options")] = q.options[0][0] if q.options else q.line
        lines[(*at, "correct")] = lines[(*at, "options")]
        for j, (line, _, _) in enumerate(q.options):
            lines[(*at, "options", j)] = line
        for k, j in enumerate(item["correct"]):
            lines[(*at, "correct", k)] = q.options[j][0]
        quiz.append(item)
    return quiz


def _derived_id(text: str, index: int, taken: set[str]) -> str:
    """An id from the question's first words, so adding or moving questions keeps it."""
    base = slugify(text, min(32, QUESTION_ID_MAX - 3)) or f"q{index + 1}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _reference_data(ref: _Reference, i: int, lines: dict[Loc, int]) -> dict[str, Any]:
    lines[("references", i)] = ref.line
    data: dict[str, Any] = {"title": ref.title}
    if ref.url is not None:
        data["url"] = ref.url
    if ref.citation:
        data["citation"] = "\n".join(line for _, line in ref.citation)
        lines[("references", i, "citation")] = ref.citation[0][0]
    return data


# --------------------------------------------------------------------------------------------
# Writing


def _front_matter_yaml(front: dict[str, Any]) -> str:
    """The front matter's YAML, without the document-end marker (`...`) PyYAML writes after a
    value that keeps trailing blank lines: it would end the front matter early. Those blank
    lines themselves stay, so the value reads back unchanged."""
    return dump_yaml(front).removesuffix("...\n").removesuffix("\n")


def _front_matter(thread: Thread) -> dict[str, Any]:
    source = thread.source
    author: Any = format_author(thread.author)
    if author is None:
        author = {"name": thread.author.name}
        if thread.author.handle is not None:
            author["handle"] = thread.author.handle
    front: dict[str, Any] = {"id": thread.id, "title": thread.title, "author": author}
    if thread.schema_version != SCHEMA_VERSION:
        front = {"schema": thread.schema_version, **front}
    if source.url:
        front["source"] = source.url
    if source.published is not None:
        front["published"] = source.published
    if source.kind != "tweetorial":
        front["kind"] = source.kind
    if source.imported_from:
        front["imported_from"] = source.imported_from
    if thread.tags:
        front["tags"] = FlowList(thread.tags)
    if thread.status != "complete":
        front["status"] = thread.status
    return front


def _needs_escape_in_post(line: str) -> bool:
    return bool(
        line.startswith("\\")
        or line.startswith("#")
        or _MARKER.match(line)
        or _IMAGE.match(line)
        or _ORIGINAL.match(line)
    )


def _needs_escape_in_question(line: str) -> bool:
    bare = line.lstrip(_BLANKS)
    return bool(
        not line
        or line[0] == "\\"
        or bare.startswith(("#", ">"))
        or _BULLETISH.match(bare)
        or _QUESTION.match(bare)
        or _KEY_LINE.match(bare)
    )


def _first_line(text: str) -> str:
    """The part of a first line written after `1/ ` or `Q: `."""
    encoded = _encode(text)
    return "\\" + encoded if not encoded or encoded.startswith("\\") else encoded


def _post_lines(number: int, post: Any) -> list[str]:
    text_lines = post.text.split("\n")
    out = [f"{number}/ {_first_line(text_lines[0])}"]
    rest = text_lines[1:]
    for k, line in enumerate(rest):
        encoded = _encode(line, lead=False)
        last = k == len(rest) - 1
        if (not encoded and last) or (encoded and _needs_escape_in_post(encoded)):
            encoded = "\\" + encoded
        out.append(encoded)
    out.extend(f"![]({url})" for url in post.media)
    if post.url:
        out.append(f"[Original post]({post.url})")
    return out


def _question_lines(question: Any) -> list[str]:
    text_lines = question.question.split("\n")
    out = [f"Q: {_first_line(text_lines[0])}"]
    for line in text_lines[1:]:
        encoded = _encode(line, lead=False)
        out.append("\\" + encoded if _needs_escape_in_question(encoded) else encoded)
    for j, option in enumerate(question.options):
        mark = "x" if j in question.correct else " "
        out.append(f"- [{mark}] {_encode(option)}".rstrip(_BLANKS))
    if question.explanation:
        out.extend(
            f"> {_encode(line)}".rstrip(_BLANKS) for line in question.explanation.split("\n")
        )
    if question.image is not None:
        out.append(f"Image: {question.image}")
    if question.source_post != question.after_post:
        shown = "none" if question.source_post is None else str(question.source_post)
        out.append(f"Source post: {shown}")
    out.append(f"Id: {question.id}")
    return out


def _reference_lines(ref: Any) -> list[str]:
    if ref.url is not None:
        head = f"- [{_encode(ref.title, brackets=True)}]({ref.url})"
    else:
        title = _encode(ref.title)
        head = f"- {'&#91;' + title[1:] if title.startswith('[') else title}"
    out = [head.rstrip(_BLANKS)]
    if ref.citation:
        for line in ref.citation.split("\n"):
            encoded = _encode(line)
            out.append("  " + ("\\" + encoded if not encoded or encoded[0] == "\\" else encoded))
    return out


def dump_thread_markdown(thread: Thread) -> str:
    """Return `thread` in the authoring format; reading it back gives the same thread."""
    out = ["---", _front_matter_yaml(_front_matter(thread)), "---"]
    for number, post in enumerate(thread.posts, 1):
        if number > 1:
            out.append("")
        out.extend(_post_lines(number, post))
    if thread.quiz:
        out += ["", "## Quiz"]
        previous: object = object()
        for question in thread.quiz:
            if question.after_post != previous:
                heading = (
                    "At the end"
                    if question.after_post is None
                    else f"After post {question.after_post}"
                )
                out += ["", f"### {heading}"]
                previous = question.after_post
            else:
                out.append("")
            out.extend(_question_lines(question))
    if thread.references:
        out += ["", "## References"]
        for ref in thread.references:
            out.extend(_reference_lines(ref))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# A new thread


def scaffold_markdown(thread_id: str, title: str | None = None, author: str | None = None) -> str:
    """Return a new thread in the authoring format: valid, with TODO where words are needed."""
    front = {
        "id": thread_id,
        "title": title or "TODO: the title trainees see",
        "author": author or "TODO Your Name (@yourhandle)",
    }
    head = _front_matter_yaml(front)
    return f"""---
# The thread's details, in YAML. Lines starting with # are comments.
{head}
# The original thread, if there is one, and when it was published:
# source: https://x.com/yourhandle/status/1234567890
# published: 2024-10-11
# tags: [neuroradiology, ct]
---
<!--
Write the thread as numbered posts: "1/ ", "2/ ", ... A post runs until the next number, so
it can hold several paragraphs. An image goes on a line of its own: ![what it shows](https://...)
Replace every TODO: `tweetdrip content validate FILE` points at those left, and publishing
refuses a thread that still has one. The guide: docs/authoring.md.
-->
1/ TODO: the first post of your thread.

2/ TODO: the second post.

## Quiz
<!--
A question follows the post it tests ("### After post N") or waits for the end ("### At the
end"). Mark the right option with [x] (several are allowed) and the wrong ones with [ ]. The
"> " line explains the answer and names the post it comes from. "Id:" keeps the question's
identity when you reword it; answers and review schedules are stored under it.
-->

### After post 2
Q: TODO: a question about post 2?
- [x] TODO: the right answer
- [ ] TODO: a wrong answer
- [ ] TODO: another wrong answer
> Post 2: TODO: why the right answer is right.
Id: q1
"""
