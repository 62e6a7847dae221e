"""Benchmarks for paperfeed: a synthetic arXiv-like corpus (`corpus.py`) and the runner (`run.py`)."""
