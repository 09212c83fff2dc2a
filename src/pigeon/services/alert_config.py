"""Alert contacts, notification channels and rules: adding, listing, removing.

An *owner* is a tenant (its ``account_id``) or the operators (``None``): operators' contacts
and channels receive platform alerts (connector down, queue backlog, report pushes failing).
Rules belong to tenants only; the platform's checks are built in (``PIGEON_ALERT_*``).

Channel secrets (a DingTalk robot's signing secret, a webhook's HMAC key) are stored encrypted
with the AccessKey secrets' key and never shown again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from pigeon.alerts import channels as channel_kinds
from pigeon.core import alert_rules
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import alert_channels, alert_contacts
from pigeon.store.tables import alert_rules as rules_table

MAX_CONTACTS = 50
MAX_CHANNELS = 20
MAX_RULES = 50
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def _owner(column, account_id: int | None):
    return column.is_(None) if account_id is None else column == account_id


def _check_owner(conn: Connection, account_id: int | None) -> None:
    if account_id is not None:
        require_account(conn, account_id)


def _time(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


# -- contacts ---------------------------------------------------------------------------------

def _contact(row) -> dict:
    return {"id": row["id"], "name": row["name"], "phone": row["phone"], "email": row["email"],
            "created_at": _time(row["created_at"])}


def add_contact(conn: Connection, account_id: int | None, name: str, phone: str | None,
                email: str | None, now: datetime) -> dict:
    """A contact with a phone (told by SMS, @-mentioned by DingTalk) and/or an email."""
    _check_owner(conn, account_id)
    name = (name or "").strip()
    if not 1 <= len(name) <= 64:
        raise _invalid("A contact's name is 1 to 64 characters.")
    if not phone and not email:
        raise _invalid("A contact needs a phone number (--phone) or an email (--email).")
    wire = parse_number(phone).wire if phone else None
    if email is not None:
        email = email.strip()
        if not _EMAIL.match(email):
            raise _invalid(f"{email!r} is not an email address.")
    count = len(conn.execute(select(alert_contacts.c.id).where(
        _owner(alert_contacts.c.account_id, account_id))).all())
    if count >= MAX_CONTACTS:
        raise _invalid(f"At most {MAX_CONTACTS} contacts; remove one first.")
    contact_id = conn.execute(insert(alert_contacts).values(
        account_id=account_id, name=name, phone=wire, email=email,
        created_at=now)).inserted_primary_key[0]
    made = _contact(conn.execute(select(alert_contacts).where(
        alert_contacts.c.id == contact_id)).mappings().one())
    audit.record(conn, "alert.contact.add", f"alert_contact:{contact_id}",
                 account_id=account_id, after=made, now=now)
    return made


def contacts(conn: Connection, account_id: int | None) -> list[dict]:
    _check_owner(conn, account_id)
    rows = conn.execute(select(alert_contacts).where(
        _owner(alert_contacts.c.account_id, account_id)).order_by(alert_contacts.c.id)).mappings()
    return [_contact(r) for r in rows]


def remove_contact(conn: Connection, account_id: int | None, contact_id: int) -> dict:
    row = conn.execute(select(alert_contacts).where(
        alert_contacts.c.id == contact_id,
        _owner(alert_contacts.c.account_id, account_id))).mappings().first()
    if row is None:
        raise _invalid(f"There is no contact {contact_id} here (see `pigeon alerts contacts "
                       "list`).")
    used = [c["id"] for c in conn.execute(select(alert_channels).where(
        _owner(alert_channels.c.account_id, account_id))).mappings()
        if contact_id in (c["config"].get("contacts") or [])]
    if used:
        raise _invalid(f"Contact {contact_id} is named by channel(s) "
                       f"{', '.join(map(str, used))}; remove them first.")
    conn.execute(delete(alert_contacts).where(alert_contacts.c.id == contact_id))
    audit.record(conn, "alert.contact.remove", f"alert_contact:{contact_id}",
                 account_id=account_id, before=_contact(row))
    return _contact(row) | {"removed": True}


# -- channels ---------------------------------------------------------------------------------

def _channel(row) -> dict:
    module = channel_kinds.KINDS[row["kind"]]
    return {"id": row["id"], "kind": row["kind"], "name": row["name"],
            "target": module.describe(row["config"]), "signed": row["secret"] is not None,
            "contacts": row["config"].get("contacts"), "enabled": row["enabled"],
            "created_at": _time(row["created_at"])}


def add_channel(conn: Connection, box: SecretBox | None, account_id: int | None, kind: str,
                name: str | None, now: datetime, *, url: str | None = None,
                secret: str | None = None, contact_ids: list[int] | None = None) -> dict:
    """A notification channel of ``kind`` (email, sms, dingtalk, webhook).

    email and sms tell contacts (``contact_ids``, or every contact of the owner that has an
    email / a phone); dingtalk posts to a custom robot's ``url`` (signed when ``secret`` is
    given, the robot's ``SEC…`` secret) and @-mentions the given contacts; webhook posts JSON
    to ``url`` (with an HMAC signature header when ``secret`` is given).
    """
    _check_owner(conn, account_id)
    module = channel_kinds.KINDS.get(kind)
    if module is None:
        raise _invalid(f"A channel kind is one of {', '.join(channel_kinds.KINDS)}, "
                       f"got {kind!r}.")
    config = module.configure(url=url, secret=secret)
    if contact_ids:
        known = {c["id"]: c for c in contacts(conn, account_id)}
        for contact_id in contact_ids:
            if contact_id not in known:
                raise _invalid(f"There is no contact {contact_id} here.")
            needed = module.NEEDS
            if needed and not known[contact_id][needed]:
                raise _invalid(f"Contact {contact_id} has no {needed}; a {kind} channel "
                               f"needs one.")
        config["contacts"] = sorted(set(contact_ids))
    count = len(conn.execute(select(alert_channels.c.id).where(
        _owner(alert_channels.c.account_id, account_id))).all())
    if count >= MAX_CHANNELS:
        raise _invalid(f"At most {MAX_CHANNELS} channels; remove one first.")
    name = (name or f"{kind}-{count + 1}").strip()[:64]
    channel_id = conn.execute(insert(alert_channels).values(
        account_id=account_id, kind=kind, name=name, config=config,
        secret=box.encrypt(secret) if secret and box else None, enabled=True,
        created_at=now)).inserted_primary_key[0]
    made = _channel(conn.execute(select(alert_channels).where(
        alert_channels.c.id == channel_id)).mappings().one())
    audit.record(conn, "alert.channel.add", f"alert_channel:{channel_id}",
                 account_id=account_id, after=made, now=now)
    return made


def channels(conn: Connection, account_id: int | None) -> list[dict]:
    _check_owner(conn, account_id)
    rows = conn.execute(select(alert_channels).where(
        _owner(alert_channels.c.account_id, account_id)).order_by(alert_channels.c.id)).mappings()
    return [_channel(r) for r in rows]


def remove_channel(conn: Connection, account_id: int | None, channel_id: int) -> dict:
    row = conn.execute(select(alert_channels).where(
        alert_channels.c.id == channel_id,
        _owner(alert_channels.c.account_id, account_id))).mappings().first()
    if row is None:
        raise _invalid(f"There is no channel {channel_id} here (see `pigeon alerts channels "
                       "list`).")
    conn.execute(delete(alert_channels).where(alert_channels.c.id == channel_id))
    if account_id is not None:  # rules naming it keep their other channels
        for rule in conn.execute(select(rules_table.c.id, rules_table.c.channels).where(
                rules_table.c.account_id == account_id)).all():
            if rule.channels and channel_id in rule.channels:
                conn.execute(update(rules_table).where(rules_table.c.id == rule.id).values(
                    channels=[c for c in rule.channels if c != channel_id]))
    audit.record(conn, "alert.channel.remove", f"alert_channel:{channel_id}",
                 account_id=account_id, before=_channel(row))
    return _channel(row) | {"removed": True}


def channel_spec(conn: Connection, box: SecretBox, channel_id: int) -> channel_kinds.Channel:
    """A channel ready to send: its secret decrypted and its contacts looked up."""
    row = conn.execute(select(alert_channels).where(
        alert_channels.c.id == channel_id)).mappings().first()
    if row is None:
        raise _invalid(f"There is no channel {channel_id}.")
    return _spec(conn, box, row)


def _spec(conn: Connection, box: SecretBox, row) -> channel_kinds.Channel:
    chosen = row["config"].get("contacts")
    query = select(alert_contacts).where(_owner(alert_contacts.c.account_id, row["account_id"]))
    if chosen:
        query = query.where(alert_contacts.c.id.in_(chosen))
    people = [channel_kinds.Contact(name=c["name"], phone=c["phone"], email=c["email"])
              for c in conn.execute(query.order_by(alert_contacts.c.id)).mappings()]
    return channel_kinds.Channel(
        id=row["id"], account_id=row["account_id"], kind=row["kind"], name=row["name"],
        config=dict(row["config"]), secret=box.decrypt(row["secret"]) if row["secret"] else None,
        contacts=people)


def channels_to_tell(conn: Connection, account_id: int | None,
                     chosen: list[int] | None) -> list[int]:
    """The enabled channels an alert goes to: ``chosen`` (a rule's), else all the owner's."""
    query = select(alert_channels.c.id).where(
        _owner(alert_channels.c.account_id, account_id), alert_channels.c.enabled.is_(True))
    if chosen is not None:
        query = query.where(alert_channels.c.id.in_(chosen))
    return list(conn.scalars(query.order_by(alert_channels.c.id)))


# -- rules ------------------------------------------------------------------------------------

def _rule(row) -> dict:
    return {"id": row["id"], "kind": row["kind"],
            "params": alert_rules.show_params(row["kind"], row["params"]),
            "quiet": alert_rules.format_duration(row["quiet_seconds"]),
            "channels": row["channels"], "enabled": row["enabled"],
            "created_at": _time(row["created_at"])}


def add_rule(conn: Connection, account_id: int, kind: str, params: dict[str, str],
             quiet: timedelta, channel_ids: list[int] | None, now: datetime) -> dict:
    """A tenant's rule of ``kind`` with its ``params`` (see :data:`alert_rules.PARAMS`),
    telling ``channel_ids`` (None: every channel of the account, present and future)."""
    require_account(conn, account_id)
    stored = alert_rules.parse_params(kind, params)
    seconds = int(quiet.total_seconds())
    if not 0 <= seconds <= 30 * 86400:
        raise _invalid("The quiet period is 0s to 30d.")
    if channel_ids:
        own = {c["id"] for c in channels(conn, account_id)}
        missing = [c for c in channel_ids if c not in own]
        if missing:
            raise _invalid(f"There is no channel {missing[0]} on this account.")
        channel_ids = sorted(set(channel_ids))
    count = len(conn.execute(select(rules_table.c.id).where(
        rules_table.c.account_id == account_id)).all())
    if count >= MAX_RULES:
        raise _invalid(f"At most {MAX_RULES} rules; remove one first.")
    rule_id = conn.execute(insert(rules_table).values(
        account_id=account_id, kind=kind, params=stored, quiet_seconds=seconds,
        channels=channel_ids or None, enabled=True, created_at=now)).inserted_primary_key[0]
    made = _rule(conn.execute(select(rules_table).where(
        rules_table.c.id == rule_id)).mappings().one())
    audit.record(conn, "alert.rule.add", f"alert_rule:{rule_id}", account_id=account_id,
                 after=made, now=now)
    return made


def rules(conn: Connection, account_id: int) -> list[dict]:
    require_account(conn, account_id)
    rows = conn.execute(select(rules_table).where(rules_table.c.account_id == account_id)
                        .order_by(rules_table.c.id)).mappings()
    return [_rule(r) for r in rows]


def remove_rule(conn: Connection, account_id: int, rule_id: int) -> dict:
    row = conn.execute(select(rules_table).where(
        rules_table.c.id == rule_id, rules_table.c.account_id == account_id)).mappings().first()
    if row is None:
        raise _invalid(f"There is no rule {rule_id} on account {account_id}.")
    conn.execute(delete(rules_table).where(rules_table.c.id == rule_id))
    audit.record(conn, "alert.rule.remove", f"alert_rule:{rule_id}", account_id=account_id,
                 before=_rule(row))
    return _rule(row) | {"removed": True}


def set_rule_enabled(conn: Connection, account_id: int, rule_id: int, enabled: bool) -> dict:
    """Switch one of the account's rules on or off (off: never evaluated; its open alerts
    stay as they are)."""
    row = conn.execute(select(rules_table).where(
        rules_table.c.id == rule_id, rules_table.c.account_id == account_id)).mappings().first()
    if row is None:
        raise _invalid(f"There is no rule {rule_id} on account {account_id}.")
    conn.execute(update(rules_table).where(rules_table.c.id == rule_id).values(enabled=enabled))
    audit.record(conn, "alert.rule.enable" if enabled else "alert.rule.disable",
                 f"alert_rule:{rule_id}", account_id=account_id, before=_rule(row),
                 after=_rule(row) | {"enabled": enabled})
    return _rule(row) | {"enabled": enabled}


RECOMMENDED: tuple[tuple[str, dict[str, str]], ...] = (
    ("otp_pumping", {}),
    ("package", {"below": "1000"}),
    ("volume", {"above": "10000", "per": "day"}),
    ("spike", {}),
)
"""The seed's recommended alerts ("OTP abuse prevention, SMS resource package remaining
quota, message volume, and message sending frequency"), as every new tenant gets them."""
RECOMMENDED_CHANNELS = (("sms", "SMS to contacts"), ("email", "Email to contacts"))


def add_recommended(conn: Connection, account_id: int, quiet: timedelta,
                    now: datetime) -> list[dict]:
    """Switch on the :data:`RECOMMENDED` rules for a new tenant, told to every one of its
    contacts by SMS and by email (two channels that name no contact: all of them, present and
    future).  The tenant turns each off on its Alerts & protection page."""
    for kind, name in RECOMMENDED_CHANNELS:
        add_channel(conn, None, account_id, kind, name, now)
    return [add_rule(conn, account_id, kind, params, quiet, None, now)
            for kind, params in RECOMMENDED]


def enabled_rules(conn: Connection) -> list[dict]:
    """Every enabled rule of every active tenant, for the evaluator."""
    from pigeon.store.tables import accounts

    rows = conn.execute(select(rules_table).join(
        accounts, accounts.c.id == rules_table.c.account_id).where(
        rules_table.c.enabled.is_(True), accounts.c.status == "active")
        .order_by(rules_table.c.id)).mappings()
    return [dict(r) for r in rows]
