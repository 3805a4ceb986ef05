"""Admin commands in Telegram (/stats, /unanswered, /publish, /rollback), for admins only.

Viewers may read the figures, editors may also change things (COMMAND_ROLES; the roles file and
ADMIN_USER_IDS, bot/core/roles.py); a refused command says which role it needs and is audited.

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
from bot.core.roles import Roles, allows
from bot.gateway.broadcast import Broadcasts
from bot.gateway.stats import stats_bodies, unanswered
from bot.storage.audit import Audit
from bot.storage.figures import Figures
from bot.storage.store import Store, User
from bot.storage.tracker_db import TrackerDB

log = logging.getLogger(__name__)

ADMIN_COMMANDS = ("stats", "unanswered", "publish", "rollback", "broadcast")
# The least role each admin command needs (bot/core/roles.py: viewer < editor); unlisted: editor.
COMMAND_ROLES: dict[str, str] = {"stats": "viewer", "unanswered": "viewer", "publish": "editor", "rollback": "editor"}
Notify = Callable[[User, list[Body]], Awaitable[None]]


class Admin:
    def __init__(self, store: Store, tracker: TrackerDB, library: Library, notify: Notify | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.library = library
        self.notify = notify
        self._publishing: asyncio.Task[None] | None = None
        self.roles: Roles | None = None  # set by the app (ROLES_FILE); None: ADMIN_USER_IDS only
        self.broadcasts: Broadcasts | None = None  # set by the app: /broadcast (bot/gateway/broadcast.py)
        self.audit = Audit(store.engine)
        self._recording: set[asyncio.Task[None]] = set()

    def _t(self, key: str, lang: str, **values: Any) -> str:
        return self.library.text(key, lang, **values)

    async def handle(
        self, user: User, command: str, lang: str, *, role: str = "editor", actor: str = "", args: str = ""
    ) -> list[Body]:
        """`role`: the sender's, checked by the Telegram handler; `actor`: "tg:<id>" for the audit log."""
        actor = actor or f"tg:{user.chat_id}"  # a private chat's id is its person's id
        needed = COMMAND_ROLES.get(command, "editor")
        if not allows(role, needed):
            await self.record(actor, command, f"refused: needs {needed}, has {role}", "refused")
            name = {r: self._t(f"role_name_{r}", lang) for r in ("viewer", "editor")}
            text = self._t("admin_role_needed", lang, command=command, needed=name[needed], role=name.get(role, role))
            return [{"text": text, "lang": lang}]
        if command == "broadcast" and self.broadcasts is not None:  # `args`: the lines after /broadcast
            return await self.broadcasts.command(user, args, lang, actor)
        if command == "stats":
            return await self.stats_bodies(lang)
        if command == "unanswered":
            return [{"text": await self.unanswered_text(lang), "lang": lang}]
        if command in ("publish", "rollback"):
            if self._publishing is not None and not self._publishing.done():
                return [{"text": self._t("admin_busy", lang), "lang": lang}]
            run = self._run_cli(user, command, lang, actor)
            self._publishing = asyncio.create_task(run, name=f"admin-{command}")
            return [{"text": self._t(f"admin_{command}_started", lang), "lang": lang}]
        return []

    async def stats_bodies(self, lang: str) -> list[Body]:
        """The chart and the figures, from the anonymous daily table (bot/gateway/stats.py)."""
        return await stats_bodies(Figures(self.store.engine), self.library, lang)

    async def unanswered_text(self, lang: str, days: int = 7) -> str:
        items = await unanswered(self.tracker, days=days)
        if not items:
            return self._t("admin_unanswered_none", lang, days=days)
        lines = [f"{count}× {text}" for text, count in items]
        return self._t("admin_unanswered", lang, days=days) + "\n\n" + "\n".join(lines)

    async def record(self, actor: str, action: str, detail: str, result: str) -> None:
        """A row of the audit log; a failure to write it is logged, never raised to the admin."""
        try:
            await self.audit.record(actor, action, detail, result)
        except Exception as exc:
            log.warning("audit row not written (%s): %s", action, type(exc).__name__)

    def role_file_changed(self, detail: str, result: str) -> None:
        """Roles' on_change: the gateway noticed the roles file changed (or refused it)."""
        task = asyncio.get_running_loop().create_task(self.record("file", "role_change", detail, result))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def _run_cli(self, user: User, command: str, lang: str, actor: str = "") -> None:
        dalil = Path(sys.executable).with_name("dalil")
        tail = [command, "--json", *(["--actor", actor] if actor else [])]  # the CLI writes the audit row
        argv = [str(dalil), "faq", *tail] if dalil.exists() else [sys.executable, "-m", "bot.ops.cli", "faq", *tail]
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
            await self.record(actor or f"tg:{user.chat_id}", command, f"the command did not run: {exc}", "failed")
        if self.notify is not None:
            await self.notify(user, [{"text": text[:3900], "lang": lang}])
