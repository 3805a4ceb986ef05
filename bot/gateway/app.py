"""Gateway composition root: builds the store, Rasa client, engine and runner, then runs them
behind Telegram (polling or webhook) or the terminal. Nothing else creates these objects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from bot.core.bodies import Body
from bot.core.content import library
from bot.core.roles import Roles
from bot.core.settings import Settings, ensure_secret
from bot.events.query import vocabulary
from bot.gateway.admin import Admin
from bot.gateway.alerts import AlertsPoller
from bot.gateway.broadcast import Broadcasts
from bot.gateway.engine import Engine
from bot.gateway.handoff import HandoffService, HotlineOps
from bot.gateway.health import HealthServer, gateway_health
from bot.gateway.privacy import Privacy
from bot.gateway.rasa_client import RasaClient
from bot.gateway.runner import FloodGuard, Runner, Transport
from bot.storage.db import create_engine, is_sqlite, migrate
from bot.storage.store import Store, User
from bot.storage.tracker_db import TrackerDB

log = logging.getLogger(__name__)


@dataclass
class Core:
    """The transport-independent parts of one gateway process."""

    http: httpx.AsyncClient
    store: Store
    rasa: RasaClient
    engine: Engine
    runner: Runner
    tracker: TrackerDB
    alerts: AlertsPoller | None = None  # started by the Telegram gateway only

    async def close(self) -> None:
        if self.alerts is not None:
            await self.alerts.stop()
        await self.runner.stop()
        await self.http.aclose()
        await self.store.close()
        await self.tracker.close()


def http_client() -> httpx.AsyncClient:
    """One shared HTTP client per process: pooled keep-alive connections to Rasa."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


async def build_core(
    settings: Settings, transport: Transport, *, sweep: bool = True, hotline: HotlineOps | None = None
) -> Core:
    await asyncio.to_thread(vocabulary)  # cities and event words (0.7 s), read once off the event loop
    http = http_client()
    store = Store(create_engine(settings.database_url))
    rasa = RasaClient(http, settings.rasa_url, token=settings.rasa_token, timeout=settings.rasa_timeout)
    handoff = HandoffService(settings, store, rasa, library(), hotline)
    tracker = TrackerDB(settings.database_url, settings.tracker_url)
    cleaner = transport if callable(getattr(transport, "delete_messages", None)) else None  # Telegram, not the terminal
    privacy = Privacy(store, tracker, retention_days=settings.retention_days, hotline=hotline, chat=cleaner)  # type: ignore[arg-type]
    admin = Admin(store, tracker, library())
    admin.roles = Roles(settings.roles_file, settings.admin_user_ids, on_change=admin.role_file_changed)
    engine = Engine(settings, store, rasa, library(), handoff, privacy, admin)

    async def purge(user_id: str) -> None:
        # After "your data is deleted" went out: the rows it left; that message stays in the chat.
        await privacy.forget(user_id, clear_chat=False)

    flood = FloodGuard(settings.flood_burst, settings.flood_window, settings.flood_pace)
    runner = Runner(
        store,
        engine,
        transport,
        ack_after=settings.ack_after,
        typing_after=settings.typing_after,
        sweep=sweep,
        on_purge=purge,
        flood=flood,
        leases=not is_sqlite(settings.database_url),
    )
    runner.every(3600.0, privacy.apply_retention)

    async def notify(user: User, bodies: list[Body]) -> None:
        if user.chat_id is not None:
            await store.outbox_add(user.id, user.chat_id, bodies)
            runner.kick_outbox(user.id)

    admin.notify = notify
    if handoff.enabled:

        async def close_idle_handoffs() -> None:
            for idle in await handoff.idle_handoffs():
                await runner.submit(
                    idle.user_id, None, None, "system", data={"event": "handoff_idle", "handoff_id": idle.id}
                )

        runner.every(30.0, close_idle_handoffs)
    # Event alerts and admins' broadcasts (bot/gateway/alerts.py, broadcast.py); a 403 unsubscribes.
    broadcasts = Broadcasts(settings, store, library(), kick=runner.kick_outbox)
    admin.broadcasts = engine.alerts.broadcasts = broadcasts
    alerts = AlertsPoller(settings, store, library(), runner.kick_outbox, http=http, owner=runner.owner)
    alerts.broadcasts = broadcasts
    if hasattr(transport, "on_blocked"):
        transport.on_blocked = alerts.blocked
    return Core(http=http, store=store, rasa=rasa, engine=engine, runner=runner, tracker=tracker, alerts=alerts)


async def run_terminal(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Chat on the terminal until end of input."""
    from bot.gateway.terminal import TerminalTransport, chat

    await asyncio.to_thread(migrate, settings.database_url)
    transport = TerminalTransport(stdout, files_dir=settings.var_dir)
    core = await build_core(settings, transport, sweep=False)
    health = await _start_health(settings, core, "terminal")
    try:
        await core.runner.start()
        await chat(core.runner, transport, stdin)
    finally:
        if health is not None:
            await health.stop()
        await core.close()


def run_telegram(settings: Settings) -> None:
    """Run the Telegram gateway until SIGINT/SIGTERM (polling, or webhook when configured)."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    if settings.uvloop:
        import uvloop  # already installed with Rasa (sanic); see docs/benchmarks.md

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from telegram.ext import ApplicationBuilder

    from bot.gateway.ratelimit import telegram_rate_limiter
    from bot.gateway.telegram_app import (
        AnyApplication,
        Handlers,
        TelegramHotline,
        TelegramTransport,
        add_handlers,
        install_safe_update_parsing,
    )

    settings.validate()
    install_safe_update_parsing()
    migrate(settings.database_url)
    secret = ensure_secret(settings)
    state: dict[str, Any] = {}

    async def post_init(application: AnyApplication) -> None:
        hotline = TelegramHotline(application.bot, settings.hotline_chat_id) if settings.hotline_chat_id else None
        core = await build_core(settings, TelegramTransport(application.bot), hotline=hotline)
        state["core"] = core
        state["health"] = await _start_health(settings, core, "webhook" if settings.webhook_url else "polling")
        add_handlers(
            application,
            Handlers(
                core.runner,
                secret,
                hotline_chat_id=settings.hotline_chat_id,
                handoff=core.engine.handoff,
                admin_ids=settings.admin_user_ids,
                roles=core.engine.admin.roles if core.engine.admin else None,
            ),
        )
        await core.runner.start()
        if core.alerts is not None:
            core.alerts.start()  # every ALERTS_INTERVAL s: new events to their subscribers
        from bot.gateway.commands import publish_commands

        await publish_commands(application.bot, library(), settings)  # content/commands.yml; never raises
        log.info("gateway ready (%s)", "webhook" if settings.webhook_url else "polling")

    async def post_shutdown(application: AnyApplication) -> None:
        health = state.pop("health", None)
        if health is not None:
            await health.stop()
        core = state.pop("core", None)
        if core is not None:
            await core.close()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token or "")
        .base_url(settings.telegram_api_url)
        .concurrent_updates(True)
        .rate_limiter(telegram_rate_limiter(settings, secret))  # shared through Redis with REDIS_URL
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.telegram_file_url:
        builder = builder.base_file_url(settings.telegram_file_url)
    _serve(builder.build(), settings)


async def _start_health(settings: Settings, core: Core, mode: str) -> HealthServer | None:
    """The gateway's own GET /health on HEALTH_PORT (none without it), started. The terminal chat
    works without it when another chat or gateway holds the port; a Telegram gateway does not."""
    if not settings.health_port:
        return None
    started = time.monotonic()
    health = HealthServer(
        lambda: gateway_health(core.store, core.rasa, mode, started), "127.0.0.1", settings.health_port
    )
    try:
        await health.start()
    except OSError as exc:
        await health.stop()
        if mode != "terminal":
            raise
        log.info("no health endpoint for the terminal chat (port %s: %s)", settings.health_port, exc.strerror)
        return None
    return health


def _serve(application: Any, settings: Settings) -> None:
    """Receive updates until SIGINT/SIGTERM: by webhook when WEBHOOK_URL is set, else polling."""
    from telegram import Update

    if settings.webhook_url:
        path = settings.webhook_url.rstrip("/").rsplit("/", 1)[-1]
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=20, bootstrap_retries=-1)


@asynccontextmanager
async def terminal_core(settings: Settings, transport: Transport) -> AsyncIterator[Core]:
    """A started Core for tests and tools; closed on exit."""
    await asyncio.to_thread(migrate, settings.database_url)
    core = await build_core(settings, transport, sweep=False)
    await core.runner.start()
    try:
        yield core
    finally:
        await core.close()
