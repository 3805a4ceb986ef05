"""The whole chain on loopback: fake Bot API -> real gateway process -> real Rasa + actions."""

from __future__ import annotations

import re

import pytest

from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.rasa

ARABIC = re.compile(r"[\u0600-\u06FF]")


def arabic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if ARABIC.match(c)) / max(1, len(letters))


async def test_start_choose_language_then_questions_in_french_and_arabic(fake_telegram: FakeTelegram, gateway) -> None:
    user = 1001
    fake_telegram.message(user, "/start")
    [welcome] = await fake_telegram.wait_for(user, 1)
    assert "Dalil" in welcome.text
    assert [b["text"] for b in welcome.buttons] == ["Français", "العربية", "English"]

    fake_telegram.press(user, welcome.button("Français")["callback_data"])
    sent = await fake_telegram.wait_for(user, 4)
    texts = [s.text for s in sent[1:]]
    assert any("français" in t for t in texts), texts  # language confirmed
    assert any("/forget" in t for t in texts), texts  # privacy notice after /start
    menu = sent[-1]
    assert len(menu.buttons) >= 6  # the themes

    fake_telegram.message(user, "Comment demander l'asile au Maroc ?")
    sent = await fake_telegram.wait_for(user, 5)
    answer = sent[4]
    assert "HCR" in answer.text and "asile" in answer.text.lower()
    assert arabic_share(answer.text) < 0.05

    # The second page of a long answer is one tap away.
    more = answer.button("Suite")
    fake_telegram.press(user, more["callback_data"])
    sent = await fake_telegram.wait_for(user, 6)
    assert "Apportez" in sent[5].text

    arabic_user = 1002
    fake_telegram.message(arabic_user, "كيف أطلب اللجوء في المغرب؟", language_code="ar")
    [reply] = await fake_telegram.wait_for(arabic_user, 1)
    assert "المفوضية" in reply.text
    assert arabic_share(reply.text) > 0.8


async def test_non_text_messages_get_a_kind_reply(fake_telegram: FakeTelegram, gateway) -> None:
    user = 1003
    fake_telegram.message(
        user,
        None,
        extra={
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
    )
    fake_telegram.message(user, None, extra={"voice": {"file_id": "v1", "file_unique_id": "v1", "duration": 3}})
    sent = await fake_telegram.wait_for(user, 2)
    assert all("écrits" in s.text for s in sent), [s.text for s in sent]


async def test_a_message_in_a_group_is_not_answered_there(fake_telegram: FakeTelegram, gateway) -> None:
    group = {"id": -100777, "type": "supergroup", "title": "Some group"}
    fake_telegram.message(1004, "bonjour tout le monde", chat=group)
    fake_telegram.message(1004, "/start", chat=group)
    sent = await fake_telegram.wait_for(-100777, 1)
    assert "privé" in sent[0].text or "private" in sent[0].text
    assert len(await fake_telegram.quiet(-100777, 1.0)) == 1
