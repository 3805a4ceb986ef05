"""The Rasa project itself: the data validates, and the conversation stories hold on the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.ops.training import latest_model, rasa_env, rasa_executable

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.rasa


def test_rasa_data_validates_without_conflicts(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            rasa_executable(),
            "data",
            "validate",
            "--data",
            "nlu_data",
            "--domain",
            "domain.yml",
            "--config",
            "config.yml",
            "--fail-on-warnings",
            "--max-history",
            "5",
        ],
        cwd=ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert "conflict" not in output.lower() or "No story structure conflicts found" in output, output[-3000:]
    assert "labeled with multiple different intents" not in output, output[-3000:]
    assert proc.returncode == 0, output[-3000:]


def test_conversation_stories_in_french_and_arabic(tmp_path: Path) -> None:
    model = latest_model(ROOT / "models")
    assert model is not None, "no trained model: run `make train`"
    proc = subprocess.run(
        [
            rasa_executable(),
            "test",
            "core",
            "--model",
            str(model),
            "--stories",
            "tests/stories",
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
            "--no-plot",
        ],
        cwd=ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + "\n" + details


def test_faq_training_data_is_generated_from_faq_files() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.ops.cli", "faq", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
