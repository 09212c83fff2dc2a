"""SMS through Pigeon itself: the alert as a message of the platform account
(:mod:`pigeon.services.alert_sms`), signed with ``PIGEON_ALERT_SMS_SIGNATURE`` (【Pigeon】),
queued for the dispatcher, and routed like any message — to an SMPP carrier when a route
says so, else to the carrier simulator (the contact's virtual handset).  No tenant is charged
and no report is made.

"Sent" here means queued for the dispatcher: the notification keeps the numbers and the
BizId, and the message's own status (``pigeon`` records of the platform account) says whether
the carrier delivered it.
"""

from __future__ import annotations

from pigeon.alerts.channels import Channel, Context, Undelivered, no_url
from pigeon.alerts.notice import Notice
from pigeon.core.errors import PigeonError

NEEDS = "phone"


def configure(*, url: str | None, secret: str | None) -> dict:
    no_url(url, secret, "sms")
    return {}


def describe(config: dict) -> str:
    chosen = config.get("contacts")
    return f"contacts {', '.join(map(str, chosen))}" if chosen else "every contact's phone"


async def send(ctx: Context, channel: Channel, notice: Notice) -> str:
    from pigeon.services import alert_sms

    phones = list(dict.fromkeys(c.phone for c in channel.contacts if c.phone))
    if not phones:
        raise Undelivered("no contact of this channel has a phone number")
    try:
        queued = await ctx.db.write(alert_sms.queue, phones, notice.short(), ctx.sms_signature,
                                    ctx.now)
    except PigeonError as exc:
        raise Undelivered(f"{exc.code}: {exc.message}") from None
    if ctx.wake is not None:
        ctx.wake()
    return f"{', '.join(phone for phone, _id in queued['messages'])} (BizId {queued['BizId']})"
