"""Admins' broadcasts without Telegram: reading /broadcast, the preview and its counts, sending once,
holding at night, and the delivery figures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.core.content import library
from bot.events.query import vocabulary
from bot.gateway.broadcast import Broadcasts, Draft, Problem, parse
from bot.storage.alerts import AlertStore
from bot.storage.audit import Audit
from bot.storage.schema import outbox
from bot.storage.store import Store
from tests.unit.test_alerts import DAY, person, settings
from tests.unit.test_alerts import store as store  # noqa: F401 - the fixture


def test_reading_a_broadcast() -> None:
    vocab = vocabulary()
    got = parse("tanger santé\nfr: Bonjour\nsuite\nar: مرحبا\nen: Hello", vocab)
    assert got == Draft("tanger", "health", {"fr": "Bonjour\nsuite", "ar": "مرحبا", "en": "Hello"})
    assert parse("hiv fr: Dépistage gratuit", vocab) == Draft("", "hiv", {"fr": "Dépistage gratuit"})
    assert parse("Tanja\nen: Hi", vocab) == Draft("tanger", "", {"en": "Hi"})
    assert parse("nowhere\nfr: x", vocab) == Problem("broadcast_unknown_target", {"target": "nowhere"})
    assert parse("rabat", vocab) == Problem("broadcast_no_text", {})
    assert isinstance(parse("rabat\nfr: " + "x" * 4000, vocab), Problem)


@pytest.fixture
async def subscribed(store: Store) -> Store:  # noqa: F811
    subs = AlertStore(store.engine)
    for n, lang, city, topic in (
        (1, "fr", "tanger", ""),
        (2, "ar", "tanger", "health"),
        (3, "en", "tanger", "hiv"),  # another topic: not in a health broadcast
        (4, "en", "tanger", ""),
        (5, "fr", "rabat", ""),
    ):
        user = await person(store, n, lang)
        await subs.subscribe(user.id, city, topic)
    return store


async def outbox_rows(store: Store) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(outbox).order_by(outbox.c.id))]


class Clock:
    def __init__(self, hour: int) -> None:
        self.now = DAY.replace(hour=hour)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_preview_counts_then_one_send(subscribed: Store) -> None:
    kicked: list[str] = []
    desk = Broadcasts(settings(), subscribed, library(), kick=kicked.append)
    draft = Draft("tanger", "health", {"fr": "Bonjour", "ar": "مرحبا"})
    prepared = await desk.prepare(draft, "tg:9")
    assert len(prepared.recipients) == 3  # users 1, 2, 4: user 3 follows another topic, user 5 Rabat
    assert prepared.per_lang == {"fr": 2, "ar": 1} and prepared.fallback == {"fr": 1}  # the English reader
    fr, ar = desk.previews(prepared, "fr")
    assert fr.startswith("Aperçu en Français — 2 personne(s) (dont 1 faute de texte dans leur langue) :")
    assert ar.startswith("Aperçu en العربية — 1 personne(s) :") and "مرحبا" in ar

    assert await desk.confirm(prepared.id, "tg:9") == ("sent", 3, None)
    assert (await desk.confirm(prepared.id, "tg:9"))[0] == "sent"  # pressed twice: nothing more
    rows = await outbox_rows(subscribed)
    assert len(rows) == 3 and {r["origin"] for r in rows} == {f"broadcast:{prepared.id}"}
    texts = {int(str(r["chat_id"])): json.loads(str(r["body"]))["text"] for r in rows}
    assert texts[3004].startswith("Bonjour\n\n") and texts[3002].startswith("مرحبا\n\n")
    assert len(kicked) == 3
    [entry] = await Audit(subscribed.engine).recent()
    assert (entry.actor, entry.action, entry.result) == ("tg:9", "broadcast", "ok")

    # Delivery figures: one sent, one refused because the person blocked the bot, one waiting.
    async with subscribed.engine.begin() as conn:
        await conn.execute(outbox.update().where(outbox.c.chat_id == 3001).values(status="sent"))
    await AlertStore(subscribed.engine).blocked(3002)
    async with subscribed.engine.begin() as conn:
        await conn.execute(outbox.update().where(outbox.c.chat_id == 3002).values(status="failed"))
    [line] = await desk.status_lines("en")
    assert line == f"#{prepared.id} in Tangier (health) (sent): 1 sent, 0 failed, 1 blocked, 1 waiting, of 3"


async def test_at_night_a_broadcast_waits_for_the_morning(subscribed: Store) -> None:
    clock = Clock(23)
    desk = Broadcasts(settings(quiet="21:00-08:00"), subscribed, library(), clock=clock)
    prepared = await desk.prepare(Draft("rabat", "", {"fr": "Bonjour"}), "cli:amina")
    outcome, count, when = await desk.confirm(prepared.id, "cli:amina")
    assert (outcome, count, when) == ("scheduled", 1, DAY.replace(hour=8) + dt.timedelta(days=1))
    await desk.send_scheduled()  # the poller calls it only outside quiet hours
    assert len(await outbox_rows(subscribed)) == 1
    assert (await AlertStore(subscribed.engine).broadcast_get(prepared.id)).status == "sent"  # type: ignore[union-attr]


async def test_the_telegram_command(subscribed: Store) -> None:
    desk, lib = Broadcasts(settings(), subscribed, library()), library()
    admin = await person(subscribed, 50)
    [usage] = await desk.command(admin, "", "fr", "tg:3050")
    assert usage["text"] == lib.text("broadcast_usage", "fr")
    *previews, confirm = await desk.command(admin, "tanger\nfr: Bonjour\nen: Hello", "en", "tg:3050")
    assert len(previews) == 2 and confirm["text"].startswith("Send to the 4 person(s)")
    send, cancel = (row[0] for row in confirm["buttons"])
    assert send["text"] == "Send to 4 person(s)"
    data = await subscribed.callback_get(admin.id, cancel["token"])
    assert data is not None
    [cancelled] = await desk.button(admin, data, "en")
    assert cancelled["text"] == lib.text("broadcast_cancelled", "en")
    go = await subscribed.callback_get(admin.id, send["token"])
    assert go is not None
    [late] = await desk.button(admin, go, "en")
    assert late["text"] == lib.text("broadcast_already", "en", status="cancelled")
    assert await outbox_rows(subscribed) == []
    [nobody] = await desk.command(admin, "agadir\nfr: Bonjour", "fr", "tg:3050")
    assert nobody["text"] == lib.text("broadcast_nobody", "fr", where="à Agadir")


async def test_forget_removes_the_subscriptions(subscribed: Store, tmp_path: Path) -> None:
    from bot.gateway.privacy import Privacy
    from bot.storage.tracker_db import TrackerDB

    url = str(subscribed.engine.url).replace("+aiosqlite", "")
    tracker = TrackerDB(url, url)
    privacy = Privacy(subscribed, tracker, retention_days=30)
    assert await privacy.remaining("u1") > 0
    await privacy.forget("u1")
    assert await privacy.remaining("u1") == 0
    assert await AlertStore(subscribed.engine).for_user("u1") == []
    await tracker.close()


async def test_the_command_line_previews_and_sends_after_yes(subscribed: Store) -> None:
    import argparse
    import io

    from bot.ops.alerts_cli import broadcast

    url = str(subscribed.engine.url).replace("sqlite+aiosqlite", "sqlite")
    args = argparse.Namespace(city="Rabat", topic="", fr="Bonjour", ar="", en="", yes=False, wait=0.0, status=False)
    out = io.StringIO()
    assert await broadcast(settings(database_url=url), args, io.StringIO("no\n"), out) == 1
    assert "Preview in Français — 1 person(s):" in out.getvalue() and "Cancelled" in out.getvalue()
    out = io.StringIO()
    assert await broadcast(settings(database_url=url), args, io.StringIO("yes\n"), out) == 0
    assert "is going to 1 person(s)" in out.getvalue()
    assert [r["chat_id"] for r in await outbox_rows(subscribed)] == [3005]
    args.status, out = True, io.StringIO()
    assert await broadcast(settings(database_url=url), args, io.StringIO(), out) == 0
    assert "0 sent, 0 failed, 0 blocked, 1 waiting, of 1" in out.getvalue()
