"""`request_keys` / `request_sha1`: the request's integrity check, as the rulings define it.

SHA-1 (lowercase hex) of the raw values of the fields named by the key letters, concatenated in key order
as UTF-8 with no separator; an absent field contributes nothing.
"""

from __future__ import annotations

import hashlib
import hmac

from octogate.octopush.errors import ApiError, Code
from octogate.octopush.params import Params

KEY_FIELDS: dict[str, str] = {
    "T": "sms_text",
    "R": "sms_recipients",
    "M": "sms_mode",
    "Y": "sms_type",
    "S": "sms_sender",
    "D": "sending_date",
    "a": "recipients_first_names",
    "b": "recipients_last_names",
    "c": "sms_fields_1",
    "d": "sms_fields_2",
    "e": "sms_fields_3",
    "W": "with_replies",
    "N": "transactional",
    "Q": "request_id",
}


def request_sha1(params: Params, keys: str, *, skip: frozenset[str] = frozenset()) -> str:
    """The hash a caller computes for `keys` (letters in `skip` contribute nothing)."""
    joined = "".join(params.get(KEY_FIELDS[key], "") for key in keys if key not in skip)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324 - the protocol's own choice


def check_signature(params: Params) -> None:
    """Raise 123/124 when the caller asked for an integrity check that fails.

    Most clients map `D` to a field that does not exist (`sms_date`), so they hash nothing for it: a hash that
    matches with `D` left out is accepted too.
    """
    keys = params.get("request_keys", "")
    if not keys:
        return
    sent = params.get("request_sha1", "").strip().lower()
    if not sent:
        raise ApiError(Code.MISSING_SHA1)
    if any(key not in KEY_FIELDS for key in keys):
        raise ApiError(Code.SHA1_MISMATCH)
    candidates = [request_sha1(params, keys)]
    if "D" in keys:
        candidates.append(request_sha1(params, keys, skip=frozenset("D")))
    # Constant-time comparison, evaluated for every candidate so timing says nothing about which one matched.
    matched = [hmac.compare_digest(sent.encode(), candidate.encode()) for candidate in candidates]
    if not any(matched):
        raise ApiError(Code.SHA1_MISMATCH)
