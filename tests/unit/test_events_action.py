"""ActionEvents run without a server, against a service reading the fixture calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionEvents
from actions.events_action import use_service
from bot.core.content import PAGE_BREAK, library
from bot.events.formatting import events_texts
from bot.events.model import CASABLANCA
from bot.events.service import EventsService

FEED = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "feed.ics"
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CASABLANCA)

TANGER_FR = ["Atelier CV pour les jeunes", "Atelier « Entrepreneuriat et genre »"]
OTHERS_FR = [
    "Séance de sensibilisation : droits en santé sexuelle et reproductive",
    "Soirée musicale interculturelle",
    "Séance d'information VIH et IST",
    "Journée mondiale du sida : dépistage gratuit",
    "Journée internationale des migrants",
]
CASA_AR = ["جلسة توعية: الحقوق في الصحة الجنسية والإنجابية", "أمسية موسيقية بين الثقافات"]
OTHERS_AR = ["ورشة السيرة الذاتية للشباب", "اليوم العالمي لمكافحة السيدا: كشف مجاني", "اليوم الدولي للمهاجرين"]


@pytest.fixture(autouse=True)
async def service() -> AsyncIterator[EventsService]:
    async with httpx.AsyncClient() as http:
        svc = EventsService(http, [str(FEED)], clock=lambda: NOW)
        use_service(svc)
        yield svc
    use_service(None)


def tracker(
    text: str,
    *,
    language: str = "fr",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> Tracker:
    return Tracker(
        sender_id="u1",
        slots={"language": language, "darija": False, **(slots or {})},
        latest_message={"text": text, "intent": {"name": "ask_events", "confidence": 0.9}, "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(t: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ActionEvents().run(dispatcher, t, {})
    message, *near = dispatcher.messages
    # No city asked: the gateway is told to offer the key that shares a location (nearest city);
    # a city: to add the 🔔 button that subscribes to its new events (and the topic's).
    city = next(e["value"] for e in events if e["name"] == "events_city")
    topic = next(e["value"] for e in events if e["name"] == "events_topic")
    offer = {"dalil": {"op": "alert_offer", "city": city, "topic": topic or ""}}
    assert [m["custom"] for m in near] == ([offer] if city else [{"dalil": {"op": "near", "events": True}}])
    return events, message


async def test_workshops_in_tangier_lists_only_tangier_events_in_french() -> None:
    events, message = await run(tracker("quels ateliers à Tanger ?"))
    text = message["text"]
    assert all(title in text for title in TANGER_FR)
    assert not any(title in text for title in OTHERS_FR)
    assert text.index(TANGER_FR[0]) < text.index(TANGER_FR[1])  # sorted by date
    assert message["buttons"] == [{"title": library().text("button_menu", "fr"), "payload": "/help"}]
    assert events == [SlotSet("events_city", "tanger"), SlotSet("events_topic", None), SlotSet("events_date", None)]


async def test_activities_in_casablanca_in_arabic_lists_only_casablanca_events() -> None:
    events, message = await run(tracker("هل هناك أنشطة في الدار البيضاء؟", language="ar"))
    text = message["text"]
    assert all(title in text for title in CASA_AR)
    assert not any(title in text for title in OTHERS_AR + OTHERS_FR + TANGER_FR)
    assert "ديسمبر" in text
    assert message["buttons"][0]["title"] == library().text("button_menu", "ar")
    assert events[0] == SlotSet("events_city", "casablanca")


async def test_follow_up_in_another_city_keeps_topic_and_dates() -> None:
    first_events, _ = await run(tracker("des séances VIH à Agadir la semaine prochaine ?"))
    slots = {e["name"]: e["value"] for e in first_events}
    assert slots["events_city"] == "agadir" and slots["events_topic"] == "hiv" and slots["events_date"]
    for follow_up in ("et à Rabat ?", "w f rbat?"):
        events, message = await run(tracker(follow_up, slots=slots))
        assert events == [
            SlotSet("events_city", "rabat"),
            SlotSet("events_topic", "hiv"),
            SlotSet("events_date", slots["events_date"]),
        ]
        # Nothing on HIV in Rabat next week: said so, and the next one there or elsewhere offered.
        none_found = events_texts().get("none_found", "fr", city="", topic="", period="")[:20]
        assert message["text"].startswith(none_found)
        assert "Séance d'information VIH et IST" in message["text"]


async def test_follow_up_with_a_new_date_keeps_the_city() -> None:
    slots = {"events_city": "agadir", "events_topic": None, "events_date": None}
    events, message = await run(tracker("et demain ?", slots=slots))
    assert events[0] == SlotSet("events_city", "agadir")
    assert events[2]["value"].startswith("2026-11-30T00:00:00+01:00/2026-12-01")


async def test_a_button_entity_names_the_city() -> None:
    events, message = await run(tracker("", entities=[{"entity": "city", "value": "casa"}]))
    assert events[0] == SlotSet("events_city", "casablanca")
    assert "Soirée musicale interculturelle" in message["text"]


async def test_many_events_come_three_a_page() -> None:
    _, message = await run(tracker("prochains événements", language="en"))
    pages = message["text"].split(PAGE_BREAK)
    assert len(pages) == 4 and all(page.count("🔹") <= 3 for page in pages)
