"""What "forget me" and retention delete in Telegram itself, through the real gateway process and
the fake Bot API (no Rasa needed): the bot's recent messages in the person's chat, and the
person's forum topic in the hotline group (or, when Telegram refuses, the topic closed and the
bot's messages in it deleted)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from bot.core.content import library
from bot.core.identity import pseudonym
from bot.storage.db import migrate
from tests.conftest import HOTLINE, SECRET, start_gateway
from tests.fakes.bare import NoRasa
from tests.fakes.telegram_api import FakeTelegram, Fault
from tests.integration.test_handoff import wait_until

FORGET_DONE = library().text("forget_done", "fr")


async def recorded(db: Path, message_id: int) -> None:
    """Wait until the gateway has kept the id of a message it sent: the fake Bot API has the
    message as soon as it is sent, the gateway's row follows (on a loaded machine, a moment later)."""
    with sqlite3.connect(db) as conn:
        query = "select count(*) from dalil_sent where message_id = ?"
        await wait_until(lambda: conn.execute(query, (message_id,)).fetchone()[0] == 1)


async def age_sent(db: Path, message_id: int, hours: float) -> None:
    """Make a sent message look `hours` old, once the gateway has recorded it: the fake Bot API
    has it as soon as it is sent, the gateway's row follows (on a loaded machine, a moment later)."""
    with sqlite3.connect(db) as conn:

        def aged() -> bool:
            update = "update dalil_sent set sent_at = datetime('now', ?) where message_id = ?"
            changed = conn.execute(update, (f"-{hours} hours", message_id)).rowcount
            conn.commit()
            return changed == 1

        await wait_until(aged)


async def test_forget_deletes_the_bots_messages_of_the_last_48_hours(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, user = fake_telegram, 3301
    gw = await start_gateway(NoRasa(tmp_path / "var"), api, tmp_path)  # type: ignore[arg-type]
    try:
        api.message(user, "/privacy")
        [old] = await api.wait_for(user, 1)
        api.message(user, "/privacy")
        [_, recent] = await api.wait_for(user, 2)
        await age_sent(tmp_path / "gateway.db", old.message_id, 60)  # too old for Telegram to delete
        api.message(user, "/forget")
        question = (await api.wait_for(user, 3))[-1]
        await recorded(tmp_path / "gateway.db", question.message_id)  # as a person would read it first
        api.press(user, question.button("Oui")["callback_data"])
        done = (await api.wait_until(user, lambda sent: any(FORGET_DONE in (s.text or "") for s in sent)))[-1]
        assert sorted(api.deleted_in(user)) == [recent.message_id, question.message_id]
        assert done.message_id not in api.deleted_in(user)  # "your data is deleted" stays
        # …and says what could not be deleted (older messages: delete the chat).
        assert library().text("forget_chat_deleted", "fr") in done.text
        key = pseudonym(SECRET, "tg", user)
        with sqlite3.connect(tmp_path / "gateway.db") as conn:
            await wait_until(
                lambda: not conn.execute("select count(*) from dalil_sent where user_id = ?", (key,)).fetchone()[0]
            )
    finally:
        gw.stop()


async def test_forget_tells_the_person_when_telegram_would_not_delete(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, user = fake_telegram, 3302
    gw = await start_gateway(NoRasa(tmp_path / "var"), api, tmp_path)  # type: ignore[arg-type]
    try:
        api.message(user, "/forget")
        question = (await api.wait_for(user, 1))[-1]
        api.fail_next("deleteMessages", Fault(400, "Bad Request: message can't be deleted"))
        api.press(user, question.button("Oui")["callback_data"])
        done = (await api.wait_until(user, lambda sent: any(FORGET_DONE in (s.text or "") for s in sent)))[-1]
        assert library().text("forget_chat_not_deleted", "fr") in done.text
    finally:
        gw.stop()


def seed_expired_person(db_url: str, db: Path, key: str, thread_id: int, message_ids: list[int]) -> None:
    """A person last seen 45 days ago, with a forum topic holding the bot's messages and an alert."""
    migrate(db_url)
    old = (dt.datetime.utcnow() - dt.timedelta(days=45)).isoformat(" ")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "insert into dalil_users (id, chat_id, darija, lang_asked, created_at, last_seen_at) "
            "values (?, 1, 0, 0, ?, ?)",
            (key, old, old),
        )
        conn.execute(
            "insert into dalil_hotline_topics (user_id, thread_id, created_at) values (?, ?, ?)", (key, thread_id, old)
        )
        conn.execute(  # they had asked for event alerts: retention ends those too
            "insert into dalil_subscriptions (user_id, city, topic, created_at) values (?, 'rabat', '', ?)", (key, old)
        )
        for message_id in message_ids:
            conn.execute(
                "insert into dalil_sent (user_id, message_id, hotline, sent_at) values (?, ?, 1, ?)",
                (key, message_id, old),
            )


def topic(api: FakeTelegram) -> int:
    thread_id = 555
    api.topics[thread_id] = {"message_thread_id": thread_id, "name": "P-OLD", "icon_color": 0, "closed": False}
    return thread_id


async def test_retention_deletes_the_forum_topic_of_an_expired_person(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, thread_id = fake_telegram, topic(fake_telegram)
    db = tmp_path / "gateway.db"
    key = pseudonym(SECRET, "tg", 3303)
    seed_expired_person(f"sqlite:///{db}", db, key, thread_id, [41, 42])
    gw = await start_gateway(NoRasa(tmp_path / "var"), api, tmp_path, HOTLINE_CHAT_ID=str(HOTLINE))  # type: ignore[arg-type]
    try:
        await wait_until(lambda: thread_id in api.deleted_topics, timeout=60)  # the retention job runs at start
        assert thread_id not in api.topics
        counts = [
            "select count(*) from dalil_hotline_topics",
            "select count(*) from dalil_sent",
            "select count(*) from dalil_users",
            "select count(*) from dalil_subscriptions",
        ]
        with sqlite3.connect(db) as conn:  # the job deletes table after table: wait for its end
            await wait_until(lambda: not any(conn.execute(query).fetchone()[0] for query in counts), timeout=60)
    finally:
        gw.stop()


async def test_retention_closes_and_empties_a_topic_telegram_will_not_delete(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, thread_id = fake_telegram, topic(fake_telegram)
    api.fail_next("deleteForumTopic", Fault(400, "Bad Request: not enough rights to delete topic"))
    db = tmp_path / "gateway.db"
    key = pseudonym(SECRET, "tg", 3304)
    seed_expired_person(f"sqlite:///{db}", db, key, thread_id, [41, 42, 43])
    gw = await start_gateway(NoRasa(tmp_path / "var"), api, tmp_path, HOTLINE_CHAT_ID=str(HOTLINE))  # type: ignore[arg-type]
    try:
        await wait_until(lambda: any(method == "deleteMessages" for method, _ in api.calls), timeout=30)
        assert api.topics[thread_id]["closed"] is True
        [params] = [p for method, p in api.calls if method == "deleteMessages"]
        assert int(params["chat_id"]) == HOTLINE
        ids = params["message_ids"]
        assert (json.loads(ids) if isinstance(ids, str) else ids) == [41, 42, 43]
        with sqlite3.connect(db) as conn:
            await wait_until(lambda: not conn.execute("select count(*) from dalil_hotline_topics").fetchone()[0])
        assert "forum topic 555" in gw.log()  # the operator is told what is left to do by hand
    finally:
        gw.stop()
