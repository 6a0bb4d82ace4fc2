"""Dates as web pages show them: "Aug 26, 2022", "Aug 26th 2022", "26 Aug 2022", "May 1".

A date without a year is this year's, as the pages show it, unless that lies after the day
of the import: then it is last year's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
# Non-capturing, to embed in other patterns.
DATE_PATTERN = (
    rf"(?:{_MONTH}\.?\s+{_DAY}(?:,?\s+{_YEAR})?|{_DAY}\s+{_MONTH}\.?(?:,?\s+{_YEAR})?"
    rf"|{_YEAR}-\d{{2}}-\d{{2}})"
)
_MONTH_FIRST = re.compile(
    rf"(?P<mon>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>{_YEAR}))?",
    re.IGNORECASE,
)
_DAY_FIRST = re.compile(
    rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH})\.?(?:,?\s+(?P<year>{_YEAR}))?",
    re.IGNORECASE,
)
_ISO = re.compile(r"(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})")
_DATE_LINE = re.compile(rf"^[·•]?\s*{DATE_PATTERN}\s*$", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class PageDate:
    """A date as written on a page; `year` is None when the page leaves it out."""

    month: int
    day: int
    year: int | None
    shown: str

    def resolve(self, today: dt.date) -> dt.date | None:
        """The calendar date, with the year filled in from `today` when the page omits it."""
        year = self.year if self.year is not None else today.year
        try:
            date = dt.date(year, self.month, self.day)
        except ValueError:
            return None
        if self.year is None and date > today:
            try:
                date = dt.date(year - 1, self.month, self.day)
            except ValueError:
                return None
        return date


def find_date(text: str) -> PageDate | None:
    """The first date written in `text`, or None."""
    found: list[tuple[int, PageDate]] = []
    for rx in (_MONTH_FIRST, _DAY_FIRST):
        m = rx.search(text)
        if m:
            month = _MONTHS.index(m.group("mon")[:3].lower()) + 1
            year = int(m.group("year")) if m.group("year") else None
            found.append((m.start(), PageDate(month, int(m.group("day")), year, m.group(0))))
    m = _ISO.search(text)
    if m:
        found.append(
            (
                m.start(),
                PageDate(
                    int(m.group("mon")), int(m.group("day")), int(m.group("year")), m.group(0)
                ),
            )
        )
    if not found:
        return None
    return min(found, key=lambda item: item[0])[1]


def is_date_line(line: str) -> bool:
    """True for a line that holds nothing but a date ("Aug 27", "· Aug 26, 2022")."""
    return bool(_DATE_LINE.match(line.strip()))
