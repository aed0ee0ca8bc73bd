"""A fault-injecting TCP proxy in front of the real API, and client fixtures.

The proxy reads the client's HTTP/1.1 requests (request line, headers,
Content-Length body) so it can count them and break a chosen one, and pipes
everything else through untouched. It only ever listens on and connects to
loopback, and every thread it starts ends when the test stops it.
"""

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal
from urllib.parse import urlsplit

import pytest

from judge_service.client import JudgeClient
from tests.conftest import Stack, StackFactory, simulated_judges

CutMode = Literal["mid-request", "after-request"]


@dataclass
class Cut:
    """Break the `nth` upload request (1-based): send half its body, or all of it but
    swallow the answer. `then_down` keeps the proxy refusing afterwards."""

    nth: int
    mode: CutMode
    then_down: bool = True


class FaultyProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.upstream = (parts.hostname, parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.requests: list[str] = []  # request lines that reached the proxy
        self.bodies: list[tuple[str, bytes]] = []  # (line, body) of every non-upload request
        self.connections = 0
        self.uploads = 0
        self.down = False  # read the request, answer nothing, close: a dead backend
        self.cut: Cut | None = None
        self.cuts_done = 0
        self.canned: list[int] = []  # answer the next requests with these statuses
        self.drop_next = 0  # close the next N requests' connections without an answer
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._spawn(self._accept_loop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for line in self.requests if line.startswith(prefix))

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self.lock:
            self._sockets.add(sock)
        return sock

    def close(self) -> None:
        self._closing = True
        with self.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        self.listener.close()

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.05)  # close() does not wake a blocked accept()
        while not self._closing:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self.lock:
                self.connections += 1
            self._spawn(self._serve, self._track(conn))

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        muted = threading.Event()
        answered = threading.Event()
        reader = client.makefile("rb")
        try:
            while not self._closing:
                request = _read_request(reader)
                if request is None:
                    return
                head, body = request
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with self.lock:
                    self.requests.append(line)
                    is_upload = line.startswith("POST /v1/runs/") and "/pairs " in line
                    if is_upload:
                        self.uploads += 1
                    else:
                        self.bodies.append((line, body))
                    if self.down:
                        return
                    if self.drop_next:
                        self.drop_next -= 1
                        return
                    canned = self.canned.pop(0) if self.canned else None
                    cut = (
                        self.cut
                        if is_upload and self.cut and self.cut.nth == self.uploads
                        else None
                    )
                if canned is not None:
                    client.sendall(
                        f"HTTP/1.1 {canned} Injected\r\ncontent-length: 0\r\n"
                        "retry-after: 0\r\nconnection: close\r\n\r\n".encode()
                    )
                    return
                if upstream is None:
                    upstream = self._track(socket.create_connection(self.upstream, timeout=30))
                    self._spawn(self._pump, upstream, client, muted, answered)
                if cut is None:
                    upstream.sendall(head + body)
                    continue
                if cut.mode == "mid-request":
                    upstream.sendall(head + body[: len(body) // 2])
                else:  # the server gets it all and answers; the answer is lost
                    muted.set()
                    upstream.sendall(head + body)
                    assert answered.wait(30), "the API never answered the cut request"
                with self.lock:
                    self.cuts_done += 1
                    self.down = cut.then_down
                    self.cut = None
                return
        except OSError:
            return
        finally:
            reader.close()
            _close(client)
            if upstream is not None:
                _close(upstream)

    def _pump(
        self,
        upstream: socket.socket,
        client: socket.socket,
        muted: threading.Event,
        answered: threading.Event,
    ) -> None:
        try:
            while data := upstream.recv(65536):
                if muted.is_set():
                    answered.set()
                    continue
                client.sendall(data)
        except OSError:
            pass
        finally:
            answered.set()
            _close(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _read_request(reader: BinaryIO) -> tuple[bytes, bytes] | None:
    """One request from the client: head and body (our client always sends Content-Length)."""
    head = b""
    while True:
        line = reader.readline()
        if not line:
            return None
        head += line
        if line in (b"\r\n", b"\n"):
            break
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = reader.read(length) if length else b""
    return head, body


@pytest.fixture
def proxy(stack: Stack) -> Iterator[FaultyProxy]:
    faulty = FaultyProxy(str(stack.api.base_url))
    yield faulty
    faulty.close()


@pytest.fixture
def client(stack: Stack) -> Iterator[JudgeClient]:
    with JudgeClient(str(stack.api.base_url), backoff=0.01) as judge_client:
        yield judge_client


def unique(label: str) -> str:
    """Run names are global to the session's database; tests must not find each other's."""
    return f"{label} {uuid.uuid4().hex[:8]}"


def priced_judges(simulator_url: str) -> dict[str, dict[str, Any]]:
    """The stack's two judges with prices, so an estimate and a spend are in dollars."""
    prices = {"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0}
    return {name: {**judge, **prices} for name, judge in simulated_judges(simulator_url).items()}


@pytest.fixture
def priced_stack(stack_factory: StackFactory) -> Stack:
    return stack_factory(judges=priced_judges)
