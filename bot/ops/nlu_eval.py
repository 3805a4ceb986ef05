"""NLU evaluation: intent accuracy per way of writing and per topic, on two sets.

1. The **held-out set** (`tests/nlu/`), written by the project, never in the training data:
   - `tests/nlu/<way>.yml` (Rasa NLU format; the file name is the way of writing: fr, ar,
     ary_arab, ary_latn, en);
   - `tests/nlu/topics/<topic>.yml`, one topic per file:
         intent: faq/<topic_id>
         examples: {fr: [...], ar: [...], ary_arab: [...], ary_latn: [...], en: [...]}
     each of those topics is gated per way of writing (`TOPIC_FILE_GATE`).
2. The **real set** (`tests/nlu/real/<way>.yml`): questions written by other people, copied
   verbatim from public pages, each with its URL:
         items:
           - text: "Do refugees and asylum seekers have the right to study?"
             label: faq/education
             url: https://...
   gated overall and per way of writing that has enough items (`REAL_GATES`).

Every example is sent to the model (`POST /model/parse` of a running server, or a model file
loaded in this process) and the predicted label compared with the expected one. FAQ topics count
as right when the ResponseSelector's `intent_response_key` is `faq/<id>` (or the intent itself is
`faq/<id>`), the two forms `topics.yml` accepts. A miss is either "not understood" (the model
said `nlu_fallback` or `out_of_scope`: the user gets the menu or a person) or a **wrong topic**
(the user gets a confident answer to another question), counted apart. Used by CI
(tests/integration/test_nlu_heldout.py, test_nlu_real.py), `dalil nlu-eval` / `make eval-nlu`
and `dalil faq publish`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.gateway.rasa_client import RasaClient

WAYS = ("fr", "ar", "ary_arab", "ary_latn", "en")
# Gates are FLOORS under the figures measured on 2026-12-02 with the nine new topics (31 in all;
# docs/nlu.md): a drop below them fails the build. They are not the targets, which are not met
# yet: held-out >= 0.95, each new topic >= 0.85 per way of writing, real set >= 0.90 (issues 15, 16).
TARGETS = {"heldout": 0.95, "topic_file": 0.85, "real": 0.90}
GATES = {"fr": 0.85, "ar": 0.83, "ary_arab": 0.77, "ary_latn": 0.74, "en": 0.88}  # measured .880 .863 .805 .779 .917
MIN_TOPIC = 0.55  # lowest measured: arrest_detention 0.60
TOPIC_FILE_GATE = 0.40  # each topic of tests/nlu/topics/, per way of writing (8-10 items each; lowest 0.44)
REAL_GATES = {"overall": 0.75, "way": 0.70, "min_items": 20}  # measured 0.782 on 55 questions
NOT_UNDERSTOOD = frozenset({"nlu_fallback", "out_of_scope"})
_ITEM = re.compile(r"^\s*-\s+(.*\S)\s*$")


@dataclass(frozen=True)
class Example:
    way: str
    label: str
    text: str
    source: str = ""  # held-out: "topics/<file>" for per-topic files; real set: the page's URL


def load_examples(folder: Path) -> list[Example]:
    """The held-out set: `<way>.yml` (Rasa format) and `topics/*.yml` (one topic per file)."""
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
    for path in sorted((folder / "topics").glob("*.yml")):
        examples += load_topic_file(path)
    return examples


def load_topic_file(path: Path) -> list[Example]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    label = str(data.get("intent") or "")
    by_way = data.get("examples") or {}
    if not label or not isinstance(by_way, dict):
        raise ValueError(f"{path}: needs `intent: faq/<id>` and `examples: {{way: [...]}}`")
    out = []
    for way, texts in by_way.items():
        if way not in WAYS:
            raise ValueError(f"{path}: unknown way of writing {way!r} (one of {', '.join(WAYS)})")
        for text in texts or []:
            text = " ".join(str(text).split())
            if text:
                out.append(Example(str(way), label, text, f"topics/{path.name}"))
    return out


def load_real(folder: Path) -> list[Example]:
    """The real-question set: `<way>.yml` files of `items: [{text, label, url}]`."""
    examples: list[Example] = []
    for path in sorted(folder.glob("*.yml")):
        way = path.stem
        if way not in WAYS:
            raise ValueError(f"{path}: the file name must be a way of writing ({', '.join(WAYS)})")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for n, item in enumerate(data.get("items") or [], 1):
            text, label, url = (str(item.get(k) or "").strip() for k in ("text", "label", "url"))
            if not (text and label and url):
                raise ValueError(f"{path}: item {n} needs text, label and url")
            examples.append(Example(way, label, text, url))
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
    if (
        label == "urgent"
        and len(ranking) > 1
        and ranking[1].get("name") == "faq"
        and float(ranking[1].get("confidence") or 0) >= 0.5
    ):
        labels.add(_faq_key(parse))
    return labels


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Report:
    real: bool = False  # which gates apply: the real set's, or the held-out set's
    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    wrong_topic: Counter[str] = field(default_factory=Counter)
    topic_total: Counter[str] = field(default_factory=Counter)
    topic_right: Counter[str] = field(default_factory=Counter)
    way_topic_total: Counter[tuple[str, str]] = field(default_factory=Counter)
    way_topic_right: Counter[tuple[str, str]] = field(default_factory=Counter)
    file_topics: set[str] = field(default_factory=set)  # topics of tests/nlu/topics/ files
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[tuple[Example, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds per parse (sequential runs)
    seconds: float = 0.0

    def add(self, example: Example, parse: dict[str, Any]) -> None:
        way, label = example.way, example.label
        self.total[way] += 1
        self.topic_total[label] += 1
        self.way_topic_total[(way, label)] += 1
        if example.source.startswith("topics/"):
            self.file_topics.add(label)
        if label in answered_labels(parse):
            self.right[way] += 1
            self.topic_right[label] += 1
            self.way_topic_right[(way, label)] += 1
        else:
            got = predicted_label(parse)
            if got not in NOT_UNDERSTOOD:
                self.wrong_topic[way] += 1
            self.confusions[(label, got)] += 1
            self.misses.append((example, got))

    def accuracy(self, way: str) -> float:
        return self.right[way] / self.total[way] if self.total[way] else 0.0

    def wrong_topic_rate(self, way: str | None = None) -> float:
        if way is None:
            total = sum(self.total.values())
            return sum(self.wrong_topic.values()) / total if total else 0.0
        return self.wrong_topic[way] / self.total[way] if self.total[way] else 0.0

    def topic_accuracy(self, label: str) -> float:
        return self.topic_right[label] / self.topic_total[label] if self.topic_total[label] else 0.0

    def way_topic_accuracy(self, way: str, label: str) -> float:
        total = self.way_topic_total[(way, label)]
        return self.way_topic_right[(way, label)] / total if total else 0.0

    @property
    def overall(self) -> float:
        total = sum(self.total.values())
        return sum(self.right.values()) / total if total else 0.0

    def failures(self) -> list[str]:
        """Gate violations, as sentences; empty when the model passes."""
        return self._real_failures() if self.real else self._heldout_failures()

    def _heldout_failures(self) -> list[str]:
        out = []
        for way, gate in GATES.items():
            if self.total[way] and self.accuracy(way) < gate:
                out.append(f"{way}: accuracy {self.accuracy(way):.3f} < {gate}")
        for label in sorted(self.topic_total):
            if self.topic_accuracy(label) < MIN_TOPIC:
                out.append(f"{label}: accuracy {self.topic_accuracy(label):.3f} < {MIN_TOPIC}")
        for label in sorted(self.file_topics):
            for way in WAYS:
                if self.way_topic_total[(way, label)] and self.way_topic_accuracy(way, label) < TOPIC_FILE_GATE:
                    out.append(
                        f"{label} in {way}: accuracy {self.way_topic_accuracy(way, label):.3f} < {TOPIC_FILE_GATE}"
                    )
        return out

    def _real_failures(self) -> list[str]:
        out = []
        if sum(self.total.values()) and self.overall < REAL_GATES["overall"]:
            out.append(f"real set: accuracy {self.overall:.3f} < {REAL_GATES['overall']}")
        for way in WAYS:
            if self.total[way] >= REAL_GATES["min_items"] and self.accuracy(way) < REAL_GATES["way"]:
                out.append(f"real set, {way}: accuracy {self.accuracy(way):.3f} < {REAL_GATES['way']}")
        return out

    def gate(self, way: str) -> str:
        if self.real:
            return f"{REAL_GATES['way']:.2f}" if self.total[way] >= REAL_GATES["min_items"] else "-"
        return f"{GATES[way]:.2f}"

    def markdown(self, *, misses: int = 0) -> str:
        lines = [
            "| way of writing | examples | accuracy | wrong topic | not understood | gate |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for way in WAYS:
            if self.total[way]:
                unsure = self.total[way] - self.right[way] - self.wrong_topic[way]
                lines.append(
                    f"| {way} | {self.total[way]} | {self.accuracy(way):.3f} | {self.wrong_topic_rate(way):.3f} "
                    f"| {unsure / self.total[way]:.3f} | {self.gate(way)} |"
                )
        total = sum(self.total.values())
        unsure = total - sum(self.right.values()) - sum(self.wrong_topic.values())
        overall_gate = f"{REAL_GATES['overall']:.2f}" if self.real else ""
        lines.append(
            f"| **all** | {total} | {self.overall:.3f} | {self.wrong_topic_rate():.3f} | "
            f"{unsure / total if total else 0:.3f} | {overall_gate} |"
        )
        if not self.real:
            lines += ["", "| label | examples | accuracy |", "|---|---:|---:|"]
            for label in sorted(self.topic_total, key=lambda x: (self.topic_accuracy(x), x)):
                lines.append(f"| {label} | {self.topic_total[label]} | {self.topic_accuracy(label):.2f} |")
        if self.file_topics:
            lines += ["", "| topic (tests/nlu/topics/) | " + " | ".join(WAYS) + " |", "|---|" + "---:|" * len(WAYS)]
            for label in sorted(self.file_topics):
                cells = [
                    f"{self.way_topic_accuracy(w, label):.2f} ({self.way_topic_total[(w, label)]})"
                    if self.way_topic_total[(w, label)]
                    else "-"
                    for w in WAYS
                ]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
        if self.confusions:
            lines += ["", "| expected | predicted | count |", "|---|---|---:|"]
            for (expected, got), count in self.confusions.most_common(15):
                lines.append(f"| {expected} | {got} | {count} |")
        if misses and self.misses:
            lines += ["", "| way | expected | predicted | text |", "|---|---|---|---|"]
            for example, got in self.misses[:misses]:
                text = example.text if len(example.text) <= 90 else example.text[:87] + "..."
                lines.append(f"| {example.way} | {example.label} | {got} | {text.replace('|', '/')} |")
        return "\n".join(lines)


async def evaluate(rasa: RasaClient, examples: list[Example], *, concurrency: int = 8, real: bool = False) -> Report:
    """Parse every example over HTTP. Latencies are per request (only meaningful at concurrency 1)."""
    report = Report(real=real)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(example: Example) -> tuple[Example, dict[str, Any], float]:
        async with semaphore:
            started = time.perf_counter()
            parse = await rasa.parse(example.text)
            return example, parse, time.perf_counter() - started

    started = time.monotonic()
    results = await asyncio.gather(*(one(e) for e in examples))
    report.seconds = time.monotonic() - started
    for example, parse, seconds in results:
        report.add(example, parse)
        report.latencies.append(seconds)
    return report


async def evaluate_url(url: str, folder: Path, *, token: str = "") -> Report:
    async with httpx.AsyncClient(timeout=30.0) as http:
        return await evaluate(RasaClient(http, url, token=token), load_examples(folder))


async def evaluate_real_url(url: str, folder: Path, *, token: str = "") -> Report:
    async with httpx.AsyncClient(timeout=30.0) as http:
        return await evaluate(RasaClient(http, url, token=token), load_real(folder), real=True)


def evaluate_agent(
    agent: Any, examples: list[Example], *, real: bool = False, dump: list[dict[str, Any]] | None = None
) -> Report:
    """Parse every example with a loaded `rasa.core.agent.Agent`, one at a time (latency = parse)."""
    report = Report(real=real)

    async def run() -> None:
        started = time.monotonic()
        for example in examples:
            t0 = time.perf_counter()
            parse = await agent.parse_message(example.text)
            report.latencies.append(time.perf_counter() - t0)
            report.add(example, parse)
            if dump is not None:
                dump.append(_dump_row(example, parse, real))
        report.seconds = time.monotonic() - started

    asyncio.run(run())
    return report


def _dump_row(example: Example, parse: dict[str, Any], real: bool) -> dict[str, Any]:
    selector = ((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    return {
        "set": "real" if real else "heldout",
        "way": example.way,
        "label": example.label,
        "text": example.text,
        "predicted": predicted_label(parse),
        "answered": sorted(answered_labels(parse)),
        "intent_ranking": [
            (r.get("name"), round(float(r.get("confidence") or 0), 4)) for r in (parse.get("intent_ranking") or [])[:4]
        ],
        "faq_key": selector.get("intent_response_key"),
        "faq_confidence": round(float(selector.get("confidence") or 0), 4),
    }


def training_seconds(model: Path) -> float | None:
    meta = model.with_name(model.name.removesuffix(".tar.gz") + ".json")
    try:
        return float(json.loads(meta.read_text(encoding="utf-8"))["train_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def summary(heldout: Report, real: Report, *, train_seconds: float | None = None, model: Path | None = None) -> str:
    """The `make eval-nlu` table: per way of writing, both sets, wrong topics, latency."""
    lines = ["| way of writing | held-out | real set | real wrong topic | real n |", "|---|---:|---:|---:|---:|"]
    for way in WAYS:
        if heldout.total[way] or real.total[way]:
            held = f"{heldout.accuracy(way):.3f} ({heldout.total[way]})" if heldout.total[way] else "-"
            got = f"{real.accuracy(way):.3f}" if real.total[way] else "-"
            wrong = f"{real.wrong_topic_rate(way):.3f}" if real.total[way] else "-"
            lines.append(f"| {way} | {held} | {got} | {wrong} | {real.total[way]} |")
    lines.append(
        f"| **all** | {heldout.overall:.3f} ({sum(heldout.total.values())}) | {real.overall:.3f} | "
        f"{real.wrong_topic_rate():.3f} | {sum(real.total.values())} |"
    )
    latencies = [x * 1000 for x in heldout.latencies + real.latencies]
    lines += [
        "",
        f"held-out wrong-topic rate: {heldout.wrong_topic_rate():.3f}",
        f"parse latency p50 / p95: {percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f} ms "
        f"({len(latencies)} parses, one at a time)",
    ]
    if model is not None:
        size = model.stat().st_size / 1e6 if model.exists() else 0.0
        lines.append(f"model: {model.name} ({size:.0f} MB)")
    lines.append(f"training time: {train_seconds:.0f} s" if train_seconds is not None else "training time: unknown")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`dalil nlu-eval`: both sets on the newest model (in this process) or a running server."""
    import argparse

    from bot.core.settings import PROJECT_ROOT
    from bot.ops.training import latest_model

    parser = argparse.ArgumentParser(prog="dalil nlu-eval")
    parser.add_argument("--model", help="model file (default: the newest in models/)")
    parser.add_argument("--url", help="evaluate a running Rasa server instead of loading the model")
    parser.add_argument("--token", default="", help="Rasa token for --url")
    parser.add_argument("--heldout", default=str(PROJECT_ROOT / "tests" / "nlu"), help="held-out folder")
    parser.add_argument("--real", default=str(PROJECT_ROOT / "tests" / "nlu" / "real"), help="real-question folder")
    parser.add_argument("--details", action="store_true", help="per-label tables, confusions and the real-set misses")
    parser.add_argument("--dump", help="write every parse (label, prediction, confidences) as JSON lines")
    args = parser.parse_args(argv)

    heldout_examples = load_examples(Path(args.heldout))
    real_examples = load_real(Path(args.real))
    model: Path | None = None
    dump: list[dict[str, Any]] | None = [] if args.dump else None
    if args.url:

        async def over_http() -> tuple[Report, Report]:
            async with httpx.AsyncClient(timeout=30.0) as http:
                rasa = RasaClient(http, args.url, token=args.token)
                return (
                    await evaluate(rasa, heldout_examples, concurrency=1),
                    await evaluate(rasa, real_examples, concurrency=1, real=True),
                )

        heldout, real = asyncio.run(over_http())
    else:
        model = Path(args.model) if args.model else latest_model(PROJECT_ROOT / "models")
        if model is None:
            print("no trained model in models/: run `dalil train` first")
            return 2
        from rasa.core.agent import Agent

        agent = Agent.load(str(model))
        evaluate_agent(agent, heldout_examples[:20])  # warm-up: first parses build TF graphs
        heldout = evaluate_agent(agent, heldout_examples, dump=dump)
        real = evaluate_agent(agent, real_examples, real=True, dump=dump)
    if args.dump and dump is not None:
        Path(args.dump).write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in dump), encoding="utf-8"
        )
    if args.details:
        print("## Held-out set\n\n" + heldout.markdown() + "\n")
        print("## Real set\n\n" + real.markdown(misses=200) + "\n")
    print(summary(heldout, real, train_seconds=training_seconds(model) if model else None, model=model))
    failures = heldout.failures() + real.failures()
    if failures:
        print("\nGATES FAILED:\n" + "\n".join(f"- {f}" for f in failures))
        return 1
    print("\nall gates pass")
    return 0
