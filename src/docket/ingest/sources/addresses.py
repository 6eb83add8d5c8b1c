"""Which addresses an outbound request may reach, and connections made only to the address checked.

Every request Docket makes on a user's or an admin's behalf — a web source's pages, a webhook, a
reviewed draft's ``then_webhook`` — resolves its host once, checks every address it resolves to,
and connects to exactly that address (so DNS cannot change the answer between the check and the
connection). Never reached: link-local (169.254/16, fe80::/10), cloud-metadata, multicast,
unspecified and reserved addresses. Loopback, private and shared (100.64/10) addresses only with
``allow_private`` (a web source added with ``--allow-private``) or when the host is on an explicit
allow-list (``network.allow_private_hosts``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

from docket.errors import SourceError

__all__ = ["check_address", "guarded_transport"]

_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_ADDRESSES:
        return "cloud-metadata"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if not allow_private:
        if ip.is_loopback:
            return "loopback"
        if ip.is_private or ip in _SHARED:
            return "private"
    return None


def _listed(host: str, port: int, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: Sequence[str]) -> bool:
    """Whether ``host:port`` (resolved to ``ip``) is on an allow-list of names or addresses
    (optionally ``:PORT``; ``[v6]:PORT``) and networks (``10.1.0.0/16``)."""
    for entry in (e.strip().lower() for e in allowed if e and e.strip()):
        if "/" in entry:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
            continue
        name, want = entry, None
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            want = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, number = entry.partition(":")
            want = int(number) if number.isdigit() else None
        if want is not None and want != port:
            continue
        if name == host.lower().rstrip(".") or name == str(ip):
            return True
    return False


def check_address(host: str, port: int, allow_private: bool, allowed: Sequence[str] = ()) -> list[str]:
    """The addresses ``host`` resolves to; SourceError unless every one of them may be reached.

    Loopback and private addresses need ``allow_private`` or the host on the ``allowed`` list;
    link-local, cloud-metadata, multicast and reserved addresses are never reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"cannot resolve host '{host}': {getattr(exc, 'strerror', None) or exc}") from None
    addresses: list[str] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        reason = _blocked(ip, allow_private)
        if reason in ("loopback", "private") and _listed(host, port, ip, allowed):
            reason = None
        if reason is not None:
            hint = (
                "; add the source with --allow-private to crawl an intranet"
                if reason in ("loopback", "private") and not allowed
                else ""
            )
            raise SourceError(f"'{host}' resolves to {ip}, a {reason} address: refused{hint}")
        if str(ip) not in addresses:
            addresses.append(str(ip))
    return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Opens connections only to addresses that pass :func:`check_address`, and to exactly the
    address checked: the name is not looked up a second time, so DNS cannot change the answer
    between the check and the connection. TLS still verifies the certificate against the name."""

    def __init__(self, allow_private: bool, allowed: Sequence[str] = ()) -> None:
        self.allow_private = allow_private
        self.allowed = tuple(allowed)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in check_address(host, port, self.allow_private, self.allowed):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"no address for {host}")


def guarded_transport(allow_private: bool, allowed: Sequence[str] = ()) -> httpx.HTTPTransport:
    """An httpx transport that connects only to addresses :func:`check_address` lets through, and
    to exactly the address it checked (every outbound request Docket makes for a user goes
    through one: web sources, webhooks)."""
    transport = httpx.HTTPTransport(retries=0)
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):  # pragma: no cover - another httpcore
        raise SourceError("this version of httpcore cannot guard outbound connections; install httpcore>=1.0")
    pool._network_backend = _GuardedBackend(allow_private, allowed)
    return transport
