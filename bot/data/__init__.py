"""Data shipped with paperfeed: a small sample of real arXiv metadata for a first try.

`sample.jsonl` holds a dozen real papers in the arXiv metadata snapshot's JSON-lines format
(arXiv metadata is CC0), transcribed from recorded arXiv API answers: ids, titles, authors,
abstracts, categories, comments and version dates as arXiv gave them. `paperfeed import
--sample` loads it, so every search example in the README finds something on a fresh install.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_path() -> Path:
    """The shipped sample, as a file `paperfeed import` can read."""
    return Path(str(resources.files(__name__).joinpath("sample.jsonl")))
