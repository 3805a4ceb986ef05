"""The events action: "what is on near me, and when?" answered from the events feeds.

Thin by design: `run()` reads the message and the slots events_city/events_topic/events_date,
asks `actions.events` for the listing and its text in the user's language, dispatches it with a
menu button and stores the new city/topic/period in the slots, so a follow-up ("et à Rabat ?",
"w f rbat?", "et demain ?") keeps the rest of the question. The service and its HTTP client are
created on first use (never at import) from EVENTS_URL, and live as long as the action server.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue import payload, user_language
from bot.core.content import library
from bot.core.settings import Settings
from bot.events.formatting import format_listing
from bot.events.query import follow_up, previous_query, understand, vocabulary, with_entities
from bot.events.service import EventsService, parse_sources

log = logging.getLogger(__name__)

DomainDict = dict[str, Any]

_service: EventsService | None = None


def events_service() -> EventsService:
    """The process's events service, built on first use from EVENTS_URL (default events/events.yml)."""
    global _service
    if _service is None:
        settings = Settings.from_env()
        sources = parse_sources(settings.events_url)
        http = httpx.AsyncClient(headers={"User-Agent": "Dalil events reader"}, timeout=10.0)
        _service = EventsService(http, sources, ttl=settings.events_ttl)
        log.info("events from %d source(s)", len(sources))
    return _service


def use_service(service: EventsService | None) -> None:
    """Use `service` from now on (tests); None builds a new one from the environment on next use."""
    global _service
    _service = service


class ActionEvents(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """The next events matching the city, topic and dates asked (or asked just before)."""

    def name(self) -> str:
        return "action_events"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lang, _ = user_language(tracker)
        service = events_service()
        vocab = vocabulary()
        now = service.clock()
        previous = previous_query(
            tracker.get_slot("events_city"),
            tracker.get_slot("events_topic"),
            tracker.get_slot("events_date"),
            now,
            vocab,
        )
        said = understand((tracker.latest_message or {}).get("text") or "", now, vocab)
        said = with_entities(
            said, tracker.get_latest_entity_values("city"), tracker.get_latest_entity_values("event_topic"), vocab
        )
        query = follow_up(previous, said)
        listing = await service.upcoming(query, now)
        dispatcher.utter_message(
            text=format_listing(listing, lang, vocab=vocab),
            buttons=[{"title": library().text("button_menu", lang), "payload": payload("help")}],
        )
        if query.city is None:  # no city asked: the gateway offers to share a location for the nearest city
            dispatcher.utter_message(json_message={"dalil": {"op": "near", "events": True}})
        else:  # a city: the gateway adds a 🔔 button that subscribes to its new events (bot/gateway/alerts.py)
            offer = {"op": "alert_offer", "city": query.city, "topic": query.topic or ""}
            dispatcher.utter_message(json_message={"dalil": offer})
        return [
            SlotSet("events_city", query.city),
            SlotSet("events_topic", query.topic),
            SlotSet("events_date", query.period_slot()),
        ]
