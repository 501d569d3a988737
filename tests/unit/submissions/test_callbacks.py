"""submissions.callbacks: delivery against a real HTTP server on 127.0.0.1, and the SSRF guard.

Refusal cases for non-loopback addresses use an httpx MockTransport that fails the test if it is
ever asked to send, so nothing here can reach a private range or the internet.
"""

import asyncio
import contextlib
import logging
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from runakode.config import CallbackSettings
from runakode.submissions.callbacks import (
    CallbackOutcome,
    CallbackSender,
    callback_url_problem,
)

LOOPBACK_ONLY = ["127.0.0.1/32"]
BODY = b'{"token":"t-1","status":{"id":3,"description":"Accepted"},"stdout":"c2VjcmV0LWJvZHk="}'
HANG = -1


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server: answers the scripted statuses in order (HANG never answers),
    then repeats the last one."""

    replies: list[int] = field(default_factory=lambda: [200])
    delay_s: float = 0.0
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    request_seen: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, path: str = "/callback", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            index = len(self.requests)
            self.requests.append(Received(method, target, headers, body))
            self.request_seen.set()
            status = self.replies[min(index, len(self.replies) - 1)]
            if status == HANG:
                await self._release.wait()
                return
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            location = f"Location: http://127.0.0.1:{self.port}/elsewhere\r\n"
            writer.write(
                f"HTTP/1.1 {status} Whatever\r\n"
                f"{location if 300 <= status < 400 else ''}"
                "Content-Length: 2\r\nConnection: close\r\n\r\n{}".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def release(self) -> None:
        self._release.set()
        for writer in self._writers:
            writer.close()


@contextlib.asynccontextmanager
async def serving(tls: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=tls)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.release()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving() as receiver:
        yield receiver


def settings(
    *, timeout_s: float = 2.0, max_tries: int = 3, allowed: Sequence[str] = LOOPBACK_ONLY
) -> CallbackSettings:
    return CallbackSettings.model_validate(
        {"timeout": timeout_s, "maxTries": max_tries, "allowedNetworks": list(allowed)}
    )


def sender_for(config: CallbackSettings, **kwargs: Any) -> CallbackSender:
    kwargs.setdefault("backoff_base_s", 0.01)
    kwargs.setdefault("backoff_max_s", 0.05)
    return CallbackSender(config, **kwargs)


def forbidden_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a refused callback reached the transport: {request.url}")

    return httpx.MockTransport(handler)


class RecordingTransport(httpx.MockTransport):
    """Answers scripted statuses without any network; remembers what it was asked."""

    def __init__(self, *statuses: int) -> None:
        self.requests: list[httpx.Request] = []
        self._statuses = list(statuses) or [204]
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self._statuses)) - 1
        return httpx.Response(self._statuses[index])


class FixedResolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.addresses


async def deliver(sender: CallbackSender, url: str) -> CallbackOutcome:
    try:
        return await sender.deliver(url, BODY, job_id="job-1")
    finally:
        await sender.close(grace_s=1.0)


async def wait_for(condition: Any, timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- delivery against a real server -------------------------------------------------------------


async def test_put_arrives_with_body_and_json_content_type(receiver: Receiver) -> None:
    outcome = await deliver(sender_for(settings()), receiver.url("/hook?x=1"))

    assert outcome == CallbackOutcome("delivered", attempts=1, status_code=200)
    [request] = receiver.requests
    assert request.method == "PUT"
    assert request.target == "/hook?x=1"
    assert request.body == BODY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert "runakode" in request.headers["user-agent"]
    standard = {"host", "accept", "accept-encoding", "connection", "user-agent"}
    assert set(request.headers) <= standard | {"content-type", "content-length"}


async def test_500_then_200_is_sent_exactly_twice(receiver: Receiver) -> None:
    receiver.replies = [500, 200]

    outcome = await deliver(sender_for(settings()), receiver.url())

    assert outcome == CallbackOutcome("delivered", attempts=2, status_code=200)
    assert len(receiver.requests) == 2
    assert all(request.body == BODY for request in receiver.requests)


async def test_5xx_every_time_gives_up_after_max_tries(receiver: Receiver) -> None:
    receiver.replies = [503]

    outcome = await deliver(sender_for(settings(max_tries=4)), receiver.url())

    assert outcome.result == "failed"
    assert outcome.attempts == 4
    assert outcome.status_code == 503
    assert len(receiver.requests) == 4


async def test_404_is_final(receiver: Receiver) -> None:
    receiver.replies = [404, 200]

    outcome = await deliver(sender_for(settings()), receiver.url())

    assert outcome == CallbackOutcome("rejected", attempts=1, status_code=404)
    assert len(receiver.requests) == 1


async def test_redirect_is_neither_followed_nor_retried(receiver: Receiver) -> None:
    receiver.replies = [302, 200]

    outcome = await deliver(sender_for(settings()), receiver.url())

    assert outcome == CallbackOutcome("rejected", attempts=1, status_code=302)
    assert [request.target for request in receiver.requests] == ["/callback"]


async def test_hanging_server_times_out_and_is_retried_up_to_max_tries(
    receiver: Receiver,
) -> None:
    receiver.replies = [HANG]
    started = time.monotonic()

    outcome = await deliver(sender_for(settings(timeout_s=0.2, max_tries=3)), receiver.url())

    assert outcome.result == "failed"
    assert outcome.attempts == 3
    assert outcome.detail is not None and "timed out" in outcome.detail
    assert len(receiver.requests) == 3
    assert time.monotonic() - started < 2.0


async def test_connection_refused_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    outcome = await deliver(
        sender_for(settings(max_tries=2)), f"http://127.0.0.1:{closed_port}/callback"
    )

    assert outcome.result == "failed"
    assert outcome.attempts == 2
    assert outcome.detail is not None and "ConnectError" in outcome.detail


async def test_logs_name_the_job_but_never_the_body_or_query(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.replies = [500, 200]
    caplog.set_level(logging.INFO, logger="runakode.submissions.callbacks")

    await deliver(sender_for(settings()), receiver.url("/hook?secret-token=s3"))

    records = [r for r in caplog.records if r.name == "runakode.submissions.callbacks"]
    assert [record.levelno for record in records] == [logging.WARNING, logging.INFO]
    for record in records:
        assert record.__dict__["job_id"] == "job-1"
        assert record.__dict__["callback_target"] == f"http://127.0.0.1:{receiver.port}"
    assert [record.__dict__["attempt"] for record in records] == [1, 2]
    assert [record.__dict__["status_code"] for record in records] == [500, 200]
    assert "c2VjcmV0LWJvZHk" not in caplog.text
    assert "s3" not in caplog.text
    assert "secret-token" not in caplog.text


# --- SSRF guard ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "localhost",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "[::]",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
    ],
)
async def test_loopback_forms_are_refused_without_connecting(receiver: Receiver, host: str) -> None:
    outcome = await deliver(sender_for(settings(allowed=[])), receiver.url(host=host))

    assert outcome.result == "refused"
    assert outcome.attempts == 1
    assert receiver.connections == 0


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.170.2",
        "[fd00:ec2::254]",
        "100.100.100.200",
        "168.63.129.16",
        "100.64.0.1",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "224.0.0.1",
        "[ff02::1]",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.2.10",
        "[2001:db8::1]",
        "[64:ff9b::a00:1]",
        "[64:ff9b::808:808]",
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[2002:a00:1::1]",
        "[fec0::1]",
    ],
)
async def test_non_public_addresses_are_refused(address: str) -> None:
    sender = sender_for(settings(allowed=[]), transport=forbidden_transport())

    outcome = await deliver(sender, f"http://{address}:8080/callback")

    assert outcome.result == "refused"
    assert outcome.detail is not None
    assert "address" in outcome.detail


async def test_a_name_with_any_private_address_is_refused() -> None:
    resolver = FixedResolver("93.184.215.14", "10.0.0.1")
    sender = sender_for(settings(allowed=[]), resolver=resolver, transport=forbidden_transport())

    outcome = await deliver(sender, "https://callback.example/hook")

    assert outcome.result == "refused"
    assert outcome.detail == "non-public address 10.0.0.1"
    assert resolver.calls == [("callback.example", 443)]


async def test_metadata_is_refused_even_inside_an_allowed_range() -> None:
    sender = sender_for(
        settings(allowed=["169.254.0.0/16", "0.0.0.0/0"]), transport=forbidden_transport()
    )

    outcome = await deliver(sender, "http://169.254.169.254/latest/meta-data/")

    assert outcome == CallbackOutcome("refused", 1, detail="cloud metadata address 169.254.169.254")


async def test_metadata_opens_only_when_listed_exactly() -> None:
    transport = RecordingTransport(204)
    sender = sender_for(settings(allowed=["169.254.169.254/32"]), transport=transport)

    outcome = await deliver(sender, "http://169.254.169.254/hook")

    assert outcome.result == "delivered"
    assert len(transport.requests) == 1


async def test_allowed_nat64_prefix_still_checks_the_embedded_ipv4_address() -> None:
    allowed = ["64:ff9b::/96"]
    refused = await deliver(
        sender_for(settings(allowed=allowed), transport=forbidden_transport()),
        "http://[64:ff9b::a00:1]/hook",
    )
    transport = RecordingTransport(204)
    delivered = await deliver(
        sender_for(settings(allowed=allowed), transport=transport),
        "http://[64:ff9b::5db8:d70e]/hook",
    )

    assert refused.result == "refused"
    assert delivered.result == "delivered"
    assert transport.requests[0].url.host == "64:ff9b::5db8:d70e"


async def test_allow_list_opens_a_private_range() -> None:
    transport = RecordingTransport(204)
    sender = sender_for(
        settings(allowed=["10.0.0.0/8"]),
        resolver=FixedResolver("10.1.2.3"),
        transport=transport,
    )

    outcome = await deliver(sender, "http://callback.internal:8080/hook?a=1")

    assert outcome == CallbackOutcome("delivered", attempts=1, status_code=204)
    [request] = transport.requests
    assert str(request.url) == "http://10.1.2.3:8080/hook?a=1"
    assert request.headers["host"] == "callback.internal:8080"


async def test_https_connects_to_the_checked_address_with_the_name_for_sni() -> None:
    transport = RecordingTransport(200)
    sender = sender_for(
        settings(allowed=[]), resolver=FixedResolver("93.184.215.14"), transport=transport
    )

    outcome = await deliver(sender, "https://callback.example/hook")

    assert outcome.result == "delivered"
    [request] = transport.requests
    assert request.url.host == "93.184.215.14"
    assert request.url.scheme == "https"
    assert request.headers["host"] == "callback.example"
    assert request.extensions["sni_hostname"] == "callback.example"


async def test_every_try_resolves_and_checks_again() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    transport = RecordingTransport(503)
    sender = sender_for(settings(allowed=[]), resolver=rebinding, transport=transport)

    outcome = await deliver(sender, "http://rebind.example/hook")

    assert outcome == CallbackOutcome("refused", 2, detail="non-public address 127.0.0.1")
    assert len(transport.requests) == 1


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the name callback.test only."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-subj", "/CN=callback.test", "-addext", "subjectAltName=DNS:callback.test"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(
    ("name", "result"), [("callback.test", "delivered"), ("other.test", "failed")]
)
async def test_https_to_the_checked_address_verifies_the_name(
    certificate: tuple[Path, Path], name: str, result: str
) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sni_names: list[str | None] = []
    server_tls.sni_callback = lambda _socket, sni, _context: sni_names.append(sni)
    client_tls = ssl.create_default_context(cafile=str(cert))
    async with serving(server_tls) as receiver:
        sender = sender_for(
            settings(max_tries=1),
            resolver=FixedResolver("127.0.0.1"),
            transport=httpx.AsyncHTTPTransport(verify=client_tls),
        )

        outcome = await deliver(sender, f"https://{name}:{receiver.port}/hook")

    assert outcome.result == result
    assert sni_names == [name]
    if result == "delivered":
        [request] = receiver.requests
        assert request.headers["host"] == f"callback.test:{receiver.port}"
        assert request.body == BODY
    else:
        assert receiver.requests == []
        assert outcome.detail is not None and "CERTIFICATE_VERIFY_FAILED" in outcome.detail


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/callback",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_",
        "javascript:alert(1)",
        "ws://127.0.0.1/socket",
    ],
)
async def test_other_schemes_are_refused(url: str) -> None:
    sender = sender_for(settings(), transport=forbidden_transport())

    outcome = await deliver(sender, url)

    assert outcome == CallbackOutcome("refused", 0, detail="scheme must be http or https")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/cb",
        "https://example.com:8443/cb?x=1",
        "HTTPS://Example.COM",
        "http://[2001:db8::1]:8080/",
        "http://10.0.0.1/",
        "http://user:pw@example.com/cb",
        "http://bücher.example/cb",
    ],
)
def test_valid_callback_urls(url: str) -> None:
    assert callback_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "scheme must be http or https"),
        ("example.com/cb", "scheme must be http or https"),
        ("/relative", "scheme must be http or https"),
        ("ftp://example.com/", "scheme must be http or https"),
        ("http://", "has no host"),
        ("http:///path", "has no host"),
        ("http://example.com:0/", "has an invalid port"),
        ("http://example.com:65536/", "has an invalid port"),
        ("http://exa%20mple.com/", "has an invalid host"),
        ("http://-bad.example/", "has an invalid host"),
        ("http://example.com/a b", "contains spaces or control characters"),
        ("http://example.com/\r\nX-Injected: 1", "contains spaces or control characters"),
        ("http://example.com/" + "a" * 2100, "longer than 2048 characters"),
    ],
)
def test_invalid_callback_urls(url: str, problem: str) -> None:
    assert callback_url_problem(url) == problem


def test_unparsable_port_is_a_problem() -> None:
    problem = callback_url_problem("http://example.com:abc/")
    assert problem is not None and problem.startswith("not a valid URL")


# --- background scheduling ---------------------------------------------------------------------


async def test_schedule_returns_at_once_and_close_waits_for_delivery(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.delay_s = 0.2
    caplog.set_level(logging.INFO, logger="runakode.submissions.callbacks")
    sender = sender_for(settings())

    started = time.monotonic()
    sender.schedule(receiver.url(), BODY, job_id="job-1")
    assert time.monotonic() - started < 0.05
    assert sender.pending == 1

    await sender.close(grace_s=5.0)

    assert sender.pending == 0
    assert len(receiver.requests) == 1
    assert "callback delivered" in caplog.messages


async def test_close_cancels_what_outlives_the_grace_period(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.replies = [HANG]
    sender = sender_for(settings(timeout_s=30.0))
    sender.schedule(receiver.url(), BODY, job_id="job-1")
    await asyncio.wait_for(receiver.request_seen.wait(), 2.0)

    started = time.monotonic()
    await sender.close(grace_s=0.2)

    assert 0.15 < time.monotonic() - started < 1.5
    assert sender.pending == 0
    assert "cancelled 1 unfinished callbacks at shutdown" in caplog.messages


async def test_schedule_after_close_drops(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    sender = sender_for(settings())
    await sender.close(grace_s=0.0)

    sender.schedule(receiver.url(), BODY, job_id="job-1")
    await asyncio.sleep(0.05)

    assert sender.pending == 0
    assert receiver.connections == 0
    assert "callback dropped: the sender is shutting down" in caplog.messages


async def test_backlog_bound_drops_instead_of_growing(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.replies = [HANG]
    sender = sender_for(settings(timeout_s=30.0), max_in_flight=1, max_pending=2)

    for number in range(5):
        sender.schedule(receiver.url(), BODY, job_id=f"job-{number}")

    assert sender.pending == 2
    dropped = [r for r in caplog.records if r.getMessage().startswith("callback dropped")]
    assert [r.__dict__["job_id"] for r in dropped] == ["job-2", "job-3", "job-4"]
    assert all(r.levelno == logging.WARNING for r in dropped)
    await sender.close(grace_s=0.0)


async def test_in_flight_requests_are_bounded(receiver: Receiver) -> None:
    receiver.replies = [HANG]
    sender = sender_for(settings(timeout_s=30.0), max_in_flight=2)

    for number in range(5):
        sender.schedule(receiver.url(), BODY, job_id=f"job-{number}")
    await wait_for(lambda: receiver.connections >= 2)
    await asyncio.sleep(0.1)

    assert receiver.connections == 2
    assert sender.pending == 5
    await sender.close(grace_s=0.0)


async def test_disabled_callbacks_are_not_sent(receiver: Receiver) -> None:
    config = CallbackSettings.model_validate({"enabled": False, "allowedNetworks": LOOPBACK_ONLY})
    sender = sender_for(config)

    sender.schedule(receiver.url(), BODY, job_id="job-1")
    outcome = await sender.deliver(receiver.url(), BODY, job_id="job-1")
    await sender.close(grace_s=1.0)

    assert sender.pending == 0
    assert outcome == CallbackOutcome("refused", 0, detail="callbacks are disabled")
    assert receiver.connections == 0


async def test_deliver_after_close_is_refused(receiver: Receiver) -> None:
    sender = sender_for(settings())
    await sender.close(grace_s=0.0)

    outcome = await sender.deliver(receiver.url(), BODY, job_id="job-1")

    assert outcome == CallbackOutcome("refused", 0, detail="the sender is closed")
    assert receiver.connections == 0


def test_schedule_outside_an_event_loop_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    sender = sender_for(settings())

    sender.schedule("http://127.0.0.1:9/callback", BODY, job_id="job-1")

    assert sender.pending == 0
    assert "callback dropped: scheduled outside an event loop" in caplog.messages


async def test_a_crash_inside_delivery_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(host: str, port: int) -> list[str]:
        raise ValueError("resolver bug")

    sender = sender_for(settings(), resolver=broken, transport=forbidden_transport())
    sender.schedule("http://callback.example/hook", BODY, job_id="job-1")
    await sender.close(grace_s=1.0)

    [record] = [r for r in caplog.records if r.getMessage() == "callback delivery crashed"]
    assert record.exc_info is not None
