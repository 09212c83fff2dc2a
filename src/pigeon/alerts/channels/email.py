"""Email over SMTP (stdlib ``smtplib`` in a thread): one message to every contact with an
email address, STARTTLS / TLS / plain by ``PIGEON_SMTP_TLS``, optional AUTH."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pigeon.alerts.channels import Channel, Context, SmtpSettings, Undelivered, no_url
from pigeon.alerts.notice import Notice

NEEDS = "email"


def configure(*, url: str | None, secret: str | None) -> dict:
    no_url(url, secret, "email")
    return {}


def describe(config: dict) -> str:
    chosen = config.get("contacts")
    return f"contacts {', '.join(map(str, chosen))}" if chosen else "every contact's email"


def message(smtp: SmtpSettings, to: list[str], notice: Notice) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = notice.headline
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "localhost")
    mail["X-Pigeon-Alert-Id"] = str(notice.alert_id)
    mail.set_content(notice.plain())
    return mail


def _deliver(smtp: SmtpSettings, mail: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    if smtp.tls == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.user:
            client.login(smtp.user, smtp.password.reveal() if smtp.password else "")
        refused = client.send_message(mail)
    if refused:
        raise Undelivered("the mail server refused " + ", ".join(
            f"{address} ({code} {reason.decode('utf-8', 'replace')})"
            for address, (code, reason) in refused.items()))


async def send(ctx: Context, channel: Channel, notice: Notice) -> str:
    to = [c.email for c in channel.contacts if c.email]
    if not to:
        raise Undelivered("no contact of this channel has an email address")
    if not ctx.smtp.host:
        raise Undelivered("PIGEON_SMTP_HOST is not set: Pigeon has no mail server to send "
                          "through")
    mail = message(ctx.smtp, to, notice)
    try:
        async with asyncio.timeout(ctx.timeout * 2):
            await asyncio.to_thread(_deliver, ctx.smtp, mail, ctx.timeout)
    except TimeoutError:
        raise Undelivered(f"the mail server did not answer within {ctx.timeout:g}s") from None
    except smtplib.SMTPException as exc:
        raise Undelivered(f"SMTP: {type(exc).__name__}: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise Undelivered(f"cannot reach {ctx.smtp.host}:{ctx.smtp.port}: {exc}") from None
    return ", ".join(to)
