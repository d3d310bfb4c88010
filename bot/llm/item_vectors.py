"""Item vectors from the language model: mean-pooled last hidden states of an item's text.

A candidate source for the history stage (``SemanticNeighbours`` takes any item vectors) and
the language-model signal the quality benchmark tries beside MiniLM. A causal LM's hidden
states share one large common direction, so the vectors are centred on the catalogue's mean
before they are normalised; cosine similarity then compares what differs between items.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.llm.model import ModelConfig, load_model

__all__ = ["lm_item_vectors", "cached_lm_item_vectors"]

log = logging.getLogger(__name__)


def _base_fp32() -> ModelConfig:
    """The default model without adapter, in fp32, nothing warmed or cached: a batch reader."""
    return ModelConfig(quantization="fp32", adapter="none", warmup=False, prefix_cache_mib=0)


def lm_item_vectors(
    texts: Sequence[str],
    config: ModelConfig | None = None,
    batch_size: int = 32,
    max_tokens: int = 48,
) -> np.ndarray:
    """One centred, unit-length vector per text (rows in ``texts`` order), from the base
    model without adapter in fp32 unless ``config`` says otherwise. Texts are cut to
    ``max_tokens`` tokens (title, brand and category fit)."""
    import torch

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    loaded = load_model(config or _base_fp32())
    tok, model = loaded.tokenizer, loaded.model
    body = getattr(model, "model", model)  # the transformer without the vocabulary head
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    order = np.argsort([len(t) for t in texts], kind="stable")  # like lengths share a batch
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            enc = tok(
                [texts[i] for i in rows], padding=True, truncation=True,
                max_length=max_tokens, return_tensors="pt",
            )  # fmt: skip
            hidden = body(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            states = hidden.last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[rows] = pooled.numpy()
    log.info("LM item vectors for %d texts in %.0fs", len(texts), time.perf_counter() - t0)
    out -= out.mean(0, keepdims=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def cached_lm_item_vectors(
    ids: Sequence[str], texts: Sequence[str], folder: Path, config: ModelConfig | None = None
) -> dict[str, np.ndarray]:
    """:func:`lm_item_vectors` keyed by item id, kept in ``folder`` under a hash of the texts
    and the model settings: a catalogue is read by the model once."""
    config = config or _base_fp32()
    h = hashlib.sha256(repr((config.model, config.quantization, config.adapter)).encode())
    for i, t in zip(ids, texts, strict=True):
        h.update(f"{i}\x1f{t}\x1e".encode())
    path = Path(folder) / f"lm-item-vectors-{h.hexdigest()[:16]}.npy"
    if path.is_file():
        matrix = np.load(path)
    else:
        matrix = lm_item_vectors(texts, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, matrix)
        tmp.replace(path)
    return dict(zip(ids, matrix, strict=True))
