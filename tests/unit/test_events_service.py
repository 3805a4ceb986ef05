"""Feeds and the events service, offline: parsing (recurring, all-day, time zones), filtering,
merging, the TTL cache, stale copies, malformed feeds and events, and `check()`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.events.model import CASABLANCA, Event, FeedError, Query
from bot.events.providers import Fetched, detect_format, parse_feed, source_label
from bot.events.query import vocabulary
from bot.events.service import AHEAD, PAST, RETRY_AFTER, EventsService, not_over, parse_sources
from bot.ops.events_cli import check as cli_check

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CASABLANCA)
WINDOW = (NOW - PAST, NOW + AHEAD)
URL = "https://feeds.example.org/agenda/feed.ics"


def at(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=CASABLANCA)


def parse(name: str) -> tuple[dict[str, Event], tuple[str, ...]]:
    fmt = "ics" if name.endswith(".ics") else "json"
    parsed = parse_feed((FIXTURES / name).read_bytes(), fmt, name, vocabulary(), WINDOW)
    return {e.id: e for e in parsed.events}, parsed.problems


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


# -- parsing ------------------------------------------------------------------------------------
def test_ics_recurring_event_is_expanded_without_its_exception_date() -> None:
    events, problems = parse("feed.ics")
    weekly = sorted(e.start for e in events.values() if e.id.startswith("alcs-agadir-permanence@test@"))
    assert weekly == [
        at(2026, 12, 2, 10),
        at(2026, 12, 9, 10),
        at(2026, 12, 16, 10),
        at(2026, 12, 23, 10),
        at(2027, 1, 6, 10),
    ]
    assert problems == ()


def test_ics_all_day_utc_and_tzid_times() -> None:
    events, _ = parse("feed.ics")
    aids_day = events["world-aids-day-agadir@test"]
    assert aids_day.all_day and (aids_day.start, aids_day.end) == (at(2026, 12, 1), at(2026, 12, 2))
    ampf = events["ampf-casa-ssr@test"]  # 09:00Z is 10:00 in Morocco in December
    assert (ampf.start, ampf.end) == (at(2026, 12, 10, 10), at(2026, 12, 10, 12))
    assert ampf.start.tzinfo == CASABLANCA
    workshop = events["forsaty-tanger-entrepreneuriat@test"]
    assert (workshop.start, workshop.end, workshop.all_day) == (at(2027, 3, 24, 14), at(2027, 3, 24, 17), False)


def test_ics_properties_become_event_fields() -> None:
    events, _ = parse("feed.ics")
    workshop = events["forsaty-tanger-entrepreneuriat@test"]
    assert workshop.titles == {
        "fr": "Atelier « Entrepreneuriat et genre »",
        "ar": "ورشة «ريادة الأعمال والنوع الاجتماعي»",
        "en": 'Workshop "Entrepreneurship and gender"',
    }
    assert (workshop.city, workshop.venue, workshop.address) == (
        "tanger",
        "Espace FORSATY",
        "10 avenue Mohammed V, Tanger",
    )
    assert workshop.topics == ("jobs_training", "women")
    assert workshop.organiser == "Programme FORSATY (OIM)"
    assert (workshop.price, workshop.registration) == ("free", "+212 5 39 00 00 00")
    assert events["tanger-jeunes-cv@test"].topics == ("youth", "jobs_training")  # "Jeunes,Emploi"
    assert events["ampf-casa-ssr@test"].audience == {"fr": "Femmes migrantes", "ar": "النساء المهاجرات"}
    culture = events["casa-culture@test"]  # LOCATION "Dar Bida" is the city, not a venue
    assert (culture.city, culture.venue) == ("casablanca", None)


def test_ics_cancelled_and_past_events_are_left_out() -> None:
    events, _ = parse("feed.ics")
    assert "rabat-cancelled@test" not in events
    assert "rabat-refugee-day-2025@test" not in events


def test_json_feed_fields_dates_and_recurrence() -> None:
    events, problems = parse("feed.json")
    meeting = events["oujda-retour-info@test"]
    assert meeting.city == "oujda" and meeting.topics == ("return",)
    assert (meeting.start, meeting.end) == (at(2026, 12, 9, 10), at(2026, 12, 9, 12))  # no offset: Morocco
    assert meeting.titles["ar"] == "لقاء إعلامي حول العودة الطوعية"
    assert meeting.languages == ("fr", "ar", "en") and meeting.price == "free"
    refugee_day = events["rabat-refugee-day-2027@test"]  # city given in Arabic, date only
    assert refugee_day.city == "rabat" and refugee_day.all_day
    assert (refugee_day.start, refugee_day.end) == (at(2027, 6, 20), at(2027, 6, 21))
    festival = events["casa-festival@test"]  # the end day is included
    assert (festival.start, festival.end, festival.titles) == (
        at(2027, 5, 14),
        at(2027, 5, 17),
        {"fr": "Festival des cultures"},
    )
    weekly = sorted(e.start.date() for e in events.values() if e.id.startswith("rabat-legal-weekly@test@"))
    assert weekly == [dt.date(2026, 12, 1), dt.date(2026, 12, 8), dt.date(2026, 12, 22)]
    assert events["rabat-legal-weekly@test@2026-12-01T09:30:00+01:00"].topics == ("rights",)  # "droits"
    assert "oujda-2025@test" not in events
    assert problems == ()


def test_malformed_events_are_skipped_and_named_the_rest_is_kept() -> None:
    events, problems = parse("partly_broken.json")
    assert set(events) == {"good@test", "unknown-city@test"}
    assert events["unknown-city@test"].city is None
    text = "\n".join(problems)
    for bad in (
        "#2: skipped",
        "no-french@test: skipped",
        "bad-date@test: skipped",
        "backwards@test: skipped",
        "bad-rule@test: skipped",
        "unknown-city@test: unknown city",
        "#8: skipped",
    ):
        assert bad in text
    events, problems = parse("partly_broken.ics")
    assert set(events) == {"good@test"} and events["good@test"].city == "fes"
    assert [p.split(":")[0] for p in problems] == ["event bad-date@test", "event no-title@test"]


@pytest.mark.parametrize("name", ["malformed.ics", "malformed.json"])
def test_a_malformed_feed_is_a_feed_error(name: str) -> None:
    with pytest.raises(FeedError):
        parse(name)


def test_format_from_content_type_then_extension_then_content() -> None:
    assert detect_format("https://x/feed", Fetched(b"", "text/calendar; charset=utf-8")) == "ics"
    assert detect_format("https://x/feed", Fetched(b"", "application/json")) == "json"
    assert detect_format("https://x/feed.ics?key=1", Fetched(b"", "text/plain")) == "ics"
    assert detect_format("/srv/events.yml", Fetched(b"events: []")) == "yaml"
    assert (
        detect_format("https://x/export", Fetched(b"\xef\xbb\xbfBEGIN:VCALENDAR\r\n", "application/octet-stream"))
        == "ics"
    )
    assert detect_format("https://x/export", Fetched(b'  {"events": []}', None)) == "json"
    with pytest.raises(FeedError):
        detect_format("https://x/export", Fetched(b"<html>login</html>", "text/html"))


def test_events_url_lists_several_sources() -> None:
    root = Path("/srv/dalil")
    assert parse_sources(None, root) == [str(Path(__file__).resolve().parents[2] / "events" / "events.yml")]
    assert parse_sources("https://a.org/x.ics, https://b.org/y.json  events/local.yml,https://a.org/x.ics", root) == [
        "https://a.org/x.ics",
        "https://b.org/y.json",
        "/srv/dalil/events/local.yml",
    ]


def test_source_labels_hide_secrets_in_private_links() -> None:
    label = source_label("https://calendar.google.com/calendar/ical/abc/private-s3cr3t/basic.ics?token=xyz")
    assert label == "https://calendar.google.com/…/basic.ics"


def test_an_event_without_an_end_is_over_once_started() -> None:
    e = Event(id="x", titles={"fr": "x"}, start=at(2026, 12, 1), end=at(2026, 12, 1))
    assert not_over(e, at(2026, 12, 1)) and not not_over(e, at(2026, 12, 1, 0, 1))
    assert Query(start=at(2026, 12, 1), end=at(2026, 12, 2)).matches(e)
    assert not Query(start=at(2026, 11, 30), end=at(2026, 12, 1)).matches(e)


# -- the service --------------------------------------------------------------------------------
class Feed:
    """A feed behind httpx.MockTransport: counts requests; `respond` decides the answer."""

    def __init__(self, body: bytes, content_type: str = "text/calendar") -> None:
        self.requests = 0
        self.body = body
        self.content_type = content_type
        self.respond: Callable[[], httpx.Response] | None = None
        self.delay = 0.0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.respond is not None:
            return self.respond()
        return httpx.Response(200, content=self.body, headers={"content-type": self.content_type})


@pytest.fixture
def feed() -> Feed:
    return Feed((FIXTURES / "feed.ics").read_bytes())


def titles(events: tuple[Event, ...]) -> list[str]:
    return [e.titles["fr"] for e in events]


async def test_cached_for_the_ttl_then_fetched_again(feed: Feed) -> None:
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        service = EventsService(http, [URL], ttl=300, clock=clock)
        first = await service.upcoming(Query(), NOW)
        await service.upcoming(Query(city="rabat"), NOW)
        assert feed.requests == 1
        clock.advance(301)
        again = await service.upcoming(Query(), NOW)
        assert feed.requests == 2
    assert titles(first.events) == titles(again.events) and len(first.events) == 11
    assert first.stale_sources == {} and first.errors == {}


async def test_filters_by_city_topic_and_period_sorted_by_start(feed: Feed) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        service = EventsService(http, [URL], clock=Clock())
        tanger = await service.upcoming(Query(city="tanger"), NOW)
        hiv_this_week = await service.upcoming(Query(topic="hiv", start=at(2026, 11, 29), end=at(2026, 12, 7)), NOW)
        later = await service.upcoming(Query(), at(2026, 12, 1, 12))  # the all-day event is still on
    assert titles(tanger.events) == ["Atelier CV pour les jeunes", "Atelier « Entrepreneuriat et genre »"]
    assert [e.id for e in hiv_this_week.events] == [
        "world-aids-day-agadir@test",
        "alcs-agadir-permanence@test@2026-12-02T10:00:00+01:00",
    ]
    assert later.events[0].id == "world-aids-day-agadir@test"
    starts = [e.start for e in later.events]
    assert starts == sorted(starts)


async def test_a_feed_down_serves_the_last_good_copy_and_says_since_when(feed: Feed) -> None:
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        service = EventsService(http, [URL], ttl=300, clock=clock)
        good = await service.upcoming(Query(city="agadir"), NOW)
        fetched_at = clock.now
        clock.advance(600)
        feed.respond = lambda: httpx.Response(500)
        stale = await service.upcoming(Query(city="agadir"), NOW)
        assert titles(stale.events) == titles(good.events)
        assert stale.stale_sources == {URL: fetched_at} and stale.errors == {URL: "HTTP 500"}
        # Not retried on every question while it is down ...
        requests = feed.requests
        clock.advance(RETRY_AFTER / 2)
        await service.upcoming(Query(), NOW)
        assert feed.requests == requests
        # ... but after a pause, and once it is back the copy is fresh again.
        clock.advance(RETRY_AFTER)
        feed.respond = None
        fresh = await service.upcoming(Query(), NOW)
        assert feed.requests == requests + 1
        assert fresh.stale_sources == {} and fresh.errors == {}


async def test_a_malformed_feed_after_a_good_one_keeps_the_good_copy(
    feed: Feed, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        service = EventsService(http, [URL], ttl=60, clock=clock)
        await service.upcoming(Query(), NOW)
        clock.advance(61)
        feed.body = (FIXTURES / "malformed.ics").read_bytes()
        with caplog.at_level(logging.WARNING, logger="bot.events.service"):
            listing = await service.upcoming(Query(), NOW)
    assert len(listing.events) == 11 and URL in listing.stale_sources
    assert listing.errors[URL].startswith("not a valid iCalendar file")
    assert "feed.ics" in caplog.text and "serving the copy" in caplog.text


async def test_a_slow_feed_is_abandoned_at_the_timeout_and_the_copy_served(feed: Feed) -> None:
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        service = EventsService(http, [URL], ttl=60, timeout=0.3, clock=clock)
        await service.upcoming(Query(), NOW)
        clock.advance(61)
        feed.delay = 30
        started = time.monotonic()
        listing = await service.upcoming(Query(city="tanger"), NOW)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert len(listing.events) == 2 and listing.errors == {URL: "timed out after 0.3 s"}


async def test_a_feed_never_read_gives_nothing_and_the_others_still_answer(
    feed: Feed, caplog: pytest.LogCaptureFixture
) -> None:
    feed.respond = lambda: httpx.Response(503)
    private = "https://calendar.example.org/ical/private-s3cr3t/basic.ics"
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        alone = EventsService(http, [private], clock=Clock())
        with caplog.at_level(logging.WARNING):
            nothing = await alone.upcoming(Query(), NOW)
        both = EventsService(http, [private, str(FIXTURES / "feed.json")], clock=Clock())
        some = await both.upcoming(Query(), NOW)
    assert not nothing.available and nothing.events == () and nothing.errors == {private: "HTTP 503"}
    assert "basic.ics" in caplog.text and "s3cr3t" not in caplog.text
    assert some.available and len(some.events) == 7 and some.stale_sources == {}


async def test_sources_are_merged_and_duplicates_shown_once() -> None:
    async with httpx.AsyncClient() as http:
        service = EventsService(http, [str(FIXTURES / "feed.ics"), str(FIXTURES / "feed.json")], clock=Clock())
        listing = await service.upcoming(Query(city="casablanca"), NOW)
    ids = [e.id for e in listing.events]
    assert ids.count("ampf-casa-ssr@test") == 1
    assert listing.events[0].titles["fr"].startswith("Séance de sensibilisation")  # the first source wins
    assert ids == ["ampf-casa-ssr@test", "casa-culture@test", "casa-festival@test"]


async def test_check_reports_counts_ranges_and_problems() -> None:
    sources = [str(FIXTURES / "feed.ics"), str(FIXTURES / "partly_broken.json"), str(FIXTURES / "malformed.json")]
    async with httpx.AsyncClient() as http:
        reports = await EventsService(http, sources, clock=Clock()).check()
    ics, partly, broken = reports
    assert (ics.ok, ics.count, ics.first, ics.last) == (True, 11, at(2026, 12, 1), at(2027, 3, 24, 14))
    assert partly.ok and partly.count == 2 and len(partly.problems) == 7
    assert not broken.ok and broken.error is not None and broken.error.startswith("not valid JSON")


def test_cli_check_prints_each_source_and_fails_when_one_is_broken(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_check([str(FIXTURES / "feed.ics")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "11 event(s)" in out
    assert cli_check([str(FIXTURES / "feed.json"), str(FIXTURES / "missing.ics")]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out and "missing.ics: cannot read the file" in out


async def test_the_default_configuration_lists_no_invented_event() -> None:
    async with httpx.AsyncClient() as http:
        service = EventsService(http, parse_sources(None), clock=Clock())
        [report] = await service.check()
        listing = await service.upcoming(Query(), NOW)
    assert report.ok and not report.sample
    assert listing.events == () or not any(e.sample for e in listing.events)


DEMO = Path(__file__).resolve().parents[2] / "events" / "demo.yml"
DEMO_TEXT = DEMO.read_text(encoding="utf-8")


async def test_the_demonstration_file_is_valid_in_the_future_and_names_no_real_organisation() -> None:
    demo, text = DEMO, DEMO_TEXT
    for line in text.splitlines():
        if line.strip().startswith(("organiser:", "venue:", "registration:")):
            assert not re.search(r"ALCS|AMPF|OIM|IOM|HCR|UNHCR|Caritas|FOO|OMDH|FORSATY", line), line
    async with httpx.AsyncClient() as http:
        service = EventsService(http, parse_sources(str(demo)), clock=Clock())
        [report] = await service.check()
        listing = await service.upcoming(Query(), NOW)
    assert report.ok and report.problems == () and report.sample
    ids = {e.id.split("@")[0] for e in listing.events}
    assert len(ids) >= 12
    assert all(e.sample for e in listing.events)
    assert min(e.start for e in listing.events) > NOW
    cities = {e.city for e in listing.events}
    assert {"rabat", "oujda", "casablanca", "tanger", "agadir"} <= cities
    assert any(e.all_day for e in listing.events)
    assert sum(e.id.startswith("sample-alcs-agadir-weekly") for e in listing.events) > 4
    assert all({"fr", "ar", "en"} <= set(e.titles) for e in listing.events)
