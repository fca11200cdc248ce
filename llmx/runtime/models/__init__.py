"""Model clients: one request in, the normalised stream of ``stream.py`` out.

The turn loop uses :func:`open_model_client`, :class:`ModelRequest` and the event types;
the wire formats (Responses API, Chat Completions) stay inside this package.
"""

from llmx.events.primitives import TokenUsage
from llmx.runtime.models.client import HttpModelClient, ModelClient
from llmx.runtime.models.errors import ModelError, ModelErrorKind
from llmx.runtime.models.items import ResponseItem
from llmx.runtime.models.request import (
    DEFAULT_ORIGINATOR,
    ModelRequest,
    Reasoning,
    RequestIdentity,
    ToolChoice,
)
from llmx.runtime.models.stream import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    RequestSent,
    RetryScheduled,
    StreamEvent,
)
from llmx.runtime.models.wires import open_model_client

__all__ = [
    "DEFAULT_ORIGINATOR",
    "Completed",
    "Created",
    "HttpModelClient",
    "ModelClient",
    "ModelError",
    "ModelErrorKind",
    "ModelRequest",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "Reasoning",
    "ReasoningContentDelta",
    "ReasoningSummaryDelta",
    "ReasoningSummaryPartAdded",
    "RequestIdentity",
    "RequestSent",
    "ResponseItem",
    "RetryScheduled",
    "StreamEvent",
    "TokenUsage",
    "ToolChoice",
    "open_model_client",
]
