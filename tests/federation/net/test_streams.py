"""The async client's asyncio connections: each failure is the httpcore error httpx expects, and an idle
connection the peer closed is seen as such (the pool must not reuse it)."""
from __future__ import annotations

import asyncio
import socket

import httpcore
import pytest

from linkblog.federation.net.streams import AsyncioBackend

from tests.support.aio import run_async


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_connect_error() -> None:
    port = free_port()  # nothing listens there any more
    with pytest.raises(httpcore.ConnectError):
        run_async(lambda: AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5))


def test_a_silent_peer_is_a_read_timeout_and_an_answer_is_read() -> None:
    async def scenario() -> bytes:
        async def answer_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(4)
            await asyncio.sleep(0.3)
            writer.write(b"pong")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer_late, "127.0.0.1", 0)
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
            await stream.write(b"ping", timeout=5)
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(100, timeout=0.05)
            got = await stream.read(100, timeout=5)
            await stream.aclose()
            return got

    assert run_async(scenario) == b"pong"


def test_an_idle_connection_the_peer_closed_is_readable() -> None:
    async def scenario() -> tuple[bool, bool]:
        closed = asyncio.Event()

        async def close_when_told(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(1)
            writer.close()
            closed.set()

        server = await asyncio.start_server(close_when_told, "127.0.0.1", 0)
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
            fresh = stream.get_extra_info("is_readable")
            await stream.write(b"x", timeout=5)
            await closed.wait()
            for _ in range(100):  # the close reaches this side's transport on a later turn of the loop
                if stream.get_extra_info("is_readable"):
                    break
                await asyncio.sleep(0.01)
            after = stream.get_extra_info("is_readable")
            await stream.aclose()
            return fresh, after

    assert run_async(scenario) == (False, True)
