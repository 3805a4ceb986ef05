"""Forget-me and retention on a real SQLite store and a Rasa-shaped events table."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from bot.db import create_engine, migrate
from bot.privacy import Privacy
from bot.store import Store, utcnow
from bot.tracker_db import TrackerDB

RASA_EVENTS = """create table events (id integer primary key, sender_id varchar(255), type_name varchar(255),
 timestamp float, intent_name varchar(255), action_name varchar(255), data text)"""


def add_event(db: Path, sender: str, when: dt.datetime, text: str = "bonjour") -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "insert into events (sender_id, type_name, timestamp, intent_name, data) values (?, 'user', ?, 'greet', ?)",
            (sender, when.replace(tzinfo=dt.timezone.utc).timestamp(), json.dumps({"text": text})),
        )


async def setup(tmp_path: Path) -> tuple[Store, TrackerDB, Path]:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    migrate(url)
    rasa_db = tmp_path / "rasa.db"
    with sqlite3.connect(rasa_db) as conn:
        conn.execute(RASA_EVENTS)
    return Store(create_engine(url)), TrackerDB(url), rasa_db


async def test_forget_deletes_every_row_and_the_tracker(tmp_path: Path) -> None:
    store, tracker, rasa_db = await setup(tmp_path)
    privacy = Privacy(store, tracker, retention_days=30)
    for user in ("ua", "ub"):
        await store.touch_user(user, 1, "fr")
        item = await store.inbox_add(user, "text", text="une question", update_id=hash(user) % 1000)
        assert item
        await store.callback_add(user, {"t": "payload", "payload": "/help"})
        await store.handoff_create(user, reason="request", urgent=False, language="fr", context_topic=None, thread_id=7 if user == "ua" else 8)
        await store.topic_set(user, 7 if user == "ua" else 8)
        add_event(rasa_db, user, utcnow())
    deleted = await privacy.forget("ua")
    assert deleted["events"] == 1 and deleted["dalil_users"] == 1
    assert await privacy.remaining("ua") == 0
    assert await privacy.remaining("ub") > 0  # nobody else is touched
    await store.close()
    await tracker.close()


async def test_retention_deletes_old_conversations_only(tmp_path: Path) -> None:
    store, tracker, rasa_db = await setup(tmp_path)
    privacy = Privacy(store, tracker, retention_days=30)
    now = utcnow()
    add_event(rasa_db, "old", now - dt.timedelta(days=45))
    add_event(rasa_db, "new", now - dt.timedelta(days=2))
    await store.touch_user("old", 1, "fr")
    await store.touch_user("new", 2, "fr")
    async with store.engine.begin() as conn:
        from bot.schema import users

        await conn.execute(users.update().where(users.c.id == "old").values(last_seen_at=now - dt.timedelta(days=45)))
    deleted = await privacy.apply_retention(now)
    assert deleted["events"] == 1 and deleted["dalil_users"] == 1
    assert await tracker.count_sender("new") == 1
    assert await store.get_user("new") is not None and await store.get_user("old") is None
    await store.close()
    await tracker.close()
