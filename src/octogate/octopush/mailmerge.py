"""Mail-merge (publipostage): per-recipient values replacing placeholders in the text.

The document swaps first and last names by mistake; the rulings (and Octopush's own plugins) map
`recipients_first_names` to `{prenom}` and `recipients_last_names` to `{nom}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from octogate.octopush.errors import ApiError, Code
from octogate.octopush.params import Params

MERGE_FIELDS: tuple[tuple[str, str], ...] = (
    ("recipients_first_names", "{prenom}"),
    ("recipients_last_names", "{nom}"),
    ("sms_fields_1", "{ch1}"),
    ("sms_fields_2", "{ch2}"),
    ("sms_fields_3", "{ch3}"),
)
MAX_VALUE_LENGTH = 30


@dataclass(frozen=True, slots=True)
class MailMerge:
    """Placeholder → one value per recipient position (the raw recipient list's positions)."""

    columns: tuple[tuple[str, tuple[str, ...]], ...]

    def __bool__(self) -> bool:
        return bool(self.columns)

    def apply(self, template: str, position: int) -> str:
        text = template
        for placeholder, values in self.columns:
            text = text.replace(placeholder, values[position])
        return text

    def values_at(self, position: int) -> dict[str, str]:
        return {placeholder: values[position] for placeholder, values in self.columns}


NO_MERGE = MailMerge(())


def parse_mail_merge(params: Params, recipient_count: int) -> MailMerge:
    """Each merge field is absent/empty, or has exactly one value per recipient of at most 30 characters."""
    columns: list[tuple[str, tuple[str, ...]]] = []
    for field, placeholder in MERGE_FIELDS:
        raw = params.get(field)
        if raw is None:
            continue
        values = tuple(value.strip() for value in raw.split(","))
        if len(values) != recipient_count or any(len(value) > MAX_VALUE_LENGTH for value in values):
            raise ApiError(Code.BAD_MAIL_MERGE)
        columns.append((placeholder, values))
    return MailMerge(tuple(columns))
