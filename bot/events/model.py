"""The events vocabulary every module shares: an `Event`, a `Query`, a `Listing` and their errors.

Plain frozen dataclasses with no behaviour beyond matching, so the providers, the service, the
query parser, the formatter and the action agree on one shape. Datetimes are always timezone-aware;
a feed without a time zone is read in Morocco's (`CASABLANCA`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

CASABLANCA = ZoneInfo("Africa/Casablanca")

AlternativeKind = Literal["later", "other_cities", "next_anywhere"]


class FeedError(Exception):
    """A feed could not be fetched or read; the message says why in a few words (for logs, admins)."""


@dataclass(frozen=True)
class Event:
    """One occurrence of an event (a recurring event gives one `Event` per occurrence)."""

    id: str
    titles: Mapping[str, str]
    start: dt.datetime
    end: dt.datetime
    all_day: bool = False
    descriptions: Mapping[str, str] = field(default_factory=dict)
    city: str | None = None
    venue: str | None = None
    address: str | None = None
    organiser: str | None = None
    topics: tuple[str, ...] = ()
    audience: Mapping[str, str] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    price: str | None = None
    registration: str | None = None
    url: str | None = None
    source: str = ""
    sample: bool = False

    def title(self, lang: str) -> str:
        """The title in `lang`, else French, else any."""
        title = self.titles.get(lang) or self.titles.get("fr")
        if title:
            return title
        return next(iter(self.titles.values()), "")

    def overlaps(self, start: dt.datetime | None, end: dt.datetime | None) -> bool:
        """Whether the event takes place (at least partly) in [start, end)."""
        last = self.end if self.end > self.start else self.start + dt.timedelta(microseconds=1)
        if start is not None and last <= start:
            return False
        return not (end is not None and self.start >= end)


@dataclass(frozen=True)
class Query:
    """What the user asks for; None means "any". The period is [start, end), aware datetimes."""

    city: str | None = None
    topic: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def has_period(self) -> bool:
        """Whether the query limits the dates."""
        return self.start is not None or self.end is not None

    def matches(self, event: Event, *, city: bool = True, topic: bool = True, period: bool = True) -> bool:
        """Whether `event` fits the query; a criterion can be switched off to look for alternatives."""
        if city and self.city and event.city != self.city:
            return False
        if topic and self.topic and self.topic not in event.topics:
            return False
        return not (period and not event.overlaps(self.start, self.end))

    def period_slot(self) -> str | None:
        """The period as the `events_date` slot stores it: "<start ISO>/<end ISO>"."""
        if self.start is None or self.end is None:
            return None
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class Alternative:
    """What to offer when nothing matches: a later date, other cities, or the next event anywhere."""

    kind: AlternativeKind
    events: tuple[Event, ...]
    cities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """The answer of `EventsService.upcoming`: matching events sorted by start, and feed health.

    `stale_sources` maps a source whose last fetch failed to when its served copy was fetched;
    `errors` maps a failing source to the reason. `available` is False when no source has ever
    been read, so there is nothing at all to show.
    """

    query: Query
    now: dt.datetime
    events: tuple[Event, ...]
    stale_sources: Mapping[str, dt.datetime] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    alternative: Alternative | None = None
    available: bool = True


@dataclass(frozen=True)
class SourceReport:
    """The health of one source, as `EventsService.check` and `dalil events check` report it."""

    source: str
    ok: bool
    count: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    error: str | None = None
    problems: tuple[str, ...] = ()
    last_good: dt.datetime | None = None
    sample: bool = False
