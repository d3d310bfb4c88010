"""Choosing the in-process generation backend from a :class:`bot.llm.model.ModelConfig`."""

from __future__ import annotations

from bot.llm.generation import Generator, TransformersGenerator
from bot.llm.model import ModelConfig, load_model

__all__ = ["local_generator"]


def local_generator(config: ModelConfig) -> Generator:
    """The generator ``config`` asks for: llama.cpp (``backend="llamacpp"``, the default where
    llama-cpp-python is installed) or transformers."""
    if config.backend == "llamacpp":
        from bot.llm.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(config)
    return TransformersGenerator(load_model(config))
