"""Replace characters outside GSM 03.38 by their closest GSM form, to keep a text in the 7-bit alphabet.

One curly apostrophe pasted from a word processor turns a whole message into UCS-2 (70 characters per
SMS instead of 160), so a gateway wants to map such characters back.  Generic transliteration
libraries (unidecode and friends) target ASCII and would also flatten characters GSM does have
('é', 'ü', 'ñ', '€', 'Ç'...), so the table is built here against the GSM alphabet itself:

* explicit entries for typography (quotes, dashes, spaces, ellipsis, guillemets) and for letters
  Unicode does not decompose (œ, ł, đ, þ...);
* derived entries for accented Latin letters, ligatures, superscripts, fractions and full-width forms:
  the compatibility decomposition (NFKD) without its combining marks, kept only when the result is
  entirely GSM.  When the letter with its first accent is itself GSM (Ǟ -> Ä), that form is used.

Characters with no close GSM form (other scripts, emoji, '¨'...) are left unchanged.
"""

from __future__ import annotations

import unicodedata

from octogate.sms.gsm import GSM_CHARS

_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

_EXPLICIT: dict[str, str | None] = {
    # Quotes and apostrophes, including French guillemets.
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "‵": "'", "´": "'", "`": "'", "ʼ": "'",
    "ʹ": "'", "‹": "'", "›": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "‶": '"', "«": '"', "»": '"',
    # Dashes and minus signs.
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "⁃": "-", "﹘": "-", "﹣": "-",
    "－": "-",
    # Other punctuation and symbols with an obvious GSM form.
    "…": "...", "•": "-", "·": ".", "⁄": "/", "×": "x", "¦": "|", "ˆ": "^", "˜": "~", "©": "(c)",
    "®": "(R)", "°": "o",
    # Line and paragraph separators become line feeds.
    "\u0085": "\n", "\u2028": "\n", "\u2029": "\n",
    # Invisible characters that only add cost: soft hyphen, zero-width space, word joiner, BOM.
    # (ZWJ/ZWNJ are kept: they matter inside emoji sequences and some scripts.)
    "\u00ad": None, "\u200b": None, "\u2060": None, "\ufeff": None,
    # Letters Unicode does not decompose.
    "œ": "oe", "Œ": "OE", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "Ł": "L",
    "ł": "l", "Ħ": "H", "ħ": "h", "ı": "i", "Ŀ": "L", "ŀ": "l", "Ŋ": "N", "ŋ": "n", "Ŧ": "T",
    "ŧ": "t", "ẞ": "ß",
}
_EXPLICIT.update(dict.fromkeys(_SPACES, " "))

# Ranges where the NFKD rule is applied: Latin-1 Supplement and Latin Extended-A/B, Latin Extended
# Additional, General Punctuation to Number Forms, alphabetic presentation forms (ﬁ, ﬂ...), full-width
# ASCII.  U+2139 (information source) is excluded: in practice it is an emoji.
_DERIVED_RANGES = ((0x00A0, 0x024F), (0x1E00, 0x1EFF), (0x2000, 0x215F), (0xFB00, 0xFB06), (0xFF01, 0xFF5E))
_NOT_DERIVED = frozenset("\u2139")


def _explicit(s: str) -> str:
    return "".join(v if (v := _EXPLICIT.get(c, c)) is not None else "" for c in s)


def _derive(ch: str) -> str | None:
    """GSM form of ``ch`` from its decomposition, or None when there is no good one."""
    nfd = unicodedata.normalize("NFD", ch)
    if len(nfd) >= 2:
        accented = unicodedata.normalize("NFC", nfd[:2])
        if len(accented) == 1 and accented in GSM_CHARS:
            return accented
    stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    result = _explicit(stripped)
    if not result.strip() or result == ch or not GSM_CHARS.issuperset(result):
        return None
    return result


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(k): v for k, v in _EXPLICIT.items()}
    for lo, hi in _DERIVED_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            if cp in table or ch in GSM_CHARS or ch in _NOT_DERIVED:
                continue
            form = _derive(ch)
            if form is not None:
                table[cp] = form
    # Combining diacritics left after NFC (no precomposed form exists) are dropped: the base letter
    # alone is the closest GSM form.
    table.update(dict.fromkeys(range(0x0300, 0x0370)))
    return table


#: The translation table, built once at import (a few milliseconds).
TABLE: dict[int, str | None] = _build_table()


def to_gsm(text: str) -> str:
    """Return ``text`` with every character that has a close GSM 03.38 form replaced by it.

    The text is first put in NFC, so decomposed accents (as pasted from macOS) are recomposed and, for
    'é', 'ü'..., stay as the GSM letter.  Characters without a GSM form are left as they are, so the
    result may still need UCS-2: check it with ``gsm.is_gsm``.
    """
    if GSM_CHARS.issuperset(text):
        return text
    return unicodedata.normalize("NFC", text).translate(TABLE)
