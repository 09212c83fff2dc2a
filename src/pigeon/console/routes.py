"""The console's routes: ``/console`` for tenants (with sign-in and the static files) and
``/ops``, the operator console.  Mounted by :func:`pigeon.app.create_app`.

Every page module lists its routes with the two builders ``t`` (a tenant page) and ``o`` (an
operator page); the list is then split into the two apps.  The operator app answers any
address a tenant user asks for — a page or not — with the same 404 page.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pigeon.console import (
    alerts_pages,
    audit_pages,
    batch,
    editing,
    i18n,
    links_and_tags,
    operator,
    ops_pages,
    overview,
    sending,
    settings_pages,
    statistics,
    tenant,
)
from pigeon.console.auth import (
    current_user,
    landing_path,
    not_found_page,
    operator_page,
    refusal,
    set_cookie,
    sign_in_handlers,
    tenant_page,
)
from pigeon.console.rendering import BASE, HERE, OPERATOR_BASE, Pages


class _OperatorRoute(Route):
    """A route of the operator console (``/ops``)."""


def create_console(pigeon) -> list[Mount]:
    """The console as two ASGI apps, mounted at ``/console`` (tenants) and ``/ops``
    (operators)."""
    pages = Pages(pigeon)
    for_tenant, for_operator = tenant_page(pages), operator_page(pages)
    sign_in, sign_out = sign_in_handlers(pages)
    get, post, both = ["GET"], ["POST"], ["GET", "POST"]

    def t(path: str, handler, methods=get) -> Route:
        return Route(path, for_tenant(handler), methods=methods)

    def o(path: str, handler, methods=get) -> Route:
        return _OperatorRoute(path, for_operator(handler), methods=methods)

    async def not_found(request: Request, exc) -> Response:
        return not_found_page(pages, request, None)

    async def switch_language(request: Request) -> Response:
        """The language switch: remembered in a cookie (no account setting), then back to the
        page it was clicked on."""
        chosen = i18n.LANGUAGES.get(request.path_params["tag"])
        response = RedirectResponse(landing_path(request.query_params.get("next")), 303)
        if chosen is not None:
            set_cookie(request, response, i18n.COOKIE, chosen.tag, max_age=i18n.COOKIE_MAX_AGE)
        return response

    async def ops_not_found(request: Request, exc) -> Response:
        # Unknown addresses (and wrong methods) under /ops answer exactly as the pages do: a
        # tenant user cannot tell an operator page from a missing one.
        user = await current_user(request, pigeon)
        with i18n.using(i18n.for_request(request)):
            return refusal(pages, request, user, operator=True) \
                or not_found_page(pages, request, user)

    async def moved_to_ops(request: Request) -> Response:
        # The operator pages lived at /console/operator/… before /ops.
        rest = request.path_params.get("rest", "")
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{OPERATOR_BASE}/{rest}{query}", 308)

    routes = [
        Route("/signin", sign_in, methods=both),
        Route("/signout", sign_out, methods=post),
        Route("/language/{tag}", switch_language),
        t("/", overview.overview),
        t("/files/{id}", tenant.tenant_file),
        t("/qualifications", tenant.qualification_list),
        t("/qualifications/new", tenant.qualification_new, both),
        t("/qualifications/phone-code", tenant.phone_code, post),
        t("/qualifications/{id}", tenant.qualification_detail),
        t("/qualifications/{id}/edit", editing.qualification_edit, both),
        t("/qualifications/{id}/delete", editing.qualification_delete, both),
        t("/signatures", tenant.signature_list),
        t("/signatures", tenant.signature_create, post),
        t("/signatures/{id}", tenant.signature_detail),
        t("/signatures/{id}/edit", editing.signature_edit, both),
        t("/signatures/{id}/delete", editing.signature_delete, both),
        t("/templates", tenant.template_list),
        t("/templates/new", tenant.template_new, both),
        t("/templates/check", tenant.template_check, post),
        t("/templates/{code}", tenant.template_detail),
        t("/templates/{code}/edit", tenant.template_edit, both),
        t("/templates/{code}/delete", editing.template_delete, both),
        t("/records", sending.record_list),
        t("/records.csv", sending.record_export),
        t("/quickstart", sending.quickstart),
        t("/quickstart/numbers", sending.bind_number, post),
        t("/quickstart/numbers/remove", sending.unbind_number, post),
        t("/quickstart/send", sending.send_test, post),
        t("/quickstart/inbox.json", sending.inbox_json),
        t("/accesskeys", sending.access_keys),
        t("/accesskeys", sending.access_key_create, post),
        t("/accesskeys/{key_id}/status", sending.access_key_status, post),
        t("/reports", sending.report_settings),
        t("/reports", sending.report_settings_save, post),
        t("/reports/test", sending.report_test, post),
        Route("/operator", moved_to_ops, methods=both),
        Route("/operator/{rest:path}", moved_to_ops, methods=both),
        *operator.routes(t, o),
        # Each page module names its own routes: ``routes(t, o)`` with the two route builders.
        *batch.routes(t, o),
        *links_and_tags.routes(t, o),
        *statistics.routes(t, o),
        *settings_pages.routes(t, o),
        *alerts_pages.routes(t, o),
        *audit_pages.routes(t, o),
        *ops_pages.routes(t, o),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    ops: list[BaseRoute] = [r for r in routes if isinstance(r, _OperatorRoute)]
    tenants: list[BaseRoute] = [r for r in routes if not isinstance(r, _OperatorRoute)]
    ops_app = Starlette(routes=ops, exception_handlers={404: ops_not_found,
                                                        405: ops_not_found})
    # No redirect from /ops/page/ to /ops/page: it would tell a tenant that the page exists.
    ops_app.router.redirect_slashes = False
    return [Mount(BASE, app=Starlette(routes=tenants, exception_handlers={404: not_found})),
            Mount(OPERATOR_BASE, app=ops_app)]
