"""Telegram Mini App init data: check it, and sign it for links made on this machine.

Init data is a URL-encoded query string (`user` as JSON, `auth_date`, `hash`, perhaps
`query_id`, `signature`, `chat_instance`, ...). Telegram signs it with the bot token:

    data-check string = every field except `hash`, sorted by key, `key=value`, joined by "\\n"
    secret key        = HMAC-SHA256(key=b"WebAppData", msg=bot token)
    hash              = hex HMAC-SHA256(key=secret key, msg=data-check string)

Whoever holds valid init data is that user until it is older than the allowed age, so the
console checks it on every request and keeps no session of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

# Telegram's clocks and ours may differ a little; more than this ahead is not a clock.
FUTURE_SKEW = dt.timedelta(minutes=5)
MAX_INIT_DATA = 8192  # characters; real init data is well under 2,000


class InitDataError(ValueError):
    """The init data is missing, malformed, forged or too old; the message says which."""


@dataclass(frozen=True)
class WebAppUser:
    """The signed-in person, as Telegram vouches for them."""

    id: int
    first_name: str
    last_name: str = ""
    username: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class InitData:
    user: WebAppUser
    auth_date: dt.datetime


def secret_key(token: str) -> bytes:
    """The key init data is signed with: HMAC-SHA256 of the bot token, keyed "WebAppData"."""
    return hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()


def _data_check_string(fields: Mapping[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def _hash(fields: Mapping[str, str], key: bytes) -> str:
    return hmac.new(key, _data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def check_init_data(raw: str, key: bytes, now: dt.datetime, max_age: dt.timedelta) -> InitData:
    """Return who signed in, or raise InitDataError (forged, stale, malformed)."""
    if not raw:
        raise InitDataError("no init data")
    if len(raw) > MAX_INIT_DATA:
        raise InitDataError("init data too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("init data is not a query string") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        # Two values for one key: which one was signed would depend on who reads it.
        raise InitDataError("a field appears twice")
    given = fields.get("hash", "")
    if not hmac.compare_digest(given.encode(), _hash(fields, key).encode()):
        raise InitDataError("the signature does not match")
    try:
        auth_date = dt.datetime.fromtimestamp(int(fields["auth_date"]), dt.UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        raise InitDataError("no auth_date") from None
    if now - auth_date > max_age:
        raise InitDataError("the init data has expired")
    if auth_date - now > FUTURE_SKEW:
        raise InitDataError("auth_date is in the future")
    return InitData(_user(fields.get("user")), auth_date)


def _user(raw: str | None) -> WebAppUser:
    try:
        data = json.loads(raw or "")
    except ValueError:
        raise InitDataError("no user") from None
    if not isinstance(data, dict) or type(data.get("id")) is not int:
        raise InitDataError("no user id")
    username = data.get("username")
    return WebAppUser(
        id=data["id"],
        first_name=str(data.get("first_name") or ""),
        last_name=str(data.get("last_name") or ""),
        username=username if isinstance(username, str) else None,
    )


def sign_init_data(user: WebAppUser, token: str, auth_date: dt.datetime, **extra: str) -> str:
    """Init data for `user` signed with `token`, as Telegram would make it (links, tests)."""
    profile: dict[str, object] = {"id": user.id, "first_name": user.first_name}
    if user.last_name:
        profile["last_name"] = user.last_name
    if user.username:
        profile["username"] = user.username
    fields = {
        "user": json.dumps(profile, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(auth_date.timestamp())),
        **extra,
    }
    fields["hash"] = _hash(fields, secret_key(token))
    # %20 rather than "+": the value goes into a URL fragment and back into a header as is.
    return urlencode(fields, quote_via=quote)
