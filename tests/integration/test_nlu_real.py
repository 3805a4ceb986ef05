"""Questions written by other people (tests/nlu/real/, each with the URL it was copied from) must
pass the real-set gates of issue 16 on the trained model: overall, and per way of writing that has
enough items (bot.ops.nlu_eval.REAL_GATES). The held-out gates are in test_nlu_heldout.py."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from bot.ops.nlu_eval import WAYS, evaluate_real_url, load_examples, load_real
from tests.conftest import ROOT, Stack

REAL = ROOT / "tests" / "nlu" / "real"


def normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def known_labels() -> set[str]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8")) or {}
    return {str(i) if not isinstance(i, dict) else next(iter(i)) for i in domain.get("intents") or []}


def test_real_items_name_their_source_and_a_valid_label() -> None:
    items = load_real(REAL)
    assert len(items) >= 50
    assert {e.way for e in items} <= set(WAYS)
    intents = known_labels()
    for item in items:
        assert re.match(r"^https?://\S+$", item.source), item
        assert re.match(r"^faq/[a-z_]+$", item.label) or item.label in intents, item
    duplicates = [t for t, n in Counter(normalised(e.text) for e in items).items() if n > 1]
    assert duplicates == []


def test_real_questions_are_not_in_the_training_data_nor_the_heldout_set() -> None:
    training: set[str] = set()
    for path in (ROOT / "nlu_data").rglob("*.yml"):
        training |= {
            normalised(line.strip()[2:])
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("- ")
        }
    heldout = {normalised(e.text) for e in load_examples(ROOT / "tests" / "nlu")}
    copies = [e.text for e in load_real(REAL) if normalised(e.text) in training | heldout]
    assert copies == []


@pytest.mark.rasa
async def test_real_question_accuracy_gates(stack: Stack) -> None:
    report = await evaluate_real_url(stack.rasa_url, REAL, token=stack.settings.rasa_token)
    print("\n" + report.markdown(misses=100))
    assert report.failures() == [], "\n".join(report.failures()) + "\n\n" + report.markdown(misses=100)
