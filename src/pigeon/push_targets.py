"""Where Pigeon may push to on a tenant's behalf (report URLs, alert webhooks).

Tenants choose those URLs, so on a shared deployment a URL could aim Pigeon at the operator's
own network (``http://10.0.0.5/admin``, ``http://169.254.169.254/`` metadata services): a
server-side request forgery.  ``PIGEON_PUSH_TARGETS`` decides:

* ``any`` (the default) — every address, so a developer's laptop receives reports on
  ``http://127.0.0.1:…``;
* ``public`` — only globally routable addresses.  The check is made on the address actually
  connected to, after resolution (:class:`GuardedBackend`), so a name that resolves to a
  private address — or is re-pointed there after a URL was accepted (DNS rebinding) — is
  refused too; URLs with a private address literal are refused when they are set.

The guard is a network backend for httpcore, the transport under httpx: httpx has no hook
between name resolution and connection, and resolving first then connecting by name would
leave the rebinding window open.  Proxies from the environment are not used for guarded
clients (the guard would check the proxy's address, not the target's).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

ANY, PUBLIC = "any", "public"
CHOICES = (ANY, PUBLIC)


class RefusedTarget(httpcore.ConnectError):
    """The target resolves only to addresses the policy does not allow."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP literal) is globally routable: not loopback, private,
    link-local, shared (CGNAT), multicast, reserved or unspecified — IPv4-mapped and NAT64
    forms of IPv4 addresses are judged by the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_multicast


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def literal_refusal(url: str, policy: str) -> str | None:
    """Why ``url`` is refused when set (its host is an address the policy forbids), or None.
    Host names are judged when connecting."""
    if policy != PUBLIC:
        return None
    host = (urlsplit(url).hostname or "").strip("[]")
    if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return f"{host} is this machine; PIGEON_PUSH_TARGETS=public allows public addresses only."
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    if not is_public(host):
        return (f"{host} is not a public address; PIGEON_PUSH_TARGETS=public allows public "
                "addresses only.")
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and connects only to a public address of it."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None,
                 allowed: Callable[[str], bool] = is_public) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.allowed = allowed

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        allowed = [a for a in addresses if self.allowed(a)]
        if not allowed:
            raise RefusedTarget(f"{host} resolves to {', '.join(addresses)}, not a public "
                                "address (PIGEON_PUSH_TARGETS=public)")
        error: Exception | None = None
        for address in allowed:  # connecting to the checked address, not to the name again
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error  # type: ignore[misc]

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise RefusedTarget("unix sockets are not push targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def client(policy: str, **options: Any) -> httpx.AsyncClient:
    """An httpx client that connects only where ``policy`` allows; ``options`` as httpx's
    (``timeout``, ``limits``, ``follow_redirects`` …)."""
    if policy != PUBLIC:
        return httpx.AsyncClient(**options)
    limits = options.pop("limits", httpx.Limits())
    transport = httpx.AsyncHTTPTransport(limits=limits)
    # httpx has no parameter for the network backend; its pool takes one and keeps it here
    # (checked by tests/test_push_targets.py, so an httpcore upgrade that moves it fails
    # loudly rather than silently unguarded).
    transport._pool._network_backend = GuardedBackend()
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)
