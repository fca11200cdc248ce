"""The model client interface and what both wire APIs share: auth, headers, retries.

Use :func:`~llmx.runtime.models.wires.open_model_client` to get a client for a configured
provider::

    client = open_model_client("mock", provider, originator="llmx_exec")
    try:
        async for event in client.stream(request):
            ...  # see llmx.runtime.models.stream for the contract
    finally:
        await client.aclose()

``stream`` raises :class:`~llmx.runtime.models.errors.ModelError` (never an httpx error):
``MISSING_API_KEY`` before anything is sent, otherwise after the retries are spent or for
a failure that retrying cannot fix.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import msgspec

from llmx.events.nesting import nests_too_deeply
from llmx.events.records import ModelRequestRecord, RequestAttempt
from llmx.runtime.models.errors import ModelError, ModelErrorKind, error_code_of, kind_for_status
from llmx.runtime.models.request import DEFAULT_ORIGINATOR, ModelRequest, user_agent
from llmx.runtime.models.retry import (
    RetryPolicy,
    delay_for,
    delay_from_message,
    is_retryable,
    parse_retry_after,
    parse_retry_after_ms,
)
from llmx.runtime.models.sse import SseTrace
from llmx.runtime.models.stream import Completed, RequestSent, RetryScheduled, StreamEvent

if TYPE_CHECKING:
    from llmx.runtime.config.tables import ModelProviderInfo

CONNECT_TIMEOUT_S = 30.0


class ModelClient(Protocol):
    """Streams one sampling request as normalised events (see ``stream.py``)."""

    provider_id: str

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


class _StreamFailure(Exception):
    """Internal: a failure with the phase it happened in (which retry budget it spends)."""

    def __init__(self, error: ModelError, *, during_stream: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.during_stream = during_stream


class HttpModelClient:
    """Shared machinery; subclasses supply the endpoint, the body and the event parser."""

    endpoint = ""

    def __init__(
        self,
        provider_id: str,
        provider: ModelProviderInfo,
        *,
        originator: str = DEFAULT_ORIGINATOR,
        env: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.provider_id = provider_id
        self.provider = provider
        self.originator = originator
        self._env = os.environ if env is None else env
        self.retry_policy = RetryPolicy(
            request_max_retries=provider.effective_request_max_retries,
            stream_max_retries=provider.effective_stream_max_retries,
        )
        self._owns_http = http_client is None
        self._http = http_client or http_client_for(provider)
        # Given with each request, so one HTTP client can serve providers of any timeout.
        self._timeout = stream_timeout(provider)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- request --------------------------------------------------------------------------

    def url(self) -> str:
        base = (self.provider.base_url or "").rstrip("/")
        if not base:
            raise ModelError(
                ModelErrorKind.BAD_REQUEST,
                f"model provider `{self.provider_id}` has no base_url; "
                f"set model_providers.{self.provider_id}.base_url in config.toml",
            )
        return f"{base}/{self.endpoint}"

    def api_key(self) -> str | None:
        env_key = self.provider.env_key
        if env_key is None:
            return None
        value = self._env.get(env_key, "").strip()
        if not value and self.provider.requires_openai_auth:
            # Codex's exec (and the TypeScript SDK's ``apiKey``) authenticate OpenAI's
            # own provider with this variable.
            value = self._env.get("CODEX_API_KEY", "").strip()
        if not value:
            hint = self.provider.env_key_instructions or f"export {env_key}=<your API key>"
            raise ModelError(
                ModelErrorKind.MISSING_API_KEY,
                f"Missing environment variable: `{env_key}` (the API key of model provider "
                f"`{self.provider_id}`). {hint}",
            )
        return value

    def headers(self, request: ModelRequest) -> dict[str, str]:
        identity = request.identity
        headers: dict[str, str] = {
            "accept": "text/event-stream",
            "content-type": "application/json",
            "originator": self.originator,
            "user-agent": user_agent(self.originator),
            "session-id": identity.session_id or identity.thread_id,
            "thread-id": identity.thread_id,
            "x-client-request-id": identity.client_request_id or identity.thread_id,
        }
        key = self.api_key()
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        headers.update(self.provider.http_headers or {})
        for header, variable in (self.provider.env_http_headers or {}).items():
            value = self._env.get(variable, "").strip()
            if value:
                headers[header] = value
        headers.update(request.extra_headers)
        return headers

    def body(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, response: httpx.Response, request: ModelRequest,
              trace: SseTrace) -> AsyncIterator[StreamEvent]:
        """The normalised events of ``response``'s stream (read with ``iter_sse(response,
        trace)``, so each event's arrival is on record)."""
        raise NotImplementedError

    # -- streaming with retries -----------------------------------------------------------

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        url = self.url()
        headers = self.headers(request)
        payload = msgspec.json.encode(self.body(request))
        params = self.provider.query_params or None
        retries = {False: 0, True: 0}
        attempts: list[RequestAttempt] = []
        while True:
            try:
                async for event in self._attempt(request, url, headers, payload, params,
                                                 attempts):
                    if isinstance(event, Completed):
                        exchange = self._exchange(attempts)
                        exchange.completed = True
                        event = msgspec.structs.replace(event, exchange=exchange)
                    yield event
                return
            except _StreamFailure as failure:
                error = failure.error
                budget = self.retry_policy.budget_for(failure.during_stream)
                used = retries[failure.during_stream]
                if not is_retryable(error) or used >= budget:
                    error.exchange = self._exchange(attempts)
                    raise error from None
                retries[failure.during_stream] = used + 1
                delay = delay_for(error, used + 1)
                yield RetryScheduled(
                    attempt=used + 1,
                    max_retries=budget,
                    delay=delay,
                    message=error.message,
                    status=error.status,
                )
                await asyncio.sleep(delay)

    def _exchange(self, attempts: list[RequestAttempt]) -> ModelRequestRecord:
        return ModelRequestRecord(endpoint=f"/{self.endpoint}", attempts=list(attempts))

    async def _attempt(
        self,
        model_request: ModelRequest,
        url: str,
        headers: dict[str, str],
        payload: bytes,
        params: dict[str, str] | None,
        attempts: list[RequestAttempt],
    ) -> AsyncIterator[StreamEvent]:
        # This attempt, as telemetry sees it: Codex's codex.api_request times the exchange
        # up to the status line, and codex.sse_event each event of the stream.
        attempt = RequestAttempt(started_ms=time.time_ns() // 1_000_000, duration_ms=0)
        attempts.append(attempt)
        began = time.monotonic()
        body_sent = asyncio.Event()

        async def trace(name: str, info: Mapping[str, Any]) -> None:
            # httpcore reports each step of the exchange; the last byte of the body is
            # the moment the server may have the request, before it answers anything.
            if name.endswith("send_request_body.complete"):
                body_sent.set()

        request = self._http.build_request(
            "POST", url, headers=headers, content=payload, params=params,
            timeout=self._timeout, extensions={"trace": trace},
        )
        sending = asyncio.ensure_future(self._http.send(request, stream=True))
        announced = False
        response: httpx.Response | None = None
        try:
            waiting = asyncio.ensure_future(body_sent.wait())
            try:
                await asyncio.wait({sending, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if body_sent.is_set():
                announced = True
                yield RequestSent()
            response = await sending
        except httpx.TimeoutException as exc:
            attempt.error = _timeout_error(exc).message
            raise _StreamFailure(_timeout_error(exc), during_stream=False) from None
        except httpx.TransportError as exc:
            attempt.error = _connection_error(url, exc).message
            raise _StreamFailure(_connection_error(url, exc), during_stream=False) from None
        finally:
            attempt.duration_ms = int((time.monotonic() - began) * 1000)
            if response is None:
                await _abandon(sending)
        attempt.status = response.status_code
        events = SseTrace()
        # The trace's own list: the events are on the attempt as they arrive (the
        # Completed that carries it is handed on before this attempt's generator ends).
        attempt.sse = events.runs
        try:
            if not announced:
                yield RequestSent()
            if response.status_code >= 400:
                raise _StreamFailure(await _http_error(response), during_stream=False)
            try:
                async for event in self.parse(response, model_request, events):
                    yield event
            except ModelError as error:
                raise _StreamFailure(error, during_stream=True) from None
            except httpx.TimeoutException as exc:
                raise _StreamFailure(_timeout_error(exc), during_stream=True) from None
            except httpx.TransportError as exc:
                raise _StreamFailure(_connection_error(url, exc), during_stream=True) from None
        finally:
            await response.aclose()


async def _abandon(sending: asyncio.Future[httpx.Response]) -> None:
    """An exchange whose response nobody will read (the turn was interrupted while it was
    sent): cancel it, or close the response it already got."""
    if not sending.done():
        sending.cancel()
        return
    if sending.cancelled() or sending.exception() is not None:
        return
    await sending.result().aclose()


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _timeout_error(exc: httpx.TimeoutException) -> ModelError:
    if isinstance(exc, httpx.ConnectTimeout):
        return ModelError(ModelErrorKind.CONNECTION, f"timed out connecting to the model: {exc}")
    return ModelError(ModelErrorKind.IDLE_TIMEOUT, "idle timeout waiting for SSE")


def _connection_error(url: str, exc: httpx.TransportError) -> ModelError:
    detail = str(exc) or type(exc).__name__
    return ModelError(
        ModelErrorKind.CONNECTION,
        f"error sending request for url ({url}): {detail}",
    )


async def _http_error(response: httpx.Response) -> ModelError:
    raw = await response.aread()
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        body: object = msgspec.json.decode(raw) if raw and not nests_too_deeply(raw) else None
    except msgspec.DecodeError:
        body = None
    code = error_code_of(body)
    status = response.status_code
    retry_after = parse_retry_after_ms(response.headers.get("retry-after-ms"))
    if retry_after is None:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None and status == 429:
        retry_after = delay_from_message(text)
    # Codex shows the body as the server sent it; an empty body gets the status line.
    message = text or f"unexpected status {status} {response.reason_phrase}".strip()
    return ModelError(
        kind_for_status(status, code), message, status=status, retry_after=retry_after
    )


def stream_timeout(provider: ModelProviderInfo) -> httpx.Timeout:
    """httpx's read timeout is the idle timeout: it fires when no byte arrives for that
    long, whether we wait for the headers or for the next event of an open stream."""
    idle = provider.effective_stream_idle_timeout_ms / 1000.0
    return httpx.Timeout(idle, connect=min(CONNECT_TIMEOUT_S, max(idle, 1.0)))


def http_client_key(provider: ModelProviderInfo) -> bool:
    """What decides which HTTP client can carry ``provider``'s requests: whether it speaks
    plain ``http://`` (see :func:`http_client_for`)."""
    return (provider.base_url or "").startswith("http://")


def http_client_for(provider: ModelProviderInfo) -> httpx.AsyncClient:
    """An HTTP client for ``provider``'s requests (each request carries its own timeout).

    For a provider on plain ``http://`` (a local server), a client without TLS set-up:
    httpx builds a TLS context with the CA bundle for every client (~35 ms), which such a
    provider never uses, as its requests carry no TLS and redirects are not followed.
    """
    if http_client_key(provider):
        return httpx.AsyncClient(timeout=stream_timeout(provider), verify=False,
                                 follow_redirects=False)
    return httpx.AsyncClient(timeout=stream_timeout(provider))
