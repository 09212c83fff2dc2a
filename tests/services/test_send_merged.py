"""SendSms calls queued in one writer group are decided as one (``sending._record_all``,
``nonces.first_use`` merged: store.database.mergeable) — each call exactly as it would be
decided after the earlier ones, one by one: its number's count holding their messages, the
money less their charges, its refusal its own.  What the merge does not decide that way it
declines, and the calls run one by one."""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta

import pytest

from pigeon import metrics
from pigeon.core import pricing
from pigeon.core.alert_rules import ProtectionPlan
from pigeon.core.errors import PigeonError
from pigeon.services import billing, nonces, otp_protection, sending
from tests.support.sending import money_of, ready_to_send, tomorrow_at
from tests.support.writer import one_group

PRICE = pricing.DEFAULT_PRICES[pricing.NOTIFICATION]  # one segment's
A, B, C = "13800138000", "13900139000", "13700137000"


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=0)


@pytest.fixture
def money(pigeon, sender):
    pigeon.db.write_sync(billing.topup, sender.account_id, 100_000, pigeon.now())


def merged_units() -> float:
    return metrics.REGISTRY.get_sample_value("pigeon_db_merged_units_total") or 0


def request(sender, phone: str, *, otp: bool = False) -> sending.SendRequest:
    template, params = (sender.otp, {"code": "1234"}) if otp else (sender.notice,
                                                                    {"order": "A1"})
    return sending.SendRequest(template_code=template, recipients=[
        sending.Recipient(phone=phone, sign_name=sender.sign, params=params)])


def nonce(text: str, pigeon) -> nonces.Nonce:
    return nonces.Nonce.of("key", text, pigeon.now() + timedelta(minutes=15))


def decided(pigeon, sender, calls: list[tuple[str, sending.SendRequest]], *,
                 nows: list[datetime] | None = None, together: bool = True) -> list[str]:
    """``calls`` (a nonce's text, a request) as the API makes them — prepared, then the nonce
    and the record in one write — queued while the writer is held, so that they run as one
    group (``together=False``: each in a write of its own, one after the other); each call's
    ``Code``.  ``nows``: each call's time (default: now, for all)."""
    nows = nows or [pigeon.now()] * len(calls)
    readies = [(nonces.Nonce.of("key", text, at + timedelta(minutes=15)), at,
                pigeon.db.read_sync(sending.prepare, pigeon.send_policy, sender.account_id,
                                    req, at))
               for (text, req), at in zip(calls, nows, strict=True)]
    futures = []
    with one_group(pigeon.db) if together else contextlib.nullcontext():
        for used, at, ready in readies:
            futures.append(pigeon.db.submit_write(nonces.first_use, used, at, sending.record,
                                                  ready))
            if not together:
                futures[-1].exception(30)  # decided before the next is queued
    codes = []
    for future in futures:
        try:
            done = future.result(30)
        except PigeonError as error:
            codes.append(error.code)
            continue
        codes.append(done.error.code if isinstance(done, nonces.Refused) else
                     "OK" if set(done) == {"BizId"} else repr(done))
    return codes


def test_each_call_counts_the_earlier_calls_messages_to_its_number(pigeon, sender, money):
    balance, _, _ = money_of(pigeon, sender.account_id)
    before = merged_units()
    codes = decided(pigeon, sender, [
        ("n1", request(sender, A, otp=True)), ("n2", request(sender, B, otp=True)),
        ("n3", request(sender, A, otp=True)), ("n4", request(sender, C, otp=True)),
        ("n5", request(sender, A, otp=True))])
    # A verification code a minute to a number: A's second and third are refused.
    assert codes == ["OK", "OK", "isv.BUSINESS_LIMIT_CONTROL", "OK",
                     "isv.BUSINESS_LIMIT_CONTROL"]
    assert merged_units() == before + 5
    assert money_of(pigeon, sender.account_id) == (balance - 3 * PRICE, -3 * PRICE, 3)
    # A refused call's nonce is used all the same: replayed, it is a replay.
    with pytest.raises(PigeonError) as replay:
        pigeon.db.write_sync(nonces.first_use, nonce("n3", pigeon), pigeon.now(),
                             sending.record, pigeon.db.read_sync(
                                 sending.prepare, pigeon.send_policy, sender.account_id,
                                 request(sender, B), pigeon.now()))
    assert replay.value.code == "SignatureNonceUsed"


def test_each_call_is_paid_from_what_the_earlier_calls_left(pigeon, sender):
    assert money_of(pigeon, sender.account_id)[0] == 0
    pigeon.db.write_sync(billing.topup, sender.account_id, 2 * PRICE, pigeon.now())
    before = merged_units()
    conflicts = metrics.REGISTRY.get_sample_value("pigeon_db_group_conflicts_total") or 0
    codes = decided(pigeon, sender, [(f"m{n}", request(sender, phone))
                                          for n, phone in enumerate((A, B, C, "13600136000"))])
    assert codes == ["OK", "OK", "isv.AMOUNT_NOT_ENOUGH", "isv.AMOUNT_NOT_ENOUGH"]
    assert merged_units() == before + 4
    # Decided right the first time: the group's end found every debit covered.
    assert (metrics.REGISTRY.get_sample_value("pigeon_db_group_conflicts_total") or 0) == conflicts
    assert money_of(pigeon, sender.account_id) == (0, -2 * PRICE, 2)


def test_a_nonce_twice_in_one_group_runs_the_calls_one_by_one(pigeon, sender, money):
    before = merged_units()
    codes = decided(pigeon, sender, [("same", request(sender, A)),
                                          ("same", request(sender, B)),
                                          ("other", request(sender, C))])
    assert codes == ["OK", "SignatureNonceUsed", "OK"]
    assert merged_units() == before  # declined: decided one by one
    assert money_of(pigeon, sender.account_id)[2] == 2


def test_a_used_nonce_among_them_runs_the_calls_one_by_one(pigeon, sender, money):
    assert decided(pigeon, sender, [("first", request(sender, A))]) == ["OK"]
    before = merged_units()
    codes = decided(pigeon, sender, [("second", request(sender, B)),
                                          ("first", request(sender, C))])
    assert codes == ["OK", "SignatureNonceUsed"]
    assert merged_units() == before
    assert money_of(pigeon, sender.account_id)[2] == 2


def test_under_an_sms_pumping_protection_otp_calls_run_one_by_one(pigeon, sender, money):
    # The protection's count of the account's codes a minute must hold the earlier calls':
    # one by one, each call's own read sees them.
    plan = ProtectionPlan(kind="throttle", scope=None, limit=1,
                          expires_at=pigeon.now() + timedelta(hours=1))
    pigeon.db.write_sync(otp_protection.switch_on, sender.account_id, plan, None, "pumping",
                         pigeon.now())
    before = merged_units()
    codes = decided(pigeon, sender, [(f"p{n}", request(sender, phone, otp=True))
                                          for n, phone in enumerate((A, B, C))])
    assert codes == ["OK", "isv.BUSINESS_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_CONTROL"]
    assert merged_units() == before
    # Notifications are not throttled by it: they still merge.
    codes = decided(pigeon, sender, [(f"q{n}", request(sender, phone))
                                          for n, phone in enumerate((A, B))])
    assert codes == ["OK", "OK"] and merged_units() == before + 2


def test_calls_of_other_templates_are_not_merged_together(pigeon, sender, money):
    before = merged_units()
    codes = decided(pigeon, sender, [("t1", request(sender, A)),
                                          ("t2", request(sender, B)),
                                          ("t3", request(sender, A, otp=True)),
                                          ("t4", request(sender, A, otp=True))])
    # A's notification does not count towards its codes (another template, another scope);
    # its first code does.
    assert codes == ["OK", "OK", "OK", "isv.BUSINESS_LIMIT_CONTROL"]
    assert merged_units() == before + 4  # two runs of two
    assert money_of(pigeon, sender.account_id)[2] == 3


def test_records_merged_without_a_nonce_raise_their_refusals(pigeon, sender, money):
    # sending.record as a write of its own (an action's write after the nonce's): a refusal
    # reaches the caller as the error it is, not as a value.
    now = pigeon.now()
    readies = [pigeon.db.read_sync(sending.prepare, pigeon.send_policy, sender.account_id,
                                   request(sender, A, otp=True), now) for _ in range(2)]
    before = merged_units()
    with one_group(pigeon.db):
        futures = [pigeon.db.submit_write(sending.record, ready) for ready in readies]
    assert set(futures[0].result(30)) == {"BizId"}
    with pytest.raises(PigeonError) as refused:
        futures[1].result(30)
    assert refused.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert merged_units() == before + 2


@pytest.mark.parametrize("seed", range(4))
def test_a_group_decides_every_call_as_one_by_one_would(pigeon, sender, seed):
    # Random calls — codes and notifications to three numbers, a few seconds apart, with
    # money for about half of them — decided once in one group (merged) and once one by one,
    # two days apart (the first run's messages no longer count) from the same balance.
    rng = random.Random(seed)
    calls = [(rng.choice((A, B, C)), rng.random() < 0.6, rng.randrange(0, 900))
             for _ in range(24)]
    start = tomorrow_at(pigeon, 10)
    runs = []
    for run, together in enumerate((True, False)):
        balance = money_of(pigeon, sender.account_id)[0]
        if balance < 12 * PRICE:
            pigeon.db.write_sync(billing.topup, sender.account_id, 12 * PRICE - balance,
                                 pigeon.now())
        before, merged = money_of(pigeon, sender.account_id), merged_units()
        codes = decided(
            pigeon, sender,
            [(f"{seed}-{run}-{n}", request(sender, phone, otp=otp))
             for n, (phone, otp, _) in enumerate(calls)],
            nows=[start + timedelta(days=2 * run, seconds=second) for *_, second in calls],
            together=together)
        after = money_of(pigeon, sender.account_id)
        runs.append((codes, tuple(a - b for a, b in zip(after, before, strict=True))))
        assert (merged_units() > merged) is together
    assert runs[0] == runs[1]
    codes = runs[0][0]
    assert "OK" in codes and len(set(codes)) > 1, codes  # decisions of more than one kind
