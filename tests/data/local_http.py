"""A small HTTP server on 127.0.0.1 for download tests: serves in-memory files, honours Range requests and
misbehaves on request (503, a connection dropped halfway). Never touches the internet."""

from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class FileServer:
    """``files`` maps URL paths to bytes; ``plan[path]`` lists what the next requests get: ``"ok"``, ``"503"``
    or ``"drop"`` (headers promise the whole file, half the body is sent, the connection closes)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.plan: dict[str, list[str]] = defaultdict(list)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.base_url = ""

    def ranges(self, path: str) -> list[str]:
        return [r for p, r in self.requests if p == path and r is not None]


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = unquote(self.path)
            state.requests.append((path, self.headers.get("Range")))
            action = state.plan[path].pop(0) if state.plan[path] else "ok"
            body = state.files.get(path)
            if body is None:
                self.send_error(404)
                return
            if action == "503":
                self.send_error(503)
                return
            start, status = 0, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[len("bytes="):-1])
                if start >= len(body):
                    self.send_error(416)
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            payload = body[start:]
            if action == "drop":
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve(max_seconds: float = 60.0):
    """Run a :class:`FileServer` on an ephemeral port; it stops on exit, or by itself after ``max_seconds``."""
    state = FileServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    watchdog = threading.Timer(max_seconds, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield state
    finally:
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
