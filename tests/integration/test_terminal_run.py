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
        [str(dalil), "run"], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=400,
    )


def test_bonjour_gets_a_french_greeting_and_exits(tmp_path: Path) -> None:
    proc = run_terminal(tmp_path, "bonjour\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("Bonjour"), proc.stdout
    assert "Asile" in proc.stdout  # the menu in French
    assert "Traceback" not in proc.stderr
    # Nothing the user typed is logged.
    assert "bonjour" not in proc.stderr.lower().replace("bonjour !", "")
    assert not [p for p in os.listdir(tmp_path / "var" / "log") if "bonjour" in (tmp_path / "var" / "log" / p).read_text(errors="replace")]


def test_arabic_greeting_gets_an_arabic_answer(tmp_path: Path) -> None:
    proc = run_terminal(tmp_path, "السلام عليكم\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first_line = proc.stdout.splitlines()[0]
    assert "السلام عليكم" in first_line or "مرحبا" in first_line, proc.stdout
