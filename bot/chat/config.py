"""The Assistant's settings: one typed object, loadable from a TOML/YAML file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.recsys.pipeline import PipelineConfig
from bot.tasks.need import NeedConfig
from knowledge.errors import ConfigError
from knowledge.store import StoreConfig

__all__ = ["AssistantConfig", "ServiceConfig", "PARSERS"]

PARSERS = ("auto", "rules", "embedding", "model")


@dataclass(frozen=True)
class ServiceConfig:
    """Shop details used in customer-service replies."""

    shop_name: str = "our shop"
    support_contact: str = "our support team via the Help page"
    signature: str = "The nextneed shop team"


@dataclass(frozen=True)
class AssistantConfig:
    """Everything an Assistant is built from."""

    store: StoreConfig = field(default_factory=StoreConfig)
    model: Any = None  # bot.llm.model.ModelConfig, or None for no language model
    llm_base_url: str | None = None  # an OpenAI-compatible server instead of in-process weights
    llm_model: str = "nextneed"
    llm_api_key: str | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    use_llm_ranker: bool = True
    # the model states the next need in words (bot.tasks.need): shown, and an extra semantic
    # query. None: only with a LoRA adapter (trained on the next_need task). Measured on the demo
    # shop, the base SmolLM2-135M just continued the history list instead of naming a need (4 of
    # 4 users), and the ~8 generated tokens cost ~1.5 s per turn in nf4 on 2 CPU cores.
    model_need: bool | None = None
    need: NeedConfig = field(default_factory=NeedConfig)
    llm_descriptions: bool = True
    describe_max_tokens: int = 32  # one sentence; generation stops at its end
    # how messages are read (bot.chat.parse): "rules" (wording rules + catalog lexicon),
    # "embedding" (rules, then the nearest labelled example by MiniLM where no rule decides),
    # "model" (rules, then the adapter's reading where no rule decides: bot.chat.parse_model) or
    # "auto": "model" when the loaded adapter is on for the parse task, else "rules"
    parser: str = "auto"
    max_message_chars: int = 2000
    max_history_turns: int = 40

    def __post_init__(self) -> None:
        if not 1 <= self.max_message_chars <= 100_000:
            raise ConfigError("AssistantConfig.max_message_chars must be within 1..100000")
        if not 2 <= self.max_history_turns <= 1000:
            raise ConfigError("AssistantConfig.max_history_turns must be within 2..1000")
        if self.parser not in PARSERS:
            raise ConfigError(
                f"AssistantConfig.parser must be one of {PARSERS}, got {self.parser!r}"
            )
        if not 0 <= self.describe_max_tokens <= 512:
            raise ConfigError("AssistantConfig.describe_max_tokens must be within 0..512")
