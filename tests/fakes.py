"""Shared stand-ins for the AI provider: no test reaches the internet.

Two kinds, for the two ways the engine reaches a model:

* :class:`FakeBackend` — a backend named by dotted path in ``HITL_CRM_AI`` (the extension point
  every deployment can use). It records each call and answers what the test scripted, the skill's
  own offline answer by default. :class:`DownBackend` and :class:`CrashingBackend` are fixed
  behaviours that need no script, so they also work in another process (a Celery worker).
* :class:`FakeLLM` with :func:`serve_fake_llm` — a threaded ``http.server`` on 127.0.0.1 that speaks
  the OpenAI chat-completions and Anthropic messages APIs, records every request body and answers
  from a script (valid JSON, HTTP 500, HTTP 429, malformed JSON, or a sleep past the client's
  timeout), or from a ``responder`` that reads the request. The real SDK adapters talk to it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from django.db import connection

from hitl_crm.ai.backends.base import BackendResponse
from hitl_crm.ai.errors import BackendError

FAKE_OPENAI_KEY = "sk-test-fake-key-that-would-fail-against-a-real-api"
FAKE_ANTHROPIC_KEY = "sk-ant-test-fake-key"

# --- a backend by dotted path ------------------------------------------------------------------

Answer = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class FakeBackend:
    """A local backend (``external = False``: inputs arrive unredacted) that answers from a script.

    ``FakeBackend.answers[skill]`` is the finished output for that skill, or a function of the inputs
    that returns it; a skill without an answer gets its offline output. ``FakeBackend.error``, when
    set, is raised instead. Every call is appended to ``FakeBackend.calls``, with whether a database
    transaction was open at that moment (``in_atomic_block``: no row lock may be held while a model
    works). :func:`fake_ai_reset` clears all three (the ``fake_ai`` fixture does it around each test).
    A subclass may override :meth:`answer` for a fixed behaviour that needs no script.
    """

    name = "fake"
    external = False
    model = "fake-1"
    calls: ClassVar[list[dict[str, Any]]] = []
    answers: ClassVar[dict[str, Answer]] = {}
    error: ClassVar[BaseException | None] = None

    def complete(self, skill: Any, inputs: dict[str, Any], *, config: dict[str, Any]) -> BackendResponse:
        FakeBackend.calls.append(
            {
                "skill": skill.name,
                "inputs": dict(inputs),
                "config": dict(config),
                "in_atomic_block": connection.in_atomic_block,
            }
        )
        failure = self.failure()
        if failure is not None:
            raise failure
        return BackendResponse(output=self.answer(skill, inputs), model=self.model, finalized=True)

    def answer(self, skill: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        scripted = FakeBackend.answers.get(skill.name, skill.offline)
        return scripted(inputs) if callable(scripted) else scripted

    def failure(self) -> BaseException | None:
        return FakeBackend.error


class DownBackend(FakeBackend):
    """The provider is unreachable: every call fails the way a refused connection does."""

    name = "down"
    external = True
    message = "Connection refused (provider unreachable)"

    def failure(self) -> BaseException:
        return BackendError(self.message)


class CrashingBackend(FakeBackend):
    """A custom backend with a bug: it raises something that is not a :class:`BackendError`."""

    name = "crashing"

    def failure(self) -> BaseException:
        return RuntimeError("disk on fire")


def fake_ai_reset() -> None:
    FakeBackend.calls.clear()
    FakeBackend.answers.clear()
    FakeBackend.error = None


def dotted(backend: type[FakeBackend]) -> str:
    return f"{backend.__module__}.{backend.__qualname__}"


def route_skills(settings: Any, *skills: str, backend: type[FakeBackend] = FakeBackend, **options: Any) -> None:
    """Send ``skills`` to ``backend`` (``"default"`` sends every skill without a config of its own)."""
    current = dict(getattr(settings, "HITL_CRM_AI", {}) or {})
    per_skill = dict(current.get("skills") or {})
    config = {"backend": dotted(backend), **options}
    for skill in skills:
        if skill == "default":
            current["default"] = config
        else:
            per_skill[skill] = config
    settings.HITL_CRM_AI = {**current, "skills": per_skill}


# --- a local OpenAI/Anthropic-compatible server -------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``content`` is the text the model "says" (for status 200)."""

    status: int = 200
    content: str = "{}"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: dict[str, Any], **kwargs: Any) -> Reply:
        return cls(content=json.dumps(payload), **kwargs)


@dataclass
class FakeLLM:
    """What the fake provider was asked (``requests``) and what it will answer.

    Answers come from the ``script`` (one reply per request, in order), then from ``responder``
    (a function of the request's JSON body), then ``default``.
    """

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)
    responder: Callable[[dict[str, Any]], Reply] | None = None

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        if self.script:
            return self.script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default

    @property
    def bodies(self) -> list[str]:
        return [r["raw"] for r in self.requests]


def _openai_body(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
    }


def _anthropic_body(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": content}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 200},
    }


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            request = json.loads(raw)
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "json": request})
            reply = fake.next_reply(request)
            if reply.delay:
                time.sleep(reply.delay)
            model = request.get("model", "fake-model")
            if reply.status != 200:
                body = {"error": {"message": f"scripted HTTP {reply.status}", "type": "scripted_error"}}
                if self.path.endswith("/messages"):
                    body = {"type": "error", **body}
            elif self.path.endswith("/chat/completions"):
                body = _openai_body(model, reply.content)
            elif self.path.endswith("/messages"):
                body = _anthropic_body(model, reply.content)
            else:
                reply, body = Reply(status=404), {"error": {"message": f"no route {self.path}"}}
            data = json.dumps(body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): that is the point of a delay reply

    return Handler


@contextmanager
def serve_fake_llm(fake: FakeLLM | None = None) -> Iterator[FakeLLM]:
    """Run the fake provider on a free port of 127.0.0.1 for the duration of the block."""
    fake = fake or FakeLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def llm_config(fake: FakeLLM, *, backend: str = "openai", **options: Any) -> dict[str, Any]:
    """A skill config that sends the skill to ``fake`` through the real ``openai``/``anthropic`` adapter."""
    return {
        "backend": backend,
        "model": "test-model",
        "base_url": f"{fake.url}/v1" if backend == "openai" else fake.url,
        "timeout": 2,
        "max_retries": 0,
        "backoff": 0.01,
        "price_in_per_mtok": 0.5,
        "price_out_per_mtok": 1.5,
        **options,
    }
