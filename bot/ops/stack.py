"""The real stack's processes, started and stopped one way for the supervisor (`dalil run`), the
tests and the benchmark: free ports, an environment isolated in a throwaway var dir, readiness
waits on the parts' health URLs, and process-group kills (Rasa starts children of its own).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

# Variables that would connect a test or benchmark stack to a real bot, group or admin.
REAL_BOT_PREFIXES = ("TELEGRAM_", "HOTLINE_", "ADMIN_")


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(var_dir: Path, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a stack that shares nothing with the real one: no bot token, hotline
    or admin from the caller's environment, its own var dir and SQLite file, free ports."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(REAL_BOT_PREFIXES)}
    env.pop("ACTION_URL", None)
    env.update(
        DALIL_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'dalil.db'}",
        RASA_PORT=str(free_port()),
        ACTION_PORT=str(free_port()),
        HEALTH_PORT=str(free_port()),
    )
    env.update(extra)
    return env


def is_ready(response: httpx.Response, *, expect_model: bool = False) -> bool:
    """A health answer that says "ready": 200, and for Rasa's /status a loaded model."""
    if response.status_code != 200:
        return False
    if not expect_model:
        return True
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("model_file"))


async def http_ok(url: str, *, params: dict[str, str] | None = None, expect_model: bool = False) -> bool:
    try:
        async with httpx.AsyncClient(timeout=3.0) as client:
            response = await client.get(url, params=params)
    except httpx.HTTPError:
        return False
    return is_ready(response, expect_model=expect_model)


def wait_http(
    url: str,
    *,
    params: dict[str, str] | None = None,
    timeout: float = 180.0,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    expect_model: bool = False,
) -> None:
    """Block until `url` answers ready; fail at once, with the log's tail, if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}\n{tail(log)}")
        try:
            if is_ready(httpx.get(url, params=params, timeout=2.0), expect_model=expect_model):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s\n{tail(log)}")


def popen(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start one part in its own process group, its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def kill_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal a part and the children it started (its process group); gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a part started by `popen`: `sig`, then SIGKILL after `timeout` seconds."""
    if proc.poll() is not None:
        return
    kill_group(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()


def tail(path: Path | None, lines: int = 15) -> str:
    """The last lines of a log, for an error message."""
    if path is None or not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])
