"""Helpers of the language-model tests: a deterministic chat server and small knowledge bases."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from igmm.llm.flowers import FLOWERS
from igmm.llm.labels import ListLabeller

TOPIC_QUESTIONS = (
    "Which is the most beautiful flower you have ever seen?",
    "What is the most popular movie?",
    "Which state in the US should I live in?",
)


class ChatServer:
    """A chat-completions server on 127.0.0.1 whose answers depend only on the request.

    The answer names the word of ``vocabulary`` (default the flowers) that
    the context names, switches to another word for some (context, seed)
    pairs, and leaves out ``phrase`` for others, so regeneration and the
    dynamics are both exercised.

    ``echo_authorization`` makes every request fail with that HTTP status
    and a body quoting the request's Authorization header (as some servers
    do); ``key_in_answer`` appends that header to every answer.

    Attributes
    ----------
    requests : list of dict
        Every request body received, in order of arrival.
    answered : list of dict
        The request bodies answered with HTTP 200.
    n_ok : int
        Requests answered with HTTP 200.
    authorization : list of str or None
        The Authorization header of every request.
    max_in_flight : int
        Most requests handled at the same time.
    """

    def __init__(self, delay: float = 0.0, fail_after: int | None = None, transient_failures: int = 0,
                 fail_status: int = 503, missing_phrase_every: int = 5, vocabulary: tuple[str, ...] = FLOWERS,
                 phrase: str = "The prettiest flower is", echo_authorization: int | None = None,
                 key_in_answer: bool = False):
        self.vocabulary = vocabulary
        self.labeller = ListLabeller(vocabulary)
        self.phrase = phrase
        self.echo_authorization = echo_authorization
        self.key_in_answer = key_in_answer
        self.delay = delay
        self.fail_after = fail_after
        self.transient_failures = transient_failures
        self.fail_status = fail_status
        self.missing_phrase_every = missing_phrase_every
        self.requests: list[dict] = []
        self.answered: list[dict] = []
        self.authorization: list[str | None] = []
        self.n_ok = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, body: dict) -> str:
        context = body["messages"][-1]["content"]
        digest = int(hashlib.sha256(f"{context}|{body.get('seed')}".encode()).hexdigest(), 16)
        word = self.labeller.label(context.split("\n\n")[0])
        if word == self.labeller.unlabeled or digest % 4 == 0:
            word = (digest // 4) % len(self.vocabulary)
        if digest % self.missing_phrase_every == 1:
            return f"Surely the {self.vocabulary[word]} is the loveliest bloom."
        return f"{self.phrase} the {self.vocabulary[word]}, admired for its colour number {digest % 97}."

    def _record(self, handler: BaseHTTPRequestHandler) -> dict:
        """Read and record a request on arrival (before any delay)."""
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        with self._lock:
            self.requests.append(body)
            self.authorization.append(handler.headers.get("Authorization"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return body

    def _respond(self, body: dict, authorization: str | None) -> tuple[int, dict]:
        if self.echo_authorization is not None:
            return self.echo_authorization, {"error": f"invalid credentials: {authorization}"}
        with self._lock:
            if self.transient_failures > 0:
                self.transient_failures -= 1
                return self.fail_status, {"error": "try again"}
            if self.fail_after is not None and self.n_ok >= self.fail_after:
                return 400, {"error": "refused"}
            self.n_ok += 1
            self.answered.append(body)
        content = self.answer(body) + (f" (sent with {authorization})" if self.key_in_answer else "")
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                body = server._record(self)
                try:
                    time.sleep(server.delay)
                    status, payload = server._respond(body, self.headers.get("Authorization"))
                finally:
                    with server._lock:
                        server.in_flight -= 1
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_rags(path: Path, n_agents: int = 6) -> Path:
    """Small knowledge bases like the released ``RAGs.npz``: agent i's favourite flower is FLOWERS[i]."""
    rags = np.empty((n_agents, 2, len(TOPIC_QUESTIONS)), dtype="<U200")
    for agent in range(n_agents):
        rags[agent, 0, :] = TOPIC_QUESTIONS
        rags[agent, 1, :] = (f"{FLOWERS[agent].title()} - lovely petals.", f"Movie {agent}", f"State {agent}")
    with open(path, "wb") as handle:
        np.savez(handle, arr_0=rags)
    return path
