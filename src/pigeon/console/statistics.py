"""Business Statistics: charts (SVG) by day, type, signature and template.

The figures come from :func:`pigeon.services.statistics.business_statistics`, which reads the
daily rows through the same function as QuerySendStatistics.  The charts are SVG drawn on the
server: a handful of rects and one polyline per page, hand-written here rather than a chart
library (no JavaScript, no build step, and the CSP stays strict).  Each chart has a title, a
description and a table with the same numbers for screen readers and for copying.
"""

from __future__ import annotations

import math
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pigeon.console import error_text, i18n, words
from pigeon.console.auth import Context
from pigeon.console.i18n import gettext
from pigeon.console.tenant import TEMPLATE_TYPES
from pigeon.core import days
from pigeon.core.errors import PigeonError
from pigeon.services import statistics

# The daily chart's drawing area, in SVG user units (the SVG scales to the page's width).
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 44, 12, 34
MAX_X_LABELS = 12


def nice_step(value: int) -> int:
    """The y axis's tick step: the smallest of 1, 2, 2.5, 5 × 10ⁿ with four steps reaching
    ``value``, so that the ticks are round numbers.  0 → 1 (an empty chart keeps an axis)."""
    needed = max(value, 1) / 4
    magnitude = 10 ** max(0, math.floor(math.log10(needed))) if needed >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= needed and (step * magnitude) % 1 == 0:
            return int(step * magnitude)
    return 10 * magnitude  # pragma: no cover - the loop always returns


def daily_chart(series: list[dict]) -> dict:
    """Geometry of the daily chart: one stacked bar per day (delivered, failed, waiting:
    together the segments submitted) and the success rate as a line on the right-hand axis.

    Pure arithmetic on the rows of ``business_statistics()["days"]``; the template only
    places what this returns.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = nice_step(max((d["total"] for d in series), default=0))
    top = 4 * step
    slot = plot_w / max(len(series), 1)
    bar_w = max(min(slot * 0.7, 28), 1.5)
    every = max(1, math.ceil(len(series) / MAX_X_LABELS))
    bars, rate_points = [], []
    for index, day in enumerate(series):
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = TOP + plot_h
        parts = []
        for name in ("delivered", "failed", "waiting"):
            h = plot_h * day[name] / top
            if h > 0:
                y -= h
                parts.append({"kind": name, "x": round(x, 2), "y": round(y, 2),
                              "w": round(bar_w, 2), "h": round(h, 2)})
        bars.append({"day": day, "parts": parts,
                     "label": i18n.format_day_month(day["day"]) if index % every == 0
                     else None,
                     "label_x": round(x + bar_w / 2, 2)})
        if day["success_rate"] is not None:
            rate_points.append({"x": round(x + bar_w / 2, 2),
                                "y": round(TOP + plot_h * (1 - day["success_rate"]), 2)})
    ticks = [{"value": step * i, "y": round(TOP + plot_h * (1 - i / 4), 2)}
             for i in range(5)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
            "top": TOP, "bottom": TOP + plot_h, "bars": bars, "ticks": ticks,
            "rate_dots": rate_points,
            "rate_points": " ".join(f"{p['x']},{p['y']}" for p in rate_points), "rate_ticks": [
                {"value": i18n.format_percent(i / 4).replace(".0", ""),
                 "y": round(TOP + plot_h * (1 - i / 4), 2)} for i in range(5)]}


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not days.FIRST_DAY <= day <= days.LAST_DAY:
        raise error_text.refusal(gettext("Choose the first and last day of the range."))
    return day


async def statistics_page(request: Request, ctx: Context) -> Response:
    """GET /statistics?from=&to=&type=&sign= — bad filters re-show the page with the error
    and the default range."""
    query = request.query_params
    today = ctx.pigeon.calendar.local_date(ctx.now)
    first, last = statistics.default_range(today)
    chosen = {"from": query.get("from", "").strip() or first.isoformat(),
              "to": query.get("to", "").strip() or last.isoformat(),
              "type": query.get("type", "").strip(), "sign": query.get("sign", "").strip()}
    error = None
    try:
        first, last = _day(chosen["from"]), _day(chosen["to"])
        template_type = None
        if chosen["type"]:
            if not chosen["type"].isdigit() or int(chosen["type"]) not in TEMPLATE_TYPES:
                raise error_text.refusal(gettext("Choose a template type from the list."))
            template_type = int(chosen["type"])
        data = await ctx.pigeon.db.read(
            statistics.business_statistics, ctx.account_id, ctx.pigeon.calendar.zone,
            first=first, last=last, template_type=template_type,
            sign_name=chosen["sign"] or None, offload=True)
    except PigeonError as exc:
        error = error_text.of(exc)
        first, last = statistics.default_range(today)
        data = await ctx.pigeon.db.read(
            statistics.business_statistics, ctx.account_id, ctx.pigeon.calendar.zone,
            first=first, last=last, offload=True)
    names = await ctx.pigeon.db.read(statistics.sign_names, ctx.account_id)
    for row in data["by_type"]:
        row["label"] = words.label(TEMPLATE_TYPES, row["key"])
    for row in data["by_signature"]:
        row["label"] = row["key"]
    for row in data["by_template"]:
        row["label"], row["sub"] = row["name"] or row["key"], row["key"] if row["name"] else None
    return ctx.render(request, "statistics.html", data=data, chart=daily_chart(data["days"]),
                      chosen=chosen, types=i18n.translated(TEMPLATE_TYPES), sign_names=names,
                      error=error,
                      status=400 if error else 200, max_days=statistics.MAX_DAYS,
                      nav="statistics")


def routes(t, o) -> list[Route]:
    """This module's routes, built with ``t`` (tenant pages) and ``o`` (operator pages)."""
    return [t("/statistics", statistics_page)]
