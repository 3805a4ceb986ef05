"""Location → nearest help, through the real gateway, the fake Bot API, the real Rasa and action
server: an answer that depends on where the person is offers the key that shares a location, and a
location in Casablanca is answered with Casablanca's services first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.content import library
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa

CASABLANCA = {"latitude": 33.589, "longitude": -7.604}


def reply_keyboard(sent: Sent) -> list[list[dict[str, Any]]]:
    markup = sent.params.get("reply_markup")
    data = json.loads(markup) if isinstance(markup, str) else markup or {}
    return [[k if isinstance(k, dict) else {"text": k} for k in row] for row in data.get("keyboard", [])]


async def test_a_location_in_casablanca_is_answered_with_casablancas_services(
    fake_telegram: FakeTelegram, gateway
) -> None:
    user, lib = 2701, library()  # ids 27xx: no other test talks to Rasa as this person
    fake_telegram.message(user, "/start l_fr")
    await fake_telegram.wait_until(user, lambda s: len(s) >= 3, timeout=60)  # welcome, privacy, menu
    before = len(await fake_telegram.quiet(user, 1.0))
    key = lib.text("keyboard_location", "fr")

    fake_telegram.message(user, "Où faire un test VIH gratuit ?")
    sent = await fake_telegram.wait_until(user, lambda s: any(reply_keyboard(m) for m in s[before:]), timeout=60)
    answer, offer = sent[before], next(m for m in sent[before:] if reply_keyboard(m))
    assert "ALCS" in (answer.text or "")  # the HIV testing answer came first
    assert offer.text == lib.text("location_prompt", "fr", label=key)
    rows = reply_keyboard(offer)
    assert rows[0] == [{"text": key, "request_location": True}]  # Telegram asks the person first
    assert [k["text"] for k in rows[1]] == [lib.text("keyboard_menu", "fr"), lib.text("keyboard_urgent", "fr")]

    before = len(await fake_telegram.quiet(user, 1.0))
    fake_telegram.message(user, None, extra={"location": CASABLANCA})
    [reply] = (await fake_telegram.wait_for(user, before + 1, timeout=60))[before:]
    text = reply.text or ""
    topic = lib.topics()["hiv_testing"].title["fr"]
    assert text.startswith(lib.text("near_heading", "fr", topic=topic)), text
    casablanca = text.split("\n\n")[1]
    assert casablanca.startswith(lib.text("near_city", "fr", city="Casablanca", km=1)), text
    assert "ALCS" in casablanca and "+212 7 67 79 63 38" in casablanca  # AMPF's Casablanca office
    assert text.index("Casablanca") < text.index("Rabat")
    assert text.endswith(lib.text("location_not_kept", "fr"))
    # The usual lasting keyboard again, without the location key.
    assert [[k["text"] for k in row] for row in reply_keyboard(reply)] == [
        [lib.text("keyboard_menu", "fr"), lib.text("keyboard_urgent", "fr")],
        [lib.text("keyboard_human", "fr"), lib.text("keyboard_language", "fr")],
    ]
    assert all("request_location" not in k for row in reply_keyboard(reply) for k in row)
