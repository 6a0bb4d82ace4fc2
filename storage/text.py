"""Text from Telegram users, made safe to store."""

from __future__ import annotations

import unicodedata

# Control characters (NUL among them: PostgreSQL refuses it in text) and lone surrogates
# (JSON can carry them; UTF-8 cannot encode them). Format characters such as the zero-width
# joiner inside emoji are kept.
_DROPPED = ("Cc", "Cs")
NAME_LIMIT = 100  # a person's or a chat's name as stored


def clean_text(value: str, limit: int) -> str:
    """`value` without control characters (line breaks and tabs become spaces), trimmed, cut
    to at most `limit` characters."""
    cleaned = "".join(
        " " if char.isspace() else char
        for char in value
        if char.isspace() or unicodedata.category(char) not in _DROPPED
    )
    return " ".join(cleaned.split())[:limit].rstrip()
