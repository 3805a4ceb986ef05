"""A gateway environment without Rasa, for tests whose messages never reach it (commands such as
/privacy and /forget, buttons, the retention job): `start_gateway(NoRasa(tmp_path), api, ...)`.
Rasa's port points at nothing, so a message that would need it is acknowledged, not answered."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import free_port, stack_env


class NoRasa:
    """Quacks like conftest.Stack as far as start_gateway is concerned."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        var_dir.mkdir(parents=True, exist_ok=True)
        self.env = stack_env(var_dir, RASA_PORT=str(free_port()))

    def gateway_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}
