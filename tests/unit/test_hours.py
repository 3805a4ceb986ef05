"""bot/core/hours.py: closures, holidays, what `dalil faq validate` says about office_hours."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import yaml

from bot.authoring.validate import hotline_problems
from bot.core.hours import Closure, HoursError, OfficeHours, holiday, parse_closure, problems

ROOT = Path(__file__).resolve().parents[2]


def test_closures_are_a_date_or_a_range_with_a_reason() -> None:
    assert parse_closure("2027-01-04") == Closure(dt.date(2027, 1, 4), dt.date(2027, 1, 4))
    assert parse_closure(dt.date(2027, 1, 4)) == Closure(dt.date(2027, 1, 4), dt.date(2027, 1, 4))
    assert parse_closure({"from": "2027-08-02", "to": "2027-08-06", "reason": "summer"}) == Closure(
        dt.date(2027, 8, 2), dt.date(2027, 8, 6), "summer"
    )


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("2027-13-01", "not a date"),
        ({"from": "2027-08-06", "to": "2027-08-02"}, "before"),
        ({"from": "2027-08-02"}, "needs both from and to"),
        ({"date": "2027-08-02", "to": "2027-08-03"}, "not both"),
        ({"day": "2027-08-02"}, "unknown key"),
    ],
)
def test_a_malformed_closure_says_what_to_write(raw: object, words: str) -> None:
    with pytest.raises(HoursError, match=words):
        parse_closure(raw)


def test_validate_rejects_a_malformed_closure(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    config = yaml.safe_load((ROOT / "content" / "hotline.yml").read_text(encoding="utf-8"))
    path = tmp_path / "content" / "hotline.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert hotline_problems(tmp_path) == []  # the shipped file is right
    config["office_hours"]["closures"] = [{"date": "2027-02-30"}, {"from": "2027-08-02"}]
    config["office_hours"]["start"] = "9h"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    found = hotline_problems(tmp_path)
    assert [p.level for p in found] == ["error"] * 3
    assert "entry 1" in found[1].message and "not a date" in found[1].message
    assert "entry 2" in found[2].message and "from and to" in found[2].message
    assert "not a time" in found[0].message


def test_the_hotline_still_opens_when_a_closure_is_malformed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        hours = OfficeHours.from_dict({"closures": ["soon", {"date": "2027-01-05"}], "open_days": "2027-01-01"})
    assert hours.closures == (Closure(dt.date(2027, 1, 5), dt.date(2027, 1, 5)),)
    assert "ignored" in caplog.text
    assert hours.next_opening(dt.datetime(2027, 1, 1, 10)).date() == dt.date(2027, 1, 4)


def test_problems_of_the_other_fields() -> None:
    assert problems(None) == []
    assert problems({"timezone": "Mars/Olympus", "days": ["lun"], "public_holidays": "yes"}) == [
        "office_hours, timezone: unknown time zone 'Mars/Olympus'; use Africa/Casablanca",
        "office_hours, days: 'lun' is not a day; use mon, tue, wed, thu, fri, sat, sun",
        "office_hours, public_holidays: write true or false",
    ]
    assert problems({"start": "18:00", "end": "09:00"}) == ["office_hours: start must be before end"]


def test_moroccan_holidays_and_their_estimates() -> None:
    assert holiday(dt.date(2027, 1, 1)) == "New Year's Day"
    assert holiday(dt.date(2027, 7, 30)) == "Throne Day"
    assert "(estimated)" in str(holiday(dt.date(2027, 3, 9)))  # Eid al-Fitr follows the moon
    assert holiday(dt.date(2027, 1, 5)) is None


def test_the_closed_days_ahead_and_the_days_skipped() -> None:
    hours = OfficeHours(closures=(Closure(dt.date(2027, 1, 4), dt.date(2027, 1, 5), "move"),))
    closed = hours.closed_days(dt.datetime(2026, 12, 31, 12), days=14)
    assert closed == [
        (dt.date(2027, 1, 1), "New Year's Day"),
        (dt.date(2027, 1, 4), "closed: move"),
        (dt.date(2027, 1, 5), "closed: move"),
        (dt.date(2027, 1, 11), "Proclamation of Independence Day"),
        (dt.date(2027, 1, 13), "Amazigh New Year"),
    ]
    opening = hours.opening_after(dt.datetime(2026, 12, 31, 17))  # Thursday 18:00 local
    assert opening.at == dt.datetime(2027, 1, 6, 9, tzinfo=opening.at.tzinfo)
    assert [day for day, _ in opening.skipped] == [dt.date(2027, 1, 1), dt.date(2027, 1, 4), dt.date(2027, 1, 5)]
    assert not opening.estimated


def test_an_aware_time_is_taken_as_it_is() -> None:
    hours = OfficeHours()
    moment = dt.datetime(2027, 1, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 09:30 in Casablanca
    assert hours.is_open(moment)
    assert hours.is_open(dt.datetime(2027, 1, 5, 8, 30))  # the same moment, naive UTC
