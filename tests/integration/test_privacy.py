"""Privacy, end to end: /forget leaves nothing about the person, the notice, the logs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.core.identity import pseudonym
from tests.conftest import HOTLINE, SECRET, STAFF, Stack
from tests.fakes.telegram_api import FakeTelegram, Fault
from tests.integration.test_handoff import open_handoff, wait_until

pytestmark = pytest.mark.rasa


def rows_mentioning(db: Path, key: str) -> dict[str, int]:
    """Every row of every table of a SQLite file whose columns contain `key`."""
    found: dict[str, int] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"pragma table_info('{table}')")]
            clauses = " or ".join(f"cast({c} as text) like ?" for c in columns)
            query = f"select count(*) from '{table}' where {clauses}"  # noqa: S608 - names from sqlite_master
            count = conn.execute(query, [f"%{key}%"] * len(columns)).fetchone()[0]
            if count:
                found[table] = count
    return found


async def test_forget_leaves_zero_rows(
    stack: Stack, fake_telegram: FakeTelegram, hotline_gateway, tmp_path: Path
) -> None:
    api, user = fake_telegram, 3001
    key = pseudonym(SECRET, "tg", user)
    api.message(user, "Comment demander l'asile au Maroc ?")
    await api.wait_for(user, 1)
    thread, _ = await open_handoff(api, user, "je veux parler à quelqu'un", "fr")
    api.staff_message(HOTLINE, STAFF, thread, "/bot")
    await wait_until(lambda: any("reprend" in (s.text or "") for s in api.to(user)))
    gateway_db, tracker_db = tmp_path / "gateway.db", stack.var_dir / "rasa.db"
    assert rows_mentioning(gateway_db, key) and rows_mentioning(tracker_db, key)

    count = len(api.to(user))
    api.message(user, "supprime mes données s'il te plaît")
    question = (await api.wait_for(user, count + 1))[-1]
    api.press(user, question.button("Oui")["callback_data"])
    done = (await api.wait_for(user, count + 2))[-1]
    assert "effacé" in done.text
    await wait_until(lambda: not rows_mentioning(gateway_db, key), timeout=10)
    assert rows_mentioning(tracker_db, key) == {}
    assert rows_mentioning(gateway_db, str(user)) == {}
    assert thread in api.deleted_topics
    # The bot's messages in the person's chat are gone too, but for the last one.
    assert set(api.deleted_in(user)) == {s.message_id for s in api.to(user)} - {done.message_id}


async def test_forget_closes_and_empties_the_topic_when_telegram_will_not_delete_it(
    fake_telegram: FakeTelegram, hotline_gateway
) -> None:
    api, user = fake_telegram, 3004
    thread, _ = await open_handoff(api, user, "je veux parler à quelqu'un", "fr")
    api.message(user, "voici mon problème")
    await wait_until(lambda: any(s.method == "copyMessage" for s in api.in_thread(HOTLINE, thread)))
    api.staff_message(HOTLINE, STAFF, thread, "/bot")
    await wait_until(lambda: any("reprend" in (s.text or "") for s in api.to(user)))
    bots_in_topic = {s.message_id for s in api.in_thread(HOTLINE, thread)}  # card, copy, notes

    api.fail_next("deleteForumTopic", Fault(400, "Bad Request: not enough rights to delete topic"))
    count = len(api.to(user))
    api.message(user, "/forget")
    question = (await api.wait_for(user, count + 1))[-1]
    api.press(user, question.button("Oui")["callback_data"])
    await api.wait_for(user, count + 2)
    assert api.topics[thread]["closed"] is True
    assert set(api.deleted_in(HOTLINE)) == bots_in_topic


async def test_forget_can_be_cancelled(fake_telegram: FakeTelegram, gateway, tmp_path: Path) -> None:
    api, user = fake_telegram, 3002
    api.message(user, "/forget")
    question = (await api.wait_for(user, 1))[-1]
    api.press(user, question.button("Non")["callback_data"])
    [_, reply] = await api.wait_for(user, 2)
    assert "n'efface rien" in reply.text
    assert rows_mentioning(tmp_path / "gateway.db", pseudonym(SECRET, "tg", user))


async def test_privacy_notice_in_the_users_language(fake_telegram: FakeTelegram, gateway) -> None:
    api, user = fake_telegram, 3003
    api.message(user, "/privacy", language_code="ar")
    [notice] = await api.wait_for(user, 1)
    assert "/forget" in notice.text and "30" in notice.text and "الخصوصية" in notice.text


async def test_logs_hold_no_message_text_and_no_telegram_id(fake_telegram: FakeTelegram, gateway) -> None:
    api, user = fake_telegram, 3123457
    secret_text = "mon numéro est 0612345678 et je m'appelle Awa Traoré"
    api.message(user, secret_text)
    await api.wait_for(user, 1)
    log = gateway.log()
    for needle in ("0612345678", "Awa", "Traoré", str(user), api.token):
        assert needle not in log
