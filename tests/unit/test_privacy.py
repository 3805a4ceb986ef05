"""Forget-me and retention on a real SQLite store and a Rasa-shaped events table."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from bot.gateway.privacy import Privacy
from bot.storage.db import create_engine, migrate
from bot.storage.store import Store, utcnow
from bot.storage.tracker_db import TrackerDB

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
        await store.handoff_create(
            user, reason="request", urgent=False, language="fr", context_topic=None, thread_id=7 if user == "ua" else 8
        )
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
        from bot.storage.schema import users

        await conn.execute(users.update().where(users.c.id == "old").values(last_seen_at=now - dt.timedelta(days=45)))
    deleted = await privacy.apply_retention(now)
    assert deleted["events"] == 1 and deleted["dalil_users"] == 1
    assert await tracker.count_sender("new") == 1
    assert await store.get_user("new") is not None and await store.get_user("old") is None
    await store.close()
    await tracker.close()


# -- Telegram: the person's chat and their hotline topic ---------------------------------------
class FakeHotline:
    """Records the forum-topic calls; `fail` maps a method name to the exception it raises."""

    def __init__(self, **fail: Exception) -> None:
        self.fail = fail
        self.calls: list[tuple[str, object]] = []

    async def _call(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))
        if name in self.fail:
            raise self.fail[name]

    async def create_topic(self, name: str) -> int:
        return 1

    async def reopen_topic(self, thread_id: int) -> bool:
        return True

    async def close_topic(self, thread_id: int) -> None:
        await self._call("close_topic", thread_id)

    async def delete_topic(self, thread_id: int) -> None:
        await self._call("delete_topic", thread_id)

    async def delete_messages(self, message_ids: list[int]) -> None:
        await self._call("delete_messages", list(message_ids))


class FakeChat:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.deleted: list[tuple[int, list[int]]] = []

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> None:
        if self.fail is not None:
            raise self.fail
        self.deleted.append((chat_id, list(message_ids)))


async def sent(
    store: Store, user: str, message_id: int, *, hotline: bool = False, age: dt.timedelta | None = None
) -> None:
    """A message the bot sent to the person (or to their topic), `age` ago."""
    from bot.storage.schema import sent_messages

    await store.outbox_add(user, -100 if hotline else 1, [{"text": "x"}])
    item = await store.outbox_next(user)
    assert item is not None
    await store.outbox_sent(item.id, message_id, user_id=user, hotline=hotline)
    if age is not None:
        async with store.engine.begin() as conn:
            await conn.execute(
                sent_messages.update().where(sent_messages.c.message_id == message_id).values(sent_at=utcnow() - age)
            )


async def age_user(store: Store, user: str, days: int) -> None:
    from bot.storage.schema import users

    async with store.engine.begin() as conn:
        await conn.execute(
            users.update().where(users.c.id == user).values(last_seen_at=utcnow() - dt.timedelta(days=days))
        )


async def test_forget_deletes_the_bots_recent_messages_in_the_persons_chat(tmp_path: Path) -> None:
    from bot.gateway.privacy import forget_note

    store, tracker, _ = await setup(tmp_path)
    chat = FakeChat()
    privacy = Privacy(store, tracker, retention_days=30, chat=chat)
    await store.touch_user("ua", 5551, "fr")
    await sent(store, "ua", 10, age=dt.timedelta(hours=60))  # too old for Telegram
    await sent(store, "ua", 11, age=dt.timedelta(hours=20))
    await sent(store, "ua", 12)
    await sent(store, "ua", 13, hotline=True)  # in the hotline group, not the person's chat
    deleted = await privacy.forget("ua")
    assert chat.deleted == [(5551, [11, 12])]
    assert deleted["chat_messages_deleted"] == 2 and deleted["chat_messages_not_deleted"] == 0
    assert forget_note(deleted) == "forget_chat_deleted"
    assert await privacy.remaining("ua") == 0
    await store.close()
    await tracker.close()


async def test_forget_says_when_the_chat_could_not_be_cleared(tmp_path: Path) -> None:
    from bot.gateway.privacy import forget_note

    store, tracker, _ = await setup(tmp_path)
    privacy = Privacy(store, tracker, retention_days=30, chat=FakeChat(fail=ConnectionError("down")))
    await store.touch_user("ua", 5551, "fr")
    await sent(store, "ua", 11)
    deleted = await privacy.forget("ua")
    assert deleted["chat_messages_not_deleted"] == 1
    assert forget_note(deleted) == "forget_chat_not_deleted"
    assert await privacy.remaining("ua") == 0  # the rows go anyway
    assert forget_note({"events": 0}) is None  # the terminal: no chat to clear
    await store.close()
    await tracker.close()


async def test_retention_deletes_the_forum_topic_of_an_expired_person(tmp_path: Path) -> None:
    store, tracker, _ = await setup(tmp_path)
    hotline = FakeHotline()
    privacy = Privacy(store, tracker, retention_days=30, hotline=hotline)
    for user, thread in (("old", 7), ("new", 8), ("old_open", 9)):
        await store.touch_user(user, 1, "fr")
        await store.topic_set(user, thread)
        await sent(store, user, thread * 10, hotline=True)
    await store.handoff_create(
        "old_open", reason="request", urgent=False, language="fr", context_topic=None, thread_id=9
    )
    await age_user(store, "old", 45)
    await age_user(store, "old_open", 45)
    deleted = await privacy.apply_retention()
    assert hotline.calls == [("delete_topic", 7)]
    assert deleted["dalil_hotline_topics"] == 1 and deleted["dalil_users"] == 1
    assert await store.topic_for("old") is None and await store.get_user("old") is None
    assert await store.sent_ids("old", hotline=True) == []
    assert await store.topic_for("new") == 8 and await store.topic_for("old_open") == 9  # a case still open
    await store.close()
    await tracker.close()


async def test_retention_closes_and_empties_a_topic_telegram_will_not_delete(tmp_path: Path) -> None:
    from bot.gateway.handoff import HotlineRefused

    store, tracker, _ = await setup(tmp_path)
    hotline = FakeHotline(delete_topic=HotlineRefused("Bad Request: not enough rights to delete topic"))
    privacy = Privacy(store, tracker, retention_days=30, hotline=hotline)
    await store.touch_user("old", 1, "fr")
    await store.topic_set("old", 7)
    for message_id in (70, 71, 72):
        await sent(store, "old", message_id, hotline=True, age=dt.timedelta(days=40))
    await age_user(store, "old", 45)
    await privacy.apply_retention()
    assert hotline.calls == [("delete_topic", 7), ("close_topic", 7), ("delete_messages", [70, 71, 72])]
    assert await store.topic_for("old") is None and await store.sent_ids("old", hotline=True) == []
    assert await store.topics_to_expire(utcnow()) == []
    await store.close()
    await tracker.close()


async def test_retention_tries_again_when_telegram_is_unreachable(tmp_path: Path) -> None:
    store, tracker, _ = await setup(tmp_path)
    down = FakeHotline(delete_topic=ConnectionError("down"), close_topic=ConnectionError("down"))
    await store.touch_user("old", 1, "fr")
    await store.topic_set("old", 7)
    await age_user(store, "old", 45)
    await Privacy(store, tracker, retention_days=30, hotline=down).apply_retention()
    assert await store.get_user("old") is None  # the person's rows go…
    assert await store.topics_to_expire(utcnow()) == [("old", 7)]  # …the topic waits for Telegram
    back = FakeHotline()
    await Privacy(store, tracker, retention_days=30, hotline=back).apply_retention()
    assert back.calls == [("delete_topic", 7)] and await store.topics_to_expire(utcnow()) == []
    await store.close()
    await tracker.close()


async def test_forget_leaves_an_undeletable_topic_to_retention_unlinked_from_the_person(tmp_path: Path) -> None:
    store, tracker, _ = await setup(tmp_path)
    down = FakeHotline(delete_topic=ConnectionError("down"), close_topic=ConnectionError("down"))
    await store.touch_user("ua", 1, "fr")
    await store.topic_set("ua", 7)
    await sent(store, "ua", 70, hotline=True)
    await Privacy(store, tracker, retention_days=30, hotline=down).forget("ua")
    assert await store.rows_about("ua") == 0
    [(orphan, thread)] = await store.topics_to_expire(utcnow())
    assert thread == 7 and orphan.startswith("gone-")
    back = FakeHotline()
    await Privacy(store, tracker, retention_days=30, hotline=back).apply_retention()
    assert back.calls == [("delete_topic", 7)] and await store.topics_to_expire(utcnow()) == []
    await store.close()
    await tracker.close()


async def test_retention_keeps_chat_message_ids_48_hours_only(tmp_path: Path) -> None:
    store, tracker, _ = await setup(tmp_path)
    privacy = Privacy(store, tracker, retention_days=30)
    await store.touch_user("ua", 1, "fr")
    await sent(store, "ua", 1, age=dt.timedelta(hours=50))
    await sent(store, "ua", 2, age=dt.timedelta(hours=2))
    await sent(store, "ua", 3, hotline=True, age=dt.timedelta(days=20))  # kept with the topic
    await privacy.apply_retention()
    assert await store.sent_ids("ua", hotline=False) == [2]
    assert await store.sent_ids("ua", hotline=True) == [3]
    await store.close()
    await tracker.close()
