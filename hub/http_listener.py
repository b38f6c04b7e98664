"""One way to serve an ASGI app on a socket of this process: bound at once (a port in use fails at
start-up with a clear message; port 0 gets a free port), served by uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from hub.errors import ConfigError

__all__ = ["HttpListener"]


class HttpListener:
    """Serves an ASGI app with uvicorn in a background thread: the daemon's listener (the status
    receiver, /healthz, /metrics), the web pages, the demo and the tests."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, path: str = "/"):
        import uvicorn

        self.host = host
        self.path = path
        # Bound here, so a port in use fails at start-up with a clear message, and port 0 gets a port.
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self, timeout: float = 10.0) -> HttpListener:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"receiver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the listener did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> HttpListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
