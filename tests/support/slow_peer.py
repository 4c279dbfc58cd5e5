"""A key server that never finishes answering, on real loopback sockets: what a hostile peer does to hold
our threads. ``mode`` picks the trick:

- ``early-hints``: ``HTTP/1.1 103 Early Hints`` every ``interval`` seconds, forever (httpcore skips 1xx
  answers and starts its read timeout again after each);
- ``headers``: a status line, then one header byte every ``interval`` seconds, forever;
- ``body``: complete headers announcing a JSON body, then one body byte every ``interval`` seconds.

Every connection gets its own thread; ``close()`` ends them all (a client still waiting then sees the
connection close, so a test that fails never leaves a thread hanging).
"""
from __future__ import annotations

import socket
import threading
import time

INTERVALS = {"early-hints": 0.3, "headers": 0.2, "body": 0.2}


class SlowPeer:
    """Listens on 127.0.0.1:``port``; ``requests`` holds each request's first line as it arrives."""

    def __init__(self, mode: str, interval: float | None = None) -> None:
        if mode not in INTERVALS:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(INTERVALS)}")
        self.mode = mode
        self.interval = INTERVALS[mode] if interval is None else interval
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SlowPeer:
        self._thread.start()
        return self

    def __enter__(self) -> SlowPeer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()

    def wait_for_request(self, timeout: float = 10.0) -> str:
        """The first request line once one has arrived (AssertionError after ``timeout``)."""
        until = time.monotonic() + timeout
        while not self.requests:
            if time.monotonic() > until:
                raise AssertionError(f"nobody asked the slow {self.mode} peer within {timeout} s")
            time.sleep(0.05)
        return self.requests[0]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
            if self.mode == "early-hints":
                drip = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            elif self.mode == "headers":
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                drip = b"a"
            else:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
                                   b"Content-Length: 100000\r\n\r\n{")
                drip = b" "
            while not self._stop.wait(self.interval):
                connection.sendall(drip)
        except OSError:
            return


__all__ = ["INTERVALS", "SlowPeer"]
