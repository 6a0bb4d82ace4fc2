"""Group quiz rules: points, places, pacing, topics and the /groupquiz arguments."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest

from bot.domain.leaderboard import (
    MIN_QUESTION_INTERVAL,
    PAUSE_AFTER_QUESTION,
    InputError,
    answer_points,
    answer_seconds,
    countdown_text,
    default_topic,
    find_topics,
    is_correct,
    is_stale,
    next_question_at,
    parse_groupquiz_args,
    pick_questions,
    rank_standings,
    topic_questions,
)
from content.loader import load_library

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Entry:
    user_id: int
    name: str
    score: int
    seconds: float


def test_a_correct_answer_earns_ten_plus_a_speed_bonus_and_a_wrong_one_nothing() -> None:
    assert answer_points(True, 0.0, 30) == 20
    assert answer_points(True, 15.0, 30) == 15
    assert answer_points(True, 30.0, 30) == 10
    assert answer_points(True, 2.0, 30) == 19  # 10 + round(10 * 28 / 30)
    assert answer_points(False, 0.0, 30) == 0


def test_answer_time_is_measured_from_the_poll_and_kept_within_its_period() -> None:
    assert answer_seconds(T0, T0 + dt.timedelta(seconds=4.5), 30) == 4.5
    assert answer_seconds(T0, T0 - dt.timedelta(seconds=1), 30) == 0.0
    assert answer_seconds(T0, T0 + dt.timedelta(minutes=5), 30) == 30.0


def test_only_exactly_the_correct_options_count_as_right() -> None:
    assert is_correct([2], [2])
    assert is_correct([3, 1], [1, 3])
    assert not is_correct([1], [1, 3])
    assert not is_correct([], [1])


def test_places_go_by_score_then_time_and_ties_share_a_place() -> None:
    entries = [
        Entry(1, "Ann", 40, 20.0),
        Entry(2, "Ben", 55, 30.0),
        Entry(3, "Cat", 40, 20.04),  # the same time as Ann to a tenth of a second
        Entry(4, "Dan", 40, 12.0),
        Entry(5, "Eve", 0, 90.0),
    ]
    ranked = [(place, e.name) for place, e in rank_standings(entries)]
    assert ranked == [(1, "Ben"), (2, "Dan"), (3, "Ann"), (3, "Cat"), (5, "Eve")]


def test_the_top_ten_keeps_everyone_tied_for_tenth_place() -> None:
    entries = [Entry(i, f"P{i:02}", 100 - i, 1.0) for i in range(9)]
    entries += [Entry(20 + i, f"T{i}", 50, 5.0) for i in range(3)]
    entries.append(Entry(99, "Last", 1, 1.0))
    ranked = rank_standings(entries, limit=10)
    assert [place for place, _ in ranked][-3:] == [10, 10, 10]
    assert len(ranked) == 12


def test_questions_are_paced_to_stay_within_twenty_messages_a_minute_per_group() -> None:
    sent = T0
    # Everyone answered after a second: the next question still waits for the interval.
    assert next_question_at(sent + dt.timedelta(seconds=1), sent) == sent + MIN_QUESTION_INTERVAL
    # After a full 30 s question, only the short pause.
    closed = sent + dt.timedelta(seconds=30)
    assert next_question_at(closed, sent) == closed + PAUSE_AFTER_QUESTION
    # Two requests at most per question (sendPoll, stopPoll): 60 / 10 * 2 = 12 a minute,
    # leaving room for the lobby, the standings and replies to commands.
    assert 2 * 60 / MIN_QUESTION_INTERVAL.total_seconds() <= 12


def test_a_step_missed_by_more_than_ten_minutes_is_stale() -> None:
    assert not is_stale(T0, T0 + dt.timedelta(minutes=9))
    assert is_stale(T0, T0 + dt.timedelta(minutes=11))
    assert not is_stale(None, T0)


def test_countdown_text_reads_naturally() -> None:
    assert countdown_text(120) == "in 2 min"
    assert countdown_text(90) == "in 1 min 30 s"
    assert countdown_text(45) == "in 45 s"
    assert countdown_text(-3) == "now"


def test_groupquiz_arguments_take_a_topic_and_seconds_in_either_order() -> None:
    assert parse_groupquiz_args([]) == (None, None)
    assert parse_groupquiz_args(["csf-leaks", "20"]) == ("csf-leaks", 20)
    assert parse_groupquiz_args(["20s", "csf-leaks"]) == ("csf-leaks", 20)
    assert parse_groupquiz_args(["stroke", "mri"]) == ("stroke mri", None)
    with pytest.raises(InputError, match="between 5 and 600"):
        parse_groupquiz_args(["csf-leaks", "2"])
    with pytest.raises(InputError, match="once"):
        parse_groupquiz_args(["20", "30"])


def test_topics_are_found_by_id_or_by_words_of_the_title() -> None:
    library = load_library()
    assert [t.id for t in find_topics(library, "CSF-LEAKS")] == ["csf-leaks"]
    assert [t.id for t in find_topics(library, "broca")] == ["brocas-area"]
    assert find_topics(library, "no such topic") == []
    assert len(find_topics(library, "csf")) > 1  # ambiguous: the caller lists them


def test_without_a_topic_a_complete_thread_not_played_lately_is_picked() -> None:
    library = load_library()
    first = default_topic(library, [], random.Random(1))
    assert first is not None and first.kind == "thread" and first.complete
    assert first.question_count >= 3
    second = default_topic(library, [first.id], random.Random(1))
    assert second is not None and second.id != first.id


def test_a_long_topic_gets_a_random_choice_of_questions_in_reading_order() -> None:
    library = load_library()
    track = find_topics(library, "csf-leaks")[0]
    keys = topic_questions(library, track)
    assert len(keys) == track.question_count > 10
    chosen = pick_questions(keys, 10, random.Random(7))
    assert len(chosen) == 10 and len(set(chosen)) == 10
    assert chosen == sorted(chosen, key=keys.index)
    assert pick_questions(keys[:4], 10) == keys[:4]
