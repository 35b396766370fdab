"""A recipients CSV (one row per number, optional mail-merge columns) cut into campaigns of a given size.

Header names are matched loosely (case, spaces, `field1`/`field_1`), since the files come from spreadsheets;
so are the delimiter (`,` `;` or tab: French spreadsheets write `;`) and a leading byte-order mark.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

NUMBER_COLUMNS = ("number", "recipient", "phone", "mobile", "numero", "telephone")
# CSV column → the `Sms` attribute it fills: the English names, and the document's own placeholders (`prenom`,
# `nom`, `ch1`..`ch3`) as the console's send form reads them, so one file serves both.
MERGE_COLUMNS: dict[str, str] = {
    "first_name": "first_names",
    "prenom": "first_names",
    "last_name": "last_names",
    "nom": "last_names",
    "field1": "fields_1",
    "ch1": "fields_1",
    "field2": "fields_2",
    "ch2": "fields_2",
    "field3": "fields_3",
    "ch3": "fields_3",
}


class CsvError(Exception):
    """The file cannot be used at all (no header, no number column); one-line message for the CLI."""


@dataclass(frozen=True, slots=True)
class Recipients:
    numbers: list[str]
    lines: list[int]  # the file's line number of each number, for reports
    merge: dict[str, list[str]]  # Sms attribute → one value per number
    skipped: list[int] = field(default_factory=list)  # lines with no number


@dataclass(frozen=True, slots=True)
class Batch:
    index: int  # 1-based
    numbers: list[str]
    first_line: int
    last_line: int
    merge: dict[str, list[str]]


def read_recipients(path: Path) -> Recipients:
    try:
        with io.StringIO(_text(path.read_bytes()), newline="") as file:
            sample = file.read(4096)
            file.seek(0)
            reader = csv.reader(file, delimiter=_delimiter(sample))
            header = next(reader, None)
            if header is None:
                raise CsvError(f"{path} is empty")
            columns = [_column_name(name) for name in header]
            number_at = next((columns.index(name) for name in NUMBER_COLUMNS if name in columns), None)
            if number_at is None:
                raise CsvError(f"{path} has no number column (one of: {', '.join(NUMBER_COLUMNS)})")
            merge_at: dict[str, int] = {}
            for name, attr in MERGE_COLUMNS.items():  # the first of two spellings of one field wins
                if name in columns:
                    merge_at.setdefault(attr, columns.index(name))
            recipients = Recipients([], [], {attr: [] for attr in merge_at})
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                number = _cell(row, number_at)
                if not number:
                    recipients.skipped.append(line)
                    continue
                recipients.numbers.append(number)
                recipients.lines.append(line)
                for attr, at in merge_at.items():
                    recipients.merge[attr].append(_cell(row, at))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CsvError(f"cannot read {path}: {error}") from None
    return recipients


def batches(recipients: Recipients, size: int) -> Iterator[Batch]:
    if size < 1:
        raise ValueError("the batch size is at least 1")
    for index, start in enumerate(range(0, len(recipients.numbers), size), start=1):
        end = start + size
        yield Batch(
            index=index,
            numbers=recipients.numbers[start:end],
            first_line=recipients.lines[start],
            last_line=recipients.lines[min(end, len(recipients.lines)) - 1],
            merge={attr: values[start:end] for attr, values in recipients.merge.items()},
        )


def _delimiter(sample: str) -> str:
    """The header line's most frequent of `,` `;` tab (a one-column file has none: `,`)."""
    header = sample.partition("\n")[0]
    return max((",", ";", "\t"), key=header.count)


def _text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Latin-1 as spreadsheets often save: as the console reads
    an uploaded CSV, so that names with accents are never a refusal."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _column_name(raw: str) -> str:
    name = raw.strip().lower().replace(" ", "_").replace("-", "_")
    if name.startswith("field_") and name[6:].isdigit():
        name = "field" + name[6:]
    return name


def _cell(row: list[str], at: int) -> str:
    return row[at].strip() if at < len(row) else ""
