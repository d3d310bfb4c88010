"""The llama.cpp backend: the same model and adapter as the transformers backend, run by
llama.cpp (``llama-cpp-python``) on the CPU.

Chosen by ``ModelConfig.backend = "llamacpp"``. The weights come from
:func:`bot.llm.gguf_export.export_gguf` (for nf4: bitsandbytes' own dequantised 4-bit values,
so the adapter sees what it was trained against), the adapter is loaded by llama.cpp's LoRA
loader (``lora_path``). Text goes in and out through the model's Hugging Face tokenizer and chat
template, so prompts are token-for-token those of the transformers backend. Decoding is greedy
(argmax over the logits), like the transformers backend.

llama.cpp keeps the key/values of the last sequence it ran; each call reuses the longest
prefix it shares with that sequence (the instruction text of a task, a customer's history on
the next turn), and computes only the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, GenerationError
from bot.llm.generation import Messages, _StopCutter, check_length, single_token_ids
from bot.llm.model import ModelConfig, _adapter_note, _resolve, physical_cores

__all__ = ["LlamaCppGenerator"]

log = logging.getLogger(__name__)


def _eos_ids(where: str, tokenizer: Any) -> set[int]:
    ids = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    try:
        from transformers import GenerationConfig

        eos = GenerationConfig.from_pretrained(where).eos_token_id
    except Exception:  # no generation_config.json: the tokenizer's end token is all there is
        eos = None
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, list):
        ids.update(int(e) for e in eos)
    return ids


class LlamaCppGenerator:
    """A :class:`bot.llm.generation.Generator` on llama.cpp. One call at a time (a lock)."""

    def __init__(self, config: ModelConfig) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ConfigError(
                "ModelConfig.backend='llamacpp' needs llama-cpp-python: "
                "pip install -e '.[llamacpp]' (builds llama.cpp from source, ~6 min), or use "
                "backend='transformers'"
            ) from exc
        from transformers import AutoTokenizer

        from bot.llm.gguf_export import export_gguf

        self._llama_cpp = llama_cpp
        self.config = config
        where = _resolve(config)
        files = export_gguf(config)
        self.path = where
        self.files = files
        self.tokenizer = AutoTokenizer.from_pretrained(where)
        self.max_context_tokens = int(config.max_context_tokens)
        threads = config.threads or physical_cores()
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(files.base),
                lora_path=str(files.adapter) if files.adapter else None,
                n_ctx=self.max_context_tokens,
                n_batch=512,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=False,
                verbose=False,
            )
        except Exception as exc:
            raise GenerationError(
                f"llama.cpp could not load {files.base} (adapter {files.adapter}): {exc}. "
                f"Fix: delete {Path(files.base).parent} so it is written again."
            ) from exc
        self.n_vocab = int(self.llm.n_vocab())
        self.eos = _eos_ids(where, self.tokenizer)
        self.name = f"llamacpp:{where}"
        self._lock = threading.Lock()
        if config.warmup:
            self._run_prompt(self._encode("Which candidate will the customer buy next?"))
        log.info(
            "loaded %s (%s weights in llama.cpp, float16 storage) on cpu, %d threads%s",
            where,
            config.quantization,
            threads,
            _adapter_note(config.adapter),
        )

    # -- low level ------------------------------------------------------------------------
    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _check_length(self, n_prompt: int, n_new: int, what: str) -> None:
        check_length(n_prompt, n_new, self.max_context_tokens, self.path, what)

    def _run_prompt(self, ids: list[int]) -> None:
        """Bring the context to exactly ``ids``, reusing the prefix it already holds."""
        if not ids:
            raise GenerationError("the prompt is empty: nothing for the model to read")
        llm = self.llm
        held = llm.input_ids[: llm.n_tokens]
        same = 0
        for a, b in zip(held, ids, strict=False):
            if int(a) != b:
                break
            same += 1
        same = min(same, len(ids) - 1)  # always run at least one token: fresh logits
        llm.n_tokens = same  # eval() drops the key/values from here on
        llm.eval(ids[same:])

    def _logits(self) -> Any:
        import numpy as np

        ptr = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _greedy(self, ids: list[int], max_new_tokens: int) -> Iterator[int]:
        import numpy as np

        self._run_prompt(ids)
        for _ in range(max_new_tokens):
            token = int(np.argmax(self._logits()))
            if token in self.eos:
                return
            yield token
            self.llm.eval([token])

    def _chat_ids(self, messages: Messages, max_new_tokens: int) -> list[int]:
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        enc: Any = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True
        )
        ids = [int(t) for t in enc["input_ids"]]
        self._check_length(len(ids), max_new_tokens, "chat prompt")
        return ids

    # -- the Generator protocol -----------------------------------------------------------
    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        ids = self._chat_ids(messages, max_new_tokens)
        cutter = _StopCutter(stop)
        shown = ""
        out: list[int] = []
        with self._lock:
            try:
                for token in self._greedy(ids, max_new_tokens):
                    out.append(token)
                    text = self._decode(out)
                    if text.endswith("\ufffd"):
                        continue  # the middle of a multi-byte character
                    piece = cutter.feed(text[len(shown) :])
                    shown = text
                    if piece:
                        yield piece
                    if cutter.done:
                        return
            except Exception as exc:
                raise GenerationError(
                    f"generation with llama.cpp ({self.path}) failed: {exc}"
                ) from exc
        text = self._decode(out)
        tail = cutter.feed(text[len(shown) :]) + cutter.flush()
        if tail:
            yield tail

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        return "".join(self.stream(messages, max_new_tokens, stop))

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        """Log-probabilities of each single-token choice right after ``prompt``. ``breaks``
        need nothing here: the context's own prefix reuse finds the shared part."""
        import numpy as np

        ids = single_token_ids(self.tokenizer, choices, self.path)
        prompt_ids = self._encode(prompt)
        self._check_length(len(prompt_ids), 1, "scoring prompt")
        with self._lock:
            try:
                self._run_prompt(prompt_ids)
                logits = self._logits().astype(np.float64)
            except Exception as exc:
                raise GenerationError(
                    f"scoring with llama.cpp ({self.path}) failed: {exc}"
                ) from exc
        top = float(logits.max())
        logz = top + float(np.log(np.exp(logits - top).sum()))
        return [float(logits[i]) - logz for i in ids]
