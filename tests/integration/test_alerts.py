"""Event alerts and broadcasts end to end: the real gateway process, the fake Bot API, the real Rasa
and action server, and a local feed server whose events the test changes.

People here are 30xx (Rasa's conversations outlive a test; other tests use other ranges); the admin
is 3090. Quiet hours are switched off for the gateway process (ALERTS_QUIET_HOURS=off) except in the
test that checks them, which drives the gateway's own parts in this process with an injected clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.core.content import library
from bot.core.identity import pseudonym
from bot.events.model import CASABLANCA
from bot.events.service import EventsService
from bot.gateway.app import build_core
from bot.gateway.telegram_app import TelegramTransport
from bot.storage.alerts import AlertStore
from bot.storage.db import migrate
from tests.conftest import SECRET, Stack, free_port, start_gateway
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa

ADMIN = 3090
SOON = (dt.datetime.now(CASABLANCA) + dt.timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)


def event(uid: str, city: str, title: str, *, topics: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": uid,
        "title": {"fr": title, "ar": title, "en": title},
        "start": SOON.isoformat(),
        "end": (SOON + dt.timedelta(hours=2)).isoformat(),
        "city": city,
        "topics": list(topics),
    }


class FeedServer:
    """/feed.json with events the test adds while the gateway runs."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = [event("known-tanger@test", "tanger", "Atelier déjà connu")]
        self.hits = 0
        self.port = 0
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/feed.json"

    async def _feed(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"sample": False, "events": self.events})

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/feed.json", self._feed)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def read_again(self, times: int = 1, timeout: float = 30) -> None:
        """Wait until the feed was read `times` more times (a round of the poller each)."""
        target, deadline = self.hits + times, time.monotonic() + timeout
        while self.hits < target:
            assert time.monotonic() < deadline, "the gateway stopped reading the feed"
            await asyncio.sleep(0.05)


class BlockingTelegram(FakeTelegram):
    """The fake Bot API, where some people have blocked the bot: 403 on every message to them."""

    blocked: set[int]

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if int(params["chat_id"]) in getattr(self, "blocked", set()):
            raise web.HTTPForbidden(
                text=json.dumps(
                    {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
                ),
                content_type="application/json",
            )
        return await super()._m_sendMessage(params)


@pytest.fixture
async def feed() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[BlockingTelegram]:
    api = await BlockingTelegram().start()
    api.blocked = set()
    yield api
    await api.stop()


def db(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'gateway.db'}")


def subscriptions_of(tmp_path: Path, telegram_id: int) -> list[tuple[str, str]]:
    engine = db(tmp_path)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT city, topic FROM dalil_subscriptions WHERE user_id = :u ORDER BY id"),
            {"u": pseudonym(SECRET, "tg", telegram_id)},
        ).all()
    engine.dispose()
    return [(str(r[0]), str(r[1])) for r in rows]


def sent_rows(tmp_path: Path) -> int:
    """Outbox rows of broadcasts that Telegram accepted."""
    engine = db(tmp_path)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM dalil_outbox WHERE origin LIKE 'broadcast:%' AND status = 'sent'")
        ).scalar_one()
    engine.dispose()
    return int(count)


async def started(telegram: FakeTelegram, user: int, lang: str) -> int:
    telegram.message(user, f"/start l_{lang}")
    await telegram.wait_until(user, lambda s: len(s) >= 3, timeout=60)  # welcome, privacy, menu
    return len(await telegram.quiet(user, 0.5))


def confirmed(sent: list[Sent], before: int) -> Sent | None:
    return next((s for s in sent[before:] if (s.text or "").startswith("🔔") and "/alerts" in (s.text or "")), None)


async def say(telegram: FakeTelegram, user: int, text: str, lang: str) -> Sent:
    """A person who chose `lang` writes `text`; the one-line confirmation of a subscription."""
    before = await started(telegram, user, lang)
    telegram.message(user, text)
    sent = await telegram.wait_until(user, lambda s: confirmed(s, before) is not None, timeout=60)
    found = confirmed(sent, before)
    assert found is not None
    return found


async def test_subscribe_by_button_and_by_words_then_a_new_event_reaches_them_once(
    stack: Stack, telegram: BlockingTelegram, feed: FeedServer, tmp_path: Path
) -> None:
    lib = library()
    gateway = await start_gateway(
        stack, telegram, tmp_path, EVENTS_URL=feed.url, ALERTS_INTERVAL="1", ALERTS_QUIET_HOURS="off"
    )
    try:
        await feed.read_again()  # the first look: what is there is known, nothing announced
        # The 🔔 button under an events listing (the action server reads the repo's events file).
        before = await started(telegram, 3001, "fr")
        telegram.message(3001, "quels ateliers à Tanger ?")
        sent = await telegram.wait_until(
            3001, lambda s: any(b["text"].startswith("🔔") for m in s[before:] for b in m.buttons), timeout=60
        )
        bell = next(b for m in sent[before:] for b in m.buttons if b["text"].startswith("🔔"))
        assert bell["text"] == lib.text("alerts_offer_button", "fr")
        telegram.press(3001, bell["callback_data"])
        sent = await telegram.wait_until(3001, lambda s: confirmed(s, before) is not None, timeout=60)
        assert confirmed(sent, before).text == lib.text("alerts_subscribed", "fr", where="à Tanger")  # type: ignore[union-attr]
        # Words, in Arabic, Darija in Latin letters, French and English.
        said = await say(telegram, 3002, "علمني بالأنشطة فطنجة", "ar")
        assert said.text == lib.text("alerts_subscribed", "ar", where="في طنجة")
        await say(telegram, 3003, "3lmni b l2anchita f tanja", "ar")
        await say(telegram, 3004, "tell me about workshops in Rabat", "en")
        await say(telegram, 3005, "préviens-moi des séances à Tanger", "fr")
        assert [subscriptions_of(tmp_path, u) for u in (3001, 3002, 3003, 3004, 3005)] == [
            [("tanger", "")],
            [("tanger", "")],
            [("tanger", "")],
            [("rabat", "")],
            [("tanger", "")],
        ]
        # An ordinary question is not taken for a subscription.
        before = await started(telegram, 3006, "en")
        telegram.message(3006, "what events are in Rabat?")
        sent = await telegram.wait_until(3006, lambda s: any(m.buttons for m in s[before:]), timeout=60)
        assert confirmed(sent, before) is None and subscriptions_of(tmp_path, 3006) == []

        # A new event in Tangier: each Tangier subscriber gets it once; Rabat's does not; 3005 blocked us.
        telegram.blocked.add(3005)
        counts = {u: len(telegram.to(u)) for u in (3001, 3002, 3003, 3004, 3006)}
        feed.events.append(event("new-tanger@test", "tanger", "Atelier CV nouveau"))
        changed = time.monotonic()
        for user in (3001, 3002, 3003):
            await telegram.wait_until(
                user, lambda s: any("Atelier CV nouveau" in (m.text or "") for m in s), timeout=30
            )
        print(f"\nalert delivered to 3 subscribers {time.monotonic() - changed:.2f} s after the feed changed")
        alert = next(m for m in telegram.to(3001) if "Atelier CV nouveau" in (m.text or ""))
        assert alert.text.startswith(lib.text("alert_new", "fr", where="à Tanger"))  # type: ignore[union-attr]
        arabic = next(m for m in telegram.to(3002) if "Atelier CV nouveau" in (m.text or ""))
        assert arabic.text.startswith(lib.text("alert_new", "ar", where="في طنجة"))  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while subscriptions_of(tmp_path, 3005):  # the 403 unsubscribed the person who blocked the bot
            assert time.monotonic() < deadline, "still subscribed after a 403"
            await asyncio.sleep(0.1)
        await feed.read_again(3)  # three more rounds: nothing is announced twice
        for user, count in counts.items():
            alerts = [m for m in telegram.to(user)[count:] if "Atelier CV nouveau" in (m.text or "")]
            assert len(alerts) == (1 if user in (3001, 3002, 3003) else 0), (user, [m.text for m in alerts])

        # /alerts lists the subscription with a button that removes it; /forget leaves none.
        def removable(m: Sent) -> bool:
            return bool(m.buttons) and m.buttons[0]["text"].startswith("❌")

        before = len(telegram.to(3003))
        telegram.message(3003, "/alerts")
        sent = await telegram.wait_until(3003, lambda s: any(removable(m) for m in s[before:]), timeout=60)
        listing = next(m for m in sent[before:] if removable(m))
        telegram.press(3003, listing.buttons[0]["callback_data"])
        deadline = time.monotonic() + 30
        while subscriptions_of(tmp_path, 3003):  # the ❌ removed it
            assert time.monotonic() < deadline, "still subscribed after pressing ❌"
            await asyncio.sleep(0.1)
        yes = lib.text("forget_yes", "fr")
        before = len(telegram.to(3001))
        telegram.message(3001, "/forget")
        sent = await telegram.wait_until(
            3001, lambda s: any(b["text"] == yes or yes in b["text"] for m in s[before:] for b in m.buttons), timeout=60
        )
        question = next(m for m in sent[before:] if any(yes in b["text"] for b in m.buttons))
        telegram.press(3001, question.button(yes)["callback_data"])
        await telegram.wait_until(
            3001, lambda s: any((m.text or "").startswith(lib.text("forget_done", "fr")) for m in s)
        )
        assert subscriptions_of(tmp_path, 3001) == []
    finally:
        gateway.stop()
        if "Traceback" in gateway.log():
            print(gateway.log()[-5000:])


async def test_a_broadcast_preview_and_confirmation_reach_only_the_matching_subscribers(
    stack: Stack, telegram: BlockingTelegram, feed: FeedServer, tmp_path: Path
) -> None:
    lib = library()
    gateway = await start_gateway(
        stack,
        telegram,
        tmp_path,
        EVENTS_URL=feed.url,
        ALERTS_INTERVAL="1",
        ALERTS_QUIET_HOURS="off",
        ADMIN_USER_IDS=str(ADMIN),
    )
    try:
        await say(telegram, 3011, "préviens-moi des activités à Rabat", "fr")
        await say(telegram, 3012, "أعلمني بالأنشطة في الرباط", "ar")
        await say(telegram, 3013, "préviens-moi des activités à Tanger", "fr")
        counts = {u: len(telegram.to(u)) for u in (3011, 3012, 3013)}
        telegram.message(ADMIN, "/broadcast rabat\nfr: Distribution de kits samedi.\nar: توزيع حقائب يوم السبت.")
        sent = await telegram.wait_until(ADMIN, lambda s: any(m.buttons for m in s), timeout=30)
        preview_fr, preview_ar, confirm = sent[-3:]
        assert "Distribution de kits samedi." in (preview_fr.text or "") and "1 personne" in (preview_fr.text or "")
        assert "توزيع حقائب يوم السبت." in (preview_ar.text or "")
        assert confirm.text == lib.text("broadcast_confirm", "fr", count=2, where="à Rabat")
        telegram.press(ADMIN, confirm.button(lib.text("broadcast_send_button", "fr", count=2))["callback_data"])
        await telegram.wait_until(3011, lambda s: any("Distribution de kits samedi." in (m.text or "") for m in s))
        await telegram.wait_until(3012, lambda s: any("توزيع حقائب يوم السبت." in (m.text or "") for m in s))
        deadline = time.monotonic() + 30  # delivered; the gateway marks its rows sent once Telegram said ok
        while sent_rows(tmp_path) < 2:
            assert time.monotonic() < deadline, "the broadcast's outbox rows were not marked sent"
            await asyncio.sleep(0.1)
        before = len(telegram.to(ADMIN))
        telegram.message(ADMIN, "/broadcast status")
        sent = await telegram.wait_until(ADMIN, lambda s: any("envoyé(s)" in (m.text or "") for m in s[before:]))
        status = next(m for m in sent[before:] if "envoyé(s)" in (m.text or ""))
        assert "2 envoyé(s), 0 échec(s), 0 bloqué(s), 0 en attente, sur 2" in (status.text or ""), status.text
        await telegram.quiet(3013, 1.0)
        assert len(telegram.to(3013)) == counts[3013]  # Tangier's subscriber got nothing
        assert len(telegram.to(3011)) == counts[3011] + 1 and len(telegram.to(3012)) == counts[3012] + 1
        engine = db(tmp_path)
        with engine.connect() as conn:
            audit = conn.execute(sa.text("SELECT actor, action, result FROM dalil_audit")).all()
        engine.dispose()
        assert (f"tg:{ADMIN}", "broadcast", "ok") in [tuple(r) for r in audit]
    finally:
        gateway.stop()
        if "Traceback" in gateway.log():
            print(gateway.log()[-5000:])


async def test_fifty_subscribers_and_the_time_from_feed_change_to_delivery(
    stack: Stack, telegram: BlockingTelegram, feed: FeedServer, tmp_path: Path
) -> None:
    """The measure of the issue: 50 subscribers, ALERTS_INTERVAL=1; who is reached, and how fast."""
    people = list(range(3020, 3070))
    migrate(f"sqlite:///{tmp_path / 'gateway.db'}")
    engine = db(tmp_path)
    with engine.begin() as conn:  # 50 people who subscribed earlier (their conversations are not needed)
        past = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
        for n, user in enumerate(people):
            key = pseudonym(SECRET, "tg", user)
            lang = ("fr", "ar", "en")[n % 3]
            conn.execute(
                sa.text(
                    "INSERT INTO dalil_users (id, chat_id, lang_chosen, lang_current, darija, lang_asked, "
                    "created_at, last_seen_at) VALUES (:id, :chat, :lang, :lang, 0, 1, :at, :at)"
                ),
                {"id": key, "chat": user, "lang": lang, "at": past},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO dalil_subscriptions (user_id, city, topic, created_at) VALUES (:u, 'oujda', '', :at)"
                ),
                {"u": key, "at": past},
            )
    engine.dispose()
    gateway = await start_gateway(
        stack, telegram, tmp_path, EVENTS_URL=feed.url, ALERTS_INTERVAL="1", ALERTS_QUIET_HOURS="off"
    )
    try:
        await feed.read_again()
        feed.events.append(event("oujda-new@test", "oujda", "Réunion d'information à Oujda"))
        changed = time.monotonic()
        deadline = changed + 60
        arrivals: dict[int, float] = {}
        while len(arrivals) < len(people):
            assert time.monotonic() < deadline, f"only {len(arrivals)} of {len(people)} reached"
            for m in telegram.sent:
                if m.chat_id in people and m.chat_id not in arrivals and "Oujda" in (m.text or ""):
                    arrivals[m.chat_id] = m.at - changed
            await asyncio.sleep(0.05)
        await feed.read_again(2)
        reached = [m.chat_id for m in telegram.sent if "Réunion d'information à Oujda" in (m.text or "")]
        assert sorted(reached) == people  # each once, nobody else
        delays = sorted(arrivals.values())
        print(
            f"\n{len(reached)} subscribers reached; from the feed change: first {delays[0]:.2f} s, "
            f"median {delays[len(delays) // 2]:.2f} s, last {delays[-1]:.2f} s (ALERTS_INTERVAL=1)"
        )
    finally:
        gateway.stop()


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def test_quiet_hours_hold_an_alert_found_at_night_until_the_morning(
    telegram: BlockingTelegram, feed: FeedServer, tmp_path: Path
) -> None:
    """The gateway's own parts in this process (runner, transport to the fake Bot API, poller) with
    an injected clock: no sleeping through a night."""
    from telegram import Bot

    from bot.core.settings import Settings

    url = f"sqlite:///{tmp_path / 'night.db'}"
    migrate(url)
    settings = Settings(database_url=url, tracker_url=url, alerts_interval=1, alerts_quiet_hours="21:00-08:00")
    bot = Bot(telegram.token, base_url=telegram.base_url)
    await bot.initialize()
    core = await build_core(settings, TelegramTransport(bot), sweep=True)
    await core.runner.start()
    evening = (dt.datetime.now(CASABLANCA) + dt.timedelta(days=1)).replace(hour=23, minute=0, second=0, microsecond=0)
    clock = Clock(evening - dt.timedelta(hours=3))
    assert core.alerts is not None
    async with httpx.AsyncClient() as http:
        core.alerts.clock = clock
        core.alerts.events = EventsService(http, [feed.url], ttl=0, clock=clock)
        try:
            await core.alerts.poll()  # 20:00: the first look
            await core.store.touch_user("night-owl", 3080, "fr")
            await AlertStore(core.store.engine).subscribe("night-owl", "tanger")
            clock.now = evening
            feed.events.append(event("night@test", "tanger", "Atelier trouvé la nuit"))
            assert await core.alerts.poll() == 0  # 23:00: found, held
            clock.now = evening + dt.timedelta(hours=8, minutes=59)
            assert await core.alerts.poll() == 0  # 07:59: still quiet
            assert telegram.to(3080) == [] and await core.runner.drain(timeout=5)
            clock.now = evening + dt.timedelta(hours=9)
            assert await core.alerts.poll() == 1  # 08:00: delivered
            [alert] = await telegram.wait_for(3080, 1, timeout=15)
            assert "Atelier trouvé la nuit" in (alert.text or "")
            assert await core.alerts.poll() == 0
        finally:
            await core.close()
            await bot.shutdown()
