"""Upload credentials: GetQualificationOssInfo and GetOSSInfoForUploadFile (spec/dysmsapi.md
§1.2.F).

Both answer OSS PostObject credentials for Pigeon's own upload endpoint (``Host``, built from
the address the tenant reached): a policy valid 30 minutes that admits keys under the
account's ``StartPath`` (``<AccountId>/qualification/`` or ``<AccountId>/more-data/``) and
files of 1 byte to 5 MB.  JSON types as the SDK's models declare them: ``Expire`` a number
(Unix seconds), ``ExpireTime`` a string (Unix seconds, as Alibaba's example shows).
"""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.api.uploads import upload_url
from pigeon.services import uploads


def _credentials(call: Call, purpose: str) -> tuple[dict, int]:
    """The fields both answers share, and the Unix second the credentials expire."""
    grant = uploads.grant(uploads.platform_key(call.pigeon.settings), call.account_id, purpose,
                          call.now)
    fields = {"AccessKeyId": grant.access_key_id, "Policy": grant.policy,
              "Signature": grant.signature,
              "Host": upload_url(call.request.headers, call.pigeon.settings),
              "StartPath": grant.start_path}
    return fields, int(grant.expires_at.timestamp())


@action("GetQualificationOssInfo")
async def get_qualification_oss_info(call: Call) -> dict:
    call.params.str("BizType", required=True)  # "dysms"; every value gets the same credentials
    fields, expires = _credentials(call, "qualification")
    return {"Data": {**fields, "Expire": expires}, "Success": True}


@action("GetOSSInfoForUploadFile")
async def get_oss_info_for_upload_file(call: Call) -> dict:
    call.params.str("BizType", default="fcMediaSms")
    fields, expires = _credentials(call, "more-data")
    return {"Model": {**fields, "ExpireTime": str(expires)}, "Success": True}
