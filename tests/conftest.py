"""Shared fixtures. The test session is offline and sends no analytics."""

from __future__ import annotations

import os

for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[_k] = _v

from tests.fixtures.chroma_server import chroma_server  # noqa: E402,F401
from tests.fixtures.stores import (  # noqa: E402,F401
    data_dir,
    hashing_embedder,
    small_store,
    tmp_store,
)
from tests.fixtures.tiny_model import tiny_model_dir  # noqa: E402,F401
