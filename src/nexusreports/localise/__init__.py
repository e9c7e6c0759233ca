"""Stage 3a, localise: the only door to Babel and gettext.

Every number, amount, percentage, range, date and fixed label printed by this tool is made
here, for one explicit locale; nothing falls back to the process locale.  The renderers and
the view never format a number themselves.

Locales are CLDR ids: ``nl-NL`` (Dutch) and ``en-GB`` (British English), selected by the
language code used in the data (``nl``, ``en``).

Rounding rule (documented in docs/data-format.md): derived values are rounded **half up**
(0,05 -> 0,1), as finance readers expect, not Babel's default half-even.  Amounts print
with at most one decimal, whole amounts with none.  A value that rounds to zero prints as
``0``, never ``-0`` (-0,04% is "0%").

Every value the model allows (:mod:`nexusreports.model`: finite, at most 10**12 in size,
amounts at most EUR 10 trillion) formats without error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cached_property, lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    format_percent,
    parse_pattern,
)

from .catalog import Translations, load_translations

LOCALE_IDS: dict[str, str] = {"nl": "nl-NL", "en": "en-GB"}
"""CLDR locale id per data language."""

NBSP = "\u00a0"
"""No-break space: joins a number to its unit so a line never breaks between them."""


def locale_id(lang: str) -> str:
    """CLDR id (``nl-NL``) for a data language (``nl``); ``KeyError`` for an unknown one."""
    return LOCALE_IDS[lang]


_recent = lru_cache(maxsize=256)
"""A formatting method remembered for the 256 values last formatted (per method, both
languages together): bounded, whatever the number of sheets."""


@dataclass(frozen=True)
class Localiser:
    """Formats values and fixed labels for one language.

    >>> nl, en = Localiser("nl"), Localiser("en")
    >>> nl.amount_eur_m(Decimal(21200)), en.amount_eur_m(Decimal(21200))
    ('€\\xa021.200\\xa0miljoen', '€21,200\\xa0million')
    >>> nl.percent(Decimal("1.2")), en.count(21000), nl.multiplier(Decimal("2.5"))
    ('1,2%', '21,000', '2,5x')
    >>> nl.amount_eur_m(Decimal("742.45")), en.amount_eur_m(Decimal(12600), "billion")
    ('€\\xa0742,5\\xa0miljoen', '€12.6\\xa0billion')
    """

    lang: str

    @cached_property
    def locale(self) -> Locale:
        return Locale.parse(locale_id(self.lang), sep="-")

    @property
    def locale_id(self) -> str:
        """The CLDR locale id, e.g. ``nl-NL``."""
        return locale_id(self.lang)

    @cached_property
    def translations(self) -> Translations:
        return load_translations(self.lang)

    def gettext(self, message: str) -> str:
        """The fixed label ``message`` (an English msgid) in this language."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The label for ``n`` things (``singular`` for 1, else ``plural``; English msgids) in
        this language, by the catalog's plural rule."""
        return self.translations.ngettext(singular, plural, n)

    # -- numbers ---------------------------------------------------------------------------
    # (each remembered for the last few values: a sheet formats the TRL steps 1-9, its years
    # and shares, and the next sheet mostly the same ones; the text depends on the value
    # alone, so equal values -- 5 and Decimal("5.0") -- give the same text)

    @_recent
    def count(self, value: int | Decimal) -> str:
        """A whole number with the locale's grouping: nl ``21.000``, en ``21,000``."""
        return self._decimal(_settle(Decimal(value), 0), "#,##0")

    @_recent
    def number(self, value: Decimal, max_decimals: int = 1) -> str:
        """A decimal number with up to ``max_decimals`` decimals (half up): nl ``12,6``."""
        return self._decimal(_settle(Decimal(value), max_decimals),
                             "#,##0." + "#" * max_decimals if max_decimals else "#,##0")

    @_recent
    def year(self, value: int) -> str:
        """A calendar year, never grouped: ``2025``."""
        return format_decimal(value, format=_pattern("0"), locale=self.locale)

    @_recent
    def percent(self, value_pct: Decimal, max_decimals: int = 1) -> str:
        """A percentage given in percent (1.2 -> nl ``1,2%``, en ``1.2%``), CLDR pattern."""
        pattern = self.locale.percent_formats[None].pattern
        pattern = pattern.replace("#,##0", "#,##0." + "#" * max_decimals) if max_decimals else pattern
        with localcontext() as ctx:
            ctx.rounding = ROUND_HALF_UP
            return format_percent(_settle(Decimal(value_pct), max_decimals) / 100,
                                  format=_pattern(pattern), locale=self.locale, decimal_quantization=True)

    def multiplier(self, value: Decimal) -> str:
        """A multiplier: nl ``2,5x``, en ``2.5x``."""
        return self.gettext("{value}x").format(value=self.number(value))

    @_recent
    def amount_eur_m(self, value_eur_m: Decimal, scale: str = "million") -> str:
        """Money given in EUR millions, printed in millions or billions, at most 1 decimal.

        nl ``€ 21.200 miljoen``, en ``€21,200 million`` (no-break spaces inside).
        """
        value = Decimal(value_eur_m)
        if scale == "billion":
            value, unit = value / 1000, self.gettext("billion")
        else:
            unit = self.gettext("million")
        value = _settle(value, 1)
        pattern = self.locale.currency_formats["standard"].pattern.replace("#,##0.00", "#,##0.#")
        with localcontext() as ctx:
            ctx.rounding = ROUND_HALF_UP
            money = format_currency(value, "EUR", format=_pattern(pattern), locale=self.locale,
                                    currency_digits=False)
        return f"{money}{NBSP}{unit}"

    def range(self, low: str, high: str) -> str:
        """A range of two already formatted values: ``3–8``."""
        return self.gettext("{low}–{high}").format(low=low, high=high)

    def date(self, value: dt.date, style: str = "short") -> str:
        """A date: short nl ``30-09-2025`` / en ``30/09/2025``; long nl ``30 september 2025``."""
        return format_date(value, format=style, locale=self.locale)

    def _decimal(self, value: Decimal, pattern: str) -> str:  # value already _settle()d
        with localcontext() as ctx:
            ctx.rounding = ROUND_HALF_UP
            return format_decimal(value, format=_pattern(pattern), locale=self.locale)


@lru_cache(maxsize=64)
def _pattern(pattern: str) -> NumberPattern:
    """Babel's parse of the number pattern ``pattern``, once per process: Babel parses the
    pattern string again on every call (about a third of formatting a number), and a build
    uses a handful of patterns."""
    return parse_pattern(pattern)


def _settle(value: Decimal, decimals: int) -> Decimal:
    """``value`` rounded half up to ``decimals`` decimals; one that rounds to zero is +0.

    The precision grows with the value, so no finite value raises ``InvalidOperation``.
    """
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, value.adjusted() + decimals + 2)
        ctx.rounding = ROUND_HALF_UP
        ctx.Emax = max(ctx.Emax, value.adjusted() + 1)
        rounded = value.quantize(Decimal(1).scaleb(-decimals))
    return abs(rounded) if rounded.is_zero() else rounded
