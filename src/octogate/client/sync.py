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


class OctopushRestClient:
    """An account on Octopush's current REST API (or any octogate: `base_url="http://127.0.0.1:8080"`).

    Pass `http_client` to bring your own `httpx.Client`; it is then yours to close. Otherwise use the client as a
    context manager, or call `close()`. Refusals raise `OctopushError` (`code`, `message`, `status`).
    """

    def __init__(
        self,
        login: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_REST_URL,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.endpoint = RestEndpoint(login, api_key, base_url)
        self._owned = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"OctopushRestClient(login={self.endpoint.login!r}, base_url={self.endpoint.base_url!r})"

    def send(
        self, recipients: Sequence[str | Recipient], text: str, **options: Unpack[RestSmsOptions]
    ) -> RestSendResult:
        """Send one campaign of 1 to 500 numbers; see `RestSms` for every option."""
        return self.send_sms(RestSms(recipients, text, **options))  # type: ignore[arg-type]

    def send_sms(self, sms: RestSms) -> RestSendResult:
        return self._call(self.endpoint.send(sms))

    def balance(
        self, product_name: str | None = None, country_code: str | None = None, *, with_details: bool = False
    ) -> WalletBalance:
        """The balance in euros, or, with a product and a country, as messages of that product there."""
        return self._call(self.endpoint.balance(product_name, country_code, with_details))

    def credits(self, country_codes: Sequence[str]) -> dict[str, CountryCredits]:
        return self._call(self.endpoint.credits(country_codes))

    def campaign_parameters(self) -> CampaignParameters:
        return self._call(self.endpoint.campaign_parameters())

    def edit_campaign_parameters(self, changes: CampaignParameters) -> CampaignParameters:
        """Set what `changes` holds (None fields are left as they are); returns the parameters after."""
        return self._call(self.endpoint.edit_campaign_parameters(changes))

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> OctopushRestClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: RestCall[T]) -> T:
        url = self.endpoint.url(call)
        try:
            response = self._http.request(
                call.method, url, params=list(call.params), content=call.content(), headers=self.endpoint.headers()
            )
        except httpx.HTTPError as error:
            raise transport_error(url, error) from None
        return self.endpoint.answer(call, response)
