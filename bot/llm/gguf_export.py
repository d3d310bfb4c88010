"""Writing the loaded model and its LoRA adapter as GGUF files for the llama.cpp backend.

The base file holds the weights exactly as the transformers backend computes with them: for
nf4, every quantized matrix is bitsandbytes' own dequantisation of its 4-bit blocks (the values
the shipped adapter was trained against with QLoRA), stored as float16; norms stay float32. The
adapter file holds the same LoRA matrices as the peft adapter (llama.cpp's ``lora_a``/``lora_b``
layout, scaled by ``alpha / r`` at load), so llama.cpp runs the same model plus the same adapter.

Only the llama architecture is written (SmolLM2, Llama, and models that share its layout).
Tokenisation stays with the Hugging Face tokenizer at serving time; the vocabulary is written
only because a GGUF file must carry one.

Files are cached by keys over the model's files and quantisation (the base) and over the
adapter's files (the adapter), written to a temporary name and renamed, so a crash never leaves
half a file behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.llm.model import ModelConfig, load_model

__all__ = ["GGUFFiles", "export_gguf", "gguf_cache_root", "permute_rope_rows"]

log = logging.getLogger(__name__)

# Bumped when what is written changes, so files written by an older exporter are not reused.
EXPORT_VERSION = 1

_HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


@dataclass(frozen=True)
class GGUFFiles:
    """The base model file and, if an adapter is configured, the LoRA adapter file."""

    base: Path
    adapter: Path | None


def gguf_cache_root() -> Path:
    """``$NEXTNEED_MODEL_DIR`` (or ``~/.cache/nextneed/models``) / gguf."""
    from knowledge.settings import model_cache_root

    return model_cache_root() / "gguf"


def permute_rope_rows(w: Any, n_head: int) -> Any:
    """Reorder the output rows of a query or key projection from Hugging Face's rotary layout
    (the two halves of each head rotated together) to llama.cpp's (interleaved pairs)."""
    rows = w.shape[0]
    head = rows // n_head
    return w.reshape(n_head, 2, head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _file_digest(path: Path, h: Any) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)


def _model_key(where: str, config: ModelConfig) -> str:
    h = hashlib.sha256(f"v{EXPORT_VERSION}|{config.quantization}|".encode())
    root = Path(where)
    if root.is_dir():
        for name in sorted(p.name for p in root.iterdir() if p.is_file()):
            if name.endswith((".safetensors", ".json", ".bin", ".model")):
                h.update(name.encode())
                _file_digest(root / name, h)
    else:  # a hub id: its name is all that identifies it here
        h.update(where.encode())
    return h.hexdigest()[:16]


def _adapter_key(adapter: str) -> str:
    h = hashlib.sha256(f"v{EXPORT_VERSION}|".encode())
    folder = Path(adapter).expanduser()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        if (folder / name).is_file():
            _file_digest(folder / name, h)
    return h.hexdigest()[:16]


def _weight(linear: Any) -> Any:
    """A linear layer's weight as float32 numpy, dequantised if bitsandbytes packed it."""
    w = linear.weight
    if type(w).__name__ == "Params4bit":
        import bitsandbytes.functional as bnbf

        return bnbf.dequantize_4bit(w.data, w.quant_state).float().cpu().numpy()
    return w.detach().float().cpu().numpy()


def _module(root: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def _tensors(model: Any, cfg: Any) -> Iterator[tuple[str, Any]]:
    """(GGUF name, numpy array) for every weight of a llama-layout model."""
    import numpy as np

    inner = model.model
    yield "token_embd.weight", inner.embed_tokens.weight.detach().float().cpu().numpy()
    yield "output_norm.weight", inner.norm.weight.detach().float().cpu().numpy()
    if not getattr(cfg, "tie_word_embeddings", False):
        yield "output.weight", _weight(model.lm_head)
    n_head = int(cfg.num_attention_heads)
    n_kv = int(getattr(cfg, "num_key_value_heads", None) or n_head)
    for i, layer in enumerate(inner.layers):
        yield f"blk.{i}.attn_norm.weight", layer.input_layernorm.weight.detach().float().numpy()
        yield (
            f"blk.{i}.ffn_norm.weight",
            layer.post_attention_layernorm.weight.detach().float().numpy(),
        )
        for hf, gg in _HF_TO_GGUF.items():
            w = _weight(_module(layer, hf))
            if gg == "attn_q":
                w = permute_rope_rows(w, n_head)
            elif gg == "attn_k":
                w = permute_rope_rows(w, n_kv)
            yield f"blk.{i}.{gg}.weight", np.ascontiguousarray(w)


def _check_llama(cfg: Any, where: str) -> None:
    if getattr(cfg, "model_type", None) != "llama":
        raise ConfigError(
            f"the llama.cpp backend writes llama-architecture models only; {where} is "
            f"{getattr(cfg, 'model_type', 'unknown')!r}. Use ModelConfig.backend='transformers'."
        )
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    scaled = rope.get("rope_type", rope.get("type", "default")) != "default"
    if scaled or getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        raise ConfigError(
            f"{where} uses rope scaling or attention biases, which this exporter does not "
            "write. Use ModelConfig.backend='transformers'."
        )


def _add_vocab(writer: Any, tokenizer: Any) -> None:
    """The tokenizer's byte-level BPE vocabulary (tokens by id, control tokens marked, merges)."""
    import gguf

    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    for token, idx in vocab.items():
        tokens[idx] = token
    special = set(getattr(tokenizer, "all_special_ids", []))
    added = {int(i) for i in getattr(tokenizer, "added_tokens_decoder", {})}
    types = [
        int(gguf.TokenType.CONTROL if i in special or i in added else gguf.TokenType.NORMAL)
        for i in range(size)
    ]
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    merges = [m if isinstance(m, str) else " ".join(m) for m in backend["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, value in (
        (writer.add_bos_token_id, tokenizer.bos_token_id),
        (writer.add_eos_token_id, tokenizer.eos_token_id),
        (writer.add_pad_token_id, tokenizer.pad_token_id),
    ):
        if value is not None:
            setter(int(value))


def _write_base(loaded: Any, out: Path) -> None:
    import gguf
    import numpy as np

    model, cfg = loaded.model, loaded.model.config
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(Path(loaded.path).name)
    head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    writer.add_context_length(int(cfg.max_position_embeddings))
    writer.add_embedding_length(int(cfg.hidden_size))
    writer.add_block_count(int(cfg.num_hidden_layers))
    writer.add_feed_forward_length(int(cfg.intermediate_size))
    writer.add_head_count(int(cfg.num_attention_heads))
    writer.add_head_count_kv(
        int(getattr(cfg, "num_key_value_heads", None) or 0) or int(cfg.num_attention_heads)
    )
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    theta = getattr(cfg, "rope_theta", None)
    if theta is None:
        theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    writer.add_rope_freq_base(float(theta))
    writer.add_vocab_size(int(cfg.vocab_size))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _add_vocab(writer, loaded.tokenizer)
    for name, arr in _tensors(model, cfg):
        arr = arr.astype(np.float32 if arr.ndim == 1 else np.float16)
        writer.add_tensor(name, arr)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _lora_name(key: str) -> tuple[str, str] | None:
    """``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`` ->
    (``blk.3.attn_q.weight``, ``a``)."""
    parts = key.split(".")
    if "layers" not in parts or parts[-1] != "weight" or parts[-2] not in ("lora_A", "lora_B"):
        return None
    i = parts.index("layers")
    module = ".".join(parts[i + 2 : -2])
    gg = _HF_TO_GGUF.get(module)
    if gg is None:
        return None
    return f"blk.{parts[i + 1]}.{gg}.weight", parts[-2][-1].lower()


def _write_adapter(adapter: Path, cfg: Any, out: Path) -> None:
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    acfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    unsupported = [k for k in ("use_dora", "use_rslora") if acfg.get(k)]
    if acfg.get("modules_to_save") or acfg.get("rank_pattern") or acfg.get("alpha_pattern"):
        unsupported.append("modules_to_save/rank_pattern/alpha_pattern")
    if unsupported:
        raise ConfigError(
            f"adapter {adapter} uses {', '.join(unsupported)}, which llama.cpp's LoRA loader "
            "does not apply. Use ModelConfig.backend='transformers'."
        )
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    n_head = int(cfg.num_attention_heads)
    n_kv = int(getattr(cfg, "num_key_value_heads", None) or n_head)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(acfg["lora_alpha"]))
    written = 0
    for key in sorted(weights):
        named = _lora_name(key)
        if named is None:
            raise ConfigError(
                f"adapter {adapter} has a tensor {key!r} the llama.cpp exporter cannot place "
                "(only the attention and MLP projections are). Use backend='transformers'."
            )
        base, side = named
        arr = weights[key].astype(np.float32)
        if side == "b" and ".attn_q." in base:
            arr = permute_rope_rows(arr, n_head)
        elif side == "b" and ".attn_k." in base:
            arr = permute_rope_rows(arr, n_kv)
        writer.add_tensor(f"{base}.lora_{side}", np.ascontiguousarray(arr))
        written += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.info("wrote %d LoRA tensors of %s into %s", written, adapter, out)


def export_gguf(config: ModelConfig) -> GGUFFiles:
    """The GGUF files for ``config`` (written once, then taken from the cache)."""
    try:
        import gguf  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the llama.cpp backend needs the gguf package (a nextneed dependency): pip install gguf"
        ) from exc
    from bot.llm.model import _attach_adapter, _check_adapter_base, _resolve

    where = _resolve(config)
    folder = (
        gguf_cache_root() / f"{Path(where).name}-{config.quantization}-{_model_key(where, config)}"
    )
    base = folder / "model.gguf"
    # one base file per model; one adapter file per adapter content beside it
    lora = folder / f"adapter-{_adapter_key(config.adapter)}.gguf" if config.adapter else None
    if base.is_file() and (lora is None or lora.is_file()):
        return GGUFFiles(base, lora)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be writing them right now
        if base.is_file() and (lora is None or lora.is_file()):
            return GGUFFiles(base, lora)
        log.info("writing the model as GGUF for llama.cpp into %s (once)", folder)
        loaded = load_model(replace(config, adapter=None, warmup=False))
        _check_llama(loaded.model.config, where)
        if not base.is_file():
            tmp = base.with_suffix(".tmp")
            _write_base(loaded, tmp)
            os.replace(tmp, base)
        if lora is not None and not lora.is_file():
            adapter = str(config.adapter)
            # the transformers backend's own checks, so a wrong or broken adapter fails with the
            # same error on both backends (after the base is written: peft wraps its layers)
            _check_adapter_base(adapter, loaded.model, where)
            _attach_adapter(loaded.model, adapter)
            tmp = lora.with_suffix(".tmp")
            _write_adapter(Path(adapter).expanduser(), loaded.model.config, tmp)
            os.replace(tmp, lora)
    return GGUFFiles(base, lora)
