"""`dalil status` in terminal mode: no Telegram gateway is not "DOWN"; the terminal chat's own
/health shows it running."""

from __future__ import annotations

import socket
from pathlib import Path

from bot.core.settings import Settings
from bot.gateway import health
from bot.gateway.health import HealthServer


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def terminal_settings(tmp_path: Path, health_port: int) -> Settings:
    env = {
        "DALIL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dalil.db'}",
        "RASA_PORT": str(_port()),
        "ACTION_PORT": str(_port()),
        "HEALTH_PORT": str(health_port),
    }
    return Settings.from_env(env, root=tmp_path)


async def test_terminal_mode_without_a_chat_is_off_not_down(tmp_path: Path) -> None:
    settings = terminal_settings(tmp_path, _port())
    assert settings.terminal_mode
    parts = {part: (up, detail) for part, up, detail in await health.status(settings)}
    up, detail = parts["gateway"]
    assert up is None and "terminal mode" in detail
    assert parts["database"][0] is True


async def test_terminal_chat_health_is_up(tmp_path: Path) -> None:
    port = _port()
    settings = terminal_settings(tmp_path, port)

    async def check() -> dict:
        return {"status": "ok", "mode": "terminal"}

    server = HealthServer(check, "127.0.0.1", port)
    await server.start()
    try:
        parts = {part: (up, detail) for part, up, detail in await health.status(settings)}
    finally:
        await server.stop()
    up, detail = parts["gateway"]
    assert up is True and "terminal" in detail


def test_status_prints_off_and_exits_zero_when_only_the_gateway_is_missing(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    async def fake_status(settings: Settings) -> list:
        return [
            ("rasa", True, "ok"),
            ("actions", True, "ok"),
            ("gateway", None, "terminal mode"),
            ("database", True, "ok"),
        ]

    monkeypatch.setattr(health, "status", fake_status)
    assert health.main(terminal_settings(tmp_path, _port())) == 0
    out = capsys.readouterr().out
    assert "OFF  gateway" in out and "DOWN" not in out
