"""Anonymous daily totals that outlive the retention of conversations.

One row per day, metric and key (for instance `campaign` / `poster_clinic_rabat`, from a deep
link's payload), with a count. Nothing names a person and no message text is kept, so `/forget`
and retention leave these rows alone; admins read them in `/stats`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.schema import daily_figures

_T = daily_figures.c


class Figures:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, metric: str, key: str = "", n: int = 1, *, day: dt.date | None = None) -> None:
        """Count `n` more of `metric`/`key` today (UTC), from any number of gateways at once."""
        day = day or dt.datetime.now(dt.timezone.utc).date()
        where = sa.and_(_T.day == day, _T.metric == metric[:32], _T.key == key[:64])
        for attempt in range(2):
            try:
                async with self.engine.begin() as conn:
                    updated = await conn.execute(daily_figures.update().where(where).values(count=_T.count + n))
                    if updated.rowcount == 0:
                        await conn.execute(
                            daily_figures.insert().values(day=day, metric=metric[:32], key=key[:64], count=n)
                        )
                return
            except IntegrityError:  # another gateway inserted the row first: add to it
                if attempt:
                    raise

    async def totals(self, metric: str, *, days: int = 30) -> Counter[str]:
        """Per key, the counts of the last `days` days."""
        since = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days - 1)
        query = sa.select(_T.key, sa.func.sum(_T.count)).where(_T.metric == metric, _T.day >= since).group_by(_T.key)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return Counter({str(key): int(total) for key, total in rows})
