"""Updating and deleting qualifications, signatures and templates in the console, over plain
HTTP on SQLite and PostgreSQL: the API's rules and messages, confirmation before deleting,
proof files on updates, and other tenants' ids."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import httpx
import pytest

from pigeon.services import handsets, qualifications, review, signatures, templates, uploads
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient

SECOND_PHONE = "13900139000"


@pytest.fixture
def settings(settings):
    """Reviews wait for a decision, so that tests choose what is rejected."""
    return replace(settings, review_mode="manual")


@pytest.fixture
def core(server, tenant):
    return CoreClient(server.endpoint, tenant)


@pytest.fixture
def client(server, pigeon, tenant):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        sign_in(c, "dev@lark.example")
        yield c


def qualification_of(pigeon, account_id: int, qualification_id) -> dict:
    return pigeon.db.read_sync(qualifications.get_single, account_id, int(qualification_id))


def submitted_qualification(core, pigeon) -> int:
    answer = workflow.submit_qualification(core, pigeon)
    assert answer["Code"] == "OK", answer
    return int(answer["Data"])


def approved_signature(core, pigeon, name: str = "云雀科技") -> int:
    qualification = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification, approved=True)
    created = workflow.create_signature(core, str(qualification), name)
    assert created["Code"] == "OK", created
    workflow.decide(pigeon, "signature", name, approved=True)
    return qualification


def error_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S)
    assert found, page.text
    return html.unescape(found.group(1))


def phone_code(client, pigeon, phone: str) -> str:
    """Ask for a code with the form's "Send code" button and read it off the handset."""
    answer = client.post("/console/qualifications/phone-code", json={"phone": phone},
                         headers={"X-CSRF-Token": csrf_of(client)})
    assert answer.status_code == 200 and answer.json()["ok"], answer.text
    return re.search(r"\d{6}", pigeon.db.read_sync(handsets.inbox, phone)[0]["text"]).group()


def edit_form_values(page: httpx.Response) -> dict:
    """The text fields, ticked boxes and selections of a form as the browser would post
    them (files aside)."""
    values = {}
    for tag in re.findall(r"<input [^>]*>", page.text):
        name = re.search(r' name="([^"]+)"', tag)
        kind = re.search(r' type="(\w+)"', tag)
        kind = kind.group(1) if kind else "text"
        if not name or kind == "file" or (kind == "checkbox" and " checked" not in tag):
            continue
        value = re.search(r' value="([^"]*)"', tag)
        values[name.group(1)] = value.group(1) if value else ""
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page.text,
                                    re.S):
        chosen = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)<', options)
        if chosen:
            values[name] = chosen.group(1) or chosen.group(2)
    return {k: html.unescape(v) for k, v in values.items()}


# -- qualifications ---------------------------------------------------------------------------

def test_a_rejected_qualification_is_updated_with_a_new_file_and_reviewed_again(
        pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification_id, approved=False,
           reason="身份证背面照片不清晰，请重新上传")
    before = qualification_of(pigeon, tenant.account_id, qualification_id)

    detail = client.get(f"/console/qualifications/{qualification_id}")
    assert "身份证背面照片不清晰，请重新上传" in detail.text
    assert f"/console/qualifications/{qualification_id}/edit" in detail.text
    form = client.get(f"/console/qualifications/{qualification_id}/edit")
    assert form.status_code == 200
    values = edit_form_values(form)
    assert values["CompanyName"] == workflow.COMPANY
    assert values["OrderId"] == str(before["order_id"])
    assert "QualificationName" not in values  # shown, not sent: it cannot change

    # No verification code: refused, with the form's label rather than the API's field name;
    # nothing changes.
    values["AdminPhoneNo"] = SECOND_PHONE
    new_back = {"AdminIDCardPic": ("back.png", png_bytes(), "image/png")}
    refused = client.post(f"/console/qualifications/{qualification_id}/edit",
                          data={**values, "csrf": csrf_of(client), "CertifyCode": ""},
                          files=new_back)
    assert refused.status_code == 400
    assert error_of(refused) == "Verification code is required."
    assert qualification_of(pigeon, tenant.account_id, qualification_id)["state"] == "NOT_PASS"

    values["CertifyCode"] = phone_code(client, pigeon, SECOND_PHONE)
    values["LegalPersonName"] = "张三丰"
    updated = client.post(f"/console/qualifications/{qualification_id}/edit",
                          data={**values, "csrf": csrf_of(client)}, files=new_back)
    assert updated.status_code == 303, updated.text
    assert updated.headers["location"] == \
        f"/console/qualifications/{qualification_id}?notice=qualification-updated"
    after = qualification_of(pigeon, tenant.account_id, qualification_id)
    assert after["state"] == "INIT" and after["order_id"] != before["order_id"]
    assert after["legal_person_name"] == "张三丰"
    assert after["details"]["AdminPhoneNo"] == SECOND_PHONE
    # The new back of the ID card replaced the old one; the front is kept as it was.
    new_key = after["details"]["AdminIDCardPic"]
    assert new_key != before["details"]["AdminIDCardPic"]
    assert new_key.startswith(f"{tenant.account_id}/qualification/")
    assert after["details"]["AdminIDCardFrontFace"] == before["details"]["AdminIDCardFrontFace"]
    found, missing = pigeon.db.read_sync(uploads.proof_files, tenant.account_id,
                                         [("AdminIDCardPic", new_key)])
    assert [f["size"] for f in found] == [len(png_bytes())] and not missing
    page = client.get(updated.headers["location"])
    assert "Qualification updated and submitted for review again." in page.text
    assert "Under review" in page.text

    # Under review now: the console refuses an update as the API does, word for word.
    # (The state is checked before the code, so any code shows the rule.)
    values.update(OrderId=str(after["order_id"]), CertifyCode="000000")
    again = client.post(f"/console/qualifications/{qualification_id}/edit",
                        data={**values, "csrf": csrf_of(client)})
    assert again.status_code == 400
    api = core.common("UpdateSmsQualification", {
        "QualificationGroupId": str(qualification_id), "OrderId": str(after["order_id"]),
        "AdminPhoneNo": SECOND_PHONE, "CertifyCode": "000000"})
    assert error_of(again) == ("Only a rejected qualification, or one asked for more "
                               "materials, can be updated.")
    assert "under review" in api["Message"]
    assert "Update and resubmit" not in client.get(f"/console/qualifications/{qualification_id}").text


def test_an_emptied_field_is_named_instead_of_kept(pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification_id, approved=False, reason="材料不全")
    values = edit_form_values(client.get(f"/console/qualifications/{qualification_id}/edit"))
    values.update(AdminPhoneNo=SECOND_PHONE, CertifyCode=phone_code(client, pigeon, SECOND_PHONE),
                  CompanyName="")
    refused = client.post(f"/console/qualifications/{qualification_id}/edit",
                          data={**values, "csrf": csrf_of(client)})
    assert refused.status_code == 400
    assert error_of(refused) == "Company name must not be empty."
    row = qualification_of(pigeon, tenant.account_id, qualification_id)
    assert row["state"] == "NOT_PASS" and row["company_name"] == workflow.COMPANY


def test_deleting_a_qualification_asks_for_confirmation_and_follows_the_api_rules(
        pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    order_id = qualification_of(pigeon, tenant.account_id, qualification_id)["order_id"]
    path = f"/console/qualifications/{qualification_id}/delete"

    # Under review: refused as the API refuses it, in people's words.
    under_review = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes",
                                           "OrderId": str(order_id)})
    api = core.common("DeleteSmsQualification", {"QualificationGroupId": str(qualification_id),
                                                 "OrderId": str(order_id)})
    assert under_review.status_code == 400 and error_of(under_review) == (
        f"Qualification {qualification_id} is under review: it can be deleted once the review "
        "is decided.")
    assert "under review" in api["Message"]

    # Approved and used by a signature: the page names the signature; deleting is refused.
    workflow.decide(pigeon, "qualification", qualification_id, approved=True)
    order_id = qualification_of(pigeon, tenant.account_id, qualification_id)["order_id"]
    assert workflow.create_signature(core, str(qualification_id), "云雀科技")["Code"] == "OK"
    page = client.get(path)
    assert page.status_code == 200 and "【云雀科技】" in page.text
    assert 'name="confirm" value="yes" required' in page.text
    in_use = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes",
                                     "OrderId": str(order_id)})
    api = core.common("DeleteSmsQualification", {"QualificationGroupId": str(qualification_id),
                                                 "OrderId": str(order_id)})
    assert in_use.status_code == 400 and error_of(in_use) == (
        f"Qualification {qualification_id} is used by the signatures 云雀科技: change their "
        "qualification or delete them first.")
    assert "is used by 1 signature(s) (云雀科技)" in api["Message"]

    # Once the signature is gone, the box must still be ticked.
    workflow.decide(pigeon, "signature", "云雀科技", approved=False, reason="不通过")
    pigeon.db.write_sync(signatures.remove, tenant.account_id, "云雀科技", pigeon.now())
    unconfirmed = client.post(path, data={"csrf": csrf_of(client), "OrderId": str(order_id)})
    assert unconfirmed.status_code == 400 and "Tick the box" in error_of(unconfirmed)
    assert qualification_of(pigeon, tenant.account_id, qualification_id)
    deleted = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes",
                                      "OrderId": str(order_id)})
    assert deleted.status_code == 303
    assert "Qualification deleted." in client.get(deleted.headers["location"]).text
    assert client.get(f"/console/qualifications/{qualification_id}").status_code == 404


# -- signatures --------------------------------------------------------------------------------

def test_a_rejected_signature_is_edited_and_resubmitted_with_a_new_proof_file(
        pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification_id, approved=True)
    assert workflow.create_signature(core, str(qualification_id), "云雀科技")["Code"] == "OK"
    workflow.decide(pigeon, "signature", "云雀科技", approved=False, reason="请补充营业执照")
    row = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    path = f"/console/signatures/{row['id']}/edit"

    assert "请补充营业执照" in client.get("/console/signatures").text
    form = client.get(path)
    assert form.status_code == 200 and "请补充营业执照" in form.text
    values = edit_form_values(form)
    assert values == {"csrf": values["csrf"], "qualification_id": str(qualification_id),
                      "source": "0", "sign_type": "1"}
    proof = {"proof": ("licence.png", png_bytes(), "image/png")}
    changed = client.post(path, data={**values, "remark": "用于会员登录验证码和发货通知"},
                          files=proof)
    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == \
        f"/console/signatures/{row['id']}?notice=signature-resubmitted"
    after = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    assert after["status"] == signatures.PENDING and after["reject_info"] is None
    assert after["remark"] == "用于会员登录验证码和发货通知"
    assert after["order_id"] != row["order_id"]
    [key] = after["more_data"]
    assert key.startswith(f"{tenant.account_id}/more-data/")
    api = core.common("GetSmsSign", {"SignName": "云雀科技"})
    assert api["SignStatus"] == 0 and api["Remark"] == "用于会员登录验证码和发货通知"
    assert "Under review" in client.get(changed.headers["location"]).text
    # The reviewer sees the new file.
    described = pigeon.db.read_sync(review.describe, "signature", "云雀科技", tenant.account_id)
    assert [f["key"] for f in described["files"]] == [key]

    # Under review: refused as the API refuses it.
    refused = client.post(path, data={**values, "remark": "再改一次"})
    api = core.common("UpdateSmsSign", {"SignName": "云雀科技", "SignSource": "0",
                                        "QualificationId": str(qualification_id)})
    assert refused.status_code == 400
    assert error_of(refused) == "Only a rejected signature can be changed."
    assert api["Code"] == "isv.ERROR_SIGN_NOT_MODIFY"

    # Rejected again and changed without a file: the file on record is kept.
    workflow.decide(pigeon, "signature", "云雀科技", approved=False, reason="场景描述不清")
    kept = client.post(path, data={**values, "remark": "会员登录验证码"})
    assert kept.status_code == 303
    again = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    assert again["more_data"] == [key] and again["remark"] == "会员登录验证码"

    # Approved: the page offers no form, and a post is refused as UpdateSmsSign refuses it.
    workflow.decide(pigeon, "signature", "云雀科技", approved=True)
    assert 'data-test="not-editable"' in client.get(path).text
    approved = client.post(path, data={**values, "remark": "x"})
    assert approved.status_code == 400 and "Only a rejected signature" in error_of(approved)


def test_a_bad_proof_file_is_refused_and_nothing_changes(pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification_id, approved=True)
    assert workflow.create_signature(core, str(qualification_id), "云雀科技")["Code"] == "OK"
    workflow.decide(pigeon, "signature", "云雀科技", approved=False, reason="请补充材料")
    row = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    refused = client.post(f"/console/signatures/{row['id']}/edit",
                          data={"csrf": csrf_of(client), "qualification_id": str(qualification_id),
                                "source": "0", "sign_type": "1", "remark": "会员通知"},
                          files={"proof": ("x.png", b"MZ\x90\x00 not an image", "image/png")})
    assert refused.status_code == 400 and "is not a JPG, PNG" in error_of(refused)
    assert pigeon.db.read_sync(signatures.require, tenant.account_id,
                               "云雀科技")["status"] == signatures.REJECTED


def test_deleting_a_signature_asks_for_confirmation_and_names_its_templates(
        pigeon, tenant, core, client):
    approved_signature(core, pigeon)
    created = workflow.create_template(core, "云雀科技")
    assert created["Code"] == "OK", created
    row = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    path = f"/console/signatures/{row['id']}/delete"

    page = client.get(path)
    assert page.status_code == 200 and created["TemplateCode"] in page.text
    unconfirmed = client.post(path, data={"csrf": csrf_of(client)})
    assert unconfirmed.status_code == 400 and "Tick the box" in error_of(unconfirmed)
    assert core.common("GetSmsSign", {"SignName": "云雀科技"})["Code"] == "OK"
    deleted = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes"})
    assert deleted.status_code == 303
    assert "Signature deleted." in client.get(deleted.headers["location"]).text
    assert core.common("GetSmsSign", {"SignName": "云雀科技"})["Code"] == \
        "isv.SMS_SIGNATURE_ILLEGAL"
    assert client.get(f"/console/signatures/{row['id']}").status_code == 404


def test_a_signature_under_review_cannot_be_deleted(pigeon, tenant, core, client):
    qualification_id = submitted_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", qualification_id, approved=True)
    assert workflow.create_signature(core, str(qualification_id), "云雀科技")["Code"] == "OK"
    row = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    refused = client.post(f"/console/signatures/{row['id']}/delete",
                          data={"csrf": csrf_of(client), "confirm": "yes"})
    api = core.common("DeleteSmsSign", {"SignName": "云雀科技"})
    assert refused.status_code == 400 and error_of(refused) == \
        "【云雀科技】 is under review: it can be deleted once the review is decided."
    assert api["Code"] == "isv.ERROR_SIGN_NOT_DELETE"


# -- templates ---------------------------------------------------------------------------------

def test_a_rejected_template_is_edited_and_sent_to_review_again(pigeon, tenant, core, client):
    approved_signature(core, pigeon)
    code = workflow.create_template(core, "云雀科技")["TemplateCode"]
    workflow.decide(pigeon, "template", code, approved=False, reason="请说明验证码用途")
    path = f"/console/templates/{code}/edit"
    assert path in client.get(f"/console/templates/{code}").text

    form = client.get(path)
    assert form.status_code == 200 and "您的验证码为" in form.text
    values = edit_form_values(form)
    # One field per variable, its attribute chosen from a list.
    assert values == {"csrf": values["csrf"], "name": "登录验证码", "type": "0",
                      "related_sign_name": "云雀科技", "attr.code": "numberCaptcha"}
    content = "您正在注册云雀会员，验证码为${code}，10分钟内有效。"
    changed = client.post(path, data={**values, "name": "注册验证码", "content": content,
                                      "remark": "新用户注册"})

    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == f"/console/templates/{code}?notice=template"
    api = core.common("GetSmsTemplate", {"TemplateCode": code})
    assert (api["TemplateName"], api["TemplateContent"], api["Remark"]) == \
        ("注册验证码", content, "新用户注册")
    assert (api["TemplateStatus"], api["AuditInfo"]["RejectInfo"]) == ("0", "")
    history = pigeon.db.read_sync(review.describe, "template", code)["history"]
    assert [h["status"] for h in history] == ["rejected", "pending"]
    assert "Under review" in client.get(changed.headers["location"]).text
    # Under review: no more editing, refused as UpdateSmsTemplate refuses it.
    again = client.post(path, data={**values, "content": content, "remark": "再改一次"})
    assert again.status_code == 400 and "Only a rejected template" in error_of(again)


def test_a_template_is_deleted_after_confirmation_but_not_while_under_review(
        pigeon, tenant, core, client):
    approved_signature(core, pigeon)
    code = workflow.create_template(core, "云雀科技")["TemplateCode"]
    path = f"/console/templates/{code}/delete"

    refused = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes"})
    api = core.common("DeleteSmsTemplate", {"TemplateCode": code})
    assert refused.status_code == 400 and error_of(refused) == \
        f"Template {code} is under review: it can be deleted once the review is decided."
    assert api["Code"] == "isv.ERROR_TEMPLATE_NOT_DELETE"

    workflow.decide(pigeon, "template", code, approved=True)
    assert f"{path}" in client.get(f"/console/templates/{code}").text
    page = client.get(path)
    assert page.status_code == 200 and "您的验证码为" in page.text
    unconfirmed = client.post(path, data={"csrf": csrf_of(client)})
    assert unconfirmed.status_code == 400 and "Tick the box" in error_of(unconfirmed)
    deleted = client.post(path, data={"csrf": csrf_of(client), "confirm": "yes"})
    assert deleted.status_code == 303
    assert "Template deleted." in client.get(deleted.headers["location"]).text
    assert core.common("GetSmsTemplate", {"TemplateCode": code})["Code"] == \
        "isv.SMS_TEMPLATE_ILLEGAL"


# -- isolation and forgery ---------------------------------------------------------------------

def test_another_tenants_ids_answer_404_and_change_nothing(pigeon, tenant, other_tenant, core,
                                                           server):
    qualification_id = approved_signature(core, pigeon)
    code = workflow.create_template(core, "云雀科技")["TemplateCode"]
    workflow.decide(pigeon, "template", code, approved=False, reason="x")
    sign_id = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")["id"]

    add_user(pigeon, other_tenant.account_id, "dev@other.example")
    with httpx.Client(base_url=server.url, timeout=10) as other:
        sign_in(other, "dev@other.example")
        token = csrf_of(other)
        for path in (f"/console/qualifications/{qualification_id}/edit",
                     f"/console/qualifications/{qualification_id}/delete",
                     f"/console/signatures/{sign_id}/edit",
                     f"/console/signatures/{sign_id}/delete",
                     f"/console/templates/{code}/delete",
                     "/console/signatures/nonsense/edit"):
            assert other.get(path).status_code == 404, path
            answer = other.post(path, data={"csrf": token, "confirm": "yes", "OrderId": "1"})
            assert answer.status_code == 404, path
            assert "云雀科技" not in answer.text
    assert pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    assert pigeon.db.read_sync(templates.require, tenant.account_id, code)
    assert qualification_of(pigeon, tenant.account_id, qualification_id)


def test_deleting_needs_the_session_token(pigeon, tenant, core, client):
    approved_signature(core, pigeon)
    row = pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
    forged = client.post(f"/console/signatures/{row['id']}/delete",
                         data={"csrf": "forged", "confirm": "yes"})
    assert forged.status_code == 403
    assert pigeon.db.read_sync(signatures.require, tenant.account_id, "云雀科技")
