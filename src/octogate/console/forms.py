"""The send form, turned into the API's own parameters (so that the console's estimate and send follow exactly
the rules of `/api/sms`), and the API's error codes told in words. Pure: no I/O."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from octogate.octopush.errors import Code
from octogate.paris import PARIS
from octogate.sms.segments import choose_alphabet

MAX_RECIPIENTS = 10_000  # per form; larger campaigns go through the API
MAX_CSV_BYTES = 2 * 1024 * 1024
SMS_TYPES = {"FR": "Premium (FR)", "XXX": "Low cost (XXX)", "WWW": "World (WWW)"}
#: CSV header → the API's mail-merge field and the placeholder it fills
MERGE_COLUMNS = {
    "prenom": ("recipients_first_names", "{prenom}"),
    "first_name": ("recipients_first_names", "{prenom}"),
    "nom": ("recipients_last_names", "{nom}"),
    "last_name": ("recipients_last_names", "{nom}"),
    "ch1": ("sms_fields_1", "{ch1}"),
    "field1": ("sms_fields_1", "{ch1}"),  # the column names of `octogate send --csv`: one file serves both
    "ch2": ("sms_fields_2", "{ch2}"),
    "field2": ("sms_fields_2", "{ch2}"),
    "ch3": ("sms_fields_3", "{ch3}"),
    "field3": ("sms_fields_3", "{ch3}"),
}
NUMBER_COLUMNS = ("number", "phone", "recipient", "mobile", "numero", "telephone")
SEPARATORS = re.compile(r"[\s,;]+")

#: The API's codes, said the way a person at the send form needs them: what is wrong, and what to do.
IN_WORDS: dict[Code, str] = {
    Code.MISSING_PARAMETERS: "Something is missing: fill in the recipients, the text and the type.",
    Code.BAD_CREDENTIALS: "Your session no longer matches an account: sign in again.",
    Code.TEXT_TOO_LONG: "The text is too long for one campaign: shorten it.",
    Code.NO_RECIPIENTS: "None of the recipients can receive this message (all refused or on your STOP list).",
    Code.NOT_ENOUGH_CREDIT: "Your balance does not cover this campaign: add credit or send to fewer numbers.",
    Code.NOT_ENOUGH_CREDIT_ORDER_PENDING: "Your balance does not cover this campaign; your credit order is "
    "waiting for validation.",
    Code.BAD_SENDER: "The sender must be 3 to 11 letters, digits, spaces, dots or dashes (or an international "
    "number when sent as a number).",
    Code.MISSING_TEXT: "Write the text of the message.",
    Code.MISSING_RECIPIENTS: "Add at least one recipient, pasted or in a CSV file.",
    Code.MISSING_TYPE: "Choose the type of SMS.",
    Code.ACCOUNT_NOT_ACTIVATED: "Your account is not activated yet: contact the operator.",
    Code.BLACKLISTED: "Your account is blocked: contact the operator.",
    Code.BAD_MAIL_MERGE: "The mail-merge columns do not line up with the recipients (one value per recipient, "
    "at most 30 characters, no comma).",
    Code.SERVICE_UNAVAILABLE: "Sending is paused by the operator right now: try again later.",
    Code.MALFORMED_RECIPIENTS: "Some recipients are not phone numbers: use international numbers such as "
    "+33612345678.",
    Code.TEXT_TOO_LONG_FOR_TYPE: "Low cost SMS are at most 160 characters: shorten the text or choose Premium.",
    Code.DUPLICATE_REQUEST_ID: "This form was sent already (a second click?): its campaign is in your list.",
    Code.MISSING_STOP_MENTION: 'Marketing Premium SMS must end with the mention "STOP au XXXXX" (or tick '
    "transactional for a message that is not marketing).",
    Code.MISSING_NO_PUB_MENTION: 'Marketing low cost SMS must contain "no PUB=STOP" (or tick transactional).',
    Code.UNDEFINED_ERROR: "Something went wrong on our side: try again; if it goes on, contact the operator.",
    Code.UNKNOWN_COUNTRY: "No country matches this number: check its calling code.",
    Code.COUNTRY_NOT_COVERED: "This country is not covered by the price table.",
    Code.LOW_COST_NOT_OFFERED: "Low cost SMS cannot be sent to this country: choose Premium.",
}


def in_words(code: Code) -> str:
    return IN_WORDS.get(code, code.meaning)


class FormError(ValueError):
    """The form cannot be turned into a request at all; one line for the person who filled it."""


@dataclass
class SendForm:
    recipients: str = ""
    csv_text: str = ""
    text: str = ""
    sender: str = ""
    sms_type: str = "FR"
    transactional: bool = False
    with_replies: bool = False
    schedule: str = ""  # datetime-local, Europe/Paris
    request_id: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TextFacts:
    characters: int
    alphabet: str  # "GSM 7-bit" | "Unicode (UCS-2)"
    per_sms: int  # characters one SMS holds in that alphabet


def text_facts(text: str) -> TextFacts:
    gsm = choose_alphabet(text) == "gsm"
    return TextFacts(len(text), "GSM 7-bit" if gsm else "Unicode (UCS-2)", 160 if gsm else 70)


def read_csv(data: bytes | str) -> str:
    """An uploaded CSV as text (UTF-8, or Latin-1 as spreadsheets often write it)."""
    if isinstance(data, str):
        return data
    if len(data) > MAX_CSV_BYTES:
        raise FormError(f"the CSV file is larger than {MAX_CSV_BYTES // 1024 // 1024} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def merge_rows(csv_text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The numbers and mail-merge columns of a CSV with a header row (number, prenom, nom, ch1, ch2, ch3)."""
    try:
        dialect = csv.Sniffer().sniff(csv_text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(csv_text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    number_at = next((i for i, name in enumerate(header) if name in NUMBER_COLUMNS), None)
    if number_at is None:
        raise FormError(
            f"the CSV needs a header row with a number column ({', '.join(NUMBER_COLUMNS[:3])}, …)"
        )
    merged = {i: MERGE_COLUMNS[name][0] for i, name in enumerate(header) if name in MERGE_COLUMNS}
    numbers: list[str] = []
    columns: dict[str, list[str]] = {field_name: [] for field_name in merged.values()}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise FormError(f"CSV line {line} has {len(row)} columns, the header {len(header)}")
        numbers.append(row[number_at].strip())
        for i, field_name in merged.items():
            value = row[i].strip()
            if "," in value:
                raise FormError(f"CSV line {line}: a mail-merge value cannot contain a comma")
            columns[field_name].append(value)
        if len(numbers) > MAX_RECIPIENTS:
            raise FormError(f"at most {MAX_RECIPIENTS} recipients per form: use the API for more")
    return numbers, columns


def to_params(form: SendForm, *, simulation: bool, now: int) -> dict[str, str]:
    """The `/api/sms` parameters of the form (without credentials: the console's session stands for them)."""
    columns: dict[str, list[str]] = {}
    if form.csv_text.strip():
        numbers, columns = merge_rows(form.csv_text)
    else:
        numbers = [n for n in SEPARATORS.split(form.recipients) if n]
    if len(numbers) > MAX_RECIPIENTS:
        raise FormError(f"at most {MAX_RECIPIENTS} recipients per form: use the API for more")
    params = {
        "sms_recipients": ",".join(numbers),
        "sms_text": form.text,
        "sms_type": form.sms_type,
        "sms_sender": form.sender.strip(),
        "transactional": "1" if form.transactional else "",
        "with_replies": "1" if form.with_replies else "",
        "request_id": "" if simulation else form.request_id[:64],
        "request_mode": "simu" if simulation else "",
    }
    for name, values in columns.items():
        params[name] = ",".join(values)
    if form.schedule.strip():
        params["sms_mode"] = "2"
        params["sending_date"] = str(scheduled_epoch(form.schedule, now))
    return {name: value for name, value in params.items() if value}


def scheduled_epoch(value: str, now: int) -> int:
    try:
        when = datetime.fromisoformat(value.strip()[:25])
    except ValueError:
        raise FormError("the schedule is a date and time such as 2026-12-24 09:30") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=PARIS)
    epoch = int(when.timestamp())
    if epoch < now - 60:
        raise FormError("the schedule is in the past: leave it empty to send now")
    return epoch
