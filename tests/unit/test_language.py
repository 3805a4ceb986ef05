"""bot.language: what a user would notice about detection, on the project's own examples.

Uses the real bundled fastText model (loaded once, ~0.1 s) and the real cue lexicon.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from bot.language import (
    GREETING_CONFIDENCE,
    Detection,
    Detector,
    LangdetectBackend,
    detect,
    get_detector,
    load_cues,
)


def lang(text: str) -> str:
    return detect(text).lang


# --------------------------------------------------------------------------- nothing to detect


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\u200b\u200f", "👍", "🙏🙏😊", "0612345678", "12:30", "???", "k", "A", "..."],
)
def test_nothing_to_detect_is_und(text: str) -> None:
    detection = detect(text)
    assert detection.lang == "und"
    assert detection.script == "none"
    assert detection.confidence == 0.0


@pytest.mark.parametrize("text", ["ok", "OK", "okay", "lol 😂", "hhhhh", "ok 👍"])
def test_words_every_language_uses_are_und(text: str) -> None:
    assert lang(text) == "und"


# --------------------------------------------------------------------------- greetings, short


@pytest.mark.parametrize("text", ["salam", "Salam 👋", "slm", "salam alikom", "salaaam"])
def test_latin_salam_is_darija(text: str) -> None:
    detection = detect(text)
    assert detection.lang == "ary"
    assert detection.confidence == GREETING_CONFIDENCE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("merci", "fr"),
        ("Merci beaucoup !", "fr"),
        ("merciiii", "fr"),
        ("ok merci", "fr"),
        ("bonjour", "fr"),
        ("oui", "fr"),
        ("hello", "en"),
        ("thanks", "en"),
        ("thank you", "en"),
        ("yes", "en"),
        ("hola", "es"),
        ("gracias", "es"),
    ],
)
def test_short_messages(text: str, expected: str) -> None:
    assert lang(text) == expected


def test_code_switching_greeting_then_french_is_french() -> None:
    # Rule: a greeting decides only a message made of greetings; the content decides the rest.
    assert lang("salam je veux rentrer") == "fr"
    assert lang("salam, I need help with my papers") == "en"


def test_code_switching_greeting_then_darija_is_darija() -> None:
    assert lang("salam bghit nrje3 l bladi") == "ary"


# --------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je voudrais savoir comment renouveler ma carte de séjour", "fr"),
        ("Est-ce que je peux voir un médecin gratuitement ?", "fr"),
        ("rendez-vous à 9h30 le 3 mars", "fr"),
        ("j'ai 2 enfants et 3 valises", "fr"),
        ("je m'appelle Mamadou Ndiaye", "fr"),
        ("I need to see a doctor, where is the nearest hospital?", "en"),
        ("Hello, I lost my passport", "en"),
        ("Hola, necesito ayuda para volver a mi país", "es"),
    ],
)
def test_latin_sentences(text: str, expected: str) -> None:
    assert lang(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "3afak bghit n9der nchouf tbib",
        "wach kayn chi 7el?",
        "kifach ndir bach nrje3 l bladi?",
        "fin kayn l'hopital?",
        "makaynch lflous m3aya",
        "ana f tanja daba, khasni lwra9",
    ],
)
def test_arabizi_is_darija(text: str) -> None:
    detection = detect(text)
    assert detection.lang == "ary"
    assert detection.script == "latin"


@pytest.mark.parametrize("text", ["mp3", "covid19", "RDV 9h30", "5km", "2eme étage"])
def test_numbers_with_letters_are_not_arabizi(text: str) -> None:
    assert lang(text) != "ary"


@pytest.mark.parametrize(
    "text",
    [
        "واش كاين شي طبيب قريب؟",
        "بغيت نرجع لبلادي",
        "كيفاش نجدد الكارط ديالي؟",
        "شنو خاصني باش نرجع؟",
        "ماعرفتش فين نمشي",
        "الدراري كيقراو فالمدرسة",
    ],
)
def test_darija_in_arabic_script(text: str) -> None:
    detection = detect(text)
    assert detection.lang == "ary"
    assert detection.script == "arabic"


@pytest.mark.parametrize(
    "text",
    [
        "أريد العودة إلى بلدي، هل يمكنكم مساعدتي؟",
        "ما هي الوثائق المطلوبة لتجديد بطاقة الإقامة؟",
        "لم أفهم ما تقصده",
        "هذه المدرسة التي يدرس فيها أطفالي",
    ],
)
def test_standard_arabic(text: str) -> None:
    detection = detect(text)
    assert detection.lang == "ar"
    assert detection.script == "arabic"


def test_same_request_in_darija_and_msa() -> None:
    assert lang("بغيت نمشي للسبيطار دابا") == "ary"
    assert lang("أريد أن أذهب إلى المستشفى الآن") == "ar"


def test_msa_evidence_raises_confidence() -> None:
    assert detect("هل يمكنني الذهاب الآن؟").confidence > detect("شكرا").confidence


def test_short_arabic_without_cues_is_arabic() -> None:
    # MSA and Darija share these words: the reply language (Arabic) is what matters.
    for text in ("شكرا", "السلام عليكم", "مرحبا"):
        assert lang(text) == "ar"


# --------------------------------------------------------------------------- hygiene


def test_invisible_characters_do_not_change_the_answer() -> None:
    assert lang("\u200fواش\u200f كاين \u200bشي طبيب") == "ary"
    assert lang("bon\u200bjour") == "fr"
    assert lang("\u202bmerci\u202c") == "fr"
    assert detect("\ufeff\u200f") == detect("")


def test_mixed_script_is_judged_on_its_majority() -> None:
    detection = detect("ok شكرا بزاف")
    assert detection.script == "mixed"
    assert detection.lang == "ary"


def test_other_languages_are_und_not_a_guess() -> None:
    assert lang("Ich möchte nach Hause zurückkehren") == "und"
    assert lang("من می‌خواهم به کشورم برگردم") == "und"  # Persian, Arabic script


def test_detection_is_a_frozen_value() -> None:
    detection = detect("bonjour")
    assert isinstance(detection, Detection)
    assert 0.0 <= detection.confidence <= 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        detection.lang = "en"  # type: ignore[misc]


# --------------------------------------------------------------------------- lexicon, backends


def test_lexicon_rejects_unquoted_yaml_booleans(tmp_path: Path) -> None:
    bad = tmp_path / "cues.yml"
    bad.write_text(
        "darija_arabic: {strong: [واش]}\n"
        "darija_latin: {strong: [wach]}\n"
        "latin_words: {en: [yes, hello]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="quote"):
        load_cues(bad)


def test_lexicon_words_shared_by_languages_split_their_vote() -> None:
    cues = load_cues()
    assert dict(cues.latin_votes["la"]) == {"fr": 0.5, "es": 0.5}
    assert dict(cues.latin_votes["merci"]) == {"fr": 1.0}


def test_langdetect_backend_is_restricted_and_seeded() -> None:
    backend = LangdetectBackend()
    first = backend.scores("Je voudrais renouveler mon titre de séjour")
    assert first == backend.scores("Je voudrais renouveler mon titre de séjour")
    assert max(("fr", "en", "es", "ar"), key=first.__getitem__) == "fr"
    detector = Detector(cues=get_detector().cues, backend=backend)
    assert detector.detect("bghit nrje3 l bladi").lang == "ary"


# --------------------------------------------------------------------------- speed


def test_throughput_is_above_5000_messages_per_second() -> None:
    messages = [
        "Bonjour, je voudrais rentrer chez moi",
        "salam 3afak wach kayn chi 7el?",
        "واش كاين شي طبيب قريب؟",
        "ما هي الوثائق المطلوبة؟",
        "I lost my passport, what should I do?",
        "merci",
        "ok",
        "👍",
    ] * 625
    detector = get_detector()
    detector.detect("warm up")
    start = time.process_time()
    for message in messages:
        detector.detect(message)
    elapsed = time.process_time() - start
    assert len(messages) / elapsed >= 5000, f"{len(messages) / elapsed:.0f} messages/s"
