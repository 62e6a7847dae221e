"""paperfeed's benchmarks: one module per benchmark, run by `run.py` (or `python -m bench`).

`corpus.py` generates the synthetic arXiv-like corpus from the word lists in `data/`;
`harness.py` holds what the benchmarks share and `report.py` the targets and the text report.
"""
