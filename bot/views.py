"""What the services return, as text: HTML for the chat, plain text for the chat and the CLI.

No Telegram calls and no database here; every piece of content or user text is escaped.
"""

from __future__ import annotations

from html import escape

from bot.domain.admin import pace_label
from bot.services.quiz import ProgressReport
from bot.services.schedules import Schedule
from storage.admin import AdminStats

# --- /progress and quiz reminders ---------------------------------------------------------------


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def progress_html(report: ProgressReport) -> str:
    """The /progress text (HTML)."""
    lines = ["📈 <b>Your progress</b>"]
    if report.track_title:
        lines[0] += f" · {escape(report.track_title)}"
    completed = [t for t in report.threads if t.completed]
    reading = [t for t in report.threads if 0 < t.posts_read < t.posts_total]
    lines.append("")
    lines.append(f"<b>Threads completed:</b> {len(completed)}")
    for t in completed:
        right = f" · {t.accuracy.percent} right" if t.accuracy.answered else ""
        lines.append(f"✅ {escape(t.title)}{right}")
    if reading:
        lines.append(f"<b>In progress:</b> {len(reading)}")
        for t in reading:
            right = f" · {t.accuracy.percent} right" if t.accuracy.answered else ""
            lines.append(f"📖 {escape(t.title)} · post {t.posts_read} of {t.posts_total}{right}")
    lines.append("")
    overall = report.overall
    if overall.answered:
        lines.append(
            f"<b>Accuracy:</b> {overall.percent} ({overall.correct} of {overall.answered} answers)"
        )
    else:
        lines.append("<b>Accuracy:</b> no answers yet. Quizzes come with your installments.")
    s = report.streak
    flame = "🔥 " if s.current else ""
    today = "" if s.active_today or not s.current else " (keep it going today!)"
    lines.append(f"<b>Streak:</b> {flame}{_days(s.current)}{today} · longest {_days(s.longest)}")
    due = report.reviews_due
    lines.append(f"<b>Reviews due today:</b> {due}" + (" · send /review" if due else ""))
    if report.weakest:
        lines.append("")
        lines.append("<b>Weakest topics:</b>")
        for topic in report.weakest:
            acc = topic.accuracy
            lines.append(f"• {escape(topic.label)}: {acc.percent} ({acc.correct}/{acc.answered})")
        lines.append("/quiz retakes the questions of a thread you have finished.")
    return "\n".join(lines)


def reminder_html(count: int) -> str:
    what = "a quiz question" if count == 1 else f"{count} quiz questions"
    return (
        f"⏰ You have {what} from your installment waiting. Scroll up and tap an answer: it "
        "takes a few seconds and decides when the question comes back for review.\n"
        "<i>Reminders can be turned off in /settings.</i>"
    )


# --- admin reports (plain text: the chat shows them in <pre>, the CLI prints them) -------------


def schedule_line(schedule: Schedule) -> str:
    """`#3 csf-leak-blood-patch (thread) → Journal club (-100123, group) · 4 posts a day at
    08:00 Europe/London · next Mon 04 May 08:00 · active`, as plain text."""
    s = schedule
    gone = "" if s.plan_title else ", no longer in the library"
    plan = f"{s.plan_id} ({s.plan_kind}{gone})"
    chat = f"{s.chat_name} ({s.chat_id}, {s.kind})" if s.chat_name else f"{s.chat_id} ({s.kind})"
    when = f"{pace_label(s.pace)} at {s.delivery_time} {s.timezone}"
    nxt = f"next {s.next_local:%a %d %b %Y %H:%M}" if s.next_local else "no next send"
    return f"#{s.id} {plan} → {chat} · {when} · {nxt} · {s.status}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def stats_table(stats: AdminStats, *, max_questions: int | None = None) -> str:
    """A plain-text report with aligned columns (for a terminal, or a <pre> block)."""
    out: list[str] = ["Subscribers (trainees)"]
    for status, count in stats.subscribers.items():
        out.append(f"  {status:<11} {count:>7}")
    out.append(f"  {'total':<11} {sum(stats.subscribers.values()):>7}")
    out.append("")
    out.append(
        f"Deliveries, last 7 days: {stats.deliveries_last_7_days} messages "
        f"in {stats.installments_last_7_days} installments"
    )
    for day, count in stats.deliveries_by_day:
        out.append(f"  {day:%a %Y-%m-%d} {count:>7}")
    out.append("")
    out.append("Completions per thread")
    width = max((len(c.thread_id) for c in stats.completions), default=10)
    for c in stats.completions:
        out.append(f"  {c.thread_id:<{width}} {c.completions:>6}")
    out.append("")
    out.append("Accuracy per question, hardest first")
    if not stats.questions:
        out.append("  no answers yet")
    shown = stats.questions if max_questions is None else stats.questions[:max_questions]
    for q in shown:
        text = q.question if len(q.question) <= 60 else q.question[:59] + "…"
        out.append(
            f"  {_pct(q.accuracy):>4} {q.correct:>5}/{q.attempts:<5} "
            f"{q.thread_id} {q.question_id}: {text}"
        )
    if len(shown) < len(stats.questions):
        out.append(f"  … and {len(stats.questions) - len(shown)} more (tweetdrip stats)")
    return "\n".join(out)
