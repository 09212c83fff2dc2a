"""Business Statistics: a tenant's sending over a range of platform days, by day, template
type, signature and template, with success rate, billed segments and cost.

The daily figures are :func:`pigeon.services.records.send_statistics` — the function behind
QuerySendStatistics — so the console and the API cannot disagree: the same days, the same
segments (Alibaba's billable count), the same receipts.  QuerySendStatistics answers domestic
or international (``IsGlobe``); this view adds the two.  A message belongs to the day it was
accepted, in the platform zone.

The breakdowns come from one GROUP BY over the account's messages in the range
(``ix_messages_account_day``), the cost from the ledger rows of those messages (charges less
refunds; ``ix_ledger_message``): what the tenant actually paid from its balance, and the
package units it used.  Only one row per (type, signature, template) reaches Python.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from pigeon.core.errors import PigeonError
from pigeon.core.limits import INTERNATIONAL, TEMPLATE_TYPES
from pigeon.services import records
from pigeon.services.accounts import require_account
from pigeon.store.tables import ledger, messages, signatures, templates

MAX_DAYS = 366
"""The longest range one view covers (a daily chart of more is unreadable anyway)."""

DEFAULT_DAYS = 30


def default_range(today: date) -> tuple[date, date]:
    """The last :data:`DEFAULT_DAYS` days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def check_range(first: date, last: date) -> None:
    """Refuse a range that ends before it starts or is longer than :data:`MAX_DAYS`."""
    if first > last:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The range starts on {first} after it ends on {last}.")
    if (last - first).days + 1 > MAX_DAYS:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A range covers at most {MAX_DAYS} days; {first} to {last} is "
                          f"{(last - first).days + 1}.")


def success_rate(delivered: int, failed: int) -> float | None:
    """Delivered among the messages with a final receipt; ``None`` before any is final."""
    final = delivered + failed
    return delivered / final if final else None


def _blank() -> dict:
    return {"messages": 0, "segments": 0, "delivered": 0, "failed": 0, "waiting": 0,
            "cost_milli": 0, "package_units": 0}


def _add(into: dict, row: dict) -> None:
    for name in ("messages", "segments", "delivered", "failed", "waiting", "cost_milli",
                 "package_units"):
        into[name] += row[name]


def _finish(row: dict) -> dict:
    row["success_rate"] = success_rate(row["delivered"], row["failed"])
    return row


def sign_names(conn: Connection, account_id: int) -> list[str]:
    """The tenant's signature names, for the filter (sorted)."""
    return sorted(conn.execute(select(signatures.c.name)
                               .where(signatures.c.account_id == account_id)).scalars())


def business_statistics(conn: Connection, account_id: int, zone: ZoneInfo, *, first: date,
                        last: date, template_type: int | None = None,
                        sign_name: str | None = None) -> dict:
    """Everything the Business Statistics page shows for the local days ``first``…``last``.

    * ``days``: every day of the range, oldest first, with ``total`` (segments submitted),
      ``delivered``, ``failed``, ``waiting`` (segments) and ``success_rate`` — zeros on days
      without messages, so a chart has one slot per day;
    * ``by_type``, ``by_signature``, ``by_template``: rows with ``messages`` (one per number),
      ``segments``, ``delivered``/``failed``/``waiting`` (segments), ``success_rate``,
      ``cost_milli`` (money paid, milli-CNY) and ``package_units``, largest first;
    * ``totals``: the same figures for the whole range.

    ``template_type`` (0–3) and ``sign_name`` narrow everything, as in QuerySendStatistics.
    """
    require_account(conn, account_id)
    check_range(first, last)
    if template_type is not None and template_type not in TEMPLATE_TYPES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A template type is one of {', '.join(map(str, TEMPLATE_TYPES))}, "
                          f"got {template_type!r}.")

    # -- by day: exactly QuerySendStatistics' rows, domestic and international added.
    scopes = (False, True) if template_type is None else (template_type == INTERNATIONAL,)
    per_day = {}
    for international in scopes:
        for row in records.send_statistics(conn, account_id, zone, first=first, last=last,
                                           international=international,
                                           template_type=template_type, sign_name=sign_name):
            day = per_day.setdefault(row["day"], {"total": 0, "delivered": 0, "failed": 0,
                                                  "waiting": 0})
            for name in day:
                day[name] += row[name]
    series = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        counts = per_day.get(day, {"total": 0, "delivered": 0, "failed": 0, "waiting": 0})
        series.append({"day": day, **counts,
                       "success_rate": success_rate(counts["delivered"], counts["failed"])})

    # -- breakdowns: one row per (type, signature, template).
    where = records.on_days(account_id, first, last, zone)
    if template_type is not None:
        where.append(messages.c.template_type == template_type)
    if sign_name is not None:
        where.append(messages.c.sign_name == sign_name)
    keys = (messages.c.template_type, messages.c.sign_name, messages.c.template_code)

    def segments_where(condition):
        return func.coalesce(func.sum(case((condition, messages.c.segments), else_=0)), 0)

    groups: dict[tuple, dict] = {}
    for row in conn.execute(select(*keys, func.count(), func.sum(messages.c.segments),
                                   segments_where(messages.c.status == "delivered"),
                                   segments_where(messages.c.status == "failed"),
                                   segments_where(messages.c.status.not_in(records.FINAL)))
                            .where(*where).group_by(*keys)):
        groups[tuple(row[:3])] = {**_blank(), "messages": int(row[3]),
                                  "segments": int(row[4] or 0), "delivered": int(row[5]),
                                  "failed": int(row[6]), "waiting": int(row[7])}
    # Charges are negative ledger amounts, refunds positive: the cost is minus their sum.
    for row in conn.execute(select(*keys, func.coalesce(func.sum(ledger.c.amount), 0),
                                   func.coalesce(func.sum(case(
                                       (ledger.c.package_id.is_not(None), ledger.c.units),
                                       else_=0)), 0))
                            .select_from(ledger.join(messages,
                                                     messages.c.id == ledger.c.message_id))
                            .where(*where, ledger.c.account_id == account_id,
                                   ledger.c.kind.in_(("charge", "refund")))
                            .group_by(*keys)):
        group = groups.get(tuple(row[:3]))
        if group is not None:
            group["cost_milli"] = -int(row[3])
            group["package_units"] = -int(row[4])

    names = {}
    codes = sorted({key[2] for key in groups})
    if codes:
        names = dict(conn.execute(select(templates.c.code, templates.c.name).where(
            templates.c.account_id == account_id, templates.c.code.in_(codes))).all())

    def fold(key_of) -> list[dict]:
        folded: dict = {}
        for key, group in groups.items():
            _add(folded.setdefault(key_of(key), _blank()), group)
        rows = [_finish({"key": key, **values}) for key, values in folded.items()]
        rows.sort(key=lambda r: (-r["segments"], -r["messages"], str(r["key"])))
        return rows

    by_template = fold(lambda key: key[2])
    for row in by_template:
        row["name"] = names.get(row["key"])
    totals = _blank()
    for group in groups.values():
        _add(totals, group)
    return {"first": first, "last": last, "template_type": template_type,
            "sign_name": sign_name, "days": series,
            "by_type": fold(lambda key: key[0]), "by_signature": fold(lambda key: key[1]),
            "by_template": by_template, "totals": _finish(totals)}
