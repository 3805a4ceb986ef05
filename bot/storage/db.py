"""Database plumbing: one DATABASE_URL, turned into the right engines for each user of it.

The gateway uses an async engine (aiosqlite or asyncpg); Alembic migrations and Rasa's SQL
tracker store use the synchronous drivers (sqlite3, psycopg2). With SQLite the gateway and Rasa
get separate files in the same folder, so their writes do not wait on each other.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _url(database_url: str) -> URL:
    return make_url(database_url)


def is_sqlite(database_url: str) -> bool:
    return bool(_url(database_url).get_backend_name() == "sqlite")


def sync_url(database_url: str) -> str:
    url = _url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.set(drivername="sqlite"))
    if url.get_backend_name() == "postgresql":
        return str(url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False))
    return str(url.render_as_string(hide_password=False))


def async_url(database_url: str) -> str:
    url = _url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.set(drivername="sqlite+aiosqlite"))
    if url.get_backend_name() == "postgresql":
        return str(url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False))
    return str(url.render_as_string(hide_password=False))


def sqlite_path(database_url: str) -> Path | None:
    url = _url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def rasa_tracker_store(database_url: str) -> dict[str, Any]:
    """The `tracker_store` section of Rasa's endpoints for this DATABASE_URL."""
    url = _url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database_url)
        db = str(path.with_name("rasa.db")) if path else "var/rasa.db"
        return {"type": "SQL", "dialect": "sqlite", "db": db}
    store: dict[str, Any] = {
        "type": "SQL",
        "dialect": "postgresql" if url.get_backend_name() == "postgresql" else url.get_backend_name(),
        "url": url.host or "localhost",
        "db": url.database,
    }
    if url.port:
        store["port"] = url.port
    if url.username:
        store["username"] = url.username
    if url.password:
        store["password"] = url.password
    return store


def rasa_tracker_url(database_url: str) -> str:
    """A synchronous SQLAlchemy URL to the database holding Rasa's `events` table."""
    store = rasa_tracker_store(database_url)
    if store["dialect"] == "sqlite":
        return f"sqlite:///{store['db']}"
    return sync_url(database_url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# -- SQLite: one thread crossing per statement -------------------------------------------------
# SQLAlchemy's aiosqlite adapter crosses to aiosqlite's worker thread four times per statement
# (cursor, execute, fetchall, close); each crossing costs ~80 µs of CPU, the statement itself
# ~6 µs (docs/benchmarks.md). The classes below cross once. They reach SQLAlchemy through a
# public parameter (`create_async_engine(module=...)`, "an alternate DBAPI module"), but they
# build on SQLAlchemy's aiosqlite adapter classes and on aiosqlite's `_execute`/`_conn`, which
# are internals. So they are used only with the versions they were written and measured
# against (PINNED; any other version gets SQLAlchemy's stock adapter: slower, still correct),
# and tests/unit/test_db.py fails when the installed versions differ from PINNED and runs every
# kind of statement through them (rows, no rows, lastrowid, rowcount, errors, rollback).
PINNED = {"sqlalchemy": "1.4.54", "aiosqlite": "0.22.1"}


def _run_statement(conn: Any, operation: str, parameters: Any) -> tuple[Any, int, int, list[Any]]:
    """In aiosqlite's worker thread: the whole statement, rows included."""
    cursor = conn.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        if cursor.description:
            return cursor.description, -1, -1, cursor.fetchall()
        return None, cursor.lastrowid, cursor.rowcount, []
    finally:
        cursor.close()


# SQLAlchemy 1.4 ships no types: its adapter classes are Any to mypy (misc: subclassing Any).
class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):  # type: ignore[misc]
    """SQLAlchemy's aiosqlite cursor, with `execute` done in one crossing."""

    __slots__ = ()

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            driver = self._connection
            self.description, self.lastrowid, self.rowcount, self._rows = self.await_(  # type: ignore[misc]
                driver._execute(_run_statement, driver._conn, operation, parameters)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):  # type: ignore[misc]
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        return super().cursor(server_side) if server_side else _OneHopCursor(self)

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; after a read there is nothing
        # to roll back (sqlite3 opens transactions only for writes), so skip the crossing.
        try:
            idle = not self._connection.in_transaction  # aiosqlite's public property
        except ValueError:  # closed: the stock rollback reports it
            idle = False
        if not idle:
            super().rollback()


class _OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):  # type: ignore[misc]
    """The DBAPI "module" of SQLAlchemy's aiosqlite dialect, handing out one-hop connections."""

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        connection = super().connect(*args, **kwargs)
        if type(connection) is AsyncAdapt_aiosqlite_connection:  # not the sync "fallback" mode
            return _OneHopConnection(self, connection._connection)
        return connection


def one_hop_available() -> bool:
    """True when SQLAlchemy and aiosqlite are the versions the one-hop adapter was written for."""
    from importlib.metadata import version

    return all(version(name) == pinned for name, pinned in PINNED.items())


def create_engine(database_url: str) -> AsyncEngine:
    """The gateway's async engine, with SQLite tuned for one writer and many readers."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"future": True}
    if is_sqlite(database_url):
        kwargs.update(poolclass=AsyncAdaptedQueuePool, pool_size=4, max_overflow=4)
        if one_hop_available():
            import sqlite3

            import aiosqlite

            kwargs["module"] = _OneHopDBAPI(aiosqlite, sqlite3)
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(async_url(database_url), **kwargs)
    if is_sqlite(database_url):
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Bring the gateway's tables to the latest schema (idempotent)."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(sync_url(database_url), future=True)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
