"""An HTTP server on 127.0.0.1 that answers every GET with a fixed JSON body and records the request.

Tests use it as a `$ref` target to prove that validating an answer never fetches anything.
"""

import contextlib
import http.server
import json
import threading

FETCHED_MARKER = "FETCHED-FROM-THE-NETWORK"
# What a fetch would bring back: a schema whose content would show in a review reason.
SERVED_SCHEMA = {"type": "object", "required": [FETCHED_MARKER], "description": FETCHED_MARKER}


@contextlib.contextmanager
def recording_server():
    """Yields the server; `server.hits` lists the paths requested, `server.url(path)` builds a URL."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            body = json.dumps(SERVED_SCHEMA).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hits = hits
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
