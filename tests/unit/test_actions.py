"""Custom actions, run without a server: the events they return and what they dispatch."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue import (
    ActionAnswerFaq,
    ActionChangeLanguage,
    ActionFallback,
    ActionRequestHuman,
    ActionShowMenu,
    ActionUrgent,
)
from bot.core.content import library


def tracker(
    text: str = "",
    *,
    language: str = "fr",
    darija: bool = False,
    intent: str = "faq",
    entities: list[dict[str, Any]] | None = None,
    selector_key: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    if selector_key:
        latest["response_selector"] = {"faq": {"response": {"intent_response_key": selector_key}}}
    return Tracker(
        sender_id="u1",
        slots={"language": language, "darija": darija},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run_all(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return events, dispatcher.messages


def _counting(message: dict[str, Any]) -> bool:
    return ((message.get("custom") or {}).get("dalil") or {}).get("op") == "count"


async def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The action's events and the messages a person gets (the figures' `count` directives left out:
    tests/unit/test_figures.py checks them)."""
    events, messages = await run_all(action, t)
    return events, [m for m in messages if not _counting(m)]


async def test_faq_answer_comes_from_the_faq_file_in_the_users_language() -> None:
    lib = library()
    for lang in ("fr", "ar", "en"):
        _, [message] = await run(ActionAnswerFaq(), tracker("…", language=lang, selector_key="faq/asylum_apply"))
        text, used = lib.answer("asylum_apply", lang)
        assert message["text"] == text and used == lang
        assert message["buttons"][0]["payload"] == "/help"


async def test_faq_answer_uses_darija_wording_when_the_user_writes_darija() -> None:
    _, [message] = await run(ActionAnswerFaq(), tracker(language="ar", darija=True, selector_key="faq/asylum_apply"))
    assert message["text"] == library().answer("asylum_apply", "ar", darija=True)[0]
    assert message["text"] != library().answer("asylum_apply", "ar")[0]


async def test_faq_answer_from_a_menu_button_entity() -> None:
    entities = [{"entity": "faq_topic", "value": "hiv_testing"}]
    _, [message, near] = await run(ActionAnswerFaq(), tracker(language="fr", entities=entities))
    assert message["text"] == library().answer("hiv_testing", "fr")[0]
    # ALCS and AMPF work in many cities: the gateway offers to share a location for the nearest.
    assert near["custom"] == {"dalil": {"op": "near", "topic": "hiv_testing"}}


async def test_an_answer_whose_contacts_are_in_one_city_offers_no_location() -> None:
    # asylum_apply: the UNHCR line (everywhere) and its Rabat office: where one is does not matter.
    _, messages = await run(ActionAnswerFaq(), tracker(language="fr", selector_key="faq/asylum_apply"))
    assert len(messages) == 1 and not messages[0]["custom"]


async def test_contacts_and_check_dates_are_shown_under_an_answer() -> None:
    text, _ = library().answer("asylum_apply", "fr")
    assert "+212 5 37 54 54 00" in text  # the helpline, from content/contacts.yml
    assert "📅" in text.split("\f")[-1]  # how old the sources are, on the last page
    assert "⚠️" in text  # the caution line: numbers may change


async def test_main_menu_lists_every_theme_and_the_extras() -> None:
    _, [message] = await run(ActionShowMenu(), tracker(language="ar"))
    menu = library().menu()
    assert len(message["buttons"]) == len(menu["families"]) + len(menu["extras"])
    assert message["buttons"][0]["payload"] == '/help{"menu":"asylum"}'


async def test_theme_menu_lists_its_topics_then_back() -> None:
    entities = [{"entity": "menu", "value": "health"}]
    _, [message] = await run(ActionShowMenu(), tracker(language="en", entities=entities))
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads == [
        '/faq{"faq_topic":"health_access"}',
        '/faq{"faq_topic":"maternity_child_health"}',
        '/faq{"faq_topic":"health_specialised"}',
        '/faq{"faq_topic":"sexual_health"}',
        '/faq{"faq_topic":"hiv_testing"}',
        '/faq{"faq_topic":"mental_health"}',
        "/help",
    ]


async def test_urgent_gives_emergency_numbers_first_then_a_person() -> None:
    _, messages = await run(ActionUrgent(), tracker(language="fr"))
    numbers, person = messages
    # No danger word to say which danger: 112 first, then police, gendarmerie, civil protection,
    # and the line for people who fear the police.
    positions = [numbers["text"].find(f"\u200e{n}\u200e") for n in ("112", "19", "177", "15")]
    assert -1 not in positions and positions == sorted(positions), numbers["text"]
    assert "police" in numbers["text"].split("\n\n")[-1]
    assert person["custom"] == {"dalil": {"op": "handoff", "reason": "urgent", "urgent": True}}


def fallback_events(misses: int) -> list[dict[str, Any]]:
    events = [{"event": "user", "parse_data": {"intent": {"name": "greet"}}}]
    events += [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}] * misses
    return events


async def test_fallback_offers_the_menu_then_a_person_after_two_misses() -> None:
    _, [first] = await run(ActionFallback(), tracker(events=fallback_events(1)))
    assert first["text"] == library().text("fallback", "fr")
    assert any(b["payload"].startswith("/help") for b in first["buttons"])
    _, [second] = await run(ActionFallback(), tracker(events=fallback_events(2)))
    assert second["text"] == library().text("fallback_offer_person", "fr")
    assert second["buttons"][0]["payload"] == '/request_human{"reason":"fallback"}'


async def test_change_language_to_the_named_language() -> None:
    events, messages = await run(ActionChangeLanguage(), tracker("parle moi en arabe stp", intent="change_language"))
    assert events == [SlotSet("language", "ar"), SlotSet("darija", False)]
    assert messages[0]["custom"] == {"dalil": {"op": "set_language", "lang": "ar", "darija": False}}
    events, messages = await run(ActionChangeLanguage(), tracker("b darija 3afak", intent="change_language"))
    assert events == [SlotSet("language", "ar"), SlotSet("darija", True)]


async def test_change_language_without_a_name_shows_the_keyboard() -> None:
    events, messages = await run(ActionChangeLanguage(), tracker("changer de langue", intent="change_language"))
    assert events == []
    assert messages[0]["custom"] == {"dalil": {"op": "choose_language"}}


async def test_request_human_asks_the_gateway_for_a_handoff() -> None:
    _, [message] = await run(ActionRequestHuman(), tracker(language="en"))
    assert message["custom"] == {"dalil": {"op": "handoff", "reason": "request", "urgent": False}}
    entities = [{"entity": "reason", "value": "fallback"}]
    _, [message] = await run(ActionRequestHuman(), tracker(language="en", entities=entities))
    assert message["custom"]["dalil"]["reason"] == "fallback"


async def test_urgent_also_answers_the_question_the_classifier_saw() -> None:
    t = tracker("que faire si la police m'arrête", selector_key="faq/legal_aid")
    t.latest_message["intent_ranking"] = [{"name": "urgent", "confidence": 1.0}, {"name": "faq", "confidence": 0.8}]
    _, messages = await run(ActionUrgent(), t)
    assert len(messages) == 3
    assert messages[2]["text"].endswith(library().answer("legal_aid", "fr")[0])


async def test_urgent_alone_does_not_add_an_answer() -> None:
    t = tracker("au secours", intent="urgent")
    t.latest_message["intent_ranking"] = [{"name": "urgent", "confidence": 0.97}, {"name": "help", "confidence": 0.02}]
    _, messages = await run(ActionUrgent(), t)
    assert len(messages) == 2
