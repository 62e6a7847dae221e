"""A reproducible synthetic corpus in arXiv's metadata-snapshot format (JSON lines).

Usage::

    python bench/corpus.py N OUT.jsonl [--seed S]

Writes N papers, one JSON object a line, in the shape `paperfeed import` reads (id, submitter,
authors, title, comments, journal-ref, doi, report-no, categories, license, abstract, versions,
update_date, authors_parsed). The same N and seed always give the same bytes, and the file is
streamed: memory stays flat whatever N is.

What the text looks like, and why:

- Words are drawn from a Zipf distribution over hand-written lists of function words, general
  research words and technical terms per field (machine learning, vision, language, maths,
  physics, systems), kept in `bench/data/*.txt` one word a line, most frequent first, plus a
  long tail of made-up method names so the vocabulary has the size and skew of real
  abstracts. Each paper draws mostly from its own field's terms.
- Titles are about 10 words, abstracts about 170; 1 to 30 authors (most papers have 2 to 6);
  categories skewed like arXiv's (cs.LG, cs.CV and cs.CL heavy, a maths and physics tail),
  with cross-lists; new-style ids ``YYMM.NNNNN`` in submission order from April 2007 to
  December 2025, with the number of papers a month growing over the years.
- Query terms are planted with controlled document frequencies (see ``PLANTED``): each term is
  placed in exactly ``round(rate * block)`` random papers of every block of ``block`` papers, so
  its document frequency is what the benchmark says it is, not a guess. No planted word (or a
  word sharing its stem) occurs anywhere else in the vocabulary.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

# --- Word lists (written for this benchmark; one word a line in bench/data/) ----------------

DATA_DIR = Path(__file__).resolve().parent / "data"
FIELDS = ("ml", "cv", "nlp", "math", "physics", "systems")


def load_words(name: str) -> list[str]:
    """The words of `bench/data/NAME.txt` in file order (the order is the Zipf rank).

    Lines starting with `#` and blank lines are skipped; a repeated or malformed word is an
    error, so the lists stay what the generator's statistics assume.
    """
    path = DATA_DIR / f"{name}.txt"
    words: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word in seen or not word.isascii() or not word.isalpha() or word != word.lower():
            raise ValueError(f"{path}:{number}: {word!r} is repeated or not a lower-case word")
        seen.add(word)
        words.append(word)
    return words


FUNCTION_WORDS = load_words("function_words")
GENERAL_WORDS = load_words("general_words")
FIELD_WORDS: dict[str, list[str]] = {name: load_words(f"field_{name}") for name in FIELDS}
FIRST_NAMES = load_words("first_names")
SURNAMES = load_words("surnames")

# --- Planted query terms ------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """A term placed in a fixed share of papers: ``count`` random papers in every ``block``."""

    text: str
    block: int
    count: int
    title_share: float  # of the papers that get it, how many also get it in the title

    @property
    def rate(self) -> float:
        return self.count / self.block


PLANTED: dict[str, Planted] = {
    "narrow": Planted("holonomy", block=1000, count=1, title_share=0.3),  # 0.1 %
    "medium": Planted("wasserstein", block=100, count=2, title_share=0.25),  # 2 %
    "broad": Planted("framework", block=10, count=3, title_share=0.1),  # 30 %
    "phrase": Planted("mixture of experts", block=100, count=1, title_share=0.2),  # 1 %
}
# Word beginnings that no vocabulary word may share with a planted word (stems, plurals).
_RESERVED_PREFIXES = ("holonom", "wasserst", "framework")

# --- Categories -----------------------------------------------------------------------------

# Primary categories and their weights (percent-ish), with the field each draws its words from.
PRIMARY_CATEGORIES: list[tuple[str, float, str]] = [
    ("cs.LG", 17.0, "ml"),
    ("cs.CV", 14.0, "cv"),
    ("cs.CL", 11.0, "nlp"),
    ("cs.AI", 5.0, "ml"),
    ("stat.ML", 3.5, "ml"),
    ("cs.RO", 3.0, "systems"),
    ("cs.CR", 2.5, "systems"),
    ("cs.IR", 1.5, "nlp"),
    ("cs.DC", 1.0, "systems"),
    ("cs.SE", 1.5, "systems"),
    ("cs.NE", 0.5, "ml"),
    ("cs.HC", 1.0, "nlp"),
    ("cs.SD", 0.5, "nlp"),
    ("eess.IV", 1.5, "cv"),
    ("eess.SP", 2.0, "systems"),
    ("eess.SY", 1.5, "systems"),
    ("math.OC", 2.0, "math"),
    ("math.ST", 1.0, "math"),
    ("math.PR", 1.5, "math"),
    ("math.AP", 1.5, "math"),
    ("math.CO", 1.5, "math"),
    ("math.AG", 1.0, "math"),
    ("math.NT", 1.0, "math"),
    ("math.DG", 1.0, "math"),
    ("math.NA", 1.0, "math"),
    ("quant-ph", 4.0, "physics"),
    ("hep-th", 2.0, "physics"),
    ("hep-ph", 2.0, "physics"),
    ("gr-qc", 1.0, "physics"),
    ("astro-ph.GA", 1.0, "physics"),
    ("astro-ph.CO", 1.0, "physics"),
    ("astro-ph.HE", 0.8, "physics"),
    ("cond-mat.mtrl-sci", 1.5, "physics"),
    ("cond-mat.str-el", 1.0, "physics"),
    ("cond-mat.stat-mech", 0.8, "physics"),
    ("physics.optics", 0.8, "physics"),
    ("physics.flu-dyn", 0.6, "physics"),
    ("q-bio.NC", 0.5, "systems"),
    ("q-bio.BM", 0.5, "systems"),
    ("econ.EM", 0.3, "systems"),
    ("q-fin.ST", 0.3, "systems"),
]
# Cross-lists come from the same field, with these weights inside each field.
_FIELD_CATEGORIES: dict[str, list[str]] = {}
for _cat, _weight, _field in PRIMARY_CATEGORIES:
    _FIELD_CATEGORIES.setdefault(_field, []).append(_cat)
_CROSS_LIST_COUNTS = [(0, 55.0), (1, 30.0), (2, 12.0), (3, 3.0)]
_AUTHOR_COUNTS = [
    (1, 8.0),
    (2, 16.0),
    (3, 18.0),
    (4, 16.0),
    (5, 12.0),
    (6, 9.0),
    (7, 6.0),
    (8, 4.0),
    (9, 2.5),
    (10, 1.5),
    (11, 1.0),
    (12, 1.0),
]
_LARGE_COLLABORATION = 4.0  # percent of papers with 13 to 30 authors
_VERSION_COUNTS = [(1, 60.0), (2, 25.0), (3, 10.0), (4, 5.0)]

FIRST_MONTH = (2007, 4)
LAST_MONTH = (2025, 12)
_MONTHLY_GROWTH = 0.0079  # about 5x from 2007 to 2024, like arXiv's submissions
_MAX_PER_MONTH = 99_999  # five-digit numbers

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_SYLLABLES_ON = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "cr",
    "dr",
    "gr",
    "pl",
    "st",
    "tr",
    "ch",
    "sh",
]
_SYLLABLES_NUC = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
_SYLLABLES_CODA = ["", "", "", "n", "r", "s", "x", "l", "m", "t"]
TAIL_SIZE = 30_000


# --- Distributions ---------------------------------------------------------------------------


def _zipf(words: Sequence[str], exponent: float) -> list[float]:
    """Probabilities proportional to 1 / rank**exponent."""
    raw = [1.0 / (rank**exponent) for rank in range(1, len(words) + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def _unique(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(words))


def _tail_words() -> list[str]:
    """Made-up method and project names: the rare end of the vocabulary (fixed, seed-free)."""
    rng = random.Random(20_240_607)
    known = set(FUNCTION_WORDS) | set(GENERAL_WORDS)
    for words in FIELD_WORDS.values():
        known |= set(words)
    out: dict[str, None] = {}
    while len(out) < TAIL_SIZE:
        parts = [
            rng.choice(_SYLLABLES_ON) + rng.choice(_SYLLABLES_NUC) + rng.choice(_SYLLABLES_CODA)
            for _ in range(rng.randint(2, 4))
        ]
        word = "".join(parts)
        if word in known or word.startswith((*_RESERVED_PREFIXES, "transform", "survey")):
            continue
        out[word] = None
    return list(out)


@dataclass
class _Mixture:
    """One categorical distribution over the vocabulary, ready for random.choices."""

    words: list[str]
    cum_weights: list[float]

    @classmethod
    def build(cls, parts: Sequence[tuple[float, Sequence[str], float]]) -> _Mixture:
        """Parts are (share, words, zipf exponent); a word in several parts adds up."""
        weight: dict[str, float] = {}
        for share, words, exponent in parts:
            for word, p in zip(words, _zipf(words, exponent), strict=True):
                weight[word] = weight.get(word, 0.0) + share * p
        words = list(weight)
        return cls(words, list(itertools.accumulate(weight[w] for w in words)))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=k)


class Vocabulary:
    """Per-field word distributions for abstracts and titles, and the author-name pools."""

    def __init__(self) -> None:
        general = _unique(GENERAL_WORDS)
        function = _unique(FUNCTION_WORDS)
        fields = {name: _unique(words) for name, words in FIELD_WORDS.items()}
        tail = _tail_words()
        for word in itertools.chain(general, function, tail, *fields.values()):
            if word.startswith(_RESERVED_PREFIXES):
                raise AssertionError(f"{word!r} collides with a planted term")
        self.abstract: dict[str, _Mixture] = {}
        self.title: dict[str, _Mixture] = {}
        for name, own in fields.items():
            others = _unique(w for other, ws in fields.items() if other != name for w in ws)
            self.abstract[name] = _Mixture.build(
                [
                    (0.40, function, 1.0),
                    (0.22, general, 0.9),
                    (0.28, own, 0.8),
                    (0.05, others, 1.0),
                    (0.05, tail, 1.1),
                ]
            )
            self.title[name] = _Mixture.build(
                [
                    (0.12, function[:12], 1.0),
                    (0.20, general, 0.9),
                    (0.55, own, 0.7),
                    (0.08, others, 1.0),
                    (0.05, tail, 1.1),
                ]
            )
        self.method_names = _Mixture.build([(1.0, tail, 0.9)])
        self.first_names = _Mixture.build([(1.0, _unique(FIRST_NAMES), 0.6)])
        self.surnames = _Mixture.build([(1.0, _unique(SURNAMES), 0.8)])


def _table(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    return [v for v, _ in pairs], list(itertools.accumulate(w for _, w in pairs))


def month_counts(n: int) -> list[tuple[int, int, int]]:
    """(year, month, papers) for every month, growing over time, summing to n (largest remainder)."""
    months: list[tuple[int, int]] = []
    year, month = FIRST_MONTH
    while (year, month) <= LAST_MONTH:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if n > _MAX_PER_MONTH * len(months):
        raise ValueError(f"at most {_MAX_PER_MONTH * len(months)} papers fit the id scheme")
    weights = [math.exp(_MONTHLY_GROWTH * i) for i in range(len(months))]
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [min(int(e), _MAX_PER_MONTH) for e in exact]
    order = sorted(range(len(months)), key=lambda i: (counts[i] - exact[i], i))
    missing = n - sum(counts)
    while missing > 0:  # hand out the remainder, smallest share first, respecting the cap
        for i in order:
            if missing == 0:
                break
            if counts[i] < _MAX_PER_MONTH:
                counts[i] += 1
                missing -= 1
    return [(y, m, c) for (y, m), c in zip(months, counts, strict=True)]


# --- The generator ---------------------------------------------------------------------------


class _Planter:
    """Decides, block by block, which papers get a planted term (exact share per block)."""

    def __init__(self, planted: Planted, rng: random.Random) -> None:
        self._planted = planted
        self._rng = rng
        self._chosen: set[int] = set()
        self._block_start = -1

    def wants(self, index: int) -> bool:
        block = self._planted.block
        start = index - index % block
        if start != self._block_start:
            self._block_start = start
            self._chosen = {start + k for k in self._rng.sample(range(block), self._planted.count)}
        return index in self._chosen


class CorpusGenerator:
    """Yields papers as snapshot dicts; the same seed gives the same papers."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.vocab = Vocabulary()
        self._rng = random.Random(seed)
        # Each planted term has its own random stream so adding one never moves another.
        self._planters = {
            name: _Planter(p, random.Random(f"{seed}:{name}")) for name, p in PLANTED.items()
        }
        cats = [(c, w) for c, w, _ in PRIMARY_CATEGORIES]
        self._primary, self._primary_cw = _table(cats)
        self._field_of = {c: f for c, _, f in PRIMARY_CATEGORIES}
        self._cross, self._cross_cw = _table(_CROSS_LIST_COUNTS)
        self._authors, self._authors_cw = _table(_AUTHOR_COUNTS)
        self._versions, self._versions_cw = _table(_VERSION_COUNTS)

    def papers(self, n: int) -> Iterator[dict[str, Any]]:
        index = 0
        for year, month, count in month_counts(n):
            for number in range(1, count + 1):
                yield self._paper(index, year, month, number, count)
                index += 1

    def _pick(self, values: list[Any], cum: list[float]) -> Any:
        return self._rng.choices(values, cum_weights=cum)[0]

    def _paper(self, index: int, year: int, month: int, number: int, count: int) -> dict[str, Any]:
        rng = self._rng
        primary: str = self._pick(self._primary, self._primary_cw)
        field = self._field_of[primary]
        categories = [primary]
        pool = _FIELD_CATEGORIES[field]
        for _ in range(self._pick(self._cross, self._cross_cw)):
            extra = rng.choice(pool) if rng.random() < 0.8 else rng.choice(self._primary)
            if extra not in categories:
                categories.append(extra)

        title_words = self.vocab.title[field].draw(rng, max(5, min(18, round(rng.gauss(10, 2.5)))))
        abstract_words = self.vocab.abstract[field].draw(
            rng, max(40, min(320, round(rng.gauss(170, 45))))
        )
        for name, planter in self._planters.items():
            if planter.wants(index):
                term = PLANTED[name]
                for _ in range(rng.choice((1, 1, 2, 3))):
                    abstract_words.insert(rng.randrange(len(abstract_words) + 1), term.text)
                if rng.random() < term.title_share:
                    title_words.insert(rng.randrange(len(title_words) + 1), term.text)
        title = _title_case(title_words)
        if rng.random() < 0.15:
            title = self.vocab.method_names.draw(rng, 1)[0].capitalize() + ": " + title

        authors = self._author_names()
        day_span = 28 if month == 2 else 30
        first = datetime(year, month, 1 + (number - 1) * day_span // count, tzinfo=UTC)
        first += timedelta(seconds=rng.randrange(86_400))
        created = [first]
        for _ in range(self._pick(self._versions, self._versions_cw) - 1):
            created.append(
                created[-1] + timedelta(days=rng.randint(3, 200), seconds=rng.randrange(86_400))
            )

        return {
            "id": f"{year % 100:02d}{month:02d}.{number:05d}",
            "submitter": " ".join(reversed(authors[0])).strip().title(),
            "authors": _author_line(authors),
            "title": title,
            "comments": self._comments(),
            "journal-ref": (
                f"J. Synth. Res. {rng.randint(1, 60)} ({year + rng.randint(0, 2)}) {rng.randint(1, 999)}"
                if rng.random() < 0.2
                else None
            ),
            "doi": f"10.{rng.randint(1000, 9999)}/synth.{index:07d}"
            if rng.random() < 0.3
            else None,
            "report-no": None,
            "categories": " ".join(categories),
            "license": "http://creativecommons.org/licenses/by/4.0/"
            if rng.random() < 0.4
            else None,
            "abstract": "  " + _sentences(abstract_words, rng) + "\n",
            "versions": [
                {"version": f"v{i}", "created": _rfc2822(t)} for i, t in enumerate(created, 1)
            ],
            "update_date": created[-1].strftime("%Y-%m-%d"),
            "authors_parsed": [
                [last.title(), first_name.title(), ""] for last, first_name in authors
            ],
        }

    def _author_names(self) -> list[tuple[str, str]]:
        rng = self._rng
        if rng.random() * 100 < _LARGE_COLLABORATION:
            n = rng.randint(13, 30)
        else:
            n = self._pick(self._authors, self._authors_cw)
        lasts = self.vocab.surnames.draw(rng, n)
        firsts = self.vocab.first_names.draw(rng, n)
        return list(zip(lasts, firsts, strict=True))

    def _comments(self) -> str | None:
        rng = self._rng
        if rng.random() < 0.4:
            return None
        return f"{rng.randint(4, 60)} pages, {rng.randint(1, 20)} figures"


def _title_case(words: list[str]) -> str:
    small = {"of", "and", "a", "in", "to", "for", "the", "with", "on", "by", "as", "an", "via"}
    out = [w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words)]
    return " ".join(out)


def _sentences(words: list[str], rng: random.Random) -> str:
    """Cut the words into capitalised sentences of 8 to 30 words (planted phrases stay whole)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        j = min(len(words), i + rng.randint(8, 30))
        sentence = " ".join(words[i:j])
        out.append(sentence[:1].upper() + sentence[1:] + ".")
        i = j
    return " ".join(out)


def _author_line(authors: list[tuple[str, str]]) -> str:
    names = [f"{first.title()} {last.title()}" for last, first in authors]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _rfc2822(t: datetime) -> str:
    """The snapshot's version dates: "Mon, 2 Apr 2007 19:18:42 GMT" (no locale involved)."""
    return (
        f"{_DAYS[t.weekday()]}, {t.day} {_MONTHS[t.month - 1]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def write_corpus(n: int, out: IO[str], seed: int = 0) -> int:
    """Write n papers as JSON lines; returns n. Streams: one paper in memory at a time."""
    written = 0
    for paper in CorpusGenerator(seed).papers(n):
        out.write(json.dumps(paper, ensure_ascii=False))
        out.write("\n")
        written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of papers")
    parser.add_argument("out", help='output file (JSON lines), or "-" for standard output')
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be at least 0")
    if args.out == "-":
        write_corpus(args.n, sys.stdout, args.seed)
        return 0
    path = Path(args.out)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8", buffering=1 << 20) as f:
        write_corpus(args.n, f, args.seed)
    tmp.replace(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
