"""Office hours and what the person is told about the wait (content/hotline.yml)."""

from __future__ import annotations

import datetime as dt

from bot.gateway.handoff import OfficeHours, format_opening, user_label

HOURS = OfficeHours(days=("mon", "tue", "wed", "thu", "fri"), start=dt.time(9), end=dt.time(17))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # naive UTC, as the store keeps it


def test_open_during_office_hours_in_morocco_time() -> None:
    assert HOURS.is_open(utc(2026, 12, 1, 10, 0))  # Tuesday 11:00 in Casablanca (UTC+1)
    assert not HOURS.is_open(utc(2026, 12, 1, 16, 30))  # 17:30 local
    assert not HOURS.is_open(utc(2026, 12, 5, 10, 0))  # Saturday


def test_next_opening_after_a_friday_evening_is_monday_morning() -> None:
    opening = HOURS.next_opening(utc(2026, 12, 4, 18, 0))  # Friday 19:00 local
    assert (opening.weekday(), opening.hour, opening.minute) == (0, 9, 0)
    assert format_opening(opening, "fr") == "lundi 7 décembre à 09:00"
    assert "دجنبر" in format_opening(opening, "ar")  # Moroccan month names
    assert format_opening(opening, "en") == "Monday 7 December at 09:00"


def test_staff_see_a_short_label_not_the_person() -> None:
    assert user_label("u3f9k2m8q1z7x4c6v0b5") == "P-3F9K2M"
