"""API keys: 32 random letters and digits (190 bits), stored only as a SHA-256 digest, compared in constant time.

Letters and digits only, as Octopush's own keys are: a key starting with "-" (which URL-safe base64 gives one time
in 64) is read as an option by the CLI and by most shell tools, and "_" trips double-click selection.

A slow password hash (bcrypt, scrypt) protects low-entropy secrets chosen by people; these keys are random,
so one SHA-256 is as strong against a stolen table and keeps authentication off the request path's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_KEY_ALPHABET = string.ascii_letters + string.digits
_KEY_LENGTH = 32


def new_api_key() -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(_KEY_LENGTH))


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def api_key_matches(api_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(api_key), stored_hash)
