"""Anonymous daily totals that outlive the retention of conversations.

One row per day, metric and key, with a count: `messages`/`text`, `languages`/`ar`,
`topics`/`hiv_testing`, `campaign`/`poster_clinic_rabat` (a deep link's payload)... Nothing
names a person and no message text is kept, so `/forget` and retention leave these rows alone;
admins read them in `/stats` and `dalil report export`.

A day is Morocco's (Africa/Casablanca), the day the people served live in: a message at 00:30
in Rabat counts for the day that just began there, whatever the server's clock says.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.schema import daily_figures

_T = daily_figures.c
TIMEZONE = ZoneInfo("Africa/Casablanca")
METRIC_LEN, KEY_LEN = 32, 64  # the columns' sizes

# What is counted (metric: what its key is). docs/reports.md says the same for admins.
METRICS = {
    "messages": "inputs from people, by kind (text, command, callback, media)",
    "people": "people whose first input of the day it was (a count only; key empty)",
    "languages": "the language of the answer (fr, ar, ary, en)",
    "topics": "FAQ topic answered (its id)",
    "not_understood": "inputs the model did not understand (key empty)",
    "urgent": "urgent inputs, by kind of danger, distress, or request (the 🆘 key, /urgent)",
    "handoffs": "cases opened with the hotline, by reason; phone: no hotline group, its number given",
    "first_replies": "handoffs whose first staff reply came that day (key empty)",
    "first_reply_seconds": "the sum of their waits, in seconds (key empty)",
    "campaign": "arrivals by deep link or poster, by campaign tag",
    "alerts_sent": "event alerts sent, by city",
}


def today(now: dt.datetime | None = None) -> dt.date:
    """The current day in Morocco (`now`: an aware datetime, or naive UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return now.astimezone(TIMEZONE).date()


def day_start_utc(day: dt.date) -> dt.datetime:
    """Midnight of `day` in Morocco, as naive UTC (how the gateway's tables keep time)."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=TIMEZONE)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Row:
    day: dt.date
    metric: str
    key: str
    count: int


Counts = Mapping[tuple[str, str], int]  # (metric, key) -> how many more


class Figures:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, metric: str, key: str = "", n: int = 1, *, day: dt.date | None = None) -> None:
        """Count `n` more of `metric`/`key` today, from any number of gateways at once."""
        await self.add_many({(metric, key): n}, day=day)

    async def add_many(
        self, counts: Counts, *, day: dt.date | None = None, conn: AsyncConnection | None = None
    ) -> None:
        """Several counts in one transaction (one per message), or in `conn`'s transaction."""
        rows = [
            {"day": day or today(), "metric": metric[:METRIC_LEN], "key": key[:KEY_LEN], "count": n}
            for (metric, key), n in counts.items()
            if n
        ]
        if not rows:
            return
        if conn is not None:
            await _write(conn, rows)
            return
        for attempt in range(2):
            try:
                async with self.engine.begin() as own:
                    await _write(own, rows)
                return
            except IntegrityError:  # another gateway inserted a row first (databases without upsert)
                if attempt:
                    raise

    async def totals(self, metric: str, *, days: int = 30) -> Counter[str]:
        """Per key, the counts of the last `days` days (today included)."""
        since = today() - dt.timedelta(days=days - 1)
        query = sa.select(_T.key, sa.func.sum(_T.count)).where(_T.metric == metric, _T.day >= since).group_by(_T.key)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return Counter({str(key): int(total) for key, total in rows})

    async def rows(self, since: dt.date, until: dt.date | None = None) -> list[Row]:
        """Every row from `since` to `until` (included), by day, metric and key."""
        query = sa.select(_T.day, _T.metric, _T.key, _T.count).where(_T.day >= since)
        if until is not None:
            query = query.where(_T.day <= until)
        async with self.engine.connect() as conn:
            result = (await conn.execute(query.order_by(_T.day, _T.metric, _T.key))).all()
        return [Row(day, str(metric), str(key), int(count)) for day, metric, key, count in result]


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE count = count + n, for SQLite and PostgreSQL; None elsewhere."""
    if dialect not in _UPSERTS:
        statement: Any = None
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            base = insert(daily_figures)
            statement = base.on_conflict_do_update(
                index_elements=[_T.day, _T.metric, _T.key], set_={"count": _T.count + base.excluded.count}
            )
        _UPSERTS[dialect] = statement
    return _UPSERTS[dialect]


async def _write(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    statement = _upsert(conn.dialect.name)
    if statement is not None:
        await conn.execute(statement, rows)
        return
    for row in rows:  # any other database: update, else insert
        where = sa.and_(_T.day == row["day"], _T.metric == row["metric"], _T.key == row["key"])
        updated = await conn.execute(daily_figures.update().where(where).values(count=_T.count + row["count"]))
        if updated.rowcount == 0:
            await conn.execute(daily_figures.insert().values(**row))


@dataclass
class Summary:
    """The rows of a period, added up: per day and metric, and per metric and key."""

    days: list[dt.date]
    per_day: dict[dt.date, Counter[str]]
    keys: dict[str, Counter[str]]

    def total(self, metric: str) -> int:
        return sum(self.keys.get(metric, Counter()).values())

    def series(self, metric: str) -> list[int]:
        return [self.per_day[day][metric] for day in self.days]

    def mean_first_reply_minutes(self, day: dt.date | None = None) -> float | None:
        """The mean wait before the first staff reply, over the period or on one day."""
        if day is None:
            count, seconds = self.total("first_replies"), self.total("first_reply_seconds")
        else:
            count, seconds = self.per_day[day]["first_replies"], self.per_day[day]["first_reply_seconds"]
        return seconds / count / 60 if count else None


def summarise(rows: list[Row], since: dt.date, until: dt.date) -> Summary:
    days = [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]
    per_day: dict[dt.date, Counter[str]] = {day: Counter() for day in days}
    keys: dict[str, Counter[str]] = {}
    for row in rows:
        if since <= row.day <= until:
            per_day[row.day][row.metric] += row.count
            keys.setdefault(row.metric, Counter())[row.key] += row.count
    return Summary(days, per_day, keys)


async def summary(figures: Figures, days: int, *, until: dt.date | None = None) -> Summary:
    """The last `days` days up to `until` (default today), added up."""
    until = until or today()
    since = until - dt.timedelta(days=days - 1)
    return summarise(await figures.rows(since, until), since, until)
