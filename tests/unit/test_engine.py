"""The gateway's engine and runner with a scripted Rasa (httpx.MockTransport) and a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bot.core.content import PAGE_BREAK, library
from bot.core.settings import Settings
from bot.gateway.engine import Engine, split_long
from bot.gateway.rasa_client import RasaClient
from bot.gateway.runner import Runner, SendRetry
from bot.storage.db import create_engine, migrate
from bot.storage.store import Store

Handler = Callable[[dict[str, Any]], list[dict[str, Any]]]


class ScriptedRasa:
    """Answers REST webhook calls with a function of the request body; can be switched off."""

    def __init__(self, reply: Handler, parse: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.reply = reply
        self.parse = parse or (lambda text: {"intent": {"name": "nlu_fallback", "confidence": 0.3}})
        self.requests: list[dict[str, Any]] = []
        self.parsed: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        if request.url.path == "/model/parse":  # NLU only (several needs in one message)
            self.parsed.append(body["text"])
            return httpx.Response(200, json=self.parse(body["text"]))
        self.requests.append(body)
        return httpx.Response(200, json=self.reply(body))


class Collect:
    """A transport that records what would be sent; can fail a number of sends first."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self.failures: list[Exception] = []

    async def send(self, chat_id: int, body: dict[str, Any]) -> int | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, body))
        return len(self.sent)

    def texts(self) -> list[str]:
        return [body["text"] for _, body in self.sent]


@pytest.fixture
async def parts(db_url: str) -> AsyncIterator[Callable[[Handler], tuple[Engine, Runner, ScriptedRasa, Collect]]]:
    migrate(db_url)
    store = Store(create_engine(db_url))
    clients: list[httpx.AsyncClient] = []
    runners: list[Runner] = []

    def build(
        reply: Handler, parse: Callable[[str], dict[str, Any]] | None = None, *, ack_after: float = 60.0
    ) -> tuple[Engine, Runner, ScriptedRasa, Collect]:
        rasa = ScriptedRasa(reply, parse)
        http = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        clients.append(http)
        settings = Settings.from_env({"DATABASE_URL": db_url})
        engine = Engine(settings, store, RasaClient(http, "http://rasa"), library())
        transport = Collect()
        runner = Runner(store, engine, transport, ack_after=ack_after, sweep=False)  # no ack unless asked
        runners.append(runner)
        return engine, runner, rasa, transport

    yield build
    for runner in runners:
        await runner.stop()
    for http in clients:
        await http.aclose()
    await store.close()


def echo_greeting(body: dict[str, Any]) -> list[dict[str, Any]]:
    lang = body["metadata"].get("language")
    return [{"recipient_id": body["sender"], "text": f"greeting in {lang}"}]


async def test_french_message_is_sent_to_rasa_with_its_language(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u1", 11, "fr", "text", text="bonjour, je veux des informations")
    assert await runner.drain("u1", timeout=5)
    assert out.texts() == ["greeting in fr"]
    assert rasa.requests[0]["metadata"] == {"language": "fr", "darija": False, "urgent": False, "danger_kinds": []}


async def test_arabic_and_darija_get_arabic_answers(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u2", 12, None, "text", text="واش كاين شي طبيب قريب ليا؟")
    assert await runner.drain("u2", timeout=5)
    assert rasa.requests[0]["metadata"]["language"] == "ar"
    assert rasa.requests[0]["metadata"]["darija"] is True


async def test_danger_words_mark_the_message_urgent(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    long_text = (
        "Bonjour, je voulais demander pour les papiers. " * 20
        + "Mais là il me frappe et je suis enfermée. "
        + "Merci. " * 20
    )
    await runner.submit("u3", 13, "fr", "text", text=long_text)
    assert await runner.drain("u3", timeout=5)
    assert rasa.requests[0]["metadata"]["urgent"] is True


async def test_unsure_language_asks_once_and_then_answers_the_question(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u4", 14, None, "text", text="👍")
    assert await runner.drain("u4", timeout=5)
    [(_, keyboard)] = out.sent
    assert [b["text"] for b in keyboard["buttons"][0]] == ["Français", "العربية", "English"]
    assert rasa.requests == []
    await runner.submit("u4", 14, None, "callback", data={"token": keyboard["buttons"][0][1]["token"]})
    assert await runner.drain("u4", timeout=5)
    # Arabic confirmed, then the original message goes to Rasa in Arabic.
    assert "العربية" in out.texts()[1] or "بالعربية" in out.texts()[1]
    assert rasa.requests[-1]["message"] == "👍"
    assert rasa.requests[-1]["metadata"]["language"] == "ar"


async def test_a_chosen_language_survives_ok_merci(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u5", 15, "fr", "command", data={"name": "language"})
    assert await runner.drain("u5", timeout=5)
    arabic = out.sent[0][1]["buttons"][0][1]["token"]
    await runner.submit("u5", 15, "fr", "callback", data={"token": arabic})
    await runner.submit("u5", 15, "fr", "text", text="ok merci")
    assert await runner.drain("u5", timeout=5)
    assert rasa.requests[-1]["message"] == "ok merci"
    assert rasa.requests[-1]["metadata"]["language"] == "ar"


async def test_a_full_sentence_in_another_language_is_answered_in_it_with_a_way_back(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u5b", 16, "fr", "command", data={"name": "language"})
    assert await runner.drain("u5b", timeout=5)
    english = out.sent[0][1]["buttons"][0][2]["token"]
    await runner.submit("u5b", 16, "fr", "callback", data={"token": english})
    await runner.submit("u5b", 16, "fr", "text", text="bonjour, je cherche un médecin pour mon fils qui a de la fièvre")
    assert await runner.drain("u5b", timeout=5)
    assert rasa.requests[-1]["metadata"]["language"] == "fr"
    assert out.texts()[-2] == "greeting in fr"
    assert "/language" in out.texts()[-1] and "English" in out.texts()[-1] and "français" in out.texts()[-1]
    await runner.submit("u5b", 16, "fr", "text", text="ok")  # a short word keeps the new language
    assert await runner.drain("u5b", timeout=5)
    assert rasa.requests[-1]["metadata"]["language"] == "fr"
    assert out.texts()[-1] == "greeting in fr"


async def test_start_speaks_the_chosen_language_and_shows_the_menu(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u5c", 17, "fr", "command", data={"name": "language"})
    assert await runner.drain("u5c", timeout=5)
    arabic = out.sent[0][1]["buttons"][0][1]["token"]
    await runner.submit("u5c", 17, "fr", "callback", data={"token": arabic})
    assert await runner.drain("u5c", timeout=5)
    sent = len(out.sent)
    await runner.submit("u5c", 17, "fr", "command", data={"name": "start"})
    assert await runner.drain("u5c", timeout=5)
    welcome, menu = out.texts()[sent:]
    assert "دليل" in welcome and "Bonjour" not in welcome and "/language" in welcome
    assert rasa.requests[-1]["message"].startswith("/help") and menu == "greeting in ar"


def keyword_topics(text: str) -> dict[str, Any]:
    """A scripted NLU: the topic of the first keyword found, else not understood."""
    for word, topic in (
        ("landlord", "housing"),
        ("paid", "labour_rights"),
        ("school", "education"),
        ("pregnant", "maternity_child_health"),
    ):
        if word in text:
            return {
                "intent": {"name": "faq", "confidence": 0.95},
                "response_selector": {"faq": {"response": {"intent_response_key": f"faq/{topic}", "confidence": 0.95}}},
            }
    return {"intent": {"name": "nlu_fallback", "confidence": 0.3}}


async def test_several_needs_answer_one_and_offer_the_others(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting, keyword_topics)
    text = (
        "Hello, the landlord is putting us out of the flat on Monday. "
        "My boss has not paid me for two months and my son is not at school"
    )
    await runner.submit("n6", 18, "en", "text", text=text)
    assert await runner.drain("n6", timeout=5)
    assert rasa.requests[-1]["message"] == text  # the whole message's topic (housing) is one of its parts
    assert "faq_topic" not in rasa.requests[-1]["metadata"]
    answer, also = out.sent[-2][1], out.sent[-1][1]
    assert answer["text"] == "greeting in en"
    assert also["text"] == "You also mention:"
    titles = [row[0]["text"] for row in also["buttons"]]
    assert len(titles) == 2 and any("wage" in t.lower() for t in titles), titles
    await runner.submit("n6", 18, "en", "callback", data={"token": also["buttons"][1][0]["token"]})
    assert await runner.drain("n6", timeout=5)
    assert rasa.requests[-1]["message"].startswith('/faq{"faq_topic":"education"')


async def test_a_long_message_the_model_cannot_place_is_answered_by_its_clearest_part(parts) -> None:
    def whole_unclear(text: str) -> dict[str, Any]:
        return keyword_topics(text) if len(text) < 60 else {"intent": {"name": "nlu_fallback", "confidence": 0.3}}

    engine, runner, rasa, out = parts(echo_greeting, whole_unclear)
    text = (
        "my wife is pregnant and nobody follows her pregnancy here, also my son is not at school since we came to Rabat"
    )
    await runner.submit("n7", 19, "en", "text", text=text)
    assert await runner.drain("n7", timeout=5)
    assert rasa.requests[-1]["message"] == text  # the whole message stays in the conversation
    assert rasa.requests[-1]["metadata"]["faq_topic"] == "maternity_child_health"  # the clearest part's topic
    assert out.texts()[-1] == "You also mention:"


async def test_short_messages_are_not_cut(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting, keyword_topics)
    await runner.submit("n8", 20, "en", "text", text="my boss has not paid me")
    assert await runner.drain("n8", timeout=5)
    assert rasa.parsed == [] and out.texts() == ["greeting in en"]


async def test_buttons_become_tokens_and_carry_the_language(parts) -> None:
    def menu(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"text": "Menu", "buttons": [{"title": "Santé", "payload": '/help{"menu":"health"}'}]}]

    engine, runner, rasa, out = parts(menu)
    await runner.submit("u6", 16, "fr", "text", text="je voudrais de l'aide s'il vous plaît")
    assert await runner.drain("u6", timeout=5)
    [[button]] = out.sent[0][1]["buttons"]
    assert button["text"] == "Santé" and len(button["token"].encode()) <= 64
    await runner.submit("u6", 16, "fr", "callback", data={"token": button["token"]})
    assert await runner.drain("u6", timeout=5)
    assert rasa.requests[-1]["message"] == '/help{"menu":"health","language":"fr","darija":false}'


async def test_forged_or_foreign_buttons_do_nothing_special(parts) -> None:
    def menu(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"text": "Menu", "buttons": [{"title": "X", "payload": "/help"}]}]

    engine, runner, rasa, out = parts(menu)
    await runner.submit("u7", 17, "fr", "text", text="je voudrais le menu s'il vous plaît")
    assert await runner.drain("u7", timeout=5)
    token = out.sent[0][1]["buttons"][0][0]["token"]
    # Another user presses u7's button, and someone sends data we never issued.
    await runner.submit("u8", 18, "fr", "callback", data={"token": token})
    await runner.submit("u8", 18, "fr", "callback", data={"token": "/restart"})
    await runner.submit("u8", 18, "fr", "callback", data={"token": token[:11] + "/restart"})  # tampered
    assert await runner.drain("u8", timeout=5)
    u8_texts = [body["text"] for chat, body in out.sent if chat == 18]
    assert u8_texts.count(library().text("button_expired", "fr")) == 3
    assert all(r["message"] in ("/help", '/help{"language":"fr","darija":false}') for r in rasa.requests[1:])


async def test_long_answers_are_paged_with_a_more_button(parts) -> None:
    def long_answer(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "text": f"page one{PAGE_BREAK}page two{PAGE_BREAK}page three",
                "buttons": [{"title": "Menu", "payload": "/help"}],
            }
        ]

    engine, runner, rasa, out = parts(long_answer)
    await runner.submit("u9", 19, "fr", "text", text="comment demander l'asile au maroc")
    assert await runner.drain("u9", timeout=5)
    first = out.sent[-1][1]
    assert first["text"] == "page one"
    [[more]] = first["buttons"]
    await runner.submit("u9", 19, "fr", "callback", data={"token": more["token"]})
    assert await runner.drain("u9", timeout=5)
    second = out.sent[-1][1]
    assert second["text"] == "page two"
    await runner.submit("u9", 19, "fr", "callback", data={"token": second["buttons"][0][0]["token"]})
    assert await runner.drain("u9", timeout=5)
    last = out.sent[-1][1]
    assert last["text"] == "page three\n\n" + library().text("last_page", "fr")  # says it is the last
    assert last["buttons"][0][0]["text"] == "Menu"
    # Pressing "more" again (a slow phone, an impatient thumb) sends nothing new.
    sent = len(out.sent)
    for token in (more["token"], second["buttons"][0][0]["token"]):
        await runner.submit("u9", 19, "fr", "callback", data={"token": token})
    assert await runner.drain("u9", timeout=5)
    assert len(out.sent) == sent


def test_split_long_respects_telegram_limit() -> None:
    text = ("Une phrase assez longue pour remplir. " * 30 + "\n\n") * 8
    pages = split_long(text, limit=1000)
    assert len(pages) > 1 and all(len(p) <= 1000 for p in pages)
    assert "".join(p.replace(" ", "") for p in pages) == text.replace(" ", "").replace("\n", "")


async def test_non_text_and_empty_messages_get_a_reply_without_rasa(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("u10", 20, "ar", "media", data={"type": "voice"})
    await runner.submit("u10", 20, "ar", "text", text="\u200f\u202e  \u200b")
    await runner.submit("u10", 20, "ar", "text", text="/faq/asylum_apply")
    assert await runner.drain("u10", timeout=5)
    assert out.texts() == [
        library().text("non_text", "ar"),
        library().text("empty_message", "ar"),
        library().text("unknown_command", "ar"),
    ]
    assert rasa.requests == []


async def test_rasa_down_acknowledges_then_answers_in_order_once(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting, ack_after=0.5)
    rasa.down = True
    await runner.submit("u11", 21, "fr", "text", text="bonjour, première question")
    await runner.submit("u11", 21, "fr", "text", text="et voici la deuxième question")
    for _ in range(200):  # until the acknowledgement is out (0.5 s after the first failure)
        if out.sent:
            break
        await asyncio.sleep(0.05)
    assert out.texts() == [library().text("received_will_answer", "fr")]
    rasa.down = False
    # The retry is scheduled with backoff (2 s first); wait for it.
    assert await runner.drain("u11", timeout=15)
    assert out.texts() == [library().text("received_will_answer", "fr"), "greeting in fr", "greeting in fr"]
    assert [r["message"] for r in rasa.requests] == ["bonjour, première question", "et voici la deuxième question"]


async def test_empty_rasa_reply_is_never_silence(parts) -> None:
    engine, runner, rasa, out = parts(lambda body: [])
    await runner.submit("u12", 22, "en", "text", text="what are the opening hours of the office")
    assert await runner.drain("u12", timeout=5)
    assert out.texts() == [library().text("answer_failed", "en")]


async def test_send_failures_are_retried_not_lost(parts) -> None:
    engine, runner, rasa, out = parts(echo_greeting)
    out.failures = [SendRetry(0.2, "flood control"), SendRetry(0, "NetworkError")]
    await runner.submit("u13", 23, "fr", "text", text="bonjour, une question pour vous")
    assert await runner.drain("u13", timeout=10)
    assert out.texts() == ["greeting in fr"]


async def test_a_flooding_user_is_slowed_politely_and_others_are_not_delayed(parts) -> None:
    from bot.gateway.runner import FloodGuard

    engine, runner, rasa, out = parts(echo_greeting)
    runner.flood = FloodGuard(burst=5, window=10.0, pace=0.2)
    for n in range(20):
        await runner.submit("flood", 30, "fr", "text", text=f"bonjour numéro {n}, encore une question")
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    await runner.submit("calm", 31, "fr", "text", text="bonjour, une seule question")
    while not [b for chat, b in out.sent if chat == 31]:
        await asyncio.sleep(0.02)
    assert asyncio.get_running_loop().time() - started < 1.0  # the other user is not delayed
    assert await runner.drain("flood", timeout=20)
    flood_texts = [b["text"] for chat, b in out.sent if chat == 30]
    assert flood_texts.count(library().text("slow_down", "fr")) == 1
    assert flood_texts.count("greeting in fr") == 20  # nothing dropped
    assert [r["message"] for r in rasa.requests if r["sender"] == "flood"] == [
        f"bonjour numéro {n}, encore une question" for n in range(20)
    ]


def test_one_unreadable_update_does_not_stop_the_batch() -> None:
    from telegram import Bot, Update

    from bot.gateway.telegram_app import install_safe_update_parsing

    install_safe_update_parsing()
    good = {
        "update_id": 7,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "salut"},
    }
    broken = {
        "update_id": 8,
        "message": {
            "message_id": 2,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "poll": {"id": "p", "question": "?", "options": [{"text": "a"}]},
        },
    }
    updates = Update.de_list([good, broken], Bot("123456:TEST-TOKEN"))
    assert [u.update_id for u in updates] == [7, 8]
    assert updates[0].message.text == "salut" and updates[1].effective_message is None


def _faq_reply(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa as the tests need it: a topic payload answers with its id, anything else the menu."""
    message = str(body.get("message", ""))
    if message.startswith("/faq"):
        topic = json.loads(message[4:])["faq_topic"]
        return [{"text": f"answer of {topic}"}]
    if message.startswith("/urgent"):
        return [{"text": "urgent lines"}]
    return [{"text": "the menu", "buttons": [{"title": "Santé", "payload": "/help"}]}]


async def test_deep_link_to_a_topic_opens_it_after_the_welcome_in_the_chosen_language(parts) -> None:
    engine, runner, rasa, out = parts(_faq_reply)
    # A new person scans a poster: the welcome (language choice) comes first, then the topic.
    await runner.submit("d1", 31, "ar", "command", data={"name": "start", "payload": "t_hiv_testing"})
    assert await runner.drain("d1", timeout=5)
    welcome = out.sent[-1][1]
    assert welcome["text"] == library().text("welcome", "fr")
    arabic = next(b for b in welcome["buttons"][0] if b["text"] == library().text("language_name_ar", "ar"))
    await runner.submit("d1", 31, "ar", "callback", data={"token": arabic["token"]})
    assert await runner.drain("d1", timeout=5)
    texts = [body["text"] for _, body in out.sent]
    assert texts[-1] == "answer of hiv_testing"
    assert library().text("language_set", "ar") in texts
    assert rasa.requests[-1]["metadata"]["language"] == "ar"
    # Someone who already chose French: welcome back, then the topic, in French.
    await runner.submit("d2", 32, "fr", "command", data={"name": "start", "payload": "l_fr"})
    await runner.submit("d2", 32, "fr", "command", data={"name": "start", "payload": "t_asylum_apply"})
    assert await runner.drain("d2", timeout=5)
    mine = [body for chat, body in out.sent if chat == 32]
    assert mine[-2]["text"] == library().text("welcome_back", "fr") and mine[-1]["text"] == "answer of asylum_apply"
    assert rasa.requests[-1]["metadata"]["language"] == "fr"


async def test_language_deep_link_sets_the_language_and_shows_the_lasting_keyboard(parts) -> None:
    engine, runner, rasa, out = parts(_faq_reply)
    await runner.submit("d3", 33, "fr", "command", data={"name": "start", "payload": "l_en"})
    assert await runner.drain("d3", timeout=5)
    first = out.sent[0][1]
    assert first["text"] == library().text("welcome_back", "en")
    assert first["keyboard"] == [
        [library().text("keyboard_menu", "en"), library().text("keyboard_urgent", "en")],
        [library().text("keyboard_human", "en"), library().text("keyboard_language", "en")],
    ]
    privacy = library().text("privacy_notice", "en", days=engine.settings.retention_days)
    assert privacy in [b["text"] for _, b in out.sent]
    # Pressing a key sends its label as text: 🆘 gives the urgent lines, in any language.
    await runner.submit("d3", 33, "fr", "text", text=library().text("keyboard_urgent", "ar"))
    assert await runner.drain("d3", timeout=5)
    assert out.sent[-1][1]["text"] == "urgent lines"
    assert rasa.requests[-1]["message"].startswith("/urgent")


async def test_a_campaign_tag_is_counted_without_the_person(parts) -> None:
    engine, runner, rasa, out = parts(_faq_reply)
    for user, chat in (("c1", 41), ("c2", 42)):
        await runner.submit(user, chat, "fr", "command", data={"name": "start", "payload": "poster-rabat_2026"})
        assert await runner.drain(user, timeout=5)
    assert out.sent[-1][1]["text"] == library().text("welcome", "fr")  # the welcome still comes first
    assert (await engine.figures.totals("campaign"))["poster-rabat_2026"] == 2


async def test_a_voice_note_gets_the_kind_reply_with_a_way_on(parts) -> None:
    engine, runner, rasa, out = parts(_faq_reply)
    await runner.submit("v1", 51, "fr", "media", data={"type": "voice"})
    assert await runner.drain("v1", timeout=5)
    [(_, body)] = out.sent
    assert body["text"] == library().text("non_text", "fr")
    labels = [b["text"] for row in body["buttons"] for b in row]
    assert labels == [library().text("button_menu", "fr"), library().text("button_human", "fr")]


async def test_typing_shows_while_a_slow_answer_is_coming(parts) -> None:
    def slow(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"text": "answer"}]

    engine, runner, rasa, out = parts(slow)
    typed: list[tuple[int, int]] = []

    async def typing(chat_id: int) -> None:
        typed.append((chat_id, len(out.sent)))

    out.typing = typing  # type: ignore[attr-defined]
    runner.typing_after = 0.05
    original = engine.process

    async def slow_process(item, user):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        return await original(item, user)

    engine.process = slow_process  # type: ignore[method-assign]
    await runner.submit("t1", 61, "fr", "text", text="bonjour, une question")
    assert await runner.drain("t1", timeout=5)
    assert typed == [(61, 0)]  # before anything was sent
    # A fast answer shows no "typing".
    engine.process = original  # type: ignore[method-assign]
    runner.typing_after = 5.0
    await runner.submit("t1", 61, "fr", "text", text="merci")
    assert await runner.drain("t1", timeout=5)
    assert typed == [(61, 0)]


def _near_reply(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa with the action server's answers that depend on place: a paged answer, then the `near`
    directive (the topic's contacts work in several cities); the events listing, then its own."""
    message = str(body.get("message", ""))
    if message.startswith("/ask_events"):  # a city asked: no offer
        return [{"text": "events listing"}]
    if "événements" in message:
        return [{"text": "events listing"}, {"custom": {"dalil": {"op": "near", "events": True}}}]
    answer = {"text": f"ALCS, AMPF{PAGE_BREAK}more about testing", "buttons": [{"title": "Menu", "payload": "/help"}]}
    return [answer, {"custom": {"dalil": {"op": "near", "topic": "hiv_testing"}}}]


async def test_a_location_in_casablanca_is_answered_with_casablancas_services(parts) -> None:
    engine, runner, rasa, out = parts(_near_reply)
    lib = library()
    await runner.submit("n1", 71, "fr", "text", text="Où faire un test VIH gratuit ?")
    assert await runner.drain("n1", timeout=5)
    answer, offer = (body for _, body in out.sent)
    key = lib.text("keyboard_location", "fr")
    assert offer["text"] == lib.text("location_prompt", "fr", label=key)
    assert offer["location_key"] == key  # first key: shares the location (Telegram asks first)
    assert offer["keyboard"][0][0] == lib.text("keyboard_menu", "fr")  # then the lasting keyboard
    # The note is not a button: typing "suite" still turns the answer's page.
    await runner.submit("n1", 71, "fr", "text", text="suite")
    assert await runner.drain("n1", timeout=5)
    assert out.texts()[-1].startswith("more about testing")
    requests = len(rasa.requests)
    await runner.submit("n1", 71, "fr", "media", data={"type": "location", "latitude": 33.589, "longitude": -7.604})
    assert await runner.drain("n1", timeout=5)
    reply = out.sent[-1][1]
    topic = lib.topics()["hiv_testing"].title["fr"]
    assert reply["text"].startswith(lib.text("near_heading", "fr", topic=topic))
    first = reply["text"].split("\n\n")[1]
    assert first.startswith(lib.text("near_city", "fr", city="Casablanca", km=1)) and "ALCS" in first
    assert lib.text("location_not_kept", "fr") in reply["text"]
    assert reply["keyboard"][0][0] == lib.text("keyboard_menu", "fr") and "location_key" not in reply
    assert len(rasa.requests) == requests  # answered by the gateway alone: the position never reaches Rasa


async def test_a_location_without_an_offer_gives_the_help_services_and_none_the_old_reply(parts) -> None:
    engine, runner, rasa, out = parts(_near_reply)
    lib = library()
    await runner.submit("n2", 72, "ar", "media", data={"type": "location", "latitude": 34.02, "longitude": -6.84})
    await runner.submit("n2", 72, "ar", "media", data={"type": "location"})  # no position: the old reply
    await runner.submit("n2", 72, "ar", "text", text=lib.text("keyboard_location", "en"))  # the label as text
    assert await runner.drain("n2", timeout=5)
    general, old, how = out.texts()
    assert general.startswith(lib.text("near_heading_general", "ar"))
    assert general.split("\n\n")[1].startswith(lib.text("near_city", "ar", city="الرباط", km=1))
    assert old == lib.text("location_received", "ar")
    assert how == lib.text("location_how", "ar", label=lib.text("keyboard_location", "ar"))
    assert rasa.requests == []


async def test_a_location_after_the_events_asks_for_the_nearest_citys_events(parts) -> None:
    engine, runner, rasa, out = parts(_near_reply)
    await runner.submit("n3", 73, "fr", "text", text="Quels événements cette semaine ?")
    assert await runner.drain("n3", timeout=5)
    assert out.sent[-1][1]["location_key"] == library().text("keyboard_location", "fr")
    await runner.submit("n3", 73, "fr", "media", data={"type": "location", "latitude": 35.77, "longitude": -5.8})
    assert await runner.drain("n3", timeout=5)
    assert rasa.requests[-1]["message"].startswith('/ask_events{"city":"tanger"')
    city = library().text("near_city", "fr", city="Tanger", km=1)
    assert any(t.startswith(library().text("near_events_city", "fr", city=city)) for t in out.texts())
    assert out.texts()[-1] == "events listing"
