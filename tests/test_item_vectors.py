"""LM item vectors: one centred unit vector per text, batching-independent, cached by text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.llm.item_vectors import cached_lm_item_vectors, lm_item_vectors
from bot.llm.model import ModelConfig

TEXTS = [
    "Moisture Shampoo, 300 ml. Brand: Pelle. Category: Hair Care",
    "Volume Conditioner. Brand: Pelle",
    "Dental Chews Dog Treats, 300 g. Brand: Barkwell. Category: Pets",
    "Burr Coffee Grinder",
]


def _config(tiny_model_dir: Path) -> ModelConfig:
    return ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter="none",
                       threads=1, warmup=False, prefix_cache_mib=0)  # fmt: skip


def test_vectors_are_centred_unit_rows_whatever_the_batch(tiny_model_dir: Path) -> None:
    cfg = _config(tiny_model_dir)
    one = lm_item_vectors(TEXTS, cfg, batch_size=1)
    four = lm_item_vectors(TEXTS, cfg, batch_size=4)  # padding must not change a vector
    assert one.shape[0] == len(TEXTS) and one.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(one, four, atol=1e-4)
    assert lm_item_vectors([], cfg).shape == (0, 0)


def test_cache_is_keyed_by_the_texts(tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_model_dir)
    ids = [f"i{n}" for n in range(len(TEXTS))]
    first = cached_lm_item_vectors(ids, TEXTS, tmp_path, cfg)
    files = list(tmp_path.glob("lm-item-vectors-*.npy"))
    assert len(files) == 1 and set(first) == set(ids)
    again = cached_lm_item_vectors(ids, TEXTS, tmp_path, cfg)
    np.testing.assert_array_equal(first["i2"], again["i2"])
    cached_lm_item_vectors(ids, [*TEXTS[:-1], "Paper Filters"], tmp_path, cfg)
    assert len(list(tmp_path.glob("lm-item-vectors-*.npy"))) == 2
