"""PostgreSQL and Redis for real: the schema migrates, two Rasa servers share one conversation
through the SQL tracker store and the Redis lock store, two gateways share one database and
answer every message once, and "forget me" leaves nothing. Skipped without TEST_DATABASE_URL
and TEST_REDIS_URL (.ci/run starts both)."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot.core.identity import pseudonym
from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient
from bot.ops.supervisor import rasa_part
from bot.storage.db import migrate
from tests.conftest import (
    ROOT,
    SECRET,
    Stack,
    free_port,
    location_offer,
    start_gateway,
    start_stack,
    stop_process,
    wait_http,
)
from tests.fakes.telegram_api import FakeTelegram

DATABASE = os.environ.get("TEST_DATABASE_URL")
REDIS = os.environ.get("TEST_REDIS_URL")
pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not (DATABASE and REDIS), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL (.ci/run starts them)"
    ),
]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    assert DATABASE
    name = "dalil_t_" + secrets.token_hex(4)
    admin = sa.create_engine(DATABASE, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = sa.engine.make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :n"), {"n": name})
        conn.execute(sa.text(f'drop database if exists "{name}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def two_rasas(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Settings]]:
    """Rasa A (with its action server) and Rasa B, both on PostgreSQL + Redis."""
    migrate(pg_url)
    # The demonstration events: the conversation asks for workshops in Tangier.
    first = start_stack(
        tmp_path_factory.mktemp("rasa-a"),
        DATABASE_URL=pg_url,
        REDIS_URL=str(REDIS),
        EVENTS_URL=str(ROOT / "events" / "demo.yml"),
    )
    env = dict(first.env, RASA_PORT=str(free_port()), DALIL_VAR_DIR=str(tmp_path_factory.mktemp("rasa-b")))
    second = Settings.from_env(env)
    part = rasa_part(second, first.model)
    part.env.update(env)
    part.log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        part.argv,
        cwd=ROOT,
        env=part.env,
        stdout=part.log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_http(
        f"{second.rasa_url}/status",
        params={"token": second.rasa_token},
        proc=proc,
        log=part.log_path,
        expect_model=True,
    )
    yield first, second
    stop_process(proc)
    for process in first.processes.values():
        stop_process(process)
    first.action_proxy.close()


def test_endpoints_use_postgres_and_redis(two_rasas: tuple[Stack, Settings]) -> None:
    first, _ = two_rasas
    endpoints = (first.var_dir / "endpoints.yml").read_text()
    assert "dialect: postgresql" in endpoints and "type: redis" in endpoints


async def test_one_conversation_alternating_between_two_rasa_servers(two_rasas: tuple[Stack, Settings]) -> None:
    first, second = two_rasas
    sender = "u" + secrets.token_hex(6)
    async with httpx.AsyncClient(timeout=60) as http:
        a = RasaClient(http, first.rasa_url, token=first.settings.rasa_token)
        b = RasaClient(http, second.rasa_url, token=second.rasa_token)
        meta = {"language": "fr", "darija": False}
        r1 = await a.send(sender, "il y a des ateliers à Tanger ?", meta)
        r2 = await b.send(sender, "et à Rabat ?", meta)  # the follow-up needs A's context
        r3 = await a.send(sender, "Comment demander l'asile au Maroc ?", meta)
        r4 = await b.send(sender, "merci beaucoup", meta)
        assert "Tanger" in r1[0]["text"]
        assert "Rabat" in r2[0]["text"] and "Tanger" not in r2[0]["text"]
        assert "HCR" in r3[0]["text"]
        assert r4 and r4[0]["text"]
        tracker_a = await a.tracker(sender)
        tracker_b = await b.tracker(sender)
    texts = [e["text"] for e in tracker_a["events"] if e["event"] == "user"]
    assert texts == [
        "il y a des ateliers à Tanger ?",
        "et à Rabat ?",
        "Comment demander l'asile au Maroc ?",
        "merci beaucoup",
    ]
    assert len(tracker_a["events"]) == len(tracker_b["events"])  # one conversation, not two
    assert tracker_b["slots"]["events_city"] == "rabat"


async def test_two_gateways_share_postgres_and_answer_once(
    two_rasas: tuple[Stack, Settings], pg_url: str, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    first, second = two_rasas
    api = fake_telegram
    common = {"DATABASE_URL": pg_url, "TRACKER_DATABASE_URL": pg_url, "FLOOD_BURST": "100"}
    # Both gateways poll the same fake Bot API, so both see every update: the database decides.
    gw_a = await start_gateway(first, api, tmp_path / "a", DALIL_INSTANCE="gw-a", **common)
    gw_b = await start_gateway(
        first, api, tmp_path / "b", DALIL_INSTANCE="gw-b", RASA_PORT=str(second.rasa_port), **common
    )
    try:
        users = range(6001, 6011)
        for user in users:
            api.message(user, "Comment demander l'asile au Maroc ?")
            api.message(user, "où faire un test VIH gratuit ?")
        for user in users:
            await api.wait_for(user, 2, timeout=120)
        for user in users:
            await api.quiet(user, 2.0)
            # Each answer once (the offer to share a location that may follow one is not counted).
            texts = [s.text for s in api.to(user) if not location_offer(s.text)]
            assert len(texts) == 2 and max(Counter(texts).values()) == 1, texts
            assert len(api.to(user)) - len(texts) <= 2, [s.text for s in api.to(user)]
            assert "HCR" in texts[0] and "ALCS" in texts[1]

        # Forget me on PostgreSQL: the gateway's tables and Rasa's events share the database.
        user = 6001
        key = pseudonym(SECRET, "tg", user)
        before = len(api.to(user))
        api.message(user, "/forget")
        question = (await api.wait_for(user, before + 1, timeout=60))[-1]
        api.press(user, question.button("Oui")["callback_data"])
        await api.wait_for(user, before + 2, timeout=60)
        engine = sa.create_engine(pg_url, future=True)
        deadline = __import__("time").monotonic() + 15
        while True:
            with engine.connect() as conn:
                tables = [
                    r[0] for r in conn.execute(sa.text("select tablename from pg_tables where schemaname='public'"))
                ]
                left = {}
                for table in tables:
                    columns = [
                        r[0]
                        for r in conn.execute(
                            sa.text("select column_name from information_schema.columns where table_name = :t"),
                            {"t": table},
                        )
                    ]
                    where = " or ".join(f'cast("{c}" as text) like :k' for c in columns)
                    count = conn.execute(
                        sa.text(f'select count(*) from "{table}" where {where}'),  # noqa: S608
                        {"k": f"%{key}%"},
                    ).scalar_one()
                    if count:
                        left[table] = count
            if not left or __import__("time").monotonic() > deadline:
                break
        engine.dispose()
        assert left == {}
    finally:
        gw_a.stop()
        gw_b.stop()
