"""Admins, end to end: Telegram commands for ADMIN_USER_IDS only, and `dalil faq publish` on a
copy of the project with a real Rasa server: answer-only changes go live at once, a worse model
is refused naming the topics, a better one is hot-reloaded while messages flow, and rolled back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
import yaml

from bot.core.content import library
from tests.conftest import ROOT, Stack, location_offer, start_gateway, start_stack, stop_process
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.rasa
ADMIN = 5555


async def test_admin_commands_for_admins_only(stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    api = fake_telegram
    gw = await start_gateway(stack, api, tmp_path, ADMIN_USER_IDS=str(ADMIN))
    try:
        api.message(5001, "xqzt bloop 0612345678 wizzle")  # not understood, with a phone number
        await api.wait_for(5001, 1)
        api.message(5002, "/stats")
        api.message(5002, "/publish")
        refused = await api.wait_for(5002, 2)
        assert all(s.text == library().text("unknown_command", "fr") for s in refused)
        api.message(ADMIN, "/stats")
        [stats] = await api.wait_for(ADMIN, 1)
        assert "Messages" in stats.text and "Personnes" in stats.text
        api.message(ADMIN, "/unanswered")
        unanswered = (await api.wait_for(ADMIN, 2))[-1]
        assert "xqzt bloop" in unanswered.text and "0612345678" not in unanswered.text  # masked
    finally:
        gw.stop()


# -- publishing on a copy of the project ----------------------------------------------------
COPY = (
    "faq",
    "content",
    "nlu_data",
    "tests/nlu",
    "config.yml",
    "domain.yml",
    "endpoints.yml",
    "credentials.yml",
    "events",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("project")
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / "models").mkdir()
    from bot.ops.training import latest_model

    model = latest_model(ROOT / "models")
    assert model is not None
    os.link(model, root / "models" / model.name)
    yield root


@pytest.fixture(scope="module")
def project_stack(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("project-var"), root=project)
    yield running
    for proc in running.processes.values():
        stop_process(proc)
    running.action_proxy.close()


def dalil(project_stack: Stack, project: Path, *args: str) -> dict:
    env = dict(project_stack.env, DALIL_HOME=str(project))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dalil")), *args, "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def edit_topic(project: Path, topic: str, change) -> None:  # noqa: ANN001
    path = project / "faq" / f"{topic}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


async def test_answer_only_change_is_live_without_retraining(
    project: Path, project_stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, user = fake_telegram, 5101
    gw = await start_gateway(project_stack, api, tmp_path, DALIL_HOME=str(project))
    try:
        api.message(user, "où faire un test VIH gratuit ?")
        before = (await api.wait_for(user, 1))[0]
        assert "ALCS" in before.text
        edit_topic(
            project,
            "hiv_testing",
            lambda d: d["answer"].update(fr="Nouveau : le test VIH est gratuit au centre ALCS de votre ville."),
        )
        started = time.monotonic()
        result = dalil(project_stack, project, "faq", "publish")
        elapsed = time.monotonic() - started
        assert result["ok"] and result["action"] == "answers_only", result
        assert elapsed < 30
        count = len(await api.quiet(user, 1.0))  # the answer, then the offer to share a location
        assert location_offer(api.to(user)[-1].text)
        api.message(user, "où faire un test VIH gratuit ?")
        after = (await api.wait_for(user, count + 1))[count]
        assert after.text.startswith("Nouveau : le test VIH est gratuit")
    finally:
        gw.stop()


def dalil_text(project_stack: Stack, project: Path, *args: str) -> str:
    env = dict(project_stack.env, DALIL_HOME=str(project))
    dalil_bin = str(Path(sys.executable).with_name("dalil"))
    proc = subprocess.run(
        [dalil_bin, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return proc.stdout


def set_answer(book: Path, topic: str, lang: str, text: str) -> None:
    workbook = openpyxl.load_workbook(book)
    ws = workbook["FAQ"]
    header = [c.value for c in ws[1]]
    for row in range(2, ws.max_row + 1):
        if (
            ws.cell(row, header.index("topic") + 1).value == topic
            and ws.cell(row, header.index("language") + 1).value == lang
        ):
            ws.cell(row, header.index("answer") + 1).value = text
    workbook.save(book)


async def test_an_imported_answer_is_served_only_after_publish_and_rollback_brings_it_back(
    project: Path, project_stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    """Import stages; publish puts content (and the same model) live; rollback restores the content."""
    api, user = fake_telegram, 5120
    question = "mon enfant ne va pas à l'école, comment l'inscrire ?"
    gw = await start_gateway(project_stack, api, tmp_path, DALIL_HOME=str(project))

    async def ask() -> str:
        """The answer's first page (the offer to share a location that follows it, even late, skipped)."""
        count = len(api.to(user))
        api.message(user, question)

        def answers(sent: list) -> list[str]:  # noqa: ANN001
            ack = library().text("received_will_answer", "fr")
            return [s.text or "" for s in sent[count:] if not location_offer(s.text or "") and s.text != ack]

        await api.wait_until(user, lambda sent: bool(answers(sent)), timeout=120, what="the answer")
        return answers(api.to(user))[0]

    try:
        original = await ask()
        assert original and "Nouveau" not in original
        book = tmp_path / "faq.xlsx"
        dalil_text(project_stack, project, "faq", "export", str(book))
        set_answer(book, "education", "fr", "Nouveau (publié) : l'école est un droit pour chaque enfant au Maroc.")
        assert "staged faq/education.yml" in dalil_text(project_stack, project, "faq", "import", str(book), "--yes")
        assert await ask() == original  # imported, not published: users still get the live answer
        result = dalil(project_stack, project, "faq", "publish")
        assert result["ok"] and result["action"] == "answers_only", result
        assert any("faq/education.yml" in line for line in result["lines"]), result
        assert (await ask()).startswith("Nouveau (publié) : l'école est un droit")
        rolled = dalil(project_stack, project, "faq", "rollback")
        assert rolled["ok"] and rolled["action"] == "rolled_back", rolled
        assert await ask() == original
        assert "nothing is staged" in dalil_text(project_stack, project, "faq", "staged")
    finally:
        gw.stop()


@pytest.mark.slow
def test_a_worse_model_is_refused_and_names_the_topics(project: Path, project_stack: Stack) -> None:
    # An admin deletes most questions of a topic by mistake: the model forgets it.
    questions = yaml.safe_load((project / "faq" / "hiv_testing.yml").read_text())["questions"]
    edit_topic(project, "hiv_testing", lambda d: d.update(questions={k: v[:2] for k, v in d["questions"].items()}))
    try:
        models_before = sorted(p.name for p in (project / "models").glob("*.tar.gz"))
        serving = httpx.get(
            f"{project_stack.rasa_url}/status", params={"token": project_stack.settings.rasa_token}
        ).json()
        result = dalil(project_stack, project, "faq", "publish")
        assert not result["ok"] and result["action"] == "refused", result
        assert "faq/hiv_testing" in result["worse_topics"]
        assert sorted(p.name for p in (project / "models").glob("*.tar.gz")) == models_before
        status = httpx.get(
            f"{project_stack.rasa_url}/status", params={"token": project_stack.settings.rasa_token}
        ).json()
        assert Path(status["model_file"]).name == Path(serving["model_file"]).name  # still serving the old model
    finally:
        edit_topic(project, "hiv_testing", lambda d: d.update(questions=questions))


@pytest.mark.slow
async def test_publish_reloads_while_messages_flow_then_rollback(
    project: Path, project_stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api = fake_telegram
    edit_topic(
        project,
        "hiv_testing",
        lambda d: d["questions"]["fr"].append("je cherche un endroit pour le dépistage du VIH à Fès"),
    )
    gw = await start_gateway(project_stack, api, tmp_path, DALIL_HOME=str(project), FLOOD_BURST="1000")
    try:
        # Ten people ask, wait for their answer, and ask again, for as long as the publish takes:
        # messages flow through the reload, and a slow machine slows the people down instead of
        # piling up a backlog that no fixed wait can drain (an open loop of 4 messages/s left
        # 1,000 unanswered messages behind a 25-minute publish on a loaded machine).
        people = range(5200, 5210)
        asked = dict.fromkeys(people, 0)
        stop = asyncio.Event()

        def answers(user: int) -> int:
            return sum("HCR" in (s.text or "") for s in api.to(user))

        async def person(user: int) -> None:
            while not stop.is_set():
                api.message(user, "Comment demander l'asile au Maroc ?")
                asked[user] += 1
                await api.wait_until(
                    user,
                    lambda sent, n=asked[user]: sum("HCR" in (s.text or "") for s in sent) >= n,
                    timeout=300,
                    what=f"answer {asked[user]}",
                )
                await asyncio.sleep(0.25)  # reading the answer before the next question

        flows = [asyncio.create_task(person(user)) for user in people]
        result = await asyncio.to_thread(dalil, project_stack, project, "faq", "publish")
        stop.set()
        await asyncio.gather(*flows)
        sent_count = sum(asked.values())
        assert result["ok"] and result["action"] == "published", result
        assert result["reload_seconds"] > 0  # the running server was reloaded, even when busy
        ack = library().text("received_will_answer", "fr")
        for user in people:
            await api.quiet(user, 1.0)
            replies = api.to(user)
            assert all("HCR" in (r.text or "") or r.text == ack for r in replies), [r.text for r in replies]
            assert answers(user) == asked[user]  # every message answered once
        print(
            f"\npublish: trained in {result['train_seconds']:.0f} s, reloaded in {result['reload_seconds']:.1f} s; "
            f"{sent_count} messages sent while publishing, every one answered once"
        )
        rolled = await asyncio.to_thread(dalil, project_stack, project, "faq", "rollback")
        assert rolled["ok"] and rolled["model"] == result["previous"]
    finally:
        gw.stop()
