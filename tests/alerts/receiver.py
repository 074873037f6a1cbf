"""A real HTTP receiver on 127.0.0.1 for notification tests: records every JSON body it
accepts, answers the statuses queued in ``failures`` first, or hangs while ``hang``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_S = 60.0  # an upper bound for "never happened", not a performance threshold


class Receiver:
    def __init__(self, failures: list[int] | None = None, *, hang: bool = False) -> None:
        self.failures = list(failures or [])
        self.hang = hang
        self.release = threading.Event()
        self.bodies: list[Any] = []
        self.posts = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                status = receiver.handle(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def handle(self, body: Any) -> int:
        with self._changed:
            self.posts += 1
            self._changed.notify_all()
        if self.hang:
            self.release.wait(WAIT_S)
            return 200
        with self._changed:
            status = self.failures.pop(0) if self.failures else 200
            if status < 300:
                self.bodies.append(body)
            self._changed.notify_all()
        return status

    def wait_posts(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.posts >= count, WAIT_S), self.posts

    def wait_bodies(self, count: int) -> list[Any]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.bodies) >= count, WAIT_S), self.bodies
            return list(self.bodies)

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
