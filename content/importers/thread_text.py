"""A thread pasted as plain text, or a Typefully-style draft: one post after another.

Rules:

- An optional front matter block ("---" YAML "---" at the top) gives title, author, url
  (or source, link), tags and published.
- Posts are separated by "---" lines (then blank lines are paragraph breaks inside a post);
  otherwise by runs of three or more blank lines, as Typefully writes them (then single
  blank lines are paragraph breaks); otherwise by blank lines.
- Inside a block, a line starting with the next number ("4/ ...", "(4/12) ...") starts the
  next post too.
- Numbering is removed and puts the posts in order: at the start ("1/", "1/N", "(1/21)",
  "🧵1/"; "1." and "1)" when at least two posts in a row start so), or at the end ("... 2/4",
  a last line "10/N END"; inline only when at least two posts end with consecutive numbers).
  "END", "fin", "/end" closing a post are removed and end the thread.
- "![alt](url)" images and image URLs on a line of their own (pbs.twimg.com, .jpg, .png,
  .gif, .webp) become `media` (the alt text stays as "Image: <alt>"); a pic.twitter.com link
  stays in the text and marks the post as having media.
- Status is "partial" when the numbering skips posts or announces more ("1/12") than found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from content.importers._common import (
    Draft,
    author_from,
    clean_tags,
    fit_post,
    front_matter,
    is_marker_only,
    parse_marker,
    parse_trailing_marker,
    status_notes,
    strip_end_words,
    tidy,
    title_from_posts,
)
from content.importers._links import has_short_media_link

IMPORTED_FROM = "Thread text (plain or Typefully draft)"

_SEPARATOR_RE = re.compile(r"^[ \t]*(?:-{3,}|—{2,}|_{3,}|\*{3,})[ \t]*$")
_IMAGE_MD_RE = re.compile(r"!\[(?P<alt>[^\]\n]{0,300})\]\((?P<url>[^)\s]{1,2000})\)")
_IMAGE_LINE_RE = re.compile(
    r"^[ \t]*(?P<url>https?://(?:pbs\.twimg\.com/media/\S+|\S+\.(?:jpe?g|png|gif|webp)"
    r"(?:[?#]\S*)?))[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_GENERIC_ALT = {"", "image", "img", "photo", "picture", "media"}
_THREAD_OPENING_RE = re.compile(r"🧵|👇|\b(?:a |this )?(?:thread|tweetorial)\b", re.IGNORECASE)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """The front matter fields and the text after them."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((k for k in range(1, min(len(lines), 100)) if lines[k].strip() == "---"), None)
    meta = front_matter(lines[1:end]) if end is not None else None
    if meta is None or end is None:
        return {}, text
    return meta, "\n".join(lines[end + 1 :])


def separator(text: str) -> str:
    """Which separator the text uses between posts: "rule", "gap" (3+ blank lines), "blank"."""
    lines = text.strip("\n").split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return "blank"
    first, last = content[0], content[-1]
    if any(_SEPARATOR_RE.match(lines[i]) for i in range(first + 1, last)):
        return "rule"
    if re.search(r"\S[ \t]*\n(?:[ \t]*\n){3,}[ \t]*\S", text):
        return "gap"
    return "blank"


def blocks(text: str) -> list[str]:
    """The text cut into blocks at its separator."""
    kind = separator(text)
    if kind == "rule":
        parts: list[str] = []
        current: list[str] = []
        for line in text.split("\n"):
            if _SEPARATOR_RE.match(line):
                parts.append("\n".join(current))
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current))
    elif kind == "gap":
        parts = re.split(r"\n(?:[ \t]*\n){3,}", text)
    else:
        parts = re.split(r"\n(?:[ \t]*\n)+", text)
    return [p.strip("\n") for p in parts if p.strip()]


def _split_at_numbers(block: str, last: int) -> tuple[list[str], int]:
    """Cut a block where a line starts with the next post number ("4/ ...")."""
    out: list[list[str]] = [[]]
    for line in block.split("\n"):
        marker = parse_marker(line)
        if (
            marker is not None
            and marker.style == "/"
            and marker.rest.strip()
            and (marker.number == last + 1 or (last == 0 and marker.number == 1))
        ):
            if out[-1]:
                out.append([])
            last = marker.number
        out[-1].append(line)
    return ["\n".join(lines) for lines in out if lines], last


@dataclass
class _Piece:
    text: str
    number: int | None = None
    total: int | None = None
    final: bool = False


def _provisional(text: str) -> int | None:
    """The post number a strong marker at the start, or a number line at the end, gives."""
    lead = parse_marker(text)
    if lead is not None and lead.style == "/":
        return lead.number
    end = parse_trailing_marker(text)
    return end.number if end is not None else None


def _weak_ok(texts: list[str], index: int, number: int) -> bool:
    """A "2." or "2)" starting a post is its number when a neighbour is numbered 1 or 3, or
    another post in a row starts the same way."""
    before = texts[index - 1] if index > 0 else None
    after = texts[index + 1] if index + 1 < len(texts) else None
    for other, want in ((before, number - 1), (after, number + 1)):
        if other is None:
            continue
        lead = parse_marker(other)
        if (lead is not None and lead.number == want) or _provisional(other) == want:
            return True
    return False


def number_pieces(texts: list[str]) -> list[_Piece]:
    """Take the numbering (start or end) and end words off each post."""
    texts = [strip_end_words(raw.strip())[0] for raw in texts]
    inline_ends = set()
    for text in texts:
        end = parse_trailing_marker(text)
        if end is not None and end.rest and not is_marker_only(text.rsplit("\n", 1)[-1]):
            inline_ends.add(end.number)
    inline_ok = any(n + 1 in inline_ends for n in inline_ends)
    pieces: list[_Piece] = []
    for index, raw in enumerate(texts):
        piece = _Piece(raw)
        text, final = strip_end_words(raw)
        lead = parse_marker(text)
        if lead is not None and (lead.style == "/" or _weak_ok(texts, index, lead.number)):
            piece.number, piece.total = lead.number, lead.total
            final = final or lead.final
            text = lead.rest
        head, _, last = text.rpartition("\n")
        end = parse_trailing_marker(text)
        marker_line = is_marker_only(last)
        if (
            end is not None
            and (marker_line or (inline_ok and end.rest))
            and piece.number in (None, end.number)
        ):
            piece.number = end.number
            piece.total = end.total or piece.total
            final = final or end.final
            text = head if marker_line else end.rest
        text, more = strip_end_words(tidy(text))
        piece.text, piece.final = tidy(text), final or more
        pieces.append(piece)
    return pieces


def take_images(text: str) -> tuple[str, list[str], list[str]]:
    """Remove "![alt](url)" images and image URLs on lines of their own; return the text,
    the image URLs and the alt texts worth keeping."""
    media = [m.group("url") for m in _IMAGE_MD_RE.finditer(text)]
    alts = [
        m.group("alt").strip()
        for m in _IMAGE_MD_RE.finditer(text)
        if m.group("alt").strip().casefold() not in _GENERIC_ALT
    ]
    text = _IMAGE_MD_RE.sub("", text)
    media.extend(m.group("url") for m in _IMAGE_LINE_RE.finditer(text))
    return tidy(_IMAGE_LINE_RE.sub("", text)), media, alts


def parse(text: str, source_name: str = "") -> list[Draft]:
    """Turn a thread written post after post into one draft."""
    meta, body = split_front_matter(text)
    texts: list[str] = []
    last = 0
    for block in blocks(body):
        parts, last = _split_at_numbers(block, last)
        texts.extend(parts)
    taken = [take_images(t) for t in texts]
    pieces = number_pieces([words for words, _, _ in taken])
    kept = [(p, media, alts) for p, (_, media, alts) in zip(pieces, taken, strict=True)]
    merged: list[tuple[_Piece, list[str], list[str]]] = []
    for piece, media, alts in kept:
        if not piece.text and media and merged and piece.number is None:
            # An image pasted on its own after a post belongs to that post.
            merged[-1][1].extend(media)
            merged[-1][2].extend(alts)
        elif piece.text or media:
            merged.append((piece, media, alts))
    kept = merged
    if not kept:
        return []
    numbers = [p.number for p, _, _ in kept]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        kept.sort(key=lambda item: item[0].number or 0)
    posts = []
    for piece, media, alts in kept:
        words = "\n\n".join([piece.text, *(f"Image: {alt}" for alt in alts)]).strip()
        has_media = True if media or has_short_media_link(words) else None
        posts.extend(fit_post(words, media, has_media=has_media))
    if not posts:
        return []
    numbered = [n for n in numbers if n is not None]
    totals = [p.total for p, _, _ in kept if p.total is not None]
    announced = max(totals) if totals else None
    status, notes = status_notes(
        numbered if len(numbered) == len(numbers) else [], announced, len(kept)
    )
    if numbered and len(numbered) != len(numbers):
        notes.append(
            f"{len(numbers) - len(numbered)} of {len(numbers)} posts have no number; "
            "kept in the order written"
        )
    url = meta.get("url") or meta.get("source") or meta.get("link") or None
    tags = re.split(r"[,\s]+", meta.get("tags", "")) if meta.get("tags") else []
    return [
        Draft(
            title=meta.get("title") or title_from_posts([p.text for p in posts]),
            posts=posts,
            author=author_from(meta.get("author")),
            url=url if url and re.match(r"^https?://\S+$", url) else None,
            kind="tweetorial",
            imported_from=IMPORTED_FROM,
            status=status,
            tags=clean_tags(tags),
            notes=notes,
            announced=announced,
        )
    ]


def looks_like(text: str) -> bool:
    """True for text written post by post: "---" or 3-blank-line separators between short
    blocks, or blocks that start (or end) with consecutive post numbers."""
    _, body = split_front_matter(text)
    if re.search(r"^#{1,6}\s", body, re.MULTILINE):
        return False
    parts = blocks(body)
    if len(parts) < 2:
        return False
    short = sum(1 for p in parts if len(p) <= 320)
    if separator(body) in ("rule", "gap") and short * 4 >= len(parts) * 3:
        return True
    numbers = [p.number for p in number_pieces(parts) if p.number is not None]
    in_sequence = any(n + 1 in numbers for n in numbers)
    if in_sequence and len(numbers) * 2 >= len(parts):
        return True
    # An un-numbered thread: it says so at the start, and every post is tweet-sized.
    opening = _THREAD_OPENING_RE.search(parts[0])
    return bool(opening) and len(parts) >= 3 and short == len(parts)
