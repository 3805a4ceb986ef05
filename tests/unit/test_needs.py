"""bot.gateway.needs: a long message with several needs is cut into parts; one is answered, the others offered."""

from __future__ import annotations

from typing import Any

import pytest

from bot.gateway.needs import MAX_OFFERS, plan, segments, topic_of


def faq(topic: str, confidence: float = 0.95) -> dict[str, Any]:
    return {
        "intent": {"name": "faq", "confidence": confidence},
        "response_selector": {"faq": {"response": {"intent_response_key": f"faq/{topic}", "confidence": confidence}}},
    }


UNCLEAR = {"intent": {"name": "nlu_fallback", "confidence": 0.3}}


@pytest.mark.parametrize(
    "text",
    [
        "on nous met dehors de l'appartement lundi. "
        "mon patron ne m'a pas payé depuis deux mois et mon fils ne va pas à l'école",
        "طردونا من الدار والباطرون ما خلصنيش هادي شهرين. ولدي ما كيقراش",
        "lmol dar bgha ykhrjna. lpatron ma khlsnich 2 chhor w wldi ma kay9rach f lmadrasa",
        "My landlord wants us out by Monday, my boss has not paid me for two months and my son is not in school.",
    ],
)
def test_a_long_message_with_several_needs_is_cut_into_parts(text: str) -> None:
    parts = segments(text)
    assert 2 <= len(parts) <= 6, parts
    assert all(len(p.split()) >= 3 for p in parts), parts


@pytest.mark.parametrize(
    "text", ["je veux demander l'asile", "how do i get a residence card in rabat please", "😭😭😭", ""]
)
def test_short_messages_are_one_need(text: str) -> None:
    assert segments(text) == []


def test_the_whole_message_is_answered_when_its_topic_is_one_of_the_parts() -> None:
    parts = [
        ("we are put out of the flat", faq("housing")),
        ("my boss does not pay", faq("labour_rights")),
        ("my son is not at school", faq("education")),
    ]
    result = plan("whole", faq("housing"), parts)
    assert (result.text, result.topic, result.offers) == ("whole", "housing", ("labour_rights", "education"))


def test_the_clearest_part_is_answered_when_the_whole_is_unclear_or_elsewhere() -> None:
    parts = [("a", faq("housing", 0.8)), ("b", faq("labour_rights", 0.97)), ("c", UNCLEAR)]
    for whole in (UNCLEAR, faq("resettlement")):
        result = plan("whole", whole, parts)
        assert (result.text, result.topic, result.offers) == ("b", "labour_rights", ("housing",))


def test_an_urgent_message_always_goes_whole_and_still_offers_the_rest() -> None:
    parts = [("a", faq("housing")), ("b", faq("labour_rights"))]
    result = plan("whole", UNCLEAR, parts, urgent=True)
    assert result.text == "whole" and result.offers == ("housing", "labour_rights")


def test_unclear_parts_and_repeats_are_not_offered() -> None:
    parts = [("a", faq("housing")), ("b", faq("housing")), ("c", faq("education", 0.5)), ("d", UNCLEAR)]
    result = plan("whole", faq("housing"), parts)
    assert result.offers == ()


def test_offers_are_few() -> None:
    topics = ["housing", "education", "labour_rights", "health_access", "maternity_child_health", "legal_aid"]
    result = plan("whole", faq("gbv"), [(t, faq(t)) for t in topics], urgent=True)
    assert len(result.offers) == MAX_OFFERS


def test_topic_of_needs_a_clear_faq_topic() -> None:
    assert topic_of(faq("housing")) == ("housing", 0.95)
    assert topic_of(faq("housing", 0.4)) is None
    assert topic_of(UNCLEAR) is None
    assert topic_of({"intent": {"name": "greet", "confidence": 1.0}}) is None
