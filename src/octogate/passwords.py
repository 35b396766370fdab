"""Console passwords: chosen by people, so hashed with a memory-hard function (argon2id, argon2-cffi's
defaults: 64 MiB, 3 passes), unlike API keys (random, one SHA-256 is enough: `octogate.keys`)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length; a bound keeps a huge body from costing a hash of megabytes
_HASHER = PasswordHasher()
#: Checked against when the login is unknown: the answer and its timing say nothing more.
ABSENT_HASH = _HASHER.hash("no such login: the time of a check, nothing else")


class WeakPassword(ValueError):
    pass


def check_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(f"a console password has {MIN_LENGTH} to {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash (a missing one is checked against ABSENT_HASH)."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    try:
        return _HASHER.verify(password_hash or ABSENT_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
