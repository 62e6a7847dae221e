"""What the semantic service tests share: the real model loaded once, real papers, a store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.models import Paper
from bot.sources.snapshot import parse_snapshot_line

FIXTURE = Path(__file__).parent.parent / "fixtures" / "real_papers.jsonl"


def real_papers() -> list[Paper]:
    """The 26 real arXiv records the tests carry (software testing, deep learning, and more)."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return [parse_snapshot_line(line) for line in lines if line.strip()]


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)  # type: ignore[attr-defined]

    @property
    def dim(self) -> int:
        return int(self.inner.dim)  # type: ignore[attr-defined]

    def embed(self, texts: Sequence[str]) -> object:
        self.texts.extend(texts)
        return self.inner.embed(texts)  # type: ignore[attr-defined]
