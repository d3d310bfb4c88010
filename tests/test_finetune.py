"""finetune: leakage-free datasets, QLoRA/LoRA training with resume, PEFT format, merge, eval."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from finetune.dataset import (
    DatasetConfig,
    build_examples,
    corpus_from_sequences,
    prepare,
    read_jsonl,
)
from finetune.evaluate import EvalConfig, evaluate_ranking, rank_of_target
from finetune.merge import MergeConfig, merge_adapter
from finetune.train import TrainConfig, latest_checkpoint, load_examples, train
from knowledge.errors import ConfigError
from knowledge.schema import Event, Item

_WORDS = "amber basil cedar dune ember fern grove heath iris juniper kelp lotus moss".split()


def _items(n: int = 24) -> list[Item]:
    return [
        Item(
            f"i{k:02d}",
            f"{_WORDS[k % len(_WORDS)]} {k:02d} tonic",  # unique titles: leakage is visible
            "Brand" if k % 2 else "",
            ("Care", f"Kind{k % 4}"),
            None,
            f"A {_WORDS[k % len(_WORDS)]} tonic, batch {k}." if k % 3 == 0 else "",
        )
        for k in range(n)
    ]


def _corpus(n_users: int = 12, seed: int = 3) -> Any:
    rng = random.Random(seed)
    items = _items()
    events: dict[str, list[Event]] = {}
    for u in range(n_users):
        user = f"u{u:02d}"
        chosen = rng.sample(items[:20], rng.randint(4, 8))
        events[user] = [
            Event(
                user,
                it.item_id,
                "review" if k % 2 else "purchase",
                1_700_000_000 + 86_400 * k,
                k,
                rating=4.0 if k % 2 else None,
                text=f"Loved the {it.title}. Second sentence." if k % 2 else "",
            )
            for k, it in enumerate(chosen)
        ]
    # Items 20..23 are only ever some user's LAST (test) item: they must never surface in training.
    for k, user in enumerate(sorted(events)[:4]):
        events[user].append(Event(user, f"i{20 + k}", "purchase", 1_800_000_000, 99))
    corpus = corpus_from_sequences({}, items, source="synthetic")
    corpus.events = events
    corpus.sequences = {u: [e.item_id for e in evs] for u, evs in events.items()}
    return corpus


_CFG = DatasetConfig(n_candidates=5, max_history=4, seed=11)


def test_dataset_has_no_leakage() -> None:
    corpus = _corpus()
    examples = build_examples(corpus, _CFG)
    titles = {i.item_id: i.title for i in corpus.items.values()}
    assert {r["task"] for r in examples["train"]} == {
        "ranking",
        "next_need",
        "explanation",
        "description",
    }
    for row in examples["train"]:
        if row["task"] == "description":
            continue
        seq = corpus.sequences[row["user_id"]]
        held_out = seq[-2:]  # validation and test item
        pos = row["position"]
        assert pos < len(seq) - 2
        assert row["history_items"] == seq[:pos]
        assert row["target_item"] == seq[pos] and row["target_item"] not in held_out
        text = row.get("prompt") or json.dumps(row["messages"])
        history_part = text.split("Candidates:")[0] if row["task"] == "ranking" else text
        for item_id in held_out:
            if item_id not in seq[:pos]:
                assert titles[item_id] not in history_part
        if row["task"] == "ranking":
            assert row["candidates"][row["labels"].index(row["target"])] == seq[pos]
            # candidate models were fitted on training parts only
            assert not {"i20", "i21", "i22", "i23"} & set(row["candidates"])
    for row in examples["valid"]:
        seq = corpus.sequences[row["user_id"]]
        assert row["position"] == len(seq) - 2 and row["history_items"] == seq[:-2]
    test_rank = [r for r in examples["test"] if r["task"] == "ranking"]
    assert test_rank and not any(r["inserted"] for r in test_rank)


def test_dataset_is_deterministic(tmp_path: Path) -> None:
    a = prepare(_corpus(), tmp_path / "a", _CFG)
    b = prepare(_corpus(), tmp_path / "b", _CFG)
    assert a["sha256"] == b["sha256"]
    for split in ("train", "valid", "test"):
        assert (tmp_path / "a" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "b" / f"{split}.jsonl"
        ).read_bytes()
    assert a["counts"]["train"]["ranking"] == len(
        [r for r in read_jsonl(tmp_path / "a" / "train.jsonl") if r["task"] == "ranking"]
    )
    other = prepare(
        _corpus(), tmp_path / "c", DatasetConfig(n_candidates=5, max_history=4, seed=12)
    )
    assert other["sha256"]["train"] != a["sha256"]["train"]  # the seed moves inserted targets


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ft-data")
    prepare(_corpus(8), out, DatasetConfig(n_candidates=4, max_history=2, seed=0))
    return out


def _cfg(data: Path, out: Path, model: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "data_dir": str(data),
        "output_dir": str(out),
        "base_model": str(model),
        "quantization": "fp32",
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.1,
        "lr": 5e-3,
        "warmup_steps": 1,
        "batch_size": 2,
        "grad_accum": 2,
        "max_steps": 4,
        "eval_every": 2,
        "eval_examples": 6,
        "save_every": 2,
        "max_examples": 12,
        "max_length": 1024,
        "seed": 5,
    }
    base.update(kw)
    return TrainConfig(**base)


def test_found_only_keeps_the_prompts_the_stage_found(tiny_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_data, tmp_path / "run", tmp_path, max_examples=None)
    every = [r for r in load_examples(cfg, "train") if r["task"] == "ranking"]
    found = load_examples(replace(cfg, ranking_rows="found"), "train")
    found_rank = [r for r in found if r["task"] == "ranking"]
    assert any(r["inserted"] for r in every) and not any(r["inserted"] for r in found_rank)
    assert found_rank == [r for r in every if not r["inserted"]]  # same rows, same order
    assert [r for r in found if r["task"] != "ranking"] == [
        r for r in load_examples(cfg, "train") if r["task"] != "ranking"
    ]  # other tasks untouched


def test_training_decreases_loss(tiny_data: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = _cfg(tiny_data, tmp_path / "run", tiny_model_dir, max_steps=12, lr=2e-2, max_examples=4)
    result = train(cfg)
    m = result.metrics
    assert result.finished and m["steps"] == 12
    assert m["train_loss_last"] < m["train_loss_first"] - 0.1
    assert (tmp_path / "run" / "loss_curve.png").stat().st_size > 1000
    card = (tmp_path / "run" / "README.md").read_text()
    assert "library_name: peft" in card and "tokens_per_second" in card


def test_resume_matches_uninterrupted(
    tiny_data: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    full = train(_cfg(tiny_data, tmp_path / "full", tiny_model_dir))
    part = train(_cfg(tiny_data, tmp_path / "part", tiny_model_dir, stop_after=2))
    assert not part.finished and part.step == 2
    assert latest_checkpoint(tmp_path / "part") is not None
    assert not (tmp_path / "part" / "adapter_model.safetensors").exists()
    resumed = train(_cfg(tiny_data, tmp_path / "part", tiny_model_dir))
    assert resumed.finished and resumed.step == full.step == 4
    losses_full = [h["train_loss"] for h in full.history if "train_loss" in h]
    losses_resumed = [h["train_loss"] for h in resumed.history if "train_loss" in h]
    assert losses_resumed == pytest.approx(losses_full, rel=1e-4, abs=1e-5)
    a = load_file(str(tmp_path / "full" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "part" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.fixture(scope="module")
def trained_adapter(
    tiny_data: Path, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Path:
    out = tmp_path_factory.mktemp("adapter")
    train(_cfg(tiny_data, out, tiny_model_dir, max_steps=3, lr=5e-2, lora_dropout=0.0))
    return out


def _logits(model: Any, tokenizer: Any, text: str = "Which candidate will the customer") -> Any:
    import torch

    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(**enc).logits[0].float()


def test_adapter_is_peft_format(trained_adapter: Path, tiny_model_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = json.loads((trained_adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4
    assert set(cfg["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert (trained_adapter / "adapter_model.safetensors").is_file()
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    plain = _logits(base, tok)
    peft = PeftModel.from_pretrained(base, str(trained_adapter))
    assert not torch.allclose(_logits(peft, tok), plain, atol=1e-4)  # the adapter changes outputs


def test_merge_matches_adapter_logits(
    trained_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bot.llm.model import ModelConfig, load_model

    result = merge_adapter(MergeConfig(str(trained_adapter), str(tmp_path / "merged")))
    assert result.max_abs_diff < 1e-3 == result.atol
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    unmerged = _logits(PeftModel.from_pretrained(base, str(trained_adapter)), tok)
    merged = load_model(ModelConfig(str(tmp_path / "merged"), "fp32"))
    assert not any("lora" in k for k in merged.model.state_dict())
    assert torch.allclose(_logits(merged.model, merged.tokenizer), unmerged, atol=1e-3)
    # the bot folds an adapter into full-precision weights at load time: same outputs
    served = load_model(ModelConfig(str(tiny_model_dir), "fp32", adapter=str(trained_adapter)))
    assert not any("lora" in k for k in served.model.state_dict())
    assert torch.allclose(_logits(served.model, served.tokenizer), unmerged, atol=1e-3)


def test_nf4_qlora_step(tiny_data: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    from bitsandbytes.nn import Linear4bit

    from bot.llm.model import ModelConfig, load_model

    result = train(_cfg(tiny_data, tmp_path / "q", tiny_model_dir, quantization="nf4", max_steps=2))
    assert result.finished and all(h["train_loss"] > 0 for h in result.history if "train_loss" in h)
    loaded = load_model(ModelConfig(str(tiny_model_dir), "nf4", adapter=str(tmp_path / "q")))
    assert any(isinstance(m, Linear4bit) for m in loaded.model.modules())
    assert any("lora" in k for k in loaded.model.state_dict())  # kept apart from 4-bit weights


def test_nf4_gradients_survive_a_validation_pass(tiny_model_dir: Path) -> None:
    """bitsandbytes repacks 4-bit weights for a CPU inference kernel without autograd the first
    time a layer runs in eval mode; training after validation must still get full gradients."""
    import torch

    from finetune.train import build_model

    cfg = TrainConfig(data_dir="d", base_model=str(tiny_model_dir), lora_dropout=0.0)
    model, _tok, _path = build_model(cfg)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(1))
    ids = torch.arange(5, 69).reshape(2, 32)

    def grads() -> dict[str, Any]:
        model.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    before = grads()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    model.train()
    after = grads()
    assert before.keys() == after.keys() and len(before) > 0
    for name in before:
        assert torch.allclose(before[name], after[name], rtol=1e-3, atol=1e-6), name


class _FirstIsBest:
    """A tiny real scorer: prefers earlier labels, i.e. keeps the candidate stage's order."""

    def score_choices(self, prompt: str, choices: list[str]) -> list[float]:
        return [-float(i) for i in range(len(choices))]


def test_evaluate_full_ranking_semantics(tiny_data: Path) -> None:
    assert rank_of_target([0.1, 0.9, 0.5], 2) == 2
    assert rank_of_target([0.5, 0.5], 1) == 2  # ties keep the candidate order
    assert rank_of_target([0.5, 0.5], None) is None
    report = evaluate_ranking(EvalConfig(str(tiny_data), ks=(1, 4)), generator=_FirstIsBest())
    rows = [r for r in read_jsonl(tiny_data / "test.jsonl") if r["task"] == "ranking"]
    ranks = [r["labels"].index(r["target"]) + 1 if r["target"] else None for r in rows]
    assert report["examples"] == len(rows)
    assert report["model"] == report["candidate_stage"] == report["model_with_prior"]
    assert report["scored"] == sum(k is not None for k in ranks)  # misses are never scored
    hr4 = sum(1 for k in ranks if k is not None and k <= 4) / len(rows)
    assert report["model"]["hr@4"] == pytest.approx(hr4)
    # the served sweep: every weight keeps the stage's order with this scorer
    assert set(report["rank_weight_sweep"]) == {"0.0", "0.1", "0.25", "0.5", "1.0", "2.0", "4.0"}
    assert all(m == report["candidate_stage"] for m in report["rank_weight_sweep"].values())


class _LastIsBest:
    """Prefers the last label: reverses the stage's order once its weight is large enough."""

    def score_choices(self, prompt: str, choices: list[str]) -> list[float]:
        return [10.0 * i for i in range(len(choices))]


def test_evaluate_records_the_best_rank_weight_in_the_adapter(
    tiny_data: Path, tmp_path: Path
) -> None:
    from bot.recsys.rerank import recorded_rank_weight

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    cfg = EvalConfig(
        str(tiny_data), adapter=str(adapter), split="valid", ks=(1, 4), record_rank_weight=True
    )
    report = evaluate_ranking(cfg, generator=_LastIsBest())
    sweep = report["rank_weight_sweep"]
    best = max(sweep, key=lambda w: (sweep[w]["ndcg@4"], -float(w)))
    assert report["recorded_rank_weight"] == float(best)
    assert recorded_rank_weight(adapter) == float(best)


def _bad(value: str) -> Any:
    """A value of the wrong type or choice, without telling the type checker."""
    return value


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: TrainConfig(data_dir="d", lora_r=0), "TrainConfig.lora_r"),
        (lambda: TrainConfig(data_dir="d", lr=0.0), "TrainConfig.lr"),
        (lambda: TrainConfig(data_dir="d", quantization="int3"), "TrainConfig.quantization"),
        (lambda: TrainConfig(data_dir="d", tasks=("poetry",)), "TrainConfig.tasks"),
        (lambda: TrainConfig(data_dir="d", max_length=8), "TrainConfig.max_length"),
        (lambda: TrainConfig(data_dir="d", ranking_rows=_bad("some")), "TrainConfig.ranking_rows"),
        (lambda: DatasetConfig(n_candidates=99), "DatasetConfig.n_candidates"),
        (lambda: DatasetConfig(tasks=("x",)), "DatasetConfig.tasks"),
        (lambda: MergeConfig("a", "b", dtype="nf4"), "MergeConfig.dtype"),  # type: ignore[arg-type]
        (lambda: EvalConfig("d", ks=(0,)), "EvalConfig.ks"),
        (lambda: EvalConfig("d", record_rank_weight=True), "EvalConfig.record_rank_weight"),
        (
            lambda: EvalConfig("d", adapter="a", split="test", record_rank_weight=True),
            "EvalConfig.record_rank_weight",
        ),
    ],
)
def test_config_errors_name_the_field(make: Any, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        make()


def test_train_without_prepared_data_says_what_to_do(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="finetune prepare"):
        train(_cfg(tmp_path / "missing", tmp_path / "out", tiny_model_dir))


# -- writing tasks (fact_sentence, review_reply) ------------------------------------------------
def _shop_corpus() -> Any:
    """A small shop like the demo: items with line/type attributes, reviews of every kind."""
    kinds = [("Moisture", "shampoo", "Hair Care"), ("Chicken", "dog food", "Pet Food")]
    items = []
    for k in range(20):
        line, kind, cat = kinds[k % 2]
        brand = ["Aqualis", "Meadow Pet"][k % 2]
        size = ["300 ml", "2 kg"][k % 2]
        items.append(
            Item(
                f"w{k:02d}",
                f"{brand} {line} {kind.title()} {k}, {size}",
                brand,
                (cat, kind.title()),
                5.0 + k,
                f"{line} {kind} from {brand}. Good stuff. Size: {size}. Lasts about 30 days.",
                {"line": line, "type": kind.replace(" ", ""), "replenish_days": 30},
            )
        )
    texts = [
        ("Really happy with this. Works well for my dry hair.", 5.0),
        ("It arrived a few days late. Fine for the price.", 3.0),
        ("The bottle leaks. Not worth it.", 1.0),
    ]
    events: dict[str, list[Event]] = {}
    for u in range(6):
        user = f"s{u}"
        events[user] = [
            Event(
                user,
                items[(u + j) % 20].item_id,
                "review",
                1_700_000_000 + j,
                j,
                rating=texts[j % 3][1],
                text=texts[j % 3][0],
            )  # fmt: skip
            for j in range(6)
        ]
    corpus = corpus_from_sequences({}, items, source="shop")
    corpus.events = events
    corpus.sequences = {u: [e.item_id for e in evs] for u, evs in events.items()}
    return corpus


_WRITE_CFG = DatasetConfig(tasks=("fact_sentence", "review_reply"), writing_test_fraction=0.3)


def test_writing_targets_are_faithful_and_items_held_out() -> None:
    from bot.tasks.describe import grounded_sentences
    from bot.tasks.review_reply import reply_checks
    from finetune.dataset import writing_split

    ex = build_examples(_shop_corpus(), _WRITE_CFG)
    tasks = {r["task"] for rows in ex.values() for r in rows}
    assert tasks == {"fact_sentence", "review_reply"}
    for split, rows in ex.items():
        for r in rows:
            assert writing_split(r["item_id"], _WRITE_CFG) == split  # an item in one split only
            if r["task"] == "fact_sentence":
                assert list(grounded_sentences(r["target"], r["facts"])) == [r["target"]]
                assert r["messages"][-1]["content"].startswith("Facts:")
            else:
                title = r["messages"][1]["content"].split("\n")[0].removeprefix("Item: ")
                checks = reply_checks(r["target"], r["review"], r["rating"], title, r["kind"])
                assert all(checks.values()), (r["target"], checks)
    train_items = {r["item_id"] for r in ex["train"]}
    assert train_items and not train_items & {r["item_id"] for r in ex["test"]}
    safety = [r for r in ex["train"] if r.get("kind") == "safety"]
    assert safety and all("safety team" in r["target"] for r in safety)


def test_writing_manifest_counts_and_seed(tmp_path: Path) -> None:
    m = prepare(_shop_corpus(), tmp_path / "w", _WRITE_CFG)
    rows = read_jsonl(tmp_path / "w" / "train.jsonl")
    assert m["counts"]["train"]["review_reply"] == sum(r["task"] == "review_reply" for r in rows)
    assert m["seed"] == 0 and len(m["sha256"]["train"]) == 64
    again = prepare(_shop_corpus(), tmp_path / "w2", _WRITE_CFG)
    assert again["sha256"] == m["sha256"]


@pytest.fixture(scope="module")
def writer_adapter(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    data = tmp_path_factory.mktemp("writer-data")
    prepare(_shop_corpus(), data, _WRITE_CFG)
    out = tmp_path_factory.mktemp("writer")
    cfg = _cfg(data, out, tiny_model_dir, max_steps=10, lr=2e-2, max_examples=4,
               tasks=("fact_sentence", "review_reply"))  # fmt: skip
    result = train(cfg)
    assert (
        result.finished and result.metrics["train_loss_last"] < result.metrics["train_loss_first"]
    )
    return out


def test_writer_adapter_records_base_and_prompts(
    writer_adapter: Path, tiny_model_dir: Path
) -> None:
    from bot.llm.model import ModelConfig, load_model
    from bot.tasks.adapter import adapter_tasks, prompt_fingerprint, serves

    meta = json.loads((writer_adapter / "nextneed_adapter.json").read_text())
    assert meta["base"]["name"] == tiny_model_dir.name
    assert meta["prompts"] == {
        "fact_sentence": prompt_fingerprint("fact_sentence"),
        "review_reply": prompt_fingerprint("review_reply"),
    }
    assert adapter_tasks(writer_adapter) == ("fact_sentence", "review_reply")
    assert serves(writer_adapter, "fact_sentence") and not serves(writer_adapter, "next_need")
    loaded = load_model(
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(writer_adapter))
    )
    assert loaded.model is not None


def test_adapter_for_another_base_or_prompt_is_refused(
    writer_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from bot.llm.model import ModelConfig, load_model
    from bot.tasks.adapter import adapter_tasks

    bad = tmp_path / "bad"
    shutil.copytree(writer_adapter, bad)
    meta = json.loads((bad / "nextneed_adapter.json").read_text())
    meta["base"]["hidden_size"] = 4096
    (bad / "nextneed_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="another base model.*hidden_size"):
        load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(bad)))
    meta["prompts"]["review_reply"] = "0123456789abcdef"
    (bad / "nextneed_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="another version of the 'review_reply' prompt"):
        adapter_tasks(bad)


def test_shipped_copy_is_half_size_and_on_only_where_it_wins(
    writer_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from bot.llm.model import ModelConfig, load_model
    from bot.recsys.rerank import recorded_rank_weight
    from bot.tasks.adapter import adapter_tasks, serves
    from finetune.ship import ship

    dest = ship(writer_adapter, tmp_path / "shipped", ("fact_sentence",))
    weights = load_file(str(dest / "adapter_model.safetensors"))
    assert {v.dtype for v in weights.values()} == {torch.float16}
    assert adapter_tasks(dest) == ("fact_sentence",)
    assert serves(dest, "fact_sentence") and not serves(dest, "review_reply")
    assert recorded_rank_weight(dest) == 0.0  # loading it never turns the ranker on
    loaded = load_model(
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(dest))
    )
    assert loaded.config.adapter == str(dest)
    with pytest.raises(ConfigError, match="were not trained"):
        ship(writer_adapter, tmp_path / "x", ("next_need",))


def test_default_adapter_only_for_the_default_model(tiny_model_dir: Path) -> None:
    from bot.llm.model import SHIPPED_ADAPTER, ModelConfig

    assert ModelConfig(model=str(tiny_model_dir)).adapter is None
    assert ModelConfig(adapter="none").adapter is None
    shipped = (SHIPPED_ADAPTER / "adapter_config.json").is_file()
    assert ModelConfig().adapter == (str(SHIPPED_ADAPTER) if shipped else None)


def test_the_shipped_adapter_is_on_for_reading_and_descriptions_only() -> None:
    from bot.llm.model import SHIPPED_ADAPTER
    from bot.recsys.rerank import recorded_rank_weight
    from bot.tasks.adapter import adapter_tasks, serves

    if not (SHIPPED_ADAPTER / "adapter_config.json").is_file():
        pytest.skip("no adapter shipped")
    # the measured win (benchmarks/results/model-tasks.md); prompts checked against today's
    assert adapter_tasks(SHIPPED_ADAPTER) == ("parse", "fact_sentence")
    assert not serves(SHIPPED_ADAPTER, "review_reply") and not serves(SHIPPED_ADAPTER, "next_need")
    assert recorded_rank_weight(SHIPPED_ADAPTER) == 0.0  # the LLM ranker stays off


@pytest.mark.slow
def test_shipped_adapter_loads_on_the_default_model() -> None:
    from bot.llm.model import SHIPPED_ADAPTER, ModelConfig, load_model
    from bot.tasks.adapter import adapter_tasks

    if not (SHIPPED_ADAPTER / "adapter_config.json").is_file():
        pytest.skip("no adapter shipped (see docs/finetune.md)")
    on = adapter_tasks(SHIPPED_ADAPTER)
    assert on  # the tasks it is on for were checked against today's prompts
    loaded = load_model(ModelConfig(quantization="fp32"))
    assert loaded.config.adapter == str(SHIPPED_ADAPTER)


def test_parse_task_trains_ships_and_turns_the_model_parser_on(
    tmp_path: Path, tiny_model_dir: Path, small_store: Any
) -> None:
    """prepare (parse grammar) -> train a tiny adapter -> ship it on for parse -> an Assistant
    with the default parser setting reads unrouted messages with it."""
    from bot import Assistant, AssistantConfig
    from bot.llm.generation import TransformersGenerator
    from bot.llm.model import ModelConfig, load_model
    from bot.tasks.adapter import prompt_fingerprint, serves
    from finetune.ship import ship

    data = tmp_path / "data"
    manifest = prepare(_shop_corpus(), data, DatasetConfig(tasks=("parse",), parse_examples=24))
    assert manifest["counts"]["train"]["parse"] + manifest["counts"]["valid"].get("parse", 0) == 24
    out = tmp_path / "run"
    result = train(_cfg(data, out, tiny_model_dir, max_steps=3, tasks=("parse",)))
    assert result.finished
    meta = json.loads((out / "nextneed_adapter.json").read_text())
    assert meta["prompts"] == {"parse": prompt_fingerprint("parse")}
    shipped = ship(out, tmp_path / "shipped", ("parse",))
    assert serves(shipped, "parse") and not serves(shipped, "fact_sentence")
    model = ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(shipped))
    generator = TransformersGenerator(load_model(model))
    assistant = Assistant(small_store, AssistantConfig(model=model), generator=generator)
    assert assistant.parser.name == "model"
    reply = assistant.chat("u1", "hmm")  # no rule decides: the tiny model reads it, grounded
    assert reply.text
