"""Health: the gateway's HTTP health endpoint and `dalil status`, which asks every part.

GET /health on HEALTH_PORT (gateway) answers 200 when the gateway can reach its database and
Rasa, else 503, with pending inbox/outbox counts (no personal data). `dalil status` checks
Rasa (/status, with the token), the action server (/health), the gateway (/health) and the
database, and exits non-zero if any is down. In terminal mode the chat of `dalil run` serves
the same /health (mode "terminal"); with no chat running the gateway is OFF, not DOWN.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import sqlalchemy as sa
from aiohttp import web

from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient
from bot.storage.schema import inbox, outbox
from bot.storage.store import Store

Check = Callable[[], Awaitable[dict[str, Any]]]


async def gateway_health(store: Store, rasa: RasaClient, mode: str, started: float) -> dict[str, Any]:
    database = True
    pending_in = pending_out = -1
    try:
        async with store.engine.connect() as conn:
            pending_in = int(
                (
                    await conn.execute(sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status == "pending"))
                ).scalar_one()
            )
            pending_out = int(
                (
                    await conn.execute(
                        sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "pending")
                    )
                ).scalar_one()
            )
    except Exception:
        database = False
    rasa_ok = await rasa.ready()
    return {
        "status": "ok" if database and rasa_ok else "degraded",
        "database": database,
        "rasa": rasa_ok,
        "pending_inbox": pending_in,
        "pending_outbox": pending_out,
        "mode": mode,
        "uptime_s": round(time.monotonic() - started),
    }


class HealthServer:
    def __init__(self, check: Check, host: str, port: int) -> None:
        self.check, self.host, self.port = check, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def health(request: web.Request) -> web.Response:
            body = await self.check()
            return web.json_response(body, status=200 if body["status"] == "ok" else 503)

        app = web.Application()
        app.router.add_get("/health", health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def status(settings: Settings) -> list[tuple[str, bool | None, str]]:
    """(part, up, detail) for every part of the assistant; up is None for a part this mode has not."""
    results: list[tuple[str, bool | None, str]] = []
    async with httpx.AsyncClient(timeout=3.0) as http:
        rasa = RasaClient(http, settings.rasa_url, token=settings.rasa_token)
        try:
            info = await rasa.status()
            results.append(
                ("rasa", bool(info.get("model_file")), f"{settings.rasa_url} model {info.get('model_file', '?')}")
            )
        except Exception as exc:
            results.append(("rasa", False, f"{settings.rasa_url}: {type(exc).__name__}"))
        for name, url in (
            ("actions", settings.action_url.removesuffix("/webhook") + "/health"),
            ("gateway", f"http://127.0.0.1:{settings.health_port}/health"),
        ):
            try:
                response = await http.get(url)
                detail = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                )
                results.append((name, response.status_code == 200, f"{url} {detail}"))
            except (httpx.HTTPError, ValueError) as exc:
                if name == "gateway" and settings.terminal_mode:
                    # No Telegram gateway in terminal mode; a terminal chat answers here while it runs.
                    results.append(
                        (
                            name,
                            None,
                            "terminal mode (no TELEGRAM_BOT_TOKEN): no Telegram gateway, no terminal chat running",
                        )
                    )
                else:
                    results.append((name, False, f"{url}: {type(exc).__name__}"))
    from bot.storage.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("select 1"))
        results.append(("database", True, engine.url.render_as_string(hide_password=True)))
    except Exception as exc:
        results.append(("database", False, type(exc).__name__))
    finally:
        await engine.dispose()
    return results


def main(settings: Settings) -> int:
    results = asyncio.run(status(settings))
    for part, up, detail in results:
        print(f"{'OFF ' if up is None else 'UP  ' if up else 'DOWN'} {part:9} {detail}")
    return 0 if all(up is not False for _, up, _ in results) else 1
