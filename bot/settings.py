"""Typed settings from the environment or a `.env` file."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///data/tweetdrip.db"


class Settings(BaseSettings):
    """Everything an operator can set; see the README for each variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = Field(
        default=None, description="python-telegram-bot base_url, e.g. http://127.0.0.1:8081/bot"
    )
    telegram_api_file_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    default_timezone: str = "UTC"
    default_delivery_time: str = "08:00"
    default_pace: int = Field(default=4, ge=0, le=50)

    dispatch_interval_seconds: float = Field(default=5.0, gt=0)
    dispatch_batch_size: int = Field(default=200, ge=1)
    dispatch_concurrency: int = Field(default=64, ge=1)
    dispatch_lease_seconds: float = Field(default=120.0, gt=0)
    # On SIGTERM/SIGINT: how long the messages in flight get to finish before the process
    # exits anyway. Under Docker's 10 s between `docker stop`'s SIGTERM and its SIGKILL.
    shutdown_grace_seconds: float = Field(default=8.0, ge=0)
    telegram_timeout_seconds: float = Field(default=10.0, gt=0)
    # Open connections to the Bot API. Telegram's ~30 msg/s needs few; httpx's pool spends
    # CPU on every request in proportion to its connections, so a big pool slows a fan-out.
    telegram_connections: int = Field(default=16, ge=1, le=256)
    rate_limit: bool = True  # Telegram's limits; turn off only against a local test server
    private_chat_interval_seconds: float = Field(default=1.0, ge=0)

    quiz_reminder_hours: float = Field(default=4.0, ge=0)
    idle_installments_before_pause: int = Field(default=3, ge=1)
    review_retention: float = Field(default=0.9, gt=0.5, lt=1.0)
    max_reviews_per_day: int = Field(default=5, ge=0)

    group_quiz_open_period: int = Field(default=30, ge=5, le=600)
    group_quiz_min_players: int = Field(default=2, ge=1)
    group_quiz_lobby_seconds: int = Field(default=120, ge=10)
    # Group quiz sessions (bot/handlers/group.py): at most this many questions per session;
    # a longer thread or track gets a random selection, asked in library order.
    group_quiz_max_questions: int = Field(default=10, ge=1, le=50)

    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = None

    log_level: str = "INFO"

    # -- the web console (bot/console): a Telegram Mini App served by the bot --
    web_listen: str = "0.0.0.0"
    # "off" serves no console; 0 picks a free port (tests). In webhook mode, WEBHOOK_PORT's
    # value puts the console on the webhook's own server.
    web_port: Annotated[int | None, NoDecode] = Field(default=8080, ge=0, le=65535)
    # The console's public HTTPS address (the menu button opens WEB_URL/app/).
    web_url: str | None = None
    # Telegram's sign-in (the Mini App init data) is refused once older than this.
    web_auth_max_age_seconds: int = Field(default=86400, ge=60)

    # -- production: shared send budget (bot/ratelimit.py), webhook (bot/webhook.py) --
    # Messages a second for this bot token in all; on PostgreSQL every process shares it.
    send_budget_per_second: float = Field(default=30.0, gt=0)
    # How long a webhook update being handled is held against redeliveries to other processes.
    webhook_update_lease_seconds: float = Field(default=300.0, gt=0)

    # -- admin tools (bot/handlers/admin.py) --
    # /broadcast edits its progress message after every this many sends.
    broadcast_progress_every: int = Field(default=50, ge=1)
    # Sends in flight at once; the rate limiter keeps the overall pace within Telegram's.
    broadcast_concurrency: int = Field(default=16, ge=1, le=256)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise ValueError(
                    "ADMIN_IDS must be Telegram user ids separated by commas, e.g. 12345,67890"
                ) from None
        return value

    @field_validator("web_port", mode="before")
    @classmethod
    def _port_or_off(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("off", "none", "false", "no", ""):
            return None
        return value

    @field_validator("web_url")
    @classmethod
    def _https_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                "WEB_URL must be the console's public HTTPS address, e.g. "
                "https://bot.example.org (Telegram opens Mini Apps over HTTPS only)"
            )
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/London"
            ) from None
        return value

    @field_validator("default_delivery_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        from bot.domain.timeparse import parse_clock_time

        return parse_clock_time(value).strftime("%H:%M")


class SettingsError(Exception):
    """The settings in the environment are not valid; `problems` has one line for each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_settings() -> Settings:
    """Read the settings; SettingsError names each variable that is wrong, and why."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError(problems) from None
