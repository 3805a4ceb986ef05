"""Office hours and what the person is told about the wait (content/hotline.yml): weekends,
Morocco's public holidays and the closures admins add are skipped (bot/core/hours.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

import bot.gateway.handoff as handoff_module
from bot.core.content import Library, library
from bot.core.hours import OfficeHours, format_opening
from bot.core.settings import Settings
from bot.gateway.handoff import HandoffService, user_label

ROOT = Path(__file__).resolve().parents[2]
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


# -- a handoff asked for while the desk is closed ---------------------------------------------
def service(root: Path) -> HandoffService:
    """Only the office hours and the texts are used: no store, no Rasa, no hotline group."""
    return HandoffService(Settings(root=root), None, None, Library(root))  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    return tmp_path


def set_office_hours(root: Path, **changes: object) -> None:
    path = root / "content" / "hotline.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["office_hours"].update(changes)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def opening_text(root: Path, now: dt.datetime, monkeypatch: pytest.MonkeyPatch, *, urgent: bool = False) -> str:
    monkeypatch.setattr(handoff_module, "utcnow", lambda: now)  # the clock of the handoff service
    return str(service(root)._user_opening("fr", urgent)["text"])


def test_a_handoff_on_new_years_day_is_answered_on_the_next_working_day(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = opening_text(project, utc(2027, 1, 1, 10, 0), monkeypatch)  # Friday 1 January 2027, 11:00 local
    when = "lundi 4 janvier à 09:00"
    assert text == library().text("handoff_opened_closed_hours", "fr", when=when)
    assert "1 janvier" not in text


def test_an_urgent_handoff_on_a_holiday_hears_the_real_opening_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Monday 11 January 2027 (Proclamation of Independence), then Wednesday 13 (Amazigh New Year)
    text = opening_text(project, utc(2027, 1, 11, 12, 0), monkeypatch, urgent=True)
    assert text == library().text("handoff_urgent_closed_hours", "fr", when="mardi 12 janvier à 09:00")


def test_a_closure_admins_added_is_skipped(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_office_hours(project, closures=[{"date": "2027-01-04", "reason": "team retreat"}])
    text = opening_text(project, utc(2027, 1, 1, 10, 0), monkeypatch)
    assert "mardi 5 janvier à 09:00" in text
    set_office_hours(project, closures=[{"from": dt.date(2027, 1, 4), "to": dt.date(2027, 1, 6)}])
    assert "jeudi 7 janvier à 09:00" in opening_text(project, utc(2027, 1, 1, 10, 0), monkeypatch)


def test_holidays_can_be_switched_off_and_a_day_opened(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_office_hours(project, public_holidays=False)
    assert not service(project).office_hours().is_open(utc(2027, 1, 1, 7, 0))  # 08:00: not yet
    assert service(project).office_hours().is_open(utc(2027, 1, 1, 10, 0))
    set_office_hours(project, public_holidays=True, open_days=["2027-01-01"])
    assert service(project).office_hours().is_open(utc(2027, 1, 1, 10, 0))


def test_a_religious_holiday_on_the_way_is_said_to_be_an_estimate(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Eid al-Fitr 2027 is estimated on Tuesday 9 and Wednesday 10 March
    text = opening_text(project, utc(2027, 3, 8, 18, 0), monkeypatch)
    note = library().text("hours_estimated_note", "fr")
    assert text == library().text("handoff_opened_closed_hours", "fr", when="jeudi 11 mars à 09:00") + "\n\n" + note
    plain = opening_text(project, utc(2027, 1, 1, 10, 0), monkeypatch)  # New Year: a fixed date
    assert note not in plain


def test_during_office_hours_nothing_changes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = opening_text(project, utc(2027, 1, 5, 10, 0), monkeypatch)  # Tuesday 11:00
    minutes = yaml.safe_load((project / "content" / "hotline.yml").read_text(encoding="utf-8"))["usual_wait_minutes"]
    assert text == library().text("handoff_opened", "fr", minutes=minutes)
