"""The syntax tree of a query: what the parser builds and every backend's compiler reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Term:
    """One word, optionally limited to a field and optionally a prefix (``transform*``)."""

    text: str
    field: str | None = None
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear next to each other, in order."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    """An arXiv category (``cs.LG``) or a whole archive (``cs``), filtered outside full text."""

    value: str


@dataclass(frozen=True, slots=True)
class And:
    """Every child must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child must not hold."""

    child: Node


Node: TypeAlias = Term | Phrase | Category | And | Or | Not


# --- Building trees ----------------------------------------------------------------------


def _make_and(nodes: Iterable[Node | None]) -> Node | None:
    """An AND of the given nodes, flattened; None when there is nothing."""
    flat: list[Node] = []
    for node in nodes:
        if isinstance(node, And):
            flat.extend(node.children)
        elif node is not None:
            flat.append(node)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _make_or(nodes: Iterable[Node]) -> Node | None:
    """An OR of the given nodes, flattened; None when there is nothing."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, Or) else (node,))
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def _make_not(node: Node) -> Node:
    """Exclude a node; excluding an exclusion gives the node back."""
    return node.child if isinstance(node, Not) else Not(node)
