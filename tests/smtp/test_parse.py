"""Mail bytes → API parameters, without a server: both layouts, every encoding, and what is never trusted."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from octogate.smtp.parse import REDACTED, parse_mail, smtp_refusal

# The document's example, as printed: the `@` for `=` in the subject, a line broken inside `sms_sender=`
# (with the blanks the break left behind), and a greeting before and a footer after the markers.
DOCUMENT_EXAMPLE = (
    b"From: shop@example.com\r\n"
    b"To: sms@octogate.local\r\n"
    b"Subject: user_login@login%40login.com&api_key=my_api_key\r\n"
    b"Message-ID: <example@shop.example.com>\r\n"
    b"\r\n"
    b"Bonjour,\r\n"
    b"start=start&sms_text=bla+bla.+STOP+au+XXXXX&sms_recipients=0033601020304&sms_type=FR&sms_sender  \r\n"
    b"=UnSender&request_id=zRET65Y6UTJ78Jghjuj87&end=end\r\n"
    b"-- \r\n"
    b"Sent from my webmail. This mail was scanned by AcmeVirus: no virus found.\r\n"
)

EXPECTED = {
    "user_login": "login@login.com",
    "api_key": "my_api_key",
    "sms_text": "bla bla. STOP au XXXXX",
    "sms_recipients": "0033601020304",
    "sms_type": "FR",
    "sms_sender": "UnSender",
    "request_id": "zRET65Y6UTJ78Jghjuj87",
}
CREDENTIALS = "user_login=shop%40example.com&api_key=K3y"
FIELDS = "sms_recipients=%2B33601020304&sms_type=FR&sms_sender=Shop&request_id=abcdef123456XYZ"


def mail(subject: str, body: str, **headers: str) -> bytes:
    head = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    return f"From: shop@example.com\r\nSubject: {subject}\r\n{head}\r\n{body}".encode()


def test_the_documents_example_as_printed() -> None:
    parsed = parse_mail(DOCUMENT_EXAMPLE)
    assert parsed.params == EXPECTED
    assert parsed.layout == "markers" and parsed.unreadable is None
    assert parsed.message_id == "<example@shop.example.com>"
    assert parsed.subject == f"user_login@login%40login.com&api_key={REDACTED}"
    assert smtp_refusal(parsed) is None


def test_the_later_layout_takes_the_body_as_the_text() -> None:
    body = "Sale -20% this week\r\nSTOP au XXXXX\r\n\r\n-- \r\nJohn, Shop & Co\r\n"
    parsed = parse_mail(mail(f"{CREDENTIALS}&{FIELDS}", body))
    assert parsed.layout == "subject"
    assert (
        parsed.params["sms_text"] == "Sale -20% this week\nSTOP au XXXXX"
    )  # hard breaks kept, signature cut
    assert parsed.params["sms_recipients"] == "+33601020304"
    assert parsed.params["api_key"] == "K3y"
    assert "K3y" not in parsed.subject


def test_markers_in_a_quoted_printable_body_with_soft_breaks() -> None:
    message = EmailMessage()
    message["Subject"] = CREDENTIALS
    region = f"start=start&sms_text=R%C3%A9union+demain+%C3%A0+9h.+STOP+au+XXXXX&{FIELDS}&end=end"
    message.set_content(f"Bonjour é,\n{region * 1}\nCordialement\n", cte="quoted-printable")
    data = message.as_bytes()
    assert b"=\n" in data  # the encoder broke the long line with soft breaks
    parsed = parse_mail(data)
    assert parsed.params["sms_text"] == "Réunion demain à 9h. STOP au XXXXX"
    assert parsed.params["request_id"] == "abcdef123456XYZ"


def test_base64_body_in_another_charset() -> None:
    text = "Réunion demain à 9h. STOP au XXXXX"
    body = base64.encodebytes(text.encode("iso-8859-1")).decode()
    parsed = parse_mail(
        mail(
            f"{CREDENTIALS}&{FIELDS}",
            body,
            MIME_Version="1.0",
            Content_Type='text/plain; charset="iso-8859-1"',
            Content_Transfer_Encoding="base64",
        )
    )
    assert parsed.params["sms_text"] == text


def test_a_mislabelled_charset_falls_back_to_utf8_then_latin1() -> None:
    utf8 = parse_mail(mail(f"{CREDENTIALS}&{FIELDS}", "Café STOP au XXXXX", Content_Type="text/plain"))
    assert utf8.params["sms_text"] == "Café STOP au XXXXX"
    latin1 = "Café STOP au XXXXX".encode("latin-1")
    raw = mail(f"{CREDENTIALS}&{FIELDS}", "", Content_Type="text/plain; charset=nonsense") + latin1
    assert parse_mail(raw).params["sms_text"] == "Café STOP au XXXXX"


def test_multipart_alternative_uses_the_plain_part_and_ignores_attachments() -> None:
    message = MIMEMultipart("mixed")
    message["Subject"] = CREDENTIALS
    alternative = MIMEMultipart("alternative")
    alternative.attach(
        MIMEText(
            f"Hello\nstart=start&sms_text=From+plain.+STOP+au+XXXXX&{FIELDS}&end=end\n", "plain", "utf-8"
        )
    )
    alternative.attach(MIMEText("<p>start=start&amp;sms_text=From+html&amp;end=end</p>", "html", "utf-8"))
    message.attach(alternative)
    attachment = MIMEText("start=start&sms_text=From+attachment&end=end", "plain")
    attachment.add_header("Content-Disposition", "attachment", filename="notes.txt")
    message.attach(attachment)
    parsed = parse_mail(message.as_bytes())
    assert parsed.params["sms_text"] == "From plain. STOP au XXXXX"


def test_format_flowed_soft_breaks_keep_their_space_hard_breaks_stay() -> None:
    body = "A long text that a mailer \r\nflowed over two lines.\r\nSTOP au XXXXX\r\n"
    flowed = parse_mail(mail(f"{CREDENTIALS}&{FIELDS}", body, Content_Type="text/plain; format=flowed"))
    assert flowed.params["sms_text"] == "A long text that a mailer flowed over two lines.\nSTOP au XXXXX"
    delsp = parse_mail(
        mail(
            f"{CREDENTIALS}&{FIELDS}", "Unbroken\r\nword", Content_Type="text/plain; format=flowed; delsp=yes"
        )
    )
    assert delsp.params["sms_text"] == "Unbroken\nword"
    joined = parse_mail(
        mail(f"{CREDENTIALS}&{FIELDS}", "Unbro \r\nken", Content_Type="text/plain; format=flowed; delsp=yes")
    )
    assert joined.params["sms_text"] == "Unbroken"


def test_hard_wraps_inside_the_markers_join_without_inserting_anything() -> None:
    body = (
        "start=start&sms_text=Hello+wor\r\nld.+STOP+au+XXXXX&sms_recipients=%2B3360102\r\n   0304"
        "&sms_type=FR&sms_sender=Shop&request_id=abcdef123456XYZ\r\n&end=end\r\n"
    )
    parsed = parse_mail(mail(CREDENTIALS, body))
    assert parsed.params["sms_text"] == "Hello world. STOP au XXXXX"
    assert parsed.params["sms_recipients"] == "+33601020304"


def test_body_parameters_win_over_the_subjects() -> None:
    parsed = parse_mail(mail(f"{CREDENTIALS}&sms_type=XXX", "start=start&sms_type=FR&end=end&sms_type=WWW"))
    assert parsed.params["sms_type"] == "FR"


def test_a_start_marker_without_its_end_is_unreadable() -> None:
    parsed = parse_mail(mail(CREDENTIALS, f"start=start&sms_text=cut+short&{FIELDS}\r\n"))
    assert parsed.unreadable == "end marker &end=end missing"
    assert smtp_refusal(parsed) == ("rejected", "end marker &end=end missing")


def test_a_folded_or_encoded_subject_is_joined() -> None:
    folded = parse_mail(mail(f"user_login=shop%40example.com\r\n\t&api_key=K3y&{FIELDS}", "Hi"))
    assert folded.params["user_login"] == "shop@example.com" and folded.params["api_key"] == "K3y"
    message = EmailMessage()
    message["Subject"] = f"{CREDENTIALS}&{FIELDS}&sms_text=Caf%C3%A9+%E2%82%AC&x=" + "y" * 120
    message.set_content("")
    data = message.as_bytes()
    parsed = parse_mail(data)
    assert parsed.params["request_id"] == "abcdef123456XYZ" and parsed.params["api_key"] == "K3y"
    assert parsed.params["x"] == "y" * 120
    encoded = parse_mail(mail("=?utf-8?q?user=5Flogin=3Dshop=2540example.com=26api=5Fkey=3DK3y?=", "Hi"))
    assert encoded.params["user_login"] == "shop@example.com"
    assert "K3y" not in encoded.subject


def test_the_api_key_never_reaches_the_subject_kept() -> None:
    for subject in (
        "user_login=a%40b.c&api_key=Secret123",
        "api_key@Secret123&user_login=a%40b.c",
        "user_login=a%40b.c&API%5FKEY=Secret123&api_key=Secret123",
        "user_login=a%40b.c&api_key=Secret%2B123",
    ):
        parsed = parse_mail(mail(subject, "text"))
        assert "Secret" not in parsed.subject, subject


@pytest.mark.parametrize(
    ("request_id", "refusal"),
    [
        (None, ("ignored", "no request_id")),
        ("short1", ("ignored", "request_id is not 12 to 30 characters of [a-zA-Z0-9]")),
        ("has-a-dash-123", ("ignored", "request_id is not 12 to 30 characters of [a-zA-Z0-9]")),
        ("a" * 31, ("ignored", "request_id is not 12 to 30 characters of [a-zA-Z0-9]")),
        ("a" * 12, None),
        ("A1" * 15, None),
    ],
)
def test_request_id_is_mandatory_and_alphanumeric(
    request_id: str | None, refusal: tuple[str, str] | None
) -> None:
    fields = "" if request_id is None else f"&request_id={request_id}"
    assert smtp_refusal(parse_mail(mail(f"{CREDENTIALS}{fields}", "Hi"))) == refusal


def test_malformed_mime_is_never_trusted() -> None:
    no_start = mail(
        f"{CREDENTIALS}&{FIELDS}",
        "no boundary here\r\n",
        Content_Type='multipart/alternative; boundary="XYZ"',
    )
    assert parse_mail(no_start).unreadable == "malformed MIME: StartBoundaryNotFoundDefect"
    bad_base64 = mail(
        f"{CREDENTIALS}&{FIELDS}", "@@@ not base64 !!!\r\n", Content_Type="text/plain",
        Content_Transfer_Encoding="base64",
    )  # fmt: skip
    refusal = smtp_refusal(parse_mail(bad_base64))
    assert refusal is not None and refusal[0] == "rejected" and refusal[1].startswith("malformed MIME")


def test_an_html_only_mail_has_no_text_to_send() -> None:
    parsed = parse_mail(mail(f"{CREDENTIALS}&{FIELDS}", "<p>Hello</p>", Content_Type="text/html"))
    assert smtp_refusal(parsed) == ("rejected", "no text/plain part")
    with_text = parse_mail(mail(f"{CREDENTIALS}&{FIELDS}&sms_text=Hi", "<p>x</p>", Content_Type="text/html"))
    assert with_text.params["sms_text"] == "Hi" and with_text.unreadable is None


def test_garbage_is_read_as_a_mail_without_parameters() -> None:
    parsed = parse_mail(bytes(range(256)) * 4)
    assert smtp_refusal(parsed) in {("ignored", "no request_id"), ("rejected", "no text/plain part")}


def test_charsets_the_stdlib_chokes_on_do_not_raise() -> None:
    for content_type in ("text/plain; charset*=utf-\x008''%E9", 'text/plain; charset="utf\x00-8"'):
        raw = mail(f"{CREDENTIALS}&{FIELDS}", "Caf\xe9 STOP au XXXXX", Content_Type=content_type)
        assert parse_mail(raw).params["sms_text"] == "Café STOP au XXXXX"
    subject = parse_mail(mail("=?utf\x00-8?q?user=5Flogin=3Da?=", "x")).subject
    assert isinstance(subject, str)
