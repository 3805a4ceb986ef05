"""`make run` without a Telegram token: the same pipeline on the terminal (`dalil run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, stack_env

pytestmark = pytest.mark.rasa


def run_terminal(tmp_path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    env = stack_env(tmp_path / "var")
    env.pop("RASA_TOKEN")
    env.pop("ACTION_TOKEN")
    dalil = Path(sys.executable).with_name("dalil")
    return subprocess.run(
        [str(dalil), "run"],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=400,
    )


def test_bonjour_gets_a_french_greeting_and_exits(tmp_path: Path) -> None:
    proc = run_terminal(tmp_path, "bonjour\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("Bonjour"), proc.stdout
    assert "Asile" in proc.stdout  # the menu in French
    assert "Traceback" not in proc.stderr
    # Nothing the user typed is logged.
    shown = "\n".join(
        line for line in proc.stderr.lower().splitlines() if not line.startswith("logs: ")
    )  # the tmp path
    assert "bonjour" not in shown.replace("bonjour !", "")
    assert not [
        p
        for p in os.listdir(tmp_path / "var" / "log")
        if "bonjour" in (tmp_path / "var" / "log" / p).read_text(errors="replace")
    ]


def test_arabic_greeting_gets_an_arabic_answer(tmp_path: Path) -> None:
    proc = run_terminal(tmp_path, "السلام عليكم\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first_line = proc.stdout.splitlines()[0]
    assert "السلام عليكم" in first_line or "مرحبا" in first_line, proc.stdout


def test_the_log_stays_out_of_the_chat_and_status_sees_the_terminal_chat(tmp_path: Path) -> None:
    import time

    env = stack_env(tmp_path / "var")
    env.pop("RASA_TOKEN")
    env.pop("ACTION_TOKEN")
    dalil = str(Path(sys.executable).with_name("dalil"))
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [dalil, "run"], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            deadline = time.monotonic() + 400
            status = ""
            while "UP   gateway" not in status:
                assert proc.poll() is None, stderr_path.read_text()[-3000:]
                assert time.monotonic() < deadline, status + stderr_path.read_text()[-3000:]
                time.sleep(1)
                if "chatting on the terminal" in stderr_path.read_text():
                    status = subprocess.run(
                        [dalil, "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
                    ).stdout
            assert "DOWN" not in status and "'mode': 'terminal'" in status, status
            out, _ = proc.communicate("bonjour\n", timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    assert out.startswith("Bonjour"), out
    shown = stderr_path.read_text()
    assert " INFO " not in shown and "WARNING" not in shown, shown  # only the supervisor's own lines
    log = (tmp_path / "var" / "log" / "terminal.log").read_text()
    assert "loaded fastText model" in log
