"""The /stats chart: deliveries per day and the hardest questions, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state), so it is
safe to call from a worker thread while the event loop keeps serving updates.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from storage.admin import AdminStats

HARDEST_SHOWN = 10


def stats_chart_png(stats: AdminStats) -> bytes:
    """Two panels: messages delivered on each of the last 7 days, and the accuracy of the
    hardest questions (lowest first)."""
    questions = stats.questions[:HARDEST_SHOWN]
    height = 3.2 + 0.42 * max(len(questions), 2)
    figure = Figure(figsize=(8, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=[3.0, 0.42 * max(len(questions), 2) + 0.6])

    days = [f"{day:%a}\n{day:%d %b}" for day, _ in stats.deliveries_by_day]
    counts = [count for _, count in stats.deliveries_by_day]
    top.bar(days, counts, color="#4C78A8")
    top.set_title(f"Messages delivered, last 7 days (total {sum(counts)})", fontsize=11)
    top.set_ylabel("messages")
    top.tick_params(axis="x", labelsize=8)
    top.spines[["top", "right"]].set_visible(False)
    for x, count in enumerate(counts):
        if count:
            top.annotate(str(count), (x, count), ha="center", va="bottom", fontsize=8)

    if questions:
        labels = [
            textwrap.shorten(
                f"{q.thread_id} {q.question_id}: {q.question}", width=52, placeholder="…"
            )
            for q in questions
        ]
        values = [q.accuracy * 100 for q in questions]
        positions = list(range(len(questions)))[::-1]  # hardest at the top
        bottom.barh(positions, values, color="#E45756")
        bottom.set_yticks(positions, labels, fontsize=8)
        bottom.set_xlim(0, 118)  # room for the labels after a 100% bar
        bottom.set_xticks([0, 20, 40, 60, 80, 100])
        bottom.set_xlabel("answered correctly (%)")
        for y, q in zip(positions, questions, strict=True):
            bottom.annotate(
                f" {q.accuracy * 100:.0f}% of {q.attempts}",
                (q.accuracy * 100, y),
                va="center",
                fontsize=8,
            )
    else:
        bottom.text(0.5, 0.5, "No quiz answers yet", ha="center", va="center")
        bottom.set_xticks([])
        bottom.set_yticks([])
    bottom.set_title("Hardest questions", fontsize=11)
    bottom.spines[["top", "right"]].set_visible(False)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
