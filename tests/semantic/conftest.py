"""The real embedding model, loaded once for every semantic test that needs it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.semantic import semantic_available


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    if not semantic_available():
        pytest.skip("needs the semantic extra")
    from bot.semantic.model import OnnxEmbedder

    return OnnxEmbedder(threads=2)
