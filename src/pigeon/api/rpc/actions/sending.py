"""SendSms and SendBatchSms (spec/dysmsapi.md §2.1–2.2).

Both answer once every recipient's message is committed, with one ``BizId`` for the call;
delivery happens afterwards (the SDKs give up after 3 seconds, so nothing here waits for a
carrier).
"""

from __future__ import annotations

import logging

from pigeon.api.rpc.actions import Call, action
from pigeon.core import json_input
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import split_numbers
from pigeon.core.templates import MAX_TEMPLATE_PARAM
from pigeon.services import sending
from pigeon.services.sending import Recipient, SendRequest

log = logging.getLogger(__name__)

MAX_OUT_ID = 255


def _out_id(call: Call) -> str | None:
    out_id = call.params.str("OutId")
    if out_id is not None and len(out_id) > MAX_OUT_ID:
        raise PigeonError("isv.INVALID_PARAMETERS", "OutId must be shorter than 256 characters.")
    return out_id


def _template_param(text: str | None, where: str) -> dict | None:
    if text is None:
        return None
    try:  # its length is bounded already (params.MAX_LENGTHS)
        value = json_input.loads(text, max_length=MAX_TEMPLATE_PARAM)
    except json_input.JsonLimitError as limit:
        raise PigeonError("isv.INVALID_JSON_PARAM", f"{where} is refused: {limit}.") from None
    except ValueError:
        raise PigeonError("isv.INVALID_JSON_PARAM", f"{where} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise PigeonError("isv.INVALID_JSON_PARAM", f"{where} must be a JSON object.")
    return value


async def _accept(call: Call, request: SendRequest) -> dict:
    pigeon = call.pigeon
    # The checks and rendering that need no lock run before the write — from the caches, on
    # the event loop, as a rule — so that the write holds its lock (SQLite's one write lock
    # for every process of the machine; on PostgreSQL the account's, which the writer's whole
    # group then keeps until its commit) for the counts, the money and the rows only
    # (bench/README.md, "scaling").  A refusal here still uses the nonce (endpoint.py).
    ready = await pigeon.db.read(sending.prepare, pigeon.send_policy, call.account_id,
                                 request, call.now, cached=True)
    answer = await call.write(sending.record, ready)
    pigeon.wake_dispatcher()
    # The line that ties this request's RequestId (in its context) to the messages' BizId,
    # which the dispatcher's and the report pusher's lines name.
    log.debug("accepted BizId %s: %d message(s)", answer["BizId"], len(request.recipients))
    return answer


@action("SendSms", records_nonce=True)
async def send_sms(call: Call) -> dict:
    p = call.params
    numbers = split_numbers(p.str("PhoneNumbers", required=True),
                            sending.MAX_SEND_SMS_NUMBERS)
    sign_name = p.str("SignName", required=True)
    template_code = p.str("TemplateCode", required=True)
    params = _template_param(p.str("TemplateParam"), "TemplateParam")
    extend_code = p.str("SmsUpExtendCode")
    request = SendRequest(template_code=template_code, out_id=_out_id(call), recipients=[
        Recipient(phone=n, sign_name=sign_name, params=params, extend_code=extend_code)
        for n in numbers], source_ip=call.client_ip)
    return await _accept(call, request)


def _json_list(call: Call, name: str, *, required: bool,
               max_length: int = json_input.MAX_LENGTH) -> list | None:
    return call.params.json(name, list, required=required, code="isv.INVALID_JSON_PARAM",
                            max_length=max_length)


@action("SendBatchSms", records_nonce=True)
async def send_batch_sms(call: Call) -> dict:
    numbers = _json_list(call, "PhoneNumberJson", required=True)
    sign_names = _json_list(call, "SignNameJson", required=True)
    template_code = call.params.str("TemplateCode", required=True)
    params = _json_list(call, "TemplateParamJson", required=False,
                        max_length=sending.MAX_BATCH_NUMBERS * MAX_TEMPLATE_PARAM)
    extend_codes = _json_list(call, "SmsUpExtendCodeJson", required=False)
    if not numbers:
        raise PigeonError("isv.MOBILE_NUMBER_ILLEGAL", "PhoneNumberJson holds no number.")
    if len(numbers) > sending.MAX_BATCH_NUMBERS:
        raise PigeonError("isv.MOBILE_COUNT_OVER_LIMIT",
                          f"SendBatchSms takes at most {sending.MAX_BATCH_NUMBERS} numbers; "
                          f"PhoneNumberJson holds {len(numbers)}.")
    for name, values in (("SignNameJson", sign_names), ("TemplateParamJson", params),
                         ("SmsUpExtendCodeJson", extend_codes)):
        if values is not None and len(values) != len(numbers):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} has {len(values)} items; PhoneNumberJson has "
                              f"{len(numbers)}. They must match one to one.")
    recipients = []
    for index, number in enumerate(numbers):
        item_params = params[index] if params is not None else None
        if item_params is not None and not isinstance(item_params, dict):
            raise PigeonError("isv.INVALID_JSON_PARAM",
                              f"TemplateParamJson[{index}] must be a JSON object.")
        extend = extend_codes[index] if extend_codes is not None else None
        if not isinstance(number, str) or not isinstance(sign_names[index], str) or (
                extend is not None and not isinstance(extend, str | int)):
            raise PigeonError("isv.INVALID_JSON_PARAM",
                              f"Item {index} of the JSON arrays must hold strings.")
        recipients.append(Recipient(phone=number, sign_name=sign_names[index],
                                    params=item_params,
                                    extend_code=None if extend in (None, "") else str(extend)))
    request = SendRequest(template_code=template_code, out_id=_out_id(call),
                          recipients=recipients, source_ip=call.client_ip)
    return await _accept(call, request)
