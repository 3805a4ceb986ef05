"""Model quality is tested like code: the held-out set (tests/nlu/, never in the training data)
must pass the per-language and per-topic gates of issue #4 on the trained model."""

from __future__ import annotations

import pytest

from bot.ops.nlu_eval import evaluate_url, load_examples
from tests.conftest import ROOT, Stack

pytestmark = pytest.mark.rasa


def normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def test_heldout_examples_are_not_in_the_training_data() -> None:
    from bot.core.content import Library

    training = {normalised(q) for topic in Library(ROOT).topics().values() for _, q in topic.all_questions()}
    for path in (ROOT / "nlu_data" / "core").glob("*.yml"):
        training |= {
            normalised(line.strip()[2:]) for line in path.read_text().splitlines() if line.strip().startswith("- ")
        }
    heldout = [e for e in load_examples(ROOT / "tests" / "nlu")]
    copies = [e.text for e in heldout if normalised(e.text) in training]
    assert len(heldout) > 500
    assert copies == []


async def test_heldout_accuracy_gates(stack: Stack) -> None:
    report = await evaluate_url(stack.rasa_url, ROOT / "tests" / "nlu", token=stack.settings.rasa_token)
    print("\n" + report.markdown())
    assert report.failures() == [], "\n".join(report.failures()) + "\n\n" + report.markdown()
