"""Store: the gateway's durable state (users, inbox, outbox, issued buttons) behind async methods.

Every input is written to the inbox before it is processed and every reply to the outbox before
it is sent, so a crash or an unreachable Rasa/Telegram loses nothing: workers resume from here.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.bodies import Body, InputKind
from bot.storage.schema import (
    callbacks,
    handoffs,
    hotline_topics,
    inbox,
    leases,
    outbox,
    sent_messages,
    users,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class User:
    id: str
    chat_id: int | None
    lang_chosen: str | None
    lang_current: str | None
    darija: bool
    telegram_code: str | None
    lang_asked: bool


@dataclass(frozen=True)
class InboxItem:
    id: int
    user_id: str
    kind: InputKind
    text: str | None
    data: dict[str, Any]
    attempts: int
    acked: bool
    next_attempt_at: dt.datetime
    received_at: dt.datetime


@dataclass(frozen=True)
class Handoff:
    id: int
    user_id: str
    status: str
    reason: str
    urgent: bool
    language: str | None
    context_topic: str | None
    thread_id: int | None
    staff_id: int | None
    staff_name: str | None
    opened_at: dt.datetime
    first_staff_reply_at: dt.datetime | None
    last_activity_at: dt.datetime


def _handoff(row: Any) -> Handoff:
    return Handoff(
        id=row.id,
        user_id=row.user_id,
        status=row.status,
        reason=row.reason,
        urgent=bool(row.urgent),
        language=row.language,
        context_topic=row.context_topic,
        thread_id=row.thread_id,
        staff_id=row.staff_id,
        staff_name=row.staff_name,
        opened_at=row.opened_at,
        first_staff_reply_at=row.first_staff_reply_at,
        last_activity_at=row.last_activity_at,
    )


@dataclass(frozen=True)
class OutboxItem:
    id: int
    user_id: str
    chat_id: int
    body: Body
    attempts: int
    next_attempt_at: dt.datetime


def _user(row: Any) -> User:
    return User(
        id=row.id,
        chat_id=row.chat_id,
        lang_chosen=row.lang_chosen,
        lang_current=row.lang_current,
        darija=bool(row.darija),
        telegram_code=row.telegram_code,
        lang_asked=bool(row.lang_asked),
    )


def _inbox(row: Any) -> InboxItem:
    return InboxItem(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        text=row.text,
        data=json.loads(row.data) if row.data else {},
        attempts=row.attempts,
        acked=bool(row.acked),
        next_attempt_at=row.next_attempt_at,
        received_at=row.received_at,
    )


# The statements every message goes through, built once: SQLAlchemy then skips rebuilding
# them and recomputing their cache keys (~70 µs each, measured; see docs/benchmarks.md).
_USER_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("b_user"))
_USER_SEEN = sa.select(users.c.chat_id, users.c.telegram_code, users.c.last_seen_at).where(
    users.c.id == sa.bindparam("b_user")
)
_INBOX_PENDING = (
    sa.select(inbox, *[column.label(f"u_{column.name}") for column in users.c])
    .join(users, users.c.id == inbox.c.user_id)
    .where(inbox.c.user_id == sa.bindparam("b_user"), inbox.c.status == "pending")
    # Telegram's update ids give the order the person wrote in, even when concurrent
    # handlers stored the updates in another order.
    .order_by(inbox.c.update_id.is_(None), inbox.c.update_id, inbox.c.id)
    .limit(sa.bindparam("b_limit"))
)
_INBOX_DONE = (
    inbox.update().where(inbox.c.id == sa.bindparam("b_id")).values(status="done", done_at=sa.bindparam("b_at"))
)
_INBOX_ADD = inbox.insert()
_OUTBOX_ADD = outbox.insert()
_OUTBOX_PENDING = (
    sa.select(outbox)
    .where(outbox.c.user_id == sa.bindparam("b_user"), outbox.c.status == "pending")
    .order_by(outbox.c.id)
    .limit(sa.bindparam("b_limit"))
)
_OUTBOX_SENT = (
    outbox.update()
    .where(outbox.c.id == sa.bindparam("b_id"))
    .values(status="sent", sent_at=sa.bindparam("b_at"), message_id=sa.bindparam("b_message"))
)
_SENT_ADD = sent_messages.insert()


async def _touch(conn: AsyncConnection, user_id: str, chat_id: int | None, telegram_code: str | None) -> None:
    now = utcnow()
    row = (await conn.execute(_USER_SEEN, {"b_user": user_id})).first()
    if row is None:
        await conn.execute(
            users.insert().values(
                id=user_id,
                chat_id=chat_id,
                telegram_code=telegram_code,
                darija=False,
                lang_asked=False,
                created_at=now,
                last_seen_at=now,
            )
        )
        return
    values: dict[str, Any] = {}
    if chat_id is not None and chat_id != row.chat_id:
        values["chat_id"] = chat_id
    if telegram_code and telegram_code != row.telegram_code:
        values["telegram_code"] = telegram_code
    if now - row.last_seen_at > dt.timedelta(hours=1):  # retention needs days, not seconds
        values["last_seen_at"] = now
    if values:
        await conn.execute(users.update().where(users.c.id == user_id).values(**values))


class Store:
    """Async access to the gateway's tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def close(self) -> None:
        await self.engine.dispose()

    # -- users ----------------------------------------------------------------------------
    async def touch_user(self, user_id: str, chat_id: int | None, telegram_code: str | None) -> None:
        """Create the user on first contact; refresh chat id, language code, and last seen (hourly)."""
        try:
            async with self.engine.begin() as conn:
                await _touch(conn, user_id, chat_id, telegram_code)
        except IntegrityError:  # created concurrently
            pass

    async def get_user(self, user_id: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_USER_BY_ID, {"b_user": user_id})).first()
        return _user(row) if row else None

    async def set_language(
        self,
        user_id: str,
        *,
        chosen: str | None,
        current: str | None,
        darija: bool,
        asked: bool,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(lang_chosen=chosen, lang_current=current, darija=darija, lang_asked=asked)
            )

    # -- inbox ----------------------------------------------------------------------------
    async def inbox_add(
        self,
        user_id: str,
        kind: InputKind,
        *,
        text: str | None = None,
        data: dict[str, Any] | None = None,
        update_id: int | None = None,
        chat_id: int | None = None,
        telegram_code: str | None = None,
        touch: bool = False,
    ) -> int | None:
        """Store one input; None when this Telegram update was already stored.

        With `touch`, the user is created or refreshed in the same transaction (one commit per
        incoming message instead of two).
        """
        now = utcnow()
        for attempt in (1, 2):
            try:
                async with self.engine.begin() as conn:
                    if touch:
                        await _touch(conn, user_id, chat_id, telegram_code)
                    result = await conn.execute(
                        _INBOX_ADD,
                        {
                            "user_id": user_id,
                            "update_id": update_id,
                            "kind": kind,
                            "text": text,
                            "data": json.dumps(data or {}, ensure_ascii=False),
                            "status": "pending",
                            "attempts": 0,
                            "acked": False,
                            "received_at": now,
                            "next_attempt_at": now,
                        },
                    )
                    return int(result.inserted_primary_key[0])
            except IntegrityError:
                # A duplicate update, or the user created concurrently by another gateway:
                # the second attempt tells them apart (the user exists by then).
                if attempt == 2 or not touch:
                    return None
        return None

    async def inbox_pending(self, user_id: str, limit: int) -> tuple[list[InboxItem], User | None]:
        """The user's oldest unprocessed inputs, in order, with the user row, in one query."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_INBOX_PENDING, {"b_user": user_id, "b_limit": limit})).all()
        if not rows:
            return [], None
        first = rows[0]._mapping
        user = _user(SimpleNamespace(**{column.name: first[f"u_{column.name}"] for column in users.c}))
        return [_inbox(row) for row in rows], user

    async def inbox_next(self, user_id: str) -> InboxItem | None:
        """The user's oldest unprocessed input (inputs are handled strictly in order)."""
        items, _ = await self.inbox_pending(user_id, 1)
        return items[0] if items else None

    async def inbox_pending_count(self, user_id: str) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(inbox)
                        .where(inbox.c.user_id == user_id, inbox.c.status == "pending")
                    )
                ).scalar_one()
            )

    async def inbox_retry(self, item_id: int, delay: float, *, acked: bool) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                inbox.update()
                .where(inbox.c.id == item_id)
                .values(
                    attempts=inbox.c.attempts + 1,
                    acked=acked,
                    next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
                )
            )

    async def inbox_done(self, item: InboxItem, chat_id: int | None, messages: Sequence[Body]) -> list[int]:
        """Mark an input processed and queue its replies, in one transaction."""
        now = utcnow()
        ids: list[int] = []
        async with self.engine.begin() as conn:
            await conn.execute(_INBOX_DONE, {"b_id": item.id, "b_at": now})
            for message in messages:
                body = Body(**message)
                target = body.pop("chat_id", chat_id)  # hotline messages go to the staff group
                if target is None:
                    continue
                result = await conn.execute(
                    _OUTBOX_ADD,
                    {
                        "user_id": item.user_id,
                        "chat_id": target,
                        "inbox_id": item.id,
                        "body": json.dumps(body, ensure_ascii=False),
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "next_attempt_at": now,
                    },
                )
                ids.append(int(result.inserted_primary_key[0]))
        return ids

    async def users_with_pending_inbox(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(inbox.c.user_id).where(inbox.c.status == "pending").distinct())
            return [r[0] for r in rows]

    # -- outbox ---------------------------------------------------------------------------
    async def outbox_add(self, user_id: str, chat_id: int, bodies: Sequence[Body]) -> None:
        """Queue messages that do not answer an inbox item (e.g. an acknowledgement)."""
        now = utcnow()
        async with self.engine.begin() as conn:
            for body in bodies:
                await conn.execute(
                    outbox.insert().values(
                        user_id=user_id,
                        chat_id=chat_id,
                        body=json.dumps(body, ensure_ascii=False),
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )

    async def outbox_next(self, user_id: str) -> OutboxItem | None:
        items = await self.outbox_pending(user_id, 1)
        return items[0] if items else None

    async def outbox_pending(self, user_id: str, limit: int) -> list[OutboxItem]:
        """The user's unsent replies, oldest first."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_OUTBOX_PENDING, {"b_user": user_id, "b_limit": limit})).all()
        return [
            OutboxItem(
                id=row.id,
                user_id=row.user_id,
                chat_id=row.chat_id,
                body=json.loads(row.body),
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
            )
            for row in rows
        ]

    async def outbox_sent(
        self, item_id: int | None, message_id: int | None, *, user_id: str | None = None, hotline: bool = False
    ) -> None:
        """Mark a reply sent (`item_id` None: sent without the outbox); with `user_id`, also keep
        its message id (for forget and retention)."""
        now = utcnow()
        async with self.engine.begin() as conn:
            if item_id is not None:
                await conn.execute(_OUTBOX_SENT, {"b_id": item_id, "b_at": now, "b_message": message_id})
            if user_id is not None and message_id is not None:
                await conn.execute(
                    _SENT_ADD, {"user_id": user_id, "message_id": message_id, "hotline": hotline, "sent_at": now}
                )

    async def sent_ids(self, user_id: str, *, hotline: bool, since: dt.datetime | None = None) -> list[int]:
        """Ids of the messages sent to this person's chat (or to their hotline topic), oldest first."""
        query = sa.select(sent_messages.c.message_id).where(
            sent_messages.c.user_id == user_id, sent_messages.c.hotline == hotline
        )
        if since is not None:
            query = query.where(sent_messages.c.sent_at >= since)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(sent_messages.c.id))
            return [int(r[0]) for r in rows]

    async def outbox_retry(self, item_id: int, delay: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == item_id)
                .values(
                    attempts=outbox.c.attempts + 1,
                    next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
                )
            )

    async def outbox_failed(self, item_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == item_id).values(status="failed"))

    async def users_with_pending_outbox(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(outbox.c.user_id).where(outbox.c.status == "pending").distinct())
            return [r[0] for r in rows]

    # -- buttons --------------------------------------------------------------------------
    async def callback_add(self, user_id: str, data: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(9)
        async with self.engine.begin() as conn:
            await conn.execute(
                callbacks.insert().values(
                    token=token,
                    user_id=user_id,
                    data=json.dumps(data, ensure_ascii=False),
                    created_at=utcnow(),
                )
            )
        return token

    async def callback_get(self, user_id: str, token: str) -> dict[str, Any] | None:
        """The data of a button this user was given, or None (forged, expired, someone else's)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(callbacks.c.data).where(callbacks.c.token == token, callbacks.c.user_id == user_id)
                )
            ).first()
        return json.loads(row[0]) if row else None

    async def callback_latest(self, user_id: str, note: str = "") -> tuple[str, dict[str, Any]] | None:
        """The newest button given to this user (token, data): what a typed "oui" or "suite" answers.
        With `note`, the newest note of that kind instead ({"note": kind, …}: remembered, never a button)."""
        shape = f'{{"note": "{note}"' if note else '{"t": '  # data is json.dumps of a dict, first key first
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(callbacks.c.token, callbacks.c.data)
                    .where(callbacks.c.user_id == user_id, callbacks.c.data.startswith(shape, autoescape=True))
                    .order_by(callbacks.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        return (str(row[0]), json.loads(row[1])) if row else None

    async def callback_spend(self, user_id: str, token: str) -> None:
        """Consume a button: pressing it again finds {"t": "spent"} (nothing to do), typing finds nothing."""
        spent = callbacks.update().where(callbacks.c.token == token, callbacks.c.user_id == user_id)
        async with self.engine.begin() as conn:
            await conn.execute(spent.values(data=json.dumps({"t": "spent"})))

    # -- handoffs -------------------------------------------------------------------------
    async def handoff_open_for(self, user_id: str) -> Handoff | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(handoffs)
                    .where(handoffs.c.user_id == user_id, handoffs.c.status == "open")
                    .order_by(handoffs.c.id.desc())
                    .limit(1)
                )
            ).first()
        return _handoff(row) if row else None

    async def handoff_get(self, handoff_id: int) -> Handoff | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id))).first()
        return _handoff(row) if row else None

    async def handoff_create(
        self,
        user_id: str,
        *,
        reason: str,
        urgent: bool,
        language: str | None,
        context_topic: str | None,
        thread_id: int | None,
    ) -> Handoff:
        now = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                handoffs.insert().values(
                    user_id=user_id,
                    status="open",
                    reason=reason,
                    urgent=urgent,
                    language=language,
                    context_topic=context_topic,
                    thread_id=thread_id,
                    opened_at=now,
                    last_activity_at=now,
                )
            )
            handoff_id = int(result.inserted_primary_key[0])
        handoff = await self.handoff_get(handoff_id)
        assert handoff is not None
        return handoff

    async def handoff_update(self, handoff_id: int, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(**values))

    async def handoff_touch(self, handoff_id: int, *, staff_reply: bool = False) -> None:
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(last_activity_at=now))
            if staff_reply:
                await conn.execute(
                    handoffs.update()
                    .where(handoffs.c.id == handoff_id, handoffs.c.first_staff_reply_at.is_(None))
                    .values(first_staff_reply_at=now)
                )

    async def handoff_close(self, handoff_id: int, closed_by: str) -> bool:
        """Close an open handoff; False if it was already closed (two staff pressing at once)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                handoffs.update()
                .where(handoffs.c.id == handoff_id, handoffs.c.status == "open")
                .values(status="closed", closed_at=utcnow(), closed_by=closed_by)
            )
            return bool(result.rowcount)

    async def handoffs_idle(self, before: dt.datetime) -> list[Handoff]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(handoffs).where(handoffs.c.status == "open", handoffs.c.last_activity_at < before)
            )
            return [_handoff(r) for r in rows]

    async def topic_for(self, user_id: str) -> int | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(hotline_topics.c.thread_id).where(hotline_topics.c.user_id == user_id))
            ).first()
        return int(row[0]) if row else None

    async def topic_set(self, user_id: str, thread_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(hotline_topics.delete().where(hotline_topics.c.user_id == user_id))
            await conn.execute(
                hotline_topics.insert().values(user_id=user_id, thread_id=thread_id, created_at=utcnow())
            )

    async def topics_to_expire(self, moment: dt.datetime) -> list[tuple[str, int]]:
        """(user id, thread id) of the forum topics retention must delete: their person was last
        seen before `moment` or is gone (a deletion to retry), and has no open case."""
        stale = sa.select(users.c.id).where(users.c.last_seen_at < moment)
        known = sa.select(users.c.id)
        open_cases = sa.select(handoffs.c.user_id).where(handoffs.c.status == "open")
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(hotline_topics.c.user_id, hotline_topics.c.thread_id).where(
                    sa.or_(hotline_topics.c.user_id.in_(stale), hotline_topics.c.user_id.not_in(known)),
                    hotline_topics.c.user_id.not_in(open_cases),
                )
            )
            return [(str(r[0]), int(r[1])) for r in rows]

    async def topic_drop(self, user_id: str) -> int:
        """Forget a deleted topic: its row and the ids of the bot's messages in it."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sent_messages.delete().where(sent_messages.c.user_id == user_id, sent_messages.c.hotline.is_(True))
            )
            result = await conn.execute(hotline_topics.delete().where(hotline_topics.c.user_id == user_id))
            return int(result.rowcount or 0)

    async def topic_orphan(self, user_id: str) -> None:
        """Keep a topic Telegram would not delete yet, unlinked from the person: the retention
        job retries under a random key that leads back to no one."""
        orphan = "gone-" + secrets.token_hex(8)
        async with self.engine.begin() as conn:
            await conn.execute(
                hotline_topics.update().where(hotline_topics.c.user_id == user_id).values(user_id=orphan)
            )
            await conn.execute(
                sent_messages.update()
                .where(sent_messages.c.user_id == user_id, sent_messages.c.hotline.is_(True))
                .values(user_id=orphan)
            )

    async def user_for_thread(self, thread_id: int) -> str | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(hotline_topics.c.user_id).where(hotline_topics.c.thread_id == thread_id))
            ).first()
        return str(row[0]) if row else None

    # -- privacy --------------------------------------------------------------------------
    async def forget_user(self, user_id: str) -> dict[str, int]:
        """Delete every row about one person; returns the number of rows per table."""
        deleted: dict[str, int] = {}
        async with self.engine.begin() as conn:
            for table in (inbox, outbox, callbacks, handoffs, hotline_topics, sent_messages):
                result = await conn.execute(table.delete().where(table.c.user_id == user_id))
                deleted[table.name] = int(result.rowcount or 0)
            result = await conn.execute(users.delete().where(users.c.id == user_id))
            deleted[users.name] = int(result.rowcount or 0)
        return deleted

    async def rows_about(self, user_id: str) -> int:
        """How many rows still mention a person (0 after forget)."""
        total = 0
        async with self.engine.connect() as conn:
            for table in (inbox, outbox, callbacks, handoffs, hotline_topics, sent_messages):
                total += int(
                    (
                        await conn.execute(
                            sa.select(sa.func.count()).select_from(table).where(table.c.user_id == user_id)
                        )
                    ).scalar_one()
                )
            total += int(
                (
                    await conn.execute(sa.select(sa.func.count()).select_from(users).where(users.c.id == user_id))
                ).scalar_one()
            )
        return total

    async def purge_before(self, moment: dt.datetime, *, sent_before: dt.datetime | None = None) -> dict[str, int]:
        """Retention: delete what is older than `moment` (pending work is kept), and the ids of
        messages sent to people's own chats before `sent_before` (Telegram deletes nothing
        older). Forum topics are not touched: the caller deletes them in Telegram first
        (topics_to_expire, topic_drop)."""
        deleted: dict[str, int] = {}
        async with self.engine.begin() as conn:
            steps = [
                (inbox, sa.and_(inbox.c.received_at < moment, inbox.c.status != "pending")),
                (outbox, sa.and_(outbox.c.created_at < moment, outbox.c.status != "pending")),
                (callbacks, callbacks.c.created_at < moment),
                (handoffs, sa.and_(handoffs.c.status == "closed", handoffs.c.closed_at < moment)),
            ]
            if sent_before is not None:
                steps.append(
                    (sent_messages, sa.and_(sent_messages.c.hotline.is_(False), sent_messages.c.sent_at < sent_before))
                )
            for table, condition in steps:
                result = await conn.execute(table.delete().where(condition))
                deleted[table.name] = int(result.rowcount or 0)
            open_cases = sa.select(handoffs.c.user_id).where(handoffs.c.status == "open")
            result = await conn.execute(
                users.delete().where(users.c.last_seen_at < moment, users.c.id.not_in(open_cases))
            )
            deleted[users.name] = int(result.rowcount or 0)
        return deleted

    # -- leases (several gateways) --------------------------------------------------------
    async def lease(self, key: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease on `key`; False while another owner holds it."""
        now = utcnow()
        until = now + dt.timedelta(seconds=seconds)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                leases.update()
                .where(leases.c.key == key, sa.or_(leases.c.until < now, leases.c.owner == owner))
                .values(owner=owner, until=until)
            )
            if result.rowcount:
                return True
        try:
            async with self.engine.begin() as conn:
                await conn.execute(leases.insert().values(key=key, owner=owner, until=until))
            return True
        except IntegrityError:
            return False

    async def release(self, key: str, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(leases.delete().where(leases.c.key == key, leases.c.owner == owner))
