"""The tenant's Overview: today's figures, the last 7 days as a chart, the package quota, the
seed's "Important timelines" and the next steps — each following what the tenant has actually
done (:func:`next_steps`, pure: it takes the facts and returns the list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from pigeon.console import i18n, words
from pigeon.console.auth import Context
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE
from pigeon.console.statistics import daily_chart
from pigeon.core import timeline
from pigeon.services import accounts, alert_config, number_lists, reports, statistics
from pigeon.services import overview as overview_service

CHART_DAYS = 7

STEP_TITLES = {"qualification": N_("Qualification review"),
               "signature": N_("Signature review"), "template": N_("Template review"),
               "registration": N_("Carrier registration"), "earliest": N_("Earliest sending"),
               "stable": N_("Stable sending in production"), "total": N_("Total integration")}
STEP_NOTES = {
    "qualification": N_("Approval takes up to 2 business days."),
    "signature": N_("Needs an approved qualification; usually within 2 hours (review hours "
                    "09:00–21:00)."),
    "template": N_("Needs an approved signature; usually within 2 hours."),
    "registration": N_("Starts when the signature is approved; 7 to 10 business days or "
                       "longer. Until it completes, carriers may refuse messages "
                       "(PORT_NOT_REGISTERED)."),
    "earliest": N_("Once qualification, signature and template are approved."),
    "stable": N_("Once carrier registration is complete (7 to 15 business days)."),
    "total": N_("10 to 15 business days, carrier registration included."),
}
STEP_STATES = {timeline.NOT_STARTED: N_("not started"), timeline.IN_PROGRESS: N_("in progress"),
               timeline.DONE: N_("done"), timeline.ATTENTION: N_("needs attention")}


@dataclass(frozen=True)
class Facts:
    """What the next steps depend on."""

    qualification: str  # none | reviewing | approved | rejected (timeline.Stage.state)
    signature: str
    template: str
    money: bool  # a balance above zero or a usable package
    test_numbers: int
    sent: bool  # any message in the last days
    access_keys: int
    receipts: bool  # SmsReport is pushed or queued
    contacts: int


@dataclass(frozen=True)
class NextStep:
    key: str
    text: str  # a message id
    href: str
    done: bool


def next_steps(facts: Facts) -> list[NextStep]:
    """The way to a first delivered message and a production setup, in order, each marked
    done or not; the first not done is what to do now."""
    def review(state: str, apply: str, wait: str, fix: str) -> str:
        return {"none": apply, "reviewing": wait, "rejected": fix}.get(state, apply)

    q, s, t = facts.qualification, facts.signature, facts.template
    return [
        NextStep("qualification", review(
            q, N_("Submit a qualification: the company behind your signatures."),
            N_("Your qualification is under review (up to 2 business days)."),
            N_("Your qualification was rejected: update it and resubmit.")),
            f"{BASE}/qualifications/new" if q == "none" else f"{BASE}/qualifications",
            q == "approved"),
        NextStep("signature", review(
            s, N_("Apply for a signature once the qualification is approved."),
            N_("Your signature is under review (usually within 2 hours)."),
            N_("Your signature was rejected: change it and resubmit.")),
            f"{BASE}/signatures", s == "approved"),
        NextStep("template", review(
            t, N_("Apply for a template once the signature is approved."),
            N_("Your template is under review (usually within 2 hours)."),
            N_("Your template was rejected: change it and resubmit.")),
            f"{BASE}/templates/new" if t == "none" else f"{BASE}/templates",
            t == "approved"),
        NextStep("money", N_("Have money on the account: ask your operator for a top-up or a "
                             "resource package."), f"{BASE}/", facts.money),
        NextStep("test", N_("Bind a test number and send a test message."),
                 f"{BASE}/quickstart", facts.test_numbers > 0 and facts.sent),
        NextStep("accesskey", N_("Create an AccessKey for the official SDKs."),
                 f"{BASE}/accesskeys", facts.access_keys > 0),
        NextStep("receipts", N_("Choose how delivery receipts reach you (HTTP push or a "
                                "queue)."), f"{BASE}/reports", facts.receipts),
        NextStep("contacts", N_("Add a contact to be told of alerts."), f"{BASE}/contacts",
                 facts.contacts > 0),
    ]


async def overview(request: Request, ctx: Context) -> Response:
    calendar = ctx.pigeon.calendar
    today = calendar.local_date(ctx.now)

    def read(conn):
        data = overview_service.tenant_overview(conn, ctx.account_id, ctx.now, calendar)
        week = statistics.business_statistics(
            conn, ctx.account_id, calendar.zone, first=today - timedelta(days=CHART_DAYS - 1),
            last=today)
        progress = overview_service.progress(conn, ctx.account_id, calendar)
        usable = [p for p in data["billing"]["packages"] if not p["expired"]]
        facts = Facts(
            qualification=progress.qualification.state, signature=progress.signature.state,
            template=progress.template.state,
            money=data["billing"]["balance_milli"] > 0 or any(p["remaining"] for p in usable),
            test_numbers=len(number_lists.numbers(conn, ctx.account_id, number_lists.TEST)),
            sent=week["totals"]["messages"] > 0,
            access_keys=len(accounts.list_access_keys(conn, ctx.account_id)),
            receipts=any(r["type"] == "SmsReport" and r["mode"] != "off"
                         for r in reports.settings_of(conn, ctx.account_id)),
            contacts=len(alert_config.contacts(conn, ctx.account_id)))
        return data, week, usable, facts

    data, week, usable, facts = await ctx.pigeon.db.read(read, offload=True)
    steps = []
    for step in data["timeline"]:
        steps.append({"key": step.key, "status": step.status,
                      "title": gettext(STEP_TITLES[step.key]),
                      "state": words.label(STEP_STATES, step.status),
                      "note": gettext(STEP_NOTES[step.key]), "done_on": step.done_on,
                      "expected_from": step.expected_from, "expected_to": step.expected_to})
    todo = next_steps(facts)
    first_open = next((s.key for s in todo if not s.done), None)
    quota = {"left": sum(p["remaining"] for p in usable),
             "total": sum(p["total"] for p in usable), "packages": usable}
    return ctx.render(request, "overview.html", data=data, steps=steps, nav="overview",
                      today=today, next_steps=[
                          {"key": s.key, "text": gettext(s.text), "href": s.href,
                           "done": s.done, "now": s.key == first_open} for s in todo],
                      week=week, chart=daily_chart(week["days"]), quota=quota,
                      package_kinds=i18n.translated(words.PACKAGE_KINDS))
