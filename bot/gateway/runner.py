"""Runner: moves items through the durable inbox and outbox, one ordered lane per user.

For each user, one task processes their inputs strictly in order and one task sends their
replies in order; different users never wait for each other. When Rasa is down or slow the user
is told once that their message arrived, and the input is retried with backoff until it is
answered. When Telegram refuses a send for a while, the reply waits in the outbox and is retried.
A sweep picks up anything left by a crash or due for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any, Protocol

from bot.core.bodies import USER_INPUT_KINDS, Body, InputKind
from bot.gateway.engine import Engine
from bot.gateway.rasa_client import RasaUnavailable
from bot.storage.store import InboxItem, OutboxItem, Store, User, utcnow

log = logging.getLogger(__name__)


class SendRetry(Exception):
    """A send failed for a reason that passes (flood control, 5xx, network): retry after `delay`."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


class SendFailed(Exception):
    """A send can never succeed (user blocked the bot, chat gone): give up on this message."""


class Transport(Protocol):
    async def send(self, chat_id: int, body: Body) -> int | None:
        """Deliver one body; return the platform's message id. Raise SendRetry / SendFailed."""


class FloodGuard:
    """Per-user pacing: politely slows one person who sends too much, never the others.

    More than `burst` inputs within `window` seconds and that user's lane processes one input
    every `pace` seconds until the burst is over; they are told once per burst. Nothing is
    dropped: every message is still answered, in order.
    """

    def __init__(self, burst: int = 8, window: float = 10.0, pace: float = 1.5) -> None:
        self.burst, self.window, self.pace = burst, window, pace
        self._arrivals: dict[str, deque[float]] = {}
        self._warned: set[str] = set()

    def _recent(self, user_id: str) -> deque[float]:
        arrivals = self._arrivals.setdefault(user_id, deque())
        cutoff = time.monotonic() - self.window
        while arrivals and arrivals[0] < cutoff:
            arrivals.popleft()
        return arrivals

    def arrived(self, user_id: str) -> None:
        self._recent(user_id).append(time.monotonic())

    def flooding(self, user_id: str) -> bool:
        flooding = len(self._recent(user_id)) > self.burst
        if not flooding:
            self._warned.discard(user_id)
            if not self._arrivals.get(user_id):
                self._arrivals.pop(user_id, None)
        return flooding

    def warn_once(self, user_id: str) -> bool:
        if user_id in self._warned:
            return False
        self._warned.add(user_id)
        return True


LEASE_SECONDS = 90.0  # longer than one Rasa call with its timeout
BATCH = 20  # inputs or replies read from the database at once for one person


def default_owner() -> str:
    """Who this gateway is, stable across restarts: DALIL_INSTANCE, else host and health port."""
    import os
    import socket

    return os.environ.get("DALIL_INSTANCE") or f"{socket.gethostname()}:{os.environ.get('HEALTH_PORT', '5056')}"


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    return min(cap, base * 2.0 ** max(0, attempt))


class _Lanes:
    """One worker task per key; `kick` makes sure the worker runs (again) soon.

    With several gateways on one database, a lane runs only where its lease is held
    (store.lease): another gateway that stored an input for the same person leaves it to the
    holder, whose loop reads it from the database; the sweep covers a lease that expired.
    """

    def __init__(self, work: Any, name: str, store: Any = None, owner: str = "") -> None:
        self._work = work
        self._name = name
        self._store = store
        self._owner = owner
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def kick(self, key: str) -> None:
        self._dirty.add(key)
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.create_task(self._run(key), name=f"{self._name}:{key}")

    def kick_later(self, key: str, delay: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, delay), self.kick, key)

    async def _run(self, key: str) -> None:
        lease = f"{self._name}:{key}"
        while key in self._dirty:
            if self._store is not None and not await self._store.lease(lease, self._owner, LEASE_SECONDS):
                self._dirty.discard(key)
                return  # another gateway is working on this person's lane
            try:
                while key in self._dirty:
                    self._dirty.discard(key)
                    try:
                        await self._work(key)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("%s worker failed; retrying soon", self._name)
                        self.kick_later(key, 2.0)
                        return
            finally:
                if self._store is not None:
                    with contextlib.suppress(Exception):
                        await self._store.release(lease, self._owner)
            # An input that arrived while the lease was being released loops us round again.

    async def renew(self, key: str) -> None:
        if self._store is not None:
            await self._store.lease(f"{self._name}:{key}", self._owner, LEASE_SECONDS)

    def busy(self) -> bool:
        return any(not t.done() for t in self._tasks.values())

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class _Turn:
    """One person's submit lock and how many submits hold or wait for it."""

    __slots__ = ("holders", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holders = 0


class Runner:
    """Owns the inbox and outbox workers of one gateway process."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        transport: Transport,
        *,
        ack_after: float = 4.0,
        typing_after: float = 0.5,
        sweep_every: float = 2.0,
        sweep: bool = True,
        on_purge: Any = None,
        flood: FloodGuard | None = None,
        owner: str = "",
        leases: bool = True,
    ) -> None:
        self.flood = flood or FloodGuard()
        self.on_purge = on_purge  # async (user_id) -> None, after a "purge_user" body is sent
        self.store = store
        self.engine = engine
        self.transport = transport
        self.ack_after = ack_after
        self.typing_after = typing_after
        self.sweep_every = sweep_every
        self._sweep_enabled = sweep
        self.owner = owner or default_owner()
        # Leases matter only when several gateways share a server database; with SQLite there
        # is one gateway (it is documented), and each lease costs two transactions per message.
        lease_store = store if leases else None
        self._leases = leases
        self._inbox = _Lanes(self._process_inbox, "inbox", lease_store, self.owner)
        self._outbox = _Lanes(self._send_outbox, "outbox", lease_store, self.owner)
        self._sweeper: asyncio.Task[None] | None = None
        self._periodic: list[list[Any]] = []  # [every_seconds, next_due, coroutine function]
        self._submitting: dict[str, _Turn] = {}

    def every(self, seconds: float, job: Any) -> None:
        """Run `await job()` about every `seconds` from the sweep loop (no APScheduler needed)."""
        self._periodic.append([seconds, 0.0, job])

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._sweep_enabled:
            await self.sweep()
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="sweeper")

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._inbox.stop()
        await self._outbox.stop()

    async def sweep(self) -> None:
        for user_id in await self.store.users_with_pending_inbox():
            self._inbox.kick(user_id)
        for user_id in await self.store.users_with_pending_outbox():
            self._outbox.kick(user_id)

    async def _sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")
            for entry in self._periodic:
                every, due, job = entry
                if loop.time() >= due:
                    entry[1] = loop.time() + every
                    try:
                        await job()
                    except Exception:
                        log.exception("periodic job failed")

    # -- input ----------------------------------------------------------------------------
    async def submit(
        self,
        user_id: str,
        chat_id: int | None,
        telegram_code: str | None,
        kind: InputKind,
        *,
        text: str | None = None,
        data: dict[str, Any] | None = None,
        update_id: int | None = None,
    ) -> bool:
        """Store one input and wake the user's worker. False if it was a duplicate update."""
        turn = self._submitting.get(user_id)
        if turn is None:
            turn = self._submitting[user_id] = _Turn()
        turn.holders += 1  # counted by us: asyncio.Lock has no public count of its waiters
        try:
            async with turn.lock:  # one person's inputs are stored in the order they arrived
                item_id = await self.store.inbox_add(
                    user_id,
                    kind,
                    text=text,
                    data=data,
                    update_id=update_id,
                    chat_id=chat_id,
                    telegram_code=telegram_code,
                    touch=True,
                )
        finally:
            turn.holders -= 1
            if turn.holders == 0:
                self._submitting.pop(user_id, None)  # no one else is waiting: free the memory
        if item_id is None:
            return False
        if kind in USER_INPUT_KINDS:
            self.flood.arrived(user_id)
        self._inbox.kick(user_id)
        return True

    def kick_outbox(self, user_id: str) -> None:
        self._outbox.kick(user_id)

    async def idle(self, user_id: str | None = None) -> bool:
        """True when nothing is pending (for one user, or for everyone)."""
        if user_id is not None:
            pending_in = await self.store.inbox_next(user_id)
            pending_out = await self.store.outbox_next(user_id)
            return pending_in is None and pending_out is None
        return not (await self.store.users_with_pending_inbox() or await self.store.users_with_pending_outbox())

    async def drain(self, user_id: str | None = None, timeout: float = 120.0) -> bool:
        """Wait until everything pending is processed and sent (terminal EOF, tests)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await self.idle(user_id) and not self._inbox.busy() and not self._outbox.busy():
                return True
            await asyncio.sleep(0.05)
        return False

    # -- workers --------------------------------------------------------------------------
    def _more(self, fetched: int) -> bool:
        """After a batch: read the lane again? A kick during the batch already loops the lane;
        with several gateways, another one may have stored an input for this person, so look."""
        return fetched == BATCH or (self._leases and fetched > 0)

    async def _process_inbox(self, user_id: str) -> None:
        while True:
            items, user = await self.store.inbox_pending(user_id, BATCH)
            for n, item in enumerate(items):
                if not await self._process_one(item, user if n == 0 else await self.store.get_user(user_id)):
                    return
            if not self._more(len(items)):
                return

    async def _process_one(self, item: InboxItem, user: User | None) -> bool:
        """Answer one input; False when the lane must stop here (retry later, user forgotten)."""
        user_id = item.user_id
        wait = (item.next_attempt_at - utcnow()).total_seconds()
        if wait > 0:
            self._inbox.kick_later(user_id, wait)
            return False
        await self._inbox.renew(user_id)
        if user is None:  # forgotten meanwhile
            return False
        if item.kind in USER_INPUT_KINDS and self.flood.flooding(user_id):
            if self.flood.warn_once(user_id) and user.chat_id is not None:
                lang = self.engine.reply_language(user)
                await self.store.outbox_add(
                    user.id, user.chat_id, [{"text": self.engine.library.text("slow_down", lang), "lang": lang}]
                )
                self._outbox.kick(user_id)
            await asyncio.sleep(self.flood.pace)
        acked = item.acked
        task = asyncio.create_task(self.engine.process(item, user))
        try:
            first = min(self.typing_after, self.ack_after)
            done, _ = await asyncio.wait({task}, timeout=first)
            if not done:
                await self._typing(user, item)
                done, _ = await asyncio.wait({task}, timeout=self.ack_after - first)
            if not done and not acked:
                await self._ack(user)
                acked = True
            bodies = await task
        except RasaUnavailable as exc:
            delay = backoff(item.attempts, base=2.0, cap=30.0)
            log.warning("Rasa unavailable (%s); input %s retried in %.0f s", exc, item.id, delay)
            if not acked:
                await self._ack(user)
            await self.store.inbox_retry(item.id, delay, acked=True)
            self._inbox.kick_later(user_id, delay)
            return False
        except Exception:
            log.exception("processing input %s failed", item.id)
            bodies = [{"text": self.engine.library.text("answer_failed", self.engine.reply_language(user))}]
        await self.store.inbox_done(item, user.chat_id, bodies)
        self._outbox.kick(user_id)
        return True

    async def _typing(self, user: User, item: InboxItem) -> None:
        """ "typing…" while a person waits for a slow answer (transports that can show it)."""
        typing = getattr(self.transport, "typing", None)
        if typing is None or user.chat_id is None or item.kind not in USER_INPUT_KINDS:
            return
        try:
            await typing(user.chat_id)
        except Exception as exc:  # a courtesy, never a reason not to answer
            log.debug("typing indicator failed: %s", type(exc).__name__)

    async def _ack(self, user: User) -> None:
        if user.chat_id is None:
            return
        lang = self.engine.reply_language(user)
        await self.store.outbox_add(
            user.id, user.chat_id, [{"text": self.engine.library.text("received_will_answer", lang), "lang": lang}]
        )
        self._outbox.kick(user.id)

    async def _send_outbox(self, user_id: str) -> None:
        while True:
            items = await self.store.outbox_pending(user_id, BATCH)
            for item in items:
                if not await self._send_one(item):
                    return
            if not self._more(len(items)):
                return

    async def _send_one(self, item: OutboxItem) -> bool:
        """Send one reply; False when the lane must stop here (retry later, user purged)."""
        user_id = item.user_id
        wait = (item.next_attempt_at - utcnow()).total_seconds()
        if wait > 0:
            self._outbox.kick_later(user_id, wait)
            return False
        await self._outbox.renew(user_id)
        try:
            message_id = await self.transport.send(item.chat_id, item.body)
        except SendRetry as exc:
            delay = max(exc.delay, backoff(item.attempts, base=0.5, cap=60.0) if exc.delay <= 0 else exc.delay)
            log.warning("send %s postponed %.1f s: %s", item.id, delay, exc)
            await self.store.outbox_retry(item.id, delay)
            self._outbox.kick_later(user_id, delay)
            return False
        except SendFailed as exc:
            log.warning("send %s dropped: %s", item.id, exc)
            await self.store.outbox_failed(item.id)
            return True
        purge = bool(item.body.get("purge_user"))
        # The message id is kept (no text) so "forget me" and retention can delete the message;
        # not the last one of a "forget me", which stays to say what was deleted.
        await self.store.outbox_sent(
            item.id, message_id, user_id=None if purge else user_id, hotline="thread_id" in item.body
        )
        if purge and self.on_purge is not None:
            await self.on_purge(user_id)
            return False
        return True
