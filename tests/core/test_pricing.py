import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.errors import PigeonError
from pigeon.core.limits import INTERNATIONAL, NOTIFICATION, OTP, PROMOTIONAL
from pigeon.core.pricing import (
    DEFAULT_PRICES,
    PACKAGE_KINDS,
    Charge,
    ChargePart,
    Package,
    apply,
    covers,
    format_cny,
    plan_batch,
    plan_charge,
    refund,
)

NOW = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def package(id_: int, kind: str = "general", remaining: int = 100,
            expires_in: timedelta = 30 * DAY) -> Package:
    return Package(id=id_, kind=kind, remaining=remaining, expires_at=NOW + expires_in)


def parts(*triples) -> tuple[ChargePart, ...]:
    return tuple(ChargePart(*triple) for triple in triples)


# -- prices and money -------------------------------------------------------------------------


def test_the_default_prices_are_alibabas_starting_prices():
    assert DEFAULT_PRICES[OTP] == DEFAULT_PRICES[NOTIFICATION] == 45
    assert DEFAULT_PRICES[PROMOTIONAL] == 55
    assert DEFAULT_PRICES[INTERNATIONAL] == 300  # Pigeon's own flat default


@pytest.mark.parametrize(("milli", "text"), [
    (0, "0.000"),
    (45, "0.045"),
    (55, "0.055"),
    (300, "0.300"),
    (1000, "1.000"),
    (1234567, "1234.567"),
    (-45, "-0.045"),
    (-1500, "-1.500"),
])
def test_it_formats_milli_cny_as_yuan(milli, text):
    assert format_cny(milli) == text


@pytest.mark.parametrize(("kind", "template_type", "expected"), [
    ("general", OTP, True),
    ("general", NOTIFICATION, True),
    ("general", PROMOTIONAL, False),
    ("general", INTERNATIONAL, False),
    ("otp", OTP, True),
    ("otp", NOTIFICATION, False),
    ("notification", NOTIFICATION, True),
    ("notification", OTP, False),
    ("promotional", PROMOTIONAL, True),
    ("promotional", NOTIFICATION, False),
    ("promotional", INTERNATIONAL, False),
])
def test_which_packages_cover_which_templates(kind, template_type, expected):
    assert covers(kind, template_type) is expected


def test_an_unknown_package_kind_is_refused():
    with pytest.raises(ValueError, match="^unknown package kind 'marketing'; expected one of "
                                         "general, otp, notification, promotional$"):
        covers("marketing", OTP)
    with pytest.raises(ValueError, match="unknown package kind"):
        package(1, kind="international")


def test_a_package_cannot_have_less_than_nothing_left():
    with pytest.raises(ValueError, match="^package 7 has a negative remaining -1$"):
        package(7, remaining=-1)


# Surviving mutants, explained (scripts/mutation core pricing):
# - Package.__post_init__ calling covers(kind, None) instead of covers(kind, OTP): covers() is
#   called only to validate the kind; the template type it is asked about is thrown away.
# - apply() replacing a package whose charge took 0 units (`if units or True`): it replaces
#   it with an equal copy (remaining - 0), indistinguishable to any caller.


# -- plan_charge ------------------------------------------------------------------------------

# template type, segments, price, packages, balance, parts, total
PLANS = [
    # no package: everything from the balance
    (OTP, 1, 45, [], 1000, [(None, 1, 45)], 45),
    (NOTIFICATION, 3, 45, [], 1000, [(None, 3, 135)], 135),
    (PROMOTIONAL, 2, 55, [], 110, [(None, 2, 110)], 110),  # the balance covers it exactly
    # a covering package pays, nothing from the balance
    (OTP, 3, 45, [package(1)], 0, [(1, 3, 0)], 0),
    (NOTIFICATION, 1, 45, [package(1, remaining=1)], 0, [(1, 1, 0)], 0),
    # packages that do not cover the type are passed over
    (PROMOTIONAL, 1, 55, [package(1, "general")], 55, [(None, 1, 55)], 55),
    (OTP, 1, 45, [package(1, "notification"), package(2, "otp", expires_in=90 * DAY)], 0,
     [(2, 1, 0)], 0),
    (INTERNATIONAL, 1, 300, [package(1), package(2, "promotional")], 300, [(None, 1, 300)], 300),
    # earliest expiry first, whatever the order given
    (OTP, 2, 45, [package(1, expires_in=60 * DAY), package(2, expires_in=10 * DAY)], 0,
     [(2, 2, 0)], 0),
    # equal expiry: the lower id first
    (OTP, 2, 45, [package(7, expires_in=10 * DAY), package(3, expires_in=10 * DAY)], 0,
     [(3, 2, 0)], 0),
    # a message spills across packages, then into the balance
    (OTP, 3, 45, [package(1, remaining=1), package(2, remaining=1, expires_in=40 * DAY)], 100,
     [(1, 1, 0), (2, 1, 0), (None, 1, 45)], 45),
    (NOTIFICATION, 5, 45, [package(1, remaining=2)], 1000, [(1, 2, 0), (None, 3, 135)], 135),
    # empty packages are skipped
    (OTP, 1, 45, [package(1, remaining=0, expires_in=DAY), package(2)], 0, [(2, 1, 0)], 0),
    # expiry exactly at now is expired; a microsecond later is still usable
    (OTP, 1, 45, [package(1, expires_in=timedelta(0))], 45, [(None, 1, 45)], 45),
    (OTP, 1, 45, [package(1, expires_in=-DAY)], 45, [(None, 1, 45)], 45),
    (OTP, 1, 45, [package(1, expires_in=timedelta(microseconds=1))], 0, [(1, 1, 0)], 0),
    # a zero price needs no balance, even an overdrawn one
    (OTP, 2, 0, [], 0, [(None, 2, 0)], 0),
    (OTP, 2, 0, [], -500, [(None, 2, 0)], 0),
    (OTP, 3, 0, [package(1, remaining=1)], 0, [(1, 1, 0), (None, 2, 0)], 0),
]


@pytest.mark.parametrize(("template_type", "segments", "price", "packages", "balance",
                          "expected_parts", "total"), PLANS)
def test_it_plans_packages_first_then_the_balance(template_type, segments, price, packages,
                                                  balance, expected_parts, total):
    given_packages = copy.deepcopy(packages)
    charge = plan_charge(template_type, segments, price, packages, balance, NOW)
    assert charge == Charge(parts(*expected_parts), total)
    assert charge.units == segments
    assert packages == given_packages  # never mutated


@pytest.mark.parametrize(("segments", "price", "packages", "balance", "message"), [
    (1, 45, [], 0,
     "The account balance is insufficient: 0.045 CNY is due from the balance, which holds "
     "0.000 CNY; 0.045 CNY is missing."),
    (3, 45, [], 100,
     "The account balance is insufficient: 0.135 CNY is due from the balance, which holds "
     "0.100 CNY; 0.035 CNY is missing."),
    (3, 45, [package(1, remaining=1)], 45,  # the package pays one, the balance only one more
     "The account balance is insufficient: 0.090 CNY is due from the balance, which holds "
     "0.045 CNY; 0.045 CNY is missing."),
    (1, 45, [], -1000,  # an overdrawn account
     "The account balance is insufficient: 0.045 CNY is due from the balance, which holds "
     "-1.000 CNY; 1.045 CNY is missing."),
    (1, 45, [package(1, expires_in=timedelta(0))], 44,
     "The account balance is insufficient: 0.045 CNY is due from the balance, which holds "
     "0.044 CNY; 0.001 CNY is missing."),
])
def test_an_insufficient_balance_is_refused_with_what_is_missing(segments, price, packages,
                                                                 balance, message):
    with pytest.raises(PigeonError) as caught:
        plan_charge(OTP, segments, price, packages, balance, NOW)
    assert (caught.value.code, caught.value.message) == ("isv.AMOUNT_NOT_ENOUGH", message)


@pytest.mark.parametrize(("args", "complaint"), [
    ((OTP, 0, 45), "at least one segment"),
    ((OTP, 1, -1), "cannot be negative"),
    ((9, 1, 45), "unknown template type"),
])
def test_nonsense_arguments_are_programming_errors(args, complaint):
    with pytest.raises(ValueError, match=complaint):
        plan_charge(*args, [], 1000, NOW)


# -- apply, batches and refunds ---------------------------------------------------------------


def test_apply_takes_the_units_and_the_amount():
    packages = [package(1, remaining=1), package(2, remaining=5, expires_in=40 * DAY),
                package(3, "promotional")]
    charge = plan_charge(OTP, 4, 45, packages, 1000, NOW)
    after, balance = apply(charge, packages, 1000)
    assert [p.remaining for p in after] == [0, 2, 100]
    assert balance == 1000
    assert [p.remaining for p in packages] == [1, 5, 100]

    charge = plan_charge(OTP, 4, 45, after, balance, NOW)
    assert charge.parts == parts((2, 2, 0), (None, 2, 90))
    after, balance = apply(charge, after, balance)
    assert [p.remaining for p in after] == [0, 0, 100]
    assert balance == 910


@pytest.mark.parametrize(("charge", "complaint"), [
    (Charge(parts((9, 1, 0)), 0), "unknown packages \\[9\\]"),
    (Charge(parts((1, 6, 0)), 0), "package 1 has 5 units left, the charge takes 6"),
    (Charge(parts((1, 3, 0), (1, 3, 0)), 0), "package 1 has 5 units left, the charge takes 6"),
])
def test_apply_refuses_a_stale_charge(charge, complaint):
    with pytest.raises(ValueError, match=complaint):
        apply(charge, [package(1, remaining=5)], 0)


def test_a_batch_uses_the_packages_message_after_message():
    packages = [package(1, remaining=3), package(2, remaining=2, expires_in=40 * DAY)]
    charges = plan_batch(NOTIFICATION, [2, 2, 2], 45, packages, 1000, NOW)
    assert [c.parts for c in charges] == [
        parts((1, 2, 0)),
        parts((1, 1, 0), (2, 1, 0)),
        parts((2, 1, 0), (None, 1, 45)),
    ]
    assert [p.remaining for p in packages] == [3, 2]


def test_a_batch_the_balance_cannot_pay_is_refused_whole():
    packages = [package(1, remaining=3)]
    # 6 segments: 3 from the package, 3 × 0.045 = 0.135 from a balance of 0.100
    with pytest.raises(PigeonError) as caught:
        plan_batch(OTP, [2, 2, 2], 45, packages, 100, NOW)
    assert caught.value.code == "isv.AMOUNT_NOT_ENOUGH"
    assert caught.value.message.endswith("0.135 CNY is due from the balance, which holds "
                                         "0.100 CNY; 0.035 CNY is missing.")
    assert plan_batch(OTP, [2, 2, 2], 45, packages, 135, NOW)[-1].total_amount == 90


def test_an_empty_batch_costs_nothing():
    assert plan_batch(OTP, [], 45, [], 0, NOW) == []


def test_a_refund_inverts_every_part():
    charge = Charge(parts((1, 1, 0), (2, 1, 0), (None, 2, 90)), 90)
    assert refund(charge) == [ChargePart(1, -1, 0), ChargePart(2, -1, 0), ChargePart(None, -2, -90)]
    assert refund(charge.parts) == refund(charge)


def test_a_refund_returns_units_to_a_package_that_has_since_expired():
    packages = [package(1, remaining=2, expires_in=timedelta(hours=1))]
    charge = plan_charge(OTP, 2, 45, packages, 0, NOW)
    after, _ = apply(charge, packages, 0)
    restored, _ = apply(refund(charge), after, 0)
    assert restored == packages
    # an hour later the returned units have expired with their package
    later = plan_charge(OTP, 1, 45, restored, 45, NOW + timedelta(hours=1))
    assert later.parts == parts((None, 1, 45))


# -- properties -------------------------------------------------------------------------------

packages_strategy = st.lists(
    st.builds(
        Package,
        id=st.integers(1, 8),
        kind=st.sampled_from(sorted(PACKAGE_KINDS)),
        remaining=st.integers(0, 6),
        expires_at=st.integers(-3, 3).map(lambda days: NOW + days * DAY),
    ),
    max_size=6,
    unique_by=lambda p: p.id,
)
types = st.sampled_from([OTP, NOTIFICATION, PROMOTIONAL, INTERNATIONAL])


@given(types, st.integers(1, 20), st.integers(0, 100), packages_strategy,
       st.integers(-100, 3000))
def test_a_charge_pays_every_segment_once_and_a_refund_undoes_it(
        template_type, segments, price, packages, balance):
    given_packages = copy.deepcopy(packages)
    try:
        charge = plan_charge(template_type, segments, price, packages, balance, NOW)
    except PigeonError as error:
        assert error.code == "isv.AMOUNT_NOT_ENOUGH"
        return
    assert packages == given_packages
    assert charge.units == segments
    assert all(part.units > 0 for part in charge.parts)
    assert charge.total_amount == sum(p.amount for p in charge.parts)
    from_balance = [p for p in charge.parts if p.package_id is None]
    assert len(from_balance) <= 1
    assert charge.total_amount == sum(p.units for p in from_balance) * price
    assert charge.total_amount == 0 or charge.total_amount <= balance

    after, left = apply(charge, packages, balance)
    assert left == balance - charge.total_amount
    assert all(p.remaining >= 0 for p in after)
    # the balance pays only once no usable package has units left
    if from_balance:
        assert not any(p.usable(template_type, NOW) for p in after)

    restored, restored_balance = apply(refund(charge), after, left)
    assert (restored, restored_balance) == (packages, balance)


@given(types, st.lists(st.integers(1, 5), max_size=8), st.integers(0, 100), packages_strategy,
       st.integers(0, 3000))
def test_a_batch_costs_what_its_segments_cost_together(template_type, segments, price,
                                                       packages, balance):
    try:
        together = plan_charge(template_type, sum(segments), price, packages, balance, NOW) \
            if segments else Charge((), 0)
    except PigeonError:
        with pytest.raises(PigeonError):
            plan_batch(template_type, segments, price, packages, balance, NOW)
        return
    charges = plan_batch(template_type, segments, price, packages, balance, NOW)
    assert [c.units for c in charges] == segments
    assert sum(c.total_amount for c in charges) == together.total_amount
    current, left = list(packages), balance
    for charge in charges:
        current, left = apply(charge, current, left)
    assert (current, left) == apply(together, packages, balance)


# -- amounts typed by operators ----------------------------------------------------------------


@pytest.mark.parametrize("text, milli", [
    ("100", 100_000), ("12.5", 12_500), ("0.045", 45), ("0", 0), (" 7.10 ", 7_100),
    ("000012", 12_000),
])
def test_cny_amounts_parse_to_milli_cny(text, milli):
    from pigeon.core.pricing import parse_cny

    assert parse_cny(text) == milli


@pytest.mark.parametrize("text", ["", "-1", "1.2345", "1,000", "12.", ".5", "1e3", "¥10", "abc",
                                  12, None])
def test_other_amounts_are_refused_with_the_expected_form(text):
    from pigeon.core.pricing import parse_cny

    with pytest.raises(ValueError, match="such as 100, 12.5 or 0.045"):
        parse_cny(text)


@given(st.integers(min_value=0, max_value=10**15))
def test_format_and_parse_round_trip(milli):
    from pigeon.core.pricing import parse_cny

    assert parse_cny(format_cny(milli)) == milli
