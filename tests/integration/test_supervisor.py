"""`dalil run` as an operator runs it: the supervisor starts Rasa, the action server and the gateway,
brings a killed part back, `dalil status` tells what is up, and Ctrl-C stops everything.

The real command in Telegram mode against the fake Bot API, with its own var dir and ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.conftest import ROOT, stack_env
from tests.fakes.telegram_api import FakeTelegram

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

DALIL = str(Path(sys.executable).with_name("dalil"))
STATUS_LINE = re.compile(r"^(UP|DOWN)\s+(\w+)\b", re.MULTILINE)


# -- /proc ------------------------------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], starttime [19])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[int, str]:
    """Every living descendant of `root`: pid -> start time (to tell a reused pid apart)."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
            starts[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = starts[pid]
                frontier.append(pid)
    return found


def still_alive(processes: dict[int, str]) -> list[str]:
    alive = []
    for pid, start in processes.items():
        fields = _stat(pid)
        if fields is not None and fields[19] == start and fields[0] != "Z":
            alive.append(f"{pid} {_cmdline(pid)[:120]}")
    return alive


def child_running(parent: int, needle: str) -> int:
    """The one direct child of `parent` whose command line contains `needle`."""
    [pid] = [
        pid
        for pid in descendants(parent)
        if (fields := _stat(pid)) is not None and int(fields[1]) == parent and needle in _cmdline(pid)
    ]
    return pid


# -- the running command ------------------------------------------------------------------------------
class DalilRun:
    """`dalil run` in its own session; its stderr is collected line by line."""

    def __init__(self, env: dict[str, str], stdout: Path) -> None:
        self.env = env
        self.stdout = stdout
        self.lines: list[str] = []
        self._stdout: BinaryIO | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> DalilRun:
        self._stdout = self.stdout.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            DALIL,
            "run",
            cwd=ROOT,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_line(self, pattern: str, timeout: float, after: int = 0) -> int:
        """Wait for a stderr line (from line `after` on) matching `pattern`; return its index."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(after, len(self.lines)):
                if re.search(pattern, self.lines[index]):
                    return index
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"dalil run exited ({self.proc.returncode}) waiting for {pattern!r}:\n{self.stderr[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on stderr within {timeout:.0f} s:\n{self.stderr[-3000:]}")
            await asyncio.sleep(0.1)

    async def status(self) -> tuple[int, dict[str, str]]:
        """`dalil status` with the same environment: (exit code, part -> UP/DOWN)."""
        proc = await asyncio.create_subprocess_exec(
            DALIL,
            "status",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
        text = out.decode(errors="replace")
        return int(proc.returncode or 0), {part: state for state, part in STATUS_LINE.findall(text)}

    async def kill_everything(self) -> None:
        """Last resort after a failure: no process of this test survives it."""
        if self.proc is None:
            return
        left = descendants(self.proc.pid)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._stdout is not None:
            self._stdout.close()


async def test_dalil_run_restarts_a_dead_part_reports_it_and_stops_cleanly(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api = fake_telegram
    env = stack_env(tmp_path / "var", TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_URL=api.base_url)
    run = await DalilRun(env, tmp_path / "stdout.log").start()
    assert run.proc is not None
    try:
        await run.wait_for_line(r"Dalil is running", timeout=240)
        assert run.proc.returncode is None

        user = 5001
        api.message(user, "Comment demander l'asile au Maroc ?")
        [answer] = await api.wait_for(user, 1, timeout=60)
        assert "HCR" in answer.text

        code, parts = await run.status()
        assert parts == {"rasa": "UP", "actions": "UP", "gateway": "UP", "database": "UP"}, parts
        assert code == 0

        # The action server dies: the supervisor says so, brings it back, and answers resume.
        seen = len(run.lines)
        actions = child_running(run.proc.pid, "actions.server")
        os.kill(actions, signal.SIGKILL)
        killed = "actions"
        code, parts = await run.status()
        if parts.get("actions") == "UP":
            # Restarted before `dalil status` looked: kill the gateway instead, status must catch that.
            await run.wait_for_line(r"actions ready again", timeout=30, after=seen)
            seen = len(run.lines)
            os.kill(child_running(run.proc.pid, " gateway"), signal.SIGKILL)
            killed = "gateway"
            code, parts = await run.status()
        assert parts.get(killed) == "DOWN", parts
        assert parts.get("rasa") == "UP" and parts.get("database") == "UP", parts
        assert code != 0

        exited = await run.wait_for_line(rf"✗ {killed} exited \(-9\)", timeout=10, after=seen)  # -9: SIGKILL
        await run.wait_for_line(rf"{killed} exited with code -9; restarting", timeout=1, after=seen)  # logged, with why
        await run.wait_for_line(rf"{killed} ready again", timeout=30, after=exited)
        deadline = time.monotonic() + 15  # the gateway is "ready" once spawned; its /health follows
        while (status := await run.status())[0] != 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert status[0] == 0 and set(status[1].values()) == {"UP"}, status

        api.message(user, "où faire un test VIH gratuit ?")
        sent = await api.wait_for(user, 2, timeout=60)
        assert "ALCS" in sent[1].text

        # Ctrl-C: every part stops, the command exits 0, nothing is left behind.
        children = descendants(run.proc.pid)
        assert len(children) >= 3, children
        started = time.monotonic()
        os.kill(run.proc.pid, signal.SIGINT)
        returncode = await asyncio.wait_for(run.proc.wait(), timeout=20)
        assert returncode == 0, run.stderr[-3000:]
        assert time.monotonic() - started < 20
        assert still_alive(children) == []
        assert "Dalil stopped" in run.stderr
        assert "Traceback" not in run.stderr
        written = [run.stderr, *(p.read_text(errors="replace") for p in (tmp_path / "var" / "log").glob("*.log"))]
        for secret in (api.token, env["RASA_TOKEN"], env["ACTION_TOKEN"], env["DALIL_SECRET_KEY"]):
            assert not any(secret in text for text in written), "a secret reached the logs"
    finally:
        await run.kill_everything()
