"""The HTTP edge's limits as uvicorn options: `uvicorn.Config(app, ..., **uvicorn_limits(settings))`.

uvicorn itself caps neither the header section nor the URL, has no header-read timeout, and its
`limit_concurrency` answers 503 to honest clients once slow ones hold the connections; the protocol class
(`GuardedHttpToolsProtocol`) does all of it, bound here to the configured `[http]` limits.
"""

from __future__ import annotations

import resource
from typing import Any

from octogate import throttle
from octogate.config import HttpLimits, Settings
from octogate.http.app import OctopushApp
from octogate.http.protocol import GuardedHttpToolsProtocol

FD_RESERVE = 128  # descriptors kept for the database, SMTP, logs and the delivery process's pipe
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this long (uvicorn's default)


def uvicorn_limits(settings: Settings, api: OctopushApp | None = None) -> dict[str, Any]:
    """uvicorn options: the guarded protocol bound to the limits (and to `api`, whose own calls it answers
    without the ASGI cycle); also sets the process's wrong-key throttle to them and raises the open-files limit
    so the connection cap, not the descriptors, is what runs out."""
    limits = settings.limits
    throttle.configure(limits)
    protocol = type(
        "OctogateHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "max_connections": connection_cap(limits), "api": api},
    )
    return {"http": protocol, "timeout_keep_alive": KEEP_ALIVE_SECONDS, "backlog": 2048}


def connection_cap(limits: HttpLimits) -> int:
    """`max_connections`, lowered when the process may not open that many files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return limits.max_connections
    return max(2, min(limits.max_connections, soft - FD_RESERVE))
