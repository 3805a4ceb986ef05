"""The house rules of the code (docs/architecture.md), read from the source, not from a list:

- which room may import which (a folder says which process uses it; see RULES);
- nothing in the product imports the development tools or the tests;
- no module of the product over 700 lines, no function over 80;
- the product does not read the shared specification outside the repository; its own copy of
  the intent taxonomy (spec/topics.yml) matches it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "actions", "nlu")
PROJECT = (*PRODUCT, "devtools", "tests")

# room -> the rooms it may import (itself always). Everything not listed is forbidden.
RULES: dict[str, set[str]] = {
    "bot.core": set(),  # settings, content, text, danger words: imported by every process
    "bot.language": {"bot.core"},
    "bot.storage": {"bot.core"},
    "bot.events": {"bot.core"},  # partners' feeds: read by the action server and the gateway's alerts
    "bot.gateway": {"bot.core", "bot.language", "bot.storage", "bot.events"},  # never authoring or ops
    "bot.authoring": {"bot.core"},
    "bot.ops": {
        "bot.core",
        "bot.language",
        "bot.storage",
        "bot.events",
        "bot.gateway",
        "bot.authoring",
        "actions",
        "nlu",
    },
    "actions": {"bot.core", "bot.events"},  # the action server
    "nlu": {"bot.core", "bot.language"},  # inside Rasa
    "devtools": {
        "bot.core",
        "bot.language",
        "bot.storage",
        "bot.events",
        "bot.gateway",
        "bot.authoring",
        "bot.ops",
    },
}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80


def room_of(module: str) -> str | None:
    """`bot.gateway.engine` -> `bot.gateway`; `actions.events_action` -> `actions`."""
    parts = module.split(".")
    if parts[0] not in PROJECT:
        return None
    if parts[0] == "bot":
        return ".".join(parts[:2]) if len(parts) > 1 else "bot"
    return parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """Every module that `path` (the module `module`) imports, relative ones resolved, with its line."""
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:  # `from bot import danger` names a module
                yield node.lineno, f"{base}.{alias.name}"


def crossings(path: Path, module: str) -> Iterator[tuple[int, str, str]]:
    """(line, from room, to room) for every import of `path` that crosses into another room."""
    mine = room_of(module)
    for line, target in imports(path, module):
        theirs = room_of(target)
        if mine and theirs and theirs not in (mine, "bot"):
            yield line, mine, theirs


def edges() -> Iterator[tuple[str, int, str, str]]:
    """(file, line, from room, to room) for every import between two rooms of the project."""
    for path in sources(*PROJECT):
        for line, mine, theirs in crossings(path, module_name(path)):
            yield str(path.relative_to(ROOT)), line, mine, theirs


def test_every_room_imports_only_what_its_rules_allow() -> None:
    broken = [
        f"{file}:{line}: {mine} imports {theirs}"
        for file, line, mine, theirs in edges()
        if mine in RULES and theirs not in RULES[mine]
    ]
    assert not broken, "\n".join(broken)


def test_every_folder_of_bot_is_a_room_with_rules() -> None:
    rooms = {f"bot.{p.name}" for p in (ROOT / "bot").iterdir() if (p / "__init__.py").is_file()}
    assert rooms == {r for r in RULES if r.startswith("bot.")}
    loose = [p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside a room: {loose}"


def test_no_cycle_between_rooms() -> None:
    graph: dict[str, set[str]] = {}
    for _, _, mine, theirs in edges():
        if mine != "tests":
            graph.setdefault(mine, set()).add(theirs)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(room for room in graph if room in reach(room))
    assert not cycles, f"rooms on an import cycle: {cycles}"


@pytest.mark.parametrize("top", PRODUCT)
def test_the_product_never_imports_development_tools_or_tests(top: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for path in sources(top)
        for line, target in imports(path, module_name(path))
        if target.split(".")[0] in ("devtools", "tests")
    ]
    assert not found, "\n".join(found)


def test_no_module_over_700_lines_and_no_function_over_80() -> None:
    long_modules, long_functions = [], []
    for path in sources(*PRODUCT):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert not long_modules and not long_functions, "\n".join(long_modules + long_functions)


def reads_shared(tree: ast.AST) -> Iterator[int]:
    """Lines that build a path into ../shared: `x / "shared"`, `Path("../shared/...")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            sides = [node.left, node.right]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Path":
            sides = list(node.args)
        else:
            continue
        if any(
            isinstance(x, ast.Constant) and isinstance(x.value, str) and "shared" in x.value.split("/") for x in sides
        ):
            yield node.lineno


def test_the_product_does_not_read_the_shared_specification() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources(*PRODUCT)
        for line in reads_shared(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "\n".join(found)
    assert list(reads_shared(ast.parse('root.parent / "shared" / "spec"'))) == [1]
    assert list(reads_shared(ast.parse('x = 1\nPath("../shared/data/langid")'))) == [2]


def test_the_projects_taxonomy_is_the_shared_one() -> None:
    # spec/topics.yml is the project's copy of the contract; when the shared file is beside the
    # project, the intents and topics they name must be the same.
    shared = ROOT.parent / "shared" / "spec" / "topics.yml"
    if not shared.is_file():
        pytest.skip("no ../shared/spec/topics.yml beside the project")
    ours = yaml.safe_load((ROOT / "spec" / "topics.yml").read_text(encoding="utf-8"))
    theirs = yaml.safe_load(shared.read_text(encoding="utf-8"))
    for key in ("core_intents", "faq_topics"):
        assert sorted(ours[key]) == sorted(theirs[key]), key


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    # The checker itself: a gateway module importing ops (absolutely or relatively) is seen.
    probe = tmp_path / "probe.py"
    probe.write_text("import json\n\nfrom bot.ops import training\nfrom ..authoring import sheets\n", encoding="utf-8")
    found = list(crossings(probe, "bot.gateway.probe"))
    assert found == [
        (3, "bot.gateway", "bot.ops"),
        (3, "bot.gateway", "bot.ops"),
        (4, "bot.gateway", "bot.authoring"),
        (4, "bot.gateway", "bot.authoring"),
    ]
    assert all(theirs not in RULES["bot.gateway"] for _, _, theirs in found)
