"""Dialogue actions: menu, FAQ answers, urgent help, fallback, language change, human, data.

Thin by design: each `run()` reads the tracker, asks `bot.core.content` for the text in the user's
language, dispatches it and returns events. Texts live in faq/*.yml and content/*.yml.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.core import danger
from bot.core.content import Library, library, load_yaml
from bot.core.languages import answer_lang
from bot.core.phrases import PhraseIndex
from bot.core.urgent import urgent_reply

log = logging.getLogger(__name__)

DomainDict = dict[str, Any]


def user_language(tracker: Tracker) -> tuple[str, bool]:
    """The answer language the gateway decided (slot `language`) and whether to use Darija."""
    lang = answer_lang(tracker.get_slot("language"))
    darija = tracker.get_slot("darija")
    return lang, darija in (True, "true", "True") and lang == "ar"


def payload(intent: str, **entities: Any) -> str:
    """A button payload that triggers `intent` with entities, e.g. /help{"menu":"health"}."""
    if not entities:
        return "/" + intent
    return "/" + intent + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def menu_buttons(lib: Library, lang: str) -> list[dict[str, str]]:
    menu = lib.menu()
    buttons = [
        {"title": family["title"].get(lang) or family["title"]["fr"], "payload": payload("help", menu=key)}
        for key, family in (menu.get("families") or {}).items()
    ]
    for extra in menu.get("extras") or []:
        buttons.append({"title": extra["title"].get(lang) or extra["title"]["fr"], "payload": payload(extra["intent"])})
    return buttons


def _text(lib: Library, mapping: dict[str, str] | None, lang: str) -> str:
    mapping = mapping or {}
    return mapping.get(lang) or mapping.get("fr") or ""


class ActionShowMenu(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """The help menu: themes, or the questions of one theme (entity `menu`)."""

    def name(self) -> str:
        return "action_show_menu"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lib = library()
        lang, _ = user_language(tracker)
        menu = lib.menu()
        family_key = next(tracker.get_latest_entity_values("menu"), None)
        family = (menu.get("families") or {}).get(family_key) if family_key else None
        if family is None:
            dispatcher.utter_message(text=_text(lib, menu.get("intro"), lang), buttons=menu_buttons(lib, lang))
            return []
        topics = lib.topics()
        buttons = [
            {
                "title": topics[t].title.get(lang) or topics[t].title.get("fr") or t,
                "payload": payload("faq", faq_topic=t),
            }
            for t in family.get("topics") or []
            if t in topics
        ]
        buttons.append({"title": _text(lib, menu.get("back"), lang), "payload": payload("help")})
        dispatcher.utter_message(text=_text(lib, menu.get("family_intro"), lang), buttons=buttons)
        return []


class ActionAnswerFaq(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """Answers the FAQ topic chosen by the ResponseSelector (or a menu button), from faq/*.yml."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lib = library()
        lang, darija = user_language(tracker)
        topic = faq_topic(tracker)
        answer = lib.answer(topic, lang, darija=darija) if topic else None
        if answer is None:
            log.warning("no FAQ answer for topic %s", topic)
            dispatcher.utter_message(text=lib.text("fallback", lang, darija), buttons=menu_buttons(lib, lang))
            count(dispatcher, "not_understood")
            return []
        text, _used = answer
        dispatcher.utter_message(
            text=text, buttons=[{"title": lib.text("button_menu", lang, darija), "payload": payload("help")}]
        )
        count(dispatcher, "topics", topic)
        if topic and depends_on_place(lib, topic):  # the gateway offers to share a location for the nearest places
            dispatcher.utter_message(json_message={"dalil": {"op": "near", "topic": topic}})
        return []


def count(dispatcher: CollectingDispatcher, metric: str, key: str | None = None) -> None:
    """Tell the gateway what this reply was (a topic answered, "not understood") for the anonymous
    daily figures: a directive it counts and never shows."""
    dispatcher.utter_message(json_message={"dalil": {"op": "count", "metric": metric, "key": key or ""}})


def depends_on_place(lib: Library, topic_id: str) -> bool:
    """Whether the topic's contacts work in two cities or more (where the person is matters)."""
    topic, contacts = lib.topics().get(topic_id), lib.contacts()
    ids = topic.contacts if topic is not None else ()
    return len({place for cid in ids if cid in contacts for place in contacts[cid].places()}) >= 2


def faq_topic(tracker: Tracker) -> str | None:
    """The topic id from a menu button's entity, else from the ResponseSelector's prediction."""
    entity = next(tracker.get_latest_entity_values("faq_topic"), None)
    if entity:
        return str(entity)
    latest = tracker.latest_message or {}
    intent = (latest.get("intent") or {}).get("name") or ""
    if intent.startswith("faq/"):
        return intent.split("/", 1)[1]
    selector = (latest.get("response_selector") or {}).get("faq") or {}
    key = (selector.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else None


class ActionUrgent(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """Emergency numbers first, the nearest help, then a person (an urgent handoff)."""

    def name(self) -> str:
        return "action_urgent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lib = library()
        lang, darija = user_language(tracker)
        dispatcher.utter_message(text=urgent_reply(lib, danger_kinds(tracker), lang, darija))
        # Then a person: the gateway alerts the hotline at once (flagged urgent), or gives its phone.
        dispatcher.utter_message(json_message={"dalil": {"op": "handoff", "reason": "urgent", "urgent": True}})
        # The message may also ask a question ("que faire si la police m'arrête ?"): answer it
        # after the emergency numbers instead of dropping it.
        topic = underlying_faq_topic(tracker)
        answer = lib.answer(topic, lang, darija=darija) if topic else None
        if answer is not None:
            dispatcher.utter_message(
                text=lib.text("urgent_then_answer", lang, darija) + "\n\n" + answer[0],
                buttons=[{"title": lib.text("button_menu", lang, darija), "payload": payload("help")}],
            )
            count(dispatcher, "topics", topic)
        return []


def danger_kinds(tracker: Tracker) -> list[str]:
    """The kinds of danger of the latest message: the gateway's (it saw the whole text), else the
    danger words found in the text Rasa received."""
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata") or {}
    kinds = metadata.get("danger_kinds")
    if isinstance(kinds, list) and kinds:
        return [str(k) for k in kinds]
    return danger.kinds(str(latest.get("text") or ""))


def underlying_faq_topic(tracker: Tracker) -> str | None:
    """The FAQ topic the classifiers saw when danger words overrode the intent to `urgent`."""
    latest = tracker.latest_message or {}
    ranking = latest.get("intent_ranking") or []
    if len(ranking) < 2 or ranking[0].get("name") != "urgent" or ranking[1].get("name") != "faq":
        return None
    if float(ranking[1].get("confidence") or 0.0) < 0.5:
        return None
    return faq_topic(tracker)


class ActionFallback(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """ "I did not understand" with the menu; after two misses in a row, the offer of a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lib = library()
        lang, darija = user_language(tracker)
        if consecutive_misses(tracker) >= 2:
            dispatcher.utter_message(
                text=lib.text("fallback_offer_person", lang, darija),
                buttons=[
                    {
                        "title": lib.text("button_yes_person", lang, darija),
                        "payload": payload("request_human", reason="fallback"),
                    },
                    {"title": lib.text("button_menu", lang, darija), "payload": payload("help")},
                ],
            )
        else:
            dispatcher.utter_message(text=lib.text("fallback", lang, darija), buttons=menu_buttons(lib, lang))
        count(dispatcher, "not_understood")
        return []


def consecutive_misses(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the model did not understand."""
    misses = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        misses += 1
    return misses


class ActionChangeLanguage(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """Switches the answer language to the one named in the message, or shows the keyboard."""

    def name(self) -> str:
        return "action_change_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lib = library()
        names = PhraseIndex(load_yaml(lib.content_dir / "language_names.yml") or {})
        asked = names.labels((tracker.latest_message or {}).get("text") or "")
        if not asked:
            dispatcher.utter_message(json_message={"dalil": {"op": "choose_language"}})
            return []
        wanted = asked[0]
        darija = wanted == "darija"
        lang = "ar" if darija else wanted
        dispatcher.utter_message(json_message={"dalil": {"op": "set_language", "lang": lang, "darija": darija}})
        dispatcher.utter_message(text=lib.text("language_set", lang))
        return [SlotSet("language", lang), SlotSet("darija", darija)]


class ActionRequestHuman(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """Asks the gateway to hand the conversation to the hotline.

    The gateway opens the handoff in the staff group, or, when no hotline group is configured,
    gives the hotline's phone and hours; either way it words the reply (office hours, wait).
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        reason = next(tracker.get_latest_entity_values("reason"), None) or "request"
        dispatcher.utter_message(json_message={"dalil": {"op": "handoff", "reason": str(reason), "urgent": False}})
        return []


class ActionDeleteData(Action):  # type: ignore[misc]  # rasa_sdk is untyped: Action is Any
    """Asks the gateway to delete the user's data; it asks for confirmation first (as /forget)."""

    def name(self) -> str:
        return "action_delete_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(json_message={"dalil": {"op": "forget"}})
        return []
