"""Outgoing webhook requests must not become a way into the internal network.

Every delivery resolves the hostname itself, refuses any non-public address (private, loopback,
link-local, multicast, reserved, unspecified, shared/CGNAT ...) unless it is explicitly allowed by
`webhook_allow_private`, and then connects to the address it checked (the caller pins it), so a DNS
answer that changes between the check and the connect (rebinding) cannot redirect the request.

IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped (`::ffff:0:0/96`),
IPv4-compatible (`::/96`) and 6to4 (`2002::/16`). Translation and tunnelling prefixes are refused
outright, whatever they embed, because the gateway that unwraps them may sit inside the network: NAT64
(`64:ff9b::/96`, `64:ff9b:1::/48`) and Teredo (`2001::/32`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bugtrail.config import Settings
from bugtrail.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class RefusedDestination(InvalidInput):
    """The webhook URL is not allowed (scheme, allowlist or address policy); never retried."""


@dataclass(frozen=True)
class PinnedTarget:
    url: str
    scheme: str
    host: str
    port: int
    ip: str

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked IP; the original host goes in Host/SNI."""
        parts = urlsplit(self.url)
        ip_host = f"[{self.ip}]" if ":" in self.ip else self.ip
        netloc = f"{ip_host}:{self.port}"
        path = parts.path or "/"
        return f"{self.scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


# Refused whatever they embed: a translator or relay may reach addresses we cannot see from here.
TRANSLATION_NETWORKS = tuple(
    ipaddress.IPv6Network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48", "2001::/32")
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in SIX_TO_FOUR:
        return ip.sixtofour
    return None


def is_public_address(ip: IPAddress) -> bool:
    """Globally routable unicast, judged on the IPv4 address inside IPv6 forms that embed one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in TRANSLATION_NETWORKS):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(inner)
    return ip.is_global and not ip.is_multicast


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class DestinationPolicy:
    def __init__(self, allowlist: list[str], allow_private: list[str], resolver: Resolver | None = None):
        self.allowlist = allowlist
        self.allowed_hosts = {entry.lower() for entry in allow_private if not _is_network(entry)}
        self.allowed_networks = [
            ipaddress.ip_network(entry, strict=False) for entry in allow_private if _is_network(entry)
        ]
        self.resolver = resolver or system_resolver

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> DestinationPolicy:
        return cls(settings.webhook_allowlist, settings.webhook_allow_private, resolver)

    def check_url(self, url: str) -> tuple[str, str, int]:
        """Static checks (no DNS): scheme, credentials, allowlist. Returns (scheme, host, port)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise RefusedDestination("webhook URL must be http or https", detail={"url": url})
        if parts.username or parts.password:
            raise RefusedDestination("webhook URL must not contain credentials")
        host = (parts.hostname or "").lower()
        if not host:
            raise RefusedDestination("webhook URL has no host", detail={"url": url})
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise RefusedDestination("webhook URL has an invalid port", detail={"url": url}) from exc
        if self.allowlist and not any(url.startswith(prefix) for prefix in self.allowlist):
            raise RefusedDestination("webhook URL is not in the allowlist", detail={"url": url})
        return scheme, host, port

    def is_allowed_address(self, host: str, ip: IPAddress) -> bool:
        """Public, or explicitly allowed (by host, by address, or by network, raw or unwrapped)."""
        forms: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            forms.append(ip.ipv4_mapped)  # ::ffff:a.b.c.d is the IPv4 socket a.b.c.d
        if host in self.allowed_hosts or any(str(form) in self.allowed_hosts for form in forms):
            return True
        if any(form in network for form in forms for network in self.allowed_networks):
            return True
        return is_public_address(ip)

    def resolve(self, url: str) -> PinnedTarget:
        """Resolve and check every address; refuse if any is not allowed. Does not connect."""
        scheme, host, port = self.check_url(url)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host, port)
            except OSError as exc:
                raise RefusedDestination(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise RefusedDestination(f"{host} resolves to no address")
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if not self.is_allowed_address(host, ip):
                raise RefusedDestination(
                    f"refused: {host} resolves to non-public address {ip}",
                    detail={"url": url, "address": str(ip)},
                )
        return PinnedTarget(url=url, scheme=scheme, host=host, port=port, ip=addresses[0])


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
