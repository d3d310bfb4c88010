"""Request and response models of the HTTP API (``/v1`` OpenAI-compatible, ``/api`` JSON).

Validation happens here, at the edge: wrong types, missing fields, empty or over-long text and
control characters are refused with a 422 before the assistant sees anything. Identity is never
a field of any request: it comes from the API key or a trusted header (see :mod:`bot.serve.server`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bot.chat.state import CONTROL_CHARS
from bot.reply import Reply

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_HISTORY_CHARS",
    "MAX_REVIEW_CHARS",
    "ErrorDetail",
    "ErrorResponse",
    "HistoryMessage",
    "RecommendRequest",
    "ReviewReplyRequest",
    "DescribeRequest",
    "FeedbackRequest",
    "FeedbackResponse",
    "ForgetRequest",
    "ForgetResponse",
    "HealthResponse",
    "ChatMessage",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatChoice",
    "ChatChoiceMessage",
    "Usage",
    "ModelCard",
    "ModelList",
    "message_text",
]

MAX_MESSAGE_CHARS = 2000  # AssistantConfig.max_message_chars
MAX_HISTORY_CHARS = MAX_MESSAGE_CHARS * 4  # one earlier turn, in /api and /v1 alike
MAX_REVIEW_CHARS = 2000
# Tab, newline and carriage return are ordinary in pasted text; every other C0 control and DEL
# is refused so nothing invisible reaches the prompt or the store (bot.chat.state.CONTROL_CHARS).


def _plain_text(value: str) -> str:
    if CONTROL_CHARS.search(value):
        raise ValueError("contains control characters; send plain text")
    if not value.strip():
        raise ValueError("is empty or only whitespace")
    return value


def _not_bool(value: Any) -> Any:
    # strict=False lets "4" and 4 through, and also true (as 1): a rating is a number
    if isinstance(value, bool):
        raise ValueError("must be a number 1..5, not true/false")
    return value


Message = Annotated[
    str, Field(strict=True, max_length=MAX_MESSAGE_CHARS), AfterValidator(_plain_text)
]
ItemRef = Annotated[str, Field(strict=True, max_length=500), AfterValidator(_plain_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    type: str = Field(description="invalid_request, unauthorized, not_found, busy, unavailable …")
    message: str = Field(description="What was wrong and what to do.")


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: ErrorDetail


class HistoryMessage(_Strict):
    """One earlier turn, OpenAI style."""

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_HISTORY_CHARS)]


class RecommendRequest(_Strict):
    message: Message | None = Field(
        default=None, description="What the user asked; leave out for a plain 'what next?'."
    )
    history: list[HistoryMessage] = Field(default_factory=list, max_length=100)
    state: dict[str, Any] | None = Field(
        default=None, description="The conversation state of the previous reply (its `state`)."
    )


class ReviewReplyRequest(_Strict):
    review: Annotated[
        str, Field(strict=True, max_length=MAX_REVIEW_CHARS), AfterValidator(_plain_text)
    ]
    rating: Annotated[float, BeforeValidator(_not_bool), Field(ge=1, le=5, strict=False)] | None = (
        None
    )
    item_id: ItemRef | None = None


class DescribeRequest(_Strict):
    item: ItemRef = Field(description="An item id or a title to look up.")


class FeedbackRequest(_Strict):
    item_id: ItemRef
    kind: Literal["bought", "not_interested", "owned", "thumbs_up", "thumbs_down"]


class FeedbackResponse(BaseModel):
    user_id: str
    item_id: str
    kind: str
    recorded: bool = True


def _exactly_true(value: Any) -> Any:
    # pydantic's Literal[True] accepts 1 even in strict mode (1 == True); a deletion is confirmed
    # by the JSON value true only.
    if value is not True:
        raise ValueError("must be the JSON value true")
    return value


class ForgetRequest(_Strict):
    confirm: Annotated[Literal[True], BeforeValidator(_exactly_true)] = Field(
        description="Must be true: deletion cannot be undone."
    )


class ForgetResponse(BaseModel):
    user_id: str
    deleted: int = Field(description="How many stored events were deleted.")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    mode: str
    busy: int = Field(description="Assistant calls running now.")
    capacity: int


# ---- OpenAI-compatible chat completions -------------------------------------------------------


class _ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(strict=True)] | list[_ContentPart] | None = None


def message_text(message: ChatMessage) -> str:
    """The plain text of an OpenAI message (content string or its text parts)."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text or "" for part in message.content if part.type == "text")


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's request nextneed reads; other OpenAI fields are accepted and
    ignored. ``user`` is ignored too: identity comes from the API key or a trusted header."""

    model_config = ConfigDict(extra="ignore")
    model: Annotated[str, Field(strict=True, max_length=200)] = "nextneed"
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: Annotated[bool, Field(strict=True)] = False
    user: str | None = Field(default=None, description="Ignored; never used as identity.")
    nextneed_state: dict[str, Any] | None = Field(
        default=None,
        description="The previous reply's `nextneed.state`; without it the state is looked up "
        "from the last assistant message.",
    )


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = Field(default_factory=Usage)
    nextneed: Reply = Field(description="The structured reply behind the text.")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "nextneed"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
