"""Proof-file uploads end to end: the official SDK asks for OSS credentials
(GetQualificationOssInfo, GetOSSInfoForUploadFile), the file is posted to ``Host`` as a browser
posts an OSS PostObject form, the object keys go into an application, and the reviewer sees the
files.  Then everything an upload can get wrong, answered as OSS answers it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import httpx
import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_tea_openapi.exceptions import ClientException

from pigeon.core import post_policy
from pigeon.services import accounts, review, uploads
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import tea_client

MAX = post_policy.MAX_UPLOAD_BYTES


# -- files and forms -----------------------------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def qualification_grant(client) -> dysms.GetQualificationOssInfoResponseBodyData:
    body = client.get_qualification_oss_info(
        dysms.GetQualificationOssInfoRequest(biz_type="dysms")).body
    assert body.code == "OK" and body.success is True, body.message
    return body.data


def more_data_grant(client) -> dysms.GetOSSInfoForUploadFileResponseBodyModel:
    body = client.get_ossinfo_for_upload_file(
        dysms.GetOSSInfoForUploadFileRequest(biz_type="fcMediaSms")).body
    assert body.code == "OK" and body.success is True, body.message
    return body.model


def post_object(grant, key: str, data: bytes, /, *, filename: str = "photo.png",
                content_type: str = "image/png", status: str | None = None,
                url: str | None = None, **changes) -> httpx.Response:
    """POST a form to ``grant.host`` in the order of OSS's browser sample: key, policy,
    OSSAccessKeyId, success_action_status, Signature, then the file last.  ``changes``
    replace field values (``None`` leaves a field out)."""
    fields = {"key": key, "policy": grant.policy, "OSSAccessKeyId": grant.access_key_id,
              "success_action_status": status, "Signature": grant.signature}
    fields.update(changes)
    parts = [(name, (None, value)) for name, value in fields.items() if value is not None]
    parts.append(("file", (filename, data, content_type)))
    return httpx.post(url or grant.host, files=parts, timeout=30)


def oss_error(response: httpx.Response) -> tuple[str, str]:
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Error" and root.findtext("RequestId")
    return root.findtext("Code"), root.findtext("Message")


def policy_document(grant) -> dict:
    return json.loads(base64.b64decode(grant.policy))


def encode_policy(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def submit_qualification(client, core, pigeon, **files) -> str:
    fields = workflow.QUALIFICATION
    request = dysms.SubmitSmsQualificationRequest(
        qualification_name=fields["QualificationName"], use_by_self=True, whether_share=False,
        company_name=fields["CompanyName"], company_type="COMPANY",
        organization_code=fields["OrganizationCode"],
        bussiness_license_exp_date=fields["BussinessLicenseExpDate"],
        legal_person_name=fields["LegalPersonName"], legal_person_idcard_type="identityCard",
        legal_person_idcard_no=fields["LegalPersonIDCardNo"],
        legal_person_id_card_eff_time=fields["LegalPersonIdCardEffTime"],
        admin_name=fields["AdminName"], admin_idcard_type="identityCard",
        admin_idcard_no=fields["AdminIDCardNo"], admin_idcard_exp_date=fields["AdminIDCardExpDate"],
        admin_phone_no=workflow.ADMIN_PHONE, certify_code=workflow.certify_code(core, pigeon),
        **files)
    body = client.submit_sms_qualification(request).body
    assert body.code == "OK", body.message
    return body.data


# -- the credentials -----------------------------------------------------------------------------

def test_the_sdk_gets_qualification_upload_credentials_for_pigeons_own_upload_url(
        server, tenant, sdk):
    before = datetime.now(UTC)
    grant = qualification_grant(sdk)
    assert grant.host == f"{server.url}/oss"  # the address the SDK reached
    assert grant.start_path == f"{tenant.account_id}/qualification/"
    assert grant.access_key_id == f"PIGEON.UPLOAD.{tenant.account_id}"
    assert tenant.secret not in (grant.policy, grant.signature)
    assert isinstance(grant.expire, int)
    assert before + timedelta(minutes=29) < datetime.fromtimestamp(grant.expire, UTC) \
        <= before + timedelta(minutes=31)
    document = policy_document(grant)
    assert datetime.fromisoformat(document["expiration"].replace("Z", "+00:00")) \
        == datetime.fromtimestamp(grant.expire, UTC)
    assert ["starts-with", "$key", grant.start_path] in document["conditions"]
    assert ["content-length-range", 1, MAX] in document["conditions"]


def test_get_oss_info_for_upload_file_answers_a_model_with_its_expire_time_as_text(
        server, tenant, sdk):
    raw = sdk.get_ossinfo_for_upload_file(dysms.GetOSSInfoForUploadFileRequest()).body
    assert raw.code == "OK" and raw.success is True
    model = raw.model
    assert model.host == f"{server.url}/oss"
    assert model.start_path == f"{tenant.account_id}/more-data/"
    assert isinstance(model.expire_time, str) and model.expire_time.isdigit()


def test_qualification_credentials_need_a_biz_type(sdk):
    with pytest.raises(ClientException) as raised:
        sdk.get_qualification_oss_info(dysms.GetQualificationOssInfoRequest())
    assert (raised.value.code, raised.value.status_code) == ("MissingBizType", 400)


# -- uploads that work ---------------------------------------------------------------------------

def test_a_png_posted_like_a_browser_form_reaches_the_qualification_reviewer(
        pigeon, server, tenant, sdk, core_sdk):
    grant = qualification_grant(sdk)
    front, back, licence = png_bytes(), JPEG, png_bytes() + b"licence"
    keys = {name: f"{grant.start_path}{name}" for name in
            ("admin-front.png", "admin-back.jpg", "licence.png")}
    for (name, key), data in zip(keys.items(), (front, back, licence), strict=True):
        answer = post_object(grant, key, data, filename=name)
        assert answer.status_code == 204, answer.text  # OSS's default
        assert answer.content == b""
        assert answer.headers["etag"] == f'"{hashlib.md5(data).hexdigest().upper()}"'

    never_uploaded = f"{grant.start_path}forgotten.pdf"
    qualification_id = submit_qualification(
        sdk, core_sdk, pigeon,
        admin_idcard_front_face=keys["admin-front.png"], admin_idcard_pic=keys["admin-back.jpg"],
        business_license_pics=[dysms.SubmitSmsQualificationRequestBusinessLicensePics(
            license_pic=keys["licence.png"], type="socialCreditLicense")],
        other_files=[dysms.SubmitSmsQualificationRequestOtherFiles(license_pic=never_uploaded)])

    details = pigeon.db.read_sync(review.describe, "qualification", qualification_id)
    shown = {f["field"]: f for f in details["files"]}
    assert set(shown) == {"AdminIDCardFrontFace", "AdminIDCardPic",
                          "BusinessLicensePics[1].LicensePic"}
    expected = {"AdminIDCardFrontFace": (front, "png"), "AdminIDCardPic": (back, "jpg"),
                "BusinessLicensePics[1].LicensePic": (licence, "png")}
    for field, (data, suffix) in expected.items():
        assert shown[field]["suffix"] == suffix and shown[field]["size"] == len(data)
        assert shown[field]["sha256"] == hashlib.sha256(data).hexdigest()
        assert pigeon.db.read_sync(review.file_data, shown[field]["id"]) == data
    assert details["missing_files"] == [{"field": "OtherFiles[1].LicensePic",
                                         "key": never_uploaded}]


def test_success_action_status_201_answers_osss_post_response(server, sdk):
    grant = qualification_grant(sdk)
    key = f"{grant.start_path}card.png"
    answer = post_object(grant, key, png_bytes(), status="201")
    assert answer.status_code == 201
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "PostResponse"
    assert root.findtext("Key") == key
    assert root.findtext("Location") == f"{grant.host}/{key}"
    assert root.findtext("Bucket")
    assert root.findtext("ETag") == answer.headers["etag"] \
        == f'"{hashlib.md5(png_bytes()).hexdigest().upper()}"'


@pytest.mark.parametrize("status, expected", [("200", 200), ("204", 204), ("302", 204)])
def test_success_action_status_200_and_204_answer_empty_and_others_mean_204(
        server, sdk, status, expected):
    grant = qualification_grant(sdk)
    answer = post_object(grant, f"{grant.start_path}card.png", png_bytes(), status=status)
    assert (answer.status_code, answer.content) == (expected, b"")


def test_uploading_a_key_again_replaces_the_file(pigeon, server, tenant, sdk):
    grant = qualification_grant(sdk)
    key = f"{grant.start_path}front.img"
    assert post_object(grant, key, png_bytes()).status_code == 204
    assert post_object(grant, key, GIF, filename="front.gif").status_code == 204
    found, missing = pigeon.db.read_sync(uploads.proof_files, tenant.account_id,
                                         [("AdminIDCardFrontFace", key)])
    assert (missing, [f["suffix"] for f in found]) == ([], ["gif"])
    assert pigeon.db.read_sync(review.file_data, found[0]["id"]) == GIF


def test_the_upload_url_takes_a_trailing_slash_and_filename_variables_and_any_field_case(
        pigeon, server, tenant, sdk):
    grant = qualification_grant(sdk)
    parts = [("KEY", (None, grant.start_path + "${filename}")), ("Policy", (None, grant.policy)),
             ("ossaccesskeyid", (None, grant.access_key_id)),
             ("signature", (None, grant.signature)), ("file", ("scan.png", png_bytes(), "image/png"))]
    answer = httpx.post(grant.host + "/", files=parts, timeout=30)
    assert answer.status_code == 204, answer.text
    found, _ = pigeon.db.read_sync(uploads.proof_files, tenant.account_id,
                                   [("AdminIDCardPic", grant.start_path + "scan.png")])
    assert len(found) == 1


def test_more_data_documents_reach_the_signature_reviewer_and_never_another_tenants_file(
        pigeon, server, tenant, other_tenant, sdk, core_sdk):
    mine, theirs = more_data_grant(sdk), more_data_grant(tea_client(server.endpoint, other_tenant))
    assert post_object(mine, f"{mine.start_path}contract.pdf", PDF, filename="contract.pdf",
                       content_type="application/pdf").status_code == 204
    assert post_object(mine, f"{mine.start_path}letter.docx", docx_bytes(),
                       filename="letter.docx").status_code == 204
    their_key = f"{theirs.start_path}screenshot.png"
    assert post_object(theirs, their_key, png_bytes()).status_code == 204

    qualification_id = workflow.approved_qualification(core_sdk, pigeon)
    more_data = [f"{mine.start_path}contract.pdf", f"{mine.start_path}letter.docx", their_key]
    body = sdk.create_sms_sign(dysms.CreateSmsSignRequest(
        sign_name="云雀科技", sign_source=0, qualification_id=int(qualification_id),
        remark="会员通知", more_data=more_data)).body
    assert body.code == "OK", body.message

    details = pigeon.db.read_sync(review.describe, "signature", "云雀科技", tenant.account_id)
    assert [(f["field"], f["suffix"]) for f in details["files"]] == \
        [("MoreData[1]", "pdf"), ("MoreData[2]", "docx")]
    assert details["missing_files"] == [{"field": "MoreData[3]", "key": their_key}]


# -- refusals, as OSS words them -----------------------------------------------------------------

def test_a_tampered_policy_is_refused(server, sdk):
    grant = qualification_grant(sdk)
    document = policy_document(grant)
    document["conditions"] = [c for c in document["conditions"] if c[0] != "starts-with"]
    answer = post_object(grant, "anything/else.png", png_bytes(), policy=encode_policy(document))
    assert answer.status_code == 403
    assert oss_error(answer)[0] == "SignatureDoesNotMatch"


def test_a_wrong_signature_is_refused(server, sdk):
    grant = qualification_grant(sdk)
    answer = post_object(grant, f"{grant.start_path}a.png", png_bytes(),
                         Signature=base64.b64encode(b"x" * 20).decode())
    assert answer.status_code == 403
    assert oss_error(answer)[0] == "SignatureDoesNotMatch"


def test_a_policy_past_its_expiration_is_refused(server, sdk):
    grant = qualification_grant(sdk)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31)):
        answer = post_object(grant, f"{grant.start_path}a.png", png_bytes())
    assert answer.status_code == 403
    assert oss_error(answer) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_a_policy_the_server_signed_with_a_past_expiration_is_refused(pigeon, server, tenant):
    key = uploads.platform_key(pigeon.settings)
    old = uploads.grant(key, tenant.account_id, "qualification",
                        datetime.now(UTC) - timedelta(hours=1))
    grant = dysms.GetQualificationOssInfoResponseBodyData(
        access_key_id=old.access_key_id, policy=old.policy, signature=old.signature,
        host=f"{server.url}/oss", start_path=old.start_path)
    answer = post_object(grant, f"{old.start_path}a.png", png_bytes())
    assert (answer.status_code, oss_error(answer)[0]) == (403, "AccessDenied")


@pytest.mark.parametrize("where", ["more-data/a.png", "../a.png", "a.png"])
def test_a_key_outside_the_start_path_is_refused(server, tenant, sdk, where):
    grant = qualification_grant(sdk)
    key = f"{tenant.account_id}/{where}" if where.startswith("more") else where
    answer = post_object(grant, key, png_bytes())
    assert answer.status_code == 403
    code, message = oss_error(answer)
    assert code == "AccessDenied" and "starts-with" in message


@pytest.mark.parametrize("size", [MAX + 1, MAX + 1024 * 1024])
def test_a_file_over_5_mb_is_refused(pigeon, server, tenant, sdk, size):
    grant = qualification_grant(sdk)
    data = png_bytes() + b"\x00" * (size - len(png_bytes()))
    answer = post_object(grant, f"{grant.start_path}big.png", data)
    assert answer.status_code == 400
    assert oss_error(answer)[0] == "EntityTooLarge"
    found, _ = pigeon.db.read_sync(uploads.proof_files, tenant.account_id,
                                   [("AdminIDCardPic", f"{grant.start_path}big.png")])
    assert found == []


def test_an_empty_file_is_refused(server, sdk):
    grant = qualification_grant(sdk)
    answer = post_object(grant, f"{grant.start_path}empty.png", b"")
    assert (answer.status_code, oss_error(answer)[0]) == (400, "EntityTooSmall")


@pytest.mark.parametrize("data", [b"just some text, not an image",
                                  b"PK\x03\x04 a zip that is not a docx"])
def test_a_file_that_is_no_image_nor_document_is_refused(server, sdk, data):
    grant = qualification_grant(sdk)
    answer = post_object(grant, f"{grant.start_path}fake.png", data)
    assert answer.status_code == 400
    code, message = oss_error(answer)
    assert code == "InvalidArgument" and "PNG" in message


def test_another_tenants_credentials_cannot_upload_into_this_tenants_path(
        pigeon, server, tenant, other_tenant, sdk):
    mine = qualification_grant(sdk)
    theirs = qualification_grant(tea_client(server.endpoint, other_tenant))
    target = f"{mine.start_path}admin-front.png"

    answer = post_object(theirs, target, png_bytes())  # their own policy: key outside it
    assert (answer.status_code, oss_error(answer)[0]) == (403, "AccessDenied")
    # Naming this tenant's upload key id with their signature does not pass either.
    answer = post_object(theirs, target, png_bytes(), OSSAccessKeyId=mine.access_key_id)
    assert (answer.status_code, oss_error(answer)[0]) == (403, "SignatureDoesNotMatch")
    found, _ = pigeon.db.read_sync(uploads.proof_files, tenant.account_id,
                                   [("AdminIDCardFrontFace", target)])
    assert found == []


def test_a_suspended_account_cannot_upload(pigeon, server, tenant, sdk):
    grant = qualification_grant(sdk)
    pigeon.db.write_sync(accounts.set_account_status, tenant.account_id, "suspended")
    answer = post_object(grant, f"{grant.start_path}a.png", png_bytes())
    assert (answer.status_code, oss_error(answer)[0]) == (403, "AccessDenied")


@pytest.mark.parametrize("changes, code", [
    ({"OSSAccessKeyId": "LTAI5tSomethingElse"}, "InvalidAccessKeyId"),
    ({"Signature": None}, "AccessDenied"),
    ({"policy": "not base64 json!"}, "InvalidPolicyDocument"),
    ({"key": None}, "InvalidArgument"),
])
def test_forms_missing_or_garbling_a_field_are_refused_with_osss_codes(server, sdk, changes,
                                                                       code):
    grant = qualification_grant(sdk)
    answer = post_object(grant, f"{grant.start_path}a.png", png_bytes(), **changes)
    assert answer.status_code in (400, 403)
    assert oss_error(answer)[0] == code


def test_a_form_whose_file_is_not_the_last_field_is_refused(server, sdk):
    grant = qualification_grant(sdk)
    parts = [("key", (None, f"{grant.start_path}a.png")),
             ("file", ("a.png", png_bytes(), "image/png")),
             ("policy", (None, grant.policy)), ("OSSAccessKeyId", (None, grant.access_key_id)),
             ("Signature", (None, grant.signature))]
    answer = httpx.post(grant.host, files=parts, timeout=30)
    assert (answer.status_code, oss_error(answer)[0]) == (400, "MalformedPOSTRequest")


@pytest.mark.parametrize("request_kwargs", [
    {"content": b"key=a&policy=b", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
    {"content": b"", "headers": {"content-type": "multipart/form-data"}},
])
def test_a_body_that_is_no_multipart_form_is_refused_without_a_server_error(server,
                                                                           request_kwargs):
    answer = httpx.post(f"{server.url}/oss", timeout=30, **request_kwargs)
    assert answer.status_code == 400
    assert oss_error(answer)[0] == "MalformedPOSTRequest"


def test_reading_the_upload_url_is_not_allowed(server):
    answer = httpx.get(f"{server.url}/oss", timeout=30)
    assert (answer.status_code, oss_error(answer)[0]) == (405, "MethodNotAllowed")
