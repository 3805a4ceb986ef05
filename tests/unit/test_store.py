"""The durable inbox and outbox on a real SQLite file, through the one-crossing aiosqlite cursor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.storage.db import create_engine, migrate
from bot.storage.store import Store


async def open_store(tmp_path: Path) -> tuple[Store, Path]:
    path = tmp_path / "dalil.db"
    migrate(f"sqlite:///{path}")
    return Store(create_engine(f"sqlite:///{path}")), path


async def test_inputs_come_back_in_the_order_the_person_wrote_them(tmp_path: Path) -> None:
    store, _ = await open_store(tmp_path)
    # Concurrent handlers may store update 12 before update 11.
    for update_id, text in ((12, "deuxième"), (11, "première"), (13, "troisième")):
        assert await store.inbox_add(
            "u1", "text", text=text, update_id=update_id, chat_id=5, telegram_code="fr", touch=True
        )
    items, user = await store.inbox_pending("u1", 20)
    assert [item.text for item in items] == ["première", "deuxième", "troisième"]
    assert user is not None and user.chat_id == 5 and user.telegram_code == "fr"
    items, _ = await store.inbox_pending("u1", 2)
    assert len(items) == 2
    await store.close()


async def test_a_redelivered_update_is_stored_once_and_the_user_row_survives(tmp_path: Path) -> None:
    store, path = await open_store(tmp_path)
    first = await store.inbox_add("u1", "text", text="salam", update_id=7, chat_id=5, telegram_code="ar", touch=True)
    again = await store.inbox_add("u1", "text", text="salam", update_id=7, chat_id=5, telegram_code="ar", touch=True)
    assert first is not None and again is None
    assert await store.get_user("u1") is not None
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select count(*) from dalil_inbox").fetchone()[0] == 1


async def test_done_and_sent_are_committed_for_other_readers(tmp_path: Path) -> None:
    store, path = await open_store(tmp_path)
    await store.inbox_add("u1", "text", text="bonjour", update_id=1, chat_id=5, telegram_code="fr", touch=True)
    (item,), user = await store.inbox_pending("u1", 20)
    await store.inbox_done(item, user.chat_id if user else None, [{"text": "Bonjour !"}, {"text": "Menu"}])
    assert await store.inbox_pending("u1", 20) == ([], None)
    replies = await store.outbox_pending("u1", 20)
    assert [r.body["text"] for r in replies] == ["Bonjour !", "Menu"]
    await store.outbox_sent(replies[0].id, 101)
    assert [r.body["text"] for r in await store.outbox_pending("u1", 20)] == ["Menu"]
    # Another process (dalil status, a backup) sees the same state: nothing was left uncommitted.
    with sqlite3.connect(path) as conn:
        rows = conn.execute("select status, message_id from dalil_outbox order by id").fetchall()
    assert rows == [("sent", 101), ("pending", None)]
    await store.close()
