"""The WordPiece tokenizer, checked against the rules of the model's vocabulary.

Every expected piece below is one a reader can confirm by looking the word up in
``bot/semantic/vocab.txt``; the tests check that too, so a case cannot pass by accident of a
wrong vocabulary. Pure Python: these run with or without the semantic extra.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.semantic.tokenizer import (
    MAX_WORD_CHARS,
    UNK,
    WordPieceTokenizer,
    load_vocab,
)

VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"


@pytest.fixture(scope="module")
def tok() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_package()


def assert_greedy_pieces(word: str, pieces: list[str], vocab: dict[str, int]) -> None:
    """The WordPiece rule itself: pieces spell the word, exist, and each is the longest match."""
    assert pieces, word
    assert not pieces[0].startswith("##")
    assert all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == word
    start = 0
    for i, piece in enumerate(pieces):
        assert piece in vocab, piece
        prefix = "##" if i else ""
        length = len(piece) - len(prefix)
        longer = (prefix + word[start:end] for end in range(start + length + 1, len(word) + 1))
        assert not any(c in vocab for c in longer), (
            f"{piece!r} is not the longest match in {word!r}"
        )
        start += length


def test_the_shipped_vocabulary_is_bert_uncased(tok: WordPieceTokenizer) -> None:
    raw = resources.files("bot.semantic").joinpath("vocab.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == VOCAB_SHA256
    vocab = load_vocab()
    assert len(vocab) == 30522
    # The special tokens sit where BERT's configuration expects them.
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id) == (0, 100, 101, 102)


def test_a_word_in_the_vocabulary_stays_whole(tok: WordPieceTokenizer) -> None:
    for word in ("transformers", "the", "learning", "graph"):
        assert word in tok.vocab
        assert tok.tokenize(word) == [word]


def test_a_word_not_in_the_vocabulary_splits_into_the_longest_pieces(
    tok: WordPieceTokenizer,
) -> None:
    assert "embeddings" not in tok.vocab
    pieces = tok.tokenize("embeddings")
    assert pieces == ["em", "##bed", "##ding", "##s"]
    assert_greedy_pieces("embeddings", pieces, tok.vocab)
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert_greedy_pieces("unaffable", tok.tokenize("unaffable"), tok.vocab)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=40))
def test_any_lowercase_word_follows_the_greedy_rule(word: str) -> None:
    tok = WordPieceTokenizer.from_package()
    # Every letter exists alone and as "##letter", so a plain word never becomes [UNK].
    assert_greedy_pieces(word, tok.tokenize(word), tok.vocab)


def test_case_and_accents_are_dropped(tok: WordPieceTokenizer) -> None:
    assert tok.tokenize("BERT Learning") == tok.tokenize("bert learning")
    assert tok.tokenize("Café") == ["cafe"]
    assert tok.tokenize("naïve") == ["naive"]
    assert tok.tokenize("Ångström") == tok.tokenize("angstrom")
    assert tok.tokenize("Schrödinger") == tok.tokenize("schrodinger")


def test_punctuation_is_split_off_as_its_own_token(tok: WordPieceTokenizer) -> None:
    assert tok.tokenize("hello,world!") == ["hello", ",", "world", "!"]
    assert tok.tokenize("state-of-the-art") == ["state", "-", "of", "-", "the", "-", "art"]
    # ASCII symbols count as punctuation too, even those Unicode calls symbols.
    assert tok.tokenize("$x^2$") == ["$", "x", "^", "2", "$"]
    assert tok.tokenize("don't") == ["don", "'", "t"]
    # Unicode punctuation (a typographic dash, guillemets) as well.
    assert tok.tokenize("a—b «c»") == ["a", "—", "b", "«", "c", "»"]


def test_cjk_ideographs_stand_alone(tok: WordPieceTokenizer) -> None:
    pieces = tok.tokenize("日本語")
    assert pieces == ["日", "本", "語"]
    assert all(p in tok.vocab for p in pieces)
    # Written without spaces between Latin letters, an ideograph is still cut out.
    assert tok.tokenize("a日b") == ["a", "日", "b"]


def test_white_space_and_invisible_characters(tok: WordPieceTokenizer) -> None:
    assert tok.tokenize("graph\tneural\nnetwork\r\u00a0x") == ["graph", "neural", "network", "x"]
    # Controls, NUL, U+FFFD and zero-width formatting characters are removed, not spaced.
    assert tok.tokenize("gr\u200baph") == tok.tokenize("graph") == ["graph"]
    assert tok.tokenize("gr\x00a\ufffdph\x07") == ["graph"]
    assert tok.tokenize(" \t\n ") == []


def test_a_word_with_a_character_no_piece_covers_is_one_unk(tok: WordPieceTokenizer) -> None:
    assert "🤖" not in tok.vocab and "##🤖" not in tok.vocab
    assert tok.tokenize("robot🤖arm") == [UNK]
    assert tok.tokenize("robot 🤖 arm") == ["robot", UNK, "arm"]


def test_an_over_long_word_is_one_unk(tok: WordPieceTokenizer) -> None:
    limit = "a" * MAX_WORD_CHARS
    assert tok.tokenize(limit) != [UNK]
    assert_greedy_pieces(limit, tok.tokenize(limit), tok.vocab)
    assert tok.tokenize(limit + "a") == [UNK]
    assert tok.tokenize(f"x {'b' * 150} y") == ["x", UNK, "y"]


def test_encode_frames_ids_with_cls_and_sep(tok: WordPieceTokenizer) -> None:
    ids = tok.encode("Graph embeddings.")
    pieces = ["graph", "em", "##bed", "##ding", "##s", "."]
    assert ids == [tok.cls_id, *(tok.vocab[p] for p in pieces), tok.sep_id]
    assert tok.encode("") == [tok.cls_id, tok.sep_id]


def test_encode_truncates_to_the_maximum_length() -> None:
    short = WordPieceTokenizer(load_vocab(), max_length=8)
    text = "graph embeddings are learned from many random walks on the graph"
    full = WordPieceTokenizer.from_package().encode(text)
    cut = short.encode(text)
    assert len(cut) == 8
    assert cut[:-1] == full[:7] and cut[-1] == short.sep_id
    long_text = "word " * 1000
    default = WordPieceTokenizer.from_package()
    assert len(default.encode(long_text)) == default.max_length == 256
    # The cut is by pieces, not words: a word whose pieces run past the end is cut inside.
    assert len(WordPieceTokenizer(load_vocab(), max_length=4).encode("embeddings")) == 4


def test_a_vocabulary_without_special_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "a"])
    with pytest.raises(ValueError, match="max_length"):
        WordPieceTokenizer(load_vocab(), max_length=1)
