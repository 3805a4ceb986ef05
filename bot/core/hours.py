"""Office hours of the hotline: working days and hours, Morocco's public holidays, closures.

Configured in content/hotline.yml `office_hours` (read live: an edit needs no restart):

    office_hours:
      timezone: Africa/Casablanca
      days: [mon, tue, wed, thu, fri]
      start: "09:00"
      end: "17:00"
      public_holidays: true        # closed on Morocco's public holidays (the `holidays` package)
      closures:                    # days the desk is closed besides those
        - date: 2026-12-24
          reason: team retreat
        - from: 2027-08-02
          to: 2027-08-06           # included
      open_days: [2027-03-10]      # open after all (a religious holiday that moved)

Islamic holidays (Eid al-Fitr, Eid al-Adha, the Islamic New Year, the Prophet's birthday) follow
the sighting of the moon: the package gives an *estimated* date. The person is told so when such a
day pushes back the next opening, and admins correct a date with `closures` and `open_days`.

Times given to this module are UTC (naive, as the store keeps them, or aware); what it returns is
local time in the office's timezone. Imported by every process: no project imports but bot.core.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from bot.core.content import Library

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 400  # how far next_opening looks (a long closure plus a holiday season)
ESTIMATED = "(estimated)"  # how the holidays package marks a date it computed from the calendar


class HoursError(ValueError):
    """A malformed office_hours section; the message says where and how to fix it."""


@dataclass(frozen=True)
class Closure:
    """Days the desk is closed, `first` to `last` included, with the reason admins gave."""

    first: dt.date
    last: dt.date
    reason: str = ""

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Opening:
    """The next opening (local time) and the working days passed over on the way, with why."""

    at: dt.datetime
    skipped: tuple[tuple[dt.date, str], ...] = ()

    @property
    def estimated(self) -> bool:
        """Whether a skipped day is a holiday whose date is only estimated (moon sighting)."""
        return any(ESTIMATED in why for _, why in self.skipped)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise HoursError(f"{where}: {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2027-01-04") from exc


def parse_closure(raw: Any, where: str = "closures") -> Closure:
    """One entry of `closures`: a date, or {date, reason}, or {from, to, reason}."""
    if not isinstance(raw, Mapping):
        day = _date(raw, where)
        return Closure(day, day)
    unknown = set(raw) - {"date", "from", "to", "reason"}
    if unknown:
        raise HoursError(f"{where}: unknown key {sorted(unknown)[0]!r}; use date, or from and to, and reason")
    reason = str(raw.get("reason") or "").strip()
    if "date" in raw:
        if "from" in raw or "to" in raw:
            raise HoursError(f"{where}: give either date or from/to, not both")
        day = _date(raw["date"], f"{where}, date")
        return Closure(day, day, reason)
    if "from" not in raw or "to" not in raw:
        raise HoursError(f"{where}: a range needs both from and to (YYYY-MM-DD), or write date for one day")
    first, last = _date(raw["from"], f"{where}, from"), _date(raw["to"], f"{where}, to")
    if last < first:
        raise HoursError(f"{where}: to ({last}) is before from ({first})")
    return Closure(first, last, reason)


def _list(raw: Any, name: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise HoursError(f"office_hours, {name}: must be a list (one entry per line starting with '- ')")
    return raw


def problems(raw: Any) -> list[str]:
    """Every mistake in an `office_hours` section (for `dalil faq validate`), as sentences."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return ["office_hours: must be a section with timezone, days, start, end, closures"]
    found: list[str] = []
    try:
        ZoneInfo(str(raw.get("timezone") or "Africa/Casablanca"))
    except (ZoneInfoNotFoundError, ValueError):
        found.append(f"office_hours, timezone: unknown time zone {raw.get('timezone')!r}; use Africa/Casablanca")
    for day in raw.get("days") or []:
        if str(day)[:3].lower() not in DAYS:
            found.append(f"office_hours, days: {day!r} is not a day; use mon, tue, wed, thu, fri, sat, sun")
    times: list[dt.time] = []
    for key, default in (("start", "09:00"), ("end", "17:00")):
        try:
            times.append(dt.time.fromisoformat(str(raw.get(key) or default)))
        except ValueError:
            found.append(f'office_hours, {key}: {raw.get(key)!r} is not a time; write it as HH:MM, e.g. "09:00"')
    if len(times) == 2 and times[0] >= times[1]:
        found.append("office_hours: start must be before end")
    if not isinstance(raw.get("public_holidays", True), bool):
        found.append("office_hours, public_holidays: write true or false")
    for name, parse in (("closures", parse_closure), ("open_days", _date)):
        try:
            entries = _list(raw.get(name), name)
        except HoursError as exc:
            found.append(str(exc))
            continue
        for index, entry in enumerate(entries, 1):
            try:
                parse(entry, f"office_hours, {name}, entry {index}")
            except HoursError as exc:
                found.append(str(exc))
    return found


@functools.lru_cache(maxsize=8)
def _holidays(year: int) -> dict[dt.date, str]:
    """Morocco's public holidays of a year, English names ("Eid al-Fitr (estimated)")."""
    import holidays

    return dict(holidays.country_holidays("MA", years=year, language="en_US").items())


def holiday(day: dt.date) -> str | None:
    """The name of Morocco's public holiday on `day`, if any (with "(estimated)" when it is)."""
    return _holidays(day.year).get(day)


@dataclass(frozen=True)
class OfficeHours:
    timezone: str = "Africa/Casablanca"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    public_holidays: bool = True
    closures: tuple[Closure, ...] = ()
    open_days: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OfficeHours:
        """Read the section; a malformed closure is left out with a warning (`dalil faq validate`
        names it), so a typo never stops the hotline from saying when it opens."""
        return cls(
            timezone=str(raw.get("timezone") or "Africa/Casablanca"),
            days=tuple(str(d)[:3].lower() for d in raw.get("days") or cls.days),
            start=dt.time.fromisoformat(str(raw.get("start") or "09:00")),
            end=dt.time.fromisoformat(str(raw.get("end") or "17:00")),
            public_holidays=raw.get("public_holidays", True) is not False,
            closures=tuple(_tolerant(parse_closure, raw.get("closures"), "closures")),
            open_days=frozenset(_tolerant(_date, raw.get("open_days"), "open_days")),
        )

    def local(self, now: dt.datetime) -> dt.datetime:
        aware = now if now.tzinfo is not None else now.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(ZoneInfo(self.timezone))

    def closed_because(self, day: dt.date) -> str | None:
        """Why a day is not worked: "closed: <reason>", a holiday's name, "weekend"; None if worked."""
        for closure in self.closures:
            if closure.covers(day):
                return f"closed: {closure.reason}" if closure.reason else "closed"
        if day in self.open_days:
            return None
        if DAYS[day.weekday()] not in self.days:
            return "weekend"
        if self.public_holidays:
            return holiday(day)
        return None

    def is_open(self, now: dt.datetime) -> bool:
        local = self.local(now)
        return self.closed_because(local.date()) is None and self.start <= local.time() < self.end

    def opening_after(self, now: dt.datetime) -> Opening:
        """The next moment the desk opens, strictly after `now`, and the working days skipped."""
        local = self.local(now)
        skipped: list[tuple[dt.date, str]] = []
        for offset in range(HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            opening = dt.datetime.combine(day, self.start, tzinfo=local.tzinfo)
            why = self.closed_because(day)
            if why is None and opening > local:
                return Opening(opening, tuple(skipped))
            if why is not None and why != "weekend":
                skipped.append((day, why))
        return Opening(local, tuple(skipped))  # no working day at all: said as "now"; validate warns

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """The next moment the hotline opens (local time)."""
        return self.opening_after(now).at

    def closed_days(self, now: dt.datetime, days: int = 60) -> list[tuple[dt.date, str]]:
        """The days of the coming `days` the desk is closed although it is a working weekday."""
        today = self.local(now).date()
        out = []
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            why = self.closed_because(day)
            if why is not None and why != "weekend":
                out.append((day, why))
        return out

    def describe(self) -> str:
        days = f"{self.days[0]}–{self.days[-1]}" if len(self.days) > 1 else self.days[0]
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M}"

    def opening_words(self, now: dt.datetime, lang: str, library: Library | None = None) -> tuple[str, str]:
        """What the person hears about a closed desk: the next opening ("lundi 4 janvier à 09:00")
        and a note to append ("" or a sentence saying a religious holiday's date is estimated)."""
        opening = self.opening_after(now)
        note = ""
        if opening.estimated:
            note = "\n\n" + _library(library).text("hours_estimated_note", lang)
        return format_opening(opening.at, lang, library), note


def _tolerant(parse: Any, raw: Any, name: str) -> Iterable[Any]:
    try:
        entries = _list(raw, name)
    except HoursError as exc:
        log.warning("content/hotline.yml: %s (ignored)", exc)
        return
    for index, entry in enumerate(entries, 1):
        try:
            yield parse(entry, f"office_hours, {name}, entry {index}")
        except HoursError as exc:
            log.warning("content/hotline.yml: %s (ignored; `dalil faq validate` lists it)", exc)


def _library(library: Library | None) -> Library:
    from bot.core.content import library as default_library

    return library or default_library()


def format_opening(moment: dt.datetime, lang: str, library: Library | None = None) -> str:
    """ "lundi 1 décembre à 09:00" in the user's language (Babel; the pattern is content data)."""
    from babel.dates import format_datetime

    locale = {"fr": "fr_FR", "ar": "ar_MA", "en": "en_GB"}.get(lang, "fr_FR")
    return format_datetime(moment, _library(library).text("opening_time_pattern", lang), locale=locale)
