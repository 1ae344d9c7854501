"""A small real OpenAI-compatible chat server on 127.0.0.1 that can be scripted to misbehave.

Each request to ``/v1/chat/completions`` (or ``/chat/completions``) takes the next behaviour from a queue (or the
default when the queue is empty). Behaviours:

- ``ok(text=None, delay=0)``: a valid chat completion (after ``delay`` seconds); its content is a QA JSON list built from the passage in the prompt (or the
  given text).
- ``status(code, body=None, retry_after=None)``: an HTTP error (429 with Retry-After, 500, 401 ...).
- ``echo_auth(code=500)``: an error whose body echoes the request's Authorization header (a leaky proxy).
- ``hang(seconds)``: accept the request, answer nothing for ``seconds`` (bounded), then close.
- ``truncated()``: 200 with a Content-Length larger than the body, then close (a cut connection).
- ``non_json()``: 200 with an HTML page as the body.
- ``slow_stream(seconds, interval)``: 200 with headers at once, then one byte every ``interval`` seconds for up to
  ``seconds``: a server that never finishes but never goes quiet.

The server only binds 127.0.0.1, records every request (path, headers, body, monotonic time), and its serve loop
stops by itself after ``lifetime`` seconds even if nobody calls :meth:`FaultServer.stop`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_HANG_S = 60.0


@dataclass
class Behaviour:
    kind: str
    code: int = 200
    body: str | None = None
    retry_after: str | None = None
    seconds: float = 0.0
    interval: float = 0.2
    text: str | None = None


def ok(text: str | None = None, delay: float = 0.0) -> Behaviour:
    return Behaviour("ok", text=text, seconds=min(delay, MAX_HANG_S))


def status(code: int, body: str | None = None, retry_after: float | str | None = None) -> Behaviour:
    return Behaviour(
        "status", code=code, body=body, retry_after=None if retry_after is None else str(retry_after)
    )


def echo_auth(code: int = 500) -> Behaviour:
    return Behaviour("echo_auth", code=code)


def hang(seconds: float) -> Behaviour:
    return Behaviour("hang", seconds=min(seconds, MAX_HANG_S))


def truncated() -> Behaviour:
    return Behaviour("truncated")


def non_json() -> Behaviour:
    return Behaviour("non_json")


def slow_stream(seconds: float = 30.0, interval: float = 0.2) -> Behaviour:
    return Behaviour("slow_stream", seconds=min(seconds, MAX_HANG_S), interval=interval)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    at: float
    behaviour: str


def qa_answer_for(body: dict[str, Any] | None) -> str:
    """A valid QA JSON list for the passage in the last user message (two queries naming its first words)."""
    passage = ""
    for m in (body or {}).get("messages") or []:
        if m.get("role") == "user":
            content = m.get("content")
            passage = content if isinstance(content, str) else json.dumps(content)
    inner = passage.split("<<<", 1)[-1].split(">>>", 1)[0].strip()
    words = [w for w in inner.split() if w.isalnum()][:6] or ["document"]
    subject = " ".join(words)
    return json.dumps(
        [
            {"query": f"what does the text say about {subject}", "kind": "question", "passage": ""},
            {"query": f"{subject} details", "kind": "keyword", "passage": ""},
        ]
    )


def completion(content: str, model: str = "fault-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@dataclass
class FaultServer:
    """Start with ``with FaultServer() as srv:``; ``srv.base_url`` is the OpenAI base URL (``.../v1``)."""

    default: Behaviour = field(default_factory=ok)
    lifetime: float = 180.0
    queue: deque[Behaviour] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - /v1/models, for clients that probe
                self._send_json(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                b = server._next()
                with server._lock:
                    server.requests.append(
                        Request(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            b.kind,
                        )
                    )
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                getattr(self, f"_do_{b.kind}")(b, body)

            # ------------------------------------------------------------ behaviours
            def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _do_ok(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                if b.seconds:
                    server._stop.wait(b.seconds)
                self._send_json(200, completion(b.text if b.text is not None else qa_answer_for(body)))

            def _do_status(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                headers = {"Retry-After": b.retry_after} if b.retry_after is not None else {}
                msg = b.body or f"scripted error {b.code}"
                self._send_json(b.code, {"error": {"message": msg, "type": "fault", "code": b.code}}, headers)

            def _do_echo_auth(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                auth = self.headers.get("Authorization", "")
                self._send_json(
                    b.code,
                    {
                        "error": {
                            "message": f"upstream rejected request with header Authorization: {auth}",
                            "code": b.code,
                        }
                    },
                )

            def _do_hang(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                server._stop.wait(b.seconds)
                self.close_connection = True

            def _do_truncated(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                data = json.dumps(completion(qa_answer_for(body))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _do_non_json(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                data = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _do_slow_stream(self, b: Behaviour, body: dict[str, Any] | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(10_000_000))
                self.end_headers()
                self.wfile.write(b'{"id": "chatcmpl-slow", "choices": [')
                self.wfile.flush()
                end = time.monotonic() + b.seconds
                try:
                    while time.monotonic() < end and not server._stop.is_set():
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        server._stop.wait(b.interval)
                except OSError:  # the client gave up: that is the point
                    pass
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.timeout = 0.2
        self._thread = threading.Thread(target=self._serve, name="llm-fault-server", daemon=True)

    # ------------------------------------------------------------------ control
    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._httpd.handle_request()
        self._stop.set()

    def _next(self) -> Behaviour:
        with self._lock:
            return self.queue.popleft() if self.queue else self.default

    def script(self, *behaviours: Behaviour) -> FaultServer:
        with self._lock:
            self.queue.extend(behaviours)
        return self

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def main() -> None:  # python -m tests.reliability.llm_fault_server [lifetime] : for subprocess tests
    import sys

    srv = FaultServer(lifetime=float(sys.argv[1]) if len(sys.argv) > 1 else 120.0).start()
    print(srv.base_url, flush=True)
    srv._thread.join()


if __name__ == "__main__":
    main()
