"""Output that never shows a secret: logs, and everything a command prints.

The bot token is in every Bot API URL and in some of the library's error messages; the
webhook secret is in the parameters of `setWebhook`, which the library logs at DEBUG; a
database password can travel in DATABASE_URL. Each is replaced by a placeholder wherever
this process writes text: the log handler filters records, and `redact_output` puts a
filter in front of stdout and stderr for everything else (command output, error messages,
tracebacks).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO, cast, get_args

from pydantic import SecretStr, ValidationError, create_model
from pydantic_settings import BaseSettings

from storage.db import DatabaseUnavailable, parse_url

if TYPE_CHECKING:
    from bot.settings import Settings

# Bot tokens look like 123456789:AA...; catch them anywhere, even ones we were not told about.
_TOKEN = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}")
TOKEN_PLACEHOLDER = "<token>"

# Secret value -> the placeholder shown instead of it.
Secrets = Mapping[str, str]


def secret_values(settings: Settings) -> dict[str, str]:
    """Every secret in `settings`: each SecretStr, the webhook secret and the database password.

    The webhook secret is derived from the token when WEBHOOK_SECRET is not set; the derived
    value proves a request comes from Telegram just the same, so it is hidden too.
    """
    from bot.webhook import WebhookConfigError, webhook_secret

    secrets: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            placeholder = TOKEN_PLACEHOLDER if name == "telegram_bot_token" else f"<{name}>"
            secrets[value.get_secret_value()] = placeholder
    if settings.telegram_bot_token is not None or settings.webhook_secret is not None:
        # An invalid WEBHOOK_SECRET is hidden above, as it was given.
        with contextlib.suppress(WebhookConfigError):
            secrets.setdefault(webhook_secret(settings), "<webhook_secret>")
    try:
        password = parse_url(settings.database_url).password
    except DatabaseUnavailable:  # explained, without the URL, where the database is opened
        password = None
    if password:
        secrets[str(password)] = "<password>"
    return secrets


def configured_secrets() -> dict[str, str]:
    """The secrets of the environment (and .env), even when another setting is invalid."""
    from bot.settings import Settings

    try:
        return secret_values(Settings())
    except ValidationError:
        pass
    # Another setting is wrong (the command will say which): read only the secret ones, which
    # cannot fail validation, and the database URL, as plain text.
    fields: dict[str, Any] = {
        name: (SecretStr | None, None)
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *get_args(field.annotation))
    }
    fields["database_url"] = (str, "")

    class SecretSettings(BaseSettings):
        model_config = Settings.model_config

    try:
        values = create_model("OnlySecrets", __base__=SecretSettings, **fields)()
    except (ValidationError, OSError, UnicodeError):
        return {}
    return secret_values(Settings.model_construct(**dict(values)))


def redact(text: str, secrets: Secrets | None = None) -> str:
    """Replace each known secret, and anything shaped like a bot token, with a placeholder."""
    if secrets:
        # Longest first: a secret that contains another is hidden whole.
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, secrets[secret])
    return _TOKEN.sub(TOKEN_PLACEHOLDER, text)


class RedactTokens(logging.Filter):
    """Replace secrets in every record (message and traceback) with placeholders."""

    def __init__(self, secrets: Secrets | None = None) -> None:
        super().__init__()
        self.secrets = {k: v for k, v in (secrets or {}).items() if k}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        return True


class RedactingStream:
    """A text stream that writes whole lines, secrets replaced, to the stream it wraps.

    Text is held until its line ends (or until a flush), so a secret written in pieces is
    still seen whole. No `buffer` attribute: nothing can write around the filter in bytes.
    """

    def __init__(self, stream: TextIO, secrets: Secrets) -> None:
        self.wrapped = stream
        self.secrets = {k: v for k, v in secrets.items() if k}
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            lines, newline, rest = self._pending.rpartition("\n")
            if newline:
                self.wrapped.write(redact(lines + newline, self.secrets))
                self._pending = rest
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.wrapped.write(redact(self._pending, self.secrets))
                self._pending = ""
        self.wrapped.flush()

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return self.wrapped.encoding

    @property
    def errors(self) -> str | None:
        return self.wrapped.errors

    @property
    def closed(self) -> bool:
        return self.wrapped.closed


def redact_output(secrets: Secrets) -> None:
    """Filter everything this process writes to stdout and stderr from now on."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            continue
        if isinstance(stream, RedactingStream):
            stream.flush()
            stream = stream.wrapped
        setattr(sys, name, cast(TextIO, RedactingStream(stream, secrets)))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever sys.stderr is at the time (it may be swapped after start-up)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def setup_logging(level: str, secrets: Secrets | None = None) -> None:
    """Log to stderr, secrets redacted; httpx's per-request INFO lines are silenced."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
