"""The hotline desk, offline: the context card (trimmed, escaped, split into valid Telegram HTML),
the topic's name per state of the case, and the pinned card (issue #19, item 8)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.core.content import library
from bot.core.settings import Settings
from bot.gateway.handoff import CARD_LIMIT, HandoffService, HotlineRefused, split_html, user_label
from bot.storage.db import create_engine, migrate
from bot.storage.store import Handoff, Store, User, utcnow
from tests.fakes.strict import MAX_TEXT, check_text, parse_html, utf16_len

HOTLINE = -1001234567890
USER = User(
    id="u3f9k2m8q1z7x4c6v0b5abc",
    chat_id=42,
    lang_chosen="fr",
    lang_current="fr",
    darija=False,
    telegram_code="fr",
    lang_asked=False,
)
LABEL = user_label(USER.id)


def staff(key: str, **values: Any) -> str:
    return library().text(key, "fr", **values)


def handoff(*, urgent: bool = True, reason: str = "urgent", topic: str | None = "faq/asylum_apply") -> Handoff:
    now = utcnow()
    return Handoff(
        id=7,
        user_id=USER.id,
        status="open",
        reason=reason,
        urgent=urgent,
        language="fr",
        context_topic=topic,
        thread_id=101,
        staff_id=None,
        staff_name=None,
        opened_at=now,
        first_staff_reply_at=None,
        last_activity_at=now,
    )


def long_message(n: int) -> str:
    """Message n of the person: 300 characters with markup-looking text, "&" and Arabic."""
    text = f"#{n:02d}# <b>mon dossier</b> & mes papiers </i> — بغيت نعرف واش الأوراق ديالي صالحة <script> "
    return (text * 10)[:300]


def forty_lines() -> list[str]:
    return [("👤 " if n % 2 == 0 else "🤖 ") + long_message(n) for n in range(40)]


def service(ops: Any = None, store: Any = None, rasa: Any = None) -> HandoffService:
    return HandoffService(Settings(hotline_chat_id=HOTLINE), store, rasa, library(), ops)


def assert_valid(parts: list[str]) -> None:
    assert parts
    for part in parts:
        assert len(part) <= MAX_TEXT and utf16_len(part) <= MAX_TEXT
        check_text(part, "HTML")  # what Telegram checks: known tags, properly nested, 1-4,096 characters


# -- the card -----------------------------------------------------------------------------
def test_a_card_after_forty_long_messages_keeps_its_header_and_the_newest_lines() -> None:
    parts = service().card(USER, handoff(), forty_lines())
    assert_valid(parts)
    first = parse_html(parts[0])
    assert first.startswith(staff("staff_card_urgent"))
    assert LABEL in first
    assert staff("staff_reason_urgent") in first
    text = "\n".join(parse_html(part) for part in parts)
    assert "#39#" in text and "#38#" in text  # the newest lines are kept...
    assert "#00#" not in text and "#01#" not in text  # ...the oldest dropped
    shown = [n for n in range(40) if f"#{n:02d}#" in text]
    assert shown == list(range(shown[0], 40))  # a run of the newest, nothing skipped in between
    assert staff("staff_card_earlier", count=shown[0]) in text
    assert "<script>" in text and "& mes papiers" in text  # the person's text, shown as typed
    assert "<script>" not in "".join(parts)  # ...never read as markup
    assert "بغيت نعرف" in text
    assert text.rstrip().endswith(staff("staff_card_help"))


def test_a_card_without_urgency_starts_with_the_label() -> None:
    parts = service().card(USER, handoff(urgent=False, reason="command"), forty_lines()[-3:])
    assert len(parts) == 1
    assert_valid(parts)
    plain = parse_html(parts[0])
    assert plain.startswith(staff("staff_card_header", label=LABEL))
    assert staff("staff_card_urgent") not in plain
    assert all(f"#{n:02d}#" in plain for n in (37, 38, 39))
    assert staff("staff_card_earlier", count=0).split("0")[-1] not in plain


def test_a_card_still_too_long_after_trimming_is_split_into_valid_messages() -> None:
    # A header longer than a message (an absurdly long topic): cut into several messages at
    # line boundaries, the urgent marker and the label first, every message valid on its own.
    huge = handoff(topic="faq/" + "<&é>" * 2500)
    parts = service().card(USER, huge, forty_lines())
    assert len(parts) > 1
    assert_valid(parts)
    first = parse_html(parts[0])
    assert first.startswith(staff("staff_card_urgent")) and LABEL in first
    assert "#39#" in parse_html(parts[-1]) or "#39#" in parse_html(parts[-2])


def test_split_html_cuts_between_lines_and_keeps_tags_whole() -> None:
    lines = [("titre", "b"), ("", "")] + [(f"ligne {n} " + "<x> & y " * 120, "i" if n % 3 else "") for n in range(30)]
    parts = split_html(lines, limit=CARD_LIMIT)
    assert len(parts) > 1
    assert_valid(parts)
    assert parts[0].startswith("<b>titre</b>")
    assert all(not part.startswith("\n") and not part.endswith("\n") for part in parts)
    joined = "\n".join(parse_html(part) for part in parts)
    assert [n for n in range(30) if f"ligne {n} " in joined] == list(range(30))  # nothing lost
    # One line longer than a message: cut between characters, each piece with its own tags.
    pieces = split_html([("&<" * 5000, "b")], limit=1000)
    assert len(pieces) > 1
    for piece in pieces:
        assert utf16_len(piece) <= 1000
        check_text(piece, "HTML")
    assert "".join(parse_html(piece) for piece in pieces) == "&<" * 5000


async def test_the_card_from_rasas_tracker_after_forty_messages() -> None:
    events: list[dict[str, Any]] = []
    for n in range(40):
        events.append({"event": "user", "text": long_message(n), "parse_data": {"intent": {"name": "greet"}}})
        events.append({"event": "bot", "text": f"réponse {n} <ok> & " + "x" * 200})

    class Rasa:
        async def tracker(self, user_id: str) -> dict[str, Any]:
            return {"events": events}

    hotline = service(rasa=Rasa())
    topic, transcript = await hotline._context(USER)
    assert topic == "greet"
    parts = hotline.card(USER, handoff(), transcript)
    assert_valid(parts)
    assert parse_html(parts[0]).startswith(staff("staff_card_urgent"))
    text = "\n".join(parse_html(part) for part in parts)
    assert "#39#" in text and "réponse 39 <ok> &" in text
    assert "#00#" not in text


# -- the topic's name ---------------------------------------------------------------------
def test_the_topic_name_shows_the_state_of_the_case() -> None:
    hotline = service()
    assert hotline.topic_name("open", LABEL) == LABEL
    assert hotline.topic_name("urgent", LABEL) == f"🆘 {LABEL}"
    assert hotline.topic_name("taken", LABEL, "Amina") == f"✋ {LABEL} · Amina"
    assert hotline.topic_name("back", LABEL) == f"🤖 {LABEL}"
    assert hotline.topic_name("closed", LABEL) == f"✅ {LABEL}"
    long = hotline.topic_name("taken", LABEL, "Ann" * 60)
    assert utf16_len(long) <= 128 and long.startswith(f"✋ {LABEL} · Ann") and long.endswith("…")


def test_the_topic_names_come_from_hotline_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    hotline = service()
    names = {"taken": "[{name}] {label}", "closed": "{oops} {label}"}
    monkeypatch.setattr(hotline, "_config", lambda: {"topic_names": names})
    assert hotline.topic_name("taken", LABEL, "Omar") == f"[Omar] {LABEL}"
    assert hotline.topic_name("closed", LABEL) == f"✅ {LABEL}"  # a broken template: the default
    assert hotline.topic_name("urgent", LABEL) == f"🆘 {LABEL}"  # not set: the default


# -- pinning, renaming, with a fake Telegram and a real store -----------------------------
class FakeOps:
    """The hotline's Telegram calls, recorded; `fail` maps a method name to what it raises."""

    def __init__(self, **fail: Exception) -> None:
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []
        self.next_id = 500

    async def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args[0] if len(args) == 1 else args))
        if name in self.fail:
            raise self.fail[name]

    async def create_topic(self, name: str) -> int:
        await self._call("create_topic", name)
        return 101

    async def reopen_topic(self, thread_id: int) -> bool:
        await self._call("reopen_topic", thread_id)
        return True

    async def close_topic(self, thread_id: int) -> None:
        await self._call("close_topic", thread_id)

    async def delete_topic(self, thread_id: int) -> None:
        await self._call("delete_topic", thread_id)

    async def delete_messages(self, message_ids: list[int]) -> None:
        await self._call("delete_messages", message_ids)

    async def post(self, thread_id: int, text: str, buttons: Any = None) -> int:
        await self._call("post", thread_id, text, buttons)
        self.next_id += 1
        return self.next_id

    async def pin(self, message_id: int) -> None:
        await self._call("pin", message_id)

    async def rename_topic(self, thread_id: int, name: str) -> None:
        await self._call("rename_topic", thread_id, name)

    def names(self) -> list[str]:
        return [args[1] for name, args in self.calls if name == "rename_topic"]


class FakeRasa:
    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        self.events = events or []

    async def tracker(self, user_id: str) -> dict[str, Any]:
        return {"events": self.events}

    async def append_events(self, user_id: str, events: list[dict[str, Any]]) -> None:
        pass


async def desk(tmp_path: Path, ops: FakeOps, events: list[dict[str, Any]] | None = None) -> HandoffService:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    migrate(url)
    store = Store(create_engine(url))
    await store.touch_user(USER.id, USER.chat_id, "fr")
    return service(ops, store, FakeRasa(events))


def tracker_of_forty() -> list[dict[str, Any]]:
    return [{"event": "user", "text": long_message(n)} for n in range(40)]


async def test_an_urgent_case_gets_a_named_topic_and_a_pinned_card(tmp_path: Path) -> None:
    ops = FakeOps()
    hotline = await desk(tmp_path, ops, tracker_of_forty())
    bodies = await hotline.open(USER, "fr", reason="urgent", urgent=True)
    assert ops.calls[0] == ("create_topic", f"🆘 {LABEL}")
    posts = [args for name, args in ops.calls if name == "post"]
    assert posts and posts[0][0] == 101
    assert parse_html(posts[0][1]).startswith(staff("staff_card_urgent"))
    assert [b["token"] for b in posts[0][2][0]] == ["h:take:1", "h:bot:1", "h:close:1"]
    assert ("pin", 501) in ops.calls  # the first message of the card, once
    assert [name for name, _ in ops.calls].count("pin") == 1
    assert [b.get("chat_id") for b in bodies] == [None]  # the card went out already: only the person's reply
    assert await hotline.store.sent_ids(USER.id, hotline=True) == list(range(501, 501 + len(posts)))


async def test_staff_actions_rename_the_topic(tmp_path: Path) -> None:
    ops = FakeOps()
    hotline = await desk(tmp_path, ops)
    await hotline.open(USER, "fr", reason="request", urgent=False)
    assert ops.calls[0] == ("create_topic", LABEL)
    await hotline.staff_action(USER, "take", 777, "Amina", "fr")
    assert ops.names() == [f"✋ {LABEL} · Amina"]
    await hotline.staff_action(USER, "close", 777, "Amina", "fr")
    assert ops.names()[-1] == f"✅ {LABEL}"
    assert [name for name, _ in ops.calls][-2:] == ["rename_topic", "close_topic"]  # renamed while open
    # The person asks again: the topic is reopened under its plain name; handed back: 🤖.
    await hotline.open(USER, "fr", reason="command", urgent=False)
    assert ops.names()[-1] == LABEL
    await hotline.from_staff(USER, 9001, 778, "Youssef")  # a first reply takes the case too
    assert ops.names()[-1] == f"✋ {LABEL} · Youssef"
    await hotline.staff_action(USER, "bot", 778, "Youssef", "fr")
    assert ops.names()[-1] == f"🤖 {LABEL}"
    assert [name for name, _ in ops.calls].count("close_topic") == 1  # handing back leaves it open


async def test_an_urgent_message_during_an_open_case_renames_it_unless_taken(tmp_path: Path) -> None:
    ops = FakeOps()
    hotline = await desk(tmp_path, ops)
    await hotline.open(USER, "fr", reason="request", urgent=False)
    await hotline.open(USER, "fr", reason="urgent", urgent=True)
    assert ops.names() == [f"🆘 {LABEL}"]


async def test_telegram_refusing_to_rename_or_pin_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refused = HotlineRefused("Bad Request: not enough rights to manage topics")
    ops = FakeOps(rename_topic=refused, pin=HotlineRefused("Bad Request: not enough rights to pin a message"))
    hotline = await desk(tmp_path, ops)
    caplog.set_level(logging.DEBUG, logger="bot.gateway.handoff")
    await hotline.open(USER, "fr", reason="request", urgent=False)
    taken = await hotline.staff_action(USER, "take", 777, "Amina", "fr")
    closed = await hotline.staff_action(USER, "close", 777, "Amina", "fr")
    assert [b["text"] for b in taken] == [staff("staff_taken", name="Amina"), library().text("handoff_taken", "fr")]
    assert closed[0]["text"] == staff("staff_closed", name="Amina")
    assert ("close_topic", 101) in ops.calls
    notes = [r for r in caplog.records if "renamed" in r.getMessage() or "pinned" in r.getMessage()]
    assert notes and all(r.levelno <= logging.INFO for r in notes)
    assert not any(str(n) in r.getMessage() for r in notes for n in (101, 501, 777, HOTLINE))  # no ids
    assert not any(LABEL in r.getMessage() for r in notes)


async def test_topic_not_modified_is_only_a_debug_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ops = FakeOps(rename_topic=HotlineRefused("Bad Request: TOPIC_NOT_MODIFIED"))
    hotline = await desk(tmp_path, ops)
    caplog.set_level(logging.DEBUG, logger="bot.gateway.handoff")
    await hotline.open(USER, "fr", reason="request", urgent=False)
    await hotline.staff_action(USER, "take", 777, "Amina", "fr")
    [note] = [r for r in caplog.records if "renamed" in r.getMessage()]
    assert note.levelno == logging.DEBUG


async def test_a_card_telegram_cannot_take_now_goes_through_the_outbox(tmp_path: Path) -> None:
    ops = FakeOps(post=TimeoutError())
    hotline = await desk(tmp_path, ops, tracker_of_forty())
    bodies = await hotline.open(USER, "fr", reason="urgent", urgent=True)
    cards = [b for b in bodies if b.get("chat_id") == HOTLINE]
    assert cards and all(b["html"] and b["thread_id"] == 101 for b in cards)
    assert parse_html(cards[0]["text"]).startswith(staff("staff_card_urgent"))
    assert cards[0]["buttons"] and all("buttons" not in b for b in cards[1:])
    assert_valid([b["text"] for b in cards])
    assert not any(name == "pin" for name, _ in ops.calls)


def test_the_card_fits_a_message_with_the_default_texts() -> None:
    parts = service().card(USER, handoff(), forty_lines())
    assert len(parts) == 1  # the whole card is the pinned message
    assert utf16_len(parts[0]) <= CARD_LIMIT
