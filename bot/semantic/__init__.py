"""Semantic matching: sentence embeddings of papers, and nearest-neighbour search over them.

This package imports without the ``semantic`` extra: numpy and onnxruntime are imported only
by the modules that need them (``model``, ``vectors``), so the rest of the bot can ask
:func:`~bot.semantic.availability.semantic_available` first and answer with one line when the
extra is missing. Layers: ``tokenizer`` (pure Python) → ``model`` (ONNX) → ``vectors`` (numpy).
"""

from __future__ import annotations

from bot.semantic.availability import INSTALL_HINT, require_semantic, semantic_available

__all__ = ["INSTALL_HINT", "require_semantic", "semantic_available"]
