"""An OpenAI-compatible chat API, served by ``ragqa ui`` beside the chat window.

Any OpenAI client (the ``openai`` SDK, Open WebUI, LibreChat, ...) can use
ragqa as a "model":

* ``GET /v1/models`` lists one model per collection served, ``ragqa-NAME``
  (today the one ``ragqa ui --collection NAME`` serves, :data:`DEFAULT_MODEL`
  by default); ``GET /v1/models/{id}`` shows one.
* ``POST /v1/chat/completions``, streamed (``"stream": true``, server-sent
  events) or not. The last message must be the user's question; earlier
  user/assistant turns go with it to :meth:`qa.pipeline.Pipeline.stream`,
  as the chat window's do, so "When did he join Kingsoft?" is searched for
  with the name it refers to. System messages are accepted
  and ignored: ragqa answers from the documents only.

The answer text carries ``[n]`` markers. Everything else travels in an extra
top-level ``ragqa`` field (of the response, and of the final stream chunk)::

    "ragqa": {
      "abstained": false,          # true: the documents do not say; the text says so
      "reason": "quoted the passage sentence that best answers the question",
      "confidence": 0.93,
      "retrieval_query": "When did Lei Jun join Kingsoft?",
      "citations": [{"number": 1, "document": "Lei Jun", "file": "lei_jun.txt",
                     "location": null, "start": 1570, "end": 1626, "text": "...",
                     "supports_answer": true}]
    }

``document`` is the document's title and ``file`` its file name (never a path
on the server); ``start`` and ``end`` are offsets into its cleaned text and
``text`` is exactly that span; ``location`` is where the span lies in the
reader's terms (``{"kind": "page", "label": "page 2"}``), null where the
document has no such marks.

Streaming: a stream's ``content`` deltas add up to the final answer, as
clients expect, so they hold the checked answer only. With drafts on
(``[answer] draft = true``), the generator's draft
(which the answer may not repeat: ragqa answers by quoting the documents)
is sent while it is written as chunks with an empty delta and
``"ragqa": {"draft": "..."}``, which ordinary clients ignore.

Limits: a request body over ``[api] max_request_bytes`` (1 MiB) is refused
(413), as is anything malformed (400, or 404 for an unknown model), with an
OpenAI-style ``{"error": {"message": ...}}``. Questions run in a worker
thread, at most ``[ui] concurrency_limit`` at once, with at most
``[ui] max_queue_size`` more waiting (beyond that: 429, busy); the generator
itself writes one answer at a time for the API and the chat window together,
and documents added in the chat window wait for the API's questions in
flight, and they for it (:mod:`ui.guard`).

Access: bound beyond loopback the API needs ``[api] key`` (or
``RAGQA_API__KEY``), sent as ``Authorization: Bearer KEY``; without a key set
it then refuses every request. On loopback a key is checked when one is set.
The chat window's login does not cover these routes (they are not Gradio's).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from corpus.errors import GeneratorError, QuestionError, RagqaError, SavedIndexError
from qa.answerer import HISTORY_TURNS
from qa.collections import CollectionPipelines
from qa.pipeline import AnswerStream, Pipeline
from qa.types import Answer, Citation, Token
from ui.config import ApiConfig
from ui.guard import guard_for

logger = logging.getLogger(__name__)

MODEL_PREFIX = "ragqa-"
DEFAULT_MODEL = "ragqa-default"  # the shipped collection, "default"
PREFIX = "/v1"
GENERIC_ERROR = "Something went wrong while answering; the server log has the details."
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_DRAIN_LIMIT = 64 * 1024 * 1024  # past this, an oversized body is not even read to its end


class ApiError(RagqaError):
    """A request the API refuses, with its HTTP status and OpenAI-style error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


# --- models: one per collection --------------------------------------------------
@dataclass(frozen=True)
class Model:
    """A collection as an OpenAI client sees it."""

    id: str
    created: int = 0

    def __post_init__(self) -> None:
        if not self.id or "/" in self.id or self.id != self.id.strip():
            raise ValueError(f"A model id must be a non-empty name without '/'. Got {self.id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": "ragqa"}


class Collections(Protocol):
    """Where model ids lead: the seam through which several collections plug in."""

    def models(self) -> Sequence[Model]: ...

    def pipeline(self, model_id: str) -> Pipeline | None:
        """The pipeline answering for ``model_id``, or None when there is no such model."""
        ...


def model_id(collection: str) -> str:
    """The model id under which a collection is served.

    >>> model_id("default"), model_id("contracts-2026")
    ('ragqa-default', 'ragqa-contracts-2026')
    """
    return MODEL_PREFIX + collection


class ServedCollections:
    """Every collection the server offers, each as the model ``ragqa-NAME``."""

    def __init__(self, collections: CollectionPipelines) -> None:
        self._collections = collections

    def models(self) -> Sequence[Model]:
        found = []
        for name in self._collections.names():
            built = self._collections.pipeline(name).config.index_dir / "CURRENT"
            created = int(built.stat().st_mtime) if built.is_file() else 0
            found.append(Model(model_id(name), created))
        return found

    def pipeline(self, model_id: str) -> Pipeline | None:
        name = model_id.removeprefix(MODEL_PREFIX)
        if name == model_id or name not in self._collections.names():
            return None
        return self._collections.pipeline(name)


# --- requests ----------------------------------------------------------------------
def _message_text(content: object, where: str) -> str:
    """The text of a message's ``content``: a string, or a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(
                    400,
                    f"{where}.content[{index}] is not a text part: ragqa reads text only "
                    '({"type": "text", "text": "..."}).',
                    param=f"{where}.content",
                )
            if not isinstance(part.get("text"), str):
                raise ApiError(400, f"{where}.content[{index}].text must be a string.", param=where)
            texts.append(part["text"])
        return " ".join(texts)
    raise ApiError(
        400,
        f"{where}.content must be a string or a list of text parts, not {type(content).__name__}.",
        param=f"{where}.content",
    )


@dataclass(frozen=True)
class ChatRequest:
    """A checked ``/v1/chat/completions`` request.

    >>> request = ChatRequest.parse({"model": "m", "messages": [
    ...     {"role": "user", "content": "Who is Lei Jun?"},
    ...     {"role": "assistant", "content": "The founder of Xiaomi. [1]"},
    ...     {"role": "user", "content": "When did he join Kingsoft?"}]})
    >>> request.question, request.history
    ('When did he join Kingsoft?', (('Who is Lei Jun?', 'The founder of Xiaomi. [1]'),))
    """

    model: str
    question: str
    history: tuple[tuple[str, str], ...] = ()
    stream: bool = False
    question_at: int = 0  # the index of the question's message

    @classmethod
    def parse(cls, body: object) -> ChatRequest:
        """Check a decoded JSON body; raises :class:`ApiError` (400) naming what is wrong."""
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(
                400,
                "'model' is required and must be a string (GET /v1/models lists them).",
                param="model",
            )
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be true or false.", param="stream")
        n = body.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != 1):
            raise ApiError(400, "'n' must be 1: ragqa writes one answer.", param="n")
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise ApiError(400, "'stream_options' must be an object.", param="stream_options")

        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(
                400,
                "'messages' is required: a non-empty list of {role, content} objects whose "
                "last one is the user's question.",
                param="messages",
            )
        turns: list[tuple[str, str]] = []
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise ApiError(
                    400, f"{where} must be an object with 'role' and 'content'.", param="messages"
                )
            role = message.get("role")
            if not isinstance(role, str) or role not in _ROLES:
                raise ApiError(
                    400,
                    f"{where}.role must be one of {', '.join(sorted(_ROLES))}; got {role!r:.40}.",
                    param=f"{where}.role",
                )
            turns.append((role, _message_text(message.get("content"), where)))
        if turns[-1][0] != "user":
            what = (
                "there is no user message"
                if all(role != "user" for role, _ in turns)
                else f"the last message is the {turns[-1][0]}'s"
            )
            raise ApiError(
                400,
                f"The last message must be the user's question, but {what}.",
                param="messages",
            )
        history: list[tuple[str, str]] = []
        asked: str | None = None
        for role, text in turns[:-1]:
            if role == "user":
                asked = text
            elif role == "assistant" and asked is not None:
                history.append((asked, text))
                asked = None
        return cls(
            model=model,
            question=turns[-1][1],
            history=tuple(history[-HISTORY_TURNS:]),
            stream=bool(stream),
            question_at=len(turns) - 1,
        )

    def start(self, pipeline: Pipeline) -> AnswerStream:
        """Hand the question and its conversation to ``pipeline``; the question
        is checked now (nothing is retrieved until the stream is read)."""
        try:
            return pipeline.stream(self.question, history=self.history)
        except QuestionError as error:
            raise ApiError(
                400,
                f"The question (the last user message): {error}",
                param=f"messages[{self.question_at}].content",
            ) from None


# --- responses ---------------------------------------------------------------------
def citation_json(citation: Citation) -> dict[str, Any]:
    """A citation as the API shows it: the document's title and file name, never
    its path on the server, nor internal ids.

    ``location`` takes the shape ``ragqa ask --json`` gives it
    (``{"kind": "page", "label": "page 2"}``) where the citation carries one.
    """
    return {
        "number": citation.number,
        "document": citation.document,
        "file": PurePath(citation.source_path).name,
        "location": citation.location.to_dict() if citation.location is not None else None,
        "start": citation.start,
        "end": citation.end,
        "text": citation.text,
        "supports_answer": citation.supports_answer,
    }


def answer_extra(answer: Answer) -> dict[str, Any]:
    """The ``ragqa`` field: whether ragqa abstained, why, and the citations."""
    return {
        "abstained": answer.abstained,
        "reason": answer.reason,
        "confidence": round(answer.confidence, 4),
        "retrieval_query": answer.retrieval_query,
        "citations": [citation_json(c) for c in answer.citations],
    }


def _completion(answer: Answer, model: str, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
            }
        ],
        "ragqa": answer_extra(answer),
    }


def _chunk(
    model: str,
    completion_id: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if extra is not None:
        chunk["ragqa"] = extra
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


# --- running questions off the event loop ---------------------------------------------
class Gate:
    """At most ``limit`` questions answered at once and ``max_waiting`` more queued."""

    def __init__(self, limit: int, max_waiting: int) -> None:
        if limit < 1 or max_waiting < 0:
            raise ValueError(f"limit must be >= 1 and max_waiting >= 0; got {limit}, {max_waiting}")
        self._slots = threading.BoundedSemaphore(limit)
        self._capacity = limit + max_waiting
        self._admitted = 0
        self._count_lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Questions being answered or waiting now."""
        return self._admitted

    def admit(self) -> Place | None:
        """A place (answering or waiting), or None when every place is taken."""
        with self._count_lock:
            if self._admitted >= self._capacity:
                return None
            self._admitted += 1
        return Place(self)

    def _leave(self) -> None:
        with self._count_lock:
            self._admitted -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``limit`` answering slots (blocks until one is free)."""
        with self._slots:
            yield


class Place:
    """One admitted request's place at the gate; leaving twice counts once.

    Whoever holds it last leaves: the worker thread once it has been handed
    over, else the request that was admitted.
    """

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._left = False
        self._lock = threading.Lock()
        self.handed_over = False

    def leave(self) -> None:
        with self._lock:
            if self._left:
                return
            self._left = True
        self._gate._leave()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


class OpenAIApi:
    """The ``/v1`` routes over some collections."""

    def __init__(
        self,
        collections: Collections,
        config: ApiConfig,
        *,
        public: bool,
        concurrency_limit: int = 1,
        max_waiting: int = 16,
    ) -> None:
        self.collections = collections
        self.config = config
        self.public = public
        self.gate = Gate(concurrency_limit, max_waiting)

    # --- access and input ---------------------------------------------------------
    def authorise(self, request: Request) -> None:
        """Refuse a request without the right key (before its body is read)."""
        if not self.config.key:
            if self.public:
                raise ApiError(
                    401,
                    "This server is reachable from other machines, so its API needs a key: "
                    "set [api] key (or RAGQA_API__KEY) where ragqa runs and send it as "
                    "'Authorization: Bearer KEY'.",
                    code="api_key_required",
                )
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode("utf-8"), self.config.key.strip().encode("utf-8")
        ):
            raise ApiError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer KEY' with the key set in "
                "[api] key (RAGQA_API__KEY) on the server.",
                code="invalid_api_key",
            )

    async def read_json(self, request: Request) -> object:
        """The decoded body, refusing one over ``max_request_bytes`` (413)."""
        limit = self.config.max_request_bytes
        too_large = ApiError(
            413,
            f"The request body is over {limit} bytes ([api] max_request_bytes); a question "
            "is at most a few thousand characters.",
            code="request_too_large",
        )
        declared = request.headers.get("content-length", "")
        body = bytearray()
        size = 0
        async for piece in request.stream():
            size += len(piece)
            if size > limit:
                # Read on (without keeping it) so that the client is done sending and
                # reads the 413, rather than meeting a closed connection.
                if size > _DRAIN_LIMIT or (declared.isdigit() and int(declared) > _DRAIN_LIMIT):
                    raise too_large
                continue
            body += piece
        if size > limit:
            raise too_large
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "The request body is not valid JSON (UTF-8).") from None

    def pipeline_for(self, model: str) -> Pipeline:
        pipeline = self.collections.pipeline(model)
        if pipeline is None:
            known = ", ".join(m.id for m in self.collections.models())
            raise ApiError(
                404,
                f"The model {model!r:.80} does not exist; the models are: {known}.",
                param="model",
                code="model_not_found",
            )
        return pipeline

    # --- answering ----------------------------------------------------------------
    async def events(
        self, pipeline: Pipeline, answering: AnswerStream, place: Place
    ) -> AsyncGenerator[Token | Answer, None]:
        """``answering``'s tokens and answer, computed in a worker thread.

        The worker takes over ``place`` and leaves the gate when it ends.
        Closing this iterator early (a client that went away) stops the worker
        at its next token.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the server shut down meanwhile
                stop.set()

        def work() -> None:
            try:
                # The index guard keeps the chat window's uploads from swapping the
                # index out from under this question (ui.guard).
                with self.gate.slot(), guard_for(pipeline).reading():
                    if stop.is_set():
                        return
                    try:
                        for event in answering:
                            put(event)
                            if stop.is_set():
                                break
                    finally:
                        answering.close()
            except BaseException as error:
                put(_Failed(error))
            finally:
                place.leave()
                put(_DONE)

        place.handed_over = True
        threading.Thread(target=work, name="ragqa-api-answer", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                if isinstance(item, Token | Answer):
                    yield item
        finally:
            stop.set()

    @staticmethod
    def failure(error: BaseException, question: str) -> ApiError:
        """What to tell a client about a pipeline that failed.

        The server's own errors name paths on the server, so a client gets
        what kind of problem it is and the log gets the whole message.
        """
        if isinstance(error, QuestionError):
            return ApiError(400, str(error), param="messages")
        if isinstance(error, SavedIndexError):
            logger.error("API question %r: %s", question, error)
            message = (
                "ragqa cannot open its index (not built yet, or damaged); the server log "
                "says where and what to do."
            )
            return ApiError(503, message, kind="server_error", code="index_unavailable")
        if isinstance(error, GeneratorError):
            logger.error("API question %r: %s", question, error)
            message = "ragqa's answer generator failed; the server log has the details."
            return ApiError(503, message, kind="server_error", code="generator_unavailable")
        logger.error("API question %r failed", question, exc_info=error)
        return ApiError(500, GENERIC_ERROR, kind="server_error")

    async def answer(
        self, request: ChatRequest, pipeline: Pipeline, answering: AnswerStream, place: Place
    ) -> Response:
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        answer: Answer | None = None
        try:
            async with aclosing(self.events(pipeline, answering, place)) as events:
                async for event in events:
                    if isinstance(event, Answer):
                        answer = event
            if answer is None:
                raise RuntimeError("the pipeline ended without an answer")
        except Exception as error:
            return self.failure(error, request.question).response()
        finally:
            if not place.handed_over:
                place.leave()
        return JSONResponse(_completion(answer, request.model, completion_id, created))

    async def stream(
        self,
        request: ChatRequest,
        pipeline: Pipeline,
        answering: AnswerStream,
        place: Place,
        client: Request,
    ) -> AsyncIterator[str]:
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        model = request.model
        answer: Answer | None = None
        try:
            yield _chunk(model, completion_id, created, {"role": "assistant", "content": ""})
            # A client that leaves stops the worker at the next token: the server
            # notices it here, as a write may not fail until later.
            async with aclosing(self.events(pipeline, answering, place)) as events:
                async for event in events:
                    if await client.is_disconnected():
                        return
                    if isinstance(event, Token):
                        yield _chunk(model, completion_id, created, {}, extra={"draft": event.text})
                    else:
                        answer = event
            if answer is None:
                raise RuntimeError("the pipeline ended without an answer")
        except Exception as error:
            failure = self.failure(error, request.question)
            yield f"data: {json.dumps(failure.body(), ensure_ascii=False)}\n\n"
            return
        finally:
            if not place.handed_over:
                place.leave()
        yield _chunk(model, completion_id, created, {"content": answer.text})
        yield _chunk(model, completion_id, created, {}, "stop", extra=answer_extra(answer))
        yield "data: [DONE]\n\n"

    # --- routes -------------------------------------------------------------------
    async def list_models(self, request: Request) -> Response:
        try:
            self.authorise(request)
        except ApiError as error:
            return error.response()
        models = [m.to_dict() for m in self.collections.models()]
        return JSONResponse({"object": "list", "data": models})

    async def show_model(self, request: Request, model_id: str) -> Response:
        try:
            self.authorise(request)
            self.pipeline_for(model_id)
        except ApiError as error:
            return error.response()
        model = next(m for m in self.collections.models() if m.id == model_id)
        return JSONResponse(model.to_dict())

    async def chat_completions(self, request: Request) -> Response:
        try:
            self.authorise(request)
            body = await self.read_json(request)
            model = body.get("model") if isinstance(body, dict) else None
            pipeline = self.pipeline_for(model) if isinstance(model, str) and model else None
            chat = ChatRequest.parse(body)
            if pipeline is None:  # parse() has said what is wrong with "model" by now
                raise ApiError(400, "'model' is required.", param="model")
            answering = chat.start(pipeline)
            place = self.gate.admit()
            if place is None:
                raise ApiError(
                    429,
                    "ragqa is busy answering other questions; try again in a moment.",
                    kind="rate_limit_error",
                    code="busy",
                )
        except ApiError as error:
            return error.response()
        if not chat.stream:
            return await self.answer(chat, pipeline, answering, place)
        return StreamingResponse(
            self.stream(chat, pipeline, answering, place, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def routes(self) -> list[BaseRoute]:
        """The routes, for ``Blocks.launch(app_kwargs={"routes": ...})``."""
        router = APIRouter(prefix=PREFIX)
        router.add_api_route("/models", self.list_models, methods=["GET"])
        router.add_api_route("/models/{model_id}", self.show_model, methods=["GET"])
        router.add_api_route("/chat/completions", self.chat_completions, methods=["POST"])
        return list(router.routes)
