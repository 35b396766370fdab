"""What an API worker passes on to serve (the console, the probes) arrives as the client sent it, with the
client's own address and scheme (the console's sign-in throttle counts by address), and its answer comes
back whole; a client cannot forge the address by sending the private headers itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octogate.http.workers import Forwarded, Proxy, WorkerEdge, private_server, serves_locally


async def test_a_request_passed_on_keeps_its_client_and_its_answer(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def console(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.update(scope, body=body)
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"/console/home"), (b"set-cookie", b"s=1")]})  # fmt: skip
        for part in (b"one ", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    address = str(tmp_path / "serve.sock")
    server = await private_server(Forwarded(console), address)
    proxy = Proxy(address)
    try:
        sent: list[dict[str, Any]] = []
        bodies = iter([{"type": "http.request", "body": b"login=a", "more_body": True},
                       {"type": "http.request", "body": b"&password=b"}])  # fmt: skip

        async def receive() -> dict[str, Any]:
            return next(bodies)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "method": "POST", "path": "/console/login", "raw_path": b"/console/login",
            "query_string": b"next=%2Fconsole%2F", "scheme": "https", "client": ("203.0.113.7", 41000),
            "headers": [(b"host", b"sms.example"), (b"content-type", b"application/x-www-form-urlencoded"),
                        (b"x-octogate-client", b"127.0.0.1 1"), (b"cookie", b"c=2")],
        }  # fmt: skip
        await WorkerEdge(_not_called, proxy)(scope, receive, send)
    finally:
        await proxy.close()
        await server.shutdown()

    assert seen["client"] == ("203.0.113.7", 41000)  # not the forged 127.0.0.1
    assert seen["scheme"] == "https"
    assert (seen["method"], seen["path"], seen["query_string"]) == (
        "POST",
        "/console/login",
        b"next=%2Fconsole%2F",
    )
    assert seen["body"] == b"login=a&password=b"
    headers = dict(seen["headers"])
    assert headers[b"host"] == b"sms.example" and headers[b"cookie"] == b"c=2"
    assert not any(name.startswith(b"x-octogate-") for name in headers)
    start = sent[0]
    assert start["status"] == 303
    assert (b"location", b"/console/home") in start["headers"] and (b"set-cookie", b"s=1") in start["headers"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"one two"


async def _not_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the console is not the API's")


def test_a_worker_answers_the_api_paths_itself() -> None:
    for path in ("/api/sms", "/api/sms/json", "/api/balance", "/api/credit/", "/v1/public/sms-campaign/send"):
        assert serves_locally(path), path
    for path in ("/console/login", "/healthz", "/readyz", "/", "/api/other", "/static/x.css"):
        assert not serves_locally(path), path
