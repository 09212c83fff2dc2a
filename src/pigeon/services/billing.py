"""The operator's side of billing: top-ups, resource packages, prices, and an account's view.

Money is milli-CNY throughout (``core/pricing.py``).  Every movement of money or package quota
is a ``ledger`` row — the charges and refunds that sending and delivery write, and here the
operator's top-ups (``kind="topup"``, ``amount`` > 0) and packages (``kind="package"``,
``units`` > 0, ``package_id`` set) — so an account's balance is always the sum of its ledger
amounts and a package's remaining quota its total plus the units its ledger rows moved.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlalchemy import Connection, insert, select, update

from pigeon.core import pricing
from pigeon.core.errors import PigeonError
from pigeon.core.limits import INTERNATIONAL, NOTIFICATION, OTP, PROMOTIONAL
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store import locks
from pigeon.store.tables import balances, ledger, packages, prices

TEMPLATE_TYPE_NAMES: dict[str, int] = {
    "otp": OTP, "notification": NOTIFICATION, "promotional": PROMOTIONAL,
    "international": INTERNATIONAL,
}
"""The names operators use for template types (CLI ``--type``), by ``TemplateType`` number."""

_TYPE_NAME = {number: name for name, number in TEMPLATE_TYPE_NAMES.items()}

RECENT_LEDGER = 20
MAX_TOPUP = 10**15  # milli-CNY: a trillion yuan; anything larger is a typing mistake


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def lock_account(conn: Connection, account_id: int) -> None:
    """Hold the account's lock until the transaction ends: every change to its balance and
    packages, and every decision SendSms makes from its counts, happens under it, so that two
    nodes never both spend the same money or both pass the same limit
    (:mod:`pigeon.store.locks`; on SQLite the writer's transaction already serialises them)."""
    locks.lock(conn, locks.ACCOUNT, account_id)


def account_lock(conn: Connection, account_id: int) -> locks.Taking | None:
    """How :func:`lock_account` takes the lock, for a caller that sends it together with the
    reads it guards (the send path); None where there is nothing to take (SQLite)."""
    return locks.statement(conn, locks.ACCOUNT, account_id)


def lock_accounts(conn: Connection, account_ids) -> None:
    """:func:`lock_account` for several accounts, in an order that cannot deadlock."""
    locks.lock_all(conn, locks.ACCOUNT, account_ids)


def accounts_lock(conn: Connection, account_ids) -> locks.Taking | None:
    """How :func:`lock_accounts` takes the locks, for a caller that sends it with others."""
    return locks.statement_all(conn, locks.ACCOUNT, account_ids)


def balance(conn: Connection, account_id: int) -> int:
    """The account's balance in milli-CNY (0 before the first top-up)."""
    return conn.scalar(select(balances.c.amount).where(balances.c.account_id == account_id)) or 0


def topup(conn: Connection, account_id: int, amount_milli: int, now: datetime,
          note: str | None = None) -> dict:
    """Add ``amount_milli`` (> 0) to the account's balance; returns the new balance."""
    require_account(conn, account_id)
    lock_account(conn, account_id)
    before = balance(conn, account_id)
    if isinstance(amount_milli, bool) or not isinstance(amount_milli, int) \
            or not 0 < amount_milli <= MAX_TOPUP:
        raise _invalid(f"A top-up must be more than 0 CNY and at most "
                       f"{pricing.format_cny(MAX_TOPUP)} CNY, got {amount_milli!r} milli-CNY.")
    updated = conn.execute(update(balances).where(balances.c.account_id == account_id)
                           .values(amount=balances.c.amount + amount_milli))
    if not updated.rowcount:
        conn.execute(insert(balances).values(account_id=account_id, amount=amount_milli))
    entry = conn.execute(insert(ledger).values(
        account_id=account_id, kind="topup", units=0, amount=amount_milli,
        note=note or "top-up", created_at=now)).inserted_primary_key[0]
    total = balance(conn, account_id)
    audit.record(conn, "balance.topup", f"account:{account_id}", account_id=account_id,
                 before={"balance_milli": before},
                 after={"balance_milli": total, "amount_milli": amount_milli,
                        "note": note or "top-up", "ledger_id": entry}, now=now)
    return {"AccountId": str(account_id), "amount": pricing.format_cny(amount_milli),
            "balance": pricing.format_cny(total), "balance_milli": total, "ledger_id": entry}


def add_package(conn: Connection, account_id: int, kind: str, count: int,
                expires_at: datetime, now: datetime) -> dict:
    """Give the account a resource package of ``count`` segments, usable until ``expires_at``
    (excluded).  ``kind`` is one of :data:`pigeon.core.pricing.PACKAGE_KINDS`."""
    require_account(conn, account_id)
    if kind not in pricing.PACKAGE_KINDS:
        raise _invalid(f"A package type is one of {', '.join(pricing.PACKAGE_KINDS)}, "
                       f"got {kind!r}.")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= 10**9:
        raise _invalid(f"A package holds 1 to 1000000000 messages, got {count!r}.")
    if expires_at <= now:
        raise _invalid(f"The package would expire at {expires_at.isoformat()}, which is "
                       "already past.")
    lock_account(conn, account_id)
    package_id = conn.execute(insert(packages).values(
        account_id=account_id, kind=kind, total=count, remaining=count,
        expires_at=expires_at, created_at=now)).inserted_primary_key[0]
    conn.execute(insert(ledger).values(
        account_id=account_id, kind="package", package_id=package_id, units=count, amount=0,
        note=f"{kind} package of {count}", created_at=now))
    made = _package(conn.execute(select(packages).where(packages.c.id == package_id))
                    .mappings().one(), now, expires_at.tzinfo)
    audit.record(conn, "package.add", f"package:{package_id}", account_id=account_id,
                 after=made, now=now)
    return made


def _package(row, now: datetime, zone: tzinfo | None = None) -> dict:
    return {"id": row["id"], "type": row["kind"], "total": row["total"],
            "remaining": row["remaining"],
            "expires_at": row["expires_at"].astimezone(zone or UTC).isoformat(),
            "expired": row["expires_at"] <= now}


def charge(conn: Connection, account_id: int, template_type: int, segments: int,
           now: datetime, note: str) -> pricing.Charge:
    """Charge ``segments`` of ``template_type`` that are not a message of SendSms (a
    RequiredPhoneCode verification code): packages first, then the balance, at the price in
    force, as a message is charged — ``isv.AMOUNT_NOT_ENOUGH`` when they cannot pay.  One
    ledger row per part, without a message."""
    lock_account(conn, account_id)
    price = next(row["price_milli"] for row in price_list(conn, account_id)
                 if row["TemplateType"] == template_type)
    usable = [pricing.Package(id=r.id, kind=r.kind, remaining=r.remaining,
                              expires_at=r.expires_at)
              for r in conn.execute(select(packages.c.id, packages.c.kind, packages.c.remaining,
                                           packages.c.expires_at).where(
                  packages.c.account_id == account_id, packages.c.remaining > 0))]
    plan = pricing.plan_charge(template_type, segments, price, usable,
                               balance(conn, account_id), now)
    for part in plan.parts:
        if part.package_id is not None:
            conn.execute(update(packages).where(packages.c.id == part.package_id)
                         .values(remaining=packages.c.remaining - part.units))
        conn.execute(insert(ledger).values(
            account_id=account_id, kind="charge", package_id=part.package_id,
            units=-part.units, amount=-part.amount, note=note, created_at=now))
    if plan.total_amount:
        conn.execute(update(balances).where(balances.c.account_id == account_id)
                     .values(amount=balances.c.amount - plan.total_amount))
    return plan


def set_price(conn: Connection, template_type: int, price: int,
              account_id: int | None = None) -> dict:
    """Set the price per segment (milli-CNY) of a template type: the platform default, or the
    account's own price when ``account_id`` is given (it overrides the default)."""
    if template_type not in _TYPE_NAME:
        raise _invalid(f"A template type is one of {', '.join(TEMPLATE_TYPE_NAMES)}, "
                       f"got {template_type!r}.")
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= 10**9:
        raise _invalid(f"A price is 0 to 1000000 CNY per segment, got {price!r} milli-CNY.")
    if account_id is not None:
        require_account(conn, account_id)
    owner = (prices.c.account_id.is_(None) if account_id is None
             else prices.c.account_id == account_id)
    # The unique constraint does not catch two NULL accounts: look first, then update or insert
    # (the single writer makes the pair atomic).
    existing = conn.execute(select(prices.c.id, prices.c.price).where(
        owner, prices.c.template_type == template_type)).first()
    if existing is None:
        conn.execute(insert(prices).values(account_id=account_id, template_type=template_type,
                                           price=price))
    else:
        conn.execute(update(prices).where(prices.c.id == existing.id).values(price=price))
    audit.record(conn, "price.set", f"price:{_TYPE_NAME[template_type]}"
                 + ("" if account_id is None else f"@account:{account_id}"),
                 account_id=account_id,
                 before=None if existing is None else {"price_milli": existing.price},
                 after={"type": _TYPE_NAME[template_type], "price_milli": price})
    return {"type": _TYPE_NAME[template_type], "TemplateType": template_type,
            "AccountId": None if account_id is None else str(account_id),
            "price": pricing.format_cny(price), "price_milli": price}


def price_list(conn: Connection, account_id: int | None = None) -> list[dict]:
    """The price in force for each template type and where it comes from: ``account`` (the
    account's own), ``platform`` (set by an operator) or ``default`` (Pigeon's built-in)."""
    rows = conn.execute(select(prices.c.account_id, prices.c.template_type, prices.c.price)
                        .where(prices.c.account_id.is_(None) if account_id is None else
                               (prices.c.account_id == account_id)
                               | prices.c.account_id.is_(None))).all()
    own = {r.template_type: r.price for r in rows if r.account_id is not None}
    platform = {r.template_type: r.price for r in rows if r.account_id is None}
    listed = []
    for template_type, name in _TYPE_NAME.items():
        if template_type in own:
            price, source = own[template_type], "account"
        elif template_type in platform:
            price, source = platform[template_type], "platform"
        else:
            price, source = pricing.DEFAULT_PRICES[template_type], "default"
        listed.append({"type": name, "TemplateType": template_type,
                       "price": pricing.format_cny(price), "price_milli": price,
                       "source": source})
    return listed


def overview(conn: Connection, account_id: int, now: datetime,
             zone: tzinfo | None = None) -> dict:
    """Balance, packages (remaining and expiry; usable ones first), prices in force and the
    most recent ledger rows, newest first.  Times are shown in ``zone`` (default UTC)."""
    account = require_account(conn, account_id)
    total = balance(conn, account_id)
    package_rows = conn.execute(select(packages).where(packages.c.account_id == account_id)
                                .order_by(packages.c.expires_at, packages.c.id)).mappings()
    listed = [_package(row, now, zone) for row in package_rows]
    listed.sort(key=lambda p: p["expired"] or p["remaining"] == 0)
    entries = conn.execute(select(ledger).where(ledger.c.account_id == account_id)
                           .order_by(ledger.c.id.desc()).limit(RECENT_LEDGER)).mappings()
    return {
        "AccountId": str(account_id), "Name": account["name"], "Status": account["status"],
        "balance": pricing.format_cny(total), "balance_milli": total,
        "packages": listed,
        "prices": price_list(conn, account_id),
        "ledger": [{"id": e["id"], "kind": e["kind"], "message_id": e["message_id"],
                    "package_id": e["package_id"], "units": e["units"],
                    "amount": pricing.format_cny(e["amount"]), "amount_milli": e["amount"],
                    "note": e["note"],
                    "created_at": e["created_at"].astimezone(zone or UTC).isoformat()}
                   for e in entries],
    }
