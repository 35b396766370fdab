"""A typed client for the Octopush SMS API v1.6.1 (Octopush itself or any octogate), and push receivers.

Needs only the standard library and httpx: it never imports the gateway's server dependencies.

    from octogate.client import OctopushClient
    with OctopushClient(login, api_key, base_url="http://127.0.0.1:8080") as client:
        result = client.send(["+33601020304"], "Hello. STOP au XXXXX", sender="MyShop")
"""

from octogate.client.aio import AsyncOctopushClient
from octogate.client.answers import Balance, Failure, SendResult, Success
from octogate.client.callbacks import (
    BadSignature,
    Callback,
    CallbackError,
    DeliveryReceipt,
    DeliveryStatus,
    Reply,
    Stop,
    parse_callback,
    parse_push,
)
from octogate.client.core import DEFAULT_BASE_URL
from octogate.client.errors import OctopushClientError, OctopushError, OctopushTransportError
from octogate.client.fields import Sms, SmsOptions, SmsType
from octogate.client.receiver import callback_app
from octogate.client.sync import OctopushClient
from octogate.octopush.errors import Code

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncOctopushClient",
    "BadSignature",
    "Balance",
    "Callback",
    "CallbackError",
    "Code",
    "DeliveryReceipt",
    "DeliveryStatus",
    "Failure",
    "OctopushClient",
    "OctopushClientError",
    "OctopushError",
    "OctopushTransportError",
    "Reply",
    "SendResult",
    "Sms",
    "SmsOptions",
    "SmsType",
    "Stop",
    "Success",
    "callback_app",
    "parse_callback",
    "parse_push",
]
