"""Security on loopback: who may talk to the gateway, Rasa and the action server, who has staff and
admin powers, and that no secret reaches a log or a user.

Real processes throughout: the gateway (`dalil gateway`, polling or webhook) against the fake Bot
API, and the shared Rasa + action server stack. The last test reads every log the others wrote.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.content import library
from tests.conftest import HOTLINE, STAFF, Gateway, Stack, free_port, start_gateway
from tests.fakes.proxy import FaultyProxy
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa

ADMIN = 555001
OTHER_GROUP = -1009999999999
UNKNOWN = library().text("unknown_command", "fr")
GROUP_ONLY_PRIVATE = library().text("group_not_supported", "fr")
FAILED = library().text("answer_failed", "fr")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


# -- what every test leaves behind for the last one -------------------------------------------
@dataclass
class Seen:
    """Logs, fake Bot APIs and secrets used by this module's tests, for the no-leak test."""

    logs: list[Path] = field(default_factory=list)
    apis: list[FakeTelegram] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest.fixture
def api(fake_telegram: FakeTelegram, seen: Seen) -> FakeTelegram:
    seen.apis.append(fake_telegram)
    seen.secrets.add(fake_telegram.token)
    return fake_telegram


@dataclass
class Webhook:
    port: int
    path: str
    secret: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.path}"


class Gateways:
    """Starts gateway processes for one test (polling or webhook) and stops them all after it."""

    def __init__(self, stack: Stack, api: FakeTelegram, tmp_path: Path, seen: Seen) -> None:
        self.stack, self.api, self.tmp_path, self.seen = stack, api, tmp_path, seen
        self.started: list[Gateway] = []

    def _track(self, gw: Gateway) -> Gateway:
        self.started.append(gw)
        if gw.log_path not in self.seen.logs:
            self.seen.logs.append(gw.log_path)
        return gw

    async def polling(self, **extra: str) -> Gateway:
        return self._track(await start_gateway(self.stack, self.api, self.tmp_path, **extra))

    async def webhook(self) -> tuple[Gateway, Webhook]:
        """`dalil gateway` in webhook mode; returns once it registered its webhook and listens."""
        hook = Webhook(port=free_port(), path=secrets.token_urlsafe(16), secret=secrets.token_urlsafe(24))
        self.seen.secrets.add(hook.secret)
        env = self.stack.gateway_env(
            HEALTH_PORT=str(free_port()),
            TELEGRAM_BOT_TOKEN=self.api.token,
            TELEGRAM_API_URL=self.api.base_url,
            TELEGRAM_WEBHOOK_URL=f"https://bot.example.org/tg/{hook.path}",
            TELEGRAM_WEBHOOK_SECRET=hook.secret,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(hook.port),
            DATABASE_URL=f"sqlite:///{self.tmp_path / 'gateway.db'}",
            TRACKER_DATABASE_URL=f"sqlite:///{self.stack.var_dir / 'rasa.db'}",
        )
        gw = self._track(Gateway(env, self.tmp_path / "gateway.log").start())
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if gw.proc is not None and gw.proc.poll() is not None:
                    raise RuntimeError("gateway exited:\n" + gw.log()[-3000:])
                if time.monotonic() > deadline:
                    raise RuntimeError("webhook never registered:\n" + gw.log()[-3000:])
                if any(method == "setWebhook" for method, _ in self.api.calls):
                    try:
                        await http.get(hook.url)  # any HTTP answer: the server is listening
                        return gw, hook
                    except httpx.TransportError:
                        pass
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        for gw in self.started:
            gw.stop()


@pytest.fixture
async def gateways(stack: Stack, api: FakeTelegram, tmp_path: Path, seen: Seen) -> AsyncIterator[Gateways]:
    launcher = Gateways(stack, api, tmp_path, seen)
    yield launcher
    launcher.stop()


# -- helpers ------------------------------------------------------------------------------------
async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def private_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
            "from": FakeTelegram.user(user_id),
            "text": text,
        },
    }


def texts(api: FakeTelegram, chat_id: int) -> list[str]:
    return [s.text or "" for s in api.to(chat_id)]


async def open_handoff(api: FakeTelegram, user: int) -> tuple[int, int]:
    """The user asks for a person; returns (forum thread, number of messages the user has)."""
    before = set(api.topics)
    api.message(user, "je veux parler à quelqu'un s'il vous plaît")
    await wait_until(lambda: set(api.topics) - before)
    [thread] = set(api.topics) - before
    await wait_until(lambda: any("Nouvelle demande" in (s.text or "") for s in api.in_thread(HOTLINE, thread)))
    await api.wait_for(user, 1)
    await api.quiet(user, 1.0)
    return thread, len(api.to(user))


async def still_relayed(api: FakeTelegram, user: int, thread: int, count: int) -> None:
    """The handoff is still open: the user's next message goes to the topic, the bot stays silent."""

    def relayed() -> list[Sent]:
        return [
            s
            for s in api.in_thread(HOTLINE, thread)
            if s.method == "copyMessage" and int(s.params["from_chat_id"]) == user
        ]

    already = len(relayed())
    api.message(user, "j'ai encore une question pour la personne")
    await wait_until(lambda: len(relayed()) > already)
    await api.quiet(user, 1.0)
    assert len(api.to(user)) == count, texts(api, user)[count:]


def hotline_env(**extra: str) -> dict[str, str]:
    return {"HOTLINE_CHAT_ID": str(HOTLINE), "HOTLINE_STAFF_IDS": str(STAFF), "ADMIN_USER_IDS": str(ADMIN), **extra}


# -- 1. webhook mode ------------------------------------------------------------------------------
async def test_webhook_accepts_only_telegrams_secret_on_its_own_path(api: FakeTelegram, gateways: Gateways) -> None:
    gw, hook = await gateways.webhook()
    [registered] = [params for method, params in api.calls if method == "setWebhook"]
    assert registered["url"] == f"https://bot.example.org/tg/{hook.path}"
    assert registered["secret_token"] == hook.secret

    intruder, user = 3001, 3002
    question = "Comment demander l'asile au Maroc ?"
    async with httpx.AsyncClient(timeout=10.0) as http:
        missing = await http.post(hook.url, json=private_update(1, intruder, question))
        wrong = await http.post(
            hook.url, json=private_update(2, intruder, question), headers={SECRET_HEADER: secrets.token_urlsafe(24)}
        )
        empty = await http.post(hook.url, json=private_update(3, intruder, question), headers={SECRET_HEADER: ""})
        elsewhere = await http.post(
            f"http://127.0.0.1:{hook.port}/{hook.path}x",
            json=private_update(4, intruder, question),
            headers={SECRET_HEADER: hook.secret},
        )
        root = await http.post(
            f"http://127.0.0.1:{hook.port}/",
            json=private_update(5, intruder, question),
            headers={SECRET_HEADER: hook.secret},
        )
        assert (missing.status_code, wrong.status_code, empty.status_code) == (403, 403, 403)
        assert elsewhere.status_code in (403, 404) and root.status_code in (403, 404)

        accepted = await http.post(
            hook.url, json=private_update(6, user, question), headers={SECRET_HEADER: hook.secret}
        )
        assert accepted.status_code == 200

    [answer] = await api.wait_for(user, 1)
    assert "HCR" in answer.text  # the real update was answered…
    await api.quiet(user, 2.0)
    assert api.to(intruder) == []  # …and none of the refused ones ever was
    assert not any(method == "getUpdates" for method, _ in api.calls)  # webhook mode, not polling
    assert gw.proc is not None and gw.proc.poll() is None


# -- 2. Rasa and the action server ----------------------------------------------------------------
def test_rasa_http_api_and_rest_channel_need_the_token(stack: Stack) -> None:
    token = stack.settings.rasa_token
    rasa = stack.rasa_url
    assert httpx.get(f"{rasa}/status").status_code in (401, 403)
    assert httpx.get(f"{rasa}/status", params={"token": "not-the-token"}).status_code in (401, 403)
    assert httpx.get(f"{rasa}/status", params={"token": token}).status_code == 200
    assert httpx.post(f"{rasa}/model/parse", json={"text": "bonjour"}).status_code in (401, 403)
    assert httpx.get(f"{rasa}/conversations/anyone/tracker").status_code in (401, 403)

    body = {"sender": f"security-probe-{secrets.token_hex(4)}", "message": "bonjour", "metadata": {"language": "fr"}}
    channel = f"{rasa}/webhooks/dalil/webhook"
    assert httpx.post(channel, json=body).status_code == 401
    assert httpx.post(channel, json=body, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    assert httpx.post(channel, json=body, params={"token": token}).status_code == 401  # the header, nothing else
    ok = httpx.post(channel, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)
    assert ok.status_code == 200 and isinstance(ok.json(), list) and ok.json()

    # Rasa's own `rest` channel (no token) is not exposed.
    assert httpx.post(f"{rasa}/webhooks/rest/webhook", json=body).status_code == 404


def test_action_server_needs_the_token(stack: Stack) -> None:
    actions = f"http://127.0.0.1:{stack.settings.action_port}"
    call = {"next_action": "action_answer_faq", "sender_id": "x", "tracker": {}, "domain": {}, "version": "3.6.0"}
    assert httpx.post(f"{actions}/webhook", json=call).status_code == 401
    assert httpx.post(f"{actions}/webhook", json=call, params={"token": "not-the-token"}).status_code == 401
    assert httpx.get(f"{actions}/actions").status_code == 401
    assert httpx.get(f"{actions}/actions", params={"token": stack.settings.action_token}).status_code == 200
    assert httpx.get(f"{actions}/health").status_code == 200


def _proc_listeners(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses on which some process listens on TCP `port`, from /proc/net/tcp and tcp6."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            host, _, port_hex = local.partition(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(host)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(ipaddress.ip_address(raw))
    return found


def _is_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _other_addresses() -> list[str]:
    """This machine's own non-loopback IPv4 addresses (from /proc/net/fib_trie)."""
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        return []
    found: set[str] = set()
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.strip() == "/32 host LOCAL" and "|--" in previous:
            address = previous.split("|--", 1)[1].strip()
            if not ipaddress.ip_address(address).is_loopback:
                found.add(address)
    return sorted(found)


def test_rasa_and_actions_listen_on_loopback_only(stack: Stack) -> None:
    for name, port in (("rasa", stack.settings.rasa_port), ("actions", stack.settings.action_port)):
        listeners = _proc_listeners(port)
        assert listeners, f"{name}: nothing listens on {port}"
        assert all(_is_loopback(a) for a in listeners), f"{name} listens on {listeners}"


def test_rasa_and_actions_cannot_be_reached_from_another_address(stack: Stack) -> None:
    others = _other_addresses()
    if not others:
        pytest.skip("this machine has no non-loopback address")
    for address in others:
        for port in (stack.settings.rasa_port, stack.settings.action_port):
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2.0):
                pass


# -- 3. staff and admin powers ----------------------------------------------------------------------
async def test_staff_commands_outside_the_hotline_group_do_nothing(api: FakeTelegram, gateways: Gateways) -> None:
    gw = await gateways.polling(**hotline_env())
    user = 3101
    thread, count = await open_handoff(api, user)
    card = next(s for s in api.in_thread(HOTLINE, thread) if "Nouvelle demande" in (s.text or ""))
    staff_in_topic = {"message_thread_id": thread, "is_topic_message": True}
    other_group = {"id": OTHER_GROUP, "type": "supergroup", "title": "Autre groupe", "is_forum": True}

    # A staff member in another forum group, in a topic with the same number: /close, /bot, a reply.
    api.message(STAFF, "/close", chat=other_group, extra=staff_in_topic)
    api.message(STAFF, "/bot", chat=other_group, extra=staff_in_topic)
    api.message(STAFF, "bonjour, c'est l'équipe", chat=other_group, extra=staff_in_topic)
    # The card's "close" button pressed from a message in the other group.
    api.staff_press(OTHER_GROUP, STAFF, card.button("Clore")["callback_data"])
    # The same staff member in a private chat with the bot.
    api.message(STAFF, "/bot")
    api.message(STAFF, "/close")

    await api.wait_for(STAFF, 2)
    await api.quiet(OTHER_GROUP, 2.0)
    assert texts(api, STAFF) == [UNKNOWN, UNKNOWN]  # the normal bot, nothing more
    assert set(texts(api, OTHER_GROUP)) <= {GROUP_ONLY_PRIVATE}  # at most "I only talk in private"
    assert not any(s.method == "copyMessage" for s in api.to(user))  # nothing relayed to the user
    assert not any("Cas clos" in (s.text or "") for s in api.in_thread(HOTLINE, thread))
    assert not any(method == "closeForumTopic" for method, _ in api.calls)
    await still_relayed(api, user, thread, count)

    # Control: the same command from the same person inside the hotline topic works.
    api.staff_message(HOTLINE, STAFF, thread, "/bot")
    await wait_until(lambda: any("assistant Dalil reprend" in t for t in texts(api, user)))
    assert gw.proc is not None and gw.proc.poll() is None


FORGED_HOTLINE = {"id": HOTLINE, "type": "private", "first_name": "Hotline"}


async def test_a_stranger_in_a_private_chat_claiming_the_hotline_id_changes_nothing(
    api: FakeTelegram, gateways: Gateways
) -> None:
    gw = await gateways.polling(**hotline_env())
    user, stranger = 3201, 3202
    thread, count = await open_handoff(api, user)
    in_topic = {"message_thread_id": thread, "is_topic_message": True}
    api.message(stranger, "/close", chat=FORGED_HOTLINE, extra=in_topic)
    api.message(stranger, "/bot", chat=FORGED_HOTLINE, extra=in_topic)
    api.message(stranger, "salut", chat=FORGED_HOTLINE, extra=in_topic)
    await asyncio.sleep(3.0)

    assert gw.proc is not None and gw.proc.poll() is None  # no crash
    assert len(api.to(user)) == count, texts(api, user)[count:]  # the handoff was not touched
    assert not any(word in (s.text or "") for s in api.in_thread(HOTLINE, thread) for word in ("Cas clos", "Cas pris"))
    await still_relayed(api, user, thread, count)
    api.message(3203, "où faire un test VIH gratuit ?")  # and everybody else is still answered
    answer = (await api.wait_for(3203, 1))[0]  # the offer to share a location may follow
    assert "ALCS" in answer.text


async def test_a_staff_id_in_a_private_chat_claiming_the_hotline_id_is_not_staff(
    api: FakeTelegram, gateways: Gateways
) -> None:
    gw = await gateways.polling(**hotline_env())
    user = 3211
    thread, count = await open_handoff(api, user)
    api.message(STAFF, "/bot", chat=FORGED_HOTLINE, extra={"message_thread_id": thread, "is_topic_message": True})
    await asyncio.sleep(3.0)

    assert gw.proc is not None and gw.proc.poll() is None
    assert len(api.to(user)) == count, texts(api, user)[count:]  # the handoff was not ended
    await still_relayed(api, user, thread, count)


async def test_admin_powers_come_from_the_environment_on_every_update(api: FakeTelegram, gateways: Gateways) -> None:
    gw = await gateways.polling(**hotline_env())
    api.message(ADMIN, "/stats")
    [stats] = await api.wait_for(ADMIN, 1)
    assert "Messages" in stats.text

    group = {"id": -1005550000001, "type": "group", "title": "Admins et amis"}
    api.message(ADMIN, "/stats", chat=group)
    api.message(ADMIN, "/stats@DalilTestBot", chat=group)
    await api.wait_for(group["id"], 1)
    await api.quiet(group["id"], 2.0)
    assert not any("Messages" in t or "📊" in t for t in texts(api, group["id"]))
    assert set(texts(api, group["id"])) == {GROUP_ONLY_PRIVATE}

    somebody = 3301
    api.message(somebody, "/stats")
    api.message(somebody, "/unanswered")
    sent = await api.wait_for(somebody, 2)
    assert [s.text for s in sent] == [UNKNOWN, UNKNOWN]

    # Same database, ADMIN_USER_IDS emptied: the former admin is an ordinary user again.
    gw.stop()
    await gateways.polling(**hotline_env(ADMIN_USER_IDS=""))
    api.message(ADMIN, "/stats")
    sent = await api.wait_for(ADMIN, 2)
    assert sent[1].text == UNKNOWN


# -- 4. no secret in logs or user-facing errors -------------------------------------------------------
async def test_no_secret_in_logs_or_in_what_users_read(
    stack: Stack, api: FakeTelegram, gateways: Gateways, seen: Seen
) -> None:
    # Exercise the error paths once more (Rasa down, then the action server down) so that the
    # logs hold failures, not only successes, even when this test runs alone.
    rasa_proxy = FaultyProxy(stack.settings.rasa_port)
    try:
        await gateways.polling(RASA_PORT=str(rasa_proxy.port), ACK_AFTER="1")
        user = 3401
        rasa_proxy.down()
        api.message(user, "Comment demander l'asile au Maroc ?")
        await api.wait_for(user, 1, timeout=15)
        await asyncio.sleep(2.0)
        rasa_proxy.up()
        await api.wait_for(user, 2, timeout=60)
        stack.action_proxy.down()
        try:
            api.message(user, "où faire un test VIH gratuit ?")
            # The "received, answering soon" line (ACK_AFTER=1) may come first on a slow day.
            await api.wait_until(
                user,
                lambda sent: any(s.text == FAILED for s in sent[2:]),
                timeout=60,
                what="the could-not-prepare reply",
            )
        finally:
            stack.action_proxy.up()
    finally:
        gateways.stop()
        rasa_proxy.close()

    needles = {
        *seen.secrets,
        *(token.split(":", 1)[1] for token in list(seen.secrets) if ":" in token),
        stack.env["RASA_TOKEN"],
        stack.env["ACTION_TOKEN"],
        stack.env["DALIL_SECRET_KEY"],
    }
    logs = [*seen.logs, *sorted((stack.var_dir / "log").glob("*.log"))]
    assert any(path.name == "gateway.log" for path in logs) and any(path.name == "rasa.log" for path in logs)
    leaks = [
        f"{path}: {needle[:4]}…"
        for path in logs
        if path.exists()
        for needle in needles
        if needle and needle in path.read_text(errors="replace")
    ]
    assert leaks == []

    for fake in seen.apis:
        for sent_message in fake.sent:
            shown = sent_message.text or ""
            assert not any(word in shown for word in ("Traceback", "Exception", "Error:")), shown
            assert not any(needle and needle in shown for needle in needles), "a secret was sent to a chat"
