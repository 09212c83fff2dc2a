import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.errors import PigeonError
from pigeon.core.segments import (
    GSM7_BASIC,
    GSM7_ESCAPE,
    GSM7_EXTENSION,
    MAX_MESSAGE_LENGTH,
    check_length,
    count_segments,
    signature_brackets,
    signed_text,
    split_for_carrier,
)

HAN = "中"
EMOJI = "😀"  # outside the BMP: two UTF-16 code units
EXTENSION = "|^€{}[]~\\\f"

# text, international, length, encoding, segments
COUNTS = [
    # mainland: every character counts 1, 70 in one segment, else 67 per segment
    ("", False, 0, "mainland", 1),
    (HAN * 70, False, 70, "mainland", 1),
    (HAN * 71, False, 71, "mainland", 2),
    (HAN * 134, False, 134, "mainland", 2),
    (HAN * 135, False, 135, "mainland", 3),
    (HAN * 160, False, 160, "mainland", 3),  # the spec's example: 67 + 67 + 26
    (HAN * 201, False, 201, "mainland", 3),  # 67 * 3
    (HAN * 202, False, 202, "mainland", 4),
    (HAN * 500, False, 500, "mainland", 8),
    ("a" * 70, False, 70, "mainland", 1),  # letters count like Chinese on the mainland
    ("a" * 71, False, 71, "mainland", 2),
    ("€" * 70, False, 70, "mainland", 1),  # no GSM-7 escapes on the mainland
    ("，。！ 1a", False, 6, "mainland", 1),
    # mainland emoji count 2 (two UTF-16 units in the PDU)
    (EMOJI * 35, False, 70, "mainland", 1),
    (HAN * 69 + EMOJI, False, 71, "mainland", 2),
    (HAN * 66 + EMOJI + HAN * 66, False, 134, "mainland", 3),  # the pair moves to part 2
    # international GSM-7: 160 in one segment, else 153 per segment
    ("a" * 160, True, 160, "gsm7", 1),
    ("a" * 161, True, 161, "gsm7", 2),
    ("a" * 306, True, 306, "gsm7", 2),
    ("a" * 307, True, 307, "gsm7", 3),
    ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà", True, 41, "gsm7", 1),
    (EXTENSION, True, 20, "gsm7", 1),
    # extension characters straddling the boundaries
    ("a" * 158 + "€", True, 160, "gsm7", 1),
    ("a" * 159 + "€", True, 161, "gsm7", 2),
    ("a" * 80 + "[" * 40, True, 160, "gsm7", 1),
    ("a" * 80 + "[" * 41, True, 162, "gsm7", 2),
    ("a" * 153 + "€" + "a" * 151, True, 306, "gsm7", 2),
    ("a" * 152 + "€" + "a" * 152, True, 306, "gsm7", 3),  # the escape pair moves to part 2
    # one character outside GSM-7 switches the whole message to UCS-2
    ("a" * 100, True, 100, "gsm7", 1),
    ("a" * 100 + HAN, True, 101, "ucs2", 2),
    ("a" * 69 + HAN, True, 70, "ucs2", 1),
    ("a" * 70 + HAN, True, 71, "ucs2", 2),
    ("€" * 69 + HAN, True, 70, "ucs2", 1),  # extension characters count 1 in UCS-2
    ("ç", True, 1, "ucs2", 1),  # only the capital Ç is GSM-7
    ("\x1b", True, 1, "ucs2", 1),  # ESC is no character of its own
    (HAN * 134, True, 134, "ucs2", 2),
    (HAN * 135, True, 135, "ucs2", 3),
    ("Hi " + EMOJI, True, 5, "ucs2", 1),
    ("a" * 68 + EMOJI, True, 70, "ucs2", 1),
    ("a" * 69 + EMOJI, True, 71, "ucs2", 2),
    ("a" * 66 + EMOJI + "a" * 66, True, 134, "ucs2", 3),  # the surrogate pair moves
]


@pytest.mark.parametrize(("text", "international", "length", "encoding", "segments"), COUNTS)
def test_it_counts_length_and_segments_as_alibaba_bills(
    text, international, length, encoding, segments
):
    seg = count_segments(text, international=international)
    assert (seg.length, seg.encoding, seg.segments) == (length, encoding, segments)
    assert seg.text == text
    assert len(split_for_carrier(text, seg.encoding)) == segments


@pytest.mark.parametrize(
    ("sign_name", "international", "brackets"),
    [
        ("阿里云", False, "【阿里云】"),
        ("阿里云", True, "【阿里云】"),
        ("Alibaba", False, "【Alibaba】"),
        ("Alibaba", True, "[Alibaba]"),
        ("Acme42", True, "[Acme42]"),
        ("Acme云", True, "【Acme云】"),
    ],
)
def test_a_pure_english_signature_gets_square_brackets_abroad(sign_name, international, brackets):
    assert signature_brackets(sign_name, international=international) == brackets


@pytest.mark.parametrize(
    ("sign_name", "content", "international", "length", "segments"),
    [
        ("阿里云", HAN * 65, False, 70, 1),  # 【阿里云】 is 5 characters
        ("阿里云", HAN * 66, False, 71, 2),
        ("阿里云", "a" * 65, True, 70, 1),  # a Chinese signature makes it UCS-2
        ("阿里云", "a" * 66, True, 71, 2),
        ("Acme", "a" * 152, True, 160, 1),  # [ and ] are GSM-7 extension characters: 2 each
        ("Acme", "a" * 153, True, 161, 2),
    ],
)
def test_the_signature_counts_with_its_brackets(
    sign_name, content, international, length, segments
):
    text = signed_text(sign_name, content, international=international)
    assert text.endswith(content)
    seg = count_segments(text, international=international)
    assert (seg.length, seg.segments) == (length, segments)


@pytest.mark.parametrize(
    ("text", "international", "too_long"),
    [
        (HAN * 500, False, False),
        (HAN * 501, False, True),
        (HAN * 499 + EMOJI, False, True),
        ("a" * 500, True, False),
        ("a" * 498 + "€", True, False),
        ("a" * 499 + "€", True, True),
    ],
)
def test_a_message_may_have_at_most_500_characters(text, international, too_long):
    seg = count_segments(text, international=international)
    if not too_long:
        check_length(seg)
        return
    with pytest.raises(PigeonError) as caught:
        check_length(seg)
    assert caught.value.code == "isv.PARAM_LENGTH_LIMIT"
    assert str(seg.length) in caught.value.message
    assert str(MAX_MESSAGE_LENGTH) in caught.value.message


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("", "gsm7", [""]),
        ("a" * 160, "gsm7", ["a" * 160]),
        ("a" * 161, "gsm7", ["a" * 153, "a" * 8]),
        ("a" * 152 + "€" + "a" * 152, "gsm7", ["a" * 152, "€" + "a" * 151, "a"]),
        (HAN * 70, "ucs2", [HAN * 70]),
        (HAN * 71, "ucs2", [HAN * 67, HAN * 4]),
        (HAN * 71, "mainland", [HAN * 67, HAN * 4]),
        ("a" * 66 + EMOJI + "aaa", "ucs2", ["a" * 66, EMOJI + "aaa"]),
        ("a" * 65 + EMOJI + "aa" + "a" * 3, "ucs2", ["a" * 65 + EMOJI, "a" * 5]),
    ],
)
def test_it_splits_a_long_message_into_carrier_parts(text, encoding, parts):
    assert split_for_carrier(text, encoding) == parts


def test_it_refuses_to_split_non_gsm_text_as_gsm7():
    with pytest.raises(ValueError, match="^text has characters outside the GSM-7 alphabet$"):
        split_for_carrier("a" + HAN, "gsm7")


@pytest.mark.parametrize("text, parts", [
    ("\uffff" * 70, 1),  # the last character of the BMP: one UTF-16 unit
    ("\U00010000" * 35, 1),  # the first beyond it: a surrogate pair, two units
    ("\U00010000" * 36, 2),
])
def test_a_ucs2_part_counts_utf16_units_at_the_edge_of_the_bmp(text, parts):
    assert len(split_for_carrier(text, "ucs2")) == parts


def test_the_gsm7_tables_follow_gsm_03_38():
    assert len(GSM7_BASIC) == 128 and len(set(GSM7_BASIC)) == 128
    assert GSM7_BASIC[GSM7_ESCAPE] == "\x1b"
    assert (GSM7_BASIC[0x00], GSM7_BASIC[0x20], GSM7_BASIC[0x41], GSM7_BASIC[0x7F]) == (
        "@",
        " ",
        "A",
        "à",
    )
    assert set(GSM7_EXTENSION) == set(EXTENSION)
    assert not set(GSM7_EXTENSION) & set(GSM7_BASIC)


# Text that likes the edges: escapes, surrogate pairs, Chinese, and anything else.
messages = st.text(
    alphabet=st.sampled_from(["a", " ", "€", "[", "\f", HAN, EMOJI, "é"]) | st.characters(),
    max_size=700,
)


def _units(part: str, encoding: str) -> int:
    if encoding == "gsm7":
        return sum(2 if char in EXTENSION else 1 for char in part)
    return len(part.encode("utf-16-le", "surrogatepass")) // 2


@given(messages, st.booleans())
def test_every_message_is_at_least_one_segment(text, international):
    assert count_segments(text, international=international).segments >= 1


@given(messages, st.booleans())
def test_split_parts_rejoin_fit_and_match_the_billed_segments(text, international):
    seg = count_segments(text, international=international)
    parts = split_for_carrier(text, seg.encoding)
    assert "".join(parts) == text
    assert len(parts) == seg.segments
    assert seg.length == _units(text, seg.encoding)
    single, per_part = (160, 153) if seg.encoding == "gsm7" else (70, 67)
    if len(parts) == 1:
        assert _units(parts[0], seg.encoding) <= single
    else:
        assert all(0 < _units(part, seg.encoding) <= per_part for part in parts)


@given(st.text(alphabet="ab 中，", max_size=700), st.booleans())
def test_without_escapes_or_surrogates_the_count_is_the_formula(text, international):
    seg = count_segments(text, international=international)
    single, per_part = (160, 153) if seg.encoding == "gsm7" else (70, 67)
    expected = 1 if len(text) <= single else math.ceil(len(text) / per_part)
    assert (seg.length, seg.segments) == (len(text), expected)
