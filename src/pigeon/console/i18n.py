"""The console's two languages, Simplified Chinese and English (docs/console.md#languages).

Every string a page shows is an English message id looked up in a gettext catalogue:
``console/locale/zh_CN/LC_MESSAGES/messages.po``, committed and compiled in memory when first
needed — no build step, so ``scripts/serve`` on a fresh machine speaks Chinese at once.
English needs no catalogue: the message ids are the English text.

The language is the user's choice (the ``pigeon_lang`` cookie the language switch sets; the
database is not involved), else the browser's ``Accept-Language``, else English.  Dates,
times and money are formatted for the language with Babel (CLDR).

While a request is handled, :func:`activate` makes its language current (a context variable,
one per request task), so that :func:`gettext` works in handlers as in templates.  Strings
defined at import time are marked with :func:`N_` and translated where they are shown.
"""

from __future__ import annotations

import contextlib
import gettext as gettext_module
import io
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
COOKIE = "pigeon_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"


@dataclass(frozen=True)
class Language:
    """One language of the console: ``tag`` is the BCP 47 tag (``<html lang>``, the cookie),
    ``catalogue`` the directory of its ``.po`` file (None: the message ids themselves)."""

    tag: str
    name: str  # in the language itself, for the switch
    babel: str
    catalogue: str | None

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.babel)


ZH = Language("zh-CN", "简体中文", "zh_Hans_CN", "zh_CN")
EN = Language("en-US", "English", "en_US", None)
LANGUAGES: dict[str, Language] = {ZH.tag: ZH, EN.tag: EN}
DEFAULT = EN
"""Without a choice and without a usable ``Accept-Language`` (scripts, curl): English, the
language of the message ids."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (a string defined at import
    time: translate it with :func:`gettext` where it is shown)."""
    return message


# -- choosing ------------------------------------------------------------------------------------

def _by_primary_tag(tag: str) -> Language | None:
    primary = tag.strip().lower().split("-")[0].split("_")[0]
    # Every Chinese variant gets Simplified Chinese: closer to a zh-TW reader than English.
    return {"zh": ZH, "en": EN}.get(primary)


def from_accept_language(header: str | None) -> Language | None:
    """The first of our languages the ``Accept-Language`` header accepts, by its q-values."""
    choices = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            choices.append((-quality, position, tag))
    for _quality, _position, tag in sorted(choices):
        found = _by_primary_tag(tag)
        if found is not None:
            return found
    return None


def choose(cookie: str | None, accept_language: str | None) -> Language:
    """The user's choice (the cookie), then ``Accept-Language``, then :data:`DEFAULT`."""
    if cookie in LANGUAGES:
        return LANGUAGES[cookie]
    return from_accept_language(accept_language) or DEFAULT


def for_request(request) -> Language:
    return choose(request.cookies.get(COOKIE), request.headers.get("accept-language"))


# -- catalogues ----------------------------------------------------------------------------------

def po_path(language: Language) -> Path:
    return LOCALE_DIR / str(language.catalogue) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: Language) -> gettext_module.NullTranslations:
    """The language's catalogue, compiled from its ``.po`` file in memory (once)."""
    if language.catalogue is None:
        return gettext_module.NullTranslations()
    with po_path(language).open("rb") as file:
        catalog = read_po(file, locale=language.catalogue)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they are not translations yet
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


_current: ContextVar[Language] = ContextVar("pigeon_console_language", default=DEFAULT)


def current() -> Language:
    return _current.get()


def activate(language: Language) -> Token:
    return _current.set(language)


def deactivate(token: Token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def using(language: Language) -> Iterator[Language]:
    token = activate(language)
    try:
        yield language
    finally:
        deactivate(token)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current()).pgettext(context, message)


def translated(mapping: Mapping) -> dict:
    """``mapping`` with each value (a message id) translated: the labels of an enumeration."""
    return {key: gettext(value) for key, value in mapping.items()}


# -- formatting ----------------------------------------------------------------------------------

def format_datetime(moment: datetime, zone: ZoneInfo) -> str:
    """An instant in ``zone``, as the language writes a date and time (CLDR medium)."""
    return babel_dates.format_datetime(moment.astimezone(zone), "medium",
                                       locale=current().locale)


def format_date(day: date, style: str = "medium") -> str:
    return babel_dates.format_date(day, style, locale=current().locale)


def format_day_month(day: date) -> str:
    """A day without its year: ``12月9日``, ``Dec 9``."""
    return babel_dates.format_skeleton("MMMd", day, locale=current().locale)


def format_zone(zone: ZoneInfo) -> str:
    """A time zone as the language names it: ``中国时间``, ``China Time``."""
    return babel_dates.get_timezone_name(zone, "long", locale=current().locale)


def format_money(milli: int) -> str:
    """Milli-CNY as money: ``¥0.045`` in Chinese, ``CN¥0.045`` in English (two to three
    decimals: prices have three)."""
    return babel_numbers.format_currency(Decimal(milli) / 1000, "CNY", "¤#,##0.00#",
                                         currency_digits=False, locale=current().locale)


def format_percent(rate: float) -> str:
    return babel_numbers.format_percent(rate, "#,##0.0%", locale=current().locale)


def format_number(value: int) -> str:
    return babel_numbers.format_decimal(value, locale=current().locale)
