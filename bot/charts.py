"""The /progress chart: activity and accuracy over the last weeks, as a PNG.

Drawn with matplotlib's Agg canvas on a bare `Figure` (no pyplot): headless, no global
figure registry, nothing to close, safe to call from a worker thread.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.domain.scoring import DayActivity

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.8, 100  # 800 x 480 pixels
ROLLING_DAYS = 7
BAR_POINTS = 10.0  # bar width in points for six weeks of days; fewer days, wider bars
RIGHT_COLOUR = "#0072B2"  # blue and orange stay distinct for colour-blind readers
WRONG_COLOUR = "#E69F00"
LINE_COLOUR = "#333333"

# Matplotlib's text layout keeps shared caches; one chart at a time is plenty fast.
_DRAWING = threading.Lock()


def rolling_accuracy(activity: Sequence[DayActivity], window: int = ROLLING_DAYS) -> list[float]:
    """Accuracy over the `window` days ending each day (NaN where nothing was answered)."""
    values = []
    for index in range(len(activity)):
        block = activity[max(0, index - window + 1) : index + 1]
        answered = sum(d.answered for d in block)
        correct = sum(d.correct for d in block)
        values.append(correct / answered if answered else float("nan"))
    return values


def progress_chart_png(activity: Sequence[DayActivity], title: str = "Your last weeks") -> bytes:
    """Render daily answers (right/wrong), installment days and rolling accuracy as a PNG."""
    # Days are plotted as 0..n-1 with weekly labels set by hand: date locators and
    # formatters cost more than everything else on the chart.
    x = list(range(len(activity)))
    right = [d.correct for d in activity]
    totals = [d.answered for d in activity]
    weekly = x[::7]
    with _DRAWING:
        # Fixed margins: a layout engine would measure every label and double the time.
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        FigureCanvasAgg(figure)
        bars, line = figure.subplots(
            2,
            1,
            sharex=True,
            height_ratios=[3, 2],
            gridspec_kw={"left": 0.1, "right": 0.98, "top": 0.9, "bottom": 0.08, "hspace": 0.08},
        )
        # Each stack is two thick vertical lines: one collection each instead of a patch per bar.
        width = BAR_POINTS * 42 / max(len(activity), 1)
        stack = {"linewidth": width, "capstyle": "butt"}
        bars.vlines(x, right, totals, color=WRONG_COLOUR, label="wrong", **stack)
        bars.vlines(x, 0, right, color=RIGHT_COLOUR, label="right", **stack)
        delivered = [i for i, d in zip(x, activity, strict=True) if d.installment]
        if delivered:
            bars.plot(
                delivered,
                [0] * len(delivered),
                linestyle="none",
                marker="^",
                markersize=6,
                color=LINE_COLOUR,
                label="installment",
                clip_on=False,
            )
        bars.set_ylabel("answers")
        bars.yaxis.set_major_locator(MaxNLocator(integer=True))
        bars.set_ylim(0, max([*totals, 4]) * 1.1)
        bars.set_xlim(-0.7, len(activity) - 0.3)
        bars.legend(
            loc="lower right", bbox_to_anchor=(1, 1), frameon=False, ncols=3, fontsize="small"
        )
        bars.set_title(title, loc="left")
        bars.grid(axis="y", alpha=0.3)

        line.plot(x, rolling_accuracy(activity), color=LINE_COLOUR, marker=".")
        line.set_ylim(0, 1.05)
        line.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        line.set_ylabel(f"accuracy, {ROLLING_DAYS} days")
        line.grid(alpha=0.3)
        line.set_xticks(weekly, [activity[i].day.strftime("%d %b") for i in weekly])
        line.tick_params(axis="x", labelsize="small")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()
