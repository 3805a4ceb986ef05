"""bot.language.policy: which language the user gets answered in."""

from __future__ import annotations

import dataclasses

import pytest

from bot.language.detector import Detection, detect
from bot.language.policy import Decision, UserLanguage, decide, telegram_prior, word_count


def det(lang: str, confidence: float = 0.95, script: str = "latin") -> Detection:
    return Detection(lang, confidence, script)  # type: ignore[arg-type]


NEW = UserLanguage()

# --------------------------------------------------------------------------- explicit choice


def test_chose_arabic_writes_ok_merci_still_arabic() -> None:
    state = UserLanguage(chosen="ar", current="ar", telegram_code="fr")
    decision = decide(detect("ok merci"), state)
    assert decision.reply == "ar"
    assert decision.state.chosen == "ar"
    assert decision.state.current == "ar"


@pytest.mark.parametrize("message", ["bonjour", "hola amigo", "ok merci", "thank you so much", "merci beaucoup"])
def test_explicit_choice_beats_short_messages(message: str) -> None:
    decision = decide(detect(message), UserLanguage(chosen="ar", current="ar"), words=word_count(message))
    assert decision.reply == "ar"
    assert decision.followed_from is None


@pytest.mark.parametrize(
    ("message", "chosen", "reply"),
    [
        ("Hello, I lost my passport yesterday in Rabat", "ar", "en"),
        ("bonjour je cherche un medecin pour mon fils", "en", "fr"),
        ("أريد أن أعرف كيف أطلب اللجوء في المغرب", "fr", "ar"),
        ("بغيت نعرف فين نقدر ندير التحليل ديال السيدا", "en", "ar"),
    ],
)
def test_a_full_sentence_in_another_language_follows_the_person(message: str, chosen: str, reply: str) -> None:
    decision = decide(detect(message), UserLanguage(chosen=chosen, current=chosen), words=word_count(message))
    assert decision.reply == reply
    assert decision.followed_from == chosen
    assert decision.state.chosen == reply  # the next "ok" stays in the new language
    after = decide(detect("ok"), decision.state, words=1)
    assert after.reply == reply and after.followed_from is None


def test_arabizi_never_overrides_a_choice() -> None:
    message = "salam bghit nrje3 l bladi 3afak chno ndir"
    decision = decide(detect(message), UserLanguage(chosen="fr", current="fr"), words=word_count(message))
    assert decision.reply == "fr"
    assert decision.followed_from is None


def test_an_unsure_full_sentence_keeps_the_choice() -> None:
    decision = decide(det("en", 0.8), UserLanguage(chosen="fr", current="fr"), words=8)
    assert decision.reply == "fr"


def test_word_count_ignores_digits_emoji_and_single_letters() -> None:
    assert word_count("ok 👍 2 x") == 1
    assert word_count("je suis à Rabat") == 3
    assert word_count("فين كاين السبيطار") == 3


def test_chose_french_writes_darija_gets_french_without_darija_wording() -> None:
    decision = decide(det("ary", 0.99), UserLanguage(chosen="fr", current="fr"))
    assert decision.reply == "fr"
    assert decision.darija is False
    assert decision.state.darija is True  # remembered for when Arabic is used


def test_chose_arabic_writes_darija_gets_darija_wording() -> None:
    decision = decide(det("ary", 0.99, "arabic"), UserLanguage(chosen="ar", current="ar"))
    assert (decision.reply, decision.darija) == ("ar", True)


def test_invalid_choice_is_ignored() -> None:
    decision = decide(det("en"), UserLanguage(chosen="de"))
    assert decision.reply == "en"


# --------------------------------------------------------------------------- detected languages


@pytest.mark.parametrize(("lang", "reply"), [("fr", "fr"), ("en", "en"), ("ar", "ar")])
def test_confident_first_message_is_answered_in_its_language(lang: str, reply: str) -> None:
    decision = decide(det(lang), NEW)
    assert decision.reply == reply
    assert decision.state.current == reply
    assert decision.darija is False


def test_darija_is_answered_in_arabic_with_darija_wording() -> None:
    decision = decide(det("ary", 0.9), NEW)
    assert (decision.reply, decision.darija) == ("ar", True)
    assert decision.state == UserLanguage(current="ar", darija=True)


def test_confident_switch_is_followed() -> None:
    decision = decide(det("en", 0.95), UserLanguage(current="fr"))
    assert decision.reply == "en"
    assert decision.state.current == "en"


def test_unsure_switch_is_not_followed() -> None:
    decision = decide(det("en", 0.6), UserLanguage(current="fr"))
    assert decision.reply == "fr"
    assert decision.state.current == "fr"


def test_unsure_detection_of_the_current_language_is_kept() -> None:
    assert decide(det("fr", 0.56), UserLanguage(current="fr")).reply == "fr"


def test_arabic_script_settles_arabic_even_when_variety_is_unsure() -> None:
    # "شكرا" from a French-speaking user: MSA or Darija is unsure, Arabic is not.
    decision = decide(detect("شكرا"), UserLanguage(current="fr"))
    assert decision.reply == "ar"


def test_unsure_arabizi_does_not_switch() -> None:
    decision = decide(det("ary", 0.65, "latin"), UserLanguage(current="fr"))
    assert decision.reply == "fr"


# --------------------------------------------------------------------------- es and und


def test_und_with_nothing_known_asks_once() -> None:
    first = decide(det("und", 0.0, "none"), NEW)
    assert first.reply is None
    assert first.state.asked is True
    second = decide(det("und", 0.0, "none"), first.state)
    assert second.reply == "fr"
    assert second.state.asked is True


def test_spanish_with_nothing_known_asks() -> None:
    decision = decide(det("es", 0.99), UserLanguage(telegram_code="es"))
    assert decision.reply is None
    assert decision.state.asked is True


@pytest.mark.parametrize("lang", ["es", "und"])
def test_es_and_und_keep_the_current_language(lang: str) -> None:
    decision = decide(det(lang, 0.9), UserLanguage(current="en", telegram_code="fr"))
    assert decision.reply == "en"


@pytest.mark.parametrize(("code", "reply"), [("ar", "ar"), ("en-US", "en"), ("fr-FR", "fr")])
def test_es_and_und_without_current_use_the_telegram_prior(code: str, reply: str) -> None:
    for lang in ("es", "und"):
        decision = decide(det(lang, 0.9), UserLanguage(telegram_code=code))
        assert decision.reply == reply
        assert decision.state.asked is False


def test_und_after_asking_without_prior_defaults_to_french() -> None:
    assert decide(det("und", 0.0), UserLanguage(asked=True)).reply == "fr"


# --------------------------------------------------------------------------- first message prior


def test_unsure_first_message_takes_the_telegram_prior() -> None:
    decision = decide(det("fr", 0.6), UserLanguage(telegram_code="en-GB"))
    assert decision.reply == "en"


def test_unsure_first_message_without_prior_asks_then_follows_detection() -> None:
    first = decide(det("fr", 0.6), UserLanguage(telegram_code="de"))
    assert (first.reply, first.state.asked) == (None, True)
    second = decide(det("fr", 0.6), first.state)
    assert second.reply == "fr"


@pytest.mark.parametrize(("code", "reply"), [(None, None), ("ar", "ar"), ("fr", "fr")])
def test_salam_from_a_new_user(code: str | None, reply: str | None) -> None:
    decision = decide(detect("salam"), UserLanguage(telegram_code=code))
    assert decision.reply == reply
    assert decision.state.darija is True
    assert decision.darija is (reply == "ar")


# --------------------------------------------------------------------------- Darija memory


def test_short_arabic_keeps_darija_memory() -> None:
    state = UserLanguage(current="ar", darija=True)
    decision = decide(det("ar", 0.62, "arabic"), state)
    assert (decision.reply, decision.darija) == ("ar", True)


def test_confident_msa_ends_darija_wording() -> None:
    state = UserLanguage(current="ar", darija=True)
    decision = decide(det("ar", 0.85, "arabic"), state)
    assert (decision.reply, decision.darija) == ("ar", False)
    assert decision.state.darija is False


def test_state_is_not_mutated() -> None:
    state = UserLanguage(current="fr")
    decide(det("en", 0.99), state)
    assert state == UserLanguage(current="fr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.current = "en"  # type: ignore[misc]
    assert isinstance(decide(det("fr"), state), Decision)


@pytest.mark.parametrize(
    ("code", "prior"),
    [("fr", "fr"), ("en-US", "en"), ("AR", "ar"), ("pt_BR", None), ("es", None), ("", None)],
)
def test_telegram_prior(code: str, prior: str | None) -> None:
    assert telegram_prior(code) == prior
