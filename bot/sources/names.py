"""The sources' stored names, in a module that imports nothing, so even the models can use them."""

from __future__ import annotations

HUGGINGFACE = "huggingface"
ARXIV = "arxiv"
SNAPSHOT = "import"  # papers loaded from an arXiv metadata snapshot (`paperfeed import`)
