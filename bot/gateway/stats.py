"""Statistics for admins: counts only, over the last days, from Rasa's tracker and the handoffs.

Nothing here names a person: users are counted by pseudonym, and the "unanswered" list shows
message texts with digits, e-mail addresses and @handles masked, grouped and counted, without
who sent them, so admins can turn frequent ones into FAQ questions.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from bot.storage.schema import handoffs
from bot.storage.store import Store, utcnow
from bot.storage.tracker_db import TrackerDB

_DIGITS = re.compile(r"\d[\d\s.\-]{2,}\d|\d+")
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_HANDLE = re.compile(r"@\w+")


@dataclass
class Stats:
    days: int
    messages: int = 0
    users: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    fallbacks: int = 0
    handoffs: int = 0
    urgent_handoffs: int = 0
    handoffs_per_day: Counter[str] = field(default_factory=Counter)
    handoff_topics: Counter[str] = field(default_factory=Counter)
    first_reply_minutes: list[float] = field(default_factory=list)

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.messages if self.messages else 0.0

    @property
    def median_first_reply(self) -> float | None:
        return statistics.median(self.first_reply_minutes) if self.first_reply_minutes else None


async def collect(store: Store, tracker: TrackerDB, *, days: int = 7, now: dt.datetime | None = None) -> Stats:
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    stats = Stats(days=days)
    senders: set[str] = set()
    for event in await tracker.user_events_since(since):
        stats.messages += 1
        senders.add(event["sender"])
        stats.languages[event["language"] or "?"] += 1
        intent = event["intent"] or "?"
        if intent == "nlu_fallback":
            stats.fallbacks += 1
        label = event["faq"] if intent == "faq" and event["faq"] else intent
        if not str(event["text"]).startswith("/"):
            stats.topics[label] += 1
    stats.users = len(senders)
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(handoffs).where(handoffs.c.opened_at >= since))
        for row in rows:
            stats.handoffs += 1
            stats.urgent_handoffs += int(bool(row.urgent))
            stats.handoffs_per_day[row.opened_at.date().isoformat()] += 1
            stats.handoff_topics[row.context_topic or "—"] += 1
            if row.first_staff_reply_at is not None:
                stats.first_reply_minutes.append((row.first_staff_reply_at - row.opened_at).total_seconds() / 60)
    return stats


def mask(text: str) -> str:
    """Hide what could identify someone: numbers, e-mail addresses, @handles."""
    text = _EMAIL.sub("[e-mail]", text)
    text = _HANDLE.sub("[@]", text)
    return _DIGITS.sub("#", text)


async def unanswered(
    tracker: TrackerDB, *, days: int = 7, limit: int = 15, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """The most frequent recent messages the model did not understand, masked and grouped."""
    since = (now or utcnow()) - dt.timedelta(days=days)
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for event in await tracker.user_events_since(since):
        if event["intent"] != "nlu_fallback":
            continue
        text = mask(" ".join(str(event["text"]).split()))[:160]
        key = text.casefold()
        if key:
            counts[key] += 1
            shown.setdefault(key, text)
    return [(shown[key], count) for key, count in counts.most_common(limit)]
