"""The anonymous daily figures: counted as inputs are answered (a scripted Rasa, a real SQLite
store), read back for /stats (text and chart), untouched by /forget and retention."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.dialogue import ActionAnswerFaq, ActionFallback, ActionUrgent
from bot.core.content import library
from bot.core.settings import Settings
from bot.gateway.engine import Engine
from bot.gateway.handoff import HandoffService
from bot.gateway.privacy import Privacy
from bot.gateway.rasa_client import RasaClient
from bot.gateway.runner import Runner
from bot.gateway.stats import CAPTION_LIMIT, Recorder, note_first_reply, stats_bodies
from bot.gateway.terminal import TerminalTransport
from bot.storage.db import create_engine, migrate
from bot.storage.figures import Figures, day_start_utc, summary, today
from bot.storage.store import Store, utcnow
from bot.storage.tracker_db import TrackerDB
from tests.unit.test_actions import run_all as run_action
from tests.unit.test_actions import tracker
from tests.unit.test_engine import Collect, ScriptedRasa

PNG = b"\x89PNG\r\n\x1a\n"


def scripted(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa answering like the action server: an FAQ answer, the fallback, or urgent."""
    lib, message = library(), str(body.get("message", ""))
    lang = body["metadata"].get("language", "fr")
    if "asile" in message:
        answer = lib.answer("asylum_apply", lang)[0]  # type: ignore[index]
        return [{"text": answer}, {"custom": {"dalil": {"op": "count", "metric": "topics", "key": "asylum_apply"}}}]
    if "quelqu'un" in message:
        return [{"custom": {"dalil": {"op": "handoff", "reason": "request", "urgent": False}}}]
    if message.startswith("/urgent"):
        return [
            {"text": "numbers"},
            {"custom": {"dalil": {"op": "handoff", "reason": "urgent", "urgent": True}}},
        ]
    return [
        {"text": lib.text("fallback", lang), "buttons": [{"title": "Menu", "payload": "/help"}]},
        {"custom": {"dalil": {"op": "count", "metric": "not_understood", "key": ""}}},
    ]


@pytest.fixture
async def parts(db_url: str) -> AsyncIterator[tuple[Engine, Runner, Store]]:
    migrate(db_url)
    store = Store(create_engine(db_url))
    rasa = ScriptedRasa(scripted)

    def handler(request: httpx.Request) -> httpx.Response:  # the tracker too (the handoff reads it)
        return httpx.Response(200, json={"events": []}) if request.method == "GET" else rasa(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    engine = Engine(Settings.from_env({"DATABASE_URL": db_url}), store, RasaClient(http, "http://rasa"), library())
    runner = Runner(store, engine, Collect(), ack_after=60.0, sweep=False)
    yield engine, runner, store
    await runner.stop()
    await http.aclose()
    await store.close()


async def day_figures(figures: Figures) -> dict[tuple[str, str], int]:
    return {(r.metric, r.key): r.count for r in await figures.rows(today(), today())}


async def test_each_input_is_counted_without_the_person(parts: tuple[Engine, Runner, Store], db_url: str) -> None:
    engine, runner, store = parts
    inputs: list[tuple[str, str, dict[str, Any]]] = [
        ("f1", "text", {"text": "Comment demander l'asile au Maroc ?"}),
        ("f1", "text", {"text": "xqzt bloop wizzle"}),
        ("f1", "command", {"data": {"name": "urgent_key_via_payload"}}),
        ("f2", "text", {"text": "Bonjour, comment demander l'asile ici ?"}),
        ("f2", "media", {"data": {"type": "voice"}}),
    ]
    for user, kind, extra in inputs:
        await runner.submit(user, 61, "fr", kind, **extra)  # type: ignore[arg-type]
        assert await runner.drain(user, timeout=60)
    figures = await day_figures(engine.figures)
    assert figures[("messages", "text")] == 3 and figures[("messages", "media")] == 1
    assert figures[("messages", "command")] == 1
    assert figures[("people", "")] == 2  # two people, each once today
    assert figures[("topics", "asylum_apply")] == 2
    assert figures[("not_understood", "")] == 1
    assert figures[("languages", "fr")] == 5
    # No identifier, no text: every key is a known, short label.
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        keys = {key for (key,) in conn.execute("select key from dalil_daily")}
    assert keys <= {"", "text", "command", "media", "fr", "asylum_apply"}


async def test_danger_words_and_the_urgent_reply_count_once(parts: tuple[Engine, Runner, Store]) -> None:
    engine, runner, _ = parts
    await runner.submit("f3", 63, "fr", "text", text="il me frappe, aidez-moi")
    assert await runner.drain("f3", timeout=5)
    with engine.recorder.tally() as tally:  # the 🆘 key: the urgent handoff directive from Rasa
        engine.recorder.replies(scripted({"message": "/urgent", "metadata": {}}))
    urgent = {key: n for (metric, key), n in (await day_figures(engine.figures)).items() if metric == "urgent"}
    assert sum(urgent.values()) == 1 and "request" not in urgent  # the danger word's kind, once
    assert tally.counts == {("urgent", "request"): 1}


async def test_a_handoff_without_a_hotline_group_counts_as_phone(parts: tuple[Engine, Runner, Store]) -> None:
    engine, runner, _ = parts
    await runner.submit("f5", 65, "fr", "text", text="je veux parler à quelqu'un de votre équipe")
    assert await runner.drain("f5", timeout=5)
    assert (await day_figures(engine.figures))[("handoffs", "phone")] == 1


async def test_a_person_counts_once_a_day_from_morocco_s_midnight(parts: tuple[Engine, Runner, Store]) -> None:
    engine, runner, store = parts
    await runner.submit("f4", 64, "fr", "text", text="xqzt")
    assert await runner.drain("f4", timeout=5)
    async with store.engine.begin() as conn:  # that input arrived yesterday, in Morocco
        from bot.storage.schema import inbox

        await conn.execute(inbox.update().values(received_at=day_start_utc(today()) - dt.timedelta(minutes=5)))
    await runner.submit("f4", 64, "fr", "text", text="xqzt encore")
    await runner.submit("f4", 64, "fr", "text", text="et encore")
    assert await runner.drain("f4", timeout=5)
    assert (await day_figures(engine.figures))[("people", "")] == 2  # yesterday's first, today's first


def test_the_day_is_morocco_s() -> None:
    late = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.timezone.utc)  # 00:30 in Casablanca (UTC+1)
    assert today(late) == dt.date(2026, 12, 8)
    assert day_start_utc(dt.date(2026, 12, 8)) == dt.datetime(2026, 12, 7, 23, 0)


async def test_the_first_staff_reply_adds_its_wait() -> None:
    recorder = Recorder(Figures(None))  # type: ignore[arg-type]
    with recorder.tally() as tally:
        note_first_reply(utcnow() - dt.timedelta(minutes=12), utcnow())
    assert tally.counts[("first_replies", "")] == 1
    assert 715 <= tally.counts[("first_reply_seconds", "")] <= 725


async def test_concurrent_gateways_add_to_the_same_row(db_url: str) -> None:
    migrate(db_url)
    figures = Figures(create_engine(db_url))
    await asyncio.gather(*(figures.add_many({("messages", "text"): 1, ("people", ""): 2}) for _ in range(20)))
    await figures.add("alerts_sent", "rabat", 3)
    assert await day_figures(figures) == {("messages", "text"): 20, ("people", ""): 40, ("alerts_sent", "rabat"): 3}
    assert (await figures.totals("alerts_sent"))["rabat"] == 3
    await figures.engine.dispose()


async def test_the_actions_say_what_they_answered() -> None:
    """The FAQ answer, the fallback and the urgent reply's answer carry a `count` directive the
    recorder adds to the day's figures (and the engine never shows)."""

    def counted(messages: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        recorder = Recorder(Figures(None))  # type: ignore[arg-type]
        with recorder.tally() as tally:
            recorder.replies(messages)
        return dict(tally.counts)

    for lang, darija in (("fr", False), ("ar", False), ("ar", True), ("en", False)):
        t = tracker("…", language=lang, darija=darija, selector_key="faq/hiv_testing")
        _, messages = await run_action(ActionAnswerFaq(), t)
        assert counted(messages) == {("topics", "hiv_testing"): 1}
        _, messages = await run_action(ActionFallback(), tracker("…", language=lang, darija=darija))
        assert counted(messages) == {("not_understood", ""): 1}
    ranking = [{"name": "urgent", "confidence": 0.9}, {"name": "faq", "confidence": 0.8}]
    t = tracker("…", intent="urgent", selector_key="faq/arrest_detention")
    t.latest_message["intent_ranking"] = ranking
    _, messages = await run_action(ActionUrgent(), t)
    assert counted(messages) == {("urgent", "request"): 1, ("topics", "arrest_detention"): 1}


async def test_figures_survive_forget_and_retention(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    migrate(url)
    store, tracker_db = Store(create_engine(url)), TrackerDB(url)
    figures = Figures(store.engine)
    await store.touch_user("gone", 1, "fr")
    await store.inbox_add("gone", "text", text="bonjour", update_id=1)
    await figures.add_many({("messages", "text"): 4, ("people", ""): 1})
    await figures.add("messages", "text", 7, day=today() - dt.timedelta(days=400))  # long past retention
    before = await figures.rows(today() - dt.timedelta(days=500), today())
    await Privacy(store, tracker_db, retention_days=30).forget("gone")
    await store.purge_before(utcnow() + dt.timedelta(days=1), sent_before=utcnow() + dt.timedelta(days=1))
    assert await figures.rows(today() - dt.timedelta(days=500), today()) == before
    assert len(before) == 3
    await store.close()
    await tracker_db.close()


async def test_stats_are_a_chart_with_the_figures_as_caption(db_url: str) -> None:
    migrate(db_url)
    figures = Figures(create_engine(db_url))
    for n in range(10):
        day = today() - dt.timedelta(days=n)
        await figures.add_many({("messages", "text"): 10 + n, ("people", ""): 3, ("topics", "hiv_testing"): n}, day=day)
    await figures.add_many({("handoffs", "urgent"): 2, ("first_replies", ""): 2, ("first_reply_seconds", ""): 1200})
    [body] = await stats_bodies(figures, library(), "fr")
    assert base64.b64decode(body["photo"]).startswith(PNG)
    text = body["text"]
    assert len(text.encode("utf-16-le")) // 2 <= CAPTION_LIMIT
    assert "Messages : 91" in text and "Personnes (chaque jour) : 21" in text  # the last 7 days
    assert "hiv_testing (21)" in text and "urgent 2" in text and "10 min" in text
    # Arabic: the text in Arabic; a long text goes after the photo, with a short caption.
    month = await summary(figures, 30)
    assert month.total("messages") == sum(10 + n for n in range(10))
    for n in range(60):
        await figures.add("campaign", f"a-very-long-campaign-tag-number-{n:02d}-for-the-caption", 1)
    bodies = await stats_bodies(figures, library(), "ar")
    assert len(bodies) in (1, 2) and all(b["lang"] == "ar" for b in bodies)
    await figures.engine.dispose()


async def test_stats_without_a_chart_are_still_sent_as_text(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(db_url)
    figures = Figures(create_engine(db_url))

    async def broken(*args: Any) -> bytes:
        raise RuntimeError("no matplotlib")

    monkeypatch.setattr("bot.gateway.stats.render_async", broken)
    [body] = await stats_bodies(figures, library(), "en")
    assert "photo" not in body and "Messages: 0" in body["text"]
    await figures.engine.dispose()


async def test_the_terminal_saves_the_chart(tmp_path: Path) -> None:
    out = io.StringIO()
    transport = TerminalTransport(out, files_dir=tmp_path)
    await transport.send(0, {"photo": base64.b64encode(PNG + b"rest").decode(), "text": "📊 figures"})
    assert (tmp_path / "stats.png").read_bytes() == PNG + b"rest"
    assert out.getvalue().startswith(f"[chart: stats.png saved to {tmp_path / 'stats.png'}]\n📊 figures")


class Ops:
    async def rename_topic(self, thread_id: int, name: str) -> None:
        pass


async def test_the_first_staff_reply_of_a_case_is_timed_once(parts: tuple[Engine, Runner, Store], db_url: str) -> None:
    engine, _, store = parts
    settings = Settings.from_env({"DATABASE_URL": db_url, "HOTLINE_CHAT_ID": "-1001234567890"})
    handoff = HandoffService(settings, store, engine.rasa, library(), ops=Ops())  # type: ignore[arg-type]
    await store.touch_user("f6", 66, "fr")
    await store.handoff_create("f6", reason="urgent", urgent=True, language="fr", context_topic=None, thread_id=9)
    user = await store.get_user("f6")
    assert user is not None
    for _ in range(2):  # a first reply, then another: one wait counted
        with engine.recorder.tally() as tally:
            await handoff.from_staff(user, 500, 777, "Amina")
        await engine.figures.add_many(tally.counts)
    figures = await day_figures(engine.figures)
    assert figures[("first_replies", "")] == 1 and figures.get(("first_reply_seconds", ""), 0) < 60
