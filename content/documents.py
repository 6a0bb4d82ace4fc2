"""Content files as plain data with line numbers: YAML in and out, and the problem types.

Reading is the first phase of validation (`content.validate` is the second): a file becomes
plain data, and every problem found on the way is a `Problem` with its line. Markdown
threads (`content.authoring`) reuse the YAML reader for their front matter.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ContentError",
    "FlowList",
    "Loc",
    "ParsedFile",
    "Problem",
    "ThreadDumper",
    "dump_yaml",
    "parse_yaml",
    "yaml_reason",
]

Loc = tuple[str | int, ...]
Severity = Literal["error", "warning"]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the content, located as precisely as possible.

    A warning is a quality concern that does not stop the content from loading.
    """

    path: Path | str
    line: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        if self.line is None:
            return f"{self.path}: {label}{self.message}"
        return f"{self.path}:{self.line}: {label}{self.message}"


class ContentError(Exception):
    """The content has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} content problem(s):\n{lines}")


@dataclasses.dataclass(slots=True)
class ParsedFile:
    """A content file after parsing: its data and any problems found while parsing.

    For YAML the node tree (for line numbers) is not kept: holding 1,000 trees makes every
    garbage collection slower, and only files with problems need it, so `node()` composes it
    again. A Markdown thread carries its line numbers in `lines` instead.
    """

    path: Path | str
    text: str | None = None
    data: Any = None
    problems: list[Problem] = dataclasses.field(default_factory=list)
    is_track: bool = False
    parsed_ok: bool = False
    lines: dict[Loc, int] | None = None  # Markdown: the line of each location in `data`
    id_from_name: bool = False  # Markdown without `id:`: the id is the file name's
    _node: yaml.Node | None = None

    @property
    def markdown(self) -> bool:
        return self.lines is not None

    def node(self) -> yaml.Node | None:
        """Return the composed YAML node tree (None when the text does not parse)."""
        if self._node is None and self.parsed_ok and self.text is not None and not self.markdown:
            loader = _ContentLoader(self.text)
            try:
                self._node = loader.get_single_node()
            finally:
                loader.dispose()
        return self._node

    def line(self, loc: Loc = (), want_key: bool = False) -> int | None:
        """Return the 1-based line of the node at `loc` (or of its nearest ancestor)."""
        if self.lines is not None:
            for end in range(len(loc), -1, -1):
                if (found := self.lines.get(loc[:end])) is not None:
                    return found
            return 1
        return line_of(self.node(), loc, want_key)

    def where(self, loc: Loc = ()) -> str:
        """Return `file:line` for the node at `loc`."""
        return f"{self.path}:{self.line(loc)}"


# --------------------------------------------------------------------------------------------
# Reading YAML

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


def parse_yaml(text: str, path: Path | str, first_line: int = 1) -> ParsedFile:
    """Parse YAML text into plain data; problems carry file lines (`first_line` is line 1's)."""
    parsed = ParsedFile(path, text)
    shift = first_line - 1
    loader = _ContentLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.build_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"this is not valid YAML: {yaml_reason(exc, text, first_line)}"
        parsed.problems.append(Problem(path, None if line is None else line + shift, message))
        return parsed
    except yaml.YAMLError as exc:
        parsed.problems.append(Problem(path, first_line, f"this is not valid YAML: {exc}"))
        return parsed
    finally:
        loader.dispose()
    for line, key in loader.duplicate_keys:
        parsed.problems.append(
            Problem(path, line + shift, f"`{key}` appears twice in the same mapping; keep only one")
        )
    parsed.data, parsed.parsed_ok = data, True
    return parsed


def yaml_reason(exc: yaml.MarkedYAMLError, text: str = "", first_line: int = 1) -> str:
    """Say in words why the YAML does not parse, naming tabs and misaligned indentation."""
    parts = [exc.context, exc.problem]
    reason = ", ".join(p for p in parts if p) or "cannot parse this"
    problem = exc.problem or ""
    mark = exc.problem_mark or exc.context_mark
    if mark is not None and text and (words := _layout_words(text, mark.line, problem, first_line)):
        return f"{words} (the parser says: {reason})"
    hint = ""
    if "mapping values are not allowed" in problem:
        hint = " (a value containing `: ` must be quoted or written as a `|` block)"
    elif "'\\t'" in problem or "tab character" in problem:
        hint = " (indent with spaces, not tabs)"
    elif "found undefined alias" in problem:
        hint = " (define the &anchor before using it)"
    elif "expected a single document" in (exc.context or ""):
        hint = " (put one thread or track per file, without `---` separators)"
    elif re.search(r"character '[@`]' that cannot start any token", problem):
        hint = ' (a value starting with @ or ` must be quoted: handle: "@janedoe")'
    return reason + hint


# The parser's words for a line that does not fit the structure around it.
_STRUCTURE_ERRORS = (
    "did not find expected '-' indicator",
    "did not find expected key",
    "expected <block end>",
    "mapping values are not allowed",
    "did not find expected <document start>",
)


def _layout_words(text: str, index: int, problem: str, first_line: int) -> str | None:
    """Explain a tab or a misaligned line at 0-based line `index`, or return None."""
    lines = text.split("\n")
    if not 0 <= index < len(lines):
        return None
    line = lines[index]
    lead = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in lead or ("tab" in problem and "\t" in line):
        return (
            "this line is indented with a tab; YAML indentation must be spaces, so replace "
            "the tab with spaces (two per level)"
        )
    if not any(words in problem for words in _STRUCTURE_ERRORS):
        return None
    above = next(
        (
            i
            for i in range(index - 1, -1, -1)
            if lines[i].strip() and not lines[i].lstrip().startswith("#")
        ),
        None,
    )
    if above is None:
        return None
    prev = lines[above]
    prev_indent = len(prev) - len(prev.lstrip(" "))
    columns = {prev_indent}
    if prev.lstrip(" ").startswith("- "):
        columns.add(prev_indent + 2)  # the keys of a list item start after its "- "
    indent = len(line) - len(line.lstrip(" "))
    if indent in columns or not line.strip():
        return None
    spaces = f"{indent} space{'' if indent == 1 else 's'}"
    deeper = indent > max(columns)
    if deeper and ":" in prev and not prev.rstrip().endswith(":"):
        return (
            f"this line is indented by {spaces}, more than line {above + first_line}, which "
            "already has its value; indent it like that line, or put a text that runs over "
            "several lines in quotes or a `|` block"
        )
    expected = " or ".join(str(c) for c in sorted(columns))
    return (
        f"this line is indented by {spaces}, but line {above + first_line} above it by "
        f"{expected}; YAML reads the structure from indentation, so the items of one list "
        "and the keys of one mapping must start in the same column"
    )


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


def line_of(root: yaml.Node | None, loc: Loc, want_key: bool = False) -> int | None:
    """Return the 1-based line of the node at `loc` under `root`."""
    node = _node_at(root, loc, want_key)
    return node.start_mark.line + 1 if node is not None else None


# --------------------------------------------------------------------------------------------
# Writing YAML

# Characters that YAML readers turn into a plain "\n" inside a block scalar (or refuse),
# so a string holding them must be written double-quoted, with escapes, to round-trip.
_UNSAFE_IN_BLOCK = frozenset("\r\x85\u2028\u2029")


class FlowList(list[Any]):
    """A short list written inline: `tags: [csf, neurorad]`."""


class ThreadDumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line text as `|` blocks and short lists inline."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not _UNSAFE_IN_BLOCK.intersection(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _UNSAFE_IN_BLOCK.intersection(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_flow_list(dumper: yaml.SafeDumper, value: FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


ThreadDumper.add_representer(str, _represent_str)
ThreadDumper.add_representer(FlowList, _represent_flow_list)


def without_empty(mapping: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """Drop keys whose value is None or empty, so drafts show only what was filled in."""
    kept = set(keep)
    return {k: v for k, v in mapping.items() if k in kept or v not in (None, "", [])}


def dump_yaml(document: Any) -> str:
    """Return `document` as YAML that reads well, edits easily and loads back unchanged."""
    return yaml.dump(
        document,
        Dumper=ThreadDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        # Never fold long lines: a folded plain scalar hides where the real line breaks are.
        width=1_000_000,
        indent=2,
    )
