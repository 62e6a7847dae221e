"""The import graph of `bot/`: one-way layers and no cycle, counting TYPE_CHECKING and deferred
imports. `python -m tests.test_wiring` prints the graph by layer, as docs/architecture.md shows it."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every `bot.*` module and the `bot.*` modules it imports anywhere in its body."""
    modules = {module_name(p): p for p in BOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_bot_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_bot_class_and_the_cogs_do_not_know_each_other() -> None:
    graph = import_graph()
    cogs = {m for m in graph if m.startswith("bot.discord.cogs.")}
    assert not graph["bot.discord.client"] & cogs
    for cog in cogs:
        assert "bot.discord.client" not in graph[cog], cog
        assert not graph[cog] & (cogs - {cog}), cog  # shared helpers live outside the cogs


# The layers of `bot/`, top first; docs/architecture.md says what lives in each and why. A module
# belongs to the layer of the longest prefix that names it, and imports only its own layer or
# lower ones, so dependencies run one way: Discord face → services → store and sources → models.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry", ("bot.__main__", "bot.cli")),
    ("discord", ("bot.discord",)),
    ("composition", ("bot.app", "bot.web")),
    ("configuration", ("bot.config", "bot.logs")),
    ("services", ("bot.services",)),
    ("observability", ("bot.metrics",)),
    ("adapters", ("bot.store", "bot.sources", "bot.data", "bot.semantic")),
    ("query", ("bot.query",)),
    ("models", ("bot.models",)),
    (
        "foundation",
        ("bot", "bot.errors", "bot.clock", "bot.secrets", "bot.progress", "bot.sources.names"),
    ),
)
# Side by side in one layer, these never import each other (a store that knows the upstreams,
# or a source that writes SQL, would tie the second database backend to them).
APART = (("bot.store", "bot.sources"),)


def _prefix_of(module: str) -> tuple[int, str]:
    """(layer index, prefix) for the longest prefix that names the module."""
    matches = [
        (len(prefix), index, prefix)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "bot" and module.startswith(prefix + "."))
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS and to docs/architecture.md"
    _, index, prefix = max(matches)
    return index, prefix


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower layer into a higher one, and between packages kept apart."""
    found = []
    for module, targets in sorted(graph.items()):
        mine, my_prefix = _prefix_of(module)
        for target in sorted(targets):
            theirs, their_prefix = _prefix_of(target)
            if theirs < mine:
                found.append(f"{module} ({LAYERS[mine][0]}) -> {target} ({LAYERS[theirs][0]})")
            elif {my_prefix, their_prefix} in [set(pair) for pair in APART]:
                found.append(f"{module} -> {target} (kept apart)")
    return found


def test_every_import_points_down_the_layers() -> None:
    assert upward_imports(import_graph()) == []


def test_the_layer_check_sees_an_upward_import() -> None:
    graph = {"bot.models": {"bot.services.poller"}, "bot.services.poller": {"bot.models"}}
    assert upward_imports(graph) == ["bot.models (models) -> bot.services.poller (services)"]
    assert upward_imports({"bot.store.x": {"bot.sources.y"}, "bot.sources.y": set()}) == [
        "bot.store.x -> bot.sources.y (kept apart)"
    ]


def layer_graph(graph: dict[str, set[str]]) -> str:
    """The graph folded to one node per layer prefix, as Mermaid text for the docs."""
    edges = sorted(
        {
            (_prefix_of(module)[1], _prefix_of(target)[1])
            for module, targets in graph.items()
            for target in targets
            if _prefix_of(module)[1] != _prefix_of(target)[1]
        }
    )
    lines = ["flowchart TD"]
    for name, prefixes in LAYERS:
        lines.append(f"  subgraph {name}")
        lines.extend(f'    {p.replace(".", "_")}["{p}"]' for p in prefixes)
        lines.append("  end")
    lines.extend(f"  {a.replace('.', '_')} --> {b.replace('.', '_')}" for a, b in edges)
    return "\n".join(lines)


if __name__ == "__main__":
    print(layer_graph(import_graph()))
