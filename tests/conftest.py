"""Shared fixtures: a real Rasa + action server stack (once per session), the gateway process,
the fake Telegram Bot API, and a fresh database per test."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.content import library
from bot.core.settings import Settings
from bot.ops.stack import free_port, isolated_env, popen, stop_process, wait_http
from bot.ops.supervisor import actions_part, rasa_part
from bot.ops.training import latest_model
from tests.fakes.proxy import FaultyProxy
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "test-secret-key"


@dataclass
class Stack:
    """A running Rasa server (trained model) and action server, isolated in `var_dir`."""

    settings: Settings
    env: dict[str, str]
    var_dir: Path
    model: Path
    processes: dict[str, subprocess.Popen[bytes]]
    action_proxy: FaultyProxy

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    def gateway_env(self, **extra: str) -> dict[str, str]:
        env = dict(self.env)
        env.update(extra)
        return env


def stack_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = isolated_env(var_dir)
    env.update(
        RASA_TOKEN="test-rasa-token",
        ACTION_TOKEN="test-action-token",
        DALIL_SECRET_KEY=SECRET,
        # "Received, answering soon" only where a test asks for it (ACK_AFTER=1 with a slow or cut
        # Rasa): on a slow day a 4 s acknowledgement would interleave with the answers tests count.
        ACK_AFTER="60",
    )
    env.update(extra)
    return env


def start_stack(var_dir: Path, *, root: Path = ROOT, **extra: str) -> Stack:
    """Rasa (newest model of `root`) and the action server, reading content from `root`."""
    model = latest_model(root / "models")
    if model is None:
        raise RuntimeError("no trained model in models/: run `make train` (make test does it)")
    var_dir.mkdir(parents=True, exist_ok=True)
    env = stack_env(var_dir, **extra)
    if root != ROOT:
        env["DALIL_HOME"] = str(root)
    # Rasa reaches the action server through a proxy a test can cut ("action server down").
    action_proxy = FaultyProxy(int(env["ACTION_PORT"]))
    env["ACTION_URL"] = f"http://127.0.0.1:{action_proxy.port}/webhook"
    settings = Settings.from_env(env, root=root)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    parts = [actions_part(settings), rasa_part(settings, model)]
    for part in parts:
        processes[part.name] = popen(part.argv, env={**part.env, **env}, log_path=part.log_path, cwd=root)
    wait_http(
        f"http://127.0.0.1:{settings.action_port}/health", proc=processes["actions"], log=parts[0].log_path, timeout=60
    )
    wait_http(
        f"{settings.rasa_url}/status",
        params={"token": settings.rasa_token},
        proc=processes["rasa"],
        log=parts[1].log_path,
        expect_model=True,
    )
    return Stack(
        settings=settings, env=env, var_dir=var_dir, model=model, processes=processes, action_proxy=action_proxy
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    for proc in running.processes.values():
        stop_process(proc)
    running.action_proxy.close()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dalil.db'}"


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    api = await FakeTelegram().start()
    yield api
    await api.stop()


class Gateway:
    """The real gateway process (`dalil gateway`) polling the fake Bot API."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Gateway:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [str(BIN / "dalil"), "gateway"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def location_offer(text: str | None) -> bool:
    """Whether a message is the offer to share a location that follows an answer depending on place."""
    lib = library()
    return any(
        text == lib.text("location_prompt", lang, darija, label=lib.text("keyboard_location", lang, darija))
        for lang in ("fr", "ar", "en")
        for darija in (False, True)
    )


HOTLINE = -1001234567890
STAFF = 777


async def start_gateway(stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path, **extra: str) -> Gateway:
    """Start `dalil gateway` against the fake Bot API and wait until it polls."""
    import asyncio

    tmp_path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test set-up
    settings = {
        "HEALTH_PORT": str(free_port()),
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "TRACKER_DATABASE_URL": f"sqlite:///{stack.var_dir / 'rasa.db'}",
    }
    settings.update(extra)
    env = stack.gateway_env(**settings)
    polls = sum(1 for method, _ in fake_telegram.calls if method == "getUpdates")
    gw = Gateway(env, tmp_path / "gateway.log").start()
    deadline = time.monotonic() + 60
    while sum(1 for method, _ in fake_telegram.calls if method == "getUpdates") <= polls:
        if gw.proc is not None and gw.proc.poll() is not None:
            raise RuntimeError("gateway exited:\n" + gw.log()[-3000:])
        if time.monotonic() > deadline:
            raise RuntimeError("gateway never polled:\n" + gw.log()[-3000:])
        await asyncio.sleep(0.1)
    return gw


@pytest.fixture
async def gateway(stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path) -> AsyncIterator[Gateway]:
    gw = await start_gateway(stack, fake_telegram, tmp_path)
    yield gw
    gw.stop()
    if "Traceback" in gw.log():
        print(gw.log()[-5000:])


@pytest.fixture
async def hotline_gateway(stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway with a hotline group whose staff is the user STAFF."""
    gw = await start_gateway(stack, fake_telegram, tmp_path, HOTLINE_CHAT_ID=str(HOTLINE), HOTLINE_STAFF_IDS=str(STAFF))
    yield gw
    gw.stop()
    if "Traceback" in gw.log():
        print(gw.log()[-5000:])
