"""Read and delete in Rasa's SQL tracker store (the `events` table), for privacy and statistics.

Rasa owns the table (rasa.core.tracker_store.SQLTrackerStore creates it); the gateway only ever
deletes a person's events (forget me, retention) and counts events for admins. The table is
declared here with the columns Rasa 3.6 writes, so no Rasa import is needed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine, rasa_tracker_url

metadata = sa.MetaData()
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), index=True),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


class TrackerDB:
    """Async access to Rasa's events table; tolerates the table not existing yet."""

    def __init__(self, database_url: str, tracker_url: str = "") -> None:
        self.url = tracker_url or rasa_tracker_url(database_url)
        self.engine: AsyncEngine = create_engine(self.url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def _has_table(self) -> bool:
        async with self.engine.connect() as conn:
            return bool(await conn.run_sync(lambda sync: sa.inspect(sync).has_table("events")))

    async def delete_sender(self, sender_id: str) -> int:
        """Delete every event of one conversation; returns how many."""
        if not await self._has_table():
            return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(events.delete().where(events.c.sender_id == sender_id))
            return int(result.rowcount or 0)

    async def count_sender(self, sender_id: str) -> int:
        if not await self._has_table():
            return 0
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(sa.func.count()).select_from(events).where(events.c.sender_id == sender_id)
                    )
                ).scalar_one()
            )

    async def delete_before(self, moment: dt.datetime) -> int:
        """Retention: delete events older than `moment` (UTC)."""
        if not await self._has_table():
            return 0
        cutoff = moment.replace(tzinfo=dt.timezone.utc).timestamp()
        async with self.engine.begin() as conn:
            result = await conn.execute(events.delete().where(events.c.timestamp < cutoff))
            return int(result.rowcount or 0)

    async def user_events_since(self, moment: dt.datetime) -> list[dict[str, Any]]:
        """User messages since `moment`: sender, time, intent, FAQ key, language, text."""
        if not await self._has_table():
            return []
        cutoff = moment.replace(tzinfo=dt.timezone.utc).timestamp()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(events.c.sender_id, events.c.timestamp, events.c.intent_name, events.c.data)
                .where(events.c.type_name == "user", events.c.timestamp >= cutoff)
                .order_by(events.c.timestamp)
            )
            return list(_user_rows(rows))


def _user_rows(rows: Any) -> Iterator[dict[str, Any]]:
    for sender, timestamp, intent, data in rows:
        try:
            event = json.loads(data or "{}")
        except json.JSONDecodeError:
            event = {}
        parse = event.get("parse_data") or {}
        key = (((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}).get(
            "intent_response_key"
        )
        metadata = event.get("metadata") or {}
        yield {
            "sender": sender,
            "time": dt.datetime.fromtimestamp(timestamp or 0, dt.timezone.utc),
            "intent": intent or (parse.get("intent") or {}).get("name"),
            "faq": key,
            "language": metadata.get("language"),
            "text": event.get("text") or "",
        }
