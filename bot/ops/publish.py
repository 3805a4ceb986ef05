"""Safe publishing of FAQ changes: validate, train only if needed, test, hot-reload, roll back.

`publish()`:
1. validates faq/ and content/ (any error: refuse, with the problems);
2. regenerates the training data; if a model for exactly these inputs exists, nothing to
   train: answers are read live by the action server, so an answer-only change is already live;
3. otherwise trains a new model, evaluates it and the current model on the held-out set
   (tests/nlu/) and refuses if accuracy dropped beyond the margin, naming the topics that got
   worse;
4. loads the new model into the running Rasa server (`PUT /model`: the old model answers until
   the new one is ready, so no message waits) and remembers the previous one for `rollback()`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.authoring.validate import validate_library
from bot.core.content import Library
from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient
from bot.ops.nlu_eval import GATES, Report, load_examples
from bot.ops.training import ensure_model, fingerprint, generate, latest_model, model_for

log = logging.getLogger(__name__)

MARGIN_OVERALL = 0.02  # a new model may lose at most 2 points overall…
MARGIN_WAY = 0.05  # …5 points in one way of writing…
MARGIN_TOPIC = 0.15  # …and a topic that loses more than 15 points is named


@dataclass
class PublishResult:
    ok: bool
    action: str  # invalid | answers_only | published | refused | rolled_back | error
    lines: list[str] = field(default_factory=list)
    model: str | None = None
    previous: str | None = None
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    worse_topics: list[str] = field(default_factory=list)
    train_seconds: float = 0.0
    reload_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass(frozen=True)
class Comparison:
    acceptable: bool
    reasons: list[str]
    worse_topics: list[str]


def compare(before: Report, after: Report) -> Comparison:
    """Is the new model at least as good, within the margins? Which topics got worse?"""
    reasons: list[str] = []
    if after.overall < before.overall - MARGIN_OVERALL:
        reasons.append(f"overall accuracy {before.overall:.3f} -> {after.overall:.3f}")
    for way in GATES:
        if before.total[way] and after.accuracy(way) < before.accuracy(way) - MARGIN_WAY:
            reasons.append(f"{way}: {before.accuracy(way):.3f} -> {after.accuracy(way):.3f}")
    reasons += [f"gate: {failure}" for failure in after.failures() if failure not in before.failures()]
    worse = sorted(
        label
        for label in after.topic_total
        if after.topic_accuracy(label) < before.topic_accuracy(label) - MARGIN_TOPIC
    )
    return Comparison(acceptable=not reasons, reasons=reasons, worse_topics=worse)


def evaluate_model(model: Path, folder: Path) -> Report:
    """Held-out evaluation of a model file, in this process (Rasa is imported here only)."""
    from rasa.core.agent import Agent

    from nlu import embeddings

    agent = Agent.load(str(model))
    examples = load_examples(folder)
    embeddings.cache_parsed_texts(True)  # our questions, not users' messages: embedded once
    embeddings.prefill([example.text for example in examples])
    report = Report()

    async def run() -> None:
        started = time.monotonic()
        for example in examples:
            report.add(example, await agent.parse_message(example.text))
        report.seconds = time.monotonic() - started

    asyncio.run(run())
    return report


def cached_report(model: Path, folder: Path) -> Report:
    """The held-out report of a model, computed once and kept beside it (models/<name>.eval.json)."""
    cache = model.with_name(model.name.removesuffix(".tar.gz") + ".eval.json")
    files = sorted(folder.glob("*.yml")) + sorted((folder / "topics").glob("*.yml"))
    tests = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("tests") == tests:
            report = Report()
            for key in ("total", "right", "topic_total", "topic_right"):
                getattr(report, key).update(data[key])
            return report
    report = evaluate_model(model, folder)
    data = {key: dict(getattr(report, key)) for key in ("total", "right", "topic_total", "topic_right")}
    cache.write_text(json.dumps({"tests": tests, **data}), encoding="utf-8")
    return report


class Registry:
    """var/published.json: which model is live and which one `rollback` returns to."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.var_dir / "published.json"

    def read(self) -> dict[str, Any]:
        if self.path.exists():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        return {}

    def write(self, current: Path, previous: Path | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "current": str(current),
            "previous": str(previous) if previous else None,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.path)


async def loaded_model(settings: Settings) -> str | None:
    """The model file the running server has loaded; None when no server runs. A busy server
    is waited for (a loaded machine can take seconds to answer /status)."""
    async with httpx.AsyncClient() as http:
        status = await RasaClient(http, settings.rasa_url, token=settings.rasa_token).running_status()
    return status.get("model_file") if status else None


async def load_into_rasa(settings: Settings, path: str) -> float | None:
    """PUT /model on the running server; seconds it took, or None if no server is running.

    Only a refused connection means "no server": a server too busy to answer /status within a
    few seconds is waited for, never skipped (the new model must reach the running server)."""
    async with httpx.AsyncClient() as http:
        rasa = RasaClient(http, settings.rasa_url, token=settings.rasa_token)
        if await rasa.running_status() is None:
            return None
        started = time.monotonic()
        await rasa.replace_model(path)
        return time.monotonic() - started


def _make_newest(model: Path) -> None:
    """`rasa run` and `dalil run` take the newest model: make this one the newest."""
    now = time.time()
    os.utime(model, (now, now))


def publish(settings: Settings, *, force_train: bool = False) -> PublishResult:
    root = settings.root
    problems = [p for p in validate_library(root) if p.level == "error"]
    if problems:
        return PublishResult(False, "invalid", [str(p) for p in problems])
    lib = Library(root)
    generate(lib)
    registry = Registry(settings)
    current_name = asyncio.run(loaded_model(settings))
    current = Path(current_name) if current_name else None
    if current is not None and not current.is_absolute():
        current = settings.root / "models" / current.name
    if current is None or not current.exists():
        current = latest_model(root / "models")
    candidate = None if force_train else model_for(root / "models", fingerprint(root))
    if candidate is not None and current is not None and candidate.name == current.name:
        return PublishResult(
            True,
            "answers_only",
            [
                "No question changed: nothing to retrain. "
                "Answers, contacts and menus are read live: already published.",
            ],
            model=current.name,
        )
    result = PublishResult(False, "error")
    if candidate is None:
        trained = ensure_model(root, force=force_train)
        candidate = trained.model
        result.train_seconds = trained.seconds
    folder = root / "tests" / "nlu"
    after = cached_report(candidate, folder)
    result.accuracy_after = after.overall
    if current is not None and current != candidate:
        before = cached_report(current, folder)
        result.accuracy_before = before.overall
        verdict = compare(before, after)
        result.worse_topics = verdict.worse_topics
        if not verdict.acceptable:
            result.action = "refused"
            result.lines = ["The new model is worse on the held-out questions; nothing was changed:"]
            result.lines += [f"  {reason}" for reason in verdict.reasons]
            if verdict.worse_topics:
                result.lines.append("Topics that got worse: " + ", ".join(verdict.worse_topics))
            candidate.unlink(missing_ok=True)  # keep models/ to what can be served
            if current is not None:
                _make_newest(current)
            return result
    elif after.failures():
        result.action = "refused"
        result.lines = ["The new model fails the accuracy gates:", *after.failures()]
        return result
    _make_newest(candidate)
    seconds = asyncio.run(load_into_rasa(settings, str(candidate.resolve())))
    registry.write(candidate, current if current != candidate else None)
    result.ok, result.action = True, "published"
    result.model, result.previous = candidate.name, current.name if current else None
    result.reload_seconds = seconds or 0.0
    result.lines = [
        f"Published {candidate.name} (held-out accuracy {after.overall:.3f}"
        + (f", before {result.accuracy_before:.3f})" if result.accuracy_before is not None else ")"),
        f"Reloaded in the running Rasa server in {seconds:.1f} s."
        if seconds is not None
        else "No Rasa server is running: the new model is used at the next start.",
        "Undo with `dalil faq rollback`.",
    ]
    return result


def rollback(settings: Settings) -> PublishResult:
    registry = Registry(settings)
    data = registry.read()
    previous = Path(data["previous"]) if data.get("previous") else None
    if previous is None or not previous.exists():
        return PublishResult(False, "error", ["There is no previous model to go back to."])
    current = Path(data["current"]) if data.get("current") else None
    _make_newest(previous)
    seconds = asyncio.run(load_into_rasa(settings, str(previous.resolve())))
    registry.write(previous, current)
    return PublishResult(
        True,
        "rolled_back",
        [
            f"Back to {previous.name}" + (f" (reloaded in {seconds:.1f} s)." if seconds is not None else "."),
        ],
        model=previous.name,
        previous=current.name if current else None,
        reload_seconds=seconds or 0.0,
    )
