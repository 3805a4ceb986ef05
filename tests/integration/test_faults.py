"""Faults on loopback: Rasa down or slow, the action server down, Telegram refusing sends, the
gateway killed. In each case: what the user sees, and that no message is lost or doubled."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.core.content import library
from tests.conftest import Stack, location_offer, start_gateway
from tests.fakes.proxy import FaultyProxy
from tests.fakes.telegram_api import FakeTelegram, Fault

pytestmark = pytest.mark.rasa

RECEIVED = library().text("received_will_answer", "fr")
FAILED = library().text("answer_failed", "fr")


@pytest.fixture
def rasa_proxy(stack: Stack):
    proxy = FaultyProxy(stack.settings.rasa_port)
    yield proxy
    proxy.close()


async def test_rasa_down_then_back_everything_answered_in_order_once(
    stack: Stack, fake_telegram: FakeTelegram, rasa_proxy: FaultyProxy, tmp_path: Path
) -> None:
    api, user = fake_telegram, 4001
    gw = await start_gateway(stack, api, tmp_path, RASA_PORT=str(rasa_proxy.port))
    try:
        rasa_proxy.down()
        api.message(user, "Comment demander l'asile au Maroc ?")
        api.message(user, "où faire un test VIH gratuit ?")
        [ack] = await api.wait_for(user, 1, timeout=10)
        assert ack.text == RECEIVED  # told at once, in French, that the message arrived
        await asyncio.sleep(3)
        assert len(api.to(user)) == 1  # told once, not once per retry
        rasa_proxy.up()
        await api.wait_for(user, 3, timeout=60)
        await api.quiet(user, 2.0)
        texts = [s.text for s in api.to(user) if not location_offer(s.text)]  # the HIV answer offers one
        assert len(texts) == 3, texts
        assert "HCR" in texts[1] and "ALCS" in texts[2]  # in order
    finally:
        gw.stop()


async def test_rasa_slow_the_user_is_told_then_answered(
    stack: Stack, fake_telegram: FakeTelegram, rasa_proxy: FaultyProxy, tmp_path: Path
) -> None:
    api, user = fake_telegram, 4002
    gw = await start_gateway(stack, api, tmp_path, RASA_PORT=str(rasa_proxy.port), ACK_AFTER="1")
    try:
        rasa_proxy.delay = 3.0
        api.message(user, "Comment demander l'asile au Maroc ?")
        sent = await api.wait_for(user, 2, timeout=30)
        assert sent[0].text == RECEIVED and "HCR" in sent[1].text
    finally:
        gw.stop()


async def test_rasa_timeout_is_retried(
    stack: Stack, fake_telegram: FakeTelegram, rasa_proxy: FaultyProxy, tmp_path: Path
) -> None:
    api, user = fake_telegram, 4003
    gw = await start_gateway(stack, api, tmp_path, RASA_PORT=str(rasa_proxy.port), RASA_TIMEOUT="2", ACK_AFTER="1")
    try:
        rasa_proxy.delay = 5.0  # longer than the timeout
        api.message(user, "où faire un test VIH gratuit ?")
        [ack] = await api.wait_for(user, 1, timeout=10)
        assert ack.text == RECEIVED
        rasa_proxy.delay = 0.0
        sent = await api.wait_for(user, 2, timeout=40)
        assert "ALCS" in sent[1].text
    finally:
        gw.stop()


async def test_action_server_down_kind_fallback_then_continues(
    stack: Stack, fake_telegram: FakeTelegram, gateway
) -> None:
    api, user = fake_telegram, 4004
    stack.action_proxy.down()
    try:
        api.message(user, "Comment demander l'asile au Maroc ?")
        [reply] = await api.wait_for(user, 1, timeout=30)
        assert reply.text == FAILED  # kind, in French, with what to do next
    finally:
        stack.action_proxy.up()
    api.message(user, "Comment demander l'asile au Maroc ?")
    sent = await api.wait_for(user, 2, timeout=30)
    assert "HCR" in sent[1].text


async def test_telegram_flood_control_and_errors_are_retried_without_duplicates(
    fake_telegram: FakeTelegram, gateway
) -> None:
    api, user = fake_telegram, 4005
    api.fail_next(
        "sendMessage",
        Fault(429, "Too Many Requests: retry after 2", retry_after=2),
        Fault(500, "Internal Server Error"),
        Fault(502, "Bad Gateway"),
    )
    started = time.monotonic()
    api.message(user, "Comment demander l'asile au Maroc ?")
    [answer] = await api.wait_for(user, 1, timeout=60)
    assert time.monotonic() - started >= 2.0  # retry_after was honoured
    await api.quiet(user, 2.0)
    assert len(api.to(user)) == 1 and "HCR" in answer.text
    attempts = [p for m, p in api.calls if m == "sendMessage" and int(p.get("chat_id", 0)) == user]
    assert len(attempts) == 4  # three refused, one delivered


async def test_gateway_killed_mid_conversation_nothing_lost_nothing_twice(
    stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, user = fake_telegram, 4006
    gw = await start_gateway(stack, api, tmp_path)
    questions = [
        "Comment demander l'asile au Maroc ?",
        "où faire un test VIH gratuit ?",
        "je veux rentrer dans mon pays",
    ]
    try:
        # Telegram refuses every send for a while: the replies wait in the outbox.
        api.fail_next("sendMessage", *[Fault(500, "Internal Server Error")] * 50)
        for question in questions:
            api.message(user, question)
        await asyncio.sleep(6)
    finally:
        gw.stop(signal.SIGKILL)
    api.faults.clear()
    # Updates the dead gateway never confirmed are delivered again to the new one.
    gw = await start_gateway(stack, api, tmp_path)
    try:
        await api.wait_for(user, 3, timeout=60)
        await api.quiet(user, 3.0)
        # The HIV and return answers are each followed by the offer to share a location.
        assert [location_offer(s.text) for s in api.to(user)].count(True) == 2
        texts = [s.text for s in api.to(user) if not location_offer(s.text)]
        assert len(texts) == 3, texts
        assert "HCR" in texts[0] and "ALCS" in texts[1] and ("OIM" in texts[2] or "IOM" in texts[2])
        counts = Counter(texts)
        assert max(counts.values()) == 1  # nothing sent twice
    finally:
        gw.stop()
