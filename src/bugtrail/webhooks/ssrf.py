"""Outgoing webhook requests must not become a way into the internal network.

Every delivery resolves the hostname itself, refuses any non-public address (private, loopback,
link-local, multicast, reserved, unspecified, shared/CGNAT ...) unless it is explicitly allowed by
`webhook_allow_private`, and then connects to the address it checked (the caller pins it), so a DNS
answer that changes between the check and the connect (rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bugtrail.config import Settings, split_csv
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
        return cls(split_csv(settings.webhook_allowlist), split_csv(settings.webhook_allow_private), resolver)

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
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if host in self.allowed_hosts or str(ip) in self.allowed_hosts:
            return True
        if any(ip in network for network in self.allowed_networks):
            return True
        return ip.is_global and not ip.is_multicast

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
