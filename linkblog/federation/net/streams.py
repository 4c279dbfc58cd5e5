"""The async client's connections, on asyncio's own streams.

httpcore's default (anyio) backend wraps every read, write and connect in a cancel scope and a library
lookup, and connects through a happy-eyeballs task group even to the one vetted address the guard hands it:
in a fan-out to a thousand cold hosts that is a sixth of a delivery's CPU. The worker only ever runs on
asyncio, so its connections use asyncio streams directly, with ``asyncio.timeout`` for each step's limit.
The guard (``guard.AsyncGuardedBackend``) still decides where they may connect; the request's total deadline
is still the client's cancel scope, which cancels these awaits like any other.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any, Iterable, Iterator

import httpcore

READ_LIMIT = 64 * 1024


@contextlib.contextmanager
def _mapped(timeout: float | None, on_timeout: type[Exception], on_error: type[Exception]) -> Iterator[None]:
    """Run the body within ``timeout`` seconds (None: no limit); a timeout or an OS error becomes the httpcore
    error httpx expects (``on_timeout``, ``on_error``)."""
    try:
        yield
    except TimeoutError as exc:
        raise on_timeout(str(exc) or "timed out") from exc
    except (OSError, EOFError) as exc:
        raise on_error(str(exc) or type(exc).__name__) from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (plain, or TLS after ``start_tls``) for httpcore."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(timeout, httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(timeout, httpcore.WriteTimeout, httpcore.WriteError):
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()  # no wait for the peer: a closing connection must never hold a delivery

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with _mapped(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            self._writer.close()
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle pooled connection the peer closed (or wrote to) is not reused
            return self._reader.at_eof() or self._writer.transport.is_closing()
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects to exactly the address given (the guard has vetted it) and nowhere else."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
            with _mapped(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
                if local_address:
                    sock.bind((local_address, 0))
                async with asyncio.timeout(timeout):
                    await loop.sock_connect(sock, (host, port))
                reader, writer = await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
        except BaseException:
            sock.close()
            raise
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for remote requests")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


__all__ = ["AsyncioBackend", "AsyncioStream"]
