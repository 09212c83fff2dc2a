"""Where an API call comes from, and whether the account's IP allow-list lets it in.

A tenant may list IPv4/IPv6 addresses and CIDR ranges from which its AccessKeys may call the
API (console: Security; CLI: ``pigeon security``).  An empty list allows every address.  A
signed request from outside a non-empty list is refused with ``Forbidden.RAM`` (HTTP 403):
that is what Alibaba's gateway answers when a RAM policy's ``acs:SourceIp`` condition — the
way Alibaba users restrict an AccessKey to their servers — does not match, so the official
SDKs raise it as a ``ClientException`` with a code their users already know.  The business
code ``isv.DENY_IP_RANGE`` was not chosen: it means "the caller is outside mainland China",
answers HTTP 200 and exists for the sending actions only, while the allow-list guards every
action.

The client address is the TCP peer's.  ``X-Forwarded-For`` counts only when the peer is one of
the operator's trusted proxies (``PIGEON_TRUSTED_PROXIES``): the header is read from the right,
skipping trusted proxies, and the first other address is the client's.  Anybody can write the
header, so without that rule a caller could name any address it likes.

Pure: no I/O; the service and the endpoint pass the stored list, the peer and the header in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from pigeon.core.errors import PigeonError

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

MAX_ENTRIES = 100
"""How many addresses and ranges one account's allow-list holds."""


def parse_entry(text: str) -> Network:
    """``"203.0.113.7"``, ``"203.0.113.0/24"``, ``"2001:db8::/32"`` → a network.

    A bare address is a range of one (``/32``, ``/128``).  A range with host bits set
    (``10.0.0.1/24``) is refused rather than silently widened: the message names the range it
    would be.  Anything else raises ``isv.INVALID_PARAMETERS`` saying what is expected.
    """
    value = (text or "").strip()
    if not value:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          "Give an IPv4 or IPv6 address or a CIDR range such as "
                          "203.0.113.0/24.")
    try:
        return ip_network(value, strict=True)
    except ValueError:
        pass
    try:
        widened = ip_network(value, strict=False)
    except ValueError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{value!r} is not an IPv4 or IPv6 address or a CIDR range such as "
                          "203.0.113.0/24 or 2001:db8::/32.") from None
    raise PigeonError("isv.INVALID_PARAMETERS",
                      f"{value} has bits set after its /{widened.prefixlen} prefix; the range "
                      f"it belongs to is {widened}.")


def shown(network: Network) -> str:
    """How an entry is written back: a range of one as the bare address."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; the list speaks IPv4.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: Sequence[Network] = ()) -> str | None:
    """The caller's address: the TCP ``peer``, or — only when the peer is a trusted proxy —
    the rightmost address of ``X-Forwarded-For`` that is not itself a trusted proxy.

    An entry that is not an address ends the walk at the hop that added it (so a forged,
    garbled header yields a proxy's address, never a caller-chosen one).  ``None`` when the
    peer is unknown.
    """
    client = _address(peer)
    if client is None or not trusted or not forwarded_for or not _within(client, trusted):
        return None if client is None else str(client)
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _within(address, trusted):
            break
    return str(client)


def check_allowed(allow_list: Sequence[Network], client: str | None) -> None:
    """Let the call through, or raise ``Forbidden.RAM``.

    An empty ``allow_list`` allows every address (and costs nothing); otherwise the client's
    address must be in one of its ranges.  An unknown address is refused.
    """
    if not allow_list:
        return
    address = _address(client)
    if address is not None and _within(address, allow_list):
        return
    raise PigeonError(
        "Forbidden.RAM",
        "User not authorized to operate on the specified resource: the request comes from "
        f"{client or 'an unknown address'}, which is not on the account's IP allow-list for "
        "API calls (console: Security).")
