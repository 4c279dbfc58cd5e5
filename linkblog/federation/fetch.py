"""The one guarded HTTP client for every remote fetch and delivery.

Anything the fediverse hands us (actor ids, key ids, inboxes, WebFinger hosts) is attacker-chosen,
so every request goes through here: https only, no private or otherwise special addresses, a
bounded number of redirects, time limits and a body cap. The address check runs inside the
connection itself -- we resolve the host, vet *every* answer and connect to the vetted IP -- so a
DNS answer that changes between "check" and "connect" (rebinding) cannot slip through. TLS still
verifies the certificate for the hostname (httpcore passes SNI separately from the TCP target) and
the Host header is untouched.

``FetchClient`` (sync, for the web process) and ``AsyncFetchClient`` (for the delivery worker)
are thin wrappers around one ``FetchPolicy``; the rules themselves are plain functions below.
"""
from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache, partial
from importlib import metadata
from typing import Any, Iterator, Sequence

import anyio
import httpcore
import httpx

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

AP_CONTENT_TYPE = "application/activity+json"
AS_PROFILE = "https://www.w3.org/ns/activitystreams"
AP_ACCEPT = f'application/activity+json, application/ld+json; profile="{AS_PROFILE}"'
# application/json is accepted too: several servers answer with it despite our Accept header, and
# what makes a document trustworthy is the id check, not the label.
AP_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
JRD_ACCEPT = "application/jrd+json, application/json"
JRD_CONTENT_TYPES = frozenset({"application/jrd+json", "application/json"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# --- errors -----------------------------------------------------------------------------------

class FetchError(Exception):
    """Any refused or failed remote request; ``reason`` is safe to log and show to the owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadURL(FetchError):
    """Malformed URL, a scheme we do not speak, or credentials in the URL."""


class BlockedAddress(FetchError):
    """The host is, or resolves to, an address we never connect to."""


class TooLarge(FetchError):
    """The body (declared or actually sent, after decompression) exceeds the cap."""


class BadContentType(FetchError):
    """The server answered with a media type (or encoding) we do not accept."""


class TooManyRedirects(FetchError):
    """More redirects than the policy allows."""


class IdMismatch(FetchError):
    """The document claims to be something other than what we fetched."""


class BadDocument(FetchError):
    """Not JSON, not a JSON object, no id, or a JRD without an ActivityPub self link."""


class FetchTimeout(FetchError):
    """Connect, read or total time limit reached."""


class ConnectionFailed(FetchError):
    """Network-level failure: refused, reset, TLS or protocol error."""


class HTTPStatusError(FetchError):
    """A final answer outside 2xx; ``status`` tells the caller whether retrying makes sense."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.url = url


# --- policy -----------------------------------------------------------------------------------

def user_agent(base_url: str) -> str:
    """``linkblog/<version> (+base_url)``: remote admins can see who is calling and where to look."""
    try:
        version = metadata.version("linkblog")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"linkblog/{version} (+{base_url})"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits shared by the sync and async clients, so both enforce exactly the same contract."""

    user_agent: str
    allow_private_addresses: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_body_bytes: int = 1024 * 1024
    max_redirects: int = 3
    max_connections: int = 10
    keepalive_expiry: float = 30.0
    # None: the usual certifi trust store. Tests pass a context trusting their own certificate.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    @classmethod
    def for_site(cls, base_url: str, **overrides: Any) -> FetchPolicy:
        return cls(user_agent=user_agent(base_url), **overrides)

    @property
    def schemes(self) -> frozenset[str]:
        """Plain http only in allow mode: it exists for two local servers talking to each other."""
        return frozenset({"https", "http"}) if self.allow_private_addresses else frozenset({"https"})

    def timeout(self, remaining: float | None = None) -> httpx.Timeout:
        """Per-request limits, shortened so one request cannot outlive the total budget."""
        def cap(value: float) -> float:
            return value if remaining is None else max(0.001, min(value, remaining))
        return httpx.Timeout(connect=cap(self.connect_timeout), read=cap(self.read_timeout),
                             write=cap(self.read_timeout), pool=cap(self.connect_timeout))


def warn_if_private_allowed(logger: logging.Logger, allowed: bool) -> None:
    """Say it loudly at start-up: allow mode turns the SSRF guard off for the local network."""
    if allowed:
        logger.warning("FEDERATION SAFETY OFF: allow_private_addresses is on, so remote fetches and "
                       "deliveries may reach loopback and private-network addresses over plain http. "
                       "Use this only for tests and local trials, never on a public server.")


# --- addresses --------------------------------------------------------------------------------

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
    future = pool.submit(_getaddrinfo, host, port)
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
            infos = await anyio.to_thread.run_sync(partial(_getaddrinfo, host, port), abandon_on_cancel=True)
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
    """httpcore backend whose only way out is resolve -> vet -> connect to that very IP."""

    def __init__(self, allow_private: bool, inner: httpcore.NetworkBackend | None = None) -> None:
        self._allow = allow_private
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        started = time.monotonic()
        addresses = resolve(host, port, self._allow, timeout)
        failure: Exception | None = None
        for address in addresses:
            _note_private(host, address, self._allow)
            try:
                return self._inner.connect_tcp(address, port, _left(timeout, started), local_address,
                                               socket_options)
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
        self._inner = inner or httpcore.AnyIOBackend()

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


# --- transports -------------------------------------------------------------------------------

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


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: FetchPolicy, inner: httpcore.NetworkBackend | None) -> None:
        super().__init__(verify=_ssl_context(policy), trust_env=False)
        _swap_pool(self, httpcore.ConnectionPool(
            network_backend=GuardedBackend(policy.allow_private_addresses, inner), **_pool_options(policy)),
            httpcore.ConnectionPool)


class _AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: FetchPolicy, inner: httpcore.AsyncNetworkBackend | None) -> None:
        super().__init__(verify=_ssl_context(policy), trust_env=False)
        _swap_pool(self, httpcore.AsyncConnectionPool(
            network_backend=AsyncGuardedBackend(policy.allow_private_addresses, inner), **_pool_options(policy)),
            httpcore.AsyncConnectionPool)


# --- request/response rules shared by both clients --------------------------------------------

@dataclass(frozen=True)
class Fetched:
    """A successful (2xx) answer after redirects; ``url`` is where it finally came from."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class Delivery:
    """What a POST to an inbox got back; redirects are not followed (the status says so)."""

    status: int
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from either form RFC 9110 allows (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def checked_url(url: str | httpx.URL, policy: FetchPolicy) -> httpx.URL:
    """Parse and check scheme/host; the fragment is dropped because it never reaches a server."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise BadURL(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in policy.schemes:
        raise BadURL(f"scheme {parsed.scheme!r} not allowed in {url!r}")
    if not parsed.host:
        raise BadURL(f"no host in {url!r}")
    if parsed.userinfo:
        raise BadURL("credentials in URL are not allowed")
    return parsed.copy_with(fragment=None)


def _redirect_target(response: httpx.Response, hop: int, policy: FetchPolicy) -> httpx.URL | None:
    if response.status_code not in REDIRECT_STATUSES or "location" not in response.headers:
        return None
    if hop >= policy.max_redirects:
        raise TooManyRedirects(f"more than {policy.max_redirects} redirects from {response.request.url}")
    try:
        target = response.url.join(response.headers["location"])
    except httpx.InvalidURL as exc:
        raise BadURL(f"invalid redirect target: {exc}") from None
    return checked_url(target, policy)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _check_response(response: httpx.Response, content_types: frozenset[str] | None, cap: int) -> None:
    if not 200 <= response.status_code < 300:
        raise HTTPStatusError(response.status_code, str(response.url))
    if content_types is not None and media_type(response.headers.get("content-type")) not in content_types:
        raise BadContentType(f"unexpected content type {response.headers.get('content-type')!r} "
                             f"from {response.url}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"{response.url} declares {declared} bytes, more than {cap}")


class _BodyCollector:
    """Counts bytes as they arrive and inflates gzip/deflate in bounded steps, so neither an
    endless stream nor a compression bomb is ever held in memory beyond the cap."""

    def __init__(self, response: httpx.Response, cap: int, deadline: float | None) -> None:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        else:
            raise BadContentType(f"unsupported content encoding {encoding!r}")
        self._url, self._cap, self._deadline = response.url, cap, deadline
        self._raw = 0
        self._size = 0
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._cap:
            raise TooLarge(f"{self._url} sent more than {self._cap} bytes")
        if self._inflater is not None:
            try:
                chunk = self._inflater.decompress(chunk, self._cap - self._size + 1)
            except zlib.error as exc:
                raise BadDocument(f"corrupt compressed body from {self._url}: {exc}") from None
        self._size += len(chunk)
        if self._size > self._cap:
            raise TooLarge(f"{self._url} body is larger than {self._cap} bytes")
        self._parts.append(chunk)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FetchTimeout(f"total time limit reached reading {self._url}")

    def body(self) -> bytes:
        return b"".join(self._parts)


def parse_json_object(fetched: Fetched) -> dict[str, Any]:
    try:
        document = json.loads(fetched.body)
    except (ValueError, RecursionError):
        raise BadDocument(f"{fetched.url} did not return valid JSON") from None
    if not isinstance(document, dict):
        raise BadDocument(f"{fetched.url} did not return a JSON object")
    return document


def _comparable(url: str) -> tuple[str, str, int | None, bytes] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    return parsed.scheme, parsed.host, parsed.port, parsed.raw_path  # port is None when default


def checked_document(fetched: Fetched) -> dict[str, Any]:
    """The id must name exactly where the document came from, or anyone could serve anyone's actor."""
    document = parse_json_object(fetched)
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise BadDocument(f"document at {fetched.url} has no id")
    if "#" in doc_id or _comparable(doc_id) != _comparable(fetched.url):
        raise IdMismatch(f"document at {fetched.url} claims id {doc_id}")
    return document


def parse_handle(handle: str) -> tuple[str, str]:
    """``@user@host``, ``user@host`` or ``acct:user@host`` -> (user, host[:port])."""
    text = handle.strip().removeprefix("acct:").lstrip("@")
    user, sep, host = text.rpartition("@")
    if not sep or not user or not host or any(c in text for c in "/?#\\ \t\r\n") or "@" in user:
        raise BadURL(f"not a handle: {handle!r}")
    return user, host.lower()


def webfinger_url(user: str, host: str, scheme: str) -> httpx.URL:
    return httpx.URL(f"{scheme}://{host}/.well-known/webfinger", params={"resource": f"acct:{user}@{host}"})


def actor_from_jrd(fetched: Fetched) -> str:
    """The ``self`` link with an ActivityPub type; anything else in the JRD is ignored."""
    jrd = parse_json_object(fetched)
    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        kind = str(link.get("type", ""))
        href = link.get("href")
        ap_type = media_type(kind) == AP_CONTENT_TYPE or (
            media_type(kind) == "application/ld+json" and AS_PROFILE in kind)
        if ap_type and isinstance(href, str) and href:
            return href
    raise BadDocument(f"{fetched.url} has no ActivityPub self link")


@contextlib.contextmanager
def _translated_errors(url: object) -> Iterator[None]:
    """httpx/anyio failures become FetchError subclasses; our own errors pass through unchanged."""
    try:
        yield
    except FetchError:
        raise
    except (httpx.TimeoutException, TimeoutError):
        raise FetchTimeout(f"time limit reached fetching {url}") from None
    except httpx.InvalidURL as exc:
        raise BadURL(f"invalid URL {url}: {exc}") from None
    except httpx.TransportError as exc:
        raise ConnectionFailed(f"could not fetch {url}: {exc or type(exc).__name__}") from None


def _request_headers(policy: FetchPolicy, accept: str | None) -> dict[str, str]:
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"}
    if accept:
        headers["Accept"] = accept
    return headers


# --- clients ----------------------------------------------------------------------------------

class FetchClient:
    """Sync client for the web process (e.g. fetching a key while verifying an inbox POST)."""

    def __init__(self, policy: FetchPolicy, *, network_backend: httpcore.NetworkBackend | None = None) -> None:
        """``network_backend`` opens the vetted connections (default: plain sockets); tests swap in
        a recorder. The guard always wraps it."""
        self.policy = policy
        self._client = httpx.Client(transport=_GuardedTransport(policy, network_backend), trust_env=False,
                                    follow_redirects=False, timeout=policy.timeout(),
                                    headers={"User-Agent": policy.user_agent})

    def __enter__(self) -> FetchClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, accept: str | None = None, content_types: frozenset[str] | None = None,
            auth: httpx.Auth | None = None) -> Fetched:
        """GET with redirects (each hop re-checked), status, content type, size and time limits."""
        policy = self.policy
        target = checked_url(url, policy)
        deadline = time.monotonic() + policy.total_timeout
        with _translated_errors(target):
            for hop in range(policy.max_redirects + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FetchTimeout(f"total time limit reached fetching {url}")
                request = self._client.build_request("GET", target, headers=_request_headers(policy, accept),
                                                     timeout=policy.timeout(remaining))
                response = self._client.send(request, stream=True, auth=auth)
                try:
                    next_target = _redirect_target(response, hop, policy)
                    if next_target is not None:
                        target = next_target
                        continue
                    _check_response(response, content_types, policy.max_body_bytes)
                    collector = _BodyCollector(response, policy.max_body_bytes, deadline)
                    for chunk in response.iter_raw():
                        collector.feed(chunk)
                    return Fetched(str(response.url), response.status_code, response.headers, collector.body())
                finally:
                    response.close()
        raise AssertionError("unreachable: the last hop either returns or raises")

    def fetch_json(self, url: str, *, auth: httpx.Auth | None = None) -> dict[str, Any]:
        """An ActivityPub document whose ``id`` equals the final URL (fragment of ``url`` dropped)."""
        return checked_document(self.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=auth))

    def post_json(self, inbox_url: str, body: bytes, *, auth: httpx.Auth | None = None,
                  content_type: str = AP_CONTENT_TYPE) -> Delivery:
        """Deliver ``body``; any status comes back (the worker decides on retries), errors raise."""
        policy = self.policy
        target = checked_url(inbox_url, policy)
        with _translated_errors(target):
            request = self._client.build_request(
                "POST", target, content=body, timeout=policy.timeout(policy.total_timeout),
                headers={**_request_headers(policy, AP_CONTENT_TYPE), "Content-Type": content_type})
            response = self._client.send(request, stream=True, auth=auth)
            try:
                # Drain a little so the connection can be reused; the status is already known.
                with contextlib.suppress(httpx.HTTPError):
                    drained = 0
                    for chunk in response.iter_raw():
                        drained += len(chunk)
                        if drained > policy.max_body_bytes:
                            break
            finally:
                response.close()
        return Delivery(response.status_code, response.headers)

    def webfinger(self, handle: str, *, auth: httpx.Auth | None = None) -> str:
        """Actor id for ``@user@host``; in allow mode a host without TLS is retried over http.
        The actor may live on another host (split domains): callers fetch it with ``fetch_json``."""
        user, host = parse_handle(handle)
        for scheme in _webfinger_schemes(self.policy):
            try:
                fetched = self.get(str(webfinger_url(user, host, scheme)), accept=JRD_ACCEPT,
                                   content_types=JRD_CONTENT_TYPES, auth=auth)
            except ConnectionFailed:
                if scheme == "http" or not self.policy.allow_private_addresses:
                    raise
                continue
            return actor_from_jrd(fetched)
        raise AssertionError("unreachable")


class AsyncFetchClient:
    """Async client for the delivery worker: one per worker, connections reused, pool bounded by
    ``policy.max_connections``. The total time limit is a hard cancel scope here."""

    def __init__(self, policy: FetchPolicy, *,
                 network_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self._client = httpx.AsyncClient(transport=_AsyncGuardedTransport(policy, network_backend),
                                         trust_env=False, follow_redirects=False, timeout=policy.timeout(),
                                         headers={"User-Agent": policy.user_agent})

    async def __aenter__(self) -> AsyncFetchClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, accept: str | None = None, content_types: frozenset[str] | None = None,
                  auth: httpx.Auth | None = None) -> Fetched:
        """Same contract as ``FetchClient.get``."""
        policy = self.policy
        target = checked_url(url, policy)
        with _translated_errors(target), anyio.fail_after(policy.total_timeout):
            for hop in range(policy.max_redirects + 1):
                request = self._client.build_request("GET", target, headers=_request_headers(policy, accept))
                response = await self._client.send(request, stream=True, auth=auth)
                try:
                    next_target = _redirect_target(response, hop, policy)
                    if next_target is not None:
                        target = next_target
                        continue
                    _check_response(response, content_types, policy.max_body_bytes)
                    collector = _BodyCollector(response, policy.max_body_bytes, None)
                    async for chunk in response.aiter_raw():
                        collector.feed(chunk)
                    return Fetched(str(response.url), response.status_code, response.headers, collector.body())
                finally:
                    await response.aclose()
        raise AssertionError("unreachable: the last hop either returns or raises")

    async def fetch_json(self, url: str, *, auth: httpx.Auth | None = None) -> dict[str, Any]:
        """Same contract as ``FetchClient.fetch_json``."""
        return checked_document(await self.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=auth))

    async def post_json(self, inbox_url: str, body: bytes, *, auth: httpx.Auth | None = None,
                        content_type: str = AP_CONTENT_TYPE) -> Delivery:
        """Same contract as ``FetchClient.post_json``."""
        policy = self.policy
        target = checked_url(inbox_url, policy)
        with _translated_errors(target):
            with anyio.fail_after(policy.total_timeout):
                request = self._client.build_request(
                    "POST", target, content=body,
                    headers={**_request_headers(policy, AP_CONTENT_TYPE), "Content-Type": content_type})
                response = await self._client.send(request, stream=True, auth=auth)
            try:
                with anyio.move_on_after(policy.read_timeout), contextlib.suppress(httpx.HTTPError):
                    drained = 0
                    async for chunk in response.aiter_raw():
                        drained += len(chunk)
                        if drained > policy.max_body_bytes:
                            break
            finally:
                await response.aclose()
        return Delivery(response.status_code, response.headers)

    async def webfinger(self, handle: str, *, auth: httpx.Auth | None = None) -> str:
        """Same contract as ``FetchClient.webfinger``."""
        user, host = parse_handle(handle)
        for scheme in _webfinger_schemes(self.policy):
            try:
                fetched = await self.get(str(webfinger_url(user, host, scheme)), accept=JRD_ACCEPT,
                                         content_types=JRD_CONTENT_TYPES, auth=auth)
            except ConnectionFailed:
                if scheme == "http" or not self.policy.allow_private_addresses:
                    raise
                continue
            return actor_from_jrd(fetched)
        raise AssertionError("unreachable")


def _webfinger_schemes(policy: FetchPolicy) -> tuple[str, ...]:
    return ("https", "http") if policy.allow_private_addresses else ("https",)


__all__ = [
    "AP_ACCEPT", "AP_CONTENT_TYPES", "AsyncFetchClient", "AsyncGuardedBackend", "BadContentType", "BadDocument",
    "BadURL", "BlockedAddress", "ConnectionFailed", "Delivery", "FetchClient", "FetchError", "FetchPolicy",
    "FetchTimeout", "Fetched", "GuardedBackend", "HTTPStatusError", "IdMismatch", "TooLarge", "TooManyRedirects",
    "aresolve", "check_address", "checked_url", "parse_handle", "parse_retry_after", "resolve", "user_agent",
    "warn_if_private_allowed",
]
