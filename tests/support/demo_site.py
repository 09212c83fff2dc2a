"""A running Pigeon with the carrier simulator and a tenant that looks used: for screenshots
and demonstrations (``scripts/screenshots``).

Started like the console tests' ``site`` (tests/console/conftest.py): a temporary SQLite
database, the workers, the console on an ephemeral loopback port.  Seeded as a tenant and an
operator would: the compliance workflow and the sending through the official SDK, the review
decisions and a batch through the services the console calls.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from pigeon.app import Pigeon
from pigeon.config import Settings
from pigeon.services import (
    alert_config,
    batches,
    number_lists,
    qualifications,
    review,
    uploads,
)
from tests.console.conftest import ConsoleSite, ConsoleUser
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient
from tests.support.sending import Sender, ready_to_send
from tests.support.server import LiveServer

log = logging.getLogger(__name__)

TEST_NUMBER = "13912345678"  # bound in Quick Start, so its handset shows there
# (phone, template attribute of Sender, parameters); 13800138001 and …003 are the simulator's
# magic numbers for "no such number" and "on the carrier's blacklist".
MESSAGES = (
    (TEST_NUMBER, "otp", {"code": "482913"}),
    (TEST_NUMBER, "notice", {"order": "A20240618"}),
    ("18612345670", "notice", {"order": "B77310"}),
    ("18912345671", "otp", {"code": "905127"}),
    ("13800138001", "notice", {"order": "C1024"}),
    ("13800138003", "otp", {"code": "118204"}),
    ("13512345672", "long_notice", {"name": "王女士"}),
)
BATCH_ROWS = (("13712345601", "A1001"), ("13712345602", "A1002"), ("15812345603", "A1003"),
              ("18612345604", "A1004"), ("18912345605", "A1005"), ("13800138004", "A1006"),
              ("1381234", "A1007"))  # the last one is not a number: shown as a problem row


@dataclass
class Seeded:
    tenant: ConsoleUser
    operator: ConsoleUser
    sender: Sender
    batch_id: int | None = None
    qualification_id: int | None = None
    warnings: list[str] = field(default_factory=list)


@contextlib.contextmanager
def running_site(directory: Path, **overrides) -> Iterator[ConsoleSite]:
    """A Pigeon on ``directory``/pigeon.db with its workers, serving the API and console."""
    settings = Settings(data_dir=directory / "data",
                        database_url=f"sqlite:///{directory / 'pigeon.db'}",
                        review_mode="rules", registration_delay=timedelta(0),
                        simulator_delay=timedelta(milliseconds=200))
    pigeon = Pigeon(replace(settings, **overrides))
    live = LiveServer(pigeon, workers=True).start()
    try:
        yield ConsoleSite(pigeon, live)
    finally:
        live.stop()
        pigeon.close()


def seed(site: ConsoleSite, *, wait_seconds: float = 20.0) -> Seeded:
    """A tenant ready to send, with delivered and failed messages, a batch, a rejected
    template, and a signature and a template waiting in the operator's review queue."""
    pigeon = site.pigeon
    tenant = site.tenant_user("dev@lark.example", "杭州云雀科技有限公司")
    operator = site.operator_user("ops@pigeon.example")
    core = CoreClient(site.live.endpoint, tenant.tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id, balance_cny=500)
    seeded = Seeded(tenant=tenant, operator=operator, sender=sender)
    pigeon.db.write_sync(number_lists.add, tenant.account_id, number_lists.TEST, TEST_NUMBER,
                         pigeon.now())
    seeded.qualification_id = _pictures(pigeon, tenant.account_id)
    # What `pigeon account create` switches on, and someone to tell.
    now = pigeon.now()
    pigeon.db.write_sync(alert_config.add_recommended, tenant.account_id,
                         pigeon.settings.alert_quiet_period, now)
    pigeon.db.write_sync(alert_config.add_contact, tenant.account_id, "李雷", "13900139000",
                         "lilei@lark.example", now)

    for phone, template, params in MESSAGES:
        answer = core.common("SendSms", {
            "PhoneNumbers": phone, "SignName": sender.sign,
            "TemplateCode": getattr(sender, template),
            "TemplateParam": json.dumps(params, ensure_ascii=False)})
        if answer.get("Code") != "OK":
            seeded.warnings.append(f"SendSms to {phone}: {answer.get('Message')}")
    seeded.batch_id = _batch(pigeon, sender)
    _under_review(pigeon, core, tenant.account_id, seeded.warnings)
    _wait_for_receipts(pigeon, core, wait_seconds, seeded.warnings)
    return seeded


def _pictures(pigeon: Pigeon, account_id: int) -> int:
    """The ID card pictures the seeded qualification names, uploaded (grey and blue cards):
    its page shows pictures, not object keys.  Returns the qualification's id."""
    colours = {"AdminIDCardFrontFace": b"\xd0\xd6\xde\xff",
               "AdminIDCardPic": b"\xb8\xcc\xe8\xff"}
    _total, rows = pigeon.db.read_sync(qualifications.query_records, account_id, state="PASS")
    for field_name, colour in colours.items():
        pigeon.db.write_sync(uploads.store, account_id, workflow.QUALIFICATION[field_name],
                             "png", png_bytes(171, 108, colour), pigeon.now())
    return rows[0]["id"]


def _batch(pigeon: Pigeon, sender: Sender) -> int:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["PhoneNumber", "order"])
    writer.writerows(BATCH_ROWS)
    batch_id = pigeon.db.write_sync(batches.upload, sender.account_id, sender.sign,
                                    sender.notice, "发货通知-6月.csv",
                                    text.getvalue().encode(), pigeon.now())
    pigeon.db.write_sync(batches.send, pigeon.send_policy, sender.account_id, batch_id,
                         None, pigeon.now())
    return batch_id


def _under_review(pigeon: Pigeon, core: CoreClient, account_id: int,
                  warnings: list[str]) -> None:
    """From now on reviews wait for an operator: a signature and a template are pending, and
    a promotional template was rejected with a reason."""
    pigeon.policy = replace(pigeon.policy, mode="manual")
    _total, rows = pigeon.db.read_sync(qualifications.query_records, account_id, state="PASS")
    qualification_id = str(rows[0]["id"])
    answers = [
        workflow.create_signature(core, qualification_id, "云雀商城", Remark="云雀商城App会员通知"),
        workflow.create_template(core, "云雀科技", TemplateName="到货提醒", TemplateType="1",
                                 TemplateContent="您好，您订购的${goods}已到达${station}，"
                                                 "请凭取件码${code}及时领取。",
                                 TemplateRule=json.dumps({"goods": "other_number2",
                                                          "station": "other_number2",
                                                          "code": "characterWithNumber"})),
    ]
    rejected = workflow.create_template(core, "云雀科技", TemplateName="618大促",
                                        TemplateType="2", TemplateRule="",
                                        TemplateContent="云雀618大促，全场五折起，快来抢购！")
    answers.append(rejected)
    for answer in answers:
        if answer.get("Code") != "OK":
            warnings.append(f"could not submit for review: {answer.get('Message')}")
    if rejected.get("Code") == "OK":
        pigeon.db.write_sync(lambda conn: review.decide_by_name(
            conn, pigeon.policy, "template", rejected["TemplateCode"], approved=False,
            reason="推广短信需在末尾注明退订方式，例如“拒收请回复R”",
            decided_by="operator:ops@pigeon.example", now=pigeon.now()))


def _wait_for_receipts(pigeon: Pigeon, core: CoreClient, seconds: float,
                       warnings: list[str]) -> None:
    """Until every seeded message has its receipt (or ``seconds`` have passed), so that the
    records and statistics pages show final states."""
    deadline = time.monotonic() + seconds
    phones = sorted({phone for phone, _t, _p in MESSAGES})
    day = pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d")
    while True:
        waiting = []
        for phone in phones:
            answer = core.common("QuerySendDetails", {
                "PhoneNumber": phone, "SendDate": day,
                "PageSize": "50", "CurrentPage": "1"})
            details = answer.get("SmsSendDetailDTOs", {}).get("SmsSendDetailDTO", [])
            if not details or any(d.get("SendStatus") == 1 for d in details):
                waiting.append(phone)
        if not waiting:
            return
        if time.monotonic() > deadline:
            warnings.append(f"no receipt yet for {', '.join(waiting)}")
            return
        time.sleep(0.3)
