"""`OctopushClient`: the blocking form, for scripts, CLIs and WSGI apps."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar, Unpack

import httpx

from octogate.client.answers import Balance, SendResult
from octogate.client.core import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, HEADERS, Call, Endpoint, transport_error
from octogate.client.fields import Sms, SmsOptions

T = TypeVar("T")


class OctopushClient:
    """An account on the Octopush API (or any octogate: `base_url="http://127.0.0.1:8080"`).

    Pass `http_client` to bring your own `httpx.Client` (proxies, certificates, transports); it is then
    yours to close. Otherwise use the client as a context manager, or call `close()`.
    """

    def __init__(
        self,
        login: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.endpoint = Endpoint(login, api_key, base_url)
        self._owned = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"OctopushClient(login={self.endpoint.login!r}, base_url={self.endpoint.base_url!r})"

    def send(self, recipients: Sequence[str], text: str, **options: Unpack[SmsOptions]) -> SendResult:
        """Send one campaign; see `Sms` for every option. Raises `OctopushError` on a refusal."""
        return self.send_sms(Sms(recipients, text, **options))

    def send_sms(self, sms: Sms) -> SendResult:
        return self._call(self.endpoint.sms(sms))

    def balance(self) -> Balance:
        return self._call(self.endpoint.balance())

    def credit(self) -> Decimal:
        """The money left, in the account's currency (`/api/credit`)."""
        return self._call(self.endpoint.credit())

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> OctopushClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: Call[T]) -> T:
        url = self.endpoint.url(call)
        try:
            response = self._http.post(url, content=call.body(), headers=HEADERS)
        except httpx.HTTPError as error:
            raise transport_error(url, error) from None
        return self.endpoint.answer(call, response)
