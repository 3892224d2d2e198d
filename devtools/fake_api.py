"""A fake Anthropic Messages API on 127.0.0.1, for tests, benchmarks, the soak run and demos.

Development and test tool only: it binds to the loopback interface and never reaches the network.
Point ANTHROPIC_BASE_URL at `server.url` and the real `anthropic` client runs its whole network path
(request building, retries, parsing) against it. It answers `POST /v1/messages` with its `answer`
function (by default the fake model, which reads each e-mail: devtools.fake_model) and
`POST /v1/messages/count_tokens` with `{"input_tokens": N}`.

`answer(payload)` returns `(status, body)` or a `Reply`, which can also delay the answer (a slow or
hanging API), send raw bytes (garbage) or cut the body short (a dropped connection).

From a shell (prints the URL; Ctrl-C stops it):

    python -m devtools.fake_api --port 8765 [--latency-ms 300] [--fail-rate 0.2] [--seed 1]
"""

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devtools import fake_model

LOOPBACK = "127.0.0.1"
MESSAGES_PATH, COUNT_TOKENS_PATH = "/v1/messages", "/v1/messages/count_tokens"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: `body` is a dict (sent as JSON) or raw bytes."""

    status: int = 200
    body: dict | bytes = b""
    delay: float = 0.0  # seconds to wait before answering
    cut_at: int | None = None  # send only this many body bytes, then close the connection


def message_body(text, *, model="claude-sonnet-4-6", input_tokens=1200, output_tokens=90, stop_reason="end_turn"):
    """A Messages API 200 body with one text block."""
    return {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def error_body(error_type, message):
    return {"type": "error", "error": {"type": error_type, "message": message}}


class FakeModel:
    """`answer` that reads each request's e-mail (devtools.fake_model), after `latency_ms`.

    Usage counts what the request really holds: input tokens as count_tokens estimates them,
    output tokens ~4 characters each. With `remember`, a request seen before is answered from memory
    (for benchmarks of the product's own overhead: the fake's reading is not part of it).
    """

    def __init__(self, *, latency_ms=0, remember=False):
        self.latency = latency_ms / 1000
        self.remembered = {} if remember else None

    def __call__(self, payload):
        key = json.dumps(payload, sort_keys=True) if self.remembered is not None else None
        reply = self.remembered.get(key) if key else None
        if reply is None:
            reply = self._reply(payload)
            if key:
                self.remembered[key] = reply
        return reply

    def _reply(self, payload):
        try:
            text = fake_model.answer(payload)
        except fake_model.FakeModelError as exc:
            return Reply(400, error_body("invalid_request_error", str(exc)))
        body = message_body(
            text, model=payload["model"], input_tokens=fake_model.count_tokens(payload),
            output_tokens=max(1, len(text) // 4),
        )
        return Reply(200, body, delay=self.latency)


good_answer = FakeModel()


# Faults a real API (or the proxies before it) produces, with their relative weights.
FAULT_WEIGHTS = {
    "rate_limited": 8,  # 429
    "server_error": 8,  # 500
    "overloaded": 8,  # 529
    "timeout": 4,  # answered only after the client's timeout
    "garbage_text": 5,  # a 200 whose text is prose, not JSON
    "truncated_json": 5,  # cut off at max_tokens
    "garbage_body": 4,  # a 200 whose body is a proxy's HTML page
    "dropped_connection": 3,  # headers and part of the body, then the connection closes
}


class FlakyMessagesAPI:
    """`answer` for FakeAnthropicServer: `answer`'s replies, and with probability `fault_rate` a random fault.

    `timeout_delay` must exceed the client's ANTHROPIC_TIMEOUT_SECONDS. `served` counts what was sent.
    """

    def __init__(self, *, fault_rate, seed=0, timeout_delay=1.0, answer=good_answer):
        self.fault_rate = fault_rate
        self.timeout_delay = timeout_delay
        self.answer = answer
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.served = Counter()

    def __call__(self, payload):
        with self.lock:
            kind = "ok"
            if self.random.random() < self.fault_rate:
                kind = self.random.choices(list(FAULT_WEIGHTS), weights=list(FAULT_WEIGHTS.values()))[0]
            self.served[kind] += 1
        return self.reply(kind, payload)

    def reply(self, kind, payload):
        good = self.answer(payload)
        model = payload["model"]
        if kind == "ok" or good.status != 200:
            return good
        if kind in ("rate_limited", "server_error", "overloaded"):
            status, error_type = {"rate_limited": (429, "rate_limit_error"), "server_error": (500, "api_error"),
                                  "overloaded": (529, "overloaded_error")}[kind]
            return Reply(status, error_body(error_type, f"fake {kind.replace('_', ' ')}"))
        if kind == "timeout":
            return Reply(good.status, good.body, delay=self.timeout_delay)
        if kind == "garbage_text":
            return Reply(200, message_body("Gerne! Die Forderung beträgt wohl 2.847,13 €.", model=model))
        if kind == "truncated_json":
            text = good.body["content"][0]["text"]
            return Reply(200, message_body(text[: len(text) // 2], model=model, stop_reason="max_tokens"))
        if kind == "garbage_body":
            return Reply(200, b"<html><body>502 Bad Gateway</body></html>")
        return Reply(good.status, good.body, cut_at=40)  # dropped_connection


def count_tokens_answer(payload):
    """The count_tokens endpoint's answer: the fake model's estimate."""
    return Reply(200, {"input_tokens": fake_model.count_tokens(payload)})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: the client reuses its connection
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path = self.path.split("?")[0]
        if path == MESSAGES_PATH:
            with self.server.lock:
                self.server.requests.append(payload)
            reply = self.server.answer(payload)
        elif path == COUNT_TOKENS_PATH:
            with self.server.lock:
                self.server.token_counts.append(payload)
            reply = self.server.count_tokens(payload)
        else:
            reply = Reply(404, error_body("not_found_error", f"the fake API has no {path}"))
        if not isinstance(reply, Reply):
            reply = Reply(*reply)
        if reply.delay:
            time.sleep(reply.delay)
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after-ms", "1")  # the SDK's retries are instant instead of seconds apart
        if reply.cut_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data if reply.cut_at is None else data[: reply.cut_at])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout) or was killed while the answer was delayed
        if reply.cut_at is not None:
            self.close_connection = True

    def log_message(self, format, *args):
        pass  # quiet: tests and benchmarks print their own output


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client killed mid-request (a test's kill -9, a timeout) is expected here, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeAnthropicServer:
    """Context manager: a threaded HTTP server on 127.0.0.1 answering the Messages API with `answer`.

    `answer` may be replaced while it runs (`server.answer = ...`); `requests` holds the payloads of
    POST /v1/messages, `token_counts` those of POST /v1/messages/count_tokens.
    """

    def __init__(self, answer=good_answer, *, port=0, count_tokens=count_tokens_answer):
        self._server = _Server((LOOPBACK, port), _Handler)
        self._server.answer = answer
        self._server.count_tokens = count_tokens
        self._server.requests = []
        self._server.token_counts = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    @property
    def answer(self):
        return self._server.answer

    @answer.setter
    def answer(self, answer):
        self._server.answer = answer

    @property
    def requests(self):
        return self._server.requests

    @property
    def token_counts(self):
        return self._server.token_counts

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fake_api",
        description="A fake Anthropic Messages API on 127.0.0.1 that answers from each e-mail's own text. "
                    "Point ANTHROPIC_BASE_URL at the URL it prints. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (default: a free one).")
    parser.add_argument("--latency-ms", type=float, default=0, help="Delay of every answer (default 0).")
    parser.add_argument("--fail-rate", type=float, default=0, help="Share of requests answered with a fault (0..1).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the fault sequence (default 0).")
    parser.add_argument(
        "--timeout-seconds", type=float, default=1.0,
        help="How long a 'timeout' fault waits; set it above ANTHROPIC_TIMEOUT_SECONDS (default 1).",
    )
    args = parser.parse_args(argv)
    if not (0 <= args.fail_rate <= 1 and args.latency_ms >= 0 and 0 <= args.port <= 65535):
        parser.error("--fail-rate must be between 0 and 1, --latency-ms not negative, --port 0..65535")
    answer = FakeModel(latency_ms=args.latency_ms)
    if args.fail_rate:
        answer = FlakyMessagesAPI(fault_rate=args.fail_rate, seed=args.seed, timeout_delay=args.timeout_seconds,
                                  answer=answer)
    with FakeAnthropicServer(answer, port=args.port) as server:
        print(f"Fake Anthropic API on {server.url}  (ANTHROPIC_BASE_URL={server.url} ANTHROPIC_API_KEY=fake)",
              flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
