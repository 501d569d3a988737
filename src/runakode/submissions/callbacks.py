import asyncio
import ipaddress
import logging
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from runakode.config import CallbackSettings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the IP addresses to connect to, in preference order.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

USER_AGENT = "runakode-callbacks"
DEFAULT_MAX_IN_FLIGHT = 64
DEFAULT_MAX_PENDING = 1024
MAX_URL_CHARS = 2048

_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$", re.IGNORECASE)
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")

# Listed besides the stdlib's is_global & co. so the verdict does not change with Python's patch
# level (3.11's is_global, for one, lets multicast through).
_BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# AWS/GCP/Azure/Oracle IMDS, AWS ECS credentials, Azure WireServer, Alibaba, AWS IMDS over IPv6.
_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "168.63.129.16",
        "100.100.100.200",
        "fd00:ec2::254",
    )
)

CallbackResult = Literal["delivered", "rejected", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """delivered: a 2xx. rejected: a final 3xx/4xx answer. refused: not sent (bad URL, forbidden
    address, disabled, closed). failed: every try ended in a network error, timeout or 5xx."""

    result: CallbackResult
    attempts: int
    status_code: int | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class _Attempt:
    status_code: int | None = None
    refusal: str | None = None
    error: str | None = None


def callback_url_problem(url: str) -> str | None:
    """None for an absolute http(s) URL with a host and a valid port, else a short reason."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if _CONTROL_OR_SPACE.search(url):
        return "contains spaces or control characters"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL ({exc})"
    if parsed.scheme not in ("http", "https"):
        return "scheme must be http or https"
    host = parsed.raw_host.decode("ascii")
    if not host:
        return "has no host"
    if not _valid_host(host):
        return "has an invalid host"
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return "has an invalid port"
    return None


def _valid_host(host: str) -> bool:
    if _ip_literal(host) is not None:
        return True
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_blocked(address: IPAddress) -> bool:
    return (
        any(address in network for network in _BLOCKED_NETWORKS)
        or not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _address_problem(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A socket to ::ffff:a.b.c.d reaches a.b.c.d itself.
        return _address_problem(address.ipv4_mapped, allowed)
    if address in _METADATA_ADDRESSES:
        # Only an entry naming this very address opens it, never a wider range around it.
        if any(network.num_addresses == 1 and address in network for network in allowed):
            return None
        return "cloud metadata address"
    if _is_blocked(address) and not any(address in network for network in allowed):
        return "non-public address"
    if address in _NAT64:
        # An allow-listed NAT64 prefix must still not lead to a private IPv4 address.
        return _address_problem(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF), allowed)
    return None


async def _getaddrinfo(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _authority(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    authority = f"[{host}]" if ":" in host else host
    return authority if url.port is None else f"{authority}:{url.port}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class CallbackSender:
    """PUTs finished submissions to their callback_url in background tasks it owns.

    At most max_in_flight requests run at once; at most max_pending deliveries (running, waiting
    for a slot or sleeping before a retry) are kept, and schedule() drops the rest with a warning.
    """

    def __init__(
        self,
        settings: CallbackSettings,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_pending: int = DEFAULT_MAX_PENDING,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_in_flight < 1 or max_pending < 1:
            raise ValueError("max_in_flight and max_pending must be at least 1")
        self._settings = settings
        self._allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in settings.allowed_networks
        )
        self._max_pending = max_pending
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._resolve: Resolver = resolver or _getaddrinfo
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_s),
            # No reuse: a pooled TLS connection to one IP could otherwise carry another host's
            # callback past the SNI name it was verified for.
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=0),
            follow_redirects=False,
            # No proxy or netrc credentials picked up from the environment.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def schedule(self, url: str, body: bytes, *, job_id: str) -> None:
        """Start delivering in the background; never raises and never waits."""
        extra = {"job_id": job_id}
        if not self._settings.enabled:
            logger.info("callbacks are disabled; not sending", extra=extra)
            return
        if self._closing:
            logger.warning("callback dropped: the sender is shutting down", extra=extra)
            return
        if len(self._tasks) >= self._max_pending:
            logger.warning(
                "callback dropped: %d deliveries already pending", len(self._tasks), extra=extra
            )
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.error("callback dropped: scheduled outside an event loop", extra=extra)
            return
        task = loop.create_task(self._run(url, body, job_id), name=f"callback-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, grace_s: float) -> None:
        """Stop taking callbacks, give running deliveries grace_s to finish, cancel the rest."""
        self._closing = True
        tasks = set(self._tasks)
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=max(grace_s, 0.0))
            for task in unfinished:
                task.cancel()
            if unfinished:
                logger.warning("cancelled %d unfinished callbacks at shutdown", len(unfinished))
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self._client.aclose()

    async def deliver(self, url: str, body: bytes, *, job_id: str) -> CallbackOutcome:
        """One delivery with every retry, awaited; schedule() runs this in a task."""
        started = time.monotonic()
        extra: dict[str, object] = {"job_id": job_id}
        refusal = callback_url_problem(url)
        if refusal is None and not self._settings.enabled:
            refusal = "callbacks are disabled"
        if refusal is None and self._client.is_closed:
            refusal = "the sender is closed"
        if refusal is not None:
            logger.warning("callback refused: %s", refusal, extra=extra)
            return CallbackOutcome("refused", 0, detail=refusal)
        target = httpx.URL(url)
        extra["callback_target"] = f"{target.scheme}://{_authority(target)}"
        tries = self._settings.max_tries
        for attempt in range(1, tries + 1):
            extra["attempt"] = attempt
            outcome = await self._attempt(target, body)
            extra["elapsed_ms"] = round((time.monotonic() - started) * 1000)
            if outcome.refusal is not None:
                logger.warning("callback refused: %s", outcome.refusal, extra=extra)
                return CallbackOutcome("refused", attempt, detail=outcome.refusal)
            status = outcome.status_code
            if status is not None:
                extra["status_code"] = status
                if 200 <= status < 300:
                    logger.info("callback delivered", extra=extra)
                    return CallbackOutcome("delivered", attempt, status)
                if not 500 <= status < 600:
                    logger.warning("callback answered %d; not retried", status, extra=extra)
                    return CallbackOutcome("rejected", attempt, status)
            error = outcome.error or f"HTTP {status}"
            extra["error"] = error
            if attempt < tries:
                delay_s = self._backoff_s(attempt)
                logger.warning("callback attempt failed; retrying in %.2f s", delay_s, extra=extra)
                await asyncio.sleep(delay_s)
            else:
                logger.warning("callback failed after %d tries", tries, extra=extra)
                return CallbackOutcome("failed", attempt, status, error)
            extra.pop("status_code", None)
            extra.pop("error", None)
        raise AssertionError("unreachable: max_tries is at least 1")

    async def _run(self, url: str, body: bytes, job_id: str) -> None:
        try:
            await self.deliver(url, body, job_id=job_id)
        except Exception:
            logger.exception("callback delivery crashed", extra={"job_id": job_id})

    def _backoff_s(self, failed_attempts: int) -> float:
        ceiling_s = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** (failed_attempts - 1))
        # Jitter so that callbacks failing together do not all retry in step.
        return ceiling_s * random.uniform(0.5, 1.0)

    async def _attempt(self, target: httpx.URL, body: bytes) -> _Attempt:
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        async with self._slots:
            try:
                async with asyncio.timeout(self._settings.timeout_s):
                    try:
                        resolved = await self._resolve(host, port)
                    except OSError as exc:
                        return _Attempt(error=f"name resolution failed: {_describe(exc)}")
                    addresses = self._checked(resolved)
                    if isinstance(addresses, str):
                        return _Attempt(refusal=addresses)
                    return _Attempt(status_code=await self._put(target, addresses, body))
            except (TimeoutError, httpx.TimeoutException):
                return _Attempt(error=f"timed out after {self._settings.timeout_s:g} s")
            except (httpx.TransportError, OSError) as exc:
                return _Attempt(error=_describe(exc))

    def _checked(self, resolved: Iterable[str]) -> list[str] | str:
        """The distinct addresses in order, or why the delivery is refused."""
        addresses: list[str] = []
        for text in resolved:
            address = _ip_literal(text)
            if address is None:
                return f"resolved to something that is not an IP address: {text!r}"
            problem = _address_problem(address, self._allowed)
            if problem is not None:
                return f"{problem} {address}"
            if str(address) not in addresses:
                addresses.append(str(address))
        return addresses or "the host resolved to no address"

    async def _put(self, target: httpx.URL, addresses: Sequence[str], body: bytes) -> int:
        host = target.raw_host.decode("ascii")
        extensions: dict[str, str] = {}
        if target.scheme == "https" and _ip_literal(host) is None:
            extensions["sni_hostname"] = host
        headers = {"Host": _authority(target), "Content-Type": "application/json"}
        for index, address in enumerate(addresses):
            # The checked address goes into the URL so that nothing resolves the name again.
            request = self._client.build_request(
                "PUT",
                target.copy_with(host=address),
                content=body,
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await self._client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            # Only the status matters; the answer's body is never read.
            await response.aclose()
            return response.status_code
        raise AssertionError("unreachable: addresses is never empty")
