"""Generation backends behind one small Protocol: in-process transformers, or any
OpenAI-compatible HTTP server (vLLM with the LoRA adapter, llama.cpp, nextneed's own /v1).

Both are greedy, so the same prompt gives the same text, and both score labelled choices from
one next-token distribution (what the one-pass ranker and the intent router need). The
in-process backend keeps the key/values of marked prompt prefixes (``breaks``) in a bounded
LRU (:mod:`bot.llm.prefix_cache`), so a prefix shared by many requests is computed once.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.errors import ConfigError, GenerationError, ScoringUnsupportedError
from bot.llm.memory import FreedMemory
from bot.llm.prefix_cache import PrefixCache, prefill, token_cuts

if TYPE_CHECKING:
    from bot.llm.model import LoadedModel

__all__ = [
    "Generator",
    "TransformersGenerator",
    "OpenAIHTTPGenerator",
    "GenerationError",
    "ScoringUnsupportedError",
]

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


@runtime_checkable
class Generator(Protocol):
    """Greedy (deterministic) text generation and one-pass scoring of labelled choices."""

    name: str

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        """The assistant's reply to ``messages``, cut before the first ``stop`` string."""
        ...

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        """The same reply as :meth:`generate`, in text chunks as they are produced."""
        ...

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        """Log-probability of each single-token choice as the next token after ``prompt``.

        ``breaks`` are character offsets in ``prompt`` where a prefix that other requests
        share ends; a backend may keep those prefixes' key/values. Scores depend only on the
        prompt and the breaks, never on which prefixes happened to be kept."""
        ...


def check_length(n_prompt: int, n_new: int, limit: int, path: str, what: str) -> None:
    """A GenerationError when a prompt plus the new tokens would not fit ``limit``."""
    if n_prompt + n_new > limit:
        raise GenerationError(
            f"the {what} is {n_prompt} tokens; with {n_new} new tokens that exceeds "
            f"max_context_tokens={limit} of {path}. Shorten the input or raise "
            "ModelConfig.max_context_tokens."
        )


def single_token_ids(tokenizer: Any, choices: list[str], path: str) -> list[int]:
    """The token id of each choice for ``tokenizer``; every choice must be exactly one token."""
    if not choices:
        raise ConfigError("score_choices needs at least one choice")
    ids = []
    for c in choices:
        toks = tokenizer.encode(c, add_special_tokens=False)
        if len(toks) != 1:
            raise GenerationError(
                f"choice {c!r} is {len(toks)} tokens for the tokenizer of {path}; "
                "one-pass scoring needs single-token labels (see bot.tasks.prompts.LABELS)"
            )
        ids.append(int(toks[0]))
    return ids


class _StopCutter:
    """Cuts streamed text before the first stop string. The last ``len(longest stop) - 1``
    characters are held back, since they may be the start of a stop split across chunks."""

    def __init__(self, stop: list[str] | None) -> None:
        self.stops = [s for s in stop or [] if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.text = ""
        self.sent = 0
        self.done = False

    def feed(self, piece: str) -> str:
        """Add generated text; return the part that is now safe to show."""
        if self.done:
            return ""
        self.text += piece
        hits = [i for i in (self.text.find(s, self.sent) for s in self.stops) if i >= 0]
        end = min(hits) if hits else len(self.text) - self.hold
        self.done = bool(hits)
        out = self.text[self.sent : end] if end > self.sent else ""
        self.sent = max(self.sent, end)
        return out

    def flush(self) -> str:
        """The held-back tail, once generation has ended without a stop string."""
        out = "" if self.done else self.text[self.sent :]
        self.sent = len(self.text)
        return out


def _cut(text: str, stop: list[str] | None) -> str:
    cutter = _StopCutter(stop)
    return cutter.feed(text) + cutter.flush()


class _StopWhen:
    """A generate() stopping criterion: a stop string appeared in the new text, or the
    consumer of a stream went away (so the model stops instead of finishing for nobody)."""

    def __init__(self, tokenizer: Any, prompt_len: int, stop: list[str] | None) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = [s for s in stop or [] if s]
        self.cancel = threading.Event()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = self.cancel.is_set()
        if not done and self.stops:
            text = self.tokenizer.decode(input_ids[0, self.prompt_len :], skip_special_tokens=True)
            done = any(s in text for s in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class TransformersGenerator:
    """A model loaded by :func:`bot.llm.model.load_model`. One call at a time per model: a lock
    keeps concurrent requests from interleaving on the same weights (and the CPU cores)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.max_context_tokens = int(loaded.config.max_context_tokens)
        self.name = f"transformers:{loaded.path}"
        self._lock = threading.Lock()
        self.prefix_cache = PrefixCache(int(loaded.config.prefix_cache_mib) * 2**20)
        self.freed = FreedMemory()

    def _check_length(self, n_prompt: int, n_new: int, what: str) -> None:
        check_length(n_prompt, n_new, self.max_context_tokens, self.loaded.path, what)

    def _chat_inputs(self, messages: Messages, max_new_tokens: int) -> dict[str, Any]:
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        enc = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        self._check_length(int(enc["input_ids"].shape[1]), max_new_tokens, "chat prompt")
        return {k: v.to(self.model.device) for k, v in enc.items()}

    def _generate_kwargs(
        self, inputs: dict[str, Any], max_new_tokens: int, stop_when: _StopWhen
    ) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        return dict(
            inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            # Explicit nones: the model's generation_config may carry sampling defaults.
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([stop_when]),
        )

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        import torch

        inputs = self._chat_inputs(messages, max_new_tokens)
        n = int(inputs["input_ids"].shape[1])
        stop_when = _StopWhen(self.tokenizer, n, stop)
        try:
            with self._lock, torch.inference_mode():
                out = self.model.generate(
                    **self._generate_kwargs(inputs, max_new_tokens, stop_when)
                )
        except Exception as exc:
            raise GenerationError(f"generation with {self.loaded.path} failed: {exc}") from exc
        text = _cut(self.tokenizer.decode(out[0, n:], skip_special_tokens=True), stop)
        self.freed.maybe_release()
        return text

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._chat_inputs(messages, max_new_tokens)
        stop_when = _StopWhen(self.tokenizer, int(inputs["input_ids"].shape[1]), stop)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(inputs, max_new_tokens, stop_when)
        kwargs["streamer"] = streamer
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the consumer's thread below
                errors.append(exc)
                streamer.end()

        cutter = _StopCutter(stop)
        with self._lock:
            worker = threading.Thread(target=run, name="nextneed-generate", daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    out = cutter.feed(piece)
                    if out:
                        yield out
                    if cutter.done:
                        break
                if not cutter.done and not errors:
                    tail = cutter.flush()
                    if tail:
                        yield tail
            finally:
                # Also reached when the consumer stops early: end the model's work before
                # releasing the lock, so the next call never runs beside a leftover thread.
                stop_when.cancel.set()
                worker.join()
        self.freed.maybe_release()
        if errors:
            raise GenerationError(
                f"generation with {self.loaded.path} failed: {errors[0]}"
            ) from errors[0]

    def choice_ids(self, choices: list[str]) -> list[int]:
        """The token id of each choice; every choice must be exactly one token."""
        return single_token_ids(self.tokenizer, choices, self.loaded.path)

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        """Log-probabilities of each single-token choice right after ``prompt`` (one pass over
        the prompt; only the last position's logits are computed).

        With ``breaks``, the prompt is run in chunks cut there, and each prefix's key/values
        are kept in :attr:`prefix_cache`: a later prompt with the same prefix (the instruction
        text; a customer's history on the next turn) computes only what follows it. The same
        prompt and breaks give bit-identical scores with or without cached prefixes."""
        import torch

        ids = self.choice_ids(choices)
        # No special tokens: fine-tuning tokenizes the ranking prompt the same way, so the
        # chunks below are cut from exactly the token ids a fine-tuned adapter was trained on.
        enc = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=bool(breaks))
        input_ids = list(enc["input_ids"])
        self._check_length(len(input_ids), 1, "scoring prompt")
        cuts = token_cuts(enc["offset_mapping"], breaks) if breaks else []
        try:
            with self._lock, torch.inference_mode():
                if cuts:
                    logits = prefill(self.model, input_ids, cuts, self.prefix_cache)
                else:
                    x = torch.tensor([input_ids], dtype=torch.long, device=self.model.device)
                    logits = self.model(input_ids=x, logits_to_keep=1).logits[0, -1]
        except Exception as exc:
            raise GenerationError(f"scoring with {self.loaded.path} failed: {exc}") from exc
        logp = torch.log_softmax(logits.float(), dim=-1)
        scores = [float(logp[i]) for i in ids]
        self.freed.maybe_release()
        return scores


class OpenAIHTTPGenerator:
    """An OpenAI-compatible server: ``/v1/chat/completions`` (SSE when streaming) for text,
    ``/v1/completions`` with ``logprobs`` and ``max_tokens=1`` for one-pass scoring.

    Servers return only the ``top_logprobs`` most likely next tokens (vLLM allows 20 by
    default), so a choice outside that list gets a floor score: below every listed token.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        top_logprobs: int = 20,
    ) -> None:
        import httpx

        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
        if top_logprobs < 1:
            raise ConfigError(f"top_logprobs must be >= 1, got {top_logprobs!r}")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.top_logprobs = top_logprobs
        self.name = f"openai:{self.base_url}:{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIHTTPGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = self.base_url + path
        try:
            resp = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise GenerationError(f"cannot reach the model server at {url}: {exc}") from exc
        if resp.status_code != 200:
            error = (
                ScoringUnsupportedError if resp.status_code in (404, 405, 501) else GenerationError
            )
            raise error(f"model server {url} answered HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            return dict(resp.json())
        except ValueError as exc:
            raise GenerationError(f"model server {url} answered with invalid JSON") from exc

    def _chat_body(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": 0,
            "stream": stream,
        }
        if stop:
            body["stop"] = stop
        return body

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        url = self.base_url + "/chat/completions"
        data = self._post(
            "/chat/completions", self._chat_body(messages, max_new_tokens, stop, False)
        )
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise GenerationError(
                f"model server {url} answered without choices[0].message"
            ) from exc
        # Servers apply ``stop`` themselves; cutting again costs nothing and covers those that don't.
        return _cut(str(content or ""), stop)

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        import httpx

        url = self.base_url + "/chat/completions"
        body = self._chat_body(messages, max_new_tokens, stop, True)
        cutter = _StopCutter(stop)
        try:
            with self._client.stream("POST", url, json=body) as resp:
                if resp.status_code != 200:
                    detail = resp.read().decode("utf-8", "replace")[:300]
                    raise GenerationError(
                        f"model server {url} answered HTTP {resp.status_code}: {detail}"
                    )
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue  # SSE comments, keep-alives, blank separators
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    event = json.loads(payload)
                    if "error" in event:
                        raise GenerationError(
                            f"model server {url} failed mid-stream: {event['error']}"
                        )
                    choices = event.get("choices") or [{}]
                    out = cutter.feed(choices[0].get("delta", {}).get("content") or "")
                    if out:
                        yield out
                    if cutter.done:
                        return
        except httpx.HTTPError as exc:
            raise GenerationError(f"cannot reach the model server at {url}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise GenerationError(f"model server {url} sent a malformed stream event") from exc
        tail = cutter.flush()
        if tail:
            yield tail

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        # ``breaks`` need nothing here: vLLM's automatic prefix caching finds shared prefixes.
        if not choices:
            raise ConfigError("score_choices needs at least one choice")
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": 1,
            "logprobs": self.top_logprobs,
            "temperature": 0,
        }
        try:
            data = self._post("/completions", body)
        except ScoringUnsupportedError as exc:
            raise ScoringUnsupportedError(
                f"{exc}. One-pass ranking needs /v1/completions with logprobs (vLLM, llama.cpp "
                "server); use the in-process model or turn the LLM ranker off."
            ) from exc
        try:
            top = data["choices"][0]["logprobs"]["top_logprobs"][0]
            scores = {str(k): float(v) for k, v in dict(top).items()}
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ScoringUnsupportedError(
                f"the model server at {self.base_url} returned no top_logprobs for /completions; "
                "one-pass ranking needs a server that does (vLLM, llama.cpp server)"
            ) from exc
        # Unlisted choices are less likely than every listed token; log(10) below the least
        # listed keeps them ordered after the listed ones without inventing a value.
        floor = min(scores.values()) - math.log(10) if scores else -30.0
        return [scores.get(c, floor) for c in choices]
