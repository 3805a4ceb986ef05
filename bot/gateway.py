"""Gateway composition root: builds the store, Rasa client, engine and runner, then runs them
behind Telegram (polling or webhook) or the terminal. Nothing else creates these objects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO

import httpx

from bot.content import library
from bot.db import create_engine, migrate
from bot.engine import Engine
from bot.rasa_client import RasaClient
from bot.runner import Runner, Transport
from bot.settings import Settings, ensure_secret
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass
class Core:
    """The transport-independent parts of one gateway process."""

    http: httpx.AsyncClient
    store: Store
    rasa: RasaClient
    engine: Engine
    runner: Runner

    async def close(self) -> None:
        await self.runner.stop()
        await self.http.aclose()
        await self.store.close()


def http_client() -> httpx.AsyncClient:
    """One shared HTTP client per process: pooled keep-alive connections to Rasa."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


async def build_core(settings: Settings, transport: Transport, *, sweep: bool = True) -> Core:
    http = http_client()
    store = Store(create_engine(settings.database_url))
    rasa = RasaClient(http, settings.rasa_url, token=settings.rasa_token, timeout=settings.rasa_timeout)
    engine = Engine(settings, store, rasa, library())
    runner = Runner(store, engine, transport, ack_after=settings.ack_after, sweep=sweep)
    return Core(http=http, store=store, rasa=rasa, engine=engine, runner=runner)


async def run_terminal(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Chat on the terminal until end of input."""
    from bot.terminal import TerminalTransport, chat

    await asyncio.to_thread(migrate, settings.database_url)
    transport = TerminalTransport(stdout)
    core = await build_core(settings, transport, sweep=False)
    try:
        await core.runner.start()
        await chat(core.runner, transport, stdin)
    finally:
        await core.close()


def run_telegram(settings: Settings) -> None:
    """Run the Telegram gateway until SIGINT/SIGTERM (polling, or webhook when configured)."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    from telegram import Update
    from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

    from bot.telegram_app import Handlers, TelegramTransport, add_handlers

    settings.validate()
    migrate(settings.database_url)
    secret = ensure_secret(settings)
    state: dict[str, Core] = {}

    async def post_init(application: Application) -> None:
        core = await build_core(settings, TelegramTransport(application.bot))
        state["core"] = core
        add_handlers(application, Handlers(core.runner, secret))
        await core.runner.start()
        log.info("gateway ready (%s)", "webhook" if settings.webhook_url else "polling")

    async def post_shutdown(application: Application) -> None:
        core = state.pop("core", None)
        if core is not None:
            await core.close()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token or "")
        .base_url(settings.telegram_api_url)
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(max_retries=0))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.telegram_file_url:
        builder = builder.base_file_url(settings.telegram_file_url)
    application = builder.build()
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
