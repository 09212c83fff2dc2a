"""The console's routes: ``/console`` for tenants, ``/console/operator`` for operators, the
static files, and sign-in.  Mounted by :func:`pigeon.app.create_app`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pigeon.console import (
    alerts_pages,
    batch,
    operator,
    ops_pages,
    sending,
    settings_pages,
    statistics,
    tenant,
)
from pigeon.console.auth import operator_page, sign_in_handlers, tenant_page
from pigeon.console.rendering import HERE, Pages


def create_console(pigeon) -> Starlette:
    """The console as an ASGI app, to be mounted at ``/console``."""
    pages = Pages(pigeon)
    for_tenant, for_operator = tenant_page(pages), operator_page(pages)
    sign_in, sign_out = sign_in_handlers(pages)
    get, post, both = ["GET"], ["POST"], ["GET", "POST"]

    def t(path: str, handler, methods=get) -> Route:
        return Route(path, for_tenant(handler), methods=methods)

    def o(path: str, handler, methods=get) -> Route:
        return Route("/operator" + path, for_operator(handler), methods=methods)

    async def not_found(request: Request, exc) -> Response:
        return pages.render(request, "error.html", status=404, message="There is no such page.")

    async def to_slash(request: Request) -> Response:
        return RedirectResponse("/console/operator/", 307)

    routes = [
        Route("/signin", sign_in, methods=both),
        Route("/signout", sign_out, methods=post),
        t("/", tenant.overview),
        t("/qualifications", tenant.qualification_list),
        t("/qualifications/new", tenant.qualification_new, both),
        t("/qualifications/phone-code", tenant.phone_code, post),
        t("/qualifications/{id}", tenant.qualification_detail),
        t("/signatures", tenant.signature_list),
        t("/signatures", tenant.signature_create, post),
        t("/signatures/{id}", tenant.signature_detail),
        t("/templates", tenant.template_list),
        t("/templates/new", tenant.template_new, both),
        t("/templates/check", tenant.template_check, post),
        t("/templates/{code}", tenant.template_detail),
        t("/templates/{code}/edit", tenant.template_edit, both),
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
        Route("/operator", to_slash),
        o("/", operator.queue),
        o("/review/{kind}/{account_id}/{name}", operator.review_detail),
        o("/review/{ticket_id}/decide", operator.decide, post),
        o("/files/{file_id}", operator.proof_file),
        o("/tenants", operator.tenants),
        # Each page module names its own routes: ``routes(t, o)`` with the two route builders.
        *batch.routes(t, o),
        *statistics.routes(t, o),
        *settings_pages.routes(t, o),
        *alerts_pages.routes(t, o),
        *ops_pages.routes(t, o),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found})
