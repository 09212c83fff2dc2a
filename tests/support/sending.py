"""A tenant ready to send: approved signatures and templates of every type, and money.

Built through the official SDK (the compliance workflow of tests/support/workflow.py) and the
operator's billing service, as a real tenant and operator would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from pigeon.services import billing
from pigeon.store.tables import ledger, messages
from tests.support import workflow

SIGN = "云雀科技"  # general signature (SignType 1)
OTP_SIGN = "云雀"  # verification codes only (SignType 0)
# A notification whose fixed text is 55 characters; with the 6 characters of 【云雀科技】 and a
# `name` of n characters the message is 61 + n long: n = 9 → 70 (1 segment), n = 10 → 71 (2).
LONG_TEXT = "尊敬的${name}，您在本店购买的商品已由快递公司揽收发出，预计三天之内送达，请保持电话畅通并注意查收包裹，谢谢您的支持。"


@dataclass(frozen=True)
class Sender:
    account_id: int
    sign: str
    otp_sign: str
    otp: str  # 您的验证码为${code}… (type 0)
    notice: str  # 您的订单${order}已发货… (type 1)
    promo: str  # no variables (type 2)
    long_notice: str  # LONG_TEXT (type 1)


def _template(core, **fields) -> str:
    answer = workflow.create_template(core, SIGN, **fields)
    assert answer["Code"] == "OK", answer
    code = answer["TemplateCode"]
    status = core.common("GetSmsTemplate", {"TemplateCode": code})["TemplateStatus"]
    assert status == "1", f"template {code} was not approved at once ({status})"
    return code


def ready_to_send(pigeon, core, account_id: int, *, balance_cny: int = 100,
                  admin_phone: str = workflow.ADMIN_PHONE) -> Sender:
    """Qualification, signatures, one approved template per type, and ``balance_cny`` CNY.

    A second tenant set up in the same test needs another ``admin_phone``: a number gets one
    verification code a minute.
    """
    qualification = workflow.approved_qualification(core, pigeon, AdminPhoneNo=admin_phone)
    for name, sign_type in ((SIGN, "1"), (OTP_SIGN, "0")):
        created = workflow.create_signature(core, qualification, name, SignType=sign_type)
        assert created["Code"] == "OK", created
        assert core.common("GetSmsSign", {"SignName": name})["SignStatus"] == 1
    sender = Sender(
        account_id=account_id, sign=SIGN, otp_sign=OTP_SIGN,
        otp=_template(core),
        notice=_template(core, TemplateName="发货通知", TemplateType="1",
                         TemplateContent="您的订单${order}已发货，请注意查收。",
                         TemplateRule=json.dumps({"order": "other_number2"})),
        promo=_template(core, TemplateName="会员日", TemplateType="2",
                        TemplateContent="云雀会员日全场八折，欢迎选购。拒收请回复R",
                        TemplateRule=""),
        long_notice=_template(core, TemplateName="揽收通知", TemplateType="1",
                              TemplateContent=LONG_TEXT,
                              TemplateRule=json.dumps({"name": "name"})),
    )
    if balance_cny:
        pigeon.db.write_sync(billing.topup, account_id, balance_cny * 1000, pigeon.now(),
                             "test money")
    return sender


def tomorrow_at(pigeon, hour: int, minute: int = 0, second: int = 30):
    """Tomorrow (platform time) at the given local time, as an aware datetime: where tests
    travel to, clear of the real clock and of the seconds around a minute's turn."""
    from datetime import datetime, time, timedelta

    day = pigeon.calendar.local_date(pigeon.now()) + timedelta(days=1)
    return datetime.combine(day, time(hour, minute, second), tzinfo=pigeon.calendar.zone)


def rows(pigeon, table, account_id: int, *, order=None) -> list[dict]:
    """Every row of an account in ``table`` (messages, ledger …), oldest first."""
    from sqlalchemy import select

    def read(conn):
        query = select(table).where(table.c.account_id == account_id)
        return [dict(r) for r in conn.execute(query.order_by(order if order is not None
                                                             else table.c.id)).mappings()]

    return pigeon.db.read_sync(read)


def money_of(pigeon, account_id: int) -> tuple[int, int, int]:
    """The account's balance, the sum of the charges in its ledger, and its messages stored."""
    def read(conn):
        charged = conn.scalar(select(func.coalesce(func.sum(ledger.c.amount), 0))
                              .where(ledger.c.account_id == account_id,
                                     ledger.c.kind == "charge"))
        stored = conn.scalar(select(func.count()).select_from(messages)
                             .where(messages.c.account_id == account_id))
        return billing.balance(conn, account_id), charged, stored
    return pigeon.db.read_sync(read)
