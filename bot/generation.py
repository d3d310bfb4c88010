"""Generation backends behind one small Protocol: in-process transformers, or any
OpenAI-compatible HTTP server (vLLM with the LoRA adapter, llama.cpp, nextneed's own /v1)."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from knowledge.errors import NextNeedError

__all__ = ["Generator", "TransformersGenerator", "OpenAIHTTPGenerator", "GenerationError"]

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


class GenerationError(NextNeedError):
    """The language model backend failed or cannot do what was asked."""


@runtime_checkable
class Generator(Protocol):
    """Greedy (deterministic) text generation and one-pass scoring of labelled choices."""

    name: str

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str: ...

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]: ...

    def score_choices(self, prompt: str, choices: list[str]) -> list[float]: ...


def _cut(text: str, stop: list[str] | None) -> str:
    for s in stop or []:
        i = text.find(s)
        if i >= 0:
            text = text[:i]
    return text


class TransformersGenerator:
    """A loaded transformers model (see :func:`bot.model.load_model`). One call at a time per
    model: a lock keeps concurrent requests from interleaving on the same weights."""

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = f"transformers:{loaded.path}"
        self._lock = threading.Lock()

    def _inputs(self, messages: Messages) -> Any:
        enc = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self.model.device) for k, v in enc.items()}

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        return "".join(self.stream(messages, max_new_tokens, stop))

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            streamer=streamer,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            text = ""
            for piece in streamer:
                if not piece:
                    continue
                new = _cut(text + piece, stop)
                delta = new[len(text) :]
                text = new
                if delta:
                    yield delta
                if stop and len(new) < len(text + piece):
                    break
            worker.join()
        if errors:
            raise GenerationError(f"generation failed: {errors[0]}") from errors[0]

    def score_choices(self, prompt: str, choices: list[str]) -> list[float]:
        """Log-probabilities of each single-token choice right after ``prompt`` (one forward pass)."""
        import torch

        ids = []
        for c in choices:
            toks = self.tokenizer.encode(c, add_special_tokens=False)
            if len(toks) != 1:
                raise GenerationError(f"choice {c!r} is not a single token for this tokenizer")
            ids.append(toks[0])
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with self._lock, torch.inference_mode():
            logits = self.model(**{k: v.to(self.model.device) for k, v in enc.items()}).logits[
                0, -1
            ]
        logp = torch.log_softmax(logits.float(), dim=-1)
        return [float(logp[i]) for i in ids]


class OpenAIHTTPGenerator:
    """Talks to an OpenAI-compatible server: chat completions for text, completions with
    ``logprobs`` for one-pass scoring (vLLM and llama.cpp servers support both)."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.name = f"openai:{self.base_url}:{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = self.base_url + path
        try:
            resp = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise GenerationError(f"cannot reach the model server at {url}: {exc}") from exc
        if resp.status_code != 200:
            raise GenerationError(
                f"model server {url} answered {resp.status_code}: {resp.text[:300]}"
            )
        return dict(resp.json())

    def generate(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": 0,
        }
        if stop:
            body["stop"] = stop
        data = self._post("/chat/completions", body)
        return _cut(str(data["choices"][0]["message"]["content"] or ""), stop)

    def stream(
        self, messages: Messages, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        import httpx

        body: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": max_new_tokens,
            "temperature": 0, "stream": True,
        }  # fmt: skip
        if stop:
            body["stop"] = stop
        url = self.base_url + "/chat/completions"
        try:
            with self._client.stream("POST", url, json=body) as resp:
                if resp.status_code != 200:
                    raise GenerationError(
                        f"model server {url} answered {resp.status_code}: {resp.read()[:300]!r}"
                    )
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    delta = json.loads(payload)["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise GenerationError(f"cannot reach the model server at {url}: {exc}") from exc

    def score_choices(self, prompt: str, choices: list[str]) -> list[float]:
        data = self._post(
            "/completions",
            {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": 1,
                "logprobs": 20,
                "temperature": 0,
            },
        )
        try:
            top = data["choices"][0]["logprobs"]["top_logprobs"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise GenerationError(
                f"the model server at {self.base_url} returned no logprobs; one-pass ranking needs "
                "a server with /v1/completions logprobs (vLLM, llama.cpp)"
            ) from exc
        floor = min(top.values()) - math.log(10) if top else -30.0
        return [float(top.get(c, floor)) for c in choices]
