"""Fixtures for the AI engine tests: a local OpenAI/Anthropic-compatible HTTP server.

No test reaches the internet: LLM backends talk to :class:`FakeLLM`, a threaded
``http.server`` on 127.0.0.1 that records every request body and answers from a script
(valid JSON, HTTP 500, HTTP 429, malformed JSON, or a sleep past the client's timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

FAKE_OPENAI_KEY = "sk-test-fake-key-that-would-fail-against-a-real-api"
FAKE_ANTHROPIC_KEY = "sk-ant-test-fake-key"


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
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def next_reply(self) -> Reply:
        return self.script.popleft() if self.script else self.default

    @property
    def bodies(self) -> list[str]:
        return [r["raw"] for r in self.requests]


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            fake.requests.append(
                {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": json.loads(raw)}
            )
            reply = fake.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            model = json.loads(raw).get("model", "fake-model")
            if reply.status != 200:
                body = {"error": {"message": f"scripted HTTP {reply.status}", "type": "scripted_error"}}
                if self.path.endswith("/messages"):
                    body = {"type": "error", **body}
            elif self.path.endswith("/chat/completions"):
                body = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply.content},
                        }
                    ],
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
                }
            elif self.path.endswith("/messages"):
                body = {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": reply.content}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1000, "output_tokens": 200},
                }
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


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def use_llm(settings, fake_llm: FakeLLM, monkeypatch) -> Callable[..., FakeLLM]:
    """Route a skill to the fake server: ``use_llm("draft_reply", backend="openai", max_retries=1)``."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)

    def configure(skill: str, *, backend: str = "openai", **options: Any) -> FakeLLM:
        base_url = f"{fake_llm.url}/v1" if backend == "openai" else fake_llm.url
        config = {
            "backend": backend,
            "model": "test-model",
            "base_url": base_url,
            "timeout": 2,
            "max_retries": 0,
            "backoff": 0.01,
            "price_in_per_mtok": 0.5,
            "price_out_per_mtok": 1.5,
            **options,
        }
        current = dict(getattr(settings, "HITL_CRM_AI", {}) or {})
        skills = dict(current.get("skills") or {})
        skills[skill] = config
        settings.HITL_CRM_AI = {**current, "skills": skills}
        return fake_llm

    return configure
