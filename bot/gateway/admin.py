"""Admin commands in Telegram (/stats, /unanswered, /publish, /rollback), for ADMIN_USER_IDS only.

The Telegram handler marks an input as coming from an admin after checking the sender's id on
every update; everyone else who types these commands gets the normal bot. Publishing runs
`dalil faq publish` as a separate process (it trains and loads models: minutes, gigabytes) and
the result comes back to the admin as a message when it is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.core.bodies import Body
from bot.core.content import Library
from bot.gateway.stats import collect, unanswered
from bot.storage.figures import Figures
from bot.storage.store import Store, User
from bot.storage.tracker_db import TrackerDB

log = logging.getLogger(__name__)

ADMIN_COMMANDS = ("stats", "unanswered", "publish", "rollback")
Notify = Callable[[User, list[Body]], Awaitable[None]]


class Admin:
    def __init__(self, store: Store, tracker: TrackerDB, library: Library, notify: Notify | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.library = library
        self.notify = notify
        self._publishing: asyncio.Task[None] | None = None

    def _t(self, key: str, lang: str, **values: Any) -> str:
        return self.library.text(key, lang, **values)

    async def handle(self, user: User, command: str, lang: str) -> list[Body]:
        if command == "stats":
            return [{"text": await self.stats_text(lang), "lang": lang}]
        if command == "unanswered":
            return [{"text": await self.unanswered_text(lang), "lang": lang}]
        if command in ("publish", "rollback"):
            if self._publishing is not None and not self._publishing.done():
                return [{"text": self._t("admin_busy", lang), "lang": lang}]
            self._publishing = asyncio.create_task(self._run_cli(user, command, lang), name=f"admin-{command}")
            return [{"text": self._t(f"admin_{command}_started", lang), "lang": lang}]
        return []

    async def stats_text(self, lang: str, days: int = 7) -> str:
        stats = await collect(self.store, self.tracker, days=days)
        total = max(1, stats.messages)
        languages = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in stats.languages.most_common())
        topics = ", ".join(f"{k} ({v})" for k, v in stats.topics.most_common(8))
        per_day = ", ".join(f"{k[5:]}: {v}" for k, v in sorted(stats.handoffs_per_day.items()))
        handoff_topics = ", ".join(f"{k} ({v})" for k, v in stats.handoff_topics.most_common(5))
        median = stats.median_first_reply
        campaigns = await Figures(self.store.engine).totals("campaign", days=days)
        text = self._t(
            "admin_stats",
            lang,
            days=days,
            messages=stats.messages,
            users=stats.users,
            languages=languages or "—",
            topics=topics or "—",
            fallback=f"{100 * stats.fallback_rate:.0f}",
            handoffs=stats.handoffs,
            urgent=stats.urgent_handoffs,
            median="—" if median is None else f"{median:.0f}",
            per_day=per_day or "—",
            handoff_topics=handoff_topics or "—",
        )
        tags = ", ".join(f"{tag} ({n})" for tag, n in campaigns.most_common(10))
        return text + "\n" + self._t("admin_stats_campaigns", lang, campaigns=tags or "—")

    async def unanswered_text(self, lang: str, days: int = 7) -> str:
        items = await unanswered(self.tracker, days=days)
        if not items:
            return self._t("admin_unanswered_none", lang, days=days)
        lines = [f"{count}× {text}" for text, count in items]
        return self._t("admin_unanswered", lang, days=days) + "\n\n" + "\n".join(lines)

    async def _run_cli(self, user: User, command: str, lang: str) -> None:
        dalil = Path(sys.executable).with_name("dalil")
        argv = (
            [str(dalil), "faq", command, "--json"]
            if dalil.exists()
            else [sys.executable, "-m", "bot.ops.cli", "faq", command, "--json"]
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
            out, _ = await proc.communicate()
            result = json.loads(out.decode().strip().splitlines()[-1])
            text = (
                self._t("admin_result_ok" if result.get("ok") else "admin_result_failed", lang)
                + "\n\n"
                + "\n".join(result.get("lines") or [])
            )
        except (OSError, ValueError, IndexError) as exc:
            log.error("admin %s failed: %s", command, exc)
            text = self._t("admin_result_failed", lang)
        if self.notify is not None:
            await self.notify(user, [{"text": text[:3900], "lang": lang}])
