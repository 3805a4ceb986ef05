"""Held-out NLU evaluation: intent accuracy per way of writing and per topic, over Rasa's HTTP API.

Reads `tests/nlu/<way>.yml` (Rasa NLU format; the file name is the way of writing: fr, ar,
ary_arab, ary_latn, en), sends every example to `POST /model/parse` of a running server, and
compares the predicted label with the expected one. FAQ topics count as right when the
ResponseSelector's `intent_response_key` is `faq/<id>` (or the intent itself is `faq/<id>`), the
two forms `topics.yml` accepts. Used by CI (tests/integration/test_nlu_heldout.py), `dalil
nlu-eval` and `dalil faq publish`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.rasa_client import RasaClient

WAYS = ("fr", "ar", "ary_arab", "ary_latn", "en")
GATES = {"fr": 0.90, "ar": 0.90, "ary_arab": 0.85, "ary_latn": 0.85, "en": 0.85}
MIN_TOPIC = 0.75
_ITEM = re.compile(r"^\s*-\s+(.*\S)\s*$")


@dataclass(frozen=True)
class Example:
    way: str
    label: str
    text: str


def load_examples(folder: Path) -> list[Example]:
    examples: list[Example] = []
    for way in WAYS:
        path = folder / f"{way}.yml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            label = block.get("intent")
            if not label:
                continue
            for line in str(block.get("examples") or "").splitlines():
                match = _ITEM.match(line)
                if match:
                    examples.append(Example(way, str(label), match.group(1)))
    return examples


def predicted_label(parse: dict[str, Any]) -> str:
    intent = (parse.get("intent") or {}).get("name") or ""
    if intent == "faq":
        return _faq_key(parse)
    return str(intent)


def _faq_key(parse: dict[str, Any]) -> str:
    selector = (parse.get("response_selector") or {}).get("faq") or {}
    return str((selector.get("response") or {}).get("intent_response_key") or "faq")


def answered_labels(parse: dict[str, Any]) -> set[str]:
    """What the user actually receives for this parse.

    When danger words override a question the classifiers recognised as an FAQ topic
    ("la police m'arrête maintenant, j'ai droit à un avocat ?"), the user gets the emergency
    numbers AND that topic's answer (actions.dialogue.ActionUrgent, same rule: FAQ second in
    the ranking with confidence ≥ 0.5): both labels count as answered.
    """
    label = predicted_label(parse)
    labels = {label}
    ranking = parse.get("intent_ranking") or []
    if label == "urgent" and len(ranking) > 1 and ranking[1].get("name") == "faq" and float(ranking[1].get("confidence") or 0) >= 0.5:
        labels.add(_faq_key(parse))
    return labels


@dataclass
class Report:
    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    topic_total: Counter[str] = field(default_factory=Counter)
    topic_right: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[tuple[Example, str]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, example: Example, parse: dict[str, Any]) -> None:
        self.total[example.way] += 1
        self.topic_total[example.label] += 1
        if example.label in answered_labels(parse):
            self.right[example.way] += 1
            self.topic_right[example.label] += 1
        else:
            got = predicted_label(parse)
            self.confusions[(example.label, got)] += 1
            self.misses.append((example, got))

    def accuracy(self, way: str) -> float:
        return self.right[way] / self.total[way] if self.total[way] else 0.0

    def topic_accuracy(self, label: str) -> float:
        return self.topic_right[label] / self.topic_total[label] if self.topic_total[label] else 0.0

    @property
    def overall(self) -> float:
        total = sum(self.total.values())
        return sum(self.right.values()) / total if total else 0.0

    def failures(self) -> list[str]:
        """Gate violations, as sentences; empty when the model passes."""
        out = []
        for way, gate in GATES.items():
            if self.total[way] and self.accuracy(way) < gate:
                out.append(f"{way}: accuracy {self.accuracy(way):.3f} < {gate}")
        for label in sorted(self.topic_total):
            if self.topic_accuracy(label) < MIN_TOPIC:
                out.append(f"{label}: accuracy {self.topic_accuracy(label):.3f} < {MIN_TOPIC}")
        return out

    def markdown(self) -> str:
        lines = ["| way of writing | examples | intent accuracy | gate |", "|---|---:|---:|---:|"]
        for way in WAYS:
            if self.total[way]:
                lines.append(f"| {way} | {self.total[way]} | {self.accuracy(way):.3f} | {GATES[way]:.2f} |")
        lines.append(f"| **all** | {sum(self.total.values())} | {self.overall:.3f} | |")
        lines += ["", "| label | examples | accuracy |", "|---|---:|---:|"]
        for label in sorted(self.topic_total, key=lambda x: (self.topic_accuracy(x), x)):
            lines.append(f"| {label} | {self.topic_total[label]} | {self.topic_accuracy(label):.2f} |")
        if self.confusions:
            lines += ["", "| expected | predicted | count |", "|---|---|---:|"]
            for (expected, got), count in self.confusions.most_common(15):
                lines.append(f"| {expected} | {got} | {count} |")
        return "\n".join(lines)


async def evaluate(rasa: RasaClient, examples: list[Example], *, concurrency: int = 8) -> Report:
    report = Report()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(example: Example) -> tuple[Example, dict[str, Any]]:
        async with semaphore:
            return example, await rasa.parse(example.text)

    started = time.monotonic()
    results = await asyncio.gather(*(one(e) for e in examples))
    report.seconds = time.monotonic() - started
    for example, parse in results:
        report.add(example, parse)
    return report


async def evaluate_url(url: str, folder: Path, *, token: str = "") -> Report:
    async with httpx.AsyncClient(timeout=30.0) as http:
        return await evaluate(RasaClient(http, url, token=token), load_examples(folder))
