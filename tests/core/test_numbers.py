import csv
import io
from importlib import resources

import pytest

from pigeon.core import numbers
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import (
    CARRIERS,
    SEGMENTS,
    Segment,
    carrier_of,
    parse_number,
    segment_of,
    split_numbers,
)

# Surviving mutants, explained (scripts/mutation core numbers):
# - parse_number: `digits[0] in "01"` turned into `in "XX01XX"`: digits are ASCII digits by then,
#   and the only digits either string holds are 0 and 1.
# - _international, _international_or_none: `parse("+" + digits)` turned into
#   `parse("XX+XX" + digits)`: phonenumbers reads from the first "+" and drops the two letters
#   after it (it only reads letters as digits when there are at least three).
# - _international: the fallback `str(exc)` of _PARSE_REASONS.get turned into None, str(None)
#   or no default: every error type phonenumbers.parse raises has a reason in _PARSE_REASONS.
# - _from_phonenumbers: the fallback region "001" turned into "XX001XX": a number that
#   phonenumbers finds valid always has a region (non-geographic ones get "001" from
#   phonenumbers itself), so the fallback is never used.
# - _load_segments: read_text("UTF-8") or read_text(None) (the locale's encoding) instead of
#   "utf-8": carriers.csv is plain ASCII, which every such codec reads alike.


# text, e164, region, carrier (None: international)
VALID = [
    # every mainland form of §2.1
    ("13800138000", "+8613800138000", "CN", "mobile"),
    ("+13800138000", "+8613800138000", "CN", "mobile"),
    ("+8613800138000", "+8613800138000", "CN", "mobile"),
    ("008613800138000", "+8613800138000", "CN", "mobile"),
    ("8613800138000", "+8613800138000", "CN", "mobile"),
    ("  13800138000 ", "+8613800138000", "CN", "mobile"),
    # China Mobile, including the 134 block that is not 1349, and MVNO segments
    ("13400000000", "+8613400000000", "CN", "mobile"),
    ("13481234567", "+8613481234567", "CN", "mobile"),
    ("19512345678", "+8619512345678", "CN", "mobile"),
    ("17031234567", "+8617031234567", "CN", "mobile"),
    ("16512345678", "+8616512345678", "CN", "mobile"),
    # China Unicom
    ("13012345678", "+8613012345678", "CN", "unicom"),
    ("18612345678", "+8618612345678", "CN", "unicom"),
    ("17041234567", "+8617041234567", "CN", "unicom"),
    ("17112345678", "+8617112345678", "CN", "unicom"),
    ("16712345678", "+8616712345678", "CN", "unicom"),
    # China Telecom: 1349 inside China Mobile's 134, and MVNO 1700–1702 and 162
    ("13491234567", "+8613491234567", "CN", "telecom"),
    ("+8613491234567", "+8613491234567", "CN", "telecom"),
    ("18912345678", "+8618912345678", "CN", "telecom"),
    ("17001234567", "+8617001234567", "CN", "telecom"),
    ("16212345678", "+8616212345678", "CN", "telecom"),
    # China Broadnet
    ("19212345678", "+8619212345678", "CN", "broadnet"),
    ("008619212345678", "+8619212345678", "CN", "broadnet"),
    # international: Hong Kong, Macao, Taiwan, US, Canada, UK, each form
    ("85291234567", "+85291234567", "HK", None),
    ("+85291234567", "+85291234567", "HK", None),
    ("0085291234567", "+85291234567", "HK", None),
    ("85366123456", "+85366123456", "MO", None),
    ("886912345678", "+886912345678", "TW", None),
    ("14155552671", "+14155552671", "US", None),
    ("+14155552671", "+14155552671", "US", None),
    ("0014155552671", "+14155552671", "US", None),
    ("16135550123", "+16135550123", "CA", None),
    ("447400123456", "+447400123456", "GB", None),
    ("+447400123456", "+447400123456", "GB", None),
]


@pytest.mark.parametrize(("text", "e164", "region", "carrier"), VALID)
def test_it_parses_every_accepted_form(text, e164, region, carrier):
    number = parse_number(text)
    assert (number.e164, number.region, number.carrier) == (e164, region, carrier)
    assert number.is_mainland == (region == "CN")
    assert number.e164 == f"+{number.country_code}{number.national}"


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("+85291234567", "85291234567"),
        ("0014155552671", "14155552671"),
        ("+447400123456", "447400123456"),
    ],
)
def test_the_wire_form_is_what_alibaba_shows(text, wire):
    assert parse_number(text).wire == wire


# text, a fragment of the reason
INVALID = [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("1380013800", "have 11 digits, this one has 10"),
    ("138001380001", "have 11 digits, this one has 12"),
    ("+861380013800", "have 11 digits, this one has 10"),
    ("1380013800a", "digits only"),
    ("abc", "digits only"),
    ("138-0013-8000", "digits only"),
    ("+86 138 0013 8000", "digits only"),
    ("１３８００１３８０００", "digits only"),  # full-width digits
    ("+", "digits only"),
    ("12000138000", "segment 120 is not allocated"),
    ("+8612000138000", "segment 120 is not allocated"),
    ("14400138000", "segment 144 is not allocated"),
    ("01012345678", "fixed-line"),
    ("+861012345678", "fixed-line"),
    ("008602112345678", "fixed-line"),
    ("8623456789", "start with 1"),
    ("85212345678", "not a valid number for country code 852"),  # HK numbers start 5/6/9
    ("+12000138000", "not a valid number for country code 1"),
    ("+99912345678", "unknown country code"),
    ("1" * 16, "more than E.164 allows"),
]


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_it_rejects_an_invalid_number(text, why):
    with pytest.raises(PigeonError) as caught:
        parse_number(text)
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert "is not a valid mobile number: " in caught.value.message
    assert why in caught.value.message


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("13055551234", "+8613055551234"),  # mainland segment 130 wins over Miami's 305
        ("0013055551234", "+13055551234"),  # the 00 form reaches Miami
        ("12012345678", "+12012345678"),  # 120 is no mainland segment: New Jersey
    ],
)
def test_eleven_digits_starting_with_1_are_mainland_when_the_segment_is_known(text, e164):
    assert parse_number(text).e164 == e164


def test_the_error_names_the_number():
    with pytest.raises(PigeonError) as caught:
        parse_number("12000138000")
    assert caught.value.message.startswith("12000138000 is not a valid mobile number: ")


@pytest.mark.parametrize(
    ("national", "carrier"),
    [
        ("13401234567", "mobile"),
        ("13481234567", "mobile"),
        ("13491234567", "telecom"),
        ("17031234567", "mobile"),
        ("17071234567", "unicom"),
        ("17021234567", "telecom"),
        ("19212345678", "broadnet"),
        ("12012345678", None),
        ("17912345678", None),
    ],
)
def test_carrier_of_takes_the_longest_prefix(national, carrier):
    assert carrier_of(national) == carrier


def _csv_rows():
    text = resources.files("pigeon.core").joinpath("data/carriers.csv").read_text("utf-8")
    assert text.startswith("# "), "the file starts with a line saying where it comes from"
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@pytest.mark.parametrize("row", _csv_rows(), ids=lambda row: row["prefix"])
def test_every_row_of_the_segment_table_parses_to_its_carrier(row):
    national = row["prefix"].ljust(11, "0")
    number = parse_number(national)
    assert number.carrier == row["carrier"]
    assert segment_of(national).mvno == (row["mvno"] == "true")
    assert parse_number("+86" + national) == number


def test_the_segment_table_covers_every_carrier():
    assert {segment.carrier for segment in SEGMENTS.values()} == set(CARRIERS)


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("13800138000", ["13800138000"]),
        ("13800138000,13900139000", ["13800138000", "13900139000"]),
        (" 13800138000 , +85291234567 ", ["13800138000", "+85291234567"]),
        ("13800138000,", ["13800138000"]),
        ("13800138000,,13900139000", ["13800138000", "13900139000"]),
        ("13800138000,13800138000", ["13800138000", "13800138000"]),
        ("13800138000，13900139000", ["13800138000，13900139000"]),  # full-width comma
    ],
)
def test_split_numbers_strips_and_drops_empty_items(text, items):
    assert split_numbers(text, limit=1000) == items


@pytest.mark.parametrize(("count", "ok"), [(3, True), (4, False)])
def test_split_numbers_enforces_the_limit(count, ok):
    text = ",".join(["13800138000"] * count)
    if ok:
        assert len(split_numbers(text, limit=3)) == count
    else:
        with pytest.raises(PigeonError) as caught:
            split_numbers(text, limit=3)
        assert caught.value.code == "isv.MOBILE_COUNT_OVER_LIMIT"
        assert "4" in caught.value.message and "3" in caught.value.message


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_split_numbers_rejects_a_list_without_numbers(text):
    with pytest.raises(PigeonError) as caught:
        split_numbers(text, limit=1000)
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL"


# The whole message is what the API answers, so it is pinned word for word.
@pytest.mark.parametrize(("text", "message"), [
    ("", '"" is not a valid mobile number: it is empty'),
    ("abc", "abc is not a valid mobile number: use digits only, optionally after + or 00"),
    ("a" * 32, "a" * 32 + " is not a valid mobile number: use digits only, optionally after + "
     "or 00"),
    ("a" * 33, "a" * 32 + "… is not a valid mobile number: use digits only, optionally after "
     "+ or 00"),
    ("1" * 15, "1" * 15 + " is not a valid mobile number: mainland mobile numbers have 11 "
     "digits, this one has 15"),
    ("1" * 16, "1" * 16 + " is not a valid mobile number: it has 16 digits, more than E.164 "
     "allows"),
    ("12000138000", "12000138000 is not a valid mobile number: segment 120 is not allocated to "
     "a mainland mobile carrier"),
    ("01012345678", "01012345678 is not a valid mobile number: it is a mainland fixed-line "
     "number; only mobile numbers can receive SMS"),
    ("8623456789", "8623456789 is not a valid mobile number: mainland mobile numbers start "
     "with 1"),
    ("86", "86 is not a valid mobile number: mainland mobile numbers start with 1"),
    # a valid mainland number, but toll-free rather than fixed-line
    ("864008001234", "864008001234 is not a valid mobile number: mainland mobile numbers start "
     "with 1"),
    ("+44", "+44 is not a valid mobile number: not a phone number"),
    ("+99912345678", "+99912345678 is not a valid mobile number: unknown country code"),
    ("+4412", "+4412 is not a valid mobile number: not a valid number for country code 44"),
])
def test_the_rejection_message_is_worded_exactly(text, message):
    with pytest.raises(PigeonError) as caught:
        parse_number(text)
    assert (caught.value.code, caught.value.message) == ("isv.MOBILE_NUMBER_ILLEGAL", message)


def test_split_numbers_says_when_the_list_is_empty():
    with pytest.raises(PigeonError) as caught:
        split_numbers(" , ", limit=1000)
    assert caught.value.message == "PhoneNumbers contains no phone number"


def test_split_numbers_says_how_many_numbers_are_allowed():
    with pytest.raises(PigeonError) as caught:
        split_numbers("13800138000,13900139000", limit=1)
    assert caught.value.message == ("PhoneNumbers has 2 numbers; at most 1 are allowed per "
                                    "request")


# -- the packaged segment table --------------------------------------------------------------

def test_loading_the_segment_table_again_gives_the_same_table():
    assert numbers._load_segments() == SEGMENTS
    assert SEGMENTS["1349"] == Segment("1349", "telecom", False)
    assert SEGMENTS["1700"].mvno and not SEGMENTS["134"].mvno


class _PackagedText:
    """Stands in for importlib.resources: the packaged file reads as ``text``."""

    def __init__(self, text: str):
        self.text = text

    def files(self, package):
        assert package == "pigeon.core"
        return self

    def joinpath(self, path):
        assert path == "data/carriers.csv"
        return self

    def read_text(self, encoding):
        return self.text


def test_the_table_skips_comments_and_blank_lines(monkeypatch):
    text = "# where it comes from\n\nprefix,carrier,mvno\n134,mobile,false\n\n1700,telecom,true\n"
    monkeypatch.setattr(numbers, "resources", _PackagedText(text))
    assert numbers._load_segments() == {"134": Segment("134", "mobile", False),
                                        "1700": Segment("1700", "telecom", True)}


@pytest.mark.parametrize(("rows", "message"), [
    ("234,mobile,false", "carriers.csv: bad prefix '234'"),
    ("13a,mobile,false", "carriers.csv: bad prefix '13a'"),
    ("13,mobile,false", "carriers.csv: bad prefix '13'"),
    ("13456,mobile,false", "carriers.csv: bad prefix '13456'"),
    ("134,orange,false",
     "carriers.csv: bad row {'prefix': '134', 'carrier': 'orange', 'mvno': 'false'}"),
    ("134,mobile,yes", "carriers.csv: bad row {'prefix': '134', 'carrier': 'mobile', 'mvno': 'yes'}"),
    ("134,mobile,false\n134,unicom,false", "carriers.csv: prefix 134 listed twice"),
])
def test_a_bad_row_of_the_table_fails_loudly(monkeypatch, rows, message):
    monkeypatch.setattr(numbers, "resources", _PackagedText("prefix,carrier,mvno\n" + rows))
    with pytest.raises(ValueError) as raised:
        numbers._load_segments()
    assert str(raised.value) == message
