"""Hotline handoff: a person from the hotline takes over a conversation, then hands it back.

Owns the handoff's life: opening (one forum topic per user in the staff supergroup, reused; a
context card with a pseudonymous label and the recent transcript from Rasa's tracker), relaying
(user -> topic, staff -> user, with copyMessage so media and formatting survive and staff names
stay hidden), staff actions (take, hand back to the bot, close), idle closing, and telling Rasa
(pause/resume events) so the tracker reflects it. All state is in the database.
Returns transport-neutral bodies like the engine; a body with "chat_id" goes to the staff group.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.core.bodies import Body
from bot.core.content import Library, load_yaml
from bot.core.languages import answer_lang
from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient, RasaError
from bot.storage.store import Handoff, Store, User, utcnow

log = logging.getLogger(__name__)

REASONS = ("request", "command", "fallback", "urgent")
STAFF_ACTIONS = ("take", "bot", "close")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TopicGone(Exception):
    """The forum topic no longer exists (deleted by staff, or earlier)."""


class HotlineRefused(Exception):
    """Telegram refused a hotline call for good (missing rights, message too old): a retry
    would get the same answer. Other exceptions (network, 5xx, flood control) may pass."""


class HotlineOps(Protocol):
    """Forum-topic calls that need an answer right away (the thread id), not the outbox.

    close_topic, delete_topic and delete_messages raise TopicGone or HotlineRefused when
    Telegram says so, anything else when a retry may work."""

    async def create_topic(self, name: str) -> int: ...

    async def reopen_topic(self, thread_id: int) -> bool:
        """Reopen a closed topic; False if the topic no longer exists."""

    async def close_topic(self, thread_id: int) -> None:
        """Close a topic (already closed is fine)."""

    async def delete_topic(self, thread_id: int) -> None:
        """Delete a topic and its messages (forget me, retention)."""

    async def delete_messages(self, message_ids: list[int]) -> None:
        """Delete messages of the bot in the hotline group (at most 100)."""


@dataclass(frozen=True)
class OfficeHours:
    timezone: str = "Africa/Casablanca"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OfficeHours:
        return cls(
            timezone=str(raw.get("timezone") or "Africa/Casablanca"),
            days=tuple(str(d)[:3].lower() for d in raw.get("days") or cls.days),
            start=dt.time.fromisoformat(str(raw.get("start") or "09:00")),
            end=dt.time.fromisoformat(str(raw.get("end") or "17:00")),
        )

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(self.timezone))

    def is_open(self, now: dt.datetime) -> bool:
        local = self.local(now)
        return _DAYS[local.weekday()] in self.days and self.start <= local.time() < self.end

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """The next moment the hotline opens (local time), within two weeks."""
        local = self.local(now)
        for offset in range(15):
            day = local.date() + dt.timedelta(days=offset)
            opening = dt.datetime.combine(day, self.start, tzinfo=local.tzinfo)
            if _DAYS[day.weekday()] in self.days and opening > local:
                return opening
        return local

    def describe(self) -> str:
        days = f"{self.days[0]}–{self.days[-1]}" if len(self.days) > 1 else self.days[0]
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M}"


def user_label(user_id: str) -> str:
    """What staff call a person: short, stable, and not their name or number."""
    return "P-" + user_id.removeprefix("u")[:6].upper()


class HandoffService:
    """Opens, relays and closes handoffs for one gateway process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        rasa: RasaClient,
        library: Library,
        ops: HotlineOps | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.library = library
        self.ops = ops

    # -- configuration --------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self.settings.hotline_chat_id and self.ops is not None)

    def _config(self) -> dict[str, Any]:
        return load_yaml(self.library.content_dir / "hotline.yml") or {}

    def office_hours(self) -> OfficeHours:
        return OfficeHours.from_dict(self._config().get("office_hours") or {})

    @property
    def staff_lang(self) -> str:
        return answer_lang(self._config().get("staff_language"))

    def idle_minutes(self) -> int:
        return int(self._config().get("idle_close_minutes") or 120)

    def is_staff(self, telegram_user_id: int) -> bool:
        """Staff powers: HOTLINE_STAFF_IDS if set, else anyone posting in the hotline group."""
        return not self.settings.hotline_staff_ids or telegram_user_id in self.settings.hotline_staff_ids

    def _staff(self, key: str, **values: Any) -> str:
        return self.library.text(key, self.staff_lang, **values)

    def _to_staff(self, thread_id: int, text: str, *, html_text: bool = False, buttons: Any = None) -> Body:
        body: Body = {"chat_id": self.settings.hotline_chat_id, "thread_id": thread_id, "text": text}
        if html_text:
            body["html"] = True
        if buttons:
            body["buttons"] = buttons
        return body

    # -- opening --------------------------------------------------------------------------
    async def open(self, user: User, lang: str, *, reason: str, urgent: bool) -> list[Body]:
        """Start a handoff (or remind the user one is open); without a hotline group, the phone."""
        reason = reason if reason in REASONS else "request"
        if not self.enabled:
            topic, _ = await self._context(user, limit=1)
            return [self._by_phone(lang, topic)]
        current = await self.store.handoff_open_for(user.id)
        if current is not None:
            if urgent and not current.urgent:
                await self.store.handoff_update(current.id, urgent=True)
                assert current.thread_id is not None
                return [
                    {"text": self.library.text("handoff_urgent_opened", lang), "lang": lang},
                    self._to_staff(current.thread_id, self._staff("staff_card_urgent")),
                ]
            return [{"text": self.library.text("handoff_already_open", lang), "lang": lang}]
        thread_id = await self._thread_for(user)
        context_topic, transcript = await self._context(user)
        handoff = await self.store.handoff_create(
            user.id, reason=reason, urgent=urgent, language=lang, context_topic=context_topic, thread_id=thread_id
        )
        try:
            await self.rasa.append_events(user.id, [{"event": "pause"}])
        except RasaError as exc:  # the relay works without it; the bot stays quiet anyway
            log.warning("could not pause the Rasa conversation: %s", exc)
        log.info("handoff %s opened (reason=%s urgent=%s)", handoff.id, reason, urgent)
        return [self._user_opening(lang, urgent), self._card(user, handoff, transcript)]

    async def _thread_for(self, user: User) -> int:
        assert self.ops is not None
        thread_id = await self.store.topic_for(user.id)
        if thread_id is not None and await self.ops.reopen_topic(thread_id):
            return thread_id
        thread_id = await self.ops.create_topic(user_label(user.id))
        await self.store.topic_set(user.id, thread_id)
        return thread_id

    def _user_opening(self, lang: str, urgent: bool) -> Body:
        hours = self.office_hours()
        now = utcnow()
        if urgent:
            if hours.is_open(now):
                return {"text": self.library.text("handoff_urgent_opened", lang), "lang": lang}
            # Never "as soon as possible" from a closed desk: when it opens, and who answers now.
            when = format_opening(hours.next_opening(now), lang, self.library)
            return {"text": self.library.text("handoff_urgent_closed_hours", lang, when=when), "lang": lang}
        if hours.is_open(now):
            minutes = int(self._config().get("usual_wait_minutes") or 30)
            return {"text": self.library.text("handoff_opened", lang, minutes=minutes), "lang": lang}
        when = format_opening(hours.next_opening(now), lang, self.library)
        return {"text": self.library.text("handoff_opened_closed_hours", lang, when=when), "lang": lang}

    def _by_phone(self, lang: str, topic: str | None = None) -> Body:
        """Without a hotline group: the line for the person's need (their last topic, or its
        family, in content/hotline.yml `lines_by_need`), else the hotline's own contacts."""
        config = self._config()
        by_need = config.get("lines_by_need") or {}
        topic_id = topic.split("/", 1)[1] if topic and topic.startswith("faq/") else None
        family = self.library.topics()[topic_id].family if topic_id in self.library.topics() else None
        ids = by_need.get(topic_id) or by_need.get(family) or config.get("hotline_contacts") or []
        contacts = self.library.contact_block(ids, lang)
        text = f"{self.library.text('hotline_by_phone', lang)}\n\n{contacts}"
        return {"text": text, "lang": lang}

    async def _context(self, user: User, limit: int = 12) -> tuple[str | None, list[str]]:
        """The last FAQ topic or intent, and the last exchanges, from Rasa's tracker."""
        try:
            tracker = await self.rasa.tracker(user.id)
        except RasaError as exc:
            log.warning("no transcript for the handoff card: %s", exc)
            return None, []
        lines: list[str] = []
        topic: str | None = None
        for event in tracker.get("events") or []:
            kind = event.get("event")
            if kind == "user":
                text = str(event.get("text") or "")
                parse = event.get("parse_data") or {}
                intent = (parse.get("intent") or {}).get("name")
                if intent == "faq":
                    key = (((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}).get(
                        "intent_response_key"
                    )
                    intent = key or intent
                if intent and intent not in ("request_human", "nlu_fallback"):
                    topic = intent
                lines.append("👤 " + ("[…]" if text.startswith("/") else _short(text)))
            elif kind == "bot" and event.get("text"):
                lines.append("🤖 " + _short(str(event["text"]), 160))
        return topic, lines[-limit:]

    def _card(self, user: User, handoff: Handoff, transcript: list[str]) -> Body:
        esc = html.escape
        lang_key = "ary" if (handoff.language == "ar" and user.darija) else (handoff.language or "fr")
        language = self.library.text(f"language_name_{lang_key}", self.staff_lang)
        opened = self.office_hours().local(handoff.opened_at).strftime("%Y-%m-%d %H:%M")
        parts: list[str] = []
        if handoff.urgent:
            parts.append(f"<b>{esc(self._staff('staff_card_urgent'))}</b>")
        parts.append(f"<b>{esc(self._staff('staff_card_header', label=user_label(user.id)))}</b>")
        parts.append(
            esc(
                self._staff(
                    "staff_card_details",
                    language=language,
                    reason=self._staff(f"staff_reason_{handoff.reason}"),
                    topic=handoff.context_topic or "—",
                    opened=opened,
                )
            )
        )
        parts.append(f"<b>{esc(self._staff('staff_card_transcript'))}</b>")
        parts.append("\n".join(esc(line) for line in transcript) or esc(self._staff("staff_no_transcript")))
        parts.append(f"<i>{esc(self._staff('staff_card_help'))}</i>")
        text = "\n\n".join(parts)
        if len(text) > 3900:
            text = text[-3900:]
        buttons = [
            [
                {"text": self._staff("staff_button_take"), "token": f"h:take:{handoff.id}"},
                {"text": self._staff("staff_button_bot"), "token": f"h:bot:{handoff.id}"},
                {"text": self._staff("staff_button_close"), "token": f"h:close:{handoff.id}"},
            ]
        ]
        assert handoff.thread_id is not None
        return self._to_staff(handoff.thread_id, text, html_text=True, buttons=buttons)

    # -- relaying -------------------------------------------------------------------------
    async def active(self, user: User) -> Handoff | None:
        if not self.settings.hotline_chat_id:
            return None
        return await self.store.handoff_open_for(user.id)

    async def from_user(self, user: User, handoff: Handoff, message_id: int | None) -> list[Body]:
        """A user's message during a handoff: copied into their topic, never answered by the bot."""
        await self.store.handoff_touch(handoff.id)
        if message_id is None or user.chat_id is None or handoff.thread_id is None:
            return []
        return [
            {
                "chat_id": self.settings.hotline_chat_id,
                "thread_id": handoff.thread_id,
                "copy": {"from_chat_id": user.chat_id, "message_id": message_id},
            }
        ]

    async def from_staff(self, user: User, message_id: int, staff_id: int, staff_name: str) -> list[Body]:
        """A staff message in the user's topic: copied to the user (no staff name)."""
        handoff = await self.store.handoff_open_for(user.id)
        thread_id = await self.store.topic_for(user.id)
        if handoff is None:
            return [self._to_staff(thread_id, self._staff("staff_no_case"))] if thread_id else []
        bodies: list[Body] = []
        if handoff.staff_id is None:
            await self.store.handoff_update(handoff.id, staff_id=staff_id, staff_name=staff_name[:64])
        await self.store.handoff_touch(handoff.id, staff_reply=True)
        hotline = self.settings.hotline_chat_id
        if user.chat_id is not None and hotline is not None:  # a staff message comes from the hotline group
            bodies.append(
                {
                    "chat_id": user.chat_id,
                    "copy": {"from_chat_id": hotline, "message_id": message_id},
                }
            )
        return bodies

    async def staff_action(self, user: User, action: str, staff_id: int, staff_name: str, lang: str) -> list[Body]:
        """take / bot / close, from a command in the topic or a button on the card."""
        handoff = await self.store.handoff_open_for(user.id)
        thread_id = await self.store.topic_for(user.id)
        if handoff is None or thread_id is None:
            return [self._to_staff(thread_id, self._staff("staff_no_case"))] if thread_id else []
        name = staff_name[:64] or str(staff_id)
        if action == "take":
            await self.store.handoff_update(handoff.id, staff_id=staff_id, staff_name=name)
            await self.store.handoff_touch(handoff.id)
            return [
                self._to_staff(thread_id, self._staff("staff_taken", name=name)),
                {"text": self.library.text("handoff_taken", lang), "lang": lang},
            ]
        if action in ("bot", "close"):
            if not await self.store.handoff_close(handoff.id, closed_by=f"staff_{action}"):
                return []
            await self._resume(user)
            if action == "close" and self.ops is not None:
                try:
                    await self.ops.close_topic(thread_id)
                except Exception as exc:  # closing the topic is tidy-up only
                    log.warning("could not close the forum topic: %s", exc)
            key = "staff_back" if action == "bot" else "staff_closed"
            log.info("handoff %s ended by staff (%s)", handoff.id, action)
            return [
                self._to_staff(thread_id, self._staff(key, name=name)),
                {"text": self.library.text("handoff_back", lang), "lang": lang},
            ]
        return []

    async def close_if_idle(self, user: User, handoff_id: int, lang: str) -> list[Body]:
        handoff = await self.store.handoff_get(handoff_id)
        minutes = self.idle_minutes()
        if handoff is None or handoff.status != "open":
            return []
        if utcnow() - handoff.last_activity_at < dt.timedelta(minutes=minutes):
            return []
        if not await self.store.handoff_close(handoff.id, closed_by="idle"):
            return []
        await self._resume(user)
        log.info("handoff %s closed after %s idle minutes", handoff.id, minutes)
        bodies: list[Body] = [{"text": self.library.text("handoff_idle_user", lang), "lang": lang}]
        if handoff.thread_id is not None:
            bodies.append(self._to_staff(handoff.thread_id, self._staff("staff_idle", minutes=minutes)))
        return bodies

    async def idle_handoffs(self) -> list[Handoff]:
        return await self.store.handoffs_idle(utcnow() - dt.timedelta(minutes=self.idle_minutes()))

    async def _resume(self, user: User) -> None:
        try:
            await self.rasa.append_events(user.id, [{"event": "resume"}])
        except RasaError as exc:
            log.warning("could not resume the Rasa conversation: %s", exc)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_opening(moment: dt.datetime, lang: str, library: Library | None = None) -> str:
    """ "lundi 1 décembre à 09:00" in the user's language (Babel; the pattern is content data)."""
    from babel.dates import format_datetime

    from bot.core.content import library as default_library

    lib = library or default_library()
    locale = {"fr": "fr_FR", "ar": "ar_MA", "en": "en_GB"}.get(lang, "fr_FR")
    return format_datetime(moment, lib.text("opening_time_pattern", lang), locale=locale)
