"""Privacy: "forget me" and automatic retention, across the gateway's tables, Rasa's tracker and
what Telegram shows.

Users are people at risk: a confirmed /forget deletes the Rasa conversation (tracker events),
every gateway row about them (language, inbox, outbox, buttons, handoffs, topic mapping, sent
message ids), their forum topic in the hotline group, and the bot's messages in their own chat
that Telegram still lets a bot delete (sent less than 48 hours ago); the result says what could
not be deleted, for the last message ("your data is deleted"), which removes its own outbox row
once sent. Retention deletes whatever is older than RETENTION_DAYS, the forum topics of the
people it expires included.

A forum topic is deleted with deleteForumTopic; when Telegram refuses (the bot lacks the right
to delete messages), it is closed and the bot's own messages in it (cards, the person's copied
messages) are deleted. When Telegram cannot be reached, retention tries again an hour later;
/forget leaves such a topic to retention under a random key that leads back to no one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Protocol

from bot.gateway.handoff import HotlineOps, HotlineRefused, TopicGone
from bot.storage.alerts import AlertStore
from bot.storage.store import Store, utcnow
from bot.storage.tracker_db import TrackerDB

log = logging.getLogger(__name__)

# Telegram lets a bot delete its messages in a private chat for 48 hours; an hour of margin
# for clocks and queues, so a message near the limit is counted as one that could not go.
DELETE_WINDOW = dt.timedelta(hours=47)
CHUNK = 100  # deleteMessages takes at most 100 ids


class ChatCleaner(Protocol):
    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> None:
        """Delete the bot's messages in a chat (at most 100; unknown ones are skipped)."""


def forget_note(result: dict[str, int]) -> str | None:
    """The messages key that tells the person what happened in their own chat, if anything."""
    if result.get("chat_messages_not_deleted"):
        return "forget_chat_not_deleted"
    if "chat_messages_deleted" in result:
        return "forget_chat_deleted"
    return None


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


class Privacy:
    def __init__(
        self,
        store: Store,
        tracker: TrackerDB,
        *,
        retention_days: int,
        hotline: HotlineOps | None = None,
        chat: ChatCleaner | None = None,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.retention_days = retention_days
        self.hotline = hotline
        self.chat = chat

    async def forget(self, user_id: str, *, clear_chat: bool = True) -> dict[str, int]:
        """Delete everything about one person (call again, with clear_chat=False, after the
        last message is sent)."""
        deleted: dict[str, int] = {}
        if clear_chat:
            deleted.update(await self._clear_chat(user_id))
        thread_id = await self.store.topic_for(user_id)
        if thread_id is not None and not await self._remove_topic(user_id, thread_id):
            await self.store.topic_orphan(user_id)
        deleted["events"] = await self.tracker.delete_sender(user_id)
        deleted["dalil_subscriptions"] = await AlertStore(self.store.engine).forget(user_id)  # event alerts
        deleted.update(await self.store.forget_user(user_id))
        log.info("forgot a user: %s", ", ".join(f"{k}={v}" for k, v in sorted(deleted.items())))
        return deleted

    async def remaining(self, user_id: str) -> int:
        alerts = await AlertStore(self.store.engine).count(user_id)
        return await self.store.rows_about(user_id) + alerts + await self.tracker.count_sender(user_id)

    async def apply_retention(self, now: dt.datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        cutoff = now - dt.timedelta(days=self.retention_days)
        topics = 0
        for user_id, thread_id in await self.store.topics_to_expire(cutoff):
            if await self._remove_topic(user_id, thread_id):
                topics += await self.store.topic_drop(user_id)
        deleted = await self.store.purge_before(cutoff, sent_before=now - DELETE_WINDOW)
        deleted["dalil_hotline_topics"] = topics
        deleted["dalil_subscriptions"] = await AlertStore(self.store.engine).purge_orphans()  # of people deleted
        deleted["events"] = await self.tracker.delete_before(cutoff)
        if any(v for k, v in deleted.items() if k != "dalil_sent"):
            log.info(
                "retention (%s days): %s",
                self.retention_days,
                ", ".join(f"{k}={v}" for k, v in sorted(deleted.items())),
            )
        return deleted

    # -- Telegram -------------------------------------------------------------------------
    async def _clear_chat(self, user_id: str) -> dict[str, int]:
        """Delete the bot's recent messages in the person's own chat."""
        if self.chat is None:
            return {}
        user = await self.store.get_user(user_id)
        if user is None or not user.chat_id or user.chat_id < 0:
            return {}
        ids = await self.store.sent_ids(user_id, hotline=False, since=utcnow() - DELETE_WINDOW)
        failed = 0
        for chunk in _chunks(ids):
            try:
                await self.chat.delete_messages(user.chat_id, chunk)
            except Exception as exc:  # the rest of the forgetting goes on; the person is told
                log.warning(
                    "could not delete %d of the bot's messages in a person's chat: %s", len(chunk), type(exc).__name__
                )
                failed += len(chunk)
        return {"chat_messages_deleted": len(ids) - failed, "chat_messages_not_deleted": failed}

    async def _remove_topic(self, user_id: str, thread_id: int) -> bool:
        """Delete a person's forum topic, else close it and delete the bot's messages in it.
        False when Telegram could not be reached for part of it: try again later."""
        if self.hotline is None:
            log.warning("forum topic %s: no hotline group configured, it cannot be deleted from here", thread_id)
            return True
        retry = False
        try:
            await self.hotline.delete_topic(thread_id)
            return True
        except TopicGone:
            return True
        except HotlineRefused as exc:
            log.warning(
                "forum topic %s could not be deleted (%s): closing it and deleting the bot's messages", thread_id, exc
            )
        except Exception as exc:
            log.warning(
                "forum topic %s could not be deleted now (%s): closing it and deleting the bot's messages",
                thread_id,
                type(exc).__name__,
            )
            retry = True
        closed = False
        try:
            await self.hotline.close_topic(thread_id)
            closed = True
        except TopicGone:
            return True
        except HotlineRefused as exc:
            log.warning("forum topic %s could not be closed: %s", thread_id, exc)
        except Exception as exc:
            log.warning("forum topic %s could not be closed now: %s", thread_id, type(exc).__name__)
            retry = True
        ids = await self.store.sent_ids(user_id, hotline=True)
        emptied = True
        for chunk in _chunks(ids):
            try:
                await self.hotline.delete_messages(chunk)
            except HotlineRefused as exc:
                log.warning(
                    "forum topic %s: %d of the bot's messages could not be deleted: %s", thread_id, len(chunk), exc
                )
                emptied = False
            except Exception as exc:
                log.warning(
                    "forum topic %s: %d of the bot's messages could not be deleted now: %s",
                    thread_id,
                    len(chunk),
                    type(exc).__name__,
                )
                emptied = False
                retry = True
        if not retry:
            done = "closed and emptied of the bot's messages" if closed and emptied else "left as it is"
            log.warning(
                "forum topic %s %s; what staff posted in it stays until someone deletes the topic in the group "
                "(giving the bot the right to delete messages lets it do so)",
                thread_id,
                done,
            )
        return not retry
