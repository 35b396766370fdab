"""API keys: generated with 192 bits of randomness, stored only as a SHA-256 digest, compared in constant time.

A slow password hash (bcrypt, scrypt) protects low-entropy secrets chosen by people; these keys are random,
so one SHA-256 is as strong against a stolen table and keeps authentication off the request path's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def api_key_matches(api_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(api_key), stored_hash)
