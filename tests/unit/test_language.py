"""bot.language.detector: what a user would notice about detection, on the project's own examples.

Uses the real bundled fastText model (loaded once, ~0.1 s) and the real cue lexicon.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from bot.language.detector import (
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


@pytest.mark.parametrize(
    "text",
    [
        # ka-/ta- written ki-/ti- in chat
        "kindir chi 7aja?",
        "kitkhdem f casa",
        "kiydir lkhedma",
        "tinmchi l sbitar",
        # everyday words in their usual Latin spellings
        "achnahowa l code?",
        "chmen carte khassni?",
        "imkn ghedda",
        "tana bghit nmchi",
        "khssk tmchi l tbib",
        "fiya lmrd",
        "kima glt lik",
    ],
)
def test_more_arabizi_spellings_are_darija(text: str) -> None:
    assert lang(text) == "ary"


@pytest.mark.parametrize(
    "text",
    [
        "kindly help me",
        "the kitchen is closed",
        "my kingdom",
        "Kinshasa",
        "tinder",
        "the title of the book",
        "j'ai acheté un kit",
        "une tintin",
        "thank you sir",
        "the men are waiting",
    ],
)
def test_english_and_french_words_that_look_like_ki_ti_prefixes_are_not_darija(text: str) -> None:
    assert lang(text) != "ary"


@pytest.mark.parametrize("text", ["Mamadou Diallo", "Aminata Traore", "Ibrahim Kone", "Fatou Sow", "San Francisco"])
def test_a_name_alone_says_no_language(text: str) -> None:
    # Capitalised words, no function word, words the model does not know: ask, do not guess.
    assert lang(text) == "und"


def test_names_inside_a_sentence_do_not_hide_its_language() -> None:
    assert lang("je suis Mamadou Diallo") == "fr"
    assert lang("my name is Fatou Sow") == "en"
    assert lang("Prime Minister") == "en"  # capitalised, but words the model knows
    assert lang("mamadou diallo") != "fr"  # lowercase is no evidence of a name, nor of French


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slt", "fr"),
        ("bjr", "fr"),
        ("mrc bcp", "fr"),
        ("nn", "fr"),
        ("pk ?", "fr"),
        ("dsl jsp", "fr"),
        ("slt cv ?", "fr"),
        ("ca va", "fr"),
        ("nope", "en"),
        ("pls help", "en"),
        ("idk", "en"),
    ],
)
def test_chat_abbreviations(text: str, expected: str) -> None:
    assert lang(text) == expected


@pytest.mark.parametrize("text", ["وريني المواعيد", "عاوني عافاك", "قوليا فين نمشي", "شرحلي الورقة", "حيدو نمرتي"])
def test_darija_imperatives_with_a_pronoun(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["أرني المواعيد", "ساعدني من فضلك", "قل لي أين أذهب", "نمرة"])
def test_msa_imperatives_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


def test_si_is_french_function_word() -> None:
    assert lang("si") == "fr"
    assert lang("Si possible") == "fr"


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


# --------------------------------------------------------------------------- Darija features
# Each Darija feature of the lexicon with the project's own examples, and the MSA words that
# look like it and must stay `ar` (docs/language.md, "Arabic script").


def arabic(text: str) -> str:
    detection = detect(text)
    assert detection.script == "arabic"
    return detection.lang


@pytest.mark.parametrize("text", ["هاذ", "هاذا", "هاذي", "هاذشي", "هاذو", "هاذيك", "ذاكشي"])
def test_demonstratives_spelled_with_thal_are_darija(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["هذا", "هذه", "ذلك", "هكذا", "الذي", "ذاك"])
def test_msa_demonstratives_with_thal_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


@pytest.mark.parametrize("text", ["دياله", "ديالها", "ديالهم", "ديالنا", "ديالي", "ديالو", "ديالهوم", "نتاعك"])
def test_possessive_dyal_with_pronouns_is_darija(text: str) -> None:
    assert arabic(text) == "ary"


def test_possessive_in_a_phrase() -> None:
    assert arabic("الكتاب دياله") == "ary"
    assert arabic("الوراق ديالهم ضاعو") == "ary"
    assert arabic("الديالكتيك") == "ar"


@pytest.mark.parametrize("text", ["تيقولو", "تيمشي", "تيجي كل سيمانة", "تانمشي", "كتمشي", "كتبغي", "كتفهم", "غاتشوف"])
def test_ta_ka_gha_verb_prefixes_are_darija(text: str) -> None:
    # تيق-, كتم-, كتب-, كتف- start MSA words too (تيقن، كتمان، كتبه، كتفه): a listed verb
    # stem after the prefix (قول، مشي، بغي، فهم) still makes the word Darija.
    assert arabic(text) == "ary"


@pytest.mark.parametrize(
    "text",
    ["تيار", "تيسير", "تيقن", "كتمان", "كتبه", "كتفه", "كنتم هناك", "كتعبير", "كيفية", "كنوع"],
)
def test_msa_words_that_start_like_a_verb_prefix_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


@pytest.mark.parametrize("text", ["تعرفو", "كيمشيو", "كيمشيوا", "يمشيو", "نقولو", "كانو", "قالو ليا", "مشاو"])
def test_plural_in_u_without_alef_is_darija(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize(
    "text",
    ["هو", "أو", "نحو", "لو", "يبدو", "يدعو", "نرجو", "تبدو", "ننمو", "يوليو", "كانوا", "قالوا"],
)
def test_words_ending_in_waw_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "لحقاش", "حيت", "مزيان", "مزيانة", "بزاف", "شي", "واخا", "دابا", "غادي", "غا",
        "باش", "فاش", "علاش", "كيفاش", "شحال", "ماشي", "والو", "مازال",
    ],
)  # fmt: skip
def test_darija_words_alone(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["زيد شوية", "بلا فلوس", "حتى حاجة", "ف الدار", "وف الليل", "غا نشوف"])
def test_weak_darija_words_with_company(text: str) -> None:
    # زيد (also the name Zaid), بلا (MSA "without") and حاجة (MSA "need") are weak alone
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["زيد", "بلا شك", "حتى الآن", "شيء", "ما زال"])
def test_msa_spellings_and_homographs_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


@pytest.mark.parametrize("text", ["لمزيانة فيهم", "فهادشي", "بهاد الطريقة", "فالدراري"])
def test_proclitics_before_darija_words(text: str) -> None:
    # l- with the assimilated article (لمزيانة), f-/b- before a demonstrative
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["الهادي", "فرآه", "وليه", "بغير حق", "لغير ذلك"])
def test_proclitics_before_msa_words_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


@pytest.mark.parametrize("text", ["ماكاينش", "ماعرفتش", "مكاين", "مابغيتش", "ماكنعرفش"])
def test_negation_ma_ch_is_darija(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize("text", ["متعايش", "مدهش", "منعش", "مفتش"])
def test_msa_participles_ending_in_shin_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


def test_hamza_seat_is_the_msa_spelling() -> None:
    # normalisation folds ئ into ي: كائن، هادئ، خائب would look like Darija كاين، هادي، خايب
    assert arabic("كاين") == "ary"
    assert arabic("كائن حي") == "ar"
    assert arabic("هادي") == "ary"
    assert arabic("هادئ جدا") == "ar"
    assert arabic("خائب الأمل") == "ar"


def test_modal_before_a_bare_imperfect_is_darija() -> None:
    assert arabic("يقدر يجي غدا") == "ary"
    assert arabic("يمكن يكون عندو الحق") == "ary"
    assert arabic("يمكن أن يكون") == "ar"
    assert arabic("يمكن تحقيق ذلك") == "ar"
    assert arabic("يقدر عدد السكان بمليون") == "ar"


def test_msa_function_words_behind_a_clitic_count_against_darija() -> None:
    detector = get_detector()
    assert detector.arabic_scores(["وهذا", "فلماذا"]) == (0.0, 2.0)


def test_short_items_msa_and_darija_share_stay_arabic() -> None:
    # Darija and MSA write these the same way: the answer is `ar`, which the policy answers
    # in Arabic like `ary`; only the Darija wording is missed.
    for text in ("من", "هو", "الناس", "في المدينة", "كل يوم"):
        assert arabic(text) == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "هاذشي مزيان بزاف",
        "تيقولو بلي الإدارة مسدودة دابا",
        "الدراري مشاو للمدرسة",
        "كانو هنا البارح",
        "صيفط ليا الرقم ديالك",
        "واش كاين شي حل؟",
    ],
)
def test_darija_messages(text: str) -> None:
    assert arabic(text) == "ary"


@pytest.mark.parametrize(
    "text",
    [
        "يبدو أن المكتب مغلق اليوم",
        "نرجو منكم الانتظار قليلا",
        "كيف يمكنني تجديد بطاقة الإقامة؟",
        "الطلاب يدرسون في الجامعة",
        "هذه المدينة جميلة جدا",
        "تنقطع الكهرباء كل مساء",
        "كان الطقس باردا في يوليو",
    ],
)
def test_msa_messages_stay_msa(text: str) -> None:
    assert arabic(text) == "ar"


def test_generated_verb_forms_leave_out_msa_words() -> None:
    verbs = load_cues().ar_verbs
    assert verbs["كنمشي"] == verbs["تيقولو"] == verbs["يمشيو"] == verbs["كانو"] == 1.0
    for msa_word in ("يوليو", "كنعاني", "يحلو", "يشدو", "تنقطع", "تتكلم", "كنتم"):
        assert msa_word not in verbs


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
        "darija_arabic: {strong: [واش]}\ndarija_latin: {strong: [wach]}\nlatin_words: {en: [yes, hello]}\n",
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


def test_throughput_on_unseen_arabic_words_is_above_5000_messages_per_second() -> None:
    # a fresh detector (empty word cache) on distinct Arabic-script messages
    base = get_detector()
    detector = Detector(cues=base.cues, backend=base.backend)
    stems = ["مشي", "قول", "بغي", "دير", "شوف", "خدم", "عرف", "كتب", "سكن", "رجع"]
    messages = [
        f"{a}{p}{s} {w} الطريق رقم {i}"
        for i, (a, p, s, w) in enumerate(
            (a, p, s, w)
            for a in ("ك", "ت", "غا")
            for p in ("ن", "ت", "ي")
            for s in stems
            for w in ("هاذشي", "المدينة", "لمزيان", "فالدار", "الذي", "يبدو")
        )
    ]
    detector.detect("warm up")
    start = time.process_time()
    for message in messages:
        detector.detect(message)
    elapsed = time.process_time() - start
    assert len(messages) / elapsed >= 5000, f"{len(messages) / elapsed:.0f} messages/s"


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
