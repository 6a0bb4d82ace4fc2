"""Admin rules with no Telegram and no database in them: reading /schedule, preparing imports.

The Telegram handlers (bot/handlers/admin.py) and the operator CLI (bot/cli_admin.py) both
use these (through bot/services/), so a schedule typed in a chat and one typed in a shell
are checked the same way.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from bot.domain.schedule import local_instant
from bot.domain.timeparse import InputError, parse_clock_time, parse_timezone, zone
from content.importers import ContentImportError, import_text
from content.loader import dump_thread_yaml
from content.models import Library, Thread
from content.validate import parse_thread_text, validate_thread

PlanKind = Literal["thread", "track"]
ChatKind = Literal["group", "channel"]

MAX_PACE = 50
SCHEDULE_USAGE = (
    "/schedule <thread|track> <chat> <YYYY-MM-DD> <HH:MM> [time zone] [posts per day]\n"
    "e.g. /schedule csf-leak-blood-patch @mychannel 2026-05-04 08:00 Europe/London 3"
)


# --- /schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRequest:
    """A checked `/schedule` (or `tweetdrip schedule add`): everything but the chat's kind."""

    plan_kind: PlanKind
    plan_id: str
    plan_title: str
    chat: int | str  # a numeric chat id, or "@channelusername"
    timezone: str
    delivery_time: str  # HH:MM, local
    pace: int  # posts per day; 0 means a whole thread a day
    start_at: dt.datetime  # UTC
    start_local: dt.datetime  # aware, in `timezone` (after any DST-gap shift)
    shifted: bool  # the wall time fell in a DST gap and was moved forward


def resolve_plan(library: Library, text: str) -> tuple[PlanKind, str, str]:
    """`csf-leak-blood-patch`, `track:neuroradiology` or `thread:x` → (kind, id, title)."""
    raw = text.strip()
    prefix, sep, rest = raw.partition(":")
    wanted: PlanKind | None = None
    if sep and prefix.lower() in ("thread", "track"):
        wanted, raw = ("thread" if prefix.lower() == "thread" else "track"), rest.strip()
    key = raw.lower()
    is_thread = key in library.threads and wanted in (None, "thread")
    is_track = key in library.tracks and wanted in (None, "track")
    if is_thread and is_track:
        raise InputError(
            f"“{raw}” is both a thread and a track; write thread:{key} or track:{key}."
        )
    if is_thread:
        return "thread", key, library.threads[key].title
    if is_track:
        return "track", key, library.tracks[key].title
    known = [*library.threads, *library.tracks]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return_kind = wanted or "thread or track"
    raise InputError(
        f"I don't know a {return_kind} called “{raw[:60]}”.{hint} /threads lists the library."
    )


_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_LINK = re.compile(r"^(?:https?://)?t(?:elegram)?\.me/([A-Za-z][A-Za-z0-9_]{3,31})/?$")


def parse_chat_ref(text: str) -> int | str:
    """A group or channel: its numeric id (negative) or a public @username (or t.me link)."""
    raw = text.strip()
    link = _LINK.match(raw)
    if link:
        raw = "@" + link.group(1)
    if _USERNAME.match(raw):
        return raw
    if re.fullmatch(r"-?\d{1,20}", raw):
        chat_id = int(raw)
        if chat_id > 0:
            raise InputError(
                f"{chat_id} is a person's chat; groups and channels have negative ids such as "
                "-1001234567890. Trainees subscribe themselves with /start."
            )
        if chat_id == 0:
            raise InputError("0 is not a chat id.")
        return chat_id
    raise InputError(
        f"“{raw[:40]}” is not a chat: give the group's or channel's numeric id "
        "(e.g. -1001234567890) or a channel's @username."
    )


_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(text: str) -> dt.date:
    match = _DATE.match(text.strip())
    if not match:
        raise InputError(
            f"“{text.strip()[:40]}” is not a date: write it as YYYY-MM-DD, e.g. 2026-05-04."
        )
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise InputError(
            f"{text.strip()} is not a day of the calendar; write it as YYYY-MM-DD."
        ) from None


def parse_pace(text: str) -> int:
    try:
        pace = int(text)
    except ValueError:
        raise InputError(f"“{text[:20]}” is not a number of posts per day.") from None
    if not 0 <= pace <= MAX_PACE:
        raise InputError(
            f"Posts per day go from 1 to {MAX_PACE} (0 sends a whole thread each day)."
        )
    return pace


def parse_schedule_args(
    args: Sequence[str],
    library: Library,
    now: dt.datetime,
    *,
    default_timezone: str,
    default_pace: int,
) -> ScheduleRequest:
    """Check `<thread|track> <chat> <YYYY-MM-DD> <HH:MM> [zone] [posts per day]`.

    The zone may be several words (`New York`); a last word that is a number is the pace.
    Raises InputError with a message that says what to fix.
    """
    tokens = [a for a in args if a.strip()]
    if len(tokens) >= 3 and "T" in tokens[2] and len(tokens[2]) > 10:  # 2026-05-04T08:00
        date_part, _, time_part = tokens[2].partition("T")
        tokens[2:3] = [date_part, time_part]
    if len(tokens) < 4:
        raise InputError(f"Usage: {SCHEDULE_USAGE}")
    plan_kind, plan_id, title = resolve_plan(library, tokens[0])
    chat = parse_chat_ref(tokens[1])
    day = parse_date(tokens[2])
    at = parse_clock_time(tokens[3])
    rest = tokens[4:]
    pace = default_pace
    if rest and re.fullmatch(r"-?\d+", rest[-1]):
        pace = parse_pace(rest.pop())
    timezone = parse_timezone(" ".join(rest)) if rest else default_timezone
    tz = zone(timezone)
    start_at = local_instant(day, at, tz)
    start_local = start_at.astimezone(tz)
    if start_at < now:
        local_now = now.astimezone(tz)
        raise InputError(
            f"{day:%Y-%m-%d} {at:%H:%M} ({timezone}) is in the past: it is already "
            f"{local_now:%Y-%m-%d %H:%M} there. Pick a later start."
        )
    return ScheduleRequest(
        plan_kind=plan_kind,
        plan_id=plan_id,
        plan_title=title,
        chat=chat,
        timezone=timezone,
        delivery_time=at.strftime("%H:%M"),
        pace=pace,
        start_at=start_at,
        start_local=start_local,
        shifted=start_local.time().replace(tzinfo=None) != at,
    )


@dataclass(frozen=True)
class PublishTarget:
    """A group or channel the bot may post into (as Telegram confirmed, or as an operator
    said)."""

    chat_id: int
    title: str
    kind: ChatKind


CHANNEL_NOTE = (
    "Channel polls are anonymous: the quizzes there show the results, but nobody's answers "
    "or scores are recorded."
)


def schedule_confirmation(
    schedule_id: int, request: ScheduleRequest, target: PublishTarget
) -> list[str]:
    """What the admin is told once a schedule is stored (plain text lines)."""
    lines = [
        f"📅 Scheduled #{schedule_id}: {request.plan_title} ({request.plan_kind}) into "
        f"{target.title or target.chat_id} ({target.kind}).",
        f"First installment {request.start_local:%a %d %b %Y %H:%M} {request.timezone}, then "
        f"{pace_label(request.pace)} at {request.delivery_time}.",
    ]
    if request.shifted:
        lines.append(
            f"{request.delivery_time} does not exist on that day in {request.timezone} "
            f"(clocks go forward), so the first one goes at {request.start_local:%H:%M}."
        )
    if target.kind == "channel":
        lines.append(CHANNEL_NOTE)
    return lines


def pace_label(pace: int) -> str:
    if pace == 0:
        return "a whole thread a day"
    return "1 post a day" if pace == 1 else f"{pace} posts a day"


# --- /import --------------------------------------------------------------------------------

MAX_IMPORT_BYTES = 1024 * 1024
# .csv: Readwise's CSV export; .js/.json: the X archive's tweets.js.
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".csv", ".js", ".json")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ImportDraft:
    thread: Thread
    yaml_text: str  # what is stored and loaded back


@dataclass
class ImportResult:
    filename: str
    drafts: list[ImportDraft] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # `file:line: message`
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.drafts)


def check_import_file(filename: str, size: int | None) -> None:
    """Refuse a wrong type or an oversized file before downloading it."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in TEXT_SUFFIXES + YAML_SUFFIXES:
        shown = f"“{filename[:60]}”" if filename else "This file"
        raise InputError(
            f"{shown} is not a file I can import. Send a .md, .txt or .csv export "
            "(Thread Reader App, Readwise, X, Markdown), tweets.js or a .yaml thread."
        )
    if size is not None and size > MAX_IMPORT_BYTES:
        raise InputError(
            f"“{filename[:60]}” is {size / 1024 / 1024:.1f} MB; the limit is 1 MB. "
            "Split it into one file per thread."
        )


def prepare_import(filename: str, data: bytes, library: Library) -> ImportResult:
    """Turn an uploaded file into checked drafts, or into a list of problems; store nothing."""
    result = ImportResult(filename)
    try:
        check_import_file(filename, len(data))
    except InputError as exc:
        result.problems.append(f"{filename}: {exc}")
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.problems.append(
            f"{filename}: this is not UTF-8 text (byte {exc.start}); save it as UTF-8 and "
            "send it again"
        )
        return result
    is_yaml = PurePath(filename).suffix.lower() in YAML_SUFFIXES
    if is_yaml:
        thread, problems = parse_thread_text(text, filename)
        result.problems.extend(str(p) for p in problems)
        if thread is not None:
            result.drafts.append(ImportDraft(thread, text))
            if not thread.quiz:
                result.notes.append(f"{thread.id}: no quiz questions; trainees get posts only")
    else:
        try:
            report = import_text(text, "auto", source_name=filename)
        except ContentImportError as exc:
            result.problems.append(f"{filename}: {exc}")
            return result
        result.notes.extend(report.notes)
        result.drafts.extend(ImportDraft(t, dump_thread_yaml(t)) for t in report.threads)
    for draft in result.drafts:
        thread = draft.thread
        result.problems.extend(f"{filename}: {message}" for message in validate_thread(thread))
        if thread.id in library.threads:
            # Line numbers only mean something in a file the admin wrote as YAML.
            where = _id_line(draft.yaml_text) if is_yaml else None
            location = f"{filename}:{where}" if where else filename
            result.problems.append(
                f"{location}: thread id `{thread.id}` is already in the library "
                f"(“{library.threads[thread.id].title}”); give this thread another id"
            )
    if result.problems:
        result.drafts = []
    return result


def _id_line(yaml_text: str) -> int | None:
    for number, line in enumerate(yaml_text.splitlines(), 1):
        if re.match(r"^id\s*:", line):
            return number
    return None


def import_token(items: Iterable[tuple[str, str]]) -> str:
    """A short fingerprint of (id, YAML) pairs, so a stale Publish button cannot publish
    a newer upload."""
    digest = hashlib.sha256()
    for thread_id, yaml_text in sorted(items):
        digest.update(thread_id.encode())
        digest.update(b"\0")
        digest.update(yaml_text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def import_summary_lines(result: ImportResult) -> list[str]:
    """`title — 12 posts, 14 questions, complete (id)` per thread, then the importer's notes."""
    lines = []
    for draft in result.drafts:
        t = draft.thread
        lines.append(
            f"{t.title} — {len(t.posts)} posts, {len(t.quiz)} questions, {t.status} (id {t.id})"
        )
    return lines


# --- /threads ----------------------------------------------------------------------------------


def library_lines(library: Library, imported: Collection[str] = ()) -> list[str]:
    """One line per thread (id, title, posts, questions, status), then the tracks."""
    lines = []
    for t in library.threads.values():
        origin = ", imported" if t.id in imported else ""
        lines.append(
            f"{t.id} · {t.title} · {len(t.posts)} posts · {len(t.quiz)} questions · "
            f"{t.status}{origin}"
        )
    return lines


def track_lines(library: Library) -> list[str]:
    return [f"{tr.id} · {tr.title} · {len(tr.threads)} threads" for tr in library.tracks.values()]
