"""Dialled-number normalisation and classification with libphonenumber.

The guide asks that the international dialling prefix be normalised before any country
decision ("Allowed Country Codes"). A dialled string goes through, in order:

0. what a PBX or an attacker wraps around a number is taken off (:func:`canonical`): a ``sip:``,
   ``sips:`` or ``tel:`` URI becomes its user part, Unicode digits (fullwidth, Arabic-Indic, …)
   become ASCII, and leading service codes such as ``*67``, ``*82`` or ``#31#`` (hide caller
   ID, then dial) are set aside, so ``*67 011 44…`` is judged as the international call it is;
1. formatting removed (spaces, dashes, dots, brackets);
2. configured access codes stripped (``strip_prefixes``, e.g. ``9`` for an outside line);
3. ``+`` or an international prefix (``00``, ``011``, …, longest first) marks an
   international number; stray ``+`` after it (``011+44…``, ``++44…``) is tolerated;
4. otherwise the number is national (``national_prefix``) or local, parsed in the home country;
5. short strings (at most ``short_max`` digits) are extensions or service codes, never
   international.

Scanner junk never raises: anything libphonenumber cannot parse is ``kind == "invalid"``, and
``digits`` tells junk (``s``, ``t``) from a number that was meant to be dialled but cannot be
read (the ``unparseable_number`` rule judges those: nothing long is skipped silently).
Results are cached per distinct dialled string and policy (parse + type costs ~50 µs).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType as PNT

_FORMATTING = re.compile(r"[\s\-().\u00a0/]")
_URI = re.compile(r"(?i)(?:sips?|tel):")
_URI_END = re.compile(r"[@;?>]")
_SERVICE = re.compile(r"(?:\*\d\d#?|#\d\d#)+")   # *67, *82, *31#, #31#: feature codes dialled before a number
_ALLOWED = re.compile(r"[0-9+*#]*\Z")

PREMIUM_TYPES = {PNT.PREMIUM_RATE: "premium_rate", PNT.SHARED_COST: "shared_cost"}
TYPE_NAMES = {
    PNT.FIXED_LINE: "fixed_line", PNT.MOBILE: "mobile", PNT.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PNT.TOLL_FREE: "toll_free", PNT.PREMIUM_RATE: "premium_rate", PNT.SHARED_COST: "shared_cost",
    PNT.VOIP: "voip", PNT.PERSONAL_NUMBER: "personal_number", PNT.PAGER: "pager", PNT.UAN: "uan",
    PNT.VOICEMAIL: "voicemail", PNT.UNKNOWN: "unknown",
}


@dataclass(frozen=True, slots=True)
class NumberInfo:
    dialled: str
    kind: str            # "international", "national", "short", "emergency", "invalid"
    e164: str | None     # +CC... when parseable
    region: str | None   # ISO alpha-2 of the destination (None when unknown)
    country_code: int | None
    number_type: str     # fixed_line, mobile, premium_rate, shared_cost, toll_free, voip, unknown, ...
    valid: bool
    possible: bool
    digits: int = 0      # digits in the dialled string once canonical (tells junk from an unreadable number)
    service: str = ""    # service codes dialled before the number (*67, #31#)

    @property
    def international(self) -> bool:
        return self.kind == "international"

    @property
    def premium(self) -> bool:
        return self.number_type in ("premium_rate", "shared_cost")


_PLANS: dict[tuple, "NumberPlan"] = {}


def number_plan(home_country: str, international_prefix: list[str], national_prefix: str | None,
                strip_prefixes: list[str] | None = None) -> "NumberPlan":
    """One shared plan (and cache) for every tenant that dials the same way."""
    key = (home_country.upper(), tuple(sorted(international_prefix)), national_prefix, tuple(strip_prefixes or ()))
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = NumberPlan(home_country, international_prefix, national_prefix, strip_prefixes)
    return plan


class NumberPlan:
    """How one tenant dials: home country, prefixes. Caches classifications per dialled string."""

    def __init__(self, home_country: str, international_prefix: list[str], national_prefix: str | None,
                 strip_prefixes: list[str] | None = None, short_max: int = 6, cache_size: int = 200_000):
        self.home = home_country.upper()
        self.home_cc = phonenumbers.country_code_for_region(self.home)
        self.intl_prefixes = sorted({p for p in international_prefix if p and p != "+"}, key=len, reverse=True)
        self.national_prefix = national_prefix or None
        self.strip_prefixes = sorted(strip_prefixes or [], key=len, reverse=True)
        self.short_max = short_max
        self._cache: dict[str, NumberInfo] = {}
        self._cache_size = cache_size

    def classify(self, dialled: str) -> NumberInfo:
        info = self._cache.get(dialled)
        if info is None:
            info = self._classify(dialled)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[dialled] = info
        return info

    def _classify(self, dialled: str) -> NumberInfo:
        s = dialled_digits(dialled)
        digits = sum(c.isdigit() for c in s)
        service = ""
        m = _SERVICE.match(s)
        if m and len(s) - m.end() > self.short_max:
            service, s = m.group(), s[m.end():]
        info = self._judge(s, dialled)
        if digits or service:
            info = dataclasses.replace(info, digits=digits, service=service)
        return info

    def _judge(self, s: str, dialled: str) -> NumberInfo:
        if not s or not _ALLOWED.match(s) or len(s) > 32:
            return _invalid(dialled)
        for code in self.strip_prefixes:
            if s.startswith(code) and len(s) > len(code) + self.short_max:
                s = s[len(code):]
                break
        rest = None
        if s.startswith("+"):
            rest = s.lstrip("+")
        else:
            for p in self.intl_prefixes:
                if s.startswith(p) and len(s) > len(p) + 2:
                    rest = s[len(p):].lstrip("+")
                    break
        if rest is not None:
            if not rest.isdigit():
                return _invalid(dialled)
            return self._parse("+" + rest, None, dialled)
        if "+" in s:
            return _invalid(dialled)
        if not s.isdigit():
            # service codes such as *72 or #31#: feature codes, not destinations
            return NumberInfo(dialled, "short", None, None, None, "unknown", False, False)
        if len(s) <= self.short_max:
            try:
                emergency = phonenumbers.is_emergency_number(s, self.home)
            except Exception:  # pragma: no cover - defensive, libphonenumber never raises here
                emergency = False
            return NumberInfo(dialled, "emergency" if emergency else "short", None, self.home, None,
                              "unknown", False, False)
        return self._parse(s, self.home, dialled)

    def _parse(self, text: str, region: str | None, dialled: str) -> NumberInfo:
        try:
            num = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return _invalid(dialled)
        valid = phonenumbers.is_valid_number(num)
        possible = valid or phonenumbers.is_possible_number(num)
        dest = phonenumbers.region_code_for_number(num) if valid else None
        if dest is None:
            regions = phonenumbers.region_codes_for_country_code(num.country_code)
            dest = regions[0] if len(regions) == 1 and regions[0] != "001" else None
        ntype = TYPE_NAMES.get(phonenumbers.number_type(num), "unknown") if valid else "unknown"
        # +<home cc> dialled with an international prefix is still a national call; inside a shared
        # country code (NANP +1, +7, +44 crown dependencies) another region is international.
        if dest == self.home or (dest is None and num.country_code == self.home_cc):
            kind = "national"
        else:
            kind = "international"
        e164 = f"+{num.country_code}{num.national_number}"
        return NumberInfo(dialled, kind, e164, dest, num.country_code, ntype, valid, possible)


def _invalid(dialled: str) -> NumberInfo:
    return NumberInfo(dialled, "invalid", None, None, None, "unknown", False, False)


def canonical(dialled: str) -> str:
    """The number inside what was dialled: URI wrapping removed, every Unicode digit made ASCII."""
    s = dialled.strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)  # fullwidth digits, ＋, ＊, ＃
        if not s.isascii():
            s = "".join(str(unicodedata.digit(c)) if c.isdigit() and unicodedata.digit(c, None) is not None else c
                        for c in s)
    if _URI.match(s):
        s = _URI_END.split(s[s.index(":") + 1:], 1)[0]
    return s


def dialled_digits(dialled: str) -> str:
    """What was dialled, canonical (:func:`canonical`) and without formatting (spaces, dashes, brackets)."""
    return _FORMATTING.sub("", canonical(dialled))
