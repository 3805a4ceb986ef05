"""The one-hop SQLite adapter of bot/storage/db.py: pinned to the library versions it builds on, and
every kind of statement the store uses goes through it with SQLAlchemy's usual results."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.storage import db


def test_pinned_versions_are_the_installed_ones() -> None:
    # If this fails after an upgrade, the gateway silently uses SQLAlchemy's stock adapter
    # (correct, ~3 thread crossings slower per statement): check that _OneHopCursor still
    # matches SQLAlchemy's aiosqlite cursor and aiosqlite's Connection._execute/_conn, run
    # this file, re-measure (`dalil bench`), then update db.PINNED.
    for name, pinned in db.PINNED.items():
        assert version(name) == pinned, f"{name} {version(name)} installed, bot/storage/db.py is pinned to {pinned}"
    assert db.one_hop_available()


async def test_every_kind_of_statement_through_the_one_hop_adapter(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(10), unique=True, nullable=False),
    )
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            assert type(raw.dbapi_connection) is db._OneHopConnection  # noqa: SLF001
            await conn.run_sync(table.metadata.create_all)
            first = await conn.execute(table.insert().values(name="a"))
            second = await conn.execute(table.insert().values(name="b"))
            assert first.inserted_primary_key[0] == 1 and second.inserted_primary_key[0] == 2
            await conn.execute(table.insert(), [{"name": "c"}, {"name": "d"}])  # executemany
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(table).order_by(table.c.id))).all()
            assert [(r.id, r.name) for r in rows] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
            empty = await conn.execute(sa.select(table).where(table.c.name == "zz"))
            assert list(empty.keys()) == ["id", "name"] and empty.all() == []
        async with engine.begin() as conn:
            changed = await conn.execute(table.update().where(table.c.id > 2).values(name=table.c.name + "!"))
            assert changed.rowcount == 2
            assert (await conn.execute(table.delete().where(table.c.id == 99))).rowcount == 0
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(table.insert().values(name="a"))
        with pytest.raises(OperationalError):
            async with engine.connect() as conn:
                await conn.execute(sa.text("select * from no_such_table"))
        # A failed write transaction is rolled back for real; a read needs no rollback.
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(table.insert().values(name="e"))
                raise RuntimeError("abort")
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 4
    finally:
        await engine.dispose()


async def test_other_versions_get_the_stock_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(db.PINNED, "sqlalchemy", "0.0.0")
    engine = db.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert type(raw.dbapi_connection) is not db._OneHopConnection  # noqa: SLF001
            assert (await conn.execute(sa.text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
