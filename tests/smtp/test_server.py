"""E-mail to SMS end to end: smtplib against the real server, on SQLite and PostgreSQL. Every layout and
encoding becomes a stored campaign with an inbox row; every failure is recorded, never sent."""

from __future__ import annotations

import asyncio
import base64
import quopri
import shutil
import smtplib
import subprocess
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from octogate.store import queries
from octogate.store.db import Connection
from octogate.store.inbox import InboxRow
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for
from support import Clock, Customer, code, make_customer

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (pyproject.toml dependency)")

from .conftest import MAX_SIZE, PUSH, SmtpEdge, Transcript, start_edge

FIELDS = "sms_recipients=0033601020304&sms_type=FR&sms_sender=UnSender"


def credentials(customer: Customer, typo: bool = False) -> str:
    login = quote(customer.login, safe="")
    return f"user_login{'@' if typo else '='}{login}&api_key={quote(customer.api_key, safe='')}"


def document_mail(
    customer: Customer, request_id: str | None, *, typo: bool = True, wrap: bool = True
) -> bytes:
    """The document's example with this customer's credentials (its typo and line break included)."""
    rid = f"&request_id={request_id}" if request_id else ""
    region = f"start=start&sms_text=bla+bla.+STOP+au+XXXXX&{FIELDS}{rid}&end=end"
    if wrap:
        region = region.replace("&sms_sender=", "&sms_sender  \r\n=")
    return (
        f"From: shop@example.com\r\nTo: {PUSH}\r\nSubject: {credentials(customer, typo)}\r\n"
        f"Message-ID: <{request_id or 'none'}@shop.example.com>\r\n\r\n"
        f"Bonjour,\r\n{region}\r\n-- \r\nScanned by AcmeVirus: no virus found.\r\n"
    ).encode()


def subject_mail(customer: Customer, request_id: str, text: str, *, cte: str | None = None) -> bytes:
    """The later layout: everything in the subject, the text as the plain body."""
    message = EmailMessage()
    message["From"] = "shop@example.com"
    message["To"] = PUSH
    message["Subject"] = f"{credentials(customer)}&{FIELDS}&request_id={request_id}"
    message.set_content(text, cte=cte) if cte else message.set_content(text)
    return message.as_bytes()


def accepted(transcript: Transcript) -> None:
    assert transcript.mail[0] == 250 and [c for c, _ in transcript.rcpt] == [250]
    assert transcript.data is not None and transcript.data[0] == 250, transcript


async def last(smtp: SmtpEdge) -> InboxRow:
    rows = await smtp.inbox(1)
    assert rows, "nothing recorded"
    return rows[0]


def campaign_row(conn: Connection, campaign_id: int) -> tuple[object, ...] | None:
    return conn.fetchone(
        "SELECT source, request_id, sms_type, sender, text FROM campaigns WHERE id = ?", (campaign_id,)
    )


async def stored_campaign(
    store: Store, ticket: str | None
) -> tuple[tuple[object, ...], list[tuple[object, ...]]]:
    assert ticket is not None
    campaign_id = campaign_id_for(ticket)
    assert campaign_id is not None
    row = await store.read(campaign_row, campaign_id)
    assert row is not None
    return row, list(await store.read(queries.campaign_messages, campaign_id))


async def campaigns(store: Store, customer: Customer) -> int:
    account = await store.read(queries.account, customer.login)
    return await store.read(queries.count_campaigns, account.id)


async def test_the_documents_example_becomes_a_campaign(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    accepted(await smtp.send_one(document_mail(customer, "RET65Y6UTJ78Jghjuj87")))
    row = await last(smtp)
    entry = row.entry
    assert (entry.outcome, entry.error_code, entry.login) == ("accepted", None, customer.login)
    assert entry.request_id == "RET65Y6UTJ78Jghjuj87" and entry.mail_from == "shop@example.com"
    assert entry.message_id == "<RET65Y6UTJ78Jghjuj87@shop.example.com>"
    assert customer.api_key not in entry.subject and "api_key=[removed]" in entry.subject
    campaign, messages = await stored_campaign(store, entry.ticket)
    assert campaign == ("smtp", "RET65Y6UTJ78Jghjuj87", "FR", "UnSender", "bla bla. STOP au XXXXX")
    assert [(m[0], m[1], m[4]) for m in messages] == [("+33601020304", "FR", "queued")]


@pytest.mark.parametrize(
    ("cte", "text"),
    [
        (None, "Sale -20% this week. STOP au XXXXX"),
        ("quoted-printable", "Réunion demain à 9h, salle 4. " + "Très long texte " * 6 + "STOP au XXXXX"),
        ("base64", "Réunion demain à 9h.\nSTOP au XXXXX"),
    ],
)
async def test_the_later_layout_in_every_encoding(
    smtp: SmtpEdge, store: Store, customer: Customer, cte: str | None, text: str
) -> None:
    message = subject_mail(customer, "Later1234567890", text, cte=cte)
    if cte:
        assert f"Content-Transfer-Encoding: {cte}".encode() in message
    accepted(await smtp.send_one(message))
    entry = (await last(smtp)).entry
    assert entry.outcome == "accepted", entry
    campaign, messages = await stored_campaign(store, entry.ticket)
    assert campaign[4] == text and len(messages) == 1


async def test_multipart_with_html_quoted_printable_and_footers(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    message = MIMEMultipart("alternative")
    message["Subject"] = credentials(customer)
    plain = (
        "Hello,\n\nstart=start&sms_text=Caf%C3%A9+offert+%C3%A0+tous.+STOP+au+XXXXX&"
        + FIELDS
        + "&request_id=Multipart123456&end=end\n\n--\nSent from Webmail\n"
        + "_" * 60
        + "\nThis e-mail has been scanned for viruses.\n"
    )
    part = MIMEText("", "plain", "utf-8")
    part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(quopri.encodestring(plain.encode()).decode())
    message.attach(part)
    message.attach(MIMEText("<p>start=start&amp;sms_text=html&amp;end=end</p>", "html", "utf-8"))
    accepted(await smtp.send_one(message.as_bytes()))
    entry = (await last(smtp)).entry
    campaign, _ = await stored_campaign(store, entry.ticket)
    assert campaign[4] == "Café offert à tous. STOP au XXXXX"


async def test_a_base64_document_mail_with_the_markers(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    body = f"start=start&sms_text=Base+64.+STOP+au+XXXXX&{FIELDS}&request_id=Base64Body1234&end=end\r\n"
    message = (
        f"Subject: {credentials(customer)}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(body.encode())
    accepted(await smtp.send_one(message))
    campaign, _ = await stored_campaign(store, (await last(smtp)).entry.ticket)
    assert campaign[4] == "Base 64. STOP au XXXXX"


async def test_a_request_id_used_over_http_is_refused_120_and_nothing_is_sent(
    smtp: SmtpEdge, store: Store, customer: Customer, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/api/sms",
        data=customer.params(
            sms_text="Hi STOP au XXXXX", sms_recipients="+33601020304", sms_type="FR", sms_sender="Shop",
            request_id="SharedWithHttp1",
        ),
    )  # fmt: skip
    assert code(answer) == "000"
    accepted(await smtp.send_one(document_mail(customer, "SharedWithHttp1")))
    entry = (await last(smtp)).entry
    assert (entry.outcome, entry.error_code, entry.ticket) == ("refused", 120, None)
    assert await campaigns(store, customer) == 1
    accepted(await smtp.send_one(document_mail(customer, "SmtpTwice12345")))
    accepted(await smtp.send_one(document_mail(customer, "SmtpTwice12345")))
    assert [(r.entry.outcome, r.entry.error_code) for r in await smtp.inbox(2)] == [
        ("refused", 120),
        ("accepted", None),
    ]
    assert await campaigns(store, customer) == 2


async def test_two_mails_at_once_with_one_request_id_send_once(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    mail = document_mail(customer, "RacingMails1234")
    first, second = await asyncio.gather(smtp.send_one(mail), smtp.send_one(mail))
    accepted(first)
    accepted(second)
    outcomes = sorted((r.entry.outcome, r.entry.error_code) for r in await smtp.inbox())
    assert outcomes == [("accepted", None), ("refused", 120)]
    assert await campaigns(store, customer) == 1


async def test_relaying_is_refused_550(smtp: SmtpEdge) -> None:
    for recipient in ("someone@example.com", "sms@octogate.test.example.com", "other@octogate.test"):
        transcript = await smtp.send_one(b"Subject: x\r\n\r\nx\r\n", to=(recipient,))
        assert transcript.rcpt[0][0] == 550 and transcript.data is None
    mixed = await smtp.send_one(b"Subject: x\r\n\r\nx\r\n", to=("victim@example.com", PUSH.upper()))
    assert [c for c, _ in mixed.rcpt] == [550, 250] and mixed.data is not None and mixed.data[0] == 250
    assert len(await smtp.inbox()) == 1  # only the mail for the push address, once


async def test_an_oversized_mail_is_refused_552_and_the_session_goes_on(
    smtp: SmtpEdge, customer: Customer
) -> None:
    big = document_mail(customer, "TooBig123456789") + (b"x" * 78 + b"\r\n") * (MAX_SIZE // 80 + 10)
    announced, after = await smtp.send(big, document_mail(customer, "AfterBig1234567"), size=True)
    assert announced.mail[0] == 552 and announced.data is None  # SIZE told at MAIL FROM
    accepted(after)
    counted, after = await smtp.send(big, document_mail(customer, "AfterBig7654321"), size=False)
    assert counted.data is not None and counted.data[0] == 552  # counted during DATA
    accepted(after)
    assert [r.entry.request_id for r in await smtp.inbox()] == ["AfterBig7654321", "AfterBig1234567"]


async def test_malformed_mime_is_recorded_rejected_and_the_next_mail_is_served(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    malformed = (
        f"Subject: {credentials(customer)}&{FIELDS}&request_id=Malformed123456\r\n"
        'Content-Type: multipart/alternative; boundary="never-there"\r\n\r\n'
        "start=start&sms_text=Hi&end=end\r\n"
    ).encode()
    rejected, following = await smtp.send(malformed, document_mail(customer, "NextMail1234567"))
    accepted(rejected)
    accepted(following)
    first, second = reversed(await smtp.inbox(2))
    assert (first.entry.outcome, first.entry.reason) == (
        "rejected",
        "malformed MIME: StartBoundaryNotFoundDefect",
    )
    assert first.entry.request_id == "Malformed123456" and first.entry.ticket is None
    assert second.entry.outcome == "accepted"
    assert await campaigns(store, customer) == 1


async def test_bad_credentials_are_recorded_101_without_the_key(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    impostor = Customer(customer.login, "WrongKey" + customer.api_key[8:])
    accepted(await smtp.send_one(document_mail(impostor, "BadCredentials1")))
    entry = (await last(smtp)).entry
    assert (entry.outcome, entry.error_code, entry.reason) == ("refused", 101, "Bad credentials.")
    assert impostor.api_key not in repr(entry) and quote(impostor.api_key, safe="") not in repr(entry)
    assert await campaigns(store, customer) == 0


@pytest.mark.parametrize(
    ("request_id", "reason"),
    [(None, "no request_id"), ("short", "request_id is not 12 to 30 characters of [a-zA-Z0-9]")],
)
async def test_without_a_valid_request_id_the_mail_is_ignored(
    smtp: SmtpEdge, store: Store, customer: Customer, request_id: str | None, reason: str
) -> None:
    accepted(await smtp.send_one(document_mail(customer, request_id)))
    entry = (await last(smtp)).entry
    assert (entry.outcome, entry.error_code, entry.ticket, entry.reason) == ("ignored", None, None, reason)
    assert entry.login == customer.login
    assert await campaigns(store, customer) == 0


async def test_api_errors_are_recorded_with_their_code(smtp: SmtpEdge, store: Store) -> None:
    poor = make_customer(store, credit="0")
    accepted(await smtp.send_one(document_mail(poor, "NoCredit1234567")))
    assert ((await last(smtp)).entry.error_code, (await last(smtp)).entry.outcome) == (104, "refused")
    no_stop = subject_mail(poor, "NoStopMention12", "Sale this week")
    accepted(await smtp.send_one(no_stop))
    assert (await last(smtp)).entry.error_code == 121


async def test_while_paused_the_mail_is_recorded_and_deferred_451(
    smtp: SmtpEdge, store: Store, customer: Customer
) -> None:
    await store.write(queries.set_paused, True)
    [transcript] = await smtp.send(document_mail(customer, "WhilePaused1234"))
    assert transcript.data is not None and transcript.data[0] == 451
    assert ((await last(smtp)).entry.error_code) == 116
    await store.write(queries.set_paused, False)
    accepted(await smtp.send_one(document_mail(customer, "WhilePaused1234")))  # the MTA's retry
    assert (await last(smtp)).entry.outcome == "accepted"


async def test_stop_closes_idle_sessions_and_refuses_new_ones(store: Store, clock: Clock) -> None:
    edge = await start_edge(store, clock)
    host, port = edge.address
    reader, writer = await asyncio.open_connection(host, port)
    assert (await reader.readline()).startswith(b"220 octogate.test")
    await asyncio.wait_for(edge.server.stop(), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)
    await edge.server.stop()  # twice is harmless


def make_certificate(folder: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=octogate.test"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


async def test_starttls_when_a_certificate_is_configured(
    store: Store, clock: Clock, customer: Customer, tmp_path: Path, smtp: SmtpEdge
) -> None:
    host, port = smtp.address
    plain = await asyncio.to_thread(_extensions, host, port)
    assert "starttls" not in plain and f"size {MAX_SIZE}" in plain
    cert, key = make_certificate(tmp_path)
    edge = await start_edge(store, clock, tls_cert=cert, tls_key=key)
    try:
        host, port = edge.address
        assert "starttls" in await asyncio.to_thread(_extensions, host, port)
        accepted(await edge.send_one(document_mail(customer, "OverTls12345678"), tls=True))
        assert (await last(smtp)).entry.outcome == "accepted"
    finally:
        await edge.server.stop()


def _extensions(host: str, port: int) -> str:
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.ehlo("client.example.com")
        return " ".join(f"{name} {value}".strip() for name, value in client.esmtp_features.items())
