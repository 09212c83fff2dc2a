"""The Dysmsapi 2017-05-25 actions Pigeon does not offer, and how it refuses them.

The official SDKs (4.6.0) define 80 actions (spec/dysmsapi.md §1.2); the others are
implemented (``api/rpc/actions/``).  These are products of their own on Alibaba Cloud, offered
by invitation and not part of an SMS platform: card SMS (智能短信), digital SMS (数字短信), RCS /
5G messaging, logistics SMS addressed by waybill, international conversion-rate reporting and
OCR of ICP filings.  A signed call to one of them is answered — after authentication, like any
action — with HTTP 200 and ``isv.PRODUCT_UNSUBSCRIBE``, Alibaba's code for "the product is not
activated for this API", with a message naming the product; an action name that Dysmsapi does
not have at all stays ``InvalidAction.NotFound`` (HTTP 404).  docs/api.md lists them all.
"""

from __future__ import annotations

from pigeon.core.errors import PigeonError

CODE = "isv.PRODUCT_UNSUBSCRIBE"

_PRODUCTS = {
    "card SMS (卡片短信)": (
        "CheckMobilesCardSupport", "CreateCardSmsTemplate", "GetCardSmsDetails",
        "GetCardSmsLink", "GetMediaResourceId", "GetOSSInfoForCardTemplate",
        "QueryCardSmsTemplate", "QueryCardSmsTemplateReport", "QueryMobilesCardSupport",
        "SendBatchCardSms", "SendCardSms"),
    "digital SMS (数字短信)": (
        "CreateDigitalSignOrder", "CreateDigitalSmsTemplate", "QueryDigitalSignByName"),
    "RCS / 5G messaging": (
        "AddRcsSignMenu", "CreateRCSMobileCapableTask", "CreateRCSTemplate", "GetRCSSignature",
        "QueryRCSMobileCapable", "QueryRCSMobileCapableTaskResult", "QueryRCSTemplate",
        "QueryRcsSignMenuByVersion", "SendRCS", "SendRCSReply", "UpdateRCSSignature",
        "UpgradeToRCSSignature"),
    "logistics SMS (addressed by waybill number)": (
        "SendLogisticsSms", "VerifyLogisticsSmsMailNo"),
    "international conversion-rate reporting": ("ConversionDataIntl",),
    "OCR of ICP filings": ("GetSmsOcrOssInfo",),
}

REFUSED: dict[str, str] = {action: product for product, actions in _PRODUCTS.items()
                           for action in actions}
"""Action → the product it belongs to."""


def refusal(name: str):
    """A handler that refuses the action ``name``, or ``None`` if it is not one of
    :data:`REFUSED`."""
    product = REFUSED.get(name)
    if product is None:
        return None

    async def refuse(call) -> dict:
        raise PigeonError(CODE, f"{name} belongs to {product}, which Pigeon does not offer: "
                          "the product is not activated for this API. Pigeon serves SMS "
                          "(SendSms, SendBatchSms …); see docs/api.md.")

    return refuse
