"""How much the LLM ranker counts: the served order, and the weight recorded for an adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.chat.assistant import AssistantConfig, _with_rank_weight
from bot.errors import ConfigError
from bot.llm.model import ModelConfig
from bot.recsys.pipeline import PipelineConfig
from bot.recsys.rerank import (
    DEFAULT_MODEL_RANK_WEIGHT,
    RANKING_FILE,
    UNTUNED_RANK_WEIGHT,
    rank_weight_sweep,
    record_rank_weight,
    recorded_rank_weight,
    served_order,
    served_rank,
)


def test_served_order_weight_zero_keeps_the_stage_order() -> None:
    assert served_order([-9.0, -5.0, -0.1], 0.0) == [0, 1, 2]


def test_served_rank_and_the_weight_sweep() -> None:
    llm = [-9.0, -5.0, -0.1]  # the model prefers the third candidate
    assert served_rank(llm, 2, 0.0) == 3  # stage order
    assert served_rank(llm, 2, 4.0) == 1
    assert served_rank(None, 1, 4.0) == 2  # ranker skipped: the stage's position
    assert served_rank(llm, None, 1.0) is None  # the true item was not a candidate
    records = [(llm, 2), (None, 0), (llm, None)]
    by = rank_weight_sweep(records, lambda ranks: ranks, weights=(0.0, 4.0))
    assert by == {0.0: [3, 1, None], 4.0: [1, 1, None]}


def test_served_order_combines_prior_and_model() -> None:
    # prior: 0, -log 2, -log 3; with weight 1 the third (-0.1 - 1.10 = -1.20) beats the first
    # (-3.0) and the second (-2.0 - 0.69 = -2.69)
    assert served_order([-3.0, -2.0, -0.1], 1.0) == [2, 1, 0]
    # with weight 0.1: -0.30, -0.89, -1.11: the stage's order again
    assert served_order([-3.0, -2.0, -0.1], 0.1) == [0, 1, 2]


def test_served_order_ties_keep_the_stage_order() -> None:
    assert served_order([0.0, 0.0], 0.0) == [0, 1]


def _adapter(tmp_path: Path) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_record_and_read_back(tmp_path: Path) -> None:
    folder = _adapter(tmp_path)
    assert recorded_rank_weight(folder) is None
    path = record_rank_weight(folder, 0.25, {"tuned_on": "validation"})
    assert json.loads(path.read_text()) == {"rank_weight": 0.25, "tuned_on": "validation"}
    assert recorded_rank_weight(folder) == 0.25
    assert [p.name for p in folder.iterdir() if p.name.startswith(".ranking-")] == []


def test_record_refuses_a_folder_that_is_no_adapter(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="adapter_config.json"):
        record_rank_weight(tmp_path, 1.0, {})


@pytest.mark.parametrize(
    "text", ["not json", "{}", '{"rank_weight": "high"}', '{"rank_weight": -1}']
)
def test_a_broken_ranking_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    folder = _adapter(tmp_path)
    (folder / RANKING_FILE).write_text(text)
    with pytest.raises(ConfigError, match=RANKING_FILE):
        recorded_rank_weight(folder)


def test_the_assistant_takes_the_adapter_weight_unless_one_is_configured(tmp_path: Path) -> None:
    folder = _adapter(tmp_path)
    default_model = AssistantConfig(model=ModelConfig())
    assert _with_rank_weight(default_model).pipeline.rank_weight == DEFAULT_MODEL_RANK_WEIGHT
    other_model = AssistantConfig(model=ModelConfig(model="some/other-model"))
    assert _with_rank_weight(other_model).pipeline.rank_weight == UNTUNED_RANK_WEIGHT
    remote = AssistantConfig(llm_base_url="http://127.0.0.1:9/v1")
    assert _with_rank_weight(remote).pipeline.rank_weight == UNTUNED_RANK_WEIGHT
    with_adapter = AssistantConfig(model=ModelConfig(adapter=str(folder)))
    assert _with_rank_weight(with_adapter).pipeline.rank_weight == UNTUNED_RANK_WEIGHT
    record_rank_weight(folder, 0.1, {})
    assert _with_rank_weight(with_adapter).pipeline.rank_weight == 0.1
    explicit = AssistantConfig(
        model=ModelConfig(adapter=str(folder)), pipeline=PipelineConfig(rank_weight=2.0)
    )
    assert _with_rank_weight(explicit).pipeline.rank_weight == 2.0


@pytest.mark.parametrize("weight", [-0.5, 101, "1", True])
def test_pipeline_rank_weight_is_validated(weight: object) -> None:
    with pytest.raises(ConfigError, match="rank_weight"):
        PipelineConfig(rank_weight=weight)  # type: ignore[arg-type]
