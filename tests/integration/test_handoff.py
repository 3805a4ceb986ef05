"""Hotline handoff, end to end: fake Bot API (private chats + a forum supergroup) -> gateway ->
real Rasa and actions. What the user and the hotline worker see at each step."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.content import library
from tests.conftest import HOTLINE, STAFF, Stack, start_gateway
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.rasa

PHOTO = {"photo": [{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}]}


async def wait_until(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def topic_of(api: FakeTelegram, name_prefix: str = "P-") -> list[int]:
    return [tid for tid, t in api.topics.items() if t["name"].startswith(name_prefix)]


async def open_handoff(api: FakeTelegram, user: int, text: str, lang: str) -> tuple[int, list]:
    before = set(api.topics)
    api.message(user, text, language_code=lang)
    await wait_until(lambda: set(api.topics) - before)
    [thread] = set(api.topics) - before
    await wait_until(lambda: any("Nouvelle demande" in (s.text or "") for s in api.in_thread(HOTLINE, thread)))
    return thread, api.in_thread(HOTLINE, thread)


async def test_full_cycle_in_french(fake_telegram: FakeTelegram, hotline_gateway) -> None:
    api, user = fake_telegram, 2001
    api.message(user, "Comment demander l'asile au Maroc ?")
    await api.wait_for(user, 1)

    thread, staff_view = await open_handoff(api, user, "je veux parler à quelqu'un s'il vous plaît", "fr")
    told = await api.wait_for(user, 2)
    assert "ligne d'écoute" in told[-1].text  # a person will answer (and when)
    card = next(s for s in staff_view if "Nouvelle demande" in (s.text or ""))
    assert card.params["parse_mode"] == "HTML"
    assert "Comment demander l&#x27;asile" in card.text or "Comment demander l'asile" in card.text
    assert "faq/asylum_apply" in card.text  # the last topic, for context
    assert [b["callback_data"] for b in card.buttons][0].startswith("h:take:")
    assert str(user) not in card.text  # pseudonymous label only

    # The user's text and photo go to the topic; the bot does not answer them.
    api.message(user, "j'ai un problème avec mon dossier")
    api.message(user, None, extra=PHOTO)
    await wait_until(lambda: len([s for s in api.in_thread(HOTLINE, thread) if s.method == "copyMessage"]) == 2)
    assert len(api.to(user)) == 2

    # Staff take the case and answer; the user receives the answer without the staff name.
    api.staff_press(HOTLINE, STAFF, card.button("Je prends")["callback_data"])
    await wait_until(lambda: any("Cas pris" in (s.text or "") for s in api.in_thread(HOTLINE, thread)))
    api.staff_message(HOTLINE, STAFF, thread, "Bonjour, je suis là. Quel est votre problème ?")
    await wait_until(lambda: any(s.method == "copyMessage" and s.chat_id == user for s in api.sent))
    copied = next(s for s in api.sent if s.method == "copyMessage" and s.chat_id == user)
    assert int(copied.params["from_chat_id"]) == HOTLINE

    # Hand back to the bot: the user is told, and the next question is answered by the bot.
    api.staff_message(HOTLINE, STAFF, thread, "/bot")
    await wait_until(lambda: any("assistant Dalil reprend" in (s.text or "") for s in api.to(user)))
    count = len(api.to(user))
    api.message(user, "où faire un test VIH gratuit ?")
    answer = (await api.wait_for(user, count + 1))[count]
    assert "ALCS" in answer.text


async def test_full_cycle_in_arabic_with_the_human_command(fake_telegram: FakeTelegram, hotline_gateway) -> None:
    api, user = fake_telegram, 2002
    api.message(user, "السلام عليكم", language_code="ar")
    await api.wait_for(user, 2)
    thread, _ = await open_handoff(api, user, "/human", "ar")
    told = (await api.wait_for(user, 3))[-1]
    assert "خط المساعدة" in told.text
    card = next(s for s in api.in_thread(HOTLINE, thread) if "Nouvelle demande" in (s.text or ""))
    assert "commande /human" in card.text
    api.message(user, "عندي مشكل مع الأوراق", language_code="ar")
    await wait_until(lambda: any(s.method == "copyMessage" for s in api.in_thread(HOTLINE, thread)))
    api.staff_press(HOTLINE, STAFF, card.button("Clore")["callback_data"])
    await wait_until(lambda: any("المساعد دليل يعود" in (s.text or "") for s in api.to(user)))
    assert any("Cas clos" in (s.text or "") for s in api.in_thread(HOTLINE, thread))
    assert any(method == "closeForumTopic" for method, _ in api.calls)


async def test_urgent_alerts_the_hotline_at_once(fake_telegram: FakeTelegram, hotline_gateway) -> None:
    api, user = fake_telegram, 2003
    before = set(api.topics)
    api.message(user, "au secours, il me frappe, je suis enfermée")
    await wait_until(lambda: set(api.topics) - before)
    [thread] = set(api.topics) - before
    await wait_until(lambda: any("URGENT" in (s.text or "") for s in api.in_thread(HOTLINE, thread)))
    sent = await api.wait_for(user, 2)
    assert "19" in sent[0].text and "15" in sent[0].text  # emergency numbers come first
    # Then what the hotline does: in office hours "the team knows it is urgent"; outside them
    # when it reads messages again and to call 112 or 15 now (never "as soon as possible").
    closed_start = library().text("handoff_urgent_closed_hours", "fr", when="\0").split("\0")[0]
    if sent[1].text.startswith(closed_start):
        assert "112" in sent[1].text and "15" in sent[1].text
    else:
        assert sent[1].text == library().text("handoff_urgent_opened", "fr")


async def test_two_users_at_once_get_their_own_topics(fake_telegram: FakeTelegram, hotline_gateway) -> None:
    api = fake_telegram
    before = set(api.topics)
    api.message(2004, "je veux parler à un conseiller")
    api.message(2005, "bghit nhder m3a chi wa7ed 3afak", language_code=None)
    await wait_until(lambda: len(set(api.topics) - before) == 2)
    t4, t5 = await asyncio.gather(*(wait_thread(api, u) for u in (2004, 2005)))
    assert t4 != t5
    api.staff_message(HOTLINE, STAFF, t5, "Salam, ana hna")
    await wait_until(lambda: any(s.method == "copyMessage" and s.chat_id == 2005 for s in api.sent))
    assert not any(s.method == "copyMessage" and s.chat_id == 2004 for s in api.sent)


async def wait_thread(api: FakeTelegram, user: int) -> int:
    """The topic of a user whose handoff is open: where their next message is copied to."""
    await api.wait_for(user, 1)
    api.message(user, f"test {user}")
    relayed = lambda: [s for s in api.sent if s.method == "copyMessage" and int(s.params["from_chat_id"]) == user]  # noqa: E731
    await wait_until(lambda: bool(relayed()))
    return int(relayed()[-1].params["message_thread_id"])


async def test_handoff_survives_a_gateway_restart(stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    api, user = fake_telegram, 2006
    extra = {"HOTLINE_CHAT_ID": str(HOTLINE), "HOTLINE_STAFF_IDS": str(STAFF)}
    gw = await start_gateway(stack, api, tmp_path, **extra)
    try:
        thread, _ = await open_handoff(api, user, "je veux parler à une personne", "fr")
        await api.wait_for(user, 1)
    finally:
        gw.stop()
    gw = await start_gateway(stack, api, tmp_path, **extra)
    try:
        api.staff_message(HOTLINE, STAFF, thread, "Toujours là après le redémarrage")
        await wait_until(lambda: any(s.method == "copyMessage" and s.chat_id == user for s in api.sent))
        api.message(user, "merci, voici ma question")
        await wait_until(
            lambda: any(
                s.method == "copyMessage"
                and s.params.get("message_thread_id") == thread
                and int(s.params["from_chat_id"]) == user
                for s in api.sent
            )
        )
        assert len(api.to(user)) == 2  # no bot answer while the person has the conversation
    finally:
        gw.stop()


async def test_non_staff_cannot_drive_a_handoff(fake_telegram: FakeTelegram, hotline_gateway) -> None:
    api, user, intruder = fake_telegram, 2007, 9999
    thread, staff_view = await open_handoff(api, user, "je veux parler à quelqu'un", "fr")
    card = next(s for s in staff_view if "Nouvelle demande" in (s.text or ""))
    api.staff_message(HOTLINE, intruder, thread, "/bot")
    api.staff_message(HOTLINE, intruder, thread, "message d'un inconnu")
    api.staff_press(HOTLINE, intruder, card.button("Clore")["callback_data"])
    # A user typing staff commands in private gets nothing special.
    api.message(intruder, "/close")
    api.message(intruder, "/take")
    await api.wait_for(intruder, 2)
    assert all(s.text == library().text("unknown_command", "fr") for s in api.to(intruder))
    await asyncio.sleep(1.5)
    assert not any(s.method == "copyMessage" and s.chat_id == user for s in api.sent)
    assert not any("reprend" in (s.text or "") for s in api.to(user))
    assert not any("Cas clos" in (s.text or "") for s in api.in_thread(HOTLINE, thread))
