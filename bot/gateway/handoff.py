"""Hotline handoff: a person from the hotline takes over a conversation, then hands it back.

Owns the handoff's life: opening (one forum topic per user in the staff supergroup, reused; a
context card with a pseudonymous label and the recent transcript from Rasa's tracker, posted and
pinned in the topic), relaying (user -> topic, staff -> user, with copyMessage so media and
formatting survive and staff names stay hidden), staff actions (take, hand back to the bot,
close), idle closing, the topic's name showing the case's state (content/hotline.yml
`topic_names`), and telling Rasa (pause/resume events) so the tracker reflects it. All state is
in the database. Returns transport-neutral bodies like the engine; a body with "chat_id" goes to
the staff group.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from typing import Any, Protocol

from bot.core.bodies import Body, Button
from bot.core.content import Library, load_yaml
from bot.core.hours import OfficeHours
from bot.core.languages import answer_lang
from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient, RasaError
from bot.gateway.stats import note, note_first_reply
from bot.storage.store import Handoff, Store, User, utcnow

log = logging.getLogger(__name__)

REASONS = ("request", "command", "fallback", "urgent")
STAFF_ACTIONS = ("take", "bot", "close")

CARD_LIMIT = 4000  # one message of the card, in UTF-16 units (what Telegram counts; its limit is 4,096)
MIN_TRANSCRIPT = 1500  # room the transcript keeps even when the header is long (the card then splits)
TOPIC_NAME_LIMIT = 128  # Telegram's limit for a forum topic's name
# The topic's name per state of the case; content/hotline.yml `topic_names` replaces these.
TOPIC_NAMES = {
    "open": "{label}",
    "urgent": "🆘 {label}",
    "taken": "✋ {label} · {name}",
    "back": "🤖 {label}",
    "closed": "✅ {label}",
}
Line = tuple[str, str]  # a line of the card: (plain text, "" or the tag around it: "b", "i")


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

    async def post(self, thread_id: int, text: str, buttons: list[list[Button]] | None = None) -> int:
        """Send a Telegram-HTML message in a topic now (the card, to pin it); its message id."""

    async def pin(self, message_id: int) -> None:
        """Pin a message of the hotline group in its topic, without notifying anyone."""

    async def rename_topic(self, thread_id: int, name: str) -> None:
        """Rename a topic (the same name again is fine)."""


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
            note("handoffs", "phone")  # the daily figures: no hotline group, its number given
            return [self._by_phone(lang, topic)]
        current = await self.store.handoff_open_for(user.id)
        if current is not None:
            if urgent and not current.urgent:
                await self.store.handoff_update(current.id, urgent=True)
                assert current.thread_id is not None
                if current.staff_id is None:  # taken: the topic keeps the name of who has it
                    await self._rename(current.thread_id, "urgent", user.id)
                return [
                    {"text": self.library.text("handoff_urgent_opened", lang), "lang": lang},
                    self._to_staff(current.thread_id, self._staff("staff_card_urgent")),
                ]
            return [{"text": self.library.text("handoff_already_open", lang), "lang": lang}]
        thread_id = await self._thread_for(user, "urgent" if urgent else "open")
        context_topic, transcript = await self._context(user)
        handoff = await self.store.handoff_create(
            user.id, reason=reason, urgent=urgent, language=lang, context_topic=context_topic, thread_id=thread_id
        )
        try:
            await self.rasa.append_events(user.id, [{"event": "pause"}])
        except RasaError as exc:  # the relay works without it; the bot stays quiet anyway
            log.warning("could not pause the Rasa conversation: %s", exc)
        log.info("handoff %s opened (reason=%s urgent=%s)", handoff.id, reason, urgent)
        note("handoffs", reason)  # the daily figures
        return [self._user_opening(lang, urgent), *await self._post_card(user, handoff, transcript)]

    async def _thread_for(self, user: User, state: str) -> int:
        """The person's topic, reopened and renamed for the new case, or a new one."""
        assert self.ops is not None
        thread_id = await self.store.topic_for(user.id)
        if thread_id is not None and await self.ops.reopen_topic(thread_id):
            await self._rename(thread_id, state, user.id)
            return thread_id
        thread_id = await self.ops.create_topic(self.topic_name(state, user_label(user.id)))
        await self.store.topic_set(user.id, thread_id)
        return thread_id

    # -- the topic's name -----------------------------------------------------------------
    def topic_name(self, state: str, label: str, staff: str = "") -> str:
        """The name of a topic for a case in `state` (TOPIC_NAMES), at most 128 units long:
        a long staff name is shortened, never the label."""
        default = TOPIC_NAMES[state]
        template = str((self._config().get("topic_names") or {}).get(state) or default)

        def fill(name: str) -> str:
            try:
                return template.format(label=label, name=name)
            except (KeyError, IndexError, ValueError):  # a mistyped placeholder in hotline.yml
                return default.format(label=label, name=name)

        full = fill(staff)
        over = _units(full) - TOPIC_NAME_LIMIT
        if over > 0 and staff:
            full = fill(_cut(staff, _units(staff) - over - 1) + "…")
        return _cut(full, TOPIC_NAME_LIMIT).strip() or label

    async def _rename(self, thread_id: int | None, state: str, user_id: str, staff: str = "") -> None:
        """Show the case's state in the topic's name; a refusal changes nothing else."""
        if self.ops is None or thread_id is None:
            return
        try:
            await self.ops.rename_topic(thread_id, self.topic_name(state, user_label(user_id), staff))
        except Exception as exc:
            _harmless("forum topic not renamed", exc)

    def _user_opening(self, lang: str, urgent: bool) -> Body:
        hours = self.office_hours()
        now = utcnow()
        if urgent:
            if hours.is_open(now):
                return {"text": self.library.text("handoff_urgent_opened", lang), "lang": lang}
            # Never "as soon as possible" from a closed desk: when it opens, and who answers now.
            when, note = hours.opening_words(now, lang, self.library)  # holidays and closures skipped
            return {"text": self.library.text("handoff_urgent_closed_hours", lang, when=when) + note, "lang": lang}
        if hours.is_open(now):
            minutes = int(self._config().get("usual_wait_minutes") or 30)
            return {"text": self.library.text("handoff_opened", lang, minutes=minutes), "lang": lang}
        when, note = hours.opening_words(now, lang, self.library)
        return {"text": self.library.text("handoff_opened_closed_hours", lang, when=when) + note, "lang": lang}

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

    # -- the card -----------------------------------------------------------------------
    def card(self, user: User, handoff: Handoff, transcript: list[str]) -> list[str]:
        """The context card as Telegram-HTML messages of at most CARD_LIMIT units, each valid
        on its own: the header (urgent marker, label, details) first and whole, then as many of
        the newest transcript lines as fit (the oldest go first), then the commands."""
        lang_key = "ary" if (handoff.language == "ar" and user.darija) else (handoff.language or "fr")
        language = self.library.text(f"language_name_{lang_key}", self.staff_lang)
        opened = self.office_hours().local(handoff.opened_at).strftime("%Y-%m-%d %H:%M")
        head: list[Line] = _lines(self._staff("staff_card_urgent"), "b") if handoff.urgent else []
        head += _lines(self._staff("staff_card_header", label=user_label(user.id)), "b")
        details = self._staff(
            "staff_card_details",
            language=language,
            reason=self._staff(f"staff_reason_{handoff.reason}"),
            topic=handoff.context_topic or "—",
            opened=opened,
        )
        head += [("", ""), *_lines(details), ("", ""), *_lines(self._staff("staff_card_transcript"), "b")]
        tail: list[Line] = [("", ""), *_lines(self._staff("staff_card_help"), "i")]
        lines = [line for text in transcript for line in _lines(text)]
        room = max(MIN_TRANSCRIPT, CARD_LIMIT - _size(head) - _size(tail))
        kept = _newest(lines, room)
        if len(kept) < len(lines):
            earlier = _lines(self._staff("staff_card_earlier", count=len(lines) - len(kept)), "i")
            kept = earlier + _newest(lines, room - _size(earlier))
        return split_html(head + (kept or [(self._staff("staff_no_transcript"), "")]) + tail)

    def _card_buttons(self, handoff: Handoff) -> list[list[Button]]:
        return [
            [
                {"text": self._staff("staff_button_take"), "token": f"h:take:{handoff.id}"},
                {"text": self._staff("staff_button_bot"), "token": f"h:bot:{handoff.id}"},
                {"text": self._staff("staff_button_close"), "token": f"h:close:{handoff.id}"},
            ]
        ]

    async def _post_card(self, user: User, handoff: Handoff, transcript: list[str]) -> list[Body]:
        """Post the card in the topic now and pin its first message (with the buttons), so staff
        find it at the top of the topic. What Telegram does not take now goes through the outbox
        like any note, unpinned; the ids of what was posted are kept for forget and retention."""
        assert handoff.thread_id is not None
        thread_id = handoff.thread_id
        bodies = [
            self._to_staff(thread_id, text, html_text=True, buttons=None if n else self._card_buttons(handoff))
            for n, text in enumerate(self.card(user, handoff, transcript))
        ]
        if self.ops is None:
            return bodies
        for n, body in enumerate(bodies):
            try:
                message_id = await self.ops.post(thread_id, body["text"], body.get("buttons"))
            except Exception as exc:
                _harmless("card sent through the outbox", exc, logging.WARNING)
                return bodies[n:]
            # Kept like an outbox message to the topic, for /forget and retention.
            await self.store.outbox_sent(None, message_id, user_id=user.id, hotline=True)
            if n == 0:
                try:
                    await self.ops.pin(message_id)
                except Exception as exc:
                    _harmless("card not pinned", exc)
        return []

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
            await self._rename(thread_id, "taken", user.id, staff_name[:64] or str(staff_id))
        if handoff.first_staff_reply_at is None:
            note_first_reply(handoff.opened_at)  # the daily figures: the wait, in seconds
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
            await self._rename(thread_id, "taken", user.id, name)
            return [
                self._to_staff(thread_id, self._staff("staff_taken", name=name)),
                {"text": self.library.text("handoff_taken", lang), "lang": lang},
            ]
        if action in ("bot", "close"):
            if not await self.store.handoff_close(handoff.id, closed_by=f"staff_{action}"):
                return []
            await self._resume(user)
            await self._rename(thread_id, "back" if action == "bot" else "closed", user.id)
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
        await self._rename(handoff.thread_id, "closed", user.id)
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


def _harmless(what: str, exc: Exception, level: int = logging.INFO) -> None:
    """Log a hotline call that failed without harm (rename, pin): Telegram's words or the kind
    of error, never an id. "Not modified" (the name was already right) only at DEBUG."""
    reason = str(exc) if isinstance(exc, (HotlineRefused, TopicGone)) else type(exc).__name__
    if "not_modified" in reason.lower().replace(" ", "_"):
        level = logging.DEBUG
    log.log(level, "%s (%s)", what, reason)


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it (an emoji is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str, units: int) -> str:
    """The longest start of `text` of at most `units` UTF-16 units."""
    out: list[str] = []
    for char in text:
        units -= _units(char)
        if units < 0:
            break
        out.append(char)
    return "".join(out)


def _lines(text: str, tag: str = "") -> list[Line]:
    return [(line, tag) for line in text.split("\n")]


def _html(line: Line) -> str:
    """One line of the card as Telegram HTML: the person's text escaped, the tag closed on it."""
    text, tag = line
    escaped = html.escape(text, quote=False)  # <, > and & are all Telegram needs escaped
    return f"<{tag}>{escaped}</{tag}>" if tag and text else escaped


def _size(lines: list[Line]) -> int:
    return sum(_units(_html(line)) + 1 for line in lines)


def _newest(lines: list[Line], room: int) -> list[Line]:
    """The last lines whose HTML fits in `room` units (the newest one at least)."""
    kept: list[Line] = []
    size = 0
    for line in reversed(lines):
        size += _size([line])
        if kept and size > room:
            break
        kept.append(line)
    return kept[::-1]


def _pieces(line: Line, limit: int) -> list[str]:
    """A line as HTML pieces of at most `limit` units; a line longer than that (never one of
    the card's, in practice) is cut between characters, each piece with its own tags."""
    whole = _html(line)
    if _units(whole) <= limit:
        return [whole]
    text, tag = line
    overhead = _units(_html(("x", tag))) - 1
    pieces: list[str] = []
    piece: list[str] = []
    size = overhead
    for char in text:
        width = _units(html.escape(char, quote=False))
        if piece and size + width > limit:
            pieces.append(_html(("".join(piece), tag)))
            piece, size = [], overhead
        piece.append(char)
        size += width
    pieces.append(_html(("".join(piece), tag)))
    return pieces


def split_html(lines: list[Line], limit: int = CARD_LIMIT) -> list[str]:
    """Lines packed into messages of at most `limit` UTF-16 units, cut only between lines (every
    tag opens and closes on its line, so each message is valid HTML on its own); no message
    starts or ends with a blank line."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        for piece in _pieces(line, limit):
            width = _units(piece)
            if parts[-1] and size + 1 + width > limit:
                parts.append([])
            if not parts[-1]:
                size = -1
                if not piece.strip():
                    continue
            parts[-1].append(piece)
            size += 1 + width
    messages = []
    for part in parts:
        while part and not part[-1].strip():
            part.pop()
        if part:
            messages.append("\n".join(part))
    return messages


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
