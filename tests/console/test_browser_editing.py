"""Changing what a reviewer rejected, in a real browser: a signature edited and resubmitted
until an operator approves it, then deleted after confirmation; a qualification updated with
a new ID card picture and resubmitted."""

from __future__ import annotations

import re

import pytest

from pigeon.services import handsets, qualifications, review, signatures, uploads
from tests.console.conftest import sign_in
from tests.console.test_browser import PNG, expect_text
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient

pytestmark = pytest.mark.slow

REASON = "名称与企业名称不符，请提供授权委托书"


def decide(site, kind: str, name, *, approved: bool, reason: str = "") -> None:
    """The operator's decision, through the review service the operator pages call."""
    pigeon = site.pigeon
    pigeon.db.write_sync(lambda conn: review.decide_by_name(
        conn, pigeon.policy, kind, str(name), approved=approved, reason=reason,
        decided_by="operator:ops@pigeon.example", now=pigeon.now()))


def test_a_rejected_signature_is_edited_resubmitted_approved_and_deleted(site_factory,
                                                                        new_page):
    site = site_factory(review_mode="manual")
    user = site.tenant_user()
    core = CoreClient(site.live.endpoint, user.tenant)
    answer = workflow.submit_qualification(core, site.pigeon)
    assert answer["Code"] == "OK", answer
    decide(site, "qualification", answer["Data"], approved=True)

    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/signatures")
    page.fill("[name=name]", "云雀科技")
    page.fill("[name=remark]", "用于会员通知")
    page.click("text=Submit for review")
    expect_text(page, "tr[data-sign=云雀科技] [data-test=sign-status]", "Under review")

    decide(site, "signature", "云雀科技", approved=False, reason=REASON)
    page.reload()
    row = page.locator("tr[data-sign=云雀科技]")
    expect_text(page, "tr[data-sign=云雀科技] [data-test=sign-status]", "^Rejected$")
    assert row.locator("[data-test=sign-reason]").inner_text() == REASON

    row.get_by_role("link", name="Edit and resubmit").click()
    page.wait_for_url(re.compile(r".*/console/signatures/\d+/edit$"))
    expect_text(page, "[data-test=sign-reason]", REASON)
    assert page.input_value("[name=remark]") == "用于会员通知"
    page.fill("[name=remark]", "用于会员通知；授权委托书见附件")
    page.set_input_files("[name=proof]", PNG)
    page.click("text=Resubmit for review")
    page.wait_for_url(re.compile(r".*/console/signatures/\d+\?notice=signature-resubmitted$"))
    expect_text(page, "p.notice", "submitted for review again")
    expect_text(page, "[data-test=sign-status]", "^Under review$")
    assert page.locator("[data-test=sign-reason]").count() == 0

    stored = site.pigeon.db.read_sync(signatures.require, user.account_id, "云雀科技")
    [key] = stored["more_data"]
    found, _missing = site.pigeon.db.read_sync(uploads.proof_files, user.account_id,
                                               [("MoreData[1]", key)])
    assert found and found[0]["size"] == len(png_bytes())

    decide(site, "signature", "云雀科技", approved=True)
    page.reload()
    expect_text(page, "[data-test=sign-status]", "^Approved$")
    assert page.locator("table").first.inner_text().count("Registered") == 3
    assert page.get_by_role("link", name="Edit and resubmit").count() == 0

    # Deleting asks first: the box must be ticked (the browser will not submit without it).
    page.get_by_role("link", name="Delete…").click()
    page.wait_for_url(re.compile(r".*/console/signatures/\d+/delete$"))
    page.get_by_role("button", name="Delete signature").click()
    assert page.url.endswith("/delete")
    assert site.pigeon.db.read_sync(signatures.require, user.account_id, "云雀科技")
    page.check("[name=confirm]")
    page.get_by_role("button", name="Delete signature").click()
    page.wait_for_url(re.compile(r".*/console/signatures\?notice=signature-deleted$"))
    expect_text(page, "p.notice", "Signature deleted")
    assert page.locator("tr[data-sign=云雀科技]").count() == 0


def test_a_rejected_qualification_is_updated_with_a_new_file_and_resubmitted(site_factory,
                                                                             new_page):
    site = site_factory(review_mode="manual")
    user = site.tenant_user()
    core = CoreClient(site.live.endpoint, user.tenant)
    answer = workflow.submit_qualification(core, site.pigeon)
    assert answer["Code"] == "OK", answer
    qualification_id = int(answer["Data"])
    decide(site, "qualification", qualification_id, approved=False,
           reason="管理员身份证背面照片不清晰，请重新上传")
    before = site.pigeon.db.read_sync(qualifications.get_single, user.account_id,
                                      qualification_id)

    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/qualifications")
    expect_text(page, "[data-test=qualification-state]", "^Rejected$")
    page.get_by_role("link", name="Update and resubmit").click()
    page.wait_for_url(re.compile(rf".*/console/qualifications/{qualification_id}/edit$"))
    expect_text(page, "[data-test=qualification-reason]", "背面照片不清晰")
    assert page.input_value("[name=CompanyName]") == workflow.COMPANY
    assert page.locator("[name=QualificationName]").count() == 0  # cannot be updated

    # A new administrator phone, with its own code, and a new picture of the ID card's back.
    page.fill("[name=AdminPhoneNo]", "13900139000")
    page.set_input_files("[name=AdminIDCardPic]", PNG)
    page.click("text=Send code")
    expect_text(page, "[data-phone-code-result]", "code was sent")
    text = site.pigeon.db.read_sync(handsets.inbox, "13900139000")[0]["text"]
    page.fill("[name=CertifyCode]", re.search(r"\d{6}", text).group())
    page.click("text=Resubmit for review")
    page.wait_for_url(re.compile(
        rf".*/console/qualifications/{qualification_id}\?notice=qualification-updated$"))
    expect_text(page, "[data-test=qualification-state]", "^Under review$")

    after = site.pigeon.db.read_sync(qualifications.get_single, user.account_id,
                                     qualification_id)
    assert after["details"]["AdminPhoneNo"] == "13900139000"
    assert after["details"]["AdminIDCardPic"] != before["details"]["AdminIDCardPic"]
    assert after["details"]["AdminIDCardFrontFace"] == before["details"]["AdminIDCardFrontFace"]

    decide(site, "qualification", qualification_id, approved=True)
    page.reload()
    expect_text(page, "[data-test=qualification-state]", "^Approved$")
