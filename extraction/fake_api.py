"""A fake Anthropic Messages API on 127.0.0.1, for tests, benchmarks and `manage.py soak`.

Development and test tool only: it binds to the loopback interface, answers whatever its `answer`
function says and never reaches the network. Point ANTHROPIC_BASE_URL at `server.url` and the real
`anthropic` client runs its whole network path (request building, retries, parsing) against it.

`answer(payload)` returns `(status, body)` or a `Reply`, which can also delay the answer (a slow or
hanging API), send raw bytes (garbage) or cut the body short (a dropped connection).
"""

import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


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


def is_classification(payload):
    """True for a request made with the classification prompt (its text asks to classify)."""
    return "Klassifiziere" in payload["messages"][0]["content"][-1]["text"]


INTENT = json.dumps({"intent": "debt_statement", "confidence": 0.95})
FACTS = json.dumps({
    "creditor_name": "Creditreform Inkasso Süd GmbH & Co. KG", "creditor_reference": "INK-2026-0048815",
    "debtor_name": "Jürgen Weiß", "total_claim": "2.847,13 €", "principal": "2.310,00 €", "interest": "312,63 €",
    "costs": "224,50 €", "statement_date": "31.10.2026", "accepts_plan": True, "confidence": 0.93,
})


def good_answer(payload):
    """A confident classification (a debt statement) or a complete extraction, as the request asks."""
    return Reply(200, message_body(INTENT if is_classification(payload) else FACTS, model=payload["model"]))


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
    """`answer` for FakeAnthropicServer: good answers, and with probability `fault_rate` a random fault.

    `timeout_delay` must exceed the client's ANTHROPIC_TIMEOUT_SECONDS. `served` counts what was sent.
    """

    def __init__(self, *, fault_rate, seed=0, timeout_delay=1.0):
        self.fault_rate = fault_rate
        self.timeout_delay = timeout_delay
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
        good = good_answer(payload)
        text, model = good.body["content"][0]["text"], payload["model"]
        if kind == "ok":
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
            return Reply(200, message_body(text[: len(text) // 2], model=model, stop_reason="max_tokens"))
        if kind == "garbage_body":
            return Reply(200, b"<html><body>502 Bad Gateway</body></html>")
        return Reply(good.status, good.body, cut_at=40)  # dropped_connection


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: the client reuses its connection
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(payload)
        reply = self.server.answer(payload)
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
    """Context manager: a threaded HTTP server on 127.0.0.1 answering POST /v1/messages with `answer`."""

    def __init__(self, answer, *, port=0):
        self._server = _Server((LOOPBACK, port), _Handler)
        self._server.answer = answer
        self._server.requests = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    @property
    def requests(self):
        return self._server.requests

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
