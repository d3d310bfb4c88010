"""bot.llm.prefix_cache: reusing the key/values of the ranking prompt's prefixes, on the tiny model.

The promise: the same prompt and breaks give bit-identical scores whether the prefixes were
cached, evicted or never kept; a cached prefix is not computed again; the cache stays within
its byte budget.
"""

from __future__ import annotations

# The fixture is imported here until tests/conftest.py imports it; test arguments then shadow it.
# ruff: noqa: F811
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.llm.generation import TransformersGenerator
from bot.llm.model import ModelConfig, load_model
from bot.llm.prefix_cache import PrefixCache, token_cuts
from bot.tasks.prompts import CandidateLine, HistoryLine, RankingPrompt, ranking_prompt_parts
from tests.fixtures.tiny_model import tiny_model_dir  # noqa: F401

ALICE = [
    HistoryLine("Moisture shampoo for dry hair", 40),
    HistoryLine("Argan oil conditioner", 30, "review", 5.0, "Soft hair, lovely smell"),
    HistoryLine("Bamboo toothbrush", 1),
]
BOB = [HistoryLine("Coffee filters", 12), HistoryLine("Printer paper", 3)]
CAROL = [HistoryLine(f"Razor blades pack {i}", 50 - i) for i in range(6)]
TURN_1 = [CandidateLine(f"Item number {i}", price=1.5 + i) for i in range(12)]
TURN_2 = [CandidateLine(f"Other thing {i}", price=9.0 - i / 2) for i in range(7)]


@pytest.fixture(scope="module")
def gen(tiny_model_dir: Path) -> TransformersGenerator:
    return TransformersGenerator(
        load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=1))
    )


def _score(gen: TransformersGenerator, p: RankingPrompt) -> list[float]:
    return gen.score_choices(p.text, p.labels, breaks=p.breaks)


def _input_lengths(gen: TransformersGenerator, fn: Any) -> list[int]:
    seen: list[int] = []

    def hook(_module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        seen.append(int(kwargs["input_ids"].shape[1]))

    handle = gen.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        fn()
    finally:
        handle.remove()
    return seen


def test_cached_and_uncached_scores_are_identical(gen: TransformersGenerator) -> None:
    prompts = [
        ranking_prompt_parts(ALICE, TURN_1),
        ranking_prompt_parts(ALICE, TURN_2, need_hint="hair care refill"),
        ranking_prompt_parts(BOB, TURN_1),
        ranking_prompt_parts(ALICE, TURN_1),
    ]
    gen.prefix_cache = PrefixCache(0)  # nothing kept: every prompt computed in full
    uncached = [_score(gen, p) for p in prompts]
    assert len(gen.prefix_cache) == 0
    gen.prefix_cache = PrefixCache(64 * 2**20)
    cached = [_score(gen, p) for p in prompts]
    assert cached == uncached  # exact, not approximately
    stats = gen.prefix_cache.stats
    # Alice's 2nd and 4th turns hit her history; Bob's first turn hits the instruction text.
    assert stats.hits == 3 and len(gen.prefix_cache) == 3  # instruction, Alice, Bob
    # Scoring in chunks changes only rounding against one pass over the whole prompt.
    single = gen.score_choices(prompts[0].text, prompts[0].labels)
    assert single == pytest.approx(cached[0], abs=1e-4)
    assert cached[0] != cached[2]  # the history does reach the scores


def test_a_cached_prefix_is_not_computed_again(gen: TransformersGenerator) -> None:
    gen.prefix_cache = PrefixCache(64 * 2**20)
    first = ranking_prompt_parts(ALICE, TURN_1)
    second = ranking_prompt_parts(ALICE, TURN_2)
    enc = gen.tokenizer(second.text, add_special_tokens=False, return_offsets_mapping=True)
    n_total = len(enc["input_ids"])
    system_cut, history_cut = token_cuts(enc["offset_mapping"], second.breaks)
    # the cuts fall exactly on the breaks: no token spans two parts
    assert enc["offset_mapping"][history_cut - 1][1] == second.breaks[1]
    cold = _input_lengths(gen, lambda: _score(gen, first))
    warm = _input_lengths(gen, lambda: _score(gen, second))
    first_ids = gen.tokenizer(first.text, add_special_tokens=False)["input_ids"]
    assert len(cold) == 3 and cold[0] == system_cut and sum(cold) == len(first_ids)
    assert warm == [n_total - history_cut]  # only this turn's candidates and question


def test_the_cache_stays_within_its_budget(gen: TransformersGenerator) -> None:
    gen.prefix_cache = PrefixCache(64 * 2**20)
    _score(gen, ranking_prompt_parts(CAROL, TURN_1))
    one_user = max(size for _, size in gen.prefix_cache._entries.values())
    budget = one_user + one_user // 2  # room for about one and a half histories
    small = PrefixCache(budget)
    gen.prefix_cache = small
    users = [ALICE, BOB, CAROL, ALICE, BOB]
    kept = [_score(gen, ranking_prompt_parts(u, TURN_2)) for u in users]
    assert small.stats.bytes <= budget and small.stats.evictions >= 1
    assert small.stats.bytes == sum(size for _, size in small._entries.values())
    gen.prefix_cache = PrefixCache(0)
    assert kept == [_score(gen, ranking_prompt_parts(u, TURN_2)) for u in users]


def test_token_cuts() -> None:
    # tokens: "ab" "c\n" "de" "f" ; a break inside "c\n" leaves that token in the later chunk
    offsets = [(0, 2), (2, 4), (4, 6), (6, 7)]
    assert token_cuts(offsets, [4]) == [2]
    assert token_cuts(offsets, [3]) == [1]
    assert token_cuts(offsets, [6, 2, 2]) == [1, 3]
    assert token_cuts(offsets, [0, 7, 99]) == []  # never an empty chunk


def test_cache_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        PrefixCache(-1)
    with pytest.raises(ConfigError, match="ModelConfig.prefix_cache_mib"):
        ModelConfig(prefix_cache_mib=-5)
