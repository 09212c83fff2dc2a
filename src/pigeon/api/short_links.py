"""Pigeon's short-URL redirector: ``GET /s/<code>``.

A link in force answers ``302`` to its source URL and counts the visit (page views; unique
visitors by a digest of the caller's address and browser, ``core/short_urls.py``); ``HEAD``
answers the same without counting (link previews).  An expired link answers ``410``, an unknown
one ``404``, each with a short page.  The caller's address is the TCP peer's, or
``X-Forwarded-For`` read through ``PIGEON_TRUSTED_PROXIES`` as for the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pigeon.core import short_urls as rules
from pigeon.core import source_ip
from pigeon.services import short_urls

if TYPE_CHECKING:
    from pigeon.app import Pigeon

PAGES = {
    "expired": (410, "This link has expired", "The link you followed is no longer in force."),
    "unknown": (404, "No such link", "There is no short link at this address."),
}
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


class ShortLinks:
    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon

    def _visitor(self, request: Request) -> str:
        address = request.client.host if request.client else None
        trusted = self.pigeon.settings.trusted_proxies
        if trusted:
            address = source_ip.client_address(address, request.headers.get("x-forwarded-for"),
                                               trusted)
        return rules.visitor(address, request.headers.get("user-agent"))

    async def handle(self, request: Request) -> Response:
        code = request.path_params["code"]
        state, target = "unknown", None
        if rules.code_of(code) == code:
            counted = request.method == "GET"
            run = self.pigeon.db.write if counted else self.pigeon.db.read
            state, target = await run(short_urls.visit, code,
                                      self._visitor(request) if counted else None,
                                      self.pigeon.now())
        if target is not None:
            return RedirectResponse(target, 302, headers=HEADERS)
        status, title, text = PAGES[state]
        page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>"
                f"</head><body><h1>{title}</h1><p>{text}</p></body></html>")
        return HTMLResponse(page, status, headers=HEADERS)
