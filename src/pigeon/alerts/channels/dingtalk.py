"""DingTalk custom robots ("自定义机器人"): a markdown message POSTed to the robot's webhook.

With the robot's signing secret ("加签", ``SEC…``) every request carries ``timestamp`` (the
current time in milliseconds) and ``sign`` query parameters: ``sign`` is
``Base64(HMAC-SHA256(key=secret, message=f"{timestamp}\\n{secret}"))``, URL-encoded.  DingTalk
refuses a timestamp more than an hour away from its clock, so it is the wall clock's, not the
alert's ``now``.  The robot answers ``{"errcode": 0, "errmsg": "ok"}``; any other errcode
(310000 "sign not match", 300001 "token is not exist", 130101 "send too fast" …) is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from pigeon.alerts.channels import Channel, Context, Undelivered, check_url, masked, post_json
from pigeon.alerts.notice import Notice

NEEDS = "phone"  # contacts of a DingTalk channel are @-mentioned by their phone
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def configure(*, url: str | None, secret: str | None) -> dict:
    return {"url": check_url(url, "dingtalk")}


def describe(config: dict) -> str:
    return masked(config["url"])


def sign(secret: str, timestamp_ms: int) -> str:
    """The robot's signature of ``timestamp_ms`` (Base64, before URL encoding)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    if not secret:
        return url
    query = urlencode({"timestamp": str(timestamp_ms), "sign": sign(secret, timestamp_ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def body(notice: Notice, mentions: list[str]) -> dict:
    return {"msgtype": "markdown",
            "markdown": {"title": notice.headline, "text": notice.markdown(mentions)},
            "at": {"atMobiles": mentions, "isAtAll": False}}


async def send(ctx: Context, channel: Channel, notice: Notice) -> str:
    mentions = [c.phone for c in channel.contacts if c.phone] \
        if channel.config.get("contacts") else []
    url = signed_url(channel.config["url"], channel.secret, int(ctx.wall() * 1000))
    data = json.dumps(body(notice, mentions), ensure_ascii=False).encode("utf-8")
    response = await post_json(ctx, url, data, HEADERS)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        raise Undelivered(f"DingTalk answered HTTP {response.status_code}: "
                          f"{response.text[:200]}")
    if answer.get("errcode") != 0:
        raise Undelivered(f"DingTalk answered errcode {answer.get('errcode')}: "
                          f"{answer.get('errmsg')}")
    return describe(channel.config)
