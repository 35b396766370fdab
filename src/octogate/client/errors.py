"""What a caller catches: one exception for every documented refusal, one for a broken exchange.

Both derive from `OctopushClientError`, so a script can catch everything the client raises in one clause.
Messages never contain the API key: they are printed by the CLI and land in logs.
"""

from __future__ import annotations

from octogate.octopush.errors import Code


class OctopushClientError(Exception):
    """Anything the client raises on purpose."""


class OctopushError(OctopushClientError):
    """The API refused the request with an error code (`code` is a `Code` member when documented).

    REST answers also carry their own `message` and HTTP `status` (None for the 1.6.1 API, always HTTP 200)."""

    def __init__(self, code: int, *, message: str | None = None, status: int | None = None) -> None:
        self.code: int = known_code(code)
        self.meaning: str = describe(code)
        self.message: str = message or self.meaning
        self.status: int | None = status
        super().__init__(f"{code:03d} {self.message}")


class OctopushTransportError(OctopushClientError):
    """No usable answer: connection failure, timeout, a status other than 200, or a body that is not the API's."""


def known_code(code: int) -> int:
    """The `Code` member when the document's table has it, so `error.code == Code.BAD_CREDENTIALS` reads well."""
    try:
        return Code(code)
    except ValueError:
        return code


def describe(code: int) -> str:
    """The document's meaning; a code outside the table (a newer API, a proxy) still gets a readable one."""
    found = known_code(code)
    if isinstance(found, Code):
        return found.meaning
    return f"Undocumented error code {code:03d}."
