"""Calls the server makes on a client's behalf (webhooks) go to public addresses only.

A client-supplied URL is server-side request forgery waiting to happen: cloud metadata
(``169.254.169.254``), the database, Redis on ``localhost:6379``, anything on the internal
network. :func:`resolve_target` parses the URL, resolves its host (every address it has)
and refuses it unless each address is public: not loopback, private, link-local, shared
(CGNAT), unique-local, multicast, unspecified or reserved, IPv4 inside IPv6 included
(``::ffff:127.0.0.1``, 6to4, NAT64). The resolver also reads ``0x7f000001``,
``2130706433`` and ``0177.0.0.1`` as the addresses they are, so those forms are refused
like ``127.0.0.1``. Operators who need internal targets list them in
``webhook_allowed_hosts`` (host names, or addresses and networks).

Callers check at submission and again right before each connection, and connect to the
address that was checked (:class:`Target`), never to the name: a DNS answer that changes
between the check and the connection (rebinding) cannot send the call elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from voxserve.errors import UnsafeUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[Any]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (what a webhook may reach)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.teredo is not None:
            return False
        if embedded is not None and not is_public(embedded):
            return False
        if address.ipv4_mapped is not None:
            return True
    return bool(address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
        or address.is_loopback or address.is_link_local or address.is_private))


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Internal targets an operator allows (``webhook_allowed_hosts``)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(_normal_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        return (is_public(address) or _normal_host(host) in self.hosts
                or any(address in network for network in self.networks))


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL, with the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{host}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def resolve_target(
    url: str, policy: OutboundPolicy, *, resolver: Resolver | None = None
) -> Target:
    """Check ``url`` and resolve it to one allowed address; :class:`UnsafeUrl` otherwise.
    Blocking (DNS): call it from a thread."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("webhook_url is not a valid URL", param="webhook_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("webhook_url must be an http(s) URL with a host", param="webhook_url")
    host = parts.hostname
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"webhook_url: the host '{host}' does not resolve",
                        param="webhook_url") from None
    addresses = list(dict.fromkeys(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))
    if not addresses:
        raise UnsafeUrl(f"webhook_url: the host '{host}' does not resolve", param="webhook_url")
    refused = [a for a in addresses if not policy.allows(host, a)]
    if refused:
        raise UnsafeUrl(
            f"webhook_url: '{host}' is an internal address ({refused[0]}); webhooks go to "
            "public addresses only, or to hosts listed in VOXSERVE_WEBHOOK_ALLOWED_HOSTS",
            param="webhook_url")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
