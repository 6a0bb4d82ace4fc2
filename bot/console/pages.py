"""The console's HTML: Jinja2 templates (everything escaped), served from the package."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.console.models import CalendarDay

CELL = 13  # the calendar's square, in SVG units
GAP = 3
LABEL = 16  # room for the weekday letters


@dataclass(frozen=True)
class Asset:
    """A file of static/, held in memory with its gzip form and a version for its URL."""

    name: str
    content_type: str
    body: bytes
    gzipped: bytes
    version: str


_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}


@cache
def assets() -> dict[str, Asset]:
    import gzip

    found = {}
    for entry in resources.files("bot.console").joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if not entry.is_file() or suffix not in _TYPES:
            continue
        body = entry.read_bytes()
        found[entry.name] = Asset(
            name=entry.name,
            content_type=_TYPES[suffix],
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            version=hashlib.sha256(body).hexdigest()[:12],
        )
    return found


def safe_url(value: str | None) -> str:
    """Only http(s) addresses become links or images; anything else (javascript:, data:)
    becomes nothing."""
    if not value:
        return ""
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return ""
    return value if scheme in ("http", "https") else ""


def day_label(value: dt.date | dt.datetime) -> str:
    """`Tue 6 Jan` (with the time for an instant: `Tue 6 Jan, 08:00`)."""
    text = f"{value:%a} {value.day} {value:%b}"
    if isinstance(value, dt.datetime):
        text += f", {value:%H:%M}"
    return text


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def calendar_cells(days: list[CalendarDay], today: dt.date) -> dict[str, Any]:
    """Squares for the streak calendar: a column per week, a row per weekday (Monday on top)."""
    cells = []
    for index, day in enumerate(days):
        if day.answered >= 3:
            level = 3
        elif day.answered:
            level = 2
        else:
            level = 1 if day.installment else 0
        what = [plural(day.answered, "answer") + f", {day.correct} right"] if day.answered else []
        if day.installment:
            what.append("installment")
        cells.append(
            {
                "x": LABEL + (index // 7) * (CELL + GAP),
                "y": (index % 7) * (CELL + GAP),
                "level": level,
                "today": day.day == today,
                "title": f"{day_label(day.day)}: {', '.join(what) or 'nothing'}",
            }
        )
    weeks = (len(days) + 6) // 7
    return {
        "cells": cells,
        "width": LABEL + weeks * (CELL + GAP),
        "height": 7 * (CELL + GAP),
        "size": CELL,
        "labels": [("M", 0), ("W", 2), ("F", 4)],
        "step": CELL + GAP,
    }


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.console", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(safe_url=safe_url, day=day_label)
    env.globals.update(plural=plural, calendar_cells=calendar_cells)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
