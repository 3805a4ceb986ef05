"""bot.core.textnorm: Unicode hygiene and Arabic orthographic folding (project-written examples)."""

from __future__ import annotations

import time

import pytest

from bot.core.textnorm import clean, normalize_arabic


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("bon\u200bjour", "bonjour"),  # zero-width space inside a word
        ("\u200fمرحبا\u200f", "مرحبا"),  # right-to-left marks around Arabic
        ("\u202bSalut\u202c", "Salut"),  # bidi embedding + pop
        ("\u2067واش\u2069 ok", "واش ok"),  # bidi isolates
        ("\ufeffmerci", "merci"),  # byte-order mark pasted at the start
        ("شكرا\u061c", "شكرا"),  # Arabic letter mark
        ("zero\u200cwidth\u200djoiner", "zerowidthjoiner"),
        ("a\x00b\x07c\x1bd", "abcd"),  # C0 controls
        ("a\x85b\x9fc", "abc"),  # C1 controls
        ("  je   veux\t\trentrer  ", "je veux rentrer"),
        ("merci\u00a0!", "merci !"),  # no-break space before French punctuation
        ("ligne 1\r\nligne 2", "ligne 1\nligne 2"),
        ("a \n\n\n   b", "a\nb"),
        ("e\u0301te\u0301", "été"),  # NFC composes accents
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_clean_is_idempotent() -> None:
    raw = " \u200f واش\u200b  كاين \r\n\r\n 3afak\u202e "
    assert clean(clean(raw)) == clean(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مَرْحَبًا", "مرحبا"),  # tashkeel removed
        ("الرَّحْمٰن", "الرحمن"),  # shadda and dagger alef removed
        ("شكـــرا", "شكرا"),  # tatweel removed
        ("أنا إلى آخر ٱلطريق", "انا الي اخر الطريق"),  # alef forms, alef maqsura
        ("على", "علي"),
        ("مدرسة", "مدرسه"),  # ta marbuta
        ("مسؤول رئيس", "مسوول رييس"),  # hamza on waw / ya
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),  # Eastern Arabic digits
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),  # Persian digits
        ("نعم، شكرا؛ كيف؟", "نعم, شكرا; كيف?"),  # Arabic punctuation
        ("ڭاع", "ڭاع"),  # the Moroccan gaf is kept
        ("Bonjour Été 2024", "Bonjour Été 2024"),  # Latin unchanged, case kept
    ],
)
def test_normalize_arabic(raw: str, expected: str) -> None:
    assert normalize_arabic(raw) == expected


def test_normalize_arabic_leaves_mixed_latin_untouched() -> None:
    assert normalize_arabic("RDV à 10h, إن شاء الله") == "RDV à 10h, ان شاء الله"


def test_normalize_arabic_is_idempotent() -> None:
    raw = "أَهْلاً بِكُمْ فِي المَدْرَسَة ١٢٣؟"
    assert normalize_arabic(normalize_arabic(raw)) == normalize_arabic(raw)


def test_fast_enough_for_every_message() -> None:
    messages = [
        "Bonjour, je veux rentrer chez moi au Cameroun",
        "\u200fالسَّلامُ عليكم، بغيت نرجع لبلادي ١٢٣\u200f",
        "salam 3afak wach kayn chi 7el?",
    ] * 10_000
    start = time.process_time()
    for message in messages:
        normalize_arabic(clean(message))
    elapsed = time.process_time() - start
    # 30,000 messages; a generous bound that a regression to per-character Python would break
    assert elapsed < 1.5, f"{elapsed:.2f}s for {len(messages)} messages"
