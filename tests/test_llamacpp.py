"""The llama.cpp backend runs the same model and adapter as the transformers backend.

Real parts throughout: a tiny random Llama (tests/fixtures/tiny_model.py) and a real peft
adapter are written as GGUF by the product's exporter and run by llama.cpp; the transformers
backend on the same files is the reference. The slow test does the same with the default model
and the shipped adapter on held-out parser messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.llm.backends import local_generator
from bot.llm.generation import TransformersGenerator
from bot.llm.gguf_export import export_gguf, permute_rope_rows
from bot.llm.llamacpp import LlamaCppGenerator
from bot.llm.model import ModelConfig, load_model
from finetune.train import DEFAULT_TARGET_MODULES

MESSAGES = [{"role": "user", "content": "Which candidate will the customer buy next?"}]
PROMPT = "Customer history (oldest first): purchases and reviews, rated 5/5. Answer:"
LABELS = [" A", " B", " C", " D"]


@pytest.fixture(autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # GGUF files go to the model cache: a fresh one per test module, never the user's
    monkeypatch.setenv("NEXTNEED_MODEL_DIR", str(tmp_path_factory.mktemp("model-cache")))


@pytest.fixture(scope="module")
def random_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A peft LoRA on every projection with random (non-zero) A and B, so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    cfg = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=list(DEFAULT_TARGET_MODULES),
        init_lora_weights=False,
    )
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.mul_(0.3)
    out = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(str(out))
    return out


def _edited_copy(adapter: Path, out: Path, **changes: Any) -> Path:
    """A copy of ``adapter`` with ``changes`` written into its adapter_config.json."""
    import shutil

    shutil.copytree(adapter, out)
    meta = json.loads((out / "adapter_config.json").read_text())
    meta.update(changes)
    (out / "adapter_config.json").write_text(json.dumps(meta))
    return out


def _cfg(model: Path, quantization: str, backend: str, adapter: Path | None = None) -> ModelConfig:
    return ModelConfig(
        str(model),
        quantization,  # type: ignore[arg-type]
        adapter=str(adapter) if adapter else None,
        backend=backend,  # type: ignore[arg-type]
        merge_adapter=False,
    )


def test_permute_rope_rows_interleaves_each_heads_halves() -> None:
    w = np.arange(8).reshape(8, 1)  # two heads of four rows: halves (0,1)(2,3) and (4,5)(6,7)
    assert permute_rope_rows(w, 2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


@pytest.mark.parametrize("quantization", ["fp32", "nf4"])
def test_same_model_as_transformers(
    tiny_model_dir: Path, random_adapter: Path, quantization: str
) -> None:
    """Scores agree to float16 precision, and every token llama.cpp picks greedily is the
    transformers model's best token at that position (up to a float16-sized tie)."""
    import torch

    loaded = load_model(_cfg(tiny_model_dir, quantization, "transformers", random_adapter))
    ref = TransformersGenerator(loaded)
    gen = local_generator(_cfg(tiny_model_dir, quantization, "llamacpp", random_adapter))
    assert isinstance(gen, LlamaCppGenerator)
    want = ref.score_choices(PROMPT, LABELS)
    got = gen.score_choices(PROMPT, LABELS)
    assert np.allclose(got, want, atol=0.1), (got, want)
    prompt = gen._chat_ids(MESSAGES, 16)
    picked = list(gen._greedy(prompt, 16))
    assert len(picked) >= 4
    with torch.inference_mode():
        logits = loaded.model(input_ids=torch.tensor([prompt + picked])).logits[0]
    logp = torch.log_softmax(logits.float(), dim=-1)[len(prompt) - 1 : -1]
    gaps = [float(row.max() - row[t]) for row, t in zip(logp, picked, strict=True)]
    # this random tiny model has large weights (init range 0.5): float16 storage moves its
    # log-probabilities by up to ~0.15, so a near-tie may go the other way
    assert max(gaps) < 0.3 and sum(g == 0.0 for g in gaps) >= 0.75 * len(gaps), gaps


def test_the_adapter_is_applied(tiny_model_dir: Path, random_adapter: Path) -> None:
    plain = local_generator(_cfg(tiny_model_dir, "fp32", "llamacpp"))
    adapted = local_generator(_cfg(tiny_model_dir, "fp32", "llamacpp", random_adapter))
    a, b = plain.score_choices(PROMPT, LABELS), adapted.score_choices(PROMPT, LABELS)
    assert not np.allclose(a, b, atol=0.05)


def test_stream_matches_generate_and_stops_cut(tiny_model_dir: Path) -> None:
    gen = local_generator(_cfg(tiny_model_dir, "fp32", "llamacpp"))
    full = gen.generate(MESSAGES, 20)
    assert "".join(gen.stream(MESSAGES, 20)) == full
    assert len(full) > 3
    stop = full[2:4]
    cut = full[: full.find(stop)]
    assert gen.generate(MESSAGES, 20, stop=[stop]) == cut
    assert "".join(gen.stream(MESSAGES, 20, stop=[stop])) == cut


def test_empty_prompt_is_a_clear_error(tiny_model_dir: Path) -> None:
    from bot.errors import GenerationError

    gen = local_generator(_cfg(tiny_model_dir, "fp32", "llamacpp"))
    with pytest.raises(GenerationError, match="empty"):
        gen.score_choices("", LABELS)
    assert gen.score_choices(PROMPT, LABELS)  # still serving


def test_prefix_reuse_gives_the_same_scores(tiny_model_dir: Path) -> None:
    gen = local_generator(_cfg(tiny_model_dir, "fp32", "llamacpp"))
    first = gen.score_choices(PROMPT, LABELS)
    gen.score_choices(PROMPT[:30] + " something else entirely.", LABELS)  # shares a prefix
    gen.generate(MESSAGES, 5)
    assert gen.score_choices(PROMPT, LABELS) == pytest.approx(first, abs=1e-4)


def test_files_are_cached_by_content(
    tiny_model_dir: Path, random_adapter: Path, tmp_path: Path
) -> None:
    cfg = _cfg(tiny_model_dir, "fp32", "llamacpp", random_adapter)
    files = export_gguf(cfg)
    stamp = files.base.stat().st_mtime_ns
    assert export_gguf(cfg) == files and files.base.stat().st_mtime_ns == stamp
    assert not list(files.base.parent.glob("*.tmp"))
    # a changed adapter is a different cache entry, never the old file
    other = _edited_copy(random_adapter, tmp_path / "adapter", lora_alpha=16)
    assert export_gguf(_cfg(tiny_model_dir, "fp32", "llamacpp", other)).adapter != files.adapter


def test_unsupported_adapter_is_refused_with_the_reason(
    tiny_model_dir: Path, random_adapter: Path, tmp_path: Path
) -> None:
    dora = _edited_copy(random_adapter, tmp_path / "dora", use_dora=True)
    with pytest.raises(ConfigError, match="use_dora"):
        export_gguf(_cfg(tiny_model_dir, "fp32", "llamacpp", dora))


def test_other_architectures_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    out = tmp_path / "gpt2"
    GPT2LMHeadModel(
        GPT2Config(vocab_size=len(tok), n_embd=64, n_layer=1, n_head=2)
    ).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    with pytest.raises(ConfigError, match="llama-architecture"):
        export_gguf(_cfg(out, "fp32", "llamacpp"))


def test_backend_config_is_checked_and_auto_is_settled() -> None:
    with pytest.raises(ConfigError, match="backend"):
        ModelConfig(backend="onnx")  # type: ignore[arg-type]
    assert ModelConfig().backend == "llamacpp"  # `make install` builds llama-cpp-python


def _fresh_cases(every: int) -> list[tuple[str, bool]]:
    import yaml

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "parser" / "fresh.yaml"
    rows: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(str(c["message"]), bool(c.get("shown"))) for c in rows[::every]]


@pytest.mark.slow
def test_default_model_reads_messages_as_transformers_does() -> None:
    """The default model (nf4) with the shipped adapter: llama.cpp and transformers give the
    same one-line reading of held-out messages."""
    from bot.tasks.prompts import parse_messages

    ref = local_generator(ModelConfig(backend="transformers"))
    gen = local_generator(ModelConfig(backend="llamacpp"))
    same = 0
    cases = _fresh_cases(3)  # 14 of the 40, every intent of the set among them
    for message, shown in cases:
        prompt = parse_messages(message, shown)
        same += gen.generate(prompt, 40, stop=["\n"]) == ref.generate(prompt, 40, stop=["\n"])
    assert same >= len(cases) - 1, f"{same}/{len(cases)} readings identical"
