"""A typed client for the Octopush SMS APIs, v1.6.1 and the current REST API (Octopush itself or any octogate),
and push receivers.

Needs only the standard library and httpx: it never imports the gateway's server dependencies.

    from octogate.client import OctopushClient, OctopushRestClient
    with OctopushClient(login, api_key, base_url="http://127.0.0.1:8080") as client:
        result = client.send(["+33601020304"], "Hello. STOP au XXXXX", sender="MyShop")
    with OctopushRestClient(login, api_key, base_url="http://127.0.0.1:8080") as rest:
        sent = rest.send(["+33601020304"], "Your code: 1234", purpose="alert", sender="MyShop")
"""

from octogate.client.aio import AsyncOctopushClient, AsyncOctopushRestClient
from octogate.client.answers import Balance, Failure, SendResult, Success
from octogate.client.callbacks import (
    BadSignature,
    Callback,
    CallbackError,
    DeliveryReceipt,
    DeliveryStatus,
    Reply,
    RestCallback,
    RestDeliveryReceipt,
    RestDeliveryStatus,
    RestReply,
    RestStop,
    Stop,
    parse_callback,
    parse_push,
    parse_rest_callback,
)
from octogate.client.core import DEFAULT_BASE_URL
from octogate.client.errors import OctopushClientError, OctopushError, OctopushTransportError
from octogate.client.fields import Sms, SmsOptions, SmsType
from octogate.client.receiver import callback_app
from octogate.client.rest import (
    DEFAULT_REST_URL,
    CampaignParameters,
    CountryCredits,
    Purpose,
    Recipient,
    RestSendResult,
    RestSms,
    RestSmsType,
    WalletBalance,
    WalletPack,
)
from octogate.client.sync import OctopushClient, OctopushRestClient
from octogate.octopush.errors import Code

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_REST_URL",
    "AsyncOctopushClient",
    "AsyncOctopushRestClient",
    "BadSignature",
    "Balance",
    "Callback",
    "CallbackError",
    "CampaignParameters",
    "Code",
    "CountryCredits",
    "DeliveryReceipt",
    "DeliveryStatus",
    "Failure",
    "OctopushClient",
    "OctopushClientError",
    "OctopushError",
    "OctopushRestClient",
    "OctopushTransportError",
    "Purpose",
    "Recipient",
    "Reply",
    "RestCallback",
    "RestDeliveryReceipt",
    "RestDeliveryStatus",
    "RestReply",
    "RestSendResult",
    "RestSms",
    "RestSmsType",
    "RestStop",
    "SendResult",
    "Sms",
    "SmsOptions",
    "SmsType",
    "Stop",
    "Success",
    "WalletBalance",
    "WalletPack",
    "callback_app",
    "parse_callback",
    "parse_push",
    "parse_rest_callback",
]
