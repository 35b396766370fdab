"""Where the metrics are counted, without the counted modules knowing: thin subclasses of the service, the
dispatcher, the receipt handler and the push worker, and the SMPP client's submit observer. Each override
calls the original and only counts (and logs the transitions an operator wants: throttling, push targets).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from octogate.callbacks.worker import PushWorker
from octogate.dispatch.dispatcher import Dispatcher
from octogate.incoming.handler import IncomingHandler
from octogate.incoming.statuses import PUSH_STATUS, receipt_stat
from octogate.observability import metrics
from octogate.octopush.answers import SmsAnswer
from octogate.octopush.errors import ApiError
from octogate.octopush.rest.answers import RestSent
from octogate.octopush.rest.errors import RestError
from octogate.octopush.rest.send import SOURCE as REST_SOURCE
from octogate.service import Gateway
from octogate.smpp import client as smpp_client
from octogate.smpp.client import DeliverEvent
from octogate.smpp.constants import THROTTLING_STATUSES, TRANSIENT_SUBMIT_STATUSES, CommandStatus
from octogate.statuses import DeliveryStatus, MessageStatus, PushStatus
from octogate.store.delivery import Outcome
from octogate.store.outbox import PushResult

log = logging.getLogger("octogate.events")

T = TypeVar("T")
THROTTLE_QUIET = 10.0  # seconds without a throttled answer before a throttling episode is over
MAX_LABEL = 60  # a connector name or a stat word a peer wrote, at most, as a label
_accepted: contextvars.ContextVar[bool] = contextvars.ContextVar("octogate_accepted", default=False)


def label(value: object) -> str:
    return str(value)[:MAX_LABEL]


# --- API process ---------------------------------------------------------------------------------------------------
class MeteredGateway(Gateway):
    """Counts what every edge (HTTP, REST, SMTP, the console) gets from the service."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_accepted.append(lambda: _accepted.set(True))  # runs in the caller's task, just before return

    async def submit_sms(self, params: Any, *, source: str = "http") -> SmsAnswer:
        answer = await self._metered(source, super().submit_sms(params, source=source))
        self._answered(source, len(answer.successes))
        return answer

    async def submit_signed_in(self, login: str, params: Any, *, source: str = "console") -> SmsAnswer:
        if params.get("request_mode") == "simu":  # the send form's live estimate, at every keystroke: not a send
            return await super().submit_signed_in(login, params, source=source)
        answer = await self._metered(source, super().submit_signed_in(login, params, source=source))
        self._answered(source, len(answer.successes))
        return answer

    async def submit_rest(self, login: str | None, api_key: str | None, body: object) -> RestSent:
        sent = await self._metered(REST_SOURCE, super().submit_rest(login, api_key, body))
        self._answered(REST_SOURCE, sent.contacts)
        return sent

    async def _metered(self, source: str, send: Awaitable[T]) -> T:
        """The send's result; its refusal counted (by code) on the way out."""
        _accepted.set(False)
        try:
            return await send
        except (ApiError, RestError) as error:
            self._refused(source, error.code)
            raise

    @staticmethod
    def _refused(source: str, code: int) -> None:
        metrics.child(metrics.API_REFUSALS, label(source), str(int(code))).inc()
        if source == "smtp":
            metrics.child(metrics.EMAILS, "refused").inc()

    @staticmethod
    def _answered(source: str, recipients: int) -> None:
        if _accepted.get():  # a simulation (the console's estimate too) is answered but not accepted
            metrics.child(metrics.ACCEPTED, label(source)).inc(recipients)
        if source == "smtp":
            metrics.child(metrics.EMAILS, "accepted").inc()


# --- delivery process ----------------------------------------------------------------------------------------------
class MeteredDispatcher(Dispatcher):
    def report(self, result: Outcome) -> None:
        connector = label(result.connector or "none")
        if result.status == MessageStatus.SUBMITTED:
            metrics.count(metrics.SUBMITTED, connector)
        elif result.status == MessageStatus.FAILED:
            metrics.count(metrics.FINAL, connector, "REFUSED")
        elif result.status == MessageStatus.QUEUED:
            metrics.count(metrics.RETRIED, connector)
        super().report(result)


class MeteredIncoming(IncomingHandler):
    def counted_receipt(self, event: DeliverEvent, outcome: str) -> None:
        connector = label(event.connector)
        metrics.count(metrics.RECEIPTS, connector, label(outcome))
        if outcome == "applied":
            parsed = event.receipt()
            stat = receipt_stat(parsed.stat if parsed else "", event.message_state)
            metrics.count(metrics.FINAL, connector, stat if stat in PUSH_STATUS else "OTHER")

    async def expire(self) -> int:
        expired = await super().expire()
        if expired:
            metrics.count(metrics.FINAL, "none", DeliveryStatus.UNKNOWN_DELIVERY.value, amount=expired)
        return expired


class MeteredPushWorker(PushWorker):
    """Counts push outcomes; logs a customer host that starts failing, and when it recovers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failing_hosts: dict[str, float] = {}
        self._last_error: dict[int, str] = {}

    def report(self, result: PushResult) -> None:
        outcome = {PushStatus.DELIVERED: "delivered", PushStatus.PENDING: "retry"}.get(result.status, "failed")
        metrics.count(metrics.PUSHES, outcome)
        if result.error:
            self._last_error[result.id] = result.error
        super().report(result)

    async def _push(self, push: Any, host: str) -> None:
        await super()._push(push, host)
        error = self._last_error.pop(push.id, None)
        failures = getattr(self, "_host_failures", {}).get(host, 0)
        if failures and host not in self._failing_hosts:
            self._failing_hosts[host] = time.monotonic()
            log.warning("push target %.100s failing: %.200s (retried with backoff)", host, error or "?")
        elif not failures and host in self._failing_hosts:
            since = self._failing_hosts.pop(host)
            log.info("push target %.100s recovered after %.0f s", host, time.monotonic() - since)


class SubmitWatch:
    """The SMPP client's submit observer: submit_sm counts and latency, and throttling episodes (one line
    when an SMSC starts throttling a connector, one when it has stopped for THROTTLE_QUIET seconds)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.throttled_since: dict[str, float] = {}
        self.last_throttled: dict[str, float] = {}
        self.throttled_answers: dict[str, int] = {}

    def install(self) -> None:
        smpp_client.submit_observer = self

    def __call__(self, connector: str, seconds: float, status: int | None) -> None:
        name = label(connector)
        if status is None:
            metrics.count(metrics.SUBMIT_SM, name, "transient")
            return
        metrics.child(metrics.SUBMIT_SECONDS, name).observe(seconds)
        if status in THROTTLING_STATUSES:
            metrics.count(metrics.SUBMIT_SM, name, "throttled")
            now = self.clock()
            self.last_throttled[name] = now
            self.throttled_answers[name] = self.throttled_answers.get(name, 0) + 1
            if name not in self.throttled_since:
                self.throttled_since[name] = now
                metrics.count(metrics.THROTTLES, name)
                log.warning("%s: SMSC throttling (%s): sending slowed down", name, CommandStatus(status).name)
            return
        if status == CommandStatus.ESME_ROK:
            metrics.count(metrics.SUBMIT_SM, name, "ok")
        elif status in TRANSIENT_SUBMIT_STATUSES:
            metrics.count(metrics.SUBMIT_SM, name, "transient")
        else:
            metrics.count(metrics.SUBMIT_SM, name, "refused")
        self.check(name)

    def check(self, name: str | None = None) -> None:
        """End the throttling episodes that have been quiet long enough (also called once a second)."""
        now = self.clock()
        for connector in [name] if name else list(self.throttled_since):
            since = self.throttled_since.get(connector)
            if since is not None and now - self.last_throttled[connector] >= THROTTLE_QUIET:
                del self.throttled_since[connector]
                answers = self.throttled_answers.pop(connector, 0)
                log.info("%s: SMSC throttling over after %.0f s (%d throttled answers)", connector, now - since,
                         answers)  # fmt: skip


WATCH = SubmitWatch()
