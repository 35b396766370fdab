"""The pushes' HTTP client against raw servers: what receivers really answer (chunked, close-delimited, long
answers, kept-alive connections they close), what it sends (Host, Basic auth from the URL)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import pytest

from octogate.callbacks.http1 import AnswerCut, BadAnswer, ConnectFailed, HostConnection, PushClient

Answer = Callable[[bytes], bytes]


class RawServer:
    """Reads each request whole (head and Content-Length body) and writes what `answer(request)` returns;
    closes the connection after `close_after` requests (0: never)."""

    def __init__(self, answer: Answer, close_after: int = 0) -> None:
        self.answer = answer
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                writer.write(self.answer(request))
                await writer.drain()
                served += 1
                if self.close_after and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        await writer.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[PushClient]:
    push_client = PushClient(connect_timeout=2.0, total_timeout=5.0, keep_per_host=4)
    yield push_client
    await push_client.close()


STARTED: list[RawServer] = []


@pytest.fixture(autouse=True)
async def _close_servers() -> AsyncIterator[None]:
    yield
    while STARTED:
        server = STARTED.pop().server
        if server is not None:
            server.close()
            await server.wait_closed()


async def serve(answer: Answer, close_after: int = 0) -> RawServer:
    server = RawServer(answer, close_after)
    await server.start()
    STARTED.append(server)
    return server


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_pushes_go_over_one_kept_connection(client: PushClient) -> None:
    server = await serve(lambda _: OK)
    url = f"http://127.0.0.1:{server.port}/push?x=1"
    for _ in range(3):
        assert await client.post(url, b"a=1", "application/x-www-form-urlencoded", 100) == (200, b"ok")
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /push?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first and first.endswith(b"\r\n\r\na=1")


async def test_a_connection_the_receiver_closed_is_replaced_without_a_failure(client: PushClient) -> None:
    server = await serve(lambda _: OK, close_after=1)
    url = f"http://127.0.0.1:{server.port}/push"
    for _ in range(3):
        assert (await client.post(url, b"a=1", "text/plain", 100))[0] == 200
        await asyncio.sleep(0.05)  # the receiver's close reaches the client
    assert server.connections == 3 and len(server.requests) == 3


async def test_chunked_and_close_delimited_answers_are_read(client: PushClient) -> None:
    chunked = await serve(lambda _: b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"4\r\nnope\r\n6;x=y\r\n, late\r\n0\r\n\r\n")  # fmt: skip
    assert await client.post(f"http://127.0.0.1:{chunked.port}/", b"", "text/plain", 100) == (503, b"nope, late")
    assert await client.post(f"http://127.0.0.1:{chunked.port}/", b"", "text/plain", 100) == (503, b"nope, late")
    assert chunked.connections == 1  # a whole chunked answer leaves the connection usable
    closing = await serve(lambda _: b"HTTP/1.0 200 OK\r\n\r\nuntil the end", close_after=1)
    assert await client.post(f"http://127.0.0.1:{closing.port}/", b"", "text/plain", 100) == (200, b"until the end")
    old = await serve(lambda _: b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")  # 1.0: closed after
    for _ in range(2):
        assert await client.post(f"http://127.0.0.1:{old.port}/", b"", "text/plain", 100) == (200, b"ok")
    assert old.connections == 2


async def test_a_long_answer_is_cut_and_its_connection_not_kept(client: PushClient) -> None:
    server = await serve(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    url = f"http://127.0.0.1:{server.port}/"
    assert await client.post(url, b"", "text/plain", 10) == (200, b"x" * 10)
    assert await client.post(url, b"", "text/plain", 10) == (200, b"x" * 10)
    assert server.connections == 2


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _read(answer: bytes, limit: int, sizes: int) -> tuple[int, bytes, bool]:
    """What a connection makes of `answer` arriving `sizes` bytes at a time."""
    conn = HostConnection()
    conn.connection_made(_Transport())
    waiter = conn.expect(limit)
    for start in range(0, len(answer), sizes):
        conn.data_received(answer[start : start + sizes])
    status, _, body, reusable = await waiter
    return status, body, reusable


@pytest.mark.parametrize(("answer", "limit", "read"), [
    (OK, 100, (200, b"ok", True)),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + OK, 100, (200, b"ok", True)),
    (b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", 100, (204, b"", True)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext\r\nde\r\n0\r\nT: 1\r\n\r\n",
     100, (200, b"abcde", True)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n",
     5, (200, b"abcde", False)),
    (b"HTTP/1.1 500 Oops\r\nContent-Length: 7\r\n\r\nbroken!", 4, (500, b"brok", False)),
])  # fmt: skip
async def test_an_answer_reads_the_same_however_its_bytes_are_split(
    answer: bytes, limit: int, read: tuple[int, bytes, bool]
) -> None:
    for sizes in (len(answer), 7, 1):
        assert await _read(answer, limit, sizes) == read


async def test_bytes_after_the_answer_make_the_connection_unusable_and_are_not_kept() -> None:
    conn = HostConnection()
    transport = _Transport()
    conn.connection_made(transport)
    waiter = conn.expect(100)
    conn.data_received(OK)
    assert (await waiter)[2] and conn.usable
    conn.data_received(b"x" * 100_000)  # a receiver writing on a kept connection: closed, nothing held
    assert transport.closed and not conn.usable


async def test_a_head_over_the_limit_or_a_bad_chunk_is_a_bad_answer() -> None:
    with pytest.raises(BadAnswer, match="head over"):
        await _read(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000, 10, 4096)
    with pytest.raises(BadAnswer, match="not hexadecimal"):
        await _read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 10, 1)


async def test_an_answer_cut_short_is_an_error_and_the_push_not_sent_again(client: PushClient) -> None:
    """A kept connection closed before answering is replaced (the push sent again on a new one), but one closed
    in the middle of its answer is an error: the receiver may have taken the push."""
    server = await serve(lambda request: OK if len(server.requests) == 1 else b"HTTP/1.1 200 OK\r\nContent-Le",
                         close_after=2)  # fmt: skip
    url = f"http://127.0.0.1:{server.port}/"
    assert await client.post(url, b"a=1", "text/plain", 100) == (200, b"ok")
    with pytest.raises(AnswerCut, match="closed the connection 27 bytes into its answer"):
        await client.post(url, b"a=2", "text/plain", 100)
    assert len(server.requests) == 2 and server.connections == 1


async def test_a_path_outside_ascii_is_percent_encoded(client: PushClient) -> None:
    server = await serve(lambda _: OK)
    await client.post(f"http://127.0.0.1:{server.port}/reçu/%41?n=é&a=b", b"", "text/plain", 10)
    assert server.requests[0].startswith(b"POST /re%C3%A7u/%41?n=%C3%A9&a=b HTTP/1.1\r\n")


async def test_credentials_in_the_url_go_as_basic_auth(client: PushClient) -> None:
    server = await serve(lambda _: OK)
    await client.post(f"http://us%40er:p%3Ass@127.0.0.1:{server.port}/", b"", "text/plain", 10)
    expected = base64.b64encode(b"us@er:p:ss").decode()
    assert f"Authorization: Basic {expected}\r\n".encode() in server.requests[0]


async def test_an_answer_that_is_not_http_and_a_closed_port_are_errors(client: PushClient) -> None:
    server = await serve(lambda _: b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ValueError, match="not an HTTP answer"):
        await client.post(f"http://127.0.0.1:{server.port}/", b"", "text/plain", 10)
    assert server.server is not None
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(ConnectFailed):
        await client.post(f"http://127.0.0.1:{server.port}/", b"", "text/plain", 10)


async def test_a_host_that_never_answers_times_out_and_a_callers_cancellation_stays_one() -> None:
    """The total timeout is kept by one sweep for every POST (not a timer each): a silent host costs the push a
    TimeoutError within the timeout and a quarter of it; a push cancelled by its caller (a stop) is not turned
    into a timeout, and a POST that ends in time is not cancelled afterwards."""
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda reader, writer: accepted.append(writer), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    fast = await serve(lambda request: b"HTTP/1.1 204 No Content\r\n\r\n")
    push_client = PushClient(connect_timeout=0.2, total_timeout=0.4, keep_per_host=4)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await push_client.post(f"http://127.0.0.1:{port}/", b"a=1", "text/plain", 100)
        assert 0.4 <= asyncio.get_running_loop().time() - started < 1.0

        stopped = asyncio.create_task(push_client.post(f"http://127.0.0.1:{port}/", b"a=1", "text/plain", 100))
        await asyncio.sleep(0.05)
        stopped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopped

        assert (await push_client.post(f"http://127.0.0.1:{fast.port}/", b"a=1", "text/plain", 100))[0] == 204
        await asyncio.sleep(0.6)  # past the deadline the POST had: nothing of it is left to cancel
        assert (await push_client.post(f"http://127.0.0.1:{fast.port}/", b"a=1", "text/plain", 100))[0] == 204
    finally:
        await push_client.close()
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()
