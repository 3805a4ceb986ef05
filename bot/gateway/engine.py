"""Conversation engine: turns one stored input into the messages to send, for any transport.

Owns the per-message policy of the gateway: cleaning the text, choosing the answer language
(detector + the user's remembered choice), spotting danger words, calling Rasa with that
metadata, and rendering Rasa's replies into transport-neutral bodies (`bot.core.bodies.Body`):

    {"text": str, "buttons": [[{"text": str, "token": str}]], "lang": "fr"|"ar"|"en"}

Button tokens point at rows in the store, so Telegram's 64-byte callback limit never matters
and a button nobody issued does nothing. Every sentence comes from content data.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import replace
from typing import Any

from bot.core import danger
from bot.core.bodies import Body, Button
from bot.core.content import PAGE_BREAK, Library
from bot.core.deeplinks import LANG_PREFIX, TOPIC_PREFIX
from bot.core.languages import ANSWER_LANGS
from bot.core.phrases import fold
from bot.core.settings import Settings, ensure_secret
from bot.core.textnorm import clean
from bot.core.urgent import urgent_reply
from bot.gateway import nearby, needs
from bot.gateway.admin import ADMIN_COMMANDS, Admin
from bot.gateway.alerts import ALERT_BUTTONS, AlertsDesk
from bot.gateway.handoff import STAFF_ACTIONS, HandoffService
from bot.gateway.privacy import Privacy, forget_note
from bot.gateway.rasa_client import RasaClient, RasaError
from bot.gateway.stats import Recorder, note
from bot.language.detector import detect
from bot.language.policy import Decision, UserLanguage, decide, word_count
from bot.storage.figures import Figures
from bot.storage.store import Handoff, InboxItem, Store, User

log = logging.getLogger(__name__)

KEYBOARD_KEYS = ("menu", "urgent", "human", "language")  # content/messages.yml keyboard_<key>
LOCATION_KEY = "location"  # keyboard_location: the key that shares the location, offered after some answers
MAX_NLU_CHARS = 1200  # longer messages are cut for the model (the danger check sees all)
MAX_MESSAGE_CHARS = 3900  # Telegram allows 4096; keep room for the bidi marks
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_/]+)(?P<entities>\{.*\})?$", re.S)


class Engine:
    """Processes inbox items; stateless apart from the store it writes to."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        rasa: RasaClient,
        library: Library,
        handoff: HandoffService | None = None,
        privacy: Privacy | None = None,
        admin: Admin | None = None,
        secret: str = "",
    ) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.library = library
        self.handoff = handoff or HandoffService(settings, store, rasa, library)
        self.privacy = privacy
        self.admin = admin
        self.secret = secret or ensure_secret(settings)
        self.figures = Figures(store.engine)
        self.recorder = Recorder(self.figures)  # the anonymous daily figures
        self.alerts = AlertsDesk(settings, store, library)  # 🔔 under events, the words, /alerts

    # -- entry point ----------------------------------------------------------------------
    async def process(self, item: InboxItem, user: User) -> list[Body]:
        """The replies for one input. Raises RasaUnavailable when Rasa must be retried later."""
        with self.recorder.tally() as tally:  # what the input did, counted once it is answered
            bodies = await self._process(item, user)
        await self.recorder.save(tally, item, user, bodies)
        return bodies

    async def _process(self, item: InboxItem, user: User) -> list[Body]:
        if item.kind in ("staff_message", "staff_action", "system"):
            return await self._hotline_side(item, user)
        handoff = await self.handoff.active(user)
        if handoff is not None:
            relayed = await self._during_handoff(item, user, handoff)
            if relayed is not None:
                return relayed
        if item.kind == "text":
            return await self._text(user, item.text or "")
        if item.kind == "command":
            name = str(item.data.get("name", ""))
            if name in ADMIN_COMMANDS and item.data.get("admin") is True and self.admin is not None:
                role, actor = str(item.data.get("role") or "editor"), str(item.data.get("actor") or "")  # telegram_app
                args = str(item.data.get("args") or "")  # /broadcast's lines (telegram_app)
                return await self.admin.handle(user, name, self.reply_language(user), role=role, actor=actor, args=args)
            return await self._command(user, name, str(item.data.get("payload") or ""))
        if item.kind == "callback":
            return await self._callback(user, str(item.data.get("token", "")))
        if item.kind == "media":
            return await self._media(user, item.data)
        log.warning("unknown inbox kind %s", item.kind)
        return [self._say(user, "answer_failed")]

    # -- languages --------------------------------------------------------------------------
    @staticmethod
    def _state(user: User) -> UserLanguage:
        return UserLanguage(
            chosen=user.lang_chosen,
            current=user.lang_current,
            darija=user.darija,
            telegram_code=user.telegram_code,
            asked=user.lang_asked,
        )

    def reply_language(self, user: User) -> str:
        """The language to use when there is no message to detect (commands, buttons, media)."""
        for candidate in (user.lang_chosen, user.lang_current, (user.telegram_code or "")[:2]):
            if candidate in ANSWER_LANGS:
                return candidate
        return "fr"

    async def _remember(self, user: User, decision: Decision) -> User:
        state = decision.state
        if state != self._state(user):
            await self.store.set_language(
                user.id,
                chosen=state.chosen,
                current=state.current,
                darija=state.darija,
                asked=state.asked,
            )
            user = replace(
                user,
                lang_chosen=state.chosen,
                lang_current=state.current,
                darija=state.darija,
                lang_asked=state.asked,
            )
        return user

    async def choose_language(self, user: User, lang: str, *, darija: bool | None = None) -> User:
        """An explicit choice (keyboard, /language, the change_language intent): it always wins."""
        darija = (user.darija if darija is None else darija) and lang == "ar"
        await self.store.set_language(user.id, chosen=lang, current=lang, darija=darija, asked=True)
        return replace(user, lang_chosen=lang, lang_current=lang, lang_asked=True, darija=darija)

    # -- inputs ---------------------------------------------------------------------------
    async def _text(self, user: User, raw: str, *, skip_language: bool = False) -> list[Body]:
        text = clean(raw)
        if not text:
            return [self._say(user, "empty_message")]
        if text.startswith("/"):
            # Only the gateway's commands start with "/": never let a user type a Rasa intent.
            return [self._say(user, "unknown_command")]
        key = self._keyboard_key(text)
        if key is not None:  # a key of the reply keyboard
            return await self._keyboard(user, key)
        if not skip_language:
            typed = await self._typed_answer(user, text)
            if typed is not None:
                return typed
        lang, darija = self.reply_language(user), user.darija
        if not skip_language:
            decision = decide(detect(text), self._state(user), words=word_count(text))
            user = await self._remember(user, decision)
            if decision.reply is None:
                return [await self._language_keyboard(user, "choose_language", then=text)]
            lang, darija = decision.reply, decision.darija
            if decision.followed_from is not None:
                # A full sentence in another language: answer in it, then say how to go back.
                answer = await self._text(user, raw, skip_language=True)
                previous = self.library.text(f"language_name_{decision.followed_from}", decision.followed_from)
                return [*answer, self._say(user, "language_followed", lang=lang, previous=previous)]
        kinds = danger.kinds(text)
        if kinds:
            note("urgent", kinds[0], once=True)
        if not kinds and danger.is_distress(text):
            return await self._distress(user, lang, darija and lang == "ar")
        alert = None if kinds else await self.alerts.from_words(user, text, lang, darija and lang == "ar")
        if alert is not None:  # "préviens-moi des séances à Tanger": a subscription, not a question
            return alert
        bodies: list[Body] = []
        if len(text) > MAX_NLU_CHARS:
            text = text[:MAX_NLU_CHARS]
            bodies.append(self._say(user, "too_long", lang=lang))
        metadata = {"language": lang, "darija": darija and lang == "ar", "urgent": bool(kinds), "danger_kinds": kinds}
        plan = await self._plan_needs(text, urgent=bool(kinds))
        if plan.text != text and plan.topic:
            # A part is clearer than the whole: answer its topic, keep the whole message in the
            # conversation (the hotline reads the person's own words).
            metadata["faq_topic"] = plan.topic
        messages = await self.rasa.send(user.id, text, metadata)
        bodies = await self._render(user, messages, lang, bodies)
        if plan.offers:
            bodies += await self._offer_topics(user, plan.offers, lang, darija and lang == "ar")
        return bodies

    async def _plan_needs(self, text: str, *, urgent: bool) -> needs.Plan:
        """Several needs in one long message: which part to answer, which topics to offer."""
        parts = needs.segments(text)
        if not parts:
            return needs.Plan(text, None, ())
        try:
            parses = await asyncio.gather(*(self.rasa.parse(t) for t in (text, *parts)))
        except RasaError:
            return needs.Plan(text, None, ())  # the message itself still goes to Rasa (and is retried)
        return needs.plan(text, parses[0], list(zip(parts, parses[1:], strict=True)), urgent=urgent)

    async def _offer_topics(self, user: User, topics: tuple[str, ...], lang: str, darija: bool) -> list[Body]:
        """ "You also mention:" with one button per other topic of the message."""
        known = self.library.topics()
        buttons = [
            {
                "title": known[t].title.get(lang) or known[t].title.get("fr") or t,
                "data": {"t": "payload", "payload": "/faq" + json.dumps({"faq_topic": t}, separators=(",", ":"))},
            }
            for t in topics
            if t in known
        ]
        if not buttons:
            return []
        return await self._paged(user, [self.library.text("also_needs", lang, darija)], buttons, lang)

    async def _distress(self, user: User, lang: str, darija: bool) -> list[Body]:
        """Only distress ("😭", "je suis perdu"): a kind word, the lines for danger, a person, the menu."""
        note("urgent", "distress", once=True)
        buttons = [
            {
                "title": self.library.text("button_yes_person", lang, darija),
                "data": {"t": "payload", "payload": '/request_human{"reason":"request"}'},
            },
            {"title": self.library.text("button_menu", lang, darija), "data": {"t": "payload", "payload": "/help"}},
        ]
        return await self._paged(user, [urgent_reply(self.library, ["distress"], lang, darija)], buttons, lang)

    async def _keyboard(self, user: User, key: str) -> list[Body]:
        if key == "menu":
            return await self.send_payload(user, "/help")
        if key == "urgent":
            return await self.send_payload(user, "/urgent")
        if key == "human":
            return await self.send_payload(user, '/request_human{"reason":"request"}')
        if key == LOCATION_KEY:  # its label typed, or sent by an app that cannot share a location
            return [self._say(user, "location_how", label=self._label(user, LOCATION_KEY))]
        return [await self._language_keyboard(user, "choose_language", then=None)]

    async def _typed_answer(self, user: User, text: str) -> list[Body] | None:
        """A typed "oui" / "wakha" / "suite" that answers the newest button; None: not one."""
        meaning = typed_meaning(self.library, text)
        if meaning is None:
            return None
        latest = await self.store.callback_latest(user.id)
        if latest is None:
            return None
        token, data = latest
        if data.get("t") == "forget" and meaning in ("yes", "no"):
            return await self._forget(user, confirmed=meaning == "yes")
        if data.get("t") == "more" and meaning == "more":
            await self.store.callback_spend(user.id, token)
            return await self._callback_data(user, data)
        return None

    async def send_payload(self, user: User, payload: str, *, lang: str | None = None) -> list[Body]:
        """Send a button payload such as `/help{"menu":"health"}` with the user's language."""
        lang = lang or self.reply_language(user)
        match = _PAYLOAD.match(payload.strip())
        if not match:
            return await self._text(user, payload, skip_language=True)
        entities: dict[str, Any] = {}
        if match.group("entities"):
            try:
                parsed = json.loads(match.group("entities"))
                if isinstance(parsed, dict):
                    entities.update(parsed)
            except json.JSONDecodeError:
                pass
        entities.update(language=lang, darija=user.darija and lang == "ar")
        message = "/" + match.group("intent") + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
        messages = await self.rasa.send(user.id, message, {"language": lang, "darija": entities["darija"]})
        return await self._render(user, messages, lang, [])

    async def _start(self, user: User, payload: str) -> list[Body]:
        """/start, typed or from a deep link t.me/<bot>?start=<payload>: `t_<topic>` opens that
        topic and `l_<code>` sets the language, after the welcome; anything else is a campaign
        tag, counted (no person) for the statistics."""
        topic = payload.removeprefix(TOPIC_PREFIX) if payload.startswith(TOPIC_PREFIX) else None
        topic = topic if topic in self.library.topics() else None
        lang = payload.removeprefix(LANG_PREFIX) if payload.startswith(LANG_PREFIX) else None
        lang = lang if lang in ANSWER_LANGS else None
        if payload and topic is None and lang is None:
            await self.figures.add("campaign", payload)
        if lang is not None:
            first_time = not user.lang_asked
            user = await self.choose_language(user, lang)
            bodies = [self._with_keyboard(user, self._say(user, "welcome_back"))]
            if first_time:
                bodies.append(self._say(user, "privacy_notice", days=self.settings.retention_days))
            return [*bodies, *await self.send_payload(user, "/help")]
        if user.lang_chosen in ANSWER_LANGS:  # a returning person: their language, then the topic or menu
            after = await self._topic(user, topic) if topic else await self.send_payload(user, "/help")
            return [self._with_keyboard(user, self._say(user, "welcome_back")), *after]
        return [await self._language_keyboard(user, "welcome", then=None, start=True, topic=topic)]

    async def _topic(self, user: User, topic: str) -> list[Body]:
        """The answer of one FAQ topic, as its menu button would give it."""
        return await self.send_payload(user, "/faq" + json.dumps({"faq_topic": topic}, separators=(",", ":")))

    async def _command(self, user: User, name: str, payload: str = "") -> list[Body]:
        if name == "start":
            return await self._start(user, payload)
        if name == "language":
            return [await self._language_keyboard(user, "choose_language", then=None)]
        if name == "help":
            return await self.send_payload(user, "/help")
        if name == "privacy":
            return [self._say(user, "privacy_notice", days=self.settings.retention_days)]
        if name == "human":
            return await self.send_payload(user, '/request_human{"reason":"command"}')
        if name == "group":
            return [self._say(user, "group_not_supported")]
        if name == "alerts":
            return await self.alerts.listing(user)
        if name == "forget":
            return [await self._forget_question(user)]
        return [self._say(user, "unknown_command")]

    async def _callback(self, user: User, token: str) -> list[Body]:
        data = await self.button_data(user, token) if token else None
        if data is None:
            return [self._say(user, "button_expired"), *await self.send_payload(user, "/help")]
        if data.get("t") == "more":  # one page per press: a second press sends nothing again
            await self.store.callback_spend(user.id, token)
        return await self._callback_data(user, data)

    async def _callback_data(self, user: User, data: dict[str, Any]) -> list[Body]:
        kind = data.get("t")
        if kind == "lang" and data.get("lang") in ANSWER_LANGS:
            user = await self.choose_language(user, data["lang"])
            bodies = [self._with_keyboard(user, self._say(user, "language_set"))]
            if data.get("start"):
                bodies.append(self._say(user, "privacy_notice", days=self.settings.retention_days))
            if data.get("topic"):  # arrived by a deep link to a topic
                bodies += await self._topic(user, str(data["topic"]))
            elif data.get("then"):
                bodies += await self._text(user, str(data["then"]), skip_language=True)
            else:
                bodies += await self.send_payload(user, "/help")
            return bodies
        if kind == "spent":
            return []
        if kind == "payload":
            return await self.send_payload(user, str(data.get("payload", "")))
        if kind == "forget":
            return await self._forget(user, confirmed=bool(data.get("yes")))
        if kind in ALERT_BUTTONS:
            return await self.alerts.button(user, data)
        if kind == "more":
            pages = [str(p) for p in data.get("pages") or []]
            buttons = data.get("buttons") or []
            lang = str(data.get("lang") or self.reply_language(user))
            return await self._paged(user, pages, buttons, lang, continued=True)
        return [self._say(user, "button_expired"), *await self.send_payload(user, "/help")]

    # -- hotline handoff ------------------------------------------------------------------
    async def _during_handoff(self, item: InboxItem, user: User, handoff: Handoff) -> list[Body] | None:
        """What a user's input does while a person has the conversation; None: the usual."""
        if item.kind in ("text", "media"):
            return await self.handoff.from_user(user, handoff, item.data.get("message_id"))
        if item.kind == "command" and item.data.get("name") in ("language", "privacy", "forget"):
            return None
        if item.kind == "callback":
            data = await self.button_data(user, str(item.data.get("token", "")))
            if data is not None and data.get("t") in ("lang", "more"):
                return None
        return [self._say(user, "handoff_already_open")]

    async def _hotline_side(self, item: InboxItem, user: User) -> list[Body]:
        lang = self.reply_language(user)
        data = item.data
        if item.kind == "staff_message":
            return await self.handoff.from_staff(
                user, int(data["message_id"]), int(data["staff_id"]), str(data.get("staff_name", ""))
            )
        if item.kind == "staff_action" and data.get("action") in STAFF_ACTIONS:
            return await self.handoff.staff_action(
                user, str(data["action"]), int(data["staff_id"]), str(data.get("staff_name", "")), lang
            )
        if item.kind == "system" and data.get("event") == "handoff_idle":
            return await self.handoff.close_if_idle(user, int(data["handoff_id"]), lang)
        return []

    # -- forget me ------------------------------------------------------------------------
    async def _forget_question(self, user: User) -> Body:
        lang = self.reply_language(user)
        yes = await self.store.callback_add(user.id, {"t": "forget", "yes": True})
        no = await self.store.callback_add(user.id, {"t": "forget", "yes": False})
        return {
            "text": self.library.text("forget_question", lang),
            "buttons": [
                [{"text": self.library.text("forget_yes", lang), "token": yes}],
                [{"text": self.library.text("forget_no", lang), "token": no}],
            ],
            "lang": lang,
        }

    async def _forget(self, user: User, *, confirmed: bool) -> list[Body]:
        lang = self.reply_language(user)
        if not confirmed or self.privacy is None:
            return [self._say(user, "forget_cancelled", lang=lang)]
        forgotten = await self.privacy.forget(user.id)
        text = self.library.text("forget_done", lang)
        note = forget_note(forgotten)  # what became of the bot's messages in this chat
        if note is not None:
            text += "\n\n" + self.library.text(note, lang)
        # Sent last; once delivered, the runner forgets again, its own outbox row included.
        return [{"text": text, "lang": lang, "purge_user": True}]

    async def _media(self, user: User, data: dict[str, Any]) -> list[Body]:
        """A voice note, photo, sticker or file: say kindly what works, with a way on (menu, a person).
        A location: the nearest places."""
        if data.get("type") == "location":
            where = nearby.point(data)
            return [self._say(user, "location_received")] if where is None else await self._nearest(user, *where)
        lang = self.reply_language(user)
        darija = bool(user.darija) and lang == "ar"
        buttons = [
            {"title": self.library.text("button_menu", lang, darija), "data": {"t": "payload", "payload": "/help"}},
            {
                "title": self.library.text("button_human", lang, darija),
                "data": {"t": "payload", "payload": '/request_human{"reason":"request"}'},
            },
        ]
        return await self._paged(user, [self.library.text("non_text", lang, darija)], buttons, lang)

    # -- nearest help ---------------------------------------------------------------------
    async def _near_offer(self, user: User, directive: dict[str, Any], lang: str) -> list[Body]:
        """After an answer that depends on where the person is: remember what it was about (a
        note, deleted with the rest) and offer the key that shares the location."""
        topic = str(directive.get("topic") or "")
        if directive.get("events"):
            note: dict[str, Any] = {"note": "near", "events": True}
        elif topic in self.library.topics():
            note = {"note": "near", "topic": topic}
        else:
            return []
        await self.store.callback_add(user.id, note)
        key = self._label(user, LOCATION_KEY)
        body = self._with_keyboard(user, self._say(user, "location_prompt", lang=lang, label=key))
        return [{**body, "location_key": key}]

    async def _nearest(self, user: User, lat: float, lon: float) -> list[Body]:
        """A shared location: the nearest cities with the service of the latest offer (the general
        help services without one), then the usual keyboard. The coordinates are not kept."""
        lang = self.reply_language(user)
        darija = bool(user.darija) and lang == "ar"
        latest = await self.store.callback_latest(user.id, note="near")
        note = latest[1] if latest else {}
        places = nearby.places(self.library.content_dir)
        ranked = places.by_distance(lat, lon)
        if note.get("events") and ranked:
            city, km = ranked[0]
            if km <= nearby.FAR_KM:  # the events of the nearest city (and what else was asked before)
                near = self.library.text("near_city", lang, darija, city=city.name(lang), km=max(1, round(km)))
                text = self.library.text("near_events_city", lang, darija, city=near)
                text += " " + self.library.text("location_not_kept", lang, darija)
                events = "/ask_events" + json.dumps({"city": city.id}, separators=(",", ":"))
                return [self._with_keyboard(user, {"text": text, "lang": lang}), *await self.send_payload(user, events)]
        topic = self.library.topics().get(str(note.get("topic") or ""))
        text = nearby.reply(self.library, places, lat, lon, topic, lang, darija)
        return [self._with_keyboard(user, {"text": text, "lang": lang})]

    # -- buttons --------------------------------------------------------------------------
    def _signature(self, user: User, payload: str) -> str:
        digest = hmac.new(self.secret.encode(), f"{user.id}\0{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:8]).decode()[:10]

    async def button_token(self, user: User, data: dict[str, Any]) -> str:
        """Callback data for a button: a short payload signed for this user (no database), or
        a random token pointing at a stored row (language choices, "more" pages, long payloads)."""
        if data.get("t") == "payload":
            payload = str(data.get("payload", ""))
            token = "~" + self._signature(user, payload) + payload
            if len(token.encode()) <= 64:
                return token
        return await self.store.callback_add(user.id, data)

    async def button_data(self, user: User, token: str) -> dict[str, Any] | None:
        """What a pressed button means; None if it was never issued to this user."""
        if token.startswith("~") and len(token) > 11:
            payload = token[11:]
            if hmac.compare_digest(token[1:11], self._signature(user, payload)):
                return {"t": "payload", "payload": payload}
            return None
        return await self.store.callback_get(user.id, token)

    # -- rendering ------------------------------------------------------------------------
    def _with_keyboard(self, user: User, body: Body) -> Body:
        """`body` with the lasting reply keyboard (Menu · Urgent · A person · Language)."""
        lang = self.reply_language(user)
        darija = bool(user.darija) and lang == "ar"
        labels = [self.library.text(f"keyboard_{key}", lang, darija) for key in KEYBOARD_KEYS]
        return {**body, "keyboard": [labels[:2], labels[2:]]}

    def _label(self, user: User, key: str) -> str:
        """The label of a key of the reply keyboard, in the keyboard's language."""
        lang = self.reply_language(user)
        return self.library.text(f"keyboard_{key}", lang, bool(user.darija) and lang == "ar")

    def _keyboard_key(self, text: str) -> str | None:
        """Which key of the reply keyboard `text` is (its label in any language), or None."""
        folded = fold(text)
        for key in (*KEYBOARD_KEYS, LOCATION_KEY):
            entry = self.library.messages().get(f"keyboard_{key}", {})
            if any(fold(label) == folded for label in entry.values()):
                return key
        return None

    def _say(self, user: User, key: str, *, lang: str | None = None, **values: Any) -> Body:
        lang = lang or self.reply_language(user)
        darija = bool(user.darija) and lang == "ar"
        return {"text": self.library.text(key, lang, darija, **values), "lang": lang}

    async def _language_keyboard(
        self, user: User, key: str, *, then: str | None, start: bool = False, topic: str | None = None
    ) -> Body:
        row: list[Button] = []
        for lang in ANSWER_LANGS:
            data: dict[str, Any] = {"t": "lang", "lang": lang}
            if then:
                data["then"] = then
            if topic:
                data["topic"] = topic
            if start:
                data["start"] = True
            row.append(
                {
                    "text": self.library.text(f"language_name_{lang}", lang),
                    "token": await self.store.callback_add(user.id, data),
                }
            )
        return {"text": self.library.text(key, "fr"), "buttons": [row], "lang": "fr"}

    async def _render(self, user: User, messages: list[dict[str, Any]], lang: str, bodies: list[Body]) -> list[Body]:
        self.recorder.replies(messages)  # what was answered: a topic, "not understood", urgent
        for message in messages:
            custom = message.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("dalil"), dict):
                if custom["dalil"].get("op") == "alert_offer" and bodies:  # 🔔 under the listing just rendered
                    bodies[-1] = await self.alerts.offer(user, custom["dalil"], lang, bodies[-1])
                    continue
                bodies += await self._directive(user, custom["dalil"], lang)
                continue
            text = str(message.get("text") or "").strip()
            buttons = [
                {"title": str(b.get("title", "")), "data": {"t": "payload", "payload": str(b.get("payload", ""))}}
                for b in message.get("buttons") or []
                if isinstance(b, dict) and b.get("title")
            ]
            if not text and not buttons:
                continue
            bodies += await self._paged(user, split_long(text), buttons, lang)
        if not bodies:
            # Rasa answered nothing (e.g. the action server is down): never leave the user in silence.
            bodies.append(self._say(user, "answer_failed", lang=lang))
        return bodies

    async def _paged(
        self, user: User, pages: list[str], buttons: list[dict[str, Any]], lang: str, *, continued: bool = False
    ) -> list[Body]:
        """One page now; a "more" button carries the rest. Buttons go with the last page, and the
        last page of an answer read with "more" says that it is the last."""
        if not pages:
            pages = [""]
        first, rest = pages[0], pages[1:]
        if continued and not rest:
            first = f"{first}\n\n{self.library.text('last_page', lang, bool(user.darija) and lang == 'ar')}".strip()
        if rest:
            token = await self.store.callback_add(
                user.id, {"t": "more", "pages": rest, "buttons": buttons, "lang": lang}
            )
            rows: list[list[Button]] = [[{"text": self.library.text("more_button", lang), "token": token}]]
        else:
            rows = [[{"text": b["title"], "token": await self.button_token(user, b["data"])}] for b in buttons]
        body: Body = {"text": first, "lang": lang}
        if rows:
            body["buttons"] = rows
        return [body]

    async def _directive(self, user: User, directive: dict[str, Any], lang: str) -> list[Body]:
        op = directive.get("op")
        if op == "count":  # for the daily figures (Recorder.replies), never shown
            return []
        if op == "handoff":
            return await self.handoff.open(
                user, lang, reason=str(directive.get("reason") or "request"), urgent=bool(directive.get("urgent"))
            )
        if op == "set_language" and directive.get("lang") in ANSWER_LANGS:
            await self.choose_language(user, directive["lang"], darija=bool(directive.get("darija")))
            return []
        if op == "choose_language":
            return [await self._language_keyboard(user, "choose_language", then=None)]
        if op == "forget":
            return [await self._forget_question(user)]
        if op == "near":
            return await self._near_offer(user, directive, lang)
        log.warning("unknown directive %s", op)
        return []


def typed_meaning(library: Library, text: str) -> str | None:
    """`yes`, `no` or `more` when the whole message is one of content/typed_answers.yml's words."""
    words = library.typed_answers()
    folded = fold(text)
    for meaning in ("yes", "no", "more"):
        if folded in words.get(meaning, ()):
            return meaning
    return None


def split_long(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Pages of a reply: the author's page breaks, then paragraph cuts for Telegram's size limit."""
    pages: list[str] = []
    for page in text.split(PAGE_BREAK):
        page = page.strip()
        while len(page) > limit:
            cut = page.rfind("\n\n", 0, limit)
            if cut <= 0:
                cut = page.rfind("\n", 0, limit)
            if cut <= 0:
                cut = page.rfind(" ", 0, limit)
            if cut <= 0:
                cut = limit
            pages.append(page[:cut].strip())
            page = page[cut:].strip()
        if page:
            pages.append(page)
    return pages
