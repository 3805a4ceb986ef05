"""Content end to end, as a person reads it on Telegram: fake Bot API -> real gateway -> real
Rasa + actions, in the five ways of writing (French, Arabic, Darija in both scripts, English).

- Each kind of danger gets its own lines first (content/urgent.yml), with its numbers in order.
- Each of the nine topics added in December 2026 is understood and answered in the person's
  language (the first page of faq/<topic>.yml's answer arrives).
- A long message with several needs gets one answered and the others offered as buttons.
"""

from __future__ import annotations

import asyncio
import re
from itertools import count

import pytest

from bot.core import danger
from bot.core.content import library
from bot.core.urgent import urgent_reply
from bot.gateway.engine import split_long
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa

# Way of writing -> (answer language, Darija wording, Telegram language_code of the phone).
WAYS = {
    "fr": ("fr", False, "fr"),
    "ar": ("ar", False, "ar"),
    "ary_arab": ("ar", True, "ar"),
    "ary_latn": ("ar", True, "fr"),  # Arabizi from a phone set to French: answered in Arabic
    "en": ("en", False, "en"),
}

DANGER = {
    "medical": {
        "fr": "mon bebe a de la fievre et il respire mal",
        "ar": "زوجتي تلد الآن ولا نجد سيارة إسعاف",
        "ary_arab": "صاحبي طاح وما بقاش كيتنفس",
        "ary_latn": "sa7bi ma bqach kaytnffes 3awnouni",
        "en": "my wife is giving birth and we have no hospital",
    },
    "self_harm": {
        "fr": "je veux mourir, je n'en peux plus",
        "ar": "أفكر في الانتحار كل ليلة",
        "ary_arab": "بغيت نقتل راسي",
        "ary_latn": "bghit nmout ma b9itch 9ader",
        "en": "i want to kill myself",
    },
    "sexual_violence": {
        "fr": "on m'a violée hier soir, je ne sais pas quoi faire",
        "ar": "اغتصبني شخص البارحة",
        "ary_arab": "واحد غتاصبني البارح",
        "ary_latn": "ghtasbni wahd ldrri lbare7",
        "en": "i was raped last night",
    },
    "child": {
        "fr": "je suis mineur et seul au maroc",
        "ar": "أنا قاصر وحدي في المغرب",
        "ary_arab": "أنا قاصر بوحدي ف المغرب",
        "ary_latn": "ana 9aser bo7di f lmaghrib",
        "en": "there is a child alone at the station",
    },
    "domestic_violence": {
        "fr": "mon mari me frappe tous les jours",
        "ar": "زوجي يضربني كل يوم",
        "ary_arab": "راجلي كيضربني",
        "ary_latn": "rajli kaydrbni kol nhar",
        "en": "my husband beats me",
    },
    "violence": {
        "fr": "des hommes m'ont frappé dans la rue",
        "ar": "ضربوني في الزنقة",
        "ary_arab": "ضربوني ف الزنقة",
        "ary_latn": "darboni f zan9a 3awnouni",
        "en": "some men beat me in the street",
    },
    "confinement": {
        "fr": "ils ont pris mon passeport et m'enferment",
        "ar": "أخذوا جواز سفري ويحبسونني في البيت",
        "ary_arab": "داو ليا الباسبور وما خلاونيش نخرج",
        "ary_latn": "daw lia lpaspor w ma khlawnich nkhrej",
        "en": "they took my passport and locked me in",
    },
    "arrest": {
        "fr": "la police m'arrête maintenant",
        "ar": "الشرطة تعتقلني الآن",
        "ary_arab": "شدني البوليس دابا",
        "ary_latn": "chdouni lbolis f tanja",
        "en": "i was arrested yesterday, i need a lawyer",
    },
}

# Plain questions written for this test (not training or held-out examples).
TOPICS = {
    "arrest_detention": {
        "fr": "quels sont mes droits si la police me garde au commissariat sans papiers",
        "ar": "ما هي حقوقي إذا احتجزتني الشرطة في المخفر وأنا بدون وثائق",
        "ary_arab": "شنو هوما الحقوق ديالي إلا حبسني البوليس ف الكوميسارية بلا وراق",
        "ary_latn": "chno homa l7o9o9 dyali ila 7bsni lbolis f commissariat bla wra9",
        "en": "what are my rights if the police hold me at the station without papers",
    },
    "birth_registration": {
        "fr": "comment declarer la naissance de mon bebe a l etat civil",
        "ar": "كيف أسجل ولادة طفلي في الحالة المدنية",
        "ary_arab": "كيفاش نسجل الولادة ديال البيبي ديالي ف الحالة المدنية",
        "ary_latn": "kifach nsjel lwilada dyal lbebe dyali f l7ala lmadaniya",
        "en": "how do i register the birth of my baby at the civil registry",
    },
    "maternity_child_health": {
        "fr": "je suis enceinte ou faire le suivi de grossesse gratuitement",
        "ar": "أنا حامل، أين يمكنني متابعة الحمل مجانا",
        "ary_arab": "أنا حاملة فين نقدر نتبع الحمل فابور",
        "ary_latn": "ana 7amla fin n9der ntba3 l7aml fabor",
        "en": "i am pregnant where can i get free pregnancy check ups",
    },
    "housing": {
        "fr": "mon proprietaire veut nous mettre dehors, on n a nulle part ou dormir",
        "ar": "صاحب المنزل يريد طردنا وليس لدينا مكان ننام فيه",
        "ary_arab": "مول الدار بغا يخرجنا وما عندنا فين نباتو",
        "ary_latn": "mol dar bgha ykhrjna w ma3ndna fin nbato",
        "en": "my landlord wants to throw us out and we have nowhere to sleep",
    },
    "labour_rights": {
        "fr": "mon patron ne me paie pas mon salaire depuis deux mois",
        "ar": "صاحب العمل لم يدفع لي أجري منذ شهرين",
        "ary_arab": "الباطرون ما خلصنيش هادي شهرين",
        "ary_latn": "lpatron ma khlsnich hadi jouj chhor",
        "en": "my employer has not paid my salary for two months",
    },
    "lost_documents": {
        "fr": "j ai perdu mon passeport, comment en avoir un nouveau",
        "ar": "ضاع جواز سفري، كيف أحصل على جواز جديد",
        "ary_arab": "ضاع ليا الباسبور كيفاش نجيب واحد جديد",
        "ary_latn": "tlef lia lpassport kifach njib wa7ed jdid",
        "en": "i lost my passport, how do i get a new one",
    },
    "trafficking": {
        "fr": "comment savoir si une personne est victime de traite des etres humains",
        "ar": "كيف أعرف أن شخصا ما ضحية للاتجار بالبشر",
        "ary_arab": "كيفاش نعرف إلا شي واحد ضحية ديال الاتجار بالبشر",
        "ary_latn": "kifach n3ref ila chi wa7ed d7iya dyal traite",
        "en": "how can i tell if someone is a victim of human trafficking",
    },
    "unaccompanied_minors": {
        "fr": "un enfant etranger sans parents au maroc, qui peut le proteger",
        "ar": "طفل أجنبي بدون والدين في المغرب، من يحميه",
        "ary_arab": "دري براني بلا والدين ف المغرب شكون يحميه",
        "ary_latn": "dri etranger bla walidin f lmaghrib chkon y7mih",
        "en": "a foreign child without parents in morocco, who protects him",
    },
    "mental_health": {
        "fr": "je suis tres stresse et triste depuis des mois, je ne dors plus",
        "ar": "أشعر بالحزن والقلق منذ أشهر ولا أستطيع النوم",
        "ary_arab": "أنا مقلق وحزين هادي شهور وما بقيتش كننعس",
        "ary_latn": "ana m9le9 w 7zin hadi chhor w ma b9itch kan3es",
        "en": "i feel sad and anxious for months and i cannot sleep",
    },
}

_users = count(5000)


def numbers_in(text: str) -> list[str]:
    return re.findall(r"\u200e([+\d][\d ]*\d)\u200e", text)


async def ask_all(
    fake_telegram: FakeTelegram, cases: list[tuple[str, str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """Send every (case, way, text) from its own new user at once; return the user ids."""
    users: dict[tuple[str, str], tuple[int, str]] = {}
    for case, way, text in cases:
        user = next(_users)
        users[(case, way)] = (user, text)
        fake_telegram.message(user, text, language_code=WAYS[way][2])
    return users


async def test_each_danger_gets_its_own_lines_first_in_every_way_of_writing(
    fake_telegram: FakeTelegram, gateway
) -> None:
    lib = library()
    acks = {lib.text("received_will_answer", lang) for lang in ("fr", "ar", "en")}

    def answers(sent: list[Sent]) -> list[Sent]:  # the "received, answering soon" line is not one
        return [s for s in sent if s.text not in acks]

    users = await ask_all(
        fake_telegram, [(kind, way, text) for kind, ways in DANGER.items() for way, text in ways.items()]
    )
    firsts = await asyncio.gather(
        *(
            fake_telegram.wait_until(user, lambda sent: bool(answers(sent)), timeout=180, what="the first answer")
            for user, _ in users.values()
        )
    )
    problems = []
    for ((kind, way), (_, text)), sent in zip(users.items(), firsts, strict=True):
        lang, darija, _ = WAYS[way]
        kinds = danger.kinds(text)
        expected = urgent_reply(lib, kinds, lang, darija)
        first = answers(sent)[0].text or ""
        if kind not in kinds:
            problems.append(f"{kind}/{way}: danger words missed ({kinds})")
        elif numbers_in(first) != numbers_in(expected) or first.split("\n")[0] != expected.split("\n")[0]:
            problems.append(f"{kind}/{way}: first message {first[:120]!r}, expected {expected[:120]!r}")
    assert not problems, "\n".join(problems)


async def test_the_new_topics_are_answered_in_every_way_of_writing(fake_telegram: FakeTelegram, gateway) -> None:
    lib = library()
    users = await ask_all(
        fake_telegram, [(topic, way, text) for topic, ways in TOPICS.items() for way, text in ways.items()]
    )

    def page_of(topic: str, way: str) -> str:
        lang, darija, _ = WAYS[way]
        answer = lib.answer(topic, lang, darija=darija)
        assert answer is not None, (topic, way)
        return split_long(answer[0])[0]

    def arrived(topic: str, way: str):  # noqa: ANN202
        page = page_of(topic, way)
        return lambda sent: any(page in (s.text or "") for s in sent)

    results = await asyncio.gather(
        *(
            fake_telegram.wait_until(user, arrived(topic, way), timeout=120, what=f"the {topic} answer ({way})")
            for (topic, way), (user, _) in users.items()
        ),
        return_exceptions=True,
    )
    problems = [str(r).split("\n")[0][:300] for r in results if isinstance(r, BaseException)]
    assert not problems, "\n".join(problems)


async def test_several_needs_in_one_message_one_answered_the_others_offered(
    fake_telegram: FakeTelegram, gateway
) -> None:
    user = next(_users)
    text = (
        "bonjour, le propriétaire veut nous mettre dehors de l'appartement à la fin du mois. "
        "Mon patron ne m'a pas payé mon salaire depuis deux mois. "
        "Ma femme est enceinte de six mois et personne ne suit sa grossesse."
    )
    fake_telegram.message(user, text, language_code="fr")
    sent: list[Sent] = await fake_telegram.wait_until(
        user,
        lambda s: any((m.text or "").startswith("Vous parlez aussi de") for m in s),
        timeout=120,
        what="the other needs offered",
    )
    also = next(m for m in sent if (m.text or "").startswith("Vous parlez aussi de"))
    assert 1 <= len(also.buttons) <= 3
    titles = {b["text"] for b in also.buttons}
    topics = library().topics()
    offered = {t for t, topic in topics.items() if topic.title.get("fr") in titles}
    answered = {
        t
        for t, topic in topics.items()
        if any(split_long((library().answer(t, "fr") or ("\0",))[0])[0] in (m.text or "") for m in sent)
    }
    # The three needs: each is answered or offered (the classifier may miss one part, never two).
    assert len((offered | answered) & {"housing", "labour_rights", "maternity_child_health"}) >= 2, (offered, answered)
    assert not offered & answered
    # A button opens that topic's answer.
    button = also.buttons[0]
    fake_telegram.press(user, button["callback_data"])
    opened = next(t for t in offered if topics[t].title.get("fr") == button["text"])
    page = split_long((library().answer(opened, "fr") or ("",))[0])[0]
    await fake_telegram.wait_until(
        user, lambda s: any(page in (m.text or "") for m in s), timeout=60, what="the offered topic"
    )
