"""Jinja2 pages: one environment, autoescaped, with the filters the templates share.

Everything a tenant typed (names, message text, rejection reasons) reaches the page through
autoescaping; the one filter that builds markup, :func:`highlight_variables`, escapes each
piece itself before wrapping the variables.

Pages speak the request's language (:mod:`pigeon.console.i18n`): ``_()`` and ``{% trans %}``
look the text up in its catalogue, and the ``local``, ``day``, ``money`` and ``percent``
filters write dates and amounts as it does.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pigeon.console import i18n
from pigeon.core import pricing

HERE = Path(__file__).parent
BASE = "/console"
OPERATOR_BASE = "/ops"

_VARIABLE = re.compile(r"(\$\{[^}]*\})")


def highlight_variables(content: str | None) -> Markup:
    """Template text with each ``${name}`` in a ``<mark class="var">``, the rest escaped."""
    parts = _VARIABLE.split(content or "")
    return Markup("").join(Markup('<mark class="var">{}</mark>').format(part)
                           if index % 2 else escape(part) for index, part in enumerate(parts))


def cny(milli: int | None) -> str:
    """Milli-CNY as a plain amount in yuan (``0.045``): what a form field holds."""
    return "—" if milli is None else pricing.format_cny(milli)


def money(milli: int | None) -> str:
    """Milli-CNY as money in the page's language (``¥0.045``)."""
    return "—" if milli is None else i18n.format_money(milli)


def percent(rate: float | None) -> str:
    return "—" if rate is None else i18n.format_percent(rate)


def day(value) -> str:
    """A date (or ``yyyy-MM-dd`` text) as the page's language writes it."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return i18n.format_date(value)


class Pages:
    """Renders the console's templates with what every page needs."""

    def __init__(self, pigeon) -> None:
        self.pigeon = pigeon
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
        self.env.policies["ext.i18n.trimmed"] = True
        self.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True,
                                           pgettext=i18n.pgettext)
        self.env.filters.update(vars=highlight_variables, cny=cny, money=money,
                                percent=percent, local=self.local, day=day,
                                number=i18n.format_number)
        self.env.globals.update(base=BASE, operator_base=OPERATOR_BASE,
                                languages=i18n.LANGUAGES)

    def local(self, moment: datetime | None) -> str:
        """A stored instant in the platform's zone, as the page's language writes it."""
        if moment is None:
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return i18n.format_datetime(moment, self.pigeon.calendar.zone)

    def render(self, request: Request, page: str, /, *, status: int = 200, user=None,
               **context) -> HTMLResponse:
        with i18n.using(i18n.for_request(request)) as language:
            html = self.env.get_template(page).render(request=request, user=user,
                                                      language=language, **context)
        return HTMLResponse(html, status_code=status, headers={
            **SECURITY_HEADERS, "Content-Language": language.tag, "Vary": "Accept-Language"})


SECURITY_HEADERS = {
    # Scripts and styles come from the console's own static files only: an injected
    # <script> in a tenant's text could not run even if escaping were ever missed.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
