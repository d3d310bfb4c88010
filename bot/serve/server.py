"""One HTTP server for everything: the Gradio chat at ``/``, an OpenAI-compatible ``/v1`` and a
JSON ``/api`` for embedding nextneed in a shop, plus ``/health``.

Every route is an adapter over one :class:`bot.chat.assistant.Assistant` call. Identity is resolved
here and only here: from the API key (a key -> user map), or from ``X-User-Id`` when the server
is configured to trust it (demo mode, or a service key held by the shop's own backend). It is
never read from a message or a request body.

Assistant calls pass through a :class:`Gate` (shared with the web UI, fair between callers):
when every slot stays busy beyond a short wait the caller gets 503 ``busy`` at once instead of a
hang. Everything a request must pass before any route runs (Host, body size, cross-origin
writes, rate limits, security headers) is :class:`bot.serve.security.Guard`; docs/security.md
has the threat model.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from bot.chat.state import CONTROL_CHARS
from bot.errors import AuthError, BusyError
from bot.reply import Reply
from bot.serve.config import Gate, ServerConfig
from bot.serve.exports import ExportFiles
from bot.serve.limits import FailureThrottle, TooManyRequestsError
from bot.serve.schema import (
    MAX_HISTORY_CHARS,
    MAX_MESSAGE_CHARS,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    DescribeRequest,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    ForgetRequest,
    ForgetResponse,
    HealthResponse,
    ModelCard,
    ModelList,
    RecommendRequest,
    ReviewReplyRequest,
    message_text,
)
from knowledge.errors import (
    InputError,
    NextNeedError,
    StoreUnavailableError,
    UnknownItemError,
    UnknownUserError,
)

if TYPE_CHECKING:
    from bot.chat.assistant import Assistant

__all__ = ["create_app", "resolve_caller"]

log = logging.getLogger(__name__)


# ---- errors -------------------------------------------------------------------------------

_STATUS: list[tuple[type[Exception], int, str]] = [
    (TooManyRequestsError, 429, "rate_limited"),
    (BusyError, 503, "busy"),
    (AuthError, 401, "unauthorized"),
    (InputError, 400, "invalid_request"),
    (UnknownItemError, 404, "not_found"),
    (UnknownUserError, 404, "not_found"),
    (StoreUnavailableError, 503, "unavailable"),
]
_HTTP_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid_request",
    413: "invalid_request",
}


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Any:
    body = ErrorResponse.model_validate({"error": {"type": kind, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _classify(exc: Exception) -> tuple[int, str, str]:
    for cls, status, kind in _STATUS:
        if isinstance(exc, cls):
            return status, kind, str(exc)
    if isinstance(exc, NextNeedError):
        return 500, "server_error", str(exc)
    return 500, "server_error", "internal error; the server log has the details"


def _headers_for(status: int, exc: Exception | None = None) -> dict[str, str] | None:
    if isinstance(exc, TooManyRequestsError):
        return {"Retry-After": str(exc.retry_after)}
    if status == 503:
        return {"Retry-After": "2"}
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    return None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "request body is not valid"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Any:
        return _error(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Any:
        kind = _HTTP_TYPES.get(exc.status_code, "error")
        return _error(exc.status_code, kind, str(exc.detail), _headers_for(exc.status_code))

    async def _answer(request: Request, exc: Exception) -> Any:
        status, kind, message = _classify(exc)
        # a body cut off by the Guard (413 already sent) surfaces here as a disconnect
        if status >= 500 and status != 503 and not request.scope.get("nextneed.refused"):
            log.exception("request failed")
        return _error(status, kind, message, _headers_for(status, exc))

    # nextneed's own errors are answered by ExceptionMiddleware; the handler for bare Exception
    # runs in Starlette's ServerErrorMiddleware, which re-raises after answering, so a 503 busy
    # routed there would also be logged as "Exception in ASGI application"
    app.add_exception_handler(NextNeedError, _answer)
    app.add_exception_handler(Exception, _answer)


# ---- identity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling: ``user_id`` is None when no identity was given (allowed for some routes).
    ``key`` is whom the fair gate serves: the customer, else the client's address."""

    user_id: str | None
    key: str = ""


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def resolve_caller(
    config: ServerConfig, request: Request, failures: FailureThrottle | None = None
) -> Caller:
    """The caller's user id from the API key or a trusted header; never from the body.
    Wrong keys count against the client's address in ``failures`` (429 once locked out)."""
    header_user = request.headers.get(config.user_header)
    if config.api_keys:
        token = _bearer(request)
        address = request.client.host if request.client else "?"
        if failures is not None and token is not None:
            failures.check(address, "API keys")
        match = None
        for key, user in config.api_keys.items():
            if token is not None and hmac.compare_digest(key.encode(), token.encode()):
                match = (key, user)
        if match is None:
            if failures is not None and token is not None:
                failures.fail(address)
            raise AuthError("a valid API key is required: send 'Authorization: Bearer <key>'")
        if match[1] is not None:
            if header_user and header_user != match[1]:
                raise AuthError(
                    f"this API key acts for one user; drop the {config.user_header} header"
                )
            return Caller(match[1])
        return Caller(header_user)
    if config.trust_user_header:
        return Caller(header_user)
    if header_user:
        raise AuthError(
            f"this server does not trust {config.user_header}; use an API key mapped to the user"
        )
    return Caller(None)


def _caller(request: Request) -> Caller:
    caller = resolve_caller(request.app.state.config, request, request.app.state.failures)
    address = request.client.host if request.client else "?"
    return Caller(caller.user_id, "user:" + caller.user_id if caller.user_id else "ip:" + address)


CallerDep = Annotated[Caller, Depends(_caller)]


def _need_user(caller: Caller, config: ServerConfig) -> str:
    if not caller.user_id:
        how = (
            f"send the {config.user_header} header"
            if config.trust_user_header or any(u is None for u in config.api_keys.values())
            else "use an API key mapped to a user"
        )
        raise AuthError(f"this endpoint needs to know the user: {how}")
    return caller.user_id


# ---- the app ------------------------------------------------------------------------------


def _split_chat(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    """The last user message and the earlier user/assistant turns (system prompts are ignored:
    an embedding page must not be able to rewrite the assistant's rules)."""
    turns = [(m.role, message_text(m)) for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise InputError("messages must end with a user message")
    for n, (_, text) in enumerate(turns[:-1]):
        if len(text) > MAX_HISTORY_CHARS:
            raise InputError(
                f"messages[{n}] is {len(text)} characters long; the limit for earlier turns is "
                f"{MAX_HISTORY_CHARS}"
            )
        if CONTROL_CHARS.search(text):
            raise InputError(f"messages[{n}] contains control characters; send plain text")
    message = turns[-1][1]
    if not message.strip():
        raise InputError("the last user message is empty; type a question or request")
    if CONTROL_CHARS.search(message):
        raise InputError("the last user message contains control characters; send plain text")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InputError(
            f"message is {len(message)} characters long; the limit is {MAX_MESSAGE_CHARS}"
        )
    history = [{"role": r, "content": c} for r, c in turns[:-1]]
    return message, history


def create_app(assistant: Assistant, config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI app with the API routes and the Gradio chat mounted at ``/``."""
    config = config or ServerConfig()
    gate = Gate(config.max_concurrency, config.busy_wait_s, config.max_waiting_per_caller)
    failures = FailureThrottle(config.login_max_failures, config.login_window_s)
    exports = ExportFiles()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:  # exports never outlive the server (finding 5 of issue 21)
            exports.close()

    app = FastAPI(
        lifespan=lifespan,
        title=f"{config.title} API",
        version="1",
        description="Conversational next-need recommendations. Errors: `{error: {type, message}}`.",
        responses={422: {"model": ErrorResponse}, 401: {"model": ErrorResponse}},
    )
    app.state.assistant = assistant
    app.state.gate = gate
    app.state.config = config
    app.state.failures = failures
    app.state.exports = exports
    _install_error_handlers(app)
    from bot.serve.security import Guard

    # CORS only for the configured origins, never with credentials; a parent CORSMiddleware
    # also stops Gradio from reflecting any Origin with credentials (finding 2 of issue 21)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", config.user_header],
    )
    app.add_middleware(Guard, config=config, exports=exports, failures=failures)  # outermost

    def run(who: Caller, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with gate.hold(who.key):
            return fn(*args, **kwargs)

    @app.get("/health", response_model=HealthResponse, tags=["meta"])
    def health() -> HealthResponse:
        return HealthResponse(mode=config.mode, busy=gate.running, capacity=gate.capacity)

    @app.get("/v1/models", response_model=ModelList, tags=["openai"])
    def models(who: CallerDep) -> ModelList:
        return ModelList(data=[ModelCard(id=config.model_name)])

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletionResponse,
        tags=["openai"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    def chat_completions(body: ChatCompletionRequest, who: CallerDep) -> Any:
        user = _need_user(who, config)
        message, history = _split_chat(body)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.stream:
            # Take a slot and compute the first piece before the response starts, so "busy" and
            # bad input are proper status codes rather than a stream cut short.
            gate.acquire(who.key)
            try:
                chunks = assistant.stream(user, message, history, body.nextneed_state)
                first = next(chunks)
            except BaseException:
                gate.release(who.key)
                raise
            return StreamingResponse(
                _sse(first, chunks, gate, who.key, ident, created, config.model_name),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        reply = run(who, assistant.chat, user, message, history, body.nextneed_state)
        return ChatCompletionResponse(
            id=ident,
            created=created,
            model=config.model_name,
            choices=[ChatChoice(message=ChatChoiceMessage(content=reply.text))],
            nextneed=reply,
        )

    @app.post("/api/recommend", response_model=Reply, tags=["api"])
    def recommend(body: RecommendRequest, who: CallerDep) -> Reply:
        """Ranked next-need recommendations for the caller."""
        history = [h.model_dump() for h in body.history]
        user = _need_user(who, config)
        return run(who, assistant.recommend, user, body.message or "", history, body.state)

    @app.post("/api/review-reply", response_model=Reply, tags=["api"])
    def review_reply(body: ReviewReplyRequest, who: CallerDep) -> Reply:
        """A customer-service reply to a review (the review is treated as data)."""
        return run(who, assistant.review_reply, body.review, body.rating, body.item_id)

    @app.post("/api/describe", response_model=Reply, tags=["api"])
    def describe(body: DescribeRequest, who: CallerDep) -> Reply:
        """A grounded description of one item, personalised when the caller is known."""
        return run(who, assistant.describe, body.item, who.user_id)

    @app.post("/api/feedback", response_model=FeedbackResponse, tags=["api"])
    def feedback(body: FeedbackRequest, who: CallerDep) -> FeedbackResponse:
        """Record bought / not interested / owned / thumbs; used from the next turn on."""
        user = _need_user(who, config)
        run(who, assistant.feedback, user, body.item_id, body.kind)
        return FeedbackResponse(user_id=user, item_id=body.item_id, kind=body.kind)

    @app.get("/api/profile", response_model=Reply, tags=["api"])
    def profile(who: CallerDep) -> Reply:
        """What the store knows about the caller, summarised."""
        return run(who, assistant.profile, _need_user(who, config))

    @app.post("/api/forget", response_model=ForgetResponse, tags=["api"])
    def forget(body: ForgetRequest, who: CallerDep) -> ForgetResponse:
        """Delete every stored event of the caller (needs ``{"confirm": true}``)."""
        user = _need_user(who, config)
        exports.purge(user)
        return ForgetResponse(user_id=user, deleted=run(who, assistant.forget, user))

    @app.get("/api/export", tags=["api"])
    def export(who: CallerDep) -> dict[str, Any]:
        """Everything stored about the caller, as JSON."""
        return dict(run(who, assistant.export, _need_user(who, config)))

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    @app.api_route(
        "/v1/{rest:path}",
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    def unknown(rest: str) -> Any:
        # without these the web UI mounted at / answers unknown API paths in Gradio's shape
        return _error(404, "not_found", "no such route; see /docs for the API")

    from bot.serve.ui import UIConfig, mount_ui

    mount_ui(app, assistant, gate, UIConfig(server=config))
    return app


async def _sse(
    first: Any,
    chunks: Iterator[Any],
    gate: Gate,
    key: str,
    ident: str,
    created: int,
    model: str,
) -> AsyncIterator[str]:
    """OpenAI-style server-sent events; the gate is held until the stream ends or is dropped."""

    def event(
        delta: dict[str, str], finish: str | None, extra: dict[str, Any] | None = None
    ) -> str:
        body: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        body.update(extra or {})
        return f"data: {json.dumps(body)}\n\n"

    done = object()
    try:
        yield event({"role": "assistant", "content": ""}, None)
        chunk = first
        while True:
            if chunk is done:
                break
            if chunk.delta:
                yield event({"content": chunk.delta}, None)
            if chunk.reply is not None:
                yield event({}, "stop", {"nextneed": chunk.reply.to_dict()})
            chunk = await anyio.to_thread.run_sync(next, chunks, done)
    except Exception as exc:  # the status line is gone; report the error in-band
        status, kind, message = _classify(exc)
        if status >= 500:
            log.exception("stream failed")
        yield f"data: {json.dumps({'error': {'type': kind, 'message': message}})}\n\n"
    finally:
        with contextlib.suppress(Exception):
            chunks.close()  # type: ignore[attr-defined]
        gate.release(key)
    yield "data: [DONE]\n\n"
