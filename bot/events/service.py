"""The events service: every configured feed, fetched through one shared HTTP client and cached.

Owns the per-source cache and its health. Each source is re-read when its copy is older than the
TTL; a fetch has a hard time limit. When a feed is slow, down or malformed the last good copy is
served and the listing says since when (`Listing.stale_sources`); a failed source is retried
after a short pause, not on every question, so answers stay fast while a feed is down. Problems
are logged with the source's label and the reason only, and reported by `check()`. Sources are
merged and de-duplicated by event id (the first source listed wins).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.core.settings import PROJECT_ROOT
from bot.events.model import (
    CASABLANCA,
    Alternative,
    Event,
    FeedError,
    Listing,
    Query,
    SourceReport,
)
from bot.events.providers import Parsed, detect_format, fetch, is_url, parse_feed, source_label
from bot.events.query import Vocabulary, vocabulary

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
DEFAULT_SOURCE = PROJECT_ROOT / "events" / "events.yml"
PAST = dt.timedelta(days=7)  # how far back recurring events are expanded (ongoing ones)
AHEAD = dt.timedelta(days=550)  # and how far ahead
RETRY_AFTER = 60.0  # seconds before a failed source is tried again (at most the TTL)
_SPLIT = re.compile(r"[\s,]+")


def morocco_now() -> dt.datetime:
    """The current time in Morocco (the default clock)."""
    return dt.datetime.now(tz=CASABLANCA)


def parse_sources(value: str | None, root: Path = PROJECT_ROOT) -> list[str]:
    """EVENTS_URL as a list: URLs or file paths separated by spaces or commas; default events/events.yml."""
    sources: list[str] = []
    for part in _SPLIT.split(value or ""):
        if not part:
            continue
        if not is_url(part) and not part.startswith("file://") and not Path(part).is_absolute():
            part = str(root / part)
        if part not in sources:
            sources.append(part)
    return sources or [str(DEFAULT_SOURCE)]


@dataclass
class _SourceState:
    parsed: Parsed | None = None
    fetched_at: dt.datetime | None = None  # when the copy in `parsed` was fetched
    error: str | None = None  # why the last attempt failed; None when it worked
    failed_at: dt.datetime | None = None
    logged_problems: tuple[str, ...] = ()
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class EventsService:
    """Upcoming events from every source, with a TTL cache and the last good copy as a fallback."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sources: list[str],
        *,
        ttl: float = 300,
        timeout: float = 2.5,
        clock: Clock = morocco_now,
        vocab: Vocabulary | None = None,
    ) -> None:
        if not sources:
            raise ValueError("EventsService needs at least one source")
        self._http = http
        self.sources = list(dict.fromkeys(sources))
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._vocab = vocab
        self._states = {source: _SourceState() for source in self.sources}

    @property
    def vocab(self) -> Vocabulary:
        """The vocabulary feeds' towns and topics are read with."""
        return self._vocab or vocabulary()

    # -- fetching -------------------------------------------------------------------------------
    def _is_fresh(self, state: _SourceState, at: dt.datetime) -> bool:
        if state.error is not None and state.failed_at is not None:
            return (at - state.failed_at).total_seconds() < min(self.ttl, RETRY_AFTER)
        return state.fetched_at is not None and (at - state.fetched_at).total_seconds() < self.ttl

    async def _refresh(self, source: str, now: dt.datetime, *, force: bool = False) -> None:
        state = self._states[source]
        async with state.lock:
            if not force and self._is_fresh(state, self.clock()):
                return
            label = source_label(source)
            try:
                fetched = await asyncio.wait_for(fetch(self._http, source, self.timeout), self.timeout)
                fmt = detect_format(source, fetched)
                window = (now - PAST, now + AHEAD)
                parsed = await asyncio.to_thread(parse_feed, fetched.data, fmt, source, self.vocab, window)
            except asyncio.TimeoutError:
                reason = f"timed out after {self.timeout:g} s"
            except FeedError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a feed must never break the answer
                log.warning("events feed %s: unexpected error", label, exc_info=True)
                reason = f"unexpected error ({type(exc).__name__})"
            else:
                state.parsed, state.fetched_at, state.error, state.failed_at = parsed, self.clock(), None, None
                if parsed.problems and parsed.problems != state.logged_problems:
                    log.warning(
                        "events feed %s: %d problem(s), e.g. %s",
                        label,
                        len(parsed.problems),
                        "; ".join(parsed.problems[:3]),
                    )
                state.logged_problems = parsed.problems
                log.debug("events feed %s: %d events", label, len(parsed.events))
                return
            state.error, state.failed_at = reason, self.clock()
            if state.fetched_at is not None:
                log.warning(
                    "events feed %s failed (%s); serving the copy from %s",
                    label,
                    reason,
                    state.fetched_at.isoformat(timespec="minutes"),
                )
            else:
                log.warning("events feed %s failed (%s); no copy to serve", label, reason)

    async def _refresh_all(self, now: dt.datetime, *, force: bool = False) -> None:
        await asyncio.gather(*(self._refresh(source, now, force=force) for source in self.sources))

    def _merged(self) -> list[Event]:
        seen: dict[str, Event] = {}
        for source in self.sources:
            parsed = self._states[source].parsed
            for event in parsed.events if parsed else ():
                seen.setdefault(event.id, event)
        return list(seen.values())

    # -- answers --------------------------------------------------------------------------------
    async def upcoming(self, query: Query, now: dt.datetime | None = None) -> Listing:
        """Events not over yet that match `query`, sorted by start; an alternative when none do."""
        now = now or self.clock()
        await self._refresh_all(now)
        ahead = sorted((e for e in self._merged() if not_over(e, now)), key=lambda e: (e.start, e.end, e.id))
        matching = tuple(e for e in ahead if query.matches(e))
        states = self._states.items()
        return Listing(
            query=query,
            now=now,
            events=matching,
            stale_sources={s: st.fetched_at for s, st in states if st.error is not None and st.fetched_at is not None},
            errors={s: st.error for s, st in states if st.error is not None},
            alternative=None if matching else nearest_alternative(ahead, query),
            available=any(st.parsed is not None for _, st in states),
        )

    async def check(self, now: dt.datetime | None = None) -> list[SourceReport]:
        """Fetch every source now (ignoring the cache) and say how each one is."""
        now = now or self.clock()
        await self._refresh_all(now, force=True)
        reports: list[SourceReport] = []
        for source in self.sources:
            state = self._states[source]
            events = state.parsed.events if state.parsed else ()
            reports.append(
                SourceReport(
                    source=source,
                    ok=state.error is None and state.parsed is not None,
                    count=len(events),
                    first=min((e.start for e in events), default=None),
                    last=max((e.start for e in events), default=None),
                    error=state.error,
                    problems=state.parsed.problems if state.parsed else (),
                    last_good=state.fetched_at,
                    sample=bool(state.parsed and state.parsed.sample),
                )
            )
        return reports


def not_over(event: Event, now: dt.datetime) -> bool:
    """Still to come or under way (an event without an end is over once it has started)."""
    return event.end > now if event.end > event.start else event.start >= now


def nearest_alternative(ahead: Iterable[Event], query: Query) -> Alternative | None:
    """What to offer when nothing matches, nearest first.

    Same city (and topic) on other dates -> the next event there; else other cities with events in
    that period (same topic); else the next event anywhere (of the topic if there is one).
    """
    ahead = list(ahead)
    if query.has_period:
        there = [e for e in ahead if query.matches(e, period=False)]
        if there:
            return Alternative("later", (there[0],))
    if query.city:
        elsewhere = [e for e in ahead if e.city and e.city != query.city and query.matches(e, city=False)]
        if elsewhere:
            cities = tuple(dict.fromkeys(e.city for e in elsewhere if e.city))
            return Alternative("other_cities", tuple(elsewhere[:3]), cities)
    same_topic = [e for e in ahead if query.topic in e.topics] if query.topic else []
    nearest = same_topic or ahead
    return Alternative("next_anywhere", (nearest[0],)) if nearest else None
