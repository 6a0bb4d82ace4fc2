"""What goes into the next installment of a drip."""

from __future__ import annotations

from dataclasses import dataclass

from content.models import Library, Thread


@dataclass(frozen=True)
class Position:
    thread_index: int  # index into the plan's thread list
    next_post: int  # 0-based index of the next post in that thread


@dataclass(frozen=True)
class Installment:
    """One day's messages for one subscription, as delivery item keys in sending order."""

    number: int  # 1-based: the "Day N" of the header
    thread_id: str
    first_post: int  # 1-based, inclusive
    last_post: int  # 1-based, inclusive
    items: list[str]
    next: Position
    thread_finished: bool
    plan_finished: bool


def header_item(first_post: int) -> str:
    return f"h{first_post}"


def post_item(post_number: int) -> str:
    return f"p{post_number}"


def quiz_item(question_id: str) -> str:
    return f"q:{question_id}"


END_ITEM = "end"


def plan_thread_ids(library: Library, plan_kind: str, plan_id: str | None) -> list[str]:
    """The ordered thread ids of a plan (a track, or a single thread)."""
    if plan_id is None:
        return []
    if plan_kind == "track":
        track = library.tracks.get(plan_id)
        return [t for t in track.threads if t in library.threads] if track else []
    return [plan_id] if plan_id in library.threads else []


def plan_installment(
    library: Library, thread_ids: list[str], position: Position, pace: int, number: int
) -> Installment | None:
    """The next installment from `position`, or None when the plan is done.

    An installment never spans two threads; `pace` 0 means the rest of the thread.
    """
    index, start = position.thread_index, position.next_post
    while index < len(thread_ids):
        thread = library.threads.get(thread_ids[index])
        if thread is not None and start < len(thread.posts):
            break
        index, start = index + 1, 0  # a thread removed from the library, or finished
    else:
        return None
    end = len(thread.posts) if pace <= 0 else min(start + pace, len(thread.posts))
    items = [header_item(start + 1)]
    for number_ in range(start + 1, end + 1):
        items.append(post_item(number_))
        items.extend(quiz_item(q.id) for q in thread.questions_after(number_))
    finished = end == len(thread.posts)
    if finished:
        items.append(END_ITEM)
    next_position = Position(index + 1, 0) if finished else Position(index, end)
    return Installment(
        number=number,
        thread_id=thread.id,
        first_post=start + 1,
        last_post=end,
        items=items,
        next=next_position,
        thread_finished=finished,
        plan_finished=finished and _nothing_after(library, thread_ids, index + 1),
    )


def _nothing_after(library: Library, thread_ids: list[str], index: int) -> bool:
    return not any(library.threads.get(t) and library.threads[t].posts for t in thread_ids[index:])


def next_thread(library: Library, thread_ids: list[str], position: Position) -> Thread | None:
    """The thread the drip continues with, if any."""
    for thread_id in thread_ids[position.thread_index :]:
        thread = library.threads.get(thread_id)
        if thread is not None and thread.posts:
            return thread
    return None


def resume_position(library: Library, thread_ids: list[str], delivered: dict[str, int]) -> Position:
    """Where a plan picks up, given how many posts of each thread were already delivered."""
    for index, thread_id in enumerate(thread_ids):
        thread = library.threads.get(thread_id)
        if thread is not None and delivered.get(thread_id, 0) < len(thread.posts):
            return Position(index, delivered.get(thread_id, 0))
    return Position(len(thread_ids), 0)
