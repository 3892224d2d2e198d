"""A tiny Messages API on 127.0.0.1 for tests and benchmarks that run the client's whole network path.

Point ANTHROPIC_BASE_URL at `server.url`; `answer(payload) -> (status, body)` decides each reply.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: the client reuses its connection
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(payload)
        status, body = self.server.answer(payload)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after-ms", "1")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # quiet: tests and benchmarks print their own output


class FakeAnthropicServer:
    """Context manager: a threaded HTTP server answering POST /v1/messages with `answer(payload)`."""

    def __init__(self, answer):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.answer = answer
        self._server.requests = []
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
