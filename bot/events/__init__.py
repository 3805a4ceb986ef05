"""Events: what is on near the user, and when — from iCalendar, JSON and the repo's own file.

No Rasa imports here: `actions/events_action.py` is the thin action that uses this package.
`model` holds the shared dataclasses, `providers` reads feeds, `service` fetches and caches them,
`query` understands a question and `formatting` writes the answer from `content/events_texts.yml`.
"""

from bot.events.model import CASABLANCA, Event, FeedError, Listing, Query, SourceReport

__all__ = ["CASABLANCA", "Event", "FeedError", "Listing", "Query", "SourceReport"]
