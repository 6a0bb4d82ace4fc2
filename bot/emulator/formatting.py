"""Telegram's text rules: HTML parse mode, entity offsets and length limits.

Telegram measures text limits (4096 for messages, 1024 for captions, 300 for poll
questions, ...) in characters *after* the markup has been parsed, and refuses markup it
cannot parse with ``Bad Request: can't parse entities: ...``. This module reproduces the
HTML flavour closely enough that a message the emulator accepts is one Telegram accepts:
the supported tags, the four named entities plus numeric ones, tag nesting rules, and
the trimming of leading and trailing whitespace.

Markdown and MarkdownV2 are accepted but not parsed: the text is counted as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityParseError", "FormattedText", "format_text", "utf16_len"]

_TAG_TO_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:([a-zA-Z]+)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_ATTRIBUTE_RE = re.compile(
    r"""\s*(?P<name>[^\s=>/"']+)"""
    r"""(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9.\-]+)))?"""
)
_WHITESPACE = " \t\n\r\x0b\x0c"
_SPECIAL_RE = re.compile("[<&]")


class EntityParseError(ValueError):
    """The markup cannot be parsed; the message is Telegram's wording after the prefix."""


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Text as Telegram stores it: markup removed, entities with UTF-16 offsets."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> FormattedText:
    """Apply ``parse_mode`` (or explicit ``entities``) the way Telegram does.

    Raises:
        EntityParseError: for markup Telegram would refuse, or an unknown parse mode.
    """
    if parse_mode is None or parse_mode == "":
        return _trim(text, list(entities or []))
    mode = parse_mode.lower()
    if mode == "html":
        parsed, found = _parse_html(text)
        return _trim(parsed, found)
    if mode in ("markdown", "markdownv2"):
        return _trim(text, [])
    raise EntityParseError(f"unsupported parse_mode {parse_mode!r}")


def _trim(text: str, entities: list[dict[str, Any]]) -> FormattedText:
    """Drop surrounding whitespace and move entities with it, like Telegram."""
    stripped = text.strip(_WHITESPACE)
    if stripped == text:
        return FormattedText(text, sorted(entities, key=_entity_order))
    shift = utf16_len(text[: len(text) - len(text.lstrip(_WHITESPACE))])
    limit = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, sorted(kept, key=_entity_order))


def _entity_order(entity: dict[str, Any]) -> tuple[int, int]:
    return entity["offset"], -entity["length"]


@dataclass(slots=True)
class _OpenTag:
    name: str
    offset: int
    argument: str | None


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int] | None:
    """Decode the entity starting at ``index``; None when it is not one Telegram knows."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        return None
    name, decimal, hexadecimal = match.groups()
    if name is not None:
        decoded = _NAMED_ENTITIES.get(name)
        if decoded is None:
            return None
        return decoded, match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _unescape(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&" and (decoded := _decode_entity(value, index)) is not None:
            out.append(decoded[0])
            index = decoded[1]
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def _parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    offset = 0  # UTF-16 offset of the next output character
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    index = 0
    size = len(source)
    while index < size:
        special = _SPECIAL_RE.search(source, index)
        stop = special.start() if special else size
        if stop > index:
            plain = source[index:stop]
            out.append(plain)
            offset += utf16_len(plain)
            index = stop
            continue
        if source[index] == "&":
            decoded = _decode_entity(source, index)
            text, index = decoded if decoded is not None else ("&", index + 1)
            out.append(text)
            offset += utf16_len(text)
        elif index + 1 < size and source[index + 1] == "/":
            index = _close_tag(source, index, stack, entities, offset)
        else:
            index = _open_tag(source, index, stack, offset)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return "".join(out), entities


def _open_tag(source: str, start: int, stack: list[_OpenTag], offset: int) -> int:
    index = start + 1
    size = len(source)
    while index < size and source[index] not in _WHITESPACE and source[index] != ">":
        index += 1
    if index >= size:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
    name = source[start + 1 : index].lower()
    if name not in _TAG_TO_ENTITY:
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, start)}'
        )
    argument: str | None = None
    while True:
        while index < size and source[index] in _WHITESPACE:
            index += 1
        if index >= size:
            raise EntityParseError(
                f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, start)}'
            )
        if source[index] == ">":
            index += 1
            break
        match = _ATTRIBUTE_RE.match(source, index)
        if match is None or match.end() == index:
            raise EntityParseError(
                f"Unexpected end of name token at byte offset {_byte_offset(source, index)}"
            )
        index = match.end()
        attribute = match.group("name").lower()
        raw = match.group("dq")
        if raw is None:
            raw = match.group("sq")
        value = _unescape(raw) if raw is not None else (match.group("bare") or "")
        argument = _tag_argument(name, attribute, value, argument)
    if name == "span" and argument != "spoiler":
        raise EntityParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, start)}'
        )
    stack.append(_OpenTag(name, offset, argument))
    return index


def _tag_argument(name: str, attribute: str, value: str, current: str | None) -> str | None:
    if name == "a" and attribute == "href":
        return value
    if name == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if name == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if name == "tg-emoji" and attribute == "emoji-id":
        return value
    if name == "blockquote" and attribute == "expandable":
        return "expandable"
    return current


def _close_tag(
    source: str,
    start: int,
    stack: list[_OpenTag],
    entities: list[dict[str, Any]],
    offset: int,
) -> int:
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, start)}")
    close = source.find(">", start)
    if close == -1:
        raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, start)}")
    name = source[start + 2 : close].strip(_WHITESPACE).lower()
    tag = stack.pop()
    if name and name != tag.name:
        raise EntityParseError(
            f"Unmatched end tag at byte offset {_byte_offset(source, start)}, "
            f'expected "</{tag.name}>", found "</{name}>"'
        )
    if offset > tag.offset:
        entity = _entity_for(tag, offset - tag.offset)
        if entity is not None:
            _merge_code_into_pre(entities, entity)
    return close + 1


def _entity_for(tag: _OpenTag, length: int) -> dict[str, Any] | None:
    kind = _TAG_TO_ENTITY[tag.name]
    entity: dict[str, Any] = {"type": kind, "offset": tag.offset, "length": length}
    if kind == "text_link":
        if not tag.argument:
            return None
        entity["url"] = tag.argument
    elif kind == "custom_emoji":
        if not (tag.argument or "").isdigit():
            raise EntityParseError("Invalid custom emoji identifier specified")
        entity["custom_emoji_id"] = tag.argument
    elif kind == "code" and tag.argument:
        entity["language"] = tag.argument
    elif kind == "blockquote" and tag.argument == "expandable":
        entity["type"] = "expandable_blockquote"
    return entity


def _merge_code_into_pre(entities: list[dict[str, Any]], entity: dict[str, Any]) -> None:
    """``<pre><code class="language-x">`` is one pre entity with a language."""
    if entities:
        last = entities[-1]
        same_span = last["offset"] == entity["offset"] and last["length"] == entity["length"]
        if same_span and {last["type"], entity["type"]} == {"pre", "code"}:
            language = last.get("language") or entity.get("language")
            merged: dict[str, Any] = {
                "type": "pre",
                "offset": entity["offset"],
                "length": entity["length"],
            }
            if language:
                merged["language"] = language
            entities[-1] = merged
            return
    entities.append(entity)
