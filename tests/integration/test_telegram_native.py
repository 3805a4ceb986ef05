"""Telegram conventions through the real gateway, the fake Bot API and the real Rasa: deep links,
the lasting reply keyboard, "typing…", "more" pressed twice, a voice note answered with a way on.

People here are 26xx: Rasa's conversations outlive a test, and other tests' people (a handoff
pauses theirs) must not be these."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.core.content import library
from tests.conftest import Stack, location_offer, start_gateway
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa


def keyboard_of(sent: object) -> list[list[str]]:
    markup = getattr(sent, "params", {}).get("reply_markup")
    data = json.loads(markup) if isinstance(markup, str) else markup or {}
    return [[key["text"] if isinstance(key, dict) else key for key in row] for row in data.get("keyboard", [])]


async def test_a_poster_link_opens_its_topic_in_the_language_chosen(fake_telegram: FakeTelegram, gateway) -> None:
    lib = library()
    for user, language, marker in ((2601, "Français", "VIH"), (2602, "العربية", "السيدا")):
        fake_telegram.message(user, "/start t_hiv_testing")
        [welcome] = await fake_telegram.wait_for(user, 1)
        assert welcome.text == lib.text("welcome", "fr")  # the welcome comes first
        fake_telegram.press(user, welcome.button(language)["callback_data"])
        sent = await fake_telegram.wait_until(
            user, lambda s, m=marker: any(m in (x.text or "") for x in s[1:]), timeout=60
        )
        lang = "fr" if user == 2601 else "ar"
        confirmed = next(s for s in sent if s.text == lib.text("language_set", lang))
        # The lasting keyboard comes with the language choice, in that language.
        assert keyboard_of(confirmed) == [
            [lib.text("keyboard_menu", lang), lib.text("keyboard_urgent", lang)],
            [lib.text("keyboard_human", lang), lib.text("keyboard_language", lang)],
        ]


async def test_the_keyboard_works_without_typing_and_typing_shows_before_the_answer(
    stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    gateway = await start_gateway(stack, fake_telegram, tmp_path, TYPING_AFTER="0")
    try:
        user, lib = 2603, library()
        fake_telegram.message(user, "/start l_fr")
        await fake_telegram.wait_until(user, lambda s: len(s) >= 3, timeout=60)  # welcome, privacy, menu
        before = len(fake_telegram.to(user))
        fake_telegram.message(user, lib.text("keyboard_urgent", "fr"))
        sent = await fake_telegram.wait_until(user, lambda s: len(s) > before, timeout=60)
        assert re.search(r"\b\d{2,}\b", sent[before].text or ""), sent[before].text  # numbers to call
        actions = [p for m, p in fake_telegram.calls if m == "sendChatAction" and int(p["chat_id"]) == user]
        assert actions and actions[-1]["action"] == "typing"
        calls = [(m, p) for m, p in fake_telegram.calls if int(p.get("chat_id", 0) or 0) == user]
        last_typing = max(i for i, (m, _) in enumerate(calls) if m == "sendChatAction")
        assert any(m == "sendMessage" for m, _ in calls[last_typing:])  # "typing…" came before the answer
    finally:
        gateway.stop()


async def test_more_pressed_twice_sends_the_next_page_once(fake_telegram: FakeTelegram, gateway) -> None:
    user = 2604
    fake_telegram.message(user, "/start l_fr")
    await fake_telegram.wait_until(user, lambda s: len(s) >= 3, timeout=60)
    before = len(fake_telegram.to(user))
    fake_telegram.message(user, "Comment demander l'asile au Maroc ?")
    sent = await fake_telegram.wait_until(user, lambda s: len(s) > before, timeout=60)
    more = sent[before].button("Suite")
    fake_telegram.press(user, more["callback_data"])
    fake_telegram.press(user, more["callback_data"])

    def pages(sent: list[Sent]) -> list[str]:  # the answer's pages, without the offer to share a location
        return [s.text or "" for s in sent[before:] if not location_offer(s.text)]

    await fake_telegram.wait_until(user, lambda s: len(pages(s)) >= 2, timeout=60)
    after = pages(await fake_telegram.quiet(user, 2.0))
    assert len(after) == 2, [text[:40] for text in after]  # page one, page two: not page two again


async def test_a_voice_note_is_answered_with_the_menu_and_a_person(fake_telegram: FakeTelegram, gateway) -> None:
    user, lib = 2605, library()
    fake_telegram.message(user, None, extra={"voice": {"file_id": "v9", "file_unique_id": "v9", "duration": 4}})
    [reply] = await fake_telegram.wait_for(user, 1)
    assert reply.text == lib.text("non_text", "fr")
    assert [b["text"] for b in reply.buttons] == [lib.text("button_menu", "fr"), lib.text("button_human", "fr")]
