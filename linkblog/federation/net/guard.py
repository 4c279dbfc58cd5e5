"""The connection guard: where a remote request may connect, checked inside the connection itself.

Anything the fediverse hands us (actor ids, key ids, inboxes, WebFinger hosts) is attacker-chosen, so
no private or otherwise special address is ever reached. We resolve the host, vet *every* answer and
connect to the vetted IP -- so a DNS answer that changes between "check" and "connect" (rebinding)
cannot slip through. TLS still verifies the certificate for the hostname (httpcore passes SNI
separately from the TCP target) and the Host header is untouched.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache, partial
from typing import Any, Sequence

import anyio
import httpcore
import httpx

from ...hosts import InvalidHost, normalise_host
from .deadline import DeadlineStream, capped
from .errors import BlockedAddress
from .policy import FetchPolicy
from .streams import AsyncioBackend

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _nets(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Reachable in allow mode only: the places a local trial or test actually runs.
_LOCAL_V4 = _nets("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
_LOCAL_V6 = _nets("::1/128", "fc00::/7")
# Never reachable. Explicit lists rather than ipaddress.is_global, whose answers changed between
# Python patch releases. Link-local stays blocked in allow mode: 169.254.169.254 is cloud metadata.
_BLOCKED_V4 = _nets(
    "0.0.0.0/8", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# Inside 2000::/3 but not a plain host: IETF assignments incl. Teredo, documentation, 6to4.
_BLOCKED_V6 = _nets("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _classify(ip: IPAddress) -> str:
    """'public', 'local' (allowed in allow mode) or 'blocked'."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _classify(ip.ipv4_mapped)
        if ip in _NAT64:  # the well-known NAT64 prefix embeds an IPv4 address in its last 32 bits
            return _classify(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(ip in net for net in _LOCAL_V6):
            return "local"
        if ip not in _GLOBAL_UNICAST_V6 or any(ip in net for net in _BLOCKED_V6):
            return "blocked"
        return "public"
    if any(ip in net for net in _LOCAL_V4):
        return "local"
    if any(ip in net for net in _BLOCKED_V4):
        return "blocked"
    return "public"


def check_address(address: str | IPAddress, allow_private: bool = False) -> IPAddress:
    """Return the parsed address if we may connect to it, else raise ``BlockedAddress``."""
    try:
        ip = address if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)) \
            else ipaddress.ip_address(address)
    except ValueError:
        raise BlockedAddress(f"not an IP address: {address!r}") from None
    kind = _classify(ip)
    if kind == "public" or (kind == "local" and allow_private):
        return ip
    raise BlockedAddress(f"address {ip} is not allowed")


def _vet(host: str, infos: Sequence[tuple[Any, ...]], allow_private: bool) -> list[str]:
    """Every answer must pass: a host that also resolves somewhere private is not trusted at all."""
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        try:
            check_address(address, allow_private)
        except BlockedAddress:
            raise BlockedAddress(f"{host} resolves to {address}, which is not allowed") from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise BlockedAddress(f"{host} resolves to nothing")
    return addresses


_resolver: ThreadPoolExecutor | None = None
_resolver_lock = threading.Lock()


def _forget_resolver() -> None:
    global _resolver, _resolver_lock
    _resolver, _resolver_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_resolver)  # a forked worker must not inherit dead threads


def _getaddrinfo(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def dns_name(host: str) -> str:
    """The name handed to the resolver, always ASCII: given a non-ASCII name, ``socket`` would encode it with
    Python's IDNA 2003 codec (``faß.de`` -> ``fass.de``, another registrant's domain), so it is normalised as
    browsers do (UTS #46, :mod:`linkblog.hosts`) or refused."""
    if host.isascii():
        return host
    try:
        return normalise_host(host)
    except InvalidHost as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from None


def _literal(host: str, port: int) -> list[tuple[Any, ...]] | None:
    """An IP literal needs no resolver (and no thread): the address is vetted just the same."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(address), port))]


def resolve(host: str, port: int, allow_private: bool = False, timeout: float | None = None) -> list[str]:
    """Resolve ``host`` and return its vetted addresses; the resolver runs in a thread so a hung
    DNS server costs at most ``timeout`` (getaddrinfo itself cannot be interrupted). A name that
    does not resolve raises httpcore's ConnectError/ConnectTimeout, which httpx reports as such."""
    global _resolver
    with _resolver_lock:
        if _resolver is None:
            _resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="linkblog-dns")
        pool = _resolver
    literal = _literal(host, port)
    if literal is not None:
        return _vet(host, literal, allow_private)
    future = pool.submit(_getaddrinfo, dns_name(host), port)
    try:
        infos = future.result(timeout)
    except FutureTimeout:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    return _vet(host, infos, allow_private)


async def aresolve(host: str, port: int, allow_private: bool = False,
                   timeout: float | None = None) -> list[str]:
    """``resolve`` for the event loop: getaddrinfo blocks, so it runs in a worker thread."""
    literal = _literal(host, port)
    if literal is not None:
        return _vet(host, literal, allow_private)
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.to_thread.run_sync(partial(_getaddrinfo, dns_name(host), port),
                                                   abandon_on_cancel=True)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    return _vet(host, infos, allow_private)


def _left(timeout: float | None, started: float) -> float | None:
    if timeout is None:
        return None
    remaining = timeout - (time.monotonic() - started)
    if remaining <= 0:
        raise httpcore.ConnectTimeout("connect time limit reached")
    return remaining


def _note_private(host: str, address: str, allow_private: bool) -> None:
    if allow_private and _classify(ipaddress.ip_address(address)) != "public":
        log.debug("connecting to private address %s for %s (allow_private_addresses is on)", address, host)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore backend whose only way out is resolve -> vet -> connect to that very IP; its streams
    end every step by the request's deadline (``deadline.DeadlineStream``)."""

    def __init__(self, allow_private: bool, inner: httpcore.NetworkBackend | None = None) -> None:
        self._allow = allow_private
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        started = time.monotonic()
        timeout = capped(timeout, httpcore.ConnectTimeout)  # DNS and connect count against the deadline too
        addresses = resolve(host, port, self._allow, timeout)
        failure: Exception | None = None
        for address in addresses:
            _note_private(host, address, self._allow)
            try:
                return DeadlineStream(self._inner.connect_tcp(address, port, _left(timeout, started), local_address,
                                                              socket_options))
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise BlockedAddress("unix sockets are never used for remote requests")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin of ``GuardedBackend``."""

    def __init__(self, allow_private: bool, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._allow = allow_private
        self._inner = inner or AsyncioBackend()  # leaner than httpcore's anyio default (see ``streams``)

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        started = time.monotonic()
        addresses = await aresolve(host, port, self._allow, timeout)
        failure: Exception | None = None
        for address in addresses:
            _note_private(host, address, self._allow)
            try:
                return await self._inner.connect_tcp(address, port, _left(timeout, started), local_address,
                                                     socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never used for remote requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(policy: FetchPolicy) -> ssl.SSLContext:
    return policy.ssl_context or _default_ssl_context()


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    """Loading the trust store costs tens of milliseconds: once per process is enough."""
    return httpx.create_ssl_context()


def _pool_options(policy: FetchPolicy) -> dict[str, Any]:
    return {"ssl_context": _ssl_context(policy), "max_connections": policy.max_connections,
            "max_keepalive_connections": policy.max_connections, "keepalive_expiry": policy.keepalive_expiry,
            "http1": True, "http2": False}


def _swap_pool(transport: Any, pool: Any, expected: type) -> None:
    """httpx builds its pool without a way to pass a backend, so we replace it; if httpx ever
    renames the attribute we must fail here rather than run unguarded."""
    if not isinstance(getattr(transport, "_pool", None), expected):
        raise RuntimeError("httpx transport internals changed; refusing to run without the address guard")
    transport._pool = pool


class GuardedTransport(httpx.HTTPTransport):
    """httpx transport whose connection pool can only connect through ``GuardedBackend``."""

    def __init__(self, policy: FetchPolicy, inner: httpcore.NetworkBackend | None) -> None:
        super().__init__(verify=_ssl_context(policy), trust_env=False)
        _swap_pool(self, httpcore.ConnectionPool(
            network_backend=GuardedBackend(policy.allow_private_addresses, inner), **_pool_options(policy)),
            httpcore.ConnectionPool)


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """The async twin of ``GuardedTransport``."""

    def __init__(self, policy: FetchPolicy, inner: httpcore.AsyncNetworkBackend | None) -> None:
        super().__init__(verify=_ssl_context(policy), trust_env=False)
        _swap_pool(self, httpcore.AsyncConnectionPool(
            network_backend=AsyncGuardedBackend(policy.allow_private_addresses, inner), **_pool_options(policy)),
            httpcore.AsyncConnectionPool)


__all__ = ["AsyncGuardedBackend", "AsyncGuardedTransport", "GuardedBackend", "GuardedTransport", "IPAddress", "aresolve",
           "check_address", "dns_name", "resolve"]
