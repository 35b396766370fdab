"""`AsyncOctopushClient`: the asyncio form, for ASGI apps and workers sending many campaigns at once."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar, Unpack

import httpx

from octogate.client.answers import Balance, SendResult
from octogate.client.core import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, HEADERS, Call, Endpoint, transport_error
from octogate.client.fields import Sms, SmsOptions
from octogate.client.rest import (
    DEFAULT_REST_URL,
    CampaignParameters,
    CountryCredits,
    Recipient,
    RestCall,
    RestEndpoint,
    RestSendResult,
    RestSms,
    RestSmsOptions,
    WalletBalance,
)

T = TypeVar("T")


class AsyncOctopushClient:
    """An account on the Octopush API (or any octogate: `base_url="http://127.0.0.1:8080"`).

    Pass `http_client` to bring your own `httpx.AsyncClient` (proxies, certificates, transports); it is then
    yours to close. Otherwise use the client as a context manager, or call `aclose()`.
    """

    def __init__(
        self,
        login: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = Endpoint(login, api_key, base_url)
        self._owned = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncOctopushClient(login={self.endpoint.login!r}, base_url={self.endpoint.base_url!r})"

    async def send(self, recipients: Sequence[str], text: str, **options: Unpack[SmsOptions]) -> SendResult:
        """Send one campaign; see `Sms` for every option. Raises `OctopushError` on a refusal."""
        return await self.send_sms(Sms(recipients, text, **options))

    async def send_sms(self, sms: Sms) -> SendResult:
        return await self._call(self.endpoint.sms(sms))

    async def balance(self) -> Balance:
        return await self._call(self.endpoint.balance())

    async def credit(self) -> Decimal:
        """The money left, in the account's currency (`/api/credit`)."""
        return await self._call(self.endpoint.credit())

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncOctopushClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: Call[T]) -> T:
        url = self.endpoint.url(call)
        try:
            response = await self._http.post(url, content=call.body(), headers=HEADERS)
        except httpx.HTTPError as error:
            raise transport_error(url, error) from None
        return self.endpoint.answer(call, response)


class AsyncOctopushRestClient:
    """The asyncio form of `OctopushRestClient` (Octopush's current REST API, or any octogate)."""

    def __init__(
        self,
        login: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_REST_URL,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = RestEndpoint(login, api_key, base_url)
        self._owned = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncOctopushRestClient(login={self.endpoint.login!r}, base_url={self.endpoint.base_url!r})"

    async def send(
        self, recipients: Sequence[str | Recipient], text: str, **options: Unpack[RestSmsOptions]
    ) -> RestSendResult:
        """Send one campaign of 1 to 500 numbers; see `RestSms` for every option."""
        return await self.send_sms(RestSms(recipients, text, **options))  # type: ignore[arg-type]

    async def send_sms(self, sms: RestSms) -> RestSendResult:
        return await self._call(self.endpoint.send(sms))

    async def balance(
        self, product_name: str | None = None, country_code: str | None = None, *, with_details: bool = False
    ) -> WalletBalance:
        return await self._call(self.endpoint.balance(product_name, country_code, with_details))

    async def credits(self, country_codes: Sequence[str]) -> dict[str, CountryCredits]:
        return await self._call(self.endpoint.credits(country_codes))

    async def campaign_parameters(self) -> CampaignParameters:
        return await self._call(self.endpoint.campaign_parameters())

    async def edit_campaign_parameters(self, changes: CampaignParameters) -> CampaignParameters:
        return await self._call(self.endpoint.edit_campaign_parameters(changes))

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncOctopushRestClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: RestCall[T]) -> T:
        url = self.endpoint.url(call)
        try:
            response = await self._http.request(
                call.method, url, params=list(call.params), content=call.content(), headers=self.endpoint.headers()
            )
        except httpx.HTTPError as error:
            raise transport_error(url, error) from None
        return self.endpoint.answer(call, response)
