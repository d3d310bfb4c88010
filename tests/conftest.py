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

from hypothesis import HealthCheck, settings  # noqa: E402

# Property tests: a bounded profile by default (CI runs on 2 cores within a time limit);
# HYPOTHESIS_PROFILE=thorough explores more.
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from tests.fixtures.chroma_server import chroma_server  # noqa: E402,F401
from tests.fixtures.stores import (  # noqa: E402,F401
    data_dir,
    hashing_embedder,
    small_store,
    tmp_store,
)
from tests.fixtures.tiny_model import tiny_model_dir  # noqa: E402,F401
