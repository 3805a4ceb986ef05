"""The hotline desk, end to end (fake Bot API -> gateway -> real Rasa): the card after a long
conversation keeps its urgent header and is pinned; the topic's name follows the case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.content import library
from bot.core.identity import pseudonym
from bot.gateway.handoff import user_label
from tests.conftest import HOTLINE, SECRET, STAFF
from tests.fakes.strict import MAX_TEXT, check_text, parse_html
from tests.fakes.telegram_api import FakeTelegram, Fault, Sent

pytestmark = pytest.mark.rasa


def staff(key: str, **values: Any) -> str:
    return library().text(key, "fr", **values)


def label_of(user: int) -> str:
    return user_label(pseudonym(SECRET, "tg", user))


async def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def cards(api: FakeTelegram, thread: int) -> list[Sent]:
    return [s for s in api.in_thread(HOTLINE, thread) if s.method == "sendMessage" and s.params.get("parse_mode")]


def renames(api: FakeTelegram, thread: int) -> list[str]:
    return [p.get("name", "") for m, p in api.calls if m == "editForumTopic" and p["message_thread_id"] == thread]


def pins(api: FakeTelegram) -> list[dict[str, Any]]:
    return [p for m, p in api.calls if m == "pinChatMessage"]


async def open_case(api: FakeTelegram, user: int, text: str, timeout: float = 60.0) -> tuple[int, Sent]:
    before = set(api.topics)
    api.message(user, text)
    await wait_until(lambda: set(api.topics) - before, timeout)
    [thread] = set(api.topics) - before
    await wait_until(lambda: cards(api, thread))
    return thread, cards(api, thread)[0]


def long_message(n: int) -> str:
    text = f"#{n:02d}# mon dossier <b>papiers</b> & carte de séjour </i> — بغيت نعرف واش الأوراق ديالي مزيانين "
    return (text * 10)[:300]


async def test_an_urgent_case_after_forty_long_messages(fake_telegram: FakeTelegram, hotline_gateway: Any) -> None:
    api, user = fake_telegram, 2101
    for n in range(40):
        api.message(user, long_message(n))
    # Processed in order (the flood guard slows this person down): the alarm comes after all forty.
    thread, card = await open_case(api, user, "au secours, il me frappe, je suis enfermée", timeout=300)
    plain = parse_html(card.text or "")
    assert plain.startswith(staff("staff_card_urgent"))
    assert label_of(user) in plain and staff("staff_reason_urgent") in plain
    parts = cards(api, thread)
    for part in parts:
        assert len(part.text or "") <= MAX_TEXT
        check_text(part.text, "HTML")
    text = "\n".join(parse_html(part.text or "") for part in parts)
    assert "#39#" in text and "#00#" not in text  # the newest lines kept, the oldest dropped
    assert "<b>papiers</b> & carte" in text  # the person's words as typed, never as markup
    assert card.button("Je prends")["callback_data"].startswith("h:take:")
    # The card is pinned in the topic, silently; the topic says it is urgent.
    assert pins(api) == [
        {
            "chat_id": HOTLINE,
            "message_id": card.message_id,
            "disable_notification": pins(api)[0]["disable_notification"],
        }
    ]
    assert str(pins(api)[0]["disable_notification"]).lower() == "true"
    assert api.topics[thread]["name"] == f"🆘 {label_of(user)}"


async def test_the_topic_name_follows_the_case(fake_telegram: FakeTelegram, hotline_gateway: Any) -> None:
    api, user = fake_telegram, 2102
    label = label_of(user)
    thread, card = await open_case(api, user, "je veux parler à quelqu'un s'il vous plaît")
    assert api.topics[thread]["name"] == label
    assert [p["message_id"] for p in pins(api)] == [card.message_id]

    # Taken with the button: "✋ label · first name" (the fake's staff member is User777).
    api.staff_press(HOTLINE, STAFF, card.button("Je prends")["callback_data"])
    await wait_until(lambda: api.topics[thread]["name"] == f"✋ {label} · User{STAFF}")
    assert renames(api, thread) == [f"✋ {label} · User{STAFF}"]

    # Closed: "✅ label", renamed before the topic is closed.
    api.staff_message(HOTLINE, STAFF, thread, "/close")
    await wait_until(lambda: api.topics[thread]["closed"])
    assert api.topics[thread]["name"] == f"✅ {label}"
    methods = [m for m, p in api.calls if p.get("message_thread_id") == thread and m.endswith("ForumTopic")]
    assert methods[-2:] == ["editForumTopic", "closeForumTopic"]

    # The person asks again: the topic is reopened under the plain label, with a new pinned card.
    # Telegram refusing to rename (missing rights) changes nothing else.
    api.fail_next("editForumTopic", Fault(400, "Bad Request: not enough rights to manage topics"))
    count = len(cards(api, thread))
    api.message(user, "/human")
    await wait_until(lambda: len(cards(api, thread)) > count)
    new_card = cards(api, thread)[count]
    await wait_until(lambda: len(pins(api)) == 2)
    assert pins(api)[-1]["message_id"] == new_card.message_id
    assert api.topics[thread]["name"] == f"✅ {label}" and not api.topics[thread]["closed"]

    # /take in the topic, then handed back to the bot: "🤖 label".
    api.staff_message(HOTLINE, STAFF, thread, "/take")
    await wait_until(lambda: api.topics[thread]["name"] == f"✋ {label} · User{STAFF}")
    api.staff_message(HOTLINE, STAFF, thread, "/bot")
    await wait_until(lambda: api.topics[thread]["name"] == f"🤖 {label}")
    assert any("assistant Dalil reprend" in (s.text or "") for s in api.to(user))
    assert not api.topics[thread]["closed"]


async def test_a_refused_pin_or_rename_is_harmless_and_logged_without_ids(
    fake_telegram: FakeTelegram, hotline_gateway: Any
) -> None:
    api, user = fake_telegram, 2103
    api.fail_next("pinChatMessage", Fault(400, "Bad Request: not enough rights to pin a message"))
    thread, card = await open_case(api, user, "je veux parler à une personne")
    api.fail_next("editForumTopic", Fault(400, "Bad Request: not enough rights to manage topics"))
    api.staff_press(HOTLINE, STAFF, card.button("Je prends")["callback_data"])
    await wait_until(lambda: any("Cas pris" in (s.text or "") for s in api.in_thread(HOTLINE, thread)))
    taken = library().text("handoff_taken", "fr")
    await wait_until(lambda: any(s.text == taken for s in api.to(user)))  # the case goes on
    assert api.topics[thread]["name"] == label_of(user)
    notes = [
        line.split("bot.gateway.handoff: ", 1)[1]
        for line in hotline_gateway.log().splitlines()
        if "bot.gateway.handoff: " in line and ("not pinned" in line or "not renamed" in line)
    ]
    assert sorted(notes) == [
        "card not pinned (Not enough rights to pin a message)",
        "forum topic not renamed (Not enough rights to manage topics)",
    ]
