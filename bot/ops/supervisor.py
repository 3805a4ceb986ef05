"""Supervisor: starts Rasa, the action server and the gateway, keeps them alive, stops them all.

Each part is a child process with its own log file under var/log/. The supervisor waits until a
part answers its health check before starting what depends on it, restarts a part that dies
(with backoff, logging the exit code and the last log lines), and on Ctrl-C/SIGTERM stops every
part (SIGTERM, then SIGKILL after a grace period). In terminal mode the chat runs inside the
supervisor's own process so it can read stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.settings import Settings
from bot.ops.stack import http_ok, kill_group, tail
from bot.ops.training import rasa_env, rasa_executable
from bot.storage.db import rasa_tracker_store

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[bool]]
CHANNEL = "nlu.channel.DalilRestInput"


@dataclass
class Part:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: ReadyCheck
    log_path: Path
    start_timeout: float = 240.0
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    _log_file: object | None = field(default=None, repr=False)


def write_endpoints(settings: Settings) -> Path:
    """var/endpoints.yml: endpoints.yml with the tracker/lock store and ports from the settings."""
    base = yaml.safe_load((settings.root / "endpoints.yml").read_text(encoding="utf-8")) or {}
    action = {"url": settings.action_url}
    if settings.action_token:
        action["token"] = settings.action_token
    base["action_endpoint"] = action
    base["tracker_store"] = rasa_tracker_store(settings.tracker_url or settings.database_url)
    if settings.redis_url:
        from urllib.parse import urlparse

        url = urlparse(settings.redis_url)
        lock = {
            "type": "redis",
            "url": url.hostname or "localhost",
            "port": url.port or 6379,
            "db": int((url.path or "/0").strip("/") or 0),
        }
        if url.password:
            lock["password"] = url.password
        base["lock_store"] = lock
    path = settings.var_dir / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
    return path


def write_credentials(settings: Settings) -> Path:
    """var/credentials.yml: credentials.yml with the REST channel's token (RASA_TOKEN)."""
    base = yaml.safe_load((settings.root / "credentials.yml").read_text(encoding="utf-8")) or {}
    channel = base.get(CHANNEL) or {}
    channel["token"] = settings.rasa_token
    base[CHANNEL] = channel
    path = settings.var_dir / "credentials.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def rasa_part(settings: Settings, model: Path) -> Part:
    endpoints = write_endpoints(settings)
    argv = [
        rasa_executable(),
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(write_credentials(settings)),
        "--port",
        str(settings.rasa_port),
        "--interface",
        settings.rasa_host,
    ]
    if settings.rasa_token:
        argv += ["--auth-token", settings.rasa_token]
    params = {"token": settings.rasa_token} if settings.rasa_token else None
    return Part(
        name="rasa",
        argv=argv,
        env=rasa_env(),
        ready=lambda: http_ok(f"{settings.rasa_url}/status", params=params, expect_model=True),
        log_path=settings.var_dir / "log" / "rasa.log",
    )


def actions_part(settings: Settings) -> Part:
    env = rasa_env()
    env.update(ACTION_HOST="127.0.0.1", ACTION_PORT=str(settings.action_port))
    return Part(
        name="actions",
        argv=[sys.executable, "-m", "actions.server"],
        env=env,
        ready=lambda: http_ok(f"http://127.0.0.1:{settings.action_port}/health"),
        log_path=settings.var_dir / "log" / "actions.log",
        start_timeout=60.0,
    )


def gateway_part(settings: Settings) -> Part:
    dalil = str(Path(sys.executable).with_name("dalil"))
    argv = [dalil, "gateway"] if Path(dalil).exists() else [sys.executable, "-m", "bot.ops.cli", "gateway"]

    async def ready() -> bool:
        return True

    return Part(
        name="gateway",
        argv=argv,
        env=dict(os.environ),
        ready=ready,
        log_path=settings.var_dir / "log" / "gateway.log",
        start_timeout=30.0,
    )


class Supervisor:
    """Runs parts in order, restarts the ones that die, stops all on request."""

    def __init__(self, parts: list[Part], *, echo: Callable[[str], None] | None = None) -> None:
        self.parts = parts
        self.echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
        self._stopping = asyncio.Event()
        self._watchers: list[asyncio.Task[None]] = []

    async def _spawn(self, part: Part) -> None:
        part.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = part.log_path.open("ab")
        part._log_file = log_file
        part.started_at = time.monotonic()
        part.process = await asyncio.create_subprocess_exec(
            *part.argv,
            env=part.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )

    async def _wait_ready(self, part: Part) -> bool:
        deadline = time.monotonic() + part.start_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if part.process is not None and part.process.returncode is not None:
                return False
            if await part.ready():
                return True
            await asyncio.sleep(0.5)
        return False

    async def start_all(self) -> None:
        """Start every part at once (Rasa's 25 s model load overlaps the others), then wait."""
        for part in self.parts:
            await self._spawn(part)
        for part in self.parts:
            if not await self._wait_ready(part):
                raise RuntimeError(f"{part.name} did not start; see {part.log_path}\n{tail(part.log_path)}")
            self.echo(f"✓ {part.name} ready ({time.monotonic() - part.started_at:.1f} s)")
            self._watchers.append(asyncio.create_task(self._watch(part), name=f"watch:{part.name}"))

    async def _watch(self, part: Part) -> None:
        while not self._stopping.is_set():
            assert part.process is not None
            code = await part.process.wait()
            if self._stopping.is_set():
                return
            part.restarts += 1
            delay = min(30.0, 2.0 ** min(part.restarts, 5))
            log.error(
                "%s exited with code %s; restarting in %.0f s. Last lines:\n%s",
                part.name,
                code,
                delay,
                tail(part.log_path),
            )
            self.echo(f"✗ {part.name} exited ({code}); restarting in {delay:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                return
            await self._spawn(part)
            if await self._wait_ready(part):
                self.echo(f"✓ {part.name} ready again")

    async def stop_all(self, grace: float = 10.0) -> None:
        self._stopping.set()
        for task in self._watchers:
            task.cancel()
        for part in reversed(self.parts):
            proc = part.process
            if proc is None or proc.returncode is not None:
                continue
            kill_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=grace)
            except asyncio.TimeoutError:
                kill_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        for part in self.parts:
            if part._log_file is not None:
                part._log_file.close()  # type: ignore[attr-defined]

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    def request_stop(self) -> None:
        self._stopping.set()


async def run(settings: Settings, model: Path) -> int:
    """`dalil run`: the whole assistant, in Telegram or terminal mode."""
    parts = [actions_part(settings), rasa_part(settings, model)]
    if not settings.terminal_mode:
        parts.append(gateway_part(settings))
    supervisor = Supervisor(parts)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.request_stop)
    try:
        started = time.monotonic()
        await supervisor.start_all()
        supervisor.echo(f"Dalil is running ({time.monotonic() - started:.1f} s). Ctrl-C stops it.")
        if settings.terminal_mode:
            from bot.gateway.app import run_terminal

            supervisor.echo("No TELEGRAM_BOT_TOKEN: chatting on the terminal. Type a message; Ctrl-D ends.")
            chat = asyncio.create_task(run_terminal(settings))
            stop = asyncio.create_task(supervisor.wait_stopped())
            await asyncio.wait({chat, stop}, return_when=asyncio.FIRST_COMPLETED)
            if chat.done():
                chat.result()
            else:
                chat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chat
        else:
            await supervisor.wait_stopped()
        return 0
    finally:
        await supervisor.stop_all()
