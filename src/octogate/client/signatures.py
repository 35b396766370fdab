"""`X-Octogate-Signature`: the HMAC-SHA256 a gateway puts on each push, and its check on the receiving side.

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`. The timestamp is signed
with the body so that a recorded push cannot be replayed later than `tolerance` seconds; the raw body (not the
parsed form) is signed so that nothing can be added to it. Octopush clients that ignore the header lose nothing.
Standard library only: customers use it without the gateway's dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Octogate-Signature"
DEFAULT_TOLERANCE = 300  # seconds between the push's timestamp and the receiver's clock


class SignatureError(ValueError):
    """The push's signature is missing, malformed, stale or wrong: the receiver answers 401."""


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for this body at this time."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless `header` signs `body` with `secret` within `tolerance` seconds of now."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"malformed {HEADER} header") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("the push's timestamp is too far from now (a replay, or a wrong clock)")
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    # Every v1 value is compared (a gateway rotating its secret may send two), each in constant time.
    if not any(hmac.compare_digest(expected.encode(), value.encode()) for value in fields.get("v1", [])):
        raise SignatureError("the signature does not match the body")
