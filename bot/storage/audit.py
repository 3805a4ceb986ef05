"""The audit log: what admins did (import, publish, rollback, broadcast, role change), who, when, result.

`actor` is an admin's Telegram id as `tg:<id>` or the local user of the command line as
`cli:<login>`: staff, never the people Dalil helps. Rows are kept beyond the retention of
conversations (they say nothing about a person who wrote to the bot).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.schema import audit_log

_T = audit_log.c


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    actor: str
    action: str
    detail: str
    result: str


class Audit:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, actor: str, action: str, detail: str = "", result: str = "ok") -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                audit_log.insert().values(
                    at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                    actor=actor[:64],
                    action=action[:24],
                    detail=detail,
                    result=result[:16],
                )
            )

    async def recent(self, *, limit: int = 50, since: dt.datetime | None = None) -> list[AuditEntry]:
        """The newest entries first (UTC times, naive as stored)."""
        query = sa.select(audit_log).order_by(_T.id.desc()).limit(limit)
        if since is not None:
            query = query.where(_T.at >= since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AuditEntry(row.at, row.actor, row.action, row.detail, row.result) for row in rows]
