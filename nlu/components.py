"""Dalil's Rasa NLU components: an Arabic-normalising tokenizer and the gateway's hints.

The tokenizer: a whitespace tokenizer that normalises Arabic script before the featurizers see
the tokens.
Arabic is written with optional short vowels, several alef/hamza forms, alef maqsura for ya,
taa marbuta for ha, tatweel and Eastern digits; users mix all of them. Normalising each token
(with the same function the language detector uses, `bot.core.textnorm`) lets one model treat
"إسعاف", "اسعاف" and "إِسْعَاف" as the same word. Token offsets stay those of the original text.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.core.danger import is_urgent
from bot.core.languages import is_answer_lang
from bot.core.textnorm import clean, normalize_arabic
from nlu.embeddings import KNOWN_WORDS


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class NormalizingTokenizer(WhitespaceTokenizer):  # type: ignore[misc]  # Rasa is untyped: the base is Any
    """WhitespaceTokenizer whose tokens are cleaned and Arabic-normalised."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        config: dict[str, Any] = WhitespaceTokenizer.get_default_config()
        return config

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        out: list[Token] = []
        for token in tokens:
            text = normalize_arabic(clean(token.text))
            if not text:
                continue
            token.text = text
            token.lemma = text
            out.append(token)
        return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class MetadataHints(GraphComponent):  # type: ignore[misc]  # Rasa is untyped: GraphComponent is Any
    """Turns what the gateway already knows (sent as message metadata) into NLU output.

    - `language` / `darija`: the answer language the gateway decided (detector + the user's
      choice) become entities, so the `language` and `darija` slots are filled on every turn
      without an extra HTTP call.
    - `urgent`: the gateway matched a danger word (content/danger_words.yml); the intent becomes
      `urgent` whatever the classifiers said, so a long message that mentions danger in the
      middle is never treated as an FAQ question.
    - `faq_topic`: the gateway cut a long message with several needs into parts and chose the
      topic of its clearest part (bot/gateway/needs.py); the whole message stays in the conversation (the
      hotline reads it) and that topic is answered. Danger (`urgent`) still wins.
    Must come last in the pipeline. Messages without metadata (e.g. /model/parse) are untouched.
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MetadataHints:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            metadata = message.get("metadata") or {}
            if not isinstance(metadata, dict):
                continue
            entities = list(message.get(ENTITIES) or [])
            language = metadata.get("language")
            if is_answer_lang(language):
                entities.append(_hint_entity("language", language))
                entities.append(_hint_entity("darija", bool(metadata.get("darija"))))
            topic = metadata.get("faq_topic")
            chosen = isinstance(topic, str) and bool(topic) and metadata.get("urgent") is not True
            if chosen:
                entities.append(_hint_entity("faq_topic", topic))
            if entities:
                message.set(ENTITIES, entities, add_to_output=True)
            if chosen:
                _force_topic(message, str(topic))
            if metadata.get("urgent") is True and (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != "urgent":
                _force_urgent(message)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FaqConfidenceGate(GraphComponent):  # type: ignore[misc]  # Rasa is untyped: GraphComponent is Any
    """An FAQ answer only when the ResponseSelector is sure enough of the topic.

    DIET's "faq" class is large (every FAQ question), so a message unlike anything it knows
    ("le chat de ma voisine est joli", "asdfgh") often lands in it with a confident score, and
    the ResponseSelector then picks a topic at random with a LOW confidence. Measured on the
    held-out set (docs/nlu.md): 1 of 440 right topics scores below 0.2, gibberish 0.07-0.195.
    A topic below `threshold` becomes `nlu_fallback` ("I did not understand" + the menu), which
    is better than a wrong answer. Runs after the ResponseSelector and the FallbackClassifier.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.2, "unknown_words_below": 0.5}

    def __init__(self, config: dict[str, Any]) -> None:
        self.threshold = float(config.get("threshold", 0.2))
        # A message none of whose words occurs in the training data ("xqzt bloop 0612345678",
        # "1234") is answered only when the topic is clear (the classifier sets the flag).
        self.unknown_words_below = float(config.get("unknown_words_below", 0.5))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqConfidenceGate:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != "faq":
                continue
            selected = ((message.get("response_selector") or {}).get("faq") or {}).get("response") or {}
            confidence = float(selected.get("confidence") or 0.0)
            gate = self.threshold
            if message.get(KNOWN_WORDS) is False:
                gate = max(gate, self.unknown_words_below)
            if confidence >= gate:
                continue
            fallback = {INTENT_NAME_KEY: "nlu_fallback", PREDICTED_CONFIDENCE_KEY: self.threshold}
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *(message.get(INTENT_RANKING_KEY) or [])], add_to_output=True)
        return messages


def _force_urgent(message: Message) -> None:
    """Make `urgent` the intent; the classifiers' own ranking stays below it (actions use it)."""
    urgent = {INTENT_NAME_KEY: "urgent", PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != "urgent"]
    message.set(INTENT, urgent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [urgent, *ranking], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class DangerWords(GraphComponent):  # type: ignore[misc]  # Rasa is untyped: GraphComponent is Any
    """Danger words (content/danger_words.yml, read live) make the intent `urgent`.

    A classifier can miss danger in a long message about something else; a word list does not.
    The list is read from the content folder at run time, so admins can add words without
    retraining. Runs after the classifiers.
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DangerWords:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text and not text.startswith("/") and is_urgent(text):
                _force_urgent(message)
        return messages


def _force_topic(message: Message, topic: str) -> None:
    """Make `faq` the intent and `topic` the selected answer (the gateway's choice of part)."""
    faq = {INTENT_NAME_KEY: "faq", PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != "faq"]
    message.set(INTENT, faq, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [faq, *ranking], add_to_output=True)
    selector = {"response": {"intent_response_key": f"faq/{topic}", "confidence": 1.0}, "ranking": []}
    message.set("response_selector", {**(message.get("response_selector") or {}), "faq": selector}, add_to_output=True)


def _hint_entity(name: str, value: Any) -> dict[str, Any]:
    return {
        "entity": name,
        "value": value,
        "start": 0,
        "end": 0,
        "confidence_entity": 1.0,
        "extractor": MetadataHints.__name__,
    }
