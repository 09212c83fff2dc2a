"""The source address of an API call and the IP allow-list check (pure)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from pigeon.core.errors import PigeonError
from pigeon.core.source_ip import check_allowed, client_address, parse_entry, shown

# Surviving mutants, explained (scripts/mutation core source_ip):
# - parse_entry: `ip_network(value)` without `strict=True`: True is ip_network's default.
# - parse_entry: `ip_network(value, strict=None)` instead of `strict=False`: ip_network only
#   tests the flag's truth, and None is false like False.


@pytest.mark.parametrize("text, network", [
    ("203.0.113.7", "203.0.113.7/32"),
    (" 203.0.113.0/24 ", "203.0.113.0/24"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("2001:db8::/32", "2001:db8::/32"),
    ("2001:DB8::1", "2001:db8::1/128"),
])
def test_an_entry_is_stored_in_canonical_form(text, network):
    assert str(parse_entry(text)) == network


@pytest.mark.parametrize("text, message", [
    ("", "Give an IPv4 or IPv6 address"),
    ("localhost", "is not an IPv4 or IPv6 address or a CIDR range"),
    ("203.0.113.0/33", "is not an IPv4 or IPv6 address"),
    ("300.1.1.1", "is not an IPv4 or IPv6 address"),
    ("10.0.0.1/8", "the range it belongs to is 10.0.0.0/8"),
])
def test_a_bad_entry_is_refused_saying_what_is_expected(text, message):
    with pytest.raises(PigeonError) as caught:
        parse_entry(text)
    assert caught.value.code == "isv.INVALID_PARAMETERS"
    assert message in caught.value.message


@pytest.mark.parametrize("text, message", [
    (None, "Give an IPv4 or IPv6 address or a CIDR range such as 203.0.113.0/24."),
    ("  ", "Give an IPv4 or IPv6 address or a CIDR range such as 203.0.113.0/24."),
    ("localhost", "'localhost' is not an IPv4 or IPv6 address or a CIDR range such as "
                  "203.0.113.0/24 or 2001:db8::/32."),
    ("10.0.0.1/8", "10.0.0.1/8 has bits set after its /8 prefix; the range it belongs to is "
                   "10.0.0.0/8."),
    ("2001:db8::1/32", "2001:db8::1/32 has bits set after its /32 prefix; the range it "
                       "belongs to is 2001:db8::/32."),
])
def test_the_refusal_of_a_bad_entry_reads_in_full(text, message):
    with pytest.raises(PigeonError) as caught:
        parse_entry(text)
    assert (caught.value.code, caught.value.message) == ("isv.INVALID_PARAMETERS", message)


def test_a_range_of_one_is_shown_as_the_bare_address():
    assert shown(parse_entry("203.0.113.7")) == "203.0.113.7"
    assert shown(parse_entry("203.0.113.0/24")) == "203.0.113.0/24"


LIST = (ip_network("203.0.113.0/24"), ip_network("2001:db8::/32"))


@pytest.mark.parametrize("client", ["203.0.113.9", "2001:db8::5", "::ffff:203.0.113.9"])
def test_an_address_on_the_list_is_allowed(client):
    check_allowed(LIST, client)


@pytest.mark.parametrize("client", ["127.0.0.1", "198.51.100.1", "2001:db9::1", None,
                                    "not-an-address"])
def test_an_address_off_the_list_is_refused_with_forbidden_ram(client):
    with pytest.raises(PigeonError) as caught:
        check_allowed(LIST, client)
    assert caught.value.code == "Forbidden.RAM" and caught.value.http_status == 403
    assert "IP allow-list" in caught.value.message


@pytest.mark.parametrize("client, named", [
    ("198.51.100.1", "198.51.100.1"),
    (None, "an unknown address"),
    ("", "an unknown address"),
])
def test_the_refusal_names_the_address_and_where_to_change_the_list(client, named):
    with pytest.raises(PigeonError) as caught:
        check_allowed(LIST, client)
    assert caught.value.message == (
        "User not authorized to operate on the specified resource: the request comes from "
        f"{named}, which is not on the account's IP allow-list for API calls "
        "(console: Security).")


def test_an_ipv6_address_in_brackets_is_read_without_them():
    check_allowed(LIST, "[2001:db8::5]")
    assert client_address("[2001:db8::5]", None, ()) == "2001:db8::5"
    assert client_address("10.0.0.2", "[2001:db8::5]", PROXIES) == "2001:db8::5"


def test_an_empty_list_allows_every_address_even_an_unknown_one():
    check_allowed((), "198.51.100.1")
    check_allowed((), None)


PROXIES = (ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize("peer, forwarded, trusted, client", [
    # Without trusted proxies the header is anybody's to write: ignored.
    ("127.0.0.1", "203.0.113.9", (), "127.0.0.1"),
    # From a peer that is not a trusted proxy: ignored too.
    ("198.51.100.1", "203.0.113.9", PROXIES, "198.51.100.1"),
    # From a trusted proxy: the rightmost address that is not a trusted proxy.
    ("10.0.0.2", "203.0.113.9", PROXIES, "203.0.113.9"),
    ("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.7", PROXIES, "203.0.113.9"),
    # A garbled hop ends the walk at the proxy that added it.
    ("10.0.0.2", "203.0.113.9, junk", PROXIES, "10.0.0.2"),
    ("10.0.0.2", None, PROXIES, "10.0.0.2"),
    ("::ffff:127.0.0.1", None, (), "127.0.0.1"),
    (None, "203.0.113.9", PROXIES, None),
])
def test_the_client_address_honours_forwarded_for_only_from_trusted_proxies(
        peer, forwarded, trusted, client):
    assert client_address(peer, forwarded, trusted) == client
