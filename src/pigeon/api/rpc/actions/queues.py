"""Dybaseapi ``QueryTokenForMnsQueue``: temporary credentials for a receipt queue
(spec/dysmsapi.md §6.3).  Dybaseapi shares Dysmsapi's version (2017-05-25) and signatures, so
its one action is served on the same endpoint; the official ``alibabacloud-dybaseapi20170525``
SDK pointed at Pigeon calls it unchanged.  The credentials open only the caller's own queue of
the asked type, on the MNS-compatible endpoint (api/mns.py)."""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.core.errors import PigeonError
from pigeon.services import queues


@action("QueryTokenForMnsQueue")
async def query_token_for_mns_queue(call: Call) -> dict:
    message_type = call.params.str("MessageType", required=True)
    if message_type not in queues.MESSAGE_TYPES:
        raise PigeonError.invalid("MessageType",
                                  f"It must be one of {', '.join(queues.MESSAGE_TYPES)}.")
    own_queue = queues.queue_name(call.account_id, message_type)
    queue_name = call.params.str("QueueName")
    # Any other name is refused alike, whether or not it is another tenant's queue.
    if queue_name is not None and queue_name != own_queue:
        raise PigeonError.invalid("QueueName", f"Your {message_type} queue is {own_queue}.")
    token = await call.pigeon.db.write(queues.issue_token, call.pigeon.box, call.account_id,
                                       message_type, call.now)
    calendar = call.pigeon.calendar
    return {"MessageTokenDTO": {
        "AccessKeyId": token["access_key_id"],
        "AccessKeySecret": token["secret"],
        "SecurityToken": token["security_token"],
        # Platform time, as the official consumer demos parse it (yyyy-MM-dd HH:mm:ss).
        "CreateTime": calendar.local_datetime_text(token["created_at"]),
        "ExpireTime": calendar.local_datetime_text(token["expires_at"]),
    }}
