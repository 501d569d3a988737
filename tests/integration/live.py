"""A client of the native WebSocket /api/ws for the integration tests (the `websockets` package's
synchronous client: a real WebSocket over loopback, nothing of the server's own code)."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


class LiveRun:
    """One live run: the frames received so far, and the text of each stream."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self.stdout = ""
        self.stderr = ""
        self.compile_output = ""

    def send(self, **message: Any) -> None:
        self.connection.send(json.dumps(message))

    def type(self, text: str) -> None:
        self.send(type="stdin", data=text)

    def next(self, timeout_s: float = 30.0) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.connection.recv(timeout=timeout_s))
        self.frames.append(frame)
        if frame["type"] == "output":
            if frame["stage"] == "compile":
                self.compile_output += frame["data"]
            elif frame["stream"] == "stdout":
                self.stdout += frame["data"]
            else:
                self.stderr += frame["data"]
        return frame

    def until_output(self, text: str, timeout_s: float = 60.0) -> None:
        """Read until stdout contains `text` (the run must not have finished before)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.stdout:
            frame = self.next(max(0.1, deadline - time.monotonic()))
            assert frame["type"] != "finished", (text, self.frames)

    def finish(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Read to the end: the `finished` frame's result; the server then closes with 1000."""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.next(max(0.1, deadline - time.monotonic()))
            assert frame["type"] != "error", frame
            if frame["type"] == "finished":
                result: dict[str, Any] = frame["result"]
                break
        try:
            self.connection.recv(timeout=5)
            raise AssertionError("a frame after finished")
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1000, closed
        return result

    def exits(self) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == "exit"]


def ws_url(base_url: str, path: str, token: str | None = None) -> str:
    """The WebSocket URL of a path; the API key as a query parameter, as a browser sends it."""
    url = base_url.replace("http://", "ws://", 1) + path
    return f"{url}?X-Auth-Token={quote(token)}" if token else url


@contextmanager
def live_run(base_url: str, token: str | None = None, **request: Any) -> Iterator[LiveRun]:
    url = ws_url(base_url, "/api/ws", token)
    with connect(url, open_timeout=10, max_size=4 << 20) as connection:
        run = LiveRun(connection)
        run.send(type="run", **request)
        yield run
