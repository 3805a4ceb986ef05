"""Event alerts without Telegram: the rules (quiet hours, the words that ask for alerts), the person's
side (subscribe, /alerts, remove) and the poller over a feed file with an injected clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.content import library
from bot.core.settings import Settings
from bot.events.model import CASABLANCA
from bot.events.service import EventsService
from bot.gateway.alerts import AlertsDesk, AlertsPoller, alert_rules, quiet_window, series_key
from bot.storage.alerts import AlertStore
from bot.storage.db import create_engine, migrate
from bot.storage.schema import outbox
from bot.storage.store import Store, User

# Relative to today, so that subscriptions (stamped with the real clock) are older than the sightings.
DAY = (dt.datetime.now(CASABLANCA) + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


def event(
    uid: str, city: str, *, days: int = 3, topics: tuple[str, ...] = (), rrule: str | None = None
) -> dict[str, Any]:
    start = DAY + dt.timedelta(days=days)
    item: dict[str, Any] = {
        "id": uid,
        "title": {"fr": f"Atelier {uid}", "ar": f"ورشة {uid}", "en": f"Workshop {uid}"},
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=2)).isoformat(),
        "city": city,
        "topics": list(topics),
    }
    if rrule:
        item["rrule"] = rrule
    return item


class Feed:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self.write()

    def write(self) -> None:
        self.path.write_text(json.dumps({"sample": False, "events": self.events}), encoding="utf-8")

    def add(self, *items: dict[str, Any]) -> None:
        self.events.extend(items)
        self.write()


class Clock:
    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(url)
    s = Store(create_engine(url))
    yield s
    await s.close()


async def person(store: Store, n: int, lang: str = "fr", darija: bool = False) -> User:
    uid = f"u{n}"
    await store.touch_user(uid, 3000 + n, lang)
    await store.set_language(uid, chosen=lang, current=lang, darija=darija, asked=True)
    found = await store.get_user(uid)
    assert found is not None
    return found


def settings(**extra: Any) -> Settings:
    return Settings(alerts_interval=1, alerts_quiet_hours=extra.pop("quiet", "off"), **extra)


async def pending(store: Store) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox).where(outbox.c.status == "pending").order_by(outbox.c.id))
        return [dict(r._mapping) for r in rows]


# -- rules ----------------------------------------------------------------------------------------
def test_quiet_hours_cross_midnight_and_can_be_switched_off() -> None:
    rules = alert_rules("21:00-08:00")
    at = lambda h, m=0: DAY.replace(hour=h, minute=m)  # noqa: E731
    assert [rules.is_quiet(at(h)) for h in (7, 8, 12, 20, 21, 23, 0)] == [True, False, False, False, True, True, True]
    assert rules.quiet_ends(at(23)) == at(8) + dt.timedelta(days=1)
    assert rules.quiet_ends(at(6)) == at(8)
    assert rules.quiet_ends(at(12)) == at(12)
    assert quiet_window("off") is None and not alert_rules("off").is_quiet(at(3))
    assert alert_rules().quiet == (dt.time(21), dt.time(8))  # content/alerts.yml


@pytest.mark.parametrize(
    "text",
    [
        "préviens-moi des séances à Tanger",
        "علمني بالأنشطة فطنجة",
        "tell me about workshops in Rabat",
        "3lmni b l2anchita f tanja",
        "je veux des alertes pour Rabat",
    ],
)
def test_the_words_that_ask_for_alerts(text: str) -> None:
    assert alert_rules("off").asks_alerts(text)


@pytest.mark.parametrize(
    "text",
    ["what events are in Rabat?", "quels ateliers à Tanger ?", "tell me about asylum", "هل هناك أنشطة في الرباط؟"],
)
def test_ordinary_questions_are_not_taken_for_alerts(text: str) -> None:
    assert not alert_rules("off").asks_alerts(text)


def test_a_recurring_series_has_one_key() -> None:
    from bot.events.model import Event

    one = Event(id="legal@test@2026-12-08T09:30:00+01:00", titles={}, start=DAY, end=DAY)
    assert series_key(one) == "legal@test"
    assert series_key(Event(id="casa-festival@test", titles={}, start=DAY, end=DAY)) == "casa-festival@test"


# -- the person's side ----------------------------------------------------------------------------
async def test_words_subscribe_and_alerts_lists_and_removes(store: Store) -> None:
    desk, lib = AlertsDesk(settings(), store, library()), library()
    user = await person(store, 1)
    [said] = await desk.from_words(user, "préviens-moi des ateliers santé à Tanger", "fr", False) or []
    assert said["text"] == lib.text("alerts_subscribed", "fr", where="à Tanger (santé)")
    subs = await AlertStore(store.engine).for_user(user.id)
    assert [(s.city, s.topic) for s in subs] == [("tanger", "health")]
    [again] = await desk.from_words(user, "préviens-moi des ateliers santé à Tanger", "fr", False) or []
    assert again["text"] == lib.text("alerts_already", "fr", where="à Tanger (santé)")
    assert await desk.from_words(user, "quels ateliers à Tanger ?", "fr", False) is None

    [listing] = await desk.listing(user)
    assert listing["text"] == lib.text("alerts_list", "fr")
    [[stop]] = listing["buttons"]
    assert stop["text"] == "❌ Tanger · santé"
    data = await store.callback_get(user.id, stop["token"])
    assert data is not None
    [removed] = await desk.button(user, data)
    assert removed["text"] == lib.text("alerts_removed", "fr", where="à Tanger (santé)")
    assert await AlertStore(store.engine).for_user(user.id) == []
    [none] = await desk.listing(user)
    assert none["text"] == lib.text("alerts_none", "fr")


async def test_without_a_city_the_cities_are_offered_and_the_listing_gets_a_bell(store: Store) -> None:
    desk = AlertsDesk(settings(), store, library())
    user = await person(store, 2, "ar", darija=True)
    [ask] = await desk.from_words(user, "علمني بالأنشطة", "ar", True) or []
    assert ask["text"] == library().text("alerts_ask_city", "ar", True)
    labels = [row[0]["text"] for row in ask["buttons"]]
    assert labels[:3] == ["🔔 الدار البيضاء", "🔔 الرباط", "🔔 طنجة"]
    tanger = await store.callback_get(user.id, ask["buttons"][2][0]["token"])
    assert tanger == {"t": "alert", "city": "tanger", "topic": ""}

    listing = {"text": "…", "buttons": [[{"text": "Menu", "token": "x"}]], "lang": "ar"}
    offered = await desk.offer(user, {"op": "alert_offer", "city": "tanger", "topic": ""}, "ar", listing)
    bell = offered["buttons"][-1][0]
    assert bell["text"].startswith("🔔") and offered["buttons"][0] == listing["buttons"][0]
    pressed = await store.callback_get(user.id, bell["token"])
    assert pressed is not None
    await desk.button(user, pressed)
    # Subscribed: the same listing no longer offers the bell.
    assert await desk.offer(user, {"op": "alert_offer", "city": "tanger", "topic": ""}, "ar", listing) == listing


# -- the poller -----------------------------------------------------------------------------------
@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def poller(store: Store, feed: Feed, http: httpx.AsyncClient, clock: Clock, quiet: str = "off") -> AlertsPoller:
    kicked: list[str] = []
    service = EventsService(http, [str(feed.path)], ttl=0, clock=clock)
    made = AlertsPoller(settings(quiet=quiet), store, library(), kicked.append, http=http, events=service, clock=clock)
    made.kicked = kicked  # type: ignore[attr-defined]
    return made


async def test_a_new_event_goes_once_to_the_matching_subscribers_only(
    store: Store, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    feed, clock = Feed(tmp_path / "feed.json"), Clock()
    feed.add(event("old-tanger", "tanger"))
    alerts = poller(store, feed, http, clock)
    assert await alerts.poll() == 0  # the first look records what exists, announces nothing
    subscribers = AlertStore(store.engine)
    fr, ar, rabat, hiv = [await person(store, n, lang) for n, lang in ((1, "fr"), (2, "ar"), (3, "fr"), (4, "en"))]
    await subscribers.subscribe(fr.id, "tanger")
    await subscribers.subscribe(ar.id, "tanger")
    await subscribers.subscribe(rabat.id, "rabat")
    await subscribers.subscribe(hiv.id, "tanger", "hiv")
    assert await alerts.poll() == 0

    feed.add(
        event("new-tanger", "tanger", topics=("jobs_training",)), event("weekly", "tanger", rrule="FREQ=WEEKLY;COUNT=3")
    )
    assert await alerts.poll() == 2
    rows = await pending(store)
    assert sorted(r["chat_id"] for r in rows) == [3001, 3002]
    assert all(r["origin"] == "alert" for r in rows)
    by_chat = {r["chat_id"]: json.loads(r["body"]) for r in rows}
    assert by_chat[3001]["text"].startswith(library().text("alert_new_many", "fr", count=2, where="à Tanger"))
    assert by_chat[3001]["text"].count("Atelier weekly") == 1  # a weekly series: announced once
    assert "ورشة \u200enew-tanger\u200e" in by_chat[3002]["text"] and by_chat[3002]["lang"] == "ar"
    assert by_chat[3001]["text"].endswith(library().text("alert_footer", "fr"))
    assert rows[1]["next_attempt_at"] > rows[0]["next_attempt_at"]  # spaced out
    assert sorted(alerts.kicked) == sorted([fr.id, ar.id])  # type: ignore[attr-defined]
    assert await alerts.poll() == 0  # once
    # A subscription made after an event was first seen does not get it.
    late = await person(store, 5)
    await subscribers.subscribe(late.id, "tanger")
    assert await alerts.poll() == 0


async def test_at_night_new_events_wait_for_the_morning(store: Store, tmp_path: Path, http: httpx.AsyncClient) -> None:
    feed, clock = Feed(tmp_path / "feed.json"), Clock()
    alerts = poller(store, feed, http, clock, quiet="21:00-08:00")
    feed.add(event("known", "rabat"))
    await alerts.poll()
    user = await person(store, 1)
    await AlertStore(store.engine).subscribe(user.id, "rabat")
    clock.now = DAY.replace(hour=23)
    feed.add(event("night", "rabat"))
    assert await alerts.poll() == 0
    clock.now = DAY.replace(hour=7, minute=59) + dt.timedelta(days=1)
    assert await alerts.poll() == 0 and await pending(store) == []
    clock.now = DAY.replace(hour=8) + dt.timedelta(days=1)
    assert await alerts.poll() == 1
    [row] = await pending(store)
    assert "Atelier night" in json.loads(row["body"])["text"]


async def test_a_person_who_blocked_the_bot_is_unsubscribed(
    store: Store, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    alerts = poller(store, Feed(tmp_path / "feed.json"), http, Clock())
    user, other = await person(store, 1), await person(store, 2)
    subscribers = AlertStore(store.engine)
    for who in (user, other):
        await subscribers.subscribe(who.id, "rabat")
        await subscribers.subscribe(who.id, "oujda", "return")
    await alerts.blocked(3001)
    assert await subscribers.for_user(user.id) == []
    assert len(await subscribers.for_user(other.id)) == 2
    await alerts.blocked(-100123)  # a group: nothing to do
