"""Opt-in event alerts: the person's side (the 🔔 button, the words, /alerts) and the poller that
reads the feeds every ALERTS_INTERVAL seconds and tells subscribers about new events.

- `AlertRules`: content/alerts.yml (quiet hours, pace, the words that ask for alerts).
- `AlertsDesk`: used by the engine. Adds the 🔔 button under an events listing (the action's
  `alert_offer` directive), subscribes from that button or from words ("préviens-moi des séances à
  Tanger", "3lmni b l2anchita f tanja"), lists and removes subscriptions (/alerts).
- `AlertsPoller`: one task per gateway; with several gateways sharing a database only the holder of
  the "alerts" lease polls. The first round with an empty `dalil_events_seen` records every event as
  seen and announces nothing. Later rounds announce each new event (a recurring series once) to the
  subscriptions older than its first sighting, one message per person and city, in their language,
  through the durable outbox, spaced at `per_second`. Nothing is queued during quiet hours: the events
  wait, unannounced, for the first round after them. A 403 from Telegram unsubscribes the person.

Logs never name a person, a chat or a text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bot.core.bodies import Body, Button
from bot.core.content import FileCache, Library, load_yaml
from bot.core.phrases import PhraseIndex
from bot.core.settings import PROJECT_ROOT, Settings
from bot.events.formatting import Formatter
from bot.events.model import CASABLANCA, Event, Query
from bot.events.query import Vocabulary, vocabulary
from bot.events.service import EventsService, morocco_now, parse_sources
from bot.storage.alerts import (
    ORIGIN_ALERT,
    AlertStore,
    Delivery,
    Recipient,
    Subscription,
    language_of,
)
from bot.storage.figures import Figures
from bot.storage.store import Store, User

if TYPE_CHECKING:
    from bot.gateway.broadcast import Broadcasts

log = logging.getLogger(__name__)

ALERT_BUTTONS = ("alert", "unalert", "bcast")  # callback kinds handled here ("bcast": broadcast.py)
MAX_SUBSCRIPTIONS = 10
MAX_ALERT_CHARS = 3500
_OCCURRENCE = re.compile(r"@\d{4}-?\d{2}-?\d{2}[^@]*$")  # "<uid>@2026-12-03T10:00:00+01:00": one occurrence
Clock = Callable[[], dt.datetime]


# -- rules ------------------------------------------------------------------------------------------
def _clock_time(value: Any) -> dt.time:
    if isinstance(value, int):  # YAML reads 21:00 unquoted as minutes (sexagesimal)
        return dt.time(value // 60 % 24, value % 60)
    hours, _, minutes = str(value).strip().partition(":")
    return dt.time(int(hours) % 24, int(minutes or 0))


def quiet_window(value: Any) -> tuple[dt.time, dt.time] | None:
    """Quiet hours from content ({start, end}) or ALERTS_QUIET_HOURS ("21:00-08:00"; "off": none)."""
    if value is None:
        return None
    if isinstance(value, dict):
        start, end = value.get("start"), value.get("end")
    else:
        text = str(value).strip().lower()
        if text in ("", "off", "none", "no", "0"):
            return None
        start, _, end = text.partition("-")
    if start is None or end is None or str(start).strip() == "" or str(end).strip() == "":
        return None
    window = (_clock_time(start), _clock_time(end))
    return None if window[0] == window[1] else window


def _with_prefixes(words: list[str], prefixes: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        out.append(word)
        if word and "\u0600" <= word[0] <= "\u06ff":
            out += [p + (word[1:] if p.endswith("ل") and word.startswith("ال") else word) for p in prefixes]
    return out


@dataclass(frozen=True)
class AlertRules:
    """content/alerts.yml, read: quiet hours, pace, limits and the words that ask for alerts."""

    quiet: tuple[dt.time, dt.time] | None
    per_second: float
    max_events: int
    offer_cities: tuple[str, ...]
    cues: PhraseIndex
    alone: PhraseIndex
    events: PhraseIndex

    @classmethod
    def load(cls, path: Path, quiet_override: str | None = None) -> AlertRules:
        raw = load_yaml(path) or {}
        prefixes = [str(p) for p in raw.get("arabic_prefixes") or ()]

        def index(key: str) -> PhraseIndex:
            return PhraseIndex({key: _with_prefixes([str(w) for w in raw.get(key) or ()], prefixes)})

        return cls(
            quiet=quiet_window(raw.get("quiet_hours") if quiet_override is None else quiet_override),
            per_second=float(raw.get("per_second") or 20),
            max_events=int(raw.get("max_events") or 3),
            offer_cities=tuple(str(c) for c in raw.get("offer_cities") or ()),
            cues=index("cues"),
            alone=index("alone"),
            events=index("events"),
        )

    def is_quiet(self, now: dt.datetime) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        moment = now.astimezone(CASABLANCA).time()
        return start <= moment < end if start < end else (moment >= start or moment < end)

    def quiet_ends(self, now: dt.datetime) -> dt.datetime:
        """When the quiet hours that `now` is in end (Morocco's time); `now` outside them."""
        if not self.is_quiet(now) or self.quiet is None:
            return now
        local = now.astimezone(CASABLANCA)
        end = dt.datetime.combine(local.date(), self.quiet[1], tzinfo=CASABLANCA)
        return end if end > local else end + dt.timedelta(days=1)

    def asks_alerts(self, text: str) -> bool:
        """A cue with an events word ("préviens-moi des séances"), or a cue that means alerts alone."""
        return text in self.alone or (text in self.cues and text in self.events)


_rules: dict[str | None, FileCache[AlertRules]] = {}


def alert_rules(quiet_override: str | None = None, path: Path | None = None) -> AlertRules:
    """content/alerts.yml, re-read when it changes on disk."""
    path = path or PROJECT_ROOT / "content" / "alerts.yml"
    cache = _rules.setdefault(quiet_override, FileCache())
    return cache.get([path], lambda: AlertRules.load(path, quiet_override))


def where(library: Library, vocab: Vocabulary, city: str, topic: str, lang: str, darija: bool = False) -> str:
    """ "à Tanger", "à Tanger (santé)" in `lang`."""
    name = vocab.city_name(city, lang)
    if topic:
        return library.text("alerts_where_topic", lang, darija, city=name, topic=vocab.topic_name(topic, lang))
    return library.text("alerts_where", lang, darija, city=name)


def series_key(event: Event) -> str:
    """One key per event, the same for every occurrence of a recurring one."""
    return _OCCURRENCE.sub("", event.id)[:160] or event.id[:160]


# -- the person's side ------------------------------------------------------------------------------
class AlertsDesk:
    """Subscriptions as a person sees them; stateless apart from the database."""

    def __init__(self, settings: Settings, store: Store, library: Library) -> None:
        self.settings = settings
        self.store = store
        self.alerts = AlertStore(store.engine)
        self.library = library
        self.broadcasts: Broadcasts | None = None  # set by the app: confirms admins' broadcasts

    @property
    def rules(self) -> AlertRules:
        return alert_rules(self.settings.alerts_quiet_hours)

    @staticmethod
    def _lang(user: User) -> tuple[str, bool]:
        lang = language_of(user.lang_chosen, user.lang_current, user.telegram_code)
        return lang, bool(user.darija) and lang == "ar"

    def _where(self, city: str, topic: str, lang: str, darija: bool) -> str:
        return where(self.library, vocabulary(), city, topic, lang, darija)

    async def offer(self, user: User, directive: dict[str, Any], lang: str, listing: Body) -> Body:
        """The events listing with a 🔔 button that subscribes to its city (and topic)."""
        vocab = vocabulary()
        city, topic = str(directive.get("city") or ""), str(directive.get("topic") or "")
        if city not in vocab.city_names:
            return listing
        topic = topic if topic in vocab.topic_names else ""
        if any(s.city == city and s.topic == topic for s in await self.alerts.for_user(user.id)):
            return listing  # already subscribed: nothing to offer
        darija = bool(user.darija) and lang == "ar"
        token = await self.store.callback_add(user.id, {"t": "alert", "city": city, "topic": topic})
        row: list[Button] = [{"text": self.library.text("alerts_offer_button", lang, darija), "token": token}]
        return {**listing, "buttons": [*(listing.get("buttons") or []), row]}

    async def from_words(self, user: User, text: str, lang: str, darija: bool) -> list[Body] | None:
        """ "préviens-moi des séances à Tanger": subscribe; None when the message does not ask for alerts."""
        rules = self.rules
        if not rules.asks_alerts(text):
            return None
        vocab = vocabulary()
        city, topic = vocab.city(text), vocab.topic(text) or ""
        if city is None:
            return [await self._ask_city(user, topic, lang, darija)]
        return await self.subscribe(user, city, topic, lang, darija)

    async def _ask_city(self, user: User, topic: str, lang: str, darija: bool) -> Body:
        vocab = vocabulary()
        rows: list[list[Button]] = []
        for city in self.rules.offer_cities:
            if city in vocab.city_names:
                token = await self.store.callback_add(user.id, {"t": "alert", "city": city, "topic": topic})
                rows.append([{"text": "🔔 " + vocab.city_name(city, lang), "token": token}])
        return {"text": self.library.text("alerts_ask_city", lang, darija), "buttons": rows, "lang": lang}

    async def subscribe(self, user: User, city: str, topic: str, lang: str, darija: bool) -> list[Body]:
        """Subscribe and say in one line what will come and how to stop, with the events now and an undo."""
        there = self._where(city, topic, lang, darija)
        existing = await self.alerts.for_user(user.id)
        if any(s.city == city and s.topic == topic for s in existing):
            return [{"text": self.library.text("alerts_already", lang, darija, where=there), "lang": lang}]
        if len(existing) >= MAX_SUBSCRIPTIONS:
            return [{"text": self.library.text("alerts_too_many", lang, darija, count=len(existing)), "lang": lang}]
        await self.alerts.subscribe(user.id, city, topic)
        entities = {"city": city, **({"event_topic": topic} if topic else {})}
        see = {"t": "payload", "payload": "/ask_events" + json.dumps(entities, separators=(",", ":"))}
        undo = {"t": "unalert", "city": city, "topic": topic}
        rows: list[list[Button]] = [
            [
                {
                    "text": self.library.text("alerts_see_events_button", lang, darija),
                    "token": await self.store.callback_add(user.id, see),
                }
            ],
            [
                {
                    "text": self.library.text("alerts_undo_button", lang, darija),
                    "token": await self.store.callback_add(user.id, undo),
                }
            ],
        ]
        text = self.library.text("alerts_subscribed", lang, darija, where=there)
        return [{"text": text, "buttons": rows, "lang": lang}]

    async def listing(self, user: User) -> list[Body]:
        """/alerts: the person's subscriptions, each a button that removes it."""
        lang, darija = self._lang(user)
        subscriptions = await self.alerts.for_user(user.id)
        if not subscriptions:
            return [{"text": self.library.text("alerts_none", lang, darija), "lang": lang}]
        vocab = vocabulary()
        rows: list[list[Button]] = []
        for sub in subscriptions:
            label = vocab.city_name(sub.city, lang) + (f" · {vocab.topic_name(sub.topic, lang)}" if sub.topic else "")
            token = await self.store.callback_add(user.id, {"t": "unalert", "id": sub.id})
            rows.append([{"text": self.library.text("alerts_stop_button", lang, darija, label=label), "token": token}])
        return [{"text": self.library.text("alerts_list", lang, darija), "buttons": rows, "lang": lang}]

    async def button(self, user: User, data: dict[str, Any]) -> list[Body]:
        """A pressed 🔔 (subscribe), ❌ (unsubscribe) or a broadcast's confirmation."""
        lang, darija = self._lang(user)
        kind = data.get("t")
        if kind == "bcast":
            return [] if self.broadcasts is None else await self.broadcasts.button(user, data, lang)
        city, topic = str(data.get("city") or ""), str(data.get("topic") or "")
        if kind == "alert":
            return await self.subscribe(user, city, topic, lang, darija)
        if "id" in data:
            found = next((s for s in await self.alerts.for_user(user.id) if s.id == data["id"]), None)
            city, topic = (found.city, found.topic) if found else ("", "")
        if not city or not await self.alerts.remove(user.id, city=city, topic=topic):
            return [{"text": self.library.text("alerts_gone", lang, darija), "lang": lang}]
        there = self._where(city, topic, lang, darija)
        return [{"text": self.library.text("alerts_removed", lang, darija, where=there), "lang": lang}]


# -- the poller -------------------------------------------------------------------------------------
@dataclass
class _Round:
    """One person's alert for one city: the events, and whether every matching subscription had a topic."""

    recipient: Recipient
    city: str
    topic: str
    events: list[Event]


class AlertsPoller:
    """Reads the feeds every `interval` seconds and queues alerts for new events."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        library: Library,
        kick: Callable[[str], None],
        *,
        http: httpx.AsyncClient,
        events: EventsService | None = None,
        clock: Clock = morocco_now,
        owner: str = "",
    ) -> None:
        self.settings = settings
        self.store = store
        self.alerts = AlertStore(store.engine)
        self.figures = Figures(store.engine)
        self.library = library
        self.kick = kick
        self.interval = max(0.2, settings.alerts_interval)
        self.events = events or EventsService(http, parse_sources(settings.events_url), ttl=0, timeout=10.0)
        self.clock = clock
        self.owner = owner or "gateway"
        self.broadcasts: Broadcasts | None = None  # set by the app: sends broadcasts held for the night
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def rules(self) -> AlertRules:
        return alert_rules(self.settings.alerts_quiet_hours)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="alerts")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                if await self.store.lease("alerts", self.owner, max(60.0, 3 * self.interval)):
                    await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts round failed; next one in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

    async def poll(self) -> int:
        """One round: the messages queued (0 for the first round, at night, or with nothing new)."""
        now = self.clock()
        at = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        listing = await self.events.upcoming(Query(), now)
        self.rounds += 1
        if not listing.available:
            return 0
        series: dict[str, Event] = {}
        for event in listing.events:  # sorted by start: the next occurrence of each series
            if not event.sample and event.city:
                series.setdefault(series_key(event), event)
        if not await self.alerts.seen_any():
            await self.alerts.record_seen(series, at, announced=True)
            log.info("alerts: first look at the feeds, %d event(s) recorded as known", len(series))
            return 0
        known = await self.alerts.seen(list(series))
        new = [key for key in series if key not in known]
        await self.alerts.record_seen(new, at, announced=False)
        first_seen = {key: known[key][0] if key in known else at for key in series}
        pending = [key for key in series if key not in known or known[key][1] is None]
        quiet = self.rules.is_quiet(now)
        if not quiet and self.broadcasts is not None:
            await self.broadcasts.send_scheduled()
        if not pending or quiet:
            return 0
        rounds = await self._rounds([(series[k], first_seen[k]) for k in pending])
        deliveries = [Delivery(r.recipient.user_id, r.recipient.chat_id, self._body(r, now)) for r in rounds]
        await self.alerts.deliver(
            deliveries, origin=ORIGIN_ALERT, per_second=self.rules.per_second, announced=pending, at=at
        )
        per_city: dict[str, int] = {}
        for item in rounds:
            per_city[item.city] = per_city.get(item.city, 0) + 1
        for city, count in per_city.items():
            await self.figures.add("alerts_sent", city, count)
        for user_id in dict.fromkeys(d.user_id for d in deliveries):
            self.kick(user_id)
        log.info("alerts: %d new event(s), %d message(s) queued", len(pending), len(deliveries))
        return len(deliveries)

    async def _rounds(self, events: list[tuple[Event, dt.datetime]]) -> list[_Round]:
        """Per person and city, the new events their subscriptions (older than the sighting) match."""
        found: dict[tuple[str, str], _Round] = {}
        subs = await self.alerts.reachable({e.city for e, _ in events if e.city})
        for event, seen_at in events:
            for sub, recipient in subs:
                if not _matches(sub, event, seen_at):
                    continue
                key = (sub.user_id, sub.city)
                item = found.get(key)
                if item is None:
                    found[key] = _Round(recipient, sub.city, sub.topic, [event])
                    continue
                if event not in item.events:
                    item.events.append(event)
                if item.topic != sub.topic:
                    item.topic = ""  # subscribed to several topics or to all of the city: say the city only
        return list(found.values())

    def _body(self, item: _Round, now: dt.datetime) -> Body:
        lang, darija = item.recipient.lang, item.recipient.darija
        vocab = vocabulary()
        there = where(self.library, vocab, item.city, item.topic, lang, darija)
        events = sorted(item.events, key=lambda e: (e.start, e.id))
        shown = events[: self.rules.max_events]
        if len(events) == 1:
            head = self.library.text("alert_new", lang, darija, where=there)
        else:
            head = self.library.text("alert_new_many", lang, darija, where=there, count=len(events))
        formatter = Formatter(lang, vocab=vocab)
        parts = [head, *(formatter.event(e, now) for e in shown)]
        if len(events) > len(shown):
            parts.append(self.library.text("alert_more", lang, darija, count=len(events) - len(shown), where=there))
        footer = self.library.text("alert_footer", lang, darija)
        text = "\n\n".join(parts)[: MAX_ALERT_CHARS - len(footer) - 2]
        return {"text": f"{text}\n\n{footer}", "lang": lang}

    async def blocked(self, chat_id: int) -> None:
        """Telegram answered 403 for this chat: the person blocked the bot (or is gone)."""
        if chat_id <= 0:
            return
        try:
            removed = await self.alerts.blocked(chat_id)
        except Exception as exc:  # the send is given up on anyway; never break the outbox lane
            log.warning("could not unsubscribe a chat that refuses the bot: %s", type(exc).__name__)
            return
        if removed:
            log.info("a person who blocked the bot was unsubscribed (%d alert(s))", removed)


def _matches(sub: Subscription, event: Event, seen_at: dt.datetime) -> bool:
    return event.city == sub.city and (not sub.topic or sub.topic in event.topics) and sub.created_at < seen_at


BlockedHook = Callable[[int], Awaitable[None]]
