"""The connection's transport as uvicorn writes to it: a response's head and body in one write."""

from __future__ import annotations

import asyncio

from pigeon.http_protocol import _OneWrite

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str):
        return ("127.0.0.1", 8080) if name == "sockname" else None


def on_a_loop(scenario):
    async def main():
        transport = Transport()
        await scenario(_OneWrite(transport, asyncio.get_running_loop()))
        return transport

    return asyncio.run(main())


def test_a_head_and_its_body_go_as_one_write():
    async def scenario(wrapped):
        wrapped.write(HEAD)
        wrapped.write(b"ok")
        await asyncio.sleep(0)

    assert on_a_loop(scenario).writes == [HEAD + b"ok"]


def test_a_head_nothing_follows_is_written_at_the_end_of_the_loops_turn():
    async def scenario(wrapped):
        wrapped.write(HEAD)  # a HEAD's answer, or a body that comes later
        assert wrapped._transport.writes == []
        await asyncio.sleep(0)
        assert wrapped._transport.writes == [HEAD]
        wrapped.write(b"ok")

    assert on_a_loop(scenario).writes == [HEAD, b"ok"]


def test_a_held_head_is_written_before_the_connection_closes():
    async def scenario(wrapped):
        wrapped.write(HEAD)
        wrapped.close()
        await asyncio.sleep(0)  # the end of the turn writes nothing more

    transport = on_a_loop(scenario)
    assert transport.writes == [HEAD]
    assert transport.closed


def test_other_writes_go_at_once_and_the_rest_is_the_transports():
    async def scenario(wrapped):
        wrapped.write(b"1a\r\nchunk of a streamed body\r\n")
        wrapped.write(b"0\r\n\r\n")  # the end of a chunked body: not a head
        assert wrapped.get_extra_info("sockname") == ("127.0.0.1", 8080)

    assert on_a_loop(scenario).writes == [b"1a\r\nchunk of a streamed body\r\n", b"0\r\n\r\n"]
