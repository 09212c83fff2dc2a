"""Generic JSON webhooks: the alert as one JSON object POSTed to a URL; any 2xx answer is
success.  With a secret, the request is signed so the receiver can tell it came from Pigeon:
``X-Pigeon-Timestamp`` (Unix seconds) and ``X-Pigeon-Signature: sha256=<hex>``, the hex
HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed with the secret."""

from __future__ import annotations

import hashlib
import hmac
import json

from pigeon import __version__
from pigeon.alerts.channels import Channel, Context, Undelivered, check_url, masked, post_json
from pigeon.alerts.notice import Notice

NEEDS = None


def configure(*, url: str | None, secret: str | None) -> dict:
    return {"url": check_url(url, "webhook")}


def describe(config: dict) -> str:
    return masked(config["url"])


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def send(ctx: Context, channel: Channel, notice: Notice) -> str:
    body = json.dumps(notice.payload(), ensure_ascii=False, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": f"Pigeon-Alerts/{__version__}",
               "X-Pigeon-Alert-Id": str(notice.alert_id)}
    if channel.secret:
        timestamp = int(ctx.wall())
        headers["X-Pigeon-Timestamp"] = str(timestamp)
        headers["X-Pigeon-Signature"] = signature(channel.secret, timestamp, body)
    response = await post_json(ctx, channel.config["url"], body, headers)
    if not 200 <= response.status_code < 300:
        raise Undelivered(f"the webhook answered HTTP {response.status_code}: "
                          f"{response.text[:200]}")
    return describe(channel.config)
