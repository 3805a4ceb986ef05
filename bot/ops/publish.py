"""Safe publishing of content and model as one release: validate, train only if needed, test,
put the staged content live with the model, roll both back.

`publish()` reads the staged content (`var/staging/`, written by `dalil faq import --apply` and
`dalil events import --apply`; see bot/ops/releases.py) or, when nothing is staged, the live files
(a developer's direct edits):
1. validates faq/ and content/ (any error: refuse, with the problems);
2. regenerates the training data; if a model for exactly these inputs exists, nothing to train;
3. otherwise trains a new model, evaluates it and the current model on the held-out set
   (tests/nlu/) and refuses if accuracy dropped beyond the margin, naming the topics that got
   worse (the staged content stays staged, for the admin to fix);
4. snapshots the live content (the release `rollback()` returns to), copies the staged content
   onto the live files (the action server reads them at the next message), loads the new model
   into the running Rasa server (`PUT /model`: the old model answers until the new one is ready,
   so no message waits), and snapshots the result as the current release.
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
from bot.ops.releases import Releases, Staging
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

    def write(
        self, current: Path, previous: Path | None, *, release: Path | None = None, previous_release: Path | None = None
    ) -> None:
        """The live model and content release, and those `rollback` returns to."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "current": str(current),
            "previous": str(previous) if previous else None,
            "release": str(release) if release else None,
            "previous_release": str(previous_release) if previous_release else None,
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


def _current_model(settings: Settings) -> Path | None:
    """The model the running server has loaded, else the newest in models/."""
    current_name = asyncio.run(loaded_model(settings))
    current = Path(current_name) if current_name else None
    if current is not None and not current.is_absolute():
        current = settings.root / "models" / current.name
    if current is None or not current.exists():
        current = latest_model(settings.root / "models")
    return current


def publish(settings: Settings, *, force_train: bool = False) -> PublishResult:
    root = settings.root
    staging = Staging(root, settings.var_dir)
    staged = staging.changes()
    source = staging.effective()  # the staged content, else the live files
    problems = [p for p in validate_library(source) if p.level == "error"]
    if problems:
        return PublishResult(False, "invalid", [str(p) for p in problems])
    generate(Library(source))
    current = _current_model(settings)
    candidate = None if force_train else model_for(root / "models", fingerprint(source))
    if candidate is not None and current is not None and candidate.name == current.name:
        if not staged:
            staging.discard()
            return PublishResult(
                True,
                "answers_only",
                ["Nothing is staged and no question changed: nothing to publish."],
                model=current.name,
            )
        result = _go_live(settings, staging, current, current)
        result.action = "answers_only"
        result.lines = [
            f"Published {len(staged)} changed file(s): " + ", ".join(staged[:8]) + ("…" if len(staged) > 8 else ""),
            "No question changed: the model stays the same, nothing was retrained.",
            "Undo with `dalil faq rollback`.",
        ]
        return result
    result = PublishResult(False, "error")
    if candidate is None:
        trained = ensure_model(source, force=force_train, log_path=settings.var_dir / "log" / "train.log")
        candidate = trained.model
        result.train_seconds = trained.seconds
    refused = _judge(root, candidate, current, result)
    if refused is not None:
        return refused
    live = _go_live(settings, staging, candidate, current)
    live.train_seconds, live.accuracy_before, live.accuracy_after = (
        result.train_seconds,
        result.accuracy_before,
        result.accuracy_after,
    )
    live.worse_topics = result.worse_topics
    seconds = live.reload_seconds if live.reload_seconds else None
    live.lines = [
        f"Published {candidate.name} (held-out accuracy {result.accuracy_after:.3f}"
        + (f", before {result.accuracy_before:.3f})" if result.accuracy_before is not None else ")"),
        *([f"With {len(staged)} staged file(s): " + ", ".join(staged[:8])] if staged else []),
        f"Reloaded in the running Rasa server in {seconds:.1f} s."
        if seconds is not None
        else "No Rasa server is running: the new model is used at the next start.",
        "Undo with `dalil faq rollback`.",
    ]
    return live


def _judge(root: Path, candidate: Path, current: Path | None, result: PublishResult) -> PublishResult | None:
    """Compare the candidate with the live model on the held-out set: the refusal, or None to go on."""
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
            result.lines.append("What you imported stays staged: fix it and import again, or `dalil faq discard`.")
            candidate.unlink(missing_ok=True)  # keep models/ to what can be served
            _make_newest(current)
            return result
    elif after.failures():
        result.action = "refused"
        result.lines = ["The new model fails the accuracy gates:", *after.failures()]
        return result
    return None


def _go_live(settings: Settings, staging: Staging, model: Path, current: Path | None) -> PublishResult:
    """Content and model live together: snapshot what is live (the release to go back to), copy the
    staged content over it, load the model, snapshot the new release."""
    registry, releases = Registry(settings), Releases(settings.root, settings.var_dir)
    before = releases.snapshot(current, "live before a publish")  # with any direct edit since the last one
    if staging.exists():
        staging.apply()
        generate(Library(settings.root))
    _make_newest(model)
    seconds = asyncio.run(load_into_rasa(settings, str(model.resolve()))) if model != current else None
    after = releases.snapshot(model, "published")
    registry.write(model, current, release=after, previous_release=before)
    releases.prune({before, after})
    return PublishResult(
        True,
        "published",
        model=model.name,
        previous=current.name if current else None,
        reload_seconds=seconds or 0.0,
    )


def rollback(settings: Settings) -> PublishResult:
    """The previous release back: its content onto the live files and its model into Rasa."""
    registry, releases = Registry(settings), Releases(settings.root, settings.var_dir)
    data = registry.read()
    previous = Path(data["previous"]) if data.get("previous") else None
    if previous is None or not previous.exists():
        previous = None
    back = Path(data["previous_release"]) if data.get("previous_release") else None
    if back is not None and not (back / "release.json").exists():
        back = None
    if previous is None and back is None:
        return PublishResult(False, "error", ["There is no previous release to go back to."])
    if back is not None and previous is None and Releases.info(back).get("model"):
        previous = Path(Releases.info(back)["model"])
    current = Path(data["current"]) if data.get("current") else None
    current_release = Path(data["release"]) if data.get("release") else None
    lines: list[str] = []
    if back is not None:
        changed = releases.restore(back)
        generate(Library(settings.root))
        lines.append(f"Content back to the release of {Releases.info(back).get('at', '?')}: {len(changed)} file(s).")
    else:
        lines.append("No earlier content release is recorded: only the model goes back.")
    seconds = None
    if previous is not None and previous.exists() and previous != current:
        _make_newest(previous)
        seconds = asyncio.run(load_into_rasa(settings, str(previous.resolve())))
        lines.append(f"Model back to {previous.name}" + (f" (reloaded in {seconds:.1f} s)." if seconds else "."))
    model = previous if previous is not None and previous.exists() else current
    assert model is not None
    registry.write(model, current, release=back, previous_release=current_release)
    return PublishResult(
        True,
        "rolled_back",
        lines,
        model=model.name,
        previous=current.name if current else None,
        reload_seconds=seconds or 0.0,
    )
