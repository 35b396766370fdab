"""A mail, as bytes, to the API parameters it carries, or the reason it cannot be read. Pure: no I/O.

Two layouts, both from the rulings (SPEC-NOTES "E-mail to SMS"):

- the document's: credentials url-encoded in the Subject (`user_login=…&api_key=…`), the send's parameters in
  the body between `start=start&` and `&end=end`; anything before or after the markers (a greeting, a webmail
  signature, an antivirus footer) is ignored. The document's own example writes `user_login@login%40login.com`
  (an `@` for the `=`): `user_login@` and `api_key@` are read as `user_login=` and `api_key=`.
- the later one: credentials and parameters url-encoded in the Subject, the SMS text as the plain body.
  Only a standard signature (a `-- ` line, RFC 3676) is cut from that body: use markers to be safe from footers.

The body is the first text/plain part that is not an attachment (a multipart/alternative's HTML is ignored),
decoded from quoted-printable or base64 and from its charset (UTF-8 then Latin-1 when the declared one fails).
Parameters found in the body win over the subject's, as an HTTP body wins over the query string.

Line breaks inside the marked region. Url-encoded text holds no raw line break or space, so a break there was
put by a mailer wrapping a long line (the document's example breaks `sms_sender` from `=UnSender`): the lines
are joined without inserting anything, and spaces or tabs touching the break are dropped with it (the
example's break carries trailing blanks). Soft breaks vanish before that: quoted-printable's `=` at a line end
by its decoding, and format=flowed (RFC 3676) by unflowing, which keeps the space a flowed line ends with (it
is part of the text) unless DelSp=yes. Spaces inside a line are kept (a hand-written unencoded text). In the
later layout the body IS the text: its hard line breaks are the SMS's line breaks; only flowed soft breaks
are joined. A Subject folded over several lines is joined the same way (folding whitespace dropped).

Parsed with the stdlib `email` package and `policy.compat32`: measured at ~60 µs for a small multipart mail
against ~940 µs with `policy.default` (16×), and the modern API's conveniences are not needed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import errors
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from urllib.parse import quote, quote_plus, unquote_plus

from octogate.octopush.params import decode_pairs, params_from_pairs

REQUEST_ID = re.compile(r"[a-zA-Z0-9]{12,30}")
START = re.compile(r"(?<![A-Za-z0-9_.%+-])start=start")
END = "&end=end"
BREAK = re.compile(r"[ \t]*\r?\n[ \t]*")
FOLD = re.compile(r"\r?\n[ \t]*")
CREDENTIAL_TYPO = re.compile(r"(user_login|api_key)[@:](.*)", re.S)
SEGMENT = re.compile(r"([^=@:]*)([=@:])(.*)", re.S)
API_KEY_PAIR = re.compile(r"(?i)(api(?:_|%5f)key)([=@:])[^&\s]*")
REDACTED = "[removed]"
#: Defects after which the text read from a mail cannot be trusted: such a mail is never sent.
FATAL_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
)
_PARSER = BytesParser(policy=compat32)


@dataclass(frozen=True, slots=True)
class Mail:
    """What a mail asks for. `subject` is decoded with the api_key removed: it may be stored and shown."""

    subject: str
    message_id: str
    params: dict[str, str] = field(default_factory=dict)
    layout: str = "subject"  # "markers" (the document's) or "subject" (the later one)
    unreadable: str | None = None  # why the mail cannot be read; its params are then not to be used

    @property
    def login(self) -> str | None:
        return self.params.get("user_login")

    @property
    def request_id(self) -> str | None:
        return self.params.get("request_id")


def parse_mail(data: bytes) -> Mail:
    message = _PARSER.parsebytes(data)
    raw_subject = _unfold(header_text(message.get("Subject")))
    message_id = _unfold(header_text(message.get("Message-ID")))
    subject_pairs = decode_pairs(_fix_credential_typo(raw_subject).encode("utf-8"))

    def result(params: dict[str, str], layout: str, unreadable: str | None = None) -> Mail:
        return Mail(redact(raw_subject, params), message_id, params, layout, unreadable)

    part = _text_part(message)
    body: str | None = None
    problem = next(filter(None, map(_fatal_defect, message.walk())), None)
    if part is not None and problem is None:
        body = _text(part)
        problem = _fatal_defect(part)  # decoding base64 is what reveals its defects
    if problem is not None:
        return result(params_from_pairs(subject_pairs), "subject", problem)

    start = START.search(body) if body is not None else None
    if body is not None and start is not None:
        rest = BREAK.sub("", body[start.end() :])
        end = rest.find(END)
        if end < 0:
            return result(params_from_pairs(subject_pairs), "markers", "end marker &end=end missing")
        body_pairs = decode_pairs(rest[:end].encode("utf-8"))
        return result(params_from_pairs([*subject_pairs, *body_pairs]), "markers")

    params = params_from_pairs(subject_pairs)
    text = _cut_signature(body).strip() if body is not None else ""
    if text:
        params["sms_text"] = text
    elif body is None and "sms_text" not in params:
        return result(params, "subject", "no text/plain part")
    return result(params, "subject")


def smtp_refusal(mail: Mail) -> tuple[str, str] | None:
    """The e-mail edge's own rules, before the API's: (outcome, reason), or None to submit the mail.

    The document: a mail without `request_id`, or with one not matching `[a-zA-Z0-9]` (12 to 30 characters,
    its body section), is ignored. Checked before the credentials: cheap, and a stray mail costs no lookup.
    """
    if mail.unreadable is not None:
        return "rejected", mail.unreadable
    request_id = mail.request_id
    if request_id is None:
        return "ignored", "no request_id"
    if not REQUEST_ID.fullmatch(request_id):
        return "ignored", "request_id is not 12 to 30 characters of [a-zA-Z0-9]"
    return None


def header_text(value: str | Header | None) -> str:
    """A header's text: RFC 2047 encoded words decoded, raw 8-bit bytes read as UTF-8 (else Latin-1)."""
    if value is None:
        return ""
    try:
        chunks = decode_header(value)
    except (errors.HeaderParseError, ValueError, LookupError):
        return str(value)
    return "".join(chunk if isinstance(chunk, str) else _decode(chunk, charset) for chunk, charset in chunks)


def redact(subject: str, params: dict[str, str]) -> str:
    """The subject without the API key: the value of any pair whose decoded name is api_key (however its name
    is percent-encoded), any pair whose decoded value is the key, and the key's value wherever else it appears."""
    key = params.get("api_key", "")
    segments = subject.split("&")
    for index, segment in enumerate(segments):
        match = SEGMENT.match(segment)
        if match is None:
            continue
        name, separator, value = match.groups()
        if unquote_plus(name).strip().lower() == "api_key" or (key and unquote_plus(value).strip() == key):
            segments[index] = f"{name}{separator}{REDACTED}"
    subject = API_KEY_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", "&".join(segments))
    if len(key) >= 4:
        for form in {key, quote(key, safe=""), quote_plus(key, safe="")}:
            subject = subject.replace(form, REDACTED)
    return subject


def _unfold(text: str) -> str:
    return FOLD.sub("", text).strip()


def _fix_credential_typo(subject: str) -> str:
    """`user_login@x%40y.z` (the document's example) → `user_login=x%40y.z`; other segments unchanged."""
    segments = subject.split("&")
    for index, segment in enumerate(segments):
        if "=" not in segment:
            typo = CREDENTIAL_TYPO.fullmatch(segment.strip())
            if typo:
                segments[index] = f"{typo.group(1)}={typo.group(2)}"
    return "&".join(segments)


def _text_part(message: Message) -> Message | None:
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() != "text/plain":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        return part
    return None


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    try:
        charset = part.get_content_charset()
    except ValueError:  # the stdlib chokes on a NUL in an RFC 2231 charset
        charset = None
    text = _decode(data, charset).replace("\r\n", "\n")
    if str(part.get_param("format", "")).lower() == "flowed":
        text = _unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def _decode(data: bytes, charset: str | None) -> str:
    for candidate in (charset or "utf-8", "utf-8"):
        try:
            return data.decode(candidate)
        except (LookupError, ValueError):  # unknown or unusable charset (a NUL in its name), bad bytes
            continue
    return data.decode("latin-1")


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676: a line ending in a space continues on the next one; a leading space is stuffing."""
    lines: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return "\n".join(lines)


def _cut_signature(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[: lines.index("-- ")]) if "-- " in lines else text


def _fatal_defect(message: Message) -> str | None:
    for defect in message.defects:
        if isinstance(defect, FATAL_DEFECTS):
            return f"malformed MIME: {type(defect).__name__}"
    return None
