"""SmsConversionIntl (spec/dysmsapi.md §M): a tenant reports whether the user of a message
completed its verification — the "conversion" of an OTP.

``MessageId`` (required) is the BizId SendSms answered (every message of that call is marked)
or one message's id (``message_id`` of its SmsReport); ``Delivered`` (required, Boolean) is
whether the user converted (typed the code in); ``ConversionTime`` (Long, Unix milliseconds)
when.  The answer is ``Code``, ``Message`` and ``RequestId`` only.  Another account's message
answers ``isv.INVALID_PARAMETERS`` exactly as a message that does not exist.

Pigeon keeps conversions for the ``otp_pumping`` alert rule: for an account that reports
them, "numbers that never complete verification" are counted from them (docs/alerts.md).
"""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.services import alert_conversions


@action("SmsConversionIntl")
async def sms_conversion_intl(call: Call) -> dict:
    p = call.params
    message_id = p.str("MessageId", required=True)
    delivered = p.bool("Delivered", required=True)
    converted_at = alert_conversions.conversion_time(p.int("ConversionTime", low=1))
    await call.pigeon.db.write(alert_conversions.record, call.account_id, message_id,
                               delivered, converted_at, call.now)
    return {}
