"""bot.llm.generation: the transformers backend on the tiny model, and the OpenAI-compatible HTTP
backend against a real (tiny, standard-library) server on 127.0.0.1 backed by that model."""

from __future__ import annotations

# The fixture is imported here until tests/conftest.py imports it; test arguments then shadow it.
# ruff: noqa: F811
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError, GenerationError, ScoringUnsupportedError
from bot.llm.generation import Generator, OpenAIHTTPGenerator, TransformersGenerator, _StopCutter
from bot.llm.model import ModelConfig, load_model
from tests.fixtures.tiny_model import tiny_model_dir  # noqa: F401

CHAT = [
    {"role": "system", "content": "You are a shop assistant."},
    {"role": "user", "content": "What should I buy with shampoo?"},
]
LABELS = [" A", " B", " C", " d"]


@pytest.fixture(scope="module")
def gen(tiny_model_dir: Path) -> TransformersGenerator:
    import torch

    torch.set_num_threads(1)
    return TransformersGenerator(
        load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=1))
    )


# -- transformers backend ----------------------------------------------------------------------


def test_is_a_generator(gen: TransformersGenerator) -> None:
    assert isinstance(gen, Generator)
    assert gen.name.startswith("transformers:")


def test_generate_is_deterministic_and_stream_matches(gen: TransformersGenerator) -> None:
    text = gen.generate(CHAT, max_new_tokens=12)
    assert text  # the random tiny model emits printable BPE pieces, never only special tokens
    assert gen.generate(CHAT, max_new_tokens=12) == text
    chunks = list(gen.stream(CHAT, max_new_tokens=12))
    assert len(chunks) >= 2
    assert "".join(chunks) == text


def test_stop_strings_cut_generate_and_stream_alike(gen: TransformersGenerator) -> None:
    full = gen.generate(CHAT, max_new_tokens=12)
    stop = full[3:6]  # a stop string that really occurs, possibly spanning two tokens
    cut = full[: full.find(stop)]
    assert gen.generate(CHAT, max_new_tokens=12, stop=[stop]) == cut
    assert "".join(gen.stream(CHAT, max_new_tokens=12, stop=[stop])) == cut


def test_abandoned_stream_releases_the_model(gen: TransformersGenerator) -> None:
    stream = gen.stream(CHAT, max_new_tokens=40)
    next(stream)
    stream.close()
    assert not gen._lock.locked()
    assert gen.generate(CHAT, max_new_tokens=4)  # the next call is not blocked


def test_concurrent_calls_do_not_interleave(gen: TransformersGenerator) -> None:
    expected = gen.generate(CHAT, max_new_tokens=10)
    results: list[str] = []

    def call() -> None:
        results.append("".join(gen.stream(CHAT, max_new_tokens=10)))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [expected] * 3


def test_score_choices(gen: TransformersGenerator) -> None:
    scores = gen.score_choices("Candidates:\nA) soap\nB) razor\nAnswer:", LABELS)
    assert len(scores) == len(LABELS)
    assert all(math.isfinite(s) and s < 0 for s in scores)
    assert sum(math.exp(s) for s in scores) < 1.0  # log-probabilities over the whole vocabulary
    assert gen.score_choices("Candidates:\nA) soap\nB) razor\nAnswer:", LABELS) == scores


def test_score_choices_refuses_multi_token_choices(gen: TransformersGenerator) -> None:
    with pytest.raises(GenerationError, match="single-token"):
        gen.score_choices("Answer:", [" A", " shampoo conditioner"])
    with pytest.raises(ConfigError):
        gen.score_choices("Answer:", [])


def test_prompt_longer_than_the_context_is_refused(tiny_model_dir: Path) -> None:
    loaded = load_model(
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", max_context_tokens=128)
    )
    small = TransformersGenerator(loaded)
    with pytest.raises(GenerationError, match="max_context_tokens=128"):
        small.generate([{"role": "user", "content": "soap " * 200}], max_new_tokens=4)
    with pytest.raises(GenerationError, match="max_context_tokens=128"):
        small.score_choices("soap " * 200 + "Answer:", [" A"])


@pytest.mark.parametrize(
    ("pieces", "stop", "expected"),
    [
        (["hel", "lo wor", "ld"], None, "hello world"),
        (["hello ##", "# tail"], ["###"], "hello "),
        (["ab", "c", "STO", "P x"], ["STOP"], "abc"),
        (["abc"], [""], "abc"),
    ],
)
def test_stop_cutter(pieces: list[str], stop: list[str] | None, expected: str) -> None:
    cutter = _StopCutter(stop)
    out = "".join(cutter.feed(p) for p in pieces) + cutter.flush()
    assert out == expected


# -- a real OpenAI-compatible server backed by the tiny model ---------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _TinyServer

    def log_message(self, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body, self.headers.get("Authorization")))
        if body.get("model") == "broken":
            self._json(500, {"error": {"message": "model crashed"}})
        elif self.path == "/v1/chat/completions":
            self._chat(body)
        elif self.path == "/v1/completions" and self.server.scoring:
            self._completion(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, body: dict[str, Any]) -> None:
        gen, args = self.server.gen, (body["messages"], body["max_tokens"], body.get("stop"))
        if not body.get("stream"):
            text = gen.generate(*args)
            self._json(200, {"choices": [{"message": {"role": "assistant", "content": text}}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in gen.stream(*args):
            event = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _completion(self, body: dict[str, Any]) -> None:
        import torch

        gen = self.server.gen
        enc = gen.tokenizer(body["prompt"], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            logp = torch.log_softmax(gen.model(**enc).logits[0, -1].float(), -1)
        top = torch.topk(logp, int(body["logprobs"]))
        tokens = {
            gen.tokenizer.decode([int(i)]): float(v)
            for v, i in zip(top.values, top.indices, strict=True)
        }
        logprobs = {"tokens": [next(iter(tokens))], "top_logprobs": [tokens]}
        self._json(200, {"choices": [{"text": next(iter(tokens)), "logprobs": logprobs}]})


class _TinyServer(ThreadingHTTPServer):
    def __init__(self, gen: TransformersGenerator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gen = gen
        self.scoring = True
        self.requests: list[tuple[str, dict[str, Any], str | None]] = []


@pytest.fixture(scope="module")
def server(gen: TransformersGenerator) -> Iterator[_TinyServer]:
    srv = _TinyServer(gen)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def client(server: _TinyServer) -> Iterator[OpenAIHTTPGenerator]:
    server.scoring = True
    host, port = server.server_address[:2]
    with OpenAIHTTPGenerator(f"http://{host!s}:{port}", "tiny", api_key="k", timeout=60) as c:
        yield c


def test_http_generate_and_stream_match_local(
    client: OpenAIHTTPGenerator, gen: TransformersGenerator, server: _TinyServer
) -> None:
    assert isinstance(client, Generator)
    expected = gen.generate(CHAT, max_new_tokens=12)
    assert client.generate(CHAT, max_new_tokens=12) == expected
    chunks = list(client.stream(CHAT, max_new_tokens=12))
    assert len(chunks) >= 2 and "".join(chunks) == expected
    path, body, auth = server.requests[-1]
    assert (path, body["stream"], body["temperature"], auth) == (
        "/v1/chat/completions",
        True,
        0,
        "Bearer k",
    )


def test_http_stop_strings(client: OpenAIHTTPGenerator, gen: TransformersGenerator) -> None:
    full = gen.generate(CHAT, max_new_tokens=12)
    stop = full[3:6]
    cut = full[: full.find(stop)]
    assert client.generate(CHAT, 12, stop=[stop]) == cut
    assert "".join(client.stream(CHAT, 12, stop=[stop])) == cut


def test_http_scores_match_local_when_all_tokens_are_listed(
    server: _TinyServer, gen: TransformersGenerator
) -> None:
    host, port = server.server_address[:2]
    vocab = len(gen.tokenizer)
    with OpenAIHTTPGenerator(f"http://{host!s}:{port}/v1", "tiny", top_logprobs=vocab) as c:
        remote = c.score_choices("Candidates:\nA) soap\nAnswer:", LABELS)
    local = gen.score_choices("Candidates:\nA) soap\nAnswer:", LABELS)
    assert remote == pytest.approx(local, abs=1e-4)


def test_http_unlisted_choices_score_below_listed(
    client: OpenAIHTTPGenerator, server: _TinyServer
) -> None:
    client.top_logprobs = 2
    labels = [" " + c for c in "ABCDEFGHIJ"]
    scores = client.score_choices("Answer:", labels)
    listed = server.requests[-1]
    assert listed[1]["max_tokens"] == 1 and listed[1]["logprobs"] == 2
    floor = min(scores)
    assert sum(s == floor for s in scores) >= len(labels) - 2
    assert all(math.isfinite(s) for s in scores)


def test_http_server_without_completions(client: OpenAIHTTPGenerator, server: _TinyServer) -> None:
    server.scoring = False
    with pytest.raises(ScoringUnsupportedError, match="logprobs") as info:
        client.score_choices("Answer:", LABELS)
    assert "/v1/completions" in str(info.value) and "404" in str(info.value)


def test_http_server_error_names_url_and_status(server: _TinyServer) -> None:
    host, port = server.server_address[:2]
    with OpenAIHTTPGenerator(f"http://{host!s}:{port}", "broken") as c:
        with pytest.raises(GenerationError, match="500") as info:
            c.generate(CHAT, 4)
        assert f"{port}/v1/chat/completions" in str(info.value)
        with pytest.raises(GenerationError, match="500"):
            list(c.stream(CHAT, 4))


def test_http_unreachable_server() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with OpenAIHTTPGenerator(f"http://127.0.0.1:{port}", "tiny", timeout=5) as c:
        with pytest.raises(GenerationError, match="cannot reach"):
            c.generate(CHAT, 4)


def test_http_config_validation() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIHTTPGenerator("localhost:8000", "m")
    with pytest.raises(ConfigError, match="top_logprobs"):
        OpenAIHTTPGenerator("http://localhost:8000", "m", top_logprobs=0)


# -- describe: one grounded sentence, the model stopped at its end ------------------------------


class _Scripted:
    """A Generator that streams a fixed reply piece by piece and records how far it got."""

    name = "scripted"

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.sent = 0
        self.closed = False

    def generate(self, messages: Any, max_new_tokens: int, stop: list[str] | None = None) -> str:
        return "".join(self.pieces)

    def stream(
        self, messages: Any, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        try:
            for piece in self.pieces:
                self.sent += 1
                yield piece
        finally:
            self.closed = True

    def score_choices(self, prompt: str, choices: list[str], breaks: Any = ()) -> list[float]:
        return [0.0] * len(choices)


FACTS = ["Title: Argan Oil Conditioner", "Brand: Norrow", "Price: $12.50"]


def test_generated_sentence_stops_the_model_at_the_first_sentence_end() -> None:
    from bot.tasks.describe import generated_sentence

    gen = _Scripted(
        ["A smooth", " conditioner by Norrow", " for $12.", "50. It", " also", " sings."]
    )
    assert isinstance(gen, Generator)
    out = generated_sentence(gen, FACTS)
    assert out == "A smooth conditioner by Norrow for $12.50."  # "$12." did not end it
    assert gen.sent == 4 and gen.closed  # the rest was never generated


def test_generated_sentence_keeps_the_grounding_filter() -> None:
    from bot.tasks.describe import generated_sentence

    assert generated_sentence(_Scripted(["Clinically proven to", " work. More."]), FACTS) == ""
    assert generated_sentence(_Scripted(["Lasts 90 days", " in the shower. Then"]), FACTS) == ""
    shown = "Argan Oil Conditioner by Norrow."
    assert generated_sentence(_Scripted(["Argan Oil Conditioner by Norrow."]), FACTS, shown) == ""
    assert generated_sentence(_Scripted(["A conditioner by Norrow."]), FACTS, shown) == (
        "A conditioner by Norrow."
    )
    # off the item: the model speaking as itself, or a sentence with no word of the facts
    music = ["I'm an expert in the world of music and I can play anything."]
    assert generated_sentence(_Scripted(music), FACTS) == ""
    assert generated_sentence(_Scripted(["It is a lovely day for a walk outside."]), FACTS) == ""
    assert generated_sentence(_Scripted(["Our best conditioner yet."]), FACTS) == ""


def test_freed_memory_is_returned_at_most_once_per_interval() -> None:
    from bot.llm.memory import FreedMemory, release_freed_heap

    now = [100.0]
    freed = FreedMemory(every_s=30.0, clock=lambda: now[0])
    if not release_freed_heap():
        pytest.skip("no glibc malloc_trim on this system")
    assert freed.maybe_release()  # the first call trims
    now[0] = 120.0
    assert not freed.maybe_release()  # 20 s later: too soon
    now[0] = 131.0
    assert freed.maybe_release() and freed.releases == 2
    with pytest.raises(ConfigError, match="every_s"):
        FreedMemory(every_s=-1)


def test_heap_arena_cap_is_set_once_at_start_unless_the_environment_sets_it() -> None:
    import os
    import subprocess
    import sys

    from bot.llm.memory import limit_heap_arenas, release_freed_heap

    if not release_freed_heap():
        pytest.skip("no glibc on this system")
    code = (
        "import sys; from bot.llm.memory import limit_heap_arenas as f; print(f(int(sys.argv[1])))"
    )

    def run(arenas: int, **env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        done = subprocess.run(
            [sys.executable, "-c", code, str(arenas)],
            env={**clean, **env},
            capture_output=True,
            text=True,
            check=True,
        )  # a fresh process: the cap is process-wide
        return done.stdout.strip()

    assert run(2) == "True"
    assert run(0) == "False"  # glibc's own default
    assert run(2, MALLOC_ARENA_MAX="4") == "False"  # the operator's setting wins
    with pytest.raises(ConfigError, match="heap arenas"):
        limit_heap_arenas(-1)


def test_model_calls_return_freed_memory(gen: TransformersGenerator) -> None:
    from bot.llm.memory import release_freed_heap

    if not release_freed_heap():
        pytest.skip("no glibc malloc_trim on this system")
    before, every = gen.freed.releases, gen.freed.every_s
    gen.freed.every_s = 0.0
    try:
        gen.score_choices("Which candidate? Answer:", [" A", " B"])
        gen.generate([{"role": "user", "content": "hi"}], 2)
        assert gen.freed.releases == before + 2
    finally:
        gen.freed.every_s = every
