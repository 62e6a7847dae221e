"""The BERT "uncased" WordPiece tokenizer of all-MiniLM-L6-v2, in pure Python.

Written for this project so the extra needs no ``tokenizers`` wheel (which would bring the
Hugging Face hub client with it). It follows the rules of the model's tokenizer configuration
(BertNormalizer with lower-casing, BertPreTokenizer, WordPiece with ``##`` continuations):

1. **Clean**: drop NUL, U+FFFD and every "other" character (categories ``C*``: controls,
   invisible formatting such as zero-width spaces, unassigned code points) except tab,
   newline and carriage return; every white space (those three, ``Zs``, ``Zl``, ``Zp``)
   becomes a plain space.
2. **CJK**: put spaces around each CJK ideograph, so each stands as its own word.
3. **Accents and case**: decompose (NFD), drop non-spacing marks (``Mn``), then lower-case
   character by character (no context-dependent rules such as Greek final sigma).
4. **Split** on white space, then split every punctuation character off as its own word
   (ASCII symbols ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` and Unicode ``P*``).
5. **WordPiece**: the longest vocabulary entry that starts the word, then the longest
   ``##``-entry that continues it, and so on; a word longer than 100 characters, or one
   with a part no entry covers, becomes one ``[UNK]``.
6. **Frame**: ``[CLS]`` + pieces + ``[SEP]``, cut to ``max_length`` ids in all.

The vocabulary ``vocab.txt`` ships beside this module (one entry per line, the line number is
the id); see ``NOTICE`` there for its origin and licence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import resources

VOCAB_RESOURCE = "vocab.txt"
MAX_WORD_CHARS = 100
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2: longer texts are cut there.
DEFAULT_MAX_LENGTH = 256
CONTINUATION = "##"
UNK, CLS, SEP, PAD = "[UNK]", "[CLS]", "[SEP]", "[PAD]"

_KEPT_CONTROLS = frozenset("\t\n\r")
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})

# CJK Unified Ideographs blocks (BERT's definition): Hangul, kana and the like are not in it.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(low <= cp <= high for low, high in _CJK_RANGES)


def _is_punctuation(ch: str) -> bool:
    # Every printable ASCII character that is neither a letter, a digit nor a space counts,
    # even the symbols Unicode files under S* ($, +, <, ^, `, |, ~).
    if ch.isascii():
        return ch.isprintable() and not ch.isalnum() and ch != " "
    return unicodedata.category(ch).startswith("P")


def normalize(text: str) -> str:
    """Steps 1-3: clean, isolate CJK ideographs, strip accents, lower-case."""
    out: list[str] = []
    for ch in text:
        if ch in _KEPT_CONTROLS:
            out.append(" ")
            continue
        if ch == "\x00" or ch == "\ufffd":
            continue
        category = unicodedata.category(ch)
        if category[0] == "C":
            continue
        if category in _SPACE_CATEGORIES:
            out.append(" ")
        elif _is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    cleaned = "".join(out)
    if cleaned.isascii():
        return cleaned.lower()
    decomposed = unicodedata.normalize("NFD", cleaned)
    stripped = (ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return "".join(ch.lower() for ch in stripped)


def split_words(normalized: str) -> Iterator[str]:
    """Step 4: words separated by white space, each punctuation character a word of its own."""
    for chunk in normalized.split():
        start = 0
        for i, ch in enumerate(chunk):
            if _is_punctuation(ch):
                if start < i:
                    yield chunk[start:i]
                yield ch
                start = i + 1
        if start < len(chunk):
            yield chunk[start:]


def load_vocab() -> tuple[str, ...]:
    """The shipped vocabulary, in id order."""
    text = resources.files("bot.semantic").joinpath(VOCAB_RESOURCE).read_text(encoding="utf-8")
    return tuple(text.splitlines())


class WordPieceTokenizer:
    """Text → token ids the model understands; deterministic and free of I/O after loading."""

    def __init__(self, vocab: Sequence[str], max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 2:
            raise ValueError("max_length must leave room for [CLS] and [SEP]")
        self.vocab: dict[str, int] = {}
        for i, entry in enumerate(vocab):
            self.vocab.setdefault(entry, i)
        for special in (UNK, CLS, SEP, PAD):
            if special not in self.vocab:
                raise ValueError(f"vocabulary has no {special} entry")
        self.max_length = max_length
        self.unk_id = self.vocab[UNK]
        self.cls_id = self.vocab[CLS]
        self.sep_id = self.vocab[SEP]
        self.pad_id = self.vocab[PAD]
        # Abstracts repeat words: caching the pieces per word makes encoding several times faster.
        self._pieces = lru_cache(maxsize=65536)(self._word_pieces)

    @classmethod
    def from_package(cls, max_length: int = DEFAULT_MAX_LENGTH) -> WordPieceTokenizer:
        """The tokenizer with the vocabulary shipped in this package."""
        return cls(load_vocab(), max_length)

    def _word_pieces(self, word: str) -> tuple[str, ...]:
        """Step 5 for one word."""
        if len(word) > MAX_WORD_CHARS:
            return (UNK,)
        pieces: list[str] = []
        start = 0
        while start < len(word):
            prefix = CONTINUATION if start else ""
            for end in range(len(word), start, -1):
                candidate = prefix + word[start:end]
                if candidate in self.vocab:
                    pieces.append(candidate)
                    start = end
                    break
            else:
                return (UNK,)
        return tuple(pieces)

    def tokenize(self, text: str) -> list[str]:
        """All word pieces of the text, without [CLS]/[SEP] and without truncation."""
        pieces: list[str] = []
        for word in split_words(normalize(text)):
            pieces.extend(self._pieces(word))
        return pieces

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` + the text's pieces + ``[SEP]`` as ids, at most ``max_length`` of them."""
        room = self.max_length - 2
        ids: list[int] = []
        for word in split_words(normalize(text)):
            ids.extend(self.vocab[piece] for piece in self._pieces(word))
            if len(ids) >= room:
                del ids[room:]
                break
        return [self.cls_id, *ids, self.sep_id]
