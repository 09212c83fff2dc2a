"""SMS through Pigeon itself, the way Pigeon texts its own verification codes
(RequiredPhoneCode): a platform notice from sender ``Pigeon`` with the signature 【Pigeon】,
delivered by the carrier simulator into each contact's virtual handset (``pigeon handset
inbox``, the console's inbox).  No tenant is charged and no report is made.

Platform notices do not travel over operator-configured carrier connectors yet: on a
deployment that delivers through real carriers, use email, DingTalk or a webhook for alerts
(docs/alerts.md).
"""

from __future__ import annotations

from pigeon.alerts.channels import Channel, Context, Undelivered, no_url
from pigeon.alerts.notice import Notice

NEEDS = "phone"
SENDER = "Pigeon"


def configure(*, url: str | None, secret: str | None) -> dict:
    no_url(url, secret, "sms")
    return {}


def describe(config: dict) -> str:
    chosen = config.get("contacts")
    return f"contacts {', '.join(map(str, chosen))}" if chosen else "every contact's phone"


async def send(ctx: Context, channel: Channel, notice: Notice) -> str:
    from pigeon.services import handsets

    phones = list(dict.fromkeys(c.phone for c in channel.contacts if c.phone))
    if not phones:
        raise Undelivered("no contact of this channel has a phone number")
    text = notice.short()
    await ctx.db.write(handsets.deliver_many, [(phone, SENDER, text) for phone in phones],
                       ctx.now)
    return ", ".join(phones)
