"""nlu.components.MetadataHints: what the gateway knows, applied to the model's output."""

from __future__ import annotations

from typing import Any

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.components import MetadataHints


def parsed(metadata: dict[str, Any], intent: str = "nlu_fallback") -> Message:
    message = Message(data={TEXT: "a long message with several needs", "metadata": metadata})
    message.set("intent", {"name": intent, "confidence": 0.3}, add_to_output=True)
    message.set("intent_ranking", [{"name": intent, "confidence": 0.3}], add_to_output=True)
    [out] = MetadataHints().process([message])
    return out


def test_the_gateways_chosen_part_decides_the_topic() -> None:
    out = parsed({"language": "fr", "darija": False, "faq_topic": "housing"})
    assert out.get("intent")["name"] == "faq"
    assert out.get("response_selector")["faq"]["response"]["intent_response_key"] == "faq/housing"
    assert {"entity": "faq_topic", "value": "housing"}.items() <= next(
        e for e in out.get("entities") if e["entity"] == "faq_topic"
    ).items()


def test_danger_still_wins_over_a_chosen_part() -> None:
    out = parsed({"language": "fr", "urgent": True, "faq_topic": "housing"})
    assert out.get("intent")["name"] == "urgent"
    assert not any(e["entity"] == "faq_topic" for e in out.get("entities") or [])


def test_without_a_chosen_part_the_model_decides() -> None:
    out = parsed({"language": "en"}, intent="greet")
    assert out.get("intent")["name"] == "greet"
