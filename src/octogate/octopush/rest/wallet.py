"""`GET /v1/public/wallet/check-balance` and `check-credits`: their query parameters, read leniently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers

from octogate.octopush.errors import Code
from octogate.octopush.rest.errors import RestError, bad_field, echo
from octogate.octopush.rest.send import TYPES
from octogate.octopush.rest.values import TRUE
from octogate.sms.types import SmsType

MAX_COUNTRIES = 300
FRANCE = 33


@dataclass(frozen=True, slots=True)
class ProductQuery:
    product: str  # sms_premium | sms_low_cost
    sms_type: SmsType
    calling_code: int
    with_details: bool


def product_query(query: Sequence[tuple[str, str]]) -> ProductQuery | None:
    """None without product_name and country_code (the balance in euros); both, or a 422."""
    params = {name: value.strip() for name, value in query if value.strip()}
    product = params.get("product_name")
    country = params.get("country_code")
    if product is None and country is None:
        return None
    if product is None or country is None:
        raise bad_field("product_name and country_code", "go together")
    sms_type = TYPES.get(product.lower())
    if sms_type is None:
        raise RestError(Code.MISSING_TYPE, f"product_name {echo(product)!r}: sms_premium or sms_low_cost.")
    calling_code = calling_code_for(country)
    if calling_code is None:
        raise RestError(Code.UNKNOWN_COUNTRY, f"country_code {echo(country)!r} is not an ISO 3166 alpha-2 code.")
    return ProductQuery(product.lower(), sms_type, calling_code, params.get("with_details", "").lower() in TRUE)


def country_codes(query: Sequence[tuple[str, str]]) -> list[str]:
    """`country_codes[]=FR&country_codes[]=ES` (also `country_codes[0]=`, `country_codes=FR,ES`); FR if none."""
    found: list[str] = []
    for name, value in query:
        if name == "country_codes" or (name.startswith("country_codes[") and name.endswith("]")):
            for code in value.split(","):
                code = code.strip().upper()
                if code and code not in found:
                    found.append(code)
    if len(found) > MAX_COUNTRIES:
        raise bad_field("country_codes", f"holds {MAX_COUNTRIES} countries at most")
    return found or ["FR"]


def calling_code_for(country: str) -> int | None:
    code = phonenumbers.country_code_for_region(country.strip().upper())
    return code or None


def price_type(sms_type: SmsType, calling_code: int) -> SmsType:
    """sms_premium is priced FR in France and WWW elsewhere (the rulings); sms_low_cost is XXX everywhere."""
    if sms_type is SmsType.PREMIUM and calling_code != FRANCE:
        return SmsType.WORLD
    return sms_type
