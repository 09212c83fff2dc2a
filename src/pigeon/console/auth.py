"""Signing in and out, sessions, CSRF, and who may see which page.

* The session cookie (``pigeon_session``) is HttpOnly, SameSite=Lax, path ``/`` (one session
  for the tenant pages under ``/console`` and the operator console under ``/ops``), Secure
  when the console is reached over HTTPS; the database keeps only a hash of it
  (:mod:`pigeon.services.console_users`).
* Every POST carries the session's CSRF token: a form field ``csrf``, or the header
  ``X-CSRF-Token`` for the pages' small JSON calls.  The sign-in form, which has no session
  yet, uses a double-submit token: a random cookie repeated in the form.
* Tenant pages take the account from the session, never from the request, so another tenant's
  ids simply do not resolve (404).  Every ``/ops`` address answers a tenant user with the
  same 404 page, whether the page exists or not; an operator at a tenant page is sent to
  ``/ops/``.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pigeon.console import error_text, i18n
from pigeon.console.i18n import gettext as _
from pigeon.console.rendering import BASE, OPERATOR_BASE
from pigeon.core import json_input, source_ip
from pigeon.core.errors import PigeonError
from pigeon.core.post_policy import MAX_UPLOAD_BYTES
from pigeon.services import audit, console_users

SESSION_COOKIE = "pigeon_session"
SIGN_IN_COOKIE = "pigeon_signin"
COOKIE_PATH = "/"
SIGN_IN_PATH = BASE + "/signin"
LEGACY_COOKIE_PATH = "/console"  # before the operator console moved to /ops


class NotFound(Exception):
    """The page or record does not exist for this user (or belongs to another tenant)."""


class Forbidden(Exception):
    """A POST without the right CSRF token."""


@dataclass
class Context:
    """Who is asking, and what the request posted."""

    pigeon: Any
    pages: Any
    user: dict
    now: datetime
    form: FormData | None = None
    json: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def account_id(self) -> int:
        return self.user["account_id"]

    @property
    def csrf(self) -> str:
        return self.user["csrf"]

    def render(self, request: Request, page: str, /, *, status: int = 200,
               **context) -> Response:
        return self.pages.render(request, page, status=status, user=self.user,
                                 csrf=self.csrf, **context)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default


Handler = Callable[[Request, Context], Awaitable[Response]]


def client_address(request: Request, pigeon) -> str:
    """The browser's address: the TCP peer's, or behind a trusted proxy
    (``PIGEON_TRUSTED_PROXIES``) the one its ``X-Forwarded-For`` names — as the API reads it."""
    peer = request.client.host if request.client else None
    trusted = pigeon.settings.trusted_proxies
    if trusted:
        peer = source_ip.client_address(peer, request.headers.get("x-forwarded-for"), trusted)
    return peer or "unknown"


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


async def current_user(request: Request, pigeon) -> dict | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await pigeon.db.read(console_users.session_user, token, pigeon.now())


async def _posted(request: Request, ctx: Context) -> None:
    """Read the POST body and check its CSRF token (``Forbidden`` when wrong)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:  # the pages' small calls: a few fields, never deep
            body = json_input.loads(await request.body())
        except ValueError:
            body = None
        ctx.json = body if isinstance(body, dict) else {}
        token = request.headers.get("x-csrf-token")
    else:
        ctx.form = await request.form(max_files=10, max_fields=200,
                                      max_part_size=MAX_UPLOAD_BYTES)
        token = ctx.form.get("csrf")
        token = token if isinstance(token, str) else None
    if not _same(token, ctx.csrf):
        raise Forbidden()


def refusal(pages, request: Request, user: dict | None, *, operator: bool) -> Response | None:
    """The answer for someone who may not see the page, or None when ``user`` may.

    Not signed in: to the sign-in page (a GET) or 403.  A tenant user at an operator page: the
    404 page every unknown address gets, so that tenants never learn which operator pages
    exist.  An operator at a tenant page: to the operator console."""
    if user is None:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(target)}", 303)
        return pages.render(request, "error.html", status=403,
                            message=_("Your session has ended; sign in again."))
    if user["operator"] == operator:
        return None
    if operator:
        return not_found_page(pages, request, user)
    return RedirectResponse(f"{OPERATOR_BASE}/", 303)


def not_found_page(pages, request: Request, user: dict | None) -> Response:
    """The one 404 page of a missing page (the same for every user of a kind)."""
    with i18n.using(i18n.for_request(request)):
        message = _("There is no such page.")
    if user is None:
        return pages.render(request, "error.html", status=404, message=message)
    return pages.render(request, "error.html", status=404, user=user, csrf=user["csrf"],
                        message=message)


def _guard(pages, *, operator: bool) -> Callable[[Handler], Callable]:
    def wrap(handler: Handler):
        async def endpoint(request: Request) -> Response:
            # The request's language, for what handlers say (notices, errors) as for pages.
            language = i18n.activate(i18n.for_request(request))
            try:
                return await guarded(request)
            finally:
                i18n.deactivate(language)

        async def guarded(request: Request) -> Response:
            pigeon = pages.pigeon
            user = await current_user(request, pigeon)
            refused = refusal(pages, request, user, operator=operator)
            if refused is not None:
                return refused
            ctx = Context(pigeon=pigeon, pages=pages, user=user, now=pigeon.now())
            # What the page changes goes into the audit trail as this user's, from this
            # address (a context variable of the request's own task: it ends with it).
            audit.acting(audit.console(user, client_address(request, pigeon)))
            try:
                if request.method == "POST":
                    await _posted(request, ctx)
                return await handler(request, ctx)
            except NotFound:
                return ctx.render(request, "error.html", status=404,
                                  message=_("There is no such page or record in your "
                                            "account."))
            except Forbidden:
                return ctx.render(request, "error.html", status=403,
                                  message=_("The form was stale or forged (its security token "
                                            "is missing or wrong). Reload the page and try "
                                            "again."))
            finally:
                if ctx.form is not None:
                    await ctx.form.close()  # uploads spool to temporary files: close them

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def tenant_page(pages) -> Callable[[Handler], Callable]:
    return _guard(pages, operator=False)


def operator_page(pages) -> Callable[[Handler], Callable]:
    return _guard(pages, operator=True)


# -- sign-in and sign-out ---------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    # Only a path of the console itself (tenant pages or the operator console): never an open
    # redirect to another site, nor to the API's paths.
    if target and target.startswith((BASE + "/", OPERATOR_BASE + "/")) \
            and "\\" not in target and not any(ord(c) < 32 for c in target):
        return target
    return BASE + "/"


def landing_path(target: str | None) -> str:
    """``target`` if it is a page of the console (the sign-in page too), else the tenant
    console's home: where the language switch goes back to."""
    return _safe_next(target)


def landing(user: dict, target: str | None) -> str:
    """Where ``user`` goes after signing in: ``target`` if it is one of their pages, else
    their home (an operator's is the operator console, ``/ops/``)."""
    target = _safe_next(target)
    in_ops = target.startswith(OPERATOR_BASE + "/")
    if user["operator"] and not in_ops:
        return OPERATOR_BASE + "/"
    if not user["operator"] and in_ops:
        return BASE + "/"
    return target


class PasswordChecks:
    """Argon2 checks in this process: at most ``at_once`` run, one at a time per client
    address, and at most ``per_client`` wait per address (more are refused).  A guesser
    flooding from one address gets one core's worth of checks at most, and whoever shares the
    address waits their turn behind it — slower, never locked out — while other addresses go
    on."""

    def __init__(self, at_once: int, per_client: int) -> None:
        self.running = asyncio.Semaphore(at_once)
        self.per_client = per_client
        self.clients: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    async def check(self, client: str, password_hash: str | None, password: str) -> bool:
        lock, waiting = self.clients.setdefault(client, (asyncio.Lock(), [0]))
        if waiting[0] >= self.per_client:
            raise PigeonError("Throttling.User",
                              "Too many sign-ins at once from your address; try again in a "
                              "moment.")
        waiting[0] += 1
        try:
            async with lock, self.running:
                return await anyio.to_thread.run_sync(console_users.verify_password,
                                                      password_hash, password)
        finally:
            waiting[0] -= 1
            if not waiting[0]:
                del self.clients[client]


def sign_in_handlers(pages):
    pigeon = pages.pigeon
    checks = PasswordChecks(console_users.MAX_CHECKS_AT_ONCE, console_users.MAX_CHECKS_WAITING)

    def form(request: Request, *, status: int = 200, error: str | None = None,
             email: str = "", target: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        response = pages.render(request, "signin.html", status=status, error=error,
                                email=email, csrf=token,
                                next=_safe_next(target or request.query_params.get("next")))
        set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
        return response

    async def sign_in(request: Request) -> Response:
        with i18n.using(i18n.for_request(request)):
            return await signing_in(request)

    async def signing_in(request: Request) -> Response:
        if request.method == "GET":
            user = await current_user(request, pigeon)
            if user is not None:
                response = RedirectResponse(landing(user, request.query_params.get("next")),
                                            303)
                # A session from before the cookie's path was "/" is only sent to /console:
                # set it again for every path, or /ops would send the operator back here.
                set_cookie(request, response, SESSION_COOKIE, request.cookies[SESSION_COOKIE],
                           max_age=int(console_users.SESSION_LIFETIME.total_seconds()))
                return response
            return form(request)
        posted = await request.form(max_files=0, max_fields=10)
        email = str(posted.get("email") or "").strip()
        password = str(posted.get("password") or "")
        target = str(posted.get("next") or "")
        if not _same(str(posted.get("csrf") or ""), request.cookies.get(SIGN_IN_COOKIE)):
            return form(request, status=403, email=email, target=target,
                        error=_("The sign-in form was stale or forged; try again."))
        now = pigeon.now()
        client = client_address(request, pigeon)
        attempt = None
        try:
            # Decided and recorded in one step for every process and node
            # (services/console_users.py).
            attempt = await pigeon.db.write(console_users.begin_attempt, email, client, now)
            user_id, password_hash = await pigeon.db.read(console_users.password_hash_of,
                                                          email)
            # Argon2 costs tens of milliseconds of CPU: off the event loop, a few at a time.
            ok = await checks.check(client, password_hash, password)
        except PigeonError as exc:
            if attempt is not None:  # recorded, but its password was not checked
                await pigeon.db.write(console_users.end_attempt, attempt, email, client,
                                      signed_in=False)
            return form(request, status=429, email=email, target=target,
                        error=error_text.of(exc))
        if not ok or user_id is None:  # the attempt's row stays: a failure
            return form(request, status=401, email=email, target=target,
                        error=_("Wrong email or password."))
        await pigeon.db.write(console_users.end_attempt, attempt, email, client,
                              signed_in=True)
        token, _csrf = await pigeon.db.write(console_users.open_session, user_id, now)
        user = await pigeon.db.read(console_users.session_user, token, now)
        response = RedirectResponse(landing(user, target), 303)
        set_cookie(request, response, SESSION_COOKIE, token,
                   max_age=int(console_users.SESSION_LIFETIME.total_seconds()))
        response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
        return response

    async def sign_out(request: Request) -> Response:
        with i18n.using(i18n.for_request(request)):
            return await signing_out(request)

    async def signing_out(request: Request) -> Response:
        user = await current_user(request, pigeon)
        posted = await request.form(max_files=0, max_fields=10)
        if user is not None:
            if not _same(str(posted.get("csrf") or ""), user["csrf"]):
                return pages.render(request, "error.html", status=403, user=user,
                                    csrf=user["csrf"], message=_("The form was stale or forged."))
            audit.acting(audit.console(user, client_address(request, pigeon)))
            await pigeon.db.write(console_users.close_session,
                                  request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse(SIGN_IN_PATH, 303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        response.delete_cookie(SESSION_COOKIE, path=LEGACY_COOKIE_PATH)
        return response

    return sign_in, sign_out
