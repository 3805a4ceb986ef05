"""Alerts and broadcasts in the database: subscriptions, the events already seen, the broadcasts, and
their deliveries as outbox rows (`origin` "alert" or "broadcast:<id>").

Subscriptions name a person by their pseudonym only. `deliver` queues every message of one alert
round or one broadcast in a single transaction, together with what says it was done (the events
marked announced, the broadcast marked sent): a crash sends a round either whole or not at all, never
twice. Rows are spaced out (`next_attempt_at`) at the pace asked, so answers to people keep their share
of Telegram's limits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.bodies import Body
from bot.core.languages import ANSWER_LANGS
from bot.storage.schema import broadcasts, events_seen, outbox, subscriptions, users

_S = subscriptions.c
_B = broadcasts.c
_E = events_seen.c
ORIGIN_ALERT = "alert"
BROADCAST_PREFIX = "broadcast:"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: str
    city: str
    topic: str  # "" for any topic
    created_at: dt.datetime


@dataclass(frozen=True)
class Recipient:
    """A subscriber who can be reached, with the language to write in."""

    user_id: str
    chat_id: int
    lang: str
    darija: bool


@dataclass(frozen=True)
class Broadcast:
    id: int
    actor: str
    city: str
    topic: str
    texts: dict[str, str]
    status: str  # draft | scheduled | sent | cancelled
    recipients: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    blocked: int = 0  # messages Telegram refused because the person had blocked the bot


@dataclass(frozen=True)
class Delivery:
    """One message to queue."""

    user_id: str
    chat_id: int
    body: Body


def language_of(chosen: str | None, current: str | None, telegram_code: str | None) -> str:
    """The language a person reads, as the engine chooses it without a message: chosen, current,
    Telegram's, else French."""
    for candidate in (chosen, current, (telegram_code or "")[:2]):
        if candidate in ANSWER_LANGS:
            return candidate
    return "fr"


def _recipient(row: Any) -> Recipient:
    lang = language_of(row.lang_chosen, row.lang_current, row.telegram_code)
    return Recipient(row.user_id, int(row.chat_id), lang, bool(row.darija) and lang == "ar")


def _subscription(row: Any) -> Subscription:
    return Subscription(int(row.id), str(row.user_id), str(row.city), str(row.topic or ""), row.created_at)


def _broadcast(row: Any) -> Broadcast:
    texts = json.loads(row.texts) if row.texts else {}
    return Broadcast(
        id=int(row.id),
        actor=str(row.actor),
        city=str(row.city or ""),
        topic=str(row.topic or ""),
        texts={str(k): str(v) for k, v in texts.items()},
        status=str(row.status),
        recipients=int(row.recipients or 0),
        created_at=row.created_at,
        sent_at=row.sent_at,
        blocked=int(row.blocked or 0),
    )


_REACHABLE = (
    sa.select(
        _S.id,
        _S.user_id,
        _S.city,
        _S.topic,
        _S.created_at,
        users.c.chat_id,
        users.c.lang_chosen,
        users.c.lang_current,
        users.c.telegram_code,
        users.c.darija,
    )
    .join(users, users.c.id == _S.user_id)
    .where(users.c.chat_id.is_not(None), users.c.chat_id > 0)
)


class AlertStore:
    """Async access to the alerts' tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- subscriptions ----------------------------------------------------------------------
    async def subscribe(self, user_id: str, city: str, topic: str = "") -> bool:
        """Subscribe; False when the person already had this subscription."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    subscriptions.insert().values(user_id=user_id, city=city, topic=topic, created_at=utcnow())
                )
        except IntegrityError:
            return False
        return True

    async def for_user(self, user_id: str) -> list[Subscription]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(subscriptions).where(_S.user_id == user_id).order_by(_S.id))
            return [_subscription(r) for r in rows]

    async def remove(self, user_id: str, *, sub_id: int | None = None, city: str = "", topic: str = "") -> bool:
        """Remove one of the person's subscriptions (by id, or by city and topic)."""
        where = _S.id == sub_id if sub_id is not None else sa.and_(_S.city == city, _S.topic == topic)
        async with self.engine.begin() as conn:
            result = await conn.execute(subscriptions.delete().where(_S.user_id == user_id, where))
            return bool(result.rowcount)

    async def forget(self, user_id: str) -> int:
        """Every subscription of a person (/forget)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(subscriptions.delete().where(_S.user_id == user_id))
            return int(result.rowcount or 0)

    async def count(self, user_id: str) -> int:
        async with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(subscriptions).where(_S.user_id == user_id)
            return int((await conn.execute(query)).scalar_one())

    async def purge_orphans(self) -> int:
        """The subscriptions of people retention (or anything else) deleted."""
        async with self.engine.begin() as conn:
            result = await conn.execute(subscriptions.delete().where(_S.user_id.not_in(sa.select(users.c.id))))
            return int(result.rowcount or 0)

    async def blocked(self, chat_id: int) -> int:
        """Telegram says this private chat refuses the bot: drop its person's subscriptions, and when
        the message being sent (the chat's oldest pending outbox row) is a broadcast's, count it
        there as blocked. Returns how many subscriptions were dropped."""
        people = sa.select(users.c.id).where(users.c.chat_id == chat_id)
        async with self.engine.begin() as conn:
            origin = (
                await conn.execute(
                    sa.select(outbox.c.origin)
                    .where(outbox.c.chat_id == chat_id, outbox.c.status == "pending")
                    .order_by(outbox.c.id)
                    .limit(1)
                )
            ).scalar()
            if isinstance(origin, str) and origin.startswith(BROADCAST_PREFIX):
                number = origin.removeprefix(BROADCAST_PREFIX)
                if number.isdigit():
                    await conn.execute(broadcasts.update().where(_B.id == int(number)).values(blocked=_B.blocked + 1))
            result = await conn.execute(subscriptions.delete().where(_S.user_id.in_(people)))
            return int(result.rowcount or 0)

    async def reachable(self, cities: Iterable[str]) -> list[tuple[Subscription, Recipient]]:
        """The subscriptions of these cities whose person can be written to, oldest first."""
        query = _REACHABLE.where(_S.city.in_(sorted(set(cities)))).order_by(_S.id)
        async with self.engine.connect() as conn:
            return [(_subscription(r), _recipient(r)) for r in await conn.execute(query)]

    async def audience(self, city: str, topic: str) -> list[Recipient]:
        """The people a broadcast to `city` (and/or `topic`) reaches, each once.

        A city: its subscribers of any topic, or of this topic when one is given. A topic alone: the
        subscribers of that topic, in every city."""
        query = _REACHABLE
        if city:
            query = query.where(_S.city == city)
            if topic:
                query = query.where(_S.topic.in_(("", topic)))
        elif topic:
            query = query.where(_S.topic == topic)
        else:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(_S.id))
            found = {r.user_id: _recipient(r) for r in reversed(list(rows))}
        return sorted(found.values(), key=lambda r: r.user_id)

    # -- events seen ------------------------------------------------------------------------
    async def seen_any(self) -> bool:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(_E.uid).limit(1))).first() is not None

    async def seen(self, uids: Sequence[str]) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
        """uid -> (first seen, announced) for the uids already seen."""
        found: dict[str, tuple[dt.datetime, dt.datetime | None]] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(uids), 500):
                chunk = list(uids[start : start + 500])
                rows = await conn.execute(sa.select(_E.uid, _E.first_seen_at, _E.announced_at).where(_E.uid.in_(chunk)))
                found.update({str(r.uid): (r.first_seen_at, r.announced_at) for r in rows})
        return found

    async def record_seen(self, uids: Iterable[str], at: dt.datetime, *, announced: bool) -> None:
        """First sightings (ignored for uids already seen, e.g. by another gateway)."""
        for uid in uids:
            try:
                async with self.engine.begin() as conn:
                    values = {"uid": uid[:160], "first_seen_at": at, "announced_at": at if announced else None}
                    await conn.execute(events_seen.insert().values(**values))
            except IntegrityError:
                pass

    # -- deliveries -------------------------------------------------------------------------
    async def deliver(
        self,
        deliveries: Sequence[Delivery],
        *,
        origin: str,
        per_second: float,
        announced: Sequence[str] = (),
        at: dt.datetime | None = None,
        broadcast: int | None = None,
    ) -> bool:
        """Queue the messages of one alert round or one broadcast, and mark it done, in one
        transaction. False (nothing queued) when the broadcast was no longer waiting to go."""
        now = utcnow()
        step = 1.0 / per_second if per_second > 0 else 0.0
        async with self.engine.begin() as conn:
            if broadcast is not None:
                result = await conn.execute(
                    broadcasts.update()
                    .where(_B.id == broadcast, _B.status.in_(("draft", "scheduled")))
                    .values(status="sent", recipients=len(deliveries), sent_at=now)
                )
                if not result.rowcount:
                    return False
            if announced:
                await conn.execute(
                    events_seen.update().where(_E.uid.in_(list(announced))).values(announced_at=at or now)
                )
            for n, item in enumerate(deliveries):
                await conn.execute(
                    outbox.insert().values(
                        user_id=item.user_id,
                        chat_id=item.chat_id,
                        body=json.dumps(item.body, ensure_ascii=False),
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now + dt.timedelta(seconds=n * step),
                        origin=origin,
                    )
                )
        return True

    # -- broadcasts -------------------------------------------------------------------------
    async def broadcast_create(self, actor: str, city: str, topic: str, texts: dict[str, str]) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                broadcasts.insert().values(
                    actor=actor[:64],
                    city=city,
                    topic=topic,
                    texts=json.dumps(texts, ensure_ascii=False),
                    status="draft",
                    recipients=0,
                    created_at=utcnow(),
                )
            )
            return int(result.inserted_primary_key[0])

    async def broadcast_get(self, broadcast_id: int) -> Broadcast | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(broadcasts).where(_B.id == broadcast_id))).first()
        return _broadcast(row) if row else None

    async def broadcast_status(self, broadcast_id: int, status: str, *, only_from: Sequence[str]) -> bool:
        """Move a broadcast to `status` if it is in one of `only_from` (False: someone was first)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                broadcasts.update().where(_B.id == broadcast_id, _B.status.in_(list(only_from))).values(status=status)
            )
            return bool(result.rowcount)

    async def broadcasts(self, *, status: str | None = None, limit: int = 5) -> list[Broadcast]:
        """The newest broadcasts first (drafts left unconfirmed are not listed)."""
        query = sa.select(broadcasts).order_by(_B.id.desc()).limit(limit)
        query = query.where(_B.status == status) if status else query.where(_B.status != "draft")
        async with self.engine.connect() as conn:
            return [_broadcast(r) for r in await conn.execute(query)]

    async def delivery(self, broadcast_id: int) -> dict[str, int]:
        """How many of a broadcast's messages are sent, failed, pending (outbox rows by status)."""
        query = (
            sa.select(outbox.c.status, sa.func.count())
            .where(outbox.c.origin == f"{BROADCAST_PREFIX}{broadcast_id}")
            .group_by(outbox.c.status)
        )
        async with self.engine.connect() as conn:
            return {str(status): int(n) for status, n in await conn.execute(query)}
