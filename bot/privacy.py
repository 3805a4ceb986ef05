"""Privacy: "forget me" and automatic retention, across the gateway's tables and Rasa's tracker.

Users are people at risk: a confirmed /forget deletes the Rasa conversation (tracker events),
every gateway row about them (language, inbox, outbox, buttons, handoffs, topic mapping) and
their forum topic in the hotline group; the last message, "your data is deleted", removes its
own outbox row once sent. Retention deletes whatever is older than RETENTION_DAYS.
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.handoff import HotlineOps
from bot.store import Store, utcnow
from bot.tracker_db import TrackerDB

log = logging.getLogger(__name__)


class Privacy:
    def __init__(self, store: Store, tracker: TrackerDB, *, retention_days: int, hotline: HotlineOps | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.retention_days = retention_days
        self.hotline = hotline

    async def forget(self, user_id: str) -> dict[str, int]:
        """Delete everything about one person (call again after the last message is sent)."""
        thread_id = await self.store.topic_for(user_id)
        if thread_id is not None and self.hotline is not None:
            try:
                await self.hotline.delete_topic(thread_id)
            except Exception as exc:  # the database rows go anyway
                log.warning("could not delete the forum topic: %s", exc)
        deleted = {"events": await self.tracker.delete_sender(user_id)}
        deleted.update(await self.store.forget_user(user_id))
        log.info("forgot a user: %s", ", ".join(f"{k}={v}" for k, v in sorted(deleted.items())))
        return deleted

    async def remaining(self, user_id: str) -> int:
        return await self.store.rows_about(user_id) + await self.tracker.count_sender(user_id)

    async def apply_retention(self, now: dt.datetime | None = None) -> dict[str, int]:
        cutoff = (now or utcnow()) - dt.timedelta(days=self.retention_days)
        deleted = await self.store.purge_before(cutoff)
        deleted["events"] = await self.tracker.delete_before(cutoff)
        if any(deleted.values()):
            log.info("retention (%s days): %s", self.retention_days, ", ".join(f"{k}={v}" for k, v in sorted(deleted.items())))
        return deleted
