"""One received mail → one durable outcome: a campaign through the same service call as /api/sms, or a
refusal recorded in the inbox with its reason. The SMTP answer cannot carry an API error code: the inbox does.

A mail is never sent unless it is readable, has a valid request_id and the service accepts it. The inbox row
is written after the service's answer, by the service too (`Gateway.record_mail`), in a second group commit: a
crash between the two leaves a stored campaign without its inbox row and the mail unanswered; the sender's
retry then meets its own request_id and is recorded as 120, nothing sent twice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from octogate.octopush.errors import ApiError, Code
from octogate.service import Gateway, InboxEntry, normalise_login
from octogate.smtp.parse import Mail, parse_mail, smtp_refusal

log = logging.getLogger(__name__)


class NotRecorded(Exception):
    """The outcome could not be stored: the mail must be answered with a temporary failure (4xx)."""


@dataclass(frozen=True, slots=True)
class Received:
    inbox_id: int
    entry: InboxEntry

    @property
    def retry_later(self) -> bool:
        """Paused or store unreachable (116): nothing was done, the sender's MTA should try again."""
        return self.entry.error_code == Code.SERVICE_UNAVAILABLE


async def ingest(gateway: Gateway, data: bytes, mail_from: str) -> Received:
    now = int(gateway.clock())
    try:
        mail = parse_mail(data)
    except Exception:  # the parser is lenient by design; a mail it still chokes on is recorded, not lost
        log.exception("unparseable mail of %d bytes from %.200s", len(data), mail_from)
        mail = Mail(subject="", message_id="", unreadable="unparseable mail")
    code: int | None = None
    ticket: str | None = None
    refusal = smtp_refusal(mail)
    if refusal is None:
        try:
            answer = await gateway.submit_sms(mail.params, source="smtp")
        except ApiError as error:
            code, refusal = int(error.code), ("refused", error.code.meaning)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("unexpected fault on a mail (reference %s)", reference)
            code = int(Code.UNDEFINED_ERROR)
            refusal = ("refused", f"{Code.UNDEFINED_ERROR.meaning} (reference {reference})")
        else:
            ticket = answer.ticket
            refusal = ("accepted", f"{answer.number_of_sendings} SMS, {len(answer.successes)} recipient(s)")
    outcome, reason = refusal
    login = mail.login
    entry = InboxEntry(
        received_at=now,
        mail_from=mail_from,
        subject=mail.subject,
        message_id=mail.message_id,
        login=normalise_login(login) if login else None,
        request_id=mail.request_id,
        outcome=outcome,
        error_code=code,
        ticket=ticket,
        reason=reason,
    )
    try:
        inbox_id = await gateway.record_mail(entry)
    except Exception as error:
        log.error("mail from %.200s not recorded (%s %s): %.200s", mail_from, outcome, code or "", error)
        raise NotRecorded from error
    log.info(
        "mail %d from %.200s (login %.100s): %s %s %s",
        inbox_id, mail_from, entry.login or "-", outcome, code if code is not None else "", ticket or reason,
    )  # fmt: skip
    return Received(inbox_id, entry)
