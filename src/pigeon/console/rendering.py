"""Jinja2 pages: one environment, autoescaped, with the filters the templates share.

Everything a tenant typed (names, message text, rejection reasons) reaches the page through
autoescaping; the one filter that builds markup, :func:`highlight_variables`, escapes each
piece itself before wrapping the variables.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

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
    return "—" if milli is None else pricing.format_cny(milli)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f} %"


class Pages:
    """Renders the console's templates with what every page needs."""

    def __init__(self, pigeon) -> None:
        self.pigeon = pigeon
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)
        self.env.filters.update(vars=highlight_variables, cny=cny, percent=percent,
                                local=self.local)
        self.env.globals.update(base=BASE, operator_base=OPERATOR_BASE)

    def local(self, moment: datetime | None) -> str:
        """A stored instant as platform-local ``yyyy-MM-dd HH:mm:ss``."""
        if moment is None:
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return self.pigeon.calendar.local_datetime_text(moment)

    def render(self, request: Request, page: str, /, *, status: int = 200, user=None,
               **context) -> HTMLResponse:
        html = self.env.get_template(page).render(request=request, user=user, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


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
