"""uvicorn as `serve` and its API worker processes run it: signals taken on the loop, the edge's limits, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import uvicorn

from octogate.config import ConfigError, Settings
from octogate.http.app import OctopushApp
from octogate.http.limits import uvicorn_limits


class SignalledServer(uvicorn.Server):
    """uvicorn's server, with its signals taken on the loop and not raised again once it has stopped: what
    runs beside it (SMTP, the delivery process, the API workers) is then stopped in order, and the exit is
    clean."""

    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, config: uvicorn.Config, on_signal: Sequence[Callable[[], None]] = ()) -> None:
        super().__init__(config)
        self.on_signal = on_signal  # told first: the processes beside serve, which a terminal signals too

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        for told in self.on_signal:
            told()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for signum in self.signals:
            loop.add_signal_handler(signum, self.handle_exit, signum, None)
        try:
            yield
        finally:
            for signum in self.signals:
                loop.remove_signal_handler(signum)


def uvicorn_config(app: Any, settings: Settings, api: OctopushApp | None = None) -> uvicorn.Config:
    """`app` serves every request but `api`'s own calls, which the protocol answers directly (`http.direct`)."""
    config = uvicorn.Config(
        app,
        **uvicorn_limits(settings, api),  # URL/header caps, header-read timeout, connection cap
        loop="none",
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # nothing trusts X-Forwarded-*: the throttle counts the peer's own address
        log_config=None,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    try:
        config.load()  # the certificate is read here: a bad one stops the start, in one line
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise ConfigError(
            f"cannot load the TLS certificate {str(settings.tls_cert)[:200]}: {reason}"
        ) from None
    return config
